use super::*;

fn keys(pairs: &Pairs) -> Vec<Vec<u8>> {
    pairs.iter().map(|(key, _)| key.clone()).collect()
}

fn open() -> (tempfile::TempDir, RedbStorage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = RedbStorage::open(dir.path().join("store.redb")).unwrap();
    (dir, storage)
}

#[test]
fn get_range_and_remove() {
    let (_dir, mut storage) = open();
    let mut batch = WriteBatch::new();
    for key in [b"a", b"b", b"c", b"d"] {
        batch.put("t", key.to_vec(), [key.as_slice(), b"!"].concat());
    }
    batch.put("other", b"a".to_vec(), b"other".to_vec());
    batch.remove("t", b"c".to_vec());
    storage.write(batch).unwrap();
    assert_eq!(storage.get("t", b"a").unwrap(), Some(b"a!".to_vec()));
    assert_eq!(storage.get("t", b"c").unwrap(), None);
    assert_eq!(storage.get("other", b"a").unwrap(), Some(b"other".to_vec()));
    assert_eq!(keys(&storage.range("t", b"b", None, 10).unwrap()), vec![b"b".to_vec(), b"d".to_vec()]);
    assert_eq!(keys(&storage.range("t", b"", Some(b"d"), 10).unwrap()), vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(keys(&storage.range("t", b"", None, 1).unwrap()), vec![b"a".to_vec()]);
    assert!(storage.range("t", b"", None, 0).unwrap().is_empty());
    assert!(storage.range("t", b"d", Some(b"b"), 10).unwrap().is_empty());
    let mut batch = WriteBatch::new();
    batch.remove("t", b"a".to_vec()).remove("never", b"x".to_vec());
    storage.write(batch).unwrap();
    assert_eq!(storage.get("t", b"a").unwrap(), None);
}

#[test]
fn range_is_capped_at_range_pairs_max() {
    let (_dir, mut storage) = open();
    let mut batch = WriteBatch::new();
    for index in 0..(RANGE_PAIRS_MAX as u32 + 10) {
        batch.put("t", index.to_be_bytes().to_vec(), Vec::new());
    }
    storage.write(batch).unwrap();
    assert_eq!(storage.range("t", b"", None, usize::MAX).unwrap().len(), RANGE_PAIRS_MAX);
}

#[test]
fn a_table_never_written_is_empty() {
    let (_dir, mut storage) = open();
    assert_eq!(storage.get("never", b"k").unwrap(), None);
    assert!(storage.range("never", b"", None, 10).unwrap().is_empty());
}

#[test]
fn synced_writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let mut storage = RedbStorage::open(&path).unwrap();
        for index in 0u8..3 {
            let mut batch = WriteBatch::new();
            batch.put("t", vec![index], vec![index; 3]);
            storage.write(batch).unwrap();
        }
        storage.sync().unwrap();
    }
    let mut storage = RedbStorage::open(&path).unwrap();
    let pairs = storage.range("t", b"", None, 10).unwrap();
    assert_eq!(pairs, (0u8..3).map(|index| (vec![index], vec![index; 3])).collect::<Pairs>());
}

fn blob_files(path: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> =
        std::fs::read_dir(path.with_extension("blobs")).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn shards_live_in_files_of_their_own_and_go_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut storage = RedbStorage::open(&path).unwrap();
    assert_eq!(storage.blob_io(), Some("std"));
    let shard = vec![0xA5u8; 300 * 1024];
    let mut batch = WriteBatch::new();
    batch.put(SHARDS_TABLE, b"s1".to_vec(), shard.clone()).put("other", b"k".to_vec(), b"v".to_vec());
    storage.write(batch).unwrap();
    storage.sync().unwrap();
    assert_eq!(blob_files(&path).len(), 1);
    assert_eq!(storage.get(SHARDS_TABLE, b"s1").unwrap(), Some(shard.clone()));
    assert_eq!(storage.range(SHARDS_TABLE, b"", None, 10).unwrap(), vec![(b"s1".to_vec(), shard.clone())]);
    // Overwritten twice in one flush: only the last file stays.
    let mut batch = WriteBatch::new();
    batch.put(SHARDS_TABLE, b"s1".to_vec(), vec![1u8; 10]).put(SHARDS_TABLE, b"s1".to_vec(), vec![2u8; 10]);
    storage.write(batch).unwrap();
    storage.sync().unwrap();
    assert_eq!(blob_files(&path).len(), 1);
    storage.reopen().unwrap();
    assert_eq!(storage.get(SHARDS_TABLE, b"s1").unwrap(), Some(vec![2u8; 10]));
    let mut batch = WriteBatch::new();
    batch.remove(SHARDS_TABLE, b"s1".to_vec());
    storage.write(batch).unwrap();
    storage.sync().unwrap();
    assert!(blob_files(&path).is_empty());
    assert_eq!(storage.get(SHARDS_TABLE, b"s1").unwrap(), None);
}

#[test]
fn a_rotten_shard_file_is_corrupt_and_an_unreferenced_one_goes_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut storage = RedbStorage::open(&path).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(SHARDS_TABLE, b"s1".to_vec(), vec![7u8; 4096]);
    storage.write(batch).unwrap();
    storage.sync().unwrap();
    let file = blob_files(&path).remove(0);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    assert!(matches!(storage.get(SHARDS_TABLE, b"s1"), Err(StorageError::Corrupt { .. })));
    assert!(storage.failure().is_none(), "corruption does not poison");
    drop(storage);
    std::fs::write(path.with_extension("blobs").join("00000000000000ff.blob"), b"written, never referenced").unwrap();
    let mut storage = RedbStorage::open(&path).unwrap();
    assert_eq!(blob_files(&path), vec![file]);
    assert!(matches!(storage.get(SHARDS_TABLE, b"s1"), Err(StorageError::Corrupt { .. })));
}

#[test]
fn shards_a_store_held_inline_move_to_files_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let shard = vec![0x5Au8; 200 * 1024];
    {
        // A store of the format before shard files: no blob tables.
        let opener_path = path.clone();
        let mut old = RedbStorage::with_opener(Box::new(move || open_files(&opener_path))).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(SHARDS_TABLE, b"s1".to_vec(), shard.clone()).put(SHARDS_TABLE, b"s2".to_vec(), b"tiny".to_vec());
        old.write(batch).unwrap();
        old.sync().unwrap();
    }
    let mut storage = RedbStorage::open(&path).unwrap();
    assert_eq!(blob_files(&path).len(), 2);
    assert_eq!(storage.get(SHARDS_TABLE, b"s1").unwrap(), Some(shard.clone()));
    assert_eq!(storage.get(SHARDS_TABLE, b"s2").unwrap(), Some(b"tiny".to_vec()));
    storage.reopen().unwrap();
    assert_eq!(blob_files(&path).len(), 2, "moved once");
    assert_eq!(storage.get(SHARDS_TABLE, b"s1").unwrap(), Some(shard));
}

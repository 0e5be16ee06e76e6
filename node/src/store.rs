//! [`Storage`] on a redb file: the real node's disk.
//!
//! Each Pangea table is a redb table of byte keys and byte values, named after it and created on
//! first write. [`Storage::write`] applies a batch in one write transaction committed with
//! [`Durability::None`]: visible to every later read at once, on disk only after a durable commit.
//! [`Storage::sync`] commits an empty transaction with [`Durability::Immediate`]; redb documents
//! that commits with `Durability::None` "will not be persisted to disk unless followed by a commit
//! with `Durability::Immediate`", which is exactly `sync`'s contract. redb checksums its pages and
//! reports a mismatch as corruption, which this module maps to [`StorageError::Corrupt`].

use pangea_core::storage::{Pairs, RANGE_PAIRS_MAX, Storage, StorageError, WriteBatch};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use std::path::Path;

/// A node's storage in one redb file.
#[derive(Debug)]
pub struct RedbStorage {
    database: Database,
}

fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// Maps a redb error met while touching `table` (and `key`, when one) to the storage contract's.
fn storage_error(error: impl Into<redb::Error>, table: &str, key: &[u8]) -> StorageError {
    match error.into() {
        redb::Error::Corrupted(_) => StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() },
        other => StorageError::Io(other.to_string()),
    }
}

impl RedbStorage {
    /// Opens the redb file at `path`, creating it when absent.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStorage, StorageError> {
        let database = Database::create(path).map_err(|error| storage_error(error, "", &[]))?;
        Ok(RedbStorage { database })
    }
}

impl Storage for RedbStorage {
    fn get(&mut self, table_name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let transaction = self.database.begin_read().map_err(|error| storage_error(error, table_name, key))?;
        let table = match transaction.open_table(table(table_name)) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(storage_error(error, table_name, key)),
        };
        let value = table.get(key).map_err(|error| storage_error(error, table_name, key))?;
        Ok(value.map(|value| value.value().to_vec()))
    }

    fn range(
        &mut self,
        table_name: &str,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Pairs, StorageError> {
        let limit = limit.min(RANGE_PAIRS_MAX);
        if limit == 0 || end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        let transaction = self.database.begin_read().map_err(|error| storage_error(error, table_name, start))?;
        let table = match transaction.open_table(table(table_name)) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(storage_error(error, table_name, start)),
        };
        let entries = match end {
            Some(end) => table.range::<&[u8]>(start..end),
            None => table.range::<&[u8]>(start..),
        }
        .map_err(|error| storage_error(error, table_name, start))?;
        let mut pairs = Vec::new();
        for entry in entries.take(limit) {
            let (key, value) = entry.map_err(|error| storage_error(error, table_name, start))?;
            pairs.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(pairs)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut transaction = self.database.begin_write().map_err(|error| storage_error(error, "", &[]))?;
        transaction.set_durability(Durability::None).map_err(|error| StorageError::Io(error.to_string()))?;
        for op in &batch.ops {
            let mut table =
                transaction.open_table(table(&op.table)).map_err(|error| storage_error(error, &op.table, &op.key))?;
            match &op.value {
                Some(value) => {
                    table
                        .insert(op.key.as_slice(), value.as_slice())
                        .map_err(|error| storage_error(error, &op.table, &op.key))?;
                }
                None => {
                    table.remove(op.key.as_slice()).map_err(|error| storage_error(error, &op.table, &op.key))?;
                }
            }
        }
        // Dropping an uncommitted transaction aborts it, so an error above leaves nothing written.
        transaction.commit().map_err(|error| storage_error(error, "", &[]))
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let mut transaction = self.database.begin_write().map_err(|error| storage_error(error, "", &[]))?;
        transaction.set_durability(Durability::Immediate).map_err(|error| StorageError::Io(error.to_string()))?;
        transaction.commit().map_err(|error| storage_error(error, "", &[]))
    }
}

#[cfg(test)]
mod tests {
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
}

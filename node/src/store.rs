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
use redb::{Database, DatabaseError, Durability, ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};

/// Opens the database again: the file at a path, or (in tests) a fault-injecting backend.
pub type Opener = Box<dyn FnMut() -> Result<Database, DatabaseError> + Send>;

/// A node's storage in one redb file.
///
/// It keeps core's storage contract on top of redb's own latch: the first write, sync or read that
/// fails with anything but corruption poisons it, every later operation is refused with
/// [`StorageError::Poisoned`], and [`Storage::reopen`] closes the database and opens it again.
pub struct RedbStorage {
    opener: Opener,
    /// `None` while a reopen failed.
    database: Option<Database>,
    failure: Option<StorageError>,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage").field("open", &self.database.is_some()).field("failure", &self.failure).finish()
    }
}

fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// True for an I/O error that says the device has no room.
fn is_full(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::StorageFull || error.raw_os_error() == Some(28)
}

/// Maps a redb error met while touching `table` (and `key`, when one) to the storage contract's.
fn storage_error(error: impl Into<redb::Error>, table: &str, key: &[u8]) -> StorageError {
    match error.into() {
        redb::Error::Corrupted(_) => StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() },
        redb::Error::Io(io) if is_full(&io) => StorageError::Full(io.to_string()),
        redb::Error::DatabaseAlreadyOpen => StorageError::Io("the database is open in another process".to_owned()),
        other => StorageError::Io(other.to_string()),
    }
}

fn open_error(error: DatabaseError) -> StorageError {
    match error {
        DatabaseError::Storage(redb::StorageError::Io(io)) if is_full(&io) => StorageError::Full(io.to_string()),
        other => storage_error(other, "", &[]),
    }
}

impl RedbStorage {
    /// Opens the redb file at `path`, creating it when absent.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStorage, StorageError> {
        let path: PathBuf = path.as_ref().to_owned();
        RedbStorage::with_opener(Box::new(move || Database::create(&path)))
    }

    /// Opens the database `opener` makes, and makes it again on each reopen.
    pub fn with_opener(mut opener: Opener) -> Result<RedbStorage, StorageError> {
        let database = opener().map_err(open_error)?;
        Ok(RedbStorage { opener, database: Some(database), failure: None })
    }

    /// The open database, unless the store is poisoned.
    fn database(&self) -> Result<&Database, StorageError> {
        match (&self.failure, &self.database) {
            (None, Some(database)) => Ok(database),
            (Some(cause), _) => Err(StorageError::poisoned(cause)),
            (None, None) => Err(StorageError::Io("the database is not open".to_owned())),
        }
    }

    /// Passes `result` on, poisoning the store when its error does (the contract's latch).
    fn latch<T>(&mut self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(error) = &result
            && error.poisons()
            && self.failure.is_none()
        {
            self.failure = Some(error.clone());
        }
        result
    }

    fn try_get(&self, table_name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let transaction = self.database()?.begin_read().map_err(|error| storage_error(error, table_name, key))?;
        let table = match transaction.open_table(table(table_name)) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(storage_error(error, table_name, key)),
        };
        let value = table.get(key).map_err(|error| storage_error(error, table_name, key))?;
        Ok(value.map(|value| value.value().to_vec()))
    }

    fn try_range(
        &self,
        table_name: &str,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Pairs, StorageError> {
        let database = self.database()?;
        let limit = limit.min(RANGE_PAIRS_MAX);
        if limit == 0 || end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        let transaction = database.begin_read().map_err(|error| storage_error(error, table_name, start))?;
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

    fn try_write(&self, batch: &WriteBatch) -> Result<(), StorageError> {
        let database = self.database()?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut transaction = database.begin_write().map_err(|error| storage_error(error, "", &[]))?;
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

    fn try_sync(&self) -> Result<(), StorageError> {
        let mut transaction = self.database()?.begin_write().map_err(|error| storage_error(error, "", &[]))?;
        transaction.set_durability(Durability::Immediate).map_err(|error| StorageError::Io(error.to_string()))?;
        transaction.commit().map_err(|error| storage_error(error, "", &[]))
    }
}

impl Storage for RedbStorage {
    fn get(&mut self, table_name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let result = self.try_get(table_name, key);
        self.latch(result)
    }

    fn range(
        &mut self,
        table_name: &str,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Pairs, StorageError> {
        let result = self.try_range(table_name, start, end, limit);
        self.latch(result)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        let result = self.try_write(&batch);
        self.latch(result)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let result = self.try_sync();
        self.latch(result)
    }

    fn reopen(&mut self) -> Result<(), StorageError> {
        // Close first: the file is locked while a database holds it. A healthy store's close makes
        // the writes since the last sync durable; when it fails they may be lost, so the reopen
        // fails and the store is poisoned (the next reopen opens what reached the file). Dropping
        // the database instead would hide that failure behind a reopen that lost acknowledged
        // writes. A poisoned store's close fails by design (redb's latch): it is not reported.
        if let Some(database) = self.database.take()
            && let Err(error) = database.close()
            && self.failure.is_none()
        {
            let error = open_error(error);
            self.failure = Some(if error.poisons() { error.clone() } else { StorageError::Io(error.to_string()) });
            return Err(error);
        }
        match (self.opener)() {
            Ok(database) => {
                self.database = Some(database);
                self.failure = None;
                Ok(())
            }
            Err(error) => {
                let error = open_error(error);
                self.failure = Some(if error.poisons() { error.clone() } else { StorageError::Io(error.to_string()) });
                Err(error)
            }
        }
    }

    fn failure(&self) -> Option<&StorageError> {
        self.failure.as_ref()
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

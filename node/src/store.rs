//! [`Storage`] on a redb file: the real node's disk.
//!
//! Each Pangea table is a redb table of byte keys and byte values, named after it and created on
//! first write. [`Storage::write`] keeps its batch in memory (up to [`PENDING_BYTES_MAX`]);
//! [`Storage::sync`] commits every kept batch in one write transaction with
//! [`Durability::Immediate`] (one fsync, and one transaction's bookkeeping, for a handler's
//! writes and sync together, where a transaction per call cost the leader most of its time), and
//! a read first commits them with [`Durability::None`], so that every read sees every write
//! before it. redb documents that commits with `Durability::None` "will not be persisted to disk
//! unless followed by a commit with `Durability::Immediate`": both are within `sync`'s contract
//! (an unsynced write may be lost in a crash). A kept write's failure is reported, and poisons the
//! store, at the call that commits it — a sync, a read, or the write that overflows the limit. redb checksums its pages and
//! reports a mismatch as corruption, which this module maps to [`StorageError::Corrupt`].

use pangea_core::storage::{Pairs, RANGE_PAIRS_MAX, Storage, StorageError, WriteBatch};
use redb::{Database, DatabaseError, Durability, ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};

/// Opens the database again: the file at a path, or (in tests) a fault-injecting backend.
pub type Opener = Box<dyn FnMut() -> Result<Database, DatabaseError> + Send>;

/// Bytes of written batches kept in memory before they are committed without waiting for a sync.
pub const PENDING_BYTES_MAX: usize = 16 * 1024 * 1024;

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
    /// Batches written and not yet committed, in order.
    pending: Vec<WriteBatch>,
    pending_bytes: usize,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage").field("open", &self.database.is_some()).field("failure", &self.failure).finish()
    }
}

/// A Pangea table in redb: byte keys, byte values.
type BytesTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

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
        Ok(RedbStorage { opener, database: Some(database), failure: None, pending: Vec::new(), pending_bytes: 0 })
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

    /// Commits `batches`, in order, in one write transaction (an empty one when there are none,
    /// which still makes earlier non-durable commits durable when `durability` asks it).
    fn try_commit(&self, batches: &[WriteBatch], durability: Durability) -> Result<(), StorageError> {
        let database = self.database()?;
        let mut transaction = database.begin_write().map_err(|error| storage_error(error, "", &[]))?;
        transaction.set_durability(durability).map_err(|error| StorageError::Io(error.to_string()))?;
        {
            let mut open: Option<(&str, BytesTable<'_>)> = None;
            for op in batches.iter().flat_map(|batch| &batch.ops) {
                if open.as_ref().is_none_or(|(name, _)| *name != op.table) {
                    let table = transaction
                        .open_table(table(&op.table))
                        .map_err(|error| storage_error(error, &op.table, &op.key))?;
                    open = Some((op.table.as_str(), table));
                }
                let Some((_, table)) = open.as_mut() else { continue };
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
        }
        // Dropping an uncommitted transaction aborts it, so an error above leaves nothing written.
        transaction.commit().map_err(|error| storage_error(error, "", &[]))
    }

    /// Commits the kept batches with `durability` (nothing to do without any, unless durable).
    fn commit_pending(&mut self, durability: Durability) -> Result<(), StorageError> {
        if self.pending.is_empty() && matches!(durability, Durability::None) {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let result = self.try_commit(&batches, durability);
        self.latch(result)
    }
}

impl Storage for RedbStorage {
    fn get(&mut self, table_name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.commit_pending(Durability::None)?;
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
        self.commit_pending(Durability::None)?;
        let result = self.try_range(table_name, start, end, limit);
        self.latch(result)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        self.database()?;
        if batch.is_empty() {
            return Ok(());
        }
        self.pending_bytes +=
            batch.ops.iter().map(|op| op.key.len() + op.value.as_ref().map_or(0, Vec::len)).sum::<usize>();
        self.pending.push(batch);
        if self.pending_bytes > PENDING_BYTES_MAX {
            return self.commit_pending(Durability::None);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.commit_pending(Durability::Immediate)
    }

    fn reopen(&mut self) -> Result<(), StorageError> {
        // Kept writes go into the database first, so that a healthy store's close makes them
        // durable as it does every write; when that fails, so does the reopen, as a failed close
        // does (a poisoned store's kept writes are dropped: they never reached the file).
        if self.failure.is_none() {
            self.commit_pending(Durability::None)?;
        }
        self.pending.clear();
        self.pending_bytes = 0;
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

//! [`Storage`] on a redb file and its write-ahead file: the real node's disk.
//!
//! Each Pangea table is a redb table of byte keys and byte values, named after it and created on
//! first write. [`Storage::write`] keeps its batch in memory (up to [`PENDING_BYTES_MAX`]).
//! [`Storage::sync`] appends every kept batch to the write-ahead file as one record, syncs that
//! file (one small append and one fsync, where a durable redb commit writes and syncs every page
//! it touched), and only then commits the batches to redb with [`Durability::None`]. Past
//! [`WAL_BYTES_MAX`](crate::wal::WAL_BYTES_MAX) of records, a *checkpoint* commits redb durably
//! and starts the file over (see [`crate::wal`]); kept batches of [`DIRECT_SYNC_BYTES_MIN`] or
//! more are committed by a checkpoint of their own. A read first does what a sync does, so that
//! every read sees every write before it (the log seldom reads its storage).
//!
//! So redb never holds a batch the file does not hold durably. redb documents that commits with
//! `Durability::None` "will not be persisted to disk unless followed by a commit with a higher
//! durability level" (its close is one): after a crash or a close, redb holds its last checkpoint
//! or more, never more than the file's durable records, and replaying the file's records of the
//! current generation brings it to the last of them. Opening a store replays them and checkpoints.
//! An unsynced write may be lost in a crash, as `sync`'s contract allows, and is kept whole or
//! not at all.
//!
//! A kept write's failure is reported, and poisons the store, at the call that appends or commits
//! it — a sync, a read, or the write that overflows the limit. redb checksums its pages and
//! reports a mismatch as corruption, which this module maps to [`StorageError::Corrupt`].
//!
//! The object store's shard bytes ([`SHARDS_TABLE`]) do not go into redb: each is a file of its
//! own beside it, written through plain file I/O or io_uring, and redb holds its reference (see
//! [`crate::blob_tables`]).

use crate::blob_tables::{BlobTables, Flush};
use crate::wal::{WAL_BYTES_MAX, Wal};
use pangea_core::objects::holder::SHARDS_TABLE;
use pangea_core::storage::{Pairs, RANGE_PAIRS_MAX, Storage, StorageError, WriteBatch};
use pangea_hw::file_io::{FileIo, StdFileIo};
use redb::{Database, DatabaseError, Durability, ReadableDatabase, StorageBackend, TableDefinition};
use std::path::{Path, PathBuf};

/// The two files of a store, as an [`Opener`] opens them.
pub struct StoreFiles {
    /// The database.
    pub database: Database,
    /// The write-ahead file.
    pub wal: Box<dyn StorageBackend>,
}

/// Opens the files again: the files at a path, or (in tests) fault-injecting backends.
pub type Opener = Box<dyn FnMut() -> Result<StoreFiles, DatabaseError> + Send>;

/// Bytes of written batches kept in memory before they are committed without waiting for a sync.
pub const PENDING_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Bytes of kept batches from which a sync, a read or an overflow commits them to redb durably, as
/// a checkpoint, instead of appending them to the write-ahead file: for large values the durable
/// commit costs about what the append does, and the append would have them written twice (64 KiB
/// values at one client: 371 ops/s through the write-ahead file, 565 with this, as many as before
/// it existed; a 57 MB snapshot skips a 130 ms append and the checkpoint it would bring).
pub const DIRECT_SYNC_BYTES_MIN: usize = 64 * 1024;

/// The redb table holding the write-ahead file's generation (no core table has a dot-free prefix
/// of `pangea.`).
const STORE_TABLE: &str = "pangea.store";

/// The key of the write-ahead file's generation in [`STORE_TABLE`].
const GENERATION_KEY: &[u8] = b"wal_generation";

/// The key in [`STORE_TABLE`] present once the blob tables hold references only: stores written
/// before shards were files held their bytes inline, and are moved to files when first opened.
const BLOBS_KEY: &[u8] = b"blob_tables";

/// A node's storage in one redb file and its write-ahead file.
///
/// It keeps core's storage contract on top of redb's own latch: the first write, sync or read that
/// fails with anything but corruption poisons it, every later operation is refused with
/// [`StorageError::Poisoned`], and [`Storage::reopen`] closes the files and opens them again.
pub struct RedbStorage {
    opener: Opener,
    /// `None` while a reopen failed.
    database: Option<Database>,
    /// `None` while a reopen failed.
    wal: Option<Wal>,
    /// Bytes of write-ahead records past which a sync checkpoints.
    wal_bytes_max: u64,
    failure: Option<StorageError>,
    /// Batches written and not yet committed, in order.
    pending: Vec<WriteBatch>,
    pending_bytes: usize,
    /// Tables whose values are files of their own (none in stores opened through an [`Opener`]).
    blobs: Option<BlobTables>,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage")
            .field("open", &self.database.is_some())
            .field("wal", &self.wal)
            .field("failure", &self.failure)
            .field("blobs", &self.blobs)
            .finish()
    }
}

/// A Pangea table in redb: byte keys, byte values.
type BytesTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// Bytes of keys and values in `batch`, as the kept batches count them.
fn kept_bytes(batch: &WriteBatch) -> usize {
    batch.ops.iter().map(|op| op.key.len() + op.value.as_ref().map_or(0, Vec::len)).sum()
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

/// Maps an error of the write-ahead file to the storage contract's.
fn wal_error(error: &std::io::Error) -> StorageError {
    if is_full(error) {
        StorageError::Full(error.to_string())
    } else {
        StorageError::Io(format!("write-ahead file: {error}"))
    }
}

/// Opens the redb file at `path` and the write-ahead file beside it (`path` with the extension
/// `wal`), creating them when absent.
fn open_files(path: &Path) -> Result<StoreFiles, DatabaseError> {
    let database = Database::create(path)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path.with_extension("wal"))
        .map_err(|error| DatabaseError::Storage(redb::StorageError::Io(error)))?;
    let wal = redb::backends::FileBackend::new(file)?;
    Ok(StoreFiles { database, wal: Box::new(wal) })
}

impl RedbStorage {
    /// Opens the redb file at `path` and its write-ahead file, creating them when absent, with the
    /// shards' files beside them (in `path` with the extension `blobs`) through plain file I/O.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStorage, StorageError> {
        RedbStorage::open_with_io(path, Box::new(StdFileIo))
    }

    /// As [`RedbStorage::open`], the shards' files read and written through `io`.
    pub fn open_with_io(path: impl AsRef<Path>, io: Box<dyn FileIo>) -> Result<RedbStorage, StorageError> {
        let path: PathBuf = path.as_ref().to_owned();
        let blobs = BlobTables::open(path.with_extension("blobs"), &[SHARDS_TABLE], io)?;
        RedbStorage::build(Box::new(move || open_files(&path)), WAL_BYTES_MAX, Some(blobs))
    }

    /// The I/O path of the shards' files (`"std"`, `"io_uring"`), if the store has them.
    #[must_use]
    pub fn blob_io(&self) -> Option<&'static str> {
        self.blobs.as_ref().map(BlobTables::io_name)
    }

    /// Opens the files `opener` makes, and makes them again on each reopen.
    pub fn with_opener(opener: Opener) -> Result<RedbStorage, StorageError> {
        RedbStorage::with_wal_limit(opener, WAL_BYTES_MAX)
    }

    /// As [`RedbStorage::with_opener`], checkpointing past `wal_bytes_max` bytes of write-ahead
    /// records instead of [`WAL_BYTES_MAX`] (tests use a small limit to exercise checkpoints).
    pub fn with_wal_limit(opener: Opener, wal_bytes_max: u64) -> Result<RedbStorage, StorageError> {
        RedbStorage::build(opener, wal_bytes_max, None)
    }

    fn build(opener: Opener, wal_bytes_max: u64, blobs: Option<BlobTables>) -> Result<RedbStorage, StorageError> {
        let mut storage = RedbStorage {
            blobs,
            opener,
            database: None,
            wal: None,
            wal_bytes_max,
            failure: None,
            pending: Vec::new(),
            pending_bytes: 0,
        };
        storage.start()?;
        Ok(storage)
    }

    /// Opens the files, replays the write-ahead records into the database and checkpoints when the
    /// write-ahead file holds anything.
    fn start(&mut self) -> Result<(), StorageError> {
        let files = (self.opener)().map_err(open_error)?;
        self.database = Some(files.database);
        let generation = self.try_get(STORE_TABLE, GENERATION_KEY)?.map_or(Ok(0), |bytes| {
            bytes
                .try_into()
                .map(u64::from_le_bytes)
                .map_err(|_| StorageError::Corrupt { table: STORE_TABLE.to_owned(), key: GENERATION_KEY.to_vec() })
        })?;
        let file_bytes = files.wal.len().map_err(|error| wal_error(&error))?;
        let (wal, batches) = Wal::open(files.wal, generation).map_err(|error| wal_error(&error))?;
        self.wal = Some(wal);
        if file_bytes > 0 {
            self.checkpoint(&batches)?;
        }
        if let Some(mut blobs) = self.blobs.take() {
            let recovered = blobs.recover(|table, start| self.try_range(table, start, None, RANGE_PAIRS_MAX));
            self.blobs = Some(blobs);
            let removed = self.latch(recovered)?;
            if removed > 0 {
                tracing::info!(removed, "removed shard files no reference held (written just before a crash)");
            }
            if self.try_get(STORE_TABLE, BLOBS_KEY)?.is_none() {
                self.move_inline_blobs()?;
            }
        }
        Ok(())
    }

    /// Moves the values a store written before blob files held inline in its blob tables to files,
    /// a page at a time, then marks the store as holding references only. A value that already is
    /// a reference (a move cut short by a crash) stays.
    fn move_inline_blobs(&mut self) -> Result<(), StorageError> {
        let tables: Vec<String> = self.blobs.iter().flat_map(BlobTables::tables).map(str::to_owned).collect();
        let mut moved = 0_usize;
        for table in tables {
            let mut start = Vec::new();
            loop {
                let page = self.try_range(&table, &start, None, RANGE_PAIRS_MAX)?;
                let mut batch = WriteBatch::new();
                for (key, value) in &page {
                    if pangea_hw::blobs::BlobRef::from_bytes(value).is_none() {
                        batch.put(&table, key.clone(), value.clone());
                        moved += 1;
                    }
                }
                self.write(batch)?;
                self.sync()?;
                match page.last() {
                    Some((key, _)) if page.len() == RANGE_PAIRS_MAX => {
                        start = key.clone();
                        start.push(0);
                    }
                    _ => break,
                }
            }
        }
        let mut mark = WriteBatch::new();
        mark.put(STORE_TABLE, BLOBS_KEY.to_vec(), vec![1]);
        self.write(mark)?;
        self.sync()?;
        if moved > 0 {
            tracing::info!(moved, "moved shards held inline in the database to files of their own");
        }
        Ok(())
    }

    /// Reads stored `value` of `table` as the callers see it: a blob table's reference resolved.
    fn resolved(&mut self, table: &str, key: &[u8], value: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        match self.blobs.as_mut() {
            Some(blobs) if blobs.holds(table) => blobs.resolve(table, key, &value),
            _ => Ok(value),
        }
    }

    /// The open database, unless the store is poisoned.
    fn database(&self) -> Result<&Database, StorageError> {
        match (&self.failure, &self.database) {
            (None, Some(database)) => Ok(database),
            (Some(cause), _) => Err(StorageError::poisoned(cause)),
            (None, None) => Err(StorageError::Io("the database is not open".to_owned())),
        }
    }

    /// The open write-ahead file, unless the store is poisoned.
    fn wal(&mut self) -> Result<&mut Wal, StorageError> {
        match (&self.failure, &mut self.wal) {
            (None, Some(wal)) => Ok(wal),
            (Some(cause), _) => Err(StorageError::poisoned(cause)),
            (None, None) => Err(StorageError::Io("the write-ahead file is not open".to_owned())),
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

    /// Commits `batches`, in order, and the write-ahead file's `generation` when given, in one
    /// write transaction (an empty one when there are none, which still makes earlier non-durable
    /// commits durable when `durability` asks it).
    fn try_commit(
        &self,
        batches: &[WriteBatch],
        generation: Option<u64>,
        durability: Durability,
    ) -> Result<(), StorageError> {
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
            // A batch may have written the store's own table: close it before writing there.
            drop(open);
            if let Some(generation) = generation {
                let mut store = transaction
                    .open_table(table(STORE_TABLE))
                    .map_err(|error| storage_error(error, STORE_TABLE, GENERATION_KEY))?;
                store
                    .insert(GENERATION_KEY, generation.to_le_bytes().as_slice())
                    .map_err(|error| storage_error(error, STORE_TABLE, GENERATION_KEY))?;
            }
        }
        // Dropping an uncommitted transaction aborts it, so an error above leaves nothing written.
        transaction.commit().map_err(|error| storage_error(error, "", &[]))
    }

    /// Makes the kept batches durable and commits them to the database: from
    /// [`DIRECT_SYNC_BYTES_MIN`] bytes by a checkpoint, below it by appending them to the
    /// write-ahead file, syncing it, and committing them without durability.
    ///
    /// The sync comes before the commit: redb makes its non-durable commits durable when it is
    /// closed, also after a failure, and a database ahead of the file's durable records would be
    /// moved back by their replay after a crash.
    fn flush_pending(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut batches = std::mem::take(&mut self.pending);
        let mut bytes = std::mem::take(&mut self.pending_bytes);
        let mut flush = Flush::default();
        if let Some(mut blobs) = self.blobs.take() {
            let externalized = blobs.externalize(&mut batches, |table, key| self.try_get(table, key));
            self.blobs = Some(blobs);
            flush = self.latch(externalized)?;
            bytes = batches.iter().map(kept_bytes).sum();
        }
        if bytes >= DIRECT_SYNC_BYTES_MIN {
            // Large values (or a snapshot): the append would have them written twice.
            self.checkpoint(&batches)?;
        } else {
            let appended = self.wal()?.append(&batches).map_err(|error| wal_error(&error));
            self.latch(appended)?;
            let committed = self.try_commit(&batches, None, Durability::None);
            self.latch(committed)?;
        }
        if let Some(blobs) = self.blobs.as_mut() {
            blobs.committed(flush);
        }
        Ok(())
    }

    /// Commits `batches` and the next generation durably, then starts the write-ahead file over: what
    /// it held is now in the database.
    fn checkpoint(&mut self, batches: &[WriteBatch]) -> Result<(), StorageError> {
        let generation = self.wal()?.generation() + 1;
        let committed = self.try_commit(batches, Some(generation), Durability::Immediate);
        self.latch(committed)?;
        self.wal()?.restart(generation);
        Ok(())
    }
}

impl Storage for RedbStorage {
    fn get(&mut self, table_name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.flush_pending()?;
        let result = match self.try_get(table_name, key) {
            Ok(Some(value)) => self.resolved(table_name, key, value).map(Some),
            other => other,
        };
        self.latch(result)
    }

    fn range(
        &mut self,
        table_name: &str,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Pairs, StorageError> {
        self.flush_pending()?;
        let result = self.try_range(table_name, start, end, limit).and_then(|pairs| {
            pairs.into_iter().map(|(key, value)| Ok((key.clone(), self.resolved(table_name, &key, value)?))).collect()
        });
        self.latch(result)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        self.database()?;
        if batch.is_empty() {
            return Ok(());
        }
        self.pending_bytes += kept_bytes(&batch);
        self.pending.push(batch);
        if self.pending_bytes > PENDING_BYTES_MAX {
            return self.flush_pending();
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.flush_pending()?;
        if self.wal()?.bytes() > self.wal_bytes_max {
            self.checkpoint(&[])?;
        }
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), StorageError> {
        // A healthy store syncs first, so that its close keeps every write, as a close does; when
        // that fails, so does the reopen, as a failed close does (a poisoned store's kept writes
        // are dropped: they never reached a file).
        if self.failure.is_none() {
            self.sync()?;
        }
        self.pending.clear();
        self.pending_bytes = 0;
        // Close first: the file is locked while a database holds it. A healthy store's close
        // makes redb's non-durable commits durable; when it fails, the reopen fails and the store
        // is poisoned (the next reopen opens what reached the files). A poisoned store's close
        // fails by design (redb's latch): it is not reported.
        if let Some(wal) = self.wal.take()
            && let Err(error) = wal.close()
            && self.failure.is_none()
        {
            let error = wal_error(&error);
            self.failure = Some(error.clone());
            return Err(error);
        }
        if let Some(database) = self.database.take()
            && let Err(error) = database.close()
            && self.failure.is_none()
        {
            let error = open_error(error);
            self.failure = Some(if error.poisons() { error.clone() } else { StorageError::Io(error.to_string()) });
            return Err(error);
        }
        self.failure = None;
        match self.start() {
            Ok(()) => Ok(()),
            Err(error) => {
                self.database = None;
                self.wal = None;
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
mod tests;

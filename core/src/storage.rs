//! The node's durable storage: named tables of ordered key/value pairs, write batches, and an
//! explicit [`Storage::sync`] that makes everything written so far durable.
//!
//! # The contract
//!
//! Both worlds implement this one contract: the real node with a redb file (`node/src/store.rs`),
//! the simulator with its disk model (`sim/src/disk.rs`). A conformance test
//! (`tests/tests/storage_conformance.rs`) runs the same seeded operations and faults against both and
//! checks every answer against it. A node may rely on exactly this:
//!
//! - **Writes.** A [`WriteBatch`] is applied atomically: all of it or, when `write` fails, none. It
//!   is visible to every later read at once, and durable only once a later `sync` returns `Ok`.
//!   An implementation may keep batches in memory and apply them with the next sync or read (redb
//!   does, to commit a handler's writes and its sync as one transaction); a kept batch's failure
//!   is then reported by that call, which poisons the store as below, and the batch is lost like
//!   any unsynced write.
//! - **Failures poison.** A `write`, `sync` or read that fails with [`StorageError::Full`] or
//!   [`StorageError::Io`] poisons the store: every later operation, reads included, fails with
//!   [`StorageError::Poisoned`] until [`Storage::reopen`] succeeds. (redb latches its first I/O
//!   error and answers "Previous I/O error occurred" to every later operation that touches the
//!   file until it is reopened; a read its cache serves still answers, so the adapter latches too.)
//!   [`Storage::failure`] names the error that poisoned it.
//! - **A failed sync** leaves the writes since the last good sync on disk or not: either may be
//!   what a reopen or a crash finds.
//! - **Corruption does not poison.** A rotten value is reported as [`StorageError::Corrupt`],
//!   never returned as data; the rest of the store stays readable.
//! - **Reopening** closes the store and opens it again, as a restart of the process (without a
//!   crash) would. A healthy store keeps everything written (a clean close makes it durable). A
//!   poisoned store keeps what had reached the disk: everything synced before the failure, plus a
//!   prefix of the batches written after the last good sync — none, some, or all of them, whole.
//!   A reopen may fail itself: its close cannot write (a healthy store's unsynced writes may then
//!   be lost), or its open cannot (the disk is still full). The store is then poisoned, and the
//!   next reopen that succeeds keeps what a poisoned store keeps.
//! - **A crash** keeps what a poisoned reopen keeps: whole batches. A write the crash tore is
//!   detected and dropped whole (redb checksums its commits and falls back to the last good one),
//!   never read back as data or as corruption; [`StorageError::Corrupt`] comes only from rot.
//!
//! [`MemoryStorage`] here is the fault-free implementation for unit tests of state machines.

use std::collections::BTreeMap;
use thiserror::Error;

/// Most pairs one [`Storage::range`] call returns; callers page through larger ranges.
pub const RANGE_PAIRS_MAX: usize = 4096;

/// Key/value pairs in key order, as [`Storage::range`] returns them.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Why a storage operation failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StorageError {
    /// The disk has no room; the batch (or sync) did not happen, and the store is poisoned.
    #[error("disk full ({0})")]
    Full(String),
    /// The stored value failed its checksum (bit rot); the value is lost.
    #[error("corrupt value in table {table:?}")]
    Corrupt {
        /// The table holding it.
        table: String,
        /// The key whose value is corrupt.
        key: Vec<u8>,
    },
    /// The device reported an error; the store is poisoned.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// An earlier operation failed with `cause`; the store refuses everything until it is reopened.
    #[error("storage refuses every operation until it is reopened, since it failed: {cause}")]
    Poisoned {
        /// The failure that poisoned the store.
        cause: Box<StorageError>,
    },
}

impl StorageError {
    /// True for the failures that poison a store ([`StorageError::Full`], [`StorageError::Io`]).
    #[must_use]
    pub fn poisons(&self) -> bool {
        matches!(self, StorageError::Full(_) | StorageError::Io(_))
    }

    /// The error an operation on a store poisoned by `cause` answers.
    #[must_use]
    pub fn poisoned(cause: &StorageError) -> StorageError {
        StorageError::Poisoned { cause: Box::new(cause.clone()) }
    }
}

/// One change in a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOp {
    /// The table to change.
    pub table: String,
    /// The key to set or remove.
    pub key: Vec<u8>,
    /// The new value, or `None` to remove the key.
    pub value: Option<Vec<u8>>,
}

impl WriteOp {
    /// Bytes this change adds to the disk, as the full-disk model counts them.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        (self.table.len() + self.key.len() + self.value.as_ref().map_or(0, Vec::len)) as u64
    }
}

/// Changes applied together, in order: either all are written or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The changes, applied in this order.
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds `key = value` in `table`.
    pub fn put(&mut self, table: &str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp { table: table.to_owned(), key: key.into(), value: Some(value.into()) });
        self
    }

    /// Adds the removal of `key` from `table`.
    pub fn remove(&mut self, table: &str, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp { table: table.to_owned(), key: key.into(), value: None });
        self
    }

    /// True when the batch changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes the batch adds, as the full-disk model counts them.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.ops.iter().map(WriteOp::bytes).sum()
    }
}

/// A node's storage. Synchronous by design: the simulator charges its time in virtual time, and the
/// real node's calls are short transactions on a local file.
pub trait Storage {
    /// The value of `key` in `table`, if any.
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Pairs of `table` with `start <= key` (and `key < end` when given), in key order, at most
    /// `limit` of them (and at most [`RANGE_PAIRS_MAX`]).
    fn range(&mut self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Pairs, StorageError>;

    /// Applies `batch` atomically (not yet durably).
    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError>;

    /// Makes every earlier write durable.
    fn sync(&mut self) -> Result<(), StorageError>;

    /// Closes the store and opens it again, clearing a poisoning when it succeeds (see the module's
    /// contract for what the store holds afterwards).
    fn reopen(&mut self) -> Result<(), StorageError>;

    /// The failure that poisoned the store, until it is reopened.
    fn failure(&self) -> Option<&StorageError>;
}

/// Every pair of `table` in `[start, end)`, in key order, paging through [`RANGE_PAIRS_MAX`] at a
/// time; the first error ends the read.
///
/// # Errors
/// The storage's error on any page.
pub fn read_all(
    storage: &mut dyn Storage,
    table: &str,
    start: &[u8],
    end: Option<&[u8]>,
) -> Result<Pairs, StorageError> {
    let mut out = Vec::new();
    let mut from = start.to_vec();
    loop {
        let page = storage.range(table, &from, end, RANGE_PAIRS_MAX)?;
        let full = page.len() == RANGE_PAIRS_MAX;
        if let Some((last, _)) = page.last() {
            from = last.clone();
            from.push(0);
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// Ordered tables in memory, as [`Storage`] and as the building block of simulated disks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tables {
    tables: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Tables {
    /// The value of `key` in `table`.
    #[must_use]
    pub fn get(&self, table: &str, key: &[u8]) -> Option<&Vec<u8>> {
        self.tables.get(table).and_then(|pairs| pairs.get(key))
    }

    /// See [`Storage::range`].
    #[must_use]
    pub fn range(&self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Pairs {
        let Some(pairs) = self.tables.get(table) else {
            return Vec::new();
        };
        let limit = limit.min(RANGE_PAIRS_MAX);
        pairs
            .range(start.to_vec()..)
            .take_while(|(key, _)| end.is_none_or(|end| key.as_slice() < end))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// Applies one change.
    pub fn apply(&mut self, op: &WriteOp) {
        match &op.value {
            Some(value) => {
                let pairs = match self.tables.get_mut(&op.table) {
                    Some(pairs) => pairs,
                    None => self.tables.entry(op.table.clone()).or_default(),
                };
                pairs.insert(op.key.clone(), value.clone());
            }
            None => {
                if let Some(pairs) = self.tables.get_mut(&op.table) {
                    pairs.remove(&op.key);
                }
            }
        }
    }

    /// Applies one change it owns (no copy of the value).
    pub fn apply_owned(&mut self, op: WriteOp) {
        match op.value {
            Some(value) => {
                self.tables.entry(op.table).or_default().insert(op.key, value);
            }
            None => {
                if let Some(pairs) = self.tables.get_mut(&op.table) {
                    pairs.remove(&op.key);
                }
            }
        }
    }

    /// Mutable access to a stored value (for fault injection).
    pub fn get_mut(&mut self, table: &str, key: &[u8]) -> Option<&mut Vec<u8>> {
        self.tables.get_mut(table).and_then(|pairs| pairs.get_mut(key))
    }

    /// Every (table, key) in order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.tables.iter().flat_map(|(table, pairs)| pairs.keys().map(move |key| (table.as_str(), key.as_slice())))
    }

    /// Bytes held, as the full-disk model counts them.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.tables
            .iter()
            .map(|(table, pairs)| {
                pairs.iter().map(|(key, value)| (table.len() + key.len() + value.len()) as u64).sum::<u64>()
            })
            .sum()
    }
}

/// Fault-free storage in memory: every write is immediately durable. For unit tests of state
/// machines; the simulator's disk model is the one with faults.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    /// The stored tables.
    pub tables: Tables,
    /// How many times `sync` was called.
    pub syncs: u64,
}

impl Storage for MemoryStorage {
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.tables.get(table, key).cloned())
    }

    fn range(&mut self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Pairs, StorageError> {
        Ok(self.tables.range(table, start, end, limit))
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        for op in &batch.ops {
            self.tables.apply(op);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.syncs += 1;
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), StorageError> {
        Ok(())
    }

    fn failure(&self) -> Option<&StorageError> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_respects_bounds_and_limit() {
        let mut storage = MemoryStorage::default();
        let mut batch = WriteBatch::new();
        for key in [b"a", b"b", b"c", b"d"] {
            batch.put("t", key.to_vec(), key.to_vec());
        }
        batch.remove("t", b"c".to_vec());
        storage.write(batch).unwrap();
        let keys = |pairs: Pairs| pairs.into_iter().map(|(key, _)| key).collect::<Vec<_>>();
        assert_eq!(keys(storage.range("t", b"b", None, 10).unwrap()), vec![b"b".to_vec(), b"d".to_vec()]);
        assert_eq!(keys(storage.range("t", b"", Some(b"d"), 10).unwrap()), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(keys(storage.range("t", b"", None, 1).unwrap()), vec![b"a".to_vec()]);
        assert!(storage.range("missing", b"", None, 10).unwrap().is_empty());
    }
}

//! The values of chosen tables — the object store's shard bytes — kept as files beside the redb
//! database ([`pangea_hw::blobs`]), written through plain file I/O or io_uring: the database holds
//! a [`BlobRef`] in their place, so a shard costs redb and its write-ahead file a few dozen bytes.
//!
//! [`BlobTables::externalize`] runs when the store makes kept batches durable, before anything is
//! appended or committed: it writes every blob-table value of the batches to a new file, syncs the
//! files and their directory in one batch, and puts the references in the batches. So a reference
//! reaches the database only after its file is durable; a crash in between leaves a file nobody
//! references, removed when the store opens ([`BlobTables::recover`]). The files a flush replaces
//! or removes are deleted once the flush is committed ([`Flush::replaced`]), never before.
//!
//! Reading a reference reads its file and checks its length and checksum: a file torn, rotten or
//! gone is [`StorageError::Corrupt`], as rot in redb is.

use pangea_core::storage::{RANGE_PAIRS_MAX, StorageError, WriteBatch};
use pangea_hw::blobs::{BlobError, BlobFiles, BlobRef};
use pangea_hw::file_io::FileIo;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Blob tables and their files.
#[derive(Debug)]
pub struct BlobTables {
    tables: BTreeSet<String>,
    files: BlobFiles,
}

/// What one [`BlobTables::externalize`] did.
#[derive(Debug, Default)]
pub struct Flush {
    /// Files whose references the flushed batches replaced or removed: deleted once they commit.
    pub replaced: Vec<u64>,
}

/// Maps a blob file's failure to the storage contract's.
fn blob_error(error: BlobError, table: &str, key: &[u8]) -> StorageError {
    match error {
        BlobError::Corrupt { .. } => StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() },
        BlobError::TooLong(_) => StorageError::Io(error.to_string()),
        BlobError::Io(io) => io_error(&io),
    }
}

fn io_error(error: &std::io::Error) -> StorageError {
    if error.kind() == std::io::ErrorKind::StorageFull || error.raw_os_error() == Some(28) {
        StorageError::Full(error.to_string())
    } else {
        StorageError::Io(format!("blob files: {error}"))
    }
}

impl BlobTables {
    /// Blob files for `tables` in `directory` (created when absent), through `io`.
    pub fn open(
        directory: impl Into<PathBuf>,
        tables: &[&str],
        io: Box<dyn FileIo>,
    ) -> Result<BlobTables, StorageError> {
        let files = BlobFiles::open(directory, io, &BTreeSet::new()).map_err(|error| io_error(&error))?;
        Ok(BlobTables { tables: tables.iter().map(|table| (*table).to_owned()).collect(), files })
    }

    /// The I/O path's name (`"std"`, `"io_uring"`).
    #[must_use]
    pub fn io_name(&self) -> &'static str {
        self.files.io_name()
    }

    /// True when `table`'s values live in blob files.
    #[must_use]
    pub fn holds(&self, table: &str) -> bool {
        self.tables.contains(table)
    }

    /// The names of the blob tables.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(String::as_str)
    }

    /// Writes the blob-table values of `batches` to new files, synced, and puts their references in
    /// the batches. `stored` reads a table's value as the database holds it now, to find the
    /// references the batches replace.
    pub fn externalize(
        &mut self,
        batches: &mut [WriteBatch],
        mut stored: impl FnMut(&str, &[u8]) -> Result<Option<Vec<u8>>, StorageError>,
    ) -> Result<Flush, StorageError> {
        let mut flush = Flush::default();
        let mut values: Vec<&[u8]> = Vec::new();
        // The reference each blob-table key will hold after these batches, by (table, key).
        let mut latest: BTreeMap<(&str, &[u8]), Option<usize>> = BTreeMap::new();
        for op in batches.iter().flat_map(|batch| &batch.ops) {
            if !self.holds(&op.table) {
                continue;
            }
            let slot = op.value.as_deref().map(|value| {
                values.push(value);
                values.len() - 1
            });
            if latest.insert((op.table.as_str(), op.key.as_slice()), slot).is_none()
                && let Some(old) = stored(&op.table, &op.key)?
                && let Some(old) = BlobRef::from_bytes(&old)
            {
                flush.replaced.push(old.number);
            }
        }
        if values.is_empty() {
            return Ok(flush);
        }
        let refs = self.files.write(&values, true).map_err(|error| blob_error(error, "", &[]))?;
        // A key written twice in these batches: its first file is never referenced after them.
        let kept: BTreeSet<usize> = latest.values().filter_map(|slot| *slot).collect();
        flush.replaced.extend((0..refs.len()).filter(|slot| !kept.contains(slot)).map(|slot| refs[slot].number));
        let mut next = 0;
        for op in batches.iter_mut().flat_map(|batch| &mut batch.ops) {
            if self.tables.contains(&op.table)
                && let Some(value) = op.value.as_mut()
            {
                *value = refs[next].to_bytes().to_vec();
                next += 1;
            }
        }
        Ok(flush)
    }

    /// Deletes the files a committed flush replaced (a failure leaves garbage for the next open).
    pub fn committed(&mut self, flush: Flush) {
        for number in flush.replaced {
            if let Err(error) = self.files.remove(number) {
                tracing::warn!(%error, number, "cannot remove a replaced blob file; it goes when the store opens");
            }
        }
    }

    /// The blob a stored reference of `table`/`key` refers to.
    pub fn resolve(&mut self, table: &str, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, StorageError> {
        let blob = BlobRef::from_bytes(stored)
            .ok_or_else(|| StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() })?;
        self.files.read(blob).map_err(|error| blob_error(error, table, key))
    }

    /// After the store (re)opened: `references` pages through a blob table's stored values from a
    /// key on; every file no value refers to is removed. Returns how many files went.
    pub fn recover(
        &mut self,
        mut references: impl FnMut(&str, &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError>,
    ) -> Result<usize, StorageError> {
        let mut referenced = BTreeSet::new();
        for table in self.tables.clone() {
            let mut start = Vec::new();
            loop {
                let page = references(&table, &start)?;
                referenced
                    .extend(page.iter().filter_map(|(_, value)| BlobRef::from_bytes(value)).map(|blob| blob.number));
                match page.last() {
                    Some((key, _)) if page.len() == RANGE_PAIRS_MAX => {
                        start = key.clone();
                        start.push(0);
                    }
                    _ => break,
                }
            }
        }
        self.files.recover(&referenced).map_err(|error| io_error(&error))
    }
}

//! Blobs (the object store's shard bytes) as files of their own, outside the database that indexes
//! them: the database keeps a small [`BlobRef`] (the file's number, length and checksum) where it
//! would have kept the bytes.
//!
//! A blob file is written whole, synced (with its directory), and only then referenced, so a crash
//! at any moment leaves every referenced file whole; a file written and never referenced (a crash
//! before the reference committed) is garbage, removed by [`BlobFiles::collect_garbage`] when the
//! store opens. A read checks the length and checksum the reference holds: a file torn, rotten or
//! gone is reported as [`BlobError::Corrupt`], never returned as data.

use crate::file_io::FileIo;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;
use twox_hash::XxHash3_64;

/// The extension of blob files.
pub const BLOB_EXTENSION: &str = "blob";
/// Bytes of an encoded [`BlobRef`].
pub const BLOB_REF_BYTES: usize = 21;
/// The tag byte that starts an encoded [`BlobRef`] (its format's version).
const BLOB_REF_TAG: u8 = 0xB1;

/// Where a blob is and what it must read back as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobRef {
    /// The file's number (its name is `{number:016x}.blob`).
    pub number: u64,
    /// The blob's length.
    pub len: u32,
    /// XXH3-64 of the blob.
    pub checksum: u64,
}

impl BlobRef {
    /// The stored form: a tag byte, then the fields little-endian.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; BLOB_REF_BYTES] {
        let mut out = [0u8; BLOB_REF_BYTES];
        out[0] = BLOB_REF_TAG;
        out[1..9].copy_from_slice(&self.number.to_le_bytes());
        out[9..13].copy_from_slice(&self.len.to_le_bytes());
        out[13..21].copy_from_slice(&self.checksum.to_le_bytes());
        out
    }

    /// Reads a stored form back; `None` for anything else.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<BlobRef> {
        if bytes.len() != BLOB_REF_BYTES || bytes[0] != BLOB_REF_TAG {
            return None;
        }
        Some(BlobRef {
            number: u64::from_le_bytes(bytes[1..9].try_into().ok()?),
            len: u32::from_le_bytes(bytes[9..13].try_into().ok()?),
            checksum: u64::from_le_bytes(bytes[13..21].try_into().ok()?),
        })
    }
}

/// Why a blob could not be written or read.
#[derive(Debug, Error)]
pub enum BlobError {
    /// The file is gone, torn, or rotten: the blob is lost.
    #[error("blob {number:016x} is lost: {why}")]
    Corrupt {
        /// The file's number.
        number: u64,
        /// What is wrong.
        why: String,
    },
    /// A blob longer than a reference can describe.
    #[error("a blob of {0} bytes is over the limit of {max} bytes", max = u32::MAX)]
    TooLong(usize),
    /// The device failed.
    #[error("blob file I/O: {0}")]
    Io(#[from] io::Error),
}

/// A directory of blob files, written and read through a [`FileIo`].
#[derive(Debug)]
pub struct BlobFiles {
    directory: PathBuf,
    io: Box<dyn FileIo>,
    next_number: u64,
}

fn checksum(bytes: &[u8]) -> u64 {
    XxHash3_64::oneshot(bytes)
}

impl BlobFiles {
    /// Opens (creating it when absent) the directory `directory`; new files are numbered after
    /// every file there and every number in `referenced`.
    pub fn open(
        directory: impl Into<PathBuf>,
        io: Box<dyn FileIo>,
        referenced: &BTreeSet<u64>,
    ) -> io::Result<BlobFiles> {
        let directory = directory.into();
        std::fs::create_dir_all(&directory)?;
        let on_disk = list_numbers(&directory)?;
        let next_number =
            on_disk.last().copied().max(referenced.last().copied()).map_or(0, |number| number.saturating_add(1));
        Ok(BlobFiles { directory, io, next_number })
    }

    /// The I/O path's name (`"std"`, `"io_uring"`).
    #[must_use]
    pub fn io_name(&self) -> &'static str {
        self.io.name()
    }

    /// The path of blob file `number`.
    #[must_use]
    pub fn path_of(&self, number: u64) -> PathBuf {
        self.directory.join(format!("{number:016x}.{BLOB_EXTENSION}"))
    }

    /// Writes `blobs` as new files, all in one batch, synced with their directory when `sync`;
    /// returns their references, in order.
    pub fn write(&mut self, blobs: &[&[u8]], sync: bool) -> Result<Vec<BlobRef>, BlobError> {
        let mut refs = Vec::with_capacity(blobs.len());
        for blob in blobs {
            let len = u32::try_from(blob.len()).map_err(|_| BlobError::TooLong(blob.len()))?;
            refs.push(BlobRef { number: self.next_number, len, checksum: checksum(blob) });
            self.next_number += 1;
        }
        let paths: Vec<PathBuf> = refs.iter().map(|blob| self.path_of(blob.number)).collect();
        let files: Vec<(&Path, &[u8])> = paths.iter().map(PathBuf::as_path).zip(blobs.iter().copied()).collect();
        self.io.write_new_files(&files, sync)?;
        Ok(refs)
    }

    /// Reads the blob `blob` refers to, checked against its length and checksum.
    pub fn read(&mut self, blob: BlobRef) -> Result<Vec<u8>, BlobError> {
        let corrupt = |why: String| BlobError::Corrupt { number: blob.number, why };
        let bytes = match self.io.read_file(&self.path_of(blob.number)) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(corrupt("its file is gone".to_owned()));
            }
            Err(error) => return Err(BlobError::Io(error)),
        };
        if bytes.len() != blob.len as usize {
            return Err(corrupt(format!("{} bytes where {} were written", bytes.len(), blob.len)));
        }
        if checksum(&bytes) != blob.checksum {
            return Err(corrupt("its checksum does not match".to_owned()));
        }
        Ok(bytes)
    }

    /// After the store reopened: numbers new files after every file there and every number in
    /// `referenced`, and removes the files not in `referenced` (see
    /// [`BlobFiles::collect_garbage`]); returns how many it removed.
    pub fn recover(&mut self, referenced: &BTreeSet<u64>) -> io::Result<usize> {
        let on_disk = list_numbers(&self.directory)?;
        let last = on_disk.last().copied().max(referenced.last().copied());
        self.next_number = self.next_number.max(last.map_or(0, |number| number.saturating_add(1)));
        self.collect_garbage(referenced)
    }

    /// Removes blob file `number` (nothing when it is gone already).
    pub fn remove(&mut self, number: u64) -> io::Result<()> {
        match std::fs::remove_file(self.path_of(number)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// Removes every blob file not in `referenced` (written, then never referenced, or dropped
    /// before its removal), and stray temporary files; returns how many files it removed.
    pub fn collect_garbage(&mut self, referenced: &BTreeSet<u64>) -> io::Result<usize> {
        let mut removed = 0;
        for number in list_numbers(&self.directory)? {
            if !referenced.contains(&number) {
                self.remove(number)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The numbers of the blob files in `directory`, ascending.
fn list_numbers(directory: &Path) -> io::Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(&format!(".{BLOB_EXTENSION}"))
            && let Ok(number) = u64::from_str_radix(stem, 16)
        {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_reads_back_and_nothing_else_does() {
        let blob = BlobRef { number: 7, len: 1 << 20, checksum: 0xDEAD_BEEF };
        assert_eq!(BlobRef::from_bytes(&blob.to_bytes()), Some(blob));
        assert_eq!(BlobRef::from_bytes(&blob.to_bytes()[..20]), None);
        assert_eq!(BlobRef::from_bytes(b"a shard's raw bytes, not a reference"), None);
    }
}

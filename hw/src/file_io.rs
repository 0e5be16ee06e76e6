//! Whole-file reads and writes, the two ways the node does them: plain file I/O ([`StdFileIo`], every
//! platform) and io_uring (`crate::uring::UringFileIo`, feature `uring`). Blob storage
//! ([`crate::blobs`]) takes either, and one test suite runs against both.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// A way to write new files and read whole files.
pub trait FileIo: Send + std::fmt::Debug {
    /// Writes each `(path, bytes)` as a new file (it must not exist). With `sync`, every file's
    /// data and every directory holding one are synced before this returns, so that a crash after
    /// it keeps them all; without, a crash may keep any part of any of them.
    fn write_new_files(&mut self, files: &[(&Path, &[u8])], sync: bool) -> io::Result<()>;

    /// Reads the whole file at `path`.
    fn read_file(&mut self, path: &Path) -> io::Result<Vec<u8>>;

    /// The path's name, for logs and metrics (`"std"`, `"io_uring"`).
    fn name(&self) -> &'static str;
}

/// Plain file I/O: one `write` per file, `fdatasync` per file and per directory.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFileIo;

impl FileIo for StdFileIo {
    fn write_new_files(&mut self, files: &[(&Path, &[u8])], sync: bool) -> io::Result<()> {
        for (path, bytes) in files {
            let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
            file.write_all(bytes)?;
            if sync {
                file.sync_data()?;
            }
        }
        if sync {
            for directory in parent_directories(files) {
                File::open(directory)?.sync_all()?;
            }
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        let mut bytes = Vec::with_capacity(usize::try_from(file.metadata()?.len()).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn name(&self) -> &'static str {
        "std"
    }
}

/// An I/O path's name and how to make one.
pub type Engine = (&'static str, fn() -> io::Result<Box<dyn FileIo>>);

/// Every way of file I/O this build has, by name: plain calls, and with feature `uring` the three
/// io_uring ways (the node's batches, every call on the ring, registered buffers); for test suites
/// and benchmarks that run against each.
#[must_use]
pub fn every_engine() -> Vec<Engine> {
    vec![
        ("std", || Ok(Box::new(StdFileIo))),
        #[cfg(all(feature = "uring", target_os = "linux"))]
        ("io_uring", || Ok(Box::new(crate::uring::UringFileIo::new()?))),
        #[cfg(all(feature = "uring", target_os = "linux"))]
        ("io_uring-ring-only", || Ok(Box::new(crate::uring::UringFileIo::ring_only()?))),
        #[cfg(all(feature = "uring", target_os = "linux"))]
        ("io_uring-registered", || Ok(Box::new(crate::uring::UringFileIo::with_registered_buffers()?))),
    ]
}

/// The distinct directories holding `files`, in first-seen order.
pub(crate) fn parent_directories<'p>(files: &[(&'p Path, &[u8])]) -> Vec<&'p Path> {
    let mut directories: Vec<&Path> = Vec::new();
    for (path, _) in files {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !directories.contains(&directory) {
            directories.push(directory);
        }
    }
    directories
}

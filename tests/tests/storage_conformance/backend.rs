//! A fault-injecting redb [`StorageBackend`]: a file image in memory that the harness shares with
//! every backend handle redb opens on it, and controls.
//!
//! The image keeps what a file keeps across the life of a machine:
//! - `current`, what reads see (the operating system's page cache, which survives a process
//!   restart but not a crash);
//! - `durable`, the image as of the last successful `sync_data`;
//! - the changes (writes and length changes) since that sync, in order, from which a crash draws
//!   what reached the medium: `durable` plus a prefix of them, the last write of which may be torn.
//!
//! The harness injects faults: one-shot I/O errors armed on the next call of a kind, and a full disk
//! on which growing the file fails with `ENOSPC` until it is freed. Each handle belongs to one
//! "process"; a crash freezes the live handle (every later call on it fails, so redb's close on
//! drop writes nothing) before the image is cut back.

use pangea_core::random::{below, chance};
use pangea_sim::SimRng;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// The kinds of backend call a one-shot fault can be armed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendCall {
    /// `StorageBackend::write`.
    Write,
    /// `StorageBackend::read`.
    Read,
    /// `StorageBackend::sync_data`.
    Sync,
    /// `StorageBackend::set_len`.
    SetLen,
}

/// One change to the file since the last successful sync, as the medium may or may not have it.
#[derive(Clone, Debug)]
enum Change {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

/// What a crash kept of the changes since the last sync (for tests that pin it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashCut {
    /// Changes since the last sync before the crash.
    pub changes: usize,
    /// How many of them reached the medium.
    pub kept: usize,
    /// Whether the last kept change was a write torn short.
    pub torn: bool,
}

/// The shared state of one file image; see the module doc.
#[derive(Debug, Default)]
pub struct DiskImage {
    current: Vec<u8>,
    durable: Vec<u8>,
    since_sync: Vec<Change>,
    armed: Vec<BackendCall>,
    full: bool,
    faults_fired: u64,
    /// The id of the handle allowed to touch the image; older handles are frozen.
    live_handle: u64,
    handles_made: u64,
}

impl DiskImage {
    /// Arms a one-shot I/O error on the next call of kind `call`.
    pub fn arm(&mut self, call: BackendCall) {
        self.armed.push(call);
    }

    /// Fills the disk (growing the file fails with `ENOSPC`) or frees it.
    pub fn set_full(&mut self, full: bool) {
        self.full = full;
    }

    /// How many injected faults (armed errors and full-disk refusals) have fired so far.
    #[must_use]
    pub fn faults_fired(&self) -> u64 {
        self.faults_fired
    }

    /// Freezes the live handle: every later call on it fails, as calls of a dead process never
    /// happen.
    pub fn freeze(&mut self) {
        self.handles_made += 1;
        self.live_handle = self.handles_made;
    }

    /// The machine crashed: the page cache is lost, and the medium holds the durable image plus a
    /// prefix of the changes since, drawn from `rng`, the last write of which may be torn. Freezes
    /// the live handle first.
    pub fn crash(&mut self, rng: &mut SimRng) -> CrashCut {
        self.freeze();
        let changes = std::mem::take(&mut self.since_sync);
        let kept = below(rng, changes.len() as u64 + 1) as usize;
        let mut image = std::mem::take(&mut self.durable);
        let mut torn = false;
        for (index, change) in changes.iter().take(kept).enumerate() {
            match change {
                Change::Write { offset, bytes } => {
                    let mut length = bytes.len();
                    if index + 1 == kept && chance(rng, 1, 2) {
                        length = below(rng, bytes.len() as u64) as usize;
                        torn = true;
                    }
                    write_into(&mut image, *offset, &bytes[..length]);
                }
                Change::SetLen(length) => image.resize(usize::try_from(*length).unwrap_or(usize::MAX), 0),
            }
        }
        self.current = image.clone();
        self.durable = image;
        CrashCut { changes: changes.len(), kept, torn }
    }

    fn new_handle(&mut self) -> u64 {
        self.handles_made += 1;
        self.live_handle = self.handles_made;
        self.live_handle
    }

    /// Fails when `handle` is frozen, or with the armed fault of `call` (consuming it).
    fn check(&mut self, handle: u64, call: BackendCall) -> io::Result<()> {
        if handle != self.live_handle {
            return Err(io::Error::other("the process that held this handle crashed"));
        }
        if let Some(index) = self.armed.iter().position(|armed| *armed == call) {
            self.armed.remove(index);
            self.faults_fired += 1;
            return Err(io::Error::other(format!("injected {call:?} error")));
        }
        Ok(())
    }

    /// Fails with `ENOSPC` when the disk is full and the file would grow to `length`.
    fn check_room(&mut self, length: u64) -> io::Result<()> {
        if self.full && length > self.current.len() as u64 {
            self.faults_fired += 1;
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }
}

/// Writes `bytes` at `offset`, growing `image` with zeros as needed.
fn write_into(image: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = start.saturating_add(bytes.len());
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(bytes);
}

/// A file image shared between the harness and the backend handles.
pub type SharedImage = Arc<Mutex<DiskImage>>;

/// Locks `image`, reading through a lock a panicking thread left poisoned: the image is plain data
/// and every change to it completes under the lock.
pub fn lock(image: &SharedImage) -> MutexGuard<'_, DiskImage> {
    image.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An empty shared image.
#[must_use]
pub fn new_image() -> SharedImage {
    Arc::new(Mutex::new(DiskImage::default()))
}

/// One process's handle on a [`SharedImage`], as redb's storage backend.
#[derive(Debug)]
pub struct FaultyBackend {
    image: SharedImage,
    handle: u64,
}

impl FaultyBackend {
    /// A new handle on `image`; it becomes the live one (earlier handles are frozen).
    #[must_use]
    pub fn open(image: &SharedImage) -> FaultyBackend {
        let handle = lock(image).new_handle();
        FaultyBackend { image: Arc::clone(image), handle }
    }
}

impl redb::StorageBackend for FaultyBackend {
    fn len(&self) -> io::Result<u64> {
        let image = lock(&self.image);
        if self.handle != image.live_handle {
            return Err(io::Error::other("the process that held this handle crashed"));
        }
        Ok(image.current.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let mut image = lock(&self.image);
        image.check(self.handle, BackendCall::Read)?;
        let start = usize::try_from(offset).map_err(|_| io::Error::other("offset out of range"))?;
        let end = start.saturating_add(out.len());
        let bytes = image.current.get(start..end).ok_or_else(|| io::Error::other("read past the end of the file"))?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    fn set_len(&self, length: u64) -> io::Result<()> {
        let mut image = lock(&self.image);
        image.check(self.handle, BackendCall::SetLen)?;
        image.check_room(length)?;
        let new_length = usize::try_from(length).map_err(|_| io::Error::other("length out of range"))?;
        image.current.resize(new_length, 0);
        image.since_sync.push(Change::SetLen(length));
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut image = lock(&self.image);
        image.check(self.handle, BackendCall::Sync)?;
        image.durable = image.current.clone();
        image.since_sync.clear();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut image = lock(&self.image);
        image.check(self.handle, BackendCall::Write)?;
        image.check_room(offset.saturating_add(data.len() as u64))?;
        write_into(&mut image.current, offset, data);
        image.since_sync.push(Change::Write { offset, bytes: data.to_vec() });
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        let image = lock(&self.image);
        if self.handle != image.live_handle {
            return Err(io::Error::other("the process that held this handle crashed"));
        }
        Ok(())
    }
}

//! The two stores under test, behind one interface that maps the steps' faults onto each:
//! [`SimWorld`] (the simulator's [`SimDisk`]) and [`RedbWorld`] (the node's [`RedbStorage`] on a
//! [`FaultyBackend`]). Each answer comes with whether an injected fault fired during it, which is
//! what allows a store to fail.

use crate::backend::{BackendCall, FaultyBackend, SharedImage, lock, new_image};
use pangea_core::storage::Pairs;
use pangea_core::{Storage, StorageError, WriteBatch};
use pangea_node::store::{Opener, RedbStorage, StoreFiles};
use pangea_node::wal::WAL_BYTES_MAX;
use pangea_sim::{ArmedFault, DiskFaults, SeedStreams, SimDisk, SimRng};

/// A fault a step injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The next write to the device fails.
    Write,
    /// The next read from the device fails.
    Read,
    /// The next sync of the device fails.
    Sync,
    /// The disk fills up.
    Full,
    /// The disk has room again.
    Freed,
}

/// An answer and whether an injected fault fired while the store computed it.
#[derive(Clone, Debug)]
pub struct Answered<T> {
    /// What the store answered.
    pub answer: Result<T, StorageError>,
    /// True when an injected fault fired (or, for the simulated disk, was due) during the operation.
    pub fault_fired: bool,
}

/// A store under test.
pub trait World {
    /// The store's name, for reports.
    fn name(&self) -> &'static str;
    /// [`Storage::get`].
    fn get(&mut self, table: &str, key: &[u8]) -> Answered<Option<Vec<u8>>>;
    /// [`Storage::range`].
    fn range(&mut self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Answered<Pairs>;
    /// [`Storage::write`].
    fn write(&mut self, batch: WriteBatch) -> Answered<()>;
    /// [`Storage::sync`].
    fn sync(&mut self) -> Answered<()>;
    /// [`Storage::reopen`].
    fn reopen(&mut self) -> Answered<()>;
    /// The machine crashes; the answer is that of opening the store again.
    fn crash(&mut self) -> Answered<()>;
    /// [`Storage::failure`].
    fn failure(&self) -> Option<StorageError>;
    /// Injects `fault`.
    fn inject(&mut self, fault: Fault);
    /// How many writes crashes have torn so far.
    fn torn_writes(&self) -> u64;
}

/// The simulator's disk, with torn writes on.
///
/// `SimDisk` does not say whether an armed fault fired, so the world keeps its own list of the
/// faults it armed: an operation may fail when a fault of its kind is due (or the disk is full for
/// a write or a sync), and a failure with `Io` uses one up.
#[derive(Debug)]
pub struct SimWorld {
    disk: SimDisk,
    armed: Vec<ArmedFault>,
    full: bool,
}

impl SimWorld {
    /// An empty disk whose draws come from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> SimWorld {
        let faults = DiskFaults { torn_writes: true, ..DiskFaults::default() };
        SimWorld { disk: SimDisk::new(faults, SeedStreams::new(seed).stream("disk")), armed: Vec::new(), full: false }
    }

    /// Whether a fault of `kind` is due (or the disk being full explains a failure), using up the
    /// armed fault when `answer` failed with `Io`.
    fn due<T>(&mut self, kind: ArmedFault, answer: &Result<T, StorageError>) -> bool {
        let armed = self.armed.iter().position(|armed| *armed == kind);
        if let (Some(index), Err(StorageError::Io(_))) = (armed, answer) {
            self.armed.remove(index);
        }
        armed.is_some() || (self.full && kind != ArmedFault::Read)
    }

    fn answered<T>(&mut self, kind: ArmedFault, answer: Result<T, StorageError>) -> Answered<T> {
        let fault_fired = self.due(kind, &answer);
        Answered { answer, fault_fired }
    }
}

impl World for SimWorld {
    fn name(&self) -> &'static str {
        "the simulated disk"
    }

    fn get(&mut self, table: &str, key: &[u8]) -> Answered<Option<Vec<u8>>> {
        let answer = self.disk.get(table, key);
        self.answered(ArmedFault::Read, answer)
    }

    fn range(&mut self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Answered<Pairs> {
        let answer = self.disk.range(table, start, end, limit);
        self.answered(ArmedFault::Read, answer)
    }

    fn write(&mut self, batch: WriteBatch) -> Answered<()> {
        let answer = self.disk.write(batch);
        self.answered(ArmedFault::Write, answer)
    }

    fn sync(&mut self) -> Answered<()> {
        let answer = self.disk.sync();
        self.answered(ArmedFault::Sync, answer)
    }

    fn reopen(&mut self) -> Answered<()> {
        // A healthy disk's close flushes (a sync fault or a full disk fails it); a poisoned disk's
        // open reads (a read fault fails it).
        let kind = if self.disk.failure().is_some() { ArmedFault::Read } else { ArmedFault::Sync };
        let answer = self.disk.reopen();
        self.answered(kind, answer)
    }

    fn crash(&mut self) -> Answered<()> {
        self.disk.crash();
        Answered { answer: Ok(()), fault_fired: false }
    }

    fn failure(&self) -> Option<StorageError> {
        self.disk.failure().cloned()
    }

    fn inject(&mut self, fault: Fault) {
        let armed = match fault {
            Fault::Write => ArmedFault::Write,
            Fault::Read => ArmedFault::Read,
            Fault::Sync => ArmedFault::Sync,
            Fault::Full | Fault::Freed => {
                self.full = fault == Fault::Full;
                self.disk.set_full(self.full);
                return;
            }
        };
        self.armed.push(armed);
        self.disk.arm(armed);
    }

    fn torn_writes(&self) -> u64 {
        self.disk.stats().torn
    }
}

/// redb's cache for the even seeds: small, so that its write buffer spills to the file between
/// syncs (best-effort writes, file growth outside commits).
pub const SMALL_CACHE_BYTES: usize = 64 * 1024;

/// redb's cache for the odd seeds: large enough that nothing spills before a sync.
pub const LARGE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Write-ahead bytes past which a sync checkpoints, for the seeds whose number is a multiple of
/// three: small, so that checkpoints (durable redb commits, emptied write-ahead files) happen
/// between the other steps. The other seeds use the node's limit, and checkpoint only at opens.
pub const SMALL_WAL_BYTES_MAX: u64 = 4 * 1024;

/// Opens a redb database on a new handle of `image`, and the write-ahead file on a new handle of
/// `wal_image`, each time it is called.
#[must_use]
pub fn opener(image: &SharedImage, wal_image: &SharedImage, cache_bytes: usize) -> Opener {
    let image = SharedImage::clone(image);
    let wal_image = SharedImage::clone(wal_image);
    Box::new(move || {
        let database =
            redb::Builder::new().set_cache_size(cache_bytes).create_with_backend(FaultyBackend::open(&image))?;
        Ok(StoreFiles { database, wal: Box::new(FaultyBackend::open(&wal_image)) })
    })
}

/// The node's redb store on a [`FaultyBackend`].
///
/// A crash ends the process that held the store: its backend handle is frozen, the store dropped,
/// the image cut back (see [`crate::backend::DiskImage::crash`]) and a new store opened, as a
/// restarted node would. When that open fails, the world answers every operation as a store whose
/// reopen failed does (`Poisoned` by the open's error) until a reopen opens it.
pub struct RedbWorld {
    /// The redb file.
    image: SharedImage,
    /// The write-ahead file.
    wal_image: SharedImage,
    cache_bytes: usize,
    wal_bytes_max: u64,
    /// Faults injected so far: I/O errors go to the two files in turn.
    injected: u64,
    /// The open store, or the error its last open after a crash failed with.
    process: Result<RedbStorage, StorageError>,
    crash_rng: SimRng,
    /// Crashes that tore the last write they kept.
    torn_writes: u64,
}

impl RedbWorld {
    /// A new process opens the image; when the open fails, the process answers its error.
    fn start_process(&mut self) -> Result<(), StorageError> {
        match RedbStorage::with_wal_limit(opener(&self.image, &self.wal_image, self.cache_bytes), self.wal_bytes_max) {
            Ok(storage) => {
                self.process = Ok(storage);
                Ok(())
            }
            Err(error) => {
                self.process = Err(open_failure(error.clone()));
                Err(error)
            }
        }
    }

    /// An empty database whose crashes draw from `seed`; the cache size alternates with the seed.
    ///
    /// # Errors
    /// The first open's error (no fault is armed yet, so it should not fail).
    pub fn new(seed: u64) -> Result<RedbWorld, StorageError> {
        let cache_bytes = if seed.is_multiple_of(2) { SMALL_CACHE_BYTES } else { LARGE_CACHE_BYTES };
        RedbWorld::with_cache(seed, cache_bytes)
    }

    /// An empty database with a cache of `cache_bytes`.
    ///
    /// # Errors
    /// The first open's error.
    pub fn with_cache(seed: u64, cache_bytes: usize) -> Result<RedbWorld, StorageError> {
        let (image, wal_image) = (new_image(), new_image());
        let wal_bytes_max = if seed.is_multiple_of(3) { SMALL_WAL_BYTES_MAX } else { WAL_BYTES_MAX };
        let process = RedbStorage::with_wal_limit(opener(&image, &wal_image, cache_bytes), wal_bytes_max);
        let process = Ok(process?);
        Ok(RedbWorld {
            image,
            wal_image,
            cache_bytes,
            wal_bytes_max,
            injected: 0,
            process,
            crash_rng: SeedStreams::new(seed).stream("crash"),
            torn_writes: 0,
        })
    }

    /// Faults fired so far on either file.
    fn faults_fired(&self) -> u64 {
        lock(&self.image).faults_fired() + lock(&self.wal_image).faults_fired()
    }

    /// Runs `operation` on the open store, or answers as a store whose open failed.
    fn on_store<T>(&mut self, operation: impl FnOnce(&mut RedbStorage) -> Result<T, StorageError>) -> Answered<T> {
        let fired_before = self.faults_fired();
        let answer = match &mut self.process {
            Ok(storage) => operation(storage),
            Err(cause) => Err(StorageError::poisoned(cause)),
        };
        let fault_fired = self.faults_fired() > fired_before;
        Answered { answer, fault_fired }
    }
}

/// What a store whose open failed with `error` names as its failure (as `RedbStorage::reopen` does).
fn open_failure(error: StorageError) -> StorageError {
    if error.poisons() { error } else { StorageError::Io(error.to_string()) }
}

impl World for RedbWorld {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn get(&mut self, table: &str, key: &[u8]) -> Answered<Option<Vec<u8>>> {
        self.on_store(|storage| storage.get(table, key))
    }

    fn range(&mut self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Answered<Pairs> {
        self.on_store(|storage| storage.range(table, start, end, limit))
    }

    fn write(&mut self, batch: WriteBatch) -> Answered<()> {
        self.on_store(|storage| storage.write(batch))
    }

    fn sync(&mut self) -> Answered<()> {
        self.on_store(|storage| storage.sync())
    }

    fn reopen(&mut self) -> Answered<()> {
        let fired_before = self.faults_fired();
        let answer = match &mut self.process {
            Ok(storage) => storage.reopen(),
            Err(_) => self.start_process(),
        };
        let fault_fired = self.faults_fired() > fired_before;
        Answered { answer, fault_fired }
    }

    fn crash(&mut self) -> Answered<()> {
        // The process dies first: nothing it would still do (redb's close on drop) reaches a file.
        lock(&self.image).freeze();
        lock(&self.wal_image).freeze();
        self.process = Err(StorageError::Io("the process crashed".to_owned()));
        for image in [&self.image, &self.wal_image] {
            let cut = lock(image).crash(&mut self.crash_rng);
            self.torn_writes += u64::from(cut.torn);
        }
        let fired_before = self.faults_fired();
        let answer = self.start_process();
        let fault_fired = self.faults_fired() > fired_before;
        Answered { answer, fault_fired }
    }

    fn failure(&self) -> Option<StorageError> {
        match &self.process {
            Ok(storage) => storage.failure().cloned(),
            Err(cause) => Some(cause.clone()),
        }
    }

    fn inject(&mut self, fault: Fault) {
        let call = match fault {
            Fault::Write => BackendCall::Write,
            Fault::Read => BackendCall::Read,
            Fault::Sync => BackendCall::Sync,
            Fault::Full | Fault::Freed => {
                for image in [&self.image, &self.wal_image] {
                    lock(image).set_full(fault == Fault::Full);
                }
                return;
            }
        };
        // The write-ahead file first: the first fault a pinned test arms meets the next sync.
        let image = if self.injected.is_multiple_of(2) { &self.wal_image } else { &self.image };
        self.injected += 1;
        lock(image).arm(call);
    }

    fn torn_writes(&self) -> u64 {
        self.torn_writes
    }
}

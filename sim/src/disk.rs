//! A simulated disk: [`Storage`] with a volatile and a durable layer, and the disk faults of the
//! fault model.
//!
//! Writes land in the volatile layer; `sync` copies them to the durable layer and charges a sync
//! latency in virtual time. A crash keeps the durable layer only — or, with torn writes enabled, a
//! prefix of the unsynced writes too; a torn last batch is detected and dropped whole, as redb
//! drops a torn commit. The unit of a write is a whole [`WriteBatch`]: a crash never keeps part of
//! a batch. Values are stored with a checksum, and a rotten value is detected on read and reported
//! as [`StorageError::Corrupt`], never returned as data. Reads may also fail with an I/O error, and
//! a full disk refuses writes that add bytes (and syncs with writes to flush).
//!
//! The disk follows core's storage contract, the one redb follows: a failed write, sync or read
//! poisons it, and every operation is refused until [`Storage::reopen`]. A reopen after a failure
//! keeps the synced state plus a prefix of the later writes drawn from the seed (whole batches: none,
//! some or all), as a reopen of a real file finds whatever had reached it. A reopen fails as redb's
//! does: a healthy disk's close must flush the unsynced writes (a full disk or a sync error fails it
//! and poisons the disk), and a poisoned disk's open reads the file (a read error fails it).

use crate::plan::{DiskFaults, PPM};
use crate::rng::SimRng;
use pangea_core::random::{below, chance};
use pangea_core::storage::{Tables, WriteOp};
use pangea_core::{Duration, Storage, StorageError, WriteBatch};

const CHECKSUM_BYTES: usize = 8;

/// What a disk has been through, for tests and coverage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Completed syncs.
    pub syncs: u64,
    /// Batches written.
    pub writes: u64,
    /// Unsynced writes (batches) lost in crashes.
    pub lost_on_crash: u64,
    /// Batches torn by crashes (detected and dropped whole).
    pub torn: u64,
    /// Reads that found a rotten value.
    pub corrupt_reads: u64,
    /// Reads that failed with an I/O error.
    pub read_errors: u64,
    /// Writes that failed with an injected I/O error.
    pub write_errors: u64,
    /// Syncs that failed with an injected I/O error.
    pub sync_errors: u64,
    /// Writes or syncs refused for lack of space.
    pub full_refusals: u64,
    /// Failures that poisoned the disk.
    pub poisonings: u64,
    /// Operations refused because the disk was poisoned.
    pub poisoned_refusals: u64,
    /// Successful reopens.
    pub reopens: u64,
}

/// A one-shot fault a test arms on a [`SimDisk`]: the next operation of that kind fails with an I/O
/// error (and poisons the disk).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArmedFault {
    /// The next `write`.
    Write,
    /// The next `sync`.
    Sync,
    /// The next read (`get` or `range`).
    Read,
}

/// One node's simulated disk.
#[derive(Clone, Debug)]
pub struct SimDisk {
    durable: Tables,
    volatile: Tables,
    /// Unsynced batches, in order, their values sealed.
    pending: Vec<Vec<WriteOp>>,
    faults: DiskFaults,
    full: bool,
    /// The failure that poisoned the disk, until it is reopened.
    poisoned: Option<StorageError>,
    armed: Vec<ArmedFault>,
    rng: SimRng,
    charged: Duration,
    stats: DiskStats,
    /// The tables rot may reach; `None`: all.
    rot_tables: Option<&'static [&'static str]>,
}

impl SimDisk {
    /// An empty disk with `faults`, drawing from `rng`.
    #[must_use]
    pub fn new(faults: DiskFaults, rng: SimRng) -> SimDisk {
        SimDisk {
            durable: Tables::default(),
            volatile: Tables::default(),
            pending: Vec::new(),
            faults,
            full: false,
            poisoned: None,
            armed: Vec::new(),
            rng,
            charged: Duration::ZERO,
            stats: DiskStats::default(),
            rot_tables: None,
        }
    }

    /// The same disk, with bit rot confined to `tables` (`None`: every table).
    #[must_use]
    pub fn with_rot_tables(mut self, tables: Option<&'static [&'static str]>) -> SimDisk {
        self.rot_tables = tables;
        self
    }

    /// Virtual time the disk has spent in the current input so far.
    #[must_use]
    pub fn charged(&self) -> Duration {
        self.charged
    }

    /// Virtual time the disk has spent since the last call; the kernel charges it to the node.
    pub fn take_charged(&mut self) -> Duration {
        std::mem::take(&mut self.charged)
    }

    /// What the disk has been through.
    #[must_use]
    pub fn stats(&self) -> DiskStats {
        self.stats
    }

    /// Writes (batches) not yet synced.
    #[must_use]
    pub fn unsynced_writes(&self) -> usize {
        self.pending.len()
    }

    /// Fills the disk (writes that add bytes fail) or frees it. Freeing it does not clear a
    /// poisoning: the node must reopen its storage.
    pub fn set_full(&mut self, full: bool) {
        self.full = full;
    }

    /// Arms `fault`: the next operation of its kind fails with an I/O error.
    pub fn arm(&mut self, fault: ArmedFault) {
        self.armed.push(fault);
    }

    fn fire(&mut self, fault: ArmedFault) -> Result<(), StorageError> {
        match self.armed.iter().position(|armed| *armed == fault) {
            Some(index) => {
                self.armed.remove(index);
                Err(self.poison(StorageError::Io(format!("injected {fault:?} error"))))
            }
            None => Ok(()),
        }
    }

    /// Records `error` as the disk's poisoning and hands it back.
    fn poison(&mut self, error: StorageError) -> StorageError {
        debug_assert!(error.poisons());
        self.stats.poisonings += 1;
        self.poisoned = Some(error.clone());
        error
    }

    fn refuse_if_poisoned(&mut self) -> Result<(), StorageError> {
        match &self.poisoned {
            Some(cause) => {
                self.stats.poisoned_refusals += 1;
                Err(StorageError::poisoned(cause))
            }
            None => Ok(()),
        }
    }

    /// Moves to the durable layer the first `survivors` unsynced batches; the rest are lost.
    fn keep_prefix(&mut self, survivors: usize) {
        let pending = std::mem::take(&mut self.pending);
        for op in pending.iter().take(survivors).flatten() {
            self.durable.apply(op);
        }
        self.stats.lost_on_crash += (pending.len() - survivors.min(pending.len())) as u64;
        self.volatile = self.durable.clone();
    }

    /// Stops the faults that fail operations or rot reads (the liveness phase).
    pub fn calm(&mut self) {
        self.faults.stop_errors();
    }

    /// True, at the plan's rate `ppm`, when an operation should fail with an I/O error.
    fn draw_error(&mut self, ppm: u32) -> bool {
        ppm > 0 && chance(&mut self.rng, u64::from(ppm), u64::from(PPM))
    }

    /// The durable value of `key`, checksum verified, without faults or charges (for tests).
    #[must_use]
    pub fn durable_value(&self, table: &str, key: &[u8]) -> Option<Result<Vec<u8>, StorageError>> {
        self.durable.get(table, key).map(|stored| unseal(table, key, stored))
    }

    /// Whether the node sees `key` in `table` now (synced or not), without faults or charges (for
    /// checkers that watch data being removed).
    #[must_use]
    pub fn holds(&self, table: &str, key: &[u8]) -> bool {
        self.volatile.get(table, key).is_some()
    }

    /// Whether `key`'s durable value is intact (`None`: there is none), without copying it, faults or
    /// charges (for checkers that count surviving copies).
    #[must_use]
    pub fn durable_intact(&self, table: &str, key: &[u8]) -> Option<bool> {
        self.durable.get(table, key).map(|stored| {
            stored.len() >= CHECKSUM_BYTES && {
                let (value, sum) = stored.split_at(stored.len() - CHECKSUM_BYTES);
                checksum(table, key, value) == sum
            }
        })
    }

    /// The node crashed: keep the durable layer, and with torn writes a prefix of the unsynced
    /// writes (whole batches). The crash may tear the last batch of the prefix; like a journaling
    /// engine (redb checksums its commits and falls back to the previous one), the disk detects the
    /// torn batch and drops it whole, so a torn write is never read back, as data or as corruption.
    pub fn crash(&mut self) {
        let mut survivors = 0;
        if self.faults.torn_writes && !self.pending.is_empty() {
            survivors = below(&mut self.rng, self.pending.len() as u64 + 1) as usize;
            if survivors > 0 && chance(&mut self.rng, 1, 2) {
                self.stats.torn += 1;
                survivors -= 1;
            }
        }
        self.keep_prefix(survivors);
        self.poisoned = None;
        self.charged = Duration::ZERO;
    }

    /// Applies read faults to the stored value of `key`, then verifies it.
    fn read(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let million = u64::from(PPM);
        let rots = self.rot_tables.is_none_or(|tables| tables.contains(&table));
        if rots
            && self.faults.read_corrupt_ppm > 0
            && chance(&mut self.rng, u64::from(self.faults.read_corrupt_ppm), million)
        {
            // Rot is on the medium: both layers see the flipped bit.
            let bit = self.rng_bit();
            for layer in [&mut self.volatile, &mut self.durable] {
                if let Some(stored) = layer.get_mut(table, key)
                    && !stored.is_empty()
                {
                    let bit = bit % (stored.len() * 8);
                    stored[bit / 8] ^= 1 << (bit % 8);
                }
            }
        }
        match self.volatile.get(table, key) {
            None => Ok(None),
            Some(stored) => match unseal(table, key, stored) {
                Ok(value) => Ok(Some(value)),
                Err(error) => {
                    self.stats.corrupt_reads += 1;
                    Err(error)
                }
            },
        }
    }

    fn rng_bit(&mut self) -> usize {
        below(&mut self.rng, 1 << 20) as usize
    }

    /// The checks before a read: a poisoned disk refuses it, and a read error poisons the disk.
    fn before_read(&mut self) -> Result<(), StorageError> {
        self.refuse_if_poisoned()?;
        self.fire(ArmedFault::Read)?;
        if self.draw_error(self.faults.read_error_ppm) {
            self.stats.read_errors += 1;
            return Err(self.poison(StorageError::Io("latent sector error".to_owned())));
        }
        Ok(())
    }
}

impl Storage for SimDisk {
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.before_read()?;
        self.read(table, key)
    }

    fn range(
        &mut self,
        table: &str,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<pangea_core::storage::Pairs, StorageError> {
        self.before_read()?;
        let keys: Vec<Vec<u8>> =
            self.volatile.range(table, start, end, limit).into_iter().map(|(key, _)| key).collect();
        let mut pairs = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(value) = self.read(table, &key)? {
                pairs.push((key, value));
            }
        }
        Ok(pairs)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        self.refuse_if_poisoned()?;
        self.fire(ArmedFault::Write)?;
        if self.draw_error(self.faults.write_error_ppm) {
            self.stats.write_errors += 1;
            return Err(self.poison(StorageError::Io("write failed".to_owned())));
        }
        let adds = batch.ops.iter().any(|op| op.value.is_some());
        let needed = batch.bytes() + (batch.ops.len() * CHECKSUM_BYTES) as u64;
        // Only a bounded disk needs its usage counted (a linear walk; bounded disks are for tests).
        let available = if self.full {
            0
        } else {
            self.faults.capacity_bytes.map_or(u64::MAX, |capacity| capacity.saturating_sub(self.volatile.bytes()))
        };
        if adds && needed > available {
            self.stats.full_refusals += 1;
            let detail = format!("the batch needs {needed} bytes, {available} are free");
            return Err(self.poison(StorageError::Full(detail)));
        }
        let mut sealed_batch = Vec::with_capacity(batch.ops.len());
        for op in batch.ops {
            let sealed = WriteOp {
                value: op.value.as_ref().map(|value| seal(&op.table, &op.key, value)),
                table: op.table,
                key: op.key,
            };
            self.volatile.apply(&sealed);
            sealed_batch.push(sealed);
        }
        if !sealed_batch.is_empty() {
            self.pending.push(sealed_batch);
        }
        self.stats.writes += 1;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.refuse_if_poisoned()?;
        self.charged += self.faults.sync_latency.sample(&mut self.rng);
        self.fire(ArmedFault::Sync)?;
        if self.draw_error(self.faults.sync_error_ppm) {
            self.stats.sync_errors += 1;
            return Err(self.poison(StorageError::Io("sync failed".to_owned())));
        }
        if self.full && !self.pending.is_empty() {
            // The writes sit in memory; flushing them needs room the disk no longer has.
            self.stats.full_refusals += 1;
            return Err(self.poison(StorageError::Full("no room to flush the unsynced writes".to_owned())));
        }
        for op in self.pending.drain(..).flatten() {
            self.durable.apply_owned(op);
        }
        self.stats.syncs += 1;
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), StorageError> {
        if self.poisoned.is_none() {
            // A clean close makes every write durable, which needs room and a working device; when
            // it fails, the store is poisoned and the reopen fails (as redb's close does).
            if !self.pending.is_empty() {
                self.fire(ArmedFault::Sync)?;
                if self.full {
                    self.stats.full_refusals += 1;
                    return Err(self.poison(StorageError::Full("no room to flush at close".to_owned())));
                }
                if self.draw_error(self.faults.sync_error_ppm) {
                    self.stats.sync_errors += 1;
                    return Err(self.poison(StorageError::Io("the flush at close failed".to_owned())));
                }
            }
            for op in self.pending.drain(..).flatten() {
                self.durable.apply_owned(op);
            }
        } else {
            // Opening reads the file: a read error fails it, and poisons the store with that error.
            if let Some(index) = self.armed.iter().position(|armed| *armed == ArmedFault::Read) {
                self.armed.remove(index);
                return Err(self.poison(StorageError::Io("injected Read error while opening".to_owned())));
            }
            if self.draw_error(self.faults.read_error_ppm) {
                self.stats.read_errors += 1;
                return Err(self.poison(StorageError::Io("latent sector error while opening".to_owned())));
            }
            self.poisoned = None;
            let survivors = below(&mut self.rng, self.pending.len() as u64 + 1) as usize;
            self.keep_prefix(survivors);
        }
        self.stats.reopens += 1;
        Ok(())
    }

    fn failure(&self) -> Option<&StorageError> {
        self.poisoned.as_ref()
    }
}

/// XXH3-64 of the value and where it lives: like the codec's frame checksum, it catches torn writes
/// and rot (it is no defence against an adversary, which a disk model need not be), and it is cheap
/// enough to run on every read of large values.
fn checksum(table: &str, key: &[u8], value: &[u8]) -> [u8; CHECKSUM_BYTES] {
    use std::hash::Hasher;
    let mut hasher = twox_hash::XxHash3_64::default();
    hasher.write(&(table.len() as u64).to_le_bytes());
    hasher.write(table.as_bytes());
    hasher.write(&(key.len() as u64).to_le_bytes());
    hasher.write(key);
    hasher.write(value);
    hasher.finish().to_le_bytes()
}

fn seal(table: &str, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(value.len() + CHECKSUM_BYTES);
    stored.extend_from_slice(value);
    stored.extend_from_slice(&checksum(table, key, value));
    stored
}

fn unseal(table: &str, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, StorageError> {
    let corrupt = || StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() };
    if stored.len() < CHECKSUM_BYTES {
        return Err(corrupt());
    }
    let (value, sum) = stored.split_at(stored.len() - CHECKSUM_BYTES);
    if checksum(table, key, value) != sum {
        return Err(corrupt());
    }
    Ok(value.to_vec())
}

//! Standing faults: rates and latency distributions that hold for the whole safety phase, on the
//! network and on the disks.

use pangea_core::Duration;
use pangea_core::random::{below, chance};
use rand_core::Rng;
use serde::{Deserialize, Serialize};

/// Parts per million: the unit of every probability in a plan.
pub const PPM: u32 = 1_000_000;

/// A latency distribution: `min + uniform(0..=jitter)`, plus, with probability `tail_ppm`, a
/// further `uniform(0..=tail)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// The least latency, in microseconds.
    pub min_us: u64,
    /// Uniform spread above the minimum, in microseconds.
    pub jitter_us: u64,
    /// Probability of a tail delay, in parts per million.
    pub tail_ppm: u32,
    /// Largest tail delay, in microseconds.
    pub tail_us: u64,
}

impl Latency {
    /// A fixed latency.
    #[must_use]
    pub const fn fixed(us: u64) -> Latency {
        Latency { min_us: us, jitter_us: 0, tail_ppm: 0, tail_us: 0 }
    }

    /// Draws one latency.
    pub fn sample(&self, rng: &mut dyn Rng) -> Duration {
        let mut us = self.min_us + below(rng, self.jitter_us + 1);
        if self.tail_ppm > 0 && chance(rng, u64::from(self.tail_ppm), u64::from(PPM)) {
            us += below(rng, self.tail_us + 1);
        }
        Duration::from_micros(us)
    }

    /// The largest latency this distribution can draw.
    #[must_use]
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.min_us + self.jitter_us + if self.tail_ppm > 0 { self.tail_us } else { 0 })
    }
}

/// A latency that differs from the default on one directed link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkLatency {
    /// Sending node.
    pub from: u32,
    /// Receiving node.
    pub to: u32,
    /// The link's latency.
    pub latency: Latency,
}

/// Standing network faults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFaults {
    /// Latency of every link without an override.
    pub latency: Latency,
    /// Per-link overrides.
    pub links: Vec<LinkLatency>,
    /// Probability that a message is lost.
    pub drop_ppm: u32,
    /// Probability that a message is delivered twice.
    pub duplicate_ppm: u32,
    /// Probability that a message is held back by `reorder_delay_us`, so later ones overtake it.
    pub reorder_ppm: u32,
    /// How long a reordered message is held back, in microseconds.
    pub reorder_delay_us: u64,
    /// Probability that one bit of a message flips in flight (the codec's checksum must catch it).
    pub corrupt_ppm: u32,
}

impl Default for NetworkFaults {
    /// A healthy LAN: 0.5–1.5 ms, nothing lost.
    fn default() -> Self {
        NetworkFaults {
            latency: Latency { min_us: 500, jitter_us: 1000, tail_ppm: 0, tail_us: 0 },
            links: Vec::new(),
            drop_ppm: 0,
            duplicate_ppm: 0,
            reorder_ppm: 0,
            reorder_delay_us: 0,
            corrupt_ppm: 0,
        }
    }
}

impl NetworkFaults {
    /// The longest a delivered message can take, overrides and reordering included.
    #[must_use]
    pub fn delay_max(&self) -> Duration {
        let worst_link = self.links.iter().map(|link| link.latency.max()).max().unwrap_or(Duration::ZERO);
        let reorder = if self.reorder_ppm > 0 { Duration::from_micros(self.reorder_delay_us) } else { Duration::ZERO };
        self.latency.max().max(worst_link) + reorder
    }
}

/// Standing disk faults (the same for every node's disk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskFaults {
    /// How long a sync keeps the node busy.
    pub sync_latency: Latency,
    /// On a crash, a prefix of the unsynced writes (whole batches) survives; a torn last batch is
    /// dropped whole, as a journaling engine drops a torn commit.
    pub torn_writes: bool,
    /// Probability that a read finds its value rotted (the checksum catches it).
    pub read_corrupt_ppm: u32,
    /// Probability that a read fails with an I/O error (the data is intact; the store is poisoned
    /// until the node reopens it).
    pub read_error_ppm: u32,
    /// Probability that a write fails with an I/O error (nothing of it is written; the store is
    /// poisoned).
    #[serde(default)]
    pub write_error_ppm: u32,
    /// Probability that a sync fails with an I/O error (the writes since the last good sync may or
    /// may not be on disk; the store is poisoned).
    #[serde(default)]
    pub sync_error_ppm: u32,
    /// Disk size in bytes; `None` is unbounded.
    pub capacity_bytes: Option<u64>,
}

impl Default for DiskFaults {
    /// A fast, reliable SSD.
    fn default() -> Self {
        DiskFaults {
            sync_latency: Latency { min_us: 50, jitter_us: 100, tail_ppm: 0, tail_us: 0 },
            torn_writes: false,
            read_corrupt_ppm: 0,
            read_error_ppm: 0,
            write_error_ppm: 0,
            sync_error_ppm: 0,
            capacity_bytes: None,
        }
    }
}

impl DiskFaults {
    /// Stops every fault that makes an operation fail or read back wrong: rot, and I/O errors on
    /// reads, writes and syncs (torn writes, slow syncs and the capacity stay).
    pub fn stop_errors(&mut self) {
        self.read_corrupt_ppm = 0;
        self.read_error_ppm = 0;
        self.write_error_ppm = 0;
        self.sync_error_ppm = 0;
    }
}

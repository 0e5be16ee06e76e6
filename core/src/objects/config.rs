//! Settings of the object store, and the bugs that can be planted in it.

use crate::codec::FRAME_PAYLOAD_BYTES_MAX;
use crate::time::Duration;
use thiserror::Error;

/// Room a message needs besides its piece of bytes (keys, hashes, the frame's header).
pub const PIECE_OVERHEAD_BYTES_MAX: usize = 4 * 1024;

/// How the object store behaves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectsConfig {
    /// Largest piece of a shard or a sealed chunk one message carries.
    pub piece_bytes_max: u32,
    /// How many object operations an upload has, from its first chunk stored, to commit its
    /// manifest (see [`crate::metadata::manifests`]); its shards are garbage afterwards.
    pub put_ops_max: u64,
    /// How often transfers in flight are looked at (resends, hedges, deadlines).
    pub tick: Duration,
    /// A shard not yet acknowledged by its holder is sent again after this.
    pub store_resend_after: Duration,
    /// A holder that has not acknowledged its shard by then is replaced by the next candidate.
    pub store_replace_after: Duration,
    /// A chunk whose shards are not all durable by then fails.
    pub store_deadline: Duration,
    /// A read that has not found k good shards by then asks more holders (the long-tail hedge).
    pub fetch_hedge_after: Duration,
    /// A read that has not found k good shards by then fails.
    pub fetch_deadline: Duration,
    /// Every this often a node scans for garbage and for chunks to repair.
    pub scan_every: Duration,
    /// Most shard records one garbage scan reads.
    pub gc_shards_per_scan: usize,
    /// Most chunks one repair scan checks.
    pub repair_chunks_per_scan: usize,
    /// Most shard bytes repair rebuilds per scan (its rate limit).
    pub repair_bytes_per_scan: u64,
    /// Most chunks repaired at once.
    pub repairs_max: usize,
    /// Most chunks a gateway receives at once.
    pub uploads_max: usize,
    /// Most chunks a gateway reads at once.
    pub fetches_max: usize,
    /// Most shards a holder assembles from pieces at once.
    pub incoming_max: usize,
    /// Most rebuilt chunks a gateway keeps for the next pieces of a read.
    pub cached_chunks_max: usize,
    /// A deliberately planted bug (builds with the `planted-bugs` feature only).
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<ObjectsPlantedBug>,
}

/// Bugs that can be planted in the object store, each a classic mistake. They take effect only in
/// builds with the `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectsPlantedBug {
    /// The gateway reports a chunk stored as soon as its shards are sent, before they are durable:
    /// the manifest commits before its write quorum.
    ManifestBeforeQuorum,
    /// A holder lists the shards it has from its index alone, without reading and hashing them, so
    /// repair trusts rotten shards and never rebuilds them.
    RepairTrustsShard,
}

impl ObjectsPlantedBug {
    /// Every planted bug, for `--plant`.
    pub const ALL: [ObjectsPlantedBug; 2] =
        [ObjectsPlantedBug::ManifestBeforeQuorum, ObjectsPlantedBug::RepairTrustsShard];

    /// Its name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ObjectsPlantedBug::ManifestBeforeQuorum => "manifest-before-quorum",
            ObjectsPlantedBug::RepairTrustsShard => "repair-trusts-shard",
        }
    }
}

impl Default for ObjectsConfig {
    fn default() -> Self {
        ObjectsConfig {
            piece_bytes_max: 1024 * 1024,
            put_ops_max: 10_000,
            tick: Duration::from_millis(50),
            store_resend_after: Duration::from_millis(500),
            store_replace_after: Duration::from_secs(2),
            store_deadline: Duration::from_secs(30),
            fetch_hedge_after: Duration::from_millis(200),
            fetch_deadline: Duration::from_secs(20),
            scan_every: Duration::from_secs(5),
            gc_shards_per_scan: 256,
            repair_chunks_per_scan: 16,
            repair_bytes_per_scan: 64 * 1024 * 1024,
            repairs_max: 8,
            uploads_max: 16,
            fetches_max: 16,
            incoming_max: 64,
            cached_chunks_max: 4,
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }
}

/// An [`ObjectsConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ObjectsConfigError {
    /// A piece and its message overhead would not fit a frame, or the piece is empty.
    #[error("piece_bytes_max {0} must be between 1 and the frame limit less {PIECE_OVERHEAD_BYTES_MAX} bytes")]
    PieceSize(u32),
    /// A duration or count that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
}

impl ObjectsConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ObjectsConfigError> {
        let piece = self.piece_bytes_max as usize;
        if piece == 0 || piece + PIECE_OVERHEAD_BYTES_MAX > FRAME_PAYLOAD_BYTES_MAX {
            return Err(ObjectsConfigError::PieceSize(self.piece_bytes_max));
        }
        let durations = [
            ("tick", self.tick),
            ("store_resend_after", self.store_resend_after),
            ("store_deadline", self.store_deadline),
            ("fetch_deadline", self.fetch_deadline),
            ("scan_every", self.scan_every),
        ];
        if let Some((name, _)) = durations.iter().find(|(_, duration)| *duration == Duration::ZERO) {
            return Err(ObjectsConfigError::Zero(name));
        }
        let counts = [
            ("put_ops_max", self.put_ops_max),
            ("uploads_max", self.uploads_max as u64),
            ("fetches_max", self.fetches_max as u64),
            ("incoming_max", self.incoming_max as u64),
            ("repairs_max", self.repairs_max as u64),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, count)| *count == 0) {
            return Err(ObjectsConfigError::Zero(name));
        }
        Ok(())
    }

    /// Is `bug` planted? Always false without the `planted-bugs` feature.
    #[must_use]
    #[allow(clippy::unused_self)]
    pub fn planted(&self, bug: ObjectsPlantedBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.planted_bug == Some(bug)
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            let _ = bug;
            false
        }
    }
}

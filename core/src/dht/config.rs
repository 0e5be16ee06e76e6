//! Settings of the DHT, and the bugs that can be planted in it.

use crate::time::Duration;
use thiserror::Error;

/// Largest `k` (contacts per bucket, peers per answer) the settings accept: it bounds every
/// answer's size.
pub const K_MAX: usize = 64;
/// Most disjoint paths one lookup may take.
pub const PATHS_MAX: usize = 8;
/// Largest address (in the real node, `host:port`) a contact may carry.
pub const ADDRESS_BYTES_MAX: usize = 128;

/// How the DHT behaves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DhtConfig {
    /// Contacts per bucket, and how many closest peers a lookup finds and an answer lists.
    pub k: usize,
    /// Queries one lookup (one path of it) keeps in flight.
    pub alpha: usize,
    /// Disjoint paths per lookup (S/Kademlia); 1 is the plain Kademlia lookup.
    pub disjoint_paths: usize,
    /// A query not answered by then counts as failed.
    pub query_timeout: Duration,
    /// A contact whose queries failed this many times in a row is evicted (and reported).
    pub failures_max: u8,
    /// A bucket no lookup went through for this long is refreshed with a lookup of a key in it.
    pub refresh_every: Duration,
    /// Most lookups running at once (clients', refreshes, publishing).
    pub lookups_max: usize,
    /// Most queries awaiting an answer at once.
    pub rpcs_max: usize,
    /// Most candidates one lookup remembers (the farthest waiting ones are dropped).
    pub candidates_max: usize,
    /// Most records a node holds for others.
    pub records_max: usize,
    /// Largest value a record may carry.
    pub value_bytes_max: usize,
    /// How long a stored record lives unless republished.
    pub record_ttl: Duration,
    /// How often a publisher stores its records again at the k closest peers.
    pub republish_every: Duration,
    /// Most records a node publishes itself (and republishes).
    pub published_max: usize,
    /// The join lookup starts at a random moment within this after the node starts (zero: at
    /// once), so that a mass start or restart does not reach the bootstrap nodes all at once.
    pub join_within: Duration,
    /// Known peers to join through (the real node learns their ids from `--bootstrap`).
    pub bootstrap: Vec<crate::id::NodeId>,
    /// Where peers can reach this node (`host:port`), told to every peer it queries, so that others
    /// learn it through the DHT. `None` in the simulator, where ids are addresses.
    pub address: Option<String>,
    /// A deliberately planted bug (builds with the `planted-bugs` feature only).
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<DhtPlantedBug>,
}

/// Bugs that can be planted in the DHT, each a classic mistake. They take effect only in builds
/// with the `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhtPlantedBug {
    /// A full bucket evicts its least recently seen contact for a newcomer without pinging it
    /// first, so long-lived, responsive contacts are thrown out.
    EvictWithoutPing,
    /// A lookup stops at the first answer that brings no closer peer, instead of querying the k
    /// closest it knows until all have answered.
    StopAtFirstStall,
}

impl DhtPlantedBug {
    /// Every planted bug, for `--plant`.
    pub const ALL: [DhtPlantedBug; 2] = [DhtPlantedBug::EvictWithoutPing, DhtPlantedBug::StopAtFirstStall];

    /// Its name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            DhtPlantedBug::EvictWithoutPing => "evict-without-ping",
            DhtPlantedBug::StopAtFirstStall => "stop-at-first-stall",
        }
    }
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            k: 20,
            alpha: 3,
            disjoint_paths: 1,
            query_timeout: Duration::from_secs(2),
            failures_max: 2,
            refresh_every: Duration::from_secs(600),
            lookups_max: 64,
            rpcs_max: 512,
            candidates_max: 64,
            records_max: 10_000,
            value_bytes_max: 16 * 1024,
            record_ttl: Duration::from_secs(36 * 3600),
            republish_every: Duration::from_secs(3600),
            published_max: 1024,
            join_within: Duration::ZERO,
            bootstrap: Vec::new(),
            address: None,
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }
}

/// A [`DhtConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DhtConfigError {
    /// A duration or count that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// `k` over [`K_MAX`].
    #[error("k = {0} is over the largest supported, {K_MAX}")]
    KTooLarge(usize),
    /// More disjoint paths than [`PATHS_MAX`], or than `k` allows.
    #[error("disjoint_paths = {0} must be at most {PATHS_MAX} and at most k")]
    Paths(usize),
    /// A lookup could not hold its own result.
    #[error("candidates_max = {candidates_max} must be at least k × disjoint_paths = {needed}")]
    Candidates {
        /// The setting.
        candidates_max: usize,
        /// What it must at least be.
        needed: usize,
    },
    /// The advertised address is over [`ADDRESS_BYTES_MAX`].
    #[error("the address is {0} bytes, over {ADDRESS_BYTES_MAX}")]
    Address(usize),
    /// A value would not fit a message.
    #[error("value_bytes_max = {0} is over the message budget")]
    ValueTooLarge(usize),
}

impl DhtConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), DhtConfigError> {
        let positive = [
            (self.k, "k"),
            (self.alpha, "alpha"),
            (self.disjoint_paths, "disjoint_paths"),
            (usize::from(self.failures_max), "failures_max"),
            (self.lookups_max, "lookups_max"),
            (self.rpcs_max, "rpcs_max"),
            (self.records_max, "records_max"),
            (self.value_bytes_max, "value_bytes_max"),
            (self.published_max, "published_max"),
        ];
        for (value, name) in positive {
            if value == 0 {
                return Err(DhtConfigError::Zero(name));
            }
        }
        let durations = [
            (self.query_timeout, "query_timeout"),
            (self.refresh_every, "refresh_every"),
            (self.record_ttl, "record_ttl"),
            (self.republish_every, "republish_every"),
        ];
        for (value, name) in durations {
            if value == Duration::ZERO {
                return Err(DhtConfigError::Zero(name));
            }
        }
        if self.k > K_MAX {
            return Err(DhtConfigError::KTooLarge(self.k));
        }
        if self.disjoint_paths > PATHS_MAX || self.disjoint_paths > self.k {
            return Err(DhtConfigError::Paths(self.disjoint_paths));
        }
        let needed = self.k * self.disjoint_paths;
        if self.candidates_max < needed {
            return Err(DhtConfigError::Candidates { candidates_max: self.candidates_max, needed });
        }
        if let Some(address) = &self.address
            && address.len() > ADDRESS_BYTES_MAX
        {
            return Err(DhtConfigError::Address(address.len()));
        }
        if self.value_bytes_max > super::messages::VALUE_BYTES_LIMIT {
            return Err(DhtConfigError::ValueTooLarge(self.value_bytes_max));
        }
        Ok(())
    }

    /// Whether `bug` is planted (always false without the `planted-bugs` feature).
    #[must_use]
    pub fn planted(&self, bug: DhtPlantedBug) -> bool {
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

//! The firewall's settings and the bug that can be planted in it.

use crate::id::NodeId;
use std::collections::BTreeSet;
use thiserror::Error;

/// The largest rate a source may be limited to, per second (the XDP program's bound too: with it,
/// a refill cannot overflow 64 bits).
pub const RATE_PER_SECOND_MAX: u32 = 10_000_000;
/// The largest burst, in packets or messages.
pub const BURST_MAX: u32 = 1_000_000;

/// How fast each source may send: `per_second` on average, `burst` at once (by default, no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Packets or messages a second; 0 turns the limit off.
    pub per_second: u32,
    /// Packets or messages a source may send at once (the bucket's size).
    pub burst: u32,
}

impl RateLimit {
    /// No limit.
    pub const OFF: RateLimit = RateLimit { per_second: 0, burst: 0 };

    /// True when there is no limit.
    #[must_use]
    pub fn is_off(&self) -> bool {
        self.per_second == 0
    }

    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), FirewallConfigError> {
        if self.per_second > RATE_PER_SECOND_MAX {
            return Err(FirewallConfigError::RateOverMax(self.per_second));
        }
        if self.burst > BURST_MAX {
            return Err(FirewallConfigError::BurstOverMax(self.burst));
        }
        if !self.is_off() && self.burst == 0 {
            return Err(FirewallConfigError::ZeroBurst);
        }
        Ok(())
    }
}

/// A firewall setting that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FirewallConfigError {
    /// The rate is over [`RATE_PER_SECOND_MAX`].
    #[error("a rate of {0} a second is over the limit of {RATE_PER_SECOND_MAX}")]
    RateOverMax(u32),
    /// The burst is over [`BURST_MAX`].
    #[error("a burst of {0} is over the limit of {BURST_MAX}")]
    BurstOverMax(u32),
    /// A rate limit with no burst would drop everything.
    #[error("a rate limit needs a burst of at least 1")]
    ZeroBurst,
}

/// How a [`PangeaNode`](crate::pangea::PangeaNode) filters the messages of its peers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FirewallConfig {
    /// Drop messages from peers outside the log's configuration and [`FirewallConfig::also_allow`].
    pub members_only: bool,
    /// Peers allowed besides the configuration's members (nodes about to join, say).
    pub also_allow: BTreeSet<NodeId>,
    /// Every allowed peer's rate limit, in messages.
    pub rate: RateLimit,
    /// A deliberately planted bug (builds with the `planted-bugs` feature only).
    pub planted_bug: Option<FirewallPlantedBug>,
}

impl Default for FirewallConfig {
    /// Off: every peer allowed, no rate limit.
    fn default() -> FirewallConfig {
        FirewallConfig { members_only: false, also_allow: BTreeSet::new(), rate: RateLimit::OFF, planted_bug: None }
    }
}

/// Bugs that can be planted in the firewall. They take effect only in builds with the
/// `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FirewallPlantedBug {
    /// A denied source is rate-limited like an allowed one instead of dropped.
    AdmitsDenied,
}

impl FirewallPlantedBug {
    /// Every planted bug.
    pub const ALL: [FirewallPlantedBug; 1] = [FirewallPlantedBug::AdmitsDenied];

    /// Its name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FirewallPlantedBug::AdmitsDenied => "firewall-admits-denied",
        }
    }
}

//! Settings of the membership and health subsystem.

use crate::id::NodeId;
use crate::time::Duration;
use thiserror::Error;

/// How often peers are pinged and how long silence lasts before a peer is suspected or declared
/// dead.
///
/// A peer that has not been heard from for `suspect_after` is suspect, for `dead_after` dead; any
/// message from it makes it alive again. A node declares a silent peer dead within
/// `dead_after + ping_interval` of the last word it heard (plus the time its own inputs wait).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HealthConfig {
    /// Time between rounds of pings.
    pub ping_interval: Duration,
    /// Silence after which a peer is suspect.
    pub suspect_after: Duration,
    /// Silence after which a peer is dead.
    pub dead_after: Duration,
    /// Most peer ids gossiped in one ping or pong.
    pub gossip_peers_max: usize,
    /// Most peers a node tracks; ids learned beyond this are ignored.
    pub peers_max: usize,
    /// Peers known from configuration, before any gossip.
    pub bootstrap: Vec<NodeId>,
    /// A deliberately planted bug, to prove the simulator catches it. Exists only in builds with
    /// the `planted-bugs` feature.
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<MembershipPlantedBug>,
}

/// Bugs that can be planted in the membership subsystem. They take effect only in builds with the
/// `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipPlantedBug {
    /// A silent peer is never declared dead: it stays suspect forever.
    NeverMarkDead,
}

impl MembershipPlantedBug {
    /// Every bug with its command-line name, in one table.
    pub const ALL: [(MembershipPlantedBug, &'static str); 1] = [(MembershipPlantedBug::NeverMarkDead, "never-dead")];
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            ping_interval: Duration::from_secs(1),
            suspect_after: Duration::from_secs(3),
            dead_after: Duration::from_secs(6),
            gossip_peers_max: 8,
            peers_max: 1024,
            bootstrap: Vec::new(),
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }
}

/// A [`HealthConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HealthConfigError {
    /// The ping interval is zero.
    #[error("ping_interval must be positive")]
    ZeroPingInterval,
    /// Peers would be suspected before a ping round could answer.
    #[error("suspect_after ({suspect_after:?}) must exceed ping_interval ({ping_interval:?})")]
    SuspectBeforePing {
        /// The configured suspicion timeout.
        suspect_after: Duration,
        /// The configured ping interval.
        ping_interval: Duration,
    },
    /// Peers would be dead before they were suspect.
    #[error("dead_after ({dead_after:?}) must exceed suspect_after ({suspect_after:?})")]
    DeadBeforeSuspect {
        /// The configured death timeout.
        dead_after: Duration,
        /// The configured suspicion timeout.
        suspect_after: Duration,
    },
    /// A limit is zero.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
}

impl HealthConfig {
    /// Is `bug` planted? Always false without the `planted-bugs` feature.
    #[must_use]
    #[allow(unused_variables)]
    pub fn planted(&self, bug: MembershipPlantedBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.planted_bug == Some(bug)
        }
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    /// Checks that the timeouts are ordered and the limits positive.
    pub fn validate(&self) -> Result<(), HealthConfigError> {
        if self.ping_interval.is_zero() {
            return Err(HealthConfigError::ZeroPingInterval);
        }
        if self.suspect_after <= self.ping_interval {
            return Err(HealthConfigError::SuspectBeforePing {
                suspect_after: self.suspect_after,
                ping_interval: self.ping_interval,
            });
        }
        if self.dead_after <= self.suspect_after {
            return Err(HealthConfigError::DeadBeforeSuspect {
                dead_after: self.dead_after,
                suspect_after: self.suspect_after,
            });
        }
        if self.gossip_peers_max == 0 {
            return Err(HealthConfigError::ZeroLimit("gossip_peers_max"));
        }
        if self.peers_max == 0 {
            return Err(HealthConfigError::ZeroLimit("peers_max"));
        }
        Ok(())
    }
}

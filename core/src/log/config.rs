//! Settings of the replicated log.

use crate::id::NodeId;
use crate::time::Duration;
use thiserror::Error;

/// How a replica of the log behaves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogConfig {
    /// The replicas, this one included.
    pub members: Vec<NodeId>,
    /// How often a leader sends heartbeats, resends unacknowledged accepts, and followers check on
    /// the leader.
    pub heartbeat_interval: Duration,
    /// Silence from the leader after which a follower stands for election; each replica waits this
    /// plus a random part of it again, so that candidates rarely collide.
    pub election_timeout: Duration,
    /// How long a leader waits to gather a batch before proposing it.
    pub batch_delay: Duration,
    /// Most commands in one accept message.
    pub batch_entries_max: usize,
    /// Most slots a leader has proposed but not yet seen chosen (the pipeline depth).
    pub inflight_slots_max: u64,
    /// Most client commands a leader queues; beyond, it answers busy.
    pub queued_commands_max: usize,
    /// Applied slots after which a replica takes a snapshot and compacts its log.
    pub snapshot_threshold: u64,
    /// Most chosen entries one catch-up answer carries.
    pub catch_up_entries_max: usize,
    /// A deliberately planted bug (builds with the `planted-bugs` feature only).
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<LogPlantedBug>,
}

/// Bugs that can be planted in the replicated log, each a classic mistake.
#[cfg(feature = "planted-bugs")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogPlantedBug {
    /// A quorum of n/2 instead of n/2 + 1.
    QuorumTooSmall,
    /// Acceptors answer promises and accepts without syncing their state first.
    SkipSync,
    /// Acceptors accept a ballot lower than the one they promised.
    AcceptLowerBallot,
    /// A restarted acceptor forgets the ballot it promised.
    ForgetPromiseOnRestart,
    /// Sessions are ignored: a retried command is applied again.
    ApplyRetryTwice,
    /// The leader answers linearizable reads from its local state without going through the log.
    StaleReadAsLinearizable,
    /// A candidate counts promises only against the configuration it starts from, not the
    /// configurations of changes among the slots it recovers.
    ElectionIgnoresNewConfig,
}

impl LogConfig {
    /// Defaults for `members`: 50 ms heartbeats, 300 ms election timeout, 1 ms batches of up to 64,
    /// 256 slots in flight, snapshots every 1,000 slots.
    #[must_use]
    pub fn new(members: Vec<NodeId>) -> LogConfig {
        LogConfig {
            members,
            heartbeat_interval: Duration::from_millis(50),
            election_timeout: Duration::from_millis(300),
            batch_delay: Duration::from_millis(1),
            batch_entries_max: 64,
            inflight_slots_max: 256,
            queued_commands_max: 4096,
            snapshot_threshold: 1_000,
            catch_up_entries_max: 256,
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), LogConfigError> {
        if self.members.is_empty() {
            return Err(LogConfigError::NoMembers);
        }
        let mut sorted = self.members.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.members.len() {
            return Err(LogConfigError::DuplicateMember);
        }
        if self.heartbeat_interval.is_zero() || self.election_timeout <= self.heartbeat_interval * 2 {
            return Err(LogConfigError::Timeouts);
        }
        for (name, value) in [
            ("batch_entries_max", self.batch_entries_max as u64),
            ("inflight_slots_max", self.inflight_slots_max),
            ("queued_commands_max", self.queued_commands_max as u64),
            ("snapshot_threshold", self.snapshot_threshold),
            ("catch_up_entries_max", self.catch_up_entries_max as u64),
        ] {
            if value == 0 {
                return Err(LogConfigError::ZeroLimit(name));
            }
        }
        Ok(())
    }

    /// Is `bug` planted?
    #[must_use]
    #[allow(unused_variables)]
    pub fn planted(&self, bug: &'static str) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            let name = match self.planted_bug {
                None => return false,
                Some(LogPlantedBug::QuorumTooSmall) => "quorum-too-small",
                Some(LogPlantedBug::SkipSync) => "skip-sync",
                Some(LogPlantedBug::AcceptLowerBallot) => "accept-lower-ballot",
                Some(LogPlantedBug::ForgetPromiseOnRestart) => "forget-promise",
                Some(LogPlantedBug::ApplyRetryTwice) => "apply-retry-twice",
                Some(LogPlantedBug::StaleReadAsLinearizable) => "stale-read",
                Some(LogPlantedBug::ElectionIgnoresNewConfig) => "election-ignores-new-config",
            };
            name == bug
        }
        #[cfg(not(feature = "planted-bugs"))]
        false
    }
}

/// A [`LogConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LogConfigError {
    /// No replicas.
    #[error("the log needs at least one member")]
    NoMembers,
    /// A replica listed twice.
    #[error("a member is listed twice")]
    DuplicateMember,
    /// The heartbeat is zero, or the election timeout not above two heartbeats.
    #[error("heartbeat_interval must be positive and election_timeout above two heartbeats")]
    Timeouts,
    /// A limit is zero.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
}

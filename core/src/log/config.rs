//! Settings of the replicated log, and the bugs that can be planted in it.

use crate::codec::FRAME_PAYLOAD_BYTES_MAX;
use crate::id::NodeId;
use crate::time::Duration;
use thiserror::Error;

/// Bytes a log message may take beyond the entries or chunk it carries (ballots, slots, a
/// configuration, and per-entry framing are counted with the entries themselves).
pub const MESSAGE_OVERHEAD_BYTES_MAX: usize = 4 * 1024;

/// How a replica of the log behaves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogConfig {
    /// The replicas of the initial configuration, this one included or not.
    pub members: Vec<NodeId>,
    /// How often a leader sends heartbeats, resends unacknowledged accepts, and followers check on
    /// the leader.
    pub heartbeat_interval: Duration,
    /// Silence from the leader after which a follower stands for election; each replica waits this
    /// plus a random part of it again, so that candidates rarely collide.
    pub election_timeout: Duration,
    /// How long a leader waits to gather a batch before proposing it, while proposals are in
    /// flight; a proposal that finds the pipeline idle is proposed at once.
    pub batch_delay: Duration,
    /// Most commands in one accept message.
    pub batch_entries_max: usize,
    /// Most slots a leader has proposed but not yet seen chosen (the pipeline depth).
    pub inflight_slots_max: u64,
    /// Most client commands a leader queues; beyond, it answers busy.
    pub queued_commands_max: usize,
    /// Linearizable reads waiting at the leader for their round and read index; more are busy.
    pub reads_max: usize,
    /// Applied slots after which a replica takes a snapshot and compacts its log.
    pub snapshot_threshold: u64,
    /// Most chosen entries one catch-up answer carries.
    pub catch_up_entries_max: usize,
    /// The byte budget of every log message: nothing the log sends is larger. At most
    /// [`FRAME_PAYLOAD_BYTES_MAX`].
    pub message_bytes_max: usize,
    /// Most bytes of entries in one accept, catch-up answer or promise page (so such a message
    /// stays within `message_bytes_max`).
    pub batch_bytes_max: usize,
    /// The largest entry a client command may make; larger commands are refused as invalid. At most
    /// `batch_bytes_max`, so every entry fits a batch on its own.
    pub entry_bytes_max: usize,
    /// Bytes of one snapshot chunk.
    pub snapshot_chunk_bytes_max: usize,
    /// The largest snapshot a replica accepts from a peer (a peer-supplied size is checked against
    /// it before anything is kept).
    pub snapshot_bytes_max: u64,
    /// Most bytes of commands a leader queues and has in flight; beyond, it answers busy.
    pub queued_bytes_max: usize,
    /// Most client sessions open; the least recently used makes room for a new one.
    pub sessions_max: usize,
    /// A session unused for this many slots expires.
    pub session_idle_slots_max: u64,
    /// A deliberately planted bug (builds with the `planted-bugs` feature only).
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<LogPlantedBug>,
}

/// Bugs that can be planted in the replicated log, each a classic mistake. They take effect only in
/// builds with the `planted-bugs` feature.
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
    /// Catch-up answers ignore the byte budget: a lagging replica is sent every chosen entry it
    /// lacks (up to the entry count) in one message, however large.
    UncappedCatchUp,
    /// An acceptor whose storage refused the write of its promise or acceptance answers anyway, as
    /// if a poisoned store were a passing hiccup; what it promised is gone once the store reopens.
    IgnorePoisonedStorage,
    /// A read's index is the leader's commit index alone, without the slots it recovered at its
    /// election: a new leader answers reads before it has applied writes its predecessor
    /// acknowledged (Raft's rule that a leader commits in its own term before serving reads).
    ReadIndexSkipsRecoveredSlots,
}

impl LogPlantedBug {
    /// Every bug with its command-line name, in one table.
    pub const ALL: [(LogPlantedBug, &'static str); 10] = [
        (LogPlantedBug::QuorumTooSmall, "quorum-too-small"),
        (LogPlantedBug::SkipSync, "skip-sync"),
        (LogPlantedBug::AcceptLowerBallot, "accept-lower-ballot"),
        (LogPlantedBug::ForgetPromiseOnRestart, "forget-promise"),
        (LogPlantedBug::ApplyRetryTwice, "apply-retry-twice"),
        (LogPlantedBug::StaleReadAsLinearizable, "stale-read"),
        (LogPlantedBug::ElectionIgnoresNewConfig, "election-ignores-new-config"),
        (LogPlantedBug::UncappedCatchUp, "uncapped-catch-up"),
        (LogPlantedBug::IgnorePoisonedStorage, "ignore-poisoned-storage"),
        (LogPlantedBug::ReadIndexSkipsRecoveredSlots, "read-index-skips-recovered"),
    ];

    /// The bug called `name` on the command line.
    #[must_use]
    pub fn from_name(name: &str) -> Option<LogPlantedBug> {
        Self::ALL.iter().find(|(_, known)| *known == name).map(|(bug, _)| *bug)
    }

    /// Its command-line name.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(bug, _)| *bug == self).map_or("", |(_, name)| name)
    }
}

impl LogConfig {
    /// Defaults for `members`: 50 ms heartbeats, 300 ms election timeout, 1 ms batches of up to 64
    /// entries and 4 MiB, 256 slots in flight, snapshots every 1,000 slots sent in 1 MiB chunks,
    /// 8 MiB messages, 2 MiB entries, 65,536 sessions idle for at most a million slots.
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
            reads_max: 4096,
            snapshot_threshold: 1_000,
            catch_up_entries_max: 256,
            message_bytes_max: 8 * 1024 * 1024,
            batch_bytes_max: 4 * 1024 * 1024,
            entry_bytes_max: 2 * 1024 * 1024,
            snapshot_chunk_bytes_max: 1024 * 1024,
            snapshot_bytes_max: 64 * 1024 * 1024 * 1024,
            queued_bytes_max: 64 * 1024 * 1024,
            sessions_max: 65_536,
            session_idle_slots_max: 1_000_000,
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }

    /// The same settings with every byte limit scaled to a message budget of `message_bytes_max`
    /// (batches half of it, entries a quarter, snapshot chunks an eighth, the queue eight times it):
    /// how the simulator runs the log with small limits that its workloads reach, as TigerBeetle's
    /// simulator runs with a small message size.
    #[must_use]
    pub fn with_message_budget(mut self, message_bytes_max: usize) -> LogConfig {
        self.message_bytes_max = message_bytes_max;
        self.batch_bytes_max = message_bytes_max / 2;
        self.entry_bytes_max = message_bytes_max / 4;
        self.snapshot_chunk_bytes_max = message_bytes_max / 8;
        self.queued_bytes_max = message_bytes_max * 8;
        self
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
            ("reads_max", self.reads_max as u64),
            ("snapshot_threshold", self.snapshot_threshold),
            ("catch_up_entries_max", self.catch_up_entries_max as u64),
            ("snapshot_chunk_bytes_max", self.snapshot_chunk_bytes_max as u64),
            ("sessions_max", self.sessions_max as u64),
            ("session_idle_slots_max", self.session_idle_slots_max),
        ] {
            if value == 0 {
                return Err(LogConfigError::ZeroLimit(name));
            }
        }
        if self.message_bytes_max > FRAME_PAYLOAD_BYTES_MAX {
            return Err(LogConfigError::Budget("message_bytes_max is over the codec's frame limit"));
        }
        if self.batch_bytes_max + MESSAGE_OVERHEAD_BYTES_MAX > self.message_bytes_max {
            return Err(LogConfigError::Budget("batch_bytes_max leaves no room for a message's overhead"));
        }
        if self.snapshot_chunk_bytes_max + MESSAGE_OVERHEAD_BYTES_MAX > self.message_bytes_max {
            return Err(LogConfigError::Budget("snapshot_chunk_bytes_max leaves no room for a message's overhead"));
        }
        if self.entry_bytes_max == 0 || self.entry_bytes_max > self.batch_bytes_max {
            return Err(LogConfigError::Budget("entry_bytes_max must be positive and fit one batch"));
        }
        if self.queued_bytes_max < self.entry_bytes_max {
            return Err(LogConfigError::Budget("queued_bytes_max must hold at least one entry"));
        }
        Ok(())
    }

    /// Is `bug` planted? Always false without the `planted-bugs` feature.
    #[must_use]
    #[allow(unused_variables)]
    pub fn planted(&self, bug: LogPlantedBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.planted_bug == Some(bug)
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
    /// The byte limits do not nest: messages within the frame limit, batches and chunks within
    /// messages, entries within batches.
    #[error("byte budgets: {0}")]
    Budget(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_and_scaled_budgets_nest() {
        let config = LogConfig::new(vec![NodeId::for_index(0)]);
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.clone().with_message_budget(256 * 1024).validate(), Ok(()));
        let mut bad = config.clone();
        bad.entry_bytes_max = bad.batch_bytes_max + 1;
        assert!(matches!(bad.validate(), Err(LogConfigError::Budget(_))));
        let mut bad = config;
        bad.message_bytes_max = FRAME_PAYLOAD_BYTES_MAX + 1;
        assert!(matches!(bad.validate(), Err(LogConfigError::Budget(_))));
        for (bug, name) in LogPlantedBug::ALL {
            assert_eq!(LogPlantedBug::from_name(name), Some(bug));
            assert_eq!(bug.name(), name);
        }
    }
}

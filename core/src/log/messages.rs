//! What replicas say to each other and to clients.

use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::entry::Entry;
use crate::log::kv::{KvOp, KvResult, KvStore};
use crate::log::members::{MemberChange, Members};
use serde::{Deserialize, Serialize};

/// A state-machine snapshot: everything applied up to `index`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last slot the snapshot includes.
    pub index: u64,
    /// The records and sessions after applying slots `1..=index`.
    pub store: KvStore,
    /// The configuration in force after slot `index`.
    pub members: Members,
}

/// Replica-to-replica messages of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogMessage {
    /// Phase 1a: "promise to ignore ballots below `ballot`, and tell me what you accepted from
    /// `from_slot` on."
    Prepare {
        /// The candidate's ballot.
        ballot: Ballot,
        /// The first slot the candidate does not know to be chosen.
        from_slot: u64,
    },
    /// Phase 1b: the promise, with what the acceptor accepted from `from_slot` on.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// Slots up to here were compacted into the acceptor's snapshot: chosen, and not reported.
        snapshot_index: u64,
        /// The configuration in force after `snapshot_index` (governing the slots after it).
        snapshot_members: Members,
        /// (slot, ballot it was accepted in, entry) for every accepted slot from `from_slot`.
        accepted: Vec<(u64, Ballot, Entry)>,
    },
    /// Phase 2a: "accept these entries for slots `first_slot..`", with the leader's commit index.
    Accept {
        /// The leader's ballot.
        ballot: Ballot,
        /// The slot of the first entry; the others follow in order.
        first_slot: u64,
        /// The entries (a batch).
        entries: Vec<Entry>,
        /// Every slot up to here is chosen.
        commit_index: u64,
    },
    /// Phase 2b: the acceptor accepted slots `first_slot..first_slot + count`.
    Accepted {
        /// The ballot accepted.
        ballot: Ballot,
        /// First slot.
        first_slot: u64,
        /// Number of slots.
        count: u64,
    },
    /// "I promised a higher ballot": the sender of `ballot` should step down.
    Reject {
        /// The ballot refused.
        ballot: Ballot,
        /// The ballot the acceptor promised.
        promised: Ballot,
    },
    /// The leader is alive; slots up to `commit_index` are chosen.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// Every slot up to here is chosen.
        commit_index: u64,
    },
    /// A follower's answer to a heartbeat: it still follows `ballot` (keeps the leader's lease).
    HeartbeatAck {
        /// The leader's ballot.
        ballot: Ballot,
    },
    /// "Send me the chosen entries from `from_slot` on."
    CatchUp {
        /// The first slot the asker lacks.
        from_slot: u64,
    },
    /// Chosen entries, in slot order from `first_slot`.
    Chosen {
        /// Slot of the first entry.
        first_slot: u64,
        /// The entries.
        entries: Vec<Entry>,
    },
    /// A snapshot, for a replica whose missing entries were compacted away.
    InstallSnapshot {
        /// The snapshot.
        snapshot: Snapshot,
    },
}

crate::serde_codec!(LogMessage, family = 10, version = 2);

/// What a client asks a replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvRequest {
    /// A command through the log: linearizable, applied exactly once per (client, sequence).
    Command {
        /// The client.
        client: u64,
        /// The client's sequence number; a retry reuses it.
        sequence: u64,
        /// The operation.
        op: KvOp,
    },
    /// A local read of whatever this replica has applied: fast, possibly stale.
    StaleGet {
        /// The key.
        key: Vec<u8>,
    },
    /// A membership change through the log, applied at most once per (client, sequence).
    ChangeMembers {
        /// The client.
        client: u64,
        /// The client's sequence number; a retry reuses it.
        sequence: u64,
        /// The change.
        change: MemberChange,
    },
    /// This replica's view: its configuration, leader and log position (local, possibly stale).
    Status,
}

crate::serde_codec!(KvRequest, family = 11, version = 2);

/// A replica's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvResponse {
    /// The command was applied (now or earlier); here is its result.
    Done {
        /// The client.
        client: u64,
        /// The sequence number.
        sequence: u64,
        /// The result.
        result: KvResult,
    },
    /// This replica is not the leader and did nothing; `leader` is its best guess.
    NotLeader {
        /// Where to try next.
        leader: Option<NodeId>,
    },
    /// The command may or may not take effect (the replica lost its leadership meanwhile): retry
    /// with the same sequence number to learn its outcome.
    Unknown {
        /// Where to try next.
        leader: Option<NodeId>,
    },
    /// The replica is too busy to take the command; nothing was done.
    Busy,
    /// A stale read's answer, with the last slot the replica had applied.
    Stale {
        /// The value.
        value: Option<Vec<u8>>,
        /// The last applied slot.
        applied_index: u64,
    },
    /// A membership change that could not be proposed; nothing was done.
    ChangeRefused {
        /// Why.
        why: crate::log::members::MemberChangeRefused,
        /// The configuration it was checked against.
        members: Members,
    },
    /// A replica's local view, the answer to [`KvRequest::Status`].
    Status(ReplicaStatus),
}

/// A replica's local view of the log, for operators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// The configuration it has applied.
    pub members: Members,
    /// The leader it follows (itself when leading), if any.
    pub leader: Option<NodeId>,
    /// True when it leads.
    pub leading: bool,
    /// The ballot it promised.
    pub promised: Ballot,
    /// Every slot up to here is chosen and known here.
    pub commit_index: u64,
    /// Every slot up to here is applied.
    pub applied_index: u64,
    /// The last slot compacted into its snapshot.
    pub snapshot_index: u64,
}

crate::serde_codec!(KvResponse, family = 12, version = 2);

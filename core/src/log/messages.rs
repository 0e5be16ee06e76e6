//! What replicas say to each other and to clients. Every type is generic over the replicated state
//! machine's command `C` (and, for clients, its outputs `O`, queries `Q` and answers `A`).

use crate::family;
use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::entry::Entry;
use crate::log::members::{MemberChange, MemberChangeRefused, Members};
use crate::log::state_machine::{Data, InvalidCommand};
use serde::{Deserialize, Serialize};

/// Replica-to-replica messages of the replicated log. Every message a replica builds stays within
/// the log's `message_bytes_max`: batches, catch-up answers, promises and snapshots are cut to fit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogMessage<C> {
    /// Phase 1a: "promise to ignore ballots below `ballot`, and tell me what you accepted from
    /// `from_slot` on." Sent again with a later `from_slot` for the rest of a long promise.
    Prepare {
        /// The candidate's ballot.
        ballot: Ballot,
        /// The first slot to report.
        from_slot: u64,
    },
    /// Phase 1b: the promise, with (a page of) what the acceptor accepted from `from_slot` on.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// Slots up to here were compacted into the acceptor's snapshot: chosen, and not reported.
        snapshot_index: u64,
        /// The configuration in force after `snapshot_index` (governing the slots after it).
        snapshot_members: Members,
        /// (slot, ballot it was accepted in, entry) for accepted slots, in slot order.
        accepted: Vec<(u64, Ballot, Entry<C>)>,
        /// `Some(slot)` when the page is full: the accepted slots from `slot` on follow on request.
        more_from: Option<u64>,
    },
    /// Phase 2a: "accept these entries for slots `first_slot..`", with the leader's commit index.
    Accept {
        /// The leader's ballot.
        ballot: Ballot,
        /// The slot of the first entry; the others follow in order.
        first_slot: u64,
        /// The entries (a batch).
        entries: Vec<Entry<C>>,
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
        /// The leader's latest round of read confirmation (see the read index).
        read_round: u64,
    },
    /// A follower's answer to a heartbeat: it still follows `ballot` (keeps the leader's lease and
    /// confirms its reads up to `read_round`).
    HeartbeatAck {
        /// The leader's ballot.
        ballot: Ballot,
        /// The heartbeat's read round.
        read_round: u64,
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
        entries: Vec<Entry<C>>,
    },
    /// A chunk of a snapshot, for a replica whose missing entries were compacted away.
    SnapshotChunk {
        /// The snapshot's last slot.
        index: u64,
        /// Size of the whole encoded snapshot.
        total_bytes: u64,
        /// blake3 of the whole encoded snapshot.
        digest: [u8; 32],
        /// Where this chunk starts.
        offset: u64,
        /// The chunk.
        data: Vec<u8>,
    },
    /// "Send me the chunk of snapshot `index` that starts at `offset`."
    SnapshotRequest {
        /// The snapshot's last slot.
        index: u64,
        /// The first byte wanted.
        offset: u64,
    },
    /// "Would you follow me if I stood?" — asked before standing for election, so that a replica
    /// that restarted or was cut off does not depose a leader the others still follow.
    PreVote {
        /// The round the asker would stand in (to match the answers).
        round: u64,
    },
    /// The answer to a [`LogMessage::PreVote`].
    PreVoteReply {
        /// The round asked about.
        round: u64,
        /// True when the answerer follows no live leader.
        granted: bool,
    },
}

crate::serde_codec!(impl[C: Data] LogMessage<C>, family = family::LOG_MESSAGE, version = 4);

/// What a client asks a replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogRequest<C, Q> {
    /// Opens a session (through the log); the answer names its id.
    OpenSession,
    /// A command through the log: linearizable, applied exactly once per (client, sequence).
    Command {
        /// The client's session id.
        client: u64,
        /// The client's sequence number; a retry reuses it.
        sequence: u64,
        /// The state machine's command.
        command: C,
    },
    /// A local query of whatever this replica has applied: fast, possibly stale.
    Query(Q),
    /// A linearizable query, answered by the leader without a log write (read index): it reflects
    /// every write acknowledged before it was sent.
    Read(Q),
    /// A membership change through the log, applied at most once per (client, sequence).
    ChangeMembers {
        /// The client's session id.
        client: u64,
        /// The client's sequence number; a retry reuses it.
        sequence: u64,
        /// The change.
        change: MemberChange,
    },
    /// This replica's view: its configuration, leader and log position (local, possibly stale).
    Status,
}

crate::serde_codec!(impl[C: Data, Q: Data] LogRequest<C, Q>, family = family::LOG_REQUEST, version = 4);

/// A replica's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogResponse<O, A> {
    /// The command was applied (now or earlier); here is its output.
    Done {
        /// The client's session.
        client: u64,
        /// The sequence number.
        sequence: u64,
        /// The state machine's output.
        output: O,
    },
    /// A membership change was applied; `changed` is false when another change got in first.
    MembersChanged {
        /// The client's session.
        client: u64,
        /// The sequence number.
        sequence: u64,
        /// Whether it took effect.
        changed: bool,
        /// The configuration after it.
        members: Members,
    },
    /// A session was opened.
    SessionOpened {
        /// Its id, for the client's commands.
        client: u64,
    },
    /// The client's session does not exist (it expired, or was never opened): the command was not
    /// applied now, and whether an earlier attempt of it was is unknown. Open a new session.
    SessionExpired {
        /// The session named.
        client: u64,
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
    /// The command was refused before it reached the log; nothing was done.
    Invalid(InvalidCommand),
    /// A membership change that could not be proposed; nothing was done.
    ChangeRefused {
        /// Why.
        why: MemberChangeRefused,
        /// The configuration it was checked against.
        members: Members,
    },
    /// A local query's answer, with the last slot the replica had applied.
    Answer {
        /// The answer.
        answer: A,
        /// The last applied slot.
        applied_index: u64,
    },
    /// A replica's local view, the answer to [`LogRequest::Status`].
    Status(ReplicaStatus),
}

crate::serde_codec!(impl[O: Data, A: Data] LogResponse<O, A>, family = family::LOG_RESPONSE, version = 3);

/// A replica's local view of the log, for operators.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// Client sessions open.
    pub sessions: u64,
}

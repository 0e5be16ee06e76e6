//! The replicated log: multi-Paxos, as a sans-IO state machine, replicating any deterministic
//! [`StateMachine`].
//!
//! Every replica is an acceptor, a learner, and a would-be leader:
//!
//! - **Acceptor.** Keeps the highest ballot it promised and what it accepted per slot, in storage,
//!   synced before any promise or acceptance leaves the node. A restarted replica recovers both.
//! - **Leader.** A replica that hears nothing from a leader for an election timeout (plus a random
//!   part of it, from the context's RNG) runs phase 1 with a ballot above all it has seen. With a
//!   majority of promises it re-proposes, for every slot from its first unknown one, the value
//!   accepted with the highest ballot (a no-op where there is none), then proposes client commands
//!   in phase 2 only — a stable leader skips phase 1 for new slots. Commands are batched (up to
//!   `batch_entries_max` and `batch_bytes_max` per accept) and pipelined (up to
//!   `inflight_slots_max` slots unchosen). Accepts unacknowledged for four heartbeats are resent. A
//!   leader that stops hearing from a majority steps down.
//! - **Learner.** The leader's accepts and heartbeats carry its commit index. A follower holding
//!   the leader's own value for a slot (accepted in the leader's ballot) knows it chosen; for any
//!   other slot it asks for the chosen entries (catch-up), or, when they were compacted away, pulls
//!   a snapshot chunk by chunk. Chosen entries are applied in slot order to the state machine
//!   through the log's client [`sessions`], which make a retried command apply exactly once.
//! - **Snapshots.** Every `snapshot_threshold` applied slots a replica saves a snapshot (state
//!   machine, sessions, configuration) and drops the entries it covers, as acceptor and as
//!   learner; a large state waits until the entries applied since its last snapshot add up to
//!   twice that snapshot's size. A promise reports the acceptor's snapshot index, so a new leader
//!   never re-proposes in compacted (hence chosen) slots.
//! - **Membership** changes travel through the log itself (see [`members`]).
//!
//! **Bounded by construction.** No message the log builds exceeds `message_bytes_max`: accepts,
//! catch-up answers and promise pages are cut by bytes as well as entries, snapshots move in chunks,
//! a command larger than `entry_bytes_max` is refused before it is proposed, and loops over counts a
//! peer supplies are bounded by the replica's own state.
//!
//! Reads are linearizable through the log (a read-only command) or, without a log write, through
//! the leader's read index ([`LogRequest::Read`]: a round of heartbeats confirms the leadership,
//! then the query is answered once the read index is applied); [`LogRequest::Query`] reads a
//! replica's applied state directly, explicitly stale.

mod ballot;
mod batch;
mod config;
mod entry;
pub mod members;
mod messages;
pub mod names;
mod replica;
pub mod sessions;
mod snapshot;
mod state_machine;
#[cfg(test)]
mod tests;
mod timing;

pub use ballot::Ballot;
pub use config::{LogConfig, LogConfigError, LogPlantedBug, MESSAGE_OVERHEAD_BYTES_MAX};
pub use entry::{Command, Entry, EntryId};
pub use members::{MEMBERS_MAX, MemberChange, MemberChangeRefused, Members, valid_member_list};
pub use messages::{LogMessage, LogRequest, LogResponse, ReplicaStatus};
pub use replica::{AcceptedRecord, LogNotification, LogTimer, Replica, RoleKind, decode_record, encode_record};
pub use sessions::{Outcome, Sessions};
pub use snapshot::{Snapshot, SnapshotImage};
pub use state_machine::{Bound, Data, InvalidCommand, Part, StateMachine};
pub use timing::{STAGE_SAMPLES_MAX, Stage, StageSample, StageSamples, WriteStamps};

/// Storage table of the acceptor's state: the promised ballot and accepted entries.
pub const ACCEPTOR_TABLE: &str = "log.acceptor";
/// Storage table of chosen entries not yet compacted into a snapshot.
pub const CHOSEN_TABLE: &str = "log.chosen";
/// Storage table of the latest snapshot.
pub const SNAPSHOT_TABLE: &str = "log.snapshot";

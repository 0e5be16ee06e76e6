//! The replicated log: multi-Paxos, as a sans-IO state machine, with a records store on top.
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
//!   `batch_entries_max` per accept) and pipelined (up to `inflight_slots_max` slots unchosen).
//!   Unacknowledged accepts are resent every heartbeat. A leader that stops hearing from a majority
//!   steps down.
//! - **Learner.** The leader's accepts and heartbeats carry its commit index. A follower holding
//!   the leader's own value for a slot (accepted in the leader's ballot) knows it chosen; for any
//!   other slot it asks for the chosen entries (catch-up), or, when they were compacted away, gets a
//!   snapshot. Chosen entries are applied in slot order to the [`KvStore`], whose client sessions
//!   make a retried command apply exactly once.
//! - **Snapshots.** Every `snapshot_threshold` applied slots a replica saves a snapshot of its store
//!   and drops the entries it covers, as acceptor and as learner. A promise reports the acceptor's
//!   snapshot index, so a new leader never re-proposes in compacted (hence chosen) slots.
//!
//! Reads through the log are linearizable; [`KvRequest::StaleGet`] reads a replica's applied state
//! directly, explicitly stale. Membership is fixed by configuration (changes through the log are
//! not implemented yet).

mod ballot;
mod config;
mod entry;
mod kv;
mod members;
mod messages;
mod replica;
#[cfg(test)]
mod tests;

pub use ballot::Ballot;
#[cfg(feature = "planted-bugs")]
pub use config::LogPlantedBug;
pub use config::{LogConfig, LogConfigError};
pub use entry::{Command, Entry, EntryId};
pub use kv::{Applied, KvOp, KvResult, KvStore, Session};
pub use members::{MEMBERS_MAX, MemberChange, MemberChangeRefused, Members, valid_member_list};
pub use messages::{KvRequest, KvResponse, LogMessage, ReplicaStatus, Snapshot};
pub use replica::{LogTimer, Replica, Role};

/// Storage table of the acceptor's state: the promised ballot and accepted entries.
pub const ACCEPTOR_TABLE: &str = "log.acceptor";
/// Storage table of chosen entries not yet compacted into a snapshot.
pub const CHOSEN_TABLE: &str = "log.chosen";
/// Storage table of the latest snapshot.
pub const SNAPSHOT_TABLE: &str = "log.snapshot";

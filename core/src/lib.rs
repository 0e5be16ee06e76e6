//! Pangea's node, written once as deterministic, sans-IO state machines.
//!
//! This crate is the contract of `DESIGN.md`: it contains no networking, no files, no threads, no
//! clocks and no operating-system randomness. A node reacts to four inputs — start, a message from a
//! peer, a timer that fired, a client request — and acts only through its [`Context`], which hands
//! it the time, a seeded random number generator, its [`Storage`], and the means to send messages,
//! set timers and reply to clients.
//!
//! Two runtimes drive the same handlers: the `pangea-sim` simulator, with virtual time, a seeded RNG
//! and fault-injecting network and disk models; and the `pangea` binary, with tokio timers, QUIC
//! streams and a redb file. Given the same inputs in the same order, a node here does the same thing,
//! bit for bit; that is what lets a failing seed be replayed on a laptop.
//!
//! Messages cross the boundary as bytes in both worlds through the versioned [`codec`], which refuses
//! malformed input with a typed error and never panics.
//!
//! A node is composed of subsystems ([`compose`]): membership and health, the replicated [`log`] of
//! the node's [`metadata`], and more to come, each a [`Node`] of its own, wrapped by
//! [`PangeaNode`]. What a handler asks for is recorded as values in one [`Effects`] buffer that
//! every runtime carries out.

pub mod ces;
pub mod codec;
pub mod compose;
pub mod dht;
pub mod effects;
pub mod events;
pub mod family;
pub mod firewall;
pub mod graph;
pub mod health;
pub mod id;
pub mod log;
pub mod membership;
pub mod metadata;
pub mod node;
pub mod objects;
pub mod pangea;
pub mod random;
/// A topological scheduler over a DAG of tasks, O(V + E) a run.
pub mod sched;
pub mod storage;
pub mod time;

#[cfg(test)]
mod testing;

pub use codec::{Codec, CodecError, EncodeError};
pub use compose::Scoped;
pub use effects::{Effect, Effects, Emitted, TimerTable};
pub use health::Health;
pub use id::NodeId;
pub use node::{CarryOut, Context, HandlerContext, Host, Node, RequestId, TimerId, TraceEvent};
pub use pangea::{PangeaConfig, PangeaConfigError, PangeaNode};
pub use storage::{MemoryStorage, Storage, StorageError, WriteBatch};
pub use time::{Duration, Instant, WallTime};

/// The random number generator trait the context hands out (re-exported so that node code and
/// runtimes agree on one version of it).
pub use rand_core::Rng;

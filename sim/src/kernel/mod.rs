//! The kernel: virtual time, the event queue, the virtual nodes, and the simulated [`Context`].
//!
//! Events are ordered by (virtual time, arrival time, sequence number); the sequence number is
//! assigned when an event is scheduled, so simultaneous events run in the order they were caused,
//! never in an order that depends on memory addresses. A node's handler runs to completion at the
//! event's instant; the disk time it spends (syncs) and a slow node's extra time keep it busy, and
//! inputs that arrive meanwhile (or while it is paused) wait until it is free. Waiting inputs keep
//! their arrival time, so a node handles its inputs in the order they arrived. Effects — sends,
//! timers, replies, trace events — are collected as values while the handler runs and carried out
//! afterwards, in order.
//!
//! The files, by concept:
//! - `config`: how a run is set up ([`SimConfig`]);
//! - `outcome`: what a run reports besides its trace ([`SimStats`], [`Reply`], [`SimViolation`],
//!   [`SimError`]);
//! - `queue`: the event queue's entries and their order;
//! - `node`: a virtual node as the kernel keeps it, and the index from node ids to nodes;
//! - `host`: the simulated world a node's handler sees;
//! - `sim`: [`Sim`], its construction, getters and driving;
//! - `dispatch`: how an event reaches its node, runs its handler, and what its effects do;
//! - `faults`: how faults apply: partitions, crashes, restarts, pauses, crash-after-sync, and the
//!   tracking of who cannot hear whom.
//!
//! [`Context`]: pangea_core::Context

mod config;
mod dispatch;
mod faults;
mod host;
mod node;
mod outcome;
mod queue;
mod sim;

pub use config::{EVENTS_MAX_DEFAULT, SimConfig};
pub use node::NodeStatus;
pub use outcome::{Reply, SimError, SimStats, SimViolation, SimViolationKind, VIOLATIONS_MAX};
pub use sim::Sim;

/// The wall clock's reading at virtual time zero: 2026-01-01T00:00:00Z.
pub const WALL_CLOCK_ORIGIN_UNIX_SECONDS: i128 = 1_767_225_600;

/// The sender index trace records give a client.
pub const CLIENT: u32 = u32::MAX;

//! Pangea's deterministic simulation kernel.
//!
//! One seed determines a run completely. The kernel keeps an event queue ordered by (virtual time,
//! sequence number), runs many virtual nodes — each a `pangea-core` [`Node`](pangea_core::Node)
//! driven through a simulated [`Context`](pangea_core::Context) — and injects the faults of the
//! [`FaultPlan`]: lossy, slow, duplicating, reordering and corrupting links; partitions of every
//! shape; crashes, restarts, pauses and slow nodes; disks that lose unsynced writes, tear the last
//! write, rot, fill up and sync slowly; skewed and jumping wall clocks; and `buggify` fault points.
//!
//! Every message passes through the real codec as bytes. Every run leaves a [`Trace`] whose hash
//! fingerprints it: the same seed must give the same hash, which the scenario tests check.
//!
//! Nothing here reads a clock, the OS's randomness, the environment or a thread id (see
//! `clippy.toml`); all randomness flows from the seed through named [`SeedStreams`].

pub mod coverage;
pub mod disk;
pub mod kernel;
pub mod network;
pub mod plan;
pub mod rng;
pub mod trace;

pub use coverage::Coverage;
pub use disk::{ArmedFault, SimDisk};
pub use kernel::{NodeStatus, Reply, Sim, SimConfig, SimStats, SimViolation, SimViolationKind};
pub use plan::{
    DiskFaults, Fault, FaultKind, FaultPlan, FaultPlanError, Latency, LinkLatency, NetworkFaults, Partition,
    SwarmProfile, TimedFault,
};
pub use rng::{Choices, Recorded, SeedStreams, SimRng, Span, TAPE_DRAWS_MAX};
pub use trace::{Trace, TraceHash, TraceKind, TraceRecord};

//! Pangea's scenarios: workloads, fault plans and checkers run on the simulator, the registry that
//! names them, seed sweeps, and the `pangea-sim` command line.
//!
//! A scenario takes a seed and returns a [`RunReport`]: pass or fail, the checker and the violations
//! it saw (what, at which virtual time, on which node), the fault plan, the trace hash that
//! fingerprints the run, and the one command that replays it.

pub mod health;
pub mod linearizability;
pub mod log;
pub mod registry;
pub mod report;
pub mod seeds;
pub mod sweep;

pub use registry::{Scenario, find, scenarios};
pub use report::{FailureKind, Outcome, RunOptions, RunReport, Violation};
pub use seeds::SeedRange;
pub use sweep::{SweepReport, determinism_check, run_guarded, sweep};

//! Pangea's scenarios: workloads, fault plans and checkers run on the simulator, the registry that
//! names them, and the harness around them: seed sweeps, replay files, shrinking, trace export,
//! coverage summaries, and the `pangea-sim` command line ([`cli`], for any registry of scenarios).
//!
//! A scenario takes a seed and returns a [`RunReport`]: pass or fail, the checker and the violations
//! it saw (what, at which virtual time, on which node), the fault plan, the trace hash that
//! fingerprints the run, and the one command that replays it.
//!
//! In `cargo test`, [`check()`] runs a short sweep of a scenario and fails the test with the report
//! of the first failing seed and the command that replays it:
//!
//! ```no_run
//! pangea_scenarios::check("health").seeds(0..200).run();
//! ```
//!
//! A crate with scenarios of its own fills a [`Registry`] and checks them with [`check_in`]; its
//! histories can be checked for linearizability against a [`SequentialModel`] of its own with
//! [`check_model`]. [`history_file`] reads histories recorded elsewhere (Jepsen's EDN, porcupine's
//! logs, Pangea's JSONL) and checks them the same way (`pangea-sim check-history`).

pub mod check;
pub mod cli;
pub mod coverage;
pub mod dht;
pub mod error;
pub mod events;
pub mod export;
pub mod filter;
pub mod graph;
pub mod health;
pub mod history_file;
pub mod kit;
pub mod linearizability;
pub mod log;
pub mod model;
pub mod objects;
pub mod registry;
pub mod replay;
pub mod report;
pub mod results;
pub mod seeds;
pub mod shrink;
pub mod sweep;
#[cfg(test)]
mod test_scenario;

pub use check::{Check, CheckError, check, check_in, check_scenario};
pub use coverage::CoverageSummary;
pub use error::{DeterminismError, ScenarioError};
pub use export::{ExportError, TraceFormat, export};
pub use filter::{FaultFilter, FilterError};
pub use model::{Ended, ModelOp, ModelVerdict, SearchBound, SequentialModel, check_model};
pub use registry::{
    Registry, RegistryError, Scenario, WorkloadKnobs, builtin_registry, checked_nodes, find, plan_of, planted_bug,
    scenarios,
};
pub use replay::{ReplayError, ReplayFile, ReplayVerdict};
pub use report::{FailureKind, Outcome, ReplayProgram, RunOptions, RunReport, Violation};
pub use results::{SeedResult, SweepSummary};
pub use seeds::{SeedRange, Shard, ShardError};
pub use shrink::{ShrinkError, ShrinkOptions, ShrinkOutcome, shrink};
pub use sweep::{SweepOptions, SweepReport, determinism_check, resolve_options, run_guarded, sweep, sweep_with};

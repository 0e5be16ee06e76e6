//! The scenarios `pangea-sim` and the tests know by name.

use crate::report::{RunOptions, RunReport};
use pangea_sim::FaultPlan;

/// The workload knobs a scenario honours, each with its default. `None` means the scenario has no
/// such knob and refuses [`RunOptions::clients`] / [`RunOptions::operations`]; shrinking lowers the
/// knobs a scenario honours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadKnobs {
    /// Default number of clients, if the scenario runs clients.
    pub clients: Option<u32>,
    /// Default number of client operations, if the scenario counts them.
    pub operations: Option<u64>,
}

/// A named, seeded test of the system under faults.
///
/// A scenario must honour [`RunOptions::plan`] (a pinned plan replaces the seed's draw) and
/// [`RunOptions::nodes`] within [`Scenario::nodes_range`]: replay and shrinking rely on both.
pub trait Scenario: Sync {
    /// The name used on the command line.
    fn name(&self) -> &'static str;
    /// One line: what it exercises and what it checks.
    fn description(&self) -> &'static str;
    /// Nodes simulated unless `--nodes` says otherwise.
    fn default_nodes(&self) -> u32;
    /// The smallest and largest node counts it supports.
    fn nodes_range(&self) -> (u32, u32);
    /// One line on the faults it injects by default.
    fn faults(&self) -> &'static str;
    /// The fault plan seed `seed` draws for `nodes` nodes (what `run` uses unless a plan is pinned).
    fn plan(&self, seed: u64, nodes: u32) -> FaultPlan;
    /// Names of bugs that can be planted in it (empty unless built with `planted-bugs`).
    fn planted_bugs(&self) -> Vec<&'static str>;
    /// Runs one seed. Panics in node code propagate; [`crate::run_guarded`] turns them into a report.
    ///
    /// # Errors
    /// Invalid options (node count out of range, unknown planted bug).
    fn run(&self, options: &RunOptions) -> Result<RunReport, String>;
    /// The workload knobs it honours (`--clients`, `--operations`), with their defaults. None by
    /// default.
    fn workload_knobs(&self) -> WorkloadKnobs {
        WorkloadKnobs::default()
    }
}

/// Every scenario, in the order `pangea-sim list` shows them.
#[must_use]
pub fn scenarios() -> Vec<&'static dyn Scenario> {
    let mut all: Vec<&'static dyn Scenario> = vec![&crate::health::HealthScenario];
    all.extend(crate::log::LOG_SCENARIOS.iter().map(|scenario| scenario as &'static dyn Scenario));
    all
}

/// The scenario called `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    scenarios().into_iter().find(|scenario| scenario.name() == name)
}

//! The scenarios `pangea-sim` and the tests know by name.

use crate::error::ScenarioError;
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
    fn run(&self, options: &RunOptions) -> Result<RunReport, ScenarioError>;
    /// The workload knobs it honours (`--clients`, `--operations`), with their defaults. None by
    /// default.
    fn workload_knobs(&self) -> WorkloadKnobs {
        WorkloadKnobs::default()
    }

    /// The coverage probes its nodes can reach (the subsystems' tables, e.g.
    /// `pangea_core::log::names::probes::ALL`): a sweep reports those that never held. None by
    /// default.
    fn probes(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The buggify sites its nodes can reach: a sweep reports those that never fired. None by
    /// default.
    fn buggify_sites(&self) -> Vec<&'static str> {
        Vec::new()
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

/// The node count `options` ask of `scenario` (its default if none), checked against its range.
///
/// # Errors
/// A count outside [`Scenario::nodes_range`].
pub fn checked_nodes(scenario: &dyn Scenario, options: &RunOptions) -> Result<u32, ScenarioError> {
    let nodes = options.nodes.unwrap_or(scenario.default_nodes());
    let (least, most) = scenario.nodes_range();
    if (least..=most).contains(&nodes) {
        Ok(nodes)
    } else {
        Err(ScenarioError::NodeCount { scenario: scenario.name().to_owned(), least, most, nodes })
    }
}

/// The fault plan of a run of `nodes` nodes: the pinned one in `options`, checked, or the seed's
/// draw.
///
/// # Errors
/// A pinned plan that cannot run with `nodes` nodes.
pub fn plan_of(scenario: &dyn Scenario, options: &RunOptions, nodes: u32) -> Result<FaultPlan, ScenarioError> {
    match &options.plan {
        Some(plan) => {
            plan.validate(nodes)?;
            Ok(plan.clone())
        }
        None => Ok(scenario.plan(options.seed, nodes)),
    }
}

/// The planted bug called `name` in `table` (a subsystem's table of bugs and their names), for
/// `scenario`.
///
/// # Errors
/// An unknown name, or any name in a build without the `planted-bugs` feature.
pub fn planted_bug<B: Copy>(scenario: &str, name: &str, table: &[(B, &'static str)]) -> Result<B, ScenarioError> {
    if !cfg!(feature = "planted-bugs") {
        return Err(ScenarioError::PlantingNotBuilt { bug: name.to_owned() });
    }
    table.iter().find(|(_, known)| *known == name).map(|(bug, _)| *bug).ok_or_else(|| ScenarioError::UnknownBug {
        scenario: scenario.to_owned(),
        bug: name.to_owned(),
        known: table.iter().map(|(_, known)| *known).collect::<Vec<_>>().join(", "),
    })
}

/// The names of a table of planted bugs, in a build that can plant them (else none).
#[must_use]
pub fn bug_names<B>(table: &[(B, &'static str)]) -> Vec<&'static str> {
    if cfg!(feature = "planted-bugs") { table.iter().map(|(_, name)| *name).collect() } else { Vec::new() }
}

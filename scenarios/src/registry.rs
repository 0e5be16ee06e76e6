//! Scenarios by name: the [`Scenario`] trait, and the [`Registry`] that names a set of them — the
//! built-in ones ([`builtin_registry`]) or a user crate's own, filled with its scenarios.

use crate::error::ScenarioError;
use crate::report::{ReplayProgram, RunOptions, RunReport};
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

    /// The program whose command line replays, shrinks and draws its runs: the commands a report
    /// prints name it. `pangea-sim` by default; a crate with scenarios of its own returns its
    /// package and the binary whose `main` calls [`crate::cli::main`] with a registry holding this
    /// scenario.
    fn program(&self) -> ReplayProgram {
        ReplayProgram::PANGEA_SIM
    }
}

/// Why a scenario could not join a registry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Another scenario of the registry has the name.
    #[error("a scenario named '{0}' is already registered")]
    DuplicateName(String),
    /// The name cannot be typed on a command line or stored in a replay file as it is.
    #[error("scenario name '{0}' is not lowercase letters, digits and dashes")]
    BadName(String),
}

/// A set of scenarios, each under its own name, in the order `list` shows them: what `check_in`,
/// replay files and a command line built on it find scenarios in.
///
/// Scenarios live as long as the program (`static` values, or `Box::leak` for one built at run
/// time), so that sweeps can hand them to worker threads.
#[derive(Clone, Default)]
pub struct Registry {
    scenarios: Vec<&'static dyn Scenario>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("scenarios", &self.names()).finish()
    }
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds `scenario` after those already there.
    ///
    /// # Errors
    /// Its name is taken, or is not lowercase letters, digits and dashes.
    pub fn add(&mut self, scenario: &'static dyn Scenario) -> Result<(), RegistryError> {
        let name = scenario.name();
        let well_formed = !name.is_empty()
            && !name.starts_with('-')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !well_formed {
            return Err(RegistryError::BadName(name.to_owned()));
        }
        if self.find(name).is_some() {
            return Err(RegistryError::DuplicateName(name.to_owned()));
        }
        self.scenarios.push(scenario);
        Ok(())
    }

    /// The registry with `scenario` added; see [`Registry::add`].
    ///
    /// # Errors
    /// As [`Registry::add`].
    pub fn with(mut self, scenario: &'static dyn Scenario) -> Result<Registry, RegistryError> {
        self.add(scenario)?;
        Ok(self)
    }

    /// Every scenario, in the order they were added.
    #[must_use]
    pub fn scenarios(&self) -> &[&'static dyn Scenario] {
        &self.scenarios
    }

    /// The scenario called `name`.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&'static dyn Scenario> {
        self.scenarios.iter().copied().find(|scenario| scenario.name() == name)
    }

    /// The names, comma-separated (for messages about an unknown one).
    #[must_use]
    pub fn names(&self) -> String {
        self.scenarios.iter().map(|scenario| scenario.name()).collect::<Vec<_>>().join(", ")
    }
}

/// Pangea's own scenarios: `health` and the `log-*` family, in the order `pangea-sim list` shows
/// them.
#[must_use]
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    let builtin = std::iter::once(&crate::health::HEALTH as &'static dyn Scenario)
        .chain(crate::log::LOG_SCENARIOS.iter().map(|scenario| *scenario as &'static dyn Scenario))
        .chain(crate::objects::OBJECTS_SCENARIOS.iter().map(|scenario| *scenario as &'static dyn Scenario))
        .chain(crate::dht::scenarios())
        .chain([&crate::graph::GRAPH_SWARM as &'static dyn Scenario, &crate::events::EVENTS_SWARM]);
    for scenario in builtin {
        // The built-in names are distinct and well formed (the registry's tests check it).
        let _ = registry.add(scenario);
    }
    registry
}

/// The built-in registry, built once.
fn builtin() -> &'static Registry {
    static BUILTIN: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    BUILTIN.get_or_init(builtin_registry)
}

/// Every built-in scenario, in the order `pangea-sim list` shows them.
#[must_use]
pub fn scenarios() -> Vec<&'static dyn Scenario> {
    builtin().scenarios().to_vec()
}

/// The built-in scenario called `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    builtin().find(name)
}

/// The built-in registry, shared (what [`crate::check()`] and replay files look names up in).
#[must_use]
pub fn builtin_shared() -> &'static Registry {
    builtin()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_are_distinct_and_well_formed() {
        let builtin = builtin_registry();
        let count = 1 + crate::log::LOG_SCENARIOS.len() + crate::objects::OBJECTS_SCENARIOS.len() + 3 + 2;
        assert_eq!(builtin.scenarios().len(), count, "every built-in joined");
        let mut again = Registry::new();
        for scenario in builtin.scenarios() {
            again.add(*scenario).unwrap();
        }
        assert_eq!(again.names(), builtin.names());
    }

    #[test]
    fn a_taken_or_malformed_name_is_refused() {
        let health: &'static dyn Scenario = &crate::health::HEALTH;
        let mut registry = Registry::new().with(health).unwrap();
        assert_eq!(registry.add(health), Err(RegistryError::DuplicateName("health".to_owned())));
        assert_eq!(registry.find("health").map(|scenario| scenario.name()), Some("health"));
        assert!(registry.find("log-swarm").is_none(), "a registry holds what it was given only");

        for bad in ["", "Upper", "has space", "-dash", "dot.ted"] {
            let run = |_: &RunOptions| Err(ScenarioError::PlantingNotBuilt { bug: String::new() });
            let scenario: &'static dyn Scenario =
                Box::leak(Box::new(crate::test_scenario::TestScenario::new(bad, run)));
            assert_eq!(registry.add(scenario), Err(RegistryError::BadName(bad.to_owned())), "{bad:?}");
        }
        assert_eq!(registry.names(), "health");
    }
}

//! Scenario sweeps as cargo tests.
//!
//! ```no_run
//! #[test]
//! fn health_passes_a_short_sweep() {
//!     pangea_scenarios::check("health").seeds(0..200).run();
//! }
//! ```
//!
//! A failing seed fails the test with its full report (checker, what it saw, when, on which node,
//! the faults in force) and the command that replays it. Environment variables narrow or widen the
//! sweep without editing the test:
//!
//! - `PANGEA_SEED=17` runs only seed 17;
//! - `PANGEA_SEEDS=0..5000` runs that range instead of the test's own;
//! - `PANGEA_JOBS=4` sets the worker threads (default: the number of cores).
//!
//! Each test is an ordinary `#[test]`, so it runs under `cargo nextest` and is split by its
//! `--partition` like any other test.
//!
//! [`check()`] finds built-in scenarios; a crate with its own checks one of its [`Registry`] with
//! [`check_in`], or a scenario value with [`check_scenario`].

use crate::error::{DeterminismError, ScenarioError};
use crate::filter::FaultFilter;
use crate::filter::FilterError;
use crate::registry::{Registry, Scenario, builtin_shared};
use crate::report::RunOptions;
use crate::seeds::SeedRange;
use crate::sweep::{SweepOptions, SweepReport, determinism_check, sweep_with};
use thiserror::Error;

/// Why a check did not pass.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CheckError {
    /// No scenario of that name.
    #[error("unknown scenario '{name}' (known: {known})")]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The names this build knows.
        known: String,
    },
    /// An environment variable that cannot be parsed.
    #[error("{variable}={value}: {problem}")]
    Environment {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// Options the scenario refuses.
    #[error(transparent)]
    Options(#[from] ScenarioError),
    /// A `faults` filter that does not parse.
    #[error(transparent)]
    Faults(#[from] FilterError),
    /// An empty or malformed seed range.
    #[error("{0}")]
    Seeds(String),
    /// Seeds failed; the message holds the first failure's report and replay command.
    #[error("{0}")]
    Failed(String),
    /// A seed gave two different runs.
    #[error(transparent)]
    NotDeterministic(DeterminismError),
}

/// A sweep of one scenario to run as a test; see the module documentation.
#[derive(Clone)]
#[must_use = "a check does nothing until .run()"]
pub struct Check {
    /// The scenario, or why there is none (reported by the run).
    scenario: Result<&'static dyn Scenario, CheckError>,
    seeds: std::ops::Range<u64>,
    options: RunOptions,
    faults: Option<String>,
    jobs: Option<usize>,
    determinism_seeds: u64,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("scenario", &self.scenario.as_ref().map(|scenario| scenario.name()))
            .field("seeds", &self.seeds)
            .field("options", &self.options)
            .field("faults", &self.faults)
            .field("jobs", &self.jobs)
            .field("determinism_seeds", &self.determinism_seeds)
            .finish()
    }
}

/// A check of the built-in scenario called `scenario`, over seeds `0..100` unless told otherwise.
pub fn check(scenario: &str) -> Check {
    check_in(builtin_shared(), scenario)
}

/// A check of the scenario called `scenario` in `registry` (a crate's own scenarios).
pub fn check_in(registry: &Registry, scenario: &str) -> Check {
    let found = registry
        .find(scenario)
        .ok_or_else(|| CheckError::UnknownScenario { name: scenario.to_owned(), known: registry.names() });
    new_check(found)
}

/// A check of `scenario` itself, registered anywhere or nowhere.
pub fn check_scenario(scenario: &'static dyn Scenario) -> Check {
    new_check(Ok(scenario))
}

fn new_check(scenario: Result<&'static dyn Scenario, CheckError>) -> Check {
    Check { scenario, seeds: 0..100, options: RunOptions::default(), faults: None, jobs: None, determinism_seeds: 0 }
}

fn environment<T: std::str::FromStr>(variable: &'static str) -> Result<Option<T>, CheckError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(variable) {
        Err(_) => Ok(None),
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => value.trim().parse::<T>().map(Some).map_err(|error| CheckError::Environment {
            variable,
            problem: error.to_string(),
            value,
        }),
    }
}

impl Check {
    /// The seeds to run (end excluded).
    pub fn seeds(mut self, seeds: std::ops::Range<u64>) -> Check {
        self.seeds = seeds;
        self
    }

    /// Nodes per run.
    pub fn nodes(mut self, nodes: u32) -> Check {
        self.options.nodes = Some(nodes);
        self
    }

    /// Switch on a planted bug (builds with the `planted-bugs` feature only).
    pub fn plant(mut self, bug: &str) -> Check {
        self.options.planted = Some(bug.to_owned());
        self
    }

    /// Keep only these kinds of fault, as `--faults` takes them (`crash,partition`, `none`).
    pub fn faults(mut self, faults: &str) -> Check {
        self.faults = Some(faults.to_owned());
        self
    }

    /// Clients per run (scenarios with clients only).
    pub fn clients(mut self, clients: u32) -> Check {
        self.options.clients = Some(clients);
        self
    }

    /// Operations per run (scenarios that count operations only).
    pub fn operations(mut self, operations: u64) -> Check {
        self.options.operations = Some(operations);
        self
    }

    /// Worker threads (default: `PANGEA_JOBS`, else the number of cores).
    pub fn jobs(mut self, jobs: usize) -> Check {
        self.jobs = Some(jobs);
        self
    }

    /// Also run the first `seeds` seeds twice and require the same trace hash and outcome.
    pub fn determinism(mut self, seeds: u64) -> Check {
        self.determinism_seeds = seeds;
        self
    }

    /// Runs the sweep; panics (failing the test) with the first failure's report and the command that
    /// replays it.
    ///
    /// # Panics
    /// On any failure; see [`Check::try_run`].
    #[track_caller]
    pub fn run(self) -> SweepReport {
        match self.try_run() {
            Ok(report) => report,
            Err(error) => panic!("{error}"),
        }
    }

    /// Runs the sweep and returns what it found.
    ///
    /// # Errors
    /// Unknown scenario, bad environment or options, failing seeds, non-determinism.
    pub fn try_run(self) -> Result<SweepReport, CheckError> {
        let scenario = self.scenario()?;
        let seeds = self.seed_list()?;
        let mut template = self.options.clone();
        if let Some(faults) = &self.faults {
            template.faults = Some(faults.parse::<FaultFilter>()?);
        }
        let jobs = match self.jobs {
            Some(jobs) => jobs,
            None => environment::<usize>("PANGEA_JOBS")?
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        };
        let options = SweepOptions { jobs, template: template.clone(), fail_fast: false, keep_passing: false };
        let report = sweep_with(scenario, &seeds, &options, &|_, _, _| {})?;
        if report.failed > 0 {
            return Err(CheckError::Failed(self.describe_failures(&report, seeds.len())));
        }
        for &seed in seeds.iter().take(usize::try_from(self.determinism_seeds).unwrap_or(usize::MAX)) {
            determinism_check(scenario, &RunOptions { seed, ..template.clone() })
                .map_err(CheckError::NotDeterministic)?;
        }
        Ok(report)
    }

    fn scenario(&self) -> Result<&'static dyn Scenario, CheckError> {
        self.scenario.clone()
    }

    /// The seeds to run: `PANGEA_SEED`, else `PANGEA_SEEDS`, else the test's own range.
    fn seed_list(&self) -> Result<Vec<u64>, CheckError> {
        if let Some(seed) = environment::<u64>("PANGEA_SEED")? {
            return Ok(vec![seed]);
        }
        let range = match environment::<SeedRange>("PANGEA_SEEDS")? {
            Some(range) => range,
            None => SeedRange::try_from(self.seeds.clone()).map_err(CheckError::Seeds)?,
        };
        Ok(range.iter().collect())
    }

    fn describe_failures(&self, report: &SweepReport, seeds: usize) -> String {
        let first = &report.reports[0];
        let name = self.scenario.as_ref().map_or("?", |scenario| scenario.name());
        let mut text = format!("{name}: {} of {seeds} seeds failed. The first:\n\n{}", report.failed, first.render());
        let others: Vec<String> =
            report.reports.iter().skip(1).take(20).map(|report| report.seed.to_string()).collect();
        if !others.is_empty() {
            let more = if report.failed > 21 { ", ..." } else { "" };
            text.push_str(&format!("\nother failing seeds: {}{more}\n", others.join(", ")));
        }
        if let Some(rerun) = rerun_command(first.seed, first.planted.is_some()) {
            text.push_str(&format!("\nthis test on that seed alone: {rerun}\n"));
        }
        text
    }
}

/// `PANGEA_SEED=N cargo test -p PACKAGE --test TARGET -- TEST --exact`, as far as the test process
/// can tell its own package, target and name.
fn rerun_command(seed: u64, planted: bool) -> Option<String> {
    let package = std::env::var("CARGO_PKG_NAME").ok()?;
    let thread = std::thread::current();
    let test = thread.name().filter(|name| *name != "main")?;
    let executable = std::env::args().next()?;
    let stem = std::path::Path::new(&executable).file_stem()?.to_str()?.to_owned();
    // Cargo names test executables `TARGET-HASH`.
    let target = stem.rsplit_once('-').map_or(stem.as_str(), |(target, _)| target);
    let test_target = if target == package.replace('-', "_") { "--lib".to_owned() } else { format!("--test {target}") };
    let features = if planted { " --features planted-bugs" } else { "" };
    Some(format!("PANGEA_SEED={seed} cargo test -p {package}{features} {test_target} -- {test} --exact"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_check_passes_and_bad_input_is_an_error() {
        let report = check("health").seeds(0..6).nodes(3).jobs(2).determinism(2).run();
        assert_eq!(report.runs, 6);
        assert_eq!(report.summary.runs, 6);
        assert!(matches!(check("no-such").seeds(0..1).try_run(), Err(CheckError::UnknownScenario { .. })));
        assert!(matches!(check("health").seeds(5..5).try_run(), Err(CheckError::Seeds(_))));
        assert!(matches!(check("health").seeds(0..1).faults("bogus").try_run(), Err(CheckError::Faults(_))));
        assert!(matches!(
            check("health").seeds(0..1).clients(3).try_run(),
            Err(CheckError::Options(ScenarioError::NoClients { .. }))
        ));
        let calm = check("health").seeds(0..4).faults("none").jobs(1).run();
        let timed = crate::coverage::TIMED_FAULT_KINDS;
        assert!(calm.summary.faults.keys().all(|kind| !timed.contains(&kind.as_str())), "{:?}", calm.summary.faults);
        assert!(calm.summary.standing.is_empty(), "{:?}", calm.summary.standing);
    }

    #[test]
    fn a_crate_checks_the_scenarios_of_its_own_registry() {
        let health = crate::find("health").unwrap();
        let own = Registry::new().with(health).unwrap();
        assert_eq!(check_in(&own, "health").seeds(0..3).nodes(3).jobs(1).run().runs, 3);
        match check_in(&own, "log-swarm").seeds(0..1).try_run() {
            Err(CheckError::UnknownScenario { name, known }) => {
                assert_eq!((name.as_str(), known.as_str()), ("log-swarm", "health"))
            }
            other => panic!("a name outside the registry: {other:?}"),
        }
        assert_eq!(check_scenario(health).seeds(0..2).nodes(3).jobs(1).run().runs, 2);
    }
}

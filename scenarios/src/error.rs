//! Why a scenario cannot run with the options given: typed, so callers (the CLI, `check()`,
//! replay, shrinking) can tell a usage error from a failing run, with messages that say what was
//! asked and what is allowed.

use thiserror::Error;

/// Options a scenario refuses. Nothing was run.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ScenarioError {
    /// A node count outside the scenario's range.
    #[error("{scenario} runs with {least} to {most} nodes, not {nodes}")]
    NodeCount {
        /// The scenario.
        scenario: String,
        /// The fewest nodes it runs with.
        least: u32,
        /// The most.
        most: u32,
        /// What was asked.
        nodes: u32,
    },
    /// A client count outside what the scenario's workload takes.
    #[error("{scenario} runs with 1 to {most} clients, not {clients}")]
    ClientCount {
        /// The scenario.
        scenario: String,
        /// The most clients.
        most: u32,
        /// What was asked.
        clients: u32,
    },
    /// `--clients` for a scenario without clients.
    #[error("{scenario} has no clients to set (it ignores --clients)")]
    NoClients {
        /// The scenario.
        scenario: String,
    },
    /// `--operations` for a scenario that counts none.
    #[error("{scenario} counts no operations (it ignores --operations)")]
    NoOperations {
        /// The scenario.
        scenario: String,
    },
    /// A planted bug the scenario does not know.
    #[error("unknown planted bug '{bug}' for {scenario} (known: {known})")]
    UnknownBug {
        /// The scenario.
        scenario: String,
        /// What was asked.
        bug: String,
        /// The bugs it knows, comma-separated.
        known: String,
    },
    /// A planted bug in a build without the `planted-bugs` feature.
    #[error("no bugs can be planted in this build (asked for '{bug}'); build with --features planted-bugs")]
    PlantingNotBuilt {
        /// What was asked.
        bug: String,
    },
    /// A pinned fault plan that cannot run with this many nodes.
    #[error("the fault plan cannot run: {0}")]
    Plan(#[from] pangea_sim::FaultPlanError),
    /// The scenario's node configuration is invalid (a bug in the scenario).
    #[error("the scenario's node configuration cannot work: {0}")]
    Config(String),
}

/// A seed that did not run the same twice.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DeterminismError {
    /// The options were refused.
    #[error(transparent)]
    Options(#[from] ScenarioError),
    /// The two runs left different traces.
    #[error(
        "{scenario} seed {seed} is not deterministic: trace {first} ({first_records} records) then {second} ({second_records} records){}",
        first_difference.as_ref().map(|difference| format!("\n{difference}")).unwrap_or_default()
    )]
    Diverged {
        /// The scenario.
        scenario: String,
        /// The seed.
        seed: u64,
        /// The first run's trace hash.
        first: String,
        /// Its trace records.
        first_records: u64,
        /// The second run's trace hash.
        second: String,
        /// Its trace records.
        second_records: u64,
        /// The first trace record where two more runs, with their traces kept, differ (virtual
        /// time, node, both versions); `None` if those two agreed.
        first_difference: Option<String>,
    },
    /// The same trace, judged differently.
    #[error("{scenario} seed {seed}: same trace, different outcomes")]
    OutcomesDiffer {
        /// The scenario.
        scenario: String,
        /// The seed.
        seed: u64,
    },
}

//! The arguments of each subcommand, and the [`Selection`] of a run that most of them share.

use super::error::CliError;
use crate::{FaultFilter, RunOptions, SeedRange, Shard, ShrinkOptions, TraceFormat};
use clap::Args;
use std::path::PathBuf;

/// What selects a run beyond its scenario and seed.
#[derive(Args, Clone, Default)]
pub(super) struct Selection {
    /// Number of nodes (default: the scenario's).
    #[arg(long)]
    pub nodes: Option<u32>,
    /// Switch on a planted bug (builds with `--features planted-bugs` only; `list` names them).
    #[arg(long, value_name = "BUG")]
    pub plant: Option<String>,
    /// Run under this fault plan (JSON, as `pangea-sim plan` prints it) instead of the one the seed
    /// draws. Edit a printed plan to pin or remove faults.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[arg(long, value_name = "KINDS", conflicts_with = "plan", help = "Keep only these kinds of fault (see --help)", long_help = FaultFilter::help())]
    pub faults: Option<FaultFilter>,
    /// Number of clients (scenarios with clients only; `list` shows which).
    #[arg(long)]
    pub clients: Option<u32>,
    /// Number of client operations (scenarios that count operations only).
    #[arg(long)]
    pub operations: Option<u64>,
}

impl Selection {
    /// True when nothing beyond the scenario and seed was asked for (a replay file pins it all).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_none()
            && self.plant.is_none()
            && self.plan.is_none()
            && self.faults.is_none()
            && self.clients.is_none()
            && self.operations.is_none()
    }

    /// The options of seed `seed`, with the fault plan read from `--plan` if given.
    pub fn options(&self, seed: u64) -> Result<RunOptions, CliError> {
        let (plan, plan_source) = match &self.plan {
            None => (None, None),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| CliError::PlanUnreadable { path: path.clone(), source })?;
                let plan: pangea_sim::FaultPlan =
                    serde_json::from_str(&text).map_err(|source| CliError::NotAPlan { path: path.clone(), source })?;
                (Some(plan), Some(path.display().to_string()))
            }
        };
        Ok(RunOptions {
            seed,
            nodes: self.nodes,
            plan,
            plan_source,
            planted: self.plant.clone(),
            faults: self.faults.clone(),
            clients: self.clients,
            operations: self.operations,
            ..RunOptions::default()
        })
    }
}

/// The arguments of `pangea-sim determinism`.
#[derive(Args)]
pub(super) struct DeterminismArgs {
    /// Scenario names (see `pangea-sim list`).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub scenarios: Vec<String>,
    /// Check every scenario.
    #[arg(long)]
    pub all: bool,
    /// Seeds: `A..B` (B excluded), `A..=B`, or one seed.
    #[arg(long, value_name = "RANGE", default_value = "0..20")]
    pub seeds: SeedRange,
    #[command(flatten)]
    pub selection: Selection,
}

/// The arguments of `pangea-sim run`.
#[derive(Args)]
pub(super) struct RunArgs {
    /// Scenario name (see `pangea-sim list`).
    pub scenario: String,
    /// The seed that determines the run.
    #[arg(long)]
    pub seed: u64,
    #[command(flatten)]
    pub selection: Selection,
    /// Print every trace record before the report.
    #[arg(long)]
    pub trace: bool,
    /// Save the run as a replay file (for `replay`, `shrink` and `trace`).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
}

/// The arguments of `pangea-sim plan`.
#[derive(Args)]
pub(super) struct PlanArgs {
    /// Scenario name (see `pangea-sim list`).
    pub scenario: String,
    /// The seed.
    #[arg(long)]
    pub seed: u64,
    /// Number of nodes (default: the scenario's).
    #[arg(long)]
    pub nodes: Option<u32>,
    #[arg(long, value_name = "KINDS", help = "Keep only these kinds of fault (see --help)", long_help = FaultFilter::help())]
    pub faults: Option<FaultFilter>,
}

/// The arguments of `pangea-sim sweep`.
#[derive(Args)]
pub(super) struct SweepArgs {
    /// Scenario names (see `pangea-sim list`).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub scenarios: Vec<String>,
    /// Sweep every scenario.
    #[arg(long)]
    pub all: bool,
    /// Seeds: `A..B` (B excluded), `A..=B`, or one seed.
    #[arg(long, value_name = "RANGE")]
    pub seeds: SeedRange,
    /// Run only shard I of N of the seeds (1-based, interleaved): `--shard 2/4`. N machines with
    /// shards 1/N..N/N together run every seed once.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Worker threads (default: the number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub selection: Selection,
    /// Start no new seed after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Print only failures and the summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not draw the progress bar (it is drawn on standard error, and only on a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Write every seed's result, and the coverage, as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the results as JUnit XML (a test case per seed).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Save a replay file for each failing seed in this folder.
    #[arg(long, value_name = "DIR")]
    pub save_failures: Option<PathBuf>,
}

/// The arguments of `pangea-sim replay`.
#[derive(Args)]
pub(super) struct ReplayArgs {
    /// A replay file (from `run --save`, `sweep --save-failures` or `shrink`), or, with --seed, a
    /// scenario name.
    pub target: String,
    /// Replay this seed of the scenario named by TARGET.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub selection: Selection,
    /// The trace hash the run must leave (hex; the 16 digits runs print are enough).
    #[arg(long, value_name = "HEX")]
    pub expect_hash: Option<String>,
    /// Print every trace record before the report.
    #[arg(long)]
    pub trace: bool,
}

/// The arguments of `pangea-sim shrink`.
#[derive(Args)]
pub(super) struct ShrinkArgs {
    /// A replay file, or, with --seed, a scenario name.
    pub target: String,
    /// Shrink this seed of the scenario named by TARGET.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub selection: Selection,
    /// Where to save the minimal run (default: pangea-sim-out/SCENARIO-seed-N.shrunk.json).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Most candidate runs to try.
    #[arg(long, default_value_t = ShrinkOptions::default().runs_max)]
    pub runs_max: u32,
    /// Most seconds to spend (0: no limit). The smallest failing run so far is saved after every
    /// step, so stopping early (or Ctrl-C) keeps it.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub time_max: u64,
    /// Do not draw the progress line (it is drawn on standard error, and only on a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// The arguments of `pangea-sim trace`.
#[derive(Args)]
pub(super) struct TraceArgs {
    /// A replay file, or, with --seed, a scenario name.
    pub target: String,
    /// Export this seed of the scenario named by TARGET.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub selection: Selection,
    /// chrome, html or jsonl.
    #[arg(long, short, default_value = "html")]
    pub format: TraceFormat,
    /// Where to write it (default: pangea-sim-out/SCENARIO-seed-N.EXT; `-` for standard output).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

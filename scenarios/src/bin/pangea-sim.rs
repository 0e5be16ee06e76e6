//! `pangea-sim`: list, run and sweep Pangea's simulation scenarios.
//!
//! Every run is determined by its scenario, seed and options; a failure prints the one command that
//! replays it exactly, and its trace hash, which the replay must reproduce.

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use pangea_scenarios::{RunOptions, RunReport, Scenario, SeedRange, find, run_guarded, scenarios, sweep};
use std::process::ExitCode;
use std::time::Instant as WallInstant;

/// Deterministic simulation of Pangea clusters under faults.
///
/// Each scenario runs a cluster of simulated nodes on virtual time, injects the faults its seed
/// draws (or that it pins), and checks properties as it goes. Exit codes: 0 pass, 1 correctness
/// failure, 2 usage error, 3 liveness failure, 4 crash (a panic or a runaway run).
#[derive(Parser)]
#[command(name = "pangea-sim", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every scenario with its description, default node count and faults.
    List,
    /// Run one seed of a scenario and print its outcome, fault plan and trace hash.
    Run {
        /// Scenario name (see `pangea-sim list`).
        scenario: String,
        /// The seed that determines the run.
        #[arg(long)]
        seed: u64,
        /// Number of nodes (default: the scenario's).
        #[arg(long)]
        nodes: Option<u32>,
        /// Switch on a planted bug (builds with `--features planted-bugs` only).
        #[arg(long, value_name = "BUG")]
        plant: Option<String>,
        /// Run under this fault plan (JSON, as `pangea-sim plan` prints it) instead of the one the seed
        /// draws. Edit a printed plan to pin or remove faults.
        #[arg(long, value_name = "FILE")]
        plan: Option<std::path::PathBuf>,
        /// Print every trace record after the report.
        #[arg(long)]
        trace: bool,
    },
    /// Print, as JSON, the fault plan a seed draws; `run --plan FILE` takes it back.
    Plan {
        /// Scenario name (see `pangea-sim list`).
        scenario: String,
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// Number of nodes (default: the scenario's).
        #[arg(long)]
        nodes: Option<u32>,
    },
    /// Run a range of seeds of a scenario, in parallel, one line per seed.
    Sweep {
        /// Scenario name (see `pangea-sim list`).
        scenario: String,
        /// Seeds: `A..B` (B excluded), `A..=B`, or one seed.
        #[arg(long, value_name = "RANGE")]
        seeds: SeedRange,
        /// Number of nodes (default: the scenario's).
        #[arg(long)]
        nodes: Option<u32>,
        /// Worker threads (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Switch on a planted bug (builds with `--features planted-bugs` only).
        #[arg(long, value_name = "BUG")]
        plant: Option<String>,
        /// Start no new seed after the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// Print only failures and the summary.
        #[arg(long, short)]
        quiet: bool,
    },
}

/// Writes one line to standard output; a closed pipe (`pangea-sim ... | head`) ends the program
/// quietly instead of panicking.
fn say_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {error}");
        std::process::exit(2);
    }
}

macro_rules! say {
    ($($argument:tt)*) => { say_line(format_args!($($argument)*)) };
}

fn scenario_named(name: &str) -> Result<&'static dyn Scenario> {
    find(name).with_context(|| {
        let known: Vec<&str> = scenarios().iter().map(|scenario| scenario.name()).collect();
        format!("unknown scenario '{name}' (known: {})", known.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn exit_for(reports: &[&RunReport]) -> ExitCode {
    // The most severe kind decides: crash, then correctness, then liveness.
    let kinds: Vec<_> = reports.iter().filter_map(|report| report.outcome.failure_kind()).collect();
    let code = [
        pangea_scenarios::FailureKind::Crash,
        pangea_scenarios::FailureKind::Correctness,
        pangea_scenarios::FailureKind::Liveness,
    ]
    .into_iter()
    .find(|kind| kinds.contains(kind))
    .map_or(0, pangea_scenarios::FailureKind::exit_code);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List => {
            say!("{:<10} {:>5}  description", "scenario", "nodes");
            for scenario in scenarios() {
                let (least, most) = scenario.nodes_range();
                say!("{:<10} {:>5}  {}", scenario.name(), scenario.default_nodes(), scenario.description());
                say!("{:<10} {:>5}  nodes {least}..={most}; faults: {}", "", "", scenario.faults());
                let bugs = scenario.planted_bugs();
                if !bugs.is_empty() {
                    say!("{:<10} {:>5}  plantable bugs: {}", "", "", bugs.join(", "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { scenario, seed, nodes } => {
            let scenario = scenario_named(&scenario)?;
            let nodes = nodes.unwrap_or(scenario.default_nodes());
            say!("{}", serde_json::to_string_pretty(&scenario.plan(seed, nodes))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { scenario, seed, nodes, plant, plan, trace } => {
            let scenario = scenario_named(&scenario)?;
            let (plan, plan_source) = match plan {
                None => (None, None),
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read the fault plan {}", path.display()))?;
                    let plan: pangea_sim::FaultPlan = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a fault plan", path.display()))?;
                    (Some(plan), Some(path.display().to_string()))
                }
            };
            let options = RunOptions { seed, nodes, plan, plan_source, keep_trace: trace, planted: plant };
            let started = WallInstant::now();
            let report = run_guarded(scenario, &options).map_err(anyhow::Error::msg)?;
            let wall = started.elapsed();
            if let Some(records) = &report.trace {
                for record in records {
                    say!("{record}");
                }
            }
            say!("{}", report.render().trim_end());
            let virtual_seconds = report.ended_at.as_nanos() as f64 / 1e9;
            say!(
                "  wall {:.3}s; simulated/wall time {:.0}x",
                wall.as_secs_f64(),
                virtual_seconds / wall.as_secs_f64().max(1e-9)
            );
            Ok(exit_for(&[&report]))
        }
        Command::Sweep { scenario, seeds, nodes, jobs, plant, fail_fast, quiet } => {
            let scenario = scenario_named(&scenario)?;
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
            if jobs == 0 {
                bail!("--jobs must be at least 1");
            }
            let template = RunOptions { seed: 0, nodes, planted: plant, ..RunOptions::default() };
            let seed_list: Vec<u64> = seeds.iter().collect();
            let started = WallInstant::now();
            let progress = |_done: u64, _failures: u64, report: &RunReport| {
                let hash = report.trace_hash.map_or_else(|| "-".repeat(16), |hash| hash.to_string());
                match report.outcome.failure_kind() {
                    None if !quiet => say!("seed {:>8}  pass  trace {hash}", report.seed),
                    None => {}
                    Some(kind) => {
                        say!("seed {:>8}  FAIL ({})  trace {hash}", report.seed, kind.name());
                        if let pangea_scenarios::Outcome::Fail { violations, .. } = &report.outcome
                            && let Some(first) = violations.first()
                        {
                            say!("    {first}");
                        }
                        say!("    replay: {}", report.replay_command());
                    }
                }
            };
            let result =
                sweep(scenario, &seed_list, jobs, &template, fail_fast, &progress).map_err(anyhow::Error::msg)?;
            let wall = started.elapsed().as_secs_f64();
            let failures: Vec<&RunReport> = result.failures().collect();
            say!(
                "{} seeds of {} in {:.2}s ({:.1} seeds/s on {jobs} jobs): {} passed, {} failed",
                result.reports.len(),
                scenario.name(),
                wall,
                result.reports.len() as f64 / wall.max(1e-9),
                result.reports.len() - failures.len(),
                failures.len()
            );
            let never: Vec<&str> = result.coverage.probes_never_held();
            if !never.is_empty() {
                say!("probes that never held: {}", never.join(", "));
            }
            Ok(exit_for(&failures))
        }
    }
}

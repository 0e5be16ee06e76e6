//! `pangea-sim`: list, run, sweep, replay, shrink and export Pangea's simulation scenarios.
//!
//! Every run is determined by its scenario, seed and options; a failure prints the one command that
//! replays it exactly, and its trace hash, which the replay must reproduce.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pangea_scenarios::replay::{EXIT_DIVERGED, ReplayFile, hash_matches, hash_to_hex};
use pangea_scenarios::results::{SWEEP_FORMAT, SeedResult, SweepSummary};
use pangea_scenarios::{
    DeterminismError, FailureKind, FaultFilter, RunOptions, RunReport, Scenario, SeedRange, Shard, ShrinkOptions,
    SweepOptions, TraceFormat, export, find, run_guarded, scenarios, shrink, sweep_with,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant as WallInstant;

const EXIT_CODES: &str = "\
Exit codes: 0 pass, 1 correctness failure, 2 usage error (bad input), 3 liveness failure,
4 crash (a panic in node code, or a runaway run), 5 a replay that did not reproduce its run (or,
for `determinism`, a seed whose two runs differ).";

/// Deterministic simulation of Pangea clusters under faults.
///
/// Each scenario runs a cluster of simulated nodes on virtual time, injects the faults its seed
/// draws (or that it pins), and checks properties as it goes. The same seed always gives the same
/// run, fingerprinted by its trace hash.
///
/// A failure prints the checker, what it saw, when and on which node, the faults in force, and one
/// command that replays it. `shrink` minimises a failure to a small replay file; `trace` draws a run
/// for Perfetto or a browser.
#[derive(Parser)]
#[command(name = "pangea-sim", version, about, long_about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What selects a run beyond its scenario and seed.
#[derive(Args, Clone, Default)]
struct Selection {
    /// Number of nodes (default: the scenario's).
    #[arg(long)]
    nodes: Option<u32>,
    /// Switch on a planted bug (builds with `--features planted-bugs` only; `list` names them).
    #[arg(long, value_name = "BUG")]
    plant: Option<String>,
    /// Run under this fault plan (JSON, as `pangea-sim plan` prints it) instead of the one the seed
    /// draws. Edit a printed plan to pin or remove faults.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    #[arg(long, value_name = "KINDS", conflicts_with = "plan", help = "Keep only these kinds of fault (see --help)", long_help = FaultFilter::help())]
    faults: Option<FaultFilter>,
    /// Number of clients (scenarios with clients only; `list` shows which).
    #[arg(long)]
    clients: Option<u32>,
    /// Number of client operations (scenarios that count operations only).
    #[arg(long)]
    operations: Option<u64>,
}

impl Selection {
    fn is_empty(&self) -> bool {
        self.nodes.is_none()
            && self.plant.is_none()
            && self.plan.is_none()
            && self.faults.is_none()
            && self.clients.is_none()
            && self.operations.is_none()
    }

    fn options(&self, seed: u64) -> Result<RunOptions> {
        let (plan, plan_source) = match &self.plan {
            None => (None, None),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the fault plan {}", path.display()))?;
                let plan: pangea_sim::FaultPlan =
                    serde_json::from_str(&text).with_context(|| format!("{} is not a fault plan", path.display()))?;
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

#[derive(Subcommand)]
enum Command {
    /// List every scenario: description, default and allowed node counts, faults, workload knobs
    /// and plantable bugs.
    List,
    /// Run one seed of a scenario and print its outcome, fault plan and trace hash.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Print, as JSON, the fault plan a seed draws; `run --plan FILE` takes it back.
    Plan(PlanArgs),
    /// Run many seeds of one or more scenarios in parallel, with a progress bar, a line per seed
    /// (or only failures with -q), a coverage summary, and optional JSON and JUnit results.
    #[command(after_help = EXIT_CODES)]
    Sweep(SweepArgs),
    /// Reproduce a run exactly, from a replay file or a scenario and seed, and check that it leaves
    /// the same trace hash (and, for a file, the same failure).
    #[command(after_help = EXIT_CODES)]
    Replay(ReplayArgs),
    /// Minimise a failing run — fewer faults, shorter fault windows, an earlier heal, fewer nodes,
    /// clients and operations — while it still fails the same checker; save it as a replay file.
    Shrink(ShrinkArgs),
    /// Export a run's trace: `chrome` (Perfetto / chrome://tracing: a track per node, messages as
    /// flows, faults as instants), `html` (a self-contained space-time diagram), or `jsonl`.
    Trace(TraceArgs),
    /// Run every seed twice and compare the traces; for a seed whose runs differ, print the first
    /// trace record that differs (virtual time, node, both versions): where the code under test
    /// leaked nondeterminism (a `HashMap` iterated, a clock read, a thread). Exits 5 on a leak.
    #[command(after_help = EXIT_CODES)]
    Determinism(DeterminismArgs),
}

/// The arguments of `pangea-sim determinism`.
#[derive(Args)]
struct DeterminismArgs {
    /// Scenario names (see `pangea-sim list`).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    scenarios: Vec<String>,
    /// Check every scenario.
    #[arg(long)]
    all: bool,
    /// Seeds: `A..B` (B excluded), `A..=B`, or one seed.
    #[arg(long, value_name = "RANGE", default_value = "0..20")]
    seeds: SeedRange,
    #[command(flatten)]
    selection: Selection,
}

/// The arguments of `pangea-sim run`.
#[derive(Args)]
struct RunArgs {
    /// Scenario name (see `pangea-sim list`).
    scenario: String,
    /// The seed that determines the run.
    #[arg(long)]
    seed: u64,
    #[command(flatten)]
    selection: Selection,
    /// Print every trace record before the report.
    #[arg(long)]
    trace: bool,
    /// Save the run as a replay file (for `replay`, `shrink` and `trace`).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
}

/// The arguments of `pangea-sim plan`.
#[derive(Args)]
struct PlanArgs {
    /// Scenario name (see `pangea-sim list`).
    scenario: String,
    /// The seed.
    #[arg(long)]
    seed: u64,
    /// Number of nodes (default: the scenario's).
    #[arg(long)]
    nodes: Option<u32>,
    #[arg(long, value_name = "KINDS", help = "Keep only these kinds of fault (see --help)", long_help = FaultFilter::help())]
    faults: Option<FaultFilter>,
}

/// The arguments of `pangea-sim sweep`.
#[derive(Args)]
struct SweepArgs {
    /// Scenario names (see `pangea-sim list`).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    scenarios: Vec<String>,
    /// Sweep every scenario.
    #[arg(long)]
    all: bool,
    /// Seeds: `A..B` (B excluded), `A..=B`, or one seed.
    #[arg(long, value_name = "RANGE")]
    seeds: SeedRange,
    /// Run only shard I of N of the seeds (1-based, interleaved): `--shard 2/4`. N machines with
    /// shards 1/N..N/N together run every seed once.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Worker threads (default: the number of cores).
    #[arg(long, short)]
    jobs: Option<usize>,
    #[command(flatten)]
    selection: Selection,
    /// Start no new seed after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Print only failures and the summary.
    #[arg(long, short)]
    quiet: bool,
    /// Do not draw the progress bar (it is drawn on standard error, and only on a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Write every seed's result, and the coverage, as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the results as JUnit XML (a test case per seed).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Save a replay file for each failing seed in this folder.
    #[arg(long, value_name = "DIR")]
    save_failures: Option<PathBuf>,
}

/// The arguments of `pangea-sim replay`.
#[derive(Args)]
struct ReplayArgs {
    /// A replay file (from `run --save`, `sweep --save-failures` or `shrink`), or, with --seed, a
    /// scenario name.
    target: String,
    /// Replay this seed of the scenario named by TARGET.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    selection: Selection,
    /// The trace hash the run must leave (hex; the 16 digits runs print are enough).
    #[arg(long, value_name = "HEX")]
    expect_hash: Option<String>,
    /// Print every trace record before the report.
    #[arg(long)]
    trace: bool,
}

/// The arguments of `pangea-sim shrink`.
#[derive(Args)]
struct ShrinkArgs {
    /// A replay file, or, with --seed, a scenario name.
    target: String,
    /// Shrink this seed of the scenario named by TARGET.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    selection: Selection,
    /// Where to save the minimal run (default: pangea-sim-out/SCENARIO-seed-N.shrunk.json).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Most candidate runs to try.
    #[arg(long, default_value_t = ShrinkOptions::default().runs_max)]
    runs_max: u32,
}

/// The arguments of `pangea-sim trace`.
#[derive(Args)]
struct TraceArgs {
    /// A replay file, or, with --seed, a scenario name.
    target: String,
    /// Export this seed of the scenario named by TARGET.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    selection: Selection,
    /// chrome, html or jsonl.
    #[arg(long, short, default_value = "html")]
    format: TraceFormat,
    /// Where to write it (default: pangea-sim-out/SCENARIO-seed-N.EXT; `-` for standard output).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
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

/// Where `trace` and `shrink` write unless told otherwise (the checkout's `.gitignore` lists it).
const OUTPUT_FOLDER: &str = "pangea-sim-out";

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create the folder {}", parent.display()))?;
    }
    Ok(())
}

fn scenario_named(name: &str) -> Result<&'static dyn Scenario> {
    find(name).with_context(|| {
        let known: Vec<&str> = scenarios().iter().map(|scenario| scenario.name()).collect();
        format!("unknown scenario '{name}' (known: {})", known.join(", "))
    })
}

/// A run named on the command line: a replay file, or a scenario and a seed.
struct Target {
    scenario: &'static dyn Scenario,
    options: RunOptions,
    file: Option<ReplayFile>,
}

impl Target {
    /// An error of the run, said as an error of the replay file when there is one.
    fn refused(&self, message: impl std::fmt::Display) -> anyhow::Error {
        match &self.file {
            Some(_) => anyhow::anyhow!("the replay file cannot run: {message}"),
            None => anyhow::anyhow!("{message}"),
        }
    }
}

fn target(target: &str, seed: Option<u64>, selection: &Selection) -> Result<Target> {
    if let Some(seed) = seed {
        let scenario = scenario_named(target)?;
        return Ok(Target { scenario, options: selection.options(seed)?, file: None });
    }
    if !selection.is_empty() {
        bail!("--nodes, --plant, --plan, --faults, --clients and --operations go with --seed; a replay file pins them");
    }
    let path = Path::new(target);
    if !path.exists() && find(target).is_some() {
        bail!("'{target}' is a scenario: give a seed (--seed N), or a replay file");
    }
    let file = ReplayFile::load(path)?;
    let scenario = file.scenario()?;
    let options = file.options(Some(target));
    Ok(Target { scenario, options, file: Some(file) })
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

fn code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The most severe failure decides: crash, then correctness, then liveness.
fn exit_for<'a>(kinds: impl IntoIterator<Item = Option<FailureKind>> + 'a) -> ExitCode {
    let kinds: Vec<FailureKind> = kinds.into_iter().flatten().collect();
    let severity = [FailureKind::Crash, FailureKind::Correctness, FailureKind::Liveness];
    code(severity.into_iter().find(|kind| kinds.contains(kind)).map_or(0, FailureKind::exit_code))
}

fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List => list(),
        Command::Plan(args) => plan_command(args),
        Command::Run(args) => run_command(args),
        Command::Sweep(args) => sweep_command(args),
        Command::Replay(args) => replay_command(args),
        Command::Shrink(args) => shrink_command(args),
        Command::Trace(args) => trace_command(args),
        Command::Determinism(args) => determinism_command(args),
    }
}

/// `pangea-sim determinism`.
fn determinism_command(args: DeterminismArgs) -> Result<ExitCode> {
    let DeterminismArgs { scenarios: names, all, seeds, selection } = args;
    let chosen: Vec<&'static dyn Scenario> =
        if all { scenarios() } else { names.iter().map(|name| scenario_named(name)).collect::<Result<_>>()? };
    let mut leaks = 0_u64;
    for scenario in chosen {
        let mut checked = 0_u64;
        for seed in seeds.iter() {
            match pangea_scenarios::determinism_check(scenario, &selection.options(seed)?) {
                Ok(_) => checked += 1,
                Err(error @ (DeterminismError::Diverged { .. } | DeterminismError::OutcomesDiffer { .. })) => {
                    leaks += 1;
                    say_line(format_args!("{error}"));
                }
                Err(DeterminismError::Options(error)) => bail!(error),
            }
        }
        say_line(format_args!("{}: {checked} of {} seeds ran twice the same", scenario.name(), seeds.len()));
    }
    Ok(if leaks == 0 { ExitCode::SUCCESS } else { code(EXIT_DIVERGED) })
}

/// `pangea-sim plan`.
fn plan_command(args: PlanArgs) -> Result<ExitCode> {
    let PlanArgs { scenario, seed, nodes, faults } = args;
    let scenario = scenario_named(&scenario)?;
    let options = RunOptions { seed, nodes, faults, ..RunOptions::default() };
    let resolved = pangea_scenarios::resolve_options(scenario, &options).map_err(anyhow::Error::msg)?;
    let nodes = nodes.unwrap_or(scenario.default_nodes());
    let plan = resolved.plan.unwrap_or_else(|| scenario.plan(seed, nodes));
    say!("{}", serde_json::to_string_pretty(&plan)?);
    Ok(ExitCode::SUCCESS)
}

/// `pangea-sim run`.
fn run_command(args: RunArgs) -> Result<ExitCode> {
    let RunArgs { scenario, seed, selection, trace, save } = args;
    let scenario = scenario_named(&scenario)?;
    let options = RunOptions { keep_trace: trace, ..selection.options(seed)? };
    let started = WallInstant::now();
    let report = run_guarded(scenario, &options).map_err(anyhow::Error::msg)?;
    let wall = started.elapsed();
    print_run(&report, wall.as_secs_f64());
    if let Some(path) = save {
        ReplayFile::from_report(&report).save(&path)?;
        say!("  saved {}; replay it with: {} replay {}", path.display(), report.command_prefix(), path.display());
    }
    Ok(exit_for([report.outcome.failure_kind()]))
}

/// `pangea-sim sweep`.
fn sweep_command(args: SweepArgs) -> Result<ExitCode> {
    let SweepArgs {
        scenarios: names,
        all,
        seeds,
        shard,
        jobs,
        selection,
        fail_fast,
        quiet,
        no_progress,
        json,
        junit,
        save_failures,
    } = args;
    let chosen: Vec<&'static dyn Scenario> =
        if all { scenarios() } else { names.iter().map(|name| scenario_named(name)).collect::<Result<_>>()? };
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    if let Some(directory) = &save_failures {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("cannot create the folder {}", directory.display()))?;
    }
    let shard = shard.unwrap_or(Shard::ALL);
    let seed_list = shard.seeds(&seeds);
    if seed_list.is_empty() {
        bail!("shard {shard} of seeds {seeds} holds no seed (there are fewer seeds than shards)");
    }
    let sweep =
        SweepRequest { jobs, template: selection.options(0)?, fail_fast, quiet, progress: !no_progress, save_failures };
    let started = WallInstant::now();
    let outcome = run_sweep(&chosen, &seed_list, &sweep)?;
    let wall = started.elapsed().as_secs_f64();
    if chosen.len() > 1 {
        say!(
            "{} seeds of {} scenarios in {wall:.2}s ({:.1} seeds/s on {jobs} jobs): {} passed, {} failed",
            outcome.runs,
            chosen.len(),
            outcome.runs as f64 / wall.max(1e-9),
            outcome.runs - outcome.failed,
            outcome.failed
        );
    }
    let kinds: Vec<Option<FailureKind>> = outcome.results.iter().map(|result| result.kind).collect();
    let summary = SweepSummary {
        format: SWEEP_FORMAT,
        version: 1,
        scenarios: chosen.iter().map(|scenario| scenario.name().to_owned()).collect(),
        seeds: seeds.to_string(),
        shard: shard.to_string(),
        jobs,
        wall_seconds: wall,
        seeds_per_second: outcome.runs as f64 / wall.max(1e-9),
        runs: outcome.runs,
        passed: outcome.runs - outcome.failed,
        failed: outcome.failed,
        stopped_early: outcome.runs < (seed_list.len() * chosen.len()) as u64,
        results: outcome.results,
        coverage: outcome.coverage,
    };
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&summary)? + "\n";
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = junit {
        std::fs::write(&path, summary.junit()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(exit_for(kinds))
}

/// `pangea-sim replay`.
fn replay_command(args: ReplayArgs) -> Result<ExitCode> {
    let ReplayArgs { target: name, seed, selection, expect_hash, trace } = args;
    let target = target(&name, seed, &selection)?;
    let options = RunOptions { keep_trace: trace, ..target.options.clone() };
    let started = WallInstant::now();
    let report = run_guarded(target.scenario, &options).map_err(|message| target.refused(message))?;
    print_run(&report, started.elapsed().as_secs_f64());
    let actual = report.trace_hash.as_ref().map(hash_to_hex);
    let (expected_hash, expected_failure) = match &target.file {
        Some(file) => (
            file.trace_hash.clone(),
            Some(file.failure.as_ref().map(|failure| (failure.kind, failure.checker.clone()))),
        ),
        None => (expect_hash.clone(), None),
    };
    let hash_matched = match (&expected_hash, &report.trace_hash) {
        (None, _) => None,
        (Some(expected), Some(actual)) => Some(hash_matches(actual, expected)),
        (Some(_), None) => Some(false),
    };
    if let Some(hash) = &expected_hash
        && !hash.chars().all(|character| character.is_ascii_hexdigit())
    {
        bail!("--expect-hash {hash} is not hex");
    }
    let actual_failure = report.first_violation().map(|violation| (violation.kind, violation.checker.to_owned()));
    let outcome_matched = expected_failure.as_ref().is_none_or(|expected| *expected == actual_failure);
    if let Some(expected) = &expected_failure {
        let recorded = expected
            .as_ref()
            .map_or_else(|| "a pass".to_owned(), |(kind, checker)| format!("{} failure of [{checker}]", kind.name()));
        say!("replay: recorded {recorded}; the outcome {}", if outcome_matched { "reproduced" } else { "DIFFERS" });
    }
    let actual = actual.unwrap_or_else(|| "none".to_owned());
    match (hash_matched, &expected_hash) {
        (Some(true), _) => say!("replay: trace hash matched: {actual}"),
        (Some(false), Some(expected)) => say!(
            "replay: trace hash MISMATCH: expected {expected}, got {actual} (the code, the build or the file changed the run)"
        ),
        _ => say!("replay: trace hash {actual} (no hash to compare with; pass --expect-hash)"),
    }
    let diverged = !outcome_matched || hash_matched == Some(false);
    Ok(match report.outcome.failure_kind() {
        Some(kind) => code(kind.exit_code()),
        None if diverged => code(EXIT_DIVERGED),
        None => ExitCode::SUCCESS,
    })
}

/// `pangea-sim shrink`.
fn shrink_command(args: ShrinkArgs) -> Result<ExitCode> {
    let ShrinkArgs { target: name, seed, selection, output, runs_max } = args;
    let target = target(&name, seed, &selection)?;
    let started = WallInstant::now();
    let limits = ShrinkOptions { runs_max, ..ShrinkOptions::default() };
    let mut on_step = |step: &pangea_scenarios::shrink::ShrinkStep| {
        say!("  {:<64} -> {} trace records, {} events", step.what, step.size.trace_records, step.size.events);
    };
    say!("shrinking {} seed {}", target.scenario.name(), target.options.seed);
    let outcome = match shrink(target.scenario, &target.options, limits, &mut on_step) {
        Ok(outcome) => outcome,
        Err(pangea_scenarios::ShrinkError::Invalid(message)) => return Err(target.refused(message)),
        Err(error) => return Err(error.into()),
    };
    let file = outcome.replay_file();
    let before = file.shrunk_from.expect("a shrunk file records its origin");
    let after = pangea_scenarios::replay::RunSize::of(&outcome.shrunk);
    say!(
        "shrunk in {} runs ({:.2}s): {} -> {} trace records ({:.1}%), {} -> {} events ({:.1}%)",
        outcome.runs,
        started.elapsed().as_secs_f64(),
        before.trace_records,
        after.trace_records,
        100.0 * outcome.ratio(),
        before.events,
        after.events,
        100.0 * after.events as f64 / before.events.max(1) as f64
    );
    say!("  before: {before}");
    say!("  after:  {after}");
    let path = output.unwrap_or_else(|| {
        Path::new(OUTPUT_FOLDER).join(format!("{}-seed-{}.shrunk.json", outcome.shrunk.scenario, outcome.shrunk.seed))
    });
    create_parent(&path)?;
    file.save(&path)?;
    let mut shown = outcome.shrunk.clone();
    shown.replay_file = Some(path.display().to_string());
    say!("{}", shown.render().trim_end());
    say!("saved {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `pangea-sim trace`.
fn trace_command(args: TraceArgs) -> Result<ExitCode> {
    let TraceArgs { target: name, seed, selection, format, output } = args;
    let target = target(&name, seed, &selection)?;
    let options = RunOptions { keep_trace: true, ..target.options.clone() };
    let report = run_guarded(target.scenario, &options).map_err(|message| target.refused(message))?;
    let text = export(&report, format)?;
    let path = output.unwrap_or_else(|| {
        Path::new(OUTPUT_FOLDER).join(format!("{}-seed-{}.{}", report.scenario, report.seed, format.extension()))
    });
    if path == Path::new("-") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if let Err(error) = out.write_all(text.as_bytes())
            && error.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(error).context("cannot write to standard output");
        }
        return Ok(ExitCode::SUCCESS);
    }
    create_parent(&path)?;
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    let outcome =
        report.outcome.failure_kind().map_or_else(|| "pass".to_owned(), |kind| format!("FAIL ({})", kind.name()));
    let open = match format {
        TraceFormat::Chrome => "open it at ui.perfetto.dev (Open trace file) or chrome://tracing",
        TraceFormat::Html => "open it in a browser",
        TraceFormat::Jsonl => "one JSON object per line",
    };
    say!(
        "wrote {} ({} trace records, {} seed {}: {outcome}, trace {}); {open}",
        path.display(),
        report.trace_len,
        report.scenario,
        report.seed,
        report.trace_hash.map_or_else(|| "none".to_owned(), |hash| hash.to_string())
    );
    Ok(ExitCode::SUCCESS)
}

fn list() -> Result<ExitCode> {
    say!("{:<12} {:>5}  description", "scenario", "nodes");
    for scenario in scenarios() {
        let (least, most) = scenario.nodes_range();
        say!("{:<12} {:>5}  {}", scenario.name(), scenario.default_nodes(), scenario.description());
        say!("{:<12} {:>5}  nodes {least}..={most}; faults: {}", "", "", scenario.faults());
        let workload = scenario.workload_knobs();
        let mut knobs = Vec::new();
        if let Some(clients) = workload.clients {
            knobs.push(format!("--clients (default {clients})"));
        }
        if let Some(operations) = workload.operations {
            knobs.push(format!("--operations (default {operations})"));
        }
        if !knobs.is_empty() {
            say!("{:<12} {:>5}  workload: {}", "", "", knobs.join(", "));
        }
        let bugs = scenario.planted_bugs();
        if !bugs.is_empty() {
            say!("{:<12} {:>5}  plantable bugs: {}", "", "", bugs.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_run(report: &RunReport, wall_seconds: f64) {
    if let Some(records) = &report.trace {
        for record in records {
            say!("{record}");
        }
    }
    say!("{}", report.render().trim_end());
    let virtual_seconds = report.ended_at.as_nanos() as f64 / 1e9;
    say!("  wall {wall_seconds:.3}s; simulated/wall time {:.0}x", virtual_seconds / wall_seconds.max(1e-9));
}

struct SweepRequest {
    jobs: usize,
    template: RunOptions,
    fail_fast: bool,
    quiet: bool,
    progress: bool,
    save_failures: Option<PathBuf>,
}

struct SweepOutcome {
    runs: u64,
    failed: u64,
    results: Vec<SeedResult>,
    coverage: BTreeMap<String, pangea_scenarios::CoverageSummary>,
}

fn run_sweep(chosen: &[&'static dyn Scenario], seeds: &[u64], request: &SweepRequest) -> Result<SweepOutcome> {
    let total = (seeds.len() * chosen.len()) as u64;
    let bar = if request.progress {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {pos}/{len} seeds  {rate}  {msg}")
            .expect("a valid template")
            .with_key("rate", |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0} seeds/s", state.per_sec());
            })
            .progress_chars("=> "),
    );
    bar.set_message("0 failed");
    // Lines go to standard output; with a bar on the terminal, it is lifted while they print.
    let print = |line: String| {
        if bar.is_hidden() {
            say!("{line}");
        } else {
            bar.suspend(|| say!("{line}"));
        }
    };
    let failed_before = std::sync::atomic::AtomicU64::new(0);
    let mut outcome = SweepOutcome { runs: 0, failed: 0, results: Vec::new(), coverage: BTreeMap::new() };
    for scenario in chosen {
        let results: Mutex<Vec<SeedResult>> = Mutex::new(Vec::with_capacity(seeds.len()));
        let progress = |_runs: u64, failures: u64, report: &RunReport| {
            let hash = report.trace_hash.map_or_else(|| "-".repeat(16), |hash| hash.to_string());
            let prefix = if chosen.len() > 1 { format!("{:<10} ", report.scenario) } else { String::new() };
            match report.outcome.failure_kind() {
                None if !request.quiet => print(format!("{prefix}seed {:>8}  pass  trace {hash}", report.seed)),
                None => {}
                Some(kind) => {
                    let mut lines =
                        vec![format!("{prefix}seed {:>8}  FAIL ({})  trace {hash}", report.seed, kind.name())];
                    if let Some(first) = report.first_violation() {
                        lines.push(format!("    {first}"));
                        let active = pangea_scenarios::report::active_faults(&report.plan, first.at);
                        if !active.is_empty() {
                            lines.push(format!("    faults active at {}: {}", first.at, active.join("; ")));
                        }
                    }
                    lines.push(format!("    replay: {}", report.replay_command()));
                    if let Some(directory) = &request.save_failures {
                        let path = directory.join(format!("{}-seed-{}.json", report.scenario, report.seed));
                        match ReplayFile::from_report(report).save(&path) {
                            Ok(()) => lines.push(format!("    saved:  {}", path.display())),
                            Err(error) => lines.push(format!("    (not saved: {error})")),
                        }
                    }
                    print(lines.join("\n"));
                }
            }
            let failures = failed_before.load(std::sync::atomic::Ordering::Relaxed) + failures;
            bar.set_message(format!("{failures} failed"));
            bar.inc(1);
            results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(SeedResult::of(report));
        };
        let options = SweepOptions {
            jobs: request.jobs,
            template: request.template.clone(),
            fail_fast: request.fail_fast,
            keep_passing: false,
        };
        let started = WallInstant::now();
        let report = match sweep_with(*scenario, seeds, &options, &progress) {
            Ok(report) => report,
            Err(message) => {
                bar.finish_and_clear();
                bail!(message);
            }
        };
        let wall = started.elapsed().as_secs_f64();
        failed_before.fetch_add(report.failed, std::sync::atomic::Ordering::Relaxed);
        let mut lines = vec![format!(
            "{} seeds of {} in {wall:.2}s ({:.1} seeds/s on {} jobs): {} passed, {} failed",
            report.runs,
            scenario.name(),
            report.runs as f64 / wall.max(1e-9),
            request.jobs,
            report.runs - report.failed,
            report.failed
        )];
        lines.extend(report.render_tallies());
        lines.push(report.summary.render(request.template.faults.as_ref()).trim_end().to_owned());
        print(lines.join("\n"));
        let mut scenario_results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        scenario_results.sort_by_key(|result| result.seed);
        outcome.runs += report.runs;
        outcome.failed += report.failed;
        outcome.results.extend(scenario_results);
        outcome.coverage.insert(scenario.name().to_owned(), report.summary);
        if request.fail_fast && report.failed > 0 {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(outcome)
}

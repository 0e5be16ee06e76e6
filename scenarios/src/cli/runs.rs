//! The commands about one run at a time: `list`, `plan`, `run`, `replay`, `shrink`, `trace`, and
//! `determinism` (each seed run twice).

use super::args::{DeterminismArgs, PlanArgs, ReplayArgs, RunArgs, Selection, TraceArgs};
use super::error::CliError;
use super::{chosen, exit_code, exit_for, scenario_named};
use crate::replay::{EXIT_DIVERGED, ReplayFile, hash_matches, hash_to_hex};
use crate::{DeterminismError, Registry, RunOptions, RunReport, Scenario, TraceFormat, export, run_guarded};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant as WallInstant;

/// Where `trace` and `shrink` write unless told otherwise (the checkout's `.gitignore` lists it).
pub(super) const OUTPUT_FOLDER: &str = "pangea-sim-out";

/// Creates the folder `path` goes in, if it names one.
pub(super) fn create_parent(path: &Path) -> Result<(), CliError> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|source| CliError::CreateFolder { path: parent.to_path_buf(), source })?;
    }
    Ok(())
}

/// A run named on the command line: a replay file, or a scenario and a seed.
pub(super) struct Target {
    pub(super) scenario: &'static dyn Scenario,
    pub(super) options: RunOptions,
    pub(super) file: Option<ReplayFile>,
}

impl Target {
    /// An error of the run, said as an error of the replay file when there is one.
    pub(super) fn refused(&self, message: impl std::fmt::Display) -> CliError {
        CliError::Refused { from_replay_file: self.file.is_some(), message: message.to_string() }
    }
}

/// The run `target` names: with a seed, a scenario of `registry`; without, a replay file.
pub(super) fn target(
    registry: &Registry,
    target: &str,
    seed: Option<u64>,
    selection: &Selection,
) -> Result<Target, CliError> {
    if let Some(seed) = seed {
        let scenario = scenario_named(registry, target)?;
        return Ok(Target { scenario, options: selection.options(seed)?, file: None });
    }
    if !selection.is_empty() {
        return Err(CliError::OptionsWithReplayFile);
    }
    let path = Path::new(target);
    if !path.exists() && registry.find(target).is_some() {
        return Err(CliError::ScenarioWithoutSeed(target.to_owned()));
    }
    let file = ReplayFile::load(path)?;
    let scenario = file.scenario_in(registry)?;
    let options = file.options(Some(target));
    Ok(Target { scenario, options, file: Some(file) })
}

/// `pangea-sim determinism`.
pub(super) fn determinism_command(registry: &Registry, args: DeterminismArgs) -> Result<ExitCode, CliError> {
    let DeterminismArgs { scenarios: names, all, seeds, selection } = args;
    let mut leaks = 0_u64;
    for scenario in chosen(registry, all, &names)? {
        let mut checked = 0_u64;
        for seed in seeds.iter() {
            match crate::determinism_check(scenario, &selection.options(seed)?) {
                Ok(_) => checked += 1,
                Err(error @ (DeterminismError::Diverged { .. } | DeterminismError::OutcomesDiffer { .. })) => {
                    leaks += 1;
                    say!("{error}");
                }
                Err(DeterminismError::Options(error)) => {
                    return Err(CliError::Refused { from_replay_file: false, message: error.to_string() });
                }
            }
        }
        say!("{}: {checked} of {} seeds ran twice the same", scenario.name(), seeds.len());
    }
    Ok(if leaks == 0 { ExitCode::SUCCESS } else { exit_code(EXIT_DIVERGED) })
}

/// `pangea-sim plan`.
pub(super) fn plan_command(registry: &Registry, args: PlanArgs) -> Result<ExitCode, CliError> {
    let PlanArgs { scenario, seed, nodes, faults } = args;
    let scenario = scenario_named(registry, &scenario)?;
    let options = RunOptions { seed, nodes, faults, ..RunOptions::default() };
    let resolved = crate::resolve_options(scenario, &options)
        .map_err(|error| CliError::Refused { from_replay_file: false, message: error.to_string() })?;
    let nodes = nodes.unwrap_or(scenario.default_nodes());
    let plan = resolved.plan.unwrap_or_else(|| scenario.plan(seed, nodes));
    say!("{}", serde_json::to_string_pretty(&plan)?);
    Ok(ExitCode::SUCCESS)
}

/// `pangea-sim run`.
pub(super) fn run_command(registry: &Registry, args: RunArgs) -> Result<ExitCode, CliError> {
    let RunArgs { scenario, seed, selection, trace, save } = args;
    let scenario = scenario_named(registry, &scenario)?;
    let options = RunOptions { keep_trace: trace, ..selection.options(seed)? };
    let started = WallInstant::now();
    let report = run_guarded(scenario, &options)
        .map_err(|error| CliError::Refused { from_replay_file: false, message: error.to_string() })?;
    let wall = started.elapsed();
    print_run(&report, wall.as_secs_f64());
    if let Some(path) = save {
        ReplayFile::from_report(&report).save(&path)?;
        say!("  saved {}; replay it with: {} replay {}", path.display(), report.command_prefix(), path.display());
    }
    Ok(exit_for([report.outcome.failure_kind()]))
}

/// `pangea-sim replay`.
pub(super) fn replay_command(registry: &Registry, args: ReplayArgs) -> Result<ExitCode, CliError> {
    let ReplayArgs { target: name, seed, selection, expect_hash, trace } = args;
    let target = target(registry, &name, seed, &selection)?;
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
        return Err(CliError::HashNotHex(hash.clone()));
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
        Some(kind) => exit_code(kind.exit_code()),
        None if diverged => exit_code(EXIT_DIVERGED),
        None => ExitCode::SUCCESS,
    })
}

/// `pangea-sim trace`.
pub(super) fn trace_command(registry: &Registry, args: TraceArgs) -> Result<ExitCode, CliError> {
    let TraceArgs { target: name, seed, selection, format, output } = args;
    let target = target(registry, &name, seed, &selection)?;
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
            return Err(CliError::Stdout(error));
        }
        return Ok(ExitCode::SUCCESS);
    }
    create_parent(&path)?;
    std::fs::write(&path, &text).map_err(|source| CliError::WriteFile { path: path.clone(), source })?;
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

/// `pangea-sim list`.
pub(super) fn list(registry: &Registry) -> Result<ExitCode, CliError> {
    say!("{:<12} {:>5}  description", "scenario", "nodes");
    for scenario in registry.scenarios() {
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

/// Prints a run's trace (if kept), its report, and how fast it ran.
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

//! `pangea-sim sweep`: many seeds of one or more scenarios on worker threads, a line per seed and a
//! progress bar while they run, a summary and coverage per scenario, and JSON and JUnit results.

use super::args::SweepArgs;
use super::error::CliError;
use super::{chosen, exit_for};
use crate::replay::ReplayFile;
use crate::results::{SWEEP_FORMAT, SeedResult, SweepSummary};
use crate::{CoverageSummary, FailureKind, Registry, RunOptions, RunReport, Scenario, Shard, SweepOptions, sweep_with};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant as WallInstant;

/// `pangea-sim sweep`.
pub(super) fn sweep_command(registry: &Registry, args: SweepArgs) -> Result<ExitCode, CliError> {
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
    let chosen = chosen(registry, all, &names)?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    if jobs == 0 {
        return Err(CliError::NoJobs);
    }
    if let Some(directory) = &save_failures {
        std::fs::create_dir_all(directory)
            .map_err(|source| CliError::CreateFolder { path: directory.clone(), source })?;
    }
    let shard = shard.unwrap_or(Shard::ALL);
    let seed_list = shard.seeds(&seeds);
    if seed_list.is_empty() {
        return Err(CliError::EmptyShard { shard, seeds });
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
        std::fs::write(&path, text).map_err(|source| CliError::WriteFile { path: path.clone(), source })?;
    }
    if let Some(path) = junit {
        std::fs::write(&path, summary.junit()).map_err(|source| CliError::WriteFile { path: path.clone(), source })?;
    }
    Ok(exit_for(kinds))
}

/// How to sweep, beyond the scenarios and seeds.
struct SweepRequest {
    jobs: usize,
    template: RunOptions,
    fail_fast: bool,
    quiet: bool,
    progress: bool,
    save_failures: Option<PathBuf>,
}

/// What a sweep of every chosen scenario found.
struct SweepOutcome {
    runs: u64,
    failed: u64,
    results: Vec<SeedResult>,
    coverage: BTreeMap<String, CoverageSummary>,
}

/// Sweeps each of `chosen` over `seeds` in turn, printing a line per seed (or per failure) and a
/// summary per scenario, under a progress bar on standard error.
fn run_sweep(
    chosen: &[&'static dyn Scenario],
    seeds: &[u64],
    request: &SweepRequest,
) -> Result<SweepOutcome, CliError> {
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
    let failed_before = AtomicU64::new(0);
    let mut outcome = SweepOutcome { runs: 0, failed: 0, results: Vec::new(), coverage: BTreeMap::new() };
    for scenario in chosen {
        let results: Mutex<Vec<SeedResult>> = Mutex::new(Vec::with_capacity(seeds.len()));
        let progress = |_runs: u64, failures: u64, report: &RunReport| {
            let hash = report.trace_hash.map_or_else(|| "-".repeat(16), |hash| hash.to_string());
            let prefix = if chosen.len() > 1 { format!("{:<10} ", report.scenario) } else { String::new() };
            match report.outcome.failure_kind() {
                None if !request.quiet => print(format!("{prefix}seed {:>8}  pass  trace {hash}", report.seed)),
                None => {}
                Some(kind) => print(failure_lines(&prefix, &hash, kind, report, request.save_failures.as_ref())),
            }
            let failures = failed_before.load(Ordering::Relaxed) + failures;
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
            Err(error) => {
                bar.finish_and_clear();
                return Err(CliError::Refused { from_replay_file: false, message: error.to_string() });
            }
        };
        let wall = started.elapsed().as_secs_f64();
        failed_before.fetch_add(report.failed, Ordering::Relaxed);
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

/// The lines a failing seed prints: the failure, the faults in force when it was seen, the command
/// that replays it, and where its replay file was saved (with `--save-failures`).
fn failure_lines(
    prefix: &str,
    hash: &str,
    kind: FailureKind,
    report: &RunReport,
    save_failures: Option<&PathBuf>,
) -> String {
    let mut lines = vec![format!("{prefix}seed {:>8}  FAIL ({})  trace {hash}", report.seed, kind.name())];
    if let Some(first) = report.first_violation() {
        lines.push(format!("    {first}"));
        let active = crate::report::active_faults(&report.plan, first.at);
        if !active.is_empty() {
            lines.push(format!("    faults active at {}: {}", first.at, active.join("; ")));
        }
    }
    lines.push(format!("    replay: {}", report.replay_command()));
    if let Some(directory) = save_failures {
        let path = directory.join(format!("{}-seed-{}.json", report.scenario, report.seed));
        match ReplayFile::from_report(report).save(&path) {
            Ok(()) => lines.push(format!("    saved:  {}", path.display())),
            Err(error) => lines.push(format!("    (not saved: {error})")),
        }
    }
    lines.join("\n")
}

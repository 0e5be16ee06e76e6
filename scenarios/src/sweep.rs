//! Running many seeds: sweeps across threads, crash containment, and the determinism check.

use crate::registry::Scenario;
use crate::report::{FailureKind, Outcome, RunOptions, RunReport, Violation};
use pangea_core::Instant;
use pangea_sim::{Coverage, FaultPlan, SimStats};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Runs one seed, turning a panic in node or scenario code into a [`FailureKind::Crash`] report.
///
/// # Errors
/// Invalid options.
pub fn run_guarded(scenario: &dyn Scenario, options: &RunOptions) -> Result<RunReport, String> {
    match catch_unwind(AssertUnwindSafe(|| scenario.run(options))) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                .unwrap_or_else(|| "panic with a non-text payload".to_owned());
            Ok(RunReport {
                scenario: scenario.name().to_owned(),
                seed: options.seed,
                nodes: options.nodes.unwrap_or(scenario.default_nodes()),
                nodes_option: options.nodes,
                planted: options.planted.clone(),
                plan_source: options.plan_source.clone(),
                outcome: Outcome::from_violations(vec![Violation {
                    checker: "no-panic",
                    kind: FailureKind::Crash,
                    at: Instant::ZERO,
                    node: None,
                    message: format!("panicked: {message}"),
                }]),
                trace_hash: None,
                trace: None,
                trace_len: 0,
                plan: options.plan.clone().unwrap_or_else(|| FaultPlan::none(0)),
                stats: SimStats::default(),
                coverage: Coverage::default(),
                ended_at: Instant::ZERO,
                notes: Vec::new(),
            })
        }
    }
}

/// The results of a sweep, in seed order.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// One report per seed run (fewer than asked when stopped early).
    pub reports: Vec<RunReport>,
    /// What all runs covered together.
    pub coverage: Coverage,
}

impl SweepReport {
    /// The failed runs.
    pub fn failures(&self) -> impl Iterator<Item = &RunReport> {
        self.reports.iter().filter(|report| !report.outcome.passed())
    }
}

/// Runs `scenario` for every seed in `seeds` on `jobs` threads. `template` supplies every option but
/// the seed. `progress` is called after each run with (runs done, failures so far, the report).
/// With `fail_fast`, no new seed starts after the first failure.
///
/// # Errors
/// Invalid options (reported by the first run).
pub fn sweep(
    scenario: &dyn Scenario,
    seeds: &[u64],
    jobs: usize,
    template: &RunOptions,
    fail_fast: bool,
    progress: &(dyn Fn(u64, u64, &RunReport) + Sync),
) -> Result<SweepReport, String> {
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<RunReport>> = Mutex::new(Vec::with_capacity(seeds.len()));
    let error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&seed) = seeds.get(index) else { break };
                    let options = RunOptions { seed, ..template.clone() };
                    match run_guarded(scenario, &options) {
                        Ok(mut report) => {
                            report.trace = None;
                            let failures = failed.load(Ordering::Relaxed) + u64::from(!report.outcome.passed());
                            if !report.outcome.passed() {
                                failed.fetch_add(1, Ordering::Relaxed);
                                if fail_fast {
                                    stop.store(true, Ordering::Relaxed);
                                }
                            }
                            let runs = done.fetch_add(1, Ordering::Relaxed) + 1;
                            progress(runs, failures, &report);
                            results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(report);
                        }
                        Err(message) => {
                            *error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message);
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    if let Some(message) = error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(message);
    }
    let mut reports = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    reports.sort_by_key(|report| report.seed);
    let mut coverage = Coverage::default();
    for report in &reports {
        coverage.merge(&report.coverage);
    }
    Ok(SweepReport { reports, coverage })
}

/// Runs `options` twice and checks that both runs leave the same trace hash and outcome.
///
/// # Errors
/// A description of the difference, or invalid options.
pub fn determinism_check(scenario: &dyn Scenario, options: &RunOptions) -> Result<RunReport, String> {
    let first = run_guarded(scenario, options)?;
    let second = run_guarded(scenario, options)?;
    if first.trace_hash != second.trace_hash || first.trace_len != second.trace_len {
        return Err(format!(
            "{} seed {} is not deterministic: trace {:?} ({} records) then {:?} ({} records)",
            scenario.name(),
            options.seed,
            first.trace_hash,
            first.trace_len,
            second.trace_hash,
            second.trace_len
        ));
    }
    if first.outcome != second.outcome {
        return Err(format!("{} seed {}: same trace, different outcomes", scenario.name(), options.seed));
    }
    Ok(first)
}

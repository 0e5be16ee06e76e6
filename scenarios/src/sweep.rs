//! Running many seeds: sweeps across threads, crash containment, and the determinism check.

use crate::coverage::CoverageSummary;
use crate::error::{DeterminismError, ScenarioError};
use crate::registry::{Scenario, checked_nodes};
use crate::report::{FailureKind, Outcome, RunOptions, RunReport, Violation};
use pangea_core::Instant;
use pangea_sim::Coverage;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Checks `options` against what `scenario` supports and resolves the harness's own options: the
/// node count must be in range, workload knobs must be ones the scenario honours, and a `faults`
/// filter becomes a pinned plan (the seed's draw, filtered).
///
/// # Errors
/// Options the scenario cannot run.
pub fn resolve_options(scenario: &dyn Scenario, options: &RunOptions) -> Result<RunOptions, ScenarioError> {
    let nodes = checked_nodes(scenario, options)?;
    let workload = scenario.workload_knobs();
    if options.clients.is_some() && workload.clients.is_none() {
        return Err(ScenarioError::NoClients { scenario: scenario.name().to_owned() });
    }
    if options.operations.is_some() && workload.operations.is_none() {
        return Err(ScenarioError::NoOperations { scenario: scenario.name().to_owned() });
    }
    let mut resolved = options.clone();
    if let (Some(filter), None) = (&options.faults, &options.plan) {
        resolved.plan = Some(filter.apply(&scenario.plan(options.seed, nodes)));
    }
    Ok(resolved)
}

/// Runs one seed, turning a panic in node or scenario code into a [`FailureKind::Crash`] report.
/// Applies the harness's options first (see [`resolve_options`]).
///
/// # Errors
/// Invalid options.
pub fn run_guarded(scenario: &dyn Scenario, options: &RunOptions) -> Result<RunReport, ScenarioError> {
    let resolved = resolve_options(scenario, options)?;
    let mut report = match catch_unwind(AssertUnwindSafe(|| scenario.run(&resolved))) {
        Ok(result) => result?,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                .unwrap_or_else(|| "panic with a non-text payload".to_owned());
            let nodes = options.nodes.unwrap_or(scenario.default_nodes());
            RunReport {
                scenario: scenario.name().to_owned(),
                seed: options.seed,
                nodes,
                nodes_option: options.nodes,
                planted: options.planted.clone(),
                plan_source: options.plan_source.clone(),
                outcome: Outcome::from_violations(vec![Violation {
                    involved: crate::report::Involved::default(),
                    checker: "no-panic",
                    kind: FailureKind::Crash,
                    at: Instant::ZERO,
                    node: None,
                    message: format!("panicked: {message}"),
                }]),
                plan: resolved.plan.clone().unwrap_or_else(|| {
                    catch_unwind(AssertUnwindSafe(|| scenario.plan(options.seed, nodes)))
                        .unwrap_or_else(|_| pangea_sim::FaultPlan::none(0))
                }),
                ..RunReport::default()
            }
        }
    };
    report.faults = options.faults.as_ref().filter(|_| options.plan.is_none()).map(ToString::to_string);
    report.clients = options.clients;
    report.operations = options.operations;
    report.only_clients.clone_from(&options.only_clients);
    report.choices.clone_from(&options.choices);
    report.replay_file.clone_from(&options.replay_file);
    report.program = scenario.program();
    Ok(report)
}

/// The results of a sweep, in seed order.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// One report per seed run (fewer than asked when stopped early), or only the failures when the
    /// sweep kept no passing reports.
    pub reports: Vec<RunReport>,
    /// What all runs covered together.
    pub coverage: Coverage,
    /// What the runs covered, run by run, and what they missed.
    pub summary: CoverageSummary,
    /// Seeds run.
    pub runs: u64,
    /// Seeds that failed.
    pub failed: u64,
    /// The runs' tallies, summed (see [`RunReport::tallies`]).
    pub tallies: std::collections::BTreeMap<&'static str, f64>,
}

impl SweepReport {
    /// The summed tallies for a person, one line, with each per node-hour when the scenario tallies
    /// `node_hours`; `None` when the runs tallied nothing. Two conventions: a tally `X` with a
    /// companion `X.out_of` reads as a share ("X 990 of 1000 (99.00%)"), and tallies `G#0`, `G#1`,
    /// … are a histogram of G, read as its median, 90th percentile and largest value.
    #[must_use]
    pub fn render_tallies(&self) -> Option<String> {
        if self.tallies.is_empty() {
            return None;
        }
        let node_hours = self.tallies.get("node_hours").copied().filter(|hours| *hours > 0.0);
        let mut histograms: std::collections::BTreeMap<&str, Vec<(u64, f64)>> = std::collections::BTreeMap::new();
        let mut parts = Vec::new();
        for (name, total) in &self.tallies {
            if let Some((group, bucket)) = name.split_once('#')
                && let Ok(bucket) = bucket.parse::<u64>()
            {
                histograms.entry(group).or_default().push((bucket, *total));
                continue;
            }
            if name.ends_with(".out_of") {
                continue;
            }
            let whole = self.tallies.get(format!("{name}.out_of").as_str()).copied();
            parts.push(match (whole, node_hours) {
                (Some(whole), _) if whole > 0.0 => format!("{name} {total} of {whole} ({:.2}%)", 100.0 * total / whole),
                (_, Some(hours)) if *name != "node_hours" => {
                    format!("{name} {total} ({:.2} per node-hour)", total / hours)
                }
                _ => format!("{name} {total:.2}"),
            });
        }
        for (group, mut buckets) in histograms {
            buckets.sort_by_key(|(bucket, _)| *bucket);
            let count: f64 = buckets.iter().map(|(_, total)| total).sum();
            let at = |share: f64| {
                let mut seen = 0.0;
                buckets.iter().find(|(_, total)| {
                    seen += total;
                    seen >= share * count
                })
            };
            let (median, p90) = (at(0.5).map_or(0, |(bucket, _)| *bucket), at(0.9).map_or(0, |(bucket, _)| *bucket));
            let max = buckets.last().map_or(0, |(bucket, _)| *bucket);
            parts.push(format!("{group} p50 {median} p90 {p90} max {max} (of {count})"));
        }
        Some(format!("totals over the sweep: {}", parts.join(", ")))
    }
}

/// How to run a sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Worker threads (at least one is used).
    pub jobs: usize,
    /// Every option but the seed.
    pub template: RunOptions,
    /// Start no new seed after the first failure.
    pub fail_fast: bool,
    /// Keep the reports of passing runs too (otherwise only failures are kept, so that a sweep of
    /// millions of seeds stays small in memory).
    pub keep_passing: bool,
}

impl SweepReport {
    /// The failed runs.
    pub fn failures(&self) -> impl Iterator<Item = &RunReport> {
        self.reports.iter().filter(|report| !report.outcome.passed())
    }
}

/// Runs `scenario` for every seed in `seeds` on `jobs` threads, keeping every report. `template`
/// supplies every option but the seed. `progress` is called after each run with (runs done,
/// failures so far, the report). With `fail_fast`, no new seed starts after the first failure.
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
) -> Result<SweepReport, ScenarioError> {
    let options = SweepOptions { jobs, template: template.clone(), fail_fast, keep_passing: true };
    sweep_with(scenario, seeds, &options, progress)
}

/// Runs `scenario` for every seed in `seeds` as `options` say; see [`sweep`].
///
/// # Errors
/// Invalid options (reported by the first run).
pub fn sweep_with(
    scenario: &dyn Scenario,
    seeds: &[u64],
    options: &SweepOptions,
    progress: &(dyn Fn(u64, u64, &RunReport) + Sync),
) -> Result<SweepReport, ScenarioError> {
    // Check the options once, before any thread starts.
    resolve_options(scenario, &RunOptions { seed: seeds.first().copied().unwrap_or(0), ..options.template.clone() })?;
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let collected: Mutex<SweepReport> = Mutex::new(SweepReport::default());
    let error: Mutex<Option<ScenarioError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&seed) = seeds.get(index) else { break };
                    let run_options = RunOptions { seed, ..options.template.clone() };
                    match run_guarded(scenario, &run_options) {
                        Ok(mut report) => {
                            report.trace = None;
                            let passed = report.outcome.passed();
                            let failures = if passed {
                                failed.load(Ordering::Relaxed)
                            } else {
                                if options.fail_fast {
                                    stop.store(true, Ordering::Relaxed);
                                }
                                failed.fetch_add(1, Ordering::Relaxed) + 1
                            };
                            let runs = done.fetch_add(1, Ordering::Relaxed) + 1;
                            progress(runs, failures, &report);
                            let mut collected = collected.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            collected.runs += 1;
                            collected.failed += u64::from(!passed);
                            collected.coverage.merge(&report.coverage);
                            collected.summary.add(&report);
                            for (name, value) in &report.tallies {
                                *collected.tallies.entry(name).or_default() += value;
                            }
                            if options.keep_passing || !passed {
                                collected.reports.push(report);
                            }
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
    let mut report = collected.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    report.reports.sort_by_key(|report| report.seed);
    report.summary.expect(&scenario.probes(), &scenario.buggify_sites());
    Ok(report)
}

/// Runs `options` twice and checks that both runs leave the same trace hash and outcome. When they
/// do not, two more runs keep their traces, and the error names the first record where they differ
/// (a `HashMap` iterated, a clock read, a thread: whatever leaked, it shows first there).
///
/// # Errors
/// A description of the difference, or invalid options.
pub fn determinism_check(scenario: &dyn Scenario, options: &RunOptions) -> Result<RunReport, DeterminismError> {
    let first = run_guarded(scenario, options)?;
    let second = run_guarded(scenario, options)?;
    let hash = |report: &RunReport| report.trace_hash.map_or_else(|| "none".to_owned(), |hash| hash.to_string());
    if first.trace_hash != second.trace_hash || first.trace_len != second.trace_len {
        return Err(DeterminismError::Diverged {
            scenario: scenario.name().to_owned(),
            seed: options.seed,
            first: hash(&first),
            first_records: first.trace_len,
            second: hash(&second),
            second_records: second.trace_len,
            first_difference: first_difference(scenario, options)?,
        });
    }
    if first.outcome != second.outcome {
        return Err(DeterminismError::OutcomesDiffer { scenario: scenario.name().to_owned(), seed: options.seed });
    }
    Ok(first)
}

/// Runs `options` twice more with traces kept and describes the first record where they differ.
fn first_difference(scenario: &dyn Scenario, options: &RunOptions) -> Result<Option<String>, DeterminismError> {
    let kept = RunOptions { keep_trace: true, ..options.clone() };
    let first = run_guarded(scenario, &kept)?.trace.unwrap_or_default();
    let second = run_guarded(scenario, &kept)?.trace.unwrap_or_default();
    let differing = (0..first.len().max(second.len())).find(|&index| first.get(index) != second.get(index));
    Ok(differing.map(|index| {
        let describe = |record: Option<&pangea_sim::TraceRecord>| {
            record.map_or_else(|| "(the trace had ended)".to_owned(), ToString::to_string)
        };
        format!(
            "first difference at trace record {index}:\n  first run:  {}\n  second run: {}",
            describe(first.get(index)),
            describe(second.get(index))
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_scenario::TestScenario;

    #[test]
    fn tallies_read_as_shares_and_histograms() {
        let mut report = SweepReport::default();
        for (name, total) in [
            ("dht.found", 99.0),
            ("dht.found.out_of", 100.0),
            ("dht.hops#1", 50.0),
            ("dht.hops#2", 45.0),
            ("dht.hops#4", 5.0),
        ] {
            report.tallies.insert(name, total);
        }
        assert_eq!(
            report.render_tallies().as_deref(),
            Some("totals over the sweep: dht.found 99 of 100 (99.00%), dht.hops p50 1 p90 2 max 4 (of 100)")
        );
    }
    use pangea_core::Instant;
    use pangea_sim::{FaultPlan, TraceHash, TraceKind, TraceRecord};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A run with a leak: its third trace record carries `leaked`, which changes from run to run
    /// as a `HashMap`'s order or a clock reading would.
    fn leaky_run(options: &RunOptions, leaked: u64) -> RunReport {
        let record =
            |millis: u64, kind| TraceRecord { at: Instant::from_nanos(millis * 1_000_000), node: Some(0), kind };
        let trace = vec![
            record(0, TraceKind::Start { incarnation: 1 }),
            record(5, TraceKind::Timer { id: 1 }),
            record(7, TraceKind::Timer { id: 100 + leaked }),
        ];
        RunReport {
            scenario: "leaky".into(),
            seed: options.seed,
            nodes: 1,
            trace_hash: Some(TraceHash([u8::try_from(leaked % 256).unwrap_or(0); 32])),
            trace_len: 3,
            trace: options.keep_trace.then_some(trace),
            plan: FaultPlan::none(0),
            ..RunReport::default()
        }
    }

    #[test]
    fn a_leak_is_reported_at_the_first_record_that_differs() {
        let runs = AtomicU64::new(0);
        let leaky = TestScenario::new("leaky", |options: &RunOptions| {
            Ok(leaky_run(options, runs.fetch_add(1, Ordering::Relaxed)))
        });
        let error = determinism_check(&leaky, &RunOptions::seed(3)).unwrap_err();
        let DeterminismError::Diverged { first_difference: Some(difference), .. } = &error else {
            panic!("not a divergence with its record: {error}");
        };
        assert!(difference.starts_with("first difference at trace record 2:"), "{difference}");
        assert!(difference.contains("0.007000s n0   timer #102") && difference.contains("timer #103"), "{difference}");
        assert!(error.to_string().contains("timer #102"), "the message shows it: {error}");
        let health = crate::find("health").unwrap();
        assert!(determinism_check(health, &RunOptions { nodes: Some(3), ..RunOptions::seed(1) }).is_ok());
    }
}

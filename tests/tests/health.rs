//! The `health` scenario as a cargo test: a short sweep in the default run, a long one behind
//! `--ignored`. Set `PANGEA_SEED` to run a single seed.

use pangea_scenarios::{RunOptions, RunReport, find, run_guarded, sweep};

fn failures_of(seeds: &[u64], nodes: Option<u32>) -> Vec<RunReport> {
    let health = find("health").expect("health is registered");
    let template = RunOptions { nodes, ..RunOptions::default() };
    let report = sweep(health, seeds, 2, &template, false, &|_, _, _| {}).expect("valid options");
    assert_eq!(report.reports.len(), seeds.len());
    report.failures().cloned().collect()
}

fn assert_all_pass(failures: &[RunReport]) {
    if let Some(first) = failures.first() {
        panic!("{} seeds failed; the first:\n{}", failures.len(), first.render());
    }
}

#[test]
fn health_passes_a_short_sweep() {
    if let Some(seed) = std::env::var("PANGEA_SEED").ok().and_then(|text| text.parse().ok()) {
        let report = run_guarded(find("health").unwrap(), &RunOptions::seed(seed)).unwrap();
        assert!(report.outcome.passed(), "{}", report.render());
        return;
    }
    let seeds: Vec<u64> = (0..300).collect();
    assert_all_pass(&failures_of(&seeds, None));
}

#[test]
fn health_passes_with_small_and_large_clusters() {
    let seeds: Vec<u64> = (1000..1040).collect();
    assert_all_pass(&failures_of(&seeds, Some(2)));
    assert_all_pass(&failures_of(&seeds, Some(3)));
    assert_all_pass(&failures_of(&seeds[..10], Some(16)));
}

#[test]
#[ignore = "long sweep: cargo test -p pangea-tests --test health -- --ignored"]
fn health_passes_a_long_sweep() {
    let seeds: Vec<u64> = (0..20_000).collect();
    assert_all_pass(&failures_of(&seeds, None));
}

#[test]
fn a_run_reports_convergence_and_its_plan() {
    let report = find("health").unwrap().run(&RunOptions::seed(1)).unwrap();
    assert!(report.outcome.passed(), "{}", report.render());
    let text = report.render();
    assert!(text.contains("all nodes saw all others alive"), "{text}");
    assert!(text.contains("faults:"), "{text}");
    assert!(report.stats.delivered > 0);
}

#[test]
fn invalid_options_are_errors_not_panics() {
    let health = find("health").unwrap();
    assert!(health.run(&RunOptions { nodes: Some(1), ..RunOptions::seed(0) }).is_err());
    assert!(health.run(&RunOptions { nodes: Some(10_000), ..RunOptions::seed(0) }).is_err());
    let error = health.run(&RunOptions { planted: Some("no-such-bug".into()), ..RunOptions::seed(0) }).unwrap_err();
    assert!(error.contains("no-such-bug") || error.contains("planted"), "{error}");
}

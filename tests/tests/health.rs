//! The `health` scenario as cargo tests, through [`pangea_scenarios::check`]: short sweeps in the
//! default run, a long one behind `--ignored`. `PANGEA_SEED=17` runs one seed, `PANGEA_SEEDS=0..5000`
//! another range; a failure prints the seed's report and the command that replays it.

use pangea_scenarios::health::{health_config, run_health};
use pangea_scenarios::{RunOptions, ScenarioError, check, find};

#[test]
fn health_passes_a_short_sweep() {
    check("health").seeds(0..300).run();
}

#[test]
fn health_passes_with_small_and_large_clusters() {
    check("health").seeds(1000..1040).nodes(2).run();
    check("health").seeds(1000..1040).nodes(3).run();
    check("health").seeds(1000..1010).nodes(16).run();
    check("health").seeds(1000..1004).nodes(64).run();
}

#[test]
fn health_passes_under_single_kinds_of_fault() {
    for faults in ["none", "crash", "partition", "pause", "drop,duplicate,reorder,corrupt", "buggify,disk"] {
        check("health").seeds(2000..2020).faults(faults).run();
    }
}

#[test]
#[ignore = "long sweep: cargo test --release -p pangea-tests --test health -- --ignored"]
fn health_passes_a_long_sweep() {
    check("health").seeds(0..20_000).run();
}

#[test]
#[ignore = "long sweep (~1 minute): cargo test --release -p pangea-tests --test health -- --ignored"]
fn health_passes_hundreds_of_seeds_at_64_nodes() {
    check("health").seeds(0..300).nodes(64).run();
}

#[test]
#[ignore = "long sweep (~1 hour on 2 cores): cargo test --release -p pangea-tests --test health -- --ignored"]
fn health_passes_hundreds_of_seeds_at_1000_nodes() {
    check("health").seeds(0..200).nodes(1000).run();
}

#[test]
#[ignore = "one huge run, ~10 minutes and ~16 GB: \
            cargo test --release -p pangea-tests --test health -- --ignored health_runs_at_10000_nodes"]
fn health_runs_at_10000_nodes() {
    let options = RunOptions { nodes: Some(10_000), ..RunOptions::seed(0) };
    let (report, _) = run_health(&options, health_config()).unwrap();
    assert!(report.outcome.passed(), "{}", report.render());
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
    for nodes in [1, 1001] {
        let options = RunOptions { nodes: Some(nodes), ..RunOptions::seed(0) };
        let error = pangea_scenarios::run_guarded(health, &options).unwrap_err();
        assert!(matches!(error, ScenarioError::NodeCount { least: 2, most: 1000, .. }), "{error}");
        assert_eq!(error.to_string(), format!("health runs with 2 to 1000 nodes, not {nodes}"));
    }
    let error = health.run(&RunOptions { planted: Some("no-such-bug".into()), ..RunOptions::seed(0) }).unwrap_err();
    // Without the feature nothing can be planted; with it, the name is unknown.
    assert!(
        matches!(&error, ScenarioError::PlantingNotBuilt { bug } | ScenarioError::UnknownBug { bug, .. } if bug == "no-such-bug"),
        "{error}"
    );
}

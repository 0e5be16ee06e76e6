//! Determinism guard: every scenario, one seed run twice, must leave the same trace hash and outcome;
//! different seeds must not collide.

use pangea_scenarios::{RunOptions, determinism_check, find, scenarios};
use std::collections::BTreeMap;

/// Seeds checked in the default run (each runs twice): `default` unless `PANGEA_DETERMINISM_SEEDS`
/// asks for a longer check.
fn seed_count(default: u64) -> u64 {
    std::env::var("PANGEA_DETERMINISM_SEEDS").ok().and_then(|text| text.parse().ok()).unwrap_or(default)
}

/// Runs `scenario` twice on each of `seeds` seeds; requires equal hashes and outcomes, and distinct
/// hashes across seeds.
fn assert_deterministic(scenario: &dyn pangea_scenarios::Scenario, seeds: u64) {
    let mut seen = BTreeMap::new();
    for seed in 0..seeds {
        let report = determinism_check(scenario, &RunOptions::seed(seed)).unwrap_or_else(|error| panic!("{error}"));
        let hash = report.trace_hash.expect("the run completed");
        if let Some(other) = seen.insert(hash, seed) {
            panic!("{}: seeds {other} and {seed} gave the same trace hash {hash}", scenario.name());
        }
    }
}

#[test]
fn health_is_deterministic_over_many_seeds() {
    assert_deterministic(find("health").expect("health is registered"), seed_count(100));
}

/// Scenarios of many nodes (over [`LARGE_NODES`] by default, the DHT's) run two seeds here (twice
/// each): a run takes seconds, and their long sweeps run from `pangea-sim` (see the README).
const LARGE_NODES: u32 = 64;

#[test]
fn every_scenario_is_deterministic_over_a_sample_of_seeds() {
    for scenario in scenarios() {
        let seeds = if scenario.default_nodes() > LARGE_NODES { 2 } else { 25 };
        assert_deterministic(scenario, seed_count(seeds));
    }
}

#[test]
fn node_count_changes_the_run() {
    let health = find("health").expect("health is registered");
    let five = health.run(&RunOptions::seed(3)).unwrap();
    let three = health.run(&RunOptions { nodes: Some(3), ..RunOptions::seed(3) }).unwrap();
    assert_ne!(five.trace_hash, three.trace_hash);
}

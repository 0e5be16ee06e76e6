//! Determinism guard: one seed, run twice, must leave the same trace hash; different seeds must not.

use pangea_scenarios::{RunOptions, determinism_check, find};
use std::collections::BTreeMap;

/// Seeds of `health` checked in the default test run (each runs twice). `PANGEA_DETERMINISM_SEEDS`
/// raises it for a longer check.
fn seed_count() -> u64 {
    std::env::var("PANGEA_DETERMINISM_SEEDS").ok().and_then(|text| text.parse().ok()).unwrap_or(100)
}

#[test]
fn health_is_deterministic_over_many_seeds() {
    let health = find("health").expect("health is registered");
    let mut seen = BTreeMap::new();
    for seed in 0..seed_count() {
        let report = determinism_check(health, &RunOptions::seed(seed)).unwrap_or_else(|error| panic!("{error}"));
        let hash = report.trace_hash.expect("the run completed");
        if let Some(other) = seen.insert(hash, seed) {
            panic!("seeds {other} and {seed} gave the same trace hash {hash}");
        }
    }
}

#[test]
fn node_count_changes_the_run() {
    let health = find("health").expect("health is registered");
    let five = health.run(&RunOptions::seed(3)).unwrap();
    let three = health.run(&RunOptions { nodes: Some(3), ..RunOptions::seed(3) }).unwrap();
    assert_ne!(five.trace_hash, three.trace_hash);
}

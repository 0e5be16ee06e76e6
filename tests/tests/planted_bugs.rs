//! Planted bugs must be caught. Only with `--features planted-bugs`:
//! `cargo test -p pangea-tests --features planted-bugs --test planted_bugs`.
#![cfg(feature = "planted-bugs")]

use pangea_scenarios::{FailureKind, Outcome, RunOptions, find, sweep};

#[test]
fn never_marking_peers_dead_is_caught_on_most_seeds() {
    let health = find("health").unwrap();
    let seeds: Vec<u64> = (0..100).collect();
    let planted = RunOptions { planted: Some("never-dead".into()), ..RunOptions::default() };
    let report = sweep(health, &seeds, 2, &planted, false, &|_, _, _| {}).unwrap();
    let failures: Vec<_> = report.failures().collect();
    assert!(failures.len() >= 60, "only {} of 100 seeds caught the planted bug", failures.len());
    for failure in &failures {
        let Outcome::Fail { kind, violations } = &failure.outcome else { unreachable!() };
        assert_eq!(*kind, FailureKind::Correctness);
        let first = &violations[0];
        assert_eq!(first.checker, "completeness");
        assert!(first.node.is_some(), "the violation names no node: {first}");
        assert!(first.to_string().contains(" at ") && first.message.contains("still sees"), "{first}");
        assert!(failure.replay_command().contains("--plant never-dead"));
    }
    // The same seeds without the bug pass: the checker accuses the bug, not the faults.
    let clean = sweep(health, &seeds, 2, &RunOptions::default(), false, &|_, _, _| {}).unwrap();
    assert_eq!(clean.failures().count(), 0);
}

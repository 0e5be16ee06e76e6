//! Planted bugs must be caught, shrunk and replayed. Only with `--features planted-bugs`:
//! `cargo test -p pangea-tests --features planted-bugs --test planted_bugs`.
#![cfg(feature = "planted-bugs")]

use pangea_scenarios::replay::ReplayFile;
use pangea_scenarios::shrink::ShrinkOptions;
use pangea_scenarios::{CheckError, FailureKind, Outcome, RunOptions, check, find, shrink, sweep};

fn never_dead(seed: u64) -> RunOptions {
    RunOptions { planted: Some("never-dead".into()), ..RunOptions::seed(seed) }
}

#[test]
fn never_marking_peers_dead_is_caught_on_most_seeds() {
    let health = find("health").unwrap();
    let seeds: Vec<u64> = (0..100).collect();
    let report = sweep(health, &seeds, 2, &never_dead(0), false, &|_, _, _| {}).unwrap();
    let failures: Vec<_> = report.failures().collect();
    assert!(failures.len() >= 60, "only {} of 100 seeds caught the planted bug", failures.len());
    for failure in &failures {
        let Outcome::Fail { kind, violations } = &failure.outcome else { unreachable!() };
        assert_eq!(*kind, FailureKind::Correctness);
        let first = &violations[0];
        assert!(["completeness", "suspicion-ends"].contains(&first.checker), "{first}");
        assert!(first.node.is_some(), "the violation names no node: {first}");
        assert!(
            first.to_string().contains(" at ")
                && (first.message.contains("still sees") || first.message.contains("has suspected")),
            "{first}"
        );
        assert!(failure.replay_command().contains("--plant never-dead"));
        assert!(failure.render().contains("faults active at"), "{}", failure.render());
    }
    // The same seeds without the bug pass: the checker accuses the bug, not the faults.
    let clean = sweep(health, &seeds, 2, &RunOptions::default(), false, &|_, _, _| {}).unwrap();
    assert_eq!(clean.failures().count(), 0);
}

#[test]
fn a_failing_check_names_the_seed_and_the_replay_command() {
    let Err(CheckError::Failed(message)) = check("health").plant("never-dead").seeds(0..10).try_run() else {
        panic!("the planted bug was not caught");
    };
    assert!(
        (message.contains("[completeness]") || message.contains("[suspicion-ends]"))
            && message.contains("replay: cargo run"),
        "{message}"
    );
    assert!(message.contains("--plant never-dead --expect-hash"), "{message}");
}

/// The shrink target: the median failing seed shrinks to at most a third of its trace records and
/// every one to at most two thirds, each failing the same checker, with a replay file that
/// reproduces the shrunk run exactly.
#[test]
fn shrunk_failures_are_small_and_replay_exactly() {
    let health = find("health").unwrap();
    let mut kept_per_mille = Vec::new();
    for seed in 0..12 {
        let Ok(outcome) = shrink(health, &never_dead(seed), ShrinkOptions::default(), &mut |_| {}) else {
            continue; // this seed passes
        };
        let (before, after) = (outcome.original.trace_len, outcome.shrunk.trace_len);
        kept_per_mille.push(after * 1000 / before);
        // A third, not a quarter: under SWIM the failure needs a suspicion to outlive its longest
        // timeout (about 12 s of probes and gossip that no shrinking can remove). Two thirds for
        // the worst seed: seed 10 first fails at 42.7 s and keeps 65%, since the shrinker cannot
        // move its faults earlier (the failure is not monotone in the shift; issue 18's work).
        assert!(after * 3 <= before * 2, "seed {seed}: {before} -> {after} trace records");
        // Events, which count idle timers the trace leaves out, shrink less: at most half.
        assert!(outcome.shrunk.stats.events * 2 <= outcome.original.stats.events, "seed {seed}");
        let first = outcome.shrunk.first_violation().expect("still fails");
        let original = outcome.original.first_violation().expect("failed");
        assert_eq!((first.kind, first.checker), (FailureKind::Correctness, original.checker));

        let file = ReplayFile::parse(&outcome.replay_file().to_json()).unwrap();
        assert_eq!(file.shrunk_from.map(|size| size.trace_records), Some(before));
        let verdict = file.replay(Some("shrunk.json"), false).unwrap();
        assert!(verdict.reproduced(), "seed {seed}: {}", verdict.summary(file.trace_hash.as_deref()));
        assert_eq!(verdict.exit_code(), 1);
    }
    assert!(kept_per_mille.len() >= 6, "only {} of 12 seeds failed", kept_per_mille.len());
    kept_per_mille.sort_unstable();
    let median = kept_per_mille[kept_per_mille.len() / 2];
    assert!(median * 3 <= 1000, "the median seed keeps {median}‰ of its trace records: {kept_per_mille:?}");
}

/// The membership bugs that a run's checkers catch, the node count, and the most seeds that may pass
/// before one is caught. (`no-indirect-probes` shows in the sweep's accuracy instead: see
/// `indirect_probes_planted_away_break_the_accuracy_ceiling`.)
const MEMBERSHIP_BUGS: [(&str, u32, u64); 3] =
    [("never-dead", 5, 20), ("ignore-refutation", 5, 20), ("dissemination-stops-early", 64, 30)];

#[test]
fn every_planted_membership_bug_is_caught_within_its_bound() {
    let health = find("health").unwrap();
    for (bug, nodes, bound) in MEMBERSHIP_BUGS {
        let seeds: Vec<u64> = (0..bound).collect();
        let planted = RunOptions { planted: Some(bug.to_owned()), nodes: Some(nodes), ..RunOptions::default() };
        let report = sweep(health, &seeds, 2, &planted, true, &|_, _, _| {}).unwrap();
        let failure = report.failures().next().unwrap_or_else(|| panic!("{bug} passed {bound} seeds at {nodes} nodes"));
        assert!(failure.replay_command().contains(&format!("--plant {bug}")));
    }
}

#[test]
fn indirect_probes_planted_away_break_the_accuracy_ceiling() {
    use pangea_scenarios::health::FALSE_SUSPICIONS_PER_NODE_HOUR_SWEEP_MAX;
    let health = find("health").unwrap();
    let seeds: Vec<u64> = (0..300).collect();
    let template = RunOptions { planted: Some("no-indirect-probes".into()), ..RunOptions::default() };
    let options = pangea_scenarios::SweepOptions { jobs: 2, template, ..Default::default() };
    let report = pangea_scenarios::sweep_with(health, &seeds, &options, &|_, _, _| {}).unwrap();
    let rate = report.tallies["false_suspicions"] / report.tallies["node_hours"];
    assert!(rate > FALSE_SUSPICIONS_PER_NODE_HOUR_SWEEP_MAX, "{rate:.2} false suspicions per node-hour");
}

/// Each planted bug of the replicated log, the scenario that catches it, and the most seeds that
/// may pass before it is caught.
const LOG_BUGS: [(&str, &str, u64); 10] = [
    ("quorum-too-small", "log-swarm", 50),
    ("skip-sync", "log-crashes", 100),
    ("accept-lower-ballot", "log-swarm", 300),
    ("forget-promise", "log-swarm", 1_500),
    ("apply-retry-twice", "log-swarm", 100),
    ("stale-read", "log-swarm", 100),
    ("election-ignores-new-config", "log-membership", 300),
    ("uncapped-catch-up", "log-crashes", 200),
    ("ignore-poisoned-storage", "log-crashes", 100),
    ("read-index-skips-recovered", "log-swarm", 100),
];

#[test]
fn every_planted_log_bug_is_caught_within_its_bound() {
    for (bug, scenario, bound) in LOG_BUGS {
        let scenario = find(scenario).unwrap();
        let seeds: Vec<u64> = (0..bound).collect();
        let planted = RunOptions { planted: Some(bug.to_owned()), ..RunOptions::default() };
        let report = sweep(scenario, &seeds, 2, &planted, true, &|_, _, _| {}).unwrap();
        let failure =
            report.failures().next().unwrap_or_else(|| panic!("{bug} passed {bound} seeds of {}", scenario.name()));
        let Outcome::Fail { violations, .. } = &failure.outcome else { unreachable!() };
        assert!(!violations.is_empty());
        assert!(failure.replay_command().contains(&format!("--plant {bug}")));
        if bug == "uncapped-catch-up" {
            // Caught by the kernel's message budget, naming the message and the sizes.
            let first = &violations[0];
            assert_eq!(first.checker, "message-budget", "{first}");
            assert!(first.message.contains("LogMessage") && first.message.contains("over its budget"), "{first}");
        }
    }
}

/// The figures of the closing note: per bug, the first failing seed, and the median number of seeds
/// run before the first failure over 20 sweeps of disjoint seed ranges.
#[test]
#[ignore = "statistics: cargo test --release -p pangea-tests --features planted-bugs --test planted_bugs -- --ignored --nocapture"]
fn planted_log_bug_statistics() {
    use pangea_scenarios::run_guarded;
    for (bug, scenario, bound) in LOG_BUGS {
        let scenario = find(scenario).unwrap();
        let mut to_failure = Vec::new();
        for sweep in 0..20_u64 {
            let base = sweep * 1_000_000;
            let found = (0..bound * 4).find(|offset| {
                let options =
                    RunOptions { seed: base + offset, planted: Some(bug.to_owned()), ..RunOptions::default() };
                !run_guarded(scenario, &options).unwrap().outcome.passed()
            });
            to_failure.push(found.map_or(u64::MAX, |offset| offset + 1));
        }
        let first = to_failure[0];
        to_failure.sort_unstable();
        let median = (to_failure[9] + to_failure[10]) / 2;
        println!(
            "{bug:>20} on {:<14} first failing seed {:>5}, median seeds to failure {median}",
            scenario.name(),
            first - 1
        );
    }
}

/// Each planted bug of the object store, the scenario that catches it, the most seeds that may pass
/// before it is caught, and the checker that must catch it.
const OBJECT_BUGS: [(&str, &str, u64, &str); 3] = [
    ("manifest-before-quorum", "objects-crashes", 5, "durable-at-ack"),
    ("repair-trusts-shard", "objects-corruption", 20, "convergence"),
    ("nonce-reuse", "objects-crashes", 5, "distinct-keystreams"),
];

#[test]
fn every_planted_object_bug_is_caught_by_its_checker_within_its_bound() {
    for (bug, scenario, bound, checker) in OBJECT_BUGS {
        let scenario = find(scenario).unwrap();
        let seeds: Vec<u64> = (0..bound).collect();
        let planted = RunOptions { planted: Some(bug.to_owned()), ..RunOptions::default() };
        let report = sweep(scenario, &seeds, 2, &planted, true, &|_, _, _| {}).unwrap();
        let failure =
            report.failures().next().unwrap_or_else(|| panic!("{bug} passed {bound} seeds of {}", scenario.name()));
        let Outcome::Fail { violations, .. } = &failure.outcome else { unreachable!() };
        assert!(violations.iter().any(|violation| violation.checker == checker), "{bug}: {violations:?}");
        assert!(failure.replay_command().contains(&format!("--plant {bug}")));
    }
}

/// Each planted bug of the DHT, the scenario that catches it, the most seeds that may pass before
/// it is caught, the node count, and the checker that must catch it.
const DHT_BUGS: [(&str, &str, u64, u32, &str); 2] = [
    ("evict-without-ping", "dht-churn", 2, 64, "no-live-contact-evicted"),
    ("stop-at-first-stall", "dht-scale", 2, 200, "lookups-find-live-nodes"),
];

#[test]
fn every_planted_dht_bug_is_caught_by_its_checker_within_its_bound() {
    for (bug, scenario, bound, nodes, checker) in DHT_BUGS {
        let scenario = find(scenario).unwrap();
        let seeds: Vec<u64> = (0..bound).collect();
        let planted = RunOptions { planted: Some(bug.to_owned()), nodes: Some(nodes), ..RunOptions::default() };
        let report = sweep(scenario, &seeds, 2, &planted, true, &|_, _, _| {}).unwrap();
        let failure =
            report.failures().next().unwrap_or_else(|| panic!("{bug} passed {bound} seeds of {}", scenario.name()));
        let Outcome::Fail { violations, .. } = &failure.outcome else { unreachable!() };
        assert!(violations.iter().any(|violation| violation.checker == checker), "{bug}: {violations:?}");
        assert!(failure.replay_command().contains(&format!("--plant {bug}")));
    }
}

/// Each planted bug of the graph and the event store, the scenario that catches it, the most seeds
/// that may pass before it is caught, and the checkers any of which may catch it.
const METADATA_PART_BUGS: [(&str, &str, u64, &[&str]); 4] = [
    ("remove-keeps-edges", "graph-swarm", 2, &["linearizability", "state-machine", "convergence"]),
    ("snapshot-drops-pheromone", "graph-swarm", 3, &["state-machine", "linearizability", "convergence"]),
    ("snapshot-forgets-next-id", "events-swarm", 3, &["state-machine", "event-ids", "linearizability", "convergence"]),
    ("retire-newest", "events-swarm", 2, &["acknowledged-events-kept"]),
];

#[test]
fn every_planted_graph_and_event_bug_is_caught_within_its_bound() {
    for (bug, scenario, bound, checkers) in METADATA_PART_BUGS {
        let scenario = find(scenario).unwrap();
        let seeds: Vec<u64> = (0..bound).collect();
        let planted = RunOptions { planted: Some(bug.to_owned()), ..RunOptions::default() };
        let report = sweep(scenario, &seeds, 2, &planted, true, &|_, _, _| {}).unwrap();
        let failure =
            report.failures().next().unwrap_or_else(|| panic!("{bug} passed {bound} seeds of {}", scenario.name()));
        let Outcome::Fail { violations, .. } = &failure.outcome else { unreachable!() };
        assert!(violations.iter().any(|violation| checkers.contains(&violation.checker)), "{bug}: {violations:?}");
        assert!(failure.replay_command().contains(&format!("--plant {bug}")));
    }
}

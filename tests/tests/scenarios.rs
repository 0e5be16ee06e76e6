//! Every registered scenario, as cargo tests: a short sweep each, and the harness around them
//! (replay files reproduce their runs, sweeps cover the faults they should). New scenarios are
//! picked up from the registry without touching this file.

use pangea_scenarios::replay::ReplayFile;
use pangea_scenarios::{RunOptions, check, run_guarded, scenarios};

/// Seeds per scenario in the default run; `PANGEA_SEEDS` / `PANGEA_SEED` override it.
const SEEDS: u64 = 30;

/// Scenarios of many nodes (over this by default, the DHT's) sweep [`LARGE_SEEDS`] seeds here: a
/// run takes seconds, and their long sweeps run from `pangea-sim` (see the README).
const LARGE_NODES: u32 = 64;
/// Seeds of a large scenario in the short sweep.
const LARGE_SEEDS: u64 = 2;

#[test]
fn every_scenario_passes_a_short_sweep() {
    for scenario in scenarios() {
        let seeds = if scenario.default_nodes() > LARGE_NODES { LARGE_SEEDS } else { SEEDS };
        let report = check(scenario.name()).seeds(0..seeds).run();
        assert!(report.runs >= 1);
    }
}

#[test]
fn every_scenario_replays_from_a_file_with_the_same_hash() {
    for scenario in scenarios() {
        let seeds: &[u64] = if scenario.default_nodes() > LARGE_NODES { &[3] } else { &[3, 4] };
        for &seed in seeds {
            let report = run_guarded(scenario, &RunOptions::seed(seed)).unwrap();
            let file = ReplayFile::parse(&ReplayFile::from_report(&report).to_json()).unwrap();
            let verdict = file.replay(None, false).unwrap();
            assert!(verdict.reproduced(), "{} seed {seed}: {}", scenario.name(), verdict.summary(None));
            assert_eq!(verdict.report.trace_hash, report.trace_hash);
        }
    }
}

#[test]
fn a_sweep_covers_every_kind_of_fault_and_says_what_it_missed() {
    // 400 seeds: the one-member log of `health` reaches its rarest buggify site a few times in 400.
    let report = check("health").seeds(0..400).run();
    let summary = &report.summary;
    assert_eq!(summary.runs, 400);
    assert_eq!(summary.faults_never_applied(None), Vec::<&str>::new(), "{}", summary.render(None));
    assert!(!summary.buggify.is_empty() && summary.buggify_never_fired().is_empty(), "{}", summary.render(None));
    let text = summary.render(None);
    assert!(text.contains("crash") && text.contains("membership.peer_suspected"), "{text}");
}

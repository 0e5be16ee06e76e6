//! The register under the simulator, through Pangea's public API only: its sweep passes; with a
//! bug planted the sweep fails, the failure replays with the same trace hash and shrinks to at
//! most a quarter of its events; and a planted determinism leak is pinpointed.

use pangea_example_register::{REGISTER, registry};
use pangea_scenarios::{check_in, check_scenario};

#[test]
fn the_register_passes_a_sweep_at_every_size() {
    let registry = registry().expect("distinct names");
    check_in(&registry, "register").seeds(0..40).determinism(3).run();
    check_scenario(&REGISTER).seeds(100..110).nodes(1).run();
    check_scenario(&REGISTER).seeds(200..210).nodes(7).run();
}

#[cfg(feature = "planted-bugs")]
mod planted {
    use super::*;
    use pangea_scenarios::replay::RunSize;
    use pangea_scenarios::{
        DeterminismError, ReplayFile, RunOptions, ShrinkOptions, SweepOptions, determinism_check, shrink, sweep_with,
    };

    #[test]
    fn a_write_answered_after_one_copy_is_found_replayed_and_shrunk() {
        let registry = registry().expect("distinct names");
        let planted = RunOptions { planted: Some("write-one-copy".to_owned()), ..RunOptions::default() };
        let options = SweepOptions { jobs: 2, template: planted, fail_fast: true, keep_passing: false };
        let seeds: Vec<u64> = (0..50).collect();
        let sweep = sweep_with(&REGISTER, &seeds, &options, &|_, _, _| {}).expect("the sweep runs");
        let failure = sweep.failures().min_by_key(|report| report.seed).cloned().expect("the sweep finds the bug");
        let first = failure.first_violation().expect("a failure");
        assert_eq!(first.checker, "linearizability", "{}", failure.render());
        assert!(
            failure.replay_command().contains("-p pangea-example-register --features planted-bugs --bin register-sim")
        );

        let file = ReplayFile::from_report(&failure);
        let verdict = file.replay_in(&registry, None, false).expect("replays");
        assert!(verdict.reproduced(), "same hash and failure: {}", verdict.report.render());

        let options = RunOptions { planted: Some("write-one-copy".to_owned()), ..RunOptions::seed(failure.seed) };
        let shrunk = shrink(&REGISTER, &options, ShrinkOptions::default(), &mut |_| {}).expect("shrinks");
        let (before, after) = (RunSize::of(&shrunk.original), RunSize::of(&shrunk.shrunk));
        assert!(after.events * 4 <= before.events, "shrunk from {before} to {after}");
        let shrunk_file = shrunk.replay_file();
        assert!(shrunk_file.replay_in(&registry, None, false).expect("replays").reproduced());
    }

    #[test]
    fn a_planted_determinism_leak_is_pinpointed() {
        let leak = (0..20).find_map(|seed| {
            let options = RunOptions { planted: Some("resend-in-hash-order".to_owned()), ..RunOptions::seed(seed) };
            determinism_check(&REGISTER, &options).err()
        });
        match leak {
            Some(DeterminismError::Diverged { first_difference: Some(difference), .. }) => {
                assert!(difference.contains("send"), "the first difference is a send: {difference}");
            }
            other => panic!("the leak was not pinpointed: {other:?}"),
        }
    }
}

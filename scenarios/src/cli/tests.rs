//! The command line over a test's own registry, as a user crate's binary would run it, and the
//! commands a report prints for a scenario replayed by a program of its own.

use super::run_with_args;
use crate::error::ScenarioError;
use crate::registry::{Registry, Scenario};
use crate::report::{FailureKind, Outcome, ReplayProgram, RunOptions, RunReport, Violation};
use crate::test_scenario::{RunFn, TestScenario};
use pangea_core::Instant;
use pangea_sim::TraceHash;
use std::process::ExitCode;

/// The program that replays [`OWN`]'s runs.
const MY_PROGRAM: ReplayProgram =
    ReplayProgram { package: "my-crate", bin: "my-sim", planted_feature: Some("my-bugs") };

/// A user crate's scenario: one node, no faults; even seeds pass, odd seeds fail a correctness
/// checker. Its runs are replayed by [`MY_PROGRAM`].
static OWN: TestScenario<RunFn> = TestScenario { name: "own", run: own_run, program: MY_PROGRAM };

/// A run of [`OWN`].
fn own_run(options: &RunOptions) -> Result<RunReport, ScenarioError> {
    let violations = if options.seed % 2 == 1 {
        vec![Violation {
            involved: crate::report::Involved::default(),
            checker: "odd-seed",
            kind: FailureKind::Correctness,
            at: Instant::from_nanos(1_000_000),
            node: Some(0),
            message: "the seed is odd".to_owned(),
        }]
    } else {
        Vec::new()
    };
    Ok(RunReport {
        scenario: "own".to_owned(),
        seed: options.seed,
        nodes: 1,
        planted: options.planted.clone(),
        trace_hash: Some(TraceHash([u8::try_from(options.seed % 256).unwrap_or(0); 32])),
        outcome: Outcome::from_violations(violations),
        ..RunReport::default()
    })
}

/// A registry with a passing test scenario, `tiny`, and [`OWN`].
fn registry() -> Registry {
    let tiny = TestScenario::new("tiny", |options: &RunOptions| {
        Ok(RunReport { scenario: "tiny".to_owned(), seed: options.seed, nodes: 1, ..RunReport::default() })
    });
    let tiny: &'static dyn Scenario = Box::leak(Box::new(tiny));
    Registry::new().with(tiny).and_then(|registry| registry.with(&OWN)).expect("distinct, well-formed names")
}

#[test]
fn a_registry_of_its_own_runs_under_the_command_line() {
    let registry = registry();
    assert_eq!(run_with_args(&registry, ["my-sim", "list"]), ExitCode::SUCCESS);
    assert_eq!(run_with_args(&registry, ["my-sim", "run", "tiny", "--seed", "1"]), ExitCode::SUCCESS);
    assert_eq!(run_with_args(&registry, ["my-sim", "run", "own", "--seed", "2"]), ExitCode::SUCCESS);
    assert_eq!(run_with_args(&registry, ["my-sim", "run", "own", "--seed", "1"]), ExitCode::from(1), "a failure");
    assert_eq!(
        run_with_args(&registry, ["my-sim", "sweep", "own", "--seeds", "0..4", "--no-progress"]),
        ExitCode::from(1)
    );
    assert_eq!(run_with_args(&registry, ["my-sim", "determinism", "--all", "--seeds", "0..3"]), ExitCode::SUCCESS);
    assert_eq!(run_with_args(&registry, ["/usr/bin/my-sim", "--version"]), ExitCode::SUCCESS);
}

#[test]
fn names_outside_the_registry_and_bad_arguments_are_usage_errors() {
    let registry = registry();
    for args in [
        &["my-sim", "run", "health", "--seed", "1"][..],
        &["my-sim", "run", "no-such", "--seed", "1"],
        &["my-sim", "sweep", "tiny", "own", "nope", "--seeds", "0..2"],
        &["my-sim", "replay", "tiny"],
        &["my-sim", "frobnicate"],
        &["my-sim", "run", "tiny"],
    ] {
        assert_eq!(run_with_args(&registry, args), ExitCode::from(2), "{args:?}");
    }
    let unknown = super::scenario_named(&registry, "health").map(|_| ()).unwrap_err();
    assert_eq!(unknown.render(), "unknown scenario 'health' (known: tiny, own)");
}

#[test]
fn a_report_names_the_program_of_its_scenario() {
    let report = crate::run_guarded(&OWN, &RunOptions::seed(1)).unwrap();
    assert_eq!(report.program, MY_PROGRAM, "run_guarded fills in the scenario's program");
    let text = report.render();
    assert!(text.contains("replay: cargo run -q --release -p my-crate --bin my-sim -- replay own --seed 1"), "{text}");
    assert!(text.contains("shrink: cargo run -q --release -p my-crate --bin my-sim -- shrink own --seed 1"), "{text}");
    assert!(text.contains("trace:  cargo run -q --release -p my-crate --bin my-sim -- trace own --seed 1"), "{text}");

    let planted = RunOptions { planted: Some("bug".to_owned()), ..RunOptions::seed(1) };
    let report = crate::run_guarded(&OWN, &planted).unwrap();
    assert!(
        report.replay_command().starts_with("cargo run -q --release -p my-crate --features my-bugs --bin my-sim -- "),
        "{}",
        report.replay_command()
    );
    let featureless = RunReport { program: ReplayProgram { planted_feature: None, ..MY_PROGRAM }, ..report };
    assert_eq!(featureless.command_prefix(), "cargo run -q --release -p my-crate --bin my-sim --");

    // Pangea's own scenarios keep the commands they always printed.
    let builtin = RunReport { planted: Some("never-dead".to_owned()), ..RunReport::default() };
    assert_eq!(builtin.program, ReplayProgram::PANGEA_SIM);
    assert_eq!(
        builtin.command_prefix(),
        "cargo run -q --release -p pangea-scenarios --features planted-bugs --bin pangea-sim --"
    );
    let health = crate::run_guarded(crate::find("health").unwrap(), &RunOptions::seed(1)).unwrap();
    assert_eq!(health.program, ReplayProgram::PANGEA_SIM);
    assert_eq!(health.command_prefix(), "cargo run -q --release -p pangea-scenarios --bin pangea-sim --");
}

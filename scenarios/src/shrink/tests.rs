//! The shrinker on a toy scenario, and the plan transforms.

use super::*;
use crate::report::{Outcome, Violation};
use crate::test_scenario::{RunFn, TestScenario};
use pangea_core::{Duration, Instant};
use pangea_sim::{Fault, TimedFault};

/// A toy scenario that "fails" whenever its plan crashes node 1 for at least 300ms before 20s
/// (whatever else happens), so that shrinking can be checked without a planted bug.
struct Toy;

impl Scenario for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }
    fn description(&self) -> &'static str {
        "fails when n1 is crashed long enough"
    }
    fn default_nodes(&self) -> u32 {
        5
    }
    fn nodes_range(&self) -> (u32, u32) {
        (2, 9)
    }
    fn faults(&self) -> &'static str {
        "swarm"
    }
    fn plan(&self, seed: u64, nodes: u32) -> FaultPlan {
        let mut plan = FaultPlan::swarm(seed, nodes, Duration::from_secs(60));
        // Make sure there is something to find.
        plan.events.push(TimedFault { at_ms: 5_000, fault: Fault::Crash { node: 1 } });
        plan.events.push(TimedFault { at_ms: 9_000, fault: Fault::Restart { node: 1 } });
        plan.events.sort_by_key(|event| event.at_ms);
        plan
    }
    fn planted_bugs(&self) -> Vec<&'static str> {
        Vec::new()
    }
    fn workload_knobs(&self) -> crate::registry::WorkloadKnobs {
        crate::registry::WorkloadKnobs { clients: Some(8), operations: Some(1_000) }
    }
    fn run(&self, options: &RunOptions) -> Result<RunReport, crate::error::ScenarioError> {
        let nodes = options.nodes.unwrap_or(5);
        let plan = options.plan.clone().unwrap_or_else(|| self.plan(options.seed, nodes));
        let windows = windows(&plan);
        let crashed = windows.iter().find(|group| {
            matches!(plan.events[group[0]].fault, Fault::Crash { node: 1 })
                && plan.events[group[0]].at_ms < 20_000
                && group.get(1).map_or(plan.heal_at_ms, |end| plan.events[*end].at_ms) - plan.events[group[0]].at_ms
                    >= 300
        });
        // Size grows with everything the shrinker should remove.
        let size = u64::from(nodes) * 100
            + plan.heal_at_ms / 10
            + plan.events.len() as u64 * 50
            + u64::from(options.clients.unwrap_or(8)) * 10
            + options.operations.unwrap_or(1_000) / 10
            + u64::from(plan.network.drop_ppm > 0) * 500;
        let violations = crashed
            .map(|group| Violation {
                involved: crate::report::Involved::default(),
                checker: "toy",
                kind: FailureKind::Correctness,
                at: Instant::from_nanos((plan.events[group[0]].at_ms + 300) * 1_000_000),
                node: Some(1),
                message: "n1 was down".into(),
            })
            .into_iter()
            .collect();
        let at_least_three_clients = options.clients.unwrap_or(8) >= 3;
        Ok(RunReport {
            scenario: "toy".into(),
            seed: options.seed,
            nodes,
            outcome: if at_least_three_clients { Outcome::from_violations(violations) } else { Outcome::Pass },
            trace_len: size,
            plan,
            ..RunReport::default()
        })
    }
}

#[test]
fn shrinking_keeps_the_failure_and_removes_the_rest() {
    let outcome = shrink(&Toy, &RunOptions::seed(11), ShrinkOptions::default(), &mut |_| {}).unwrap();
    let plan = outcome.options.plan.as_ref().unwrap();
    assert_eq!(outcome.shrunk.nodes, 2, "{:?}", outcome.steps);
    assert_eq!(plan.events.len(), 1, "only the crash is left: {plan}");
    assert_eq!(plan.events[0].fault, Fault::Crash { node: 1 });
    assert!(plan.heal_at_ms <= 5_301, "{plan}");
    assert_eq!(plan.network.drop_ppm, 0);
    assert_eq!(outcome.options.clients, Some(3));
    assert_eq!(outcome.options.operations, Some(1));
    assert!(outcome.ratio() < 0.25, "{} -> {}", outcome.original.trace_len, outcome.shrunk.trace_len);
    assert!(outcome.replay_file().shrunk_from.is_some());
    // Shrinking is deterministic.
    let again = shrink(&Toy, &RunOptions::seed(11), ShrinkOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(again.options.plan, outcome.options.plan);
}

#[test]
fn a_passing_run_cannot_be_shrunk() {
    let health = crate::find("health").unwrap();
    let error = shrink(health, &RunOptions::seed(1), ShrinkOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(error, ShrinkError::Passes { .. }), "{error}");
}

#[test]
fn plans_shrink_to_fewer_nodes_and_pair_their_windows() {
    for seed in 0..40 {
        let plan = FaultPlan::swarm(seed, 7, Duration::from_secs(60));
        for nodes in 2..7 {
            if let Some(smaller) = for_nodes(&plan, nodes) {
                assert_eq!(smaller.validate(nodes), Ok(()));
            }
        }
        // Keep n0 and n6 only, as n0 and n1.
        let mut mapping = vec![None; 7];
        mapping[0] = Some(0);
        mapping[6] = Some(1);
        if let Some(pair) = remapped(&plan, &mapping, 2) {
            assert_eq!(pair.validate(2), Ok(()));
            let from_six = plan.events.iter().filter(|event| event.fault.node() == Some(6)).count();
            let on_one = pair.events.iter().filter(|event| event.fault.node() == Some(1)).count();
            assert_eq!(from_six, on_one, "n6's faults become n1's");
        }
        let groups = windows(&plan);
        let mut all: Vec<usize> = groups.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..plan.events.len()).collect::<Vec<_>>(), "every event in exactly one window");
        let truncated = truncated(&plan, 10_000);
        assert!(truncated.events.iter().all(|event| event.at_ms < 10_000));
        assert_eq!(truncated.validate(7), Ok(()));
    }
}

/// Records what a shrink reports as it goes.
#[derive(Default)]
struct Recorder {
    tried: Vec<u32>,
    files: Vec<ReplayFile>,
}

impl ShrinkObserver for Recorder {
    fn tried(&mut self, runs: u32, _best: RunSize) {
        self.tried.push(runs);
    }

    fn accepted(&mut self, _step: &ShrinkStep, best: &ReplayFile) {
        self.files.push(best.clone());
    }
}

#[test]
fn the_observer_hears_every_run_and_gets_the_best_file_at_every_step() {
    let mut recorder = Recorder::default();
    let outcome = shrink_observed(&Toy, &RunOptions::seed(11), ShrinkOptions::default(), &mut recorder).unwrap();
    assert_eq!(recorder.tried, (1..=outcome.runs).collect::<Vec<_>>(), "every candidate run, in order");
    assert_eq!(recorder.files.len(), outcome.steps.len(), "a file per accepted step");
    let last = recorder.files.last().expect("steps were accepted");
    assert_eq!(Some(&last.plan), outcome.options.plan.as_ref(), "the last file is the shrunk run");
    assert_eq!(last.shrunk_from, outcome.replay_file().shrunk_from);
    let sizes: Vec<u64> = recorder.files.iter().map(|file| file.plan.events.len() as u64).collect();
    assert!(sizes.windows(2).all(|pair| pair[1] <= pair[0]), "files only get smaller: {sizes:?}");
    assert_eq!(outcome.budget_spent, None, "the toy shrinks to the end within the default budget");
}

#[test]
fn budgets_stop_a_shrink_and_say_which() {
    let by_runs = ShrinkOptions { runs_max: 3, ..ShrinkOptions::default() };
    let outcome = shrink(&Toy, &RunOptions::seed(11), by_runs, &mut |_| {}).unwrap();
    assert_eq!((outcome.runs, outcome.budget_spent), (3, Some(BudgetSpent::Runs)));
    let by_time = ShrinkOptions { time_max: Some(Duration::ZERO), ..ShrinkOptions::default() };
    let outcome = shrink(&Toy, &RunOptions::seed(11), by_time, &mut |_| {}).unwrap();
    assert_eq!((outcome.runs, outcome.budget_spent), (0, Some(BudgetSpent::Time)));
    assert_eq!(outcome.shrunk.trace_len, outcome.original.trace_len, "no time: the original is the best");
}

/// A toy scenario whose whole run is random choices: it draws 50 to 99 operations from its
/// `"work"` stream, each a number below 1,000, and fails when one of them is 990 or more. Its size
/// grows with the operations and their numbers, so that the smallest failing run is 50 operations,
/// all zero but one. Its plan heals at once, as every test scenario's does.
const DICE_FAILING_FROM: u64 = 990;

static DICE: TestScenario<RunFn> = TestScenario::new("dice", dice_run);

fn dice_run(options: &RunOptions) -> Result<RunReport, crate::error::ScenarioError> {
    use pangea_core::random::below;
    let empty = pangea_sim::Choices::default();
    let streams = pangea_sim::SeedStreams::taped(
        options.seed,
        options.choices.as_ref().unwrap_or(&empty),
        options.record_choices,
    );
    let mut work = streams.stream("work");
    let operations = 50 + below(&mut work, 50);
    let numbers: Vec<u64> = (0..operations).map(|_| below(&mut work, 1_000)).collect();
    let failing = numbers.iter().position(|number| *number >= DICE_FAILING_FROM);
    let violations = failing.map(|index| Violation {
        involved: crate::report::Involved::default(),
        checker: "dice",
        kind: FailureKind::Correctness,
        at: Instant::from_nanos(index as u64),
        node: None,
        message: format!("operation {index} drew {}", numbers[index]),
    });
    Ok(toy_report("dice", options, &streams, violations, operations + numbers.iter().sum::<u64>() / 10))
}

/// The report of a toy run of one node whose size is `trace_len` and whose every choice came from
/// `streams`.
fn toy_report(
    scenario: &str,
    options: &RunOptions,
    streams: &pangea_sim::SeedStreams,
    violation: Option<Violation>,
    trace_len: u64,
) -> RunReport {
    RunReport {
        scenario: scenario.into(),
        seed: options.seed,
        nodes: 1,
        outcome: Outcome::from_violations(violation.into_iter().collect()),
        trace_len,
        plan: FaultPlan::none(0),
        choices: options.choices.clone(),
        recorded_choices: options.record_choices.then(|| streams.recorded()),
        ..RunReport::default()
    }
}

#[test]
fn choice_shrinking_finds_the_one_draw_that_matters_and_the_tape_replays_it() {
    let seed = (0..200).find(|seed| DICE.run(&RunOptions::seed(*seed)).unwrap().first_violation().is_some());
    let options = RunOptions::seed(seed.expect("some seed of 200 draws a high number"));
    let outcome = shrink(&DICE, &options, ShrinkOptions::default(), &mut |_| {}).unwrap();
    let tape = &outcome.options.choices.as_ref().expect("the shrunk run replays a tape").0["work"];
    // Fifty operations (the first draw zero), and one number left, as small as still fails.
    assert_eq!(tape.first(), Some(&0), "{tape:?}");
    let nonzero: Vec<u64> = tape.iter().copied().filter(|draw| *draw != 0).collect();
    assert_eq!(nonzero.len(), 1, "{tape:?}");
    assert_eq!(outcome.shrunk.trace_len, 50 + DICE_FAILING_FROM / 10, "{:?}", outcome.steps);
    assert!(outcome.shrunk.first_violation().unwrap().message.contains("drew 99"));
    // The replay file carries the tape, and running it again gives the same failure.
    let file = outcome.replay_file();
    assert_eq!(file.choices, outcome.options.choices);
    let again = DICE.run(&file.options(None)).unwrap();
    assert_eq!(again.first_violation(), outcome.shrunk.first_violation());
    assert_eq!(again.trace_len, outcome.shrunk.trace_len);
}

/// A toy client that draws one operation every 10 ms for a second, each a span of its stream
/// labelled with its time and tagged with its key: a presence draw, a key ("a" or "b"), then a
/// number below 1,000. It fails when a number is 990 or more on a key an earlier operation used,
/// citing that operation and its key only. Its size is the operations issued plus their numbers
/// over ten, so the smallest failing run issues two operations on one key, the first drawing 0.
static LEDGER: TestScenario<RunFn> = TestScenario::new("ledger", ledger_run);

fn ledger_run(options: &RunOptions) -> Result<RunReport, crate::error::ScenarioError> {
    use crate::report::{CitedOperation, Involved};
    use pangea_core::random::{below, present};
    let empty = pangea_sim::Choices::default();
    let choices = options.choices.as_ref().unwrap_or(&empty);
    let streams = pangea_sim::SeedStreams::taped(options.seed, choices, options.record_choices);
    let mut client = streams.stream("client");
    let mut issued: Vec<(Instant, &str, u64)> = Vec::new();
    for at_ms in (0..1_000).step_by(10) {
        let at = Instant::ZERO + Duration::from_millis(at_ms);
        client.begin_span(at.as_nanos());
        if present(&mut client) {
            let key = ["a", "b"][below(&mut client, 2) as usize];
            client.tag_span(|| key.to_owned());
            issued.push((at, key, below(&mut client, 1_000)));
        }
    }
    let failing = (0..issued.len()).find(|index| {
        let (_, key, number) = issued[*index];
        number >= DICE_FAILING_FROM && issued[..*index].iter().any(|(_, earlier, _)| *earlier == key)
    });
    let violations = failing.map(|index| {
        let (at, key, number) = issued[index];
        let what = format!("drew {number}");
        let cited = CitedOperation {
            index,
            client: 0,
            key: key.to_owned(),
            what,
            invoked_at: at,
            completed_at: None,
            culprit: true,
        };
        Violation {
            involved: Involved::of_operations(vec![cited]),
            checker: "ledger",
            kind: FailureKind::Correctness,
            at,
            node: None,
            message: format!("operation #{index} on {key} drew {number}"),
        }
    });
    let trace_len = issued.len() as u64 + issued.iter().map(|(_, _, number)| number).sum::<u64>() / 10;
    Ok(toy_report("ledger", options, &streams, violations, trace_len))
}

#[test]
fn the_evidence_leaves_out_every_operation_off_the_keys_it_cites() {
    let seed = (0..200).find(|seed| LEDGER.run(&RunOptions::seed(*seed)).unwrap().first_violation().is_some());
    let options = RunOptions::seed(seed.expect("some seed of 200 draws a high number"));
    let outcome = shrink(&LEDGER, &options, ShrinkOptions::default(), &mut |_| {}).unwrap();
    let steps: Vec<&str> = outcome.steps.iter().map(|step| step.what.as_str()).collect();
    // The cited operation alone passes (nothing came before it on its key); those on its key fail.
    assert!(steps[0].contains("operation(s) on the keys it cites"), "{steps:?}");
    let after = outcome.shrunk.first_violation().expect("fails");
    assert_eq!(after.involved.operations[0].index, 1, "two operations issued: {steps:?}");
    assert_eq!(outcome.shrunk.trace_len, 2 + DICE_FAILING_FROM / 10, "{steps:?}");
    let again = LEDGER.run(&outcome.replay_file().options(None)).unwrap();
    assert_eq!(again.first_violation(), outcome.shrunk.first_violation());
}

#[test]
fn operations_are_left_out_in_blocks_without_evidence() {
    // The same client, but a violation that cites nothing: the block pass over its operations
    // must find the two that fail.
    fn silent_run(options: &RunOptions) -> Result<RunReport, crate::error::ScenarioError> {
        let mut report = ledger_run(options)?;
        if let Outcome::Fail { violations, .. } = &mut report.outcome {
            for violation in violations {
                violation.involved = crate::report::Involved::default();
            }
        }
        Ok(report)
    }
    static SILENT: TestScenario<RunFn> = TestScenario::new("ledger", silent_run);
    let seed = (0..200).find(|seed| SILENT.run(&RunOptions::seed(*seed)).unwrap().first_violation().is_some());
    let options = RunOptions::seed(seed.expect("some seed of 200 draws a high number"));
    let outcome = shrink(&SILENT, &options, ShrinkOptions::default(), &mut |_| {}).unwrap();
    let steps: Vec<&str> = outcome.steps.iter().map(|step| step.what.as_str()).collect();
    assert!(steps.iter().any(|step| step.contains("left out")), "{steps:?}");
    assert_eq!(outcome.shrunk.trace_len, 2 + DICE_FAILING_FROM / 10, "{steps:?}");
}

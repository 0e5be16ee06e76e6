//! Generated histories: linearizable by construction (a model store run in the order of
//! linearization points), corrupted on purpose, or small and random and checked against an
//! independent brute-force oracle, with the evidence's claims (minimal, earliest) checked too.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::{cited, timed_out, value, verdict};
use crate::linearizability::depth_first::search_depth_first;
use crate::linearizability::layered::search_layered;
use crate::linearizability::partition::partition;
use crate::linearizability::prepare::Prepared;
use crate::linearizability::search::Found;
use crate::linearizability::{
    CheckConfig, HistoryEntry, HistoryOp, KeyVerdict, OpCompletion, OpOutcome, Value, Verdict, check_by_key,
};

/// A small deterministic generator (SplitMix64), so the big tests need no dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What one generated operation is, before the model gives it an outcome.
#[derive(Clone, Copy, Debug)]
struct Plan {
    key: u8,
    /// 0 get, 1 put, 2 remove, 3 compare-and-set.
    kind: u8,
    /// Which value to write, or for a compare-and-set: even, expect the current value; odd,
    /// expect this value.
    value: u8,
    /// 0: times out after taking effect; 1: times out without taking effect; 2: fails; else
    /// completes.
    fate: u8,
}

/// One generated operation: its plan, its client, its interval and its linearization point
/// (which orders the model's steps).
struct Timed {
    plan: Plan,
    client: u64,
    invoked_at: u64,
    point: u64,
    completed_at: u64,
}

/// Runs the operations on a model store in the order of their linearization points and records
/// what their clients saw: a linearizable history by construction.
fn run_model(mut timed: Vec<Timed>, unique_values: bool) -> Vec<HistoryEntry> {
    timed.sort_by_key(|op| op.point);
    let mut store: BTreeMap<Vec<u8>, Value> = BTreeMap::new();
    let mut history = Vec::new();
    for (serial, op) in timed.iter().enumerate() {
        let key = format!("key{}", op.plan.key).into_bytes();
        let current = store.get(&key).cloned();
        let written = if unique_values {
            Value::from(format!("v{}.{serial}", op.client).as_str())
        } else {
            Value::from(format!("v{}", op.plan.value % 4).as_str())
        };
        let takes_effect = op.plan.fate == 0 || op.plan.fate > 2;
        let (request, outcome, effect) = match op.plan.kind % 4 {
            0 => (HistoryOp::Get, OpOutcome::Read(current.clone()), None),
            1 => (HistoryOp::Put { value: written.clone() }, OpOutcome::Ok, Some(Some(written))),
            2 => (HistoryOp::Remove, OpOutcome::Ok, Some(None)),
            _ => {
                let expected = if op.plan.value % 2 == 0 {
                    current.clone()
                } else if op.plan.value % 4 == 1 {
                    None
                } else {
                    Some(Value::from(format!("v{}", op.plan.value % 4).as_str()))
                };
                let new = (op.plan.value != 7).then_some(written);
                let succeeded = expected == current;
                let effect = succeeded.then(|| new.clone());
                (HistoryOp::CompareAndSet { expected, new }, OpOutcome::compare_and_set(succeeded), effect)
            }
        };
        if takes_effect && let Some(effect) = effect {
            match effect {
                Some(value) => store.insert(key.clone(), value),
                None => store.remove(&key),
            };
        }
        let completion = match op.plan.fate {
            0 | 1 => OpCompletion::Unknown,
            2 => OpCompletion::Failed,
            _ => OpCompletion::Completed { at: op.completed_at, outcome },
        };
        history.push(HistoryEntry { client: op.client, key, op: request, invoked_at: op.invoked_at, completion });
    }
    // Hand the checker the history in invocation order, as a recorder would.
    history.sort_by_key(|entry| entry.invoked_at);
    history
}

/// A history from plans: each operation's linearization point is 1000 ns after the previous
/// one; its interval stretches `before` and `after` around it (sequential when both are small).
fn history_from(plans: &[(Plan, u64, u64, u64)], unique_values: bool) -> Vec<HistoryEntry> {
    let timed = plans
        .iter()
        .enumerate()
        .map(|(serial, &(plan, client, before, after))| {
            let point = 5_000 + 1_000 * serial as u64;
            Timed { plan, client, invoked_at: point - before, point, completed_at: point + after }
        })
        .collect();
    run_model(timed, unique_values)
}

/// `count` operations by `clients` clients on `keys` keys: each client runs one operation at a
/// time, with a random latency, and the operation takes effect at a random point of its interval.
fn concurrent_history(seed: u64, count: usize, keys: u8, clients: u64) -> Vec<HistoryEntry> {
    let mut random = SplitMix(seed);
    let mut free_at = vec![0u64; clients as usize];
    let mut timed = Vec::with_capacity(count);
    for _ in 0..count {
        let client = random.below(clients);
        let invoked_at = free_at[client as usize] + random.below(50);
        let latency = 10 + random.below(1_000);
        // Points are unique: the low bits carry the client.
        let point = (invoked_at + 1 + random.below(latency - 1)) * 8 + client;
        let fate = match random.below(100) {
            0..3 => 0,
            3..5 => 1,
            5..7 => 2,
            _ => 3,
        };
        let plan = Plan {
            key: random.below(u64::from(keys)) as u8,
            kind: random.below(4) as u8,
            value: random.below(8) as u8,
            fate,
        };
        let completed_at = invoked_at + latency;
        free_at[client as usize] = if fate < 2 { invoked_at + 2_000 } else { completed_at + 1 };
        timed.push(Timed { plan, client, invoked_at: invoked_at * 8, point, completed_at: completed_at * 8 + 7 });
    }
    run_model(timed, true)
}

#[test]
fn generated_concurrent_histories_are_linearizable() {
    for seed in 0..20 {
        let history = concurrent_history(seed, 300, 3, 5);
        assert_eq!(verdict(&history), Verdict::Linearizable, "seed {seed}");
    }
}

/// Replaces the outcome of the `which`-th completed get (counting around) with a value nothing
/// wrote; returns its position, or `None` if there is no completed get.
fn corrupt_a_read(history: &mut [HistoryEntry], which: usize) -> Option<usize> {
    let reads: Vec<usize> = (0..history.len())
        .filter(|&index| {
            history[index].op == HistoryOp::Get && matches!(history[index].completion, OpCompletion::Completed { .. })
        })
        .collect();
    let index = *reads.get(which % reads.len().max(1))?;
    if let OpCompletion::Completed { outcome, .. } = &mut history[index].completion {
        *outcome = OpOutcome::Read(value("never written"));
    }
    Some(index)
}

/// Makes the `which`-th completed get (counting around) that can be made stale return the first
/// value put on its key, long overwritten; returns its position.
fn make_a_read_stale(history: &mut [HistoryEntry], which: usize) -> Option<usize> {
    let reads: Vec<usize> = (0..history.len())
        .filter(|&index| {
            history[index].op == HistoryOp::Get && matches!(history[index].completion, OpCompletion::Completed { .. })
        })
        .collect();
    for attempt in 0..reads.len() {
        let index = reads[(which + attempt) % reads.len()];
        let first_put = history.iter().find_map(|entry| match (&entry.op, &entry.completion) {
            (HistoryOp::Put { value }, OpCompletion::Completed { at, .. })
                if entry.key == history[index].key && at + 20_000 < history[index].invoked_at =>
            {
                Some(value.clone())
            }
            _ => None,
        });
        let Some(first_put) = first_put else { continue };
        if let OpCompletion::Completed { outcome: OpOutcome::Read(read), .. } = &mut history[index].completion
            && read.as_ref() != Some(&first_put)
        {
            *read = Some(first_put);
            return Some(index);
        }
    }
    None
}

#[test]
fn two_thousand_operations_on_twenty_keys_by_five_clients() {
    let history = concurrent_history(7, 2_000, 20, 5);
    let started = std::time::Instant::now();
    let reports = check_by_key(&history, &CheckConfig::default()).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(reports.len(), 20);
    assert!(reports.values().all(|report| report.verdict == KeyVerdict::Linearizable));
    let states: u64 = reports.values().map(|report| report.states).sum();
    println!("2000 linearizable operations: {elapsed:?}, {states} states");
    for (corruption, seed) in
        [("a read of a value never written", 1_234), ("a stale read", 777), ("a stale read", 1_500)]
    {
        let mut history = history.clone();
        let read = if corruption == "a stale read" {
            make_a_read_stale(&mut history, seed).unwrap()
        } else {
            corrupt_a_read(&mut history, seed).unwrap()
        };
        let started = std::time::Instant::now();
        let result = verdict(&history);
        let elapsed = started.elapsed();
        println!("2000 operations with {corruption}, explained: {elapsed:?}");
        let Verdict::NotLinearizable { evidence, .. } = result else { panic!("{result}") };
        assert_eq!(evidence.culprit, read, "{evidence}");
        assert!(evidence.minimal && evidence.earliest, "{evidence}");
        if corruption == "a stale read" {
            // The put of the value read, a later write, and the read.
            assert_eq!(evidence.ops.len(), 3, "{evidence}");
        } else {
            assert_eq!(cited(&evidence), [read]);
        }
    }
}

/// An independent oracle for small histories on one key: tries every order of every subset of
/// the unknown operations, on the entries themselves.
fn brute_force(entries: &[HistoryEntry]) -> bool {
    let ops: Vec<&HistoryEntry> = entries
        .iter()
        .filter(|entry| match entry.completion {
            OpCompletion::Failed => false,
            OpCompletion::Unknown => entry.op != HistoryOp::Get,
            OpCompletion::Completed { .. } => true,
        })
        .collect();
    assert!(ops.len() <= 16);
    let completed_at = |entry: &HistoryEntry| match entry.completion {
        OpCompletion::Completed { at, .. } => Some(at),
        _ => None,
    };
    fn apply(state: &Option<Value>, entry: &HistoryEntry) -> Option<Option<Value>> {
        match (&entry.op, &entry.completion) {
            (HistoryOp::Put { value }, _) => Some(Some(value.clone())),
            (HistoryOp::Remove, _) => Some(None),
            (HistoryOp::Get, OpCompletion::Completed { outcome: OpOutcome::Read(read), .. }) => {
                (read == state).then(|| state.clone())
            }
            (HistoryOp::CompareAndSet { expected, new }, OpCompletion::Unknown) => {
                Some(if expected == state { new.clone() } else { state.clone() })
            }
            (
                HistoryOp::CompareAndSet { expected, new },
                OpCompletion::Completed { outcome: OpOutcome::CompareAndSet { succeeded, found }, .. },
            ) => {
                if found.as_ref().is_some_and(|found| found != state) || (expected == state) != *succeeded {
                    None
                } else {
                    Some(if *succeeded { new.clone() } else { state.clone() })
                }
            }
            _ => unreachable!("a malformed entry: {entry}"),
        }
    }
    let mut dead_ends: BTreeSet<(u32, Option<Value>)> = BTreeSet::new();
    let mut stack = vec![(0u32, None::<Value>)];
    while let Some((placed, state)) = stack.pop() {
        let unplaced = |index: usize| placed & (1 << index) == 0;
        if (0..ops.len()).all(|index| !unplaced(index) || completed_at(ops[index]).is_none()) {
            return true;
        }
        if !dead_ends.insert((placed, state.clone())) {
            continue;
        }
        for (index, op) in ops.iter().enumerate().filter(|&(index, _)| unplaced(index)) {
            let must_wait = (0..ops.len()).any(|other| {
                other != index && unplaced(other) && completed_at(ops[other]).is_some_and(|at| at < op.invoked_at)
            });
            if let (false, Some(after)) = (must_wait, apply(&state, op)) {
                stack.push((placed | 1 << index, after));
            }
        }
    }
    false
}

/// The history with every entry of `key` but those in `keep` weakened: completed ones become
/// unknown (reads are dropped), failed ones stay failed; and the entries invoked after `cut` are
/// dropped.
pub(super) fn weaken_all_but(history: &[HistoryEntry], keep: &[usize], cut: u64) -> Vec<HistoryEntry> {
    history
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.invoked_at <= cut)
        .filter_map(|(index, entry)| match &entry.completion {
            OpCompletion::Completed { .. } if !keep.contains(&index) => {
                (entry.op != HistoryOp::Get).then(|| timed_out(entry.clone()))
            }
            _ => Some(entry.clone()),
        })
        .collect()
}

/// The completed entries of a history as (completion, invocation, index), in the order the checker
/// ranks completions.
fn completion_order(history: &[HistoryEntry]) -> Vec<(u64, u64, usize)> {
    let mut completed: Vec<(u64, u64, usize)> = history
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| match entry.completion {
            OpCompletion::Completed { at, .. } => Some((at, entry.invoked_at, index)),
            _ => None,
        })
        .collect();
    completed.sort_unstable();
    completed
}

/// Whether the history cut at the `count`-th completion is linearizable, by brute force.
fn first_completions_linearizable(history: &[HistoryEntry], completed: &[(u64, u64, usize)], count: usize) -> bool {
    if count == 0 {
        return true;
    }
    let first: Vec<usize> = completed[..count].iter().map(|&(.., index)| index).collect();
    brute_force(&weaken_all_but(history, &first, completed[count - 1].0))
}

fn small_entry() -> impl Strategy<Value = HistoryEntry> {
    let text = prop_oneof![Just(None), Just(value("a")), Just(value("b")), Just(value("c"))];
    ((0u64..60, 0u64..40, 0u8..4, 0u8..10), (text.clone(), text.clone(), text, any::<bool>(), any::<bool>())).prop_map(
        |((invoked_at, latency, kind, fate), (first, second, read, succeeded, reports))| {
            let op = match kind {
                0 => HistoryOp::Get,
                1 => HistoryOp::Put { value: first.clone().unwrap_or_else(|| Value::from("a")) },
                2 => HistoryOp::Remove,
                _ => HistoryOp::CompareAndSet { expected: first.clone(), new: second },
            };
            let outcome = match &op {
                HistoryOp::Get => OpOutcome::Read(read),
                HistoryOp::Put { .. } | HistoryOp::Remove => OpOutcome::Ok,
                HistoryOp::CompareAndSet { .. } => {
                    // A consistent report: a success found the expected value, a failure another.
                    let found = if succeeded { Some(first) } else { (read != first).then_some(read) };
                    OpOutcome::CompareAndSet { succeeded, found: found.filter(|_| reports) }
                }
            };
            let completion = match fate {
                0 | 1 => OpCompletion::Unknown,
                2 => OpCompletion::Failed,
                _ => OpCompletion::Completed { at: invoked_at + latency, outcome },
            };
            HistoryEntry { client: u64::from(kind), key: b"k".to_vec(), op, invoked_at, completion }
        },
    )
}

/// Entries with few values and many unknown ones, so that many are twins (unknown operations with
/// the same action), which the searches treat specially.
fn twin_heavy_entry() -> impl Strategy<Value = HistoryEntry> {
    let text = prop_oneof![Just(None), Just(value("a")), Just(value("b"))];
    ((0u64..40, 0u64..30, 0u8..6, 0u8..4), (text.clone(), text.clone(), text, any::<bool>())).prop_map(
        |((invoked_at, latency, kind, fate), (first, second, read, succeeded))| {
            let op = match kind {
                0 => HistoryOp::Get,
                1 | 2 => HistoryOp::Put { value: first.clone().unwrap_or_else(|| Value::from("b")) },
                3 => HistoryOp::Remove,
                _ => HistoryOp::CompareAndSet { expected: first, new: second },
            };
            let outcome = match &op {
                HistoryOp::Get => OpOutcome::Read(read),
                HistoryOp::Put { .. } | HistoryOp::Remove => OpOutcome::Ok,
                HistoryOp::CompareAndSet { .. } => OpOutcome::compare_and_set(succeeded),
            };
            let completion = match fate {
                0 | 1 => OpCompletion::Unknown,
                _ => OpCompletion::Completed { at: invoked_at + latency, outcome },
            };
            HistoryEntry { client: u64::from(kind), key: b"k".to_vec(), op, invoked_at, completion }
        },
    )
}

fn plan() -> impl Strategy<Value = Plan> {
    (0u8..3, 0u8..4, 0u8..8, 0u8..12).prop_map(|(key, kind, value, fate)| Plan { key, kind, value, fate })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]
    #[test]
    fn agrees_with_brute_force_and_its_evidence_holds(history in prop::collection::vec(small_entry(), 0..9)) {
        let expected = brute_force(&history);
        let result = verdict(&history);
        prop_assert_eq!(result.is_linearizable(), expected, "{}", result);
        // Each search engine alone agrees too, and what it says of its frontier holds.
        let keys = partition(&history).unwrap();
        if let Some(key_history) = keys.get(b"k".as_slice()) {
            let prepared = Prepared::new(&key_history.ops);
            let completed = completion_order(&history);
            for (engine, searched) in [
                ("depth first", search_depth_first(&prepared, 1_000_000)),
                ("layered", search_layered(&prepared, 1_000_000)),
            ] {
                prop_assert_eq!(searched.found == Found::Linearizable, expected, "{}", engine);
                prop_assert!(first_completions_linearizable(&history, &completed, searched.frontier), "{}", engine);
            }
        }
        let Verdict::NotLinearizable { evidence, .. } = result else { return Ok(()) };
        let keep = cited(&evidence);
        prop_assert!(keep.contains(&evidence.culprit));
        let OpCompletion::Completed { at: cut, .. } = history[evidence.culprit].completion else {
            return Err(TestCaseError::fail("the culprit did not complete"));
        };
        // The claim: the cited operations cannot be ordered, whatever the others did.
        prop_assert!(!brute_force(&weaken_all_but(&history, &keep, cut)), "{}", evidence);
        // Earliest: the key's history was linearizable until just before the culprit completed.
        prop_assert!(evidence.earliest);
        let completed = completion_order(&history);
        let rank = completed.iter().position(|&(.., index)| index == evidence.culprit).unwrap();
        prop_assert!(first_completions_linearizable(&history, &completed, rank), "{}", evidence);
        // Minimal: none of them can be spared.
        prop_assert!(evidence.minimal);
        for spared in &keep {
            let fewer: Vec<usize> = keep.iter().copied().filter(|index| index != spared).collect();
            prop_assert!(brute_force(&weaken_all_but(&history, &fewer, cut)), "#{} spared: {}", spared, evidence);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]
    #[test]
    fn agrees_with_brute_force_on_many_twins(history in prop::collection::vec(twin_heavy_entry(), 0..13)) {
        let expected = brute_force(&history);
        prop_assert_eq!(verdict(&history).is_linearizable(), expected);
        let keys = partition(&history).unwrap();
        if let Some(key_history) = keys.get(b"k".as_slice()) {
            let prepared = Prepared::new(&key_history.ops);
            prop_assert_eq!(search_depth_first(&prepared, 1_000_000).found == Found::Linearizable, expected);
            prop_assert_eq!(search_layered(&prepared, 1_000_000).found == Found::Linearizable, expected);
        }
    }
}

proptest! {
    #[test]
    fn sequential_histories_are_linearizable(
        plans in prop::collection::vec((plan(), 0u64..4, 0u64..5, 0u64..5), 0..40),
    ) {
        let history = history_from(&plans, false);
        prop_assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn overlapping_histories_with_a_valid_order_are_linearizable(
        plans in prop::collection::vec((plan(), 0u64..5, 0u64..2_500, 0u64..2_500), 0..40),
    ) {
        let history = history_from(&plans, false);
        prop_assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn a_read_of_a_value_never_written_is_never_linearizable(
        plans in prop::collection::vec((plan(), 0u64..5, 0u64..2_500, 0u64..2_500), 1..40),
        which in 0usize..40,
    ) {
        let mut history = history_from(&plans, false);
        let Some(read) = corrupt_a_read(&mut history, which) else { return Ok(()) };
        let result = verdict(&history);
        let Verdict::NotLinearizable { key, evidence, .. } = result else {
            return Err(TestCaseError::fail(format!("{result}")));
        };
        prop_assert_eq!(&key, &history[read].key);
        prop_assert_eq!(evidence.culprit, read);
        prop_assert_eq!(cited(&evidence), [read]);
        prop_assert!(evidence.minimal);
    }
}

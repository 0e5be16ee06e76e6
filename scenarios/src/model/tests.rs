//! The model checker on hand-made histories of the example models, and against brute force.

use super::examples::{Queue, QueueOp, QueueOutput, Register, RegisterOp, RegisterOutput};
use super::*;
use proptest::prelude::*;

fn done<Op, Output>(client: u64, invoked_at: u64, op: Op, at: u64, output: Output) -> ModelOp<Op, Output> {
    ModelOp { client, invoked_at, op, ended: Ended::Completed { at, output } }
}

fn unknown<Op, Output>(client: u64, invoked_at: u64, op: Op) -> ModelOp<Op, Output> {
    ModelOp { client, invoked_at, op, ended: Ended::Unknown }
}

fn check<M: SequentialModel>(model: &M, history: &[ModelOp<M::Op, M::Output>]) -> ModelVerdict {
    check_model(model, history, CONFIGURATIONS_MAX)
}

#[test]
fn a_register_read_sees_a_concurrent_write_or_not_but_never_an_older_value() {
    use RegisterOp::{Read, Write};
    use RegisterOutput::{Done, Value};
    let concurrent = [done(1, 0, Write(1), 10, Done), done(2, 5, Read, 8, Value(Some(1)))];
    assert_eq!(check(&Register, &concurrent), ModelVerdict::Linearizable { order: vec![0, 1] });
    let before = [done(1, 0, Write(1), 10, Done), done(2, 5, Read, 8, Value(None))];
    assert_eq!(check(&Register, &before), ModelVerdict::Linearizable { order: vec![1, 0] });
    let stale = [done(1, 0, Write(1), 4, Done), done(2, 5, Read, 8, Value(None))];
    assert_eq!(check(&Register, &stale), ModelVerdict::NotLinearizable { longest: vec![0] });
}

#[test]
fn unknown_operations_may_take_effect_and_failed_ones_may_not() {
    use RegisterOp::{Read, Write};
    use RegisterOutput::Value;
    let timed_out = [unknown(1, 0, Write(7)), done(2, 50, Read, 60, Value(Some(7)))];
    assert_eq!(check(&Register, &timed_out), ModelVerdict::Linearizable { order: vec![0, 1] });
    let never = [unknown(1, 0, Write(7)), done(2, 50, Read, 60, Value(None))];
    assert_eq!(check(&Register, &never), ModelVerdict::Linearizable { order: vec![1] });
    let failed = [
        ModelOp { client: 1, invoked_at: 0, op: Write(7), ended: Ended::Failed },
        done(2, 50, Read, 60, Value(Some(7))),
    ];
    assert!(!check(&Register, &failed).is_linearizable());
}

#[test]
fn a_queue_hands_out_in_the_order_taken_in() {
    use QueueOp::{Dequeue, Enqueue};
    use QueueOutput::{Done, Took};
    let fifo =
        [done(1, 0, Enqueue(1), 1, Done), done(1, 2, Enqueue(2), 3, Done), done(2, 4, Dequeue, 5, Took(Some(1)))];
    assert!(check(&Queue, &fifo).is_linearizable());
    let lifo =
        [done(1, 0, Enqueue(1), 1, Done), done(1, 2, Enqueue(2), 3, Done), done(2, 4, Dequeue, 5, Took(Some(2)))];
    assert!(!check(&Queue, &lifo).is_linearizable());
    // Concurrent enqueues may land in either order.
    let racing =
        [done(1, 0, Enqueue(1), 10, Done), done(2, 0, Enqueue(2), 10, Done), done(3, 11, Dequeue, 12, Took(Some(2)))];
    assert_eq!(check(&Queue, &racing), ModelVerdict::Linearizable { order: vec![1, 0, 2] });
}

#[test]
fn the_search_is_bounded() {
    use RegisterOp::Write;
    let writes: Vec<_> = (0..12).map(|value| unknown(value, 0, Write(value))).collect();
    let mut history = writes;
    history.push(done(99, 100, RegisterOp::Read, 101, RegisterOutput::Value(Some(99))));
    assert_eq!(check_model(&Register, &history, 50), ModelVerdict::Unknown { bound: SearchBound::Configurations(50) });
    assert!(!check(&Register, &history).is_linearizable(), "no write of 99: decided within the default bound");
    // The same search within 64 KiB of configurations: each costs over 100 bytes here.
    assert_eq!(
        check_model_within(&Register, &history, CONFIGURATIONS_MAX, 64 << 10),
        ModelVerdict::Unknown { bound: SearchBound::MemoryBytes(64 << 10) }
    );
    // A long history on one key costs a bit per operation in each configuration: 4,000 writes and
    // reads that can be ordered only one way are decided within a few MiB.
    let long: Vec<_> = (0..4_000u64)
        .map(|step| {
            let at = 10 * step;
            if step % 2 == 0 {
                done(step, at, Write(step), at + 5, RegisterOutput::Done)
            } else {
                done(step, at, RegisterOp::Read, at + 5, RegisterOutput::Value(Some(step - 1)))
            }
        })
        .collect();
    assert!(check_model_within(&Register, &long, CONFIGURATIONS_MAX, 64 << 20).is_linearizable());
}

/// Every order of every subset of the operations that may take effect, by brute force.
fn brute_force<M: SequentialModel>(model: &M, history: &[ModelOp<M::Op, M::Output>]) -> bool {
    fn extend<M: SequentialModel>(
        model: &M,
        history: &[ModelOp<M::Op, M::Output>],
        state: &M::State,
        placed: &mut Vec<bool>,
    ) -> bool {
        let unplaced_completed =
            (0..history.len()).filter(|&index| !placed[index]).filter_map(|index| completed_at(&history[index]));
        let horizon = unplaced_completed.clone().min().unwrap_or(u64::MAX);
        if unplaced_completed.count() == 0 {
            return true;
        }
        for index in 0..history.len() {
            let operation = &history[index];
            if placed[index] || matches!(operation.ended, Ended::Failed) || operation.invoked_at > horizon {
                continue;
            }
            let (next, output) = model.apply(state, &operation.op);
            if matches!(&operation.ended, Ended::Completed { output: seen, .. } if *seen != output) {
                continue;
            }
            placed[index] = true;
            let found = extend(model, history, &next, placed);
            placed[index] = false;
            if found {
                return true;
            }
        }
        false
    }
    extend(model, history, &model.initial(), &mut vec![false; history.len()])
}

fn register_op() -> impl Strategy<Value = (RegisterOp, RegisterOutput)> {
    let value = || prop_oneof![Just(None), (1..3u64).prop_map(Some)];
    prop_oneof![
        value().prop_map(|seen| (RegisterOp::Read, RegisterOutput::Value(seen))),
        (1..3u64).prop_map(|value| (RegisterOp::Write(value), RegisterOutput::Done)),
        (value(), 1..3u64, any::<bool>()).prop_map(|(expected, new, swapped)| (
            RegisterOp::CompareAndSet { expected, new },
            RegisterOutput::Swapped(swapped)
        )),
    ]
}

fn register_history() -> impl Strategy<Value = Vec<ModelOp<RegisterOp, RegisterOutput>>> {
    prop::collection::vec((register_op(), 0..10u64, 0..6u64, 0..4u8), 1..7).prop_map(|drawn| {
        drawn
            .into_iter()
            .enumerate()
            .map(|(client, ((op, output), invoked_at, length, ending))| ModelOp {
                client: client as u64,
                invoked_at,
                op,
                ended: match ending {
                    0 => Ended::Unknown,
                    1 => Ended::Failed,
                    _ => Ended::Completed { at: invoked_at + length, output },
                },
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The search decides as brute force does, and the order it gives replays.
    #[test]
    fn the_search_agrees_with_brute_force(history in register_history()) {
        let verdict = check(&Register, &history);
        prop_assert_eq!(verdict.is_linearizable(), brute_force(&Register, &history), "{:?}", verdict);
        if let ModelVerdict::Linearizable { order } = verdict {
            let mut state = Register.initial();
            for index in order {
                let (next, output) = Register.apply(&state, &history[index].op);
                if let Ended::Completed { output: seen, .. } = &history[index].ended {
                    prop_assert_eq!(*seen, output);
                }
                state = next;
            }
        }
    }
}

fn kv_history() -> impl Strategy<Value = Vec<crate::linearizability::HistoryEntry>> {
    use crate::linearizability::{HistoryEntry, HistoryOp, OpOutcome, Value};
    let value = || prop_oneof![Just(None), (1..3u8).prop_map(|byte| Some(Value(vec![byte])))];
    let op = prop_oneof![
        value().prop_map(|seen| (HistoryOp::Get, OpOutcome::Read(seen))),
        (1..3u8).prop_map(|byte| (HistoryOp::put(vec![byte]), OpOutcome::Ok)),
        Just((HistoryOp::Remove, OpOutcome::Ok)),
        (value(), value(), any::<bool>(), prop_oneof![Just(None), value().prop_map(Some)]).prop_map(
            |(expected, new, succeeded, found)| {
                (HistoryOp::compare_and_set(expected, new), OpOutcome::CompareAndSet { succeeded, found })
            }
        ),
    ];
    prop::collection::vec((op, 0..2u8, 0..10u64, 0..6u64, 0..4u8), 1..8).prop_map(|drawn| {
        drawn
            .into_iter()
            .enumerate()
            .map(|(client, ((op, outcome), key, invoked_at, length, ending))| {
                let (client, key) = (client as u64, vec![b'k', key]);
                match ending {
                    0 => HistoryEntry::unknown(client, key, op, invoked_at),
                    1 => HistoryEntry::failed(client, key, op, invoked_at),
                    _ => HistoryEntry::completed(client, key, op, invoked_at, invoked_at + length, outcome),
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Pangea's key/value checker and the general search on the key/value model agree.
    #[test]
    fn the_key_value_model_agrees_with_the_key_value_checker(history in kv_history()) {
        use crate::linearizability::{CheckConfig, OpCompletion, Verdict, check as check_kv};
        let Ok(specialised) = check_kv(&history, &CheckConfig::default()) else { return Ok(()) };
        let as_model: Vec<_> = history
            .iter()
            .map(|entry| ModelOp {
                client: entry.client,
                invoked_at: entry.invoked_at,
                op: (entry.key.clone(), entry.op.clone()),
                ended: match &entry.completion {
                    OpCompletion::Completed { at, outcome } => Ended::Completed { at: *at, output: outcome.clone() },
                    OpCompletion::Unknown => Ended::Unknown,
                    OpCompletion::Failed => Ended::Failed,
                },
            })
            .collect();
        let general = check(&super::key_value::KeyValue, &as_model);
        if !matches!(specialised, Verdict::Unknown { .. }) {
            prop_assert_eq!(specialised.is_linearizable(), general.is_linearizable(), "{:?} / {:?}", specialised, general);
        }
    }
}

/// The example register, telling the search that equal operations are interchangeable.
struct TwinnedRegister;

impl SequentialModel for TwinnedRegister {
    type State = Option<u64>;
    type Op = RegisterOp;
    type Output = RegisterOutput;

    fn initial(&self) -> Option<u64> {
        Register.initial()
    }

    fn apply(&self, state: &Option<u64>, op: &RegisterOp) -> (Option<u64>, RegisterOutput) {
        Register.apply(state, op)
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        Register.is_read_only(op)
    }

    fn interchangeable(&self, a: &RegisterOp, b: &RegisterOp) -> bool {
        a == b
    }
}

#[test]
fn interchangeable_unknown_writes_are_placed_in_invocation_order_only() {
    use RegisterOp::{Read, Write};
    use RegisterOutput::{Done, Value};
    // Two timed-out writes of 1 are both needed: 1, then 2, then 1 again.
    let history = [
        unknown(1, 0, Write(1)),
        unknown(2, 0, Write(1)),
        done(3, 1, Read, 2, Value(Some(1))),
        done(4, 3, Write(2), 4, Done),
        done(5, 5, Read, 6, Value(Some(2))),
        done(6, 7, Read, 8, Value(Some(1))),
    ];
    assert_eq!(check(&TwinnedRegister, &history), ModelVerdict::Linearizable { order: vec![0, 2, 3, 4, 1, 5] });
    // Sixty timed-out writes of two values, and a read of a value nobody wrote: decided at once.
    let mut many: Vec<_> = (0..60).map(|client| unknown(client, 0, Write(client % 2))).collect();
    many.push(done(99, 1, Read, 2, Value(Some(7))));
    assert!(!check_model(&TwinnedRegister, &many, 10_000).is_linearizable());
    assert_eq!(check_model(&TwinnedRegister, &many, 10_000), check_model(&TwinnedRegister, &many, 1_000_000));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Placing interchangeable unknown operations in invocation order only decides as brute force.
    #[test]
    fn twins_in_order_agree_with_brute_force(history in register_history()) {
        prop_assert_eq!(check(&TwinnedRegister, &history).is_linearizable(), brute_force(&Register, &history));
    }
}

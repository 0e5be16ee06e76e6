//! Tests of the checker on hand-written histories whose answers are known, and of pieces of the
//! search; generated histories and the brute-force oracle are in `oracle`.

mod oracle;

use super::evidence::explain;
use super::layered::{Configuration, Layer};
use super::memo::{KEY_UPPER, at_most};
use super::partition::partition;
use super::*;
use oracle::weaken_all_but;

// Builders for hand-written histories: `(client, key, ..., invoked_at, completed_at)`.

fn value(text: &str) -> Option<Value> {
    Some(Value::from(text))
}

fn put(client: u64, key: &str, text: &str, invoked_at: u64, at: u64) -> HistoryEntry {
    HistoryEntry::completed(client, key, HistoryOp::put(text), invoked_at, at, OpOutcome::Ok)
}

fn get(client: u64, key: &str, read: Option<&str>, invoked_at: u64, at: u64) -> HistoryEntry {
    HistoryEntry::completed(client, key, HistoryOp::Get, invoked_at, at, OpOutcome::Read(read.and_then(value)))
}

fn remove(client: u64, key: &str, invoked_at: u64, at: u64) -> HistoryEntry {
    HistoryEntry::completed(client, key, HistoryOp::Remove, invoked_at, at, OpOutcome::Ok)
}

fn cas(
    client: u64,
    key: &str,
    from: Option<&str>,
    to: Option<&str>,
    swapped: bool,
    invoked_at: u64,
    at: u64,
) -> HistoryEntry {
    let op = HistoryOp::compare_and_set(from.and_then(value), to.and_then(value));
    HistoryEntry::completed(client, key, op, invoked_at, at, OpOutcome::compare_and_set(swapped))
}

/// The same operation, but its client never learnt how it ended.
fn timed_out(entry: HistoryEntry) -> HistoryEntry {
    HistoryEntry { completion: OpCompletion::Unknown, ..entry }
}

/// The same operation, but it was rejected.
fn rejected(entry: HistoryEntry) -> HistoryEntry {
    HistoryEntry { completion: OpCompletion::Failed, ..entry }
}

fn verdict(history: &[HistoryEntry]) -> Verdict {
    check(history, &CheckConfig::default()).expect("a well-formed history")
}

/// The evidence of a history that must not be linearizable, after checking that it names `key`.
fn violation(history: &[HistoryEntry], key: &str) -> Evidence {
    match verdict(history) {
        Verdict::NotLinearizable { key: bad, evidence, .. } => {
            assert_eq!(bad, key.as_bytes(), "wrong key in {evidence}");
            *evidence
        }
        other => panic!("expected a violation on {key:?}, got {other}"),
    }
}

fn cited(evidence: &Evidence) -> Vec<usize> {
    evidence.ops.iter().map(|op| op.index).collect()
}

#[test]
fn empty_history_is_linearizable() {
    assert_eq!(verdict(&[]), Verdict::Linearizable);
}

#[test]
fn sequential_reads_and_writes_are_linearizable() {
    let history = [
        get(1, "k", None, 0, 10),
        put(1, "k", "a", 20, 30),
        get(2, "k", Some("a"), 40, 50),
        put(2, "k", "b", 60, 70),
        get(1, "k", Some("b"), 80, 90),
    ];
    assert_eq!(verdict(&history), Verdict::Linearizable);
}

#[test]
fn stale_read_is_not_linearizable() {
    let history = [
        put(1, "k", "a", 0, 10),
        get(3, "k", Some("a"), 12, 14),
        put(2, "k", "b", 20, 30),
        get(3, "k", Some("a"), 40, 50),
    ];
    let evidence = violation(&history, "k");
    // The first read is irrelevant: the two writes and the stale read are the proof.
    assert_eq!(cited(&evidence), [0, 2, 3]);
    assert_eq!(evidence.culprit, 3);
    assert!(evidence.minimal && evidence.earliest);
    assert_eq!(evidence.key_entries, 4);
    assert_eq!(evidence.prefix_entries, 4);
}

#[test]
fn lost_update_is_not_linearizable() {
    // Two clients both swap from "a": both cannot have seen "a".
    let history = [
        put(1, "k", "a", 0, 10),
        cas(2, "k", Some("a"), Some("b"), true, 20, 40),
        cas(3, "k", Some("a"), Some("c"), true, 25, 45),
    ];
    let evidence = violation(&history, "k");
    // Whether "a" was written when the put says does not matter: both swaps cannot have seen it.
    assert_eq!(cited(&evidence), [1, 2]);
    assert_eq!(evidence.culprit, 2);
    // One of them failing is fine, in either order.
    let mut fixed = history.clone();
    fixed[2] = cas(3, "k", Some("a"), Some("c"), false, 25, 45);
    assert_eq!(verdict(&fixed), Verdict::Linearizable);
    fixed[1] = cas(2, "k", Some("a"), Some("b"), false, 20, 40);
    fixed[2] = cas(3, "k", Some("a"), Some("c"), true, 25, 45);
    assert_eq!(verdict(&fixed), Verdict::Linearizable);
}

#[test]
fn read_of_a_value_never_written_is_not_linearizable() {
    let history = [put(1, "k", "a", 0, 10), put(2, "k", "b", 5, 15), get(3, "k", Some("z"), 20, 30)];
    let evidence = violation(&history, "k");
    assert_eq!(cited(&evidence), [2], "the read alone is the proof");
    assert_eq!(evidence.culprit, 2);
}

#[test]
fn read_of_absent_before_any_write_is_fine_but_not_after_one() {
    assert_eq!(verdict(&[get(1, "k", None, 0, 10), put(1, "k", "a", 20, 30)]), Verdict::Linearizable);
    let evidence = violation(&[put(1, "k", "a", 0, 10), get(2, "k", None, 20, 30)], "k");
    assert_eq!(cited(&evidence), [0, 1]);
}

#[test]
fn concurrent_writes_fit_only_in_the_order_reads_show() {
    // Two overlapping puts; a read after both sees "a", so "b" went first.
    let history = vec![put(1, "k", "a", 0, 100), put(2, "k", "b", 10, 110), get(3, "k", Some("a"), 120, 130)];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    // A later read of "b" cannot be: nothing wrote "b" after "a".
    let mut bad = history.clone();
    bad.push(get(3, "k", Some("b"), 140, 150));
    let evidence = violation(&bad, "k");
    assert_eq!(evidence.culprit, 3);
    // Whenever "a" was written, "b" was written before the first read and never again.
    assert_eq!(cited(&evidence), [1, 2, 3]);
    // Reads overlapping the puts may see them in either order...
    let history = [
        put(1, "k", "a", 0, 100),
        put(2, "k", "b", 10, 110),
        get(3, "k", Some("b"), 20, 30),
        get(4, "k", Some("a"), 40, 50),
    ];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    // ...but not go back.
    let history = [put(1, "k", "a", 0, 100), get(3, "k", Some("a"), 20, 30), get(4, "k", None, 40, 50)];
    let evidence = violation(&history, "k");
    assert_eq!(cited(&evidence), [1, 2], "whoever wrote \"a\", the key cannot be absent again");
}

#[test]
fn read_overlapping_a_write_may_see_either_value() {
    for read in [None, Some("a")] {
        let history = [put(1, "k", "a", 0, 100), get(2, "k", read, 50, 60)];
        assert_eq!(verdict(&history), Verdict::Linearizable, "read {read:?}");
    }
}

#[test]
fn timed_out_write_may_be_observed_later_or_never() {
    let observed = [
        put(1, "k", "a", 0, 10),
        timed_out(put(2, "k", "b", 20, 0)),
        get(3, "k", Some("a"), 30, 40),
        get(3, "k", Some("b"), 1_000, 1_010),
        get(1, "k", Some("b"), 2_000, 2_010),
    ];
    assert_eq!(verdict(&observed), Verdict::Linearizable);
    let never = [put(1, "k", "a", 0, 10), timed_out(put(2, "k", "b", 20, 0)), get(3, "k", Some("a"), 5_000, 5_010)];
    assert_eq!(verdict(&never), Verdict::Linearizable);
}

#[test]
fn timed_out_write_cannot_be_seen_before_its_invocation_or_undone() {
    let early = [get(1, "k", Some("b"), 0, 10), timed_out(put(2, "k", "b", 20, 0))];
    assert_eq!(cited(&violation(&early, "k")), [0]);
    let undone = [timed_out(put(2, "k", "b", 0, 0)), get(1, "k", Some("b"), 20, 30), get(1, "k", None, 40, 50)];
    assert_eq!(cited(&violation(&undone, "k")), [1, 2]);
}

#[test]
fn timed_out_compare_and_set_may_take_effect() {
    let history = [
        put(1, "k", "a", 0, 10),
        timed_out(HistoryEntry::unknown(2, "k", HistoryOp::compare_and_set(value("a"), value("b")), 20)),
        get(3, "k", Some("b"), 100, 110),
    ];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    // It cannot swap from a value the key does not hold.
    let history = [
        put(1, "k", "a", 0, 10),
        HistoryEntry::unknown(2, "k", HistoryOp::compare_and_set(value("x"), value("b")), 20),
        get(3, "k", Some("b"), 100, 110),
    ];
    assert_eq!(cited(&violation(&history, "k")), [2]);
}

#[test]
fn failed_write_must_not_be_observed() {
    let history = [put(1, "k", "a", 0, 10), rejected(put(2, "k", "b", 20, 0)), get(3, "k", Some("a"), 30, 40)];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    let history = [put(1, "k", "a", 0, 10), rejected(put(2, "k", "b", 20, 0)), get(3, "k", Some("b"), 30, 40)];
    let evidence = violation(&history, "k");
    assert_eq!(cited(&evidence), [2]);
    assert_eq!(evidence.failed.iter().map(|op| op.index).collect::<Vec<_>>(), [1]);
    assert!(evidence.to_string().contains("failed"), "{evidence}");
}

#[test]
fn failed_and_timed_out_reads_constrain_nothing() {
    let history =
        [put(1, "k", "a", 0, 10), rejected(get(2, "k", Some("zzz"), 20, 30)), timed_out(get(3, "k", None, 20, 0))];
    assert_eq!(verdict(&history), Verdict::Linearizable);
}

#[test]
fn removes() {
    let history = [
        put(1, "k", "a", 0, 10),
        remove(2, "k", 20, 30),
        get(3, "k", None, 40, 50),
        put(1, "k", "b", 60, 70),
        get(3, "k", Some("b"), 80, 90),
    ];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    // A read after the remove completed cannot see the old value.
    let history = [put(1, "k", "a", 0, 10), remove(2, "k", 20, 30), get(3, "k", Some("a"), 40, 50)];
    assert_eq!(cited(&violation(&history, "k")), [0, 1, 2]);
    // Concurrent with the remove, it may.
    let history = [put(1, "k", "a", 0, 10), remove(2, "k", 20, 30), get(3, "k", Some("a"), 25, 50)];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    // A timed-out remove may explain an absent read.
    let history = [put(1, "k", "a", 0, 10), timed_out(remove(2, "k", 20, 0)), get(3, "k", None, 40, 50)];
    assert_eq!(verdict(&history), Verdict::Linearizable);
}

#[test]
fn compare_and_set_on_absent_and_to_absent() {
    let history = [
        cas(1, "k", None, Some("a"), true, 0, 10),
        cas(2, "k", None, Some("b"), false, 20, 30),
        cas(3, "k", Some("a"), None, true, 40, 50),
        get(1, "k", None, 60, 70),
    ];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    let history = [cas(1, "k", None, Some("a"), false, 0, 10)];
    assert_eq!(cited(&violation(&history, "k")), [0], "the key starts absent, so the swap must succeed");
}

#[test]
fn compare_and_set_reporting_what_it_found() {
    let found = |found: Option<&str>| OpOutcome::CompareAndSet { succeeded: false, found: Some(found.and_then(value)) };
    let op = || HistoryOp::compare_and_set(value("x"), value("y"));
    let history = [put(1, "k", "a", 0, 10), HistoryEntry::completed(2, "k", op(), 20, 30, found(Some("a")))];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    let history = [put(1, "k", "a", 0, 10), HistoryEntry::completed(2, "k", op(), 20, 30, found(Some("b")))];
    assert_eq!(cited(&violation(&history, "k")), [1]);
}

#[test]
fn unknown_write_needed_to_fail_a_compare_and_set_is_not_left_out() {
    // The swap from "a" failed without saying what it found: only the timed-out put of "b" (whose
    // value nobody reads) can explain it.
    let history = [
        put(1, "k", "a", 0, 10),
        timed_out(put(2, "k", "b", 20, 0)),
        cas(3, "k", Some("a"), Some("c"), false, 100, 110),
    ];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    let history = [put(1, "k", "a", 0, 10), cas(3, "k", Some("a"), Some("c"), false, 100, 110)];
    assert_eq!(cited(&violation(&history, "k")), [0, 1]);
    // Invoked at the very instant the swap completed, the put may still come first.
    let history = [
        put(1, "k", "a", 0, 10),
        cas(3, "k", Some("a"), Some("c"), false, 100, 110),
        timed_out(put(2, "k", "b", 110, 0)),
    ];
    assert_eq!(verdict(&history), Verdict::Linearizable);
}

#[test]
fn many_unobserved_timed_out_writes_are_cheap() {
    // Each timed-out write doubles the configurations unless the checker sees it cannot matter.
    let mut history = vec![put(0, "k", "a", 0, 10)];
    for client in 1..=200u64 {
        history.push(timed_out(put(client, "k", &format!("lost {client}"), 20 + client, 0)));
    }
    history.push(get(0, "k", Some("a"), 1_000, 1_010));
    history.push(timed_out(put(500, "k", "late", 1_020, 0)));
    history.push(get(0, "k", Some("late"), 2_000, 2_010));
    let reports = check_by_key(&history, &CheckConfig::default()).unwrap();
    let report = &reports[b"k".as_slice()];
    assert_eq!(report.verdict, KeyVerdict::Linearizable);
    assert!(report.states < 10, "{} states", report.states);
}

#[test]
fn only_the_bad_key_is_reported() {
    let history = [
        put(1, "x", "a", 0, 10),
        put(1, "y", "a", 0, 10),
        put(2, "y", "b", 20, 30),
        put(2, "x", "b", 20, 30),
        get(3, "x", Some("b"), 40, 50),
        get(3, "y", Some("a"), 40, 50),
        get(3, "z", None, 40, 50),
    ];
    let evidence = violation(&history, "y");
    assert_eq!(cited(&evidence), [1, 2, 5]);
    let reports = check_by_key(&history, &CheckConfig::default()).unwrap();
    let verdicts: Vec<(&[u8], bool)> =
        reports.iter().map(|(key, report)| (key.as_slice(), report.verdict == KeyVerdict::Linearizable)).collect();
    assert_eq!(verdicts, [(b"x".as_slice(), true), (b"y".as_slice(), false), (b"z".as_slice(), true)]);
    assert_eq!(reports[b"y".as_slice()].entries, 3);
}

#[test]
fn every_bad_key_is_named() {
    let history = [get(1, "b", Some("?"), 0, 10), get(1, "a", Some("?"), 0, 10), get(1, "c", Some("?"), 0, 10)];
    match verdict(&history) {
        Verdict::NotLinearizable { key, more_keys, .. } => {
            assert_eq!(key, b"a");
            assert_eq!(more_keys, [b"b".to_vec(), b"c".to_vec()]);
        }
        other => panic!("{other}"),
    }
}

/// Five clients each write their own value and then read, all overlapping, and one read sees a
/// value that was overwritten before it began: the search must try many orders to be sure.
fn hard_history(clients: u64) -> Vec<HistoryEntry> {
    let mut history = Vec::new();
    for client in 0..clients {
        history.push(put(client, "k", &format!("v{client}"), client, 1_000 + client));
    }
    for client in 0..clients {
        history.push(get(client, "k", Some(&format!("v{}", client % 2)), 500 + client, 1_500 + client));
    }
    history.push(put(99, "k", "last", 2_000, 2_010));
    history.push(get(99, "k", Some("v0"), 3_000, 3_010));
    history
}

#[test]
fn effort_bound_gives_unknown_never_a_wrong_verdict() {
    let bad = hard_history(5);
    assert!(matches!(verdict(&bad), Verdict::NotLinearizable { .. }));
    for states_max in [0, 1, 2, 5, 20] {
        let result = check(&bad, &CheckConfig { states_max }).unwrap();
        assert_eq!(result, Verdict::Unknown { keys: vec![b"k".to_vec()] }, "states_max {states_max}");
        assert!(result.to_string().contains("\"k\""), "{result}");
    }
    // A linearizable history: the bound may stop the search, but never turns it into a violation.
    let mut good = hard_history(5);
    good.truncate(good.len() - 1);
    assert_eq!(verdict(&good), Verdict::Linearizable);
    let needed = check_by_key(&good, &CheckConfig::default()).unwrap()[b"k".as_slice()].states;
    assert!(needed > 1);
    for states_max in 0..needed + 2 {
        let result = check(&good, &CheckConfig { states_max }).unwrap();
        if states_max < needed {
            assert_eq!(result, Verdict::Unknown { keys: vec![b"k".to_vec()] }, "states_max {states_max}");
        } else {
            assert_eq!(result, Verdict::Linearizable, "states_max {states_max}");
        }
    }
}

#[test]
fn tiny_explanation_budget_still_gives_true_evidence() {
    let bad = hard_history(5);
    let full = evidence_of(&bad);
    assert!(full.minimal && full.earliest);
    assert_eq!(full.culprit, bad.len() - 1);
    // Explaining with almost no budget: whatever comes out is still a proof, and says it may not
    // be the best one.
    let keys = partition(&bad).unwrap();
    let key_history = keys.get(b"k".as_slice()).unwrap();
    for states_max in [0, 1, 3, 10, 30, 100] {
        let evidence = explain(&bad, key_history, 0, states_max);
        assert!(evidence.ops.iter().any(|op| op.index == evidence.culprit));
        assert!(evidence.ops.len() >= full.ops.len());
        let OpCompletion::Completed { at: cut, .. } = bad[evidence.culprit].completion else { panic!() };
        assert!(!verdict(&weaken_all_but(&bad, &cited(&evidence), cut)).is_linearizable(), "{evidence}");
        if states_max == 0 {
            assert!(!evidence.minimal && !evidence.earliest);
        }
        if !evidence.minimal || !evidence.earliest {
            assert!(evidence.to_string().contains("budget ran out"), "{evidence}");
        }
    }
}

#[test]
fn culprit_is_the_first_completion_that_breaks_the_history() {
    // The stale read at #3 breaks the history first; the later one at #5 does too.
    let history = [
        put(1, "k", "a", 0, 10),
        put(2, "k", "b", 20, 30),
        put(1, "k", "c", 40, 50),
        get(3, "k", Some("b"), 60, 70),
        put(2, "k", "d", 80, 90),
        get(3, "k", Some("a"), 100, 110),
    ];
    let evidence = violation(&history, "k");
    assert_eq!(evidence.culprit, 3);
    assert_eq!(cited(&evidence), [1, 2, 3]);
    assert!(evidence.earliest);
    assert_eq!(evidence.prefix_entries, 4);
}

fn evidence_of(history: &[HistoryEntry]) -> Evidence {
    match verdict(history) {
        Verdict::NotLinearizable { evidence, .. } => *evidence,
        other => panic!("{other}"),
    }
}

#[test]
fn counts_compare_class_by_class() {
    assert!(at_most(&[], &[]));
    assert!(at_most(&[], &[3, 1]));
    assert!(!at_most(&[3, 1], &[]));
    assert!(at_most(&[3, 1], &[3, 1]));
    assert!(at_most(&[3, 1], &[3, 2]));
    assert!(!at_most(&[3, 2], &[3, 1]));
    assert!(at_most(&[1, 1, 4, 2], &[0, 5, 1, 1, 2, 7, 4, 2]));
    assert!(!at_most(&[1, 1, 4, 2], &[1, 1, 2, 7, 4, 1]));
    assert!(!at_most(&[2, 1], &[1, 1, 3, 1]), "class 2 is absent on the right");
}

#[test]
fn a_layer_expands_only_configurations_nothing_dominates() {
    let key: &[u32] = &[0, 0, 0, 0, 7];
    let other_key: &[u32] = &[0, 0, 0, 0, 8];
    // The worse one first: it is dropped when the better one comes.
    let mut layer = Layer::default();
    layer.offer(key, &[2, 2]);
    layer.offer(key, &[2, 1]);
    layer.offer(key, &[2, 2]);
    layer.offer(other_key, &[2, 3]);
    // Incomparable with [2, 1]: kept.
    layer.offer(key, &[1, 1]);
    let mut expanded = Vec::new();
    while let Some(Configuration { key, counts }) = layer.next() {
        expanded.push((key[KEY_UPPER], counts.to_vec()));
    }
    expanded.sort();
    assert_eq!(expanded, [(7, vec![1, 1]), (7, vec![2, 1]), (8, vec![2, 3])]);
    // The better one first: the worse one is never queued.
    let mut layer = Layer::default();
    layer.offer(key, &[]);
    layer.offer(key, &[2, 1]);
    assert_eq!(layer.next().map(|configuration| configuration.counts.to_vec()), Some(vec![]));
    assert_eq!(layer.next(), None);
}

#[test]
fn events_at_the_same_instant_are_concurrent() {
    // The read is invoked at the instant the put completes; it may be ordered before it.
    let history = [put(1, "k", "a", 0, 10), get(2, "k", None, 10, 20)];
    assert_eq!(verdict(&history), Verdict::Linearizable);
    let history = [put(1, "k", "a", 0, 10), get(2, "k", None, 11, 20)];
    assert!(!verdict(&history).is_linearizable());
}

#[test]
fn malformed_histories_are_errors() {
    let config = CheckConfig::default();
    let backwards = [HistoryEntry::completed(1, "k", HistoryOp::Get, 10, 5, OpOutcome::Read(None))];
    assert_eq!(
        check(&backwards, &config),
        Err(HistoryError::CompletedBeforeInvoked { index: 0, invoked_at: 10, completed_at: 5 })
    );
    let mismatch =
        [get(1, "k", None, 0, 1), HistoryEntry::completed(1, "k", HistoryOp::put("a"), 0, 1, OpOutcome::Read(None))];
    assert!(matches!(check(&mismatch, &config), Err(HistoryError::OutcomeMismatch { index: 1, .. })));
    let op = HistoryOp::compare_and_set(value("a"), value("b"));
    let outcome = OpOutcome::CompareAndSet { succeeded: true, found: Some(value("c")) };
    let inconsistent = [HistoryEntry::completed(1, "k", op, 0, 1, outcome)];
    let error = check(&inconsistent, &config).unwrap_err();
    assert_eq!(error, HistoryError::InconsistentCompareAndSet { index: 0, succeeded: true });
    assert!(error.to_string().contains("entry 0"), "{error}");
}

#[test]
fn explanation_reads_well() {
    let history = [
        put(1, "k", "a", 0, 10_000),
        put(2, "k", "b", 20_000, 30_000),
        get(3, "k", Some("a"), 40_000, 1_050_000),
        HistoryEntry::completed(4, vec![0xff, 0x00], HistoryOp::Get, 0, 1, OpOutcome::Read(Some(Value(vec![1, 2])))),
    ];
    let text = verdict(&history).to_string();
    let expected = "\
key \"k\" is not linearizable: these 3 operations cannot be ordered consistently with their outcomes and real \
time, even if every other operation on the key that may have taken effect did so at any time after its \
invocation, or never:
  #0 client 1: put \"a\" -> ok  [invoked at 0.000000s, completed at 0.000010s]
  #1 client 2: put \"b\" -> ok  [invoked at 0.000020s, completed at 0.000030s]
  #2 client 3: get -> \"a\"  [invoked at 0.000040s, completed at 0.001050s]  <- culprit
the key's history (3 entries) stops being linearizable when #2 completes (3 entries invoked by then)
other keys not linearizable: 0xff00";
    assert_eq!(text, expected);
}

#[test]
fn long_values_take_a_line_and_stay_distinct() {
    let long = |last: u8| {
        let mut bytes = b"v616".to_vec();
        bytes.resize(4_000, b'.');
        bytes.push(last);
        Value(bytes).to_string()
    };
    let (one, other) = (long(b'a'), long(b'b'));
    assert!(one.starts_with("\"v616............\"…(4001 bytes, #"), "{one}");
    assert!(one.len() < 64, "{one}");
    assert_ne!(one, other, "the digest tells them apart");
    assert_eq!(Value(b"short".to_vec()).to_string(), "\"short\"");
}

//! One key's operations simplified for the search without changing its answer: values nobody compares
//! with collapsed, operations that cannot matter dropped, and unknown operations sorted into classes
//! of twins.

use std::collections::{BTreeMap, BTreeSet};

use super::register::{ABSENT, Action, CasResult, OTHER, SearchOp, ValueId};

/// The operations a search places, simplified without changing the answer.
///
/// 1. Values are told apart only where some operation compares with them: a value is *needed* if a
///    completed read returned it, a compare-and-set expects it, or a compare-and-set reports finding
///    it. Every other value (absent too, if nothing needs it) becomes [`OTHER`]: the register's
///    specification only ever compares the register with needed values, so a search over the
///    collapsed values reaches the same answer, and leaves out more no-op writes.
/// 2. Unknown reads constrain nothing and are dropped.
/// 3. An unknown write of [`OTHER`] is dropped unless some completed compare-and-set that failed
///    without saying what it found completes at or after the write's invocation. In any order that
///    places the write, the operations right after it see [`OTHER`], so they are no read and no
///    compare-and-set that needs a value — only such blind failures (which accept any value but
///    their expected one, itself needed) and then a write, which overwrites [`OTHER`] whatever was
///    there before. Without a blind failure that can come after the write, dropping it changes no
///    outcome.
/// 4. An unknown compare-and-set expecting a value nothing writes (and that is not the initial
///    absence) can never swap, so it is dropped: failing, it would change nothing. A completed read
///    of such a value, a swap from it, or a report of finding it can never be placed: the search
///    stops at once (`impossible`).
/// 5. Unknown operations with the same action are *twins*, placed only in invocation order: if an
///    order places a later twin and not an earlier one, the earlier one can take its place (it may
///    take effect at any time after an invocation no later than the other's). So the search never
///    tries the 2^k subsets of k interchangeable timed-out writes.
///
/// And the search places unknown operations only where something needs them. Right after an unknown
/// operation `u` (which took the register from `s0` to `s1`) it places only an operation `x` that
/// could not have gone at `s0`. If `x` could, then either `x` is a put or a remove, which makes `u`
/// pointless (the same order without `u` works, and keeps `u` for later); or `x` is a failed
/// compare-and-set, which leaves the register alone, so `u` can go right after `x` instead; or `x`
/// is a read, a compare-and-set that swaps, or an unknown one, none of which can go at both `s0` and
/// `s1`. Likewise, the completed operation that ends a run of unknown ones must not be one that could
/// have gone at the value before the run: the run would be pointless (a write follows), a loop back
/// to that value, or movable past the operation (a failed compare-and-set).
pub(super) struct Prepared {
    pub(super) ops: Vec<SearchOp>,
    /// For each of `ops` that is unknown, its class of twins (numbered from 0).
    pub(super) class: Vec<Option<usize>>,
    /// How many classes of twins there are.
    pub(super) classes: usize,
    /// The register's value at the start.
    pub(super) initial: ValueId,
    /// Whether a completed operation needs a value nothing writes, so no order can work.
    pub(super) impossible: bool,
}

impl Prepared {
    pub(super) fn new(ops: &[SearchOp]) -> Prepared {
        let mut needed: BTreeSet<ValueId> = BTreeSet::new();
        // The latest completion of a compare-and-set that failed without saying what it found.
        let mut blind_failure_at: Option<u64> = None;
        for op in ops {
            match op.action {
                Action::Read(value) if op.is_completed() => {
                    needed.insert(value);
                }
                Action::Read(_) | Action::Write(_) => {}
                Action::CompareAndSet { expected, result, .. } => {
                    needed.insert(expected);
                    match result {
                        Some(CasResult { found: Some(found), .. }) => {
                            needed.insert(found);
                        }
                        Some(CasResult { succeeded: false, found: None }) => {
                            blind_failure_at = blind_failure_at.max(op.completed_at);
                        }
                        Some(CasResult { succeeded: true, found: None }) | None => {}
                    }
                }
            }
        }
        let writable = writable(ops);
        let collapse = |value: ValueId| if needed.contains(&value) { value } else { OTHER };
        let mut prepared = Prepared {
            ops: Vec::with_capacity(ops.len()),
            class: Vec::new(),
            classes: 0,
            initial: collapse(ABSENT),
            impossible: false,
        };
        // The class of each action of unknown operations.
        let mut classes: BTreeMap<Action, usize> = BTreeMap::new();
        for op in ops {
            prepared.impossible |= needs_unwritable(op, &writable);
            let action = match op.action {
                Action::Read(_) if !op.is_completed() => continue,
                Action::CompareAndSet { expected, result: None, .. } if !writable.contains(&expected) => continue,
                Action::Read(value) => Action::Read(value),
                Action::Write(value) => Action::Write(collapse(value)),
                Action::CompareAndSet { expected, new, result } => {
                    Action::CompareAndSet { expected, new: collapse(new), result }
                }
            };
            if !op.is_completed() {
                let (Action::Write(written) | Action::CompareAndSet { new: written, .. } | Action::Read(written)) =
                    action;
                if written == OTHER && blind_failure_at.is_none_or(|at| at < op.invoked_at) {
                    continue;
                }
                let next_class = classes.len();
                prepared.class.push(Some(*classes.entry(action).or_insert(next_class)));
            } else {
                prepared.class.push(None);
            }
            prepared.ops.push(SearchOp { action, ..*op });
        }
        prepared.classes = classes.len();
        prepared
    }
}

/// The values some operation of `ops` may write, and the initial absence.
pub(super) fn writable(ops: &[SearchOp]) -> BTreeSet<ValueId> {
    let mut writable = BTreeSet::from([ABSENT]);
    for op in ops {
        if let Action::Write(value) | Action::CompareAndSet { new: value, .. } = op.action {
            writable.insert(value);
        }
    }
    writable
}

/// Whether a completed operation needs the register to hold a value nothing writes, so it can never
/// be placed.
pub(super) fn needs_unwritable(op: &SearchOp, writable: &BTreeSet<ValueId>) -> bool {
    match op.action {
        Action::Read(value) => op.is_completed() && !writable.contains(&value),
        Action::CompareAndSet { expected, result: Some(CasResult { succeeded, found }), .. } => {
            (succeeded && !writable.contains(&expected)) || found.is_some_and(|found| !writable.contains(&found))
        }
        Action::Write(_) | Action::CompareAndSet { result: None, .. } => false,
    }
}

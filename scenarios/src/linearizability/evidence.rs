//! Explaining a violation: the culprit (the completion where the key's history first stops being
//! linearizable) and a minimal set of operations that cannot be ordered, found by weakening
//! operations in ever smaller chunks, each step checked by the search.

use std::collections::BTreeSet;

use super::partition::KeyHistory;
use super::prepare::{needs_unwritable, writable};
use super::register::{Action, SearchOp, ValueId};
use super::search::{Found, search};
use super::{HistoryEntry, HistoryOp, OpCompletion, OpOutcome, Value};

/// An entry of the history cited in [`Evidence`], with its position there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CitedEntry {
    /// Position of the entry in the history given to the checker.
    pub index: usize,
    /// The entry.
    pub entry: HistoryEntry,
}

/// Why a key's history is not linearizable.
///
/// `ops` cannot be put in any order consistent with their outcomes and with real time, even if every
/// other operation of the key that may have taken effect (that is, every one but the failed ones)
/// took effect at any time after its invocation, or never.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The operations that cannot be ordered, by invocation time; all completed.
    pub ops: Vec<CitedEntry>,
    /// Position in the history of the culprit, the one of `ops` that completed last: the history of
    /// the key up to the culprit's completion is not linearizable.
    pub culprit: usize,
    /// Whether no operation of `ops` can be spared. False if the search budget ran out first: the
    /// evidence still holds, it may just not be the smallest.
    pub minimal: bool,
    /// Whether the key's history was linearizable up to just before the culprit's completion, so the
    /// culprit is where it first went wrong. False if the search budget ran out before that was
    /// known.
    pub earliest: bool,
    /// Failed operations on the key that wrote a value some operation of `ops` saw or expected: the
    /// value cannot have come from them.
    pub failed: Vec<CitedEntry>,
    /// How many entries of the history are on the key.
    pub key_entries: usize,
    /// How many of them were invoked by the culprit's completion.
    pub prefix_entries: usize,
}

/// The operations of `ops` (in invocation order) invoked by `cut`, those marked in `strong` as they
/// are, the others weakened (their completion forgotten; reads dropped).
fn weakened_prefix(ops: &[SearchOp], cut: u64, strong: &[bool]) -> Vec<SearchOp> {
    ops.iter()
        .zip(strong)
        .take_while(|(op, _)| op.invoked_at <= cut)
        .filter_map(|(op, &strong)| if strong { Some(*op) } else { op.weakened() })
        .collect()
}

/// A search budget spent by several checks.
struct Budget {
    states: u64,
    /// Most states one check may use, so that one hard check does not starve the others.
    check_states_max: u64,
}

impl Budget {
    /// Searches `ops` within what is left of the budget, and charges what the search explored.
    fn search(&mut self, ops: &[SearchOp]) -> Found {
        if self.states == 0 {
            return Found::Exhausted;
        }
        let searched = search(ops, self.check_states_max.min(self.states));
        self.states -= searched.explored;
        searched.found
    }
}

/// Shrinks the operations marked in `strong` (completed ones of `ops`, all but `pinned`) to a
/// minimal set that is still not linearizable when every other operation invoked by `cut` is
/// weakened. Weakens chunks of them, halving the chunks down to single operations, and keeps each
/// weakening that leaves the history not linearizable; weakening only adds freedom, so an operation
/// that could not be weakened never can be later, and the result is minimal — unless the budget runs
/// out, which the returned flag says.
fn shrink_core(ops: &[SearchOp], cut: u64, strong: &mut [bool], pinned: usize, budget: &mut Budget) -> bool {
    // Reads are tried first, writes last: an explanation in terms of the writes that produced the
    // values reads well.
    let mut candidates: Vec<usize> =
        (0..ops.len()).filter(|&position| strong[position] && position != pinned).collect();
    candidates.sort_by_key(|&position| match ops[position].action {
        Action::Read(_) => 0,
        Action::CompareAndSet { .. } => 1,
        Action::Write(_) => 2,
    });
    let mut minimal = true;
    let mut chunk = candidates.len();
    while chunk > 0 && !candidates.is_empty() {
        let mut start = 0;
        while start < candidates.len() {
            let end = (start + chunk).min(candidates.len());
            for &position in &candidates[start..end] {
                strong[position] = false;
            }
            let found = budget.search(&weakened_prefix(ops, cut, strong));
            if found == Found::NotLinearizable {
                candidates.drain(start..end);
            } else {
                for &position in &candidates[start..end] {
                    strong[position] = true;
                }
                minimal &= found == Found::Linearizable;
                start = end;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    minimal
}

/// Looks for a small set of the operations marked in `candidates` that, with `culprit` and every other
/// operation invoked by `cut` weakened, is not linearizable: the culprit and the first k operations
/// in order of likely relevance, for k = 1, 2, 4, … Cores are usually small, and a check with few
/// strong operations is cheap, where shrinking from the whole prefix would start with expensive ones.
/// Likely relevant: first the writes of the values the culprit saw or expected, then the others,
/// latest completion first. `None` if the budget runs out before such a set is found.
fn grow_core(
    ops: &[SearchOp],
    cut: u64,
    candidates: &[bool],
    culprit: usize,
    budget: &mut Budget,
) -> Option<Vec<bool>> {
    let seen: Vec<ValueId> = match ops[culprit].action {
        Action::Read(value) => vec![value],
        Action::CompareAndSet { expected, result, .. } => {
            let mut seen = vec![expected];
            seen.extend(result.and_then(|result| result.found));
            seen
        }
        Action::Write(_) => Vec::new(),
    };
    let mut order: Vec<usize> =
        (0..ops.len()).filter(|&position| candidates[position] && position != culprit).collect();
    order.sort_by_key(|&position| {
        let writes_seen = match ops[position].action {
            Action::Write(value) | Action::CompareAndSet { new: value, .. } => seen.contains(&value),
            Action::Read(_) => false,
        };
        (!writes_seen, std::cmp::Reverse((ops[position].completed_at, position)))
    });
    let mut count = 0;
    loop {
        let mut strong = vec![false; ops.len()];
        strong[culprit] = true;
        for &position in &order[..count] {
            strong[position] = true;
        }
        match budget.search(&weakened_prefix(ops, cut, &strong)) {
            Found::NotLinearizable => return Some(strong),
            Found::Exhausted => return None,
            Found::Linearizable if count == order.len() => return None,
            Found::Linearizable => count = (count * 2).clamp(1, order.len()),
        }
    }
}

/// Explains why a key's history, known not to be linearizable, is not; the search that found it so
/// proved the first `frontier` completions linearizable.
///
/// First finds the shortest prefix that is not linearizable (prefixes of a linearizable history are
/// linearizable, so the answer is monotonic): it is at least one completion past `frontier`, and
/// usually exactly that, so the search gallops forward from there, then bisects. The operation
/// completing at its end is the culprit. Then it grows a set of operations around the culprit that
/// is not linearizable (see [`grow_core`]), and shrinks that set to a minimal one.
pub(super) fn explain(
    history: &[HistoryEntry],
    key_history: &KeyHistory,
    frontier: usize,
    states_max: u64,
) -> Evidence {
    let ops = &key_history.ops;
    let mut completions: Vec<usize> = (0..ops.len()).filter(|&position| ops[position].is_completed()).collect();
    completions.sort_by_key(|&position| (ops[position].completed_at, ops[position].invoked_at, position));
    assert!(frontier < completions.len(), "a history not linearizable has a completion past the frontier");
    let mut rank = vec![usize::MAX; ops.len()];
    for (order, &position) in completions.iter().enumerate() {
        rank[position] = order;
    }
    let completed_at = |position: usize| ops[position].completed_at.unwrap_or(u64::MAX);
    let mut prefix_budget = Budget { states: states_max, check_states_max: states_max };
    let mut shrink_budget = Budget { states: states_max, check_states_max: (states_max / 8).max(1) };

    // The first `linearizable` completions are linearizable, the first `not_linearizable` are not.
    let (mut linearizable, mut not_linearizable) = (frontier, completions.len());
    let mut earliest = true;
    let mut stride = 1;
    // An operation that needs a value nothing writes cannot be placed; the search stopped at it at
    // once, without telling how far it got. Most likely the history went wrong there.
    let writable = writable(ops);
    if let Some(impossible) = completions.iter().position(|&position| needs_unwritable(&ops[position], &writable)) {
        not_linearizable = impossible + 1;
        if not_linearizable - linearizable > 1 {
            let count = not_linearizable - 1;
            let prefix: Vec<bool> = rank.iter().map(|&order| order < count).collect();
            match prefix_budget.search(&weakened_prefix(ops, completed_at(completions[count - 1]), &prefix)) {
                Found::Linearizable => linearizable = count,
                Found::NotLinearizable => not_linearizable = count,
                Found::Exhausted => earliest = false,
            }
        }
    }
    while earliest && not_linearizable - linearizable > 1 {
        let count = linearizable + stride.min((not_linearizable - linearizable) / 2);
        let prefix: Vec<bool> = rank.iter().map(|&order| order < count).collect();
        match prefix_budget.search(&weakened_prefix(ops, completed_at(completions[count - 1]), &prefix)) {
            Found::Linearizable => {
                linearizable = count;
                stride = stride.saturating_mul(2);
            }
            Found::NotLinearizable => {
                not_linearizable = count;
                // Past the galloping: bisect.
                stride = usize::MAX / 2;
            }
            Found::Exhausted => {
                earliest = false;
                break;
            }
        }
    }
    let culprit = completions[not_linearizable - 1];
    let cut = completed_at(culprit);
    let in_prefix: Vec<bool> = rank.iter().map(|&order| order < not_linearizable).collect();
    let mut strong = grow_core(ops, cut, &in_prefix, culprit, &mut shrink_budget).unwrap_or(in_prefix);
    let minimal = shrink_core(ops, cut, &mut strong, culprit, &mut shrink_budget);

    let cite = |index: usize| CitedEntry { index, entry: history[index].clone() };
    let core: Vec<CitedEntry> = (0..ops.len())
        .filter(|&position| strong[position])
        .map(|position| cite(key_history.indices[position]))
        .collect();
    // Failed writes of values the core saw or expected.
    let mut seen: BTreeSet<&Value> = BTreeSet::new();
    for op in &core {
        if let HistoryOp::CompareAndSet { expected: Some(expected), .. } = &op.entry.op {
            seen.insert(expected);
        }
        match &op.entry.completion {
            OpCompletion::Completed { outcome: OpOutcome::Read(Some(value)), .. }
            | OpCompletion::Completed { outcome: OpOutcome::CompareAndSet { found: Some(Some(value)), .. }, .. } => {
                seen.insert(value);
            }
            _ => {}
        }
    }
    let failed = key_history
        .entries
        .iter()
        .filter(|&&index| {
            let entry = &history[index];
            let written = match &entry.op {
                HistoryOp::Put { value } | HistoryOp::CompareAndSet { new: Some(value), .. } => Some(value),
                _ => None,
            };
            entry.completion == OpCompletion::Failed
                && entry.invoked_at <= cut
                && written.is_some_and(|value| seen.contains(value))
        })
        .map(|&index| cite(index))
        .collect();
    let prefix_entries = key_history.entries.iter().filter(|&&index| history[index].invoked_at <= cut).count();
    Evidence {
        ops: core,
        culprit: key_history.indices[culprit],
        minimal,
        earliest,
        failed,
        key_entries: key_history.entries.len(),
        prefix_entries,
    }
}

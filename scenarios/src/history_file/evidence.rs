//! Explaining a key whose history is not linearizable, as [`crate::linearizability`] explains
//! Pangea's own: the culprit (the completion where the key's history first stops being
//! linearizable) and a minimal set of completed operations that cannot be ordered even if every
//! other operation of the key took effect at any time after its invocation, or never.
//!
//! Everything is found by [`crate::model::check_model`] on weakened histories: an operation is
//! weakened by forgetting its completion (it becomes of unknown outcome). Weakening only adds
//! freedom, so an operation that cannot be weakened now never can be later, and what is left when
//! no single operation can be weakened is minimal — unless a check ran out of budget, which the
//! evidence says.

use super::models::{ModelKind, model_op};
use super::operation::{Call, Operation, Output};
use crate::model::{Ended, ModelOp, ModelVerdict};
use serde::Serialize;

/// Most checks spent shrinking one key's evidence.
pub const SHRINK_CHECKS_MAX: usize = 500;

/// Why one key's history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The key (`None`: the history's single register).
    pub key: Option<String>,
    /// Positions in the history's operations of the operations that cannot be ordered, in
    /// invocation order; all completed.
    pub operations: Vec<usize>,
    /// Position of the culprit, the one of `operations` that completed last: the key's history up
    /// to its completion is not linearizable.
    pub culprit: usize,
    /// Whether no operation of `operations` can be spared (false if a check ran out of budget
    /// first: the evidence still holds, it may just not be the smallest).
    pub minimal: bool,
    /// Whether the key's history was linearizable up to just before the culprit's completion
    /// (false if a check ran out of budget before that was known).
    pub earliest: bool,
    /// Operations on the key.
    pub key_operations: usize,
    /// Of them, those invoked by the culprit's completion.
    pub prefix_operations: usize,
}

/// What one check of a weakened history found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Linearizable,
    NotLinearizable,
    Exhausted,
}

/// Checks within a budget: a number of checks, each bounded in configurations.
struct Budget {
    kind: ModelKind,
    checks_left: usize,
    check_states_max: usize,
}

impl Budget {
    fn check(&mut self, history: &[ModelOp<Call, Output>]) -> Found {
        if self.checks_left == 0 {
            return Found::Exhausted;
        }
        self.checks_left -= 1;
        let verdict = self.kind.check(history, self.check_states_max);
        match verdict {
            ModelVerdict::Linearizable { .. } => Found::Linearizable,
            ModelVerdict::NotLinearizable { .. } => Found::NotLinearizable,
            ModelVerdict::Unknown { .. } => Found::Exhausted,
        }
    }
}

/// The operations of `ops` invoked by `cut`: those marked in `strong` as they are, the others
/// weakened (a completion forgotten).
fn weakened_prefix(ops: &[ModelOp<Call, Output>], cut: u64, strong: &[bool]) -> Vec<ModelOp<Call, Output>> {
    ops.iter()
        .zip(strong)
        .filter(|(op, _)| op.invoked_at <= cut)
        .map(|(op, &strong)| match op.ended {
            Ended::Completed { .. } if !strong => ModelOp { ended: Ended::Unknown, ..op.clone() },
            _ => op.clone(),
        })
        .collect()
}

/// Explains why the key's operations (`positions` in `history`, in invocation order), known not to
/// be linearizable against `kind`, are not; each check explores at most `states_max`
/// configurations.
pub(crate) fn explain(
    kind: ModelKind,
    key: Option<String>,
    history: &[Operation],
    positions: &[usize],
    states_max: usize,
) -> Evidence {
    let ops: Vec<ModelOp<Call, Output>> = positions.iter().map(|&position| model_op(&history[position])).collect();
    let completed_at = |position: usize| match ops[position].ended {
        Ended::Completed { at, .. } => Some(at),
        Ended::Unknown | Ended::Failed => None,
    };
    let mut completions: Vec<usize> = (0..ops.len()).filter(|&position| completed_at(position).is_some()).collect();
    completions.sort_by_key(|&position| (completed_at(position), ops[position].invoked_at, position));
    let mut rank = vec![usize::MAX; ops.len()];
    for (order, &position) in completions.iter().enumerate() {
        rank[position] = order;
    }
    let cut_of = |count: usize| completions.get(count.wrapping_sub(1)).and_then(|&position| completed_at(position));
    let mut prefix_budget = Budget { kind, checks_left: 2 * (usize::BITS as usize), check_states_max: states_max };

    // The shortest prefix of completions that is not linearizable (prefixes of a linearizable
    // history are): gallop forward from the start, then bisect.
    let (mut linearizable, mut not_linearizable) = (0, completions.len());
    let mut earliest = true;
    let mut stride = 1;
    while not_linearizable - linearizable > 1 {
        let count = linearizable + stride.min((not_linearizable - linearizable) / 2);
        let strong: Vec<bool> = rank.iter().map(|&order| order < count).collect();
        match prefix_budget.check(&weakened_prefix(&ops, cut_of(count).unwrap_or(u64::MAX), &strong)) {
            Found::Linearizable => {
                linearizable = count;
                stride = stride.saturating_mul(2);
            }
            Found::NotLinearizable => {
                not_linearizable = count;
                stride = usize::MAX / 2;
            }
            Found::Exhausted => {
                earliest = false;
                break;
            }
        }
    }
    let Some(&culprit) = completions.get(not_linearizable.wrapping_sub(1)) else {
        // No completion at all: nothing can contradict a model, so this is not reached; cite
        // nothing rather than guess.
        return Evidence {
            key,
            operations: Vec::new(),
            culprit: positions.first().copied().unwrap_or_default(),
            minimal: false,
            earliest: false,
            key_operations: positions.len(),
            prefix_operations: 0,
        };
    };
    let cut = cut_of(not_linearizable).unwrap_or(u64::MAX);
    let in_prefix: Vec<bool> = rank.iter().map(|&order| order < not_linearizable).collect();
    let mut shrink_budget =
        Budget { kind, checks_left: SHRINK_CHECKS_MAX, check_states_max: (states_max / 8).max(1_000) };
    let grown = grow_core(&ops, cut, &in_prefix, culprit, &mut shrink_budget);
    let mut minimal = grown.is_some();
    let mut strong = grown.unwrap_or(in_prefix);
    minimal &= shrink_core(&ops, cut, &mut strong, culprit, &mut shrink_budget);
    Evidence {
        key,
        operations: (0..ops.len()).filter(|&position| strong[position]).map(|position| positions[position]).collect(),
        culprit: positions[culprit],
        minimal,
        earliest,
        key_operations: positions.len(),
        prefix_operations: ops.iter().filter(|op| op.invoked_at <= cut).count(),
    }
}

/// Looks for a small set of the operations marked in `candidates` that, with `culprit` and every
/// other operation invoked by `cut` weakened, is not linearizable: the culprit and the first k
/// others in order of likely relevance, for k = 0, 1, 2, 4, … (a check with few strong operations
/// is cheap). Likely relevant: first the operations that wrote what the culprit saw or expected,
/// then the others, latest completion first. `None` if no such set is found within the budget.
fn grow_core(
    ops: &[ModelOp<Call, Output>],
    cut: u64,
    candidates: &[bool],
    culprit: usize,
    budget: &mut Budget,
) -> Option<Vec<bool>> {
    let seen: Vec<&str> = match (&ops[culprit].op, &ops[culprit].ended) {
        (Call::Read, Ended::Completed { output: Output::Value(Some(value)), .. }) => vec![value.as_str()],
        (Call::Cas { expected: Some(expected), .. }, _) => vec![expected.as_str()],
        _ => Vec::new(),
    };
    let wrote_seen = |op: &Call| match op {
        Call::Write { value } | Call::Append { value } | Call::Cas { new: Some(value), .. } => {
            seen.iter().any(|seen| seen.contains(value.as_str()))
        }
        Call::Read | Call::Remove | Call::Cas { new: None, .. } => false,
    };
    let completed_at = |position: usize| match ops[position].ended {
        Ended::Completed { at, .. } => at,
        Ended::Unknown | Ended::Failed => 0,
    };
    let mut order: Vec<usize> =
        (0..ops.len()).filter(|&position| candidates[position] && position != culprit).collect();
    order.sort_by_key(|&position| {
        (!wrote_seen(&ops[position].op), std::cmp::Reverse((completed_at(position), position)))
    });
    let mut count = 0;
    loop {
        let mut strong = vec![false; ops.len()];
        strong[culprit] = true;
        for &position in &order[..count] {
            strong[position] = true;
        }
        match budget.check(&weakened_prefix(ops, cut, &strong)) {
            Found::NotLinearizable => return Some(strong),
            Found::Exhausted => return None,
            Found::Linearizable if count == order.len() => return None,
            Found::Linearizable => count = (count * 2).clamp(1, order.len()),
        }
    }
}

/// Shrinks the operations marked in `strong` (all but `culprit`) to a minimal set that is still not
/// linearizable with every other operation invoked by `cut` weakened: weakens chunks of them,
/// halving the chunks down to single operations, keeping each weakening that leaves the history not
/// linearizable. Reads are tried first and writes last, so that what is left explains a read by
/// the writes that produced its value. Returns whether the result is known minimal.
fn shrink_core(
    ops: &[ModelOp<Call, Output>],
    cut: u64,
    strong: &mut [bool],
    culprit: usize,
    budget: &mut Budget,
) -> bool {
    let mut candidates: Vec<usize> =
        (0..ops.len()).filter(|&position| strong[position] && position != culprit).collect();
    candidates.sort_by_key(|&position| match ops[position].op {
        Call::Read => 0,
        Call::Cas { .. } => 1,
        Call::Write { .. } | Call::Append { .. } | Call::Remove => 2,
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
            let found = budget.check(&weakened_prefix(ops, cut, strong));
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

//! What identifies a configuration of the search — its key: the register's value, what the latest
//! placements restrict, and which completed operations are placed — and when one configuration
//! dominates another with the same key (it placed no more unknown operations of each class of
//! twins).

use super::register::ValueId;

/// What the latest placement restricts when it is of an unknown operation: the operation placed next
/// must need it (see [`Prepared`](super::prepare::Prepared)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct UnknownRun {
    /// The register's value before the latest placement.
    pub(super) before_latest: ValueId,
    /// The register's value before the run of unknown operations the latest placement ends.
    pub(super) before_run: ValueId,
}

/// Where a configuration's key keeps what.
pub(super) const KEY_STATE: usize = 0;
/// 1 if the latest placement is of an unknown operation, else 0.
pub(super) const KEY_IN_RUN: usize = 1;
/// The register's value before the latest placement, if it is of an unknown operation.
pub(super) const KEY_BEFORE_LATEST: usize = 2;
/// The register's value before the run of unknown operations the latest placement ends, if any.
pub(super) const KEY_BEFORE_RUN: usize = 3;
/// One past the highest placed completed operation.
pub(super) const KEY_UPPER: usize = 4;
/// From here: the completed operations below the upper one not placed, in order.
pub(super) const KEY_HOLES: usize = 5;

/// Writes the memo key of a configuration into `key`: the register's value; if the latest placement
/// is of an unknown operation, the values before it and before the run of unknown operations it ends
/// (which restrict what may follow); one past the highest placed completed operation; then the
/// completed operations below it not placed. Operations are in invocation order, so the placed ones
/// are mostly a prefix and the key stays short. (Which unknown operations are placed is compared
/// apart, by dominance.)
pub(super) fn memo_key(
    placed: &[u64],
    completed: &[u64],
    state: ValueId,
    unknown_run: Option<UnknownRun>,
    key: &mut Vec<u32>,
) {
    key.clear();
    key.push(state);
    key.extend_from_slice(&match unknown_run {
        Some(UnknownRun { before_latest, before_run }) => [1, before_latest, before_run],
        None => [0, 0, 0],
    });
    let Some(top) = placed.iter().rposition(|&word| word != 0) else {
        key.push(0);
        return;
    };
    let top_bits = 64 - placed[top].leading_zeros() as usize;
    let upper = top * 64 + top_bits;
    // `partition` checked that operation numbers fit in a u32.
    key.push(upper as u32);
    for (word_index, (&word, &completed)) in placed[..=top].iter().zip(completed).enumerate() {
        let mut holes = !word & completed;
        if word_index == top && top_bits < 64 {
            holes &= (1u64 << top_bits) - 1;
        }
        while holes != 0 {
            key.push((word_index * 64 + holes.trailing_zeros() as usize) as u32);
            holes &= holes - 1;
        }
    }
}

/// Whether counts `a` are at most counts `b` in every class; both are sorted (class, count) pairs,
/// classes not listed counting zero.
pub(super) fn at_most(a: &[u32], b: &[u32]) -> bool {
    let mut b = b.chunks_exact(2);
    a.chunks_exact(2).all(|pair| {
        b.by_ref().find(|other| other[0] >= pair[0]).is_some_and(|other| other[0] == pair[0] && pair[1] <= other[1])
    })
}

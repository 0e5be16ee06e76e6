//! The search for a linearization of one key's operations: what it answers, how much it may explore
//! (the effort bound), and which engine runs when — depth first, then layered.

use super::depth_first::search_depth_first;
use super::layered::search_layered;
use super::prepare::Prepared;
use super::register::SearchOp;

/// What a search found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Found {
    Linearizable,
    NotLinearizable,
    /// The budget ran out first.
    Exhausted,
}

/// What a search found, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Searched {
    pub(super) found: Found,
    /// Configurations explored.
    pub(super) explored: u64,
    /// The most completions, in completion order, that some configuration placed all of: the
    /// history cut at the last of them is linearizable (the operations placed up to it are a
    /// linearization of that prefix, operations pending there counting as unknown).
    pub(super) frontier: usize,
}

/// Searches for a linearization of `ops` (in invocation order), exploring at most `states_max`
/// configurations: depth first for a while (see [`search_depth_first`]), which finds a linearization
/// quickly when there is one, then layer by layer (see [`search_layered`]), which explores no
/// configuration twice, so proves quickest that there is none.
///
/// In both, an operation may go next if it is invoked before the completion of the
/// earliest-completing operation not yet placed (at the same instant, the invocation counts as
/// before): then every operation that completed before its invocation is placed.
pub(super) fn search(ops: &[SearchOp], states_max: u64) -> Searched {
    let prepared = Prepared::new(ops);
    let total = prepared.ops.iter().filter(|op| op.is_completed()).count();
    if total == 0 {
        return Searched { found: Found::Linearizable, explored: 0, frontier: 0 };
    }
    if prepared.impossible {
        return Searched { found: Found::NotLinearizable, explored: 0, frontier: 0 };
    }
    let depth_first_max =
        states_max.min(DEPTH_FIRST_STATES_PER_OP * prepared.ops.len() as u64 + DEPTH_FIRST_STATES_MIN);
    let depth_first = search_depth_first(&prepared, depth_first_max);
    if depth_first.found != Found::Exhausted {
        return depth_first;
    }
    let layered = search_layered(&prepared, states_max - depth_first.explored);
    Searched {
        found: layered.found,
        explored: depth_first.explored + layered.explored,
        frontier: depth_first.frontier.max(layered.frontier),
    }
}

/// How many configurations per operation the depth-first search may explore before the layered one
/// takes over: a linearizable history needs a few.
const DEPTH_FIRST_STATES_PER_OP: u64 = 16;
/// And how many more.
const DEPTH_FIRST_STATES_MIN: u64 = 1_000;

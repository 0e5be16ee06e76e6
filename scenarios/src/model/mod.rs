//! Linearizability against a sequential model the user supplies: any state, any operation, any
//! output, not only Pangea's key/value operations.
//!
//! A [`SequentialModel`] says what one operation does to a state and what it returns. A history is
//! a list of [`ModelOp`]s: who invoked what and when, and how it ended — completed (at a time, with
//! an output), unknown (timed out: it may have taken effect at any point after its invocation, or
//! never) or failed (it did not take effect). [`check_model`] looks for one order of the completed
//! operations and of any subset of the unknown ones that respects real time (an operation that
//! completed before another was invoked comes first) and in which every completed operation returns
//! what the model returns in that order.
//!
//! The search is Wing & Gong's, with each configuration — the operations placed and the model's
//! state — explored once (Lowe), depth first on an explicit stack, and bounded by a number of
//! configurations and by the memory they hold ([`SEARCH_BYTES_MAX`]): past either the verdict is
//! [`ModelVerdict::Unknown`], never a guess. Operations of
//! unknown outcome cost little: a configuration is skipped when one with the same completed
//! operations and state but only some of its unknown ones placed was explored (it has every option
//! this one has), and unknown operations the model calls interchangeable are placed in invocation
//! order only. It is the
//! general engine; the key/value checker in [`crate::linearizability`] is a specialised one (keys
//! split apart, values numbered, unknown writes pruned) for Pangea's own histories.
//!
//! [`examples`] holds two models written as a user would: a register and a FIFO queue;
//! [`key_value`] is Pangea's own key/value store as a model.

pub mod examples;
pub mod key_value;

use std::collections::BTreeMap;
use std::fmt::Debug;

/// What an operation does, one at a time: the specification a history is checked against.
pub trait SequentialModel {
    /// The state the operations act on (ordered, so that the search can remember states).
    type State: Clone + Ord;
    /// An operation, as a client invokes it.
    type Op: Clone + Debug;
    /// What an operation returns.
    type Output: Clone + PartialEq + Debug;

    /// The state before any operation.
    fn initial(&self) -> Self::State;

    /// The state after `op` runs on `state`, and what `op` returns.
    fn apply(&self, state: &Self::State, op: &Self::Op) -> (Self::State, Self::Output);

    /// Whether a client that saw `seen` may have been answered `output`: equality unless the model
    /// lets clients see part of an answer (a store that does not always report a field).
    fn matches(&self, seen: &Self::Output, output: &Self::Output) -> bool {
        seen == output
    }

    /// True for an operation that never changes the state (a read). The checker drops such
    /// operations whose outcome is unknown: placed or not, they explain nothing and constrain
    /// nothing, and each one left in multiplies the orders to search. False by default.
    fn is_read_only(&self, _op: &Self::Op) -> bool {
        false
    }

    /// A 64-bit fingerprint of `state`, if the model has one: the search then remembers the states
    /// it has explored by fingerprint instead of by copy, which keeps large states (a whole graph)
    /// from filling memory. Two different states with one fingerprint would make the search skip
    /// one, so the fingerprint must hash the whole state (a 64-bit hash: one collision in about
    /// 10^19 pairs). `None` by default: states are remembered whole.
    fn fingerprint(&self, _state: &Self::State) -> Option<u64> {
        None
    }

    /// True if `a` and `b` are the same operation (the same effect on every state, the same output).
    /// The search then places two such operations of unknown outcome only in invocation order: an
    /// order that places the later and not the earlier can place the earlier instead (it may take
    /// effect at any time after an invocation no later than the other's), so the search never tries
    /// the 2^k subsets of k interchangeable timed-out writes. False by default.
    fn interchangeable(&self, _a: &Self::Op, _b: &Self::Op) -> bool {
        false
    }

    /// Bytes `state` holds on the heap (a string's or a map's contents), which the search counts
    /// against [`SEARCH_BYTES_MAX`] for each copy it keeps. 0 by default: states held inline.
    fn state_heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }
}

/// Unknown operations of a search each one is compared with, looking for an earlier interchangeable
/// one ([`SequentialModel::interchangeable`]): a bound on the cost for models without any.
const TWIN_SCAN_MAX: usize = 256;

/// A configuration as the search remembers it: its state whole, or the state's fingerprint.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Remembered<State> {
    Whole(State),
    Fingerprint(u64),
}

/// The configurations a search explored: for each set of completed operations placed (bits) and
/// state, the sets of unknown operations placed with them.
type Explored<State> = BTreeMap<(Vec<u64>, Remembered<State>), Vec<Vec<u64>>>;

/// A history of operations on a system `M` describes, in invocation order.
pub type History<M> = [ModelOp<<M as SequentialModel>::Op, <M as SequentialModel>::Output>];

/// How an operation of a history ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended<Output> {
    /// It returned `output` at `at`.
    Completed {
        /// When the client saw the answer.
        at: u64,
        /// The answer.
        output: Output,
    },
    /// The client does not know (a timeout): it may have taken effect after its invocation, or not.
    Unknown,
    /// It certainly did not take effect.
    Failed,
}

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelOp<Op, Output> {
    /// Who invoked it (for messages only; one client may have several operations in flight).
    pub client: u64,
    /// When it was invoked.
    pub invoked_at: u64,
    /// The operation.
    pub op: Op,
    /// How it ended.
    pub ended: Ended<Output>,
}

/// What [`check_model`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelVerdict {
    /// An order exists: the positions in the history of the operations that took effect, in order
    /// (every completed one, and the unknown ones the order needs).
    Linearizable {
        /// The order found.
        order: Vec<usize>,
    },
    /// No order exists. `longest` is the longest order the search could build before every way on
    /// contradicted a completed operation's output: what goes wrong comes right after it.
    NotLinearizable {
        /// The longest order built.
        longest: Vec<usize>,
    },
    /// The search met a bound without deciding.
    Unknown {
        /// The bound it met.
        bound: SearchBound,
    },
}

/// What stopped a search undecided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchBound {
    /// The caller's budget of configurations.
    Configurations(usize),
    /// [`SEARCH_BYTES_MAX`]: the configurations explored and waiting would have taken more memory
    /// (a configuration holds a bit per operation on the key, so a key with tens of thousands of
    /// operations costs kilobytes a configuration).
    MemoryBytes(usize),
}

impl std::fmt::Display for SearchBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchBound::Configurations(count) => write!(f, "{count} configurations"),
            SearchBound::MemoryBytes(bytes) => write!(f, "{} MiB of configurations", bytes >> 20),
        }
    }
}

impl ModelVerdict {
    /// Whether an order was found.
    #[must_use]
    pub fn is_linearizable(&self) -> bool {
        matches!(self, ModelVerdict::Linearizable { .. })
    }
}

/// Configurations a check explores by default before it answers [`ModelVerdict::Unknown`].
pub const CONFIGURATIONS_MAX: usize = 1_000_000;

/// Memory, estimated from their sizes, that a search's explored and waiting configurations may take
/// before it answers [`ModelVerdict::Unknown`]. Without it, a 219,590-operation history checked
/// by `pangea-sim check-history` grew to 24 GB and was killed.
pub const SEARCH_BYTES_MAX: usize = 4 << 30;

/// A configuration on the search's stack: what is placed (a bit per candidate), the state, and the
/// last step of the order that led here (an index into the step arena).
struct Configuration<State> {
    placed: Vec<u64>,
    state: State,
    step: Option<usize>,
    placed_count: usize,
}

/// Checks `history` against `model`, exploring at most `configurations_max` configurations.
pub fn check_model<M: SequentialModel>(
    model: &M,
    history: &[ModelOp<M::Op, M::Output>],
    configurations_max: usize,
) -> ModelVerdict {
    check_model_within(model, history, configurations_max, SEARCH_BYTES_MAX)
}

/// [`check_model`] with the memory bound `bytes_max` in place of [`SEARCH_BYTES_MAX`].
pub(crate) fn check_model_within<M: SequentialModel>(
    model: &M,
    history: &[ModelOp<M::Op, M::Output>],
    configurations_max: usize,
    bytes_max: usize,
) -> ModelVerdict {
    let bounds = (configurations_max, bytes_max);
    // Failed operations took no effect: they are left out of the search.
    let candidates: Vec<usize> = (0..history.len())
        .filter(|&index| match history[index].ended {
            Ended::Failed => false,
            Ended::Unknown => !model.is_read_only(&history[index].op),
            Ended::Completed { .. } => true,
        })
        .collect();
    // Most histories are explained without the operations of unknown outcome (they may not have
    // taken effect), and each one left in multiplies the orders to search: try without them first.
    let completed: Vec<usize> =
        candidates.iter().copied().filter(|&index| completed_at(&history[index]).is_some()).collect();
    if completed.len() < candidates.len() {
        let verdict = search(model, history, &completed, bounds);
        if verdict.is_linearizable() {
            return verdict;
        }
    }
    search(model, history, &candidates, bounds)
}

/// Wing & Gong's search over the operations `candidates` (indices into `history`), within
/// `configurations_max` configurations and `bytes_max` bytes of them.
fn search<M: SequentialModel>(
    model: &M,
    history: &[ModelOp<M::Op, M::Output>],
    candidates: &[usize],
    (configurations_max, bytes_max): (usize, usize),
) -> ModelVerdict {
    let completed_total = candidates.iter().filter(|&&index| completed_at(&history[index]).is_some()).count();
    let words = candidates.len().div_ceil(64);
    // The order's steps, each with its parent: (history position, previous step).
    let mut steps: Vec<(usize, Option<usize>)> = Vec::new();
    // The configurations explored: for each set of completed operations placed and state, the sets
    // of unknown ones placed with them (none a subset of another). A configuration that places a
    // superset of one of those sets is dominated: the one with fewer has every option it has (an
    // unknown operation may take effect later, or never), so it is not explored again.
    let mut seen: Explored<M::State> = BTreeMap::new();
    let mut explored = 0;
    let mut unknown_bits = vec![0; words];
    for (bit, &index) in candidates.iter().enumerate() {
        if completed_at(&history[index]).is_none() {
            unknown_bits[bit / 64] |= 1 << (bit % 64);
        }
    }
    // The memory the explored configurations (two sets, the state as remembered, the map's share)
    // and the waiting ones (a set, a state) hold, for bytes_max.
    let set_bytes = words * size_of::<u64>();
    let waiting_cost =
        |state: &M::State| set_bytes + size_of::<Configuration<M::State>>() + model.state_heap_bytes(state);
    let initial = model.initial();
    let mut held_bytes = waiting_cost(&initial);
    let mut stack = vec![Configuration { placed: vec![0; words], state: initial, step: None, placed_count: 0 }];
    let mut longest: (usize, Option<usize>) = (0, None);
    let twin_before = twins(model, history, candidates);
    while let Some(mut configuration) = stack.pop() {
        held_bytes = held_bytes.saturating_sub(waiting_cost(&configuration.state));
        place_reads(model, history, candidates, &mut configuration, &mut steps);
        let (remembered, remembered_bytes) = match model.fingerprint(&configuration.state) {
            Some(fingerprint) => (Remembered::Fingerprint(fingerprint), 0),
            None => (Remembered::Whole(configuration.state.clone()), model.state_heap_bytes(&configuration.state)),
        };
        let placed_completed: Vec<u64> =
            configuration.placed.iter().zip(&unknown_bits).map(|(placed, unknown)| placed & !unknown).collect();
        let placed_unknown: Vec<u64> =
            configuration.placed.iter().zip(&unknown_bits).map(|(placed, unknown)| placed & unknown).collect();
        let unknown_sets = seen.entry((placed_completed, remembered)).or_default();
        if unknown_sets.iter().any(|set| is_subset(set, &placed_unknown)) {
            continue;
        }
        unknown_sets.retain(|set| !is_subset(&placed_unknown, set));
        unknown_sets.push(placed_unknown);
        explored += 1;
        if explored > configurations_max {
            return ModelVerdict::Unknown { bound: SearchBound::Configurations(configurations_max) };
        }
        held_bytes =
            held_bytes.saturating_add(2 * set_bytes + size_of::<Remembered<M::State>>() + remembered_bytes + 96);
        if held_bytes > bytes_max {
            return ModelVerdict::Unknown { bound: SearchBound::MemoryBytes(bytes_max) };
        }
        let placed_completed = candidates
            .iter()
            .enumerate()
            .filter(|&(bit, &index)| is_set(&configuration.placed, bit) && completed_at(&history[index]).is_some())
            .count();
        if placed_completed == completed_total {
            return ModelVerdict::Linearizable { order: order_of(&steps, configuration.step) };
        }
        if configuration.placed_count > longest.0 {
            longest = (configuration.placed_count, configuration.step);
        }
        // Real time: nothing invoked after the earliest completion among the unplaced operations
        // may go next.
        let horizon = candidates
            .iter()
            .enumerate()
            .filter(|&(bit, _)| !is_set(&configuration.placed, bit))
            .filter_map(|(_, &index)| completed_at(&history[index]))
            .min()
            .unwrap_or(u64::MAX);
        // Pushed in reverse, so that the earliest invoked is tried first.
        for (bit, &index) in candidates.iter().enumerate().rev() {
            let operation = &history[index];
            if is_set(&configuration.placed, bit) || operation.invoked_at > horizon {
                continue;
            }
            if twin_before[bit].is_some_and(|twin| !is_set(&configuration.placed, twin)) {
                continue;
            }
            let (state, output) = model.apply(&configuration.state, &operation.op);
            if let Ended::Completed { output: seen, .. } = &operation.ended
                && !model.matches(seen, &output)
            {
                continue;
            }
            let mut placed = configuration.placed.clone();
            placed[bit / 64] |= 1 << (bit % 64);
            steps.push((index, configuration.step));
            held_bytes = held_bytes.saturating_add(waiting_cost(&state));
            stack.push(Configuration {
                placed,
                state,
                step: Some(steps.len() - 1),
                placed_count: configuration.placed_count + 1,
            });
        }
    }
    ModelVerdict::NotLinearizable { longest: order_of(&steps, longest.1) }
}

/// Places, at once, every completed read the configuration's state explains and real time allows
/// next. Reads change nothing, and a read that may go next may go no later than the ops that must
/// follow it, so an order that places it later can place it here instead: doing so loses no order,
/// and spares the search a branch per read (2^r orders of r overlapping reads).
fn place_reads<M: SequentialModel>(
    model: &M,
    history: &[ModelOp<M::Op, M::Output>],
    candidates: &[usize],
    configuration: &mut Configuration<M::State>,
    steps: &mut Vec<(usize, Option<usize>)>,
) {
    loop {
        let horizon = candidates
            .iter()
            .enumerate()
            .filter(|&(bit, _)| !is_set(&configuration.placed, bit))
            .filter_map(|(_, &index)| completed_at(&history[index]))
            .min()
            .unwrap_or(u64::MAX);
        let explained = candidates.iter().enumerate().find(|&(bit, &index)| {
            let operation = &history[index];
            !is_set(&configuration.placed, bit)
                && operation.invoked_at <= horizon
                && model.is_read_only(&operation.op)
                && match &operation.ended {
                    Ended::Completed { output: seen, .. } => {
                        model.matches(seen, &model.apply(&configuration.state, &operation.op).1)
                    }
                    Ended::Unknown | Ended::Failed => false,
                }
        });
        let Some((bit, &index)) = explained else { return };
        configuration.placed[bit / 64] |= 1 << (bit % 64);
        configuration.placed_count += 1;
        steps.push((index, configuration.step));
        configuration.step = Some(steps.len() - 1);
    }
}

/// For each candidate of unknown outcome (by its bit), the latest earlier-invoked candidate of
/// unknown outcome interchangeable with it, if any among the [`TWIN_SCAN_MAX`] before it.
fn twins<M: SequentialModel>(
    model: &M,
    history: &[ModelOp<M::Op, M::Output>],
    candidates: &[usize],
) -> Vec<Option<usize>> {
    let unknown: Vec<usize> =
        (0..candidates.len()).filter(|&bit| matches!(history[candidates[bit]].ended, Ended::Unknown)).collect();
    let mut twin_before = vec![None; candidates.len()];
    for (position, &bit) in unknown.iter().enumerate() {
        let operation = &history[candidates[bit]];
        twin_before[bit] =
            unknown[position.saturating_sub(TWIN_SCAN_MAX)..position].iter().rev().copied().find(|&earlier| {
                let twin = &history[candidates[earlier]];
                twin.invoked_at <= operation.invoked_at && model.interchangeable(&twin.op, &operation.op)
            });
    }
    twin_before
}

fn completed_at<Op, Output>(operation: &ModelOp<Op, Output>) -> Option<u64> {
    match operation.ended {
        Ended::Completed { at, .. } => Some(at),
        Ended::Unknown | Ended::Failed => None,
    }
}

/// Whether every bit set in `small` is set in `large`.
fn is_subset(small: &[u64], large: &[u64]) -> bool {
    small.iter().zip(large).all(|(small, large)| small & !large == 0)
}

fn is_set(bits: &[u64], bit: usize) -> bool {
    bits[bit / 64] & (1 << (bit % 64)) != 0
}

/// The history positions along the steps ending at `last`, first to last.
fn order_of(steps: &[(usize, Option<usize>)], mut last: Option<usize>) -> Vec<usize> {
    let mut order = Vec::new();
    while let Some(step) = last {
        let (index, parent) = steps[step];
        order.push(index);
        last = parent;
    }
    order.reverse();
    order
}

#[cfg(test)]
mod tests;

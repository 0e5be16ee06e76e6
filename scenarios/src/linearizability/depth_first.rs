//! The depth-first search (Wing & Gong, with Lowe's event list and a memo of the configurations
//! explored): quick to find a linearization when there is one.

use std::collections::BTreeMap;

use super::events::{Events, HEAD};
use super::memo::{UnknownRun, at_most, memo_key};
use super::prepare::Prepared;
use super::register::{ValueId, register_after};
use super::search::{Found, Searched};

/// An operation the depth-first search placed, with what undoing it and placing the next one need.
#[derive(Clone, Copy, Debug)]
struct Placement {
    /// The operation's position.
    op: usize,
    /// The register's value before it.
    before: ValueId,
    /// If it is unknown, the register's value before the run of unknown operations it ends.
    before_run: Option<ValueId>,
}

/// Searches depth first, exploring at most `states_max` configurations: quick to find a linearization
/// when there is one, but it may meet a configuration before one that dominates it, and then explore
/// again what follows.
pub(super) fn search_depth_first(prepared: &Prepared, states_max: u64) -> Searched {
    let Prepared { ops: live, class, classes, initial, .. } = prepared;
    let (live, classes, initial) = (live.as_slice(), *classes, *initial);
    let mut remaining = live.iter().filter(|op| op.is_completed()).count();
    let completed = remaining;
    // For each unknown operation, the twin before it, which must be placed first.
    let mut twin = vec![None; live.len()];
    let mut latest: BTreeMap<usize, usize> = BTreeMap::new();
    for (position, class) in class.iter().enumerate() {
        if let Some(class) = class {
            twin[position] = latest.insert(*class, position);
        }
    }
    let mut events = Events::new(live);
    let mut frontier = 0;
    let words = live.len().div_ceil(64);
    let mut placed = vec![0u64; words];
    // The completed operations placed, and all the completed operations.
    let mut placed_completed = vec![0u64; words];
    let mut completed_ops = vec![0u64; words];
    for (op, _) in live.iter().enumerate().filter(|(_, op)| op.is_completed()) {
        completed_ops[op / 64] |= 1u64 << (op % 64);
    }
    // How many unknown operations of each class of twins are placed (always the earliest ones).
    let mut placed_in_class = vec![0u32; classes];
    // The configurations explored. The key says everything but which unknown operations are placed;
    // for those, the value holds the counts per class (as sorted class, count pairs) of the
    // configurations explored with that key, none of which dominates another. A configuration
    // dominates another if it has the same key and placed no more of each class: it can do all the
    // other can (using earlier twins instead of later ones), so if the other could lead to a
    // linearization, so could it, as fast. The search skips dominated configurations.
    let mut memo: BTreeMap<Box<[u32]>, Vec<Box<[u32]>>> = BTreeMap::new();
    let mut key = Vec::new();
    let mut counts = Vec::new();
    // The placed operations, latest last.
    let mut stack: Vec<Placement> = Vec::new();
    let mut state = initial;
    let mut explored = 0u64;
    let mut node = events.next[HEAD];
    // Each configuration tries the completed operations that may go next first, then the unknown
    // ones: orders with fewer unknown operations come first, so the configurations that dominate are
    // mostly met before those they dominate, which are then never explored.
    let mut unknown_pass = false;
    loop {
        if remaining == 0 {
            return Searched { found: Found::Linearizable, explored, frontier: completed };
        }
        if node == events.tail || events.is_completion[node] {
            if !unknown_pass {
                unknown_pass = true;
                node = events.next[HEAD];
                continue;
            }
            // Every operation that may go next has been tried here. The first completion in the list
            // is that of the earliest-completing operation not placed: all before it are.
            frontier = frontier.max(events.completion_rank[node]);
            // Undo the latest placement.
            let Some(Placement { op, before, .. }) = stack.pop() else {
                return Searched { found: Found::NotLinearizable, explored, frontier };
            };
            state = before;
            placed[op / 64] &= !(1u64 << (op % 64));
            match class[op] {
                Some(class) => placed_in_class[class] -= 1,
                None => {
                    placed_completed[op / 64] &= !(1u64 << (op % 64));
                    remaining += 1;
                }
            }
            events.unlift(op);
            unknown_pass = class[op].is_some();
            node = events.next[events.invocation[op]];
            continue;
        }
        let op = events.op[node];
        if class[op].is_some() != unknown_pass {
            node = events.next[node];
            continue;
        }
        let twin_placed = twin[op].is_none_or(|twin| placed[twin / 64] & (1u64 << (twin % 64)) != 0);
        // After unknown operations, only one that needs them (see `Prepared`).
        let (needs_run, before_run) = match stack.last() {
            Some(&Placement { before, before_run: Some(before_run), .. }) => {
                let needs = register_after(before, &live[op]).is_none()
                    && (!live[op].is_completed() || register_after(before_run, &live[op]).is_none());
                (needs, (!live[op].is_completed()).then_some(before_run))
            }
            _ => (true, (!live[op].is_completed()).then_some(state)),
        };
        if let Some(after) = register_after(state, &live[op]).filter(|_| twin_placed && needs_run) {
            match class[op] {
                Some(class) => placed_in_class[class] += 1,
                None => placed_completed[op / 64] |= 1u64 << (op % 64),
            }
            let unknown_run = before_run.map(|before_run| UnknownRun { before_latest: state, before_run });
            memo_key(&placed_completed, &completed_ops, after, unknown_run, &mut key);
            counts.clear();
            for (class, &count) in placed_in_class.iter().enumerate().filter(|(_, count)| **count > 0) {
                counts.extend([class as u32, count]);
            }
            let front = memo.get_mut(key.as_slice());
            if front.as_ref().is_none_or(|front| !front.iter().any(|seen| at_most(seen, &counts))) {
                if explored == states_max {
                    return Searched { found: Found::Exhausted, explored, frontier };
                }
                explored += 1;
                match front {
                    Some(front) => {
                        front.retain(|seen| !at_most(&counts, seen));
                        front.push(counts.as_slice().into());
                    }
                    None => {
                        memo.insert(key.as_slice().into(), vec![counts.as_slice().into()]);
                    }
                }
                placed[op / 64] |= 1u64 << (op % 64);
                stack.push(Placement { op, before: state, before_run });
                state = after;
                events.lift(op);
                if live[op].is_completed() {
                    remaining -= 1;
                }
                unknown_pass = false;
                node = events.next[HEAD];
                continue;
            }
            match class[op] {
                Some(class) => placed_in_class[class] -= 1,
                None => placed_completed[op / 64] &= !(1u64 << (op % 64)),
            }
        }
        node = events.next[node];
    }
}

//! The layered search: configurations expanded by how many completed operations they placed, those
//! that placed fewer unknown operations first, so none is explored twice — the quickest way to prove
//! that there is no linearization.

use std::collections::BTreeMap;

use super::memo::{KEY_BEFORE_LATEST, KEY_BEFORE_RUN, KEY_HOLES, KEY_IN_RUN, KEY_STATE, KEY_UPPER, at_most};
use super::prepare::Prepared;
use super::register::register_after;
use super::search::{Found, Searched};

/// A configuration as a layer holds it (see [`Layer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Configuration {
    /// The register's value, what the latest placements restrict, and which completed operations
    /// are placed, laid out as the `KEY_*` constants say.
    pub(super) key: Box<[u32]>,
    /// How many unknown operations of each class of twins it placed, as sorted (class, count) pairs.
    pub(super) counts: Box<[u32]>,
}

/// The configurations of one layer: those that placed the same number of completed operations.
///
/// A configuration is a key — the register's value, what the latest placements restrict, and which
/// completed operations are placed — and the counts of unknown operations placed per class of twins
/// (always the earliest of each class), as sorted (class, count) pairs. A configuration *dominates*
/// another with the same key if it placed no more of each class: it can do everything the other can
/// (using earlier twins instead of later ones), as fast. A layer keeps, per key, the counts of the
/// configurations met that no other dominates, and expands them in order of how many unknown
/// operations they placed, so that a configuration is always met before any it dominates: nothing is
/// explored twice.
#[derive(Default)]
pub(super) struct Layer {
    /// Per key, the counts of the configurations met that no other dominates.
    fronts: BTreeMap<Box<[u32]>, Vec<Box<[u32]>>>,
    /// Configurations to expand, by how many unknown operations they placed.
    to_expand: BTreeMap<u32, Vec<Configuration>>,
}

impl Layer {
    /// Adds a configuration met, unless one met before dominates it; forgets those it dominates.
    pub(super) fn offer(&mut self, key: &[u32], counts: &[u32]) {
        match self.fronts.get_mut(key) {
            Some(front) => {
                if front.iter().any(|seen| at_most(seen, counts)) {
                    return;
                }
                front.retain(|seen| !at_most(counts, seen));
                front.push(counts.into());
            }
            None => {
                self.fronts.insert(key.into(), vec![counts.into()]);
            }
        }
        let unknown: u32 = counts.chunks_exact(2).map(|pair| pair[1]).sum();
        self.to_expand.entry(unknown).or_default().push(Configuration { key: key.into(), counts: counts.into() });
    }

    /// The next configuration to expand, skipping those dominated since they were offered.
    pub(super) fn next(&mut self) -> Option<Configuration> {
        loop {
            let mut entry = self.to_expand.first_entry()?;
            let configuration = entry.get_mut().pop();
            if entry.get().is_empty() {
                entry.remove();
            }
            let Some(configuration) = configuration else { continue };
            if self.fronts.get(&configuration.key).is_some_and(|front| front.contains(&configuration.counts)) {
                return Some(configuration);
            }
        }
    }
}

/// Searches layer by layer, exploring at most `states_max` configurations.
///
/// The configurations form layers by how many completed operations they placed (see [`Layer`]); the
/// search expands one layer at a time, and explores no configuration twice.
pub(super) fn search_layered(prepared: &Prepared, states_max: u64) -> Searched {
    let Prepared { ops: live, class, classes, initial, .. } = prepared;
    let (live, classes, initial) = (live.as_slice(), *classes, *initial);
    let total = live.iter().filter(|op| op.is_completed()).count();
    if total == 0 {
        return Searched { found: Found::Linearizable, explored: 0, frontier: 0 };
    }
    let count = live.len();
    // Each class's operations, in invocation order; they are placed in that order.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (position, class) in class.iter().enumerate() {
        if let Some(class) = class {
            members[*class].push(position);
        }
    }
    // The completed operations in completion order, each one's rank in it, and for each position the
    // lowest rank at or after it.
    let mut by_completion: Vec<usize> = (0..count).filter(|&position| live[position].is_completed()).collect();
    by_completion.sort_by_key(|&position| (live[position].completed_at, position));
    let mut rank = vec![usize::MAX; count];
    for (order, &position) in by_completion.iter().enumerate() {
        rank[position] = order;
    }
    let mut lowest_rank_from = vec![usize::MAX; count + 1];
    for position in (0..count).rev() {
        lowest_rank_from[position] = lowest_rank_from[position + 1].min(rank[position]);
    }

    let mut frontier = 0;
    let mut explored = 0u64;
    let mut layer = Layer::default();
    layer.offer(&[initial, 0, 0, 0, 0], &[]);
    let mut next_layer = Layer::default();
    let mut key = Vec::new();
    let mut counts = Vec::new();
    for placed_completed in 0..total {
        while let Some(Configuration { key: current, counts: current_counts }) = layer.next() {
            if explored == states_max {
                return Searched { found: Found::Exhausted, explored, frontier };
            }
            explored += 1;
            let upper = current[KEY_UPPER] as usize;
            let holes = &current[KEY_HOLES..];
            let first =
                holes.iter().map(|&hole| rank[hole as usize]).min().unwrap_or(usize::MAX).min(lowest_rank_from[upper]);
            frontier = frontier.max(first);
            let deadline = live[by_completion[first]].completed_at.unwrap_or(u64::MAX);
            let state = current[KEY_STATE];
            let placed_in = |class: usize| {
                current_counts.chunks_exact(2).find(|pair| pair[0] as usize == class).map_or(0, |pair| pair[1] as usize)
            };
            let candidates = holes
                .iter()
                .map(|&hole| hole as usize)
                .chain((upper..count).take_while(|&position| live[position].invoked_at <= deadline))
                .filter(|&position| class[position].is_none())
                .chain((0..classes).filter_map(|class| members[class].get(placed_in(class)).copied()))
                .filter(|&position| live[position].invoked_at <= deadline);
            for position in candidates {
                let op = &live[position];
                // After unknown operations, only one that needs them (see `Prepared`).
                let needs_run = current[KEY_IN_RUN] == 0
                    || (register_after(current[KEY_BEFORE_LATEST], op).is_none()
                        && (!op.is_completed() || register_after(current[KEY_BEFORE_RUN], op).is_none()));
                let Some(after) = register_after(state, op).filter(|_| needs_run) else { continue };
                key.clear();
                key.push(after);
                match class[position] {
                    Some(placed_class) => {
                        let before_run = if current[KEY_IN_RUN] == 0 { state } else { current[KEY_BEFORE_RUN] };
                        key.extend_from_slice(&[1, state, before_run]);
                        key.extend_from_slice(&current[KEY_UPPER..]);
                        counts.clear();
                        counts.extend_from_slice(&current_counts);
                        match counts.chunks_exact(2).position(|pair| pair[0] as usize >= placed_class) {
                            Some(at) if counts[2 * at] as usize == placed_class => counts[2 * at + 1] += 1,
                            Some(at) => {
                                counts.insert(2 * at, placed_class as u32);
                                counts.insert(2 * at + 1, 1);
                            }
                            None => counts.extend_from_slice(&[placed_class as u32, 1]),
                        }
                        layer.offer(&key, &counts);
                    }
                    None => {
                        if placed_completed + 1 == total {
                            return Searched { found: Found::Linearizable, explored, frontier: total };
                        }
                        key.extend_from_slice(&[0, 0, 0]);
                        if position < upper {
                            key.push(upper as u32);
                            key.extend(holes.iter().copied().filter(|&hole| hole as usize != position));
                        } else {
                            // `partition` checked that operation numbers fit in a u32.
                            key.push(position as u32 + 1);
                            key.extend_from_slice(holes);
                            key.extend(
                                (upper..position)
                                    .filter(|&skipped| live[skipped].is_completed())
                                    .map(|skipped| skipped as u32),
                            );
                        }
                        next_layer.offer(&key, &current_counts);
                    }
                }
            }
        }
        layer = std::mem::take(&mut next_layer);
    }
    Searched { found: Found::NotLinearizable, explored, frontier }
}

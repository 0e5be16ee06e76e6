//! Bounded breadth-first traversal.
//!
//! From the start, level by level up to the depth asked, over the edges that count (direction and
//! labels), in each entity's edge order: an entity is reached once, at its shortest distance, by
//! the first edge that leads to it. The traversal stops at its limit of entities or when it has
//! examined `traverse_edges_max` edges, and then says it was cut. The work is bounded by those two
//! limits, not by the graph's size: the set of entities seen is a small open-addressing table sized
//! to what the traversal reaches.

use super::interner::NameIndex;
use super::ops::{Direction, Traversal};
use super::store::{Adjacent, Store, Wanted, entity_id};

/// What a traversal reached, with the edge each entity was first reached by (for reinforcement).
#[derive(Clone, Debug, Default)]
pub struct Reached {
    /// The result.
    pub traversal: Traversal,
    /// The slot of the edge each reached entity was first reached by, in the same order.
    pub tree_edges: Vec<u32>,
}

/// A traversal's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Levels to go.
    pub depth: u32,
    /// Entities to return at most.
    pub limit: u32,
    /// Edges to examine at most.
    pub edges_max: u64,
}

/// Traverses from the entity at `start` (which must be live).
#[must_use]
pub fn traverse(
    store: &Store,
    start: u32,
    direction: Direction,
    labels: Option<&[NameIndex]>,
    bounds: Bounds,
) -> Reached {
    let mut reached = Reached::default();
    if bounds.limit == 0 || bounds.depth == 0 {
        reached.traversal.cut = bounds.limit == 0 && bounds.depth > 0;
        return reached;
    }
    let wanted = Wanted::new(direction, labels);
    let mut seen = SeenSet::with_room(64);
    seen.insert(start);
    let mut frontier = vec![start];
    let mut next = Vec::new();
    let mut lists: Vec<&[Adjacent]> = Vec::new();
    let mut examined = 0u64;
    for level in 1..=bounds.depth {
        // Every list of the level is located, and its first entry read, before any is walked: the
        // reads do not depend on one another, so in a large graph their cache misses overlap
        // instead of coming one after the other.
        lists.clear();
        lists.extend(frontier.iter().map(|&entity| store.edge_list(entity)));
        std::hint::black_box(lists.iter().fold(0, |any, list| any ^ list.first().map_or(0, |entry| entry.slot())));
        for (&entity, list) in frontier.iter().zip(&lists) {
            for &entry in list.iter().filter(|&&entry| wanted.admits(entry)) {
                let (edge_slot, other) = (entry.slot(), entry.other());
                debug_assert!(store.edge(edge_slot).is_some_and(|edge| edge.other_end(entity) == other));
                // Removing an entity removes its edges, so the other end is live.
                debug_assert!(store.is_live(other) || cfg!(feature = "planted-bugs"));
                examined += 1;
                if examined > bounds.edges_max {
                    reached.traversal.cut = true;
                    return reached;
                }
                if !seen.insert(other) {
                    continue;
                }
                reached.traversal.reached.push((entity_id(other), level));
                reached.tree_edges.push(edge_slot);
                next.push(other);
                if reached.traversal.reached.len() >= bounds.limit as usize {
                    reached.traversal.cut = true;
                    return reached;
                }
            }
        }
        if next.is_empty() {
            break;
        }
        std::mem::swap(&mut frontier, &mut next);
        next.clear();
    }
    reached
}

/// A set of entity slots: open addressing with linear probing, a power-of-two table at most half
/// full, a fixed multiplicative hash (deterministic; nothing iterates it).
struct SeenSet {
    /// Slot + 1 per cell; 0 is empty.
    cells: Vec<u32>,
    len: usize,
}

impl SeenSet {
    fn with_room(room: usize) -> SeenSet {
        SeenSet { cells: vec![0; (room * 2).next_power_of_two()], len: 0 }
    }

    /// Adds `slot`; false if it was there.
    #[inline]
    fn insert(&mut self, slot: u32) -> bool {
        if (self.len + 1) * 2 > self.cells.len() {
            self.grow();
        }
        let key = slot.wrapping_add(1);
        let mask = self.cells.len() - 1;
        let mut at = (key.wrapping_mul(0x9E37_79B9) as usize) & mask;
        loop {
            match self.cells[at] {
                0 => {
                    self.cells[at] = key;
                    self.len += 1;
                    return true;
                }
                cell if cell == key => return false,
                _ => at = (at + 1) & mask,
            }
        }
    }

    #[cold]
    fn grow(&mut self) {
        let doubled = vec![0; self.cells.len() * 2];
        let old = std::mem::replace(&mut self.cells, doubled);
        self.len = 0;
        for key in old.into_iter().filter(|&key| key != 0) {
            self.insert(key - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeenSet;

    #[test]
    fn the_seen_set_keeps_each_slot_once_through_growth() {
        let mut seen = SeenSet::with_room(2);
        for slot in (0..5_000u32).map(|n| n.wrapping_mul(7919)) {
            assert!(seen.insert(slot));
        }
        for slot in (0..5_000u32).map(|n| n.wrapping_mul(7919)) {
            assert!(!seen.insert(slot));
        }
        assert!(seen.insert(u32::MAX - 1));
    }
}

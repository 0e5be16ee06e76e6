//! Where a chunk's shards go: the members nearest the chunk's id by XOR distance, as in Kademlia
//! (the DHT issue swaps the whole-membership view for lookups), skipping members judged dead.
//!
//! Every node computes the same order from the same members, so the order is also where a reader
//! or a repairer looks for a shard that moved: first the holders the manifest names, then the
//! next members in this order, as Tahoe-LAFS readers walk their permuted server list.

use crate::ces::ChunkId;
use crate::health::Health;
use crate::id::NodeId;
use std::collections::BTreeMap;

/// Members sorted by XOR distance between their id and `chunk` (nearest first).
#[must_use]
pub fn by_distance(chunk: &ChunkId, members: &[NodeId]) -> Vec<NodeId> {
    let mut sorted: Vec<NodeId> = members.to_vec();
    sorted.sort_by_cached_key(|node| distance(chunk, node));
    sorted.dedup();
    sorted
}

/// The XOR distance between a chunk's id and a node's, as a big-endian number.
#[must_use]
pub fn distance(chunk: &ChunkId, node: &NodeId) -> [u8; 32] {
    let mut out = [0; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = chunk.0[index] ^ node.0[index];
    }
    out
}

/// The members a node may place on: every member not judged dead (itself always counts as alive).
#[must_use]
pub fn usable(me: NodeId, members: &[NodeId], health: &BTreeMap<NodeId, Health>) -> Vec<NodeId> {
    members
        .iter()
        .copied()
        .filter(|node| *node == me || health.get(node).is_none_or(|health| *health != Health::Dead))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_by_xor_distance_and_the_same_from_any_starting_order() {
        let members: Vec<NodeId> = (0..20).map(NodeId::for_index).collect();
        let chunk = ChunkId([7; 32]);
        let sorted = by_distance(&chunk, &members);
        assert_eq!(sorted.len(), 20);
        for pair in sorted.windows(2) {
            assert!(distance(&chunk, &pair[0]) < distance(&chunk, &pair[1]));
        }
        let mut reversed = members.clone();
        reversed.reverse();
        assert_eq!(by_distance(&chunk, &reversed), sorted);
    }

    #[test]
    fn dead_members_are_not_usable_but_the_node_itself_always_is() {
        let members: Vec<NodeId> = (0..3).map(NodeId::for_index).collect();
        let health = BTreeMap::from([(members[0], Health::Dead), (members[1], Health::Dead)]);
        assert_eq!(usable(members[0], &members, &health), vec![members[0], members[2]]);
    }
}

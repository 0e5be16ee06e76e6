//! Infection-style dissemination: judgements waiting to be piggybacked, each sent a bounded number
//! of times, the least-sent first and, among those, the newest (fresh news, such as a refutation,
//! does not wait behind a backlog).

use crate::id::NodeId;
use crate::membership::messages::Update;
use std::collections::{BTreeMap, BTreeSet};

/// The queue of judgements to piggyback: at most one per member (a newer replaces an older), at
/// most `capacity` in all.
#[derive(Clone, Debug, Default, Hash)]
pub struct Dissemination {
    pending: BTreeMap<NodeId, Pending>,
    /// `(times sent, reverse queue order, member)`: the next to send first.
    order: BTreeSet<(u32, u64, NodeId)>,
    queued: u64,
}

#[derive(Clone, Debug, Hash)]
struct Pending {
    update: Update,
    sent: u32,
    queued: u64,
}

impl Dissemination {
    /// Judgements waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// True when a judgement of `node` waits to be sent.
    #[must_use]
    pub fn holds(&self, node: &NodeId) -> bool {
        self.pending.contains_key(node)
    }

    /// Queues `update`, replacing any judgement about the same member; beyond `capacity` the
    /// most-sent judgement is dropped.
    pub fn queue(&mut self, update: Update, capacity: usize) {
        self.remove(&update.node);
        while self.pending.len() >= capacity.max(1) {
            let Some(&(_, _, most_sent)) = self.order.last() else { break };
            self.remove(&most_sent);
        }
        self.queued += 1;
        let newest_first = u64::MAX - self.queued;
        self.order.insert((0, newest_first, update.node));
        self.pending.insert(update.node, Pending { update, sent: 0, queued: newest_first });
    }

    fn remove(&mut self, node: &NodeId) {
        if let Some(old) = self.pending.remove(node) {
            self.order.remove(&(old.sent, old.queued, *node));
        }
    }

    /// Up to `limit` judgements for one message, least-sent first, leaving out any about
    /// `skip`. Each taken counts as sent once; one sent `retransmits` times leaves the queue.
    pub fn take(&mut self, limit: usize, retransmits: u32, skip: Option<&NodeId>) -> Vec<Update> {
        let chosen: Vec<(u32, u64, NodeId)> =
            self.order.iter().filter(|(_, _, node)| Some(node) != skip).take(limit).copied().collect();
        let mut updates = Vec::with_capacity(chosen.len());
        for key in chosen {
            let (sent, queued, node) = key;
            self.order.remove(&key);
            let Some(pending) = self.pending.get_mut(&node) else { continue };
            updates.push(pending.update);
            pending.sent = sent + 1;
            if pending.sent >= retransmits {
                self.pending.remove(&node);
            } else {
                self.order.insert((sent + 1, queued, node));
            }
        }
        updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::messages::Judgement;

    fn alive(index: u32, incarnation: u64) -> Update {
        Update { node: NodeId::for_index(index), incarnation, judgement: Judgement::Alive }
    }

    #[test]
    fn each_update_is_sent_its_retransmits_least_sent_first() {
        let mut queue = Dissemination::default();
        queue.queue(alive(1, 0), 10);
        queue.queue(alive(2, 0), 10);
        assert_eq!(queue.take(1, 2, None), vec![alive(2, 0)], "the newest goes first");
        assert_eq!(queue.take(1, 2, None), vec![alive(1, 0)], "then the least-sent");
        assert_eq!(queue.take(5, 2, None), vec![alive(2, 0), alive(1, 0)]);
        assert!(queue.is_empty(), "each was sent twice");
    }

    #[test]
    fn a_newer_update_replaces_the_older_and_capacity_drops_the_most_sent() {
        let mut queue = Dissemination::default();
        queue.queue(alive(1, 0), 2);
        queue.queue(alive(1, 1), 2);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.take(1, 9, None), vec![alive(1, 1)]);
        queue.queue(alive(2, 0), 2);
        queue.queue(alive(3, 0), 2);
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.take(5, 9, Some(&NodeId::for_index(2))), vec![alive(3, 0)], "the most-sent was dropped");
    }
}

//! Gossip to the accused: the members a node holds suspect, or dead, each set pinged in turn
//! (one member of each per protocol period), so that an accused member that can be reached hears
//! of the judgement and refutes it, whoever made it and whenever the cut that caused it healed. A
//! member the node has just accused itself goes first, within the same budget of one a period.

use crate::id::NodeId;
use std::collections::BTreeSet;
use std::ops::Bound;

/// Members held in one accusing judgement (suspect, or dead), the last one reminded of it in
/// turn, and the one this node accused last itself, to be reminded before the turn goes on.
#[derive(Clone, Debug, Default, Hash)]
pub struct Accused {
    members: BTreeSet<NodeId>,
    reminded: Option<NodeId>,
    first: Option<NodeId>,
}

impl Accused {
    /// Records that `member` is held in this judgement (`true`) or no longer (`false`).
    pub fn set(&mut self, member: NodeId, held: bool) {
        if held {
            self.members.insert(member);
        } else {
            self.members.remove(&member);
        }
    }

    /// Reminds `member` next, out of turn (it was just accused by this node: its own failed probe
    /// or suspicion timeout). Only the latest such member waits; earlier ones keep their turn, so
    /// a burst of accusations (a partition cutting off half the cluster) costs no more messages.
    pub fn remind_first(&mut self, member: NodeId) {
        self.first = Some(member);
    }

    /// The next member to remind: the one accused last by this node if it is still held, else in
    /// id order after the last one reminded in turn, wrapping round; `None` when no member is held.
    pub fn next_to_remind(&mut self) -> Option<NodeId> {
        if let Some(first) = self.first.take().filter(|member| self.members.contains(member)) {
            return Some(first);
        }
        let after = self.reminded.map_or(Bound::Unbounded, Bound::Excluded);
        let next = self.members.range((after, Bound::Unbounded)).next().or_else(|| self.members.first()).copied()?;
        self.reminded = Some(next);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_reminded_in_turn_and_wrap_round() {
        let mut accused = Accused::default();
        assert_eq!(accused.next_to_remind(), None);
        let [a, b, c] = [1, 2, 3].map(NodeId::for_index);
        for member in [a, b, c] {
            accused.set(member, true);
        }
        let mut order: Vec<NodeId> = (0..3).filter_map(|_| accused.next_to_remind()).collect();
        order.sort();
        let mut expected = vec![a, b, c];
        expected.sort();
        assert_eq!(order, expected, "each once per turn");
        let first_of_next_turn = accused.next_to_remind();
        assert_eq!(first_of_next_turn, Some(expected[0]));
        accused.set(expected[1], false);
        assert_eq!(accused.next_to_remind(), Some(expected[2]), "a member no longer held is skipped");
    }

    #[test]
    fn a_member_just_accused_goes_first_without_losing_the_turn() {
        let mut accused = Accused::default();
        let [a, b, c] = [1, 2, 3].map(NodeId::for_index);
        let mut in_order = vec![a, b, c];
        in_order.sort();
        for member in &in_order {
            accused.set(*member, true);
        }
        assert_eq!(accused.next_to_remind(), Some(in_order[0]));
        accused.remind_first(in_order[2]);
        assert_eq!(accused.next_to_remind(), Some(in_order[2]), "out of turn");
        assert_eq!(accused.next_to_remind(), Some(in_order[1]), "the turn goes on where it was");
        accused.remind_first(in_order[0]);
        accused.set(in_order[0], false);
        assert_eq!(accused.next_to_remind(), Some(in_order[2]), "a member no longer held is not reminded first");
    }
}

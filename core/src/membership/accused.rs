//! Gossip to the accused: the members a node holds suspect, or dead, each set pinged in turn
//! (one member of each per protocol period), so that an accused member that can be reached hears
//! of the judgement and refutes it, whoever made it and whenever the cut that caused it healed.

use crate::id::NodeId;
use std::collections::BTreeSet;
use std::ops::Bound;

/// Members held in one accusing judgement (suspect, or dead), and the last one reminded of it.
#[derive(Clone, Debug, Default, Hash)]
pub struct Accused {
    members: BTreeSet<NodeId>,
    reminded: Option<NodeId>,
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

    /// The next member to remind, in id order after the last one and wrapping round; `None` when
    /// no member is held.
    pub fn next_to_remind(&mut self) -> Option<NodeId> {
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
}

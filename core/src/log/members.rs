//! Membership of the replicated log: which replicas' votes make a quorum for which slots, and how a
//! change of members travels through the log.
//!
//! A change is a log entry ([`Command::Reconfigure`]) that names the configuration it replaces (its
//! epoch) and the new member list. It takes effect for the slots after its own, and only if the
//! configuration in force when it is applied is still the one it names — so a retried or stale
//! change is a no-op, and which configuration governs a slot depends on nothing but the chosen
//! entries before it. A leader proposes nothing past a change until the change is applied, so at
//! any moment at most one configuration governs its in-flight slots (after a leader change, the
//! recovered slots may span several; each in-flight slot remembers its own).

use crate::id::NodeId;
use crate::log::entry::Command;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most replicas one configuration may hold: quorums are counted by linear scans, and a Paxos
/// group larger than this belongs split into several groups.
pub const MEMBERS_MAX: usize = 16;

/// A configuration: the replicas whose votes count, and the epoch that names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Members {
    /// The slot of the change that installed it; 0 for the initial configuration.
    pub epoch: u64,
    /// The replicas, sorted, without duplicates.
    pub nodes: Vec<NodeId>,
}

impl Members {
    /// The initial configuration (epoch 0) of `nodes`.
    #[must_use]
    pub fn initial(nodes: &[NodeId]) -> Members {
        Members::at(0, nodes)
    }

    /// The configuration of `nodes` installed by the change at `epoch`.
    #[must_use]
    pub fn at(epoch: u64, nodes: &[NodeId]) -> Members {
        let mut nodes = nodes.to_vec();
        nodes.sort_unstable();
        nodes.dedup();
        Members { epoch, nodes }
    }

    /// True when `node` votes in this configuration.
    #[must_use]
    pub fn contains(&self, node: &NodeId) -> bool {
        self.nodes.contains(node)
    }

    /// Votes that make a majority of this configuration.
    #[must_use]
    pub fn majority(&self) -> usize {
        self.nodes.len() / 2 + 1
    }

    /// True when the members among `voters` make a quorum of `quorum` votes.
    #[must_use]
    pub fn has_quorum<'a>(&self, voters: impl IntoIterator<Item = &'a NodeId>, quorum: usize) -> bool {
        voters.into_iter().filter(|voter| self.contains(voter)).count() >= quorum
    }

    /// The configuration in force after applying `command` at `slot` under this one: changed only
    /// by a well-formed [`Command::Reconfigure`] naming this configuration's epoch.
    #[must_use]
    pub fn after<C>(&self, slot: u64, command: &Command<C>) -> Option<Members> {
        match command {
            Command::Reconfigure { epoch, members, .. } if *epoch == self.epoch && valid_member_list(members) => {
                Some(Members::at(slot, members))
            }
            _ => None,
        }
    }

    /// The member list after `change`, or why it cannot be made.
    pub fn changed(&self, change: &MemberChange) -> Result<Vec<NodeId>, MemberChangeRefused> {
        let mut nodes = self.nodes.clone();
        match change {
            MemberChange::Add(node) => {
                if self.contains(node) {
                    return Err(MemberChangeRefused::AlreadyMember);
                }
                if nodes.len() >= MEMBERS_MAX {
                    return Err(MemberChangeRefused::TooMany);
                }
                nodes.push(*node);
            }
            MemberChange::Remove(node) => {
                if !self.contains(node) {
                    return Err(MemberChangeRefused::NotMember);
                }
                if nodes.len() == 1 {
                    return Err(MemberChangeRefused::LastMember);
                }
                nodes.retain(|member| member != node);
            }
        }
        nodes.sort_unstable();
        Ok(nodes)
    }
}

impl fmt::Display for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch {} [", self.epoch)?;
        for (index, node) in self.nodes.iter().enumerate() {
            if index > 0 {
                write!(f, " ")?;
            }
            write!(f, "{}", node.short())?;
        }
        write!(f, "]")
    }
}

/// True for a member list a change may install: 1 to [`MEMBERS_MAX`] distinct replicas.
#[must_use]
pub fn valid_member_list(nodes: &[NodeId]) -> bool {
    if nodes.is_empty() || nodes.len() > MEMBERS_MAX {
        return false;
    }
    let mut sorted = nodes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len() == nodes.len()
}

/// A change a client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemberChange {
    /// Make `node` a voting member.
    Add(NodeId),
    /// Stop counting `node`'s votes.
    Remove(NodeId),
}

/// Why a [`MemberChange`] was not proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
pub enum MemberChangeRefused {
    /// The node to add is a member already.
    #[error("the node is already a member")]
    AlreadyMember,
    /// The node to remove is not a member.
    #[error("the node is not a member")]
    NotMember,
    /// The last member cannot be removed.
    #[error("the last member cannot be removed")]
    LastMember,
    /// The configuration is at [`MEMBERS_MAX`].
    #[error("a configuration holds at most {MEMBERS_MAX} members")]
    TooMany,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u32>) -> Vec<NodeId> {
        range.map(NodeId::for_index).collect()
    }

    #[test]
    fn a_change_applies_only_to_the_epoch_it_names() {
        let initial = Members::initial(&ids(0..3));
        let change = Command::<()>::Reconfigure { client: 1, sequence: 1, epoch: 0, members: ids(0..4) };
        let next = initial.after(7, &change).expect("names epoch 0");
        assert_eq!(next.epoch, 7);
        assert_eq!(next.nodes.len(), 4);
        // The same change again (a retry) names an epoch no longer in force: a no-op.
        assert_eq!(next.after(9, &change), None);
        assert_eq!(initial.after(3, &Command::<()>::Noop), None);
    }

    #[test]
    fn malformed_member_lists_change_nothing() {
        let initial = Members::initial(&ids(0..3));
        let empty = Command::<()>::Reconfigure { client: 1, sequence: 1, epoch: 0, members: Vec::new() };
        assert_eq!(initial.after(1, &empty), None);
        let twice = vec![NodeId::for_index(1), NodeId::for_index(1)];
        let duplicate = Command::<()>::Reconfigure { client: 1, sequence: 1, epoch: 0, members: twice };
        assert_eq!(initial.after(1, &duplicate), None);
    }

    #[test]
    fn changes_are_checked() {
        let members = Members::initial(&ids(0..2));
        assert_eq!(members.changed(&MemberChange::Add(NodeId::for_index(0))), Err(MemberChangeRefused::AlreadyMember));
        assert_eq!(members.changed(&MemberChange::Remove(NodeId::for_index(5))), Err(MemberChangeRefused::NotMember));
        let one = Members::initial(&ids(0..1));
        assert_eq!(one.changed(&MemberChange::Remove(NodeId::for_index(0))), Err(MemberChangeRefused::LastMember));
        assert_eq!(members.changed(&MemberChange::Add(NodeId::for_index(2))).map(|nodes| nodes.len()), Ok(3));
        assert!(members.has_quorum(&[NodeId::for_index(0), NodeId::for_index(1), NodeId::for_index(9)], 2));
        assert!(!members.has_quorum(&[NodeId::for_index(0), NodeId::for_index(9)], 2));
    }
}

//! Ballots: the totally ordered proposal numbers of Paxos.

use crate::id::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A proposal number: a round, with the proposer's id to break ties, so no two proposers ever use
/// the same ballot. Ordered by round, then node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    /// The round; a proposer that wants to lead picks one above every round it has seen.
    pub round: u64,
    /// The proposer.
    pub node: NodeId,
}

impl Ballot {
    /// Below every real ballot: what an acceptor has promised before its first promise.
    pub const ZERO: Ballot = Ballot { round: 0, node: NodeId([0; 32]) };
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.round, self.node.short())
    }
}

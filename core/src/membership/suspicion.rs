//! A running suspicion of one peer, with Lifeguard's dynamic timeout: it starts at a maximum and
//! falls toward a minimum, logarithmically, as independent confirmations arrive.

use crate::id::NodeId;
use crate::membership::config::{milli_log2, scaled};
use crate::time::{Duration, Instant};
use std::collections::BTreeSet;

/// How many independent confirmations bring a suspicion down to its shortest timeout (fewer in
/// groups too small to give them).
pub const CONFIRMATIONS_EXPECTED_MAX: usize = 2;

/// One suspicion: since when, how long it may last, and who confirmed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Suspicion {
    /// When this node began to suspect the peer.
    pub since: Instant,
    /// The timeout once `expected` confirmations arrived.
    pub min: Duration,
    /// The timeout with no confirmation.
    pub max: Duration,
    /// Confirmations that bring the timeout to `min`.
    pub expected: usize,
    /// The nodes that suspect the peer too (the first suspecter among them), at most
    /// `expected + 1`.
    pub suspecters: BTreeSet<NodeId>,
}

impl Suspicion {
    /// A suspicion begun at `since` by `by`, in a group of `members` nodes.
    #[must_use]
    pub fn new(since: Instant, by: NodeId, min: Duration, max: Duration, members: usize) -> Suspicion {
        // The suspect and the first suspecter cannot confirm.
        let expected = CONFIRMATIONS_EXPECTED_MAX.min(members.saturating_sub(2));
        Suspicion { since, min, max: max.max(min), expected, suspecters: BTreeSet::from([by]) }
    }

    /// Confirmations so far (suspecters beyond the first).
    #[must_use]
    pub fn confirmations(&self) -> usize {
        self.suspecters.len() - 1
    }

    /// Adds `by` as a suspecter; true if it is new and shortened the timeout.
    pub fn confirm(&mut self, by: NodeId) -> bool {
        if self.confirmations() >= self.expected || self.suspecters.contains(&by) {
            return false;
        }
        self.suspecters.insert(by);
        true
    }

    /// How long the suspicion lasts with its confirmations so far:
    /// `max − (max − min) × log(c + 1) / log(expected + 1)`, never below `min`.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        if self.expected == 0 {
            return self.min;
        }
        let done = milli_log2(self.confirmations() as u64 + 1);
        let full = milli_log2(self.expected as u64 + 1).max(1);
        let cut = scaled(self.max - self.min, done.min(full), full);
        (self.max - cut).max(self.min)
    }

    /// When the suspicion ends unless refuted.
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.since + self.timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_shorten_the_timeout_from_max_to_min() {
        let first = NodeId::for_index(1);
        let min = Duration::from_secs(3);
        let max = Duration::from_secs(9);
        let mut suspicion = Suspicion::new(Instant::ZERO, first, min, max, 10);
        assert_eq!(suspicion.timeout(), max);
        assert!(!suspicion.confirm(first), "the first suspecter does not confirm itself");
        assert!(suspicion.confirm(NodeId::for_index(2)));
        let one = suspicion.timeout();
        assert!(one < max && one > min, "{one:?}");
        assert!(suspicion.confirm(NodeId::for_index(3)));
        assert_eq!(suspicion.timeout(), min);
        assert!(!suspicion.confirm(NodeId::for_index(4)), "confirmations beyond the expected are not kept");
        assert_eq!(suspicion.deadline(), Instant::ZERO + min);
    }

    #[test]
    fn a_group_too_small_to_confirm_suspects_for_the_minimum() {
        let suspicion =
            Suspicion::new(Instant::ZERO, NodeId::for_index(1), Duration::from_secs(3), Duration::from_secs(9), 2);
        assert_eq!(suspicion.expected, 0);
        assert_eq!(suspicion.timeout(), Duration::from_secs(3));
    }
}

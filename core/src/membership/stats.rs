//! What a node's failure detector has done: counters for metrics and benchmarks, and a short ring
//! of its latest judgement changes for observers (status pages, the simulator's checkers).

use crate::health::Health;
use crate::id::NodeId;
use crate::time::Instant;
use std::collections::VecDeque;

/// Most judgement changes kept for observers; older ones are dropped (and counted as such).
pub const CHANGES_MAX: usize = 1024;

/// Counters since the node started (they restart with it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MembershipStats {
    /// Probe periods run.
    pub periods: u64,
    /// Direct probes sent (one per period with a peer to probe).
    pub probes: u64,
    /// Indirect probe requests sent to helpers.
    pub indirect_probes: u64,
    /// Probes that failed both ways (each starts or confirms a suspicion).
    pub failed_probes: u64,
    /// Suspicions begun (by this node or learned by gossip).
    pub suspicions: u64,
    /// Peers declared dead by this node's own suspicion timeout.
    pub deaths_declared: u64,
    /// Suspicions of this node that it refuted.
    pub refutations: u64,
    /// Nacks received from indirect probers.
    pub nacks_received: u64,
    /// Membership messages sent, of every kind.
    pub messages_sent: u64,
    /// Membership messages received, of every kind.
    pub messages_received: u64,
}

/// One change of this node's judgement of a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JudgementChange {
    /// When it changed.
    pub at: Instant,
    /// The peer.
    pub peer: NodeId,
    /// The judgement before.
    pub from: Health,
    /// The judgement after.
    pub to: Health,
}

/// The latest [`CHANGES_MAX`] judgement changes, numbered from 0 since the node started.
#[derive(Clone, Debug, Default, Hash)]
pub struct ChangeLog {
    recent: VecDeque<JudgementChange>,
    total: u64,
}

impl ChangeLog {
    /// Records `change`, dropping the oldest beyond [`CHANGES_MAX`].
    pub fn push(&mut self, change: JudgementChange) {
        if self.recent.len() == CHANGES_MAX {
            self.recent.pop_front();
        }
        self.recent.push_back(change);
        self.total += 1;
    }

    /// How many changes were ever recorded; the next one gets this number.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The changes numbered `from` and later that are still kept, and how many of those asked for
    /// were already dropped.
    pub fn since(&self, from: u64) -> (impl Iterator<Item = &JudgementChange>, u64) {
        let oldest = self.total - self.recent.len() as u64;
        let lost = oldest.saturating_sub(from);
        let skip = from.saturating_sub(oldest).min(self.recent.len() as u64) as usize;
        (self.recent.iter().skip(skip), lost)
    }
}

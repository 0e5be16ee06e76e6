//! The membership subsystem's coverage probes and buggify sites, one table each.

crate::names! {
    /// Coverage probes: conditions a sweep should see hold at least once.
    pub mod probes {
        /// Saving peers failed on a full disk.
        DISK_FULL = "membership.disk_full",
        /// A peer was judged dead.
        PEER_DEAD = "membership.peer_dead",
        /// A peer judged dead was heard again.
        PEER_RECOVERED_FROM_DEAD = "membership.peer_recovered_from_dead",
        /// A peer was judged suspect.
        PEER_SUSPECTED = "membership.peer_suspected",
        /// A restarted node read its known peers back.
        RESTART_RESTORED_PEERS = "membership.restart_restored_peers",
        /// Saving peers failed (it retries on the next tick).
        SAVE_FAILED = "membership.save_failed",
        /// A pong answered a ping of an earlier incarnation.
        STALE_PONG = "membership.stale_pong",
        /// Another part of the node (the log) made membership track new peers.
        TRACKED_FOR_ANOTHER_PART = "membership.tracked_for_another_part",
    }
}

crate::names! {
    /// Buggify sites: rare-but-legal paths the simulator may make the node take.
    pub mod sites {
        /// Sends a ping or pong without gossip.
        GOSSIP_EMPTY = "membership.gossip.empty",
        /// Runs the next round of pings early.
        TICK_EARLY = "membership.tick.early",
    }
}

#[cfg(test)]
mod tests {
    use super::{probes, sites};

    #[test]
    fn names_are_distinct_and_prefixed() {
        let mut all: Vec<&str> = probes::ALL.iter().chain(sites::ALL).copied().collect();
        assert!(all.iter().all(|name| name.starts_with("membership.")), "{all:?}");
        all.sort_unstable();
        let count = all.len();
        all.dedup();
        assert_eq!(all.len(), count, "a name is declared twice");
    }
}

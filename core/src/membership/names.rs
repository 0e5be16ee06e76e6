//! The membership subsystem's coverage probes and buggify sites, one table each.

crate::names! {
    /// Coverage probes: conditions a sweep should see hold at least once.
    pub mod probes {
        /// An accusation by a node held suspect or dead here was not adopted.
        ACCUSER_DOUBTED = "membership.accuser_doubted",
        /// This node told a peer it has just suspected or declared dead so at once (not: it was
        /// not the first this period, and goes first in line to be reminded).
        ACCUSED_TOLD_AT_ONCE = "membership.accused_told_at_once",
        /// Lifeguard's local health score reached its maximum.
        AWARENESS_AT_MAX = "membership.awareness_at_max",
        /// This node pinged a member it holds dead, so that it can refute if it is alive.
        DEAD_REMINDED = "membership.dead_reminded",
        /// A gossiped death of a member heard from directly within the last period became a suspicion.
        DEATH_DOUBTED = "membership.death_doubted",
        /// A full-state exchange went unanswered, and the node began another.
        EXCHANGE_RETRIED = "membership.exchange_retried",
        /// Saving peers failed on a full disk.
        DISK_FULL = "membership.disk_full",
        /// This node adopted a higher incarnation of itself that gossip still carried.
        INCARNATION_ADOPTED = "membership.incarnation_adopted",
        /// A direct probe went unanswered and helpers were asked to probe indirectly.
        INDIRECT_PROBE_SENT = "membership.indirect_probe_sent",
        /// A failed probe's helpers did not all nack (Lifeguard raised the local health score).
        NACKS_MISSED = "membership.nacks_missed",
        /// A peer learned by gossip was dropped to make room for one another part asked for.
        PEER_DROPPED_FOR_ROOM = "membership.peer_dropped_for_room",
        /// A peer was judged dead.
        PEER_DEAD = "membership.peer_dead",
        /// A peer judged dead was heard again at a higher incarnation.
        PEER_RECOVERED_FROM_DEAD = "membership.peer_recovered_from_dead",
        /// A peer was judged suspect.
        PEER_SUSPECTED = "membership.peer_suspected",
        /// A death of a member at an older incarnation than this node holds it alive at made this
        /// node probe the member out of turn.
        PROBED_OUT_OF_TURN = "membership.probed_out_of_turn",
        /// This node refuted a suspicion of itself.
        REFUTED = "membership.refuted",
        /// An accusation of an incarnation this node had already refuted made it spread the
        /// refutation again.
        REFUTATION_REPEATED = "membership.refutation_repeated",
        /// An indirect probe request was ignored: too many relays were running.
        RELAYS_FULL = "membership.relays_full",
        /// A restarted node read its known peers back.
        RESTART_RESTORED_PEERS = "membership.restart_restored_peers",
        /// A probe that failed directly was answered through a helper.
        SAVED_BY_INDIRECT_PROBE = "membership.saved_by_indirect_probe",
        /// Saving peers failed (it retries on the next tick).
        SAVE_FAILED = "membership.save_failed",
        /// An ack answered a ping of an earlier incarnation.
        STALE_ACK = "membership.stale_ack",
        /// A message from a node this node did not know (not a join's exchange) was passed on as news.
        STRANGER_ANNOUNCED = "membership.stranger_announced",
        /// This node pinged a member it holds suspect, so that it can refute if it is alive.
        SUSPECT_REMINDED = "membership.suspect_reminded",
        /// Another node's suspicion confirmed a running one (Lifeguard shortened it).
        SUSPICION_CONFIRMED = "membership.suspicion_confirmed",
        /// A full-state exchange brought judgements of other members.
        SYNC_MERGED = "membership.sync_merged",
        /// Another part of the node (the log) made membership track new peers.
        TRACKED_FOR_ANOTHER_PART = "membership.tracked_for_another_part",
    }
}

crate::names! {
    /// Buggify sites: rare-but-legal paths the simulator may make the node take.
    pub mod sites {
        /// Sends a message without piggybacked judgements.
        GOSSIP_EMPTY = "membership.gossip.empty",
        /// Ends the protocol period early.
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

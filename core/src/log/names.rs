//! The log subsystem's coverage probes and buggify sites, one table each.

crate::names! {
    /// Coverage probes: conditions a sweep should see hold at least once.
    pub mod probes {
        /// The disk refused the acceptor's promise or acceptance, so it was not given.
        ACCEPTOR_WRITE_FAILED = "log.acceptor_write_failed",
        /// A leader proposed more than one command in one accept.
        BATCHED_COMMANDS = "log.batched_commands",
        /// A replica asked another for chosen entries it lacks.
        CATCH_UP_REQUESTED = "log.catch_up_requested",
        /// A catch-up answer brought chosen entries this replica lacked.
        CAUGHT_UP_ENTRIES = "log.caught_up_entries",
        /// Recovery dropped a rotten chosen entry (it is learned again from the others).
        CORRUPT_CHOSEN_ENTRY_DROPPED = "log.corrupt_chosen_entry_dropped",
        /// A retried command was answered from its session instead of applied again.
        DUPLICATE_COMMAND_SUPPRESSED = "log.duplicate_command_suppressed",
        /// A follower stood for election while its leader was alive (the buggify site fired).
        EAGER_ELECTION = "log.eager_election",
        /// A replica that could not record its own ballot (its disk refused) did not stand.
        ELECTION_ABANDONED_UNRECORDED = "log.election_abandoned_unrecorded",
        /// A candidate's election timed out and it stood again.
        ELECTION_RETRIED = "log.election_retried",
        /// An election needed promises from more than one configuration.
        ELECTION_SPANNED_CONFIGURATIONS = "log.election_spanned_configurations",
        /// A silent follower stood without a pre-vote (the buggify site fired).
        ELECTION_WITHOUT_PRE_VOTE = "log.election_without_pre_vote",
        /// A command of an expired or unknown session was refused.
        EXPIRED_SESSION_REFUSED = "log.expired_session_refused",
        /// A new leader filled a slot no promiser had accepted with a no-op.
        GAP_FILLED_WITH_NOOP = "log.gap_filled_with_noop",
        /// A command over its limits was refused before it reached the log.
        INVALID_COMMAND_REFUSED = "log.invalid_command_refused",
        /// A replica became leader.
        LEADER_ELECTED = "log.leader_elected",
        /// A new leader recovered a membership change among the slots it re-proposed.
        LEADER_RECOVERED_MEMBER_CHANGE = "log.leader_recovered_member_change",
        /// A new leader re-proposed slots its promisers had accepted.
        LEADER_RECOVERED_SLOTS = "log.leader_recovered_slots",
        /// A leader stepped down.
        LEADER_STEPPED_DOWN = "log.leader_stepped_down",
        /// An accept with impossible slot numbers was ignored.
        MALFORMED_ACCEPT_IGNORED = "log.malformed_accept_ignored",
        /// A catch-up answer with impossible slot numbers was ignored.
        MALFORMED_CHOSEN_IGNORED = "log.malformed_chosen_ignored",
        /// A snapshot chunk that does not fit its announced size was refused.
        MALFORMED_SNAPSHOT_CHUNK = "log.malformed_snapshot_chunk",
        /// A membership change was refused as pointless (already a member, last member...).
        MEMBER_CHANGE_REFUSED = "log.member_change_refused",
        /// A membership change took effect.
        MEMBERS_CHANGED = "log.members_changed",
        /// A new leader found a promiser's snapshot ahead of its own commit index.
        NEW_LEADER_BEHIND_SNAPSHOT = "log.new_leader_behind_snapshot",
        /// A leader had commands queued but no room in its pipeline.
        PIPELINE_FULL = "log.pipeline_full",
        /// A leader held proposals behind a membership change not yet applied.
        PIPELINE_HELD_FOR_MEMBER_CHANGE = "log.pipeline_held_for_member_change",
        /// A replica refused a pre-vote because it follows a live leader.
        PRE_VOTE_REFUSED_FOR_A_LIVE_LEADER = "log.pre_vote_refused_for_a_live_leader",
        /// A pre-vote gathered a quorum, and its asker stood for election.
        PRE_VOTE_WON = "log.pre_vote_won",
        /// A candidate or leader was rejected by a higher promise and stepped down.
        PREEMPTED = "log.preempted",
        /// A promise was cut into pages to fit the message budget.
        PROMISE_PAGED = "log.promise_paged",
        /// A proposal found the pipeline idle and was proposed at once, without the batch delay.
        PROPOSED_AT_ONCE = "log.proposed_at_once",
        /// A leader's command queue was full and it answered busy.
        QUEUE_FULL = "log.queue_full",
        /// A linearizable read arrived while a confirmation round was out and needed another.
        READ_JOINED_NEXT_ROUND = "log.read_joined_next_round",
        /// A linearizable read arrived before its read index was applied and waited for it.
        READ_WAITED_FOR_APPLY = "log.read_waited_for_apply",
        /// The leader's reads queue was full and it answered busy.
        READS_FULL = "log.reads_full",
        /// A restarted replica read back a promise or chosen entries.
        RECOVERED_STATE = "log.recovered_state",
        /// A replica could not read its durable state back (it retries each tick).
        RECOVERY_FAILED = "log.recovery_failed",
        /// A leader removed from the configuration stepped down.
        REMOVED_LEADER_STEPPED_DOWN = "log.removed_leader_stepped_down",
        /// A leader skipped resending accepts to a peer judged dead.
        RESEND_SKIPPED_DEAD_PEER = "log.resend_skipped_dead_peer",
        /// Opening a session evicted the least recently used one.
        SESSION_EVICTED = "log.session_evicted",
        /// Sessions idle for too many slots expired.
        SESSION_EXPIRED_IDLE = "log.session_expired_idle",
        /// A replica asked again for a snapshot chunk that did not come.
        SNAPSHOT_CHUNK_ASKED_AGAIN = "log.snapshot_chunk_asked_again",
        /// A snapshot chunk past the first was sent.
        SNAPSHOT_CHUNK_SENT_LATER = "log.snapshot_chunk_sent_later",
        /// An assembled snapshot failed its digest and was not installed.
        SNAPSHOT_DIGEST_MISMATCH = "log.snapshot_digest_mismatch",
        /// A replica installed a snapshot received in chunks.
        SNAPSHOT_INSTALLED = "log.snapshot_installed",
        /// A replica started sending a snapshot.
        SNAPSHOT_SENT = "log.snapshot_sent",
        /// A replica took a snapshot and compacted its log.
        SNAPSHOT_TAKEN = "log.snapshot_taken",
        /// A replica past `snapshot_threshold` slots waited for more applied bytes before taking a
        /// snapshot of a large state.
        SNAPSHOT_WAITED_FOR_LOG_BYTES = "log.snapshot_waited_for_log_bytes",
        /// A snapshot announced over the size limit was refused.
        SNAPSHOT_TOO_LARGE_REFUSED = "log.snapshot_too_large_refused",
        /// A stalled snapshot transfer was abandoned.
        SNAPSHOT_TRANSFER_ABANDONED = "log.snapshot_transfer_abandoned",
        /// A membership change naming an epoch no longer in force did nothing.
        STALE_MEMBER_CHANGE_IGNORED = "log.stale_member_change_ignored",
    }
}

crate::names! {
    /// Buggify sites: rare-but-legal paths the simulator may make the node take.
    pub mod sites {
        /// Syncs the acceptor's state twice (never skips it).
        ACCEPTOR_SYNC_SKIPPED_IS_NOT_ALLOWED = "log.acceptor.sync_skipped_is_not_allowed",
        /// Proposes a queued command at once instead of after the batch delay.
        BATCH_FLUSH_NOW = "log.batch.flush_now",
        /// Proposes one command per accept instead of a full batch.
        BATCH_TINY = "log.batch.tiny",
        /// Stands for election though the leader is alive.
        ELECTION_EAGER = "log.election.eager",
        /// Stands for election without a pre-vote.
        ELECTION_SKIP_PRE_VOTE = "log.election.skip_pre_vote",
    }
}

#[cfg(test)]
mod tests {
    use super::{probes, sites};

    #[test]
    fn names_are_distinct_and_prefixed() {
        let mut all: Vec<&str> = probes::ALL.iter().chain(sites::ALL).copied().collect();
        assert!(all.iter().all(|name| name.starts_with("log.")), "{all:?}");
        all.sort_unstable();
        let count = all.len();
        all.dedup();
        assert_eq!(all.len(), count, "a name is declared twice");
    }
}

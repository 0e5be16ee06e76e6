//! The acceptor: the promised ballot and the accepted entries, recorded durably before any promise
//! or acceptance leaves the node.

use super::{Replica, Role};
use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::batch::prefix_within;
use crate::log::config::LogPlantedBug;
use crate::log::entry::Entry;
use crate::log::messages::LogMessage;
use crate::log::names::probes;
use crate::log::replica::election::PromiseReceived;
use crate::log::state_machine::StateMachine;
use crate::node::Context;
use std::collections::BTreeMap;

/// What the acceptor keeps (durably, in [`crate::log::ACCEPTOR_TABLE`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Acceptor<C> {
    /// The highest ballot promised.
    pub promised: Ballot,
    /// Per slot above the snapshot: the ballot it was accepted in, and the entry.
    pub accepted: BTreeMap<u64, (Ballot, Entry<C>)>,
    /// The promise last written to storage in this incarnation: a promise written never decreases.
    pub promised_written: Ballot,
}

impl<C> Default for Acceptor<C> {
    fn default() -> Self {
        Acceptor { promised: Ballot::ZERO, accepted: BTreeMap::new(), promised_written: Ballot::ZERO }
    }
}

/// The slots `first_slot..first_slot + count`, if that range is well-formed (a peer may send
/// anything).
pub(super) fn slot_range(first_slot: u64, count: usize) -> Option<std::ops::Range<u64>> {
    let end = first_slot.checked_add(u64::try_from(count).ok()?)?;
    (first_slot >= 1).then_some(first_slot..end)
}

impl<S: StateMachine> Replica<S> {
    pub(super) fn on_prepare(&mut self, cx: &mut dyn Context<Self>, from: NodeId, ballot: Ballot, from_slot: u64) {
        self.election.highest_ballot_seen = self.election.highest_ballot_seen.max(ballot);
        match self.acceptor_prepare(cx, ballot, from_slot) {
            Some((promise, more_from)) => {
                if from != cx.id() {
                    self.yield_to(cx, ballot);
                    self.election.last_leader_contact = cx.now();
                }
                cx.sometimes(probes::PROMISE_PAGED, more_from.is_some());
                let message = LogMessage::Promise {
                    ballot,
                    snapshot_index: promise.snapshot_index,
                    snapshot_members: promise.snapshot_members,
                    accepted: promise.accepted,
                    more_from,
                };
                cx.send(from, message);
            }
            None => cx.send(from, LogMessage::Reject { ballot, promised: self.acceptor.promised }),
        }
    }

    /// Phase 1b at this acceptor: the promise (durably recorded), with a page of the entries
    /// accepted from `from_slot` on that fits the byte budget and, if more remain, the slot they
    /// start from. `None` if the ballot is below the promise or the disk refused.
    pub(super) fn acceptor_prepare(
        &mut self,
        cx: &mut dyn Context<Self>,
        ballot: Ballot,
        from_slot: u64,
    ) -> Option<(PromiseReceived<S::Command>, Option<u64>)> {
        if ballot < self.acceptor.promised {
            return None;
        }
        let previous = self.acceptor.promised;
        self.acceptor.promised = ballot;
        if ballot != previous && !self.persist_acceptor(cx, &[]) {
            self.acceptor.promised = previous;
            return None;
        }
        let from_slot = from_slot.max(self.learner.snapshot.index + 1);
        let candidates = self.acceptor.accepted.range(from_slot..);
        let sizes = candidates.clone().map(|(slot, (ballot, entry))| crate::codec::encoded_len(&(slot, ballot, entry)));
        let taken = prefix_within(sizes, usize::MAX, self.config.batch_bytes_max);
        let accepted: Vec<(u64, Ballot, Entry<S::Command>)> = self
            .acceptor
            .accepted
            .range(from_slot..)
            .take(taken)
            .map(|(slot, (ballot, entry))| (*slot, *ballot, entry.clone()))
            .collect();
        let more_from = match accepted.last() {
            Some((last, _, _)) => self.acceptor.accepted.range(last + 1..).next().map(|(slot, _)| *slot),
            None => None,
        };
        let promise = PromiseReceived {
            snapshot_index: self.learner.snapshot.index,
            snapshot_members: self.learner.snapshot.members.clone(),
            accepted,
        };
        Some((promise, more_from))
    }

    /// Phase 2b at this acceptor: true if it accepted (durably).
    pub(super) fn acceptor_accept(
        &mut self,
        cx: &mut dyn Context<Self>,
        ballot: Ballot,
        first_slot: u64,
        entries: Vec<Entry<S::Command>>,
    ) -> bool {
        let lower_accepted = self.planted(LogPlantedBug::AcceptLowerBallot);
        if ballot < self.acceptor.promised && !lower_accepted {
            return false;
        }
        let Some(slots) = slot_range(first_slot, entries.len()) else {
            cx.sometimes(probes::MALFORMED_ACCEPT_IGNORED, true);
            return false;
        };
        let previous = self.acceptor.promised;
        assert!(ballot >= previous || lower_accepted, "accepting ballot {ballot} below the promise {previous}");
        self.acceptor.promised = previous.max(ballot);
        let snapshot_index = self.learner.snapshot.index;
        let accepts: Vec<(u64, Ballot, Entry<S::Command>)> = slots
            .zip(entries)
            .filter(|(slot, _)| *slot > snapshot_index)
            .map(|(slot, entry)| (slot, ballot, entry))
            .collect();
        if !self.persist_acceptor(cx, &accepts) {
            self.acceptor.promised = previous;
            return false;
        }
        for (slot, ballot, entry) in accepts {
            self.acceptor.accepted.insert(slot, (ballot, entry));
        }
        true
    }

    pub(super) fn on_accept(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        ballot: Ballot,
        first_slot: u64,
        entries: Vec<Entry<S::Command>>,
        commit_index: u64,
    ) {
        self.election.highest_ballot_seen = self.election.highest_ballot_seen.max(ballot);
        let count = entries.len() as u64;
        if !self.acceptor_accept(cx, ballot, first_slot, entries) {
            cx.send(from, LogMessage::Reject { ballot, promised: self.acceptor.promised });
            return;
        }
        self.follow(cx, from, ballot);
        cx.send(from, LogMessage::Accepted { ballot, first_slot, count });
        self.learn_commit(cx, from, ballot, commit_index);
    }

    /// Follows `leader`, who leads with `ballot`.
    pub(super) fn follow(&mut self, cx: &mut dyn Context<Self>, leader: NodeId, ballot: Ballot) {
        if leader == cx.id() {
            return;
        }
        self.yield_to(cx, ballot);
        self.election.leader = Some(leader);
        self.election.last_leader_contact = cx.now();
        self.election.pre_vote = None;
    }

    /// Steps down if this replica stands or leads with a ballot below `ballot`.
    pub(super) fn yield_to(&mut self, cx: &mut dyn Context<Self>, ballot: Ballot) {
        let mine = match &self.role {
            Role::Follower => return,
            Role::Candidate(candidate) => candidate.ballot,
            Role::Leader(leader) => leader.ballot,
        };
        if ballot > mine {
            self.step_down(cx, &format!("saw ballot {ballot}"));
        }
    }
}

//! Elections: a replica that hears no leader stands with a ballot above all it has seen, gathers
//! promises (paged, when an acceptor has accepted more than one message holds), recovers every slot
//! the promises show, and leads. Membership changes among the recovered slots make it gather a
//! quorum from every configuration they span.

use super::leader::{Inflight, Leader, PendingKey};
use super::reads::Reads;
use super::{Replica, Role};
use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::config::LogPlantedBug;
use crate::log::entry::{Command, Entry};
use crate::log::members::Members;
use crate::log::messages::{LogMessage, LogResponse};
use crate::log::names::{probes, sites};
use crate::log::state_machine::StateMachine;
use crate::node::{Context, TraceEvent};
use crate::random;
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;

/// What a replica knows about leadership, whatever its role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Election {
    /// The highest ballot seen anywhere.
    pub highest_ballot_seen: Ballot,
    /// The leader followed (itself when leading).
    pub leader: Option<NodeId>,
    /// When a leader was last heard (or an election began).
    pub last_leader_contact: Instant,
    /// This replica's election timeout: the configured one plus a random part.
    pub timeout: Duration,
    /// A pre-vote under way: asked before standing.
    pub pre_vote: Option<PreVote>,
}

impl Election {
    pub fn new(timeout: Duration) -> Election {
        Election {
            highest_ballot_seen: Ballot::ZERO,
            leader: None,
            last_leader_contact: Instant::ZERO,
            timeout,
            pre_vote: None,
        }
    }
}

/// A pre-vote: who would follow this replica if it stood in `round`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PreVote {
    /// The round it would stand in.
    pub round: u64,
    /// Who said yes, itself included.
    pub granted: std::collections::BTreeSet<NodeId>,
    /// When it asked.
    pub started: Instant,
}

/// A promise a candidate collected: the acceptor's snapshot index and its accepted entries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PromiseReceived<C> {
    /// Slots up to here are compacted (chosen) at that acceptor.
    pub snapshot_index: u64,
    /// The configuration in force after `snapshot_index` there.
    pub snapshot_members: Members,
    /// (slot, ballot, entry) accepted there, in slot order.
    pub accepted: Vec<(u64, Ballot, Entry<C>)>,
}

impl<C> PromiseReceived<C> {
    /// Adds a later page: entries after the ones held, and the most advanced snapshot position.
    fn extend(&mut self, page: PromiseReceived<C>) {
        if page.snapshot_index > self.snapshot_index {
            self.snapshot_index = page.snapshot_index;
            self.snapshot_members = page.snapshot_members;
        }
        let last = self.accepted.last().map_or(0, |(slot, _, _)| *slot);
        self.accepted.extend(page.accepted.into_iter().filter(|(slot, _, _)| *slot > last));
    }
}

/// A candidate's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Candidate<C> {
    /// The ballot it stands with.
    pub ballot: Ballot,
    /// Complete promises, by acceptor.
    pub promises: BTreeMap<NodeId, PromiseReceived<C>>,
    /// Promises still arriving in pages, by acceptor, with the slot the next page starts from.
    pub partial: BTreeMap<NodeId, (PromiseReceived<C>, u64)>,
    /// When it began.
    pub started: Instant,
    /// The configurations governing the slots it must recover, as far as the promises so far
    /// show: it needs a quorum of promises from each.
    pub chain: Vec<Members>,
}

/// What a candidate's promises show: the slots it must recover, their values, and the
/// configurations that govern them.
struct Recovery<C> {
    /// Every slot up to here is chosen (known here, or compacted at a promiser).
    base: u64,
    /// A promiser whose snapshot is ahead of this replica's commit index, and that index.
    snapshot_ahead: Option<(NodeId, u64)>,
    /// The last slot any promiser accepted.
    last: u64,
    /// The value to propose for each slot in `base + 1..=last` that has one.
    values: BTreeMap<u64, Entry<C>>,
    /// The configurations governing slots after `base`, in order.
    chain: Vec<Members>,
}

impl<S: StateMachine> Replica<S> {
    pub(super) fn stand_for_election(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        self.election.pre_vote = None;
        let round = self.election.highest_ballot_seen.round.max(self.acceptor.promised.round) + 1;
        let ballot = Ballot { round, node: me };
        self.election.highest_ballot_seen = ballot;
        self.election.leader = None;
        self.election.last_leader_contact = cx.now();
        let jitter = random::below(cx.rng(), self.config.election_timeout.as_nanos() as u64);
        self.election.timeout = self.config.election_timeout + Duration::from_nanos(jitter);
        cx.trace(TraceEvent::new("log_role", format!("candidate with ballot {ballot}")));
        let chain = vec![self.learner.members.clone()];
        let candidate =
            Candidate { ballot, promises: BTreeMap::new(), partial: BTreeMap::new(), started: cx.now(), chain };
        self.role = Role::Candidate(candidate);
        let first_slot = self.learner.commit_index + 1;
        // Its own promise first, synced: a ballot this replica used without recording it could be
        // chosen again after a restart, and two leaders would then propose in one ballot.
        let Some(mut own) = self.acceptor_prepare(cx, ballot, first_slot) else {
            cx.sometimes(probes::ELECTION_ABANDONED_UNRECORDED, true);
            cx.trace(TraceEvent::new("log_role", format!("follower (could not record ballot {ballot})")));
            self.role = Role::Follower;
            return;
        };
        for peer in self.targets(me) {
            cx.send(peer, LogMessage::Prepare { ballot, from_slot: first_slot });
        }
        // The rest of its own promise, page by page, as a peer's would come.
        let mut from_slot = first_slot;
        loop {
            let (page, more_from) = own;
            self.on_promise(cx, me, ballot, page, more_from);
            match more_from {
                Some(next) if next > from_slot && matches!(self.role, Role::Candidate(_)) => from_slot = next,
                _ => break,
            }
            let Some(next_page) = self.acceptor_prepare(cx, ballot, from_slot) else { break };
            own = next_page;
        }
    }

    pub(super) fn on_promise(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        ballot: Ballot,
        page: PromiseReceived<S::Command>,
        more_from: Option<u64>,
    ) {
        let Role::Candidate(candidate) = &mut self.role else { return };
        if candidate.ballot != ballot || candidate.promises.contains_key(&from) {
            return;
        }
        let promise = match candidate.partial.remove(&from) {
            Some((mut held, _)) => {
                held.extend(page);
                held
            }
            None => page,
        };
        if let Some(next) = more_from {
            candidate.partial.insert(from, (promise, next));
            if from != cx.id() {
                cx.send(from, LogMessage::Prepare { ballot, from_slot: next });
            }
            return;
        }
        candidate.promises.insert(from, promise);
        let Some(recovery) = self.recovery() else { return };
        let Role::Candidate(candidate) = &mut self.role else { return };
        let newly_involved: Vec<NodeId> = recovery
            .chain
            .iter()
            .flat_map(|members| members.nodes.iter().copied())
            .filter(|node| {
                !candidate.chain.iter().any(|known| known.contains(node)) && !candidate.promises.contains_key(node)
            })
            .collect();
        candidate.chain.clone_from(&recovery.chain);
        let small = self.config.planted(LogPlantedBug::QuorumTooSmall);
        let counted =
            if self.config.planted(LogPlantedBug::ElectionIgnoresNewConfig) { 1 } else { recovery.chain.len() };
        let satisfied = recovery
            .chain
            .iter()
            .take(counted)
            .all(|members| members.has_quorum(candidate.promises.keys(), super::quorum_size(members, small)));
        if satisfied {
            cx.sometimes(probes::ELECTION_SPANNED_CONFIGURATIONS, recovery.chain.len() > 1);
            self.become_leader(cx, recovery);
        } else {
            // The promises revealed a configuration change: its new members must promise too.
            let from_slot = self.learner.commit_index + 1;
            let mut newly_involved = newly_involved;
            newly_involved.sort_unstable();
            newly_involved.dedup();
            for peer in newly_involved {
                if peer != cx.id() {
                    cx.send(peer, LogMessage::Prepare { ballot, from_slot });
                }
            }
        }
    }

    /// What the candidate's promises so far show (see [`Recovery`]).
    ///
    /// The slots after `base` are governed first by the configuration in force at `base` (this
    /// replica's own, or the one in the most advanced promiser's snapshot), then by each change
    /// recovered among them in turn. A quorum of the first configuration's promises reveals any
    /// value chosen in its slots, in particular a chosen change; the change's configuration then
    /// governs the slots after it, and so on. So the chain is exact once each of its
    /// configurations has a quorum among the promises.
    fn recovery(&self) -> Option<Recovery<S::Command>> {
        let Role::Candidate(candidate) = &self.role else { return None };
        let commit_index = self.learner.commit_index;
        let ahead = candidate
            .promises
            .iter()
            .filter(|(_, promise)| promise.snapshot_index > commit_index)
            .max_by_key(|(_, promise)| promise.snapshot_index);
        let (base, base_members, snapshot_ahead) = match ahead {
            Some((holder, promise)) => {
                (promise.snapshot_index, promise.snapshot_members.clone(), Some((*holder, promise.snapshot_index)))
            }
            None => (commit_index, self.learner.members.clone(), None),
        };
        let mut best: BTreeMap<u64, (Ballot, &Entry<S::Command>)> = BTreeMap::new();
        for promise in candidate.promises.values() {
            for (slot, accepted_in, entry) in &promise.accepted {
                if *slot <= base {
                    continue;
                }
                if best.get(slot).is_none_or(|(ballot, _)| accepted_in > ballot) {
                    best.insert(*slot, (*accepted_in, entry));
                }
            }
        }
        let last = best.keys().next_back().copied().unwrap_or(base).max(base);
        let mut values = BTreeMap::new();
        let mut chain = vec![base_members];
        for slot in base + 1..=last {
            // Slots this replica already knows chosen keep their value (Paxos guarantees it matches).
            let value = self.learner.chosen.get(&slot).or_else(|| best.get(&slot).map(|(_, entry)| *entry));
            let Some(entry) = value else { continue };
            if let Some(next) = chain.last().and_then(|members| members.after(slot, &entry.command)) {
                chain.push(next);
            }
            values.insert(slot, entry.clone());
        }
        Some(Recovery { base, snapshot_ahead, last, values, chain })
    }

    fn become_leader(&mut self, cx: &mut dyn Context<Self>, recovery: Recovery<S::Command>) {
        let Role::Candidate(Candidate { ballot, .. }) = std::mem::replace(&mut self.role, Role::Follower) else {
            return;
        };
        let me = cx.id();
        let Recovery { base, snapshot_ahead, last, mut values, chain } = recovery;
        let now = cx.now();
        let mut inflight = BTreeMap::new();
        let mut inflight_bytes = 0;
        let mut members = chain.first().cloned().unwrap_or_else(|| self.learner.members.clone());
        let mut reconfig_at = None;
        for slot in base + 1..=last {
            let entry = match values.remove(&slot) {
                Some(entry) => entry,
                None => {
                    cx.sometimes(probes::GAP_FILLED_WITH_NOOP, true);
                    self.new_entry(cx, Command::Noop)
                }
            };
            let next = members.after(slot, &entry.command);
            let slot_state = Inflight::new(entry, members.clone(), now);
            inflight_bytes += slot_state.bytes;
            inflight.insert(slot, slot_state);
            if let Some(next) = next {
                members = next;
                reconfig_at = Some(slot);
            }
        }
        debug_assert_eq!(Some(&members), chain.last(), "the recovery walk and the chain disagree");
        cx.sometimes(probes::LEADER_RECOVERED_SLOTS, !inflight.is_empty());
        cx.sometimes(probes::LEADER_RECOVERED_MEMBER_CHANGE, reconfig_at.is_some());
        cx.trace(TraceEvent::new(
            "log_role",
            format!("leader with ballot {ballot}, re-proposing slots {}..={last}, members {members}", base + 1),
        ));
        // Everyone involved counts as heard at the start: the lease runs from the election.
        let mut last_ack: BTreeMap<NodeId, Instant> = members.nodes.iter().map(|member| (*member, now)).collect();
        for slot in inflight.values() {
            for member in &slot.members.nodes {
                last_ack.insert(*member, now);
            }
        }
        self.role = Role::Leader(Leader {
            ballot,
            next_slot: last + 1,
            inflight,
            inflight_bytes,
            last_ack,
            next_members: members,
            reconfig_at,
            read_floor: last,
        });
        self.reads = Reads::default();
        self.election.leader = Some(me);
        cx.sometimes(probes::LEADER_ELECTED, true);
        if let Some((holder, index)) = snapshot_ahead
            && holder != me
        {
            cx.sometimes(probes::NEW_LEADER_BEHIND_SNAPSHOT, true);
            self.learner.leader_commit_index = self.learner.leader_commit_index.max(index);
            self.learner.catch_up_source = Some(holder);
            self.learner.catch_up_asked_at = None;
            self.ask_catch_up(cx, holder);
        }
        self.send_inflight(cx, true);
        self.flush(cx);
    }

    pub(super) fn on_reject(&mut self, cx: &mut dyn Context<Self>, ballot: Ballot, promised: Ballot) {
        self.election.highest_ballot_seen = self.election.highest_ballot_seen.max(promised);
        let mine = match &self.role {
            Role::Candidate(candidate) => candidate.ballot,
            Role::Leader(leader) => leader.ballot,
            Role::Follower => return,
        };
        if mine == ballot && promised > ballot {
            cx.sometimes(probes::PREEMPTED, true);
            self.step_down(cx, &format!("preempted by ballot {promised}"));
            self.election.last_leader_contact = cx.now();
        }
    }

    pub(super) fn step_down(&mut self, cx: &mut dyn Context<Self>, why: &str) {
        if let Role::Leader(leader) = &self.role {
            cx.sometimes(probes::LEADER_STEPPED_DOWN, true);
            // Commands already proposed may still be chosen: their clients must retry to learn.
            let keys: Vec<PendingKey> =
                leader.inflight.values().filter_map(|slot| PendingKey::of(&slot.entry)).collect();
            for key in keys {
                self.answer(cx, key, LogResponse::Unknown { leader: None });
            }
            // Queued commands were never proposed by this leader.
            for queued in std::mem::take(&mut self.clients.queue) {
                self.answer(cx, queued.key, LogResponse::NotLeader { leader: None });
            }
            self.clients.queued_bytes = 0;
            self.drop_reads(cx);
        }
        if !matches!(self.role, Role::Follower) {
            cx.trace(TraceEvent::new("log_role", format!("follower ({why})")));
        }
        self.role = Role::Follower;
        if self.election.leader == Some(cx.id()) {
            self.election.leader = None;
        }
    }

    pub(super) fn candidate_tick(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let now = cx.now();
        let Role::Candidate(candidate) = &self.role else { return };
        if now - candidate.started > self.election.timeout {
            cx.sometimes(probes::ELECTION_RETRIED, true);
            self.stand_for_election(cx);
            return;
        }
        let ballot = candidate.ballot;
        let from_slot = self.learner.commit_index + 1;
        let waiting: Vec<(NodeId, u64)> = self
            .targets(me)
            .into_iter()
            .filter(|peer| !candidate.promises.contains_key(peer))
            .map(|peer| (peer, candidate.partial.get(&peer).map_or(from_slot, |(_, next)| *next)))
            .collect();
        for (peer, from_slot) in waiting {
            cx.send(peer, LogMessage::Prepare { ballot, from_slot });
        }
    }

    pub(super) fn follower_tick(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let now = cx.now();
        // Paxos lets anyone propose at any time; standing while a leader is alive is legal (it only
        // costs throughput), and duelling leaders are where acceptor bugs show. A rare fault point
        // makes it happen, past the pre-vote.
        let eager =
            self.election.leader.is_some() && cx.buggify(sites::ELECTION_EAGER) && random::chance(cx.rng(), 1, 4);
        let silent = now - self.election.last_leader_contact > self.election.timeout;
        if eager && self.is_member(&me) {
            cx.sometimes(probes::EAGER_ELECTION, true);
            self.stand_for_election(cx);
        } else if silent && self.is_member(&me) {
            // The pre-vote only spares a live leader; standing without it is legal too, and the
            // elections it starts (a replica back from a partition deposing the leader) are
            // where election bugs show.
            if cx.buggify(sites::ELECTION_SKIP_PRE_VOTE) {
                cx.sometimes(probes::ELECTION_WITHOUT_PRE_VOTE, true);
                self.stand_for_election(cx);
            } else {
                self.ask_pre_vote(cx);
            }
        } else if let Some(leader) = self.election.leader {
            self.ask_catch_up(cx, leader);
        }
    }

    /// Asks the members whether they would follow this replica (again, once the last round is an
    /// election timeout old); stands once a quorum would.
    fn ask_pre_vote(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let now = cx.now();
        if self.election.pre_vote.as_ref().is_some_and(|pre_vote| now - pre_vote.started <= self.election.timeout) {
            return;
        }
        let round = self.election.highest_ballot_seen.round.max(self.acceptor.promised.round) + 1;
        let granted = std::iter::once(me).collect();
        self.election.pre_vote = Some(PreVote { round, granted, started: now });
        for peer in self.targets(me) {
            cx.send(peer, LogMessage::PreVote { round });
        }
        self.maybe_stand_after_pre_vote(cx);
    }

    /// Answers a pre-vote: yes unless this replica follows a leader it heard from within the
    /// election timeout, or leads. (Any replica may lead safely; one that is behind recovers the
    /// slots it lacks from the promises.)
    pub(super) fn on_pre_vote(&mut self, cx: &mut dyn Context<Self>, from: NodeId, round: u64) {
        let now = cx.now();
        let leader_alive = match self.role {
            super::Role::Leader(_) => true,
            _ => {
                self.election.leader.is_some_and(|leader| leader != from)
                    && now - self.election.last_leader_contact <= self.config.election_timeout
            }
        };
        let granted = !leader_alive;
        cx.sometimes(probes::PRE_VOTE_REFUSED_FOR_A_LIVE_LEADER, leader_alive);
        cx.send(from, LogMessage::PreVoteReply { round, granted });
    }

    pub(super) fn on_pre_vote_reply(&mut self, cx: &mut dyn Context<Self>, from: NodeId, round: u64, granted: bool) {
        let Some(pre_vote) = self.election.pre_vote.as_mut() else { return };
        if pre_vote.round != round || !granted || !matches!(self.role, Role::Follower) {
            return;
        }
        pre_vote.granted.insert(from);
        self.maybe_stand_after_pre_vote(cx);
    }

    fn maybe_stand_after_pre_vote(&mut self, cx: &mut dyn Context<Self>) {
        let Some(pre_vote) = &self.election.pre_vote else { return };
        let members = &self.learner.members;
        if members.has_quorum(pre_vote.granted.iter(), self.quorum_of(members)) {
            cx.sometimes(probes::PRE_VOTE_WON, true);
            self.stand_for_election(cx);
        }
    }
}

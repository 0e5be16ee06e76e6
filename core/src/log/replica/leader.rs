//! The leader: takes client proposals, batches them into accepts within the byte budget, keeps a
//! bounded pipeline of slots in flight, counts acceptances per slot's configuration, and keeps its
//! followers and its lease alive with heartbeats.

use super::acceptor::slot_range;
use super::{Replica, Role, since};
use crate::codec::encoded_len;
use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::batch::{contiguous_runs, prefix_within};
use crate::log::config::LogPlantedBug;
use crate::log::entry::{Command, Entry, EntryId};
use crate::log::members::{MemberChange, Members};
use crate::log::messages::{LogMessage, LogResponse};
use crate::log::names::{probes, sites};
use crate::log::state_machine::{InvalidCommand, Part, StateMachine};
use crate::log::timing::WriteStamps;
use crate::node::{Context, RequestId, TimerId};
use crate::time::{Duration, Instant};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A slot the leader proposed and has not yet seen chosen.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Inflight<C> {
    /// The proposed entry.
    pub entry: Entry<C>,
    /// Bytes the entry takes in a message.
    pub bytes: usize,
    /// Acceptors that accepted it in the leader's ballot.
    pub acks: BTreeSet<NodeId>,
    /// The configuration governing the slot: only its members' acceptances count.
    pub members: Members,
    /// When it was last sent.
    pub sent_at: Instant,
    /// Its request's progress, for a slot proposed for a client here.
    pub stamps: Option<WriteStamps>,
}

impl<C: serde::Serialize> Inflight<C> {
    /// A slot proposing `entry` under `members`, sent now.
    pub fn new(entry: Entry<C>, members: Members, now: Instant) -> Inflight<C> {
        let bytes = entry.encoded_len();
        Inflight { entry, bytes, acks: BTreeSet::new(), members, sent_at: now, stamps: None }
    }
}

/// A leader's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Leader<C> {
    /// The ballot it leads with.
    pub ballot: Ballot,
    /// The next slot to propose in.
    pub next_slot: u64,
    /// Proposed slots not yet chosen.
    pub inflight: BTreeMap<u64, Inflight<C>>,
    /// Bytes of the entries in flight.
    pub inflight_bytes: usize,
    /// When each acceptor last acknowledged anything.
    pub last_ack: BTreeMap<NodeId, Instant>,
    /// The configuration governing `next_slot`.
    pub next_members: Members,
    /// The slot of a membership change proposed (or recovered) and not yet applied here: nothing
    /// past it is proposed until it is, so that its configuration is known.
    pub reconfig_at: Option<u64>,
    /// The last slot recovered at the election: a read must see it applied, since it may hold a
    /// write an earlier leader acknowledged.
    pub read_floor: u64,
}

/// What a client asked to put through the log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Proposal<C> {
    /// Open a session.
    OpenSession,
    /// A state-machine command.
    Command { client: u64, sequence: u64, command: C },
    /// A membership change.
    Change { client: u64, sequence: u64, change: MemberChange },
}

/// Whose requests wait for an entry to be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum PendingKey {
    /// A client's command or membership change (retries of it join the same key).
    Command { client: u64, sequence: u64 },
    /// A session being opened, by the entry that opens it.
    Open(EntryId),
}

impl PendingKey {
    /// The key of whoever waits for `entry`, if anyone can.
    pub fn of<C>(entry: &Entry<C>) -> Option<PendingKey> {
        match &entry.command {
            Command::Noop => None,
            Command::OpenSession => Some(PendingKey::Open(entry.id)),
            Command::Client { client, sequence, .. } | Command::Reconfigure { client, sequence, .. } => {
                Some(PendingKey::Command { client: *client, sequence: *sequence })
            }
        }
    }
}

/// A proposal waiting at the leader for a slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Queued<C> {
    pub key: PendingKey,
    pub what: Waiting<C>,
    /// Bytes its entry takes (an estimate for a change, made when it is proposed).
    pub bytes: usize,
    /// When its request arrived.
    pub received: Instant,
}

/// What a queued proposal becomes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Waiting<C> {
    /// An entry built when it arrived.
    Ready(Entry<C>),
    /// A membership change, built against the configuration in force when it is proposed.
    Change { client: u64, sequence: u64, change: MemberChange },
}

/// The clients' side of the leader: who waits for what, and the proposals queued.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Clients<C> {
    pub pending: BTreeMap<PendingKey, Vec<RequestId>>,
    pub queue: VecDeque<Queued<C>>,
    pub queued_bytes: usize,
    pub flush_timer: Option<TimerId>,
    pub entries_created: u64,
}

impl<C> Default for Clients<C> {
    fn default() -> Self {
        Clients {
            pending: BTreeMap::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            flush_timer: None,
            entries_created: 0,
        }
    }
}

/// An entry and the bytes it takes in a message.
type SizedEntry<C> = (Entry<C>, usize);

/// Heartbeats a slot stays unacknowledged before it is sent again. One was too few: a batch of
/// large values takes longer than a heartbeat to cross and sync, and resending it then doubled the
/// load it waited behind (64 KiB values, 32 clients: 437 -> 992 ops/s, p99 2.3 s -> 0.45 s).
const RESEND_AFTER_HEARTBEATS: u32 = 4;

/// Bytes a membership change's entry takes at most (a full configuration of ids).
const CHANGE_ENTRY_BYTES_MAX: usize = 1024;

impl<S: StateMachine> Replica<S> {
    /// Takes a client's proposal: refused unless leading, checked, queued for the next batch.
    pub(super) fn on_proposal(
        &mut self,
        cx: &mut dyn Context<Self>,
        request: RequestId,
        proposal: Proposal<S::Command>,
    ) {
        if !self.recovered || !self.is_leader() {
            let leader = self.election.leader.filter(|leader| *leader != cx.id());
            cx.reply(request, LogResponse::NotLeader { leader });
            return;
        }
        if let Proposal::Command { command, .. } = &proposal {
            let invalid = self.learner.state.validate(command).err().or_else(|| {
                let bytes = encoded_len(command) as u64 + 64;
                let limit = self.config.entry_bytes_max as u64;
                (bytes > limit).then_some(InvalidCommand::TooLarge { part: Part::Command, bytes, limit })
            });
            if let Some(why) = invalid {
                cx.sometimes(probes::INVALID_COMMAND_REFUSED, true);
                cx.reply(request, LogResponse::Invalid(why));
                return;
            }
            if self.planted(LogPlantedBug::StaleReadAsLinearizable) && S::is_read_only(command) {
                let Proposal::Command { client, sequence, command } = proposal else { return };
                let output = self.learner.state.clone().apply(&command);
                cx.reply(request, LogResponse::Done { client, sequence, output });
                return;
            }
        }
        let (key, what) = match proposal {
            Proposal::OpenSession => {
                let entry = self.new_entry(cx, Command::OpenSession);
                (PendingKey::Open(entry.id), Waiting::Ready(entry))
            }
            Proposal::Command { client, sequence, command } => {
                let key = PendingKey::Command { client, sequence };
                if let Some(waiting) = self.clients.pending.get_mut(&key) {
                    // Already on its way: answer this request too when it is applied.
                    waiting.push(request);
                    return;
                }
                (key, Waiting::Ready(self.new_entry(cx, Command::Client { client, sequence, command })))
            }
            Proposal::Change { client, sequence, change } => {
                let key = PendingKey::Command { client, sequence };
                if let Some(waiting) = self.clients.pending.get_mut(&key) {
                    waiting.push(request);
                    return;
                }
                (key, Waiting::Change { client, sequence, change })
            }
        };
        let bytes = match &what {
            Waiting::Ready(entry) => entry.encoded_len(),
            Waiting::Change { .. } => CHANGE_ENTRY_BYTES_MAX,
        };
        let full = self.clients.queue.len() >= self.config.queued_commands_max
            || self.clients.queued_bytes.saturating_add(bytes) > self.config.queued_bytes_max;
        if full {
            cx.sometimes(probes::QUEUE_FULL, true);
            cx.reply(request, LogResponse::Busy);
            return;
        }
        self.clients.pending.insert(key, vec![request]);
        self.clients.queued_bytes += bytes;
        let received = cx.now();
        self.clients.queue.push_back(Queued { key, what, bytes, received });
        // With nothing in flight there is nothing to wait for: propose at once. Under load the
        // pipeline is busy, and the batch delay gathers what arrives meanwhile into one batch.
        let idle = matches!(&self.role, Role::Leader(leader) if leader.inflight.is_empty());
        if idle && self.clients.flush_timer.is_none() {
            cx.sometimes(probes::PROPOSED_AT_ONCE, true);
            self.flush(cx);
        } else if self.clients.flush_timer.is_none() {
            let delay = if cx.buggify(sites::BATCH_FLUSH_NOW) { Duration::ZERO } else { self.config.batch_delay };
            self.clients.flush_timer = Some(cx.set_timer(delay, super::LogTimer::Flush));
        }
    }

    /// Answers everyone waiting under `key`.
    pub(super) fn answer(
        &mut self,
        cx: &mut dyn Context<Self>,
        key: PendingKey,
        response: LogResponse<S::Output, S::Answer>,
    ) {
        if let Some(requests) = self.clients.pending.remove(&key) {
            for request in requests {
                cx.reply(request, response.clone());
            }
        }
    }

    /// Proposes queued commands while the pipeline has room. A membership change ends its batch,
    /// and nothing is proposed after it until it is applied here.
    pub(super) fn flush(&mut self, cx: &mut dyn Context<Self>) {
        loop {
            let applied_index = self.learner.applied_index;
            let members_now = self.learner.members.clone();
            let Role::Leader(leader) = &mut self.role else { return };
            if let Some(slot) = leader.reconfig_at {
                if applied_index >= slot {
                    leader.reconfig_at = None;
                    leader.next_members = members_now;
                } else {
                    cx.sometimes(probes::PIPELINE_HELD_FOR_MEMBER_CHANGE, !self.clients.queue.is_empty());
                    return;
                }
            }
            let slots_room = self.config.inflight_slots_max.saturating_sub(leader.inflight.len() as u64);
            let bytes_room = self.config.queued_bytes_max.saturating_sub(leader.inflight_bytes);
            let room = if bytes_room == 0 { 0 } else { slots_room };
            if room == 0 || self.clients.queue.is_empty() {
                cx.sometimes(probes::PIPELINE_FULL, room == 0 && !self.clients.queue.is_empty());
                return;
            }
            let entries_max = (room as usize).min(self.config.batch_entries_max);
            let sizes = self.clients.queue.iter().map(|queued| queued.bytes);
            let mut take = prefix_within(sizes, entries_max, self.config.batch_bytes_max.min(bytes_room));
            if take > 1 && cx.buggify(sites::BATCH_TINY) {
                take = 1;
            }
            if let Some(change) =
                self.clients.queue.iter().take(take).position(|queued| matches!(queued.what, Waiting::Change { .. }))
            {
                take = change + 1;
            }
            let batch: Vec<Queued<S::Command>> = self.clients.queue.drain(..take).collect();
            self.clients.queued_bytes -= batch.iter().map(|queued| queued.bytes).sum::<usize>();
            cx.sometimes(probes::BATCHED_COMMANDS, batch.len() > 1);
            let now = cx.now();
            let Role::Leader(leader) = &self.role else { return };
            let members = leader.next_members.clone();
            let mut entries = Vec::with_capacity(batch.len());
            for queued in batch {
                let stamps = WriteStamps { received: queued.received, proposed: now, persisted: None };
                let entry = match queued.what {
                    Waiting::Ready(entry) => entry,
                    Waiting::Change { client, sequence, change } => match members.changed(&change) {
                        Ok(nodes) => {
                            let epoch = members.epoch;
                            self.new_entry(cx, Command::Reconfigure { client, sequence, epoch, members: nodes })
                        }
                        Err(why) => {
                            cx.sometimes(probes::MEMBER_CHANGE_REFUSED, true);
                            let refusal = LogResponse::ChangeRefused { why, members: members.clone() };
                            self.answer(cx, queued.key, refusal);
                            continue;
                        }
                    },
                };
                entries.push((entry, stamps));
            }
            if let Role::Leader(leader) = &mut self.role {
                for (entry, stamps) in entries {
                    let next = leader.next_members.after(leader.next_slot, &entry.command);
                    let mut slot = Inflight::new(entry, leader.next_members.clone(), now);
                    slot.stamps = Some(stamps);
                    leader.inflight_bytes += slot.bytes;
                    leader.inflight.insert(leader.next_slot, slot);
                    if next.is_some() {
                        // `next_members` changes when the change is applied (see above).
                        leader.reconfig_at = Some(leader.next_slot);
                    }
                    leader.next_slot += 1;
                }
            }
            self.send_new(cx);
        }
    }

    /// Cuts `slots` (in order) into accept-sized runs of consecutive slots within the budget.
    fn accept_runs(&self, slots: Vec<(u64, Entry<S::Command>, usize)>) -> Vec<(u64, Vec<Entry<S::Command>>)> {
        let items: Vec<(u64, SizedEntry<S::Command>)> =
            slots.into_iter().map(|(slot, entry, bytes)| (slot, (entry, bytes))).collect();
        contiguous_runs(items, self.config.batch_entries_max, self.config.batch_bytes_max, |(_, bytes)| *bytes)
            .into_iter()
            .map(|run| (run[0].0, run.into_iter().map(|(_, (entry, _))| entry).collect()))
            .collect()
    }

    /// Sends the in-flight slots nobody has acknowledged yet (freshly proposed ones, all in the
    /// configuration `next_members`).
    fn send_new(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let Role::Leader(leader) = &self.role else { return };
        let peers: Vec<NodeId> = leader.next_members.nodes.iter().copied().filter(|node| *node != me).collect();
        let ballot = leader.ballot;
        let fresh: Vec<(u64, Entry<S::Command>, usize)> = leader
            .inflight
            .iter()
            .filter(|(_, slot)| slot.acks.is_empty())
            .map(|(slot, state)| (*slot, state.entry.clone(), state.bytes))
            .collect();
        let commit_index = self.learner.commit_index;
        for (first_slot, entries) in self.accept_runs(fresh) {
            let count = entries.len() as u64;
            for peer in &peers {
                cx.send(*peer, LogMessage::Accept { ballot, first_slot, entries: entries.clone(), commit_index });
            }
            if self.acceptor_accept(cx, ballot, first_slot, entries) {
                self.stamp_persisted(cx.now(), first_slot, count);
                self.on_accepted(cx, me, ballot, first_slot, count);
            }
            if !self.is_leader() {
                return;
            }
        }
    }

    /// Notes that the leader's own acceptance of `count` slots from `first_slot` is synced.
    fn stamp_persisted(&mut self, now: Instant, first_slot: u64, count: u64) {
        let Role::Leader(leader) = &mut self.role else { return };
        for slot in leader.inflight.range_mut(first_slot..first_slot.saturating_add(count)).map(|(_, slot)| slot) {
            if let Some(stamps) = &mut slot.stamps {
                stamps.persisted.get_or_insert(now);
            }
        }
    }

    /// Sends every in-flight slot (all of them with `all`, else those unacknowledged for
    /// [`RESEND_AFTER_HEARTBEATS`] heartbeats) to each member of its configuration that has not
    /// accepted it, and accepts it here first. Resends skip peers the membership subsystem judges
    /// dead.
    pub(super) fn send_inflight(&mut self, cx: &mut dyn Context<Self>, all: bool) {
        let me = cx.id();
        let now = cx.now();
        let commit_index = self.learner.commit_index;
        let heartbeat = self.config.heartbeat_interval;
        let targets = self.targets(me);
        let Role::Leader(leader) = &self.role else { return };
        let ballot = leader.ballot;
        let due: Vec<(u64, &Inflight<S::Command>)> = leader
            .inflight
            .iter()
            .filter(|(_, slot)| all || now - slot.sent_at >= heartbeat * RESEND_AFTER_HEARTBEATS)
            .map(|(slot, state)| (*slot, state))
            .collect();
        if due.is_empty() {
            return;
        }
        let pick = |wanted: &dyn Fn(&Inflight<S::Command>) -> bool| -> Vec<(u64, Entry<S::Command>, usize)> {
            due.iter()
                .filter(|(_, state)| wanted(state))
                .map(|(slot, state)| (*slot, state.entry.clone(), state.bytes))
                .collect()
        };
        // Accept locally first (the leader is an acceptor too).
        let mine = pick(&|state| !state.acks.contains(&me));
        let mut sends = Vec::new();
        for peer in &targets {
            if !all && self.judged_dead(peer) {
                cx.sometimes(probes::RESEND_SKIPPED_DEAD_PEER, true);
                continue;
            }
            let missing = pick(&|state| state.members.contains(peer) && !state.acks.contains(peer));
            sends.push((*peer, missing));
        }
        let due_slots: Vec<u64> = due.iter().map(|(slot, _)| *slot).collect();
        for (first_slot, entries) in self.accept_runs(mine) {
            let count = entries.len() as u64;
            if self.acceptor_accept(cx, ballot, first_slot, entries) {
                self.on_accepted(cx, me, ballot, first_slot, count);
            }
        }
        if !self.is_leader() {
            return;
        }
        for (peer, missing) in sends {
            for (first_slot, entries) in self.accept_runs(missing) {
                cx.send(peer, LogMessage::Accept { ballot, first_slot, entries, commit_index });
            }
        }
        if let Role::Leader(leader) = &mut self.role {
            for slot in &due_slots {
                if let Some(slot) = leader.inflight.get_mut(slot) {
                    slot.sent_at = now;
                }
            }
        }
    }

    pub(super) fn on_accepted(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        ballot: Ballot,
        first_slot: u64,
        count: u64,
    ) {
        let small = self.planted(LogPlantedBug::QuorumTooSmall);
        let now = cx.now();
        let Role::Leader(leader) = &mut self.role else { return };
        if leader.ballot != ballot {
            return;
        }
        leader.last_ack.insert(from, now);
        let Some(slots) = slot_range(first_slot, usize::try_from(count).unwrap_or(usize::MAX)) else { return };
        // Walks the slots in flight within the range, however large the peer says it is.
        let acknowledged: Vec<u64> = leader.inflight.range(slots).map(|(slot, _)| *slot).collect();
        let mut newly_chosen = Vec::new();
        let mut stamped = Vec::new();
        for slot in acknowledged {
            let Some(state) = leader.inflight.get_mut(&slot) else { continue };
            if !state.members.contains(&from) {
                continue;
            }
            state.acks.insert(from);
            if state.acks.len() >= super::quorum_size(&state.members, small)
                && let Some(done) = leader.inflight.remove(&slot)
            {
                leader.inflight_bytes -= done.bytes;
                if let Some(stamps) = done.stamps {
                    stamped.push((slot, stamps));
                }
                newly_chosen.push((slot, done.entry));
            }
        }
        if newly_chosen.is_empty() {
            return;
        }
        let slots: Vec<u64> = newly_chosen.iter().map(|(slot, _)| *slot).collect();
        for (slot, entry) in newly_chosen {
            self.learner.chosen.insert(slot, entry);
        }
        self.persist_chosen(cx, &slots);
        self.advance(cx);
        let applied_at = cx.now();
        for (slot, stamps) in stamped {
            if self.learner.applied_index >= slot {
                for sample in stamps.samples(now, applied_at) {
                    self.stage_samples.record(sample);
                }
            }
        }
        self.learner.leader_commit_index = self.learner.leader_commit_index.max(self.learner.commit_index);
        // What queued while batches were in flight goes out when the last of them is chosen, or
        // when the batch delay ends; proposing at every acknowledgement would cost a sync (here
        // and at every follower) per handful of commands. With no batch delay pending (it found
        // the pipeline full), the room this acknowledgement made is used at once.
        let pipeline_empty = matches!(&self.role, Role::Leader(leader) if leader.inflight.is_empty());
        if pipeline_empty || self.clients.flush_timer.is_none() {
            self.flush(cx);
        }
    }

    pub(super) fn on_heartbeat(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        ballot: Ballot,
        commit_index: u64,
        read_round: u64,
    ) {
        self.election.highest_ballot_seen = self.election.highest_ballot_seen.max(ballot);
        if ballot < self.acceptor.promised {
            cx.send(from, LogMessage::Reject { ballot, promised: self.acceptor.promised });
            return;
        }
        self.follow(cx, from, ballot);
        cx.send(from, LogMessage::HeartbeatAck { ballot, read_round });
        self.learn_commit(cx, from, ballot, commit_index);
    }

    pub(super) fn on_heartbeat_ack(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        ballot: Ballot,
        read_round: u64,
    ) {
        let now = cx.now();
        if let Role::Leader(leader) = &mut self.role
            && leader.ballot == ballot
        {
            leader.last_ack.insert(from, now);
            self.read_round_acked(cx, from, read_round);
        }
    }

    /// A leader's heartbeat: steps down without a majority's recent word, else heartbeats its
    /// followers, resends what is unacknowledged, proposes what is queued.
    pub(super) fn leader_tick(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let now = cx.now();
        let Role::Leader(leader) = &self.role else { return };
        let ballot = leader.ballot;
        let lease = self.config.election_timeout * 2;
        let heard = leader
            .next_members
            .nodes
            .iter()
            .filter(|node| **node == me || since(now, leader.last_ack.get(node).copied()) <= lease)
            .count();
        if heard < self.quorum_of(&leader.next_members) {
            self.step_down(cx, "lost touch with a majority");
            self.election.last_leader_contact = now;
            return;
        }
        let commit_index = self.learner.commit_index;
        let read_round = self.reads.round();
        for peer in self.targets(me) {
            cx.send(peer, LogMessage::Heartbeat { ballot, commit_index, read_round });
        }
        self.send_inflight(cx, false);
        self.flush(cx);
        // A leader behind another replica's snapshot keeps asking until it has it.
        if let Some(source) = self.learner.catch_up_source {
            self.ask_catch_up(cx, source);
        }
    }

    pub(super) fn new_entry(&mut self, cx: &mut dyn Context<Self>, command: Command<S::Command>) -> Entry<S::Command> {
        self.clients.entries_created += 1;
        let mut nonce = cx.id().0.to_vec();
        nonce.extend_from_slice(&self.clients.entries_created.to_le_bytes());
        let wall = i64::try_from(cx.wall_clock().as_unix_nanos()).unwrap_or(i64::MAX);
        Entry::new(command, wall, &nonce)
    }
}

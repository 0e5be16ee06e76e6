//! The learner: which slots are chosen, applying them in order to the state machine through the
//! client sessions, and catching up on chosen entries from other replicas.

use super::acceptor::slot_range;
use super::leader::PendingKey;
use super::snapshots::IncomingSnapshot;
use super::{LogNotification, Replica};
use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::batch::prefix_within;
use crate::log::config::LogPlantedBug;
use crate::log::entry::{Command, Entry};
use crate::log::members::Members;
use crate::log::messages::{LogMessage, LogResponse};
use crate::log::names::probes;
use crate::log::sessions::{Outcome, Sessions, Verdict};
use crate::log::snapshot::{Snapshot, SnapshotImage};
use crate::log::state_machine::StateMachine;
use crate::node::{Context, TraceEvent, invariant};
use crate::time::Instant;
use std::collections::BTreeMap;

/// What the learner keeps.
#[derive(Clone, Debug, Hash)]
pub(super) struct Learner<S: StateMachine> {
    /// The configuration in force after `applied_index`.
    pub members: Members,
    /// Chosen entries known here and not yet compacted.
    pub chosen: BTreeMap<u64, Entry<S::Command>>,
    /// Every slot up to here is chosen and known here (or compacted).
    pub commit_index: u64,
    /// Every slot up to here is applied.
    pub applied_index: u64,
    /// Encoded bytes of the entries applied since the latest snapshot (or since start).
    pub applied_bytes_since_snapshot: u64,
    /// The replicated state machine.
    pub state: S,
    /// The client sessions.
    pub sessions: Sessions<S::Output>,
    /// The latest snapshot.
    pub snapshot: Snapshot,
    /// The highest commit index a leader has told us of.
    pub leader_commit_index: u64,
    pub catch_up_asked_at: Option<Instant>,
    /// Who to ask for missing chosen entries when there is no other leader to ask (a new leader
    /// behind a promising acceptor's snapshot).
    pub catch_up_source: Option<NodeId>,
    /// A snapshot arriving in chunks.
    pub incoming: Option<IncomingSnapshot>,
}

impl<S: StateMachine> Learner<S> {
    pub fn new(members: Members, state: S) -> Learner<S> {
        Learner {
            snapshot: Snapshot::from_bytes(0, members.clone(), Vec::new()),
            members,
            chosen: BTreeMap::new(),
            commit_index: 0,
            applied_index: 0,
            applied_bytes_since_snapshot: 0,
            state,
            sessions: Sessions::default(),
            leader_commit_index: 0,
            catch_up_asked_at: None,
            catch_up_source: None,
            incoming: None,
        }
    }

    /// Replaces everything applied by a snapshot's (at recovery, or when installing one).
    pub fn install(&mut self, snapshot: Snapshot, image: SnapshotImage<S::Output>, state: S) {
        assert_eq!(snapshot.index, image.index, "a snapshot's index and its image's differ");
        self.members = image.members;
        self.sessions = image.sessions;
        self.state = state;
        self.applied_index = snapshot.index;
        self.applied_bytes_since_snapshot = 0;
        self.set_commit_index(self.commit_index.max(snapshot.index));
        self.snapshot = snapshot;
        self.incoming = None;
    }

    /// Moves the commit index, which only ever grows.
    pub fn set_commit_index(&mut self, index: u64) {
        assert!(index >= self.commit_index, "the commit index would go back from {} to {index}", self.commit_index);
        self.commit_index = index;
    }
}

impl<S: StateMachine> Replica<S> {
    /// `leader`, leading with `ballot`, says every slot up to `commit_index` is chosen.
    pub(super) fn learn_commit(
        &mut self,
        cx: &mut dyn Context<Self>,
        leader: NodeId,
        ballot: Ballot,
        commit_index: u64,
    ) {
        self.learner.leader_commit_index = self.learner.leader_commit_index.max(commit_index);
        let mut learned = Vec::new();
        let mut slot = self.learner.commit_index + 1;
        // Bounded by what is known here: the walk stops at the first slot neither chosen nor
        // accepted in the leader's ballot, whatever the peer's commit index says.
        while slot <= commit_index {
            // The leader proposes one value per slot in its ballot, and Paxos makes any value it
            // proposes in a chosen slot the chosen one: our copy is it if we accepted it in that
            // ballot. Otherwise we must ask.
            let accepted = self.acceptor.accepted.get(&slot).filter(|(accepted_in, _)| *accepted_in == ballot);
            match (self.learner.chosen.get(&slot), accepted) {
                (Some(known), Some((_, entry))) => {
                    invariant(cx, known.id == entry.id, "a chosen slot never changes value", || {
                        format!("slot {slot} is chosen as {} but leader {ballot} proposed {}", known.id, entry.id)
                    });
                }
                (Some(_), None) => {}
                (None, Some((_, entry))) => {
                    let entry = entry.clone();
                    self.learner.chosen.insert(slot, entry);
                    learned.push(slot);
                }
                (None, None) => break,
            }
            let Some(next) = slot.checked_add(1) else { break };
            slot = next;
        }
        self.persist_chosen(cx, &learned);
        self.advance(cx);
        self.ask_catch_up(cx, leader);
    }

    /// Asks `from` for the chosen entries this replica lacks, at most once a heartbeat, unless a
    /// snapshot is on its way.
    pub(super) fn ask_catch_up(&mut self, cx: &mut dyn Context<Self>, from: NodeId) {
        let learner = &self.learner;
        if learner.commit_index >= learner.leader_commit_index || from == cx.id() || learner.incoming.is_some() {
            return;
        }
        let now = cx.now();
        let recently = learner.catch_up_asked_at.is_some_and(|at| now - at < self.config.heartbeat_interval);
        if !recently {
            self.learner.catch_up_asked_at = Some(now);
            cx.sometimes(probes::CATCH_UP_REQUESTED, true);
            cx.send(from, LogMessage::CatchUp { from_slot: self.learner.commit_index + 1 });
        }
    }

    /// Answers a catch-up request: the chosen entries from `from_slot` on that fit the byte budget,
    /// or the start of the snapshot if they were compacted away.
    pub(super) fn on_catch_up(&mut self, cx: &mut dyn Context<Self>, from: NodeId, from_slot: u64) {
        if from_slot <= self.learner.snapshot.index {
            self.send_snapshot_chunk(cx, from, 0);
            return;
        }
        let uncapped = self.planted(LogPlantedBug::UncappedCatchUp);
        let bytes_max = if uncapped { usize::MAX } else { self.config.batch_bytes_max };
        let chosen = &self.learner.chosen;
        let available = (from_slot..=self.learner.commit_index).map_while(|slot| chosen.get(&slot));
        let sizes = available.clone().take(self.config.catch_up_entries_max).map(Entry::encoded_len);
        let taken = prefix_within(sizes, self.config.catch_up_entries_max, bytes_max);
        let entries: Vec<Entry<S::Command>> = available.take(taken).cloned().collect();
        cx.sometimes(
            "log.catch_up_cut_by_bytes",
            taken > 0 && taken < self.config.catch_up_entries_max && {
                let next = from_slot + taken as u64;
                next <= self.learner.commit_index && chosen.contains_key(&next)
            },
        );
        if !entries.is_empty() {
            cx.send(from, LogMessage::Chosen { first_slot: from_slot, entries });
        }
    }

    pub(super) fn on_chosen(&mut self, cx: &mut dyn Context<Self>, first_slot: u64, entries: Vec<Entry<S::Command>>) {
        let Some(slots) = slot_range(first_slot, entries.len()) else {
            cx.sometimes(probes::MALFORMED_CHOSEN_IGNORED, true);
            return;
        };
        let mut learned = Vec::new();
        for (slot, entry) in slots.zip(entries) {
            if slot <= self.learner.snapshot.index {
                continue;
            }
            match self.learner.chosen.get(&slot) {
                Some(known) => {
                    invariant(cx, known.id == entry.id, "a chosen slot never changes value", || {
                        format!("slot {slot} is chosen here as {} but a peer says {}", known.id, entry.id)
                    });
                }
                None if slot > self.learner.commit_index => {
                    self.learner.chosen.insert(slot, entry);
                    learned.push(slot);
                }
                None => {}
            }
        }
        cx.sometimes(probes::CAUGHT_UP_ENTRIES, !learned.is_empty());
        self.persist_chosen(cx, &learned);
        self.learner.catch_up_asked_at = None;
        self.advance(cx);
    }

    /// Moves the commit index over newly contiguous chosen slots and applies them.
    pub(super) fn advance(&mut self, cx: &mut dyn Context<Self>) {
        let mut commit_index = self.learner.commit_index;
        while self.learner.chosen.contains_key(&(commit_index + 1)) {
            commit_index += 1;
        }
        self.learner.set_commit_index(commit_index);
        while self.learner.applied_index < self.learner.commit_index {
            let slot = self.learner.applied_index + 1;
            // Taken out while it is applied (not copied: values may be large), and put back.
            let Some(entry) = self.learner.chosen.remove(&slot) else { break };
            self.learner.applied_index = slot;
            self.apply_entry(cx, slot, &entry);
            let bytes = u64::try_from(entry.encoded_len()).unwrap_or(u64::MAX);
            self.learner.applied_bytes_since_snapshot = self.learner.applied_bytes_since_snapshot.saturating_add(bytes);
            self.learner.chosen.insert(slot, entry);
        }
        assert!(self.learner.applied_index <= self.learner.commit_index, "applied past the commit index");
        self.maybe_snapshot(cx);
        self.serve_reads(cx);
    }

    /// Applies the chosen entry of `slot` and answers whoever waits for it here.
    fn apply_entry(&mut self, cx: &mut dyn Context<Self>, slot: u64, entry: &Entry<S::Command>) {
        let expired = self.learner.sessions.expire_idle(slot, self.config.session_idle_slots_max);
        cx.sometimes(probes::SESSION_EXPIRED_IDLE, expired > 0);
        match &entry.command {
            Command::Noop => {}
            Command::OpenSession => {
                let (client, dropped) = self.learner.sessions.open(slot, self.config.sessions_max);
                cx.sometimes(probes::SESSION_EVICTED, dropped > 0);
                self.answer(cx, PendingKey::Open(entry.id), LogResponse::SessionOpened { client });
            }
            Command::Client { client, sequence, command } => {
                let (client, sequence) = (*client, *sequence);
                let retry_twice = self.planted(LogPlantedBug::ApplyRetryTwice);
                let verdict = match self.learner.sessions.verdict(client, sequence) {
                    Verdict::Duplicate(_) | Verdict::Stale if retry_twice => Verdict::Fresh,
                    verdict => verdict,
                };
                cx.sometimes(probes::DUPLICATE_COMMAND_SUPPRESSED, matches!(verdict, Verdict::Duplicate(_)));
                cx.sometimes(probes::EXPIRED_SESSION_REFUSED, verdict == Verdict::Expired);
                let sessions = &mut self.learner.sessions;
                let response = match verdict {
                    Verdict::Fresh => {
                        let output = self.learner.state.apply(command);
                        let outcome = (!S::is_read_only(command)).then(|| Outcome::Output(output.clone()));
                        sessions.record(client, sequence, outcome, slot);
                        LogResponse::Done { client, sequence, output }
                    }
                    Verdict::Duplicate(Some(Outcome::Output(output))) => {
                        sessions.touch(client, slot);
                        LogResponse::Done { client, sequence, output }
                    }
                    Verdict::Duplicate(None) => {
                        // A read, retried: executed again, at this point of the log.
                        sessions.touch(client, slot);
                        let output = self.learner.state.apply(command);
                        LogResponse::Done { client, sequence, output }
                    }
                    Verdict::Duplicate(Some(Outcome::Members { .. })) | Verdict::Stale => {
                        LogResponse::Unknown { leader: self.election.leader }
                    }
                    Verdict::Expired => LogResponse::SessionExpired { client },
                };
                self.answer(cx, PendingKey::Command { client, sequence }, response);
            }
            Command::Reconfigure { client, sequence, .. } => {
                self.apply_reconfigure(cx, slot, *client, *sequence, &entry.command);
            }
        }
    }

    /// Applies the membership change at `slot` (a no-op unless it names the epoch in force) and
    /// answers its client.
    fn apply_reconfigure(
        &mut self,
        cx: &mut dyn Context<Self>,
        slot: u64,
        client: u64,
        sequence: u64,
        command: &Command<S::Command>,
    ) {
        let changed = match self.learner.members.after(slot, command) {
            Some(next) => {
                let detail = format!("slot {slot}: {} -> {next}", self.learner.members);
                cx.trace(TraceEvent::new("log_members", detail));
                self.learner.members = next;
                self.members_changed(cx);
                true
            }
            None => false,
        };
        cx.sometimes(probes::MEMBERS_CHANGED, changed);
        cx.sometimes(probes::STALE_MEMBER_CHANGE_IGNORED, !changed);
        let members = self.learner.members.clone();
        let computed = Outcome::Members { changed, members };
        let retry_twice = self.planted(LogPlantedBug::ApplyRetryTwice);
        let outcome = match self.learner.sessions.verdict(client, sequence) {
            Verdict::Fresh => {
                self.learner.sessions.record(client, sequence, Some(computed.clone()), slot);
                Some(computed)
            }
            _ if retry_twice => Some(computed),
            Verdict::Duplicate(Some(outcome)) => Some(outcome),
            Verdict::Duplicate(None) | Verdict::Stale => None,
            // The change applies whatever the session: its epoch makes it idempotent.
            Verdict::Expired => Some(computed),
        };
        let response = match outcome {
            Some(Outcome::Members { changed, members }) => {
                LogResponse::MembersChanged { client, sequence, changed, members }
            }
            Some(Outcome::Output(_)) | None => LogResponse::Unknown { leader: self.election.leader },
        };
        self.answer(cx, PendingKey::Command { client, sequence }, response);
    }

    /// After the configuration in force changed: tells the node; a leader counts new members as
    /// heard (their lease starts now), and steps down once it is no longer a member and has
    /// nothing left to settle.
    pub(super) fn members_changed(&mut self, cx: &mut dyn Context<Self>) {
        let members = self.learner.members.clone();
        self.notify(LogNotification::MembersChanged(members));
        let me = cx.id();
        let now = cx.now();
        let applied_index = self.learner.applied_index;
        let super::Role::Leader(leader) = &mut self.role else { return };
        for member in &self.learner.members.nodes {
            leader.last_ack.entry(*member).or_insert(now);
        }
        let settled = leader.reconfig_at.is_none_or(|slot| slot <= applied_index);
        if !self.learner.members.contains(&me) && settled {
            cx.sometimes(probes::REMOVED_LEADER_STEPPED_DOWN, true);
            self.step_down(cx, "removed from the configuration");
            self.election.last_leader_contact = now;
        }
    }
}

//! One replica of the replicated log: acceptor, learner and would-be leader (see the module doc).

use crate::codec::{decode_serde, encode_serde};
use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::config::{LogConfig, LogConfigError};
use crate::log::entry::{Command, Entry};
use crate::log::kv::{Applied, KvOp, KvResult, KvStore};
use crate::log::members::{MemberChange, Members};
use crate::log::messages::{KvRequest, KvResponse, LogMessage, ReplicaStatus, Snapshot};
use crate::log::{ACCEPTOR_TABLE, CHOSEN_TABLE, SNAPSHOT_TABLE};
use crate::node::{Context, Node, RequestId, TimerId, TraceEvent};
use crate::random;
use crate::storage::{Pairs, RANGE_PAIRS_MAX, StorageError, WriteBatch};
use crate::time::{Duration, Instant};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const PROMISED_KEY: &[u8] = b"promised";
const ACCEPTED_PREFIX: u8 = b'a';
const SNAPSHOT_KEY: &[u8] = b"latest";

/// The replica's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogTimer {
    /// Heartbeats, resends, election checks, retries of a failed recovery.
    Tick,
    /// Time to propose the gathered batch.
    Flush,
}

/// A slot the leader proposed and has not yet seen chosen.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Inflight {
    /// The proposed entry.
    pub entry: Entry,
    /// Acceptors that accepted it in the leader's ballot.
    pub acks: BTreeSet<NodeId>,
    /// The configuration governing the slot: only its members' acceptances count.
    pub members: Members,
    /// When it was last sent.
    pub sent_at: Instant,
}

/// A promise a candidate collected: the acceptor's snapshot index and its accepted entries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PromiseReceived {
    /// Slots up to here are compacted (chosen) at that acceptor.
    pub snapshot_index: u64,
    /// The configuration in force after `snapshot_index` there.
    pub snapshot_members: Members,
    /// (slot, ballot, entry) accepted there.
    pub accepted: Vec<(u64, Ballot, Entry)>,
}

/// What part the replica plays now.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Following whoever leads.
    Follower,
    /// Running phase 1 with `ballot`.
    Candidate {
        /// The ballot it stands with.
        ballot: Ballot,
        /// Promises so far, by acceptor.
        promises: BTreeMap<NodeId, PromiseReceived>,
        /// When it began.
        started: Instant,
        /// The configurations governing the slots it must recover, as far as the promises so far
        /// show: it needs a quorum of promises from each.
        chain: Vec<Members>,
    },
    /// Leading with `ballot`.
    Leader {
        /// The ballot it leads with.
        ballot: Ballot,
        /// The next slot to propose in.
        next_slot: u64,
        /// Proposed slots not yet chosen.
        inflight: BTreeMap<u64, Inflight>,
        /// When each acceptor last acknowledged anything.
        last_ack: BTreeMap<NodeId, Instant>,
        /// The configuration governing `next_slot`.
        next_members: Members,
        /// The slot of a membership change proposed (or recovered) and not yet applied here:
        /// nothing past it is proposed until it is, so that its configuration is known.
        reconfig_at: Option<u64>,
    },
}

/// A client command waiting at the leader for a slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Queued {
    client: u64,
    sequence: u64,
    what: Queue,
}

/// What a queued command does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Queue {
    Kv(KvOp),
    Change(MemberChange),
}

/// What a candidate's promises show: the slots it must recover, their values, and the
/// configurations that govern them.
struct Recovery {
    /// Every slot up to here is chosen (known here, or compacted at a promiser).
    base: u64,
    /// A promiser whose snapshot is ahead of this replica's commit index, and that index.
    snapshot_ahead: Option<(NodeId, u64)>,
    /// The last slot any promiser accepted.
    last: u64,
    /// The value to propose for each slot in `base + 1..=last` that has one.
    values: BTreeMap<u64, Entry>,
    /// The configurations governing slots after `base`, in order.
    chain: Vec<Members>,
}

/// One replica of the log.
#[derive(Clone, Debug, Hash)]
pub struct Replica {
    config: LogConfig,
    /// False until the durable state has been read back; a replica that cannot read it neither votes
    /// nor leads (it might otherwise break a promise it no longer remembers), and retries each tick.
    recovered: bool,
    /// The configuration in force after `applied_index`.
    members: Members,
    // ----- acceptor (durable) -----
    promised: Ballot,
    accepted: BTreeMap<u64, (Ballot, Entry)>,
    // ----- learner -----
    chosen: BTreeMap<u64, Entry>,
    commit_index: u64,
    applied_index: u64,
    store: KvStore,
    snapshot: Snapshot,
    /// The highest commit index a leader has told us of.
    leader_commit_index: u64,
    catch_up_asked_at: Option<Instant>,
    /// Who to ask for missing chosen entries when there is no other leader to ask (a new leader
    /// behind a promising acceptor's snapshot).
    catch_up_source: Option<NodeId>,
    // ----- leadership -----
    role: Role,
    highest_ballot_seen: Ballot,
    leader: Option<NodeId>,
    last_leader_contact: Instant,
    election_timeout: Duration,
    // ----- clients -----
    pending: BTreeMap<(u64, u64), Vec<RequestId>>,
    queue: VecDeque<Queued>,
    flush_timer: Option<TimerId>,
    entries_created: u64,
}

impl Replica {
    /// A replica with `config`, not yet started.
    pub fn new(config: LogConfig) -> Result<Replica, LogConfigError> {
        config.validate()?;
        let election_timeout = config.election_timeout;
        let members = Members::initial(&config.members);
        Ok(Replica {
            snapshot: Snapshot { index: 0, store: KvStore::default(), members: members.clone() },
            members,
            config,
            recovered: false,
            promised: Ballot::ZERO,
            accepted: BTreeMap::new(),
            chosen: BTreeMap::new(),
            commit_index: 0,
            applied_index: 0,
            store: KvStore::default(),
            leader_commit_index: 0,
            catch_up_asked_at: None,
            catch_up_source: None,
            role: Role::Follower,
            highest_ballot_seen: Ballot::ZERO,
            leader: None,
            last_leader_contact: Instant::ZERO,
            election_timeout,
            pending: BTreeMap::new(),
            queue: VecDeque::new(),
            flush_timer: None,
            entries_created: 0,
        })
    }

    // ----- getters -----

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Every slot up to here is chosen and known here.
    #[must_use]
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// Every slot up to here is applied to the store.
    #[must_use]
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// The applied records.
    #[must_use]
    pub fn store(&self) -> &KvStore {
        &self.store
    }

    /// The last slot compacted into a snapshot.
    #[must_use]
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.index
    }

    /// The chosen entry of `slot`, if known here and not compacted.
    #[must_use]
    pub fn chosen_entry(&self, slot: u64) -> Option<&Entry> {
        self.chosen.get(&slot)
    }

    /// The part the replica plays.
    #[must_use]
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// True when leading.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// The ballot promised.
    #[must_use]
    pub fn promised(&self) -> Ballot {
        self.promised
    }

    /// The leader this replica follows, as far as it knows.
    #[must_use]
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// False while the durable state could not be read back.
    #[must_use]
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The configuration in force after the applied slots.
    #[must_use]
    pub fn members(&self) -> &Members {
        &self.members
    }

    /// This replica's view, as [`KvRequest::Status`] reports it.
    #[must_use]
    pub fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            members: self.members.clone(),
            leader: self.leader,
            leading: self.is_leader(),
            promised: self.promised,
            commit_index: self.commit_index,
            applied_index: self.applied_index,
            snapshot_index: self.snapshot.index,
        }
    }

    fn quorum_of(&self, members: &Members) -> usize {
        quorum_size(members, self.config.planted("quorum-too-small"))
    }

    /// Everyone this replica must talk to in its role, but itself: the members in force, and those
    /// of every configuration its in-flight slots (as leader) or recovery (as candidate) involve.
    fn targets(&self, me: NodeId) -> Vec<NodeId> {
        let mut all: BTreeSet<NodeId> = self.members.nodes.iter().copied().collect();
        match &self.role {
            Role::Leader { inflight, next_members, .. } => {
                all.extend(next_members.nodes.iter().copied());
                for slot in inflight.values() {
                    all.extend(slot.members.nodes.iter().copied());
                }
            }
            Role::Candidate { chain, .. } => {
                for members in chain {
                    all.extend(members.nodes.iter().copied());
                }
            }
            Role::Follower => {}
        }
        all.remove(&me);
        all.into_iter().collect()
    }

    fn is_member(&self, node: &NodeId) -> bool {
        self.members.contains(node)
    }

    // ----- storage -----

    /// Reads the durable state back. On failure the replica stays unrecovered and retries later.
    fn recover(&mut self, cx: &mut dyn Context<Self>) {
        match self.load(cx) {
            Ok(()) => {
                self.recovered = true;
                cx.sometimes("log.recovered_state", self.commit_index > 0 || self.promised != Ballot::ZERO);
                let detail = format!(
                    "promised {} accepted {} snapshot {} commit {}",
                    self.promised,
                    self.accepted.len(),
                    self.snapshot.index,
                    self.commit_index
                );
                cx.trace(TraceEvent::new("log_recovered", detail));
            }
            Err(error) => {
                cx.sometimes("log.recovery_failed", true);
                cx.trace(TraceEvent::new("storage_error", format!("recovering the log: {error}")));
            }
        }
    }

    fn load(&mut self, cx: &mut dyn Context<Self>) -> Result<(), StorageError> {
        let promised: Ballot = match cx.storage().get(ACCEPTOR_TABLE, PROMISED_KEY)? {
            Some(bytes) => decode_value(ACCEPTOR_TABLE, PROMISED_KEY, &bytes)?,
            None => Ballot::ZERO,
        };
        let mut accepted = BTreeMap::new();
        for (key, value) in read_all(cx, ACCEPTOR_TABLE, &[ACCEPTED_PREFIX], Some(&[ACCEPTED_PREFIX + 1]))? {
            let slot = slot_of(ACCEPTOR_TABLE, &key[1..])?;
            let pair: (Ballot, Entry) = decode_value(ACCEPTOR_TABLE, &key, &value)?;
            accepted.insert(slot, pair);
        }
        let snapshot: Snapshot = match cx.storage().get(SNAPSHOT_TABLE, SNAPSHOT_KEY)? {
            Some(bytes) => decode_value(SNAPSHOT_TABLE, SNAPSHOT_KEY, &bytes)?,
            None => Snapshot { index: 0, store: KvStore::default(), members: Members::initial(&self.config.members) },
        };
        let chosen = self.load_chosen(cx, snapshot.index)?;
        self.promised = if self.config.planted("forget-promise") { Ballot::ZERO } else { promised };
        self.highest_ballot_seen = self.highest_ballot_seen.max(promised);
        self.accepted = accepted;
        self.store = snapshot.store.clone();
        self.members = snapshot.members.clone();
        self.commit_index = snapshot.index;
        self.applied_index = snapshot.index;
        self.snapshot = snapshot;
        self.chosen = chosen;
        self.advance(cx);
        Ok(())
    }

    /// Reads the chosen entries after `snapshot_index`. They are written without a sync, so a crash
    /// may tear the last one: a corrupt chosen entry is dropped (it can be learned again from the
    /// other replicas), unlike the acceptor's state, whose loss would be fatal.
    fn load_chosen(
        &mut self,
        cx: &mut dyn Context<Self>,
        snapshot_index: u64,
    ) -> Result<BTreeMap<u64, Entry>, StorageError> {
        // Each corrupt entry found is removed and the read retried; a bound keeps a rotting disk
        // from looping forever.
        for _ in 0..16 {
            let pairs = match read_all(cx, CHOSEN_TABLE, &(snapshot_index + 1).to_be_bytes(), None) {
                Ok(pairs) => pairs,
                Err(StorageError::Corrupt { key, .. }) => {
                    self.drop_chosen_key(cx, key)?;
                    continue;
                }
                Err(other) => return Err(other),
            };
            let mut chosen = BTreeMap::new();
            let mut bad = None;
            for (key, value) in pairs {
                match slot_of(CHOSEN_TABLE, &key)
                    .and_then(|slot| Ok((slot, decode_value::<Entry>(CHOSEN_TABLE, &key, &value)?)))
                {
                    Ok((slot, entry)) => {
                        chosen.insert(slot, entry);
                    }
                    Err(_) => {
                        bad = Some(key);
                        break;
                    }
                }
            }
            match bad {
                None => return Ok(chosen),
                Some(key) => self.drop_chosen_key(cx, key)?,
            }
        }
        Err(StorageError::Io("chosen entries keep reading back corrupt".to_owned()))
    }

    fn drop_chosen_key(&mut self, cx: &mut dyn Context<Self>, key: Vec<u8>) -> Result<(), StorageError> {
        cx.sometimes("log.corrupt_chosen_entry_dropped", true);
        cx.trace(TraceEvent::new("storage_error", "dropped a corrupt chosen entry; it will be learned again"));
        let mut batch = WriteBatch::new();
        batch.remove(CHOSEN_TABLE, key);
        cx.storage().write(batch)
    }

    /// Durably records the promise and, with it, `accepts`. False if the disk refused: then nothing
    /// may be promised or acknowledged.
    fn persist_acceptor(&mut self, cx: &mut dyn Context<Self>, accepts: &[(u64, Ballot, Entry)]) -> bool {
        let mut batch = WriteBatch::new();
        batch.put(ACCEPTOR_TABLE, PROMISED_KEY.to_vec(), encode_value(&self.promised));
        for (slot, ballot, entry) in accepts {
            batch.put(ACCEPTOR_TABLE, accepted_key(*slot), encode_value(&(ballot, entry)));
        }
        let result = cx.storage().write(batch).and_then(|()| {
            if cx.buggify("log.acceptor.sync_skipped_is_not_allowed") {
                // A fault point that must never weaken durability: it only makes the sync happen twice.
                cx.storage().sync()?;
            }
            if self.config.planted("skip-sync") { Ok(()) } else { cx.storage().sync() }
        });
        match result {
            Ok(()) => true,
            Err(error) => {
                cx.sometimes("log.acceptor_write_failed", true);
                cx.trace(TraceEvent::new("storage_error", format!("acceptor state: {error}")));
                false
            }
        }
    }

    fn persist_chosen(&mut self, cx: &mut dyn Context<Self>, slots: &[u64]) {
        let mut batch = WriteBatch::new();
        for slot in slots {
            if let Some(entry) = self.chosen.get(slot) {
                batch.put(CHOSEN_TABLE, slot.to_be_bytes().to_vec(), encode_value(entry));
            }
        }
        // Not synced: chosen entries can always be learned again from the other replicas.
        if let Err(error) = cx.storage().write(batch) {
            cx.trace(TraceEvent::new("storage_error", format!("chosen entries: {error}")));
        }
    }

    // ----- acceptor -----

    fn on_prepare(&mut self, cx: &mut dyn Context<Self>, from: NodeId, ballot: Ballot, from_slot: u64) {
        self.highest_ballot_seen = self.highest_ballot_seen.max(ballot);
        match self.acceptor_prepare(cx, ballot, from_slot) {
            Some(promise) => {
                if from != cx.id() {
                    self.yield_to(cx, ballot);
                    self.last_leader_contact = cx.now();
                }
                let message = LogMessage::Promise {
                    ballot,
                    snapshot_index: promise.snapshot_index,
                    snapshot_members: promise.snapshot_members,
                    accepted: promise.accepted,
                };
                cx.send(from, message);
            }
            None => cx.send(from, LogMessage::Reject { ballot, promised: self.promised }),
        }
    }

    /// Phase 1b at this acceptor: the promise, if given (and durably recorded).
    fn acceptor_prepare(
        &mut self,
        cx: &mut dyn Context<Self>,
        ballot: Ballot,
        from_slot: u64,
    ) -> Option<PromiseReceived> {
        if ballot < self.promised {
            return None;
        }
        let previous = self.promised;
        self.promised = ballot;
        if ballot != previous && !self.persist_acceptor(cx, &[]) {
            self.promised = previous;
            return None;
        }
        let accepted =
            self.accepted.range(from_slot..).map(|(slot, (ballot, entry))| (*slot, *ballot, entry.clone())).collect();
        Some(PromiseReceived {
            snapshot_index: self.snapshot.index,
            snapshot_members: self.snapshot.members.clone(),
            accepted,
        })
    }

    /// Phase 2b at this acceptor: true if it accepted (durably).
    fn acceptor_accept(
        &mut self,
        cx: &mut dyn Context<Self>,
        ballot: Ballot,
        first_slot: u64,
        entries: &[Entry],
    ) -> bool {
        let lower_accepted = self.config.planted("accept-lower-ballot");
        if ballot < self.promised && !lower_accepted {
            return false;
        }
        let previous = self.promised;
        self.promised = self.promised.max(ballot);
        let accepts: Vec<(u64, Ballot, Entry)> = entries
            .iter()
            .enumerate()
            .map(|(offset, entry)| (first_slot + offset as u64, ballot, entry.clone()))
            .filter(|(slot, _, _)| *slot > self.snapshot.index)
            .collect();
        if !self.persist_acceptor(cx, &accepts) {
            self.promised = previous;
            return false;
        }
        for (slot, ballot, entry) in accepts {
            self.accepted.insert(slot, (ballot, entry));
        }
        true
    }

    fn on_accept(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        ballot: Ballot,
        first_slot: u64,
        entries: Vec<Entry>,
        commit_index: u64,
    ) {
        self.highest_ballot_seen = self.highest_ballot_seen.max(ballot);
        if !self.acceptor_accept(cx, ballot, first_slot, &entries) {
            cx.send(from, LogMessage::Reject { ballot, promised: self.promised });
            return;
        }
        self.follow(cx, from, ballot);
        cx.send(from, LogMessage::Accepted { ballot, first_slot, count: entries.len() as u64 });
        self.learn_commit(cx, from, ballot, commit_index);
    }

    // ----- learner -----

    /// `leader`, leading with `ballot`, says every slot up to `commit_index` is chosen.
    fn learn_commit(&mut self, cx: &mut dyn Context<Self>, leader: NodeId, ballot: Ballot, commit_index: u64) {
        self.leader_commit_index = self.leader_commit_index.max(commit_index);
        let mut learned = Vec::new();
        let mut slot = self.commit_index + 1;
        while slot <= commit_index {
            if !self.chosen.contains_key(&slot) {
                // The leader proposes one value per slot in its ballot, and Paxos makes any value it
                // proposes in a chosen slot the chosen one: our copy is it if we accepted it in that
                // ballot. Otherwise we must ask.
                match self.accepted.get(&slot) {
                    Some((accepted_in, entry)) if *accepted_in == ballot => {
                        self.chosen.insert(slot, entry.clone());
                        learned.push(slot);
                    }
                    _ => break,
                }
            }
            slot += 1;
        }
        self.persist_chosen(cx, &learned);
        self.advance(cx);
        self.ask_catch_up(cx, leader);
    }

    fn ask_catch_up(&mut self, cx: &mut dyn Context<Self>, from: NodeId) {
        if self.commit_index >= self.leader_commit_index || from == cx.id() {
            return;
        }
        let now = cx.now();
        let recently = self.catch_up_asked_at.is_some_and(|at| now - at < self.config.heartbeat_interval);
        if !recently {
            self.catch_up_asked_at = Some(now);
            cx.sometimes("log.catch_up_requested", true);
            cx.send(from, LogMessage::CatchUp { from_slot: self.commit_index + 1 });
        }
    }

    fn on_catch_up(&mut self, cx: &mut dyn Context<Self>, from: NodeId, from_slot: u64) {
        if from_slot <= self.snapshot.index {
            cx.sometimes("log.snapshot_sent", true);
            cx.send(from, LogMessage::InstallSnapshot { snapshot: self.snapshot.clone() });
            return;
        }
        let entries: Vec<Entry> = (from_slot..=self.commit_index)
            .take(self.config.catch_up_entries_max)
            .map_while(|slot| self.chosen.get(&slot).cloned())
            .collect();
        if !entries.is_empty() {
            cx.send(from, LogMessage::Chosen { first_slot: from_slot, entries });
        }
    }

    fn on_chosen(&mut self, cx: &mut dyn Context<Self>, first_slot: u64, entries: Vec<Entry>) {
        let mut learned = Vec::new();
        for (offset, entry) in entries.into_iter().enumerate() {
            let slot = first_slot + offset as u64;
            if slot > self.commit_index && !self.chosen.contains_key(&slot) {
                self.chosen.insert(slot, entry);
                learned.push(slot);
            }
        }
        cx.sometimes("log.caught_up_entries", !learned.is_empty());
        self.persist_chosen(cx, &learned);
        self.catch_up_asked_at = None;
        self.advance(cx);
    }

    fn on_install_snapshot(&mut self, cx: &mut dyn Context<Self>, snapshot: Snapshot) {
        if snapshot.index <= self.applied_index {
            return;
        }
        let mut batch = WriteBatch::new();
        batch.put(SNAPSHOT_TABLE, SNAPSHOT_KEY.to_vec(), encode_value(&snapshot));
        if let Err(error) = cx.storage().write(batch).and_then(|()| cx.storage().sync()) {
            cx.trace(TraceEvent::new("storage_error", format!("installing a snapshot: {error}")));
            return;
        }
        cx.sometimes("log.snapshot_installed", true);
        cx.trace(TraceEvent::new("snapshot_installed", format!("up to slot {}", snapshot.index)));
        self.store = snapshot.store.clone();
        self.members = snapshot.members.clone();
        self.applied_index = snapshot.index;
        self.commit_index = self.commit_index.max(snapshot.index);
        self.snapshot = snapshot;
        self.compact(cx);
        self.catch_up_asked_at = None;
        self.members_changed(cx);
        self.advance(cx);
    }

    /// Moves the commit index over newly contiguous chosen slots and applies them.
    fn advance(&mut self, cx: &mut dyn Context<Self>) {
        while self.chosen.contains_key(&(self.commit_index + 1)) {
            self.commit_index += 1;
        }
        while self.applied_index < self.commit_index {
            let slot = self.applied_index + 1;
            let Some(entry) = self.chosen.get(&slot).cloned() else { break };
            self.applied_index = slot;
            if let Command::Reconfigure { client, sequence, .. } = &entry.command {
                self.apply_reconfigure(cx, slot, *client, *sequence, &entry.command);
            }
            if let Command::Client { client, sequence, op } = entry.command {
                let dedupe = !self.config.planted("apply-retry-twice");
                let applied = self.store.apply(client, sequence, &op, dedupe);
                cx.sometimes("log.duplicate_command_suppressed", matches!(applied, Applied::Duplicate(_)));
                let result = match applied {
                    Applied::Fresh(result) | Applied::Duplicate(result) => Some(result),
                    Applied::Stale => None,
                };
                if let Some(requests) = self.pending.remove(&(client, sequence)) {
                    for request in requests {
                        let body = match &result {
                            Some(result) => KvResponse::Done { client, sequence, result: result.clone() },
                            None => KvResponse::Unknown { leader: self.leader },
                        };
                        cx.reply(request, body);
                    }
                }
            }
        }
        assert!(self.applied_index <= self.commit_index, "applied past the commit index");
        self.maybe_snapshot(cx);
    }

    /// Applies the membership change at `slot` (a no-op unless it names the epoch in force) and
    /// answers its client.
    fn apply_reconfigure(
        &mut self,
        cx: &mut dyn Context<Self>,
        slot: u64,
        client: u64,
        sequence: u64,
        command: &Command,
    ) {
        let changed = match self.members.after(slot, command) {
            Some(next) => {
                cx.trace(TraceEvent::new("log_members", format!("slot {slot}: {} -> {next}", self.members)));
                self.members = next;
                self.members_changed(cx);
                true
            }
            None => false,
        };
        cx.sometimes("log.members_changed", changed);
        cx.sometimes("log.stale_member_change_ignored", !changed);
        let result = KvResult::Members { changed, members: self.members.clone() };
        let verdict =
            if self.config.planted("apply-retry-twice") { None } else { self.store.session_verdict(client, sequence) };
        let answer = match verdict {
            None => {
                self.store.record_session(client, sequence, result.clone());
                Some(result)
            }
            Some(Applied::Fresh(result) | Applied::Duplicate(result)) => Some(result),
            Some(Applied::Stale) => None,
        };
        if let Some(requests) = self.pending.remove(&(client, sequence)) {
            for request in requests {
                let body = match &answer {
                    Some(result) => KvResponse::Done { client, sequence, result: result.clone() },
                    None => KvResponse::Unknown { leader: self.leader },
                };
                cx.reply(request, body);
            }
        }
    }

    /// After the configuration in force changed: a leader counts new members as heard (their lease
    /// starts now), and steps down once it is no longer a member and has nothing left to settle.
    fn members_changed(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let now = cx.now();
        let Role::Leader { last_ack, reconfig_at, .. } = &mut self.role else { return };
        for member in &self.members.nodes {
            last_ack.entry(*member).or_insert(now);
        }
        let settled = reconfig_at.is_none_or(|slot| slot <= self.applied_index);
        if !self.members.contains(&me) && settled {
            cx.sometimes("log.removed_leader_stepped_down", true);
            self.step_down(cx, "removed from the configuration");
            self.last_leader_contact = now;
        }
    }

    fn maybe_snapshot(&mut self, cx: &mut dyn Context<Self>) {
        if self.applied_index - self.snapshot.index < self.config.snapshot_threshold {
            return;
        }
        let snapshot = Snapshot { index: self.applied_index, store: self.store.clone(), members: self.members.clone() };
        let mut batch = WriteBatch::new();
        batch.put(SNAPSHOT_TABLE, SNAPSHOT_KEY.to_vec(), encode_value(&snapshot));
        if let Err(error) = cx.storage().write(batch).and_then(|()| cx.storage().sync()) {
            cx.trace(TraceEvent::new("storage_error", format!("taking a snapshot: {error}")));
            return;
        }
        cx.sometimes("log.snapshot_taken", true);
        cx.trace(TraceEvent::new("snapshot_taken", format!("up to slot {}", snapshot.index)));
        self.snapshot = snapshot;
        self.compact(cx);
    }

    /// Drops, in memory and on disk, the entries the snapshot covers (they are chosen and applied).
    fn compact(&mut self, cx: &mut dyn Context<Self>) {
        let index = self.snapshot.index;
        let mut batch = WriteBatch::new();
        let chosen: Vec<u64> = self.chosen.range(..=index).map(|(slot, _)| *slot).collect();
        for slot in chosen {
            self.chosen.remove(&slot);
            batch.remove(CHOSEN_TABLE, slot.to_be_bytes().to_vec());
        }
        let accepted: Vec<u64> = self.accepted.range(..=index).map(|(slot, _)| *slot).collect();
        for slot in accepted {
            self.accepted.remove(&slot);
            batch.remove(ACCEPTOR_TABLE, accepted_key(slot));
        }
        // Removals need no sync: entries that come back after a crash are covered by the snapshot.
        if let Err(error) = cx.storage().write(batch) {
            cx.trace(TraceEvent::new("storage_error", format!("compacting: {error}")));
        }
    }

    // ----- leadership -----

    /// Follows `leader`, who leads with `ballot`.
    fn follow(&mut self, cx: &mut dyn Context<Self>, leader: NodeId, ballot: Ballot) {
        if leader == cx.id() {
            return;
        }
        self.yield_to(cx, ballot);
        self.leader = Some(leader);
        self.last_leader_contact = cx.now();
    }

    /// Steps down if this replica stands or leads with a ballot below `ballot`.
    fn yield_to(&mut self, cx: &mut dyn Context<Self>, ballot: Ballot) {
        let mine = match &self.role {
            Role::Follower => return,
            Role::Candidate { ballot, .. } | Role::Leader { ballot, .. } => *ballot,
        };
        if ballot > mine {
            self.step_down(cx, &format!("saw ballot {ballot}"));
        }
    }

    fn step_down(&mut self, cx: &mut dyn Context<Self>, why: &str) {
        if let Role::Leader { inflight, .. } = &self.role {
            cx.sometimes("log.leader_stepped_down", true);
            // Commands already proposed may still be chosen: their clients must retry to learn.
            for inflight in inflight.values() {
                if let Command::Client { client, sequence, .. } = &inflight.entry.command
                    && let Some(requests) = self.pending.remove(&(*client, *sequence))
                {
                    for request in requests {
                        cx.reply(request, KvResponse::Unknown { leader: None });
                    }
                }
            }
            // Queued commands were never proposed by this leader.
            for queued in std::mem::take(&mut self.queue) {
                if let Some(requests) = self.pending.remove(&(queued.client, queued.sequence)) {
                    for request in requests {
                        cx.reply(request, KvResponse::NotLeader { leader: None });
                    }
                }
            }
        }
        if !matches!(self.role, Role::Follower) {
            cx.trace(TraceEvent::new("log_role", format!("follower ({why})")));
        }
        self.role = Role::Follower;
        if self.leader == Some(cx.id()) {
            self.leader = None;
        }
    }

    fn stand_for_election(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let round = self.highest_ballot_seen.round.max(self.promised.round) + 1;
        let ballot = Ballot { round, node: me };
        self.highest_ballot_seen = ballot;
        self.leader = None;
        self.last_leader_contact = cx.now();
        let jitter = random::below(cx.rng(), self.config.election_timeout.as_nanos() as u64);
        self.election_timeout = self.config.election_timeout + Duration::from_nanos(jitter);
        cx.trace(TraceEvent::new("log_role", format!("candidate with ballot {ballot}")));
        let chain = vec![self.members.clone()];
        self.role = Role::Candidate { ballot, promises: BTreeMap::new(), started: cx.now(), chain };
        let from_slot = self.commit_index + 1;
        for peer in self.targets(me) {
            cx.send(peer, LogMessage::Prepare { ballot, from_slot });
        }
        if let Some(promise) = self.acceptor_prepare(cx, ballot, from_slot) {
            self.on_promise(cx, me, ballot, promise);
        }
    }

    fn on_promise(&mut self, cx: &mut dyn Context<Self>, from: NodeId, ballot: Ballot, promise: PromiseReceived) {
        let Role::Candidate { ballot: mine, promises, .. } = &mut self.role else { return };
        if *mine != ballot {
            return;
        }
        promises.insert(from, promise);
        let Some(recovery) = self.recovery() else { return };
        let Role::Candidate { promises, chain, .. } = &mut self.role else { return };
        let newly_involved: Vec<NodeId> = recovery
            .chain
            .iter()
            .flat_map(|members| members.nodes.iter().copied())
            .filter(|node| !chain.iter().any(|known| known.contains(node)) && !promises.contains_key(node))
            .collect();
        chain.clone_from(&recovery.chain);
        let small = self.config.planted("quorum-too-small");
        let counted = if self.config.planted("election-ignores-new-config") { 1 } else { recovery.chain.len() };
        let satisfied = recovery
            .chain
            .iter()
            .take(counted)
            .all(|members| members.has_quorum(promises.keys(), quorum_size(members, small)));
        if satisfied {
            cx.sometimes("log.election_spanned_configurations", recovery.chain.len() > 1);
            self.become_leader(cx, recovery);
        } else {
            // The promises revealed a configuration change: its new members must promise too.
            let from_slot = self.commit_index + 1;
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
    fn recovery(&self) -> Option<Recovery> {
        let Role::Candidate { promises, .. } = &self.role else { return None };
        let ahead = promises
            .iter()
            .filter(|(_, promise)| promise.snapshot_index > self.commit_index)
            .max_by_key(|(_, promise)| promise.snapshot_index);
        let (base, base_members, snapshot_ahead) = match ahead {
            Some((holder, promise)) => {
                (promise.snapshot_index, promise.snapshot_members.clone(), Some((*holder, promise.snapshot_index)))
            }
            None => (self.commit_index, self.members.clone(), None),
        };
        let mut best: BTreeMap<u64, (Ballot, &Entry)> = BTreeMap::new();
        for promise in promises.values() {
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
            let value = self.chosen.get(&slot).or_else(|| best.get(&slot).map(|(_, entry)| *entry));
            let Some(entry) = value else { continue };
            if let Some(next) = chain.last().and_then(|members| members.after(slot, &entry.command)) {
                chain.push(next);
            }
            values.insert(slot, entry.clone());
        }
        Some(Recovery { base, snapshot_ahead, last, values, chain })
    }

    fn become_leader(&mut self, cx: &mut dyn Context<Self>, recovery: Recovery) {
        let Role::Candidate { ballot, .. } = std::mem::replace(&mut self.role, Role::Follower) else {
            return;
        };
        let me = cx.id();
        let Recovery { base, snapshot_ahead, last, mut values, chain } = recovery;
        let now = cx.now();
        let mut inflight = BTreeMap::new();
        let mut members = chain.first().cloned().unwrap_or_else(|| self.members.clone());
        let mut reconfig_at = None;
        for slot in base + 1..=last {
            let entry = match values.remove(&slot) {
                Some(entry) => entry,
                None => {
                    cx.sometimes("log.gap_filled_with_noop", true);
                    self.new_entry(cx, Command::Noop)
                }
            };
            let next = members.after(slot, &entry.command);
            inflight.insert(slot, Inflight { entry, acks: BTreeSet::new(), members: members.clone(), sent_at: now });
            if let Some(next) = next {
                members = next;
                reconfig_at = Some(slot);
            }
        }
        debug_assert_eq!(Some(&members), chain.last(), "the recovery walk and the chain disagree");
        cx.sometimes("log.leader_recovered_slots", !inflight.is_empty());
        cx.sometimes("log.leader_recovered_member_change", reconfig_at.is_some());
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
        self.role =
            Role::Leader { ballot, next_slot: last + 1, inflight, last_ack, next_members: members, reconfig_at };
        self.leader = Some(me);
        cx.sometimes("log.leader_elected", true);
        if let Some((holder, index)) = snapshot_ahead
            && holder != me
        {
            cx.sometimes("log.new_leader_behind_snapshot", true);
            self.leader_commit_index = self.leader_commit_index.max(index);
            self.catch_up_source = Some(holder);
            self.catch_up_asked_at = None;
            self.ask_catch_up(cx, holder);
        }
        self.send_inflight(cx, true);
        self.flush(cx);
    }

    fn new_entry(&mut self, cx: &mut dyn Context<Self>, command: Command) -> Entry {
        self.entries_created += 1;
        let mut nonce = cx.id().0.to_vec();
        nonce.extend_from_slice(&self.entries_created.to_le_bytes());
        let wall = i64::try_from(cx.wall_clock().as_unix_nanos()).unwrap_or(i64::MAX);
        Entry::new(command, wall, &nonce)
    }

    /// Sends every in-flight slot (all of them with `all`, else those unacknowledged for a
    /// heartbeat) to each member of its configuration that has not accepted it, and accepts it
    /// here first.
    fn send_inflight(&mut self, cx: &mut dyn Context<Self>, all: bool) {
        let me = cx.id();
        let now = cx.now();
        let commit_index = self.commit_index;
        let heartbeat = self.config.heartbeat_interval;
        let batch_max = self.config.batch_entries_max;
        let targets = self.targets(me);
        let Role::Leader { ballot, inflight, .. } = &self.role else { return };
        let ballot = *ballot;
        let due: Vec<(u64, Entry, &Inflight)> = inflight
            .iter()
            .filter(|(_, slot)| all || now - slot.sent_at >= heartbeat)
            .map(|(slot, state)| (*slot, state.entry.clone(), state))
            .collect();
        if due.is_empty() {
            return;
        }
        let needs = |node: &NodeId, state: &Inflight| state.members.contains(node) && !state.acks.contains(node);
        // Accept locally first (the leader is an acceptor too).
        let mine: Vec<(u64, Entry, ())> = due
            .iter()
            .filter(|(_, _, state)| !state.acks.contains(&me))
            .map(|(slot, entry, _)| (*slot, entry.clone(), ()))
            .collect();
        let mut sends = Vec::new();
        for peer in &targets {
            let missing: Vec<(u64, Entry, ())> = due
                .iter()
                .filter(|(_, _, state)| needs(peer, state))
                .map(|(slot, entry, _)| (*slot, entry.clone(), ()))
                .collect();
            sends.push((*peer, missing));
        }
        let due_slots: Vec<u64> = due.iter().map(|(slot, _, _)| *slot).collect();
        let mine_refs: Vec<&(u64, Entry, ())> = mine.iter().collect();
        for run in contiguous_runs(&mine_refs, batch_max) {
            let entries: Vec<Entry> = run.iter().map(|(_, entry, _)| entry.clone()).collect();
            if self.acceptor_accept(cx, ballot, run[0].0, &entries) {
                let count = entries.len() as u64;
                self.on_accepted(cx, me, ballot, run[0].0, count);
            }
        }
        if !self.is_leader() {
            return;
        }
        for (peer, missing) in sends {
            let refs: Vec<&(u64, Entry, ())> = missing.iter().collect();
            for run in contiguous_runs(&refs, batch_max) {
                let entries = run.iter().map(|(_, entry, _)| entry.clone()).collect();
                cx.send(peer, LogMessage::Accept { ballot, first_slot: run[0].0, entries, commit_index });
            }
        }
        if let Role::Leader { inflight, .. } = &mut self.role {
            for slot in &due_slots {
                if let Some(slot) = inflight.get_mut(slot) {
                    slot.sent_at = now;
                }
            }
        }
    }

    fn on_accepted(&mut self, cx: &mut dyn Context<Self>, from: NodeId, ballot: Ballot, first_slot: u64, count: u64) {
        let small = self.config.planted("quorum-too-small");
        let now = cx.now();
        let Role::Leader { ballot: mine, inflight, last_ack, .. } = &mut self.role else { return };
        if *mine != ballot {
            return;
        }
        last_ack.insert(from, now);
        let mut newly_chosen = Vec::new();
        for slot in first_slot..first_slot.saturating_add(count) {
            let Some(state) = inflight.get_mut(&slot) else { continue };
            if !state.members.contains(&from) {
                continue;
            }
            state.acks.insert(from);
            if state.acks.len() >= quorum_size(&state.members, small)
                && let Some(done) = inflight.remove(&slot)
            {
                newly_chosen.push((slot, done.entry));
            }
        }
        if newly_chosen.is_empty() {
            return;
        }
        let slots: Vec<u64> = newly_chosen.iter().map(|(slot, _)| *slot).collect();
        for (slot, entry) in newly_chosen {
            self.chosen.insert(slot, entry);
        }
        self.persist_chosen(cx, &slots);
        self.advance(cx);
        self.leader_commit_index = self.leader_commit_index.max(self.commit_index);
        self.flush(cx);
    }

    fn on_reject(&mut self, cx: &mut dyn Context<Self>, ballot: Ballot, promised: Ballot) {
        self.highest_ballot_seen = self.highest_ballot_seen.max(promised);
        let mine = match &self.role {
            Role::Candidate { ballot, .. } | Role::Leader { ballot, .. } => *ballot,
            Role::Follower => return,
        };
        if mine == ballot && promised > ballot {
            cx.sometimes("log.preempted", true);
            self.step_down(cx, &format!("preempted by ballot {promised}"));
            self.last_leader_contact = cx.now();
        }
    }

    fn on_heartbeat(&mut self, cx: &mut dyn Context<Self>, from: NodeId, ballot: Ballot, commit_index: u64) {
        self.highest_ballot_seen = self.highest_ballot_seen.max(ballot);
        if ballot < self.promised {
            cx.send(from, LogMessage::Reject { ballot, promised: self.promised });
            return;
        }
        self.follow(cx, from, ballot);
        cx.send(from, LogMessage::HeartbeatAck { ballot });
        self.learn_commit(cx, from, ballot, commit_index);
    }

    fn on_heartbeat_ack(&mut self, cx: &mut dyn Context<Self>, from: NodeId, ballot: Ballot) {
        let now = cx.now();
        if let Role::Leader { ballot: mine, last_ack, .. } = &mut self.role
            && *mine == ballot
        {
            last_ack.insert(from, now);
        }
    }

    fn on_tick(&mut self, cx: &mut dyn Context<Self>) {
        if !self.recovered {
            self.recover(cx);
        }
        if self.recovered {
            let me = cx.id();
            let now = cx.now();
            match &self.role {
                Role::Leader { ballot, last_ack, next_members, .. } => {
                    let ballot = *ballot;
                    let lease = self.config.election_timeout * 2;
                    let heard = next_members
                        .nodes
                        .iter()
                        .filter(|node| **node == me || last_ack.get(node).is_some_and(|at| now - *at <= lease))
                        .count();
                    if heard < self.quorum_of(next_members) {
                        self.step_down(cx, "lost touch with a majority");
                        self.last_leader_contact = now;
                    } else {
                        for peer in self.targets(me) {
                            cx.send(peer, LogMessage::Heartbeat { ballot, commit_index: self.commit_index });
                        }
                        self.send_inflight(cx, false);
                        self.flush(cx);
                        // A leader behind another replica's snapshot keeps asking until it has it.
                        if let Some(source) = self.catch_up_source {
                            self.ask_catch_up(cx, source);
                        }
                    }
                }
                Role::Candidate { ballot, promises, started, .. } => {
                    if now - *started > self.election_timeout {
                        cx.sometimes("log.election_retried", true);
                        self.stand_for_election(cx);
                    } else {
                        let ballot = *ballot;
                        let from_slot = self.commit_index + 1;
                        let waiting: Vec<NodeId> =
                            self.targets(me).into_iter().filter(|peer| !promises.contains_key(peer)).collect();
                        for peer in waiting {
                            cx.send(peer, LogMessage::Prepare { ballot, from_slot });
                        }
                    }
                }
                Role::Follower => {
                    // Paxos lets anyone propose at any time; standing while a leader is alive is
                    // legal (it only costs throughput), and duelling leaders are where acceptor bugs
                    // show. A rare fault point makes it happen.
                    let eager =
                        self.leader.is_some() && cx.buggify("log.election.eager") && random::chance(cx.rng(), 1, 4);
                    if (eager || now - self.last_leader_contact > self.election_timeout) && self.is_member(&me) {
                        cx.sometimes("log.eager_election", eager);
                        self.stand_for_election(cx);
                    } else if let Some(leader) = self.leader {
                        self.ask_catch_up(cx, leader);
                    }
                }
            }
        }
        let interval = self.config.heartbeat_interval;
        cx.set_timer(interval, LogTimer::Tick);
    }

    // ----- clients -----

    fn on_command(&mut self, cx: &mut dyn Context<Self>, request: RequestId, client: u64, sequence: u64, what: Queue) {
        if !self.recovered || !self.is_leader() {
            cx.reply(request, KvResponse::NotLeader { leader: self.leader.filter(|leader| *leader != cx.id()) });
            return;
        }
        if self.config.planted("stale-read")
            && let Queue::Kv(KvOp::Get { key }) = &what
        {
            let value = self.store.get(key).cloned();
            cx.reply(request, KvResponse::Done { client, sequence, result: KvResult::Value(value) });
            return;
        }
        if let Some(key) = self.pending.get_mut(&(client, sequence)) {
            // Already on its way: answer this request too when it is applied.
            key.push(request);
            return;
        }
        if self.queue.len() >= self.config.queued_commands_max {
            cx.sometimes("log.queue_full", true);
            cx.reply(request, KvResponse::Busy);
            return;
        }
        self.pending.insert((client, sequence), vec![request]);
        self.queue.push_back(Queued { client, sequence, what });
        if self.flush_timer.is_none() {
            let delay = if cx.buggify("log.batch.flush_now") { Duration::ZERO } else { self.config.batch_delay };
            self.flush_timer = Some(cx.set_timer(delay, LogTimer::Flush));
        }
    }

    /// Proposes queued commands while the pipeline has room. A membership change ends its batch,
    /// and nothing is proposed after it until it is applied here.
    fn flush(&mut self, cx: &mut dyn Context<Self>) {
        loop {
            let applied_index = self.applied_index;
            let members_now = self.members.clone();
            let room = match &mut self.role {
                Role::Leader { inflight, reconfig_at, next_members, .. } => {
                    if let Some(slot) = *reconfig_at {
                        if applied_index >= slot {
                            *reconfig_at = None;
                            *next_members = members_now;
                        } else {
                            cx.sometimes("log.pipeline_held_for_member_change", !self.queue.is_empty());
                            return;
                        }
                    }
                    self.config.inflight_slots_max.saturating_sub(inflight.len() as u64)
                }
                _ => return,
            };
            if room == 0 || self.queue.is_empty() {
                cx.sometimes("log.pipeline_full", room == 0 && !self.queue.is_empty());
                return;
            }
            let mut take = (room as usize).min(self.config.batch_entries_max).min(self.queue.len());
            if take > 1 && cx.buggify("log.batch.tiny") {
                take = 1;
            }
            if let Some(change) =
                self.queue.iter().take(take).position(|queued| matches!(queued.what, Queue::Change(_)))
            {
                take = change + 1;
            }
            let batch: Vec<Queued> = self.queue.drain(..take).collect();
            cx.sometimes("log.batched_commands", batch.len() > 1);
            let now = cx.now();
            let Role::Leader { next_members, .. } = &self.role else { return };
            let members = next_members.clone();
            let mut entries = Vec::with_capacity(batch.len());
            for queued in batch {
                let (client, sequence) = (queued.client, queued.sequence);
                let command = match queued.what {
                    Queue::Kv(op) => Command::Client { client, sequence, op },
                    Queue::Change(change) => match members.changed(&change) {
                        Ok(nodes) => Command::Reconfigure { client, sequence, epoch: members.epoch, members: nodes },
                        Err(why) => {
                            cx.sometimes("log.member_change_refused", true);
                            for request in self.pending.remove(&(client, sequence)).unwrap_or_default() {
                                cx.reply(request, KvResponse::ChangeRefused { why, members: members.clone() });
                            }
                            continue;
                        }
                    },
                };
                entries.push(self.new_entry(cx, command));
            }
            if let Role::Leader { next_slot, inflight, next_members, reconfig_at, .. } = &mut self.role {
                for entry in entries {
                    let next = next_members.after(*next_slot, &entry.command);
                    let members = next_members.clone();
                    inflight.insert(*next_slot, Inflight { entry, acks: BTreeSet::new(), members, sent_at: now });
                    if next.is_some() {
                        // `next_members` changes when the change is applied (see above).
                        *reconfig_at = Some(*next_slot);
                    }
                    *next_slot += 1;
                }
            }
            self.send_new(cx);
        }
    }

    /// Sends the in-flight slots nobody has acknowledged yet (freshly proposed ones, all in the
    /// configuration `next_members`).
    fn send_new(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let Role::Leader { ballot, inflight, next_members, .. } = &self.role else { return };
        let peers: Vec<NodeId> = next_members.nodes.iter().copied().filter(|node| *node != me).collect();
        let ballot = *ballot;
        let fresh: Vec<(u64, Entry, BTreeSet<NodeId>)> = inflight
            .iter()
            .filter(|(_, slot)| slot.acks.is_empty())
            .map(|(slot, state)| (*slot, state.entry.clone(), state.acks.clone()))
            .collect();
        let refs: Vec<&(u64, Entry, BTreeSet<NodeId>)> = fresh.iter().collect();
        let batch_max = self.config.batch_entries_max;
        for run in contiguous_runs(&refs, batch_max) {
            let entries: Vec<Entry> = run.iter().map(|(_, entry, _)| entry.clone()).collect();
            let first_slot = run[0].0;
            let count = entries.len() as u64;
            let commit_index = self.commit_index;
            for peer in &peers {
                cx.send(*peer, LogMessage::Accept { ballot, first_slot, entries: entries.clone(), commit_index });
            }
            if self.acceptor_accept(cx, ballot, first_slot, &entries) {
                self.on_accepted(cx, me, ballot, first_slot, count);
            }
            if !self.is_leader() {
                return;
            }
        }
    }
}

/// Votes that make a quorum of `members` (too few with the planted bug `quorum-too-small`).
fn quorum_size(members: &Members, too_small: bool) -> usize {
    let count = members.nodes.len();
    if too_small { (count / 2).max(1) } else { count / 2 + 1 }
}

/// Splits slot-ordered items into runs of consecutive slots, each at most `max` long.
fn contiguous_runs<'a, T>(items: &[&'a (u64, Entry, T)], max: usize) -> Vec<Vec<&'a (u64, Entry, T)>> {
    let mut runs: Vec<Vec<&'a (u64, Entry, T)>> = Vec::new();
    for item in items {
        let extend =
            runs.last().is_some_and(|run| run.len() < max && run.last().is_some_and(|last| last.0 + 1 == item.0));
        if extend {
            if let Some(run) = runs.last_mut() {
                run.push(item);
            }
        } else {
            runs.push(vec![item]);
        }
    }
    runs
}

fn accepted_key(slot: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(ACCEPTED_PREFIX);
    key.extend_from_slice(&slot.to_be_bytes());
    key
}

fn slot_of(table: &str, bytes: &[u8]) -> Result<u64, StorageError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::Corrupt { table: table.to_owned(), key: bytes.to_vec() })
}

fn encode_value<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_serde(value, &mut out);
    out
}

fn decode_value<T: DeserializeOwned>(table: &str, key: &[u8], bytes: &[u8]) -> Result<T, StorageError> {
    decode_serde(bytes).map_err(|_| StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() })
}

/// Every pair of `table` in `[start, end)`, paging through the storage's range limit.
fn read_all(
    cx: &mut dyn Context<Replica>,
    table: &str,
    start: &[u8],
    end: Option<&[u8]>,
) -> Result<Pairs, StorageError> {
    let mut out = Vec::new();
    let mut from = start.to_vec();
    loop {
        let page = cx.storage().range(table, &from, end, RANGE_PAIRS_MAX)?;
        let full = page.len() == RANGE_PAIRS_MAX;
        if let Some((last, _)) = page.last() {
            from = last.clone();
            from.push(0);
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

impl Node for Replica {
    type Message = LogMessage;
    type Timer = LogTimer;
    type Request = KvRequest;
    type Response = KvResponse;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        self.last_leader_contact = cx.now();
        let jitter = random::below(cx.rng(), self.config.election_timeout.as_nanos() as u64);
        self.election_timeout = self.config.election_timeout + Duration::from_nanos(jitter);
        self.recover(cx);
        let first = random::duration_between(cx.rng(), Duration::ZERO, self.config.heartbeat_interval);
        cx.set_timer(first, LogTimer::Tick);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: LogMessage) {
        // Messages from non-members count too: a replica being added must be heard before it
        // knows it is a member, and quorums are counted per configuration where they matter.
        if !self.recovered || from == cx.id() {
            return;
        }
        match message {
            LogMessage::Prepare { ballot, from_slot } => self.on_prepare(cx, from, ballot, from_slot),
            LogMessage::Promise { ballot, snapshot_index, snapshot_members, accepted } => {
                self.on_promise(cx, from, ballot, PromiseReceived { snapshot_index, snapshot_members, accepted });
            }
            LogMessage::Accept { ballot, first_slot, entries, commit_index } => {
                self.on_accept(cx, from, ballot, first_slot, entries, commit_index);
            }
            LogMessage::Accepted { ballot, first_slot, count } => self.on_accepted(cx, from, ballot, first_slot, count),
            LogMessage::Reject { ballot, promised } => self.on_reject(cx, ballot, promised),
            LogMessage::Heartbeat { ballot, commit_index } => self.on_heartbeat(cx, from, ballot, commit_index),
            LogMessage::HeartbeatAck { ballot } => self.on_heartbeat_ack(cx, from, ballot),
            LogMessage::CatchUp { from_slot } => self.on_catch_up(cx, from, from_slot),
            LogMessage::Chosen { first_slot, entries } => self.on_chosen(cx, first_slot, entries),
            LogMessage::InstallSnapshot { snapshot } => self.on_install_snapshot(cx, snapshot),
        }
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: LogTimer) {
        match timer {
            LogTimer::Tick => self.on_tick(cx),
            LogTimer::Flush => {
                self.flush_timer = None;
                self.flush(cx);
            }
        }
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: KvRequest) {
        match body {
            KvRequest::Command { client, sequence, op } => {
                self.on_command(cx, request, client, sequence, Queue::Kv(op));
            }
            KvRequest::ChangeMembers { client, sequence, change } => {
                self.on_command(cx, request, client, sequence, Queue::Change(change));
            }
            KvRequest::Status => cx.reply(request, KvResponse::Status(self.status())),
            KvRequest::StaleGet { key } => {
                let value = self.store.get(&key).cloned();
                cx.reply(request, KvResponse::Stale { value, applied_index: self.applied_index });
            }
        }
    }
}

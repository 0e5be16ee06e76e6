//! One replica of the replicated log: acceptor, learner and would-be leader (see the module doc),
//! generic over the state machine it replicates.
//!
//! Its state is grouped by role, a file each, in the manner of quinn-proto's `connection/`:
//! [`acceptor`] (the durable promise and accepted entries), [`learner`] (chosen entries, applying
//! them, catch-up), [`snapshots`] (taking, sending and installing snapshots in chunks),
//! [`election`] (standing for election and recovering slots), [`leader`] (proposing, batching,
//! pipelining), and [`durable`] (what goes to storage and how it comes back).

mod acceptor;
mod durable;
mod election;
mod leader;
mod learner;
mod reads;
mod snapshots;

use crate::health::Health;
use crate::id::NodeId;
use crate::log::ballot::Ballot;
use crate::log::config::{LogConfig, LogConfigError, LogPlantedBug};
use crate::log::members::Members;
use crate::log::messages::{LogMessage, LogRequest, LogResponse, ReplicaStatus};
use crate::log::state_machine::StateMachine;
use crate::log::timing::{StageSample, StageSamples};
use crate::node::{Context, Node, RequestId};
use crate::random;
use crate::time::{Duration, Instant};
use acceptor::Acceptor;
use election::{Candidate, Election};
use leader::{Clients, Leader, Proposal};
use learner::Learner;
use reads::Reads;
use std::collections::{BTreeMap, BTreeSet};

use election::PromiseReceived;

pub use durable::{AcceptedRecord, decode_record, encode_record};

/// The replica's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogTimer {
    /// Heartbeats, resends, election checks, retries of a failed recovery.
    Tick,
    /// Time to propose the gathered batch.
    Flush,
}

/// What the replica tells the other parts of its node, drained after each input
/// ([`Replica::take_notifications`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogNotification {
    /// The configuration in force changed (applied, installed from a snapshot, or recovered).
    MembersChanged(Members),
}

/// The part the replica plays now, with what it holds in that part.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role<C> {
    /// Following whoever leads.
    Follower,
    /// Running phase 1.
    Candidate(Candidate<C>),
    /// Leading.
    Leader(Leader<C>),
}

/// The part a replica plays, without what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// Following whoever leads.
    Follower,
    /// Running phase 1.
    Candidate,
    /// Leading.
    Leader,
}

/// One replica of the log, replicating state machine `S`.
#[derive(Clone, Debug, Hash)]
pub struct Replica<S: StateMachine> {
    config: LogConfig,
    /// False until the durable state has been read back; a replica that cannot read it neither votes
    /// nor leads (it might otherwise break a promise it no longer remembers), and retries each tick.
    recovered: bool,
    acceptor: Acceptor<S::Command>,
    learner: Learner<S>,
    election: Election,
    role: Role<S::Command>,
    clients: Clients<S::Command>,
    /// Linearizable reads waiting at a leader.
    reads: Reads<S::Query>,
    /// The membership subsystem's judgement of peers, as notified by the node.
    peer_health: BTreeMap<NodeId, Health>,
    notifications: Vec<LogNotification>,
    /// How long client requests spent in each stage, until drained.
    stage_samples: StageSamples,
}

impl<S: StateMachine> Replica<S> {
    /// A replica with `config` whose state machine starts as `state`, not yet started.
    pub fn new(config: LogConfig, state: S) -> Result<Replica<S>, LogConfigError> {
        config.validate()?;
        let members = Members::initial(&config.members);
        Ok(Replica {
            learner: Learner::new(members, state),
            election: Election::new(config.election_timeout),
            config,
            recovered: false,
            acceptor: Acceptor::default(),
            role: Role::Follower,
            clients: Clients::default(),
            reads: Reads::default(),
            peer_health: BTreeMap::new(),
            notifications: Vec::new(),
            stage_samples: StageSamples::default(),
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
        self.learner.commit_index
    }

    /// Every slot up to here is applied to the state machine.
    #[must_use]
    pub fn applied_index(&self) -> u64 {
        self.learner.applied_index
    }

    /// The state machine as applied here.
    #[must_use]
    pub fn state(&self) -> &S {
        &self.learner.state
    }

    /// The last slot compacted into a snapshot.
    #[must_use]
    pub fn snapshot_index(&self) -> u64 {
        self.learner.snapshot.index
    }

    /// The chosen entry of `slot`, if known here and not compacted.
    #[must_use]
    pub fn chosen_entry(&self, slot: u64) -> Option<&crate::log::Entry<S::Command>> {
        self.learner.chosen.get(&slot)
    }

    /// The part the replica plays.
    #[must_use]
    pub fn role(&self) -> RoleKind {
        match self.role {
            Role::Follower => RoleKind::Follower,
            Role::Candidate(_) => RoleKind::Candidate,
            Role::Leader(_) => RoleKind::Leader,
        }
    }

    /// True when leading.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// The ballot promised.
    #[must_use]
    pub fn promised(&self) -> Ballot {
        self.acceptor.promised
    }

    /// The leader this replica follows, as far as it knows.
    #[must_use]
    pub fn leader(&self) -> Option<NodeId> {
        self.election.leader
    }

    /// False while the durable state could not be read back.
    #[must_use]
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The configuration in force after the applied slots.
    #[must_use]
    pub fn members(&self) -> &Members {
        &self.learner.members
    }

    /// Client sessions open.
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.learner.sessions.len()
    }

    /// This replica's view, as [`LogRequest::Status`] reports it.
    #[must_use]
    pub fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            members: self.learner.members.clone(),
            leader: self.election.leader,
            leading: self.is_leader(),
            promised: self.acceptor.promised,
            commit_index: self.learner.commit_index,
            applied_index: self.learner.applied_index,
            snapshot_index: self.learner.snapshot.index,
            sessions: self.learner.sessions.len() as u64,
        }
    }

    // ----- between parts of a node -----

    /// What the replica has to tell the rest of its node since last asked, in order.
    #[must_use]
    pub fn take_notifications(&mut self) -> Vec<LogNotification> {
        std::mem::take(&mut self.notifications)
    }

    /// How long client requests spent in each stage here since last asked (see [`Stage`]).
    ///
    /// [`Stage`]: crate::log::Stage
    pub fn take_stage_samples(&mut self) -> Vec<StageSample> {
        self.stage_samples.take()
    }

    /// The node's membership subsystem judged `peer` so. A leader stops resending accepts to a peer
    /// judged dead (heartbeats still go, and the peer catches up when it is back).
    pub fn set_peer_health(&mut self, peer: NodeId, health: Health) {
        self.peer_health.insert(peer, health);
    }

    /// The node's storage failed (it refuses everything until reopened): a leader steps down, so
    /// that its waiting clients learn to retry elsewhere instead of waiting for entries it can no
    /// longer accept. The node rebuilds the replica once the storage is reopened.
    pub fn storage_failed(&mut self, cx: &mut dyn Context<Self>) {
        self.step_down(cx, "its storage failed");
    }

    // ----- helpers shared by the roles -----

    fn planted(&self, bug: LogPlantedBug) -> bool {
        self.config.planted(bug)
    }

    fn quorum_of(&self, members: &Members) -> usize {
        quorum_size(members, self.planted(LogPlantedBug::QuorumTooSmall))
    }

    fn judged_dead(&self, peer: &NodeId) -> bool {
        self.peer_health.get(peer) == Some(&Health::Dead)
    }

    /// Everyone this replica must talk to in its role, but itself: the members in force, and those
    /// of every configuration its in-flight slots (as leader) or recovery (as candidate) involve.
    fn targets(&self, me: NodeId) -> Vec<NodeId> {
        let mut all: BTreeSet<NodeId> = self.learner.members.nodes.iter().copied().collect();
        match &self.role {
            Role::Leader(leader) => {
                all.extend(leader.next_members.nodes.iter().copied());
                for slot in leader.inflight.values() {
                    all.extend(slot.members.nodes.iter().copied());
                }
            }
            Role::Candidate(candidate) => {
                for members in &candidate.chain {
                    all.extend(members.nodes.iter().copied());
                }
            }
            Role::Follower => {}
        }
        all.remove(&me);
        all.into_iter().collect()
    }

    fn is_member(&self, node: &NodeId) -> bool {
        self.learner.members.contains(node)
    }

    fn notify(&mut self, notification: LogNotification) {
        self.notifications.push(notification);
    }

    fn on_tick(&mut self, cx: &mut dyn Context<Self>) {
        if !self.recovered {
            self.recover(cx);
        }
        if self.recovered {
            match self.role() {
                RoleKind::Leader => self.leader_tick(cx),
                RoleKind::Candidate => self.candidate_tick(cx),
                RoleKind::Follower => self.follower_tick(cx),
            }
            self.snapshot_transfer_tick(cx);
        }
        let interval = self.config.heartbeat_interval;
        cx.set_timer(interval, LogTimer::Tick);
    }
}

/// Votes that make a quorum of `members` (too few with the planted bug `quorum-too-small`).
fn quorum_size(members: &Members, too_small: bool) -> usize {
    let count = members.nodes.len();
    if too_small { (count / 2).max(1) } else { count / 2 + 1 }
}

impl<S: StateMachine> Node for Replica<S> {
    type Message = LogMessage<S::Command>;
    type Timer = LogTimer;
    type Request = LogRequest<S::Command, S::Query>;
    type Response = LogResponse<S::Output, S::Answer>;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        self.election.last_leader_contact = cx.now();
        let jitter = random::below(cx.rng(), self.config.election_timeout.as_nanos() as u64);
        self.election.timeout = self.config.election_timeout + Duration::from_nanos(jitter);
        self.recover(cx);
        let first = random::duration_between(cx.rng(), Duration::ZERO, self.config.heartbeat_interval);
        cx.set_timer(first, LogTimer::Tick);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: LogMessage<S::Command>) {
        // Messages from non-members count too: a replica being added must be heard before it
        // knows it is a member, and quorums are counted per configuration where they matter.
        if !self.recovered || from == cx.id() {
            return;
        }
        match message {
            LogMessage::Prepare { ballot, from_slot } => self.on_prepare(cx, from, ballot, from_slot),
            LogMessage::Promise { ballot, snapshot_index, snapshot_members, accepted, more_from } => {
                let page = PromiseReceived { snapshot_index, snapshot_members, accepted };
                self.on_promise(cx, from, ballot, page, more_from);
            }
            LogMessage::Accept { ballot, first_slot, entries, commit_index } => {
                self.on_accept(cx, from, ballot, first_slot, entries, commit_index);
            }
            LogMessage::Accepted { ballot, first_slot, count } => self.on_accepted(cx, from, ballot, first_slot, count),
            LogMessage::Reject { ballot, promised } => self.on_reject(cx, ballot, promised),
            LogMessage::Heartbeat { ballot, commit_index, read_round } => {
                self.on_heartbeat(cx, from, ballot, commit_index, read_round);
            }
            LogMessage::HeartbeatAck { ballot, read_round } => self.on_heartbeat_ack(cx, from, ballot, read_round),
            LogMessage::CatchUp { from_slot } => self.on_catch_up(cx, from, from_slot),
            LogMessage::Chosen { first_slot, entries } => self.on_chosen(cx, first_slot, entries),
            LogMessage::SnapshotChunk { index, total_bytes, digest, offset, data } => {
                self.on_snapshot_chunk(cx, from, index, total_bytes, digest, offset, data);
            }
            LogMessage::SnapshotRequest { index, offset } => self.on_snapshot_request(cx, from, index, offset),
            LogMessage::PreVote { round } => self.on_pre_vote(cx, from, round),
            LogMessage::PreVoteReply { round, granted } => self.on_pre_vote_reply(cx, from, round, granted),
        }
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: LogTimer) {
        match timer {
            LogTimer::Tick => self.on_tick(cx),
            LogTimer::Flush => {
                self.clients.flush_timer = None;
                self.flush(cx);
            }
        }
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: LogRequest<S::Command, S::Query>) {
        match body {
            LogRequest::OpenSession => self.on_proposal(cx, request, Proposal::OpenSession),
            LogRequest::Command { client, sequence, command } => {
                self.on_proposal(cx, request, Proposal::Command { client, sequence, command });
            }
            LogRequest::ChangeMembers { client, sequence, change } => {
                self.on_proposal(cx, request, Proposal::Change { client, sequence, change });
            }
            LogRequest::Status => cx.reply(request, LogResponse::Status(self.status())),
            LogRequest::Read(query) => self.on_read(cx, request, query),
            LogRequest::Query(query) => {
                let answer = self.learner.state.query(&query);
                cx.reply(request, LogResponse::Answer { answer, applied_index: self.learner.applied_index });
            }
        }
    }
}

/// The time since `at`, or forever when never.
fn since(now: Instant, at: Option<Instant>) -> Duration {
    at.map_or(Duration::MAX, |at| now - at)
}

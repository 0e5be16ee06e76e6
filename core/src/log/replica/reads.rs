//! Linearizable reads without a log write: the read index.
//!
//! A leader that takes a read notes its read index — everything it knows chosen, and every slot it
//! recovered when it was elected (one of them may hold a write an earlier leader acknowledged) —
//! then makes sure it still leads: it sends a round of heartbeats numbered after the read arrived,
//! and a quorum of the configuration acknowledging that round (or a later one) in its ballot means
//! no other leader had a write chosen before the read arrived, for an acceptor that promised a
//! higher ballot refuses the heartbeat. Once the state machine has applied the read index the
//! query is answered from it. No clock is involved, so skewed or jumping clocks cannot make a read
//! stale (the `log-clock-skew` scenario checks it).
//!
//! A read that arrives while rounds are out needs a new one. At most [`READ_ROUNDS_INFLIGHT_MAX`]
//! rounds are out at once: a read that finds them all out waits for one to be confirmed, and the
//! round then started serves every read that gathered meanwhile, as a batch does. Heartbeats carry
//! the latest round started, so a lost one is made up at the next heartbeat. At most `reads_max`
//! reads wait; more are answered busy.

use super::{Replica, Role};
use crate::id::NodeId;
use crate::log::config::LogPlantedBug;
use crate::log::messages::{LogMessage, LogResponse};
use crate::log::names::probes;
use crate::log::state_machine::StateMachine;
use crate::log::timing::{Stage, StageSample};
use crate::node::{Context, RequestId};
use crate::time::Instant;
use std::collections::{BTreeMap, VecDeque};

/// Confirmation rounds out at once. Two let a read that arrives while one is out be confirmed
/// about one round trip later instead of up to two, for at most twice the heartbeats.
pub const READ_ROUNDS_INFLIGHT_MAX: u64 = 2;

/// A read waiting at the leader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct PendingRead<Q> {
    request: RequestId,
    query: Q,
    /// The state machine must have applied this slot before the query is answered.
    read_index: u64,
    /// The heartbeat round that must be acknowledged by a quorum: the first one started after the
    /// read arrived.
    round: u64,
    received: Instant,
    confirmed_at: Option<Instant>,
}

/// A leader's reads and its rounds of leadership confirmation, for one ballot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Reads<Q> {
    /// The last round whose heartbeats went out.
    started: u64,
    /// The last round a quorum acknowledged.
    confirmed: u64,
    /// The highest round each peer acknowledged.
    acked: BTreeMap<NodeId, u64>,
    /// Waiting reads, in arrival order (so in order of round and of read index).
    waiting: VecDeque<PendingRead<Q>>,
}

impl<Q> Default for Reads<Q> {
    fn default() -> Self {
        Reads { started: 0, confirmed: 0, acked: BTreeMap::new(), waiting: VecDeque::new() }
    }
}

impl<Q> Reads<Q> {
    /// The round heartbeats carry now.
    pub(super) fn round(&self) -> u64 {
        self.started
    }

    /// Waiting reads.
    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }
}

impl<S: StateMachine> Replica<S> {
    /// Takes a linearizable read: refused unless leading, else waits for a confirmed round and
    /// for its read index to be applied.
    pub(super) fn on_read(&mut self, cx: &mut dyn Context<Self>, request: RequestId, query: S::Query) {
        let Role::Leader(leader) = &self.role else {
            let leader = self.election.leader.filter(|leader| *leader != cx.id());
            cx.reply(request, LogResponse::NotLeader { leader });
            return;
        };
        if !self.recovered {
            cx.reply(request, LogResponse::NotLeader { leader: None });
            return;
        }
        if self.reads.len() >= self.config.reads_max {
            cx.sometimes(probes::READS_FULL, true);
            cx.reply(request, LogResponse::Busy);
            return;
        }
        let floor = if self.planted(LogPlantedBug::ReadIndexSkipsRecoveredSlots) { 0 } else { leader.read_floor };
        let read_index = self.learner.commit_index.max(self.learner.leader_commit_index).max(floor);
        let round = self.reads.started + 1;
        let received = cx.now();
        cx.sometimes(probes::READ_WAITED_FOR_APPLY, read_index > self.learner.applied_index);
        self.reads.waiting.push_back(PendingRead { request, query, read_index, round, received, confirmed_at: None });
        cx.sometimes(probes::READ_JOINED_NEXT_ROUND, self.reads.started > self.reads.confirmed);
        self.start_read_round_if_needed(cx);
        self.serve_reads(cx);
    }

    /// Starts the round the newest read waits for, unless it has started or too many are out.
    fn start_read_round_if_needed(&mut self, cx: &mut dyn Context<Self>) {
        let wanted = self.reads.waiting.back().is_some_and(|read| read.round > self.reads.started);
        if wanted && self.reads.started - self.reads.confirmed < READ_ROUNDS_INFLIGHT_MAX {
            self.start_read_round(cx);
        }
    }

    /// Sends the heartbeats of a new round (a single-member log confirms it at once).
    fn start_read_round(&mut self, cx: &mut dyn Context<Self>) {
        let Role::Leader(leader) = &self.role else { return };
        let ballot = leader.ballot;
        self.reads.started += 1;
        let read_round = self.reads.started;
        let commit_index = self.learner.commit_index;
        for peer in self.targets(cx.id()) {
            cx.send(peer, LogMessage::Heartbeat { ballot, commit_index, read_round });
        }
        self.confirm_reads(cx);
    }

    /// A peer acknowledged heartbeats up to `round` in the leader's ballot.
    pub(super) fn read_round_acked(&mut self, cx: &mut dyn Context<Self>, from: NodeId, round: u64) {
        let acked = self.reads.acked.entry(from).or_insert(0);
        // A peer never acknowledges a round not yet started; a larger number is not believed.
        *acked = (*acked).max(round.min(self.reads.started));
        self.confirm_reads(cx);
    }

    /// Confirms the latest round a quorum of every configuration in play acknowledged, starts the
    /// next one if reads wait for it, and serves what can be served.
    fn confirm_reads(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let Role::Leader(leader) = &self.role else { return };
        let acked_by_quorum = |members: &crate::log::members::Members| -> u64 {
            let mut rounds: Vec<u64> =
                members
                    .nodes
                    .iter()
                    .map(|node| {
                        if *node == me { self.reads.started } else { self.reads.acked.get(node).copied().unwrap_or(0) }
                    })
                    .collect();
            rounds.sort_unstable_by(|a, b| b.cmp(a));
            let quorum = self.quorum_of(members);
            rounds.get(quorum.saturating_sub(1)).copied().unwrap_or(0)
        };
        let round = acked_by_quorum(&self.learner.members).min(acked_by_quorum(&leader.next_members));
        if round > self.reads.confirmed {
            self.reads.confirmed = round;
            let now = cx.now();
            for read in self.reads.waiting.iter_mut().filter(|read| read.round <= round) {
                read.confirmed_at.get_or_insert(now);
            }
        }
        // A confirmed round makes room for the one the newest reads may wait for.
        self.start_read_round_if_needed(cx);
        self.serve_reads(cx);
    }

    /// Answers, in order, the reads whose round is confirmed and whose read index is applied.
    pub(super) fn serve_reads(&mut self, cx: &mut dyn Context<Self>) {
        let applied_index = self.learner.applied_index;
        while let Some(read) = self.reads.waiting.front() {
            if read.round > self.reads.confirmed || read.read_index > applied_index {
                return;
            }
            let Some(read) = self.reads.waiting.pop_front() else { return };
            let answer = self.learner.state.query(&read.query);
            cx.reply(read.request, LogResponse::Answer { answer, applied_index });
            let now = cx.now();
            let confirmed = read.confirmed_at.unwrap_or(read.received);
            self.stage_samples.record(StageSample { stage: Stage::ReadConfirmed, took: confirmed - read.received });
            self.stage_samples.record(StageSample { stage: Stage::ReadApplied, took: now - confirmed });
        }
    }

    /// A leader that steps down answers its waiting reads: not the leader (nothing was read).
    pub(super) fn drop_reads(&mut self, cx: &mut dyn Context<Self>) {
        for read in std::mem::take(&mut self.reads).waiting {
            cx.reply(read.request, LogResponse::NotLeader { leader: None });
        }
    }
}

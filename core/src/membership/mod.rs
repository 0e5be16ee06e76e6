//! Membership and failure detection: SWIM (Das, Gupta and Motivala, 2002) with HashiCorp's
//! Lifeguard extensions.
//!
//! - **Probing** ([`probe`](self)): every protocol period a node pings one tracked peer, in a
//!   shuffled round-robin, so each peer is probed by each node once per round. A peer that does not
//!   ack within `probe_timeout` is pinged through `indirect_probes` helpers; one that answered
//!   neither way by the period's end is suspected. Messages per node per period stay constant
//!   whatever the group's size.
//! - **Suspicion** ([`judge`](self)): a suspected peer is dead once its suspicion times out, unless
//!   it refutes by raising its incarnation. Judgements with higher incarnations win. A node tells
//!   the first peer it accuses in a period at once, answers its own accuser with its refutation,
//!   and each period pings one member it holds suspect and one it holds dead — the latest it
//!   accused itself first, then each in turn (gossip to the accused, [`accused`](self)) — so that
//!   a member judged while cut off refutes soon after the cut heals, and a partition that cuts
//!   off half the group costs no burst of pings. An accusation made by a member this node holds
//!   suspect or dead is not adopted: a node that can send but not hear accuses every member it
//!   probes. A death at an older incarnation than the one a member is held alive at has the
//!   member probed next, out of turn: it may have refuted just before it went down.
//! - **Dissemination**: every judgement is piggybacked on probes and acks, each about
//!   `retransmit_mult × log10 n` times, so news reaches every node in O(log n) periods; gossip
//!   rounds that the node's own judgements owe (and a 1/n share of its relays) speed it up without
//!   making the load grow with n. A full-state exchange every `sync_interval` with one random peer
//!   ([`exchange`](self); every other one with a peer held alive, and another when one goes
//!   unanswered) lets joiners learn the group, healed partitions find each other, and nodes that
//!   gossip missed catch up. Direct word from a
//!   stranger (other than its join exchange) is news too, and a judgement of an unknown member
//!   makes the node track it, dead ones included.
//! - **Lifeguard**: a local health score stretches the node's own probe periods and timeouts (at
//!   most `1 + awareness_max` times) while it misses acks and nacks (a slow node stops accusing
//!   healthy ones), suspicions start long and
//!   shorten as independent suspecters confirm them, and helpers answer failed indirect probes with
//!   nacks.
//!
//! **Scope.** A node tracks at most `peers_max` peers: those another part asks for (the log's
//! members, [`Membership::track`]) always, then those it learns by gossip while there is room. A
//! tracked peer costs about 200 bytes.
//!
//! Known peer ids and a boot counter are kept in storage (table [`TABLE`]), so a restarted node
//! still knows its peers; their health is not kept — after a restart every peer is suspect until
//! judged.

mod accused;
mod config;
mod dissemination;
mod exchange;
mod judge;
mod messages;
pub mod names;
mod peer;
mod probe;
mod stats;
mod store;
mod suspicion;
#[cfg(test)]
mod tests;

pub use config::{
    HealthConfig, HealthConfigError, MESSAGE_OVERHEAD_BYTES_MAX, MULTIPLIER_MAX, MembershipPlantedBug,
    UPDATE_BYTES_MAX, milli_log2, milli_log10,
};
pub use messages::{
    Judgement, MembershipMessage, MembershipRequest, MembershipResponse, MessageKind, PeerView, Update,
};
pub use peer::{Health, Peer, RttEstimate};
pub use stats::{CHANGES_MAX, ChangeLog, JudgementChange, MembershipStats};
pub use store::TABLE;
pub use suspicion::{CONFIRMATIONS_EXPECTED_MAX, Suspicion};

use crate::id::NodeId;
use crate::membership::accused::Accused;
use crate::membership::dissemination::Dissemination;
use crate::membership::names::sites;
use crate::membership::probe::{Probe, Relay};
use crate::node::{Context, Node, RequestId};
use crate::random;
use crate::time::{Duration, Instant};
use std::collections::{BTreeMap, BTreeSet};

/// Tables up to this size are scanned to pick random peers; larger ones are sampled.
const SAMPLE_BY_SCAN_MAX: usize = 64;
/// Draws per wanted peer when sampling a large table.
const SAMPLE_ATTEMPTS_PER_PEER: usize = 8;
/// Most gossip rounds a node owes at once: a burst of judgements (a partition cuts off many
/// members) still costs a node one round per `gossip_interval`, and no backlog after it.
const GOSSIP_ROUNDS_OWED_MAX: u32 = 2;
/// Gossip rounds, across the whole cluster, that each relayed judgement earns on average: a node
/// that relays one owes a round with chance `RELAY_ROUNDS_PER_UPDATE / n`. Relayed news grows with
/// n (a partition of n nodes makes O(n) judgements), so a fixed share per judgement keeps each
/// node's rounds flat in n, while a small cluster still gossips nearly every relay.
const RELAY_ROUNDS_PER_UPDATE: u64 = 4;

/// The membership subsystem's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipTimer {
    /// The end of a protocol period: judge the last probe, start the next.
    Tick,
    /// A direct probe's wait for its ack is over: probe indirectly.
    ProbeTimeout {
        /// The probe.
        sequence: u64,
    },
    /// An indirect probe run for another node is over: nack it if unanswered.
    RelayTimeout {
        /// This node's ping for the relay.
        sequence: u64,
    },
    /// A suspicion of `peer` may have timed out.
    Suspicion {
        /// The suspect.
        peer: NodeId,
    },
    /// Time for a full-state exchange with a random peer.
    Sync,
    /// Time for a gossip round.
    Gossip,
}

/// What the membership subsystem tells the other parts of its node, drained after each input
/// ([`Membership::take_notifications`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipNotification {
    /// This node's judgement of `peer` changed.
    HealthChanged {
        /// The peer.
        peer: NodeId,
        /// Its health now.
        health: Health,
    },
}

/// A node's membership table and failure detector.
#[derive(Clone, Debug, Hash)]
pub struct Membership {
    config: HealthConfig,
    peers: BTreeMap<NodeId, Peer>,
    /// The peers judged suspect, and those judged dead (see `remind_the_accused`).
    suspects: Accused,
    dead: Accused,
    /// Whether this period's one immediate word to a member just accused has been sent (see
    /// `tell_the_accused`).
    told_this_period: bool,
    boot: u64,
    /// This node's own incarnation, raised to refute suspicions.
    incarnation: u64,
    /// Lifeguard's local health score: 0 is healthy; each point stretches probes by one period.
    awareness: u32,
    /// The last probe or relay number used.
    sequence: u64,
    /// The probe order of this round, and the position of the next target in it.
    rotation: Vec<NodeId>,
    rotation_next: usize,
    /// A member to probe next, out of turn (see `probe_out_of_turn`), and whether the last
    /// period's probe was out of turn (then this one is in turn).
    out_of_turn: Option<NodeId>,
    probed_out_of_turn: bool,
    /// The probe of the current period.
    probe: Option<Probe>,
    /// Indirect probes run for others, by this node's ping number.
    relays: BTreeMap<u64, Relay>,
    gossip: Dissemination,
    /// Gossip rounds owed to judgements this node made or relayed (at most [`GOSSIP_ROUNDS_OWED_MAX`]).
    gossip_rounds_owed: u32,
    /// Whether the next full-state exchange goes to any tracked peer (else to one held alive).
    sync_with_any_next: bool,
    /// The peer of the last full-state exchange this node began, and when, until it answers.
    exchange_unanswered: Option<(NodeId, Instant)>,
    /// True while a full-state exchange is merged: what it brings is not relayed.
    merging_sync: bool,
    /// Peers added or dropped since the last save, and whether the boot counter is unsaved.
    unsaved: BTreeMap<NodeId, bool>,
    boot_unsaved: bool,
    notifications: Vec<MembershipNotification>,
    stats: MembershipStats,
    changes: ChangeLog,
}

impl Membership {
    /// A node with `config`, not yet started.
    pub fn new(config: HealthConfig) -> Result<Membership, HealthConfigError> {
        config.validate()?;
        Ok(Membership::fresh(config))
    }

    /// A node with `config` (already validated) and no state.
    fn fresh(config: HealthConfig) -> Membership {
        Membership {
            config,
            peers: BTreeMap::new(),
            suspects: Accused::default(),
            dead: Accused::default(),
            told_this_period: false,
            boot: 0,
            incarnation: 0,
            awareness: 0,
            sequence: 0,
            rotation: Vec::new(),
            rotation_next: 0,
            out_of_turn: None,
            probed_out_of_turn: false,
            probe: None,
            relays: BTreeMap::new(),
            gossip: Dissemination::default(),
            gossip_rounds_owed: 0,
            sync_with_any_next: false,
            exchange_unanswered: None,
            merging_sync: false,
            unsaved: BTreeMap::new(),
            boot_unsaved: false,
            notifications: Vec::new(),
            stats: MembershipStats::default(),
            changes: ChangeLog::default(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &HealthConfig {
        &self.config
    }

    /// How many times this node has started, itself included (0 before the first start).
    #[must_use]
    pub fn boot(&self) -> u64 {
        self.boot
    }

    /// This node's incarnation: how often it refuted a suspicion of itself in this run.
    #[must_use]
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Lifeguard's local health score (0 healthy, up to `awareness_max`): the node's probe periods
    /// and timeouts are stretched `1 + awareness` times.
    #[must_use]
    pub fn awareness(&self) -> u32 {
        self.awareness
    }

    /// What the failure detector has done since the node started.
    #[must_use]
    pub fn stats(&self) -> &MembershipStats {
        &self.stats
    }

    /// The latest changes of this node's judgements.
    #[must_use]
    pub fn changes(&self) -> &ChangeLog {
        &self.changes
    }

    /// Judgements waiting to be piggybacked.
    #[must_use]
    pub fn gossip_queued(&self) -> usize {
        self.gossip.len()
    }

    /// The health of `peer`, if it is tracked.
    #[must_use]
    pub fn health_of(&self, peer: &NodeId) -> Option<Health> {
        self.peers.get(peer).map(|tracked| tracked.health)
    }

    /// What this node knows about `peer`.
    #[must_use]
    pub fn peer(&self, peer: &NodeId) -> Option<&Peer> {
        self.peers.get(peer)
    }

    /// Every tracked peer, in id order.
    pub fn peers(&self) -> impl Iterator<Item = (&NodeId, &Peer)> {
        self.peers.iter()
    }

    /// How many tracked peers are in each health: alive, suspect, dead.
    #[must_use]
    pub fn counts(&self) -> [usize; 3] {
        let mut counts = [0; 3];
        for peer in self.peers.values() {
            counts[peer.health as usize] += 1;
        }
        counts
    }

    /// Every tracked peer as a status answer shows it, in id order.
    #[must_use]
    pub fn peer_views(&self) -> Vec<PeerView> {
        self.peers
            .iter()
            .map(|(id, peer)| PeerView {
                id: *id,
                health: peer.health,
                rtt_micros: peer.rtt.map(|rtt| u64::try_from(rtt.smoothed.as_micros()).unwrap_or(u64::MAX)),
            })
            .collect()
    }

    /// What the subsystem has to tell the rest of its node since last asked, in order.
    #[must_use]
    pub fn take_notifications(&mut self) -> Vec<MembershipNotification> {
        std::mem::take(&mut self.notifications)
    }

    /// Starts tracking `nodes` (but itself), as the node's other parts ask: the log's members, say.
    /// They are pinned: kept even when the table is full, at the expense of peers learned by gossip.
    pub fn track(&mut self, cx: &mut dyn Context<Self>, nodes: &[NodeId]) {
        let me = cx.id();
        for node in nodes.iter().filter(|node| **node != me) {
            if !self.peers.contains_key(node) {
                self.make_room(cx);
                if self.learn(cx, *node) {
                    cx.sometimes(names::probes::TRACKED_FOR_ANOTHER_PART, true);
                }
            }
            if let Some(peer) = self.peers.get_mut(node) {
                peer.pinned = true;
            }
        }
    }

    /// Members of the group as this node sees it: its peers and itself.
    fn members(&self) -> usize {
        self.peers.len() + 1
    }

    /// The protocol period, stretched by the local health score under Lifeguard.
    fn stretched(&self, base: Duration) -> Duration {
        if self.config.lifeguard { base * (1 + self.awareness) } else { base }
    }

    /// Starts tracking `peer` if it is new and there is room. True if it was added.
    fn learn(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) -> bool {
        if peer == cx.id() || self.peers.contains_key(&peer) || self.peers.len() >= self.config.peers_max {
            return false;
        }
        self.peers.insert(peer, Peer::new(cx.now()));
        self.unsaved.insert(peer, true);
        // Into the rest of this round at a random place, so a new peer is probed within a round.
        let remaining = (self.rotation.len() - self.rotation_next) as u64;
        let at = self.rotation_next + random::below(cx.rng(), remaining + 1) as usize;
        self.rotation.push(peer);
        let last = self.rotation.len() - 1;
        self.rotation.swap(at, last);
        true
    }

    /// Up to `count` distinct random tracked peers for which `keep` holds. A small table is
    /// scanned; a large one is sampled (every tracked peer is in the rotation), so that picking
    /// helpers and gossip targets costs O(count), not O(peers), and may find fewer when few qualify.
    fn sample_peers(
        &self,
        cx: &mut dyn Context<Self>,
        count: usize,
        keep: impl Fn(&NodeId, &Peer) -> bool,
    ) -> Vec<NodeId> {
        if self.peers.len() <= SAMPLE_BY_SCAN_MAX {
            let mut all: Vec<NodeId> =
                self.peers.iter().filter(|(id, peer)| keep(id, peer)).map(|(id, _)| *id).collect();
            let wanted = count.min(all.len());
            for index in 0..wanted {
                let other = index + random::below(cx.rng(), (all.len() - index) as u64) as usize;
                all.swap(index, other);
            }
            all.truncate(wanted);
            return all;
        }
        let mut chosen = Vec::with_capacity(count);
        for _ in 0..count * SAMPLE_ATTEMPTS_PER_PEER {
            if chosen.len() == count || self.rotation.is_empty() {
                break;
            }
            let candidate = self.rotation[random::below(cx.rng(), self.rotation.len() as u64) as usize];
            if !chosen.contains(&candidate) && self.peers.get(&candidate).is_some_and(|peer| keep(&candidate, peer)) {
                chosen.push(candidate);
            }
        }
        chosen
    }

    /// Drops one peer learned by gossip (a dead one first) when the table is full.
    fn make_room(&mut self, cx: &mut dyn Context<Self>) {
        if self.peers.len() < self.config.peers_max {
            return;
        }
        let unpinned: Vec<(NodeId, Health)> =
            self.peers.iter().filter(|(_, peer)| !peer.pinned).map(|(id, peer)| (*id, peer.health)).collect();
        let victim = match unpinned.iter().find(|(_, health)| *health == Health::Dead) {
            Some((id, _)) => Some(*id),
            None if !unpinned.is_empty() => Some(unpinned[random::below(cx.rng(), unpinned.len() as u64) as usize].0),
            None => None,
        };
        if let Some(victim) = victim {
            self.peers.remove(&victim);
            self.suspects.set(victim, false);
            self.dead.set(victim, false);
            self.unsaved.insert(victim, false);
            cx.sometimes(names::probes::PEER_DROPPED_FOR_ROOM, true);
        }
    }

    /// Sends `kind` to `to` with this node's incarnation and piggybacked judgements: first this
    /// node's judgement of `to` itself when it is not alive (so that `to` can refute it), then the
    /// least-sent of the queue.
    fn send(&mut self, cx: &mut dyn Context<Self>, to: NodeId, kind: MessageKind) {
        let mut gossip = Vec::new();
        if !cx.buggify(sites::GOSSIP_EMPTY) {
            let mut room = self.config.piggyback_max;
            if let Some(update) = self.judgement_of(cx.id(), &to)
                && update.judgement != Judgement::Alive
            {
                gossip.push(update);
                room -= 1;
            }
            let retransmits = self.config.retransmits(self.members());
            gossip.extend(self.gossip.take(room, retransmits, Some(&to)));
        }
        self.stats.messages_sent += 1;
        cx.send(to, MembershipMessage { incarnation: self.incarnation, gossip, kind });
    }

    /// This node's judgement of `peer` as an update to gossip, if it has one.
    fn judgement_of(&self, me: NodeId, peer: &NodeId) -> Option<Update> {
        let tracked = self.peers.get(peer).filter(|tracked| tracked.judged)?;
        let by = tracked.suspicion.as_ref().and_then(|suspicion| suspicion.suspecters.first().copied()).unwrap_or(me);
        let judgement = match tracked.health {
            Health::Alive => Judgement::Alive,
            Health::Suspect => Judgement::Suspect { by },
            Health::Dead => Judgement::Dead { by: me },
        };
        Some(Update { node: *peer, incarnation: tracked.incarnation, judgement })
    }

    /// Sends the waiting judgements to `gossip_fanout` random alive peers, if a round is owed (see
    /// [`HealthConfig::gossip_interval`]): a node's rounds follow its own probes' outcomes, its
    /// refutations and a share of its relays that falls as 1/n, not the amount of news in the
    /// cluster, so its message load stays flat in n.
    fn gossip_round(&mut self, cx: &mut dyn Context<Self>) {
        if self.gossip_rounds_owed == 0 || self.gossip.is_empty() {
            return;
        }
        self.gossip_rounds_owed -= 1;
        let targets = self.sample_peers(cx, self.config.gossip_fanout, |_, peer| peer.health == Health::Alive);
        for peer in targets {
            self.send(cx, peer, MessageKind::Gossip);
        }
    }
}

impl Node for Membership {
    type Message = MembershipMessage;
    type Timer = MembershipTimer;
    type Request = MembershipRequest;
    type Response = MembershipResponse;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        *self = Membership::fresh(self.config.clone());
        self.restore(cx);
        let me = cx.id();
        self.gossip.queue(Update { node: me, incarnation: 0, judgement: Judgement::Alive }, self.config.updates_max);
        // Join: a full-state exchange with each bootstrap peer (or a known one after a restart).
        let bootstrap: BTreeSet<NodeId> = self.config.bootstrap.iter().copied().filter(|id| *id != me).collect();
        if bootstrap.is_empty() {
            self.exchange_with_random_peer(cx);
        }
        for peer in bootstrap {
            self.begin_exchange(cx, peer);
        }
        // A random first delay keeps nodes that boot together from probing in lockstep.
        let first = random::duration_between(cx.rng(), Duration::ZERO, self.config.probe_interval);
        cx.set_timer(first, MembershipTimer::Tick);
        self.schedule_exchange(cx);
        cx.set_timer(self.config.gossip_interval, MembershipTimer::Gossip);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: MembershipMessage) {
        if from == cx.id() {
            return;
        }
        self.stats.messages_received += 1;
        // A join's full-state exchange announces the joiner through the exchanges that follow; any
        // other message from a stranger is news to pass on (a node that knew only a peer that was
        // down when it joined is known to nobody else).
        let announces = !matches!(message.kind, MessageKind::Sync { .. });
        self.heard(cx, from, message.incarnation, announces);
        for update in message.gossip.into_iter().take(self.config.piggyback_max) {
            self.apply(cx, update);
        }
        self.on_kind(cx, from, message.incarnation, message.kind);
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: MembershipTimer) {
        match timer {
            MembershipTimer::Tick => {
                self.finish_probe(cx);
                self.save(cx, false);
                self.start_probe(cx);
                self.retry_unanswered_exchange(cx);
                let next = self.next_period(cx);
                cx.set_timer(next, MembershipTimer::Tick);
            }
            MembershipTimer::ProbeTimeout { sequence } => self.probe_indirectly(cx, sequence),
            MembershipTimer::RelayTimeout { sequence } => self.relay_timed_out(cx, sequence),
            MembershipTimer::Suspicion { peer } => self.suspicion_due(cx, peer),
            MembershipTimer::Sync => {
                self.exchange_with_random_peer(cx);
                self.schedule_exchange(cx);
            }
            MembershipTimer::Gossip => {
                self.gossip_round(cx);
                cx.set_timer(self.config.gossip_interval, MembershipTimer::Gossip);
            }
        }
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: MembershipRequest) {
        match body {
            MembershipRequest::Status => {
                cx.reply(request, MembershipResponse::Status { boot: self.boot, peers: self.peer_views() });
            }
        }
    }
}

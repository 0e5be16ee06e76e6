//! Membership and health tracking: which peers exist, and which of them are alive.
//!
//! Every `ping_interval` a node pings each peer it knows (dead ones too, so they can come back) and
//! gossips a few peer ids with each ping and pong, so that a node that knows one bootstrap peer soon
//! knows them all. Any message from a peer marks it alive; silence moves it to suspect after
//! `suspect_after` and to dead after `dead_after`. Pongs echo the pinger's clock, giving round-trip
//! samples that feed an RFC 6298 estimate.
//!
//! Known peers and a boot counter are kept in storage (table [`TABLE`]), so a restarted node still
//! knows its peers; their health is not kept — after a restart every peer is suspect until heard.

mod config;
mod messages;
pub mod names;
mod peer;
#[cfg(test)]
mod tests;

pub use config::{HealthConfig, HealthConfigError, MembershipPlantedBug};
pub use messages::{MembershipMessage, MembershipRequest, MembershipResponse, PeerView};
pub use peer::{Health, Peer, RttEstimate};

use crate::id::NodeId;
use crate::membership::names::{probes, sites};
use crate::node::{Context, Node, RequestId, TraceEvent};
use crate::random;
use crate::storage::{StorageError, WriteBatch};
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;

/// The storage table holding the boot counter and the known peers.
pub const TABLE: &str = "membership";
const BOOT_KEY: &[u8] = b"boot";
const PEER_PREFIX: &[u8] = b"peer/";

/// The membership subsystem's only timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipTimer {
    /// Time for a round of health checks and pings.
    Tick,
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

/// A node's membership table and health tracker.
#[derive(Clone, Debug, Hash)]
pub struct Membership {
    config: HealthConfig,
    peers: BTreeMap<NodeId, Peer>,
    boot: u64,
    ping_sequence: u64,
    /// Peers learned but not yet durably saved (the save failed, e.g. on a full disk).
    unsaved: bool,
    notifications: Vec<MembershipNotification>,
}

impl Membership {
    /// A node with `config`, not yet started.
    pub fn new(config: HealthConfig) -> Result<Membership, HealthConfigError> {
        config.validate()?;
        Ok(Membership {
            config,
            peers: BTreeMap::new(),
            boot: 0,
            ping_sequence: 0,
            unsaved: false,
            notifications: Vec::new(),
        })
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

    /// The health of `peer`, if it is known.
    #[must_use]
    pub fn health_of(&self, peer: &NodeId) -> Option<Health> {
        self.peers.get(peer).map(|tracked| tracked.health)
    }

    /// What this node knows about `peer`.
    #[must_use]
    pub fn peer(&self, peer: &NodeId) -> Option<&Peer> {
        self.peers.get(peer)
    }

    /// Every known peer, in id order.
    pub fn peers(&self) -> impl Iterator<Item = (&NodeId, &Peer)> {
        self.peers.iter()
    }

    /// Every known peer as a status answer shows it, in id order.
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

    /// Starts tracking `nodes` (those it does not know yet, but itself), as the node's other parts
    /// ask: the log's members, say. They are pinged from the next round on, and saved.
    pub fn track(&mut self, cx: &mut dyn Context<Self>, nodes: &[NodeId]) {
        let now = cx.now();
        let me = cx.id();
        let mut learned = false;
        for node in nodes {
            learned |= self.learn(*node, me, now);
        }
        if learned {
            cx.sometimes(probes::TRACKED_FOR_ANOTHER_PART, true);
            self.unsaved = true;
            self.save(cx, false);
        }
    }

    fn restore(&mut self, cx: &mut dyn Context<Self>) {
        let now = cx.now();
        let previous_boot = match cx.storage().get(TABLE, BOOT_KEY) {
            Ok(Some(bytes)) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                Ok(array) => u64::from_le_bytes(array),
                Err(_) => {
                    cx.trace(TraceEvent::new("storage_error", "boot counter has a bad length"));
                    0
                }
            },
            Ok(None) => 0,
            Err(error) => {
                cx.trace(TraceEvent::new("storage_error", format!("reading boot counter: {error}")));
                0
            }
        };
        // Saturates rather than overflowing (and panicking) on a stored counter at the end of its range.
        self.boot = previous_boot.saturating_add(1);

        // Peers are soft state: page by page, keeping what was read before an error (unlike
        // `storage::read_all`, which gives all or nothing).
        let mut start = PEER_PREFIX.to_vec();
        let mut restored = 0_usize;
        'pages: loop {
            let page = match cx.storage().range(TABLE, &start, Some(b"peer0"), 256) {
                Ok(page) => page,
                Err(error) => {
                    // Peers are soft state: gossip and the bootstrap list find them again.
                    cx.trace(TraceEvent::new("storage_error", format!("reading peers: {error}")));
                    break 'pages;
                }
            };
            let Some((last_key, _)) = page.last() else {
                break;
            };
            start = last_key.clone();
            start.push(0);
            for (key, _) in &page {
                let Ok(bytes) = <[u8; 32]>::try_from(&key[PEER_PREFIX.len()..]) else {
                    cx.trace(TraceEvent::new("storage_error", "peer key has a bad length"));
                    continue;
                };
                if self.learn(NodeId(bytes), cx.id(), now) {
                    restored += 1;
                }
            }
        }
        cx.sometimes(probes::RESTART_RESTORED_PEERS, self.boot > 1 && restored > 0);

        let bootstrap = self.config.bootstrap.clone();
        for peer in bootstrap {
            if self.learn(peer, cx.id(), now) {
                self.unsaved = true;
            }
        }
        self.save(cx, true);
    }

    /// Starts tracking `peer` if it is new, not this node, and there is room. True if it was added.
    fn learn(&mut self, peer: NodeId, me: NodeId, now: Instant) -> bool {
        if peer == me || self.peers.contains_key(&peer) || self.peers.len() >= self.config.peers_max {
            return false;
        }
        self.peers.insert(peer, Peer::new(now));
        true
    }

    /// Writes the boot counter and all known peers, and syncs: always when `force` is set (at start),
    /// otherwise only when something is unsaved. On failure the node keeps running and retries on the
    /// next tick. The boot counter is in every batch, so a retry also saves a counter whose first
    /// save at start failed; otherwise the next incarnation would reuse this one's boot number.
    fn save(&mut self, cx: &mut dyn Context<Self>, force: bool) {
        if !force && !self.unsaved {
            return;
        }
        let mut batch = WriteBatch::new();
        batch.put(TABLE, BOOT_KEY.to_vec(), self.boot.to_le_bytes().to_vec());
        for id in self.peers.keys() {
            let mut key = PEER_PREFIX.to_vec();
            key.extend_from_slice(&id.0);
            batch.put(TABLE, key, Vec::new());
        }
        let result = cx.storage().write(batch).and_then(|()| cx.storage().sync());
        match result {
            Ok(()) => self.unsaved = false,
            Err(error) => {
                cx.sometimes(probes::SAVE_FAILED, true);
                if matches!(error, StorageError::Full(_)) {
                    cx.sometimes(probes::DISK_FULL, true);
                }
                cx.trace(TraceEvent::new("storage_error", format!("saving peers: {error}")));
                self.unsaved = true;
            }
        }
    }

    fn heard(&mut self, cx: &mut dyn Context<Self>, from: NodeId) {
        let now = cx.now();
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        peer.last_heard = Some(now);
        if peer.health != Health::Alive {
            cx.sometimes(probes::PEER_RECOVERED_FROM_DEAD, peer.health == Health::Dead);
            let old = peer.health;
            peer.health = Health::Alive;
            peer.health_since = now;
            cx.trace(TraceEvent::new("peer_health", format!("{} {old:?}->Alive", from.short())));
            self.notifications.push(MembershipNotification::HealthChanged { peer: from, health: Health::Alive });
        }
    }

    fn learn_gossip(&mut self, cx: &mut dyn Context<Self>, from: NodeId, known: &[NodeId]) {
        let now = cx.now();
        let me = cx.id();
        let mut learned = self.learn(from, me, now);
        for peer in known.iter().take(self.config.gossip_peers_max) {
            learned |= self.learn(*peer, me, now);
        }
        if learned {
            self.unsaved = true;
            self.save(cx, false);
        }
    }

    /// Up to `gossip_peers_max` peers that are not dead, starting at a random point of the table.
    fn gossip(&self, cx: &mut dyn Context<Self>) -> Vec<NodeId> {
        if cx.buggify(sites::GOSSIP_EMPTY) {
            return Vec::new();
        }
        let candidates: Vec<NodeId> =
            self.peers.iter().filter(|(_, peer)| peer.health != Health::Dead).map(|(id, _)| *id).collect();
        if candidates.is_empty() {
            return candidates;
        }
        let offset = random::below(cx.rng(), candidates.len() as u64) as usize;
        candidates
            .iter()
            .cycle()
            .skip(offset)
            .take(self.config.gossip_peers_max.min(candidates.len()))
            .copied()
            .collect()
    }

    fn judge(&mut self, cx: &mut dyn Context<Self>) {
        let now = cx.now();
        let suspect_after = self.config.suspect_after;
        let dead_after = self.config.dead_after;
        let never_dead = self.config.planted(MembershipPlantedBug::NeverMarkDead);
        for (id, peer) in &mut self.peers {
            let silence = peer.silence(now);
            let judged = if silence >= dead_after && !never_dead {
                Health::Dead
            } else if silence >= suspect_after {
                Health::Suspect
            } else {
                peer.health
            };
            // Silence only ever makes a judgement worse; hearing from the peer makes it better.
            if judged > peer.health {
                let old = peer.health;
                peer.health = judged;
                peer.health_since = now;
                cx.sometimes(probes::PEER_SUSPECTED, judged == Health::Suspect);
                cx.sometimes(probes::PEER_DEAD, judged == Health::Dead);
                cx.trace(TraceEvent::new("peer_health", format!("{} {old:?}->{judged:?}", id.short())));
                self.notifications.push(MembershipNotification::HealthChanged { peer: *id, health: judged });
            }
            assert!(
                peer.health != Health::Alive || silence < suspect_after,
                "an alive peer has been silent for {silence:?}, past suspect_after"
            );
        }
    }

    fn ping_all(&mut self, cx: &mut dyn Context<Self>) {
        let targets: Vec<NodeId> = self.peers.keys().copied().collect();
        let now = cx.now();
        for target in targets {
            self.ping_sequence += 1;
            let known = self.gossip(cx);
            cx.send(
                target,
                MembershipMessage::Ping {
                    sequence: self.ping_sequence,
                    boot: self.boot,
                    sent_at_nanos: now.as_nanos(),
                    known,
                },
            );
        }
    }

    fn next_tick(&self, cx: &mut dyn Context<Self>) -> Duration {
        let interval = self.config.ping_interval;
        if cx.buggify(sites::TICK_EARLY) {
            // An early tick is always legal: it only pings more often.
            return random::duration_between(cx.rng(), interval / 4, interval);
        }
        interval
    }
}

impl Node for Membership {
    type Message = MembershipMessage;
    type Timer = MembershipTimer;
    type Request = MembershipRequest;
    type Response = MembershipResponse;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        self.peers.clear();
        self.restore(cx);
        // A random first delay keeps nodes that boot together from pinging in lockstep.
        let first = random::duration_between(cx.rng(), Duration::ZERO, self.config.ping_interval);
        cx.set_timer(first, MembershipTimer::Tick);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: MembershipMessage) {
        if from == cx.id() {
            return;
        }
        match message {
            MembershipMessage::Ping { sequence, boot, sent_at_nanos, known } => {
                self.learn_gossip(cx, from, &known);
                self.heard(cx, from);
                let known = self.gossip(cx);
                cx.send(
                    from,
                    MembershipMessage::Pong { sequence, echo_boot: boot, echo_sent_at_nanos: sent_at_nanos, known },
                );
            }
            MembershipMessage::Pong { echo_boot, echo_sent_at_nanos, known, .. } => {
                self.learn_gossip(cx, from, &known);
                self.heard(cx, from);
                let now = cx.now();
                // A pong to a ping from an earlier incarnation echoes a clock that no longer exists.
                if echo_boot == self.boot && echo_sent_at_nanos <= now.as_nanos() {
                    let sample = now - Instant::from_nanos(echo_sent_at_nanos);
                    if let Some(peer) = self.peers.get_mut(&from) {
                        match &mut peer.rtt {
                            Some(estimate) => estimate.update(sample),
                            None => peer.rtt = Some(RttEstimate::first(sample)),
                        }
                    }
                }
                cx.sometimes(probes::STALE_PONG, echo_boot != self.boot);
            }
        }
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: MembershipTimer) {
        match timer {
            MembershipTimer::Tick => {
                self.judge(cx);
                self.save(cx, false);
                self.ping_all(cx);
                let next = self.next_tick(cx);
                cx.set_timer(next, MembershipTimer::Tick);
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

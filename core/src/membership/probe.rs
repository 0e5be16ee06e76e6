//! Probing: one peer per protocol period in a shuffled round-robin, indirect probes through
//! helpers when the direct one goes unanswered, relays run for others, and Lifeguard's local
//! health score.

use super::{Membership, MembershipTimer};
use crate::health::Health;
use crate::id::NodeId;
use crate::membership::config::MembershipPlantedBug;
use crate::membership::messages::{Judgement, MessageKind, Update};
use crate::membership::names::{probes, sites};
use crate::membership::peer::RttEstimate;
use crate::node::Context;
use crate::random;
use crate::time::{Duration, Instant};

/// Periods within which a helper must have been heard from for its missing nack to count against
/// this node's local health (Lifeguard).
pub const HELPER_HEARD_WITHIN_PERIODS: u32 = 4;

/// The probe of the current protocol period.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    /// Its ping number.
    pub sequence: u64,
    /// The peer probed.
    pub target: NodeId,
    /// True once the target answered, directly or through a helper.
    pub acked: bool,
    /// Helpers asked to probe indirectly.
    pub asked: u32,
    /// Of which heard from directly within [`HELPER_HEARD_WITHIN_PERIODS`]: only their missing
    /// nacks count against this node's local health.
    pub asked_heard_lately: u32,
    /// Nacks received from them.
    pub nacks: u32,
    /// True when the target was dead already: the ping only offers it a way back, and its silence
    /// changes nothing.
    pub reconnect: bool,
}

/// An indirect probe run for another node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relay {
    /// The node that asked.
    pub origin: NodeId,
    /// Its probe number.
    pub origin_sequence: u64,
    /// The peer probed for it.
    pub target: NodeId,
}

impl Membership {
    /// The next protocol period's length: the probe interval stretched by local health, or a
    /// shorter one when buggified (probing more often is always legal).
    pub(super) fn next_period(&self, cx: &mut dyn Context<Self>) -> Duration {
        let interval = self.stretched(self.config.probe_interval);
        if cx.buggify(sites::TICK_EARLY) {
            return random::duration_between(cx.rng(), interval / 4, interval);
        }
        interval
    }

    /// The next peer to probe: the one owed a probe out of turn, unless the last period's probe
    /// was out of turn too (so a round of the round-robin stretches at most twofold); else the
    /// next of the round-robin, a new round being a fresh shuffle of every tracked peer.
    fn next_target(&mut self, cx: &mut dyn Context<Self>) -> Option<NodeId> {
        if !self.probed_out_of_turn
            && let Some(peer) = self.out_of_turn.take().filter(|peer| self.peers.contains_key(peer))
        {
            self.probed_out_of_turn = true;
            return Some(peer);
        }
        self.probed_out_of_turn = false;
        loop {
            if self.rotation_next >= self.rotation.len() {
                self.rotation = self.peers.keys().copied().collect();
                for index in (1..self.rotation.len()).rev() {
                    let other = random::below(cx.rng(), index as u64 + 1) as usize;
                    self.rotation.swap(index, other);
                }
                self.rotation_next = 0;
                if self.rotation.is_empty() {
                    return None;
                }
            }
            let candidate = self.rotation[self.rotation_next];
            self.rotation_next += 1;
            // Peers dropped since the shuffle are skipped.
            if self.peers.contains_key(&candidate) {
                return Some(candidate);
            }
        }
    }

    /// Another node declared `peer` dead at an older incarnation than the one this node holds it
    /// alive at: the accuser could not reach it for a whole suspicion timeout, and this node,
    /// which has not heard from it lately, probes it next, out of turn. A member that refuted a suspicion just before it went down is
    /// then found dead by those that heard the refutation within a period or two of the first
    /// accusations, not when their round-robin comes to it (once in n periods) — everyone else
    /// holds it dead at the older incarnation, which neither probes nor gossip will raise. It
    /// costs no message: the probe takes the period's turn.
    pub(super) fn probe_out_of_turn(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) {
        let heard_within = self.config.probe_interval;
        let now = cx.now();
        let due = self.peers.get(&peer).is_some_and(|tracked| {
            tracked.health == Health::Alive
                && tracked.last_heard.is_none_or(|at| now.saturating_duration_since(at) > heard_within)
        });
        if due {
            cx.sometimes(probes::PROBED_OUT_OF_TURN, true);
            self.out_of_turn = Some(peer);
        }
    }

    /// Another part of the node (the DHT) found `peer` silent: it is probed next, out of turn, if
    /// this node tracks it and has not heard from it lately. Health is still judged only by
    /// membership's own probes.
    pub fn report_unresponsive(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) {
        self.probe_out_of_turn(cx, peer);
    }

    /// Starts this period's probe.
    pub(super) fn start_probe(&mut self, cx: &mut dyn Context<Self>) {
        self.stats.periods += 1;
        self.told_this_period = false;
        let Some(target) = self.next_target(cx) else { return };
        let reconnect = self.peers.get(&target).is_some_and(|peer| peer.judged && peer.health == Health::Dead);
        self.sequence += 1;
        let sequence = self.sequence;
        self.probe =
            Some(Probe { sequence, target, acked: false, asked: 0, asked_heard_lately: 0, nacks: 0, reconnect });
        self.stats.probes += 1;
        self.ping(cx, target, sequence);
        let timeout = self.stretched(self.config.probe_timeout);
        cx.set_timer(timeout, MembershipTimer::ProbeTimeout { sequence });
        self.remind_the_accused(cx, target);
    }

    /// Gossip to the accused (memberlist gossips to the dead; suspects are reminded too): besides
    /// its probe, each period a node pings one member it holds suspect and one it holds dead —
    /// the one it accused last itself first, then each in turn — with that judgement
    /// piggybacked. An accused member then hears of a judgement made while it was cut off, and
    /// refutes, soon after it can be reached again, whoever holds the judgement — not when the
    /// round-robin or a full-state exchange happens to bring the two together (once in n
    /// periods). Its ack, at the refuted incarnation, also clears the judgement at the reminder
    /// at once, however slowly the refutation spreads. It costs at most two messages a period,
    /// however many members a partition cuts off, and none while nobody is accused.
    fn remind_the_accused(&mut self, cx: &mut dyn Context<Self>, probed: NodeId) {
        let suspect = self.suspects.next_to_remind().filter(|peer| *peer != probed);
        if let Some(peer) = suspect {
            cx.sometimes(probes::SUSPECT_REMINDED, true);
            self.ping(cx, peer, 0);
        }
        if let Some(peer) = self.dead.next_to_remind().filter(|peer| *peer != probed && Some(*peer) != suspect) {
            cx.sometimes(probes::DEAD_REMINDED, true);
            self.ping(cx, peer, 0);
        }
    }

    fn ping(&mut self, cx: &mut dyn Context<Self>, target: NodeId, sequence: u64) {
        let kind = MessageKind::Ping { sequence, boot: self.boot, sent_at_nanos: cx.now().as_nanos() };
        self.send(cx, target, kind);
    }

    /// The direct probe went unanswered: ask `indirect_probes` random alive peers to probe.
    pub(super) fn probe_indirectly(&mut self, cx: &mut dyn Context<Self>, sequence: u64) {
        let Some(probe) = self.probe.as_ref().filter(|probe| probe.sequence == sequence) else { return };
        if probe.acked || probe.reconnect || self.config.planted(MembershipPlantedBug::NoIndirectProbes) {
            return;
        }
        let target = probe.target;
        let helpers = self
            .sample_peers(cx, self.config.indirect_probes, |id, peer| *id != target && peer.health == Health::Alive);
        cx.sometimes(probes::INDIRECT_PROBE_SENT, !helpers.is_empty());
        for helper in &helpers {
            self.send(cx, *helper, MessageKind::PingRequest { sequence, target });
        }
        self.stats.indirect_probes += helpers.len() as u64;
        let now = cx.now();
        let heard_within = self.config.probe_interval * HELPER_HEARD_WITHIN_PERIODS;
        let heard_lately = helpers
            .iter()
            .filter_map(|helper| self.peers.get(helper).and_then(|peer| peer.last_heard))
            .filter(|at| now.saturating_duration_since(*at) <= heard_within)
            .count() as u32;
        if let Some(probe) = self.probe.as_mut() {
            probe.asked = helpers.len() as u32;
            probe.asked_heard_lately = heard_lately;
        }
    }

    /// The period ended: a probe answered neither way makes its target suspect. Under Lifeguard,
    /// the node's own health score falls after an answered probe, and after a failed one rises by
    /// each nack its helpers failed to send (helpers that nack show the fault is the target's),
    /// or by one when it had no helper to ask. Only helpers heard from lately count: one not heard
    /// for a while may be cut off from this node (a partition), which says nothing of its health.
    pub(super) fn finish_probe(&mut self, cx: &mut dyn Context<Self>) {
        let Some(probe) = self.probe.take() else { return };
        if probe.acked {
            self.awareness = self.awareness.saturating_sub(1);
            return;
        }
        if probe.reconnect {
            return;
        }
        self.stats.failed_probes += 1;
        let missed_nacks = probe.asked_heard_lately.saturating_sub(probe.nacks);
        cx.sometimes(probes::NACKS_MISSED, missed_nacks > 0 && probe.asked > 0);
        self.raise_awareness(cx, if probe.asked == 0 { 1 } else { missed_nacks });
        let Some(peer) = self.peers.get(&probe.target) else { return };
        let me = cx.id();
        let incarnation = peer.incarnation;
        match peer.health {
            Health::Dead if peer.judged => return,
            Health::Suspect if peer.judged => {
                self.apply(cx, Update { node: probe.target, incarnation, judgement: Judgement::Suspect { by: me } });
            }
            _ => self.suspect(cx, probe.target, incarnation, me),
        }
        self.tell_the_accused(cx, probe.target);
    }

    /// Tells `peer`, just suspected or declared dead by this node, so at once: a ping with the
    /// judgement piggybacked (see `send`), so that it hears of it and can refute, rather than when
    /// gossip happens to reach it. Its ack, if any, is direct word of its incarnation. One member
    /// a period is told at once; any other goes first in line to be reminded at the next period's
    /// start (see `remind_the_accused`), so a partition that cuts off half the cluster, whose
    /// members' suspicions all time out together, costs no burst of pings.
    pub(super) fn tell_the_accused(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) {
        let Some(health) = self.peers.get(&peer).map(|tracked| tracked.health) else { return };
        cx.sometimes(probes::ACCUSED_TOLD_AT_ONCE, !self.told_this_period);
        if !self.told_this_period {
            self.told_this_period = true;
            self.ping(cx, peer, 0);
            return;
        }
        match health {
            Health::Suspect => self.suspects.remind_first(peer),
            Health::Dead => self.dead.remind_first(peer),
            Health::Alive => {}
        }
    }

    /// Lifeguard: this node may be the slow one; stretch its probes.
    pub(super) fn raise_awareness(&mut self, cx: &mut dyn Context<Self>, points: u32) {
        if !self.config.lifeguard {
            return;
        }
        self.awareness = self.awareness.saturating_add(points).min(self.config.awareness_max);
        cx.sometimes(probes::AWARENESS_AT_MAX, self.awareness == self.config.awareness_max);
    }

    /// An indirect probe run for another node got no ack in time: nack it (Lifeguard).
    pub(super) fn relay_timed_out(&mut self, cx: &mut dyn Context<Self>, sequence: u64) {
        let Some(relay) = self.relays.remove(&sequence) else { return };
        if self.config.lifeguard {
            let kind = MessageKind::Nack { sequence: relay.origin_sequence, target: relay.target };
            self.send(cx, relay.origin, kind);
        }
    }

    /// Handles the body of a message from `from`, whose incarnation was `incarnation`.
    pub(super) fn on_kind(&mut self, cx: &mut dyn Context<Self>, from: NodeId, incarnation: u64, kind: MessageKind) {
        match kind {
            MessageKind::Ping { sequence, boot, sent_at_nanos } => {
                let ack = MessageKind::Ack { sequence, echo_boot: boot, echo_sent_at_nanos: sent_at_nanos };
                self.send(cx, from, ack);
            }
            MessageKind::Ack { sequence, echo_boot, echo_sent_at_nanos } => {
                self.on_ack(cx, from, incarnation, sequence, echo_boot, echo_sent_at_nanos);
            }
            MessageKind::PingRequest { sequence, target } => {
                if self.relays.len() >= self.config.relays_max || target == cx.id() {
                    cx.sometimes(probes::RELAYS_FULL, self.relays.len() >= self.config.relays_max);
                    return;
                }
                self.sequence += 1;
                let own = self.sequence;
                self.relays.insert(own, Relay { origin: from, origin_sequence: sequence, target });
                self.ping(cx, target, own);
                cx.set_timer(self.config.probe_timeout, MembershipTimer::RelayTimeout { sequence: own });
            }
            MessageKind::IndirectAck { sequence, target, target_incarnation } => {
                if let Some(probe) =
                    self.probe.as_mut().filter(|probe| probe.sequence == sequence && probe.target == target)
                {
                    cx.sometimes(probes::SAVED_BY_INDIRECT_PROBE, !probe.acked);
                    probe.acked = true;
                }
                self.apply(cx, Update { node: target, incarnation: target_incarnation, judgement: Judgement::Alive });
            }
            MessageKind::Nack { sequence, target } => {
                if let Some(probe) =
                    self.probe.as_mut().filter(|probe| probe.sequence == sequence && probe.target == target)
                {
                    probe.nacks += 1;
                    self.stats.nacks_received += 1;
                }
            }
            MessageKind::Gossip => {}
            MessageKind::Sync { reply, members } => self.on_exchange(cx, from, reply, members),
        }
    }

    fn on_ack(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        incarnation: u64,
        sequence: u64,
        echo_boot: u64,
        echo_sent_at_nanos: u64,
    ) {
        let now = cx.now();
        if let Some(relay) = self.relays.get(&sequence).filter(|relay| relay.target == from).cloned() {
            self.relays.remove(&sequence);
            let kind = MessageKind::IndirectAck {
                sequence: relay.origin_sequence,
                target: from,
                target_incarnation: incarnation,
            };
            self.send(cx, relay.origin, kind);
        } else if let Some(probe) =
            self.probe.as_mut().filter(|probe| probe.sequence == sequence && probe.target == from)
        {
            probe.acked = true;
        }
        // An ack to a ping from an earlier incarnation echoes a clock that no longer exists.
        cx.sometimes(probes::STALE_ACK, echo_boot != self.boot);
        if echo_boot == self.boot && echo_sent_at_nanos <= now.as_nanos() {
            let sample = now - Instant::from_nanos(echo_sent_at_nanos);
            if let Some(peer) = self.peers.get_mut(&from) {
                match &mut peer.rtt {
                    Some(estimate) => estimate.update(sample),
                    None => peer.rtt = Some(RttEstimate::first(sample)),
                }
            }
        }
    }
}

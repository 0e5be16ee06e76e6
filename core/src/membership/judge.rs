//! Judging peers: SWIM's rules for alive, suspect and dead judgements and their incarnations,
//! refutation of suspicions of this node, and suspicions that time out.

use super::{GOSSIP_ROUNDS_OWED_MAX, Membership, MembershipNotification, MembershipTimer, RELAY_ROUNDS_PER_UPDATE};
use crate::health::Health;
use crate::id::NodeId;
use crate::membership::config::MembershipPlantedBug;
use crate::membership::messages::{Judgement, MessageKind, Update};
use crate::membership::names::probes;
use crate::membership::stats::JudgementChange;
use crate::membership::suspicion::Suspicion;
use crate::node::{Context, TraceEvent};
use crate::random;

impl Membership {
    /// Direct word from `from` (any message): it is alive at `incarnation` at least. A peer never
    /// judged, or judged at a lower incarnation, becomes alive; one suspected or declared dead at
    /// this incarnation or a higher stays so until it refutes (every message to it carries the
    /// judgement, see `send`). A stranger's word is passed on when it `announces` the stranger.
    pub(super) fn heard(&mut self, cx: &mut dyn Context<Self>, from: NodeId, incarnation: u64, announces: bool) {
        let stranger = !self.peers.contains_key(&from) && self.learn(cx, from);
        if stranger && announces {
            cx.sometimes(probes::STRANGER_ANNOUNCED, true);
            self.queue(Update { node: from, incarnation, judgement: Judgement::Alive });
        }
        let now = cx.now();
        let Some(peer) = self.peers.get_mut(&from) else { return };
        peer.last_heard = Some(now);
        if !peer.judged || incarnation > peer.incarnation {
            let was_dead = peer.health == Health::Dead;
            let news = peer.judged;
            self.set_health(cx, from, Health::Alive, incarnation);
            cx.sometimes(probes::PEER_RECOVERED_FROM_DEAD, was_dead);
            // A higher incarnation seen directly is news (a refutation); a first contact is not:
            // the member announces itself.
            if news {
                self.queue(Update { node: from, incarnation, judgement: Judgement::Alive });
            }
        }
    }

    /// Applies one judgement heard by gossip or in a full-state exchange.
    pub(super) fn apply(&mut self, cx: &mut dyn Context<Self>, update: Update) {
        if update.node == cx.id() {
            return self.about_me(cx, update);
        }
        let (judged, health, incarnation) = match self.peers.get(&update.node) {
            // The common case, news already known: nothing to do, unless a death shows that the
            // accuser could not reach a member alive here at a newer incarnation for a whole
            // suspicion timeout.
            Some(peer) if peer.judged && update.incarnation < peer.incarnation => {
                if matches!(update.judgement, Judgement::Dead { .. }) {
                    self.probe_out_of_turn(cx, update.node);
                }
                return;
            }
            Some(peer)
                if peer.judged && update.incarnation == peer.incarnation && update.judgement == Judgement::Alive =>
            {
                return;
            }
            Some(peer) => (peer.judged, peer.health, peer.incarnation),
            None => {
                // Any judgement makes a node track an unknown member while there is room: a death
                // too, or a stale "alive" from a slower node would later make it track a member
                // long crashed as alive, and wait a whole round of probes to find out.
                if !self.learn(cx, update.node) {
                    return;
                }
                (false, Health::Suspect, 0)
            }
        };
        let newer = !judged || update.incarnation > incarnation;
        if let Judgement::Suspect { by } | Judgement::Dead { by } = update.judgement
            && self.doubts_accuser(cx, by)
        {
            return;
        }
        match update.judgement {
            Judgement::Alive => {
                if newer {
                    self.set_health(cx, update.node, Health::Alive, update.incarnation);
                    self.relay(cx, update);
                }
            }
            Judgement::Suspect { by } => {
                if judged && update.incarnation < incarnation {
                    return;
                }
                match health {
                    Health::Suspect if judged && update.incarnation == incarnation => self.confirm(cx, update, by),
                    Health::Dead if judged && !newer => {}
                    _ => self.suspect(cx, update.node, update.incarnation, by),
                }
            }
            Judgement::Dead { by } => {
                if (judged && update.incarnation < incarnation) || (health == Health::Dead && !newer) {
                    return;
                }
                // A death at the incarnation this node saw alive, of a member it heard from
                // directly within the last period, is old news (from the other side of a healed
                // partition, say): suspect it instead, and let it refute.
                let heard_lately = self
                    .peers
                    .get(&update.node)
                    .and_then(|peer| peer.last_heard)
                    .is_some_and(|at| cx.now().saturating_duration_since(at) <= self.config.probe_interval);
                if health == Health::Alive && update.incarnation == incarnation && heard_lately {
                    cx.sometimes(probes::DEATH_DOUBTED, true);
                    return self.suspect(cx, update.node, update.incarnation, by);
                }
                self.set_health(cx, update.node, Health::Dead, update.incarnation);
                self.relay(cx, update);
            }
        }
    }

    /// True when `by`, the node that made an accusation, is itself held suspect or dead here: its
    /// word is doubtful (it may be the one cut off — a node that can send but not hear accuses
    /// everyone it probes), so the accusation is not adopted, confirmed or passed on. Members it
    /// accuses truly are still judged by this node's own probes and by healthy accusers.
    fn doubts_accuser(&self, cx: &mut dyn Context<Self>, by: NodeId) -> bool {
        let doubted = by != cx.id()
            && self.peers.get(&by).is_some_and(|accuser| accuser.judged && accuser.health != Health::Alive);
        cx.sometimes(probes::ACCUSER_DOUBTED, doubted);
        doubted
    }

    /// A judgement of this node itself: a suspicion or death at its incarnation (or a later one) is
    /// refuted by raising the incarnation past it; a higher alive incarnation (from before a
    /// restart) is adopted.
    fn about_me(&mut self, cx: &mut dyn Context<Self>, update: Update) {
        match update.judgement {
            Judgement::Alive => {
                if update.incarnation > self.incarnation {
                    self.incarnation = update.incarnation;
                    cx.sometimes(probes::INCARNATION_ADOPTED, true);
                }
            }
            Judgement::Suspect { by } | Judgement::Dead { by } => {
                if self.config.planted(MembershipPlantedBug::IgnoreRefutation) {
                    return;
                }
                let me = cx.id();
                if update.incarnation < self.incarnation {
                    // Already refuted, but the refutation may have died out unheard (sent while
                    // cut off): unless it is still being spread, spread it again.
                    if !self.gossip.holds(&me) {
                        cx.sometimes(probes::REFUTATION_REPEATED, true);
                        self.queue(Update { node: me, incarnation: self.incarnation, judgement: Judgement::Alive });
                    }
                    return;
                }
                self.incarnation = update.incarnation + 1;
                self.stats.refutations += 1;
                cx.sometimes(probes::REFUTED, true);
                // Lifeguard: being suspected hints that this node is the slow one.
                self.raise_awareness(cx, 1);
                self.originate(Update { node: me, incarnation: self.incarnation, judgement: Judgement::Alive });
                // Answer the accuser at once: the refutation goes first on every message.
                if by != me {
                    self.send(cx, by, MessageKind::Gossip);
                }
            }
        }
    }

    /// Begins to suspect `peer` at `incarnation`, on `by`'s word (this node's own or gossip's).
    pub(super) fn suspect(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, incarnation: u64, by: NodeId) {
        let members = self.members();
        let (min, max) = (self.config.suspicion_min(members), self.config.suspicion_max(members));
        let now = cx.now();
        self.set_health(cx, peer, Health::Suspect, incarnation);
        let suspicion = Suspicion::new(now, by, min, max, members);
        let timeout = suspicion.timeout();
        if let Some(tracked) = self.peers.get_mut(&peer) {
            tracked.suspicion = Some(suspicion);
        }
        self.stats.suspicions += 1;
        cx.set_timer(timeout, MembershipTimer::Suspicion { peer });
        let update = Update { node: peer, incarnation, judgement: Judgement::Suspect { by } };
        if by == cx.id() { self.originate(update) } else { self.relay(cx, update) }
    }

    /// Another suspecter of a peer already suspect: under Lifeguard the suspicion shortens.
    fn confirm(&mut self, cx: &mut dyn Context<Self>, update: Update, by: NodeId) {
        let now = cx.now();
        let lifeguard = self.config.lifeguard;
        let Some(suspicion) = self.peers.get_mut(&update.node).and_then(|peer| peer.suspicion.as_mut()) else {
            // Suspect without a running suspicion (restored, never judged): begin one.
            return self.suspect(cx, update.node, update.incarnation, by);
        };
        if !lifeguard || !suspicion.confirm(by) {
            return;
        }
        cx.sometimes(probes::SUSPICION_CONFIRMED, true);
        let wait = suspicion.deadline().saturating_duration_since(now);
        cx.set_timer(wait, MembershipTimer::Suspicion { peer: update.node });
        // Pass the confirmation on, so that others shorten their suspicions too.
        self.relay(cx, update);
    }

    /// A suspicion timer fired: declare the peer dead if its suspicion is still running and due.
    pub(super) fn suspicion_due(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) {
        let now = cx.now();
        let Some(tracked) = self.peers.get(&peer) else { return };
        let Some(suspicion) = &tracked.suspicion else { return };
        if tracked.health != Health::Suspect || suspicion.deadline() > now {
            return;
        }
        if self.config.planted(MembershipPlantedBug::NeverMarkDead) {
            return;
        }
        let incarnation = tracked.incarnation;
        self.stats.deaths_declared += 1;
        self.set_health(cx, peer, Health::Dead, incarnation);
        let me = cx.id();
        self.originate(Update { node: peer, incarnation, judgement: Judgement::Dead { by: me } });
        self.tell_the_accused(cx, peer);
    }

    /// Queues `update`, heard from another node, to be passed on (unless it came in a full-state
    /// exchange).
    fn relay(&mut self, cx: &mut dyn Context<Self>, update: Update) {
        if self.merging_sync || self.config.planted(MembershipPlantedBug::DisseminationStopsEarly) {
            return;
        }
        self.queue(update);
        let members = self.members() as u64;
        if random::chance(cx.rng(), RELAY_ROUNDS_PER_UPDATE, members.max(RELAY_ROUNDS_PER_UPDATE)) {
            self.owe_gossip_round();
        }
    }

    /// Queues `update`, a judgement this node made itself (from its own probes, suspicion timers
    /// or a refutation), and owes it a gossip round.
    fn originate(&mut self, update: Update) {
        self.queue(update);
        self.owe_gossip_round();
    }

    fn owe_gossip_round(&mut self) {
        self.gossip_rounds_owed = (self.gossip_rounds_owed + 1).min(GOSSIP_ROUNDS_OWED_MAX);
    }

    /// Queues `update` for piggybacking.
    pub(super) fn queue(&mut self, update: Update) {
        self.gossip.queue(update, self.config.updates_max);
    }

    /// Records `peer`'s new judgement, telling the node's other parts if its health changed.
    fn set_health(&mut self, cx: &mut dyn Context<Self>, id: NodeId, health: Health, incarnation: u64) {
        let now = cx.now();
        let Some(peer) = self.peers.get_mut(&id) else { return };
        peer.judged = true;
        peer.incarnation = incarnation;
        if health != Health::Suspect {
            peer.suspicion = None;
        }
        if peer.health == health {
            return;
        }
        let old = peer.health;
        peer.health = health;
        self.suspects.set(id, health == Health::Suspect);
        self.dead.set(id, health == Health::Dead);
        peer.health_since = now;
        cx.sometimes(probes::PEER_SUSPECTED, health == Health::Suspect);
        cx.sometimes(probes::PEER_DEAD, health == Health::Dead);
        cx.trace(TraceEvent::new("peer_health", format!("{} {old:?}->{health:?} #{incarnation}", id.short())));
        self.changes.push(JudgementChange { at: now, peer: id, from: old, to: health });
        self.notifications.push(MembershipNotification::HealthChanged { peer: id, health });
    }
}

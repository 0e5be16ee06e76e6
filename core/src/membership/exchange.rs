//! Full-state exchanges (anti-entropy): every `sync_interval` a node sends its judgements to one
//! peer, which merges them and answers with its own. A joining node learns the group this way,
//! the two sides of a healed partition find each other, and a node that gossip missed (news
//! piggybacked among hundreds of others while a partition cut off half the group) catches up.

use super::{Membership, MembershipTimer};
use crate::health::Health;
use crate::id::NodeId;
use crate::membership::messages::{Judgement, MessageKind, Update};
use crate::membership::names::probes;
use crate::node::Context;
use crate::random;

/// Periods a node waits for the answer to an exchange it began before it begins another, with a
/// peer held alive.
const EXCHANGE_ANSWER_PERIODS: u32 = 2;

impl Membership {
    /// Begins the scheduled exchange: every other one with a random peer held alive, the others
    /// with any tracked peer, dead ones too. Any peer is how the two sides of a healed partition
    /// meet again; a peer held alive is likely to answer.
    pub(super) fn exchange_with_random_peer(&mut self, cx: &mut dyn Context<Self>) {
        self.sync_with_any_next = !self.sync_with_any_next;
        let peer = if self.sync_with_any_next { self.any_peer(cx) } else { self.alive_peer(cx) };
        if let Some(peer) = peer {
            self.begin_exchange(cx, peer);
        }
    }

    /// An exchange this node began has gone unanswered for [`EXCHANGE_ANSWER_PERIODS`]: it begins
    /// another with a random peer held alive, and so on until one answers. Without it, a node
    /// under a partition and heavy loss whose few exchanges all went to cut-off peers or were
    /// lost learned nothing that gossip missed (1,000-node seed 82: a crash's death, spread while
    /// a halves partition had every node piggybacking 500 others, missed ~140 nodes, and two of
    /// them had no exchange answered in 52 s). It costs at most one exchange in
    /// [`EXCHANGE_ANSWER_PERIODS`] periods, and none while exchanges are answered.
    pub(super) fn retry_unanswered_exchange(&mut self, cx: &mut dyn Context<Self>) {
        let Some((_, began)) = self.exchange_unanswered else { return };
        let wait = self.config.probe_interval * EXCHANGE_ANSWER_PERIODS;
        if cx.now().saturating_duration_since(began) < wait {
            return;
        }
        self.exchange_unanswered = None;
        cx.sometimes(probes::EXCHANGE_RETRIED, true);
        if let Some(peer) = self.alive_peer(cx) {
            self.begin_exchange(cx, peer);
        }
    }

    /// Sends this node's judgements to `peer`, asking for its own.
    pub(super) fn begin_exchange(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) {
        let members = self.exchange_entries(cx);
        self.exchange_unanswered = Some((peer, cx.now()));
        self.send(cx, peer, MessageKind::Sync { reply: false, members });
    }

    /// Merges an exchange from `from` and answers it, unless it is itself an answer.
    pub(super) fn on_exchange(&mut self, cx: &mut dyn Context<Self>, from: NodeId, reply: bool, members: Vec<Update>) {
        cx.sometimes(probes::SYNC_MERGED, members.len() > 1);
        if reply && self.exchange_unanswered.is_some_and(|(peer, _)| peer == from) {
            self.exchange_unanswered = None;
        }
        // What a full-state exchange brings is not passed on by gossip: every node runs
        // exchanges of its own, and relaying a joiner's whole table would flood the queues.
        self.merging_sync = true;
        for update in members.into_iter().take(self.config.sync_entries_max) {
            self.apply(cx, update);
        }
        self.merging_sync = false;
        if !reply {
            let members = self.exchange_entries(cx);
            self.send(cx, from, MessageKind::Sync { reply: true, members });
        }
    }

    /// Sets the timer of the next scheduled exchange: `sync_interval`, jittered by half either way.
    pub(super) fn schedule_exchange(&self, cx: &mut dyn Context<Self>) {
        let interval = self.config.sync_interval;
        let next = random::duration_between(cx.rng(), interval / 2, interval + interval / 2);
        cx.set_timer(next, MembershipTimer::Sync);
    }

    /// A random tracked peer, if any.
    fn any_peer(&self, cx: &mut dyn Context<Self>) -> Option<NodeId> {
        if self.peers.is_empty() {
            return None;
        }
        let index = random::below(cx.rng(), self.peers.len() as u64) as usize;
        self.peers.keys().nth(index).copied()
    }

    /// A random peer held alive, or any tracked peer when none is found.
    fn alive_peer(&self, cx: &mut dyn Context<Self>) -> Option<NodeId> {
        let alive = self.sample_peers(cx, 1, |_, peer| peer.health == Health::Alive).first().copied();
        alive.or_else(|| self.any_peer(cx))
    }

    /// Up to `sync_entries_max` judgements for an exchange: this node's own, then its judged peers
    /// from a random point of the table.
    fn exchange_entries(&self, cx: &mut dyn Context<Self>) -> Vec<Update> {
        let me = cx.id();
        let mut entries = vec![Update { node: me, incarnation: self.incarnation, judgement: Judgement::Alive }];
        let judged: Vec<&NodeId> = self.peers.iter().filter(|(_, peer)| peer.judged).map(|(id, _)| id).collect();
        if judged.is_empty() {
            return entries;
        }
        let offset = random::below(cx.rng(), judged.len() as u64) as usize;
        let room = (self.config.sync_entries_max - 1).min(judged.len());
        entries.extend(judged.iter().cycle().skip(offset).take(room).filter_map(|id| self.judgement_of(me, id)));
        entries
    }
}

//! Talking to peers: queries out (each with a deadline, timed out by one tick per node), answers
//! in (taken only from the peer asked under that number), queries answered, and the routing table
//! updated from everything heard.

use super::names::{probes, trace};
use super::table::Observed;
use super::{
    ADDRESSES_MAX, Asked, Dht, DhtBody, DhtMessage, DhtNotification, DhtPlantedBug, DhtTimer, Goal, Key, Peer, Query,
    Task,
};
use super::{DhtResponse, config};
use crate::id::NodeId;
use crate::node::{Context, TraceEvent};
use crate::time::Duration;
use std::collections::BTreeMap;

impl Dht {
    /// Sends query `body` to `peer` with a timeout. False when `rpcs_max` are in flight.
    pub(super) fn ask(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, body: DhtBody, asked: Asked) -> bool {
        if self.queries.len() >= self.config.rpcs_max {
            cx.sometimes(probes::QUERY_REFUSED_BUSY, true);
            return false;
        }
        let number = self.number();
        let deadline = cx.now() + self.config.query_timeout;
        self.queries.insert(number, Query { peer, deadline, asked });
        if !self.ticking {
            self.ticking = true;
            cx.set_timer(self.tick_every(), DhtTimer::Tick);
        }
        self.stats.queries += 1;
        cx.send(peer, DhtMessage { query: number, address: self.config.address.clone(), body });
        true
    }

    /// Forgets lookup `number`'s queries still in flight (their answers will be strays).
    pub(super) fn forget_queries_of(&mut self, number: u64) {
        self.queries.retain(|_, query| !matches!(query.asked, Asked::Lookup(of) if of == number));
    }

    /// Gives back the memory of emptied maps and queues: a node at rest keeps none (a hundred
    /// thousand simulated nodes each keeping a map's last node would cost a few hundred MB).
    pub(super) fn release_idle(&mut self) {
        if self.tasks.is_empty() {
            self.tasks = BTreeMap::new();
        }
        if self.queries.is_empty() {
            self.queries = BTreeMap::new();
        }
        if self.refresh_queue.is_empty() {
            self.refresh_queue = Vec::new();
        }
    }

    pub(super) fn tick_every(&self) -> Duration {
        (self.config.query_timeout / 4).max(Duration::from_millis(1))
    }

    /// Times out the queries past their deadline; keeps ticking while any is in flight.
    pub(super) fn tick(&mut self, cx: &mut dyn Context<Self>) {
        self.ticking = false;
        let now = cx.now();
        let expired: Vec<u64> =
            self.queries.iter().filter(|(_, query)| query.deadline <= now).map(|(number, _)| *number).collect();
        for number in expired {
            if let Some(query) = self.queries.remove(&number) {
                self.stats.timeouts += 1;
                self.query_timed_out(cx, query);
            }
        }
        if !self.queries.is_empty() && !self.ticking {
            self.ticking = true;
            cx.set_timer(self.tick_every(), DhtTimer::Tick);
        }
        self.release_idle();
    }

    /// `peer` was heard from (at `address`, if it said).
    pub(super) fn heard_from(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, address: Option<String>) {
        if let Some(address) = address {
            self.remember_address(peer, address);
        }
        let evict_unpinged = self.config.planted(DhtPlantedBug::EvictWithoutPing);
        match self.table.observe(peer, evict_unpinged) {
            Observed::PingHead { head } => {
                self.stats.probes += 1;
                if !self.ask(cx, head, DhtBody::Ping, Asked::Probe) {
                    // No room to ping: the oldest contact keeps its place.
                    self.table.probe_answered(head);
                }
            }
            Observed::EvictedUnpinged { evicted } => {
                self.addresses.remove(&evicted);
                self.stats.evicted += 1;
                cx.trace(TraceEvent::new(trace::EVICTED, format!("{evicted} unpinged")));
            }
            Observed::Me | Observed::Refreshed | Observed::Added | Observed::Waiting => {}
        }
    }

    pub(super) fn remember_address(&mut self, peer: NodeId, address: String) {
        if address.len() > config::ADDRESS_BYTES_MAX {
            return;
        }
        if self.addresses.len() >= ADDRESSES_MAX && !self.addresses.contains_key(&peer) {
            let table = &self.table;
            self.addresses.retain(|known, _| table.contains(known));
            if self.addresses.len() >= ADDRESSES_MAX {
                return;
            }
        }
        self.addresses.insert(peer, address);
    }

    /// `peer` failed to answer a query: after `failures_max` in a row it is evicted.
    pub(super) fn query_failed(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) {
        if self.table.failed(&peer, self.config.failures_max) {
            self.evicted(cx, peer, "failed queries");
        }
    }

    pub(super) fn evicted(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, why: &str) {
        self.addresses.remove(&peer);
        self.stats.evicted += 1;
        cx.sometimes(probes::CONTACT_EVICTED, true);
        cx.trace(TraceEvent::new(trace::EVICTED, format!("{peer} {why}")));
        self.notifications.push(DhtNotification::Unresponsive { peer });
    }

    /// The peers this node lists for `key`, with their addresses where known.
    pub(super) fn peers_near(&self, key: &Key, asker: &NodeId) -> Vec<Peer> {
        self.table
            .closest(key, self.config.k, Some(asker))
            .into_iter()
            .map(|id| Peer { id, address: self.addresses.get(&id).cloned() })
            .collect()
    }

    /// Reads a peer list from an answer: at most `k`, never this node, addresses remembered.
    pub(super) fn take_peers(&mut self, me: NodeId, peers: Vec<Peer>) -> Vec<NodeId> {
        let mut out = Vec::with_capacity(peers.len().min(self.config.k));
        for peer in peers.into_iter().take(self.config.k) {
            if peer.id == me {
                continue;
            }
            if let Some(address) = peer.address {
                self.remember_address(peer.id, address);
            }
            out.push(peer.id);
        }
        out
    }

    pub(super) fn answer_query(&mut self, cx: &mut dyn Context<Self>, from: NodeId, query: u64, body: DhtBody) {
        let answer = match body {
            DhtBody::Ping => DhtBody::Pong,
            DhtBody::FindNode { target } => DhtBody::Nodes { closer: self.peers_near(&target, &from) },
            DhtBody::FindValue { key } => match self.records.get(&key, cx.now()) {
                Some(record) => DhtBody::Value { record: Some(record.clone()), closer: Vec::new() },
                None => DhtBody::Value { record: None, closer: self.peers_near(&key, &from) },
            },
            DhtBody::Store { record, ttl_ms } => {
                let ttl = Duration::from_millis(ttl_ms).min(self.config.record_ttl);
                let now = cx.now();
                let kept = self
                    .records
                    .keep(record, now + ttl, now, self.config.records_max, self.config.value_bytes_max)
                    .is_ok();
                cx.sometimes(probes::STORE_REFUSED, !kept);
                DhtBody::Stored { kept }
            }
            DhtBody::Pong | DhtBody::Nodes { .. } | DhtBody::Value { .. } | DhtBody::Stored { .. } => return,
        };
        cx.send(from, DhtMessage { query, address: None, body: answer });
    }

    pub(super) fn take_answer(&mut self, cx: &mut dyn Context<Self>, from: NodeId, number: u64, body: DhtBody) {
        let Some(query) = self.queries.get(&number) else {
            self.stats.stray_answers += 1;
            return;
        };
        if query.peer != from {
            self.stats.stray_answers += 1;
            return;
        }
        let Some(query) = self.queries.remove(&number) else { return };
        let me = cx.id();
        match (query.asked, body) {
            (Asked::Probe, DhtBody::Pong) => self.table.probe_answered(from),
            (Asked::Verify, DhtBody::Pong) => {}
            (Asked::Lookup(task), DhtBody::Nodes { closer }) => {
                let closer = self.take_peers(me, closer);
                if let Some(Task::Looking { lookup, .. }) = self.tasks.get_mut(&task) {
                    lookup.answered(&from, &closer);
                }
                self.advance(cx, task);
            }
            (Asked::Lookup(task), DhtBody::Value { record, closer }) => {
                let closer = self.take_peers(me, closer);
                let found = record.filter(|record| {
                    record.value.len() <= self.config.value_bytes_max
                        && matches!(self.tasks.get(&task), Some(Task::Looking { lookup, .. }) if lookup.target() == record.key)
                });
                if let Some(record) = found
                    && let Some(Task::Looking { lookup, goal: Goal::Get(request) }) = self.tasks.get(&task)
                {
                    let (request, hops) = (*request, lookup.result().hops.max(1));
                    self.tasks.remove(&task);
                    self.forget_queries_of(task);
                    cx.reply(request, DhtResponse::Value { value: Some(record.value), hops });
                    return;
                }
                if let Some(Task::Looking { lookup, .. }) = self.tasks.get_mut(&task) {
                    lookup.answered(&from, &closer);
                }
                self.advance(cx, task);
            }
            (Asked::Store(task), DhtBody::Stored { kept }) => self.stored(cx, task, kept),
            (asked, _) => {
                // An answer of the wrong kind: as good as none.
                self.stats.stray_answers += 1;
                self.query_timed_out(cx, Query { peer: from, deadline: query.deadline, asked });
            }
        }
    }

    pub(super) fn query_timed_out(&mut self, cx: &mut dyn Context<Self>, query: Query) {
        match query.asked {
            Asked::Probe => {
                let held = self.table.contains(&query.peer);
                self.table.probe_failed(query.peer);
                if held {
                    self.evicted(cx, query.peer, "unanswered ping of a full bucket");
                }
            }
            Asked::Verify => {
                if self.table.contains(&query.peer) {
                    self.table.remove(&query.peer);
                    self.evicted(cx, query.peer, "judged dead, unanswered ping");
                }
            }
            Asked::Lookup(task) => {
                self.query_failed(cx, query.peer);
                if let Some(Task::Looking { lookup, .. }) = self.tasks.get_mut(&task) {
                    lookup.failed(&query.peer);
                }
                self.advance(cx, task);
            }
            Asked::Store(task) => {
                self.query_failed(cx, query.peer);
                self.stored(cx, task, false);
            }
        }
    }
}

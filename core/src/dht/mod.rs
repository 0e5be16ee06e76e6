//! The DHT: Kademlia discovery and routing, a part of `PangeaNode` (and a [`Node`] of its own, so
//! the simulator can run a hundred thousand of them alone).
//!
//! - [`key`]: 256-bit keys (a node's id is its position), XOR distance, buckets.
//! - [`table`]: the routing table, `k` contacts per bucket; a full bucket pings its oldest contact
//!   before a newcomer may replace it.
//! - [`lookup`]: one iterative lookup, pure (α queries in flight, up to `k` once it stalls,
//!   optional disjoint paths).
//! - [`records`]: values kept for others until they expire, and values published and republished.
//! - [`messages`]: queries and answers between nodes; requests and answers of clients.
//!
//! This file sends the queries, times them out, and routes answers to the lookup or probe that
//! asked. A node joins by looking up its own id through its bootstrap contacts and then refreshing
//! every bucket farther out than its nearest neighbour; later, buckets no lookup went through for
//! `refresh_every` are refreshed. A contact whose queries fail `failures_max` times in a row is
//! evicted and reported ([`DhtNotification::Unresponsive`]) to health tracking; a peer health
//! tracking judges dead is removed ([`Dht::set_peer_health`]).

pub mod config;
pub mod key;
pub mod lookup;
pub mod messages;
pub mod names;
pub mod records;
pub mod table;
#[cfg(test)]
mod tests;

pub use config::{DhtConfig, DhtConfigError, DhtPlantedBug};
pub use key::{Distance, Key};
pub use lookup::{Lookup, LookupResult};
pub use messages::{DhtBody, DhtMessage, DhtRefusal, DhtRequest, DhtResponse, Peer, Record};
pub use table::{Observed, RoutingTable};

use crate::health::Health;
use crate::id::NodeId;
use crate::node::{Context, Node, RequestId, TraceEvent};
use crate::time::Duration;
use names::{probes, trace};
use std::collections::BTreeMap;

/// Refresh lookups a node runs at once (joining refreshes every bucket beyond the nearest
/// neighbour; one after the other, they cost a joining node little memory at a time).
pub const REFRESHES_AT_ONCE: usize = 2;

/// Most peer addresses a node remembers (only the real node has any: contacts' and candidates').
pub const ADDRESSES_MAX: usize = 4096;

/// The DHT's timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DhtTimer {
    /// Time to look for queries not answered in time (armed while any is in flight, every
    /// quarter of `query_timeout`: one timer per node, not one per query).
    Tick,
    /// Time to refresh stale buckets and drop expired records.
    Refresh,
    /// Time to store the published records again.
    Republish,
    /// Time to join (see [`DhtConfig::join_within`]).
    Join,
}

/// What the DHT tells the rest of the node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DhtNotification {
    /// `peer` stopped answering and was evicted from the routing table.
    Unresponsive {
        /// The peer.
        peer: NodeId,
    },
    /// A lookup another part asked for ([`Dht::find_closest`]) ended.
    Found {
        /// The key looked up.
        target: Key,
        /// What the part asked it for.
        purpose: u64,
        /// The closest peers that answered, nearest first.
        closest: Vec<NodeId>,
    },
}

/// Counters of what the DHT did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DhtStats {
    /// Lookups started.
    pub lookups: u64,
    /// Queries sent.
    pub queries: u64,
    /// Queries not answered in time.
    pub timeouts: u64,
    /// Contacts evicted after failed queries or a failed ping.
    pub evicted: u64,
    /// Pings sent to a full bucket's oldest contact.
    pub probes: u64,
    /// Answers dropped: not from the peer asked, or for no query.
    pub stray_answers: u64,
}

/// What a lookup is for.
#[derive(Clone, Debug, Hash)]
enum Goal {
    /// A client's `FindNode`.
    Client(RequestId),
    /// A client's `Get` (a value lookup).
    Get(RequestId),
    /// Publishing a record (a client's `Put`, or a republish): then stored at the closest.
    Put { request: Option<RequestId>, record: Record },
    /// Joining: the own id; the buckets beyond the nearest neighbour follow.
    Join,
    /// Joining again on a refresh (the own id, through the bootstrap contacts too).
    Rejoin,
    /// Refreshing a bucket.
    Refresh,
    /// Another part of the node asked (see [`Dht::find_closest`]).
    Part(u64),
}

/// A lookup running, or a record being stored at the peers one found.
#[derive(Clone, Debug, Hash)]
enum Task {
    Looking { lookup: Lookup, goal: Goal },
    Storing { request: Option<RequestId>, pending: u32, kept: u32 },
}

/// What a query in flight is for.
#[derive(Clone, Copy, Debug, Hash)]
enum Asked {
    /// A lookup's query.
    Lookup(u64),
    /// A ping of a full bucket's oldest contact.
    Probe,
    /// A ping of a contact health tracking judged dead.
    Verify,
    /// A record stored for a task.
    Store(u64),
}

/// A query in flight.
#[derive(Clone, Debug, Hash)]
struct Query {
    peer: NodeId,
    deadline: crate::time::Instant,
    asked: Asked,
}

/// One node's DHT.
#[derive(Clone, Debug, Hash)]
pub struct Dht {
    config: DhtConfig,
    table: RoutingTable,
    tasks: BTreeMap<u64, Task>,
    queries: BTreeMap<u64, Query>,
    next_number: u64,
    records: records::Records,
    addresses: BTreeMap<NodeId, String>,
    notifications: Vec<DhtNotification>,
    stats: DhtStats,
    /// A [`DhtTimer::Tick`] is armed.
    ticking: bool,
    /// A [`DhtTimer::Republish`] is armed (only while this node publishes something).
    republishing: bool,
    /// Keys of buckets waiting for their refresh lookup.
    refresh_queue: Vec<Key>,
}

impl Dht {
    /// A DHT with `config`, not yet started.
    pub fn new(config: DhtConfig) -> Result<Dht, DhtConfigError> {
        config.validate()?;
        Ok(Dht {
            table: RoutingTable::new(NodeId([0; 32]), config.k),
            config,
            tasks: BTreeMap::new(),
            queries: BTreeMap::new(),
            next_number: 0,
            records: records::Records::default(),
            addresses: BTreeMap::new(),
            notifications: Vec::new(),
            stats: DhtStats::default(),
            ticking: false,
            republishing: false,
            refresh_queue: Vec::new(),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &DhtConfig {
        &self.config
    }

    /// The routing table.
    #[must_use]
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> &DhtStats {
        &self.stats
    }

    /// Lookups (and stores) running.
    #[must_use]
    pub fn tasks_running(&self) -> usize {
        self.tasks.len()
    }

    /// Where peers listen, as learned through the DHT (the real node's; empty in the simulator).
    #[must_use]
    pub fn addresses(&self) -> &BTreeMap<NodeId, String> {
        &self.addresses
    }

    /// Takes what the DHT has to tell the rest of the node.
    pub fn take_notifications(&mut self) -> Vec<DhtNotification> {
        std::mem::take(&mut self.notifications)
    }

    /// The live peers nearest `key` this node knows, without asking anyone.
    #[must_use]
    pub fn closest_known(&self, key: &Key, count: usize) -> Vec<NodeId> {
        self.table.closest(key, count, None)
    }

    /// Health tracking judged `peer`. A contact judged dead is pinged, and leaves the routing
    /// table only if it does not answer: the judgement may be of an older incarnation than the
    /// one this node talks to (gossip lags a quick restart).
    pub fn set_peer_health(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, health: Health) {
        let checking = self.queries.values().any(|query| query.peer == peer && matches!(query.asked, Asked::Verify));
        if health == Health::Dead && self.table.contains(&peer) && !checking {
            self.ask(cx, peer, DhtBody::Ping, Asked::Verify);
        }
    }

    /// Starts a lookup of the `k` peers nearest `target` for another part of the node; its end
    /// comes back as [`DhtNotification::Found`] with `purpose`. False when too many lookups run.
    pub fn find_closest(&mut self, cx: &mut dyn Context<Self>, target: Key, purpose: u64) -> bool {
        self.start_lookup(cx, target, Goal::Part(purpose))
    }

    // ----- lookups -----

    fn number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }

    /// Starts a lookup of `target`. False (and nothing started) when `lookups_max` run already.
    fn start_lookup(&mut self, cx: &mut dyn Context<Self>, target: Key, goal: Goal) -> bool {
        if self.tasks.len() >= self.config.lookups_max {
            cx.sometimes(probes::LOOKUP_REFUSED_BUSY, true);
            return false;
        }
        let config = &self.config;
        let mut seeds = self.table.closest(&target, config.k * config.disjoint_paths, None);
        if matches!(goal, Goal::Join | Goal::Rejoin) {
            // The bootstrap contacts too, though the table may have dropped them: a node cut off
            // from part of the network (a partition that lasted) finds its way back through them.
            let me = self.table.me();
            let missing: Vec<NodeId> =
                config.bootstrap.iter().filter(|id| Key::from(*id) != me && !seeds.contains(id)).copied().collect();
            seeds.extend(missing);
        }
        let mut lookup =
            Lookup::new(target, &seeds, config.k, config.alpha, config.disjoint_paths, config.candidates_max);
        if self.config.planted(DhtPlantedBug::StopAtFirstStall) {
            lookup.plant_stop_at_first_stall();
        }
        self.table.touch(&target, cx.now());
        self.stats.lookups += 1;
        let number = self.number();
        self.tasks.insert(number, Task::Looking { lookup, goal });
        self.advance(cx, number);
        true
    }

    /// Sends the queries a lookup wants now, or ends it when it is done.
    fn advance(&mut self, cx: &mut dyn Context<Self>, number: u64) {
        loop {
            let Some(Task::Looking { lookup, goal }) = self.tasks.get_mut(&number) else { return };
            if lookup.is_done() {
                return self.finish(cx, number);
            }
            let body = match goal {
                Goal::Get(_) => DhtBody::FindValue { key: lookup.target() },
                _ => DhtBody::FindNode { target: lookup.target() },
            };
            let peers = lookup.next_queries();
            if peers.is_empty() {
                return;
            }
            let refused: Vec<NodeId> =
                peers.into_iter().filter(|peer| !self.ask(cx, *peer, body.clone(), Asked::Lookup(number))).collect();
            if refused.is_empty() {
                // Wait for answers, unless the lookup is done without them.
                let Some(Task::Looking { lookup, .. }) = self.tasks.get(&number) else { return };
                if lookup.is_done() {
                    self.finish(cx, number);
                }
                return;
            }
            // No room for these queries: they count as failed, and others may be tried.
            if let Some(Task::Looking { lookup, .. }) = self.tasks.get_mut(&number) {
                for peer in &refused {
                    lookup.failed(peer);
                }
            }
        }
    }

    /// Sends query `body` to `peer` with a timeout. False when `rpcs_max` are in flight.
    fn ask(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, body: DhtBody, asked: Asked) -> bool {
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

    /// Ends lookup `number`: answers whoever asked, and goes on with what follows.
    fn finish(&mut self, cx: &mut dyn Context<Self>, number: u64) {
        let Some(Task::Looking { lookup, goal }) = self.tasks.remove(&number) else { return };
        self.forget_queries_of(number);
        let result = lookup.result();
        match goal {
            Goal::Client(request) => {
                cx.reply(
                    request,
                    DhtResponse::Closest { peers: result.closest, hops: result.hops, queried: result.queried },
                );
            }
            Goal::Get(request) => {
                cx.reply(request, DhtResponse::Value { value: None, hops: result.hops });
            }
            Goal::Put { request, record } => self.store_at(cx, number, request, record, &result.closest),
            Goal::Join if result.closest.is_empty() => {
                // Nobody answered (the bootstrap contacts are down or unreachable): try again soon.
                cx.sometimes(probes::JOIN_RETRIED, true);
                cx.set_timer(self.config.query_timeout * 4, DhtTimer::Join);
            }
            Goal::Join => self.refresh_beyond_nearest(cx),
            Goal::Refresh => self.next_refresh(cx),
            Goal::Rejoin => {}
            Goal::Part(purpose) => {
                self.notifications.push(DhtNotification::Found {
                    target: lookup.target(),
                    purpose,
                    closest: result.closest,
                });
            }
        }
    }

    /// Forgets lookup `number`'s queries still in flight (their answers will be strays).
    fn forget_queries_of(&mut self, number: u64) {
        self.queries.retain(|_, query| !matches!(query.asked, Asked::Lookup(of) if of == number));
    }

    /// Gives back the memory of emptied maps and queues: a node at rest keeps none (a hundred
    /// thousand simulated nodes each keeping a map's last node would cost a few hundred MB).
    fn release_idle(&mut self) {
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

    fn tick_every(&self) -> Duration {
        (self.config.query_timeout / 4).max(Duration::from_millis(1))
    }

    /// Times out the queries past their deadline; keeps ticking while any is in flight.
    fn tick(&mut self, cx: &mut dyn Context<Self>) {
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

    /// After joining: a lookup of a key in each bucket farther out than the nearest neighbour,
    /// so that every bucket has contacts.
    fn refresh_beyond_nearest(&mut self, cx: &mut dyn Context<Self>) {
        let Some(deepest) = self.table.deepest_used() else { return };
        let buckets: Vec<usize> = (0..deepest).collect();
        self.refresh(cx, &buckets);
    }

    /// Queues refresh lookups of `buckets` (those queued already stay), and starts what may run.
    fn refresh(&mut self, cx: &mut dyn Context<Self>, buckets: &[usize]) {
        for bucket in buckets {
            let key = self.table.me().in_bucket(*bucket, random_key(cx));
            if !self.refresh_queue.iter().any(|queued| self.table.bucket_of(queued) == Some(*bucket)) {
                self.refresh_queue.push(key);
            }
        }
        let running =
            self.tasks.values().filter(|task| matches!(task, Task::Looking { goal: Goal::Refresh, .. })).count();
        for _ in running..REFRESHES_AT_ONCE {
            self.next_refresh(cx);
        }
    }

    /// Starts the next queued refresh lookup, if any.
    fn next_refresh(&mut self, cx: &mut dyn Context<Self>) {
        if let Some(key) = self.refresh_queue.pop()
            && !self.start_lookup(cx, key, Goal::Refresh)
        {
            self.refresh_queue.push(key);
        }
    }

    /// Stores `record` at `peers` (the closest a lookup found) for task `number`.
    fn store_at(
        &mut self,
        cx: &mut dyn Context<Self>,
        number: u64,
        request: Option<RequestId>,
        record: Record,
        peers: &[NodeId],
    ) {
        let ttl_ms = u64::try_from(self.config.record_ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pending = 0;
        for peer in peers {
            let body = DhtBody::Store { record: record.clone(), ttl_ms };
            if self.ask(cx, *peer, body, Asked::Store(number)) {
                pending += 1;
            }
        }
        if pending == 0 {
            if let Some(request) = request {
                cx.reply(request, DhtResponse::Stored { replicas: 0 });
            }
            return;
        }
        self.tasks.insert(number, Task::Storing { request, pending, kept: 0 });
    }

    /// A store of task `number` was answered (`kept`) or timed out.
    fn stored(&mut self, cx: &mut dyn Context<Self>, number: u64, kept: bool) {
        let Some(Task::Storing { request, pending, kept: count }) = self.tasks.get_mut(&number) else { return };
        *pending -= 1;
        *count += u32::from(kept);
        if *pending == 0 {
            let (request, replicas) = (*request, *count);
            self.tasks.remove(&number);
            if let Some(request) = request {
                cx.reply(request, DhtResponse::Stored { replicas });
            }
        }
    }

    // ----- the routing table -----

    /// `peer` was heard from (at `address`, if it said).
    fn heard_from(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, address: Option<String>) {
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

    fn remember_address(&mut self, peer: NodeId, address: String) {
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
    fn query_failed(&mut self, cx: &mut dyn Context<Self>, peer: NodeId) {
        if self.table.failed(&peer, self.config.failures_max) {
            self.evicted(cx, peer, "failed queries");
        }
    }

    fn evicted(&mut self, cx: &mut dyn Context<Self>, peer: NodeId, why: &str) {
        self.addresses.remove(&peer);
        self.stats.evicted += 1;
        cx.sometimes(probes::CONTACT_EVICTED, true);
        cx.trace(TraceEvent::new(trace::EVICTED, format!("{peer} {why}")));
        self.notifications.push(DhtNotification::Unresponsive { peer });
    }

    /// The peers this node lists for `key`, with their addresses where known.
    fn peers_near(&self, key: &Key, asker: &NodeId) -> Vec<Peer> {
        self.table
            .closest(key, self.config.k, Some(asker))
            .into_iter()
            .map(|id| Peer { id, address: self.addresses.get(&id).cloned() })
            .collect()
    }

    /// Reads a peer list from an answer: at most `k`, never this node, addresses remembered.
    fn take_peers(&mut self, me: NodeId, peers: Vec<Peer>) -> Vec<NodeId> {
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

    // ----- inputs -----

    fn answer_query(&mut self, cx: &mut dyn Context<Self>, from: NodeId, query: u64, body: DhtBody) {
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

    fn take_answer(&mut self, cx: &mut dyn Context<Self>, from: NodeId, number: u64, body: DhtBody) {
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

    fn query_timed_out(&mut self, cx: &mut dyn Context<Self>, query: Query) {
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

    /// The refresh timer: expired records go, and buckets no lookup went through lately are
    /// refreshed.
    fn on_refresh(&mut self, cx: &mut dyn Context<Self>) {
        let now = cx.now();
        self.records.expire(now);
        let every_nanos = u64::try_from(self.config.refresh_every.as_nanos()).unwrap_or(u64::MAX);
        if let Some(since) = now.as_nanos().checked_sub(every_nanos) {
            let stale = self.table.stale_buckets(crate::time::Instant::from_nanos(since));
            self.refresh(cx, &stale);
            // Joining again through the bootstrap contacts mends a table that lost a whole part
            // of the network (a long partition evicts every contact across it).
            let joining = self.tasks.values().any(|task| matches!(task, Task::Looking { goal: Goal::Rejoin, .. }));
            if !joining {
                let me = Key::from(cx.id());
                self.start_lookup(cx, me, Goal::Rejoin);
            }
        }
        let jitter = crate::random::duration_between(cx.rng(), Duration::ZERO, self.config.refresh_every / 4);
        cx.set_timer(self.config.refresh_every / 2 + jitter, DhtTimer::Refresh);
    }

    /// Joins: a lookup of the own id through the bootstrap contacts (the buckets beyond the
    /// nearest neighbour are refreshed when it ends).
    fn join(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        if !self.table.is_empty() || self.config.bootstrap.iter().any(|contact| *contact != me) {
            self.start_lookup(cx, Key::from(me), Goal::Join);
        }
    }

    fn republish(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let published: Vec<Record> = self
            .records
            .published()
            .map(|(key, value)| Record { key: *key, value: value.clone(), publisher: me })
            .collect();
        for record in published {
            if !self.start_lookup(cx, record.key, Goal::Put { request: None, record: record.clone() }) {
                break;
            }
        }
        cx.set_timer(self.config.republish_every, DhtTimer::Republish);
    }
}

/// 256 random bits.
fn random_key(cx: &mut dyn Context<Dht>) -> [u8; 32] {
    let mut out = [0; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&cx.rng().next_u64().to_le_bytes());
    }
    out
}

impl Node for Dht {
    type Message = DhtMessage;
    type Timer = DhtTimer;
    type Request = DhtRequest;
    type Response = DhtResponse;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        self.table = RoutingTable::new(me, self.config.k);
        for contact in self.config.bootstrap.clone() {
            self.table.observe(contact, false);
        }
        let jitter = crate::random::duration_between(cx.rng(), Duration::ZERO, self.config.refresh_every / 4);
        cx.set_timer(self.config.refresh_every / 2 + jitter, DhtTimer::Refresh);
        if self.config.join_within == Duration::ZERO {
            self.join(cx);
        } else {
            let after = crate::random::duration_between(cx.rng(), Duration::ZERO, self.config.join_within);
            cx.set_timer(after, DhtTimer::Join);
        }
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: DhtMessage) {
        if from == cx.id() {
            return;
        }
        self.heard_from(cx, from, message.address);
        if message.body.is_query() {
            self.answer_query(cx, from, message.query, message.body);
        } else {
            self.take_answer(cx, from, message.query, message.body);
            self.release_idle();
        }
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: DhtTimer) {
        match timer {
            DhtTimer::Tick => self.tick(cx),
            DhtTimer::Refresh => self.on_refresh(cx),
            DhtTimer::Republish => self.republish(cx),
            DhtTimer::Join => self.join(cx),
        }
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: DhtRequest) {
        let busy = DhtResponse::Refused(DhtRefusal::Busy(u32::try_from(self.config.lookups_max).unwrap_or(u32::MAX)));
        match body {
            DhtRequest::FindNode { target } => {
                if !self.start_lookup(cx, target, Goal::Client(request)) {
                    cx.reply(request, busy);
                }
            }
            DhtRequest::Get { key } => {
                if let Some(record) = self.records.get(&key, cx.now()) {
                    let value = record.value.clone();
                    cx.reply(request, DhtResponse::Value { value: Some(value), hops: 0 });
                } else if !self.start_lookup(cx, key, Goal::Get(request)) {
                    cx.reply(request, busy);
                }
            }
            DhtRequest::Put { key, value } => {
                if value.len() > self.config.value_bytes_max {
                    let refusal = DhtRefusal::ValueTooLarge {
                        bytes: value.len() as u64,
                        limit: self.config.value_bytes_max as u64,
                    };
                    cx.reply(request, DhtResponse::Refused(refusal));
                    return;
                }
                if !self.records.publish(key, value.clone(), self.config.published_max) {
                    let limit = u32::try_from(self.config.published_max).unwrap_or(u32::MAX);
                    cx.reply(request, DhtResponse::Refused(DhtRefusal::TooManyPublished(limit)));
                    return;
                }
                if !self.republishing {
                    self.republishing = true;
                    cx.set_timer(self.config.republish_every, DhtTimer::Republish);
                }
                let record = Record { key, value, publisher: cx.id() };
                if !self.start_lookup(cx, key, Goal::Put { request: Some(request), record }) {
                    cx.reply(request, busy);
                }
            }
            DhtRequest::Table => {
                let buckets = self
                    .table
                    .buckets()
                    .iter()
                    .enumerate()
                    .filter(|(_, bucket)| !bucket.contacts().is_empty())
                    .map(|(index, bucket)| (index as u16, bucket.contacts().len() as u16))
                    .collect();
                let contacts = self.table.contacts().map(|contact| contact.id).collect();
                cx.reply(request, DhtResponse::Table { buckets, contacts });
            }
        }
    }
}

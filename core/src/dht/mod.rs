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
//! - `queries`: queries out and their deadlines, answers in, queries answered, the table
//!   updated from everything heard; `tasks`: lookups and what they are for (a client's, another
//!   part's, joining, refreshing, publishing).
//!
//! This file holds the state, what other parts may ask of it, and the [`Node`] inputs. A node joins by looking up its own id through its bootstrap contacts and then refreshing
//! every bucket farther out than its nearest neighbour; later, buckets no lookup went through for
//! `refresh_every` are refreshed. A contact whose queries fail `failures_max` times in a row is
//! evicted and reported ([`DhtNotification::Unresponsive`]) to health tracking; a peer health
//! tracking judges dead is removed ([`Dht::set_peer_health`]).

pub mod config;
pub mod key;
pub mod lookup;
pub mod messages;
pub mod names;
mod queries;
pub mod records;
pub mod table;
mod tasks;
#[cfg(test)]
mod tests;

pub use config::{DhtConfig, DhtConfigError, DhtPlantedBug};
pub use key::{Distance, Key};
pub use lookup::{Lookup, LookupResult};
pub use messages::{DhtBody, DhtMessage, DhtRefusal, DhtRequest, DhtResponse, Peer, Record};
pub use table::{Observed, RoutingTable};

use crate::health::Health;
use crate::id::NodeId;
use crate::node::{Context, Node, RequestId};
use crate::time::Duration;

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

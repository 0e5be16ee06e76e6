//! `PangeaNode`: the node's top level, composing its subsystems into one state machine.
//!
//! Today it holds membership and health tracking ([`Membership`]), the replicated metadata log
//! ([`Replica`]`<`[`Metadata`]`>`, whose parts include the graph and the event store), the object
//! store ([`Objects`]) and the DHT ([`Dht`]); compute plugs in the same way. Every input goes to the part it belongs to through a [`Scoped`] context; after each input
//! the node drains the parts' notifications and hands them on, in a fixed order:
//!
//! - membership's judgement of a peer goes to the log (a leader stops resending accepts to a peer
//!   judged dead);
//! - the log's configuration goes to membership, which tracks every member, so every node's health
//!   view covers the whole configuration;
//! - both go to the object store: the configuration is where shards may be placed, and a peer
//!   judged dead takes none;
//! - a peer judged dead is checked by the DHT (pinged, and dropped if silent), and a contact the
//!   DHT found silent is probed by membership next, out of turn;
//! - the object store places each new chunk on the peers a DHT lookup finds nearest it: it asks
//!   ([`ObjectsNotification::Locate`]), the DHT looks up, and its answer goes back to the store.
//!
//! The object store also reads the manifests the log applied (for garbage collection and repair),
//! handed to it with each input that needs them.
//!
//! Before a peer's message reaches any part, the node's userspace firewall ([`Firewall`]) decides
//! on it: with [`FirewallConfig::members_only`], a message from a peer outside the log's current
//! configuration (and [`FirewallConfig::also_allow`]) is dropped, and every peer is held to
//! [`FirewallConfig::rate`]. By default the firewall lets everything through.
//!
//! After each input the node also looks at its storage ([`storage_watch`]): when it failed, the node
//! refuses what needs the log, reopens the storage with back-off, and rebuilds itself as a restart
//! would.

mod messages;
pub mod names;
pub mod storage_watch;
#[cfg(test)]
mod tests;

pub use messages::{
    MetadataRequest, MetadataResponse, NodeRequest, NodeResponse, NodeTimer, NodeView, PangeaMessage, PangeaRequest,
    PangeaResponse, PangeaTimer,
};
pub use storage_watch::StorageStatus;

use crate::compose::Scoped;
use crate::dht::{Dht, DhtConfig, DhtConfigError, DhtNotification, Key};
use crate::events::EventsConfig;
use crate::firewall::{Firewall, FirewallConfig, FirewallConfigError, FirewallCounters, Verdict};
use crate::graph::{GraphConfig, GraphConfigError};
use crate::id::NodeId;
use crate::log::{LogConfig, LogConfigError, LogNotification, Replica};
use crate::membership::{HealthConfig, HealthConfigError, Membership, MembershipNotification};
use crate::metadata::records::RecordLimits;
use crate::metadata::{Metadata, MetadataConfig};
use crate::node::{Context, Node, RequestId};
use crate::objects::{Objects, ObjectsConfig, ObjectsConfigError, ObjectsNotification};
use names::probes;
use std::collections::BTreeSet;
use storage_watch::{StorageWatch, WatchAction};
use thiserror::Error;

/// Most rounds of notifications handed on after one input; each round may cause the next, and a
/// loop between parts is a bug this bound turns into a trace event instead of a hang.
const NOTIFICATION_ROUNDS_MAX: usize = 8;

/// How a Pangea node is set up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PangeaConfig {
    /// Membership and health tracking.
    pub health: HealthConfig,
    /// The metadata log (its members are the cluster's initial configuration).
    pub log: LogConfig,
    /// How large records may be.
    pub records: RecordLimits,
    /// The object store.
    pub objects: ObjectsConfig,
    /// The DHT (with no bootstrap contacts of its own, it joins through the initial
    /// configuration's members).
    pub dht: DhtConfig,
    /// The replicated property graph.
    pub graph: GraphConfig,
    /// The replicated event store.
    pub events: EventsConfig,
    /// The userspace firewall in front of every part.
    pub firewall: FirewallConfig,
}

impl PangeaConfig {
    /// Defaults for a cluster that began as `members`.
    #[must_use]
    pub fn new(members: Vec<NodeId>) -> PangeaConfig {
        PangeaConfig {
            health: HealthConfig::default(),
            log: LogConfig::new(members),
            records: RecordLimits::default(),
            objects: ObjectsConfig::default(),
            dht: DhtConfig::default(),
            graph: GraphConfig::default(),
            events: EventsConfig::default(),
            firewall: FirewallConfig::default(),
        }
    }

    /// Checks every part's settings, and that a record of the largest size fits a log entry.
    pub fn validate(&self) -> Result<(), PangeaConfigError> {
        self.health.validate()?;
        self.log.validate()?;
        self.objects.validate()?;
        self.dht.validate()?;
        self.graph.validate()?;
        self.firewall.rate.validate()?;
        if !self.events.is_valid() {
            return Err(PangeaConfigError::Events);
        }
        let record_bytes = self.records.key_bytes_max + self.records.value_bytes_max + 64;
        if record_bytes > self.log.entry_bytes_max {
            return Err(PangeaConfigError::RecordsOverEntry {
                record_bytes,
                entry_bytes_max: self.log.entry_bytes_max,
            });
        }
        Ok(())
    }
}

/// A [`PangeaConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PangeaConfigError {
    /// The health settings.
    #[error("health: {0}")]
    Health(#[from] HealthConfigError),
    /// The log settings.
    #[error("log: {0}")]
    Log(#[from] LogConfigError),
    /// The object store's settings.
    #[error("objects: {0}")]
    Objects(#[from] ObjectsConfigError),
    /// The DHT's settings.
    #[error("dht: {0}")]
    Dht(#[from] DhtConfigError),
    /// The graph's settings.
    #[error("graph: {0}")]
    Graph(#[from] GraphConfigError),
    /// The firewall's settings.
    #[error("firewall: {0}")]
    Firewall(#[from] FirewallConfigError),
    /// An event store limit is zero.
    #[error("events: every limit must be positive")]
    Events,
    /// The largest record would not fit a log entry.
    #[error(
        "a record of the largest key and value takes {record_bytes} bytes, over the log's entry limit of {entry_bytes_max}"
    )]
    RecordsOverEntry {
        /// Bytes of the largest record.
        record_bytes: usize,
        /// The log's limit.
        entry_bytes_max: usize,
    },
}

/// A Pangea node: every subsystem, composed.
#[derive(Clone, Debug, Hash)]
pub struct PangeaNode {
    config: PangeaConfig,
    membership: Membership,
    log: Replica<Metadata>,
    objects: Objects,
    dht: Dht,
    storage: StorageWatch,
    firewall: Firewall<NodeId>,
    /// The log's current configuration, as the firewall's allow-list.
    members: BTreeSet<NodeId>,
}

impl PangeaNode {
    /// A node with `config`, not yet started.
    pub fn new(config: PangeaConfig) -> Result<PangeaNode, PangeaConfigError> {
        config.validate()?;
        let metadata = Metadata::new(MetadataConfig {
            records: config.records,
            put_ops_max: config.objects.put_ops_max,
            graph: config.graph,
            events: config.events,
        });
        let mut objects = Objects::new(config.objects.clone())?;
        objects.set_members(&config.log.members);
        objects.place_by_lookup();
        let mut dht = config.dht.clone();
        if dht.bootstrap.is_empty() {
            dht.bootstrap.clone_from(&config.log.members);
        }
        let firewall = Firewall::new(config.firewall.rate)?.with_planted_bug(config.firewall.planted_bug);
        Ok(PangeaNode {
            members: config.log.members.iter().copied().collect(),
            firewall,
            dht: Dht::new(dht)?,
            membership: Membership::new(config.health.clone())?,
            log: Replica::new(config.log.clone(), metadata)?,
            objects,
            config,
            storage: StorageWatch::default(),
        })
    }

    /// Whether the node's storage works.
    #[must_use]
    pub fn storage_status(&self) -> &StorageStatus {
        &self.storage.status
    }

    /// Looks at the storage after an input: when it has just failed, the log steps down (its waiting
    /// clients learn to retry) and a reopen is armed.
    fn watch_storage(&mut self, cx: &mut dyn Context<Self>) {
        if let WatchAction::Failed(after) = self.storage.check(cx) {
            self.log.storage_failed(&mut Scoped::new(cx));
            cx.set_timer(after, PangeaTimer::Node(NodeTimer::ReopenStorage));
        }
    }

    /// Reopens the failed storage; on success rebuilds the node as a restart would (timers
    /// cancelled, parts new, durable state read back), otherwise tries again later.
    fn reopen_storage(&mut self, cx: &mut dyn Context<Self>) {
        if !self.storage.reopen(cx) {
            cx.set_timer(self.storage.retry_after(), PangeaTimer::Node(NodeTimer::ReopenStorage));
            return;
        }
        let watch = std::mem::take(&mut self.storage);
        let mut fresh = self.restarted();
        fresh.storage = watch;
        *self = fresh;
        cx.cancel_all_timers();
        self.on_start(cx);
    }

    /// The node as it starts again after a crash: its configuration, none of its memory.
    #[must_use]
    pub fn restarted(&self) -> PangeaNode {
        PangeaNode::new(self.config.clone()).expect("the configuration that built this node is valid")
    }

    /// The membership and health subsystem.
    #[must_use]
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// The metadata log.
    #[must_use]
    pub fn log(&self) -> &Replica<Metadata> {
        &self.log
    }

    /// The object store.
    #[must_use]
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// The DHT.
    #[must_use]
    pub fn dht(&self) -> &Dht {
        &self.dht
    }

    /// What the userspace firewall passed and dropped since the node started.
    #[must_use]
    pub fn firewall_counters(&self) -> FirewallCounters {
        self.firewall.counters()
    }

    /// Whether the firewall lets a message from `from` through now (and counts it).
    fn admits(&mut self, cx: &mut dyn Context<Self>, from: NodeId) -> bool {
        let rules = &self.config.firewall;
        let allowed =
            !rules.members_only || from == cx.id() || self.members.contains(&from) || rules.also_allow.contains(&from);
        let verdict = self.firewall.check(&from, allowed, cx.now().as_nanos());
        cx.sometimes(crate::firewall::names::probes::DROPPED_DENIED, verdict == Verdict::DropDenied);
        cx.sometimes(crate::firewall::names::probes::DROPPED_RATE, verdict == Verdict::DropRate);
        verdict == Verdict::Pass
    }

    /// How long client requests spent in each stage of the log here since last asked.
    pub fn take_stage_samples(&mut self) -> Vec<crate::log::StageSample> {
        self.log.take_stage_samples()
    }

    /// The replicated metadata as applied here.
    #[must_use]
    pub fn metadata(&self) -> &Metadata {
        self.log.state()
    }

    /// This node's view of itself and the cluster, as a status request answers it.
    #[must_use]
    pub fn view(&self, me: NodeId) -> NodeView {
        NodeView {
            node: me,
            boot: self.membership.boot(),
            log: self.log.status(),
            peers: self.membership.peer_views(),
            directory: self.metadata().directory().addresses().iter().map(|(id, at)| (*id, at.clone())).collect(),
            storage: self.storage.status.clone(),
        }
    }

    /// What follows every input: the parts' notifications handed on, then a look at the storage.
    fn after_input(&mut self, cx: &mut dyn Context<Self>) {
        self.dispatch(cx);
        self.watch_storage(cx);
    }

    /// Hands each part what the others had to tell it, until nothing is left.
    fn dispatch(&mut self, cx: &mut dyn Context<Self>) {
        for _ in 0..NOTIFICATION_ROUNDS_MAX {
            let from_membership = self.membership.take_notifications();
            let from_log = self.log.take_notifications();
            let from_dht = self.dht.take_notifications();
            let from_objects = self.objects.take_notifications();
            if from_membership.is_empty() && from_log.is_empty() && from_dht.is_empty() && from_objects.is_empty() {
                return;
            }
            for notification in from_membership {
                match notification {
                    MembershipNotification::HealthChanged { peer, health } => {
                        self.log.set_peer_health(peer, health);
                        self.objects.set_peer_health(peer, health);
                        self.dht.set_peer_health(&mut Scoped::new(cx), peer, health);
                    }
                }
            }
            for notification in from_dht {
                match notification {
                    DhtNotification::Unresponsive { peer } => {
                        self.membership.report_unresponsive(&mut Scoped::new(cx), peer);
                    }
                    DhtNotification::Found { purpose, closest, .. } => {
                        self.objects.located(&mut Scoped::new(cx), purpose, &closest, self.log.state().manifests());
                    }
                }
            }
            for notification in from_objects {
                match notification {
                    ObjectsNotification::Locate { chunk, lookup } => {
                        if !self.dht.find_closest(&mut Scoped::new(cx), Key(chunk.0), lookup) {
                            let manifests = self.log.state().manifests();
                            self.objects.located(&mut Scoped::new(cx), lookup, &[], manifests);
                        }
                    }
                }
            }
            for notification in from_log {
                match notification {
                    LogNotification::MembersChanged(members) => {
                        self.members = members.nodes.iter().copied().collect();
                        self.objects.set_members(&members.nodes);
                        self.membership.track(&mut Scoped::new(cx), &members.nodes);
                    }
                }
            }
        }
        cx.trace(crate::node::TraceEvent::new(
            crate::node::INVARIANT_VIOLATED,
            "notifications between parts did not settle",
        ));
    }
}

impl Node for PangeaNode {
    type Message = PangeaMessage;
    type Timer = PangeaTimer;
    type Request = PangeaRequest;
    type Response = PangeaResponse;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        self.membership.on_start(&mut Scoped::new(cx));
        self.log.on_start(&mut Scoped::new(cx));
        self.objects.start(&mut Scoped::new(cx));
        self.dht.on_start(&mut Scoped::new(cx));
        self.after_input(cx);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: PangeaMessage) {
        if !self.admits(cx, from) {
            return;
        }
        match message {
            PangeaMessage::Membership(message) => self.membership.on_message(&mut Scoped::new(cx), from, message),
            PangeaMessage::Log(message) => self.log.on_message(&mut Scoped::new(cx), from, message),
            PangeaMessage::Objects(message) => {
                self.objects.receive(&mut Scoped::new(cx), from, message, self.log.state().manifests());
            }
            PangeaMessage::Dht(message) => self.dht.on_message(&mut Scoped::new(cx), from, message),
        }
        self.after_input(cx);
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: PangeaTimer) {
        match timer {
            PangeaTimer::Node(NodeTimer::ReopenStorage) => return self.reopen_storage(cx),
            PangeaTimer::Membership(timer) => self.membership.on_timer(&mut Scoped::new(cx), timer),
            PangeaTimer::Log(timer) => self.log.on_timer(&mut Scoped::new(cx), timer),
            PangeaTimer::Objects(timer) => {
                self.objects.on_timer(&mut Scoped::new(cx), timer, self.log.state().manifests());
            }
            PangeaTimer::Dht(timer) => self.dht.on_timer(&mut Scoped::new(cx), timer),
        }
        self.after_input(cx);
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: PangeaRequest) {
        if let Some(cause) = self.storage.cause()
            && body.needs_the_log()
        {
            cx.sometimes(probes::WRITE_REFUSED_STORAGE_FAILING, true);
            let answer = NodeResponse::CannotWrite { node: cx.id(), cause: cause.to_owned() };
            cx.reply(request, PangeaResponse::Node(answer));
            return;
        }
        match body {
            PangeaRequest::Node(NodeRequest::Status) => {
                let view = self.view(cx.id());
                cx.reply(request, PangeaResponse::Node(NodeResponse::Status(Box::new(view))));
            }
            PangeaRequest::Node(NodeRequest::Hello) => {
                let genesis = self.log.config().members.clone();
                cx.reply(request, PangeaResponse::Node(NodeResponse::Hello { node: cx.id(), genesis }));
            }
            PangeaRequest::Membership(body) => self.membership.on_client(&mut Scoped::new(cx), request, body),
            PangeaRequest::Log(body) => self.log.on_client(&mut Scoped::new(cx), request, body),
            PangeaRequest::Objects(body) => {
                self.objects.request(&mut Scoped::new(cx), request, body, self.log.state().manifests());
            }
            PangeaRequest::Dht(body) => self.dht.on_client(&mut Scoped::new(cx), request, body),
        }
        self.after_input(cx);
    }
}

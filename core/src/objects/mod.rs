//! The object store: objects cut into chunks, sealed by their owner (compressed and encrypted, see
//! [`crate::ces`]), cut into k + m Reed-Solomon shards by the node the owner puts through (its
//! gateway), and spread over distinct members nearest each chunk's id.
//!
//! The parts of one node's store, a file each:
//! - [`upload`]: the gateway's side of a put — shards placed, stored with every holder, and the
//!   chunk reported stored once all are durable. The owner then commits the object's manifest
//!   through the log ([`crate::metadata::manifests`]).
//! - [`fetch`]: the gateway's side of a read — k good shards gathered (with a long-tail hedge) and
//!   the sealed chunk rebuilt; the owner opens it.
//! - [`holder`]: shards kept durably, checked on every read, and collected when no object can own
//!   them.
//! - [`repair`]: a rate-limited loop rebuilding lost and rotten shards on other members.
//!
//! The store asks membership for live members (placement) and reads the manifests the log applied;
//! [`PangeaNode`](crate::PangeaNode) hands both in. Alone (as a [`Node`] on its own), it sees the
//! members it was told of and no manifests.

pub mod assembly;
pub mod config;
mod fetch;
pub mod holder;
mod locate;
pub mod messages;
pub mod names;
pub mod owner;
pub mod placement;
mod repair;
mod upload;

pub use config::{ObjectsConfig, ObjectsConfigError, ObjectsPlantedBug};
pub use holder::{SHARD_RECORDS_TABLE, SHARDS_TABLE, ShardRecord};
pub use messages::{
    BadRequest, ObjectError, ObjectMessage, ObjectRequest, ObjectResponse, ObjectTimer, ShardKey, StoreOutcome,
    StoredChunk, Unavailable,
};
pub use upload::SEALED_CHUNK_BYTES_MAX;

use crate::ces::{ObjectId, Sharder};
use crate::health::Health;
use crate::id::NodeId;
use crate::metadata::manifests::Manifests;
use crate::node::{Context, Node, RequestId};
use std::collections::{BTreeMap, BTreeSet};

/// The bit that marks an inventory tag as a locate request's (repair's tags never reach it).
const LOCATE_TAG: u64 = 1 << 63;

/// One node's part of the object store.
#[derive(Clone, Debug, Hash)]
pub struct Objects {
    config: ObjectsConfig,
    /// The log's configuration: where shards may go.
    members: Vec<NodeId>,
    /// Membership's judgement of peers.
    health: BTreeMap<NodeId, Health>,
    holder: holder::Holder,
    uploads: upload::Uploads,
    fetches: fetch::Fetches,
    repairs: repair::Repairs,
    /// Chunks a read found short of shards, to check first.
    suspects: BTreeSet<(ObjectId, u32)>,
    /// Reed-Solomon coders, reused (a cache: not part of the state).
    sharder: Sharder,
    /// True while the tick timer is armed.
    ticking: bool,
    /// Locate requests waiting for inventories.
    locates: locate::Locates,
    /// The last tag given to a locate request.
    next_tag: u64,
    /// Place new chunks on the peers a DHT lookup finds nearest them (inside `PangeaNode`), not
    /// on the members nearest them by this node's own list.
    place_by_lookup: bool,
    /// The last number given to a placement lookup.
    next_lookup: u64,
    /// What the store asks of the rest of the node.
    notifications: Vec<ObjectsNotification>,
}

/// What the object store asks of the rest of the node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ObjectsNotification {
    /// Find the peers nearest `chunk` (a DHT lookup) and hand them to [`Objects::located`] with
    /// `lookup`.
    Locate {
        /// The chunk to place.
        chunk: crate::ces::ChunkId,
        /// The number to answer with.
        lookup: u64,
    },
}

impl Objects {
    /// A store with `config`, not yet started.
    pub fn new(config: ObjectsConfig) -> Result<Objects, ObjectsConfigError> {
        config.validate()?;
        Ok(Objects {
            config,
            members: Vec::new(),
            health: BTreeMap::new(),
            holder: holder::Holder::default(),
            uploads: BTreeMap::new(),
            fetches: fetch::Fetches::default(),
            repairs: repair::Repairs::default(),
            suspects: BTreeSet::new(),
            sharder: Sharder::new(),
            ticking: false,
            locates: BTreeMap::new(),
            next_tag: 0,
            place_by_lookup: false,
            next_lookup: 0,
            notifications: Vec::new(),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ObjectsConfig {
        &self.config
    }

    /// The members shards may be placed on (the log's configuration).
    pub fn set_members(&mut self, members: &[NodeId]) {
        self.members = members.to_vec();
        self.members.sort_unstable();
        self.members.dedup();
    }

    /// Places new chunks on the peers a lookup finds nearest them: each chunk received asks for
    /// one ([`ObjectsNotification::Locate`]) and waits for [`Objects::located`].
    pub fn place_by_lookup(&mut self) {
        self.place_by_lookup = true;
    }

    /// Takes what the store asks of the rest of the node.
    pub fn take_notifications(&mut self) -> Vec<ObjectsNotification> {
        std::mem::take(&mut self.notifications)
    }

    /// The lookup numbered `lookup` found `closest`, nearest first (empty if it could not run).
    pub fn located(&mut self, cx: &mut dyn Context<Objects>, lookup: u64, closest: &[NodeId], manifests: &Manifests) {
        self.on_located(cx, lookup, closest, manifests.ops_applied());
        self.keep_ticking(cx);
    }

    /// Membership's judgement of `peer`.
    pub fn set_peer_health(&mut self, peer: NodeId, health: Health) {
        self.health.insert(peer, health);
    }

    /// Chunks being put through this node, and chunks being read through it.
    #[must_use]
    pub fn transfers(&self) -> (usize, usize) {
        (self.uploads.len(), self.fetches.active.len())
    }

    /// Starts the store's scans.
    pub fn start(&mut self, cx: &mut dyn Context<Objects>) {
        cx.set_timer(self.config.scan_every, ObjectTimer::Scan);
    }

    /// Arms the tick timer if transfers are in flight and it is not armed: an idle store sets no
    /// timer but its scan's.
    fn keep_ticking(&mut self, cx: &mut dyn Context<Objects>) {
        let busy = self.uploads_storing()
            || !self.fetches.active.is_empty()
            || self.repairs_active()
            || !self.locates.is_empty();
        if busy && !self.ticking {
            self.ticking = true;
            cx.set_timer(self.config.tick, ObjectTimer::Tick);
        }
    }

    /// A message from another node's store; `manifests` as this node applied them.
    pub fn receive(
        &mut self,
        cx: &mut dyn Context<Objects>,
        from: NodeId,
        message: ObjectMessage,
        manifests: &Manifests,
    ) {
        match message {
            ObjectMessage::Store { key, hash, commit_by, total, offset, bytes } => {
                self.on_store(cx, from, key, hash, commit_by, total, offset, &bytes, manifests);
            }
            ObjectMessage::Stored { key, outcome } => self.on_stored(cx, from, key, outcome),
            ObjectMessage::Fetch { key, wanted, tag } => self.on_fetch(cx, from, key, wanted, tag),
            ObjectMessage::Piece { key, tag, total, offset, bytes } => {
                self.on_piece(cx, key, tag, total, offset, &bytes)
            }
            ObjectMessage::Missing { key, tag, why } => self.on_missing(cx, from, key, tag, why),
            ObjectMessage::Inventory { object, chunk, tag } => {
                let shards = self.inventory(cx, &object, chunk);
                cx.send(from, ObjectMessage::Holding { object, chunk, tag, shards });
            }
            ObjectMessage::Holding { object, chunk, tag, shards } => {
                if tag & LOCATE_TAG != 0 {
                    self.on_locate_holding(cx, from, tag, shards);
                } else {
                    self.on_holding(cx, from, (object, chunk), tag, shards);
                }
            }
        }
        self.keep_ticking(cx);
    }

    /// A timer fired: transfers in flight looked at, or a scan for garbage and repairs.
    pub fn on_timer(&mut self, cx: &mut dyn Context<Objects>, timer: ObjectTimer, manifests: &Manifests) {
        match timer {
            ObjectTimer::Tick => {
                self.ticking = false;
                self.tick_uploads(cx);
                self.tick_fetches(cx);
                self.tick_repairs(cx);
                self.tick_locates(cx);
            }
            ObjectTimer::Scan => {
                self.collect_garbage(cx, manifests);
                self.scan_for_repairs(cx, manifests);
                cx.set_timer(self.config.scan_every, ObjectTimer::Scan);
            }
        }
        self.keep_ticking(cx);
    }

    /// A client's request; `manifests` as this node applied them.
    pub fn request(
        &mut self,
        cx: &mut dyn Context<Objects>,
        request: RequestId,
        body: ObjectRequest,
        manifests: &Manifests,
    ) {
        match body {
            ObjectRequest::PutPiece { object, chunk, data_shards, parity_shards, sealed_len, offset, bytes } => {
                let piece = upload::PutPiece { object, chunk, data_shards, parity_shards, sealed_len, offset, bytes };
                self.on_put_piece(cx, request, piece, manifests.ops_applied());
            }
            ObjectRequest::GetPiece { object, chunk, entry, data_shards, parity_shards, offset, len } => {
                self.on_get_piece(cx, request, object, chunk, *entry, (data_shards, parity_shards), (offset, len));
            }
            ObjectRequest::Locate { object, chunk } => self.on_locate(cx, request, object, chunk),
        }
        self.keep_ticking(cx);
    }

    /// Notes a chunk a read found short of shards, for the next repair scan.
    fn suspect(&mut self, id: (ObjectId, u32)) {
        if self.suspects.len() < repair::SUSPECTS_MAX {
            self.suspects.insert(id);
        }
    }
}

/// The store on its own, as a node: no manifests (nothing is ever garbage but deleted uploads'
/// shards past their deadline, and nothing is repaired). [`crate::PangeaNode`] drives it with the
/// manifests instead.
impl Node for Objects {
    type Message = ObjectMessage;
    type Timer = ObjectTimer;
    type Request = ObjectRequest;
    type Response = ObjectResponse;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        self.start(cx);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: ObjectMessage) {
        self.receive(cx, from, message, &Manifests::default());
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: ObjectTimer) {
        Objects::on_timer(self, cx, timer, &Manifests::default());
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: ObjectRequest) {
        self.request(cx, request, body, &Manifests::default());
    }
}

//! The node's event loop: one tokio task owns the core [`Replica`] and carries out its effects.
//!
//! Messages from peers come off the QUIC transport and go to [`Node::on_message`] after the same
//! codec checks the simulator applies; client requests go to [`Node::on_client`]; timers are kept
//! in a map ordered by deadline and fired from the same loop. The [`Context`] handed to the replica
//! reads tokio's monotonic clock, the system's wall clock and an RNG seeded from the OS — the only
//! place where this world differs from the simulator's — and its storage is the redb file.
//!
//! Peer addresses come from two places: the replicated address records (see
//! [`crate::wire::address_key`]), which every member writes when it starts, and the source address
//! of each admitted peer's messages.

use crate::datadir::DataDir;
use crate::metrics::Metrics;
use crate::store::RedbStorage;
use crate::transport::{Inbound, Transport};
use crate::wire::{
    ClientEnvelope, ClientReply, ClientRequest, NodeStatus, PeerHealth, RESERVED_PREFIX, log_reply, node_of_address_key,
};
use pangea_core::codec::{decode_serde, encode_serde};
use pangea_core::log::{KvRequest, KvResponse, LogConfig, LogMessage, LogTimer, Replica};
use pangea_core::storage::{Storage, WriteBatch};
use pangea_core::{Codec, Context, Duration, Instant, Node, NodeId, RequestId, Rng, TimerId, TraceEvent, WallTime};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Storage table of the node's own settings (not the log's).
pub const NODE_TABLE: &str = "node.meta";
/// Key of the cluster's initial configuration in [`NODE_TABLE`].
pub const GENESIS_KEY: &[u8] = b"genesis";
/// Client requests waiting for the replica's answer; more are refused as busy.
pub const PENDING_MAX: usize = 16_384;

/// Why the node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Storage failed where the node cannot go on (reading or writing its own settings).
    #[error("storage")]
    Storage(#[from] pangea_core::StorageError),
    /// The log configuration was refused.
    #[error("log configuration")]
    Config(#[from] pangea_core::log::LogConfigError),
}

/// The cluster's initial configuration as stored, if this node has one.
pub fn stored_genesis(storage: &mut RedbStorage) -> Result<Option<Vec<NodeId>>, pangea_core::StorageError> {
    match storage.get(NODE_TABLE, GENESIS_KEY)? {
        None => Ok(None),
        Some(bytes) => decode_serde(&bytes).map(Some).map_err(|_| pangea_core::StorageError::Corrupt {
            table: NODE_TABLE.to_owned(),
            key: GENESIS_KEY.to_vec(),
        }),
    }
}

/// Stores the cluster's initial configuration, durably.
pub fn store_genesis(storage: &mut RedbStorage, genesis: &[NodeId]) -> Result<(), pangea_core::StorageError> {
    let mut bytes = Vec::new();
    encode_serde(&genesis.to_vec(), &mut bytes);
    let mut batch = WriteBatch::new();
    batch.put(NODE_TABLE, GENESIS_KEY.to_vec(), bytes);
    storage.write(batch)?;
    storage.sync()
}

/// What the replica asked for while handling one input.
#[derive(Default)]
struct Effects {
    sends: Vec<(NodeId, LogMessage)>,
    timers: Vec<(TimerId, Duration, LogTimer)>,
    cancels: Vec<TimerId>,
    replies: Vec<(RequestId, KvResponse)>,
}

/// The [`Context`] of the real world.
struct RealContext<'a> {
    id: NodeId,
    started: tokio::time::Instant,
    rng: &'a mut ChaCha8Rng,
    storage: &'a mut RedbStorage,
    effects: &'a mut Effects,
    next_timer: &'a mut u64,
}

impl Context<Replica> for RealContext<'_> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn wall_clock(&self) -> WallTime {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        WallTime::from_unix_nanos(since_epoch.as_nanos() as i128)
    }

    fn rng(&mut self) -> &mut dyn Rng {
        self.rng
    }

    fn send(&mut self, to: NodeId, message: LogMessage) {
        self.effects.sends.push((to, message));
    }

    fn set_timer(&mut self, after: Duration, timer: LogTimer) -> TimerId {
        *self.next_timer += 1;
        let id = TimerId(*self.next_timer);
        self.effects.timers.push((id, after, timer));
        id
    }

    fn cancel_timer(&mut self, id: TimerId) {
        self.effects.cancels.push(id);
    }

    fn reply(&mut self, request: RequestId, body: KvResponse) {
        self.effects.replies.push((request, body));
    }

    fn storage(&mut self) -> &mut dyn Storage {
        self.storage
    }

    fn buggify(&mut self, _site: &'static str) -> bool {
        false
    }

    fn sometimes(&mut self, _probe: &'static str, _condition: bool) {}

    fn trace(&mut self, event: TraceEvent) {
        tracing::debug!(kind = event.kind, "{}", event.detail);
    }
}

/// A client request waiting for the replica.
struct Pending {
    reply: oneshot::Sender<Vec<u8>>,
    arrived: tokio::time::Instant,
    command: bool,
}

/// The node's event loop and everything it owns.
pub struct Runtime {
    id: NodeId,
    listen: SocketAddr,
    genesis: Vec<NodeId>,
    token: [u8; 32],
    replica: Replica,
    storage: RedbStorage,
    rng: ChaCha8Rng,
    transport: Transport,
    metrics: Arc<Metrics>,
    started: tokio::time::Instant,
    timers: BTreeMap<(tokio::time::Instant, u64), LogTimer>,
    timer_keys: BTreeMap<u64, tokio::time::Instant>,
    next_timer: u64,
    next_request: u64,
    pending: BTreeMap<RequestId, Pending>,
    /// Where each known peer listens.
    addresses: BTreeMap<NodeId, SocketAddr>,
    last_heard: BTreeMap<NodeId, tokio::time::Instant>,
    addresses_seen_at: u64,
}

impl Runtime {
    /// A runtime for the node in `data_dir`, whose cluster began as `genesis`, on `transport`.
    pub fn new(
        data_dir: &DataDir,
        mut storage: RedbStorage,
        genesis: Vec<NodeId>,
        transport: Transport,
        listen: SocketAddr,
        metrics: Arc<Metrics>,
    ) -> Result<Runtime, RuntimeError> {
        let replica = Replica::new(LogConfig::new(genesis.clone()))?;
        let mut seed = [0; 32];
        // The real world's only entropy: the OS. If it fails, a clock-derived seed still spreads
        // election timeouts apart, which is all the log asks of it.
        if getrandom::fill(&mut seed).is_err() {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            seed[..16].copy_from_slice(&nanos.as_nanos().to_le_bytes());
        }
        storage.sync()?;
        Ok(Runtime {
            id: data_dir.node_id(),
            listen,
            genesis,
            token: *data_dir.client_token(),
            replica,
            storage,
            rng: ChaCha8Rng::from_seed(seed),
            transport,
            metrics,
            started: tokio::time::Instant::now(),
            timers: BTreeMap::new(),
            timer_keys: BTreeMap::new(),
            next_timer: 0,
            next_request: 0,
            pending: BTreeMap::new(),
            addresses: BTreeMap::new(),
            last_heard: BTreeMap::new(),
            addresses_seen_at: u64::MAX,
        })
    }

    /// Runs until `shutdown` resolves or the transport stops; then syncs storage.
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), RuntimeError> {
        self.handle(|replica, cx| replica.on_start(cx));
        tokio::pin!(shutdown);
        loop {
            let next = self.timers.keys().next().map(|(deadline, _)| *deadline);
            let far = tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = tokio::time::sleep_until(next.unwrap_or(far)), if next.is_some() => self.fire_timers(),
                arrived = inbound.recv() => match arrived {
                    Some(Inbound::Peer { from, addr, bytes }) => self.on_peer(from, addr, &bytes),
                    Some(Inbound::Client { request, reply }) => self.on_client(&request, reply),
                    None => break,
                },
            }
        }
        tracing::info!("shutting down: syncing storage");
        self.storage.sync()?;
        Ok(())
    }

    /// Hands one input to the replica and carries out its effects.
    fn handle(&mut self, input: impl FnOnce(&mut Replica, &mut dyn Context<Replica>)) {
        let mut effects = Effects::default();
        {
            let mut cx = RealContext {
                id: self.id,
                started: self.started,
                rng: &mut self.rng,
                storage: &mut self.storage,
                effects: &mut effects,
                next_timer: &mut self.next_timer,
            };
            input(&mut self.replica, &mut cx);
        }
        self.apply(effects);
    }

    fn apply(&mut self, effects: Effects) {
        let now = tokio::time::Instant::now();
        for (id, after, timer) in effects.timers {
            let deadline = now + std::time::Duration::from_nanos(u64::try_from(after.as_nanos()).unwrap_or(u64::MAX));
            self.timers.insert((deadline, id.0), timer);
            self.timer_keys.insert(id.0, deadline);
        }
        for id in effects.cancels {
            if let Some(deadline) = self.timer_keys.remove(&id.0) {
                self.timers.remove(&(deadline, id.0));
            }
        }
        for (to, message) in effects.sends {
            match self.addresses.get(&to) {
                Some(addr) => {
                    let _ = self.transport.send(*addr, message.encode());
                    self.metrics.messages_sent.inc();
                }
                None => self.metrics.messages_unroutable.inc(),
            }
        }
        for (request, response) in effects.replies {
            let Some(pending) = self.pending.remove(&request) else { continue };
            if pending.command && matches!(response, KvResponse::Done { .. }) {
                self.metrics.command_latency.observe(pending.arrived.elapsed());
            }
            let leader_addr = self.replica.leader().and_then(|leader| self.addr_of(&leader));
            let _ = pending.reply.send(log_reply(response, leader_addr).encode());
        }
        self.metrics.applied_index.set(self.replica.applied_index());
        self.metrics.leader.set(u64::from(self.replica.is_leader()));
        self.metrics.members.set(self.replica.members().nodes.len() as u64);
        self.metrics.refused_connections.set(self.transport.refused());
        let others = self.replica.members().nodes.iter().filter(|node| **node != self.id);
        let (mut alive, mut unreachable) = (0, 0);
        for node in others {
            let heard = self.last_heard.get(node).is_some_and(|at| now - *at <= std::time::Duration::from_secs(1));
            if heard {
                alive += 1;
            } else {
                unreachable += 1;
            }
        }
        self.metrics.members_alive.set(alive);
        self.metrics.members_unreachable.set(unreachable);
        if self.replica.applied_index() != self.addresses_seen_at {
            self.addresses_seen_at = self.replica.applied_index();
            self.learn_addresses();
        }
    }

    fn addr_of(&self, node: &NodeId) -> Option<SocketAddr> {
        if *node == self.id { Some(self.listen) } else { self.addresses.get(node).copied() }
    }

    /// Reads the replicated address records.
    fn learn_addresses(&mut self) {
        let prefix = RESERVED_PREFIX.to_vec();
        for (key, value) in self.replica.store().records().range(prefix..) {
            if !key.starts_with(RESERVED_PREFIX) {
                break;
            }
            let Some(node) = node_of_address_key(key) else { continue };
            let Some(addr) = std::str::from_utf8(value).ok().and_then(|text| text.parse().ok()) else { continue };
            if node != self.id {
                self.addresses.insert(node, addr);
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = tokio::time::Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), timer) = entry.remove_entry();
            self.timer_keys.remove(&id);
            self.handle(|replica, cx| replica.on_timer(cx, timer));
        }
    }

    fn on_peer(&mut self, from: NodeId, addr: SocketAddr, bytes: &[u8]) {
        self.metrics.messages_received.inc();
        self.last_heard.insert(from, tokio::time::Instant::now());
        self.addresses.entry(from).or_insert(addr);
        match LogMessage::decode(bytes) {
            Ok(message) => self.handle(|replica, cx| replica.on_message(cx, from, message)),
            Err(error) => {
                self.metrics.messages_malformed.inc();
                tracing::warn!(peer = %from, "dropped a malformed message: {error}");
            }
        }
    }

    fn on_client(&mut self, bytes: &[u8], reply: oneshot::Sender<Vec<u8>>) {
        self.metrics.client_requests.inc();
        let envelope = match ClientEnvelope::decode(bytes) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.metrics.client_malformed.inc();
                let _ = reply.send(ClientReply::Refused { why: format!("malformed request: {error}") }.encode());
                return;
            }
        };
        if !tokens_equal(&envelope.token, &self.token) {
            self.metrics.client_unauthorized.inc();
            let _ = reply.send(ClientReply::Unauthorized.encode());
            return;
        }
        match envelope.request {
            ClientRequest::Hello => {
                let answer = ClientReply::Hello { node: self.id, genesis: self.genesis.clone() };
                let _ = reply.send(answer.encode());
            }
            ClientRequest::Status => {
                let _ = reply.send(ClientReply::Status(self.status()).encode());
            }
            ClientRequest::Log(request) => {
                if self.pending.len() >= PENDING_MAX {
                    let _ = reply.send(log_reply(KvResponse::Busy, None).encode());
                    return;
                }
                self.next_request += 1;
                let id = RequestId(self.next_request);
                let command = matches!(request, KvRequest::Command { .. });
                self.pending.insert(id, Pending { reply, arrived: tokio::time::Instant::now(), command });
                self.handle(|replica, cx| replica.on_client(cx, id, request));
            }
        }
    }

    fn status(&self) -> NodeStatus {
        let now = tokio::time::Instant::now();
        let members = self.replica.members();
        let mut known: Vec<NodeId> = self.addresses.keys().copied().collect();
        known.extend(members.nodes.iter().copied());
        known.sort_unstable();
        known.dedup();
        let peers = known
            .into_iter()
            .filter(|node| *node != self.id)
            .map(|node| PeerHealth {
                node,
                addr: self.addresses.get(&node).copied(),
                last_heard_ms: self.last_heard.get(&node).map(|at| (now - *at).as_millis() as u64),
                member: members.contains(&node),
            })
            .collect();
        NodeStatus {
            node: self.id,
            listen: self.listen,
            log: self.replica.status(),
            peers,
            refused_connections: self.transport.refused(),
        }
    }
}

/// Compares tokens without an early exit, so response timing does not reveal a prefix.
fn tokens_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0_u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

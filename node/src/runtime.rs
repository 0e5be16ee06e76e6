//! The event loop: one tokio task owns a core state machine — any [`Node`] that is [`Hosted`] —
//! and moves bytes and time between the transport and it, as `quinn` drives `quinn-proto`.
//!
//! Peer messages come off the QUIC transport and go to [`Node::on_message`] after the same codec
//! checks the simulator applies; client requests (inside a [`ClientEnvelope`] carrying the client
//! token) go to [`Node::on_client`]; timers wait in core's [`TimerTable`] and fire from the same
//! loop. The node's handlers get core's one [`HandlerContext`], over a [`Host`] that reads tokio's
//! monotonic clock, the system's wall clock, an RNG seeded from the OS and the redb file — the only
//! places where this world differs from the simulator's — and what they ask for comes back in
//! core's [`Effects`] buffer, which this loop carries out. No subsystem logic lives here.
//!
//! Peer addresses come from four places: the node's own replicated directory
//! ([`Hosted::peer_addresses`]), those given at start ([`Runtime::add_peer_addresses`]), the
//! source address of each admitted peer's messages, and — for peers none of these knows — what
//! peers told the node (e.g. through its DHT, [`Hosted::learned_addresses`]), kept apart and
//! replaced at each reading, so it is never larger than the node's own map. A message to a peer of
//! unknown address is held until the end of the input that sent it and looked up again then: a
//! DHT answer names peers and the lookup queries them in the same handler, and the node's storage
//! accesses carry those queries out before the handler returns.

use crate::metrics::Metrics;
use crate::stages::{HANDLER, SENDS_HELD, TOTAL};
use crate::store::RedbStorage;
use crate::transport::{Inbound, SendOutcome, Transport};
use crate::wire::{ClientEnvelope, ClientReply, ClientRequest, RuntimeStatus};
use pangea_core::effects::{Effect, Effects, Emitted, TimerTable};
use pangea_core::log::StageSample;
use pangea_core::node::HandlerContext;
use pangea_core::storage::Storage;
use pangea_core::{CarryOut, Codec, Context, Host, Instant, Node, NodeId, RequestId, Rng, WallTime};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Client requests waiting for the node's answer; more are refused as busy.
pub const PENDING_MAX: usize = 16_384;
/// How often, at most, the node's gauges are copied into the metrics.
pub const GAUGES_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// How often the addresses peers told the node are read in full even though their number did not
/// change (a peer that restarted elsewhere changes its address, not the count).
pub const LEARNED_RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How often, at most, they are read in full when their number changed (a message held for a
/// peer just learned looks its address up alone, at once).
pub const LEARNED_READ_MIN: std::time::Duration = std::time::Duration::from_millis(100);
/// Most messages to peers of unknown address held during one input; more are dropped at once and
/// counted unroutable.
pub const HELD_MAX: usize = 4096;

/// What the real runtime needs of a node beyond [`Node`].
pub trait Hosted: Node {
    /// Where peers listen, as the node's state knows it (e.g. a replicated directory); addresses
    /// that do not parse as socket addresses are ignored. None by default: a node whose peers are
    /// given at start ([`Runtime::add_peer_addresses`]) needs no more.
    fn peer_addresses(&self) -> &BTreeMap<NodeId, String> {
        static NONE: BTreeMap<NodeId, String> = BTreeMap::new();
        &NONE
    }

    /// Where peers listen as peers told this node (e.g. through a DHT): less trusted than
    /// [`Hosted::peer_addresses`] and the other sources, used for the peers they do not know.
    /// Read in full when its length changes (at most every [`LEARNED_READ_MIN`]) and every
    /// [`LEARNED_RECHECK_EVERY`], and looked up for each message to a peer of unknown address;
    /// so a node keeps it in a map it updates in place rather than building one per call. Addresses
    /// that do not parse are ignored. None by default.
    fn learned_addresses(&self) -> &BTreeMap<NodeId, String> {
        static NONE: BTreeMap<NodeId, String> = BTreeMap::new();
        &NONE
    }

    /// The node's own gauges for Prometheus: (name, help, value).
    fn gauges(&self) -> Vec<(&'static str, &'static str, u64)> {
        Vec::new()
    }

    /// How long client requests spent in each stage of the node since last asked (see
    /// [`crate::stages`]); drained after every input.
    fn take_stage_samples(&mut self) -> Vec<StageSample> {
        Vec::new()
    }

    /// True for the requests whose latency the command histogram records (client operations:
    /// commands and linearizable reads).
    fn is_command(_request: &Self::Request) -> bool {
        true
    }
}

/// Why the node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Storage failed where the node cannot go on.
    #[error("storage")]
    Storage(#[from] pangea_core::StorageError),
}

/// The real world as a node's handler sees it.
struct RealHost<'a> {
    started: tokio::time::Instant,
    rng: &'a mut ChaCha8Rng,
    storage: &'a mut RedbStorage,
}

/// What the event loop hands the node, named in the warning about a handler that blocked it.
#[derive(Clone, Copy, Debug)]
enum Input {
    Start,
    Timer,
    PeerMessage,
    ClientRequest,
}

/// A handler that holds the event loop this long is logged as a warning (every input behind it
/// waited as long).
const HANDLER_WARN_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

impl Host for RealHost<'_> {
    fn now(&self) -> Instant {
        since(self.started)
    }

    fn wall_clock(&self) -> WallTime {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        WallTime::from_unix_nanos(since_epoch.as_nanos() as i128)
    }

    fn rng(&mut self) -> &mut dyn Rng {
        self.rng
    }

    fn storage(&mut self) -> &mut dyn Storage {
        self.storage
    }
}

/// Core's monotonic time: nanoseconds since the runtime started.
fn since(started: tokio::time::Instant) -> Instant {
    Instant::from_nanos(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

/// A client request waiting for the node.
struct Pending {
    reply: oneshot::Sender<Vec<u8>>,
    arrived: tokio::time::Instant,
    command: bool,
}

/// The event loop and everything it owns.
pub struct Runtime<N: Hosted> {
    id: NodeId,
    listen: SocketAddr,
    token: [u8; 32],
    node: N,
    storage: RedbStorage,
    /// The storage's failure as last seen, to log and count its changes.
    storage_failure: Option<String>,
    rng: ChaCha8Rng,
    effects: Effects<N>,
    next_request: u64,
    /// The node's directory when last read.
    directory_seen: BTreeMap<NodeId, String>,
    /// How many addresses the node had learned from peers when they were last read, and when.
    learned_seen: (usize, Option<tokio::time::Instant>),
    /// When the node's gauges were last copied into the metrics.
    gauges_updated: Option<tokio::time::Instant>,
    hardware: crate::hardware::HardwareFacts,
    firewall: Arc<crate::hardware::ActiveFirewall>,
    /// The peer addresses last handed to the firewall.
    firewall_peers: std::collections::BTreeSet<std::net::IpAddr>,
    outlet: Outlet<N>,
}

/// What carries out the node's effects: the transport, the timers, the clients waiting for
/// answers. Apart from the node, so that it can work while a handler runs (see
/// [`HandlerContext::carrying_out_early`]).
struct Outlet<N: Node> {
    transport: Transport,
    metrics: Arc<Metrics>,
    started: tokio::time::Instant,
    timers: TimerTable<N::Timer>,
    pending: BTreeMap<RequestId, Pending>,
    /// Where each known peer listens: from the directory, given at start, or the source of its
    /// messages.
    addresses: BTreeMap<NodeId, SocketAddr>,
    /// Where peers listen as peers told the node ([`Hosted::learned_addresses`] when last read):
    /// for the peers `addresses` does not know.
    told: BTreeMap<NodeId, SocketAddr>,
    /// Encoded messages to peers of unknown address, held until the end of the current input.
    held: Vec<(NodeId, Vec<u8>)>,
}

impl<N: Hosted> Runtime<N> {
    /// A runtime for `node`, whose identity is `id`, on `storage` and `transport`, advertising
    /// `listen`, admitting clients that present `token`.
    pub fn new(
        id: NodeId,
        node: N,
        mut storage: RedbStorage,
        transport: Transport,
        listen: SocketAddr,
        token: [u8; 32],
        metrics: Arc<Metrics>,
    ) -> Result<Runtime<N>, RuntimeError> {
        let mut seed = [0; 32];
        // The real world's only entropy: the OS. If it fails, a clock-derived seed still spreads
        // election timeouts apart, which is all the node asks of it.
        if getrandom::fill(&mut seed).is_err() {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            seed[..16].copy_from_slice(&nanos.as_nanos().to_le_bytes());
        }
        storage.sync()?;
        Ok(Runtime {
            id,
            listen,
            token,
            node,
            rng: ChaCha8Rng::from_seed(seed),
            effects: Effects::new(),
            next_request: 0,
            directory_seen: BTreeMap::new(),
            learned_seen: (0, None),
            gauges_updated: None,
            hardware: crate::hardware::HardwareFacts::default(),
            firewall: Arc::new(crate::hardware::ActiveFirewall::Off),
            firewall_peers: std::collections::BTreeSet::new(),
            storage_failure: None,
            outlet: Outlet {
                transport,
                metrics,
                started: tokio::time::Instant::now(),
                timers: TimerTable::new(),
                pending: BTreeMap::new(),
                addresses: BTreeMap::new(),
                told: BTreeMap::new(),
                held: Vec::new(),
            },
            storage,
        })
    }

    /// Reports `facts` in status answers and keeps `firewall` told where the peers are.
    #[must_use]
    pub fn with_hardware(
        mut self,
        facts: crate::hardware::HardwareFacts,
        firewall: Arc<crate::hardware::ActiveFirewall>,
    ) -> Runtime<N> {
        self.outlet.metrics.set_hardware(&facts);
        self.hardware = facts;
        self.firewall = firewall;
        self
    }

    /// Tells the runtime where these peers listen (a node's own directory may add more later).
    pub fn add_peer_addresses(&mut self, peers: impl IntoIterator<Item = (NodeId, SocketAddr)>) {
        for (node, addr) in peers {
            if node != self.id {
                self.outlet.addresses.insert(node, addr);
            }
        }
        self.sync_firewall_peers();
    }

    /// Runs until `shutdown` resolves or the transport stops; then syncs storage.
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), RuntimeError> {
        self.handle(Input::Start, |node, cx| node.on_start(cx));
        tokio::pin!(shutdown);
        loop {
            let next =
                self.outlet.timers.next_deadline().map(|deadline| self.outlet.started + deadline_offset(deadline));
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
        if let Some(cause) = self.storage.failure() {
            // Nothing more can be written; what was synced before the failure is on disk.
            tracing::warn!("shutting down with failed storage ({cause}); the next start reopens it");
            return Ok(());
        }
        tracing::info!("shutting down: syncing storage");
        self.storage.sync()?;
        Ok(())
    }

    /// Hands one input to the node and carries out what it asked for, timing the whole.
    fn handle(&mut self, kind: Input, input: impl FnOnce(&mut N, &mut dyn Context<N>)) {
        let began = tokio::time::Instant::now();
        {
            let mut host = RealHost { started: self.outlet.started, rng: &mut self.rng, storage: &mut self.storage };
            let mut cx =
                HandlerContext::new(self.id, &mut host, &mut self.effects).carrying_out_early(&mut self.outlet);
            input(&mut self.node, &mut cx);
        }
        // Addresses first, so that what the input taught the node routes its messages: those
        // carried out early (held if their peer was unknown), then the rest.
        if self.node.peer_addresses() != &self.directory_seen {
            self.learn_addresses();
        }
        self.learn_told_addresses();
        self.release_held();
        self.outlet.carry_out(&mut self.effects);
        self.release_held();
        let samples = self.node.take_stage_samples();
        self.outlet.metrics.observe_stages(samples.iter().map(|sample| (sample.stage.name(), sample.took)));
        self.watch_storage();
        self.update_gauges();
        let took = began.elapsed();
        self.outlet.metrics.observe_stage(HANDLER, took);
        if took >= HANDLER_WARN_AFTER {
            tracing::warn!("the event loop was blocked for {took:?} handling {kind:?}");
        }
    }

    /// Logs and counts the storage failing or coming back, at once: a node that cannot write must
    /// say so, not only time out its clients.
    fn watch_storage(&mut self) {
        let failure = self.storage.failure().map(ToString::to_string);
        match (&self.storage_failure, &failure) {
            (None, Some(cause)) => {
                self.outlet.metrics.storage_failures.inc();
                tracing::error!("storage failed: {cause}; refusing writes and reopening it with back-off");
            }
            (Some(_), None) => {
                self.outlet.metrics.storage_reopens.inc();
                tracing::warn!("storage reopened; the node rebuilt its state from disk and resumes");
            }
            _ => {}
        }
        self.storage_failure = failure;
    }

    /// Copies the node's gauges into the metrics, at most every [`GAUGES_EVERY`]: they are read
    /// by scrapes seconds apart, and computing them after every input would cost more than the
    /// input.
    fn update_gauges(&mut self) {
        let now = tokio::time::Instant::now();
        if self.gauges_updated.is_some_and(|at| now.duration_since(at) < GAUGES_EVERY) {
            return;
        }
        self.gauges_updated = Some(now);
        self.outlet.metrics.refused_connections.set(self.outlet.transport.refused());
        self.outlet.metrics.set_node_gauges(self.node.gauges());
        let counters = self.firewall.counters();
        self.outlet.metrics.set_firewall(counters.passed, counters.dropped_denied, counters.dropped_rate);
        self.sync_firewall_peers();
    }

    /// Hands the firewall the addresses of every peer the runtime knows, when they changed: the
    /// peers may send to this node whatever its allow-list says.
    fn sync_firewall_peers(&mut self) {
        let peers: std::collections::BTreeSet<std::net::IpAddr> = self
            .outlet
            .told
            .values()
            .chain(self.outlet.addresses.values())
            .map(|addr| addr.ip().to_canonical())
            .collect();
        if peers != self.firewall_peers {
            self.firewall.set_peers(peers.clone());
            self.firewall_peers = peers;
        }
    }

    /// Reads the node's directory of addresses.
    fn learn_addresses(&mut self) {
        self.directory_seen.clone_from(self.node.peer_addresses());
        for (node, text) in &self.directory_seen {
            match text.parse::<SocketAddr>() {
                Ok(addr) if *node != self.id => {
                    self.outlet.addresses.insert(*node, addr);
                }
                Ok(_) => {}
                Err(_) => tracing::warn!(peer = %node, "ignoring an address that does not parse: {text:?}"),
            }
        }
    }

    /// Reads the addresses peers told the node in full, when their number changed (at most every
    /// [`LEARNED_READ_MIN`]) or [`LEARNED_RECHECK_EVERY`] has passed.
    fn learn_told_addresses(&mut self) {
        let learned = self.node.learned_addresses();
        let now = tokio::time::Instant::now();
        let (count, read_at) = self.learned_seen;
        let since = read_at.map(|at| now.duration_since(at));
        let due = since.is_none_or(|since| {
            since >= LEARNED_RECHECK_EVERY || (learned.len() != count && since >= LEARNED_READ_MIN)
        });
        if !due {
            return;
        }
        self.learned_seen = (learned.len(), Some(now));
        let me = self.id;
        self.outlet.told = learned
            .iter()
            .filter(|(node, _)| **node != me)
            .filter_map(|(node, text)| Some((*node, text.parse::<SocketAddr>().ok()?)))
            .collect();
    }

    /// Sends the messages held for peers of unknown address to those now known (looking each up
    /// among the addresses peers told the node, as they are now); the others are counted
    /// unroutable.
    fn release_held(&mut self) {
        if self.outlet.held.is_empty() {
            return;
        }
        for (to, bytes) in std::mem::take(&mut self.outlet.held) {
            let addr = self.outlet.address_of(&to).or_else(|| {
                let addr = self.node.learned_addresses().get(&to)?.parse::<SocketAddr>().ok()?;
                self.outlet.told.insert(to, addr);
                Some(addr)
            });
            match addr {
                Some(addr) => self.outlet.transmit(to, addr, bytes),
                None => self.outlet.metrics.messages_unroutable.inc(),
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = since(self.outlet.started);
        while let Some((_, timer)) = self.outlet.timers.pop_due(now) {
            self.handle(Input::Timer, |node, cx| node.on_timer(cx, timer));
        }
    }

    fn on_peer(&mut self, from: NodeId, addr: SocketAddr, bytes: &[u8]) {
        self.outlet.metrics.messages_received.inc();
        self.outlet.addresses.entry(from).or_insert(addr);
        match N::Message::decode(bytes) {
            Ok(message) => self.handle(Input::PeerMessage, |node, cx| node.on_message(cx, from, message)),
            Err(error) => {
                self.outlet.metrics.messages_malformed.inc();
                tracing::warn!(peer = %from, "dropped a malformed message: {error}");
            }
        }
    }

    fn on_client(&mut self, bytes: &[u8], reply: oneshot::Sender<Vec<u8>>) {
        self.outlet.metrics.client_requests.inc();
        let envelope = match ClientEnvelope::decode(bytes) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.outlet.metrics.client_malformed.inc();
                answer(reply, &ClientReply::Refused { why: format!("malformed request: {error}") });
                return;
            }
        };
        if !tokens_equal(&envelope.token, &self.token) {
            self.outlet.metrics.client_unauthorized.inc();
            answer(reply, &ClientReply::Unauthorized);
            return;
        }
        match envelope.request {
            ClientRequest::Runtime => {
                let status = self.runtime_status();
                answer(reply, &ClientReply::Runtime(Box::new(status)));
            }
            ClientRequest::Node(body) => {
                let request = match N::Request::decode(&body) {
                    Ok(request) => request,
                    Err(error) => {
                        self.outlet.metrics.client_malformed.inc();
                        answer(reply, &ClientReply::Refused { why: format!("malformed request: {error}") });
                        return;
                    }
                };
                if self.outlet.pending.len() >= PENDING_MAX {
                    answer(reply, &ClientReply::Busy);
                    return;
                }
                self.next_request += 1;
                let id = RequestId(self.next_request);
                let command = N::is_command(&request);
                self.outlet.pending.insert(id, Pending { reply, arrived: tokio::time::Instant::now(), command });
                self.handle(Input::ClientRequest, |node, cx| node.on_client(cx, id, request));
            }
        }
    }

    fn runtime_status(&self) -> RuntimeStatus {
        RuntimeStatus {
            node: self.id,
            listen: self.listen,
            uptime_ms: u64::try_from(self.outlet.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            refused_connections: self.outlet.transport.refused(),
            messages_sent: self.outlet.metrics.messages_sent.get(),
            messages_dropped: self.outlet.metrics.messages_dropped.get(),
            messages_unroutable: self.outlet.metrics.messages_unroutable.get(),
            messages_received: self.outlet.metrics.messages_received.get(),
            addresses: {
                let mut known = self.outlet.told.clone();
                known.extend(self.outlet.addresses.iter().map(|(node, addr)| (*node, *addr)));
                known.into_iter().collect()
            },
            stages: self.outlet.metrics.stages(),
            hardware: self.hardware.clone(),
            firewall: {
                let counters = self.firewall.counters();
                (counters.passed, counters.dropped_denied, counters.dropped_rate)
            },
        }
    }
}

impl<N: Node> CarryOut<N> for Outlet<N> {
    fn carry_out(&mut self, effects: &mut Effects<N>) {
        for Emitted { at, effect } in effects.drain() {
            self.carry_out_one(at, effect);
        }
    }
}

impl<N: Node> Outlet<N> {
    fn carry_out_one(&mut self, at: Instant, effect: Effect<N>) {
        match effect {
            Effect::Send { to, message } => {
                self.metrics.observe_stage(SENDS_HELD, since(self.started) - at);
                self.send(to, &message);
            }
            Effect::SetTimer { id, after, timer } => self.timers.set(id, at + after, timer),
            Effect::CancelTimer { id } => {
                self.timers.cancel(id);
            }
            Effect::CancelAllTimers => self.timers.clear(),
            Effect::Reply { request, response } => {
                let Some(pending) = self.pending.remove(&request) else { return };
                if pending.command {
                    let took = pending.arrived.elapsed();
                    self.metrics.command_latency.observe(took);
                    self.metrics.observe_stage(TOTAL, took);
                }
                let reply = match response.encode() {
                    Ok(bytes) => ClientReply::Node(bytes),
                    Err(error) => {
                        tracing::error!("an answer could not be encoded: {error}");
                        ClientReply::Refused { why: format!("the answer could not be encoded: {error}") }
                    }
                };
                answer(pending.reply, &reply);
            }
            Effect::Trace { event } => {
                if event.is_invariant_violation() {
                    self.metrics.invariant_violations.inc();
                    tracing::error!(kind = event.kind, "{}", event.detail);
                } else {
                    tracing::debug!(kind = event.kind, "{}", event.detail);
                }
            }
        }
    }

    /// Encodes and queues `message` for `to` (or holds it, if `to`'s address is unknown, until
    /// the input ends); counts it sent only if the transport took it.
    fn send(&mut self, to: NodeId, message: &N::Message) {
        let addr = self.address_of(&to);
        if addr.is_none() && self.held.len() >= HELD_MAX {
            self.metrics.messages_unroutable.inc();
            return;
        }
        let bytes = match message.encode() {
            Ok(bytes) => bytes,
            Err(error) => {
                self.metrics.messages_dropped.inc();
                tracing::error!(peer = %to, "dropped a message that cannot be encoded: {error}");
                return;
            }
        };
        match addr {
            Some(addr) => self.transmit(to, addr, bytes),
            None => self.held.push((to, bytes)),
        }
    }

    /// Where `to` listens, as far as the runtime knows: its own sources first, then what peers told.
    fn address_of(&self, to: &NodeId) -> Option<SocketAddr> {
        self.addresses.get(to).or_else(|| self.told.get(to)).copied()
    }

    /// Queues encoded `bytes` for `to` at `addr`; counts them sent only if the transport took them.
    fn transmit(&mut self, to: NodeId, addr: SocketAddr, bytes: Vec<u8>) {
        match self.transport.send(addr, bytes) {
            SendOutcome::Queued => self.metrics.messages_sent.inc(),
            outcome @ (SendOutcome::QueueFull | SendOutcome::TooLarge) => {
                self.metrics.messages_dropped.inc();
                tracing::debug!(peer = %to, "the transport dropped a message: {outcome:?}");
            }
        }
    }
}

/// Sends `answer` to the client waiting on `reply`.
fn answer(reply: oneshot::Sender<Vec<u8>>, answer: &ClientReply) {
    match answer.encode() {
        Ok(bytes) => {
            let _ = reply.send(bytes);
        }
        Err(error) => {
            // Dropping `reply` resets the client's stream: it sees an error, not a wrong answer.
            tracing::error!("a reply could not be encoded: {error}");
        }
    }
}

/// A core deadline as an offset from the runtime's start.
fn deadline_offset(deadline: Instant) -> std::time::Duration {
    std::time::Duration::from_nanos(deadline.as_nanos())
}

/// Compares tokens without an early exit, so response timing does not reveal a prefix.
fn tokens_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0_u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

//! The kernel: virtual time, the event queue, the virtual nodes, and the simulated [`Context`].
//!
//! Events are ordered by (virtual time, arrival time, sequence number); the sequence number is
//! assigned when an event is scheduled, so simultaneous events run in the order they were caused,
//! never in an order that depends on memory addresses. A node's handler runs to completion at the
//! event's instant; the disk time it spends (syncs) and a slow node's extra time keep it busy, and
//! inputs that arrive meanwhile (or while it is paused) wait until it is free. Waiting inputs keep
//! their arrival time, so a node handles its inputs in the order they arrived. Effects — sends,
//! timers, replies, trace events — are collected as values while the handler runs and carried out
//! afterwards, in order.

use crate::coverage::{Buggify, Coverage};
use crate::disk::SimDisk;
use crate::network::{DropReason, Network};
use crate::plan::{Fault, FaultPlan, Latency};
use crate::rng::{SeedStreams, SimRng};
use crate::trace::{Trace, TraceHash, TraceKind, digest};
use pangea_core::effects::{Effect, Effects, Emitted, TimerTable};
use pangea_core::random::{below, chance};
use pangea_core::{
    Codec, Duration, HandlerContext, Host, Instant, Node, NodeId, RequestId, Storage, TimerId, WallTime,
};
use rand_core::Rng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use thiserror::Error;

/// The wall clock's reading at virtual time zero: 2026-01-01T00:00:00Z.
pub const WALL_CLOCK_ORIGIN_UNIX_SECONDS: i128 = 1_767_225_600;

/// The sender index trace records give a client.
pub const CLIENT: u32 = u32::MAX;

/// Most events one run may process before it is stopped as runaway.
pub const EVENTS_MAX_DEFAULT: u64 = 50_000_000;

/// How one run is set up.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// How many nodes.
    pub nodes: u32,
    /// What the simulator does to the run.
    pub plan: FaultPlan,
    /// Keep trace records in memory (the hash is always computed).
    pub keep_trace: bool,
    /// Stop with [`SimError::EventBudgetExhausted`] after this many events.
    pub events_max: u64,
    /// Put clients on the simulated network: each request and each reply crosses a link with this
    /// latency and is lost at the network's current loss rate (so a client may time out on a
    /// command that took effect). `None`: requests arrive at once and replies are never lost.
    pub client_link: Option<Latency>,
    /// The byte budget of a peer message: a node that sends a larger one has broken its own limits,
    /// and the run records a [`SimViolation`] (the message is dropped, as the real runtime would
    /// drop it). `None`: only the codec's frame limit.
    pub message_bytes_max: Option<usize>,
}

impl SimConfig {
    /// `nodes` nodes under `plan`, trace records not kept, the default event budget.
    #[must_use]
    pub fn new(seed: u64, nodes: u32, plan: FaultPlan) -> SimConfig {
        SimConfig {
            seed,
            nodes,
            plan,
            keep_trace: false,
            events_max: EVENTS_MAX_DEFAULT,
            client_link: None,
            message_bytes_max: None,
        }
    }
}

/// Something a node did that no fault excuses, seen by the kernel itself: a message over its byte
/// budget or the frame limit, or an invariant the node reported broken. Scenarios turn these into
/// correctness failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimViolation {
    /// When.
    pub at: Instant,
    /// Which node.
    pub node: u32,
    /// What.
    pub kind: SimViolationKind,
}

/// What a [`SimViolation`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimViolationKind {
    /// A message larger than [`SimConfig::message_bytes_max`].
    MessageOverBudget {
        /// The message's family.
        family: u8,
        /// Its size, frame included.
        bytes: usize,
        /// The budget.
        limit: usize,
    },
    /// A message or reply the codec refused to encode (over the frame limit).
    Unencodable {
        /// The codec's error.
        error: String,
    },
    /// The node reported a broken invariant (see `pangea_core::node::invariant`).
    Invariant {
        /// What it said.
        detail: String,
    },
}

impl std::fmt::Display for SimViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimViolationKind::MessageOverBudget { family, bytes, limit } => {
                let name = pangea_core::family::name_of(*family).unwrap_or("message");
                write!(f, "sent a {name} (family {family}) of {bytes} bytes, over its budget of {limit}")
            }
            SimViolationKind::Unencodable { error } => write!(f, "could not encode what it sent: {error}"),
            SimViolationKind::Invariant { detail } => write!(f, "broke an invariant: {detail}"),
        }
    }
}

/// Most kernel-seen violations a run keeps (the first ones are what matter).
pub const VIOLATIONS_MAX: usize = 20;

/// Why a run stopped early.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SimError {
    /// The run processed more events than its budget allows: a livelock or a message storm.
    #[error("event budget of {events_max} exhausted at {at}")]
    EventBudgetExhausted {
        /// The budget.
        events_max: u64,
        /// Virtual time when it ran out.
        at: Instant,
    },
}

/// Whether a virtual node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running.
    Up,
    /// Stopped the world; inputs wait.
    Paused,
    /// Crashed; inputs are lost until it restarts.
    Crashed,
}

/// What happened in a run, in numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Events processed.
    pub events: u64,
    /// Messages sent by nodes.
    pub sent: u64,
    /// Messages delivered to nodes.
    pub delivered: u64,
    /// Messages lost to partitions.
    pub dropped_partition: u64,
    /// Messages lost at random.
    pub dropped_loss: u64,
    /// Messages and client requests that reached a crashed node.
    pub dropped_node_down: u64,
    /// Messages the codec refused (corruption caught).
    pub rejected: u64,
    /// Messages delivered twice.
    pub duplicated: u64,
    /// Messages held back to be overtaken.
    pub reordered: u64,
    /// Messages with a flipped bit.
    pub corrupted: u64,
    /// Timers fired.
    pub timers: u64,
    /// Client requests delivered.
    pub client_requests: u64,
    /// Replies sent.
    pub replies: u64,
    /// Crashes.
    pub crashes: u64,
    /// Starts, first boots included.
    pub starts: u64,
    /// Pauses.
    pub pauses: u64,
}

/// A node's answer to a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<R> {
    /// When it was sent.
    pub at: Instant,
    /// Which node answered.
    pub node: u32,
    /// The request it answers.
    pub request: RequestId,
    /// The answer, after a trip through the codec.
    pub body: R,
}

enum Event {
    Deliver {
        from: u32,
        to: u32,
        bytes: Vec<u8>,
        digest: u64,
        arrived: bool,
    },
    Timer {
        node: u32,
        id: TimerId,
        incarnation: u64,
    },
    Client {
        node: u32,
        request: RequestId,
        bytes: Vec<u8>,
    },
    /// A node's answer reaching its client (only with a client link).
    ClientReply {
        node: u32,
        request: RequestId,
        bytes: Vec<u8>,
    },
    /// Boxed: faults are rare, and a small `Event` keeps the queue's entries small.
    Fault(Box<Fault>),
}

impl Event {
    fn node(&self) -> Option<u32> {
        match self {
            Event::Deliver { to, .. } => Some(*to),
            Event::Timer { node, .. } | Event::Client { node, .. } => Some(*node),
            Event::ClientReply { .. } | Event::Fault(_) => None,
        }
    }
}

/// Finds a node's index from its id on every send: a sorted table of the ids' first eight bytes
/// (one integer compare per probe instead of a 32-byte comparison), confirmed against the full id.
struct IdIndex {
    /// (first eight bytes of the id, index), sorted.
    prefixes: Vec<(u64, u32)>,
    ids: Vec<NodeId>,
}

impl IdIndex {
    fn new(ids: Vec<NodeId>) -> IdIndex {
        let mut prefixes: Vec<(u64, u32)> =
            ids.iter().enumerate().map(|(index, id)| (Self::prefix(id), index as u32)).collect();
        prefixes.sort_unstable();
        assert!(
            prefixes.windows(2).all(|pair| pair[0].0 != pair[1].0),
            "two simulated node ids share their first eight bytes"
        );
        IdIndex { prefixes, ids }
    }

    fn prefix(id: &NodeId) -> u64 {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&id.0[..8]);
        u64::from_be_bytes(bytes)
    }

    fn get(&self, id: &NodeId) -> Option<u32> {
        let prefix = Self::prefix(id);
        let position = self.prefixes.binary_search_by_key(&prefix, |(key, _)| *key).ok()?;
        let index = self.prefixes[position].1;
        (self.ids[index as usize] == *id).then_some(index)
    }
}

/// A queue entry: the ordering key, and where the event waits in the [`EventSlab`]. Kept small (32
/// bytes) because the heap moves entries on every push and pop.
struct Scheduled {
    at: Instant,
    /// When the event first reached its node: `at`, unless it waited for a busy or paused node.
    arrived: Instant,
    seq: u64,
    slot: u32,
}

/// Events waiting in the queue, stored out of line; freed places are reused.
#[derive(Default)]
struct EventSlab {
    events: Vec<Option<Event>>,
    free: Vec<u32>,
}

impl EventSlab {
    fn insert(&mut self, event: Event) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.events[slot as usize] = Some(event);
                slot
            }
            None => {
                self.events.push(Some(event));
                u32::try_from(self.events.len() - 1).expect("fewer than 2^32 events queued at once")
            }
        }
    }

    fn take(&mut self, slot: u32) -> Event {
        self.free.push(slot);
        self.events[slot as usize].take().expect("a queued event is taken once")
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.arrived, self.seq) == (other.at, other.arrived, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so that the max-heap pops the earliest (time, arrival, sequence) first: inputs that
    /// waited for a busy node run before those that arrive at the instant it becomes free.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.arrived, other.seq).cmp(&(self.at, self.arrived, self.seq))
    }
}

struct Slot<N: Node> {
    id: NodeId,
    state: Option<N>,
    status: NodeStatus,
    starts: u64,
    disk: SimDisk,
    rng: SimRng,
    timers: TimerTable<N::Timer>,
    /// What the node's handlers asked for; lives as long as the slot, so timer ids keep counting.
    effects: Effects<N>,
    busy_until: Instant,
    handler_extra: Duration,
    skew_nanos: i128,
    /// Inputs that arrived while paused, with their arrival times.
    deferred: Vec<(Instant, Event)>,
    up_since: Option<Instant>,
}

enum Input<N: Node> {
    Start,
    Message(NodeId, N::Message),
    Timer(N::Timer),
    Client(RequestId, N::Request),
}

/// The simulated world as a node's handler sees it: virtual time (plus the disk time charged so
/// far), its skewed wall clock, its seeded RNG, its simulated disk, and the run's fault points and
/// probes.
struct SimHost<'a> {
    start: Instant,
    skew_nanos: i128,
    rng: &'a mut SimRng,
    disk: &'a mut SimDisk,
    buggify: &'a mut Buggify,
    coverage: &'a mut Coverage,
}

impl Host for SimHost<'_> {
    fn now(&self) -> Instant {
        self.start + self.disk.charged()
    }

    fn wall_clock(&self) -> WallTime {
        let nanos =
            i128::from(self.now().as_nanos()) + WALL_CLOCK_ORIGIN_UNIX_SECONDS * 1_000_000_000 + self.skew_nanos;
        WallTime::from_unix_nanos(nanos)
    }

    fn rng(&mut self) -> &mut dyn Rng {
        self.rng
    }

    fn storage(&mut self) -> &mut dyn Storage {
        self.disk
    }

    fn buggify(&mut self, site: &'static str) -> bool {
        self.buggify.fire(site, self.coverage)
    }

    fn sometimes(&mut self, probe: &'static str, condition: bool) {
        let count = match self.coverage.probes.get_mut(probe) {
            Some(count) => count,
            None => self.coverage.probes.entry(probe.to_owned()).or_default(),
        };
        count.evaluated += 1;
        count.held += u64::from(condition);
    }
}

/// A deterministic simulation of `nodes` nodes of type `N`.
pub struct Sim<N: Node> {
    streams: SeedStreams,
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    waiting: EventSlab,
    slots: Vec<Slot<N>>,
    index_of: IdIndex,
    network: Network,
    factory: Box<dyn FnMut(u32) -> N>,
    trace: Trace,
    coverage: Coverage,
    buggify: Buggify,
    stats: SimStats,
    replies: Vec<Reply<N::Response>>,
    next_request: u64,
    /// `cut_since[observer * nodes + target]`: since when `observer` has continuously been unable to
    /// hear from `target` (target not up, or the link from target to observer cut).
    cut_since: Vec<Option<Instant>>,
    plan: FaultPlan,
    /// Draws of the crash-after-sync fault (its own stream, so it reshuffles nothing else).
    crash_rng: SimRng,
    /// The clients' link, if they are on the network.
    client_link: Option<Latency>,
    /// Draws of the clients' link (its own stream).
    client_rng: SimRng,
    events_max: u64,
    message_bytes_max: Option<usize>,
    violations: Vec<SimViolation>,
}

impl<N: Node> Sim<N> {
    /// Builds the run and boots every node at time zero. `factory` makes a node's fresh state, at
    /// first boot and at every restart (whatever survives a crash comes back through storage).
    ///
    /// # Panics
    /// If `config.nodes` is zero.
    pub fn new(config: SimConfig, factory: impl FnMut(u32) -> N + 'static) -> Sim<N> {
        assert!(config.nodes > 0, "a simulation needs at least one node");
        let streams = SeedStreams::new(config.seed);
        let nodes = config.nodes;
        let slots = (0..nodes)
            .map(|index| Slot {
                id: NodeId::for_index(index),
                state: None,
                status: NodeStatus::Crashed,
                starts: 0,
                disk: SimDisk::new(config.plan.disk.clone(), streams.stream(&format!("disk/{index}"))),
                rng: streams.stream(&format!("node/{index}")),
                timers: TimerTable::new(),
                effects: Effects::new(),
                busy_until: Instant::ZERO,
                handler_extra: Duration::ZERO,
                skew_nanos: i128::from(config.plan.clock_skew_ms.get(index as usize).copied().unwrap_or(0)) * 1_000_000,
                deferred: Vec::new(),
                up_since: None,
            })
            .collect::<Vec<_>>();
        let index_of = IdIndex::new(slots.iter().map(|slot| slot.id).collect());
        let mut sim = Sim {
            streams,
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            waiting: EventSlab::default(),
            slots,
            index_of,
            network: Network::new(nodes, config.plan.network.clone(), streams.stream("net")),
            factory: Box::new(factory),
            trace: Trace::new(config.keep_trace),
            coverage: Coverage::default(),
            buggify: Buggify::new(config.plan.buggify, streams),
            stats: SimStats::default(),
            replies: Vec::new(),
            next_request: 0,
            cut_since: vec![None; (nodes as usize) * (nodes as usize)],
            events_max: config.events_max,
            crash_rng: streams.stream("crash-after-sync"),
            client_link: config.client_link,
            client_rng: streams.stream("client-net"),
            plan: config.plan,
            message_bytes_max: config.message_bytes_max,
            violations: Vec::new(),
        };
        for timed in sim.plan.events.clone() {
            sim.schedule(
                Instant::from_nanos(timed.at_ms.saturating_mul(1_000_000)),
                Event::Fault(Box::new(timed.fault)),
            );
        }
        let heal_at = Instant::from_nanos(sim.plan.heal_at_ms.saturating_mul(1_000_000));
        sim.schedule(heal_at, Event::Fault(Box::new(Fault::HealAll)));
        for index in 0..nodes {
            sim.start_node(index);
        }
        sim.update_cuts();
        sim
    }

    // ----- getters -----

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.streams.seed()
    }

    /// Virtual time now.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How many nodes.
    #[must_use]
    pub fn nodes(&self) -> u32 {
        self.slots.len() as u32
    }

    /// The plan the run follows.
    #[must_use]
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Node `index`'s identity.
    #[must_use]
    pub fn id_of(&self, index: u32) -> NodeId {
        self.slots[index as usize].id
    }

    /// The index of the node with identity `id`.
    #[must_use]
    pub fn index_of(&self, id: &NodeId) -> Option<u32> {
        self.index_of.get(id)
    }

    /// Node `index`'s state, unless it is crashed.
    #[must_use]
    pub fn node(&self, index: u32) -> Option<&N> {
        self.slots[index as usize].state.as_ref()
    }

    /// Whether node `index` runs.
    #[must_use]
    pub fn status(&self, index: u32) -> NodeStatus {
        self.slots[index as usize].status
    }

    /// How many times node `index` has started.
    #[must_use]
    pub fn starts(&self, index: u32) -> u64 {
        self.slots[index as usize].starts
    }

    /// Since when node `index` has been up without interruption (crash or pause), if it is up.
    #[must_use]
    pub fn up_since(&self, index: u32) -> Option<Instant> {
        self.slots[index as usize].up_since
    }

    /// Since when `observer` has continuously been unable to hear from `target`: `target` is not up
    /// (crashed or paused), or the link from `target` to `observer` is cut. `None` if messages from
    /// `target` can reach `observer` now. (A link cut only from `observer` to `target` does not count:
    /// `target` can still speak.)
    #[must_use]
    pub fn cut_since(&self, observer: u32, target: u32) -> Option<Instant> {
        self.cut_since[(observer * self.nodes() + target) as usize]
    }

    /// Node `index`'s disk.
    #[must_use]
    pub fn disk(&self, index: u32) -> &SimDisk {
        &self.slots[index as usize].disk
    }

    /// The network.
    #[must_use]
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Node `index`'s wall-clock skew in nanoseconds.
    #[must_use]
    pub fn clock_skew_nanos(&self, index: u32) -> i128 {
        self.slots[index as usize].skew_nanos
    }

    /// The trace so far.
    #[must_use]
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The run's fingerprint so far.
    #[must_use]
    pub fn trace_hash(&self) -> TraceHash {
        self.trace.hash()
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// What the run covered.
    #[must_use]
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    /// What the kernel itself saw nodes do wrong (oversized messages, broken invariants), in order.
    #[must_use]
    pub fn violations(&self) -> &[SimViolation] {
        &self.violations
    }

    /// Takes the replies collected so far.
    pub fn take_replies(&mut self) -> Vec<Reply<N::Response>> {
        std::mem::take(&mut self.replies)
    }

    // ----- driving -----

    /// Processes every event up to and including `deadline`, then sets the clock to `deadline`.
    pub fn run_until(&mut self, deadline: Instant) -> Result<(), SimError> {
        while self.queue.peek().is_some_and(|next| next.at <= deadline) {
            self.step()?;
        }
        self.now = self.now.max(deadline);
        Ok(())
    }

    /// Processes `duration` more of virtual time.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        self.run_until(self.now + duration)
    }

    /// Processes the next event, if any. False when the queue is empty.
    pub fn step(&mut self) -> Result<bool, SimError> {
        let Some(Scheduled { at, arrived, slot, .. }) = self.queue.pop() else {
            return Ok(false);
        };
        let event = self.waiting.take(slot);
        if self.stats.events >= self.events_max {
            return Err(SimError::EventBudgetExhausted { events_max: self.events_max, at });
        }
        assert!(at >= self.now, "event queue went back in time");
        self.now = at;
        self.stats.events += 1;
        self.dispatch(event, arrived);
        Ok(true)
    }

    /// Applies `fault` now (tests and scenarios use this; plans schedule theirs).
    pub fn apply(&mut self, fault: Fault) {
        self.apply_fault(fault);
    }

    /// Sends `body` from a client to node `index`, arriving now. The answer appears in
    /// [`Sim::take_replies`].
    ///
    /// # Panics
    /// If `body` cannot be encoded: the scenario built a request over the frame limit.
    pub fn client_request(&mut self, index: u32, body: &N::Request) -> RequestId {
        self.next_request += 1;
        let request = RequestId(self.next_request);
        let bytes = match body.encode() {
            Ok(bytes) => bytes,
            Err(error) => panic!("a scenario's client request cannot be encoded: {error}"),
        };
        match self.client_crossing() {
            Some(delay) => self.schedule(self.now + delay, Event::Client { node: index, request, bytes }),
            None => {
                self.stats.dropped_loss += 1;
                let reason = DropReason::Loss.name();
                self.trace.record(self.now, Some(index), TraceKind::Drop { from: CLIENT, to: index, reason });
            }
        }
        request
    }

    // ----- internals -----

    /// How long a client's message takes on its link, or `None` if it is lost. Clients without a
    /// link (the default) get their messages across at once, always.
    fn client_crossing(&mut self) -> Option<Duration> {
        let Some(link) = self.client_link else { return Some(Duration::ZERO) };
        let drop_ppm = self.network.faults().drop_ppm;
        if drop_ppm > 0 && chance(&mut self.client_rng, u64::from(drop_ppm), u64::from(crate::plan::PPM)) {
            return None;
        }
        Some(link.sample(&mut self.client_rng))
    }

    fn deliver_reply(&mut self, at: Instant, node: u32, request: RequestId, bytes: &[u8]) {
        if let Ok(body) = N::Response::decode(bytes) {
            self.replies.push(Reply { at, node, request, body });
        }
    }

    fn schedule(&mut self, at: Instant, event: Event) {
        self.schedule_arrived(at, at, event);
    }

    /// Schedules an input that reached its node at `arrived` but must wait until `at`.
    fn schedule_arrived(&mut self, at: Instant, arrived: Instant, event: Event) {
        self.seq += 1;
        let slot = self.waiting.insert(event);
        self.queue.push(Scheduled { at, arrived, seq: self.seq, slot });
    }

    fn dispatch(&mut self, event: Event, arrived: Instant) {
        let now = self.now;
        let event = match event {
            Event::Fault(fault) => {
                self.apply_fault(*fault);
                return;
            }
            Event::ClientReply { node, request, bytes } => {
                // The client is not a node: its answer arrives whatever the node does now.
                self.deliver_reply(now, node, request, &bytes);
                return;
            }
            other => other,
        };
        let node = event.node().unwrap_or(0);
        let slot = &mut self.slots[node as usize];
        // Inputs for a crashed node are lost; timers of an earlier incarnation are void.
        if let Event::Timer { incarnation, .. } = event
            && (slot.status == NodeStatus::Crashed || incarnation != slot.starts)
        {
            return;
        }
        let event = match event {
            Event::Deliver { from, to, bytes, digest, arrived: false } => {
                if self.network.is_blocked(from, to) {
                    self.stats.dropped_partition += 1;
                    self.trace.record(
                        now,
                        Some(to),
                        TraceKind::Drop { from, to, reason: DropReason::Partition.name() },
                    );
                    return;
                }
                Event::Deliver { from, to, bytes, digest, arrived: true }
            }
            other => other,
        };
        match slot.status {
            NodeStatus::Crashed => {
                let sender = match event {
                    Event::Deliver { from, .. } => Some(from),
                    Event::Client { .. } => Some(CLIENT),
                    _ => None,
                };
                if let Some(from) = sender {
                    self.stats.dropped_node_down += 1;
                    self.trace.record(
                        now,
                        Some(node),
                        TraceKind::Drop { from, to: node, reason: DropReason::NodeDown.name() },
                    );
                }
                return;
            }
            NodeStatus::Paused => {
                slot.deferred.push((arrived, event));
                return;
            }
            NodeStatus::Up => {}
        }
        if slot.busy_until > now {
            let busy_until = slot.busy_until;
            self.schedule_arrived(busy_until, arrived, event);
            return;
        }
        match event {
            Event::Deliver { from, to, bytes, digest, .. } => match N::Message::decode(&bytes) {
                Ok(message) => {
                    self.stats.delivered += 1;
                    self.trace.record(now, Some(to), TraceKind::Deliver { from, digest });
                    let sender = self.slots[from as usize].id;
                    self.invoke(to, Input::Message(sender, message));
                }
                Err(_) => {
                    self.stats.rejected += 1;
                    self.trace.record(now, Some(to), TraceKind::Drop { from, to, reason: DropReason::Rejected.name() });
                }
            },
            Event::Timer { node, id, .. } => {
                if let Some(timer) = self.slots[node as usize].timers.take(id) {
                    self.stats.timers += 1;
                    self.trace.record(now, Some(node), TraceKind::Timer { id: id.0 });
                    self.invoke(node, Input::Timer(timer));
                }
            }
            Event::Client { node, request, bytes } => match N::Request::decode(&bytes) {
                Ok(body) => {
                    self.stats.client_requests += 1;
                    self.trace.record(
                        now,
                        Some(node),
                        TraceKind::Client { request: request.0, digest: digest(&bytes) },
                    );
                    self.invoke(node, Input::Client(request, body));
                }
                Err(_) => {
                    self.stats.rejected += 1;
                }
            },
            Event::Fault(_) | Event::ClientReply { .. } => unreachable!("dispatched above"),
        }
    }

    fn start_node(&mut self, index: u32) {
        let state = (self.factory)(index);
        let now = self.now;
        let slot = &mut self.slots[index as usize];
        slot.state = Some(state);
        slot.status = NodeStatus::Up;
        slot.starts += 1;
        slot.up_since = Some(now);
        slot.busy_until = now;
        slot.timers.clear();
        slot.deferred.clear();
        self.stats.starts += 1;
        let incarnation = slot.starts;
        self.trace.record(now, Some(index), TraceKind::Start { incarnation });
        self.invoke(index, Input::Start);
    }

    fn invoke(&mut self, index: u32, input: Input<N>) {
        let slot = &mut self.slots[index as usize];
        // A slow node spends its extra time before it gets anything done: its clock reading, its
        // sends and its replies all come that much later.
        let start = self.now + slot.handler_extra;
        let syncs_before = slot.disk.stats().syncs;
        // The node's state is borrowed in place, beside the rest of its slot (not moved out and
        // back: a composed node's state is large).
        let Slot { id, state, rng, disk, effects, skew_nanos, .. } = slot;
        let Some(state) = state.as_mut() else {
            return;
        };
        {
            let mut host = SimHost {
                start,
                skew_nanos: *skew_nanos,
                rng,
                disk,
                buggify: &mut self.buggify,
                coverage: &mut self.coverage,
            };
            let mut cx = HandlerContext::new(*id, &mut host, effects);
            match input {
                Input::Start => state.on_start(&mut cx),
                Input::Message(from, message) => state.on_message(&mut cx, from, message),
                Input::Timer(timer) => state.on_timer(&mut cx, timer),
                Input::Client(request, body) => state.on_client(&mut cx, request, body),
            }
        }
        slot.busy_until = start + slot.disk.take_charged();
        let synced = slot.disk.stats().syncs > syncs_before;
        let busy_until = slot.busy_until;
        let incarnation = slot.starts;
        let emitted: Vec<Emitted<N>> = slot.effects.drain().collect();
        for Emitted { at, effect } in emitted {
            self.carry_out(index, incarnation, at, effect);
        }
        if synced {
            self.maybe_crash_after_sync(index, busy_until);
        }
    }

    fn violation(&mut self, at: Instant, node: u32, kind: SimViolationKind) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(SimViolation { at, node, kind });
        }
    }

    /// Carries out what node `index` asked for at `at` (its handler's time when it asked).
    fn carry_out(&mut self, index: u32, incarnation: u64, at: Instant, effect: Effect<N>) {
        match effect {
            Effect::Send { to, message } => {
                let depart = at;
                let Some(to) = self.index_of.get(&to) else {
                    self.trace.record(
                        depart,
                        Some(index),
                        TraceKind::Node { event: "send_unknown_peer".into(), detail: to.short() },
                    );
                    return;
                };
                if to == index {
                    return; // the contract: never delivered to the sender itself
                }
                let bytes = match message.encode() {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.violation(depart, index, SimViolationKind::Unencodable { error: error.to_string() });
                        return;
                    }
                };
                if let Some(limit) = self.message_bytes_max
                    && bytes.len() > limit
                {
                    let family = bytes.get(3).copied().unwrap_or(0);
                    let kind = SimViolationKind::MessageOverBudget { family, bytes: bytes.len(), limit };
                    self.violation(depart, index, kind);
                    return;
                }
                self.stats.sent += 1;
                let message_digest = digest(&bytes);
                let size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                self.trace.record(depart, Some(index), TraceKind::Send { to, digest: message_digest, bytes: size });
                match self.network.route(index, to, depart, bytes) {
                    Err(reason) => {
                        match reason {
                            DropReason::Partition => self.stats.dropped_partition += 1,
                            _ => self.stats.dropped_loss += 1,
                        }
                        self.trace.record(
                            depart,
                            Some(index),
                            TraceKind::Drop { from: index, to, reason: reason.name() },
                        );
                    }
                    Ok(copies) => {
                        for copy in copies {
                            self.stats.duplicated += u64::from(copy.duplicate);
                            self.stats.reordered += u64::from(copy.reordered);
                            self.stats.corrupted += u64::from(copy.corrupted);
                            let event = Event::Deliver {
                                from: index,
                                to,
                                bytes: copy.bytes,
                                digest: message_digest,
                                arrived: false,
                            };
                            self.schedule(copy.arrival, event);
                        }
                    }
                }
            }
            Effect::SetTimer { id, after, timer } => {
                let deadline = at + after;
                self.slots[index as usize].timers.set(id, deadline, timer);
                self.schedule(deadline, Event::Timer { node: index, id, incarnation });
            }
            Effect::CancelTimer { id } => {
                self.slots[index as usize].timers.cancel(id);
            }
            Effect::Reply { request, response } => {
                let bytes = match response.encode() {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.violation(at, index, SimViolationKind::Unencodable { error: error.to_string() });
                        return;
                    }
                };
                self.stats.replies += 1;
                self.trace.record(at, Some(index), TraceKind::Reply { request: request.0, digest: digest(&bytes) });
                // Replies cross the boundary as bytes too, and the client's link if it has one.
                match self.client_crossing() {
                    Some(delay) if delay.is_zero() => self.deliver_reply(at, index, request, &bytes),
                    Some(delay) => self.schedule(at + delay, Event::ClientReply { node: index, request, bytes }),
                    None => {
                        self.stats.dropped_loss += 1;
                        let reason = DropReason::Loss.name();
                        self.trace.record(at, Some(index), TraceKind::Drop { from: index, to: CLIENT, reason });
                    }
                }
            }
            Effect::Trace { event } => {
                if event.is_invariant_violation() {
                    self.violation(at, index, SimViolationKind::Invariant { detail: event.detail.clone() });
                }
                self.trace.record(at, Some(index), TraceKind::Node { event: event.kind, detail: event.detail });
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        let now = self.now;
        let nodes = self.nodes();
        if let Some(node) = fault.node()
            && node >= nodes
        {
            self.trace.record(now, None, TraceKind::Fault { description: format!("ignored (no such node): {fault}") });
            return;
        }
        *self.coverage.faults.entry(fault.kind_name().to_owned()).or_default() += 1;
        self.trace.record(now, fault.node(), TraceKind::Fault { description: fault.to_string() });
        match fault {
            Fault::Partition { partition } => self.network.partition_with(partition),
            Fault::Heal => self.network.heal(),
            Fault::Crash { node } => self.crash(node),
            Fault::Restart { node } => {
                if self.status(node) == NodeStatus::Crashed {
                    self.start_node(node);
                }
            }
            Fault::Pause { node } => {
                let slot = &mut self.slots[node as usize];
                if slot.status == NodeStatus::Up {
                    slot.status = NodeStatus::Paused;
                    slot.up_since = None;
                    self.stats.pauses += 1;
                    self.trace.record(now, Some(node), TraceKind::Pause);
                }
            }
            Fault::Resume { node } => self.resume(node),
            Fault::Slow { node, handler_extra_us } => {
                self.slots[node as usize].handler_extra = Duration::from_micros(handler_extra_us);
            }
            Fault::ClockJump { node, by_ms } => {
                self.slots[node as usize].skew_nanos += i128::from(by_ms) * 1_000_000;
            }
            Fault::DiskFull { node } => self.slots[node as usize].disk.set_full(true),
            Fault::DiskFreed { node } => self.slots[node as usize].disk.set_full(false),
            Fault::HealAll => {
                self.network.heal();
                self.network.calm();
                for node in 0..nodes {
                    match self.status(node) {
                        NodeStatus::Crashed => self.start_node(node),
                        NodeStatus::Paused => self.resume(node),
                        NodeStatus::Up => {}
                    }
                    let slot = &mut self.slots[node as usize];
                    slot.handler_extra = Duration::ZERO;
                    slot.disk.set_full(false);
                    slot.disk.calm();
                }
            }
        }
        self.update_cuts();
    }

    /// The crash-after-sync fault: crash the node the moment its synced input is done, and restart
    /// it a little later. Never in the liveness phase.
    fn maybe_crash_after_sync(&mut self, index: u32, at: Instant) {
        let ppm = self.plan.crash_after_sync_ppm;
        let heal_at = Instant::from_nanos(self.plan.heal_at_ms.saturating_mul(1_000_000));
        if ppm == 0 || at >= heal_at || !chance(&mut self.crash_rng, u64::from(ppm), u64::from(crate::plan::PPM)) {
            return;
        }
        let down_for = Duration::from_millis(1 + below(&mut self.crash_rng, 500));
        self.schedule(at, Event::Fault(Box::new(Fault::Crash { node: index })));
        self.schedule((at + down_for).min(heal_at), Event::Fault(Box::new(Fault::Restart { node: index })));
    }

    fn crash(&mut self, node: u32) {
        let now = self.now;
        let slot = &mut self.slots[node as usize];
        if slot.status == NodeStatus::Crashed {
            return;
        }
        slot.state = None;
        slot.status = NodeStatus::Crashed;
        slot.timers.clear();
        slot.deferred.clear();
        slot.disk.crash();
        slot.busy_until = now;
        slot.up_since = None;
        self.stats.crashes += 1;
        self.trace.record(now, Some(node), TraceKind::Crash);
    }

    fn resume(&mut self, node: u32) {
        let now = self.now;
        let slot = &mut self.slots[node as usize];
        if slot.status != NodeStatus::Paused {
            return;
        }
        slot.status = NodeStatus::Up;
        slot.up_since = Some(now);
        let deferred = std::mem::take(&mut slot.deferred);
        self.trace.record(now, Some(node), TraceKind::Resume);
        for (arrived, event) in deferred {
            self.schedule_arrived(now, arrived, event);
        }
    }

    fn update_cuts(&mut self) {
        let nodes = self.nodes();
        let now = self.now;
        for observer in 0..nodes {
            for target in 0..nodes {
                let cut =
                    self.slots[target as usize].status != NodeStatus::Up || self.network.is_blocked(target, observer);
                let cell = &mut self.cut_since[(observer * nodes + target) as usize];
                match (cut, *cell) {
                    (true, None) => *cell = Some(now),
                    (false, Some(_)) => *cell = None,
                    _ => {}
                }
            }
        }
    }
}

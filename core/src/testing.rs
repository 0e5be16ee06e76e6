//! A small deterministic harness for unit tests of the state machines in this crate, without the
//! simulator (which depends on this crate, not the other way round).
//!
//! [`TestContext`] is a [`Context`] whose time the test sets by hand, whose RNG is a seeded ChaCha8,
//! whose storage is in memory (and can be told to refuse writes or report corruption), and which
//! records every effect — sends, timers, cancels, replies, trace events, coverage probes — for the
//! test to inspect. [`Cluster`] runs a few nodes against each other in the manner of quinn-proto's
//! `Pair`: messages cross a fixed latency, timers fire in time order, and every drive is bounded by
//! a step limit so that a livelock fails the test instead of hanging it.

use crate::codec::Codec;
use crate::id::NodeId;
use crate::node::{Context, Node, RequestId, TimerId, TraceEvent};
use crate::storage::{MemoryStorage, Pairs, Storage, StorageError, WriteBatch};
use crate::time::{Duration, Instant, WallTime};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

/// The fixed wall-clock reading every test context reports: 2024-01-01T00:00:00Z.
const WALL_CLOCK_UNIX_SECONDS: i128 = 1_704_067_200;

/// How often a coverage probe was evaluated, and how often its condition held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    pub evaluated: u64,
    pub held: u64,
}

/// [`MemoryStorage`] with two switches a test flips to inject faults where the node must survive
/// them: a full disk, and values that fail their checksum.
#[derive(Clone, Debug, Default)]
pub struct TestStorage {
    pub memory: MemoryStorage,
    /// While set, every non-empty write is refused with [`StorageError::Full`] and changes nothing.
    pub full: bool,
    /// While set, every read reports [`StorageError::Corrupt`].
    pub corrupt: bool,
    /// Writes refused because the disk was full.
    pub writes_refused: u64,
}

impl TestStorage {
    /// The stored value of `key` in `table`, read past the fault switches.
    pub fn peek(&self, table: &str, key: &[u8]) -> Option<&Vec<u8>> {
        self.memory.tables.get(table, key)
    }

    /// Every stored key of `table`, read past the fault switches.
    pub fn keys_of(&self, table: &str) -> Vec<Vec<u8>> {
        self.memory.tables.keys().filter(|(name, _)| *name == table).map(|(_, key)| key.to_vec()).collect()
    }

    fn corruption(table: &str, key: &[u8]) -> StorageError {
        StorageError::Corrupt { table: table.to_owned(), key: key.to_vec() }
    }
}

impl Storage for TestStorage {
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if self.corrupt {
            return Err(TestStorage::corruption(table, key));
        }
        self.memory.get(table, key)
    }

    fn range(&mut self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Pairs, StorageError> {
        if self.corrupt {
            return Err(TestStorage::corruption(table, start));
        }
        self.memory.range(table, start, end, limit)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        if self.full && !batch.is_empty() {
            self.writes_refused += 1;
            return Err(StorageError::Full { needed: batch.bytes(), available: 0 });
        }
        let result = self.memory.write(batch);
        assert!(result.is_ok(), "memory storage refused a write");
        result
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.memory.sync()
    }
}

/// A [`Context`] for one node, driven by hand: the test sets `now`, calls a handler, and reads what
/// the handler did from the recording vectors.
pub struct TestContext<N: Node> {
    pub id: NodeId,
    /// Monotonic time the handlers see; the test advances it.
    pub now: Instant,
    pub rng: ChaCha8Rng,
    pub storage: TestStorage,
    /// Messages sent, in order: (to, message).
    pub sent: Vec<(NodeId, N::Message)>,
    /// Timers set, in order: (id, after, timer).
    pub timers: Vec<(TimerId, Duration, N::Timer)>,
    pub cancelled: Vec<TimerId>,
    pub replies: Vec<(RequestId, N::Response)>,
    pub traces: Vec<TraceEvent>,
    pub probes: BTreeMap<&'static str, Probe>,
    timer_next: u64,
}

impl<N: Node> TestContext<N> {
    /// A context for node `id` at time zero, with empty storage and an RNG seeded from `seed`.
    pub fn new(id: NodeId, seed: u64) -> TestContext<N> {
        let mut seed_bytes = [0_u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        TestContext {
            id,
            now: Instant::ZERO,
            rng: ChaCha8Rng::from_seed(seed_bytes),
            storage: TestStorage::default(),
            sent: Vec::new(),
            timers: Vec::new(),
            cancelled: Vec::new(),
            replies: Vec::new(),
            traces: Vec::new(),
            probes: BTreeMap::new(),
            timer_next: 0,
        }
    }

    /// What is left after a crash: the same identity, clock and storage, and nothing recorded.
    /// (Timer ids keep counting up, so an id from before the crash never names a new timer.)
    pub fn crash(&mut self) {
        self.sent.clear();
        self.timers.clear();
        self.cancelled.clear();
        self.replies.clear();
        self.traces.clear();
        self.probes.clear();
    }

    /// The details of the recorded trace events of `kind`, in order.
    pub fn traces_of(&self, kind: &str) -> Vec<&str> {
        self.traces.iter().filter(|event| event.kind == kind).map(|event| event.detail.as_str()).collect()
    }

    /// The messages sent so far, leaving the record empty.
    pub fn take_sent(&mut self) -> Vec<(NodeId, N::Message)> {
        std::mem::take(&mut self.sent)
    }

    /// The timers set so far, leaving the record empty.
    pub fn take_timers(&mut self) -> Vec<(TimerId, Duration, N::Timer)> {
        std::mem::take(&mut self.timers)
    }
}

impl<N: Node> Context<N> for TestContext<N> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn now(&self) -> Instant {
        self.now
    }

    fn wall_clock(&self) -> WallTime {
        WallTime::from_unix_nanos(WALL_CLOCK_UNIX_SECONDS * 1_000_000_000 + i128::from(self.now.as_nanos()))
    }

    fn rng(&mut self) -> &mut dyn Rng {
        &mut self.rng
    }

    fn send(&mut self, to: NodeId, message: N::Message) {
        self.sent.push((to, message));
    }

    fn set_timer(&mut self, after: Duration, timer: N::Timer) -> TimerId {
        self.timer_next += 1;
        let id = TimerId(self.timer_next);
        self.timers.push((id, after, timer));
        id
    }

    fn cancel_timer(&mut self, id: TimerId) {
        self.cancelled.push(id);
    }

    fn reply(&mut self, request: RequestId, body: N::Response) {
        self.replies.push((request, body));
    }

    fn storage(&mut self) -> &mut dyn Storage {
        &mut self.storage
    }

    fn buggify(&mut self, _site: &'static str) -> bool {
        false
    }

    fn sometimes(&mut self, probe: &'static str, condition: bool) {
        let count = self.probes.entry(probe).or_default();
        count.evaluated += 1;
        count.held += u64::from(condition);
    }

    fn trace(&mut self, event: TraceEvent) {
        self.traces.push(event);
    }
}

/// Something due to happen in a [`Cluster`].
enum Event<N: Node> {
    /// A message (as encoded bytes, the way it crosses a wire) arriving at node `to`.
    Deliver { from: usize, to: usize, bytes: Vec<u8> },
    /// A timer of node `node` firing.
    Timer { node: usize, id: TimerId, timer: N::Timer },
}

/// A few nodes in memory, talking over a network with a fixed latency and no loss, except that a
/// test may cut a node off (every message from or to it is dropped) and heal it again.
pub struct Cluster<N: Node> {
    pub nodes: Vec<(N, TestContext<N>)>,
    pub now: Instant,
    latency: Duration,
    index_of: BTreeMap<NodeId, usize>,
    cut: BTreeSet<usize>,
    /// Cancelled timers, by (node, timer id), so that they never fire.
    cancelled: BTreeSet<(usize, TimerId)>,
    /// Pending events in the order they happen; the sequence number breaks ties by scheduling order.
    queue: BTreeMap<(Instant, u64), Event<N>>,
    sequence: u64,
}

impl<N: Node> Cluster<N> {
    /// Boots `nodes` at time zero; node `i` has identity [`NodeId::for_index`]`(i)` and RNG seed
    /// `seed + i`.
    pub fn start(nodes: Vec<N>, latency: Duration, seed: u64) -> Cluster<N> {
        assert!(!nodes.is_empty() && nodes.len() <= 16, "a test cluster has 1 to 16 nodes");
        let nodes: Vec<(N, TestContext<N>)> = nodes
            .into_iter()
            .enumerate()
            .map(|(index, node)| {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                (node, TestContext::new(NodeId::for_index(index), seed + u64::from(index)))
            })
            .collect();
        let index_of = nodes.iter().enumerate().map(|(index, (_, cx))| (cx.id, index)).collect();
        let mut cluster = Cluster {
            nodes,
            now: Instant::ZERO,
            latency,
            index_of,
            cut: BTreeSet::new(),
            cancelled: BTreeSet::new(),
            queue: BTreeMap::new(),
            sequence: 0,
        };
        for index in 0..cluster.nodes.len() {
            let (node, cx) = &mut cluster.nodes[index];
            node.on_start(cx);
            cluster.collect(index);
        }
        cluster
    }

    /// The identity of node `index`.
    pub fn id(&self, index: usize) -> NodeId {
        self.nodes[index].1.id
    }

    /// Hands node `index` a client request now; its answers collect in that node's `replies`.
    pub fn request(&mut self, index: usize, request: RequestId, body: N::Request) {
        let now = self.now;
        let (node, cx) = &mut self.nodes[index];
        cx.now = now;
        node.on_client(cx, request, body);
        self.collect(index);
    }

    /// Crashes node `index` and restarts it at once as `fresh`, on the same storage (whatever it
    /// had synced and written; [`TestStorage`] loses nothing). Its pending timers are void.
    pub fn restart(&mut self, index: usize, fresh: N) {
        let now = self.now;
        let void: Vec<(usize, TimerId)> = self
            .queue
            .values()
            .filter_map(|event| match event {
                Event::Timer { node, id, .. } if *node == index => Some((*node, *id)),
                _ => None,
            })
            .collect();
        self.cancelled.extend(void);
        let (node, cx) = &mut self.nodes[index];
        cx.crash();
        cx.now = now;
        *node = fresh;
        node.on_start(cx);
        self.collect(index);
    }

    /// Drops every message from or to node `index` (including those already in flight) until healed.
    pub fn cut(&mut self, index: usize) {
        assert!(index < self.nodes.len());
        self.cut.insert(index);
    }

    /// Undoes [`Cluster::cut`].
    pub fn heal(&mut self, index: usize) {
        assert!(self.cut.remove(&index), "node {index} was not cut");
    }

    /// Runs every event due up to and including `deadline`, then leaves the clock at `deadline`.
    /// Panics if that takes more than `steps_max` events (like quinn's `drive_bounded`). Returns the
    /// number of events run.
    pub fn drive_until(&mut self, deadline: Instant, steps_max: u64) -> u64 {
        assert!(deadline >= self.now, "time never goes back");
        let mut steps = 0_u64;
        while let Some(entry) = self.queue.first_entry() {
            let (at, _) = *entry.key();
            if at > deadline {
                break;
            }
            let event = entry.remove();
            assert!(at >= self.now, "an event was scheduled in the past");
            steps += 1;
            assert!(steps <= steps_max, "the cluster did not reach {deadline} within {steps_max} steps");
            self.now = at;
            self.run(event);
        }
        self.now = deadline;
        for (_, cx) in &mut self.nodes {
            cx.now = deadline;
        }
        steps
    }

    /// Runs for `duration` from now; see [`Cluster::drive_until`].
    pub fn drive_for(&mut self, duration: Duration, steps_max: u64) -> u64 {
        self.drive_until(self.now + duration, steps_max)
    }

    fn run(&mut self, event: Event<N>) {
        let now = self.now;
        match event {
            Event::Deliver { from, to, bytes } => {
                if self.cut.contains(&from) || self.cut.contains(&to) {
                    return;
                }
                let message = match N::Message::decode(&bytes) {
                    Ok(message) => message,
                    Err(error) => panic!("a message that was encoded fails to decode: {error}"),
                };
                let from_id = self.id(from);
                let (node, cx) = &mut self.nodes[to];
                cx.now = now;
                node.on_message(cx, from_id, message);
                self.collect(to);
            }
            Event::Timer { node: index, id, timer } => {
                if self.cancelled.remove(&(index, id)) {
                    return;
                }
                let (node, cx) = &mut self.nodes[index];
                cx.now = now;
                node.on_timer(cx, timer);
                self.collect(index);
            }
        }
    }

    /// Moves what node `index` just did from its context into the event queue.
    fn collect(&mut self, index: usize) {
        let cx = &mut self.nodes[index].1;
        let sent = cx.take_sent();
        let timers = cx.take_timers();
        let cancelled = std::mem::take(&mut cx.cancelled);
        for id in cancelled {
            self.cancelled.insert((index, id));
        }
        for (id, after, timer) in timers {
            self.schedule(self.now + after, Event::Timer { node: index, id, timer });
        }
        for (to, message) in sent {
            assert_ne!(to, self.id(index), "a node sent a message to itself");
            // Messages to identities outside the cluster go nowhere, as on a real network.
            let Some(&to_index) = self.index_of.get(&to) else {
                continue;
            };
            if self.cut.contains(&index) || self.cut.contains(&to_index) {
                continue;
            }
            let bytes = message.encode();
            self.schedule(self.now + self.latency, Event::Deliver { from: index, to: to_index, bytes });
        }
    }

    fn schedule(&mut self, at: Instant, event: Event<N>) {
        self.sequence += 1;
        let previous = self.queue.insert((at, self.sequence), event);
        assert!(previous.is_none(), "two events share a sequence number");
    }
}

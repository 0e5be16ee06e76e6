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
use crate::effects::{Effect, Effects, Emitted, TimerTable};
use crate::id::NodeId;
use crate::node::{Context, HandlerContext, Host, Node, RequestId, TimerId, TraceEvent};
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
/// them: a full disk, and values that fail their checksum. A refused write poisons it, as the
/// storage contract says, until [`Storage::reopen`]; it keeps everything (memory is always durable).
#[derive(Clone, Debug, Default)]
pub struct TestStorage {
    pub memory: MemoryStorage,
    /// While set, every non-empty write is refused with [`StorageError::Full`] and changes nothing.
    pub full: bool,
    /// While set, every read reports [`StorageError::Corrupt`].
    pub corrupt: bool,
    /// Writes refused because the disk was full.
    pub writes_refused: u64,
    /// The failure that poisoned it, until it is reopened.
    pub poisoned: Option<StorageError>,
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

    fn refuse_if_poisoned(&self) -> Result<(), StorageError> {
        self.poisoned.as_ref().map_or(Ok(()), |cause| Err(StorageError::poisoned(cause)))
    }
}

impl Storage for TestStorage {
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.refuse_if_poisoned()?;
        if self.corrupt {
            return Err(TestStorage::corruption(table, key));
        }
        self.memory.get(table, key)
    }

    fn range(&mut self, table: &str, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Pairs, StorageError> {
        self.refuse_if_poisoned()?;
        if self.corrupt {
            return Err(TestStorage::corruption(table, start));
        }
        self.memory.range(table, start, end, limit)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        self.refuse_if_poisoned()?;
        if self.full && !batch.is_empty() {
            self.writes_refused += 1;
            let error = StorageError::Full(format!("the test's disk is full; the batch needs {} bytes", batch.bytes()));
            self.poisoned = Some(error.clone());
            return Err(error);
        }
        let result = self.memory.write(batch);
        assert!(result.is_ok(), "memory storage refused a write");
        result
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.refuse_if_poisoned()?;
        self.memory.sync()
    }

    fn reopen(&mut self) -> Result<(), StorageError> {
        self.poisoned = None;
        Ok(())
    }

    fn failure(&self) -> Option<&StorageError> {
        self.poisoned.as_ref()
    }
}

/// A [`Context`] for one node, driven by hand: the test sets `now`, calls a handler, and reads what
/// the handler did from the [`Effects`] buffer — the same buffer type the simulator and the real
/// runtime use — through the accessors below.
pub struct TestContext<N: Node> {
    pub id: NodeId,
    /// Monotonic time the handlers see; the test advances it.
    pub now: Instant,
    pub rng: ChaCha8Rng,
    pub storage: TestStorage,
    pub probes: BTreeMap<&'static str, Probe>,
    /// What the handlers asked for, in order, until the test or the cluster takes it.
    pub effects: Effects<N>,
}

/// The test context's clocks, storage and probes, as a [`Host`].
struct TestHost<'a> {
    now: Instant,
    rng: &'a mut ChaCha8Rng,
    storage: &'a mut TestStorage,
    probes: &'a mut BTreeMap<&'static str, Probe>,
}

impl Host for TestHost<'_> {
    fn now(&self) -> Instant {
        self.now
    }

    fn wall_clock(&self) -> WallTime {
        test_wall_clock(self.now)
    }

    fn rng(&mut self) -> &mut dyn Rng {
        self.rng
    }

    fn storage(&mut self) -> &mut dyn Storage {
        self.storage
    }

    fn sometimes(&mut self, probe: &'static str, condition: bool) {
        let count = self.probes.entry(probe).or_default();
        count.evaluated += 1;
        count.held += u64::from(condition);
    }
}

fn test_wall_clock(now: Instant) -> WallTime {
    WallTime::from_unix_nanos(WALL_CLOCK_UNIX_SECONDS * 1_000_000_000 + i128::from(now.as_nanos()))
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
            probes: BTreeMap::new(),
            effects: Effects::new(),
        }
    }

    /// Runs `f` with the one [`Context`] implementation every runtime uses.
    fn handler<R>(&mut self, f: impl FnOnce(&mut HandlerContext<'_, N>) -> R) -> R {
        let mut host =
            TestHost { now: self.now, rng: &mut self.rng, storage: &mut self.storage, probes: &mut self.probes };
        let mut cx = HandlerContext::new(self.id, &mut host, &mut self.effects);
        f(&mut cx)
    }

    /// What is left after a crash: the same identity, clock and storage, and nothing recorded.
    /// (Timer ids keep counting up, so an id from before the crash never names a new timer.)
    pub fn crash(&mut self) {
        self.effects.clear();
        self.probes.clear();
        // A new process opens the store afresh (memory storage loses nothing).
        self.storage.poisoned = None;
    }

    /// Takes the recorded effects that `pick` selects, in order, leaving the others.
    fn take_where<T>(&mut self, mut pick: impl FnMut(Effect<N>) -> Result<T, Effect<N>>) -> Vec<T> {
        self.take_timed_where(|_, effect| pick(effect))
    }

    /// Like `take_where`, with each effect's time.
    fn take_timed_where<T>(&mut self, mut pick: impl FnMut(Instant, Effect<N>) -> Result<T, Effect<N>>) -> Vec<T> {
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for Emitted { at, effect } in self.effects.drain() {
            match pick(at, effect) {
                Ok(value) => taken.push(value),
                Err(effect) => kept.push((at, effect)),
            }
        }
        for (at, effect) in kept {
            self.effects.push(at, effect);
        }
        taken
    }

    /// What `pick` selects of the recorded effects, in order, leaving them recorded.
    fn recorded<T>(&self, pick: impl Fn(&Effect<N>) -> Option<T>) -> Vec<T> {
        self.effects.iter().filter_map(|emitted| pick(&emitted.effect)).collect()
    }

    /// The trace events so far, in order.
    pub fn traces(&self) -> Vec<TraceEvent> {
        self.recorded(|effect| match effect {
            Effect::Trace { event } => Some(event.clone()),
            _ => None,
        })
    }

    /// The details of the recorded trace events of `kind`, in order.
    pub fn traces_of(&self, kind: &str) -> Vec<String> {
        self.traces().into_iter().filter(|event| event.kind == kind).map(|event| event.detail).collect()
    }

    /// The messages sent so far, leaving none recorded.
    pub fn take_sent(&mut self) -> Vec<(NodeId, N::Message)> {
        self.take_where(|effect| match effect {
            Effect::Send { to, message } => Ok((to, message)),
            other => Err(other),
        })
    }

    /// The replies so far, leaving none recorded.
    pub fn take_replies(&mut self) -> Vec<(RequestId, N::Response)> {
        self.take_where(|effect| match effect {
            Effect::Reply { request, response } => Ok((request, response)),
            other => Err(other),
        })
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
        test_wall_clock(self.now)
    }

    fn rng(&mut self) -> &mut dyn Rng {
        &mut self.rng
    }

    fn send(&mut self, to: NodeId, message: N::Message) {
        self.handler(|cx| cx.send(to, message));
    }

    fn set_timer(&mut self, after: Duration, timer: N::Timer) -> TimerId {
        self.handler(|cx| cx.set_timer(after, timer))
    }

    fn cancel_timer(&mut self, id: TimerId) {
        self.handler(|cx| cx.cancel_timer(id));
    }

    fn cancel_all_timers(&mut self) {
        self.handler(|cx| cx.cancel_all_timers());
    }

    fn reply(&mut self, request: RequestId, body: N::Response) {
        self.handler(|cx| cx.reply(request, body));
    }

    fn storage(&mut self) -> &mut dyn Storage {
        &mut self.storage
    }

    fn buggify(&mut self, _site: &'static str) -> bool {
        false
    }

    fn sometimes(&mut self, probe: &'static str, condition: bool) {
        self.handler(|cx| cx.sometimes(probe, condition));
    }

    fn trace(&mut self, event: TraceEvent) {
        self.handler(|cx| cx.trace(event));
    }
}

/// Something due to happen in a [`Cluster`].
enum Event {
    /// A message (as encoded bytes, the way it crosses a wire) arriving at node `to`.
    Deliver { from: usize, to: usize, bytes: Vec<u8> },
    /// A timer of node `node` firing.
    /// A timer of node `node` firing (its payload waits in that node's [`TimerTable`]).
    Timer { node: usize, id: TimerId },
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
    /// Each node's armed timers, as every runtime keeps them.
    timers: Vec<TimerTable<N::Timer>>,
    /// Pending events in the order they happen; the sequence number breaks ties by scheduling order.
    queue: BTreeMap<(Instant, u64), Event>,
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
            timers: Vec::new(),
            queue: BTreeMap::new(),
            sequence: 0,
        };
        cluster.timers = (0..cluster.nodes.len()).map(|_| TimerTable::new()).collect();
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
        self.timers[index].clear();
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

    fn run(&mut self, event: Event) {
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
            Event::Timer { node: index, id } => {
                // Cancelled, or from before a restart: nothing fires.
                let Some(timer) = self.timers[index].take(id) else { return };
                let (node, cx) = &mut self.nodes[index];
                cx.now = now;
                node.on_timer(cx, timer);
                self.collect(index);
            }
        }
    }

    /// Moves the sends and timers node `index` just asked for from its context into the event
    /// queue; its replies and trace events stay recorded in its context for the test to read.
    fn collect(&mut self, index: usize) {
        let me = self.id(index);
        let network: Vec<(Instant, Effect<N>)> = self.nodes[index].1.take_timed_where(|at, effect| match effect {
            Effect::Send { .. } | Effect::SetTimer { .. } | Effect::CancelTimer { .. } | Effect::CancelAllTimers => {
                Ok((at, effect))
            }
            other => Err(other),
        });
        for (at, effect) in network {
            match effect {
                Effect::SetTimer { id, after, timer } => {
                    self.timers[index].set(id, at + after, timer);
                    self.schedule(at + after, Event::Timer { node: index, id });
                }
                Effect::CancelTimer { id } => {
                    self.timers[index].cancel(id);
                }
                Effect::CancelAllTimers => self.timers[index].clear(),
                Effect::Send { to, message } => {
                    assert_ne!(to, me, "a node sent a message to itself");
                    // Messages to identities outside the cluster go nowhere, as on a real network.
                    let Some(&to_index) = self.index_of.get(&to) else {
                        continue;
                    };
                    if self.cut.contains(&index) || self.cut.contains(&to_index) {
                        continue;
                    }
                    let bytes = match message.encode() {
                        Ok(bytes) => bytes,
                        Err(error) => panic!("node {index} built a message it cannot send: {error}"),
                    };
                    self.schedule(at + self.latency, Event::Deliver { from: index, to: to_index, bytes });
                }
                Effect::Reply { .. } | Effect::Trace { .. } => {}
            }
        }
    }

    fn schedule(&mut self, at: Instant, event: Event) {
        self.sequence += 1;
        let previous = self.queue.insert((at, self.sequence), event);
        assert!(previous.is_none(), "two events share a sequence number");
    }
}

//! One test per fault of the fault model (`DESIGN.md`, "Fault model"): each proves that the fault
//! happens, and that it has the effect the simulator claims, observed through a small probe node
//! (messages it received, times it handled inputs, what its storage answered) and through the
//! simulator's counters and trace.
//!
//! Longer than the project's usual file on purpose: one test per fault of the model, all sharing the
//! probe node and its helpers above them, so that the fault model reads as one list.

use pangea_core::node::state_digest;
use pangea_core::{Context, Duration, Instant, Node, NodeId, RequestId, Storage, StorageError, WriteBatch};
use pangea_sim::kernel::WALL_CLOCK_ORIGIN_UNIX_SECONDS;
use pangea_sim::plan::LinkLatency;
use pangea_sim::{
    DiskFaults, Fault, FaultPlan, Latency, NodeStatus, Partition, Reply, SeedStreams, Sim, SimConfig, SimDisk,
    TraceKind,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

// ----- the probe node -----

/// The storage table the probe writes to.
const TABLE: &str = "probe";
/// A heal time far beyond every test, so that the automatic `HealAll` never interferes.
const NEVER_MS: u64 = 1_000_000_000;
/// The buggify sites the probe evaluates on every tick.
const SITES: [&str; 6] = ["probe.a", "probe.b", "probe.c", "probe.d", "probe.e", "probe.f"];

const MS: u64 = 1_000_000;

/// A numbered message from one probe to another. Every field is predictable from `(from, to, seq)`
/// (and the tick interval), so a receiver can tell whether what arrived is what was sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Ping {
    from: u32,
    to: u32,
    seq: u64,
    sent_at: u64,
    body: Vec<u8>,
}

fn body_for(from: u32, to: u32, seq: u64) -> Vec<u8> {
    (0..24u64).map(|i| (u64::from(from) * 31 + u64::from(to) * 17 + seq * 7 + i * 13) as u8).collect()
}

pangea_core::serde_codec!(Ping, family = 201, version = 1);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Req {
    Write { key: String, value: Vec<u8>, sync: bool },
    Read { key: String },
    Reopen,
    Clock,
    Noop,
}

pangea_core::serde_codec!(Req, family = 202, version = 1);

/// What a storage call answered, in a form that crosses the codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum Outcome {
    Ok,
    Full,
    Corrupt,
    Io,
    Poisoned,
}

impl Outcome {
    fn of<T>(result: &Result<T, StorageError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(StorageError::Full(_)) => Outcome::Full,
            Err(StorageError::Corrupt { .. }) => Outcome::Corrupt,
            Err(StorageError::Io(_)) => Outcome::Io,
            Err(StorageError::Poisoned { .. }) => Outcome::Poisoned,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Resp {
    Write { outcome: Outcome, started: u64, done: u64 },
    Read { outcome: Outcome, value: Option<Vec<u8>> },
    Reopen { outcome: Outcome },
    Clock { now: u64, wall: i128 },
    Noop { now: u64 },
}

pangea_core::serde_codec!(Resp, family = 203, version = 1);

#[derive(Clone, Debug)]
enum Tick {
    Tick,
}

/// A message as a probe received it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Received {
    /// The sender as the simulator says (not as the message claims).
    from: u32,
    /// When it was handled, in nanoseconds.
    at: u64,
    /// The message as decoded.
    ping: Ping,
}

#[derive(Clone, Copy, Debug)]
struct ProbeConfig {
    interval: Duration,
    rounds: u64,
    /// Write (and every fifth round sync, and read back) a key on every tick.
    disk: bool,
}

impl ProbeConfig {
    fn ticking(interval_ms: u64, rounds: u64) -> ProbeConfig {
        ProbeConfig { interval: Duration::from_millis(interval_ms), rounds, disk: false }
    }

    fn idle() -> ProbeConfig {
        ProbeConfig::ticking(10, 0)
    }
}

/// Every `interval`, for `rounds` rounds, sends a numbered [`Ping`] to every other node, and records
/// what it receives; answers client requests to write, read, read the clocks, or do nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Probe {
    index: u32,
    peers: Vec<NodeId>,
    interval_nanos: u64,
    rounds: u64,
    disk: bool,
    round: u64,
    ticks: Vec<u64>,
    received: Vec<Received>,
    buggify_fired: u64,
    storage_errors: u64,
}

impl Probe {
    fn new(index: u32, nodes: u32, config: ProbeConfig) -> Probe {
        Probe {
            index,
            peers: (0..nodes).map(NodeId::for_index).collect(),
            interval_nanos: config.interval.as_nanos() as u64,
            rounds: config.rounds,
            disk: config.disk,
            round: 0,
            ticks: Vec::new(),
            received: Vec::new(),
            buggify_fired: 0,
            storage_errors: 0,
        }
    }

    fn index_of(&self, id: &NodeId) -> u32 {
        self.peers.iter().position(|peer| peer == id).expect("a known peer") as u32
    }
}

impl Node for Probe {
    type Message = Ping;
    type Timer = Tick;
    type Request = Req;
    type Response = Resp;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        if self.rounds > 0 {
            cx.set_timer(Duration::from_nanos(self.interval_nanos), Tick::Tick);
        }
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, ping: Ping) {
        let from = self.index_of(&from);
        self.received.push(Received { from, at: cx.now().as_nanos(), ping });
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, _timer: Tick) {
        self.round += 1;
        let now = cx.now().as_nanos();
        self.ticks.push(now);
        for site in SITES {
            if cx.buggify(site) {
                self.buggify_fired += 1;
            }
        }
        for to in 0..self.peers.len() as u32 {
            if to != self.index {
                let ping = Ping {
                    from: self.index,
                    to,
                    seq: self.round,
                    sent_at: now,
                    body: body_for(self.index, to, self.round),
                };
                cx.send(self.peers[to as usize], ping);
            }
        }
        if self.disk {
            let mut batch = WriteBatch::new();
            batch.put(TABLE, b"tick".to_vec(), self.round.to_le_bytes().to_vec());
            let mut failed = cx.storage().write(batch).is_err();
            if self.round.is_multiple_of(5) {
                failed |= cx.storage().sync().is_err();
            }
            failed |= cx.storage().get(TABLE, b"tick").is_err();
            self.storage_errors += u64::from(failed);
        }
        if self.round < self.rounds {
            cx.set_timer(Duration::from_nanos(self.interval_nanos), Tick::Tick);
        }
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: Req) {
        let response = match body {
            Req::Write { key, value, sync } => {
                let started = cx.now().as_nanos();
                let mut batch = WriteBatch::new();
                batch.put(TABLE, key.into_bytes(), value);
                let mut result = cx.storage().write(batch);
                if result.is_ok() && sync {
                    result = cx.storage().sync();
                }
                Resp::Write { outcome: Outcome::of(&result), started, done: cx.now().as_nanos() }
            }
            Req::Read { key } => {
                let result = cx.storage().get(TABLE, key.as_bytes());
                Resp::Read { outcome: Outcome::of(&result), value: result.ok().flatten() }
            }
            Req::Reopen => Resp::Reopen { outcome: Outcome::of(&cx.storage().reopen()) },
            Req::Clock => Resp::Clock { now: cx.now().as_nanos(), wall: cx.wall_clock().as_unix_nanos() },
            Req::Noop => Resp::Noop { now: cx.now().as_nanos() },
        };
        cx.reply(request, response);
    }
}

// ----- helpers -----

fn sim(seed: u64, nodes: u32, plan: FaultPlan, config: ProbeConfig) -> Sim<Probe> {
    let mut sim_config = SimConfig::new(seed, nodes, plan);
    sim_config.keep_trace = true;
    Sim::new(sim_config, move |index| Probe::new(index, nodes, config))
}

fn plan() -> FaultPlan {
    FaultPlan::none(NEVER_MS)
}

fn at_ms(ms: u64) -> Instant {
    Instant::from_nanos(ms * MS)
}

fn run_until_ms(sim: &mut Sim<Probe>, ms: u64) {
    sim.run_until(at_ms(ms)).expect("within the event budget");
}

fn probe(sim: &Sim<Probe>, index: u32) -> &Probe {
    sim.node(index).expect("node is not crashed")
}

/// Sends `request` to `node` now, runs `within` more virtual time, and returns the answer if any.
fn ask(sim: &mut Sim<Probe>, node: u32, request: &Req, within: Duration) -> Option<Reply<Resp>> {
    let id = sim.client_request(node, request);
    sim.run_for(within).expect("within the event budget");
    sim.take_replies().into_iter().find(|reply| reply.request == id)
}

fn write(sim: &mut Sim<Probe>, node: u32, key: &str, value: &[u8], sync: bool) -> Outcome {
    let request = Req::Write { key: key.to_owned(), value: value.to_vec(), sync };
    match ask(sim, node, &request, Duration::from_millis(1)).expect("a reply").body {
        Resp::Write { outcome, .. } => outcome,
        other => panic!("unexpected answer {other:?}"),
    }
}

fn read(sim: &mut Sim<Probe>, node: u32, key: &str) -> (Outcome, Option<Vec<u8>>) {
    match ask(sim, node, &Req::Read { key: key.to_owned() }, Duration::from_millis(1)).expect("a reply").body {
        Resp::Read { outcome, value } => (outcome, value),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn reopen(sim: &mut Sim<Probe>, node: u32) -> Outcome {
    match ask(sim, node, &Req::Reopen, Duration::from_millis(1)).expect("a reply").body {
        Resp::Reopen { outcome } => outcome,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// How many times each (receiver, sender, seq) was received, over all live nodes.
fn receipts(sim: &Sim<Probe>) -> BTreeMap<(u32, u32, u64), u32> {
    let mut counts = BTreeMap::new();
    for to in 0..sim.nodes() {
        for received in &probe(sim, to).received {
            *counts.entry((to, received.from, received.ping.seq)).or_insert(0) += 1;
        }
    }
    counts
}

/// The directed links `(from, to)` that delivered at least one message sent in `(after, until]` ms.
fn links_used(sim: &Sim<Probe>, after_ms: u64, until_ms: u64) -> BTreeSet<(u32, u32)> {
    let mut links = BTreeSet::new();
    for to in 0..sim.nodes() {
        for received in &probe(sim, to).received {
            let sent = received.ping.sent_at;
            if sent > after_ms * MS && sent <= until_ms * MS {
                links.insert((received.from, to));
            }
        }
    }
    links
}

fn all_links(nodes: u32) -> BTreeSet<(u32, u32)> {
    (0..nodes).flat_map(|from| (0..nodes).filter(move |to| *to != from).map(move |to| (from, to))).collect()
}

/// Trace records on `node` in `(after, until]` whose kind is an input handled by the node.
fn inputs_handled(sim: &Sim<Probe>, node: u32, after: Instant, until: Instant) -> usize {
    sim.trace()
        .records()
        .expect("trace kept")
        .iter()
        .filter(|record| record.node == Some(node) && record.at > after && record.at <= until)
        .filter(|record| {
            matches!(record.kind, TraceKind::Deliver { .. } | TraceKind::Timer { .. } | TraceKind::Client { .. })
        })
        .count()
}

/// Messages received out of order: received after a message of the same sender with a higher seq.
fn inversions(sim: &Sim<Probe>) -> usize {
    let mut count = 0;
    for to in 0..sim.nodes() {
        let mut highest: BTreeMap<u32, u64> = BTreeMap::new();
        for received in &probe(sim, to).received {
            let high = highest.entry(received.from).or_insert(0);
            if received.ping.seq < *high {
                count += 1;
            }
            *high = (*high).max(received.ping.seq);
        }
    }
    count
}

// ----- network -----

#[test]
fn latency_stays_within_the_distribution_and_a_link_override_slows_one_link() {
    let mut plan = plan();
    plan.network.latency = Latency { min_us: 500, jitter_us: 1_000, tail_ppm: 100_000, tail_us: 20_000 };
    let slow = Latency { min_us: 30_000, jitter_us: 5_000, tail_ppm: 0, tail_us: 0 };
    plan.network.links.push(LinkLatency { from: 0, to: 1, latency: slow });
    let default = plan.network.latency;
    let mut sim = sim(1, 3, plan, ProbeConfig::ticking(10, 200));
    run_until_ms(&mut sim, 2_100);
    assert_eq!(sim.stats().sent, 3 * 2 * 200);
    assert_eq!(sim.stats().delivered, sim.stats().sent, "a healthy network delivers everything");

    let mut default_latencies = Vec::new();
    let mut slow_latencies = Vec::new();
    for to in 0..3 {
        for received in &probe(&sim, to).received {
            let latency = Duration::from_nanos(received.at - received.ping.sent_at);
            if (received.from, to) == (0, 1) {
                slow_latencies.push(latency);
            } else {
                default_latencies.push(latency);
            }
        }
    }
    assert_eq!(slow_latencies.len(), 200);
    assert_eq!(default_latencies.len(), 1_000);
    let min = |latencies: &[Duration]| *latencies.iter().min().unwrap();
    let max = |latencies: &[Duration]| *latencies.iter().max().unwrap();
    assert!(min(&default_latencies) >= Duration::from_micros(500));
    assert!(max(&default_latencies) <= default.max());
    assert_eq!(default.max(), Duration::from_micros(21_500));
    // The tail happens: some messages take longer than min + jitter.
    assert!(default_latencies.iter().any(|latency| *latency > Duration::from_micros(1_500)), "no tail latency seen");
    // The overridden link, and only it, is slower than the default's tail-free range.
    assert!(min(&slow_latencies) >= Duration::from_millis(30));
    assert!(max(&slow_latencies) <= Duration::from_millis(35));
    assert!(max(&slow_latencies) > Duration::from_millis(30), "jitter on the slow link");
    // The override is directed: 1 -> 0 still has the default latency.
    for received in &probe(&sim, 0).received {
        if received.from == 1 {
            assert!(received.at - received.ping.sent_at <= default.max().as_nanos() as u64);
        }
    }
    assert_eq!(sim.plan().message_delay_max(), Duration::from_millis(35));
}

#[test]
fn drop_loses_about_the_configured_share_and_counts_it() {
    for seed in 0..3 {
        let mut plan = plan();
        plan.network.drop_ppm = 300_000;
        let mut sim = sim(seed, 3, plan, ProbeConfig::ticking(10, 300));
        run_until_ms(&mut sim, 3_100);
        let stats = sim.stats();
        assert_eq!(stats.sent, 3 * 2 * 300);
        assert_eq!(stats.delivered + stats.dropped_loss, stats.sent, "every message delivered or lost");
        let share = stats.dropped_loss as f64 / stats.sent as f64;
        assert!((0.25..=0.35).contains(&share), "seed {seed}: lost {share:.3} of messages");
        // What the nodes saw agrees with the counters: each message at most once, the rest missing.
        let receipts = receipts(&sim);
        assert!(receipts.values().all(|count| *count == 1));
        assert_eq!(receipts.len() as u64, stats.delivered);
        let drops = sim
            .trace()
            .records()
            .unwrap()
            .iter()
            .filter(|record| matches!(record.kind, TraceKind::Drop { reason: "loss", .. }))
            .count();
        assert_eq!(drops as u64, stats.dropped_loss);
    }
    // And without loss, nothing is lost.
    let mut sim = sim(0, 3, plan(), ProbeConfig::ticking(10, 300));
    run_until_ms(&mut sim, 3_100);
    assert_eq!(sim.stats().dropped_loss, 0);
    assert_eq!(sim.stats().delivered, sim.stats().sent);
}

#[test]
fn duplicate_delivers_some_messages_twice() {
    let mut plan = plan();
    plan.network.duplicate_ppm = 200_000;
    let mut sim = sim(2, 3, plan, ProbeConfig::ticking(10, 200));
    run_until_ms(&mut sim, 2_100);
    let stats = sim.stats();
    let receipts = receipts(&sim);
    let twice = receipts.values().filter(|count| **count == 2).count() as u64;
    assert!(twice > 0, "no message was received twice");
    assert!(receipts.values().all(|count| (1..=2).contains(count)), "lost or tripled messages");
    assert_eq!(receipts.len() as u64, stats.sent, "every message received at least once");
    assert_eq!(twice, stats.duplicated);
    assert_eq!(stats.delivered, stats.sent + stats.duplicated);
    // Both copies are the message that was sent.
    for to in 0..3 {
        for received in &probe(&sim, to).received {
            assert_eq!(received.ping.body, body_for(received.from, to, received.ping.seq));
        }
    }
}

#[test]
fn reorder_lets_later_messages_overtake_and_fixed_latency_alone_never_does() {
    let run = |reorder_ppm: u32| {
        let mut plan = plan();
        plan.network.latency = Latency::fixed(1_000);
        plan.network.reorder_ppm = reorder_ppm;
        plan.network.reorder_delay_us = 30_000;
        let mut sim = sim(3, 3, plan, ProbeConfig::ticking(2, 500));
        run_until_ms(&mut sim, 1_100);
        assert_eq!(sim.stats().delivered, sim.stats().sent, "reordering loses nothing");
        assert!(receipts(&sim).values().all(|count| *count == 1));
        (inversions(&sim), sim.stats().reordered)
    };
    let (inverted, reordered) = run(100_000);
    assert!(reordered > 0);
    assert!(inverted > 0, "no message arrived after a later-sent one");
    assert_eq!(run(0), (0, 0), "fixed latency without reordering keeps every link in order");
}

#[test]
fn corruption_is_rejected_by_the_codec_and_never_delivered() {
    let mut plan = plan();
    plan.network.corrupt_ppm = 100_000;
    let interval = 10 * MS;
    let mut sim = sim(4, 3, plan, ProbeConfig::ticking(10, 300));
    run_until_ms(&mut sim, 3_100);
    let stats = sim.stats();
    assert!(stats.corrupted > 0);
    assert!(stats.rejected > 0, "no corrupted message was caught");
    assert_eq!(stats.rejected, stats.corrupted, "every flipped bit is caught by the codec");
    assert_eq!(stats.delivered + stats.rejected, stats.sent);
    for to in 0..3 {
        for received in &probe(&sim, to).received {
            let ping = &received.ping;
            let expected = Ping {
                from: received.from,
                to,
                seq: ping.seq,
                sent_at: ping.seq * interval,
                body: body_for(received.from, to, ping.seq),
            };
            assert_eq!(*ping, expected, "a corrupted message was delivered");
        }
    }
}

fn partition_case(partition: Partition, blocked: &[(u32, u32)]) {
    const NODES: u32 = 5;
    let mut plan = plan();
    plan.network.latency = Latency::fixed(1_000);
    let mut sim = sim(5, NODES, plan, ProbeConfig::ticking(10, 20));
    let name = Fault::Partition { partition: partition.clone() }.to_string();
    sim.apply(Fault::Partition { partition });
    run_until_ms(&mut sim, 100);
    sim.apply(Fault::Heal);
    run_until_ms(&mut sim, 250);

    let blocked: BTreeSet<(u32, u32)> = blocked.iter().copied().collect();
    let open: BTreeSet<(u32, u32)> = all_links(NODES).difference(&blocked).copied().collect();
    assert_eq!(links_used(&sim, 0, 100), open, "{name}: links that carried messages while partitioned");
    assert_eq!(sim.stats().dropped_partition, blocked.len() as u64 * 10, "{name}: ten rounds over each cut link");
    // Healed: every link carries messages again, and none is lost any more.
    assert_eq!(links_used(&sim, 100, 200), all_links(NODES), "{name}: links after heal");
    assert_eq!(sim.stats().delivered + sim.stats().dropped_partition, sim.stats().sent);
}

#[test]
fn partition_isolate_cuts_one_node_both_ways() {
    partition_case(Partition::Isolate { node: 2 }, &[(2, 0), (2, 1), (2, 3), (2, 4), (0, 2), (1, 2), (3, 2), (4, 2)]);
}

#[test]
fn partition_halves_cut_every_link_across() {
    partition_case(
        Partition::Halves { left: vec![0, 1], right: vec![2, 3, 4] },
        &[(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4), (2, 0), (3, 0), (4, 0), (2, 1), (3, 1), (4, 1)],
    );
}

#[test]
fn partition_majority_minority_cuts_every_link_across() {
    partition_case(
        Partition::MajorityMinority { majority: vec![0, 2, 4], minority: vec![1, 3] },
        &[(0, 1), (0, 3), (2, 1), (2, 3), (4, 1), (4, 3), (1, 0), (3, 0), (1, 2), (3, 2), (1, 4), (3, 4)],
    );
}

#[test]
fn partition_bridge_leaves_the_bridge_connected_to_both_sides() {
    partition_case(
        Partition::Bridge { left: vec![0, 1], right: vec![3, 4], bridge: 2 },
        &[(0, 3), (0, 4), (1, 3), (1, 4), (3, 0), (4, 0), (3, 1), (4, 1)],
    );
}

#[test]
fn partition_ring_leaves_only_neighbours_connected() {
    // Ring 0 - 2 - 4 - 1 - 3 - 0: each node keeps exactly its two neighbours.
    let cut = [(0, 1), (0, 4), (2, 1), (2, 3), (4, 3)];
    let both: Vec<(u32, u32)> = cut.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect();
    partition_case(Partition::Ring { order: vec![0, 2, 4, 1, 3] }, &both);
}

#[test]
fn partition_one_way_drops_only_one_direction() {
    partition_case(Partition::OneWay { from: vec![0], to: vec![1, 2] }, &[(0, 1), (0, 2)]);
}

#[test]
fn partition_also_cuts_messages_already_in_flight_and_is_reported_by_cut_since() {
    let mut plan = plan();
    plan.network.latency = Latency::fixed(5_000);
    let mut sim = sim(6, 3, plan, ProbeConfig::ticking(10, 3));
    run_until_ms(&mut sim, 12); // round 1 was sent at 10 ms and arrives at 15 ms
    assert_eq!(sim.cut_since(0, 1), None);
    sim.apply(Fault::Partition { partition: Partition::OneWay { from: vec![0], to: vec![1] } });
    run_until_ms(&mut sim, 40);
    assert!(probe(&sim, 1).received.iter().all(|received| received.from != 0), "0 -> 1 delivered while cut");
    assert_eq!(probe(&sim, 0).received.iter().filter(|received| received.from == 1).count(), 3);
    // Round 1 was dropped on arrival, rounds 2 and 3 on sending.
    assert_eq!(sim.stats().dropped_partition, 3);
    // `cut_since(observer, target)`: since when observer cannot hear from target.
    assert_eq!(sim.cut_since(1, 0), Some(at_ms(12)), "1 no longer hears from 0");
    assert_eq!(sim.cut_since(0, 1), None, "0 still hears from 1");
    assert_eq!(sim.cut_since(2, 0), None);
    sim.apply(Fault::Heal);
    assert_eq!(sim.cut_since(1, 0), None);
}

// ----- nodes -----

#[test]
fn crash_stops_inputs_and_timers_and_loses_unsynced_writes_only() {
    let mut plan = plan();
    plan.network.latency = Latency::fixed(1_000);
    let mut sim = sim(7, 3, plan, ProbeConfig::ticking(10, 1_000));
    run_until_ms(&mut sim, 45);
    assert_eq!(write(&mut sim, 1, "synced", b"kept", true), Outcome::Ok);
    assert_eq!(write(&mut sim, 1, "unsynced", b"lost", false), Outcome::Ok);
    assert_eq!(read(&mut sim, 1, "unsynced"), (Outcome::Ok, Some(b"lost".to_vec())));
    let crashed_at = sim.now();
    sim.apply(Fault::Crash { node: 1 });
    assert_eq!(sim.status(1), NodeStatus::Crashed);
    assert!(sim.node(1).is_none(), "volatile state is gone");
    assert!(ask(&mut sim, 1, &Req::Noop, Duration::from_millis(10)).is_none(), "a crashed node answers nothing");
    let restart_at = at_ms(300);
    sim.run_until(restart_at).unwrap();

    // Nothing reached node 1, and its timers stopped: it handled no input and sent nothing.
    assert_eq!(inputs_handled(&sim, 1, crashed_at, restart_at), 0);
    assert!(sim.stats().dropped_node_down >= 2 * 20, "messages to the crashed node are lost");
    let sends_from_1 = sim
        .trace()
        .records()
        .unwrap()
        .iter()
        .filter(|record| record.node == Some(1) && record.at > crashed_at && record.at <= restart_at)
        .filter(|record| matches!(record.kind, TraceKind::Send { .. }))
        .count();
    assert_eq!(sends_from_1, 0);
    for other in [0, 2] {
        let latest = probe(&sim, other).received.iter().filter(|r| r.from == 1).map(|r| r.ping.sent_at).max();
        assert!(latest.unwrap() <= crashed_at.as_nanos(), "node 1 kept sending while crashed");
    }

    sim.apply(Fault::Restart { node: 1 });
    assert_eq!(sim.status(1), NodeStatus::Up);
    assert_eq!(sim.starts(1), 2);
    let fresh = probe(&sim, 1);
    assert!(fresh.received.is_empty() && fresh.ticks.is_empty(), "restarted with fresh state");
    assert_eq!(read(&mut sim, 1, "synced"), (Outcome::Ok, Some(b"kept".to_vec())));
    assert_eq!(read(&mut sim, 1, "unsynced"), (Outcome::Ok, None), "an unsynced write survived a crash");
    assert_eq!(sim.disk(1).stats().lost_on_crash, 1);
    // The new incarnation ticks again (on its own timers only) and hears its peers.
    run_until_ms(&mut sim, 400);
    let node = probe(&sim, 1);
    assert_eq!(node.ticks.first().copied(), Some(310 * MS));
    assert!(node.ticks.windows(2).all(|pair| pair[1] - pair[0] == 10 * MS), "stale timers fired after restart");
    assert!(node.received.iter().any(|received| received.from == 0));
}

#[test]
fn pause_defers_every_input_until_resume() {
    let mut plan = plan();
    plan.network.latency = Latency::fixed(1_000);
    let mut sim = sim(8, 3, plan, ProbeConfig::ticking(10, 100));
    run_until_ms(&mut sim, 25);
    sim.apply(Fault::Pause { node: 1 });
    assert_eq!(sim.status(1), NodeStatus::Paused);
    let before = probe(&sim, 1).clone();
    let request = sim.client_request(1, &Req::Noop);
    run_until_ms(&mut sim, 75);

    assert_eq!(*probe(&sim, 1), before, "a paused node changed state");
    assert_eq!(inputs_handled(&sim, 1, at_ms(25), at_ms(75)), 0);
    assert!(sim.take_replies().is_empty(), "a paused node answered");
    for other in [0, 2] {
        let heard = probe(&sim, other).received.iter().filter(|r| r.from == 1).map(|r| r.ping.sent_at).max();
        assert_eq!(heard, Some(20 * MS), "a paused node sent messages");
    }

    sim.apply(Fault::Resume { node: 1 });
    run_until_ms(&mut sim, 75);
    let replies = sim.take_replies();
    assert_eq!(replies.len(), 1);
    assert_eq!((replies[0].request, replies[0].at), (request, at_ms(75)), "the deferred request is handled on resume");
    let node = probe(&sim, 1);
    assert_eq!(node.ticks, vec![10 * MS, 20 * MS, 75 * MS], "the deferred timer fires on resume");
    // Every message sent to it during the pause arrives, at the resume, in order.
    for from in [0, 2] {
        let deferred: Vec<(u64, u64)> = node
            .received
            .iter()
            .filter(|r| r.from == from && r.ping.sent_at > 20 * MS)
            .map(|r| (r.ping.seq, r.at))
            .collect();
        assert_eq!(deferred, (3..=7).map(|seq| (seq, 75 * MS)).collect::<Vec<_>>());
    }
    assert_eq!(sim.stats().pauses, 1);
    run_until_ms(&mut sim, 1_100);
    assert_eq!(receipts(&sim).len() as u64, sim.stats().sent, "a pause loses nothing");
}

#[test]
fn slow_node_takes_longer_per_input() {
    let mut sim = sim(9, 2, plan(), ProbeConfig::idle());
    run_until_ms(&mut sim, 10);
    let noops = |sim: &mut Sim<Probe>| {
        let ids: Vec<RequestId> = (0..3).map(|_| sim.client_request(0, &Req::Noop)).collect();
        let start = sim.now().as_nanos();
        sim.run_for(Duration::from_millis(100)).unwrap();
        let replies = sim.take_replies();
        ids.iter()
            .map(|id| match replies.iter().find(|reply| reply.request == *id).expect("answered").body {
                Resp::Noop { now } => now - start,
                ref other => panic!("unexpected answer {other:?}"),
            })
            .collect::<Vec<u64>>()
    };
    sim.apply(Fault::Slow { node: 0, handler_extra_us: 10_000 });
    // Each input spends its extra time before it acts (its clock reading and reply come late) and
    // waits for the previous one's.
    assert_eq!(noops(&mut sim), vec![10 * MS, 20 * MS, 30 * MS]);
    sim.apply(Fault::Slow { node: 0, handler_extra_us: 0 });
    assert_eq!(noops(&mut sim), vec![0, 0, 0]);
}

#[test]
fn a_busy_node_still_handles_its_inputs_in_arrival_order() {
    // No reordering fault and a fixed latency: a link is FIFO. A slow receiver must keep it so,
    // handling the inputs that queued up while it was busy in the order they arrived.
    let mut plan = plan();
    plan.network.latency = Latency::fixed(3_000);
    let mut sim = sim(10, 2, plan, ProbeConfig::ticking(1, 200));
    sim.apply(Fault::Slow { node: 1, handler_extra_us: 1_500 });
    run_until_ms(&mut sim, 1_000);
    assert_eq!(sim.stats().delivered, sim.stats().sent);
    let seqs: Vec<u64> = probe(&sim, 1).received.iter().map(|received| received.ping.seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "a busy node handled messages out of arrival order");
}

// ----- disks -----

fn disk(seed: u64, faults: DiskFaults) -> SimDisk {
    SimDisk::new(faults, SeedStreams::new(seed).stream("disk/0"))
}

fn put(disk: &mut SimDisk, key: &str, value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(TABLE, key.as_bytes().to_vec(), value.to_vec());
    disk.write(batch).unwrap();
}

/// What a crash left of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Left {
    Intact,
    Missing,
    Torn,
}

fn left(disk: &mut SimDisk, key: &str, value: &[u8]) -> Left {
    match disk.get(TABLE, key.as_bytes()) {
        Ok(Some(found)) => {
            assert_eq!(found, value, "{key}: wrong data read back");
            Left::Intact
        }
        Ok(None) => Left::Missing,
        Err(StorageError::Corrupt { table, key: bad }) => {
            assert_eq!((table.as_str(), bad.as_slice()), (TABLE, key.as_bytes()));
            Left::Torn
        }
        Err(other) => panic!("{key}: unexpected error {other}"),
    }
}

#[test]
fn torn_writes_keep_a_prefix_and_a_torn_batch_is_dropped_whole_never_read_back() {
    const WRITES: usize = 8;
    let value = |i: usize| format!("value number {i} with some length to tear").into_bytes();
    let mut lost_everything = 0;
    let mut partial = 0;
    let mut kept_everything = 0;
    let mut torn = 0;
    for trial in 0..300 {
        let mut disk = disk(trial, DiskFaults { torn_writes: true, ..DiskFaults::default() });
        put(&mut disk, "base", b"synced");
        disk.sync().unwrap();
        // An overwrite of a synced value: a torn batch must leave the synced value, not destroy it.
        put(&mut disk, "base", b"overwritten");
        for i in 1..WRITES {
            put(&mut disk, &format!("k{i}"), &value(i));
        }
        assert_eq!(disk.unsynced_writes(), WRITES);
        disk.crash();
        let base = disk.get(TABLE, b"base").unwrap().expect("a synced value survives");
        let base_kept = base == b"overwritten";
        assert!(base_kept || base == b"synced", "trial {trial}: {base:?}");
        let mut state = vec![if base_kept { Left::Intact } else { Left::Missing }];
        state.extend((1..WRITES).map(|i| left(&mut disk, &format!("k{i}"), &value(i))));
        assert!(!state.contains(&Left::Torn), "trial {trial}: a torn write was read back: {state:?}");
        let survivors = state.iter().take_while(|left| **left != Left::Missing).count();
        assert!(state[survivors..].iter().all(|left| *left == Left::Missing), "trial {trial}: not a prefix: {state:?}");
        assert_eq!(disk.stats().lost_on_crash, (WRITES - survivors) as u64);
        torn += disk.stats().torn;
        match survivors {
            0 => lost_everything += 1,
            WRITES => kept_everything += 1,
            _ => partial += 1,
        }
    }
    assert!(partial > 100, "a strict prefix of unsynced writes survived only {partial} times");
    assert!(lost_everything > 0 && kept_everything > 0);
    assert!(torn > 30, "only {torn} torn writes in 300 crashes");

    // Without torn writes, a crash keeps exactly what was synced.
    for trial in 0..20 {
        let mut disk = disk(trial, DiskFaults::default());
        put(&mut disk, "base", b"synced");
        disk.sync().unwrap();
        put(&mut disk, "base", b"overwritten");
        put(&mut disk, "k0", b"unsynced");
        disk.crash();
        assert_eq!(left(&mut disk, "base", b"synced"), Left::Intact);
        assert_eq!(left(&mut disk, "k0", b"unsynced"), Left::Missing);
    }
}

#[test]
fn torn_writes_never_split_a_batch() {
    // `Storage::write` applies a batch atomically: a crash may lose it (a torn batch is lost
    // whole), but must never keep some of its changes and silently drop the others.
    let mut partial = 0;
    for trial in 0..200 {
        let mut disk = disk(trial, DiskFaults { torn_writes: true, ..DiskFaults::default() });
        for i in 0..5 {
            let mut batch = WriteBatch::new();
            for part in ["a", "b", "c"] {
                batch.put(TABLE, format!("{part}{i}").into_bytes(), format!("{part}{i} value").into_bytes());
            }
            disk.write(batch).unwrap();
        }
        disk.crash();
        let mut kept = Vec::new();
        for i in 0..5 {
            let present: Vec<bool> = ["a", "b", "c"]
                .iter()
                .map(|part| {
                    let key = format!("{part}{i}");
                    left(&mut disk, &key, format!("{key} value").as_bytes()) != Left::Missing
                })
                .collect();
            assert!(present.iter().all(|p| *p == present[0]), "trial {trial}: batch {i} split by a crash: {present:?}");
            kept.push(present[0]);
        }
        assert!(kept.windows(2).all(|pair| pair[0] || !pair[1]), "trial {trial}: kept batches not a prefix");
        partial += usize::from(kept[0] && !kept[4]);
    }
    assert!(partial > 0);
}

#[test]
fn read_corruption_is_reported_as_corrupt() {
    let mut plan = plan();
    plan.disk.read_corrupt_ppm = 1_000_000;
    let mut sim = sim(11, 1, plan, ProbeConfig::idle());
    assert_eq!(write(&mut sim, 0, "key", b"precious", true), Outcome::Ok);
    assert_eq!(read(&mut sim, 0, "key"), (Outcome::Corrupt, None));
    assert_eq!(read(&mut sim, 0, "missing"), (Outcome::Ok, None), "an absent key has nothing to rot");
    assert!(sim.disk(0).stats().corrupt_reads >= 1);
    // The rot is on the medium: it is still there, durably.
    assert!(matches!(sim.disk(0).durable_value(TABLE, b"key"), Some(Err(StorageError::Corrupt { .. }))));
}

#[test]
fn read_errors_poison_the_disk_until_reopened_and_leave_the_data_intact() {
    let mut plan = plan();
    plan.disk.read_error_ppm = 1_000_000;
    let mut sim = sim(12, 1, plan, ProbeConfig::idle());
    assert_eq!(write(&mut sim, 0, "key", b"precious", true), Outcome::Ok);
    assert_eq!(read(&mut sim, 0, "key"), (Outcome::Io, None));
    assert_eq!(read(&mut sim, 0, "missing"), (Outcome::Poisoned, None), "a read error poisons the disk");
    assert_eq!(write(&mut sim, 0, "key", b"other", true), Outcome::Poisoned);
    assert_eq!(reopen(&mut sim, 0), Outcome::Io, "opening reads the disk too");
    assert_eq!(read(&mut sim, 0, "missing"), (Outcome::Poisoned, None));
    assert_eq!(sim.disk(0).stats().read_errors, 2);
    assert_eq!(sim.disk(0).durable_value(TABLE, b"key"), Some(Ok(b"precious".to_vec())));

    // At half the rate, reads either fail or return the right value; each failure needs a reopen.
    let mut plan = self::plan();
    plan.disk.read_error_ppm = 500_000;
    let mut sim = self::sim(12, 1, plan, ProbeConfig::idle());
    assert_eq!(write(&mut sim, 0, "key", b"precious", true), Outcome::Ok);
    let mut reads = Vec::new();
    for _ in 0..40 {
        let read = read(&mut sim, 0, "key");
        while read.0 != Outcome::Ok && reopen(&mut sim, 0) != Outcome::Ok {}
        reads.push(read);
    }
    assert!(reads.contains(&(Outcome::Io, None)));
    assert!(reads.contains(&(Outcome::Ok, Some(b"precious".to_vec()))));
    assert!(
        reads.iter().all(|read| *read == (Outcome::Io, None) || *read == (Outcome::Ok, Some(b"precious".to_vec())))
    );
}

#[test]
fn a_full_disk_poisons_the_store_until_freed_and_reopened() {
    let mut sim = sim(13, 2, plan(), ProbeConfig::idle());
    assert_eq!(write(&mut sim, 0, "key", b"old", true), Outcome::Ok);
    sim.apply(Fault::DiskFull { node: 0 });
    assert_eq!(write(&mut sim, 0, "key", b"new", false), Outcome::Full);
    assert_eq!(write(&mut sim, 0, "other", b"new", true), Outcome::Poisoned);
    assert_eq!(read(&mut sim, 0, "key"), (Outcome::Poisoned, None), "reads are refused too");
    assert_eq!(write(&mut sim, 1, "key", b"new", true), Outcome::Ok, "only node 0's disk is full");
    assert_eq!(sim.disk(0).stats().full_refusals, 1);
    // Reopening a full disk works; the next write fills it again.
    assert_eq!(reopen(&mut sim, 0), Outcome::Ok);
    assert_eq!(read(&mut sim, 0, "key"), (Outcome::Ok, Some(b"old".to_vec())), "a refused write changed data");
    assert_eq!(read(&mut sim, 0, "other"), (Outcome::Ok, None));
    assert_eq!(write(&mut sim, 0, "key", b"new", true), Outcome::Full);
    sim.apply(Fault::DiskFreed { node: 0 });
    assert_eq!(write(&mut sim, 0, "key", b"new", true), Outcome::Poisoned, "freeing space is not a reopen");
    assert_eq!(reopen(&mut sim, 0), Outcome::Ok);
    assert_eq!(write(&mut sim, 0, "key", b"new", true), Outcome::Ok);
    assert_eq!(read(&mut sim, 0, "key"), (Outcome::Ok, Some(b"new".to_vec())));

    // A bounded disk fills up by itself.
    let mut plan = plan();
    plan.disk.capacity_bytes = Some(100);
    let mut sim = self::sim(13, 1, plan, ProbeConfig::idle());
    assert_eq!(write(&mut sim, 0, "small", &[1; 20], true), Outcome::Ok);
    assert_eq!(write(&mut sim, 0, "large", &[2; 80], true), Outcome::Full);
    assert_eq!(reopen(&mut sim, 0), Outcome::Ok);
    assert_eq!(read(&mut sim, 0, "large"), (Outcome::Ok, None));
}

#[test]
fn slow_sync_keeps_the_node_busy() {
    let mut plan = plan();
    plan.disk.sync_latency = Latency::fixed(5_000);
    let mut sim = sim(14, 1, plan, ProbeConfig::idle());
    run_until_ms(&mut sim, 10);
    let round = |sim: &mut Sim<Probe>, sync: bool| {
        let start = sim.now().as_nanos();
        let write = sim.client_request(0, &Req::Write { key: "key".into(), value: b"value".to_vec(), sync });
        let noop = sim.client_request(0, &Req::Noop);
        sim.run_for(Duration::from_millis(50)).unwrap();
        let replies = sim.take_replies();
        let find = |id: RequestId| replies.iter().find(|reply| reply.request == id).expect("answered").clone();
        let (write, noop) = (find(write), find(noop));
        let Resp::Write { outcome: Outcome::Ok, started, done } = write.body else { panic!("{write:?}") };
        let Resp::Noop { now } = noop.body else { panic!("{noop:?}") };
        assert_eq!(started, start);
        assert_eq!(write.at.as_nanos(), done, "the reply leaves when the sync is done");
        (done - start, now - start)
    };
    assert_eq!(round(&mut sim, true), (5 * MS, 5 * MS), "the next input waits for the sync");
    assert_eq!(round(&mut sim, false), (0, 0), "without a sync nothing waits");
    assert_eq!(sim.disk(0).stats().syncs, 1);
}

// ----- clocks -----

#[test]
fn wall_clocks_skew_and_jump_while_monotonic_time_does_not() {
    let mut plan = plan();
    plan.clock_skew_ms = vec![0, 5_000, -3_000];
    let mut sim = sim(15, 4, plan, ProbeConfig::idle());
    let origin = WALL_CLOCK_ORIGIN_UNIX_SECONDS * 1_000_000_000;
    let clocks = |sim: &mut Sim<Probe>| {
        let ids: Vec<RequestId> = (0..4).map(|node| sim.client_request(node, &Req::Clock)).collect();
        sim.run_for(Duration::from_millis(1)).unwrap();
        let replies = sim.take_replies();
        ids.iter()
            .map(|id| match replies.iter().find(|reply| reply.request == *id).expect("answered").body {
                Resp::Clock { now, wall } => (now, wall),
                ref other => panic!("unexpected answer {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    run_until_ms(&mut sim, 1_000);
    let first = clocks(&mut sim);
    let skews = [0, 5_000, -3_000, 0];
    for (node, (now, wall)) in first.iter().enumerate() {
        assert_eq!(*now, 1_000 * MS, "monotonic time is the simulator's, skew or not");
        assert_eq!(*wall, origin + i128::from(*now) + i128::from(skews[node]) * i128::from(MS), "node {node}");
    }
    sim.apply(Fault::ClockJump { node: 1, by_ms: -60_000 });
    sim.apply(Fault::ClockJump { node: 2, by_ms: 10_000 });
    assert_eq!(sim.clock_skew_nanos(1), -55_000 * i128::from(MS));
    let second = clocks(&mut sim);
    let skews = [0, -55_000, 7_000, 0];
    for (node, (now, wall)) in second.iter().enumerate() {
        assert!(*now > first[node].0, "monotonic time went back or stood still");
        assert_eq!(*wall, origin + i128::from(*now) + i128::from(skews[node]) * i128::from(MS), "node {node}");
    }
    assert!(second[1].1 < first[1].1, "a backwards jump makes the wall clock go back");
    assert!(second[2].1 - first[2].1 > 10_000 * i128::from(MS));
}

// ----- buggify -----

#[test]
fn buggify_fires_only_when_the_plan_allows_it_and_is_counted() {
    let mut fired_sites = BTreeSet::new();
    let mut silent_sites = BTreeSet::new();
    for seed in 0..8 {
        let mut plan = plan();
        plan.buggify = true;
        let mut sim = sim(seed, 3, plan, ProbeConfig::ticking(10, 100));
        run_until_ms(&mut sim, 1_100);
        let coverage = &sim.coverage().buggify;
        let node_count: u64 = (0..3).map(|node| probe(&sim, node).buggify_fired).sum();
        let counted: u64 = coverage.values().map(|site| site.fired).sum();
        assert_eq!(node_count, counted, "seed {seed}: coverage disagrees with what the nodes saw");
        for site in SITES {
            let count = coverage.get(site).copied().unwrap_or_default();
            assert_eq!(count.evaluated, 300, "seed {seed}: {site} evaluated once per tick");
            if count.enabled_runs == 0 {
                assert_eq!(count.fired, 0, "seed {seed}: disabled site {site} fired");
                silent_sites.insert(site);
            } else {
                assert_eq!(count.enabled_runs, 1);
                // One in twenty of 300 evaluations: 15 expected.
                assert!((3..=40).contains(&count.fired), "seed {seed}: {site} fired {} times", count.fired);
                fired_sites.insert(site);
            }
        }
    }
    assert!(!fired_sites.is_empty(), "no buggify site ever fired");
    assert!(!silent_sites.is_empty(), "every site was enabled in every run");

    let mut sim = sim(0, 3, plan(), ProbeConfig::ticking(10, 100));
    run_until_ms(&mut sim, 1_100);
    assert!((0..3).all(|node| probe(&sim, node).buggify_fired == 0), "buggify fired with buggify off");
    assert!(sim.coverage().buggify.values().all(|site| site.fired == 0));
}

// ----- heal all -----

#[test]
fn heal_all_restarts_resumes_restores_and_stops_loss() {
    let mut plan = plan();
    plan.network.drop_ppm = 1_000_000;
    plan.heal_at_ms = 200;
    let mut sim = sim(16, 4, plan, ProbeConfig::ticking(10, 100));
    run_until_ms(&mut sim, 50);
    assert_eq!(write(&mut sim, 0, "key", b"old", true), Outcome::Ok);
    sim.apply(Fault::Crash { node: 1 });
    sim.apply(Fault::Pause { node: 2 });
    sim.apply(Fault::Slow { node: 3, handler_extra_us: 4_000 });
    sim.apply(Fault::DiskFull { node: 0 });
    assert_eq!(write(&mut sim, 0, "key", b"new", true), Outcome::Full);
    run_until_ms(&mut sim, 199);
    assert_eq!(sim.stats().delivered, 0, "everything is lost before the heal");
    assert_eq!((sim.status(1), sim.status(2)), (NodeStatus::Crashed, NodeStatus::Paused));
    let lost_before = sim.stats().dropped_loss;
    assert!(lost_before > 0);

    run_until_ms(&mut sim, 200); // the plan's HealAll
    assert_eq!(sim.coverage().faults.get("heal_all"), Some(&1));
    assert!((0..4).all(|node| sim.status(node) == NodeStatus::Up));
    assert_eq!(sim.starts(1), 2, "the crashed node restarted");
    assert_eq!(sim.network().faults().drop_ppm, 0);
    // The paused node handled its deferred timer at the heal.
    assert!(probe(&sim, 2).ticks.contains(&(200 * MS)));
    run_until_ms(&mut sim, 400);
    assert_eq!(sim.stats().dropped_loss, lost_before, "messages lost after the heal");
    assert_eq!(links_used(&sim, 200, 380), all_links(4), "every link carries messages after the heal");
    assert_eq!(reopen(&mut sim, 0), Outcome::Ok);
    assert_eq!(write(&mut sim, 0, "key", b"new", true), Outcome::Ok, "the full disk was not freed");
    // Node 3 is no longer slow: simultaneous inputs are handled at once.
    let ids: Vec<RequestId> = (0..3).map(|_| sim.client_request(3, &Req::Noop)).collect();
    let start = sim.now();
    sim.run_for(Duration::from_millis(1)).unwrap();
    let replies = sim.take_replies();
    assert!(ids.iter().all(|id| replies.iter().any(|reply| reply.request == *id && reply.at == start)));
}

// ----- determinism -----

#[test]
fn the_same_seed_and_plan_give_the_same_run() {
    let run = |seed: u64| {
        let plan = FaultPlan::swarm(seed, 5, Duration::from_secs(5));
        let config = ProbeConfig { interval: Duration::from_millis(10), rounds: 700, disk: true };
        let mut sim = sim(seed, 5, plan, config);
        sim.run_until(Instant::from_nanos(8_000 * MS)).unwrap();
        let digests: Vec<Option<u64>> = (0..5).map(|node| sim.node(node).map(state_digest)).collect();
        (sim.trace_hash(), sim.stats(), digests, sim.coverage().clone())
    };
    let mut hashes = BTreeSet::new();
    for seed in [21, 22, 23] {
        let first = run(seed);
        assert!(first.1.delivered > 0);
        assert_eq!(first, run(seed), "seed {seed} ran differently twice");
        hashes.insert(first.0);
    }
    assert_eq!(hashes.len(), 3, "different seeds gave the same run");

    // The same plan under a different seed is a different run too.
    let plan = FaultPlan::swarm(21, 5, Duration::from_secs(5));
    let hash = |seed: u64| {
        let mut sim = sim(seed, 5, plan.clone(), ProbeConfig::ticking(10, 100));
        sim.run_until(at_ms(1_200)).unwrap();
        sim.trace_hash()
    };
    assert_eq!(hash(1), hash(1));
    assert_ne!(hash(1), hash(2));
}

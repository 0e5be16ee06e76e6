//! Throughput of the simulation kernel: simulated messages delivered per wall-clock second.
//!
//! The workload is an all-to-all ping among `N` nodes: every node, on a timer every millisecond of
//! virtual time, sends a small ping (three `u64`s) to every other node, and every receiver answers
//! each ping with a pong. It is written twice and measured side by side:
//!
//! - **pangea**: a [`Node`] run by `pangea_sim::Sim` on a healthy network ([`FaultPlan::none`],
//!   latency 0.5–1.5 ms). Every message goes through the real codec (postcard payload in a
//!   checksummed frame), the network model, the event queue and the trace hash, exactly as in a
//!   scenario run. The count is `sim.stats().delivered`.
//! - **turmoil**: `N` turmoil hosts, each with a `turmoil::net::UdpSocket`, exchanging the same
//!   pings and pongs as raw 25-byte datagrams over links with a fixed 1 ms latency and a 1 ms tick.
//!   The count is the number of datagrams the hosts received.
//!
//! Both run the same virtual duration with the same `N`; criterion reports elements/s, where an
//! element is one delivered message, for each side in one group per `N`. Before each group the
//! delivered counts of both sides are printed, so that they can be checked to be comparable.
//!
//! Run it with:
//!
//! ```text
//! cargo bench -p pangea-benches --bench kernel
//! ```
//!
//! (append `-- pangea` or `-- turmoil` to run one side only).

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pangea_core::{Context, Duration, Instant, Node, NodeId, RequestId};
use pangea_sim::{FaultPlan, Sim, SimConfig};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The seed of both simulators.
const SEED: u64 = 7;
/// How often every node pings every other node, in virtual time.
const PING_INTERVAL: Duration = Duration::from_millis(1);
/// Node counts and the virtual duration simulated at each (shorter for larger `N`, so that one
/// iteration stays well under a second).
const WORKLOADS: [(u32, Duration); 2] = [(5, Duration::from_secs(2)), (20, Duration::from_millis(500))];

// ----- pangea -----

/// A ping or its answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum PingMessage {
    Ping { origin: u64, seq: u64, sent_at_nanos: u64 },
    Pong { origin: u64, seq: u64, sent_at_nanos: u64 },
}

pangea_core::serde_codec!(PingMessage, family = 240, version = 1);

/// The benchmark has no clients; requests and responses are empty.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Unused;

pangea_core::serde_codec!(Unused, family = 241, version = 1);

/// The timer that triggers a round of pings.
#[derive(Clone, Debug)]
struct Tick;

/// A node that pings every peer every [`PING_INTERVAL`] and answers pings with pongs.
#[derive(Clone, Hash)]
struct PingNode {
    index: u32,
    nodes: u32,
    peers: Vec<NodeId>,
    seq: u64,
    pongs: u64,
}

impl PingNode {
    fn new(index: u32, nodes: u32) -> PingNode {
        PingNode { index, nodes, peers: Vec::new(), seq: 0, pongs: 0 }
    }
}

impl Node for PingNode {
    type Message = PingMessage;
    type Timer = Tick;
    type Request = Unused;
    type Response = Unused;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        self.peers = (0..self.nodes).filter(|&peer| peer != self.index).map(NodeId::for_index).collect();
        cx.set_timer(PING_INTERVAL, Tick);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: PingMessage) {
        match message {
            PingMessage::Ping { origin, seq, sent_at_nanos } => {
                cx.send(from, PingMessage::Pong { origin, seq, sent_at_nanos });
            }
            PingMessage::Pong { .. } => self.pongs += 1,
        }
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, _timer: Tick) {
        self.seq += 1;
        let sent_at_nanos = cx.now().as_nanos();
        for peer in &self.peers {
            cx.send(*peer, PingMessage::Ping { origin: u64::from(self.index), seq: self.seq, sent_at_nanos });
        }
        cx.set_timer(PING_INTERVAL, Tick);
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, _body: Unused) {
        cx.reply(request, Unused);
    }
}

/// Runs the workload on Pangea's kernel; returns the messages delivered.
fn run_pangea(nodes: u32, duration: Duration) -> u64 {
    let config = SimConfig::new(SEED, nodes, FaultPlan::none(0));
    let mut sim = Sim::new(config, move |index| PingNode::new(index, nodes));
    let deadline = Instant::from_nanos(u64::try_from(duration.as_nanos()).expect("duration fits in u64 nanoseconds"));
    sim.run_until(deadline).expect("the ping workload stays within the event budget");
    sim.stats().delivered
}

// ----- turmoil -----

/// The UDP port every turmoil host listens on.
const PORT: u16 = 9000;
/// The fixed link latency in turmoil (Pangea's default is 0.5–1.5 ms, 1 ms on average).
const TURMOIL_LATENCY: Duration = Duration::from_millis(1);
/// Each socket's receive queue, far above a tick's burst (2 × (N - 1) datagrams), so none is dropped.
const TURMOIL_UDP_CAPACITY: usize = 1 << 16;
/// The first byte of a datagram.
const KIND_PING: u8 = 1;
const KIND_PONG: u8 = 2;
/// A datagram: kind byte, then origin, sequence number and send time as little-endian `u64`s.
const DATAGRAM_BYTES: usize = 25;

fn host_name(index: u32) -> String {
    format!("node-{index}")
}

fn encode_datagram(kind: u8, origin: u64, seq: u64, sent_at_nanos: u64) -> [u8; DATAGRAM_BYTES] {
    let mut datagram = [0; DATAGRAM_BYTES];
    datagram[0] = kind;
    datagram[1..9].copy_from_slice(&origin.to_le_bytes());
    datagram[9..17].copy_from_slice(&seq.to_le_bytes());
    datagram[17..25].copy_from_slice(&sent_at_nanos.to_le_bytes());
    datagram
}

/// One turmoil host: pings every peer every [`PING_INTERVAL`], answers pings, counts what arrives.
async fn turmoil_host(index: u32, nodes: u32, delivered: Arc<AtomicU64>) -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    let peers: Vec<SocketAddr> = (0..nodes)
        .filter(|&peer| peer != index)
        .map(|peer| SocketAddr::new(turmoil::lookup(host_name(peer)), PORT))
        .collect();
    let mut interval = tokio::time::interval(PING_INTERVAL);
    let mut seq = 0u64;
    let mut buffer = [0u8; 64];
    loop {
        tokio::select! {
            _ = interval.tick() => {
                seq += 1;
                let sent_at_nanos = u64::try_from(turmoil::elapsed().as_nanos()).unwrap_or(u64::MAX);
                let ping = encode_datagram(KIND_PING, u64::from(index), seq, sent_at_nanos);
                for peer in &peers {
                    socket.send_to(&ping, *peer).await?;
                }
            }
            received = socket.recv_from(&mut buffer) => {
                let (length, from) = received?;
                delivered.fetch_add(1, Ordering::Relaxed);
                if length == DATAGRAM_BYTES && buffer[0] == KIND_PING {
                    buffer[0] = KIND_PONG;
                    socket.send_to(&buffer[..length], from).await?;
                }
            }
        }
    }
}

/// Runs the workload on turmoil; returns the datagrams delivered.
fn run_turmoil(nodes: u32, duration: Duration) -> u64 {
    let delivered = Arc::new(AtomicU64::new(0));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(duration + Duration::from_secs(1))
        .tick_duration(PING_INTERVAL)
        .min_message_latency(TURMOIL_LATENCY)
        .max_message_latency(TURMOIL_LATENCY)
        .udp_capacity(TURMOIL_UDP_CAPACITY)
        .rng_seed(SEED)
        .build();
    for index in 0..nodes {
        let delivered = Arc::clone(&delivered);
        sim.host(host_name(index), move || turmoil_host(index, nodes, Arc::clone(&delivered)));
    }
    // There are no clients, so `Sim::run` would return at once: step until the duration is done.
    while sim.elapsed() < duration {
        sim.step().expect("turmoil hosts do not fail");
    }
    delivered.load(Ordering::Relaxed)
}

// ----- criterion -----

fn kernel_throughput(c: &mut Criterion) {
    for (nodes, duration) in WORKLOADS {
        let pangea = run_pangea(nodes, duration);
        let turmoil = run_turmoil(nodes, duration);
        eprintln!(
            "all-to-all ping, N = {nodes}, {} ms virtual: delivered pangea = {pangea}, turmoil = {turmoil}",
            duration.as_millis()
        );
        let mut group = c.benchmark_group(format!("ping_all_to_all/n{nodes}"));
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(pangea));
        group.bench_function("pangea", |b| b.iter(|| black_box(run_pangea(black_box(nodes), duration))));
        group.throughput(Throughput::Elements(turmoil));
        group.bench_function("turmoil", |b| b.iter(|| black_box(run_turmoil(black_box(nodes), duration))));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = kernel_throughput
}
criterion_main!(benches);

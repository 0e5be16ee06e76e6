//! Scale of the simulation kernel: Pangea's `pangea_sim::Sim` against turmoil 0.7.2, side by side,
//! on the same gossip-like workload at N = 100, 500 and 1000 nodes, printed as a markdown table.
//!
//! The workload: each of `N` nodes, on a timer every 10 ms of virtual time, sends one small message
//! (three `u64`s: origin, sequence number, send time; ~24 bytes) to each of 8 peers drawn at random
//! (seeded, with replacement, never itself). Receivers only count. Messages per virtual second grow
//! linearly with `N` (800 × N). Both sides run the same virtual duration.
//!
//! - **pangea**: a [`Node`] run by `pangea_sim::Sim` on its default healthy network
//!   ([`FaultPlan::none`]: latency uniform in 0.5–1.5 ms, no loss). Peers are drawn with the
//!   context's RNG ([`pangea_core::random::below`] on `cx.rng()`). Every message goes through the
//!   real codec (postcard in a checksummed frame), the network model, the event queue and the trace
//!   hash, as in a scenario run. Delivered is `sim.stats().delivered`; events is
//!   `sim.stats().events` (timers and deliveries).
//! - **turmoil**: `N` turmoil hosts, each a `turmoil::net::UdpSocket` sending 24-byte datagrams
//!   over links with a fixed 1 ms latency, a 1 ms tick and a tokio interval of 10 ms; peers are
//!   drawn with a `ChaCha8Rng` seeded per host. Delivered is the number of datagrams the hosts
//!   received (an `AtomicU64`). The sim is stepped until its clock reaches the virtual duration, or
//!   until the wall-clock limit (`--turmoil-limit-secs`), when the run stops and reports what it had
//!   delivered so far, marked "(stopped at limit)".
//!
//! Wall seconds cover building the simulation (N hosts or nodes; also shown apart as "build s") and
//! running it. The table gives, per side and per N: delivered messages, wall seconds, delivered per
//! wall second, simulated seconds per wall second, events (Pangea only), and the ratio pangea /
//! turmoil of delivered per wall second. Progress goes to stderr. The turmoil limit is checked
//! between steps, so a run can overshoot it by one step (seconds at N = 1000: turmoil 0.7.2 scans
//! every link of the topology for every host on every tick, and random peers make links grow to
//! about N²/2).
//!
//! ```text
//! cargo run --release -p pangea-benches --example kernel_scale
//! cargo run --release -p pangea-benches --example kernel_scale -- --nodes 100,500 --virtual-secs 1
//! ```

use pangea_core::{Context, Duration, Instant, Node, NodeId, RequestId};
use pangea_sim::{FaultPlan, Sim, SimConfig};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The seed of both simulators.
const SEED: u64 = 7;
/// How often every node sends its round of messages, in virtual time.
const SEND_INTERVAL: Duration = Duration::from_millis(10);
/// How many peers each node sends to per round.
const FANOUT: u32 = 8;

const USAGE: &str = "\
usage: kernel_scale [--nodes 100,500,1000] [--virtual-secs 2] [--turmoil-limit-secs 120]
  --nodes               comma-separated node counts (each at least 2)
  --virtual-secs        virtual seconds simulated per run
  --turmoil-limit-secs  wall-clock limit of one turmoil run; when hit, it stops and reports so far";

/// The command line.
struct Args {
    nodes: Vec<u32>,
    virtual_secs: u64,
    turmoil_limit_secs: u64,
}

/// Parses the command line; `Ok(None)` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { nodes: vec![100, 500, 1000], virtual_secs: 2, turmoil_limit_secs: 120 };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = words.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |_| format!("bad value {value:?} for {flag}\n{USAGE}");
        match flag.as_str() {
            "--nodes" => {
                args.nodes =
                    value.split(',').map(|n| n.trim().parse::<u32>()).collect::<Result<_, _>>().map_err(bad)?;
            }
            "--virtual-secs" => args.virtual_secs = value.parse().map_err(bad)?,
            "--turmoil-limit-secs" => args.turmoil_limit_secs = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    if args.nodes.is_empty() || args.nodes.iter().any(|&n| n < 2) || args.virtual_secs == 0 {
        return Err(format!("need node counts of at least 2 and a nonzero duration\n{USAGE}"));
    }
    Ok(Some(args))
}

/// A peer in `0..nodes` other than `index`, from a draw in `0..nodes - 1`.
fn peer_from_draw(index: u32, draw: u32) -> u32 {
    if draw >= index { draw + 1 } else { draw }
}

// ----- pangea -----

/// One gossip message: who sent it, its round, when (virtual nanoseconds).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Gossip {
    origin: u64,
    seq: u64,
    sent_at_nanos: u64,
}

pangea_core::serde_codec!(Gossip, family = 240, version = 1);

/// The benchmark has no clients; requests and responses are empty.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Unused;

pangea_core::serde_codec!(Unused, family = 241, version = 1);

/// The timer that triggers a round of sends.
#[derive(Clone, Debug)]
struct Tick;

/// A node that sends to [`FANOUT`] random peers every [`SEND_INTERVAL`] and counts what arrives.
#[derive(Clone, Hash)]
struct GossipNode {
    index: u32,
    nodes: u32,
    seq: u64,
    received: u64,
}

impl Node for GossipNode {
    type Message = Gossip;
    type Timer = Tick;
    type Request = Unused;
    type Response = Unused;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        cx.set_timer(SEND_INTERVAL, Tick);
    }

    fn on_message(&mut self, _cx: &mut dyn Context<Self>, _from: NodeId, _message: Gossip) {
        self.received += 1;
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, _timer: Tick) {
        self.seq += 1;
        let sent_at_nanos = cx.now().as_nanos();
        for _ in 0..FANOUT {
            let draw = pangea_core::random::below(cx.rng(), u64::from(self.nodes - 1));
            let peer = peer_from_draw(self.index, u32::try_from(draw).unwrap_or(0));
            cx.send(NodeId::for_index(peer), Gossip { origin: u64::from(self.index), seq: self.seq, sent_at_nanos });
        }
        cx.set_timer(SEND_INTERVAL, Tick);
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, _body: Unused) {
        cx.reply(request, Unused);
    }
}

/// What one run measured.
struct Run {
    delivered: u64,
    /// Building the simulation (part of `wall`).
    build: std::time::Duration,
    wall: std::time::Duration,
    simulated: Duration,
    events: Option<u64>,
    stopped: bool,
}

/// Runs the workload on Pangea's kernel.
fn run_pangea(nodes: u32, duration: Duration) -> Result<Run, String> {
    let started = std::time::Instant::now();
    let mut config = SimConfig::new(SEED, nodes, FaultPlan::none(0));
    config.events_max = u64::MAX;
    let mut sim = Sim::new(config, move |index| GossipNode { index, nodes, seq: 0, received: 0 });
    let build = started.elapsed();
    let deadline = Instant::from_nanos(u64::try_from(duration.as_nanos()).map_err(|e| e.to_string())?);
    sim.run_until(deadline).map_err(|e| e.to_string())?;
    let stats = sim.stats();
    Ok(Run {
        delivered: stats.delivered,
        build,
        wall: started.elapsed(),
        simulated: duration,
        events: Some(stats.events),
        stopped: false,
    })
}

// ----- turmoil -----

/// The UDP port every turmoil host listens on.
const PORT: u16 = 9000;
/// The fixed link latency and the tick in turmoil (Pangea's default is 0.5–1.5 ms, 1 ms on average).
const TURMOIL_LATENCY: Duration = Duration::from_millis(1);
/// Each socket's receive queue, far above what arrives in one tick, so that none is dropped.
const TURMOIL_UDP_CAPACITY: usize = 1 << 16;
/// A datagram: origin, sequence number and send time as little-endian `u64`s.
const DATAGRAM_BYTES: usize = 24;

fn host_name(index: u32) -> String {
    format!("node-{index}")
}

/// One turmoil host: sends to [`FANOUT`] random peers every [`SEND_INTERVAL`], counts what arrives.
async fn turmoil_host(index: u32, addresses: Arc<Vec<SocketAddr>>, delivered: Arc<AtomicU64>) -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ (u64::from(index) << 32));
    let others = u64::try_from(addresses.len() - 1)?;
    // The first round one interval after the start, as Pangea's first timer.
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + SEND_INTERVAL, SEND_INTERVAL);
    let mut seq = 0u64;
    let mut buffer = [0u8; 64];
    loop {
        tokio::select! {
            _ = interval.tick() => {
                seq += 1;
                let sent_at_nanos = u64::try_from(turmoil::elapsed().as_nanos()).unwrap_or(u64::MAX);
                let mut datagram = [0u8; DATAGRAM_BYTES];
                datagram[0..8].copy_from_slice(&u64::from(index).to_le_bytes());
                datagram[8..16].copy_from_slice(&seq.to_le_bytes());
                datagram[16..24].copy_from_slice(&sent_at_nanos.to_le_bytes());
                for _ in 0..FANOUT {
                    // The same multiply-shift draw as `pangea_core::random::below`.
                    let draw = ((u128::from(rng.next_u64()) * u128::from(others)) >> 64) as u32;
                    socket.send_to(&datagram, addresses[peer_from_draw(index, draw) as usize]).await?;
                }
            }
            received = socket.recv_from(&mut buffer) => {
                received?;
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Runs the workload on turmoil, stopping early at the wall-clock `limit`.
fn run_turmoil(nodes: u32, duration: Duration, limit: std::time::Duration) -> Result<Run, String> {
    let started = std::time::Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(duration + Duration::from_secs(1))
        .tick_duration(TURMOIL_LATENCY)
        .min_message_latency(TURMOIL_LATENCY)
        .max_message_latency(TURMOIL_LATENCY)
        .udp_capacity(TURMOIL_UDP_CAPACITY)
        .rng_seed(SEED)
        .build();
    // Resolve every name once, up front, so that hosts do not look names up per message.
    let addresses: Arc<Vec<SocketAddr>> =
        Arc::new((0..nodes).map(|index| SocketAddr::new(sim.lookup(host_name(index)), PORT)).collect());
    for index in 0..nodes {
        let (addresses, delivered) = (Arc::clone(&addresses), Arc::clone(&delivered));
        sim.host(host_name(index), move || turmoil_host(index, Arc::clone(&addresses), Arc::clone(&delivered)));
    }
    let build = started.elapsed();
    // There are no clients, so `Sim::run` would return at once: step until the duration is done.
    let mut stopped = false;
    while sim.elapsed() < duration {
        if started.elapsed() >= limit {
            stopped = true;
            break;
        }
        sim.step().map_err(|e| format!("turmoil: {e}"))?;
    }
    let simulated = sim.elapsed().min(duration);
    let wall = started.elapsed();
    Ok(Run { delivered: delivered.load(Ordering::Relaxed), build, wall, simulated, events: None, stopped })
}

// ----- the table -----

/// Delivered messages per wall second.
fn rate(run: &Run) -> f64 {
    run.delivered as f64 / run.wall.as_secs_f64().max(1e-9)
}

/// `value` with three decimals, or in scientific notation when that would print zeros.
fn small(value: f64) -> String {
    if value >= 0.01 { format!("{value:.3}") } else { format!("{value:.1e}") }
}

/// One side's row of the table.
fn row(nodes: u32, side: &str, run: &Run, ratio: &str) -> String {
    let events = run.events.map_or_else(|| "–".to_owned(), |events| events.to_string());
    let note = if run.stopped {
        format!(" (stopped at limit, {:.3} s virtual)", run.simulated.as_secs_f64())
    } else {
        String::new()
    };
    format!(
        "| {nodes} | {side}{note} | {} | {:.2} | {:.2} | {:.0} | {} | {events} | {ratio} |",
        run.delivered,
        run.wall.as_secs_f64(),
        run.build.as_secs_f64(),
        rate(run),
        small(run.simulated.as_secs_f64() / run.wall.as_secs_f64().max(1e-9)),
    )
}

fn main() {
    if let Err(error) = run() {
        eprintln!("kernel_scale: {error}");
        std::process::exit(2);
    }
}

/// Parses the command line, runs every N on both sides, prints the table.
fn run() -> Result<(), String> {
    let Some(args) = parse_args()? else {
        println!("{USAGE}");
        return Ok(());
    };
    let duration = Duration::from_secs(args.virtual_secs);
    let limit = std::time::Duration::from_secs(args.turmoil_limit_secs);
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    for &nodes in &args.nodes {
        let expected = u64::from(nodes) * u64::from(FANOUT) * (duration.as_millis() / SEND_INTERVAL.as_millis()) as u64;
        eprintln!("N = {nodes}: pangea starts ({} s virtual, ~{expected} messages sent)", args.virtual_secs);
        let pangea = run_pangea(nodes, duration)?;
        eprintln!("N = {nodes}: pangea done, {} delivered in {:.2} s", pangea.delivered, pangea.wall.as_secs_f64());
        eprintln!("N = {nodes}: turmoil starts (limit {} s wall)", args.turmoil_limit_secs);
        let turmoil = run_turmoil(nodes, duration, limit)?;
        eprintln!(
            "N = {nodes}: turmoil done, {} delivered in {:.2} s{}",
            turmoil.delivered,
            turmoil.wall.as_secs_f64(),
            if turmoil.stopped { " (stopped at limit)" } else { "" }
        );
        let ratio = format!("{:.1}×", rate(&pangea) / rate(&turmoil).max(1e-9));
        rows.push(row(nodes, "pangea", &pangea, &ratio));
        rows.push(row(nodes, "turmoil", &turmoil, ""));
    }
    println!(
        "\nN nodes × {FANOUT} random peers every {} ms, {} s virtual\n",
        SEND_INTERVAL.as_millis(),
        args.virtual_secs
    );
    println!("| N | side | delivered | wall s | build s | delivered/wall s | sim s/wall s | events | pangea/turmoil |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for line in rows {
        println!("{line}");
    }
    eprintln!("total wall time {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

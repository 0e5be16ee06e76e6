//! `pangea`: run a node, set one up, and talk to a cluster.
//!
//! Exit codes: 0 success; 1 the operation failed (cluster unreachable, command refused, key
//! absent); 2 bad usage (a malformed argument, a host name that does not resolve, a value over the
//! limits, a file that cannot be read) or an unusable data directory (missing, locked, newer,
//! corrupt). Output into a closed pipe (`pangea get KEY | head -c 20`) ends the program quietly.

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use pangea_core::health::Health;
use pangea_core::log::MemberChange;
use pangea_core::metadata::records::{KvOp, KvResult};
use pangea_core::pangea::{NodeView, StorageStatus};
use pangea_core::{NodeId, WallTime};
use pangea_node::api::{ApiError, Client};
use pangea_node::bench::{BenchError, BenchOptions, run_bench};
use pangea_node::datadir::{DataDir, DataDirError, InitOptions};
use pangea_node::hardware::HardwareArgs;
use pangea_node::hex;
use pangea_node::identity::{Admission, ClusterKey};
use pangea_node::objects::ObjectsError;
use pangea_node::server::{NodeError, NodeOptions, run_node};
use pangea_node::wire::RuntimeStatus;
use std::collections::BTreeSet;
use std::fmt;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Prints one line to standard output through [`write_out`].
macro_rules! say {
    ($($argument:tt)*) => { $crate::write_out(format!("{}\n", format_args!($($argument)*)).as_bytes()) };
}

mod dht;
mod events;
mod graph;
mod object_command;
mod properties;
mod reading;

// mimalloc instead of glibc's malloc: the node allocates per message and per request, and glibc's
// allocator took about a tenth of the node's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes: 0 success, 1 the operation failed (cluster unreachable, command refused, key absent), \
2 bad usage or an unusable data directory.";

const ADDRESS_HELP: &str = "\
HOST:PORT, with an IP address or a host name (resolved once, at start, to its first IPv4 address, \
or its first address if it has none)";

/// Pangea's node, and a client of a Pangea cluster.
#[derive(Parser)]
#[command(name = "pangea", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node's data directory: key pair, self-signed certificate, admission rule and client
    /// token. The first node of a cluster generates the cluster key and client token; give the
    /// same values to every other node's init.
    Init {
        /// The directory to create (refused if it already holds a node).
        #[arg(long)]
        data_dir: PathBuf,
        /// The cluster's key, as 64 hex digits (printed by the first node's init).
        #[arg(long, conflicts_with_all = ["pin", "pinned"])]
        cluster_key: Option<String>,
        /// The cluster's client token, as 64 hex digits (printed by the first node's init).
        #[arg(long)]
        client_token: Option<String>,
        /// Admit exactly these peer ids instead of a cluster key (repeatable; see `pangea pin`).
        #[arg(long)]
        pin: Vec<String>,
        /// Admit by pinned ids even with none listed yet.
        #[arg(long)]
        pinned: bool,
    },
    /// Replace the pinned peer ids of a data directory made with `--pin`/`--pinned`.
    Pin {
        /// The node's data directory (the node must be stopped).
        #[arg(long)]
        data_dir: PathBuf,
        /// The peer ids to admit.
        ids: Vec<String>,
    },
    /// Run a node.
    Node {
        /// The node's data directory, made by `pangea init`.
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:7100", value_parser = HostPort::parse, value_name = "HOST:PORT",
            help = "Address to listen on for peers and clients (UDP, QUIC)", long_help = address_help(
                "Address to listen on for peers and clients (UDP, QUIC)"))]
        listen: HostPort,
        #[arg(long, value_parser = HostPort::parse, value_name = "HOST:PORT",
            help = "Address peers and clients should use (default: the listen address)", long_help = address_help(
                "Address peers and clients should use (default: the listen address); a host name is stored as \
                 the address it resolves to"))]
        advertise: Option<HostPort>,
        #[arg(long, value_parser = HostPort::parse, value_name = "HOST:PORT",
            help = "A node of the cluster to join (repeatable); leave out for the first node",
            long_help = address_help("A node of the cluster to join (repeatable); leave out for the first node"))]
        bootstrap: Vec<HostPort>,
        #[arg(long, value_parser = HostPort::parse, value_name = "HOST:PORT",
            help = "Serve Prometheus metrics over HTTP on this address, at /metrics",
            long_help = address_help("Serve Prometheus metrics over HTTP on this address, at /metrics"))]
        metrics: Option<HostPort>,
        #[command(flatten)]
        hardware: HardwareArgs,
        /// Run with a deliberately planted bug in the replicated log (builds with the
        /// `planted-bugs` feature only), for pangea-nemesis to find: one of quorum-too-small,
        /// skip-sync, accept-lower-ballot, forget-promise, apply-retry-twice, stale-read, ...
        #[cfg(feature = "planted-bugs")]
        #[arg(long, value_name = "BUG", value_parser = parse_planted_bug)]
        plant: Option<pangea_core::log::LogPlantedBug>,
    },
    /// Store VALUE (or the contents of --file) under KEY, through the replicated log. Values are
    /// limited to 1 MiB and keys to 4 KiB; larger ones are refused (exit 2).
    Put {
        #[command(flatten)]
        client: ClientArgs,
        /// The key.
        key: String,
        /// The value.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        value: Option<String>,
        /// Read the value from this file (`-`: standard input) instead.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Print the value of KEY (a linearizable read through the log); exit 1 if absent.
    Get {
        #[command(flatten)]
        client: ClientArgs,
        /// The key.
        key: String,
    },
    /// Remove KEY.
    Remove {
        #[command(flatten)]
        client: ClientArgs,
        /// The key.
        key: String,
    },
    /// Print each given node's view: members, leader, log position, peers' health.
    Status {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a node from the cluster's configuration (by id, as `status` prints it).
    RemoveMember {
        #[command(flatten)]
        client: ClientArgs,
        /// The node id, 64 hex digits.
        id: String,
    },
    /// Objects: files of any size, compressed and encrypted on this machine with your master key, cut
    /// into chunks and spread over the cluster's members as erasure-coded shards.
    #[command(subcommand, after_long_help = object_command::OBJECT_HELP)]
    Object(object_command::ObjectCommand),
    /// The DHT: a node's routing table, lookups of the peers nearest a key, and small records
    /// published at them.
    #[command(subcommand, after_long_help = dht::DHT_HELP)]
    Dht(dht::DhtCommand),
    /// The property graph: entities in collections and labelled edges, with typed properties and
    /// pheromone on the edges; neighbours, scans and traversals.
    #[command(subcommand, after_long_help = graph::help())]
    Graph(graph::GraphCommand),
    /// The event store: events under (node, signal, epoch) keys, read back by key range and id.
    #[command(subcommand, after_long_help = events::EVENTS_HELP)]
    Events(events::EventsCommand),
    /// Load generator: concurrent clients issuing puts and gets; prints throughput and latency.
    Bench {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        options: BenchOptions,
        /// Also print where the time went: every node's per-stage latency histograms (queued,
        /// persisted, quorum, applied; read_confirmed, read_applied; sends_held, handler, total),
        /// read before and after the run.
        #[arg(long)]
        breakdown: bool,
    },
}

fn address_help(what: &str) -> String {
    format!("{what}.\n\n{ADDRESS_HELP}.")
}

/// The planted bug called `name` (`pangea node --plant`).
#[cfg(feature = "planted-bugs")]
fn parse_planted_bug(name: &str) -> Result<pangea_core::log::LogPlantedBug, String> {
    pangea_core::log::LogPlantedBug::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = pangea_core::log::LogPlantedBug::ALL.iter().map(|(_, name)| *name).collect();
        format!("unknown bug {name:?}; known: {}", names.join(", "))
    })
}

/// A `HOST:PORT` argument as given, and the socket address it resolved to.
#[derive(Clone, Debug)]
struct HostPort {
    given: String,
    addr: SocketAddr,
}

impl HostPort {
    /// Reads `text` as a socket address, or as a host name and port that it resolves (preferring
    /// IPv4, so that `localhost` means the same to a node and to its clients).
    fn parse(text: &str) -> Result<HostPort, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(HostPort { given: text.to_owned(), addr });
        }
        let shape = "expected HOST:PORT, e.g. 127.0.0.1:7100 or localhost:7100";
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(format!("{shape} (no port)"));
        };
        if host.is_empty() {
            return Err(format!("{shape} (no host)"));
        }
        let port: u16 = port.parse().map_err(|_| format!("{shape} ('{port}' is not a port number)"))?;
        let found: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|error| format!("cannot resolve the host name '{host}': {error}"))?
            .collect();
        let addr = found
            .iter()
            .find(|addr| addr.is_ipv4())
            .or(found.first())
            .copied()
            .ok_or_else(|| format!("the host name '{host}' resolves to no address"))?;
        Ok(HostPort { given: text.to_owned(), addr })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

/// How to reach the cluster.
#[derive(Args, Clone)]
struct ClientArgs {
    #[arg(long = "node", env = "PANGEA_NODE", value_delimiter = ',', default_value = "127.0.0.1:7100",
        value_parser = HostPort::parse, value_name = "HOST:PORT",
        help = "Nodes' addresses (comma-separated or repeated); the client asks them all and follows the leader",
        long_help = address_help(
            "Nodes' addresses (comma-separated or repeated); the client asks them all at once and follows the leader"))]
    nodes: Vec<HostPort>,
    /// The cluster's client token (64 hex digits, printed by `pangea init`).
    #[arg(long, env = "PANGEA_TOKEN", hide_env_values = true)]
    token: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..), value_name = "SECONDS")]
    timeout: u64,
}

impl ClientArgs {
    fn token(&self) -> Result<[u8; 32]> {
        hex_32(&self.token, "the client token (--token or PANGEA_TOKEN)")
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|node| node.addr).collect()
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }

    fn client(&self) -> Result<Client> {
        Ok(Client::new(self.addresses(), self.token()?, self.deadline()))
    }
}

/// A mistake in the command line that clap cannot see (exit 2, as clap's own).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

/// 32 bytes from the 64 hex digits of the argument described as `what`; the text itself is not
/// repeated, since it may be most of a secret.
fn hex_32(text: &str, what: &str) -> Result<[u8; 32]> {
    hex::decode_32(text).ok_or_else(|| {
        let got = match text.chars().count() {
            64 => "a character that is not a hex digit".to_owned(),
            count => format!("{count} characters"),
        };
        Usage(format!("{what} must be 64 hex digits, as `pangea init` printed it; got {got}")).into()
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            complain(format_args!("error: cannot start the async runtime: {error}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            complain(format_args!("error: {error:#}"));
            ExitCode::from(exit_code(&error))
        }
    }
}

/// 2 for bad usage and unusable data directories, 1 for everything else.
fn exit_code(error: &anyhow::Error) -> u8 {
    let usage = error.chain().any(|cause| {
        cause.is::<Usage>()
            || cause.is::<DataDirError>()
            || matches!(cause.downcast_ref::<ApiError>(), Some(ApiError::Invalid(_)))
            || matches!(cause.downcast_ref::<BenchError>(), Some(BenchError::Options(_)))
            || cause.downcast_ref::<ObjectsError>().is_some_and(ObjectsError::is_usage)
            || matches!(cause.downcast_ref::<NodeError>(), Some(NodeError::DataDir(_) | NodeError::NoAdvertise(_)))
    });
    if usage { 2 } else { 1 }
}

/// Writes `bytes` to standard output. A closed pipe ends the program quietly (exit 0): the
/// reader has what it wanted.
fn write_out(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(bytes).and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        complain(format_args!("error: cannot write to standard output: {error}"));
        std::process::exit(1);
    }
}

/// Writes one line to standard error; if that fails there is nobody left to tell.
fn complain(line: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

async fn execute(command: Command) -> Result<ExitCode> {
    match command {
        Command::Init { data_dir, cluster_key, client_token, pin, pinned } => {
            init(data_dir, cluster_key, client_token, &pin, pinned)
        }
        Command::Pin { data_dir, ids } => {
            let ids = parse_ids(&ids)?;
            let mut dir = DataDir::open(&data_dir)?;
            let count = ids.len();
            dir.set_pinned_peers(ids)?;
            say!("{count} peers pinned");
            Ok(ExitCode::SUCCESS)
        }
        Command::Node {
            data_dir,
            listen,
            advertise,
            bootstrap,
            metrics,
            hardware,
            #[cfg(feature = "planted-bugs")]
            plant,
        } => {
            let options = NodeOptions {
                data_dir,
                listen: listen.addr,
                advertise: advertise.map(|advertise| advertise.addr),
                bootstrap: bootstrap.iter().map(|node| node.addr).collect(),
                metrics: metrics.map(|metrics| metrics.addr),
                hardware: hardware.options().map_err(Usage)?,
                #[cfg(feature = "planted-bugs")]
                planted_bug: plant,
            };
            run_node(options, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Put { client, key, value, file } => {
            let value = match (value, file) {
                (Some(value), _) => value.into_bytes(),
                (None, Some(path)) if path.as_os_str() == "-" => {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).context("reading standard input")?;
                    bytes
                }
                (None, Some(path)) => {
                    std::fs::read(&path).map_err(|error| Usage(format!("cannot read {}: {error}", path.display())))?
                }
                // clap requires one of the two.
                (None, None) => return Err(Usage("give a value or --file".to_owned()).into()),
            };
            let op = KvOp::Put { key: key.into_bytes(), value };
            client.client()?.command(op).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Get { client, key } => match client.client()?.command(KvOp::Get { key: key.into_bytes() }).await? {
            KvResult::Value(Some(mut value)) => {
                // The stored bytes as they are, binary or not.
                value.push(b'\n');
                write_out(&value);
                Ok(ExitCode::SUCCESS)
            }
            KvResult::Value(None) => {
                complain(format_args!("not found"));
                Ok(ExitCode::from(1))
            }
            other => Err(ApiError::Unexpected(format!("{other:?}")).into()),
        },
        Command::Remove { client, key } => {
            client.client()?.command(KvOp::Remove { key: key.into_bytes() }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { client } => status(&client).await,
        Command::RemoveMember { client, id } => {
            let node = NodeId(hex::decode_32(&id).ok_or_else(|| {
                Usage(format!("'{id}' is not a node id: give the 64 hex digits of the `node` line of `pangea status`"))
            })?);
            match client.client()?.change_members(MemberChange::Remove(node)).await? {
                Ok((_, members)) => {
                    say!("members now: {members}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    complain(format_args!("refused: {why}"));
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Object(command) => object_command::run(command).await,
        Command::Dht(command) => dht::run(command).await,
        Command::Graph(command) => graph::run(command).await,
        Command::Events(command) => events::run(command).await,
        Command::Bench { client, options, breakdown } => {
            let (report, breakdown) = run_bench(&client.addresses(), client.token()?, &options, breakdown).await?;
            say!("{report}");
            if let Some(breakdown) = breakdown {
                say!("{breakdown}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init(
    data_dir: PathBuf,
    cluster_key: Option<String>,
    client_token: Option<String>,
    pin: &[String],
    pinned: bool,
) -> Result<ExitCode> {
    let admission = if pinned || !pin.is_empty() {
        Some(Admission::Pinned(parse_ids(pin)?))
    } else {
        match cluster_key {
            Some(text) => Some(Admission::ClusterKey(ClusterKey(hex_32(&text, "--cluster-key")?))),
            None => None,
        }
    };
    let client_token = match client_token {
        Some(text) => Some(hex_32(&text, "--client-token")?),
        None => None,
    };
    let dir = DataDir::init(&data_dir, InitOptions { admission, client_token })?;
    say!("node id:      {}", hex::encode(&dir.node_id().0));
    match dir.admission() {
        Admission::ClusterKey(key) => say!("cluster key:  {}", hex::encode(&key.0)),
        Admission::Pinned(ids) => say!("pinned peers: {}", ids.len()),
    }
    say!("client token: {}", hex::encode(dir.client_token()));
    say!("data dir:     {}", data_dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Asks every given node at once and prints their views in the order given; exit 1 if any did
/// not answer.
async fn status(client: &ClientArgs) -> Result<ExitCode> {
    let token = client.token()?;
    let asks: Vec<_> = client
        .nodes
        .iter()
        .map(|node| {
            let addr = node.addr;
            let deadline = client.deadline();
            tokio::spawn(async move { Client::new(vec![addr], token, deadline).status(addr).await })
        })
        .collect();
    let mut failed = false;
    for (node, ask) in client.nodes.iter().zip(asks) {
        match ask.await {
            Ok(Ok((view, runtime))) => print_status(&view, &runtime),
            Ok(Err(ApiError::Unreachable(no_answer))) => {
                failed = true;
                say!("{node}: {}", no_answer.why);
            }
            Ok(Err(error)) => {
                failed = true;
                say!("{node}: {error}");
            }
            Err(error) => {
                failed = true;
                say!("{node}: the request failed: {error}");
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn parse_ids(texts: &[String]) -> Result<BTreeSet<NodeId>> {
    texts
        .iter()
        .map(|text| {
            hex::decode_32(text)
                .map(NodeId)
                .ok_or_else(|| Usage(format!("'{text}' is not a node id (64 hex digits)")).into())
        })
        .collect()
}

fn print_status(view: &NodeView, runtime: &RuntimeStatus) {
    let log = &view.log;
    say!("node {} at {}", hex::encode(&view.node.0), runtime.listen);
    let role = match (log.leading, log.leader) {
        (true, _) => "leader".to_owned(),
        (false, Some(leader)) => format!("follower of {}", leader.short()),
        (false, None) => "follower (no leader known)".to_owned(),
    };
    say!("  role:       {role}");
    match &view.storage {
        StorageStatus::Healthy => say!("  storage:    ok"),
        StorageStatus::Failing { since, cause, reopens } => {
            say!("  storage:    failing since {}: {cause} ({reopens} reopens tried)", wall_time_text(*since));
        }
    }
    say!("  members:    {}", log.members);
    say!(
        "  log:        committed {} applied {} snapshot {} promised {}, {} client sessions",
        log.commit_index,
        log.applied_index,
        log.snapshot_index,
        log.promised,
        log.sessions
    );
    say!(
        "  transport:  up {}s, {} messages sent, {} dropped, {} received, {} peer connections refused",
        runtime.uptime_ms / 1000,
        runtime.messages_sent,
        runtime.messages_dropped,
        runtime.messages_received,
        runtime.refused_connections
    );
    let hardware = &runtime.hardware;
    say!(
        "  hardware:   cpu {}; io_uring {}; eBPF {}; BTF {}",
        hardware.cpu,
        hardware.io_uring,
        hardware.ebpf,
        if hardware.btf { "yes" } else { "no" }
    );
    say!("  shard I/O:  {} ({})", hardware.io.0, hardware.io.1);
    let (passed, denied, over_rate) = runtime.firewall;
    say!(
        "  firewall:   {} ({}): {passed} datagrams passed, {denied} dropped as denied, {over_rate} over their rate",
        hardware.firewall.0,
        hardware.firewall.1
    );
    let addresses: std::collections::BTreeMap<NodeId, &str> =
        view.directory.iter().map(|(node, addr)| (*node, addr.as_str())).collect();
    let count = |health: Health| view.peers.iter().filter(|peer| peer.health == health).count();
    say!(
        "  swim:       {} peers tracked: {} alive, {} suspect, {} dead",
        view.peers.len(),
        count(Health::Alive),
        count(Health::Suspect),
        count(Health::Dead)
    );
    for peer in &view.peers {
        let addr = addresses.get(&peer.id).copied().unwrap_or("address unknown");
        let member = if log.members.contains(&peer.id) { "member" } else { "not a member" };
        let health = match peer.health {
            Health::Alive => "alive",
            Health::Suspect => "suspect",
            Health::Dead => "dead",
        };
        let rtt = peer.rtt_micros.map_or_else(String::new, |micros| format!(", rtt {:.1} ms", micros as f64 / 1000.0));
        say!("  peer {} {addr} {member}, {health}{rtt}", peer.id.short());
    }
}

/// A wall-clock reading as an HTTP date ("Sun, 29 Nov 2026 17:40:00 GMT"), or its nanoseconds when
/// it is out of the representable range.
fn wall_time_text(at: WallTime) -> String {
    let nanos = at.as_unix_nanos();
    match u64::try_from(nanos / 1_000_000_000) {
        Ok(seconds) if seconds < 253_402_300_800 => {
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
        }
        _ => format!("{nanos} ns after the Unix epoch"),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown asked for");
}

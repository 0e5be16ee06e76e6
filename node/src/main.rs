//! `pangea`: run a node, set one up, and talk to a cluster.
//!
//! Exit codes: 0 success; 1 the operation failed (cluster unreachable, command refused);
//! 2 bad usage or an unusable data directory (missing, locked, newer, corrupt).

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use pangea_core::NodeId;
use pangea_core::health::Health;
use pangea_core::log::MemberChange;
use pangea_core::metadata::records::{KvOp, KvResult};
use pangea_core::pangea::NodeView;
use pangea_node::api::{ApiError, Client};
use pangea_node::bench::{BenchOptions, run_bench};
use pangea_node::datadir::{DataDir, DataDirError, InitOptions};
use pangea_node::hex;
use pangea_node::identity::{Admission, ClusterKey};
use pangea_node::server::{NodeError, NodeOptions, run_node};
use pangea_node::wire::RuntimeStatus;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Pangea's node, and a client of a Pangea cluster.
#[derive(Parser)]
#[command(name = "pangea", version, about, long_about = None)]
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
        /// Address to listen on for peers and clients (UDP, QUIC).
        #[arg(long, default_value = "127.0.0.1:7100")]
        listen: SocketAddr,
        /// Address peers and clients should use (default: the listen address).
        #[arg(long)]
        advertise: Option<SocketAddr>,
        /// A node of the cluster to join (repeatable). Leave out for the first node.
        #[arg(long)]
        bootstrap: Vec<SocketAddr>,
        /// Serve Prometheus metrics over HTTP on this address.
        #[arg(long)]
        metrics: Option<SocketAddr>,
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
    /// Load generator: concurrent clients issuing puts and gets; prints throughput and latency.
    Bench {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        options: BenchOptions,
    },
}

/// How to reach the cluster.
#[derive(Args, Clone)]
struct ClientArgs {
    /// A node's address (repeatable); the client follows the leader from there.
    #[arg(long = "node", env = "PANGEA_NODE", value_delimiter = ',', default_value = "127.0.0.1:7100")]
    nodes: Vec<SocketAddr>,
    /// The cluster's client token (64 hex digits, printed by `pangea init`).
    #[arg(long, env = "PANGEA_TOKEN", hide_env_values = true)]
    token: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

impl ClientArgs {
    fn client(&self) -> Result<Client> {
        let token = hex::decode_32(&self.token).context("--token must be 64 hex digits")?;
        Ok(Client::new(self.nodes.clone(), token, Duration::from_secs(self.timeout)))
    }
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
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            let usage = error.chain().any(|cause| {
                cause.downcast_ref::<DataDirError>().is_some()
                    || matches!(cause.downcast_ref::<ApiError>(), Some(ApiError::Invalid(_)))
                    || matches!(
                        cause.downcast_ref::<NodeError>(),
                        Some(NodeError::DataDir(_) | NodeError::NoAdvertise(_))
                    )
            });
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

async fn execute(command: Command) -> Result<ExitCode> {
    match command {
        Command::Init { data_dir, cluster_key, client_token, pin, pinned } => {
            let admission = if pinned || !pin.is_empty() {
                Some(Admission::Pinned(parse_ids(&pin)?))
            } else {
                match cluster_key {
                    Some(text) => Some(Admission::ClusterKey(ClusterKey(
                        hex::decode_32(&text).context("--cluster-key must be 64 hex digits")?,
                    ))),
                    None => None,
                }
            };
            let client_token = match client_token {
                Some(text) => Some(hex::decode_32(&text).context("--client-token must be 64 hex digits")?),
                None => None,
            };
            let dir = DataDir::init(&data_dir, InitOptions { admission, client_token })?;
            println!("node id:      {}", hex::encode(&dir.node_id().0));
            match dir.admission() {
                Admission::ClusterKey(key) => println!("cluster key:  {}", hex::encode(&key.0)),
                Admission::Pinned(ids) => println!("pinned peers: {}", ids.len()),
            }
            println!("client token: {}", hex::encode(dir.client_token()));
            println!("data dir:     {}", data_dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Pin { data_dir, ids } => {
            let mut dir = DataDir::open(&data_dir)?;
            let ids = parse_ids(&ids)?;
            let count = ids.len();
            dir.set_pinned_peers(ids)?;
            println!("{count} peers pinned");
            Ok(ExitCode::SUCCESS)
        }
        Command::Node { data_dir, listen, advertise, bootstrap, metrics } => {
            let options = NodeOptions { data_dir, listen, advertise, bootstrap, metrics };
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
                (None, Some(path)) => std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                (None, None) => bail!("give a value or --file"),
            };
            let op = KvOp::Put { key: key.into_bytes(), value };
            client.client()?.command(op).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Get { client, key } => match client.client()?.command(KvOp::Get { key: key.into_bytes() }).await? {
            KvResult::Value(Some(value)) => {
                println!("{}", String::from_utf8_lossy(&value));
                Ok(ExitCode::SUCCESS)
            }
            KvResult::Value(None) => {
                eprintln!("not found");
                Ok(ExitCode::from(1))
            }
            other => bail!("unexpected result {other:?}"),
        },
        Command::Remove { client, key } => {
            client.client()?.command(KvOp::Remove { key: key.into_bytes() }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { client } => {
            let mut api = client.client()?;
            let mut failed = false;
            for addr in client.nodes.clone() {
                match api.status(addr).await {
                    Ok((view, runtime)) => print_status(&view, &runtime),
                    Err(error) => {
                        failed = true;
                        println!("{addr}: unreachable ({error})");
                    }
                }
            }
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::RemoveMember { client, id } => {
            let node = NodeId(hex::decode_32(&id).context("the id must be 64 hex digits")?);
            match client.client()?.change_members(MemberChange::Remove(node)).await? {
                Ok((_, members)) => {
                    println!("members now: {members}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    eprintln!("refused: {why}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Bench { client, options } => {
            let token = hex::decode_32(&client.token).context("--token must be 64 hex digits")?;
            let report = run_bench(&client.nodes, token, &options).await?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_ids(texts: &[String]) -> Result<BTreeSet<NodeId>> {
    texts
        .iter()
        .map(|text| hex::decode_32(text).map(NodeId).with_context(|| format!("{text:?} is not a 64-hex-digit node id")))
        .collect()
}

fn print_status(view: &NodeView, runtime: &RuntimeStatus) {
    let log = &view.log;
    println!("node {} at {}", hex::encode(&view.node.0), runtime.listen);
    let role = match (log.leading, log.leader) {
        (true, _) => "leader".to_owned(),
        (false, Some(leader)) => format!("follower of {}", leader.short()),
        (false, None) => "follower (no leader known)".to_owned(),
    };
    println!("  role:       {role}");
    println!("  members:    {}", log.members);
    println!(
        "  log:        committed {} applied {} snapshot {} promised {}, {} client sessions",
        log.commit_index, log.applied_index, log.snapshot_index, log.promised, log.sessions
    );
    println!(
        "  transport:  up {}s, {} messages sent, {} dropped, {} received, {} peer connections refused",
        runtime.uptime_ms / 1000,
        runtime.messages_sent,
        runtime.messages_dropped,
        runtime.messages_received,
        runtime.refused_connections
    );
    let addresses: std::collections::BTreeMap<NodeId, &str> =
        view.directory.iter().map(|(node, addr)| (*node, addr.as_str())).collect();
    for peer in &view.peers {
        let addr = addresses.get(&peer.id).copied().unwrap_or("address unknown");
        let member = if log.members.contains(&peer.id) { "member" } else { "not a member" };
        let health = match peer.health {
            Health::Alive => "alive",
            Health::Suspect => "suspect",
            Health::Dead => "dead",
        };
        let rtt = peer.rtt_micros.map_or_else(String::new, |micros| format!(", rtt {:.1} ms", micros as f64 / 1000.0));
        println!("  peer {} {addr} {member}, {health}{rtt}", peer.id.short());
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

//! `register`: the register's node as a real process (QUIC, redb), and a client for it.
//!
//! A three-node cluster on one machine:
//!
//! ```text
//! register init a                # prints the node's id and the cluster's client token
//! register init b --join a       # same cluster key and client token as a
//! register init c --join a
//! register node --data-dir a --listen 127.0.0.1:7001 --peer B_ID@127.0.0.1:7002 --peer C_ID@127.0.0.1:7003
//! ...                            # b and c likewise
//! register write --node 127.0.0.1:7002 --token TOKEN hello
//! register read --node 127.0.0.1:7003 --token TOKEN
//! ```

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use pangea_core::NodeId;
use pangea_example_register::{RegisterNode, RegisterRequest, RegisterResponse};
use pangea_node::datadir::{DataDir, InitOptions};
use pangea_node::hex;
use pangea_node::host::{HostOptions, ask, host};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// A replicated register (ABD) on Pangea's real runtime.
#[derive(Parser)]
#[command(name = "register", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node's data directory and print its id and the cluster's client token.
    Init {
        /// The directory to create.
        dir: PathBuf,
        /// Join the cluster of this (stopped) node's data directory: same cluster key and token.
        #[arg(long, value_name = "DIR")]
        join: Option<PathBuf>,
    },
    /// Run a node until Ctrl-C.
    Node {
        /// Its data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Where it listens (UDP), reachable by the other nodes.
        #[arg(long)]
        listen: SocketAddr,
        /// Another node of the cluster, as ID@ADDRESS (ID as `init` printed it). Give every other
        /// node: the register's members are this node and its peers.
        #[arg(long = "peer", value_name = "ID@ADDRESS", value_parser = parse_peer)]
        peers: Vec<(NodeId, SocketAddr)>,
    },
    /// Write a value through a node.
    Write {
        /// The node to ask.
        #[arg(long)]
        node: SocketAddr,
        /// The cluster's client token (as `init` printed it).
        #[arg(long)]
        token: String,
        /// The value.
        value: String,
    },
    /// Read the value through a node.
    Read {
        /// The node to ask.
        #[arg(long)]
        node: SocketAddr,
        /// The cluster's client token (as `init` printed it).
        #[arg(long)]
        token: String,
    },
}

fn parse_peer(text: &str) -> Result<(NodeId, SocketAddr), String> {
    let (id, addr) = text.split_once('@').ok_or("expected ID@ADDRESS")?;
    let id = hex::decode_32(id).ok_or("the id is not 64 hex digits")?;
    let addr = addr.parse().map_err(|error| format!("bad address {addr:?}: {error}"))?;
    Ok((NodeId(id), addr))
}

fn token(text: &str) -> Result<[u8; 32]> {
    hex::decode_32(text).context("the token is not 64 hex digits")
}

/// A client request's deadline: longer than a node's own timeout, so a node that gave up answers
/// nothing and the client says the outcome is unknown.
const DEADLINE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Init { dir, join } => {
            let options = match join {
                None => InitOptions::default(),
                Some(first) => {
                    let first = DataDir::open(&first).with_context(|| format!("cannot open {}", first.display()))?;
                    InitOptions {
                        admission: Some(first.admission().clone()),
                        client_token: Some(*first.client_token()),
                    }
                }
            };
            let data_dir = DataDir::init(&dir, options).with_context(|| format!("cannot create {}", dir.display()))?;
            println!("id {}", hex::encode(&data_dir.node_id().0));
            println!("token {}", hex::encode(data_dir.client_token()));
        }
        Command::Node { data_dir, listen, peers } => {
            tracing_subscriber::fmt().with_writer(std::io::stderr).init();
            let peer_ids: Vec<NodeId> = peers.iter().map(|(id, _)| *id).collect();
            let members = move |me: NodeId| {
                let mut members: Vec<NodeId> = peer_ids.into_iter().chain([me]).collect();
                members.sort();
                members.dedup();
                RegisterNode::new(members)
            };
            let options = HostOptions { data_dir, listen, peers, metrics: None };
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            runtime.block_on(host(options, members, shutdown))?;
        }
        Command::Write { node, token: text, value } => {
            let request = RegisterRequest::Write(value.into_bytes());
            match runtime.block_on(ask::<_, RegisterResponse>(node, token(&text)?, &request, DEADLINE))? {
                RegisterResponse::Written => println!("written"),
                RegisterResponse::Refused => bail!("refused (too large, too busy, or the node is recovering)"),
                RegisterResponse::Value(_) => bail!("unexpected answer to a write"),
            }
        }
        Command::Read { node, token: text } => {
            match runtime.block_on(ask::<_, RegisterResponse>(node, token(&text)?, &RegisterRequest::Read, DEADLINE))? {
                RegisterResponse::Value(None) => println!("(empty)"),
                RegisterResponse::Value(Some(bytes)) => println!("{}", String::from_utf8_lossy(&bytes)),
                RegisterResponse::Refused => bail!("refused (too busy, or the node is recovering)"),
                RegisterResponse::Written => bail!("unexpected answer to a read"),
            }
        }
    }
    Ok(())
}

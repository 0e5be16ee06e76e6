//! What the multi-process tests share: free ports, `pangea` processes in a temporary directory,
//! and clusters of them with waits on conditions (never on fixed times). Each test crate uses a
//! part of it.
#![allow(dead_code)]

use pangea_core::health::Health;
use pangea_node::api::Client;
use pangea_node::hex;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_pangea");
/// Longest wait for any condition.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Ports handed out so far by [`free_addr`] in this test process.
static PORTS_HANDED_OUT: AtomicU32 = AtomicU32::new(0);

/// A loopback address whose port is free for UDP and TCP, below the kernel's ephemeral range. A
/// port the OS picked for a socket bound to port 0 is not safe: between closing it and the node's
/// bind, any socket bound to port 0 (a client endpoint, another test's node) can be given it, and
/// CI once saw `cannot bind 127.0.0.1:33758: Address already in use`. The kernel never hands out
/// a port below the range on its own, and this process hands out each one once, starting at a
/// place its id picks so that two test processes rarely meet.
pub fn free_addr() -> SocketAddr {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let low = (ephemeral_low / 2).max(1_024);
    let span = ephemeral_low.saturating_sub(low).max(1);
    let start = std::process::id().wrapping_mul(7_919) % span;
    loop {
        let handed_out = PORTS_HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        assert!(handed_out < span, "no free port below {ephemeral_low}");
        let port = u16::try_from(low + (start + handed_out) % span).expect("a port below the ephemeral range");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
}

/// Runs `pangea` with `args` to the end.
pub fn pangea(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RUST_LOG", "warn").output().unwrap()
}

/// The value after `label:` in `pangea init`'s output.
pub fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label).map(|rest| rest.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {label} in {output}"))
}

/// One node's data directory, address, log file and process (killed when dropped).
pub struct Node {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Node {
    /// Starts `pangea node`, joining through `bootstrap` if given.
    pub fn start(&mut self, bootstrap: Option<SocketAddr>) {
        self.start_with(bootstrap, &[]);
    }

    /// Starts `pangea node` with `extra` arguments, joining through `bootstrap` if given; listening
    /// on the node's address unless `extra` says `--listen`. Its log level is `info`, or
    /// `PANGEA_TEST_LOG` when set (e.g. `PANGEA_TEST_LOG=debug,quinn_proto=debug`).
    pub fn start_with(&mut self, bootstrap: Option<SocketAddr>, extra: &[&str]) {
        let log = std::fs::File::create(&self.log).unwrap();
        let mut command = Command::new(BIN);
        command.args(["node", "--data-dir", self.dir.to_str().unwrap()]);
        if !extra.contains(&"--listen") {
            command.args(["--listen", &self.addr.to_string()]);
        }
        command
            .env("RUST_LOG", std::env::var("PANGEA_TEST_LOG").unwrap_or_else(|_| "info".to_owned()))
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(bootstrap) = bootstrap {
            command.args(["--bootstrap", &bootstrap.to_string()]);
        }
        command.args(extra);
        self.child = Some(command.spawn().unwrap());
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (a name `kill -s` knows, such as `STOP` or `CONT`) to the running process.
    pub fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the node is not running");
        let status = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -s {signal} failed");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Nodes sharing one cluster key and client token.
pub struct Cluster {
    pub temp: tempfile::TempDir,
    pub token: [u8; 32],
    pub key: String,
    pub nodes: Vec<Node>,
}

impl Cluster {
    /// Initialises `count` data directories sharing one cluster key and token, and starts node 0
    /// alone and the others with node 0 as their bootstrap.
    pub fn start(count: usize) -> Cluster {
        let mut cluster = Cluster::init(count);
        let bootstrap = cluster.nodes[0].addr;
        for index in 0..count {
            cluster.nodes[index].start((index > 0).then_some(bootstrap));
        }
        cluster
    }

    /// Initialises `count` data directories sharing one cluster key and token, each with a free
    /// address; starts nothing.
    pub fn init(count: usize) -> Cluster {
        let temp = tempfile::tempdir().unwrap();
        let first = temp.path().join("n0");
        let output = pangea(&["init", "--data-dir", first.to_str().unwrap()]);
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let key = field(&text, "cluster key:");
        let token_hex = field(&text, "client token:");
        let token = hex::decode_32(&token_hex).unwrap();
        let mut nodes = Vec::new();
        for index in 0..count {
            let dir = temp.path().join(format!("n{index}"));
            if index > 0 {
                let output = pangea(&[
                    "init",
                    "--data-dir",
                    dir.to_str().unwrap(),
                    "--cluster-key",
                    &key,
                    "--client-token",
                    &token_hex,
                ]);
                assert!(output.status.success(), "{output:?}");
            }
            let log = temp.path().join(format!("n{index}.log"));
            nodes.push(Node { dir, addr: free_addr(), child: None, log });
        }
        Cluster { temp, token, key, nodes }
    }

    /// Every node's address, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|node| node.addr).collect()
    }

    /// A client of the nodes at `addrs`, with a 20 s deadline per call.
    pub fn client(&self, addrs: Vec<SocketAddr>) -> Client {
        Client::new(addrs, self.token, Duration::from_secs(20))
    }

    /// Every node's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for node in &self.nodes {
            all.push_str(&format!("--- {}\n", node.log.display()));
            all.push_str(&std::fs::read_to_string(&node.log).unwrap_or_default());
        }
        all
    }

    /// Waits until every node in `indexes` reports `members` members and a leader.
    pub async fn wait_for_members(&self, indexes: &[usize], members: usize) {
        let mut client = self.client(self.addrs());
        let started = tokio::time::Instant::now();
        loop {
            let mut ready = true;
            for index in indexes {
                match client.status(self.nodes[*index].addr).await {
                    Ok((view, _)) if view.log.members.nodes.len() == members && view.log.leader.is_some() => {}
                    _ => ready = false,
                }
            }
            if ready {
                return;
            }
            assert!(started.elapsed() < DEADLINE, "the cluster did not form:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every node in `indexes` judges every other member alive (the membership
    /// subsystem's view, as `pangea status` shows it).
    pub async fn wait_for_all_alive(&self, indexes: &[usize]) {
        let mut client = self.client(self.addrs());
        let started = tokio::time::Instant::now();
        loop {
            let mut views = Vec::new();
            for index in indexes {
                if let Ok((view, _)) = client.status(self.nodes[*index].addr).await {
                    views.push(view);
                }
            }
            let all_alive =
                views.len() == indexes.len()
                    && views.iter().all(|view| {
                        view.log.members.nodes.iter().filter(|member| **member != view.node).all(|member| {
                            view.peers.iter().any(|peer| peer.id == *member && peer.health == Health::Alive)
                        })
                    });
            if all_alive {
                return;
            }
            assert!(started.elapsed() < DEADLINE, "not every node sees every member alive: {views:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until one node of `among` leads and every other node of `among` follows it; returns
    /// its index. Asks each node alone, so that a stopped node outside `among` costs nothing.
    pub async fn wait_for_leader(&self, among: &[usize]) -> usize {
        let started = tokio::time::Instant::now();
        loop {
            let mut views = Vec::new();
            for index in among {
                let addr = self.nodes[*index].addr;
                let mut client = Client::new(vec![addr], self.token, Duration::from_secs(1));
                if let Ok((view, _)) = client.status(addr).await {
                    views.push((*index, view));
                }
            }
            if views.len() == among.len()
                && let Some((leader, leader_view)) = views.iter().find(|(_, view)| view.log.leading)
                && views.iter().all(|(index, view)| index == leader || view.log.leader == Some(leader_view.node))
            {
                return *leader;
            }
            assert!(started.elapsed() < DEADLINE, "no leader among {among:?}:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until node `index` has applied `key = value` locally.
    pub async fn wait_for_value(&self, index: usize, key: &[u8], value: &[u8]) {
        let mut client = self.client(vec![self.nodes[index].addr]);
        let started = tokio::time::Instant::now();
        loop {
            if let Ok((Some(found), _)) = client.stale_get(self.nodes[index].addr, key).await
                && found == value
            {
                return;
            }
            assert!(started.elapsed() < DEADLINE, "n{index} never applied {key:?}:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

//! Real `pangea` processes on loopback: clusters form, serve, survive kills and refuse strangers.
//!
//! Each test starts its own processes on free ports in a temporary directory and waits for
//! conditions (a status, an answer) with deadlines, never for fixed times. The processes are killed
//! when a test ends, pass or fail.

use pangea_core::NodeId;
use pangea_core::health::Health;
use pangea_core::metadata::records::{KvOp, KvResult};
use pangea_node::api::{ApiError, Client};
use pangea_node::hex;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pangea");
/// Longest wait for any condition.
const DEADLINE: Duration = Duration::from_secs(30);

/// A free UDP port on loopback (the OS picks it; the socket is closed before the node binds it).
fn free_addr() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

fn pangea(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RUST_LOG", "warn").output().unwrap()
}

/// The value after `label:` in `pangea init`'s output.
fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label).map(|rest| rest.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {label} in {output}"))
}

struct Node {
    dir: PathBuf,
    addr: SocketAddr,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    fn start(&mut self, bootstrap: Option<SocketAddr>) {
        let log = std::fs::File::create(&self.log).unwrap();
        let mut command = Command::new(BIN);
        command
            .args(["node", "--data-dir", self.dir.to_str().unwrap(), "--listen", &self.addr.to_string()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(bootstrap) = bootstrap {
            command.args(["--bootstrap", &bootstrap.to_string()]);
        }
        self.child = Some(command.spawn().unwrap());
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Cluster {
    _temp: tempfile::TempDir,
    token: [u8; 32],
    key: String,
    nodes: Vec<Node>,
}

impl Cluster {
    /// Initialises `count` data directories sharing one cluster key and token, and starts node 0
    /// alone and the others with node 0 as their bootstrap.
    fn start(count: usize) -> Cluster {
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
        let mut cluster = Cluster { _temp: temp, token, key, nodes };
        let bootstrap = cluster.nodes[0].addr;
        for index in 0..count {
            cluster.nodes[index].start((index > 0).then_some(bootstrap));
        }
        cluster
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|node| node.addr).collect()
    }

    fn client(&self, addrs: Vec<SocketAddr>) -> Client {
        Client::new(addrs, self.token, Duration::from_secs(20))
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for node in &self.nodes {
            all.push_str(&format!("--- {}\n", node.log.display()));
            all.push_str(&std::fs::read_to_string(&node.log).unwrap_or_default());
        }
        all
    }

    /// Waits until every node in `indexes` reports `members` members and a leader.
    async fn wait_for_members(&self, indexes: &[usize], members: usize) {
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
    async fn wait_for_all_alive(&self, indexes: &[usize]) {
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

    /// Waits until node `index` has applied `key = value` locally.
    async fn wait_for_value(&self, index: usize, key: &[u8], value: &[u8]) {
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

fn put(key: &str, value: &str) -> KvOp {
    KvOp::Put { key: key.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
}

fn get(key: &str) -> KvOp {
    KvOp::Get { key: key.as_bytes().to_vec() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_form_from_one_bootstrap_and_every_write_is_read_everywhere() {
    let cluster = Cluster::start(3);
    cluster.wait_for_members(&[0, 1, 2], 3).await;
    cluster.wait_for_all_alive(&[0, 1, 2]).await;
    for writer in 0..3 {
        let mut client = cluster.client(vec![cluster.nodes[writer].addr]);
        let key = format!("key-{writer}");
        client.command(put(&key, &format!("from-{writer}"))).await.unwrap();
    }
    for reader in 0..3 {
        let mut client = cluster.client(vec![cluster.nodes[reader].addr]);
        for writer in 0..3 {
            let result = client.command(get(&format!("key-{writer}"))).await.unwrap();
            assert_eq!(result, KvResult::Value(Some(format!("from-{writer}").into_bytes())));
            let key = format!("key-{writer}");
            cluster.wait_for_value(reader, key.as_bytes(), format!("from-{writer}").as_bytes()).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_restarts_from_its_data_directory_and_catches_up() {
    let mut cluster = Cluster::start(3);
    cluster.wait_for_members(&[0, 1, 2], 3).await;
    let mut client = cluster.client(cluster.addrs());
    client.command(put("before", "1")).await.unwrap();
    cluster.wait_for_value(2, b"before", b"1").await;
    cluster.nodes[2].kill();
    for index in 0..20 {
        client.command(put(&format!("while-down-{index}"), "2")).await.unwrap();
    }
    cluster.nodes[2].start(None);
    cluster.wait_for_value(2, b"while-down-19", b"2").await;
    cluster.wait_for_value(2, b"before", b"1").await;
}

/// The crash a new user met: with one node of three stopped, 300 puts of 100 KB values, then the
/// node restarted. Its catch-up used to be one 30 MB message, over the frame limit, and every
/// healthy node panicked in the codec. Now catch-up comes in messages within the budget: no node
/// panics, the restarted node catches up, and every value reads back from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_through_300_puts_of_100_kb_values_catches_up_without_a_panic() {
    let mut cluster = Cluster::start(3);
    cluster.wait_for_members(&[0, 1, 2], 3).await;
    let mut client = cluster.client(vec![cluster.nodes[0].addr, cluster.nodes[1].addr]);
    cluster.nodes[2].kill();
    let value = |index: usize| format!("{index:06}").repeat(100_000 / 6).into_bytes();
    for index in 0..300 {
        let op = KvOp::Put { key: format!("big-{index}").into_bytes(), value: value(index) };
        client.command(op).await.unwrap();
    }
    cluster.nodes[2].start(None);
    let restarted = cluster.nodes[2].addr;
    let mut reader = cluster.client(vec![restarted]);
    let started = tokio::time::Instant::now();
    while !matches!(reader.stale_get(restarted, b"big-299").await, Ok((Some(_), _))) {
        assert!(started.elapsed() < DEADLINE * 2, "n2 never caught up:\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for index in 0..300 {
        let (found, _) = reader.stale_get(restarted, format!("big-{index}").as_bytes()).await.unwrap();
        assert_eq!(found.as_deref(), Some(value(index).as_slice()), "value {index} on the restarted node");
    }
    for (index, node) in cluster.nodes.iter_mut().enumerate() {
        let child = node.child.as_mut().unwrap();
        assert!(
            child.try_wait().unwrap().is_none(),
            "n{index} exited:\n{}",
            std::fs::read_to_string(&node.log).unwrap()
        );
    }
    assert!(!cluster.logs().contains("panicked"), "a node panicked:\n{}", cluster.logs());
}

/// A value over the records' limit is refused with its size and the limit, by the library before
/// anything is sent, and by the CLI (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_over_the_limit_is_refused_with_a_typed_error() {
    let cluster = Cluster::start(1);
    cluster.wait_for_members(&[0], 1).await;
    let mut client = cluster.client(cluster.addrs());
    let limit = pangea_core::metadata::records::VALUE_BYTES_MAX;
    let too_large = KvOp::Put { key: b"huge".to_vec(), value: vec![7; limit + 1] };
    let error = client.command(too_large).await.unwrap_err();
    assert_eq!(error.to_string(), format!("value too large: {} bytes, limit {limit}", limit + 1));
    let largest = KvOp::Put { key: b"largest".to_vec(), value: vec![7; limit] };
    client.command(largest).await.unwrap();
    let file = cluster._temp.path().join("huge.bin");
    std::fs::write(&file, vec![b'x'; limit + 1]).unwrap();
    let token = hex::encode(&cluster.token);
    let node = cluster.nodes[0].addr.to_string();
    let output = pangea(&["put", "huge", "--file", file.to_str().unwrap(), "--node", &node, "--token", &token]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("value too large: {} bytes, limit {limit}", limit + 1)), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_keep_serving_with_two_down() {
    let mut cluster = Cluster::start(5);
    cluster.wait_for_members(&[0, 1, 2, 3, 4], 5).await;
    cluster.nodes[3].kill();
    cluster.nodes[4].kill();
    let alive = vec![cluster.nodes[0].addr, cluster.nodes[1].addr, cluster.nodes[2].addr];
    let mut client = cluster.client(alive);
    for index in 0..10 {
        client.command(put(&format!("k{index}"), "v")).await.unwrap();
    }
    assert_eq!(client.command(get("k9")).await.unwrap(), KvResult::Value(Some(b"v".to_vec())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_without_the_cluster_key_is_refused_and_counted() {
    let cluster = Cluster::start(3);
    cluster.wait_for_members(&[0, 1, 2], 3).await;
    // A node with the right client token (so it can ask to join) but its own cluster key.
    let dir = tempfile::tempdir().unwrap();
    let intruder_dir = dir.path().join("intruder");
    let output =
        pangea(&["init", "--data-dir", intruder_dir.to_str().unwrap(), "--client-token", &hex::encode(&cluster.token)]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert_ne!(field(&text, "cluster key:"), cluster.key);
    let intruder_id = NodeId(hex::decode_32(&field(&text, "node id:")).unwrap());
    let mut intruder = Node { dir: intruder_dir, addr: free_addr(), child: None, log: dir.path().join("intruder.log") };
    intruder.start(Some(cluster.nodes[0].addr));
    let mut client = cluster.client(cluster.addrs());
    let started = tokio::time::Instant::now();
    loop {
        let mut refused = 0;
        for addr in cluster.addrs() {
            refused += client.status(addr).await.map_or(0, |(_, runtime)| runtime.refused_connections);
        }
        if refused > 0 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "the intruder was never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its registration went through the client protocol, but no admitted peer ever hears from it,
    // and the cluster keeps serving.
    client.command(put("after-intruder", "ok")).await.unwrap();
    for addr in cluster.addrs() {
        let (view, _) = client.status(addr).await.unwrap();
        let intruder_alive = view.peers.iter().any(|peer| peer.id == intruder_id && peer.health == Health::Alive);
        assert!(!intruder_alive, "an admitted node heard the intruder: {view:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_port_closes_only_that_connection() {
    let cluster = Cluster::start(1);
    cluster.wait_for_members(&[0], 1).await;
    let addr = cluster.nodes[0].addr;
    // Raw junk datagrams.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for size in [1, 7, 64, 1200] {
        socket.send_to(&vec![0xa5; size], addr).unwrap();
    }
    // A client connection carrying a frame that is not a request, then one whose length is absurd.
    let junk = pangea_node::client::ClientConn::connect(addr, None).await.unwrap();
    let answer = junk.request(b"definitely not a pangea frame").await.unwrap();
    let reply = <pangea_node::wire::ClientReply as pangea_core::Codec>::decode(&answer).unwrap();
    assert!(matches!(reply, pangea_node::wire::ClientReply::Refused { .. }), "{reply:?}");
    // A wrong token does nothing.
    let mut stranger = Client::new(vec![addr], [0; 32], Duration::from_secs(5));
    assert!(matches!(stranger.command(put("x", "y")).await, Err(ApiError::Unauthorized)));
    // The node still serves.
    let mut client = cluster.client(vec![addr]);
    client.command(put("still", "serving")).await.unwrap();
    assert_eq!(client.command(get("still")).await.unwrap(), KvResult::Value(Some(b"serving".to_vec())));
    assert_eq!(client.command(get("x")).await.unwrap(), KvResult::Value(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_syncs_and_the_data_survives_a_restart() {
    let mut cluster = Cluster::start(1);
    cluster.wait_for_members(&[0], 1).await;
    let mut client = cluster.client(cluster.addrs());
    client.command(put("durable", "yes")).await.unwrap();
    let child = cluster.nodes[0].child.take().unwrap();
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "SIGTERM should exit 0: {output:?}\n{}", cluster.logs());
    cluster.nodes[0].start(None);
    cluster.wait_for_members(&[0], 1).await;
    let mut client = cluster.client(cluster.addrs());
    assert_eq!(client.command(get("durable")).await.unwrap(), KvResult::Value(Some(b"yes".to_vec())));
}

fn node_exit(dir: &Path) -> Output {
    Command::new(BIN)
        .args(["node", "--data-dir", dir.to_str().unwrap(), "--listen", &free_addr().to_string()])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_data_directories_exit_with_code_2_and_are_left_alone() {
    let temp = tempfile::tempdir().unwrap();
    // Missing.
    let missing = node_exit(&temp.path().join("nothing-here"));
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("data directory"));
    // Initialised twice: refused, and the first identity is kept.
    let dir = temp.path().join("node");
    let first = pangea(&["init", "--data-dir", dir.to_str().unwrap()]);
    assert!(first.status.success());
    let meta_before = std::fs::read(dir.join("meta.json")).unwrap();
    let again = pangea(&["init", "--data-dir", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert_eq!(std::fs::read(dir.join("meta.json")).unwrap(), meta_before);
    // Locked by a running node.
    let cluster = Cluster::start(1);
    cluster.wait_for_members(&[0], 1).await;
    let locked = node_exit(&cluster.nodes[0].dir);
    assert_eq!(locked.status.code(), Some(2), "{locked:?}");
    assert!(String::from_utf8_lossy(&locked.stderr).to_lowercase().contains("in use by another process"), "{locked:?}");
    // From a newer version.
    let newer = temp.path().join("newer");
    assert!(pangea(&["init", "--data-dir", newer.to_str().unwrap()]).status.success());
    let meta = std::fs::read_to_string(newer.join("meta.json")).unwrap();
    let version = format!("\"format_version\": {}", pangea_node::datadir::FORMAT_VERSION);
    let bumped = meta.replacen(&version, "\"format_version\": 99", 1);
    assert_ne!(bumped, meta, "meta.json layout changed: {meta}");
    std::fs::write(newer.join("meta.json"), &bumped).unwrap();
    let refused = node_exit(&newer);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_eq!(std::fs::read_to_string(newer.join("meta.json")).unwrap(), bumped);
    // From an older version, whose storage this build cannot read.
    let older = temp.path().join("older");
    assert!(pangea(&["init", "--data-dir", older.to_str().unwrap()]).status.success());
    let meta = std::fs::read_to_string(older.join("meta.json")).unwrap();
    std::fs::write(older.join("meta.json"), meta.replacen(&version, "\"format_version\": 1", 1)).unwrap();
    let refused = node_exit(&older);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("older build"), "{refused:?}");
    // Corrupt.
    let corrupt = temp.path().join("corrupt");
    assert!(pangea(&["init", "--data-dir", corrupt.to_str().unwrap()]).status.success());
    std::fs::write(corrupt.join("node.crt"), b"not a certificate").unwrap();
    let refused = node_exit(&corrupt);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_eq!(std::fs::read(corrupt.join("node.crt")).unwrap(), b"not a certificate");
}

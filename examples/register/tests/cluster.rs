//! The register as a real three-process cluster on this machine: QUIC between the processes, redb
//! files on disk. A value written through one node is read through another, and still after one
//! node is killed (a majority remains).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

const REGISTER: &str = env!("CARGO_BIN_EXE_register");

/// The node processes, killed when the test ends however it ends.
struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn register(arguments: &[&str]) -> Output {
    Command::new(REGISTER).args(arguments).output().expect("runs register")
}

/// `init`'s output: the node's id and the cluster's client token.
fn init(dir: &Path, join: Option<&Path>) -> (String, String) {
    let mut arguments = vec!["init", dir.to_str().expect("a UTF-8 path")];
    if let Some(first) = join {
        arguments.extend(["--join", first.to_str().expect("a UTF-8 path")]);
    }
    let output = register(&arguments);
    assert!(output.status.success(), "init: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let field =
        |name: &str| text.lines().find_map(|line| line.strip_prefix(name)).map(str::to_owned).expect("init prints it");
    (field("id "), field("token "))
}

/// Ports handed out so far by [`free_address`].
static PORTS_HANDED_OUT: AtomicU16 = AtomicU16::new(0);

/// A free loopback UDP port below the kernel's ephemeral range (32768 and up by default), so that
/// no socket bound to port 0 can be given it between this pick and the node's bind.
fn free_address() -> SocketAddr {
    const SPAN: u16 = 12_000;
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    loop {
        let handed_out = PORTS_HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        assert!(handed_out < SPAN, "no free port");
        let address = SocketAddr::from(([127, 0, 0, 1], 20_000 + (start + handed_out) % SPAN));
        if UdpSocket::bind(address).is_ok() {
            return address;
        }
    }
}

/// Asks until the cluster answers (the nodes need a moment to listen) or 30 s pass.
fn until_answered(arguments: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = register(arguments);
        if output.status.success() {
            return String::from_utf8(output.stdout).expect("UTF-8").trim().to_owned();
        }
        assert!(Instant::now() < deadline, "no answer: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn three_processes_hold_one_register() {
    let root: PathBuf = std::env::temp_dir().join(format!("pangea-register-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dirs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|name| root.join(name)).collect();
    let (first_id, token) = init(&dirs[0], None);
    let mut ids = vec![first_id];
    for dir in &dirs[1..] {
        let (id, joined_token) = init(dir, Some(&dirs[0]));
        assert_eq!(joined_token, token, "a joining node gets the cluster's token");
        ids.push(id);
    }
    let addresses: Vec<SocketAddr> = (0..3).map(|_| free_address()).collect();
    let mut cluster = Cluster(Vec::new());
    for node in 0..3 {
        let mut command = Command::new(REGISTER);
        command.args(["node", "--data-dir", dirs[node].to_str().expect("UTF-8"), "--listen"]);
        command.arg(addresses[node].to_string());
        for peer in (0..3).filter(|peer| *peer != node) {
            command.args(["--peer", &format!("{}@{}", ids[peer], addresses[peer])]);
        }
        cluster.0.push(command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("starts a node"));
    }
    let at = |node: usize| addresses[node].to_string();

    assert_eq!(until_answered(&["write", "--node", &at(1), "--token", &token, "hello"]), "written");
    assert_eq!(until_answered(&["read", "--node", &at(2), "--token", &token]), "hello");

    cluster.0[0].kill().expect("kills n0");
    assert_eq!(until_answered(&["write", "--node", &at(2), "--token", &token, "still here"]), "written");
    assert_eq!(until_answered(&["read", "--node", &at(1), "--token", &token]), "still here");
    drop(cluster);
    let _ = std::fs::remove_dir_all(&root);
}

//! The `pangea` command line as a new user meets it: every subcommand's mistakes give one clear
//! message and the documented exit code (2 for usage, 1 for a failed operation), host names work
//! where addresses do, a timeout reports the time the user gave, `status` prints no Rust debug
//! text, and output into a closed pipe ends quietly.
//!
//! Most tests run the binary with no cluster; one starts a small cluster on free ports.

mod common;

use common::{BIN, Cluster, free_addr, pangea};
use pangea_node::hex;
use std::io::Read as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A well-formed token that no cluster uses.
const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `pangea args` and checks its exit code and that standard error is exactly `message`
/// (one line).
fn fails_with(args: &[&str], code: i32, message: &str) -> Output {
    let output = pangea(args);
    assert_eq!(output.status.code(), Some(code), "pangea {args:?}: {output:?}");
    assert_eq!(stderr(&output), format!("{message}\n"), "pangea {args:?}");
    output
}

/// Runs `pangea args`, expecting clap's usage error (exit 2) naming `message`.
fn refused_by_clap(args: &[&str], message: &str) {
    let output = pangea(args);
    assert_eq!(output.status.code(), Some(2), "pangea {args:?}: {output:?}");
    let text = stderr(&output);
    assert!(text.starts_with("error: "), "pangea {args:?}: {text}");
    assert!(text.contains(message), "pangea {args:?}: {text}\nshould contain: {message}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_malformed_token_is_a_usage_error_that_does_not_echo_the_token() {
    let message = "error: the client token (--token or PANGEA_TOKEN) must be 64 hex digits, as `pangea init` \
                   printed it; got 10 characters";
    fails_with(&["get", "key", "--token", "secret-ish", "--node", "127.0.0.1:1"], 2, message);
    fails_with(&["put", "key", "value", "--token", "secret-ish"], 2, message);
    fails_with(&["status", "--token", "secret-ish"], 2, message);
    fails_with(&["bench", "--token", "secret-ish"], 2, message);
    let not_hex = "z".repeat(64);
    fails_with(
        &["remove", "key", "--token", &not_hex],
        2,
        "error: the client token (--token or PANGEA_TOKEN) must be 64 hex digits, as `pangea init` printed it; \
         got a character that is not a hex digit",
    );
    let output = Command::new(BIN).args(["get", "key"]).env("PANGEA_TOKEN", "secret-ish").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(!stderr(&output).contains("secret-ish"), "{output:?}");
}

#[test]
fn other_malformed_arguments_exit_2() {
    fails_with(
        &["remove-member", "abc", "--token", TOKEN],
        2,
        "error: 'abc' is not a node id: give the 64 hex digits of the `node` line of `pangea status`",
    );
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("n");
    let dir = dir.to_str().unwrap();
    fails_with(&["pin", "--data-dir", dir, "abc"], 2, "error: 'abc' is not a node id (64 hex digits)");
    fails_with(&["init", "--data-dir", dir, "--pin", "abc"], 2, "error: 'abc' is not a node id (64 hex digits)");
    fails_with(
        &["init", "--data-dir", dir, "--cluster-key", "abc"],
        2,
        "error: --cluster-key must be 64 hex digits, as `pangea init` printed it; got 3 characters",
    );
    fails_with(
        &["init", "--data-dir", dir, "--client-token", "abc"],
        2,
        "error: --client-token must be 64 hex digits, as `pangea init` printed it; got 3 characters",
    );
    assert!(!temp.path().join("n").exists(), "a refused init left a directory behind");
    fails_with(
        &["bench", "--clients", "0", "--token", TOKEN],
        2,
        "error: bad bench options: clients, seconds and keys must be positive, read-percent at most 100",
    );
    let missing = temp.path().join("missing.bin");
    fails_with(
        &["put", "key", "--file", missing.to_str().unwrap(), "--token", TOKEN],
        2,
        &format!("error: cannot read {}: No such file or directory (os error 2)", missing.display()),
    );
    refused_by_clap(&["get", "key", "--token", TOKEN, "--timeout", "0"], "invalid value '0' for '--timeout <SECONDS>'");
    refused_by_clap(&["get", "--token", TOKEN], "the following required arguments were not provided");
    refused_by_clap(&["frobnicate"], "unrecognized subcommand 'frobnicate'");
}

#[test]
fn addresses_take_host_names_and_say_why_one_is_refused() {
    let shape = "expected HOST:PORT, e.g. 127.0.0.1:7100 or localhost:7100";
    refused_by_clap(
        &["get", "key", "--token", TOKEN, "--node", "localhost"],
        &format!("invalid value 'localhost' for '--node <HOST:PORT>': {shape} (no port)"),
    );
    refused_by_clap(
        &["get", "key", "--token", TOKEN, "--node", "localhost:http"],
        &format!("{shape} ('http' is not a port number)"),
    );
    refused_by_clap(
        &["get", "key", "--token", TOKEN, "--node", "127.0.0.1:1,nosuch.invalid:7100"],
        "invalid value 'nosuch.invalid:7100' for '--node <HOST:PORT>': cannot resolve the host name 'nosuch.invalid'",
    );
    for flag in ["--listen", "--advertise", "--bootstrap", "--metrics"] {
        refused_by_clap(
            &["node", "--data-dir", "/nonexistent", flag, "nosuch.invalid:7100"],
            &format!("invalid value 'nosuch.invalid:7100' for '{flag} <HOST:PORT>'"),
        );
    }
    // A host name that resolves gets as far as the network: nothing listens there.
    let addr = free_addr();
    fails_with(
        &["get", "key", "--token", TOKEN, "--timeout", "1", "--node", &format!("localhost:{}", addr.port())],
        1,
        &format!("error: no answer from the cluster within 1s (last problem: {addr}: did not answer within 1s)"),
    );
}

#[test]
fn a_timeout_reports_the_time_the_user_gave_and_keeps_to_it() {
    let addr = free_addr().to_string();
    let started = Instant::now();
    fails_with(
        &["get", "key", "--token", TOKEN, "--timeout", "1", "--node", &addr],
        1,
        &format!("error: no answer from the cluster within 1s (last problem: {addr}: did not answer within 1s)"),
    );
    // One attempt, cut to the deadline rather than the usual 2 s (process start and exit aside).
    assert!(started.elapsed() < Duration::from_millis(1_900), "took {:?}", started.elapsed());
    let output = pangea(&["status", "--token", TOKEN, "--timeout", "1", "--node", &addr]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout(&output), format!("{addr}: did not answer within 1s\n"));
}

#[test]
fn data_directory_errors_say_the_os_error_once() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let under_a_file = file.join("n1");
    let output = fails_with(
        &["init", "--data-dir", under_a_file.to_str().unwrap()],
        2,
        &format!("error: cannot create the directory {}: Not a directory (os error 20)", under_a_file.display()),
    );
    assert_eq!(stderr(&output).matches("Not a directory").count(), 1);
    let missing = temp.path().join("missing");
    fails_with(
        &["pin", "--data-dir", missing.to_str().unwrap()],
        2,
        &format!("error: {} holds no initialized node (no directory)", missing.display()),
    );
    fails_with(
        &["node", "--data-dir", missing.to_str().unwrap(), "--listen", &free_addr().to_string()],
        2,
        &format!("error: unusable data directory: {} holds no initialized node (no directory)", missing.display()),
    );
    let dir = temp.path().join("n");
    assert!(pangea(&["init", "--data-dir", dir.to_str().unwrap()]).status.success());
    fails_with(
        &["init", "--data-dir", dir.to_str().unwrap()],
        2,
        &format!("error: {} already holds a node", dir.display()),
    );
    fails_with(
        &["pin", "--data-dir", dir.to_str().unwrap()],
        2,
        "error: the node admits by cluster key, not by pinned ids",
    );
}

#[test]
fn ports_in_use_say_the_os_error_once() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("n");
    assert!(pangea(&["init", "--data-dir", dir.to_str().unwrap()]).status.success());
    let taken_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = taken_udp.local_addr().unwrap().to_string();
    let output = fails_with(
        &["node", "--data-dir", dir.to_str().unwrap(), "--listen", &udp],
        1,
        &format!("error: QUIC endpoint: cannot bind {udp}: Address already in use (os error 98)"),
    );
    assert_eq!(stderr(&output).matches("Address already in use").count(), 1);
    let taken_tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = taken_tcp.local_addr().unwrap().to_string();
    let output = Command::new(BIN)
        .args(["node", "--data-dir", dir.to_str().unwrap(), "--listen", &free_addr().to_string(), "--metrics", &tcp])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        stderr(&output),
        format!("error: cannot serve metrics on {tcp}: Address already in use (os error 98)\n")
    );
}

/// With a cluster started and used by host names (`--listen`, `--advertise`, `--bootstrap`,
/// `--metrics`, `--node`): a `status` with no debug text on any line, the value of `get` into a
/// pipe closed early, a wrong token, and the metrics endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_a_cluster_by_host_name() {
    let mut cluster = Cluster::init(2);
    let metrics = free_addr();
    let by_name: Vec<String> = cluster.nodes.iter().map(|node| format!("localhost:{}", node.addr.port())).collect();
    let metrics_by_name = format!("localhost:{}", metrics.port());
    cluster.nodes[0].start_with(None, &["--listen", &by_name[0], "--metrics", &metrics_by_name]);
    cluster.nodes[1]
        .start_with(None, &["--listen", &by_name[1], "--advertise", &by_name[1], "--bootstrap", &by_name[0]]);
    cluster.wait_for_members(&[0, 1], 2).await;
    cluster.wait_for_all_alive(&[0, 1]).await;
    let token = hex::encode(&cluster.token);
    let nodes = by_name.join(",");
    let client = |args: &[&str]| -> Output {
        let mut all = args.to_vec();
        all.extend(["--node", &nodes, "--token", &token]);
        pangea(&all)
    };

    let output = client(&["put", "greeting", "hello"]);
    assert!(output.status.success(), "{output:?}");
    let output = client(&["get", "greeting"]);
    assert_eq!((output.status.code(), stdout(&output).as_str()), (Some(0), "hello\n"), "{output:?}");
    let output = client(&["get", "absent"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stderr(&output), "not found\n");

    // Status: every line is words, numbers, ids and addresses; no Rust debug text.
    let output = client(&["status"]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    for line in text.lines() {
        for debug in ["Some(", "None", "NodeId(", "\"", "{", "Duration"] {
            assert!(!line.contains(debug), "status line {line:?} holds {debug:?}:\n{text}");
        }
    }
    assert_eq!(text.lines().filter(|line| line.starts_with("node ")).count(), 2, "{text}");
    assert_eq!(text.lines().filter(|line| *line == "  role:       leader").count(), 1, "{text}");
    assert_eq!(text.lines().filter(|line| *line == "  storage:    ok").count(), 2, "{text}");
    let follower = text.lines().find(|line| line.starts_with("  role:       follower of ")).expect(&text);
    let leader_short = follower.trim_start_matches("  role:       follower of ");
    assert!(leader_short.len() == 8 && hex::decode_32(&leader_short.repeat(8)).is_some(), "{follower}");
    let peers: Vec<&str> = text.lines().filter(|line| line.starts_with("  peer ")).collect();
    assert_eq!(peers.len(), 2, "{text}");
    // Host names were resolved once, at start: the directory holds addresses.
    for peer in peers {
        assert!(peer.contains(" 127.0.0.1:") && peer.contains(" member, alive"), "{peer}");
    }
    for node in &cluster.nodes {
        assert!(text.contains(&format!(" at {}\n", node.addr)), "{text}");
    }

    // A value longer than a pipe's buffer, read 20 bytes of and the pipe closed: a quiet exit 0.
    let long = cluster.temp.path().join("long.txt");
    std::fs::write(&long, "0123456789".repeat(50_000)).unwrap();
    let output = client(&["put", "long", "--file", long.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let mut child = Command::new(BIN)
        .args(["get", "long", "--node", &nodes, "--token", &token])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0_u8; 20];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    assert_eq!(&head, b"01234567890123456789");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "a closed pipe is not an error");

    // A wrong token is refused by the node: the operation failed (exit 1), not the usage.
    let output = pangea(&["put", "k", "v", "--node", &nodes, "--token", TOKEN]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stderr(&output), "error: the node refused the client token (check --token or PANGEA_TOKEN)\n");

    // Metrics by host name, over HTTP, with the node's gauges filled in.
    let mut stream = tokio::net::TcpStream::connect(metrics).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    for name in [
        "\npangea_messages_sent_total ",
        "\npangea_client_requests_total ",
        "\npangea_refused_connections_total 0\n",
        "\npangea_members 2\n",
        "\npangea_members_alive 1\n",
        "\n# TYPE pangea_command_latency_seconds histogram\n",
        "\npangea_command_latency_seconds_bucket{le=\"+Inf\"} ",
    ] {
        assert!(answer.contains(name), "no {name:?} in\n{answer}");
    }
}

//! The DHT on real `pangea` processes: nodes given only the first node's address find each other
//! through the DHT, and `pangea dht` looks up, publishes and finds across them.
//!
//! The processes run on free loopback ports in a temporary directory and are killed when the test
//! ends, pass or fail; every wait polls a condition with a deadline.

mod common;

use common::{Cluster, DEADLINE, pangea};
use pangea_node::hex;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Output;
use std::time::{Duration, Instant};

/// `pangea dht ARGS --node NODE --token TOKEN`, run to its end.
fn dht(cluster: &Cluster, node: usize, args: &[&str]) -> Output {
    let addr = cluster.nodes[node].addr.to_string();
    let token = hex::encode(&cluster.token);
    let mut all = vec!["dht"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--node", &addr, "--token", &token, "--timeout", "10"]);
    pangea(&all)
}

/// Standard output of a successful `pangea dht ARGS --json`, parsed.
fn dht_json(cluster: &Cluster, node: usize, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let output = dht(cluster, node, &with_json);
    assert!(output.status.success(), "dht {args:?} on n{node}: {output:?}\n{}", cluster.logs());
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("dht {args:?}: {error}: {output:?}"))
}

/// The ids in a JSON list of peers (`[{"id": HEX, "address": ...}]`), in order.
fn ids(peers: &Value) -> Vec<String> {
    peers.as_array().unwrap().iter().map(|peer| peer["id"].as_str().unwrap().to_owned()).collect()
}

/// Polls `pangea dht table --json` on `node` until `done` holds for it; returns it.
fn wait_for_table(cluster: &Cluster, node: usize, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    let mut last = None;
    loop {
        let output = dht(cluster, node, &["table", "--json"]);
        if output.status.success() {
            let table: Value = serde_json::from_slice(&output.stdout).unwrap();
            if done(&table) {
                return table;
            }
            last = Some(table);
        }
        assert!(started.elapsed() < DEADLINE, "n{node}: {what}; last table {last:#?}:\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn five_nodes_bootstrapped_from_one_find_each_other_and_share_records_through_the_dht() {
    let started = Instant::now();
    // n0 founds the cluster; n1..n4 are given only n0's address, and start at once.
    let mut cluster = Cluster::start(5);
    let node_ids: Vec<String> = (0..5)
        .map(|index| {
            let table = wait_for_table(&cluster, index, "never answered", |_| true);
            table["node"].as_str().unwrap().to_owned()
        })
        .collect();

    // The last node's routing table comes to hold every other node, with the address it listens at.
    let others: BTreeSet<&str> = node_ids[..4].iter().map(String::as_str).collect();
    let table = wait_for_table(&cluster, 4, "the routing table never held every other node", |table| {
        let contacts: Vec<String> = ids(&table["contacts"]);
        others.iter().all(|id| contacts.iter().any(|contact| contact == id))
    });
    let joined = started.elapsed();
    for contact in table["contacts"].as_array().unwrap() {
        let id = contact["id"].as_str().unwrap();
        let index = node_ids.iter().position(|node| node == id).unwrap();
        assert_eq!(contact["address"].as_str(), Some(cluster.nodes[index].addr.to_string().as_str()), "{table:#}");
    }
    let text = String::from_utf8(dht(&cluster, 4, &["table"]).stdout).unwrap();
    assert!(text.starts_with(&format!("node {}: 4 contacts in ", node_ids[4])), "{text}");

    // A lookup of n2's id from n4 finds n2 first, then the others that answered.
    let found = dht_json(&cluster, 4, &["find", &node_ids[2]]);
    let peers = ids(&found["peers"]);
    assert_eq!(peers.first(), Some(&node_ids[2]), "{found:#}");
    let expected: BTreeSet<String> = others.iter().map(|id| (*id).to_owned()).collect();
    assert_eq!(peers.iter().cloned().collect::<BTreeSet<String>>(), expected, "{found:#}");
    assert!(found["queried"].as_u64().unwrap() >= 1, "{found:#}");

    // Published on n1, found from n3: by its text key, and by the BLAKE3 hash of the text in hex.
    let stored = dht_json(&cluster, 1, &["put", "greeting", "hello from n1"]);
    assert!(stored["replicas"].as_u64().unwrap() >= 1, "{stored:#}");
    let got = dht(&cluster, 3, &["get", "greeting"]);
    assert!(got.status.success(), "{got:?}");
    assert_eq!(got.stdout, b"hello from n1\n");
    let key = hex::encode(blake3::hash(b"greeting").as_bytes());
    let got = dht_json(&cluster, 3, &["get", &key]);
    assert_eq!(got["value"], "hello from n1", "{got:#}");
    assert_eq!(got["found"], true);

    // Nothing under another key (exit 1), and a value over the limit is bad usage (exit 2).
    let missing = dht(&cluster, 3, &["get", "no such key"]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert_eq!(String::from_utf8_lossy(&missing.stderr).trim(), "not found");
    let huge = "x".repeat(16 * 1024 + 1);
    let refused = dht(&cluster, 1, &["put", "huge", &huge]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");

    // Restarted without --bootstrap, n4 joins again through the node it joined through (stored
    // with the initial configuration), and finds the record from there.
    cluster.nodes[4].kill();
    cluster.nodes[4].start(None);
    let others_again = |table: &Value| {
        let contacts = ids(&table["contacts"]);
        others.iter().all(|id| contacts.iter().any(|contact| contact == id))
    };
    wait_for_table(&cluster, 4, "after a restart, the routing table never held every other node", others_again);
    let got = dht_json(&cluster, 4, &["get", "greeting"]);
    assert_eq!(got["value"], "hello from n1", "{got:#}");
    eprintln!("the DHT tables were complete {joined:?} after the start; the test took {:?}", started.elapsed());
}

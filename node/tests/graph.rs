//! The property graph and the event store on three real `pangea` processes, driven through the
//! CLI as a user would: written on one node and read on another, scans paged, traversals filtered
//! by label, pheromone reinforced and evaporated, events appended and read back in order — and
//! all of it still there, on every node, after the leader is SIGKILLed and restarted.
//!
//! The processes run on free loopback ports in a temporary directory and are killed when the test
//! ends, pass or fail; every wait polls a condition with a deadline.

mod common;

use common::{Cluster, DEADLINE, pangea};
use pangea_node::hex;
use serde_json::{Value, json};
use std::process::Output;
use std::time::{Duration, Instant};

/// `pangea ARGS --node ADDRS --token TOKEN`, asking the nodes at `nodes` (indexes), run to its end.
fn run(cluster: &Cluster, nodes: &[usize], args: &[&str]) -> Output {
    let addrs: Vec<String> = nodes.iter().map(|index| cluster.nodes[*index].addr.to_string()).collect();
    let addrs = addrs.join(",");
    let token = hex::encode(&cluster.token);
    let mut all = args.to_vec();
    all.extend_from_slice(&["--node", &addrs, "--token", &token, "--timeout", "10"]);
    pangea(&all)
}

/// Standard output of a successful `pangea ARGS` on `nodes`.
fn text(cluster: &Cluster, nodes: &[usize], args: &[&str]) -> String {
    let output = run(cluster, nodes, args);
    assert!(output.status.success(), "{args:?} on {nodes:?}: {output:?}\n{}", cluster.logs());
    String::from_utf8(output.stdout).unwrap()
}

/// Standard output of a successful `pangea ARGS --json` on `nodes`, parsed.
fn json(cluster: &Cluster, nodes: &[usize], args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let stdout = text(cluster, nodes, &with_json);
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{args:?}: {error}: {stdout}"))
}

/// The id a successful `add-entity` or `add-edge` printed.
fn added(cluster: &Cluster, node: usize, args: &[&str]) -> u64 {
    let stdout = text(cluster, &[node], args);
    stdout.trim().parse().unwrap_or_else(|_| panic!("{args:?} printed {stdout:?}"))
}

/// `pangea graph get --edge EDGE --json` on `node`.
fn edge_view(cluster: &Cluster, node: usize, edge: u64) -> Value {
    json(cluster, &[node], &["graph", "get", "--edge", &edge.to_string()])
}

/// The index of the node that `pangea status` on every node shows leading, once exactly one does.
fn leader_by_status(cluster: &Cluster) -> usize {
    let started = Instant::now();
    loop {
        let output = run(cluster, &[0, 1, 2], &["status"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut leaders = Vec::new();
        let mut listening = None;
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("node ") {
                listening = rest.split_once(" at ").map(|(_, addr)| addr.to_owned());
            } else if line == "  role:       leader" {
                leaders.push(listening.clone());
            }
        }
        if let [Some(addr)] = leaders.as_slice()
            && let Some(index) = cluster.nodes.iter().position(|node| node.addr.to_string() == *addr)
        {
            return index;
        }
        assert!(started.elapsed() < DEADLINE, "no single leader in `pangea status`:\n{stdout}\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `--stale` reads of every node in `nodes` give `expected` for `args`.
fn wait_until_every_node_reads(cluster: &Cluster, nodes: &[usize], args: &[&str], expected: &Value) {
    let started = Instant::now();
    for node in nodes {
        let mut with_stale = args.to_vec();
        with_stale.extend_from_slice(&["--stale", "--json"]);
        loop {
            let output = run(cluster, &[*node], &with_stale);
            let found: Option<Value> =
                output.status.success().then(|| serde_json::from_slice(&output.stdout).ok()).flatten();
            if found.as_ref() == Some(expected) {
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "n{node}: {args:?} read {found:?}, not {expected}: {output:?}\n{}",
                cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_and_the_events_serve_from_every_node_and_survive_a_killed_leader() {
    let started = Instant::now();
    let mut cluster = Cluster::start(3);
    cluster.wait_for_members(&[0, 1, 2], 3).await;
    let (first, second, third) = (0, 1, 2);

    // Entities and edges added through the first node.
    let people: Vec<u64> = ["Ada", "Bob", "Cy", "Di", "Ed"]
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let name = format!("name={name}");
            let age = format!("age={}", 30 + index);
            added(&cluster, first, &["graph", "add-entity", "people", "--prop", &name, "--prop", &age])
        })
        .collect();
    let [ada, bob, cy, di, ed] = people[..] else { panic!("five people: {people:?}") };
    let paris = added(&cluster, first, &["graph", "add-entity", "places", "--prop", "name=str:Paris"]);
    let edge = |from: u64, to: u64, label: &str, extra: &[&str]| {
        let (from, to) = (from.to_string(), to.to_string());
        let mut args = vec!["graph", "add-edge", from.as_str(), to.as_str(), label];
        args.extend_from_slice(extra);
        added(&cluster, first, &args)
    };
    let ada_bob = edge(ada, bob, "knows", &["--prop", "since=int:2020", "--prop", "tags=list:str:work,int:7"]);
    let bob_cy = edge(bob, cy, "knows", &[]);
    edge(cy, di, "knows", &[]);
    edge(ada, paris, "likes", &[]);
    edge(bob, ed, "works_with", &[]);

    // Read back through the third node alone: linearizable, so every write above is there.
    let entity = json(&cluster, &[third], &["graph", "get", &ada.to_string()]);
    let expected = json!({
        "id": ada,
        "collection": "people",
        "properties": { "name": { "type": "str", "value": "Ada" }, "age": { "type": "int", "value": 30 } },
    });
    assert_eq!(entity, expected);
    let got = json(&cluster, &[third], &["graph", "get", "--edge", &ada_bob.to_string()]);
    assert_eq!((got["from"].as_u64(), got["to"].as_u64(), &got["label"]), (Some(ada), Some(bob), &json!("knows")));
    assert_eq!(
        got["properties"]["tags"],
        json!({ "type": "list", "value": [{ "type": "str", "value": "work" }, { "type": "int", "value": 7 }] })
    );
    assert_eq!(got["pheromone_fixed"], 0);
    let shown = text(&cluster, &[third], &["graph", "get", &ada.to_string()]);
    assert_eq!(shown, format!("entity {ada} in people\n  age=int:30\n  name=str:Ada\n"));

    // A collection page by page, two at a time, through the second node.
    let mut scanned = Vec::new();
    let mut after: Option<u64> = None;
    for page in 0.. {
        assert!(page < 10, "the scan never ended: {scanned:?}");
        let after_text = after.map(|id| id.to_string());
        let mut args = vec!["graph", "scan", "people", "--limit", "2"];
        if let Some(after) = &after_text {
            args.extend_from_slice(&["--after", after]);
        }
        let page = json(&cluster, &[second], &args);
        let ids: Vec<u64> = page["entities"].as_array().unwrap().iter().map(|id| id.as_u64().unwrap()).collect();
        assert!(ids.len() <= 2, "{page}");
        scanned.extend_from_slice(&ids);
        if page["more"] == false {
            break;
        }
        after = page["next_after"].as_u64();
    }
    assert_eq!(scanned, people);
    let all = text(&cluster, &[second], &["graph", "scan", "people"]);
    assert_eq!(all, people.iter().map(|id| format!("{id}\n")).collect::<String>());

    // Two edges deep along "knows" only: Bob, then Cy (not Di, three away; not Paris or Ed).
    let ada_text = ada.to_string();
    let walk = ["graph", "traverse", &ada_text, "--depth", "2", "--label", "knows"];
    let traversal = json(&cluster, &[third], &walk);
    assert_eq!(traversal["reached"], json!([{ "entity": bob, "depth": 1 }, { "entity": cy, "depth": 2 }]));
    assert_eq!(traversal["cut"], false);
    let any_label = json(&cluster, &[third], &["graph", "traverse", &ada.to_string(), "--depth", "2"]);
    let reached: Vec<u64> =
        any_label["reached"].as_array().unwrap().iter().map(|step| step["entity"].as_u64().unwrap()).collect();
    assert_eq!(reached, [bob, paris, cy, ed]);

    // Reinforcing one edge deep along "knows" deposits 1.0 on Ada->Bob only; evaporation lowers it.
    let reinforce = ["graph", "traverse", &ada.to_string(), "--depth", "1", "--label", "knows", "--reinforce"];
    assert_eq!(text(&cluster, &[first], &reinforce), format!("{bob} 1\n"));
    let reinforced = edge_view(&cluster, third, ada_bob);
    assert_eq!((reinforced["pheromone_fixed"].as_u64(), reinforced["pheromone"].as_f64()), (Some(65_536), Some(1.0)));
    assert_eq!(edge_view(&cluster, third, bob_cy)["pheromone_fixed"], 0);
    text(&cluster, &[second], &["graph", "evaporate", "--steps", "1"]);
    let evaporated = edge_view(&cluster, third, ada_bob)["pheromone_fixed"].as_u64().unwrap();
    assert!(0 < evaporated && evaporated < 65_536, "after one step: {evaporated}");
    let neighbors = json(&cluster, &[first], &["graph", "neighbors", &ada.to_string(), "--label", "knows"]);
    assert_eq!(neighbors["neighbors"][0]["pheromone_fixed"], evaporated, "{neighbors}");

    // What the graph refuses, and what the command line refuses before asking it.
    let missing = run(&cluster, &[third], &["graph", "get", "999"]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert_eq!(String::from_utf8_lossy(&missing.stderr), "error: no entity 999\n");
    let dangling = run(&cluster, &[first], &["graph", "add-edge", &ada.to_string(), "999", "knows"]);
    assert_eq!(
        (dangling.status.code(), String::from_utf8_lossy(&dangling.stderr)),
        (Some(1), "error: no entity 999\n".into())
    );
    let malformed = run(&cluster, &[first], &["graph", "add-entity", "people", "--prop", "age=int:old"]);
    assert_eq!(malformed.status.code(), Some(2), "{malformed:?}");
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("property 'age': 'old' is not a 64-bit integer"));

    // Events appended through the second node, read back through the first in key, then id, order.
    let mut appended = Vec::new();
    for (node, signal, epoch, payload) in [
        ("sensor", "temp", "1", "t=20.5"),
        ("sensor", "temp", "2", "t=21"),
        ("sensor", "temp", "1", "t=20.7"),
        ("sensor", "hum", "1", "h=40"),
        ("other", "x", "0", "elsewhere"),
        ("sensor", "temp", "1", "t=20.9"),
    ] {
        let answer = json(&cluster, &[second], &["events", "append", node, signal, epoch, "--data", payload]);
        assert_eq!(answer["retired"], 0, "{answer}");
        appended.push((answer["id"].as_u64().unwrap(), format!("{node}/{signal}/{epoch}"), payload));
    }
    let ids: Vec<u64> = appended.iter().map(|(id, _, _)| *id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids rise: {ids:?}");
    let mut expected_events: Vec<&(u64, String, &str)> =
        appended.iter().filter(|(_, key, _)| key.starts_with("sensor/")).collect();
    // Keys order by node, signal, then epoch: here their text orders the same way.
    expected_events.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let expected_lines: String =
        expected_events.iter().map(|(id, key, payload)| format!("{id} {key} {payload}\n")).collect();
    let range = ["events", "range", "--from", "sensor/a/0", "--to", "sensor/z/99"];
    let events_before = text(&cluster, &[first], &range);
    assert_eq!(events_before, expected_lines);
    // Paged two at a time with --limit and --resume, the same events in the same order.
    let mut paged = Vec::new();
    let mut resume: Option<String> = None;
    for page in 0.. {
        assert!(page < 10, "the range never ended: {paged:?}");
        let mut args = range.to_vec();
        args.extend_from_slice(&["--limit", "2"]);
        if let Some(resume) = &resume {
            args.extend_from_slice(&["--resume", resume]);
        }
        let answer = json(&cluster, &[first], &args);
        paged.extend(answer["events"].as_array().unwrap().iter().map(|event| event["id"].as_u64().unwrap()));
        match answer["resume"].as_object() {
            None => break,
            Some(next) => {
                let key = &next["key"];
                resume = Some(format!(
                    "{}@{}/{}/{}",
                    next["id"],
                    key["node"].as_str().unwrap(),
                    key["signal"].as_str().unwrap(),
                    key["epoch"]
                ));
            }
        }
    }
    assert_eq!(paged, expected_events.iter().map(|(id, _, _)| *id).collect::<Vec<u64>>());

    // Kill -9 the leader; write through the two left; restart it.
    let leader = leader_by_status(&cluster);
    cluster.nodes[leader].kill();
    let others: Vec<usize> = (0..3).filter(|index| *index != leader).collect();
    let late = added(&cluster, others[0], &["graph", "add-entity", "people", "--prop", "name=Late"]);
    let late_payload = "while the leader was down";
    let late_append = ["events", "append", "sensor", "temp", "1", "--data", late_payload];
    let late_event = json(&cluster, &others, &late_append)["id"].as_u64().unwrap();
    cluster.nodes[leader].start(None);

    // Every node, the restarted one too, comes to hold the same graph and store.
    let graph_stats = json!({
        "entities": 7,
        "edges": 5,
        "evaporations": 1,
        "collections": { "people": 6, "places": 1 },
        "labels": { "knows": 3, "likes": 1, "works_with": 1 },
    });
    wait_until_every_node_reads(&cluster, &[0, 1, 2], &["graph", "stats"], &graph_stats);
    let bytes = appended.iter().map(|(_, _, payload)| payload.len()).sum::<usize>() + late_payload.len();
    let events_stats = json!({ "keys": 4, "events": 7, "bytes": bytes, "next_id": late_event + 1, "retired": 0 });
    wait_until_every_node_reads(&cluster, &[0, 1, 2], &["events", "stats"], &events_stats);
    // And linearizable reads through the restarted node find everything as it was.
    assert_eq!(json(&cluster, &[leader], &["graph", "get", &ada.to_string()]), expected);
    assert_eq!(json(&cluster, &[leader], &["graph", "get", &late.to_string()])["collection"], "people");
    assert_eq!(edge_view(&cluster, leader, ada_bob)["pheromone_fixed"], evaporated);
    assert_eq!(json(&cluster, &[leader], &["graph", "stats"]), graph_stats);
    assert_eq!(json(&cluster, &[leader], &walk)["reached"], traversal["reached"]);
    let events_after = text(&cluster, &[leader], &range);
    let late_line = format!("{late_event} sensor/temp/1 while the leader was down\n");
    let mut lines_after: Vec<&str> = events_before.lines().collect();
    let position = lines_after.iter().position(|line| line.contains("sensor/temp/2")).unwrap();
    lines_after.insert(position, late_line.trim_end());
    assert_eq!(events_after, lines_after.iter().map(|line| format!("{line}\n")).collect::<String>());
    eprintln!("the test took {:?}", started.elapsed());
}

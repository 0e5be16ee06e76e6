//! Trace Event Format (JSON) for Perfetto and chrome://tracing.
//!
//! One process, the cluster; one thread track per node (`n0`, `n1`, ...), then a `network` track
//! (partitions) and a `checkers` track. On a node's track: its lifetimes (`up #k`, `crashed`,
//! `paused`) as long slices, and inside them one short slice per input handled or message sent.
//! Messages are flow arrows (flow events v2: `bind_id` with `flow_out` / `flow_in`) from the send
//! slice to the delivery slice. Faults are instants; checker violations are instants on their node
//! and on the checkers track. Slices on a track are clamped so that they nest, as the format asks.

use super::micros;
use super::timeline::Timeline;
use crate::replay::hash_to_hex;
use crate::report::RunReport;
use pangea_sim::{TraceKind, TraceRecord};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Length given to an instantaneous input or send, so that it shows and can carry a flow.
const STEP_NANOS: u64 = 1_000;

struct Slice {
    start: u64,
    duration: u64,
    fields: Map<String, Value>,
}

fn fields(name: String, category: &str, args: Value) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("name".into(), Value::String(name));
    map.insert("cat".into(), Value::String(category.into()));
    map.insert("args".into(), args);
    map
}

pub(super) fn render(report: &RunReport, records: &[TraceRecord], timeline: &Timeline) -> String {
    let nodes = timeline.nodes;
    let node_track = |node: u32| u64::from(node) + 1;
    let network_track = u64::from(nodes) + 1;
    let checker_track = u64::from(nodes) + 2;
    let mut slices: BTreeMap<u64, Vec<Slice>> = BTreeMap::new();
    let mut instants: Vec<Value> = Vec::new();
    let mut push = |track: u64, start: u64, duration: u64, fields: Map<String, Value>| {
        slices.entry(track).or_default().push(Slice { start, duration, fields });
    };

    for span in &timeline.spans {
        let name = if span.kind == "up" { format!("up #{}", span.incarnation) } else { span.kind.to_owned() };
        let duration = (span.end - span.start).max(STEP_NANOS);
        push(node_track(span.node), span.start, duration, fields(name, "lifecycle", json!({})));
    }
    for partition in &timeline.partitions {
        let duration = (partition.end - partition.start).max(STEP_NANOS);
        push(network_track, partition.start, duration, fields(partition.description.clone(), "partition", json!({})));
    }
    for (index, message) in timeline.messages.iter().enumerate() {
        let bind_id = format!("0x{:x}", index + 1);
        let digest = format!("{:016x}", message.digest);
        if !message.duplicate {
            let mut args = json!({ "to": format!("n{}", message.to), "bytes": message.bytes, "digest": digest });
            if let Some((at, reason)) = message.dropped {
                args["lost"] = json!(format!("{reason} at {}", pangea_core::Instant::from_nanos(at)));
            }
            let mut send = fields(format!("send -> n{}", message.to), "message", args);
            if message.delivered_at.is_some() {
                send.insert("bind_id".into(), json!(bind_id));
                send.insert("flow_out".into(), json!(true));
            }
            push(node_track(message.from), message.sent_at, STEP_NANOS, send);
        }
        if let Some(at) = message.delivered_at {
            let name = if message.duplicate {
                format!("recv <- n{} (duplicate)", message.from)
            } else {
                format!("recv <- n{}", message.from)
            };
            let mut deliver =
                fields(name, "message", json!({ "from": format!("n{}", message.from), "digest": digest }));
            if !message.duplicate {
                deliver.insert("bind_id".into(), json!(bind_id));
                deliver.insert("flow_in".into(), json!(true));
            }
            push(node_track(message.to), at, STEP_NANOS, deliver);
        }
    }
    for record in records {
        let at = record.at.as_nanos();
        let track = record.node.map_or(network_track, node_track);
        match &record.kind {
            TraceKind::Timer { id } => push(track, at, STEP_NANOS, fields(format!("timer #{id}"), "timer", json!({}))),
            TraceKind::Client { request, .. } => {
                push(track, at, STEP_NANOS, fields(format!("client request #{request}"), "client", json!({})));
            }
            TraceKind::Reply { request, .. } => {
                push(track, at, STEP_NANOS, fields(format!("reply #{request}"), "client", json!({})));
            }
            TraceKind::Node { event, detail } => {
                push(track, at, STEP_NANOS, fields(event.clone(), "node", json!({ "detail": detail })));
            }
            TraceKind::Drop { from, to, reason } => {
                let from = if *from == pangea_sim::kernel::CLIENT { "client".to_owned() } else { format!("n{from}") };
                push(track, at, STEP_NANOS, fields(format!("drop {from} -> n{to} ({reason})"), "drop", json!({})));
            }
            TraceKind::Fault { description } => {
                let scope = if record.node.is_some() { "t" } else { "g" };
                instants.push(json!({
                    "ph": "i", "s": scope, "pid": 1, "tid": track, "ts": micros(at).parse::<f64>().unwrap_or(0.0),
                    "name": format!("fault: {description}"), "cat": "fault",
                }));
            }
            TraceKind::Start { .. }
            | TraceKind::Crash
            | TraceKind::Pause
            | TraceKind::Resume
            | TraceKind::Send { .. }
            | TraceKind::Deliver { .. } => {}
        }
    }
    for check in &timeline.checks {
        let name = format!("[{}] {}", check.checker, check.message);
        let ts = micros(check.at).parse::<f64>().unwrap_or(0.0);
        for track in [Some(checker_track), check.node.map(node_track)].into_iter().flatten() {
            instants.push(json!({
                "ph": "i", "s": "t", "pid": 1, "tid": track, "ts": ts, "name": name, "cat": "checker",
                "args": { "checker": check.checker, "node": check.node.map(|node| format!("n{node}")) },
            }));
        }
    }

    let mut events: Vec<Value> = Vec::new();
    let title = format!("{} seed {} ({} nodes)", report.scenario, report.seed, nodes);
    events.push(json!({ "ph": "M", "pid": 1, "name": "process_name", "args": { "name": title } }));
    let mut names: Vec<(u64, String)> = (0..nodes).map(|node| (node_track(node), format!("n{node}"))).collect();
    names.push((network_track, "network".to_owned()));
    names.push((checker_track, "checkers".to_owned()));
    for (track, name) in names {
        events.push(json!({ "ph": "M", "pid": 1, "tid": track, "name": "thread_name", "args": { "name": name } }));
        events.push(
            json!({ "ph": "M", "pid": 1, "tid": track, "name": "thread_sort_index", "args": { "sort_index": track } }),
        );
    }
    for (track, mut list) in slices {
        // Longer slices first at the same instant, so that shorter ones nest inside them; then clamp
        // each slice to end no later than the one it starts inside.
        list.sort_by_key(|slice| (slice.start, std::cmp::Reverse(slice.duration)));
        let mut open: Vec<u64> = Vec::new();
        for slice in list {
            while open.last().is_some_and(|end| *end <= slice.start) {
                open.pop();
            }
            let mut end = slice.start + slice.duration;
            if let Some(parent_end) = open.last() {
                end = end.min(*parent_end);
            }
            open.push(end);
            let mut event = slice.fields;
            event.insert("ph".into(), json!("X"));
            event.insert("pid".into(), json!(1));
            event.insert("tid".into(), json!(track));
            event.insert("ts".into(), json!(micros(slice.start).parse::<f64>().unwrap_or(0.0)));
            event.insert("dur".into(), json!(micros(end - slice.start).parse::<f64>().unwrap_or(0.0)));
            events.push(Value::Object(event));
        }
    }
    events.extend(instants);
    let document = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "scenario": report.scenario,
            "seed": report.seed,
            "nodes": nodes,
            "outcome": report.outcome.failure_kind().map_or("pass", crate::FailureKind::name),
            "trace_hash": report.trace_hash.as_ref().map(hash_to_hex),
            "plan": report.plan.to_string(),
        },
    });
    let mut text = document.to_string();
    text.push('\n');
    text
}

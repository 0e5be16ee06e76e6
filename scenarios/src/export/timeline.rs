//! A run's trace as a space-time model: messages matched from send to delivery (or loss), node
//! lifetimes (crashed and paused spans), partitions, faults and checker events.

use crate::report::RunReport;
use pangea_sim::kernel::CLIENT;
use pangea_sim::{TraceKind, TraceRecord};
use std::collections::{BTreeMap, VecDeque};

/// One message from send to its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// When it was sent, in nanoseconds.
    pub sent_at: u64,
    /// Encoded size.
    pub bytes: u32,
    /// Digest of the encoded bytes.
    pub digest: u64,
    /// When it was delivered, if it was.
    pub delivered_at: Option<u64>,
    /// True for the second delivery of a duplicated message.
    pub duplicate: bool,
    /// When and why it was lost, if it was.
    pub dropped: Option<(u64, &'static str)>,
}

/// A stretch of a node's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The node.
    pub node: u32,
    /// `up`, `crashed` or `paused`.
    pub kind: &'static str,
    /// Start, in nanoseconds.
    pub start: u64,
    /// End, in nanoseconds.
    pub end: u64,
    /// For `up`: which start of the node this is.
    pub incarnation: u64,
}

/// A partition, from its start to its heal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionSpan {
    /// Start, in nanoseconds.
    pub start: u64,
    /// End, in nanoseconds.
    pub end: u64,
    /// The partition as the plan prints it.
    pub description: String,
}

/// A moment worth marking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// When, in nanoseconds.
    pub at: u64,
    /// The node, if one.
    pub node: Option<u32>,
    /// What, for a person.
    pub label: String,
}

/// A checker's finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckMark {
    /// When, in nanoseconds.
    pub at: u64,
    /// The node, if one.
    pub node: Option<u32>,
    /// The checker.
    pub checker: String,
    /// What it saw.
    pub message: String,
}

/// The space-time model of one run.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Nodes.
    pub nodes: u32,
    /// When the run ended, in nanoseconds.
    pub end: u64,
    /// When the safety phase ended, in nanoseconds.
    pub heal_at: u64,
    /// Every node-to-node message.
    pub messages: Vec<Message>,
    /// Node lifetimes.
    pub spans: Vec<Span>,
    /// Partitions.
    pub partitions: Vec<PartitionSpan>,
    /// Faults applied.
    pub faults: Vec<Mark>,
    /// Events the nodes recorded.
    pub node_events: Vec<Mark>,
    /// Client requests, replies and lost requests.
    pub client_events: Vec<Mark>,
    /// Checker violations.
    pub checks: Vec<CheckMark>,
}

impl Timeline {
    /// Builds the model from a report and its records.
    #[must_use]
    pub fn build(report: &RunReport, records: &[TraceRecord]) -> Timeline {
        let end = records.iter().map(|record| record.at.as_nanos()).max().unwrap_or(0).max(report.ended_at.as_nanos());
        let mut timeline = Timeline {
            nodes: report.nodes,
            end,
            heal_at: report.plan.heal_at_ms.saturating_mul(1_000_000),
            ..Timeline::default()
        };
        // Messages not yet delivered or lost, per directed link, oldest first.
        let mut pending: BTreeMap<(u32, u32), VecDeque<usize>> = BTreeMap::new();
        // The last delivered message per (from, to, digest), for duplicates.
        let mut delivered: BTreeMap<(u32, u32, u64), usize> = BTreeMap::new();
        // Open lifetime spans per node: (kind, start, incarnation).
        let mut up: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        let mut down: BTreeMap<u32, u64> = BTreeMap::new();
        let mut paused: BTreeMap<u32, u64> = BTreeMap::new();
        let mut partition: Option<(u64, String)> = None;
        for record in records {
            let at = record.at.as_nanos();
            let node = record.node;
            match &record.kind {
                TraceKind::Send { to, digest, bytes } => {
                    let from = node.unwrap_or(0);
                    timeline.messages.push(Message {
                        from,
                        to: *to,
                        sent_at: at,
                        bytes: *bytes,
                        digest: *digest,
                        delivered_at: None,
                        duplicate: false,
                        dropped: None,
                    });
                    pending.entry((from, *to)).or_default().push_back(timeline.messages.len() - 1);
                }
                TraceKind::Deliver { from, digest } => {
                    let to = node.unwrap_or(0);
                    let queue = pending.entry((*from, to)).or_default();
                    if let Some(position) = queue.iter().position(|index| timeline.messages[*index].digest == *digest) {
                        let index = queue.remove(position).expect("position is in range");
                        timeline.messages[index].delivered_at = Some(at);
                        delivered.insert((*from, to, *digest), index);
                    } else if let Some(&original) = delivered.get(&(*from, to, *digest)) {
                        let mut copy = timeline.messages[original].clone();
                        copy.delivered_at = Some(at);
                        copy.duplicate = true;
                        timeline.messages.push(copy);
                    }
                }
                TraceKind::Drop { from, to, reason } => {
                    if *from == CLIENT {
                        timeline.client_events.push(Mark {
                            at,
                            node: Some(*to),
                            label: format!("client request lost ({reason})"),
                        });
                        continue;
                    }
                    let queue = pending.entry((*from, *to)).or_default();
                    // Lost on the way out: the message just sent. Lost on arrival: the oldest in flight.
                    let index = if node == Some(*from) { queue.pop_back() } else { queue.pop_front() };
                    if let Some(index) = index {
                        timeline.messages[index].dropped = Some((at, reason));
                    }
                }
                TraceKind::Start { incarnation } => {
                    let node = node.unwrap_or(0);
                    if let Some(start) = down.remove(&node) {
                        timeline.spans.push(Span { node, kind: "crashed", start, end: at, incarnation: 0 });
                    }
                    up.insert(node, (at, *incarnation));
                }
                TraceKind::Crash => {
                    let node = node.unwrap_or(0);
                    if let Some(start) = paused.remove(&node) {
                        timeline.spans.push(Span { node, kind: "paused", start, end: at, incarnation: 0 });
                    }
                    if let Some((start, incarnation)) = up.remove(&node) {
                        timeline.spans.push(Span { node, kind: "up", start, end: at, incarnation });
                    }
                    down.insert(node, at);
                }
                TraceKind::Pause => {
                    paused.insert(node.unwrap_or(0), at);
                }
                TraceKind::Resume => {
                    let node = node.unwrap_or(0);
                    if let Some(start) = paused.remove(&node) {
                        timeline.spans.push(Span { node, kind: "paused", start, end: at, incarnation: 0 });
                    }
                }
                TraceKind::Fault { description } => {
                    if node.is_none() {
                        let ends = description.starts_with("heal") || description.starts_with("partition");
                        if ends && let Some((start, what)) = partition.take() {
                            timeline.partitions.push(PartitionSpan { start, end: at, description: what });
                        }
                        if description.starts_with("partition") {
                            partition = Some((at, description.clone()));
                        }
                    }
                    timeline.faults.push(Mark { at, node, label: description.clone() });
                }
                TraceKind::Node { event, detail } => {
                    timeline.node_events.push(Mark { at, node, label: format!("{event}: {detail}") });
                }
                TraceKind::Client { request, .. } => {
                    timeline.client_events.push(Mark { at, node, label: format!("client request #{request}") });
                }
                TraceKind::Reply { request, .. } => {
                    timeline.client_events.push(Mark { at, node, label: format!("reply #{request}") });
                }
                TraceKind::Timer { .. } => {}
            }
        }
        for (node, (start, incarnation)) in up {
            timeline.spans.push(Span { node, kind: "up", start, end, incarnation });
        }
        for (node, start) in down {
            timeline.spans.push(Span { node, kind: "crashed", start, end, incarnation: 0 });
        }
        for (node, start) in paused {
            timeline.spans.push(Span { node, kind: "paused", start, end, incarnation: 0 });
        }
        if let Some((start, description)) = partition {
            timeline.partitions.push(PartitionSpan { start, end, description });
        }
        timeline.spans.sort_by_key(|span| (span.node, span.start));
        if let crate::report::Outcome::Fail { violations, .. } = &report.outcome {
            timeline.checks = violations
                .iter()
                .map(|violation| CheckMark {
                    at: violation.at.as_nanos(),
                    node: violation.node,
                    checker: violation.checker.to_owned(),
                    message: violation.message.clone(),
                })
                .collect();
        }
        timeline
    }
}

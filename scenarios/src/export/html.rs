//! A self-contained HTML page with a space-time diagram of the run: the data is embedded as JSON and
//! drawn on a canvas by a small script in the page (`viewer.html`); nothing is fetched.

use super::timeline::Timeline;
use crate::replay::hash_to_hex;
use crate::report::RunReport;
use serde_json::json;

const VIEWER: &str = include_str!("viewer.html");

pub(super) fn render(report: &RunReport, timeline: &Timeline) -> String {
    let signed = |node: Option<u32>| node.map_or(-1, i64::from);
    let messages: Vec<_> = timeline
        .messages
        .iter()
        .map(|message| {
            let (dropped_at, reason) = message.dropped.map_or((-1, ""), |(at, reason)| (at as i64, reason));
            json!([
                message.sent_at,
                message.from,
                message.to,
                message.delivered_at.map_or(-1, |at| at as i64),
                dropped_at,
                reason,
                message.bytes,
                message.duplicate
            ])
        })
        .collect();
    let spans: Vec<_> = timeline
        .spans
        .iter()
        .filter(|span| span.kind != "up")
        .map(|span| json!([span.node, span.kind, span.start, span.end]))
        .collect();
    let partitions: Vec<_> = timeline
        .partitions
        .iter()
        .map(|partition| json!([partition.start, partition.end, partition.description]))
        .collect();
    let marks = |list: &[super::timeline::Mark]| -> Vec<serde_json::Value> {
        list.iter().map(|mark| json!([mark.at, signed(mark.node), mark.label])).collect()
    };
    let checks: Vec<_> = timeline
        .checks
        .iter()
        .map(|check| json!([check.at, signed(check.node), check.checker, check.message]))
        .collect();
    // The first violation's cited operations, grouped by key in order of appearance.
    let mut evidence: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    let cited = report.first_violation().map_or(&[][..], |violation| &violation.involved.operations[..]);
    for operation in cited {
        let row = json!([
            operation.client,
            operation.index,
            operation.what,
            operation.invoked_at.as_nanos(),
            operation.completed_at.map_or(-1, |at| at.as_nanos() as i64),
            operation.culprit
        ]);
        match evidence.iter_mut().find(|(key, _)| *key == operation.key) {
            Some((_, rows)) => rows.push(row),
            None => evidence.push((operation.key.clone(), vec![row])),
        }
    }
    let evidence: Vec<_> =
        evidence.into_iter().map(|(key, operations)| json!({ "key": key, "operations": operations })).collect();
    let data = json!({
        "title": format!("{} seed {}", report.scenario, report.seed),
        "outcome": report.outcome.failure_kind().map_or("pass", crate::FailureKind::name),
        "hash": report.trace_hash.as_ref().map(hash_to_hex),
        "nodes": timeline.nodes,
        "end": timeline.end,
        "heal": timeline.heal_at,
        "messages": messages,
        "spans": spans,
        "partitions": partitions,
        "faults": marks(&timeline.faults),
        "events": marks(&timeline.node_events),
        "clients": marks(&timeline.client_events),
        "checks": checks,
        "evidence": evidence,
        "report": report.render(),
    });
    // `</` cannot appear inside the script element's JSON.
    let data = data.to_string().replace("</", "<\\/");
    VIEWER.replacen("/*DATA*/null", &data, 1)
}

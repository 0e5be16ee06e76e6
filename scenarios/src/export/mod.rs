//! Trace export: a run's trace as a file for a person or a tool.
//!
//! - [`TraceFormat::Chrome`]: the Trace Event Format that Perfetto (ui.perfetto.dev) and
//!   chrome://tracing load: one track per node (its lifetimes, the inputs it handled, what it sent),
//!   messages as flow arrows from send to delivery, faults as instants, partitions on a network
//!   track, checker violations as global instants.
//! - [`TraceFormat::Html`]: one self-contained page (no network access needed) with a space-time
//!   diagram of nodes, messages, faults and checker events; zoom with the wheel, drag to pan, hover
//!   for details.
//! - [`TraceFormat::Jsonl`]: one JSON object per line: the run, then each trace record, then each
//!   violation, for `jq` and scripts.

mod chrome;
mod html;
mod jsonl;
pub mod timeline;

use crate::report::RunReport;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Why a trace cannot be exported.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExportError {
    /// The run kept no trace records (run it with `keep_trace`).
    #[error("the run kept no trace records (run it with keep_trace)")]
    NoTrace,
    /// An unknown format name.
    #[error("unknown trace format '{0}' (known: chrome, html, jsonl)")]
    UnknownFormat(String),
}

/// A trace file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// Chrome / Perfetto Trace Event Format (JSON).
    Chrome,
    /// A self-contained HTML page with a space-time diagram.
    Html,
    /// JSON lines.
    Jsonl,
}

impl TraceFormat {
    /// The usual file extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            TraceFormat::Chrome => "trace.json",
            TraceFormat::Html => "html",
            TraceFormat::Jsonl => "jsonl",
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceFormat::Chrome => "chrome",
            TraceFormat::Html => "html",
            TraceFormat::Jsonl => "jsonl",
        })
    }
}

impl FromStr for TraceFormat {
    type Err = ExportError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "chrome" | "perfetto" => Ok(TraceFormat::Chrome),
            "html" => Ok(TraceFormat::Html),
            "jsonl" => Ok(TraceFormat::Jsonl),
            _ => Err(ExportError::UnknownFormat(text.to_owned())),
        }
    }
}

/// `report`'s trace in `format`.
///
/// # Errors
/// The report kept no trace records.
pub fn export(report: &RunReport, format: TraceFormat) -> Result<String, ExportError> {
    let records = report.trace.as_deref().ok_or(ExportError::NoTrace)?;
    let timeline = timeline::Timeline::build(report, records);
    Ok(match format {
        TraceFormat::Chrome => chrome::render(report, records, &timeline),
        TraceFormat::Html => html::render(report, &timeline),
        TraceFormat::Jsonl => jsonl::render(report, records),
    })
}

/// Nanoseconds as Trace Event Format microseconds, exactly (`1234.567`).
fn micros(nanos: u64) -> String {
    format!("{}.{:03}", nanos / 1_000, nanos % 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RunOptions;
    use crate::sweep::run_guarded;
    use pangea_sim::{Fault, FaultPlan, Partition, TimedFault};

    fn small_report() -> RunReport {
        let mut plan = FaultPlan::none(6_000);
        plan.network.drop_ppm = 100_000;
        plan.events = vec![
            TimedFault { at_ms: 500, fault: Fault::Partition { partition: Partition::Isolate { node: 2 } } },
            TimedFault { at_ms: 1_500, fault: Fault::Heal },
            TimedFault { at_ms: 2_000, fault: Fault::Crash { node: 1 } },
            TimedFault { at_ms: 2_600, fault: Fault::Restart { node: 1 } },
            TimedFault { at_ms: 3_000, fault: Fault::Pause { node: 0 } },
            TimedFault { at_ms: 3_300, fault: Fault::Resume { node: 0 } },
        ];
        let options = RunOptions { nodes: Some(3), plan: Some(plan), keep_trace: true, ..RunOptions::seed(5) };
        run_guarded(crate::find("health").unwrap(), &options).unwrap()
    }

    #[test]
    fn every_format_exports_and_parses() {
        let report = small_report();
        let records = report.trace.as_ref().unwrap();

        let chrome: serde_json::Value = serde_json::from_str(&export(&report, TraceFormat::Chrome).unwrap()).unwrap();
        let events = chrome["traceEvents"].as_array().unwrap();
        let count = |phase: &str| events.iter().filter(|event| event["ph"] == phase).count();
        assert!(count("X") > 100 && count("M") >= 4 && count("i") >= 6, "{}", events.len());
        let flows_out = events.iter().filter(|event| event["flow_out"] == true).count();
        let flows_in = events.iter().filter(|event| event["flow_in"] == true).count();
        assert!(flows_in > 20 && flows_in <= flows_out, "{flows_in} in, {flows_out} out");
        assert!(events.iter().any(|event| event["name"] == "crashed"), "a crashed span");
        assert!(events.iter().any(|event| event["name"].as_str().is_some_and(|name| name.starts_with("partition"))));

        let jsonl = export(&report, TraceFormat::Jsonl).unwrap();
        let lines: Vec<serde_json::Value> = jsonl.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines[0]["type"], "run");
        assert_eq!(lines.iter().filter(|line| line["type"] == "record").count(), records.len());

        let html = export(&report, TraceFormat::Html).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<canvas") && !html.contains("/*DATA*/"));
        // Self-contained: no address but the SVG namespace's name, which is never fetched.
        let addresses = html.replace("\"http://www.w3.org/2000/svg\"", "");
        assert!(!addresses.contains("http://") && !addresses.contains("https://"), "self-contained");

        let report = RunReport { trace: None, ..report };
        assert_eq!(export(&report, TraceFormat::Html), Err(ExportError::NoTrace));
    }

    #[test]
    fn the_html_page_carries_the_evidence_per_key_with_its_culprit() {
        use crate::report::{CitedOperation, FailureKind, Involved, Outcome, Violation};
        use pangea_core::Instant;
        let cited = |index: usize, client: u64, key: &str, culprit: bool| CitedOperation {
            index,
            client,
            key: key.to_owned(),
            what: format!("op {index}"),
            invoked_at: Instant::from_nanos(index as u64 * 1_000),
            completed_at: (index != 2).then(|| Instant::from_nanos(index as u64 * 1_000 + 500)),
            culprit,
        };
        let involved = Involved::of_operations(vec![
            cited(1, 0, "\"k1\"", false),
            cited(2, 3, "\"k0\"", false),
            cited(3, 0, "\"k1\"", true),
        ]);
        assert_eq!(
            (involved.clients.clone(), involved.keys.clone()),
            (vec![0, 3], vec!["\"k0\"".into(), "\"k1\"".into()])
        );
        let violation = Violation {
            involved,
            checker: "linearizability",
            kind: FailureKind::Correctness,
            at: Instant::from_nanos(3_500),
            node: None,
            message: "not linearizable".into(),
        };
        let report = RunReport { outcome: Outcome::from_violations(vec![violation]), ..small_report() };
        let html = export(&report, TraceFormat::Html).unwrap();
        let data = html.split("const DATA = ").nth(1).and_then(|rest| rest.split(";\n").next()).unwrap();
        let data: serde_json::Value = serde_json::from_str(data).unwrap();
        let keys: Vec<&str> =
            data["evidence"].as_array().unwrap().iter().map(|key| key["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["\"k1\"", "\"k0\""], "keys in order of their first operation");
        let k1 = &data["evidence"][0]["operations"];
        assert_eq!(k1[1], serde_json::json!([0, 3, "op 3", 3_000, 3_500, true]), "the culprit");
        assert_eq!(data["evidence"][1]["operations"][0][4], -1, "no answer");
        // A passing run has no evidence to draw.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(
                export(&small_report(), TraceFormat::Html)
                    .unwrap()
                    .split("const DATA = ")
                    .nth(1)
                    .unwrap()
                    .split(";\n")
                    .next()
                    .unwrap()
            )
            .unwrap()["evidence"],
            serde_json::json!([])
        );
    }

    #[test]
    fn sends_are_matched_to_their_deliveries() {
        let report = small_report();
        let timeline = timeline::Timeline::build(&report, report.trace.as_deref().unwrap());
        let delivered = timeline.messages.iter().filter(|message| message.delivered_at.is_some()).count() as u64;
        assert_eq!(delivered, report.stats.delivered);
        assert!(timeline.messages.iter().any(|message| message.dropped.is_some()));
        for message in &timeline.messages {
            if let Some(at) = message.delivered_at {
                assert!(at >= message.sent_at);
            }
        }
        assert_eq!(timeline.spans.iter().filter(|span| span.kind == "crashed").count(), 1);
        assert_eq!(timeline.partitions.len(), 1);
    }
}

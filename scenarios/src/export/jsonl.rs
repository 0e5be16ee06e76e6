//! JSON lines: the run, each trace record, each violation.

use crate::replay::hash_to_hex;
use crate::report::RunReport;
use pangea_sim::TraceRecord;
use serde_json::{Value, json};

pub(super) fn render(report: &RunReport, records: &[TraceRecord]) -> String {
    let mut out = String::new();
    let mut line = |value: Value| {
        out.push_str(&value.to_string());
        out.push('\n');
    };
    line(json!({
        "type": "run",
        "scenario": report.scenario,
        "seed": report.seed,
        "nodes": report.nodes,
        "planted": report.planted,
        "outcome": report.outcome.failure_kind().map_or("pass", crate::FailureKind::name),
        "trace_hash": report.trace_hash.as_ref().map(hash_to_hex),
        "trace_records": report.trace_len,
        "plan": report.plan,
    }));
    for record in records {
        let mut value = json!({ "type": "record", "at_ns": record.at.as_nanos(), "node": record.node });
        if let (Value::Object(fields), Ok(Value::Object(kind))) = (&mut value, serde_json::to_value(&record.kind)) {
            fields.extend(kind);
        }
        line(value);
    }
    if let crate::report::Outcome::Fail { violations, .. } = &report.outcome {
        for violation in violations {
            line(json!({
                "type": "violation",
                "at_ns": violation.at.as_nanos(),
                "node": violation.node,
                "checker": violation.checker,
                "kind": violation.kind,
                "message": violation.message,
            }));
        }
    }
    out
}

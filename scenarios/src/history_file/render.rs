//! How a [`CheckReport`] prints: text for a person ([`render_text`]) and JSON for a program
//! ([`render_json`]). Values print quoted, long ones cut short.

use super::operation::Call;
use super::{CheckReport, Ending, Evidence, Format, History, Operation, Output, Verdict};
use serde_json::json;
use std::fmt::Write as _;

/// Characters of a value that print whole; a longer one prints its beginning and its length.
const SHOWN_CHARS_MAX: usize = 48;
/// Keys named after "other keys not linearizable" before the rest are counted.
const KEYS_SHOWN_MAX: usize = 20;

/// The report as text: the verdict, what the history holds, and for a history that is not
/// linearizable the operations that cannot be ordered. Ends with a newline.
#[must_use]
pub fn render_text(history: &History, report: &CheckReport) -> String {
    let mut text = String::new();
    let verdict = match report.verdict {
        Verdict::Linearizable => "linearizable",
        Verdict::NotLinearizable => "not linearizable",
        Verdict::Unknown => "unknown (the search ran out of budget)",
    };
    let counts = &report.counts;
    let calls: Vec<String> = counts.calls.iter().map(|(name, count)| format!("{count} {name}")).collect();
    let _ = writeln!(text, "verdict: {verdict}");
    let _ = write!(
        text,
        "history: {} operations on {} ({}; {} ok, {} failed, {} unknown) in {} lines of {}",
        counts.operations,
        plural(counts.keys, "key"),
        calls.join(", "),
        counts.ok,
        counts.fail,
        counts.info,
        history.lines,
        report.format,
    );
    if history.skipped > 0 {
        let _ = write!(text, " ({} skipped: the nemesis's or other loggers')", plural(history.skipped, "event"));
    }
    let _ = writeln!(text, "\nmodel: {}, at most {} configurations per key", report.model, report.states_max);
    if let Some(evidence) = &report.evidence {
        write_evidence(&mut text, history, evidence);
        let others: Vec<&Option<String>> =
            report.not_linearizable_keys.iter().filter(|&key| *key != evidence.key).collect();
        if !others.is_empty() {
            let _ = write!(text, "other keys not linearizable:");
            for key in others.iter().take(KEYS_SHOWN_MAX) {
                let _ = write!(text, " {}", key_name(key.as_deref()));
            }
            if others.len() > KEYS_SHOWN_MAX {
                let _ = write!(text, " and {} more", others.len() - KEYS_SHOWN_MAX);
            }
            text.push('\n');
        }
    }
    if !report.unknown_keys.is_empty() {
        let _ = write!(text, "the search ran out of budget on");
        for key in report.unknown_keys.iter().take(KEYS_SHOWN_MAX) {
            let _ = write!(text, " {}", key_name(key.as_deref()));
        }
        if report.unknown_keys.len() > KEYS_SHOWN_MAX {
            let _ = write!(text, " and {} more", report.unknown_keys.len() - KEYS_SHOWN_MAX);
        }
        let _ = writeln!(text, " (--states-max raises the budget)");
    }
    text
}

/// The evidence on one key, as text.
fn write_evidence(text: &mut String, history: &History, evidence: &Evidence) {
    let count = evidence.operations.len();
    let (subject, outcomes) = if count == 1 {
        ("this operation".to_owned(), "its outcome")
    } else {
        (format!("these {count} operations"), "their outcomes")
    };
    let _ = writeln!(
        text,
        "{} is not linearizable: {subject} cannot be ordered consistently with {outcomes} and real time, even if \
         every other operation on it that may have taken effect did so at any time after its invocation, or never:",
        key_name(evidence.key.as_deref()),
    );
    for &position in &evidence.operations {
        let Some(operation) = history.operations.get(position) else { continue };
        let _ = write!(text, "  {}", operation_text(history.format, operation));
        if position == evidence.culprit {
            text.push_str("  <- culprit");
        }
        text.push('\n');
    }
    let culprit_line = history.operations.get(evidence.culprit).map_or(0, |operation| operation.line);
    let _ = write!(
        text,
        "its history ({} operations) {} the operation of line {culprit_line} completes ({} operations invoked by then)",
        evidence.key_operations,
        if evidence.earliest { "stops being linearizable when" } else { "is not linearizable by the time" },
        evidence.prefix_operations,
    );
    if !evidence.earliest {
        text.push_str("; the search ran out of budget before it was known whether it went wrong earlier");
    }
    if !evidence.minimal {
        text.push_str("; the search ran out of budget while shrinking, so some of these operations may not be needed");
    }
    text.push('\n');
}

/// One operation on a line: where it is, who called what, and how it ended.
fn operation_text(format: Format, operation: &Operation) -> String {
    let completion_line = match operation.ending {
        Ending::Ok { line, .. } | Ending::Fail { line } | Ending::Info { line: Some(line) } => Some(line),
        Ending::Info { line: None } => None,
    };
    let lines = match completion_line {
        Some(line) if line != operation.line => format!("lines {}-{line}", operation.line),
        _ => format!("line {}", operation.line),
    };
    let key = operation.key.as_deref().map(|key| format!(" key {}", shown(key))).unwrap_or_default();
    let call = match &operation.call {
        Call::Read => "read".to_owned(),
        Call::Write { value } => format!("write {}", shown(value)),
        Call::Append { value } => format!("append {}", shown(value)),
        Call::Remove => "remove".to_owned(),
        Call::Cas { expected, new } => format!("cas {} to {}", or_nil(expected.as_deref()), or_nil(new.as_deref())),
    };
    let result = match &operation.ending {
        Ending::Ok { output: Output::Value(value), .. } => or_nil(value.as_deref()),
        Ending::Ok { output: Output::Done, .. } => "ok".to_owned(),
        Ending::Ok { output: Output::Swapped(true), .. } => "swapped".to_owned(),
        Ending::Ok { output: Output::Swapped(false), .. } => "not swapped".to_owned(),
        Ending::Fail { .. } => "failed".to_owned(),
        Ending::Info { line: Some(_) } => "unknown (info)".to_owned(),
        Ending::Info { line: None } => "unknown (no completion)".to_owned(),
    };
    let mut text = format!("{lines}  process {}{key}: {call} -> {result}", operation.process);
    if format == Format::Jsonl {
        let _ = write!(text, "  [invoke_ns {}", operation.invoked_at);
        if let Ending::Ok { at, .. } = operation.ending {
            let _ = write!(text, ", complete_ns {at}");
        }
        text.push(']');
    }
    text
}

/// The report as one JSON object (pretty-printed, with a final newline): the verdict, counts, keys,
/// and the evidence with each cited operation whole.
#[must_use]
pub fn render_json(history: &History, report: &CheckReport) -> String {
    let evidence = report.evidence.as_ref().map(|evidence| {
        let operations: Vec<serde_json::Value> = evidence
            .operations
            .iter()
            .filter_map(|&position| {
                let operation = history.operations.get(position)?;
                let mut value = serde_json::to_value(operation).ok()?;
                if let Some(object) = value.as_object_mut() {
                    object.insert("position".to_owned(), json!(position));
                    object.insert("culprit".to_owned(), json!(position == evidence.culprit));
                }
                Some(value)
            })
            .collect();
        json!({
            "key": evidence.key,
            "operations": operations,
            "culprit_line": history.operations.get(evidence.culprit).map(|operation| operation.line),
            "minimal": evidence.minimal,
            "earliest": evidence.earliest,
            "key_operations": evidence.key_operations,
            "prefix_operations": evidence.prefix_operations,
        })
    });
    let value = json!({
        "verdict": report.verdict,
        "model": report.model,
        "format": report.format,
        "states_max": report.states_max,
        "lines": history.lines,
        "skipped": history.skipped,
        "counts": report.counts,
        "not_linearizable_keys": report.not_linearizable_keys,
        "unknown_keys": report.unknown_keys,
        "evidence": evidence,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// A key for a person: `key "k1"`, or `the register` for a history without keys.
fn key_name(key: Option<&str>) -> String {
    match key {
        Some(key) => format!("key {}", shown(key)),
        None => "the register".to_owned(),
    }
}

/// A value quoted, or `nil` for absence.
fn or_nil(value: Option<&str>) -> String {
    value.map_or_else(|| "nil".to_owned(), shown)
}

/// A value quoted, cut short past [`SHOWN_CHARS_MAX`] characters.
fn shown(value: &str) -> String {
    if value.chars().count() <= SHOWN_CHARS_MAX {
        return format!("{value:?}");
    }
    let start: String = value.chars().take(SHOWN_CHARS_MAX / 2).collect();
    format!("{start:?}…({} bytes)", value.len())
}

/// `1 key`, `2 keys`.
fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

//! The logs porcupine's tests check (github.com/anishathalye/porcupine, `test_data/`):
//!
//! - key/value logs (`test_data/kv/c01-ok.txt`, ...): a Jepsen map a line, with `:key`, maybe after
//!   Go's log prefix: `INFO: 2018/05/23 10:55:30 {:process 0, :type :invoke, :f :get, :key "1",
//!   :value nil}`; functions `:get`, `:put` and `:append`;
//! - Jepsen's etcd logs (`test_data/jepsen/etcd_000.log`, ...): `INFO  jepsen.util - 11\t:invoke\t:read\tnil`
//!   (`\t` a tab): the process, type, function and value; the register's values are integers:
//!   `:write 3`, `:cas [1 4]`, `:ok :read nil`.
//!
//! Completions match invocations by process, in file order, as in [`super::edn`]. Unlike in EDN,
//! a `:fail :cas` here is a compare-and-set that found another value (etcd's answer "compare
//! failed"): the checker takes it, as porcupine's etcd model does, as completed without swapping,
//! not as an operation that did not take effect. Lines of other loggers and the nemesis's lines are
//! skipped; any other line is an error.

use super::Limits;
use super::edn::Edn;
use super::edn::{EventParts, Reader, event_from_parts, event_of};
use super::error::{EventProblem, HistoryFileError};
use super::operation::{EventType, Function, Operation, Pairing};

/// The marker of a Jepsen operation line in a log: `LEVEL  jepsen.util - PAYLOAD`.
const JEPSEN_UTIL: &str = " jepsen.util - ";

/// What a line of a porcupine log holds.
enum LineKind<'a> {
    /// A Jepsen map (key/value logs), with what precedes it cut off.
    Map(&'a str),
    /// The payload of a `jepsen.util` line (etcd logs).
    Util(&'a str),
    /// Nothing to read: blank, or another logger's line.
    Skip,
}

/// Whether `line` looks like a line of porcupine's logs (for telling formats apart).
pub(crate) fn looks_like(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("INFO:") || (line.starts_with("INFO ") && line.contains(JEPSEN_UTIL))
}

/// The operations of a porcupine log, and how many lines were skipped.
pub(crate) fn parse(text: &str, limits: &Limits) -> Result<(Vec<Operation>, usize), HistoryFileError> {
    let mut pairing = Pairing::new(limits, true);
    let mut skipped = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let event = match kind_of(line, number)? {
            LineKind::Skip => None,
            LineKind::Map(map) => {
                let mut reader = Reader::new(map);
                let value = reader.value(1).map_err(|error| shift(error, number))?;
                ensure_ended(&mut reader, number)?;
                event_of(&value, number, limits)?
            }
            LineKind::Util(payload) => util_event(payload, number, limits)?,
        };
        match event {
            Some(event) => pairing.push(event)?,
            None if !line.trim().is_empty() => skipped += 1,
            None => {}
        }
    }
    Ok((pairing.finish(), skipped))
}

/// What `line` holds.
fn kind_of(line: &str, number: usize) -> Result<LineKind<'_>, HistoryFileError> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(LineKind::Skip);
    }
    if trimmed.starts_with('{') {
        return Ok(LineKind::Map(trimmed));
    }
    if let Some(rest) = trimmed.strip_prefix("INFO:") {
        // Go's log prefix: a date and a time, then the map.
        if let Some(brace) = rest.find('{')
            && rest[..brace].bytes().all(|byte| byte.is_ascii_digit() || b"/:. ".contains(&byte))
        {
            return Ok(LineKind::Map(&rest[brace..]));
        }
    }
    if let Some(at) = trimmed.find(" - ") {
        let (head, payload) = (&trimmed[..at], &trimmed[at + 3..]);
        let mut words = head.split_whitespace();
        if let (Some(level), Some(logger), None) = (words.next(), words.next(), words.next())
            && level.bytes().all(|byte| byte.is_ascii_uppercase())
        {
            return Ok(if logger == "jepsen.util" { LineKind::Util(payload) } else { LineKind::Skip });
        }
    }
    Err(HistoryFileError::Event { line: number, problem: EventProblem::NotALogLine })
}

/// The event of a `jepsen.util` payload (`PROCESS\t:TYPE\t:F\tVALUE`); `None` for the nemesis's
/// events and for payloads that are not operations.
fn util_event(
    payload: &str,
    number: usize,
    limits: &Limits,
) -> Result<Option<super::operation::Event>, HistoryFileError> {
    let mut reader = Reader::new(payload);
    // Only a payload that starts as an operation does (a process, then a known type) is one.
    let (Ok(process), Ok(Edn::Keyword(kind))) = (reader.value(1), reader.value(1)) else { return Ok(None) };
    let kind = match kind.as_str() {
        "invoke" => EventType::Invoke,
        "ok" => EventType::Ok,
        "fail" => EventType::Fail,
        "info" => EventType::Info,
        _ => return Ok(None),
    };
    let process = match process {
        Edn::Int(process) => u64::try_from(process).map_err(|_| HistoryFileError::Event {
            line: number,
            problem: EventProblem::Field { field: "the process", expected: "a number from 0" },
        })?,
        Edn::Keyword(_) => return Ok(None),
        _ => return Ok(None),
    };
    let function = reader.value(1).map_err(|error| shift(error, number))?;
    let function = match &function {
        Edn::Keyword(name) => Function::named(name),
        _ => None,
    }
    .ok_or_else(|| HistoryFileError::Event {
        line: number,
        problem: EventProblem::UnknownFunction(function.to_string()),
    })?;
    let value = match reader.next_is_end() {
        true => Edn::Nil,
        false => reader.value(1).map_err(|error| shift(error, number))?,
    };
    ensure_ended(&mut reader, number)?;
    let parts = EventParts { line: number, process, kind, function, key: None, value: Some(&value) };
    event_from_parts(parts, limits).map(Some)
}

/// An error if anything but blanks follows the value just read.
fn ensure_ended(reader: &mut Reader<'_>, number: usize) -> Result<(), HistoryFileError> {
    if reader.next_is_end() {
        Ok(())
    } else {
        Err(HistoryFileError::Event { line: number, problem: EventProblem::Trailing })
    }
}

/// An error of a reader over one line, moved to that line of the file.
fn shift(mut error: super::edn::EdnError, number: usize) -> HistoryFileError {
    error.line = number + error.line - 1;
    HistoryFileError::Edn(error)
}

#[cfg(test)]
#[path = "porcupine_tests.rs"]
mod tests;

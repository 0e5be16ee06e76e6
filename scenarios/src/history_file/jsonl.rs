//! Pangea's own history format: one JSON object a line, one line an operation.
//!
//! ```text
//! {"client":3,"key":"k1","f":"put","value":"v1","invoke_ns":1000,"complete_ns":2000,"type":"ok"}
//! {"client":4,"key":"k1","f":"get","invoke_ns":1500,"complete_ns":2500,"type":"ok","read":"v1"}
//! {"client":5,"key":"k1","f":"cas","value":"v2","expected":null,"invoke_ns":3000,"type":"info"}
//! ```
//!
//! `type` is `ok` (completed at `complete_ns`, which only `ok` has), `fail` (did not take effect) or
//! `info` (may or may not have). `value`, `expected` and `read` tell absence from `null`:
//!
//! - `value`: what `put` and `append` write, and the new value of a `cas` (`null`, or no field as
//!   older recorders wrote it: the cas removes the key); no field for `get` and `remove`.
//! - `expected`: only on `cas`, the value the key must hold (`null`: the key must be absent).
//! - `read`: only on an `ok` `get`, what it read (`null`: the key was absent).
//! - `succeeded`: only on an `ok` `cas`, whether it swapped.
//!
//! [`HistoryRecord`] is the line; the nemesis tool records its histories with it.

use super::Limits;
use super::error::HistoryFileError;
use super::operation::{Call, Ending, Operation, Output};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

/// One line of a Pangea history: an operation and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRecord {
    /// The client that invoked it.
    pub client: u64,
    /// The key it acted on.
    pub key: String,
    /// What it did.
    pub f: RecordFunction,
    /// The value written (`put`, `append`, `cas`); `Some(None)` is `null`, a cas that removes.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub value: Option<Option<String>>,
    /// A cas's expected value; `Some(None)` is `null`: the key must be absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub expected: Option<Option<String>>,
    /// When it was invoked, in nanoseconds from any fixed start.
    pub invoke_ns: u64,
    /// When it completed (`ok` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_ns: Option<u64>,
    /// How it ended.
    #[serde(rename = "type")]
    pub outcome: RecordType,
    /// What an `ok` get read; `Some(None)` is `null`: the key was absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub read: Option<Option<String>>,
    /// Whether an `ok` cas swapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
}

/// What a [`HistoryRecord`]'s operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordFunction {
    /// Set the key's value.
    Put,
    /// Read the key's value.
    Get,
    /// Set the key's value if it held the expected one.
    Cas,
    /// Remove the key.
    Remove,
    /// Add text to the end of the key's value.
    Append,
}

/// How a [`HistoryRecord`]'s operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    /// It completed, with its result.
    Ok,
    /// It did not take effect.
    Fail,
    /// It may or may not have taken effect.
    Info,
}

/// A line that is not a valid [`HistoryRecord`].
#[derive(Debug, Error)]
pub enum RecordError {
    /// Not JSON, or not the record's fields.
    #[error("not a history record: {0}")]
    Json(#[from] serde_json::Error),
    /// The fields contradict each other (a `read` on a put, a `complete_ns` on a failure, ...).
    #[error("{0}")]
    Inconsistent(&'static str),
}

/// Deserialises a field that is present: `null` is `Some(None)`, so that a missing field (the
/// default, `None`) and `null` differ.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

impl HistoryRecord {
    /// The record as one line of JSON, without the newline.
    #[must_use]
    pub fn to_line(&self) -> String {
        // A record holds only strings, numbers and booleans, so serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The record a line holds, checked for consistency ([`HistoryRecord::check`]).
    pub fn from_line(line: &str) -> Result<HistoryRecord, RecordError> {
        let record: HistoryRecord = serde_json::from_str(line)?;
        record.check()?;
        Ok(record)
    }

    /// Whether the fields agree with each other: each function has the fields it needs and no
    /// other, `complete_ns` comes with `ok` only and not before `invoke_ns`.
    pub fn check(&self) -> Result<(), RecordError> {
        let fail = |reason: &'static str| Err(RecordError::Inconsistent(reason));
        let ok = self.outcome == RecordType::Ok;
        match (ok, self.complete_ns) {
            (true, None) => return fail("an ok operation needs complete_ns"),
            (false, Some(_)) => return fail("only an ok operation has complete_ns"),
            (true, Some(complete_ns)) if complete_ns < self.invoke_ns => {
                return fail("complete_ns is before invoke_ns");
            }
            _ => {}
        }
        let (value, expected, read, succeeded) =
            (self.value.is_some(), self.expected.is_some(), self.read.is_some(), self.succeeded.is_some());
        match self.f {
            RecordFunction::Put | RecordFunction::Append if !matches!(self.value, Some(Some(_))) => {
                fail("put and append need a value")
            }
            RecordFunction::Get | RecordFunction::Remove if value => fail("get and remove have no value"),
            RecordFunction::Cas if !expected => fail("a cas needs expected (null: the key must be absent)"),
            RecordFunction::Put | RecordFunction::Get | RecordFunction::Remove | RecordFunction::Append if expected => {
                fail("only a cas has expected")
            }
            RecordFunction::Get if ok && !read => fail("an ok get needs read (null: the key was absent)"),
            _ if read && !(ok && self.f == RecordFunction::Get) => fail("only an ok get has read"),
            RecordFunction::Cas if ok && !succeeded => fail("an ok cas needs succeeded"),
            _ if succeeded && !(ok && self.f == RecordFunction::Cas) => fail("only an ok cas has succeeded"),
            _ => Ok(()),
        }
    }

    /// The operation the record describes, on line `line`.
    #[must_use]
    pub fn operation(&self, line: usize) -> Operation {
        let call = match self.f {
            RecordFunction::Put => Call::Write { value: self.value.clone().flatten().unwrap_or_default() },
            RecordFunction::Append => Call::Append { value: self.value.clone().flatten().unwrap_or_default() },
            RecordFunction::Get => Call::Read,
            RecordFunction::Remove => Call::Remove,
            RecordFunction::Cas => {
                Call::Cas { expected: self.expected.clone().flatten(), new: self.value.clone().flatten() }
            }
        };
        let ending = match (self.outcome, self.complete_ns) {
            (RecordType::Ok, Some(at)) => {
                let output = match self.f {
                    RecordFunction::Get => Output::Value(self.read.clone().flatten()),
                    RecordFunction::Cas => Output::Swapped(self.succeeded.unwrap_or(false)),
                    RecordFunction::Put | RecordFunction::Append | RecordFunction::Remove => Output::Done,
                };
                Ending::Ok { at, line, output }
            }
            (RecordType::Fail, _) => Ending::Fail { line },
            (RecordType::Ok | RecordType::Info, _) => Ending::Info { line: Some(line) },
        };
        Operation { process: self.client, key: Some(self.key.clone()), call, invoked_at: self.invoke_ns, line, ending }
    }

    /// The longest key or value the record holds, in bytes.
    fn longest_text(&self) -> usize {
        let text = |field: &Option<Option<String>>| field.as_ref().and_then(Option::as_ref).map_or(0, String::len);
        self.key.len().max(text(&self.value)).max(text(&self.expected)).max(text(&self.read))
    }
}

/// The operations of a JSONL history, in invocation order (blank lines are skipped).
pub(crate) fn parse(text: &str, limits: &Limits) -> Result<Vec<Operation>, HistoryFileError> {
    let mut operations = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if operations.len() >= limits.operations_max {
            return Err(HistoryFileError::TooManyOperations { limit: limits.operations_max });
        }
        let record =
            HistoryRecord::from_line(line).map_err(|problem| HistoryFileError::Record { line: number, problem })?;
        let longest = record.longest_text();
        if longest > limits.value_bytes_max {
            return Err(HistoryFileError::ValueTooLong { line: number, bytes: longest, limit: limits.value_bytes_max });
        }
        operations.push(record.operation(number));
    }
    // A stable sort: records invoked at the same nanosecond keep their order in the file.
    operations.sort_by_key(|operation| operation.invoked_at);
    Ok(operations)
}

#[cfg(test)]
#[path = "jsonl_tests.rs"]
mod tests;

//! Recorded histories from files, checked for linearizability: `pangea-sim check-history`.
//!
//! A history file records operations on a register or a key/value store as some tool saw them; it
//! is read in one of three formats — Jepsen's EDN ([`edn`]), the logs of porcupine's tests
//! ([`porcupine`]) or Pangea's own JSONL ([`jsonl`]), told apart by the first line that is not
//! blank ([`detect_format`]) — into [`Operation`]s. [`check_history`] checks them, key by key,
//! against one of the [`models`] with [`crate::model::check_model`], and explains a key that is not
//! linearizable with [`evidence`]: the operations that cannot be ordered.
//!
//! Reading never panics on any input: malformed input is an error that names its line, and every
//! size is bounded ([`Limits`]: [`FILE_BYTES_MAX`], [`LINE_BYTES_MAX`], [`VALUE_BYTES_MAX`],
//! [`OPERATIONS_MAX`]). The search is bounded too: past `states_max` configurations on a key the
//! verdict is [`Verdict::Unknown`], never a guess.

pub mod edn;
pub mod error;
pub mod evidence;
pub mod jsonl;
pub mod models;
pub mod operation;
pub mod porcupine;
mod render;

pub use error::{EventProblem, HistoryFileError};
pub use evidence::Evidence;
pub use jsonl::{HistoryRecord, RecordError, RecordFunction, RecordType};
pub use models::{ModelKind, UnknownModel};
pub use operation::{Call, Ending, Operation, Output};
pub use render::{render_json, render_text};

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Largest history file read, in bytes.
pub const FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Longest line, in bytes.
pub const LINE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Longest key or value, in bytes (Pangea's own value limit).
pub const VALUE_BYTES_MAX: usize = 1024 * 1024;
/// Most operations in a history.
pub const OPERATIONS_MAX: usize = 1_000_000;

/// The bounds a history file must stay within; [`Limits::default`] is the `*_MAX` constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, in bytes.
    pub file_bytes_max: u64,
    /// Longest line, in bytes.
    pub line_bytes_max: usize,
    /// Longest key or value, in bytes.
    pub value_bytes_max: usize,
    /// Most operations.
    pub operations_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            file_bytes_max: FILE_BYTES_MAX,
            line_bytes_max: LINE_BYTES_MAX,
            value_bytes_max: VALUE_BYTES_MAX,
            operations_max: OPERATIONS_MAX,
        }
    }
}

/// A history file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Jepsen's EDN: a map an event ([`edn`]).
    Edn,
    /// The logs of porcupine's tests ([`porcupine`]).
    Porcupine,
    /// Pangea's JSONL: a [`HistoryRecord`] a line ([`jsonl`]).
    Jsonl,
}

impl Format {
    /// The name the command line takes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Edn => "edn",
            Format::Porcupine => "porcupine",
            Format::Jsonl => "jsonl",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of `edn`, `porcupine` and `jsonl`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("unknown format '{0}' (known: edn, porcupine, jsonl)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Format, UnknownFormat> {
        match name {
            "edn" => Ok(Format::Edn),
            "porcupine" => Ok(Format::Porcupine),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err(UnknownFormat(name.to_owned())),
        }
    }
}

/// A history read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    /// The format it was read in.
    pub format: Format,
    /// Its operations, in invocation order.
    pub operations: Vec<Operation>,
    /// Lines in the file.
    pub lines: usize,
    /// Events or lines read and left out: the nemesis's, and other loggers' lines of a log.
    pub skipped: usize,
}

/// The format of `text`, told by its first line that is not blank: a log line of porcupine's tests
/// (`INFO: ...`, `INFO  jepsen.util - ...`), a JSON object (`{"...`), or EDN (`{:...`, `[`, `(`,
/// `;`, `#`).
pub fn detect_format(text: &str) -> Result<Format, HistoryFileError> {
    let Some((index, line)) = text.lines().enumerate().find(|(_, line)| !line.trim().is_empty()) else {
        return Err(HistoryFileError::Empty);
    };
    let trimmed = line.trim_start();
    if porcupine::looks_like(trimmed) {
        return Ok(Format::Porcupine);
    }
    if let Some(rest) = trimmed.strip_prefix('{') {
        return Ok(if rest.trim_start().starts_with('"') { Format::Jsonl } else { Format::Edn });
    }
    if trimmed.starts_with(['[', '(', ';', '#']) {
        return Ok(Format::Edn);
    }
    Err(HistoryFileError::UnknownFormat { line: index + 1, start: trimmed.chars().take(40).collect() })
}

/// Reads a whole history file's bytes, in `format` or, if `None`, the one [`detect_format`] tells.
pub fn parse_history(bytes: &[u8], format: Option<Format>, limits: &Limits) -> Result<History, HistoryFileError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limits.file_bytes_max {
        return Err(HistoryFileError::FileTooLarge { bytes: size, limit: limits.file_bytes_max });
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let line = bytes[..error.valid_up_to()].iter().filter(|&&byte| byte == b'\n').count() + 1;
        HistoryFileError::NotText { line }
    })?;
    for (index, line) in text.split('\n').enumerate() {
        if line.len() > limits.line_bytes_max {
            return Err(HistoryFileError::LineTooLong {
                line: index + 1,
                bytes: line.len(),
                limit: limits.line_bytes_max,
            });
        }
    }
    let format = match format {
        Some(format) => format,
        None => detect_format(text)?,
    };
    let (operations, skipped) = match format {
        Format::Edn => edn::parse(text, limits)?,
        Format::Porcupine => porcupine::parse(text, limits)?,
        Format::Jsonl => (jsonl::parse(text, limits)?, 0),
    };
    if operations.is_empty() {
        return Err(HistoryFileError::Empty);
    }
    Ok(History { format, operations, lines: text.lines().count(), skipped })
}

/// The verdict on a whole history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every key's history is linearizable.
    Linearizable,
    /// Some key's history is not.
    NotLinearizable,
    /// No key's history is known not to be, but the search ran out of budget on some.
    Unknown,
}

/// How many operations of each kind and ending a history holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Every operation.
    pub operations: usize,
    /// Operations that completed (`ok`).
    pub ok: usize,
    /// Operations that did not take effect (`fail`).
    pub fail: usize,
    /// Operations of unknown outcome (`info`, or no completion).
    pub info: usize,
    /// Operations by name (`read`, `write`, `cas`, `append`, `remove`).
    pub calls: BTreeMap<&'static str, usize>,
    /// Distinct keys (a single register counts as one).
    pub keys: usize,
}

impl Counts {
    /// The counts of `operations`.
    #[must_use]
    pub fn of(operations: &[Operation]) -> Counts {
        let mut counts = Counts { operations: operations.len(), ..Counts::default() };
        let mut keys = std::collections::BTreeSet::new();
        for operation in operations {
            match operation.ending {
                Ending::Ok { .. } => counts.ok += 1,
                Ending::Fail { .. } => counts.fail += 1,
                Ending::Info { .. } => counts.info += 1,
            }
            *counts.calls.entry(operation.call.name()).or_default() += 1;
            keys.insert(operation.key.as_deref());
        }
        counts.keys = keys.len();
        counts
    }
}

/// What [`check_history`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The verdict.
    pub verdict: Verdict,
    /// The model checked against.
    pub model: ModelKind,
    /// The format the history was read in.
    pub format: Format,
    /// Most configurations explored per key.
    pub states_max: usize,
    /// What the history holds.
    pub counts: Counts,
    /// Keys whose history is not linearizable (`None`: the single register).
    pub not_linearizable_keys: Vec<Option<String>>,
    /// Keys on which the search ran out of budget.
    pub unknown_keys: Vec<Option<String>>,
    /// Why the first key of `not_linearizable_keys` is not linearizable.
    pub evidence: Option<Evidence>,
}

/// Checks `history` against `model`, key by key, exploring at most `states_max` configurations per
/// key (and, to explain a key that is not linearizable, per check of its weakened histories). An
/// operation the model has no meaning for (an append on a register) is an error.
pub fn check_history(history: &History, model: ModelKind, states_max: usize) -> Result<CheckReport, HistoryFileError> {
    let mut keys: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    for (position, operation) in history.operations.iter().enumerate() {
        if !model.accepts(&operation.call) {
            return Err(HistoryFileError::Unsupported {
                line: operation.line,
                call: operation.call.name(),
                model,
                hint: model.hint(),
            });
        }
        keys.entry(operation.key.as_deref()).or_default().push(position);
    }
    let (mut not_linearizable_keys, mut unknown_keys) = (Vec::new(), Vec::new());
    let mut evidence = None;
    for (key, positions) in &keys {
        let ops: Vec<_> = positions.iter().map(|&position| models::model_op(&history.operations[position])).collect();
        match model.check(&ops, states_max) {
            crate::model::ModelVerdict::Linearizable { .. } => {}
            crate::model::ModelVerdict::NotLinearizable { .. } => {
                if evidence.is_none() {
                    let key = key.map(str::to_owned);
                    evidence = Some(evidence::explain(model, key, &history.operations, positions, states_max));
                }
                not_linearizable_keys.push(key.map(str::to_owned));
            }
            crate::model::ModelVerdict::Unknown { .. } => unknown_keys.push(key.map(str::to_owned)),
        }
    }
    let verdict = if !not_linearizable_keys.is_empty() {
        Verdict::NotLinearizable
    } else if !unknown_keys.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Linearizable
    };
    Ok(CheckReport {
        verdict,
        model,
        format: history.format,
        states_max,
        counts: Counts::of(&history.operations),
        not_linearizable_keys,
        unknown_keys,
        evidence,
    })
}

#[cfg(test)]
mod tests;

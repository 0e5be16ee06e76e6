//! Replay files: a small, versioned JSON file that pins one run exactly — scenario, seed, node
//! count, planted bug, workload knobs and the full fault plan — with the trace hash the run left and
//! the failure it showed. `pangea-sim replay FILE` runs it again and checks both; `shrink` writes
//! one for the minimal run it finds.
//!
//! ```json
//! { "format": "pangea-replay", "version": 1, "scenario": "health", "seed": 98, "nodes": 3,
//!   "planted": "never-dead", "clients": null, "operations": null, "plan": { ... },
//!   "trace_hash": "10d1c61a...", "trace_records": 812, "events": 455,
//!   "failure": { "kind": "correctness", "checker": "completeness", "at_ns": 9900000000, "node": 0,
//!                "message": "..." } }
//! ```

use crate::registry::{Registry, Scenario, builtin_shared};
use crate::report::{FailureKind, RunOptions, RunReport};
use crate::sweep::run_guarded;
use pangea_sim::{Choices, FaultPlan, TraceHash};
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// The `format` every replay file names.
pub const REPLAY_FORMAT: &str = "pangea-replay";
/// The replay file version this build writes. Version 2 added [`ReplayFile::choices`]; this build
/// reads versions 1 and 2.
pub const REPLAY_VERSION: u32 = 2;
/// The oldest replay file version this build reads.
pub const REPLAY_VERSION_OLDEST: u32 = 1;
/// Exit code of a replay that did not reproduce its run (the outcome or the trace hash differs and
/// the run now passes).
pub const EXIT_DIVERGED: i32 = 5;

/// Why a replay file cannot be used.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The file cannot be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not JSON at all.
    #[error("not a replay file: not JSON ({0})")]
    NotJson(serde_json::Error),
    /// JSON without the replay format's name.
    #[error("not a replay file: it has no \"format\": \"{REPLAY_FORMAT}\" (a fault plan goes to `run --plan`)")]
    NotReplay,
    /// Another format.
    #[error("not a replay file: its format is '{0}', not '{REPLAY_FORMAT}'")]
    Foreign(String),
    /// A version this build does not read.
    #[error(
        "replay file version {found} is not supported (this build reads versions {REPLAY_VERSION_OLDEST} to {REPLAY_VERSION})"
    )]
    Version {
        /// The file's version.
        found: u64,
    },
    /// The right format, but fields are missing or malformed.
    #[error("corrupt replay file: {0}")]
    Corrupt(serde_json::Error),
    /// A stream's tape longer than [`pangea_sim::TAPE_DRAWS_MAX`].
    #[error("corrupt replay file: the tape of stream '{0}' has more than {max} draws", max = pangea_sim::TAPE_DRAWS_MAX)]
    TapeTooLong(String),
    /// A trace hash that is not hex.
    #[error("corrupt replay file: trace hash '{0}' is not 64 hex digits")]
    BadHash(String),
    /// The scenario is not in this build.
    #[error("the replay file names scenario '{name}', which this build does not have (known: {known})")]
    UnknownScenario {
        /// The name in the file.
        name: String,
        /// The scenarios this build knows.
        known: String,
    },
    /// The scenario refused the file's options (node count, planted bug, plan).
    #[error("the replay file cannot run: {0}")]
    Run(#[from] crate::error::ScenarioError),
}

/// The failure a replay file records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFailure {
    /// Correctness, liveness or crash.
    pub kind: FailureKind,
    /// The checker that saw it first.
    pub checker: String,
    /// Virtual time of the first violation, in nanoseconds.
    pub at_ns: u64,
    /// The node it was seen on.
    pub node: Option<u32>,
    /// What the checker saw.
    pub message: String,
}

/// How big a run was: what shrinking reports before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSize {
    /// Trace records.
    pub trace_records: u64,
    /// Simulator events processed.
    pub events: u64,
    /// Nodes.
    pub nodes: u32,
    /// Timed faults in the plan.
    pub timed_faults: usize,
    /// Virtual time the run lasted, in milliseconds.
    pub virtual_ms: u64,
}

impl RunSize {
    /// The size of `report`'s run.
    #[must_use]
    pub fn of(report: &RunReport) -> RunSize {
        RunSize {
            trace_records: report.trace_len,
            events: report.stats.events,
            nodes: report.nodes,
            timed_faults: report.plan.events.len(),
            virtual_ms: report.ended_at.as_nanos() / 1_000_000,
        }
    }
}

impl std::fmt::Display for RunSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} trace records, {} events, {} nodes, {} timed faults, {}.{:03}s virtual",
            self.trace_records,
            self.events,
            self.nodes,
            self.timed_faults,
            self.virtual_ms / 1000,
            self.virtual_ms % 1000
        )
    }
}

/// One run, pinned. See the module documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayFile {
    /// Always [`REPLAY_FORMAT`].
    pub format: String,
    /// Always [`REPLAY_VERSION`] when written by this build.
    pub version: u32,
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Nodes simulated.
    pub nodes: u32,
    /// The planted bug, if any.
    #[serde(default)]
    pub planted: Option<String>,
    /// Clients, if set.
    #[serde(default)]
    pub clients: Option<u32>,
    /// Operations, if set.
    #[serde(default)]
    pub operations: Option<u64>,
    /// The full fault plan.
    pub plan: FaultPlan,
    /// The run's full trace hash, 64 hex digits (`None` if the run panicked before it finished).
    pub trace_hash: Option<String>,
    /// Trace records the run produced.
    pub trace_records: u64,
    /// Simulator events the run processed.
    pub events: u64,
    /// The failure it showed (`None` for a passing run).
    pub failure: Option<RecordedFailure>,
    /// Only these clients issued operations (a shrunk run's evidence-guided step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_clients: Option<Vec<u32>>,
    /// Tapes that replace random streams (a shrunk run's edited choices; see [`pangea_sim::rng`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Choices>,
    /// For a shrunk run: the size of the run it was shrunk from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk_from: Option<RunSize>,
}

/// A trace hash as 64 lower-case hex digits.
#[must_use]
pub fn hash_to_hex(hash: &TraceHash) -> String {
    hash.0.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Parses 64 hex digits into a trace hash.
///
/// # Errors
/// Anything but 64 hex digits.
pub fn hash_from_hex(text: &str) -> Result<TraceHash, ReplayError> {
    let bad = || ReplayError::BadHash(text.to_owned());
    if text.len() != 64 || !text.is_ascii() {
        return Err(bad());
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).map_err(|_| bad())?;
    }
    Ok(TraceHash(bytes))
}

/// True if `expected` (hex, at least 8 digits, any case; a prefix of the full hash, as runs print
/// 16) names `hash`.
#[must_use]
pub fn hash_matches(hash: &TraceHash, expected: &str) -> bool {
    let expected = expected.trim().to_ascii_lowercase();
    expected.len() >= 8 && hash_to_hex(hash).starts_with(&expected)
}

impl ReplayFile {
    /// The replay file of `report`'s run.
    #[must_use]
    pub fn from_report(report: &RunReport) -> ReplayFile {
        ReplayFile {
            format: REPLAY_FORMAT.to_owned(),
            version: REPLAY_VERSION,
            scenario: report.scenario.clone(),
            seed: report.seed,
            nodes: report.nodes,
            planted: report.planted.clone(),
            clients: report.clients,
            operations: report.operations,
            plan: report.plan.clone(),
            trace_hash: report.trace_hash.as_ref().map(hash_to_hex),
            trace_records: report.trace_len,
            events: report.stats.events,
            failure: report.first_violation().map(|violation| RecordedFailure {
                kind: violation.kind,
                checker: violation.checker.to_owned(),
                at_ns: violation.at.as_nanos(),
                node: violation.node,
                message: violation.message.clone(),
            }),
            only_clients: report.only_clients.clone(),
            choices: report.choices.clone(),
            shrunk_from: None,
        }
    }

    /// Parses a replay file, refusing other formats and versions with a clear error.
    ///
    /// # Errors
    /// Not JSON, not a replay file, another version, missing or malformed fields.
    pub fn parse(text: &str) -> Result<ReplayFile, ReplayError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(ReplayError::NotJson)?;
        let format = value.get("format").ok_or(ReplayError::NotReplay)?;
        let format = format.as_str().ok_or(ReplayError::NotReplay)?;
        if format != REPLAY_FORMAT {
            return Err(ReplayError::Foreign(format.to_owned()));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if !(u64::from(REPLAY_VERSION_OLDEST)..=u64::from(REPLAY_VERSION)).contains(&version) {
            return Err(ReplayError::Version { found: version });
        }
        let file: ReplayFile = serde_json::from_value(value).map_err(ReplayError::Corrupt)?;
        if let Some(stream) = file.choices.as_ref().and_then(Choices::oversized) {
            return Err(ReplayError::TapeTooLong(stream.to_owned()));
        }
        if let Some(hash) = &file.trace_hash {
            hash_from_hex(hash)?;
        }
        Ok(file)
    }

    /// Reads and parses a replay file.
    ///
    /// # Errors
    /// See [`ReplayFile::parse`]; or the file cannot be read.
    pub fn load(path: &Path) -> Result<ReplayFile, ReplayError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })?;
        ReplayFile::parse(&text)
    }

    /// The file's text: pretty JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a replay file serialises");
        text.push('\n');
        text
    }

    /// Writes the file.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), ReplayError> {
        std::fs::write(path, self.to_json()).map_err(|source| ReplayError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        })
    }

    /// The built-in scenario the file names.
    ///
    /// # Errors
    /// The scenario is not in this build.
    pub fn scenario(&self) -> Result<&'static dyn Scenario, ReplayError> {
        self.scenario_in(builtin_shared())
    }

    /// The scenario the file names, in `registry` (a crate's own scenarios).
    ///
    /// # Errors
    /// The scenario is not in `registry`.
    pub fn scenario_in(&self, registry: &Registry) -> Result<&'static dyn Scenario, ReplayError> {
        registry
            .find(&self.scenario)
            .ok_or_else(|| ReplayError::UnknownScenario { name: self.scenario.clone(), known: registry.names() })
    }

    /// Options that run exactly this file's run. `source` names the file in the replay command.
    #[must_use]
    pub fn options(&self, source: Option<&str>) -> RunOptions {
        RunOptions {
            seed: self.seed,
            nodes: Some(self.nodes),
            plan: Some(self.plan.clone()),
            planted: self.planted.clone(),
            clients: self.clients,
            operations: self.operations,
            replay_file: source.map(str::to_owned),
            only_clients: self.only_clients.clone(),
            choices: self.choices.clone(),
            ..RunOptions::default()
        }
    }

    /// Runs the file's run again and compares it with what the file recorded.
    ///
    /// # Errors
    /// Unknown scenario, or options the scenario refuses.
    pub fn replay(&self, source: Option<&str>, keep_trace: bool) -> Result<ReplayVerdict, ReplayError> {
        self.replay_in(builtin_shared(), source, keep_trace)
    }

    /// As [`ReplayFile::replay`], finding the file's scenario in `registry`.
    ///
    /// # Errors
    /// As [`ReplayFile::replay`].
    pub fn replay_in(
        &self,
        registry: &Registry,
        source: Option<&str>,
        keep_trace: bool,
    ) -> Result<ReplayVerdict, ReplayError> {
        let scenario = self.scenario_in(registry)?;
        let options = RunOptions { keep_trace, ..self.options(source) };
        let report = run_guarded(scenario, &options).map_err(ReplayError::Run)?;
        let hash_matched = match (&self.trace_hash, &report.trace_hash) {
            (Some(expected), Some(actual)) => Some(hash_to_hex(actual) == *expected),
            (None, None) => None,
            _ => Some(false),
        };
        let expected = self.failure.as_ref().map(|failure| (failure.kind, failure.checker.as_str()));
        let actual = report.first_violation().map(|violation| (violation.kind, violation.checker));
        Ok(ReplayVerdict { outcome_matched: expected == actual, hash_matched, report })
    }
}

/// What a replay found.
#[derive(Clone, Debug)]
pub struct ReplayVerdict {
    /// The run.
    pub report: RunReport,
    /// Whether the trace hash matched the expected one (`None` when nothing was expected).
    pub hash_matched: Option<bool>,
    /// Whether the run failed the same checker in the same way (or passed, if it passed before).
    pub outcome_matched: bool,
}

impl ReplayVerdict {
    /// True if the run reproduced exactly: same outcome, same trace hash.
    #[must_use]
    pub fn reproduced(&self) -> bool {
        self.outcome_matched && self.hash_matched != Some(false)
    }

    /// The process exit code: the failure's own code when the run fails (1, 3, 4), 0 when it passes
    /// as recorded, and [`EXIT_DIVERGED`] when it now passes but should not have, or left another
    /// trace hash.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self.report.outcome.failure_kind() {
            Some(kind) => kind.exit_code(),
            None if self.reproduced() => 0,
            None => EXIT_DIVERGED,
        }
    }

    /// Two lines for a person: whether the outcome and the hash matched.
    #[must_use]
    pub fn summary(&self, expected_hash: Option<&str>) -> String {
        let outcome = if self.outcome_matched { "reproduced" } else { "DIFFERENT from the recorded one" };
        let actual = self.report.trace_hash.as_ref().map_or_else(|| "none".to_owned(), hash_to_hex);
        let hash = match (self.hash_matched, expected_hash) {
            (Some(true), _) => format!("trace hash matched: {actual}"),
            (Some(false), Some(expected)) => {
                format!(
                    "trace hash MISMATCH: expected {expected}, got {actual} (the code or the build changed the run)"
                )
            }
            (Some(false), None) => format!("trace hash MISMATCH: got {actual}"),
            (None, _) => format!("trace hash {actual} (none expected)"),
        };
        format!("replay: outcome {outcome}\nreplay: {hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::find;

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = TraceHash(std::array::from_fn(|index| (index * 37) as u8));
        let hex = hash_to_hex(&hash);
        assert_eq!(hex.len(), 64);
        assert_eq!(hash_from_hex(&hex).unwrap(), hash);
        assert!(hash_matches(&hash, &hex[..16].to_ascii_uppercase()));
        assert!(!hash_matches(&hash, &hex[..6]));
        assert!(!hash_matches(&hash, "ffffffffffffffff"));
        for bad in ["", "zz", &hex[..63], &format!("{}g", &hex[..63])] {
            assert!(hash_from_hex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn foreign_corrupt_and_future_files_are_refused_with_clear_errors() {
        let report =
            run_guarded(find("health").unwrap(), &RunOptions { nodes: Some(2), ..RunOptions::seed(1) }).unwrap();
        let file = ReplayFile::from_report(&report);
        let text = file.to_json();
        assert_eq!(ReplayFile::parse(&text).unwrap(), file);
        let plan = serde_json::to_string(&report.plan).unwrap();
        let cases = [
            ("not json".to_owned(), "not JSON"),
            (plan, "no \"format\""),
            (text.replace("\"pangea-replay\"", "\"pangea-sweep\""), "'pangea-sweep'"),
            (text.replace("\"version\": 2", "\"version\": 9"), "version 9"),
            (text.replace("\"version\": 2", "\"version\": 0"), "versions 1 to 2"),
            (text.replace("\"seed\": 1", "\"seed\": \"one\""), "corrupt"),
            (text.replace(file.trace_hash.as_deref().unwrap(), "abc"), "not 64 hex"),
        ];
        for (text, expected) in cases {
            let error = ReplayFile::parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        // Version 1 files (before tapes) still read.
        assert_eq!(ReplayFile::parse(&text.replace("\"version\": 2", "\"version\": 1")).unwrap().seed, 1);
        let long =
            Choices(std::collections::BTreeMap::from([("net".to_owned(), vec![1; pangea_sim::TAPE_DRAWS_MAX + 1])]));
        let error = ReplayFile::parse(&ReplayFile { choices: Some(long), ..file.clone() }.to_json()).unwrap_err();
        assert!(error.to_string().contains("the tape of stream 'net'"), "{error}");
        let unknown = ReplayFile { scenario: "no-such".into(), ..file.clone() };
        assert!(unknown.replay(None, false).unwrap_err().to_string().contains("no-such"));
        let own = Registry::new().with(find("log-swarm").unwrap()).unwrap();
        let error = file.replay_in(&own, None, false).unwrap_err().to_string();
        assert!(error.contains("health") && error.contains("log-swarm"), "names the registry's scenarios: {error}");
        let health = Registry::new().with(find("health").unwrap()).unwrap();
        assert!(file.replay_in(&health, None, false).unwrap().reproduced(), "a crate's registry replays its files");
        let verdict = file.replay(None, false).unwrap();
        assert!(verdict.reproduced() && verdict.exit_code() == 0, "{}", verdict.summary(None));
        let tampered = ReplayFile { trace_hash: Some("00".repeat(32)), ..file };
        assert_eq!(tampered.replay(None, false).unwrap().exit_code(), EXIT_DIVERGED);
    }
}

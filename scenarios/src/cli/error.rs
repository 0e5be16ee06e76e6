//! Why a command of the command line could not do what it was asked: a usage error, which the
//! command line reports as `error: ...` with exit code 2 (a run that fails is not an error: its
//! exit code says how it failed).

use crate::{ExportError, ReplayError, SeedRange, Shard, ShrinkError};
use std::path::PathBuf;
use thiserror::Error;

/// A command that could not run: bad input, an unknown name, a file that cannot be read or
/// written. Each variant's cause, if any, is its [`std::error::Error::source`]; the command line
/// prints the message followed by each cause (`error: cannot write out.json: Permission denied`).
#[derive(Debug, Error)]
pub enum CliError {
    /// `--plan FILE` cannot be read.
    #[error("cannot read the fault plan {}", path.display())]
    PlanUnreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// `--plan FILE` is not a fault plan.
    #[error("{} is not a fault plan", path.display())]
    NotAPlan {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// A scenario name the registry does not hold.
    #[error("unknown scenario '{name}' (known: {known})")]
    UnknownScenario {
        /// The name given.
        name: String,
        /// The registry's names, comma-separated.
        known: String,
    },
    /// Options that select a run (`--nodes`, `--plan`, ...) given with a replay file, which pins
    /// them.
    #[error("--nodes, --plant, --plan, --faults, --clients and --operations go with --seed; a replay file pins them")]
    OptionsWithReplayFile,
    /// A scenario name given where a replay file or a scenario and `--seed` were expected.
    #[error("'{0}' is a scenario: give a seed (--seed N), or a replay file")]
    ScenarioWithoutSeed(String),
    /// A replay file that cannot be read, parsed, written, or found a scenario for.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The scenario refused the run's options (node count, planted bug, plan, workload knobs).
    #[error("{}{message}", if *from_replay_file { "the replay file cannot run: " } else { "" })]
    Refused {
        /// True when the options came from a replay file.
        from_replay_file: bool,
        /// Why the scenario refused them.
        message: String,
    },
    /// `--jobs 0`.
    #[error("--jobs must be at least 1")]
    NoJobs,
    /// A shard of the seeds that holds none of them.
    #[error("shard {shard} of seeds {seeds} holds no seed (there are fewer seeds than shards)")]
    EmptyShard {
        /// The shard asked for.
        shard: Shard,
        /// The seeds asked for.
        seeds: SeedRange,
    },
    /// `--expect-hash` that is not hex.
    #[error("--expect-hash {0} is not hex")]
    HashNotHex(String),
    /// Shrinking could not start (the run passes, or its options were refused).
    #[error(transparent)]
    Shrink(#[from] ShrinkError),
    /// A trace could not be exported.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A folder to write into cannot be created.
    #[error("cannot create the folder {}", path.display())]
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file cannot be written.
    #[error("cannot write {}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Standard output cannot be written (other than a closed pipe, which ends the output quietly).
    #[error("cannot write to standard output")]
    Stdout(#[source] std::io::Error),
    /// `check-history --states-max 0`.
    #[error("--states-max must be at least 1")]
    NoStates,
    /// A history file that cannot be read.
    #[error("cannot read the history {}", path.display())]
    HistoryUnreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A history file that is not a usable history.
    #[error("{}", path.display())]
    History {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: crate::history_file::HistoryFileError,
    },
    /// Results cannot be serialised as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl CliError {
    /// The message followed by each of its causes, `: `-separated, as the command line prints it.
    #[must_use]
    pub fn render(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            text.push_str(&format!(": {error}"));
            cause = error.source();
        }
        text
    }
}

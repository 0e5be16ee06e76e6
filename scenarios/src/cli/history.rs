//! `pangea-sim check-history`: reads a recorded history file and checks it for linearizability.

use super::error::CliError;
use super::{EXIT_NOT_LINEARIZABLE, EXIT_UNDECIDED};
use crate::history_file::{self, Format, Limits, ModelKind, Verdict};
use clap::Args;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `pangea-sim check-history`.
#[derive(Args)]
pub(super) struct CheckHistoryArgs {
    /// The history file (`-` for standard input).
    pub file: PathBuf,
    /// The model: register (read, write), cas-register (read, write, cas) or kv (get, put, append
    /// on string keys; an absent key reads as "").
    #[arg(long, value_name = "MODEL")]
    pub model: ModelKind,
    /// The file's format: edn (Jepsen), porcupine (porcupine's test logs) or jsonl (Pangea's);
    /// default: told from the first line that is not blank.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Print the verdict, counts and evidence as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Most configurations the search explores per key before it gives up undecided (exit 6); it
    /// also gives up when they would take more than 4 GiB.
    #[arg(long, value_name = "N", default_value_t = crate::model::CONFIGURATIONS_MAX)]
    pub states_max: usize,
}

/// Reads, checks and reports; exits 0 linearizable, 1 not, 6 undecided.
pub(super) fn check_history_command(args: CheckHistoryArgs) -> Result<ExitCode, CliError> {
    if args.states_max == 0 {
        return Err(CliError::NoStates);
    }
    let limits = Limits::default();
    let bytes = read_bounded(&args.file, limits.file_bytes_max)?;
    let path = args.file.clone();
    let history = history_file::parse_history(&bytes, args.format, &limits)
        .map_err(|source| CliError::History { path: path.clone(), source })?;
    let report = history_file::check_history(&history, args.model, args.states_max)
        .map_err(|source| CliError::History { path, source })?;
    let text = if args.json {
        history_file::render_json(&history, &report)
    } else {
        history_file::render_text(&history, &report)
    };
    say!("{}", text.trim_end());
    Ok(match report.verdict {
        Verdict::Linearizable => ExitCode::SUCCESS,
        Verdict::NotLinearizable => ExitCode::from(EXIT_NOT_LINEARIZABLE),
        Verdict::Unknown => ExitCode::from(EXIT_UNDECIDED),
    })
}

/// The bytes of `path` (standard input for `-`), at most one more than `bytes_max`: enough for
/// the parser to refuse a file over the limit without reading all of it.
fn read_bounded(path: &PathBuf, bytes_max: u64) -> Result<Vec<u8>, CliError> {
    let unreadable = |source| CliError::HistoryUnreadable { path: path.clone(), source };
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().lock().take(bytes_max + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    } else {
        let file = std::fs::File::open(path).map_err(unreadable)?;
        file.take(bytes_max + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    }
    Ok(bytes)
}

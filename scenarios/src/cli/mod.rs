//! The `pangea-sim` command line, as a library: list, run, plan, sweep, replay, shrink, trace and
//! determinism, over the scenarios of any [`Registry`]; and check-history, which checks a history
//! recorded elsewhere for linearizability.
//!
//! Pangea's own binary is `main` calling [`main`] with [`crate::builtin_registry`]; a crate with
//! scenarios of its own gets the same command line from a binary of its own:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     // `.with(&MY_SCENARIO)` for each of the crate's scenarios.
//!     let registry = pangea_scenarios::Registry::new();
//!     pangea_scenarios::cli::main(registry)
//! }
//! ```
//!
//! Every run is determined by its scenario, seed and options; a failure prints the one command that
//! replays it exactly (naming the scenario's [`crate::Scenario::program`]), and its trace hash,
//! which the replay must reproduce.
//!
//! Exit codes: 0 pass, 1 correctness failure, 2 usage error, 3 liveness failure, 4 crash, 5 a replay
//! that did not reproduce its run (or, for `determinism`, a seed whose two runs differ), 6 a
//! `check-history` whose search ran out of budget undecided.

/// Writes one line to standard output; a closed pipe (`pangea-sim ... | head`) ends the program
/// quietly instead of panicking.
fn say_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {error}");
        std::process::exit(2);
    }
}

/// `println!` through [`say_line`]. Defined before the submodules so that they can use it.
macro_rules! say {
    ($($argument:tt)*) => { $crate::cli::say_line(format_args!($($argument)*)) };
}

mod args;
mod error;
mod history;
mod runs;
mod shrink;
mod sweep;
#[cfg(test)]
mod tests;

pub use error::CliError;

use crate::{FailureKind, Registry};
use args::{DeterminismArgs, PlanArgs, ReplayArgs, RunArgs, ShrinkArgs, SweepArgs, TraceArgs};
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use history::CheckHistoryArgs;
use std::ffi::OsString;
use std::process::ExitCode;

/// The name shown in usage lines when the program's own cannot be found.
const PROGRAM_DEFAULT: &str = "pangea-sim";

/// The exit codes, for `--help`.
const EXIT_CODES: &str = "\
Exit codes: 0 pass, 1 correctness failure, 2 usage error (bad input), 3 liveness failure,
4 crash (a panic in node code, or a runaway run), 5 a replay that did not reproduce its run (or,
for `determinism`, a seed whose two runs differ), 6 a `check-history` whose search ran out of
budget undecided.";

/// The exit codes of `check-history`, for its `--help`.
const CHECK_HISTORY_EXIT_CODES: &str = "\
Exit codes: 0 linearizable, 1 not linearizable, 2 unusable input or usage error, 6 the search ran
out of budget undecided (--states-max raises the count of configurations; their memory is bounded
at 4 GiB).";

/// Exit code of a usage error (bad input), as clap's own.
const EXIT_USAGE: u8 = 2;
/// Exit code of a history that is not linearizable (a correctness failure).
const EXIT_NOT_LINEARIZABLE: u8 = 1;
/// Exit code of a history check whose search ran out of budget before it could decide.
const EXIT_UNDECIDED: u8 = 6;

/// Deterministic simulation of Pangea clusters under faults.
///
/// Each scenario runs a cluster of simulated nodes on virtual time, injects the faults its seed
/// draws (or that it pins), and checks properties as it goes. The same seed always gives the same
/// run, fingerprinted by its trace hash.
///
/// A failure prints the checker, what it saw, when and on which node, the faults in force, and one
/// command that replays it. `shrink` minimises a failure to a small replay file; `trace` draws a run
/// for Perfetto or a browser.
#[derive(Parser)]
#[command(name = "pangea-sim", version, about, long_about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every scenario: description, default and allowed node counts, faults, workload knobs
    /// and plantable bugs.
    List,
    /// Run one seed of a scenario and print its outcome, fault plan and trace hash.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Print, as JSON, the fault plan a seed draws; `run --plan FILE` takes it back.
    Plan(PlanArgs),
    /// Run many seeds of one or more scenarios in parallel, with a progress bar, a line per seed
    /// (or only failures with -q), a coverage summary, and optional JSON and JUnit results.
    #[command(after_help = EXIT_CODES)]
    Sweep(SweepArgs),
    /// Reproduce a run exactly, from a replay file or a scenario and seed, and check that it leaves
    /// the same trace hash (and, for a file, the same failure).
    #[command(after_help = EXIT_CODES)]
    Replay(ReplayArgs),
    /// Minimise a failing run — fewer faults, shorter fault windows, an earlier heal, fewer nodes,
    /// clients and operations, then simpler random choices (every stream's recorded draws cut short,
    /// deleted, zeroed) — while it still fails the same checker; save it as a replay file.
    Shrink(ShrinkArgs),
    /// Export a run's trace: `chrome` (Perfetto / chrome://tracing: a track per node, messages as
    /// flows, faults as instants), `html` (a self-contained space-time diagram), or `jsonl`.
    Trace(TraceArgs),
    /// Run every seed twice and compare the traces; for a seed whose runs differ, print the first
    /// trace record that differs (virtual time, node, both versions): where the code under test
    /// leaked nondeterminism (a `HashMap` iterated, a clock read, a thread). Exits 5 on a leak.
    #[command(after_help = EXIT_CODES)]
    Determinism(DeterminismArgs),
    /// Check a recorded history file for linearizability against a model: Jepsen's EDN histories,
    /// porcupine's test logs (kv and etcd), or Pangea's JSONL. Prints the verdict, what the history
    /// holds and, when it is not linearizable, the fewest operations that cannot be ordered.
    #[command(after_help = CHECK_HISTORY_EXIT_CODES)]
    CheckHistory(CheckHistoryArgs),
}

/// The command line over `registry`'s scenarios: parses the program's arguments, runs the command,
/// and returns its exit code. A usage error prints `error: ...` on standard error and returns 2.
///
/// Usage lines and `--version` name the program as it was invoked (the file name of its first
/// argument). A user crate's binary is `fn main() -> ExitCode { pangea_scenarios::cli::main(registry) }`.
#[must_use]
pub fn main(registry: Registry) -> ExitCode {
    run_with_args(&registry, std::env::args_os())
}

/// As [`main`], with the arguments given (the program's name first, as in
/// [`std::env::args_os`]): for tests, and for programs that build their own argument list.
///
/// Output still goes to standard output and standard error; a closed standard output ends the
/// process (quietly when it is a closed pipe).
#[must_use]
pub fn run_with_args<I, T>(registry: &Registry, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let program = args
        .first()
        .and_then(|first| std::path::Path::new(first).file_name())
        .map_or_else(|| PROGRAM_DEFAULT.to_owned(), |name| name.to_string_lossy().into_owned());
    let mut command = Cli::command().bin_name(&program).display_name(&program);
    let parsed = command.try_get_matches_from_mut(args).and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to standard output with code 0; usage errors to standard error
            // with code 2.
            let error = error.format(&mut command);
            let _ = error.print();
            return exit_code(error.exit_code());
        }
    };
    match execute(registry, cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", error.render());
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn execute(registry: &Registry, cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::List => runs::list(registry),
        Command::Plan(args) => runs::plan_command(registry, args),
        Command::Run(args) => runs::run_command(registry, args),
        Command::Sweep(args) => sweep::sweep_command(registry, args),
        Command::Replay(args) => runs::replay_command(registry, args),
        Command::Shrink(args) => shrink::shrink_command(registry, args),
        Command::Trace(args) => runs::trace_command(registry, args),
        Command::Determinism(args) => runs::determinism_command(registry, args),
        Command::CheckHistory(args) => history::check_history_command(args),
    }
}

/// A process exit code from a failure's (or a replay's) code.
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The most severe failure decides: crash, then correctness, then liveness.
fn exit_for(kinds: impl IntoIterator<Item = Option<FailureKind>>) -> ExitCode {
    let kinds: Vec<FailureKind> = kinds.into_iter().flatten().collect();
    let severity = [FailureKind::Crash, FailureKind::Correctness, FailureKind::Liveness];
    exit_code(severity.into_iter().find(|kind| kinds.contains(kind)).map_or(0, FailureKind::exit_code))
}

/// The scenario called `name` in `registry`.
fn scenario_named(registry: &Registry, name: &str) -> Result<&'static dyn crate::Scenario, CliError> {
    registry.find(name).ok_or_else(|| CliError::UnknownScenario { name: name.to_owned(), known: registry.names() })
}

/// The scenarios named on a command line, or, with `all`, every scenario of `registry`.
fn chosen(registry: &Registry, all: bool, names: &[String]) -> Result<Vec<&'static dyn crate::Scenario>, CliError> {
    if all {
        Ok(registry.scenarios().to_vec())
    } else {
        names.iter().map(|name| scenario_named(registry, name)).collect()
    }
}

//! `pangea-sim`: list, run, sweep, replay, shrink and export Pangea's simulation scenarios.
//!
//! Every run is determined by its scenario, seed and options; a failure prints the one command that
//! replays it exactly, and its trace hash, which the replay must reproduce. The command line itself
//! is [`pangea_scenarios::cli`], over the built-in scenarios.

use std::process::ExitCode;

fn main() -> ExitCode {
    pangea_scenarios::cli::main(pangea_scenarios::builtin_registry())
}

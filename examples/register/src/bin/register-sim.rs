//! `register-sim`: Pangea's simulation command line (list, run, sweep, replay, shrink, trace,
//! determinism) for the register's scenarios.

use std::process::ExitCode;

fn main() -> ExitCode {
    match pangea_example_register::registry() {
        Ok(registry) => pangea_scenarios::cli::main(registry),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

//! `pangea-nemesis`: a Jepsen-style nemesis for real `pangea` clusters on this machine. See
//! `pangea-nemesis --help` and the README.

mod args;
mod delay;
mod net;
mod nodes;
mod records;
mod run;
mod schedule;
mod verdict;
mod workload;

use args::{Cli, Command};
use clap::Parser;
use run::Resources;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use verdict::Failure;

/// Exit code of a usage or set-up error.
const EXIT_USAGE: u8 = 2;
/// Exit code after a second Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Cleanup) = cli.command {
        return match net::cleanup() {
            Ok(removed) if removed.is_empty() => {
                println!("nothing to clean up");
                ExitCode::SUCCESS
            }
            Ok(removed) => {
                for item in removed {
                    println!("removed {item}");
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("pangea-nemesis: cleanup: {error:#}");
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pangea-nemesis: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(async_main(cli))
}

async fn async_main(cli: Cli) -> ExitCode {
    let resources = Arc::new(Mutex::new(Resources::default()));
    let interrupted = Arc::new(AtomicBool::new(false));
    tokio::spawn(watch_signals(resources.clone(), interrupted.clone()));
    let outcome = run::run(cli.run, resources.clone(), interrupted.clone()).await;
    // Take everything down before reporting, whatever happened.
    if let Ok(mut resources) = resources.lock() {
        for error in resources.teardown() {
            eprintln!("pangea-nemesis: teardown: {error}");
        }
    }
    match outcome {
        Err(error) => {
            eprintln!("pangea-nemesis: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
        Ok((findings, out)) => {
            let code = report(&findings, &out, interrupted.load(Ordering::Relaxed));
            ExitCode::from(code)
        }
    }
}

/// Prints the verdict and writes it into the output directory; answers the exit code.
fn report(findings: &verdict::Findings, out: &std::path::Path, interrupted: bool) -> u8 {
    let mut text = String::new();
    let worst = findings.failures.iter().map(|(failure, _)| *failure).min();
    text.push_str(match worst {
        None => "PASS",
        Some(Failure::Correctness) => "FAIL (correctness)",
        Some(Failure::Crash) => "FAIL (crash)",
        Some(Failure::Liveness) => "FAIL (liveness)",
        Some(Failure::Undecided) => "UNDECIDED (the checker's budget ran out)",
    });
    if interrupted {
        text.push_str(" (interrupted: the attack was cut short)");
    }
    text.push('\n');
    text.push_str(&format!("linearizability: {}\n", findings.linearizability));
    text.push_str(&format!(
        "write-once keys acknowledged: {}, lost: {}, not read back (no answer): {}\n",
        findings.acknowledged_once, findings.lost_once, findings.unread_once
    ));
    text.push_str(&format!(
        "graph entities acknowledged: {}, events acknowledged: {}, of them lost: {}\n",
        findings.entities_acknowledged, findings.events_acknowledged, findings.records_lost
    ));
    match findings.recovered_ms {
        Some(ms) => text.push_str(&format!("served again {ms} ms after the heal\n")),
        None => text.push_str("never served again after the heal\n"),
    }
    for (failure, what) in &findings.failures {
        text.push_str(&format!("{failure:?}: {what}\n"));
    }
    print!("{text}");
    println!("history, schedule, faults, node logs and verdict in {}", out.display());
    if let Ok(mut file) = std::fs::File::create(out.join("verdict.txt")) {
        let _ = file.write_all(text.as_bytes());
    }
    if let Ok(json) = serde_json::to_vec_pretty(findings) {
        let _ = std::fs::write(out.join("verdict.json"), json);
    }
    worst.map_or(0, Failure::exit_code)
}

/// On the first Ctrl-C or SIGTERM, cuts the attack short (the run then heals, checks and tears
/// down); on the second, tears down at once and exits.
async fn watch_signals(resources: Arc<Mutex<Resources>>, interrupted: Arc<AtomicBool>) {
    let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        return;
    };
    for round in 0..2 {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        if round == 0 {
            eprintln!(
                "pangea-nemesis: interrupted: healing, checking what was recorded, then cleaning up (again to stop at once)"
            );
            interrupted.store(true, Ordering::Relaxed);
        } else {
            eprintln!("pangea-nemesis: interrupted again: cleaning up and exiting");
            if let Ok(mut resources) = resources.lock() {
                for error in resources.teardown() {
                    eprintln!("pangea-nemesis: teardown: {error}");
                }
            }
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    }
}

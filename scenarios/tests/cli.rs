//! The `pangea-sim` binary, run as a user would: outputs and exit codes, good input and bad.

use std::process::{Command, Output};

fn pangea_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pangea-sim")).args(args).output().expect("pangea-sim runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn list_names_every_scenario() {
    let output = pangea_sim(&["list"]);
    assert!(output.status.success());
    assert!(stdout(&output).contains("health"));
}

#[test]
fn run_prints_outcome_plan_and_hash_and_is_repeatable() {
    let first = pangea_sim(&["run", "health", "--seed", "3"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let text = stdout(&first);
    assert!(text.starts_with("PASS  health seed 3  trace "), "{text}");
    assert!(text.contains("faults:"), "{text}");
    let hash = |text: &str| text.lines().next().unwrap().rsplit(' ').next().unwrap().to_owned();
    let second = pangea_sim(&["run", "health", "--seed", "3"]);
    assert_eq!(hash(&text), hash(&stdout(&second)));
    let other = pangea_sim(&["run", "health", "--seed", "4"]);
    assert_ne!(hash(&text), hash(&stdout(&other)));
}

#[test]
fn sweep_prints_a_line_per_seed_and_a_summary() {
    let output = pangea_sim(&["sweep", "health", "--seeds", "0..6", "--jobs", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().filter(|line| line.starts_with("seed ")).count(), 6, "{text}");
    assert!(text.contains("6 seeds of health"), "{text}");
    assert!(text.contains("6 passed, 0 failed"), "{text}");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_2() {
    for (args, expected) in [
        (vec!["run", "no-such-scenario", "--seed", "1"], "unknown scenario"),
        (vec!["run", "health", "--seed", "minus-one"], "invalid value"),
        (vec!["sweep", "health", "--seeds", "9..3"], "empty"),
        (vec!["sweep", "health", "--seeds", "a..b"], "not a seed"),
        (vec!["run", "health", "--seed", "1", "--nodes", "1"], "nodes"),
        (vec!["sweep", "health", "--seeds", "0..2", "--jobs", "0"], "--jobs"),
        (vec!["run", "health", "--seed", "1", "--plant", "no-such-bug"], "planted"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let output = pangea_sim(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{args:?}");
    }
}

#[test]
fn help_explains_every_subcommand() {
    for command in [&["--help"][..], &["run", "--help"], &["sweep", "--help"], &["list", "--help"]] {
        let output = pangea_sim(command);
        assert!(output.status.success());
        assert!(stdout(&output).contains("Usage"));
    }
}

#[test]
fn a_printed_plan_replays_to_the_same_trace_and_bad_plans_are_refused() {
    let plan = pangea_sim(&["plan", "health", "--seed", "5", "--nodes", "3"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let directory = std::env::temp_dir().join(format!("pangea-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("plan.json");
    std::fs::write(&path, &plan.stdout).unwrap();
    let path_text = path.to_str().unwrap();

    let first_line = |output: &Output| stdout(output).lines().next().unwrap_or_default().to_owned();
    let drawn = pangea_sim(&["run", "health", "--seed", "5", "--nodes", "3"]);
    let pinned = pangea_sim(&["run", "health", "--seed", "5", "--nodes", "3", "--plan", path_text]);
    assert_eq!(pinned.status.code(), Some(0), "{}", stderr(&pinned));
    assert_eq!(first_line(&drawn), first_line(&pinned), "a printed plan must replay the seed's own run");

    // The plan names node n2, which a two-node cluster lacks; garbage is not a plan; a missing file.
    let too_small = pangea_sim(&["run", "health", "--seed", "5", "--nodes", "2", "--plan", path_text]);
    let garbage_path = directory.join("garbage.json");
    std::fs::write(&garbage_path, b"{\"not\": \"a plan\"}").unwrap();
    let garbage = pangea_sim(&["run", "health", "--seed", "5", "--plan", garbage_path.to_str().unwrap()]);
    let missing = pangea_sim(&["run", "health", "--seed", "5", "--plan", "/nonexistent/plan.json"]);
    for (output, expected) in [(&too_small, "cannot run"), (&garbage, "not a fault plan"), (&missing, "cannot read")] {
        assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
        assert!(stderr(output).contains(expected), "{}", stderr(output));
    }
    std::fs::remove_dir_all(&directory).ok();
}

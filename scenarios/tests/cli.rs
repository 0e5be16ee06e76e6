//! The `pangea-sim` binary, run as a user would: outputs and exit codes, good input and bad.

use std::path::PathBuf;
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

/// A fresh folder for one test's files.
fn scratch(test: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("pangea-sim-cli-{}-{test}", std::process::id()));
    std::fs::remove_dir_all(&directory).ok();
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

fn text(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
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
fn determinism_runs_each_seed_twice() {
    let output = pangea_sim(&["determinism", "health", "log-swarm", "--seeds", "0..3"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("health: 3 of 3 seeds ran twice the same"), "{text}");
    assert!(text.contains("log-swarm: 3 of 3 seeds ran twice the same"), "{text}");
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
        (vec!["sweep", "health", "--seeds", "0..10", "--shard", "0/4"], "numbered from 1 to 4"),
        (vec!["sweep", "health", "--seeds", "0..10", "--shard", "5/4"], "numbered from 1 to 4"),
        (vec!["sweep", "health", "--seeds", "0..10", "--shard", "half"], "not of the form i/n"),
        (vec!["sweep", "health", "--seeds", "0..10", "--shard", "1/0"], "at least 1"),
        (vec!["sweep", "health", "--seeds", "0..10", "--shard", "a/2"], "not a whole number"),
        (vec!["sweep", "health", "--seeds", "0..2", "--shard", "3/3"], "holds no seed"),
        (vec!["sweep", "--seeds", "0..2"], "required"),
        (vec!["sweep", "health", "--all", "--seeds", "0..2"], "cannot be used with"),
        (vec!["sweep", "health", "--seeds", "0..2", "--faults", "crash,bogus"], "unknown fault 'bogus'"),
        (vec!["run", "health", "--seed", "1", "--faults", ""], "empty fault list"),
        (vec!["run", "health", "--seed", "1", "--clients", "3"], "no clients"),
        (vec!["run", "health", "--seed", "1", "--operations", "3"], "no operations"),
        (vec!["replay", "health"], "is a scenario: give a seed"),
        (vec!["replay", "/nonexistent/run.json"], "cannot read"),
        (vec!["shrink", "health", "--seed", "1"], "passes: there is no failure to shrink"),
        (vec!["shrink", "no-such-scenario", "--seed", "1"], "unknown scenario"),
        (vec!["trace", "health", "--seed", "1", "--format", "svg"], "unknown trace format"),
        (vec!["replay", "health", "--seed", "1", "--expect-hash", "xyz"], "not hex"),
        (vec!["determinism", "no-such-scenario"], "unknown scenario"),
        (vec!["determinism", "health", "--seeds", "0..2", "--nodes", "1"], "nodes"),
    ] {
        let output = pangea_sim(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{args:?}");
    }
}

#[test]
fn help_explains_every_subcommand() {
    for command in ["list", "run", "plan", "sweep", "replay", "shrink", "trace", "determinism"] {
        let output = pangea_sim(&[command, "--help"]);
        assert!(output.status.success(), "{command}");
        assert!(stdout(&output).contains("Usage"), "{command}");
    }
    let top = stdout(&pangea_sim(&["--help"]));
    for command in ["list", "run", "plan", "sweep", "replay", "shrink", "trace", "determinism", "Exit codes"] {
        assert!(top.contains(command), "{top}");
    }
    let sweep = stdout(&pangea_sim(&["sweep", "--help"]));
    for option in ["--shard", "--jobs", "--faults", "partition.one_way", "--json", "--junit", "--fail-fast", "--all"] {
        assert!(sweep.contains(option), "sweep --help lacks {option}");
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
    // One plan under many seeds: every seed runs it.
    let swept = pangea_sim(&["sweep", "health", "--seeds", "0..4", "--nodes", "3", "--plan", path_text]);
    assert_eq!(swept.status.code(), Some(0), "{}", stderr(&swept));
    assert!(stdout(&swept).contains("4 passed, 0 failed"), "{}", stdout(&swept));
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

#[test]
fn a_saved_run_replays_exactly_and_bad_replay_files_are_refused() {
    let directory = scratch("replay");
    let saved = directory.join("run.json");
    let run = pangea_sim(&["run", "health", "--seed", "2", "--nodes", "3", "--save", text(&saved)]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(stdout(&run).contains("saved"), "{}", stdout(&run));

    let replay = pangea_sim(&["replay", text(&saved)]);
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));
    assert!(stdout(&replay).contains("the outcome reproduced"), "{}", stdout(&replay));
    assert!(stdout(&replay).contains("trace hash matched"), "{}", stdout(&replay));

    // A hash from another run: the replay diverged (exit 5) and says so.
    let original = std::fs::read_to_string(&saved).unwrap();
    let file: serde_json::Value = serde_json::from_str(&original).unwrap();
    let hash = file["trace_hash"].as_str().unwrap().to_owned();
    let tampered = directory.join("tampered.json");
    std::fs::write(&tampered, original.replace(&hash, &"0".repeat(64))).unwrap();
    let diverged = pangea_sim(&["replay", text(&tampered)]);
    assert_eq!(diverged.status.code(), Some(5), "{}", stdout(&diverged));
    assert!(stdout(&diverged).contains("MISMATCH"), "{}", stdout(&diverged));

    // The seed form checks a hash given on the command line.
    let short = &hash[..16];
    let matched = pangea_sim(&["replay", "health", "--seed", "2", "--nodes", "3", "--expect-hash", short]);
    assert_eq!(matched.status.code(), Some(0), "{}", stdout(&matched));
    let other = pangea_sim(&["replay", "health", "--seed", "3", "--nodes", "3", "--expect-hash", short]);
    assert_eq!(other.status.code(), Some(5), "{}", stdout(&other));

    let plan = pangea_sim(&["plan", "health", "--seed", "2"]).stdout;
    let bad_files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "future.json",
            original.replace("\"version\": 2", "\"version\": 3").into_bytes(),
            "version 3 is not supported",
        ),
        ("foreign.json", original.replace("pangea-replay", "pangea-sweep").into_bytes(), "format is 'pangea-sweep'"),
        ("plan.json", plan, "not a replay file"),
        ("truncated.json", original.as_bytes()[..original.len() / 2].to_vec(), "not JSON"),
        ("binary.json", vec![0xff, 0x00, 0x13, 0x37], "not"),
        ("unknown.json", original.replace("\"health\"", "\"no-such\"").into_bytes(), "does not have"),
        ("corrupt.json", original.replace("\"seed\": 2", "\"seed\": -2").into_bytes(), "corrupt replay file"),
        ("nodes.json", original.replace("\"nodes\": 3", "\"nodes\": 1").into_bytes(), "cannot run"),
    ];
    for (name, bytes, expected) in bad_files {
        let path = directory.join(name);
        std::fs::write(&path, bytes).unwrap();
        for command in ["replay", "shrink", "trace"] {
            let output = pangea_sim(&[command, text(&path)]);
            assert_eq!(output.status.code(), Some(2), "{command} {name}: {}", stderr(&output));
            assert!(stderr(&output).contains(expected), "{command} {name}: {}", stderr(&output));
            assert!(!stderr(&output).contains("panicked"), "{command} {name}");
        }
    }
    let extra = pangea_sim(&["replay", text(&saved), "--nodes", "4"]);
    assert_eq!(extra.status.code(), Some(2));
    assert!(stderr(&extra).contains("go with --seed"), "{}", stderr(&extra));
    std::fs::remove_dir_all(&directory).ok();
}

#[test]
fn shards_split_a_sweep_and_results_are_machine_readable() {
    let directory = scratch("shards");
    let mut seeds = Vec::new();
    for index in 1..=3 {
        let json = directory.join(format!("shard-{index}.json"));
        let junit = directory.join(format!("shard-{index}.xml"));
        let shard = format!("{index}/3");
        let output = pangea_sim(&[
            "sweep",
            "health",
            "--seeds",
            "0..10",
            "--shard",
            &shard,
            "-q",
            "--jobs",
            "2",
            "--json",
            text(&json),
            "--junit",
            text(&junit),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(stdout(&output).contains("coverage of"), "{}", stdout(&output));
        let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(results["format"], "pangea-sweep");
        assert_eq!(results["shard"], shard.as_str());
        let list = results["results"].as_array().unwrap();
        assert_eq!(results["runs"].as_u64(), Some(list.len() as u64));
        for result in list {
            assert_eq!(result["passed"], true);
            assert_eq!(result["trace_hash"].as_str().unwrap().len(), 64);
            seeds.push(result["seed"].as_u64().unwrap());
        }
        assert!(results["coverage"]["health"]["runs"].as_u64().unwrap() >= 3);
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.starts_with("<?xml") && xml.contains("<testsuite name=\"health\""), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), list.len());
    }
    seeds.sort_unstable();
    assert_eq!(seeds, (0..10).collect::<Vec<_>>(), "the shards together run every seed once");

    let all = pangea_sim(&["sweep", "--all", "--seeds", "0..3", "--faults", "crash,partition", "--jobs", "1"]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    assert!(stdout(&all).contains("3 seeds of health"), "{}", stdout(&all));
    std::fs::remove_dir_all(&directory).ok();
}

#[test]
fn traces_export_for_perfetto_browsers_and_scripts() {
    let directory = scratch("trace");
    let chrome = directory.join("run.trace.json");
    let output =
        pangea_sim(&["trace", "health", "--seed", "4", "--nodes", "3", "--format", "chrome", "-o", text(&chrome)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("perfetto"), "{}", stdout(&output));
    let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&chrome).unwrap()).unwrap();
    let events = document["traceEvents"].as_array().unwrap();
    let thread_names = events.iter().filter(|event| event["name"] == "thread_name").count();
    assert_eq!(thread_names, 3 + 2, "a track per node, plus network and checkers");
    assert!(events.iter().any(|event| event["flow_in"] == true));

    let html = directory.join("run.html");
    let output = pangea_sim(&["trace", "health", "--seed", "4", "--nodes", "3", "-o", text(&html)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<canvas") && page.contains("health seed 4"));

    let jsonl = pangea_sim(&["trace", "health", "--seed", "4", "--nodes", "3", "--format", "jsonl", "-o", "-"]);
    assert_eq!(jsonl.status.code(), Some(0), "{}", stderr(&jsonl));
    let lines: Vec<serde_json::Value> =
        stdout(&jsonl).lines().map(|line| serde_json::from_str(line).expect("each line is JSON")).collect();
    assert_eq!(lines[0]["type"], "run");
    assert!(lines.len() > 100);

    // A replay file works as the target too, and the default name follows scenario and seed.
    let saved = directory.join("run.json");
    pangea_sim(&["run", "health", "--seed", "4", "--nodes", "3", "--save", text(&saved)]);
    let output = Command::new(env!("CARGO_BIN_EXE_pangea-sim"))
        .args(["trace", text(&saved), "--format", "jsonl"])
        .current_dir(&directory)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let exported = std::fs::read_to_string(directory.join("pangea-sim-out/health-seed-4.jsonl")).unwrap();
    assert_eq!(exported, stdout(&jsonl));
    std::fs::remove_dir_all(&directory).ok();
}

/// The whole story of the README with a planted bug: sweep, see the failure, replay it, shrink it,
/// replay the shrunk file, draw it. Only with `--features planted-bugs`.
#[cfg(feature = "planted-bugs")]
#[test]
fn a_planted_bug_is_caught_replayed_shrunk_and_drawn() {
    let directory = scratch("planted");
    let failures = directory.join("failures");
    let sweep = pangea_sim(&[
        "sweep",
        "health",
        "--seeds",
        "0..4",
        "--plant",
        "never-dead",
        "-q",
        "--save-failures",
        text(&failures),
    ]);
    assert_eq!(sweep.status.code(), Some(1), "{}", stderr(&sweep));
    let out = stdout(&sweep);
    let checker_named = out.contains("[completeness]") || out.contains("[suspicion-ends]");
    assert!(out.contains("FAIL (correctness)") && checker_named && out.contains("faults active at"), "{out}");
    assert!(out.contains("replay: cargo run") && out.contains("--expect-hash"), "{out}");
    let failed = failures.join("health-seed-0.json");
    assert!(failed.exists(), "{out}");

    let replay = pangea_sim(&["replay", text(&failed)]);
    assert_eq!(replay.status.code(), Some(1), "{}", stdout(&replay));
    assert!(stdout(&replay).contains("trace hash matched"), "{}", stdout(&replay));

    let shrunk = directory.join("shrunk.json");
    let shrink = pangea_sim(&["shrink", text(&failed), "-o", text(&shrunk)]);
    assert_eq!(shrink.status.code(), Some(0), "{}", stderr(&shrink));
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&shrunk).unwrap()).unwrap();
    let (before, after) =
        (file["shrunk_from"]["trace_records"].as_u64().unwrap(), file["trace_records"].as_u64().unwrap());
    assert!(after * 4 <= before, "{before} -> {after}\n{}", stdout(&shrink));
    let checker = file["failure"]["checker"].as_str().unwrap().to_owned();
    assert!(["completeness", "suspicion-ends"].contains(&checker.as_str()), "{checker}");

    let replay = pangea_sim(&["replay", text(&shrunk)]);
    assert_eq!(replay.status.code(), Some(1), "{}", stdout(&replay));
    assert!(stdout(&replay).contains("the outcome reproduced"), "{}", stdout(&replay));
    assert!(stdout(&replay).contains("trace hash matched"), "{}", stdout(&replay));

    let html = directory.join("shrunk.html");
    let trace = pangea_sim(&["trace", text(&shrunk), "-o", text(&html)]);
    assert_eq!(trace.status.code(), Some(0), "{}", stderr(&trace));
    assert!(std::fs::read_to_string(&html).unwrap().contains(&checker));
    std::fs::remove_dir_all(&directory).ok();
}

//! `pangea-sim check-history` run as a user would, on every fixture in `tests/histories/`: the
//! verdict porcupine's tests (or the fixture's comment) state, its exit code, the JSON report, and
//! clean errors with exit code 2 for input it cannot use.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn pangea_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pangea-sim")).args(args).output().expect("pangea-sim runs")
}

fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "histories", name].iter().collect();
    path.to_str().expect("a UTF-8 path").to_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every fixture, its model, and whether it is linearizable.
const FIXTURES: [(&str, &str, bool); 11] = [
    ("c01-ok.txt", "kv", true),
    ("c01-bad.txt", "kv", false),
    ("etcd_000.log", "cas-register", false),
    ("etcd_001.log", "cas-register", false),
    ("etcd_002.log", "cas-register", true),
    ("etcd_005.log", "cas-register", true),
    ("register-ok.edn", "register", true),
    ("register-bad.edn", "register", false),
    ("independent-cas-bad.edn", "cas-register", false),
    ("pangea-ok.jsonl", "cas-register", true),
    ("pangea-bad.jsonl", "cas-register", false),
];

#[test]
fn every_fixture_gets_its_verdict_and_exit_code() {
    for (name, model, linearizable) in FIXTURES {
        let output = pangea_sim(&["check-history", &fixture(name), "--model", model]);
        let text = stdout(&output);
        let (code, verdict) = if linearizable { (0, "linearizable") } else { (1, "not linearizable") };
        assert_eq!(output.status.code(), Some(code), "{name}: {text}{}", stderr(&output));
        assert_eq!(text.lines().next(), Some(format!("verdict: {verdict}").as_str()), "{name}: {text}");
        assert!(text.contains(&format!("model: {model}, at most 1000000 configurations per key")), "{name}: {text}");
        if !linearizable {
            assert!(text.contains("cannot be ordered consistently with"), "{name}: {text}");
            assert_eq!(text.matches("<- culprit").count(), 1, "{name}: {text}");
            assert!(!text.contains("may not be needed"), "{name}: the evidence should be minimal: {text}");
        }
    }
}

#[test]
fn json_reports_the_same_verdicts() {
    for (name, model, linearizable) in FIXTURES {
        let output = pangea_sim(&["check-history", &fixture(name), "--model", model, "--json"]);
        assert_eq!(output.status.code(), Some(if linearizable { 0 } else { 1 }), "{name}: {}", stderr(&output));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
        let verdict = if linearizable { "linearizable" } else { "not-linearizable" };
        assert_eq!(json["verdict"], verdict, "{name}");
        assert_eq!(json["model"], model, "{name}");
        assert_eq!(json["evidence"].is_null(), linearizable, "{name}");
    }
}

#[test]
fn the_evidence_names_the_operations_that_cannot_be_ordered() {
    let output = pangea_sim(&["check-history", &fixture("independent-cas-bad.edn"), "--model", "cas-register"]);
    let text = stdout(&output);
    assert!(
        text.contains("history: 5 operations on 2 keys (2 cas, 1 read, 2 write; 5 ok, 0 failed, 0 unknown)"),
        "{text}"
    );
    assert!(text.contains("key \"1\" is not linearizable: these 2 operations cannot be ordered"), "{text}");
    assert!(text.contains("  lines 5-7  process 1 key \"1\": cas \"5\" to \"6\" -> swapped\n"), "{text}");
    assert!(text.contains("  lines 11-12  process 2 key \"1\": cas \"5\" to \"8\" -> swapped  <- culprit\n"), "{text}");

    let output = pangea_sim(&["check-history", &fixture("etcd_000.log"), "--model", "cas-register", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(json["format"], "porcupine");
    assert_eq!(json["counts"]["info"], 16);
    assert_eq!(json["evidence"]["culprit_line"], 85);
    assert_eq!(json["evidence"]["minimal"], true);
}

#[test]
fn the_format_can_be_given_and_standard_input_read() {
    let output =
        pangea_sim(&["check-history", &fixture("c01-bad.txt"), "--model", "kv", "--format", "porcupine", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(json["format"], "porcupine");

    let mut child = Command::new(env!("CARGO_BIN_EXE_pangea-sim"))
        .args(["check-history", "-", "--model", "register"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pangea-sim runs");
    let history = std::fs::read(fixture("register-ok.edn")).expect("the fixture");
    child.stdin.take().expect("standard input").write_all(&history).expect("written");
    let output = child.wait_with_output().expect("pangea-sim ends");
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).starts_with("verdict: linearizable\n"));
}

#[test]
fn a_search_out_of_budget_exits_6() {
    let output =
        pangea_sim(&["check-history", &fixture("etcd_000.log"), "--model", "cas-register", "--states-max", "1"]);
    assert_eq!(output.status.code(), Some(6), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("verdict: unknown (the search ran out of budget)\n"));
    let help = stdout(&pangea_sim(&["check-history", "--help"]));
    assert!(help.contains("6 the search ran") && help.contains("--states-max"), "{help}");
    let help = stdout(&pangea_sim(&["--help"]));
    assert!(help.contains("check-history") && help.contains("6 a `check-history` whose search ran out"), "{help}");
}

#[test]
fn unusable_input_is_a_clear_error_with_exit_code_2() {
    let scratch = std::env::temp_dir().join(format!("pangea-check-history-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let write = |name: &str, text: &[u8]| {
        let path = scratch.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let malformed =
        write("malformed.edn", b"{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read, :value [1\n");
    let binary = write("binary.log", b"\x00\xff\xfe\n");
    let empty = write("empty.jsonl", b"\n\n");
    let missing = scratch.join("missing.edn").to_str().unwrap().to_owned();
    let etcd = fixture("etcd_000.log");
    let cases: [(Vec<&str>, &str); 8] = [
        (
            vec![&malformed, "--model", "register"],
            "malformed.edn: line 3: the text ends inside a vector (in the event that starts on line 2)",
        ),
        (vec![&binary, "--model", "register"], "binary.log: line 1 is not UTF-8 text"),
        (vec![&empty, "--model", "kv"], "empty.jsonl: the file holds no operation"),
        (vec![&missing, "--model", "kv"], "cannot read the history"),
        (vec![&etcd, "--model", "register"], "line 19: cas is not an operation of the register model"),
        (vec![&etcd, "--model", "queue"], "unknown model 'queue'"),
        (vec![&etcd, "--model", "kv", "--format", "csv"], "unknown format 'csv'"),
        (vec![&etcd, "--model", "kv", "--states-max", "0"], "--states-max must be at least 1"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["check-history"];
        all.extend(args.iter().copied());
        let output = pangea_sim(&all);
        assert_eq!(output.status.code(), Some(2), "{all:?}: {}", stdout(&output));
        assert!(stderr(&output).contains(expected), "{all:?}: {}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{all:?}");
    }
    let wrong_format =
        pangea_sim(&["check-history", &fixture("register-ok.edn"), "--model", "register", "--format", "jsonl"]);
    assert_eq!(wrong_format.status.code(), Some(2));
    assert!(
        stderr(&wrong_format).contains("register-ok.edn: line 1: not a history record"),
        "{}",
        stderr(&wrong_format)
    );
    std::fs::remove_dir_all(&scratch).ok();
}

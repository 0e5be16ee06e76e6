//! Whole files: format detection, the file-wide limits, checking against each model, the reports,
//! and that no input makes reading panic.

use super::*;
use proptest::prelude::*;

const REGISTER_OK: &str = include_str!("../../tests/histories/register-ok.edn");
const REGISTER_BAD: &str = include_str!("../../tests/histories/register-bad.edn");
const PANGEA_BAD: &str = include_str!("../../tests/histories/pangea-bad.jsonl");
const ETCD_000: &str = include_str!("../../tests/histories/etcd_000.log");
const C01_BAD: &str = include_str!("../../tests/histories/c01-bad.txt");

fn read(text: &str) -> Result<History, HistoryFileError> {
    parse_history(text.as_bytes(), None, &Limits::default())
}

fn checked(text: &str, model: ModelKind) -> CheckReport {
    check_history(&read(text).unwrap(), model, crate::model::CONFIGURATIONS_MAX).unwrap()
}

#[test]
fn the_format_is_told_by_the_first_line_that_is_not_blank() {
    assert_eq!(detect_format("\n  \n{:type :invoke}").unwrap(), Format::Edn);
    assert_eq!(detect_format("[{:type :invoke}]").unwrap(), Format::Edn);
    assert_eq!(detect_format("; comment\n").unwrap(), Format::Edn);
    assert_eq!(detect_format("#jepsen.history.Op{}").unwrap(), Format::Edn);
    assert_eq!(detect_format("{ \"client\": 1}").unwrap(), Format::Jsonl);
    assert_eq!(detect_format("INFO  jepsen.util - 0\t:invoke\t:read\tnil").unwrap(), Format::Porcupine);
    assert_eq!(detect_format("INFO: 2018/05/23 10:55:30 {:process 0}").unwrap(), Format::Porcupine);
    assert!(matches!(detect_format(" \n\t\n"), Err(HistoryFileError::Empty)));
    assert_eq!(
        detect_format("\nprocess,type,f\n").unwrap_err().to_string(),
        "cannot tell the format from line 2 (process,type,f); give --format edn, porcupine or jsonl"
    );
    for format in [Format::Edn, Format::Porcupine, Format::Jsonl] {
        assert_eq!(format.name().parse::<Format>(), Ok(format));
    }
    assert!("csv".parse::<Format>().is_err());
}

#[test]
fn a_given_format_overrides_detection() {
    // porcupine's key/value logs without Go's prefix are Jepsen maps: EDN, or porcupine's format.
    let edn = parse_history(C01_BAD.as_bytes(), None, &Limits::default()).unwrap();
    let porcupine = parse_history(C01_BAD.as_bytes(), Some(Format::Porcupine), &Limits::default()).unwrap();
    assert_eq!((edn.format, porcupine.format), (Format::Edn, Format::Porcupine));
    assert_eq!(edn.operations, porcupine.operations);
    let error = parse_history(REGISTER_OK.as_bytes(), Some(Format::Jsonl), &Limits::default()).unwrap_err();
    assert!(error.to_string().starts_with("line 1: not a history record"), "{error}");
}

#[test]
fn file_wide_limits_and_text() {
    let limits = Limits { file_bytes_max: 100, line_bytes_max: 20, ..Limits::default() };
    assert!(matches!(
        parse_history(&[b' '; 101], None, &limits),
        Err(HistoryFileError::FileTooLarge { bytes: 101, limit: 100 })
    ));
    let long_line = format!("{{:process 0}}\n{}\n", "x".repeat(21));
    assert!(matches!(
        parse_history(long_line.as_bytes(), None, &limits),
        Err(HistoryFileError::LineTooLong { line: 2, bytes: 21, limit: 20 })
    ));
    assert!(matches!(
        parse_history(b"{:process 0}\n\n\xff\xfe", None, &Limits::default()),
        Err(HistoryFileError::NotText { line: 3 })
    ));
    assert!(matches!(read(""), Err(HistoryFileError::Empty)));
    assert!(matches!(read("{:process :nemesis, :type :info, :f :start}"), Err(HistoryFileError::Empty)));
}

#[test]
fn each_model_checks_what_it_takes() {
    assert_eq!(checked(REGISTER_OK, ModelKind::Register).verdict, Verdict::Linearizable);
    assert_eq!(checked(REGISTER_OK, ModelKind::Kv).verdict, Verdict::Linearizable);
    assert_eq!(checked(REGISTER_BAD, ModelKind::Register).verdict, Verdict::NotLinearizable);
    assert_eq!(checked(ETCD_000, ModelKind::CasRegister).verdict, Verdict::NotLinearizable);
    assert_eq!(checked(C01_BAD, ModelKind::Kv).verdict, Verdict::NotLinearizable);
    let error = check_history(&read(ETCD_000).unwrap(), ModelKind::Register, 1_000).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 19: cas is not an operation of the register model (it takes read, write and remove; cas needs \
         --model cas-register, append --model kv)"
    );
    let error = check_history(&read(C01_BAD).unwrap(), ModelKind::CasRegister, 1_000).unwrap_err();
    assert!(error.to_string().starts_with("line 1: append is not an operation of the cas-register model"));
}

#[test]
fn a_search_out_of_budget_is_undecided_not_a_verdict() {
    let report = check_history(&read(ETCD_000).unwrap(), ModelKind::CasRegister, 1).unwrap();
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(report.unknown_keys, [None]);
    assert_eq!(report.evidence, None);
    let text = render_text(&read(ETCD_000).unwrap(), &report);
    assert!(text.starts_with("verdict: unknown (the search ran out of budget)\n"), "{text}");
    assert!(text.contains("the search ran out of budget on the register (--states-max raises the budget)"), "{text}");
}

#[test]
fn the_evidence_is_the_fewest_operations_that_cannot_be_ordered() {
    let history = read(REGISTER_BAD).unwrap();
    let report = check_history(&history, ModelKind::Register, 1_000_000).unwrap();
    let evidence = report.evidence.clone().unwrap();
    assert_eq!((evidence.minimal, evidence.earliest), (true, true));
    assert_eq!(evidence.operations, [0, 1, 2]);
    assert_eq!(evidence.culprit, 2);
    let text = render_text(&history, &report);
    assert!(text.starts_with("verdict: not linearizable\nhistory: 3 operations on 1 key (1 read, 2 write; 3 ok, 0 failed, 0 unknown) in 7 lines of edn\n"), "{text}");
    assert!(text.contains("the register is not linearizable: these 3 operations cannot be ordered"), "{text}");
    assert!(text.contains("  lines 6-7  process 2: read -> \"1\"  <- culprit\n"), "{text}");

    // c01-bad: one stale read of key 7, after the append it misses.
    let history = read(C01_BAD).unwrap();
    let report = check_history(&history, ModelKind::Kv, 1_000_000).unwrap();
    let evidence = report.evidence.clone().unwrap();
    assert_eq!(evidence.key.as_deref(), Some("7"));
    let cited: Vec<usize> = evidence.operations.iter().map(|&position| history.operations[position].line).collect();
    assert_eq!(cited, [55, 59]);
    assert_eq!(report.not_linearizable_keys, [Some("7".to_owned())]);
}

#[test]
fn the_json_report_holds_the_verdict_and_the_cited_operations_whole() {
    let history = read(PANGEA_BAD).unwrap();
    let report = check_history(&history, ModelKind::CasRegister, 1_000_000).unwrap();
    let json: serde_json::Value = serde_json::from_str(&render_json(&history, &report)).unwrap();
    assert_eq!(json["verdict"], "not-linearizable");
    assert_eq!(json["model"], "cas-register");
    assert_eq!(json["format"], "jsonl");
    assert_eq!(json["counts"]["operations"], 5);
    assert_eq!(json["counts"]["calls"]["remove"], 1);
    assert_eq!(json["not_linearizable_keys"], serde_json::json!(["k1"]));
    assert_eq!(json["evidence"]["culprit_line"], 5);
    let cited = json["evidence"]["operations"].as_array().unwrap();
    assert_eq!(cited.len(), 3);
    assert_eq!(cited[2]["f"], "read");
    assert_eq!(cited[2]["culprit"], true);
    assert_eq!(cited[2]["ending"]["output"]["value"], "a");
    assert_eq!(cited[0]["value"], "a");
    let ok = read(REGISTER_OK).unwrap();
    let report = check_history(&ok, ModelKind::Register, 1_000_000).unwrap();
    let json: serde_json::Value = serde_json::from_str(&render_json(&ok, &report)).unwrap();
    assert_eq!((json["verdict"].as_str(), json["skipped"].as_u64()), (Some("linearizable"), Some(1)));
    assert!(json["evidence"].is_null());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Any bytes, in any format or detected: an error or a history, never a panic.
    #[test]
    fn no_input_makes_reading_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), format in 0..4u8) {
        let format = [None, Some(Format::Edn), Some(Format::Porcupine), Some(Format::Jsonl)][usize::from(format)];
        let _ = parse_history(&bytes, format, &Limits::default());
    }

    /// Real histories with a few bytes changed: an error or a history that checks, never a panic.
    #[test]
    fn no_damaged_history_makes_reading_or_checking_panic(
        file in 0..4usize,
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![
            Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b':'), Just(b'\\'),
            Just(b'\n'), Just(b'\t'), Just(b' '), Just(b'1'), Just(b'#'), Just(b';'), any::<u8>(),
        ]), 1..6),
    ) {
        let mut bytes = [REGISTER_OK, PANGEA_BAD, ETCD_000, C01_BAD][file].as_bytes().to_vec();
        for (index, byte) in edits {
            let at = index.index(bytes.len());
            bytes[at] = byte;
        }
        if let Ok(history) = parse_history(&bytes, None, &Limits::default()) {
            for model in [ModelKind::Register, ModelKind::CasRegister, ModelKind::Kv] {
                if let Ok(report) = check_history(&history, model, 2_000) {
                    let _ = render_text(&history, &report);
                    let _ = render_json(&history, &report);
                }
            }
        }
    }
}

//! Pangea's JSONL records: every function and ending round trips, absence and `null` differ, and
//! records whose fields contradict each other are refused.

use super::*;

fn record(f: RecordFunction, outcome: RecordType) -> HistoryRecord {
    HistoryRecord {
        client: 3,
        key: "k1".to_owned(),
        f,
        value: None,
        expected: None,
        invoke_ns: 100,
        complete_ns: (outcome == RecordType::Ok).then_some(200),
        outcome,
        read: None,
        succeeded: None,
    }
}

/// A record of every function and ending, each consistent.
fn every_record() -> Vec<HistoryRecord> {
    let mut records = Vec::new();
    for outcome in [RecordType::Ok, RecordType::Fail, RecordType::Info] {
        let ok = outcome == RecordType::Ok;
        records.push(HistoryRecord { value: Some(Some("v".to_owned())), ..record(RecordFunction::Put, outcome) });
        records.push(HistoryRecord { value: Some(Some("+".to_owned())), ..record(RecordFunction::Append, outcome) });
        records.push(HistoryRecord { read: ok.then_some(None), ..record(RecordFunction::Get, outcome) });
        records.push(HistoryRecord { read: ok.then(|| Some("v".to_owned())), ..record(RecordFunction::Get, outcome) });
        records.push(record(RecordFunction::Remove, outcome));
        for (expected, value) in [(None, Some("n")), (Some("e"), None)] {
            records.push(HistoryRecord {
                expected: Some(expected.map(str::to_owned)),
                value: Some(value.map(str::to_owned)),
                succeeded: ok.then_some(true),
                ..record(RecordFunction::Cas, outcome)
            });
        }
    }
    records
}

#[test]
fn every_record_round_trips_through_a_line() {
    for record in every_record() {
        let line = record.to_line();
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(HistoryRecord::from_line(&line).unwrap(), record, "{line}");
    }
}

#[test]
fn absence_and_null_differ() {
    let cas = HistoryRecord {
        expected: Some(None),
        value: Some(Some("n".to_owned())),
        succeeded: Some(false),
        ..record(RecordFunction::Cas, RecordType::Ok)
    };
    let line = cas.to_line();
    assert_eq!(
        line,
        r#"{"client":3,"key":"k1","f":"cas","value":"n","expected":null,"invoke_ns":100,"complete_ns":200,"type":"ok","succeeded":false}"#
    );
    let get = HistoryRecord { read: Some(None), ..record(RecordFunction::Get, RecordType::Ok) };
    assert_eq!(
        get.to_line(),
        r#"{"client":3,"key":"k1","f":"get","invoke_ns":100,"complete_ns":200,"type":"ok","read":null}"#
    );
    // A get whose read is missing is not one that read absence.
    let missing = r#"{"client":3,"key":"k1","f":"get","invoke_ns":100,"complete_ns":200,"type":"ok"}"#;
    assert!(matches!(HistoryRecord::from_line(missing), Err(RecordError::Inconsistent(_))));
    let operation = HistoryRecord::from_line(&get.to_line()).unwrap().operation(7);
    assert_eq!(operation.ending, Ending::Ok { at: 200, line: 7, output: Output::Value(None) });
}

#[test]
fn reads_the_lines_the_nemesis_tool_writes() {
    // The nemesis tool's recorder leaves out the value of a cas that removes the key.
    let line =
        r#"{"client":0,"key":"k","f":"cas","expected":"a","invoke_ns":5,"complete_ns":9,"type":"ok","succeeded":true}"#;
    let operation = HistoryRecord::from_line(line).unwrap().operation(1);
    assert_eq!(operation.call, Call::Cas { expected: Some("a".to_owned()), new: None });
    assert_eq!(operation.ending, Ending::Ok { at: 9, line: 1, output: Output::Swapped(true) });
    let info = r#"{"client":1,"key":"k","f":"put","value":"x","invoke_ns":5,"type":"info"}"#;
    let operation = HistoryRecord::from_line(info).unwrap().operation(2);
    assert_eq!(
        (operation.call, operation.ending),
        (Call::Write { value: "x".to_owned() }, Ending::Info { line: Some(2) })
    );
}

#[test]
fn records_whose_fields_contradict_each_other_are_refused() {
    let put = || HistoryRecord { value: Some(Some("v".to_owned())), ..record(RecordFunction::Put, RecordType::Ok) };
    let cas = || HistoryRecord {
        expected: Some(None),
        value: Some(None),
        succeeded: Some(true),
        ..record(RecordFunction::Cas, RecordType::Ok)
    };
    let get = || HistoryRecord { read: Some(None), ..record(RecordFunction::Get, RecordType::Ok) };
    let refused = [
        (HistoryRecord { complete_ns: None, ..put() }, "an ok operation needs complete_ns"),
        (HistoryRecord { outcome: RecordType::Fail, ..put() }, "only an ok operation has complete_ns"),
        (HistoryRecord { complete_ns: Some(99), ..put() }, "complete_ns is before invoke_ns"),
        (HistoryRecord { value: None, ..put() }, "put and append need a value"),
        (HistoryRecord { value: Some(None), ..put() }, "put and append need a value"),
        (HistoryRecord { value: Some(Some("v".to_owned())), ..get() }, "get and remove have no value"),
        (HistoryRecord { expected: None, ..cas() }, "a cas needs expected (null: the key must be absent)"),
        (HistoryRecord { expected: Some(None), ..put() }, "only a cas has expected"),
        (HistoryRecord { read: None, ..get() }, "an ok get needs read (null: the key was absent)"),
        (HistoryRecord { read: Some(None), ..put() }, "only an ok get has read"),
        (HistoryRecord { succeeded: None, ..cas() }, "an ok cas needs succeeded"),
        (HistoryRecord { succeeded: Some(true), ..get() }, "only an ok cas has succeeded"),
    ];
    for (record, reason) in refused {
        let line = serde_json::to_string(&record).unwrap();
        match HistoryRecord::from_line(&line) {
            Err(RecordError::Inconsistent(found)) => assert_eq!(found, reason, "{line}"),
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn malformed_lines_are_errors_with_their_line_number() {
    let good = r#"{"client":1,"key":"k","f":"remove","invoke_ns":1,"complete_ns":2,"type":"ok"}"#;
    let error = |text: &str| parse(text, &Limits::default()).unwrap_err().to_string();
    assert!(error(&format!("{good}\n\n{{\"client\":1")).starts_with("line 3: not a history record: "));
    assert!(error(&format!("{good}\nnot json")).starts_with("line 2: not a history record: "));
    assert!(
        error(r#"{"client":1,"key":"k","f":"remove","invoke_ns":1,"type":"info","colour":"red"}"#)
            .contains("unknown field")
    );
    assert!(error(r#"{"client":1,"key":"k","f":"delete","invoke_ns":1,"type":"info"}"#).contains("unknown variant"));
    assert!(error(r#"{"client":-1,"key":"k","f":"remove","invoke_ns":1,"type":"info"}"#).starts_with("line 1"));
    assert_eq!(
        error(r#"{"client":1,"key":"k","f":"remove","invoke_ns":1,"type":"fail","complete_ns":3}"#),
        "line 1: only an ok operation has complete_ns"
    );
}

#[test]
fn records_are_read_in_invocation_order_within_the_limits() {
    let line = |client: u64, invoke_ns: u64| {
        HistoryRecord { client, invoke_ns, ..record(RecordFunction::Remove, RecordType::Info) }.to_line()
    };
    let text = format!("{}\n\n{}\n{}\n", line(1, 30), line(2, 10), line(3, 30));
    let operations = parse(&text, &Limits::default()).unwrap();
    assert_eq!(
        operations.iter().map(|operation| (operation.process, operation.line)).collect::<Vec<_>>(),
        [(2, 3), (1, 1), (3, 4)]
    );
    let limits = Limits { operations_max: 2, value_bytes_max: 3, ..Limits::default() };
    assert!(matches!(parse(&text, &limits), Err(HistoryFileError::TooManyOperations { limit: 2 })));
    let long = HistoryRecord { value: Some(Some("long".to_owned())), ..record(RecordFunction::Put, RecordType::Info) };
    assert!(matches!(
        parse(&long.to_line(), &limits),
        Err(HistoryFileError::ValueTooLong { line: 1, bytes: 4, limit: 3 })
    ));
}

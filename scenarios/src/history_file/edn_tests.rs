//! The EDN reader on every kind of value and on malformed text, and Jepsen histories read from it.

use super::super::operation::{Call, Ending, Output};
use super::*;

fn read_one(text: &str) -> Result<Edn, EdnError> {
    Reader::new(text).value(1)
}

fn history(text: &str) -> Result<(Vec<Operation>, usize), HistoryFileError> {
    parse(text, &Limits::default())
}

#[test]
fn reads_every_kind_of_value() {
    assert_eq!(read_one("nil"), Ok(Edn::Nil));
    assert_eq!(read_one("true"), Ok(Edn::Bool(true)));
    assert_eq!(read_one("false"), Ok(Edn::Bool(false)));
    assert_eq!(read_one("-42"), Ok(Edn::Int(-42)));
    assert_eq!(read_one("+7"), Ok(Edn::Int(7)));
    assert_eq!(read_one("12N"), Ok(Edn::Int(12)));
    assert_eq!(read_one("1.5e3"), Ok(Edn::Float("1.5e3".to_owned())));
    assert_eq!(read_one("2.5M"), Ok(Edn::Float("2.5M".to_owned())));
    assert_eq!(read_one(r#""a\"b\\c\n\t\u00e9""#), Ok(Edn::Str("a\"b\\c\n\té".to_owned())));
    assert_eq!(read_one("\"héllo\""), Ok(Edn::Str("héllo".to_owned())));
    assert_eq!(read_one(":timed-out"), Ok(Edn::Keyword("timed-out".to_owned())));
    assert_eq!(read_one(":jepsen.history/op"), Ok(Edn::Keyword("jepsen.history/op".to_owned())));
    assert_eq!(read_one("a-symbol?"), Ok(Edn::Symbol("a-symbol?".to_owned())));
    assert_eq!(read_one("[1, 2 ,3]"), Ok(Edn::Vector(vec![Edn::Int(1), Edn::Int(2), Edn::Int(3)])));
    assert_eq!(read_one("(:a nil)"), Ok(Edn::List(vec![Edn::Keyword("a".to_owned()), Edn::Nil])));
    assert_eq!(read_one("#{1}"), Ok(Edn::Set(vec![Edn::Int(1)])));
    assert_eq!(
        read_one("{:a 1, \"b\" [2]}"),
        Ok(Edn::Map(vec![
            (Edn::Keyword("a".to_owned()), Edn::Int(1)),
            (Edn::Str("b".to_owned()), Edn::Vector(vec![Edn::Int(2)])),
        ]))
    );
    // Comments, discards and tags.
    assert_eq!(read_one("; a comment\n #_ :dropped [1 #_2 3]"), Ok(Edn::Vector(vec![Edn::Int(1), Edn::Int(3)])));
    assert_eq!(read_one("#jepsen.history.Op{:index 3}").map(|op| op.get("index").cloned()), Ok(Some(Edn::Int(3))));
    assert_eq!(read_one("#inst \"2018-05-23\""), Ok(Edn::Str("2018-05-23".to_owned())));
}

#[test]
fn malformed_edn_is_an_error_with_its_line() {
    let error = |text: &str| read_one(text).unwrap_err();
    assert_eq!(
        error("\n\n\"unclosed"),
        EdnError { line: 3, kind: EdnErrorKind::UnexpectedEnd("a string"), started: None }
    );
    assert_eq!(error("[1 2"), EdnError { line: 1, kind: EdnErrorKind::UnexpectedEnd("a vector"), started: None });
    assert_eq!(error("{:a 1\n:b}"), EdnError { line: 2, kind: EdnErrorKind::OddMap, started: None });
    assert_eq!(error("{:a 1"), EdnError { line: 1, kind: EdnErrorKind::UnexpectedEnd("a map"), started: None });
    assert_eq!(error("\"\\q\"").kind, EdnErrorKind::BadEscape('q'));
    assert_eq!(error("\"\\u12\"").kind, EdnErrorKind::BadEscape('u'));
    assert_eq!(error("\"\\ud800\"").kind, EdnErrorKind::BadEscape('u'));
    assert_eq!(error("99999999999999999999").kind, EdnErrorKind::BadNumber("99999999999999999999".to_owned()));
    assert_eq!(error("1/2").kind, EdnErrorKind::BadNumber("1/2".to_owned()));
    assert_eq!(error("]").kind, EdnErrorKind::UnexpectedChar(']'));
    assert_eq!(error(":").kind, EdnErrorKind::UnexpectedChar('\u{fffd}'));
    assert_eq!(error("\\a").kind, EdnErrorKind::CharacterLiteral);
    assert_eq!(error("#").kind, EdnErrorKind::UnexpectedEnd("a tagged value"));
    assert_eq!(error("").kind, EdnErrorKind::UnexpectedEnd("a value"));
    assert_eq!(error("@x").kind, EdnErrorKind::UnexpectedChar('@'));
}

#[test]
fn nesting_is_bounded_so_no_input_exhausts_the_stack() {
    let deep = "[".repeat(EDN_DEPTH_MAX - 1) + &"]".repeat(EDN_DEPTH_MAX - 1);
    assert!(read_one(&deep).is_ok());
    for text in ["[".repeat(EDN_DEPTH_MAX + 1), "[".repeat(100_000), "#_".repeat(100_000), "{:a ".repeat(50_000)] {
        assert_eq!(read_one(&text).unwrap_err().kind, EdnErrorKind::TooDeep(EDN_DEPTH_MAX));
    }
}

#[test]
fn a_history_is_a_map_an_event_or_one_vector_of_them() {
    let lines = "{:type :invoke, :f :write, :value 3, :process 0, :time 123}\n\
                 {:type :ok, :f :write, :value 3, :process 0}\n";
    let (operations, skipped) = history(lines).unwrap();
    assert_eq!(skipped, 0);
    assert_eq!(operations.len(), 1);
    assert_eq!(operations[0].call, Call::Write { value: "3".to_owned() });
    assert_eq!(operations[0].ending, Ending::Ok { at: 1, line: 2, output: Output::Done });
    let vector = format!("[{lines}]");
    assert_eq!(history(&vector).unwrap().0, operations);
    assert_eq!(history("[]").unwrap().0, Vec::new());
    assert_eq!(
        history(&format!("[{lines}] {{}}")).unwrap_err().to_string(),
        "line 3: text after the vector that holds the history"
    );
    assert!(matches!(history("[{:type :invoke, :f :read, :process 0}"), Err(HistoryFileError::Edn(_))));
    // An unclosed map runs on into the next lines; the error says where it started.
    let unclosed = "{:type :invoke, :f :read, :process 0\n{:type :ok, :f :read, :process 0}\n";
    assert_eq!(
        history(unclosed).unwrap_err().to_string(),
        "line 3: the text ends inside a map (in the event that starts on line 1)"
    );
}

#[test]
fn every_operation_and_every_ending() {
    let text = r#"
        {:process 0, :type :invoke, :f :read, :value nil}
        {:process 0, :type :ok, :f :read, :value 5}
        {:process 1, :type :invoke, :f :write, :value "five"}
        {:process 1, :type :fail, :f :write, :value "five"}
        {:process 2, :type :invoke, :f :cas, :value [5 nil]}
        {:process 2, :type :ok, :f :cas, :value [5 nil]}
        {:process 3, :type :invoke, :f :append, :value "x"}
        {:process 3, :type :info, :f :append, :value "x", :error :timeout}
        {:process 4, :type :invoke, :f :remove}
        {:process :nemesis, :type :info, :f :kill, :value :majority}
        {:process 5, "type" :invoke, :type :invoke, :f "get", :value nil}
        {:process 5, :type :ok, :f :get, :value nil}
    "#;
    let (operations, skipped) = history(text).unwrap();
    assert_eq!(skipped, 1);
    let calls: Vec<&Call> = operations.iter().map(|operation| &operation.call).collect();
    assert_eq!(
        calls,
        [
            &Call::Read,
            &Call::Write { value: "five".to_owned() },
            &Call::Cas { expected: Some("5".to_owned()), new: None },
            &Call::Append { value: "x".to_owned() },
            &Call::Remove,
            &Call::Read,
        ]
    );
    let endings: Vec<&Ending> = operations.iter().map(|operation| &operation.ending).collect();
    assert_eq!(
        endings,
        [
            &Ending::Ok { at: 1, line: 3, output: Output::Value(Some("5".to_owned())) },
            &Ending::Fail { line: 5 },
            &Ending::Ok { at: 5, line: 7, output: Output::Swapped(true) },
            &Ending::Info { line: Some(9) },
            &Ending::Info { line: None },
            &Ending::Ok { at: 10, line: 13, output: Output::Value(None) },
        ]
    );
    assert_eq!(operations.iter().map(|operation| operation.process).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn keys_come_from_key_or_from_independent_tuples() {
    let text = r#"
        {:process 0, :type :invoke, :f :write, :value [1 5]}
        {:process 0, :type :ok, :f :write, :value [1 5]}
        {:process 1, :type :invoke, :f :cas, :value [2 [5 6]]}
        {:process 1, :type :ok, :f :cas, :value [2 [5 6]]}
        {:process 2, :type :invoke, :f :read, :value [:k nil]}
        {:process 2, :type :ok, :f :read, :value [:k 9]}
        {:process 3, :type :invoke, :f :cas, :value [5 6]}
        {:process 4, :type :invoke, :f :get, :key "a", :value nil}
        {:process 4, :type :ok, :f :get, :key "a", :value "x 0 1 y"}
    "#;
    let (operations, _) = history(text).unwrap();
    let keys: Vec<Option<&str>> = operations.iter().map(|operation| operation.key.as_deref()).collect();
    assert_eq!(keys, [Some("1"), Some("2"), Some(":k"), None, Some("a")]);
    assert_eq!(operations[1].call, Call::Cas { expected: Some("5".to_owned()), new: Some("6".to_owned()) });
    assert_eq!(operations[2].ending, Ending::Ok { at: 5, line: 7, output: Output::Value(Some("9".to_owned())) });
    assert_eq!(operations[3].call, Call::Cas { expected: Some("5".to_owned()), new: Some("6".to_owned()) });
    let differs =
        "{:process 0, :type :invoke, :f :read, :value [1 nil]}\n{:process 0, :type :ok, :f :read, :value [2 3]}";
    assert_eq!(
        history(differs).unwrap_err().to_string(),
        "line 2: the completion's key differs from its invocation's (line 1)"
    );
}

#[test]
fn events_that_make_no_sense_are_errors_with_their_line() {
    let error = |text: &str| history(text).unwrap_err().to_string();
    let invoke = "{:process 0, :type :invoke, :f :write, :value 1}\n";
    assert_eq!(
        error("[1 2]"),
        "line 1: an event must be a map, like {:type :invoke, :f :read, :value nil, :process 0}"
    );
    assert_eq!(error("{:type :invoke, :f :read}"), "line 1: the event has no :process");
    assert_eq!(error("{:process 0, :f :read}"), "line 1: the event has no :type");
    assert_eq!(error("{:process 0, :type :invoke}"), "line 1: the event has no :f");
    assert_eq!(error("{:process -1, :type :invoke, :f :read}"), "line 1: :process must be a number from 0");
    assert_eq!(
        error("{:process 0, :type :done, :f :read}"),
        "line 1: unknown :type :done (known: :invoke, :ok, :fail, :info)"
    );
    assert!(error("{:process 0, :type :invoke, :f :txn}").starts_with("line 1: unknown :f :txn"));
    assert!(error("{:process 0, :type :invoke, :f 3}").starts_with("line 1: unknown :f 3"));
    assert_eq!(
        error(&format!("{invoke}{invoke}")),
        "line 2: process 0 invokes an operation while its operation of line 1 is still pending"
    );
    assert_eq!(
        error("{:process 0, :type :ok, :f :read, :value 1}"),
        "line 1: process 0 completes an operation it did not invoke"
    );
    assert_eq!(
        error(&format!("{invoke}{{:process 0, :type :ok, :f :read, :value 1}}")),
        "line 2: the completion's :f differs from its invocation's (line 1)"
    );
    assert_eq!(
        error("{:process 0, :type :invoke, :f :write, :value nil}"),
        "line 1: a write or append needs a value (a string or an integer)"
    );
    assert_eq!(
        error("{:process 0, :type :invoke, :f :cas, :value 3}"),
        "line 1: a compare-and-set's value must be [old new]"
    );
    assert_eq!(
        error("{:process 0, :type :invoke, :f :write, :value {:a 1}}"),
        "line 1: a value must be a string, a number, a keyword or nil"
    );
    assert_eq!(
        error(
            "{:process 0, :type :invoke, :f :read, :value [1 nil]}\n{:process 0, :type :ok, :f :read, :value [1 [2]]}"
        ),
        "line 2: a value must be a string, a number, a keyword or nil"
    );
}

#[test]
fn values_and_operations_are_bounded() {
    let limits = Limits { value_bytes_max: 4, operations_max: 2, ..Limits::default() };
    let write = |value: &str| format!("{{:process 0, :type :invoke, :f :write, :value \"{value}\"}}");
    assert!(parse(&write("four"), &limits).is_ok());
    assert_eq!(
        parse(&write("fives"), &limits).unwrap_err().to_string(),
        "line 1: a key or value of 5 bytes, over the limit of 4 bytes"
    );
    let key = "{:process 0, :type :invoke, :f :read, :key \"long key\"}";
    assert!(matches!(parse(key, &limits), Err(HistoryFileError::ValueTooLong { line: 1, bytes: 8, limit: 4 })));
    let reads: String = (0..3).map(|process| format!("{{:process {process}, :type :invoke, :f :read}}\n")).collect();
    assert!(matches!(parse(&reads, &limits), Err(HistoryFileError::TooManyOperations { limit: 2 })));
}

//! porcupine's logs: Jepsen's etcd lines of every type and function, the key/value maps with and
//! without Go's log prefix, and lines that belong to neither.

use super::super::operation::{Call, Ending, Output};
use super::*;

fn history(text: &str) -> Result<(Vec<Operation>, usize), HistoryFileError> {
    parse(text, &Limits::default())
}

#[test]
fn etcd_lines_of_every_type_and_function() {
    let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
                INFO  jepsen.util - 1\t:invoke\t:write\t3\n\
                INFO  jepsen.util - 2\t:invoke\t:cas\t[1 4]\n\
                INFO  jepsen.util - 1\t:ok\t:write\t3\n\
                INFO  jepsen.util - 2\t:fail\t:cas\t[1 4]\n\
                INFO  jepsen.util - 3\t:invoke\t:cas\t[3 4]\n\
                INFO  jepsen.util - 3\t:ok\t:cas\t[3 4]\n\
                INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n\
                INFO  jepsen.util - 4\t:invoke\t:write\t0\n\
                INFO  jepsen.util - 4\t:info\t:write\t:timed-out\n\
                INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
                INFO  jepsen.core - Worker 1 starting\n\
                INFO  jepsen.util - 9\t:invoke\t:read\tnil\n\
                INFO  jepsen.util - 5\t:invoke\t:write\t1\n\
                INFO  jepsen.util - 9\t:ok\t:read\t4\n";
    let (operations, skipped) = history(text).unwrap();
    assert_eq!(skipped, 2);
    let summary: Vec<(u64, &Call, &Ending)> =
        operations.iter().map(|operation| (operation.process, &operation.call, &operation.ending)).collect();
    let cas = |expected: &str, new: &str| Call::Cas { expected: Some(expected.to_owned()), new: Some(new.to_owned()) };
    let write = |value: &str| Call::Write { value: value.to_owned() };
    assert_eq!(
        summary,
        [
            (0, &Call::Read, &Ending::Ok { at: 1, line: 2, output: Output::Value(None) }),
            (1, &write("3"), &Ending::Ok { at: 4, line: 5, output: Output::Done }),
            // A failed compare-and-set found another value: completed, not swapped.
            (2, &cas("1", "4"), &Ending::Ok { at: 5, line: 6, output: Output::Swapped(false) }),
            (3, &cas("3", "4"), &Ending::Ok { at: 7, line: 8, output: Output::Swapped(true) }),
            (0, &Call::Read, &Ending::Fail { line: 10 }),
            (4, &write("0"), &Ending::Info { line: Some(12) }),
            (9, &Call::Read, &Ending::Ok { at: 14, line: 17, output: Output::Value(Some("4".to_owned())) }),
            (5, &write("1"), &Ending::Info { line: None }),
        ]
    );
}

#[test]
fn key_value_maps_with_or_without_gos_log_prefix() {
    let text = "INFO: 2018/05/23 10:55:30 {:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                {:process 0, :type :ok, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                \n\
                INFO: 2018/05/23 10:55:30.123456 {:process 1, :type :invoke, :f :get, :key \"0\", :value nil}\n\
                INFO: 2018/05/23 10:55:31 {:process 1, :type :ok, :f :get, :key \"0\", :value \"x 0 0 y\"}\n\
                {:process 2, :type :invoke, :f :put, :key \"1\", :value \"z\"}\n";
    let (operations, skipped) = history(text).unwrap();
    assert_eq!(skipped, 0);
    assert_eq!(operations.len(), 3);
    assert_eq!(operations[0].call, Call::Append { value: "x 0 0 y".to_owned() });
    assert_eq!(operations[1].key.as_deref(), Some("0"));
    assert_eq!(operations[1].ending, Ending::Ok { at: 3, line: 5, output: Output::Value(Some("x 0 0 y".to_owned())) });
    assert_eq!(operations[2].call, Call::Write { value: "z".to_owned() });
    assert_eq!(operations[2].ending, Ending::Info { line: None });
}

#[test]
fn lines_of_neither_kind_are_errors_with_their_line() {
    let good = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
    let error = |text: &str| history(text).unwrap_err().to_string();
    let not_a_log_line = "not a line of porcupine's logs (a Jepsen map, or `INFO  jepsen.util - ...`)";
    assert_eq!(error(&format!("{good}hello world")), format!("line 2: {not_a_log_line}"));
    assert_eq!(error(&format!("{good}INFO: yesterday {{:process 0}}")), format!("line 2: {not_a_log_line}"));
    assert_eq!(error("INFO  jepsen.util - 0\t:invoke\t:read\tnil\textra"), "line 1: text after the event");
    assert_eq!(
        error("INFO  jepsen.util - 0\t:invoke\t:frobnicate\tnil").split(" (").next(),
        Some("line 1: unknown :f :frobnicate")
    );
    assert_eq!(error("INFO  jepsen.util - 0\t:invoke\t:cas\t[1"), "line 1: the text ends inside a vector");
    assert_eq!(error("INFO  jepsen.util - -1\t:invoke\t:read\tnil"), "line 1: the process must be a number from 0");
    assert_eq!(
        error(&format!("{good}{good}")),
        "line 2: process 0 invokes an operation while its operation of line 1 is still pending"
    );
    assert_eq!(error("{:process 0, :type :invoke, :f :read} {}"), "line 1: text after the event");
    assert_eq!(error("\n\n{:process 0, :type :invoke, :f :read"), "line 3: the text ends inside a map");
    // A jepsen.util line that is not an operation is another message of that logger.
    assert_eq!(history("INFO  jepsen.util - Relative time begins now").unwrap().1, 1);
}

#[test]
fn looks_like_tells_porcupine_logs() {
    assert!(looks_like("INFO  jepsen.util - 0\t:invoke\t:read\tnil"));
    assert!(looks_like("INFO: 2018/05/23 10:55:30 {:process 0}"));
    assert!(!looks_like("{:process 0, :type :invoke}"));
    assert!(!looks_like("INFO  jepsen.core - starting"));
}

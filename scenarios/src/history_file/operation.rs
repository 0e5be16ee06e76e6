//! The operations of a history file, whatever its format: who called what on which key, when, and
//! how it ended. Jepsen's EDN and porcupine's logs record an operation as two events (an invocation
//! and a completion, matched by process); [`Pairing`] turns those events into [`Operation`]s.

use super::Limits;
use super::error::{EventProblem, HistoryFileError};
use serde::Serialize;
use std::collections::BTreeMap;

/// What an operation asks of the system. Values are text: Jepsen's integers are read as their
/// decimal digits, so the integer `3` and the string `"3"` are the same value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum Call {
    /// Returns the value (Jepsen's `:read`, porcupine's and Pangea's `get`).
    Read,
    /// Sets the value (`:write`, `put`).
    Write {
        /// The value written.
        value: String,
    },
    /// Sets the value to `new` if it is `expected` (`:cas [old new]`, Pangea's `cas`).
    Cas {
        /// The value it must hold (`None`: the key must be absent).
        expected: Option<String>,
        /// The value to set (`None`: remove the key).
        new: Option<String>,
    },
    /// Adds text to the end of the value (porcupine's and Pangea's `append`).
    Append {
        /// The text appended.
        value: String,
    },
    /// Removes the key (Pangea's `remove`).
    Remove,
}

impl Call {
    /// The call's name as the summary counts it: `read`, `write`, `cas`, `append` or `remove`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Call::Read => "read",
            Call::Write { .. } => "write",
            Call::Cas { .. } => "cas",
            Call::Append { .. } => "append",
            Call::Remove => "remove",
        }
    }

    /// True for a call that changes nothing.
    #[must_use]
    pub fn is_read(&self) -> bool {
        matches!(self, Call::Read)
    }
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Output {
    /// A read's value (`None`: absent, Jepsen's `nil`).
    Value(Option<String>),
    /// A write, append or remove is done.
    Done,
    /// Whether a compare-and-set swapped.
    Swapped(bool),
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Ending {
    /// It returned `output` (Jepsen's `:ok`).
    Ok {
        /// When the client saw the answer (nanoseconds, or for event formats the event's position).
        at: u64,
        /// The line of the completion.
        line: usize,
        /// The answer.
        output: Output,
    },
    /// It certainly did not take effect (`:fail`).
    Fail {
        /// The line of the completion.
        line: usize,
    },
    /// It may or may not have taken effect (`:info`, or no completion before the end of the file).
    Info {
        /// The line of the completion, if there was one.
        line: Option<usize>,
    },
}

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// The process (client) that invoked it.
    pub process: u64,
    /// The key it acted on; `None` for a history of a single register.
    pub key: Option<String>,
    /// What it asked.
    #[serde(flatten)]
    pub call: Call,
    /// When it was invoked (nanoseconds, or for event formats the event's position).
    pub invoked_at: u64,
    /// The line of the invocation.
    pub line: usize,
    /// How it ended.
    pub ending: Ending,
}

/// An event's type in Jepsen's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// An event's function, as the file names it (`:read` and `:get` are one function).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    Read,
    Write,
    Cas,
    Append,
    Remove,
}

impl Function {
    /// The function named `name` (a keyword without its colon, or a string).
    pub(crate) fn named(name: &str) -> Option<Function> {
        match name {
            "read" | "get" => Some(Function::Read),
            "write" | "put" => Some(Function::Write),
            "cas" | "compare-and-set" => Some(Function::Cas),
            "append" => Some(Function::Append),
            "remove" | "delete" => Some(Function::Remove),
            _ => None,
        }
    }
}

/// An event's value, decoded for its function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EventValue {
    /// Nothing, or nothing that matters (a read's invocation, a failure's error).
    Nothing,
    /// One value (a write's, an append's, a read's result; `None` for `nil`).
    One(Option<String>),
    /// A compare-and-set's `[old new]`.
    Pair(Option<String>, Option<String>),
}

/// One event of a Jepsen-style history: an invocation or a completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub line: usize,
    pub process: u64,
    pub kind: EventType,
    pub function: Function,
    pub key: Option<String>,
    pub value: EventValue,
}

/// Matches completions to invocations by process, in file order: an event's position is its time.
pub(crate) struct Pairing<'a> {
    limits: &'a Limits,
    operations: Vec<Operation>,
    /// Each process's operation in flight: its position in `operations` and its function.
    pending: BTreeMap<u64, (usize, Function)>,
    /// Events paired so far (the next event's time).
    events: u64,
    /// Whether a `:fail` compare-and-set completed without swapping (porcupine's reading of
    /// Jepsen's etcd logs), instead of not taking effect at all.
    fail_cas_is_not_swapped: bool,
}

impl<'a> Pairing<'a> {
    /// An empty pairing under `limits`.
    pub(crate) fn new(limits: &'a Limits, fail_cas_is_not_swapped: bool) -> Pairing<'a> {
        Pairing { limits, operations: Vec::new(), pending: BTreeMap::new(), events: 0, fail_cas_is_not_swapped }
    }

    /// Takes the next event of the file.
    pub(crate) fn push(&mut self, event: Event) -> Result<(), HistoryFileError> {
        let at = self.events;
        self.events += 1;
        let line = event.line;
        let problem = |problem: EventProblem| HistoryFileError::Event { line, problem };
        if event.kind == EventType::Invoke {
            if let Some(&(index, _)) = self.pending.get(&event.process) {
                let since_line = self.operations[index].line;
                return Err(problem(EventProblem::AlreadyPending { process: event.process, since_line }));
            }
            if self.operations.len() >= self.limits.operations_max {
                return Err(HistoryFileError::TooManyOperations { limit: self.limits.operations_max });
            }
            let call = call_of(&event).map_err(problem)?;
            self.pending.insert(event.process, (self.operations.len(), event.function));
            self.operations.push(Operation {
                process: event.process,
                key: event.key,
                call,
                invoked_at: at,
                line,
                ending: Ending::Info { line: None },
            });
            return Ok(());
        }
        let Some((index, function)) = self.pending.remove(&event.process) else {
            return Err(problem(EventProblem::NotPending { process: event.process }));
        };
        let invocation_line = self.operations[index].line;
        if function != event.function {
            return Err(problem(EventProblem::FunctionDiffers { invocation_line }));
        }
        let operation = &mut self.operations[index];
        if event.key.is_some() && event.key != operation.key {
            return Err(problem(EventProblem::KeyDiffers { invocation_line }));
        }
        operation.ending = match event.kind {
            EventType::Ok => {
                let output = match (&operation.call, event.value) {
                    (Call::Read, EventValue::One(value)) => Output::Value(value),
                    (Call::Read, EventValue::Nothing) => Output::Value(None),
                    (Call::Read, EventValue::Pair(..)) => return Err(problem(EventProblem::ReadOfPair)),
                    (Call::Cas { .. }, _) => Output::Swapped(true),
                    _ => Output::Done,
                };
                Ending::Ok { at, line, output }
            }
            EventType::Fail if self.fail_cas_is_not_swapped && function == Function::Cas => {
                Ending::Ok { at, line, output: Output::Swapped(false) }
            }
            EventType::Fail => Ending::Fail { line },
            EventType::Info | EventType::Invoke => Ending::Info { line: Some(line) },
        };
        Ok(())
    }

    /// The operations, in invocation order; those still in flight end unknown.
    pub(crate) fn finish(self) -> Vec<Operation> {
        self.operations
    }
}

/// The call an invocation makes.
fn call_of(event: &Event) -> Result<Call, EventProblem> {
    let one = |value: &EventValue| match value {
        EventValue::One(Some(value)) => Ok(value.clone()),
        _ => Err(EventProblem::NeedsValue),
    };
    Ok(match event.function {
        Function::Read => Call::Read,
        Function::Write => Call::Write { value: one(&event.value)? },
        Function::Append => Call::Append { value: one(&event.value)? },
        Function::Remove => Call::Remove,
        Function::Cas => match &event.value {
            EventValue::Pair(expected, new) => Call::Cas { expected: expected.clone(), new: new.clone() },
            _ => return Err(EventProblem::CasNeedsPair),
        },
    })
}

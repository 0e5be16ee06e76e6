//! The sequential models a history file is checked against, written as [`SequentialModel`]s for
//! [`crate::model::check_model`]: a register, a register with compare-and-set, and porcupine's
//! key/value store with append. Each models one key: a history of many keys is split by key and
//! each key checked on its own (linearizability is compositional, so the history is linearizable
//! if and only if every key's is).

use super::operation::{Call, Ending, Operation, Output};
use crate::model::{Ended, ModelOp, ModelVerdict, SequentialModel, check_model};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Which model to check a history against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A register, absent at first: reads, writes (and removes, which write absence).
    Register,
    /// A register with compare-and-set as well.
    CasRegister,
    /// Porcupine's key/value store: gets, puts and appends (an append concatenates); an absent key
    /// reads as "" (so a remove sets "", and a compare-and-set expecting absence expects "").
    Kv,
}

impl ModelKind {
    /// The name the command line takes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
        }
    }

    /// Whether the model gives `call` a meaning.
    #[must_use]
    pub fn accepts(self, call: &Call) -> bool {
        match self {
            ModelKind::Register => matches!(call, Call::Read | Call::Write { .. } | Call::Remove),
            ModelKind::CasRegister => !matches!(call, Call::Append { .. }),
            ModelKind::Kv => true,
        }
    }

    /// What the model takes, for an error about what it does not.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            ModelKind::Register => "it takes read, write and remove; cas needs --model cas-register, append --model kv",
            ModelKind::CasRegister => "it takes read, write, remove and cas; append needs --model kv",
            ModelKind::Kv => "it takes read, write, append, remove and cas",
        }
    }

    /// Checks one key's operations against the model, exploring at most `states_max`
    /// configurations.
    #[must_use]
    pub fn check(self, history: &[ModelOp<Call, Output>], states_max: usize) -> ModelVerdict {
        match self {
            ModelKind::Register | ModelKind::CasRegister => {
                check_model(&RegisterModel, &collapse_unneeded(history), states_max)
            }
            ModelKind::Kv => check_model(&KeyValueModel, history, states_max),
        }
    }
}

/// A register's history with every value no operation compares with (no completed read returned
/// it, no compare-and-set expects it) written as one value that none of them holds. The register
/// only ever compares its value with the values operations name, so the answer is the same; and
/// writes of such values become the same operation, which the search places in invocation order
/// only ([`SequentialModel::interchangeable`]) instead of trying every subset of them.
fn collapse_unneeded(history: &[ModelOp<Call, Output>]) -> Vec<ModelOp<Call, Output>> {
    let mut needed: BTreeSet<&str> = BTreeSet::new();
    for operation in history {
        match (&operation.op, &operation.ended) {
            (Call::Read, Ended::Completed { output: Output::Value(Some(value)), .. })
            | (Call::Cas { expected: Some(value), .. }, _) => {
                needed.insert(value);
            }
            _ => {}
        }
    }
    // A value no operation names: longer than every needed one.
    let other = "\u{0}".repeat(needed.iter().map(|value| value.len()).max().unwrap_or_default() + 1);
    let collapse = |value: &String| if needed.contains(value.as_str()) { value.clone() } else { other.clone() };
    history
        .iter()
        .map(|operation| {
            let op = match &operation.op {
                Call::Write { value } => Call::Write { value: collapse(value) },
                Call::Cas { expected, new } => {
                    Call::Cas { expected: expected.clone(), new: new.as_ref().map(collapse) }
                }
                other => other.clone(),
            };
            ModelOp { op, ..operation.clone() }
        })
        .collect()
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A model name that is not one of `register`, `cas-register` and `kv`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("unknown model '{0}' (known: register, cas-register, kv)")]
pub struct UnknownModel(pub String);

impl FromStr for ModelKind {
    type Err = UnknownModel;

    fn from_str(name: &str) -> Result<ModelKind, UnknownModel> {
        match name {
            "register" => Ok(ModelKind::Register),
            "cas-register" => Ok(ModelKind::CasRegister),
            "kv" => Ok(ModelKind::Kv),
            _ => Err(UnknownModel(name.to_owned())),
        }
    }
}

/// A register holding text, absent at first (Jepsen's `cas-register`; without compare-and-sets in
/// the history, a plain register).
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterModel;

impl SequentialModel for RegisterModel {
    type State = Option<String>;
    type Op = Call;
    type Output = Output;

    fn initial(&self) -> Option<String> {
        None
    }

    fn apply(&self, state: &Option<String>, call: &Call) -> (Option<String>, Output) {
        match call {
            Call::Read => (state.clone(), Output::Value(state.clone())),
            Call::Write { value } => (Some(value.clone()), Output::Done),
            Call::Remove => (None, Output::Done),
            Call::Cas { expected, new } if state == expected => (new.clone(), Output::Swapped(true)),
            Call::Cas { .. } => (state.clone(), Output::Swapped(false)),
            Call::Append { value } => (Some(format!("{}{value}", state.as_deref().unwrap_or_default())), Output::Done),
        }
    }

    fn is_read_only(&self, call: &Call) -> bool {
        call.is_read()
    }

    fn interchangeable(&self, a: &Call, b: &Call) -> bool {
        a == b
    }

    fn state_heap_bytes(&self, state: &Option<String>) -> usize {
        state.as_ref().map_or(0, String::capacity)
    }
}

/// One key of porcupine's key/value store: text, "" at first; an append concatenates.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyValueModel;

impl SequentialModel for KeyValueModel {
    type State = String;
    type Op = Call;
    type Output = Output;

    fn initial(&self) -> String {
        String::new()
    }

    fn apply(&self, state: &String, call: &Call) -> (String, Output) {
        match call {
            Call::Read => (state.clone(), Output::Value(Some(state.clone()))),
            Call::Write { value } => (value.clone(), Output::Done),
            Call::Append { value } => (format!("{state}{value}"), Output::Done),
            Call::Remove => (String::new(), Output::Done),
            Call::Cas { expected, new } if state == expected.as_deref().unwrap_or_default() => {
                (new.clone().unwrap_or_default(), Output::Swapped(true))
            }
            Call::Cas { .. } => (state.clone(), Output::Swapped(false)),
        }
    }

    /// A read that saw absence (`nil`, `null`) saw "".
    fn matches(&self, seen: &Output, output: &Output) -> bool {
        match (seen, output) {
            (Output::Value(None), Output::Value(Some(value))) => value.is_empty(),
            _ => seen == output,
        }
    }

    fn is_read_only(&self, call: &Call) -> bool {
        call.is_read()
    }

    fn interchangeable(&self, a: &Call, b: &Call) -> bool {
        a == b
    }

    fn state_heap_bytes(&self, state: &String) -> usize {
        state.capacity()
    }
}

/// An operation of a history file as the checker takes it.
#[must_use]
pub fn model_op(operation: &Operation) -> ModelOp<Call, Output> {
    let ended = match &operation.ending {
        Ending::Ok { at, output, .. } => Ended::Completed { at: *at, output: output.clone() },
        Ending::Fail { .. } => Ended::Failed,
        Ending::Info { .. } => Ended::Unknown,
    };
    ModelOp { client: operation.process, invoked_at: operation.invoked_at, op: operation.call.clone(), ended }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(invoked_at: u64, at: u64, op: Call) -> ModelOp<Call, Output> {
        ModelOp { client: 0, invoked_at, op, ended: Ended::Completed { at, output: Output::Done } }
    }

    fn read(invoked_at: u64, at: u64, value: Option<&str>) -> ModelOp<Call, Output> {
        let output = Output::Value(value.map(str::to_owned));
        ModelOp { client: 1, invoked_at, op: Call::Read, ended: Ended::Completed { at, output } }
    }

    fn write(value: &str) -> Call {
        Call::Write { value: value.to_owned() }
    }

    #[test]
    fn a_register_reads_its_last_write_and_absence_first() {
        let history = [read(0, 1, None), done(2, 3, write("a")), read(4, 5, Some("a"))];
        assert!(ModelKind::Register.check(&history, 1_000).is_linearizable());
        let stale = [done(0, 1, write("a")), done(2, 3, write("b")), read(4, 5, Some("a"))];
        assert!(!ModelKind::Register.check(&stale, 1_000).is_linearizable());
    }

    #[test]
    fn a_compare_and_set_swaps_only_from_its_expected_value() {
        let cas = |expected: Option<&str>, new: &str, swapped: bool| ModelOp {
            client: 2,
            invoked_at: 10,
            op: Call::Cas { expected: expected.map(str::to_owned), new: Some(new.to_owned()) },
            ended: Ended::Completed { at: 11, output: Output::Swapped(swapped) },
        };
        let history = [done(0, 1, write("a")), cas(Some("a"), "b", true), read(12, 13, Some("b"))];
        assert!(ModelKind::CasRegister.check(&history, 1_000).is_linearizable());
        let wrong = [done(0, 1, write("a")), cas(Some("x"), "b", true)];
        assert!(!ModelKind::CasRegister.check(&wrong, 1_000).is_linearizable());
        let not_swapped = [done(0, 1, write("a")), cas(Some("x"), "b", false), read(12, 13, Some("a"))];
        assert!(ModelKind::CasRegister.check(&not_swapped, 1_000).is_linearizable());
        let from_absent = [cas(None, "b", true), read(12, 13, Some("b"))];
        assert!(ModelKind::CasRegister.check(&from_absent, 1_000).is_linearizable());
    }

    #[test]
    fn a_key_value_store_concatenates_appends_and_reads_absence_as_empty() {
        let append = |value: &str| Call::Append { value: value.to_owned() };
        let history = [read(0, 1, None), read(0, 1, Some("")), done(2, 3, append("x")), done(4, 5, append("y"))];
        let mut history = history.to_vec();
        history.push(read(6, 7, Some("xy")));
        assert!(ModelKind::Kv.check(&history, 1_000).is_linearizable());
        history.push(read(8, 9, Some("x")));
        assert!(!ModelKind::Kv.check(&history, 1_000).is_linearizable());
        let removed = [done(0, 1, write("v")), done(2, 3, Call::Remove), read(4, 5, Some(""))];
        assert!(ModelKind::Kv.check(&removed, 1_000).is_linearizable());
    }

    #[test]
    fn each_model_accepts_its_operations_only() {
        let cas = Call::Cas { expected: None, new: None };
        let append = Call::Append { value: String::new() };
        assert!(ModelKind::Register.accepts(&Call::Remove));
        assert!(!ModelKind::Register.accepts(&cas));
        assert!(ModelKind::CasRegister.accepts(&cas));
        assert!(!ModelKind::CasRegister.accepts(&append));
        assert!(ModelKind::Kv.accepts(&append) && ModelKind::Kv.accepts(&cas));
        for kind in [ModelKind::Register, ModelKind::CasRegister, ModelKind::Kv] {
            assert_eq!(kind.name().parse::<ModelKind>(), Ok(kind));
        }
        assert!("queue".parse::<ModelKind>().is_err());
    }
}

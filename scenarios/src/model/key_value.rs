//! Pangea's key/value store as a [`SequentialModel`], over the operations and outcomes of the
//! key/value checker's histories ([`crate::linearizability`]), which checks the same histories key
//! by key with a specialised search.

use super::SequentialModel;
use crate::linearizability::{HistoryOp, OpOutcome, Value};
use std::collections::BTreeMap;

/// Keys to values, all absent at first.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyValue;

/// An operation of [`KeyValue`]: a key and what is done to it.
pub type KeyValueOp = (Vec<u8>, HistoryOp);

impl SequentialModel for KeyValue {
    type State = BTreeMap<Vec<u8>, Value>;
    type Op = KeyValueOp;
    type Output = OpOutcome;

    fn initial(&self) -> Self::State {
        BTreeMap::new()
    }

    fn is_read_only(&self, (_, op): &KeyValueOp) -> bool {
        matches!(op, HistoryOp::Get)
    }

    fn apply(&self, state: &Self::State, (key, op): &KeyValueOp) -> (Self::State, OpOutcome) {
        let mut next = state.clone();
        let outcome = match op {
            HistoryOp::Put { value } => {
                next.insert(key.clone(), value.clone());
                OpOutcome::Ok
            }
            HistoryOp::Get => OpOutcome::Read(state.get(key).cloned()),
            HistoryOp::Remove => {
                next.remove(key);
                OpOutcome::Ok
            }
            HistoryOp::CompareAndSet { expected, new } => {
                let found = state.get(key).cloned();
                let succeeded = found == *expected;
                if succeeded {
                    match new {
                        Some(value) => next.insert(key.clone(), value.clone()),
                        None => next.remove(key),
                    };
                }
                OpOutcome::CompareAndSet { succeeded, found: Some(found) }
            }
        };
        (next, outcome)
    }

    /// A compare-and-set whose client was not told what it found matches whatever it found.
    fn matches(&self, seen: &OpOutcome, output: &OpOutcome) -> bool {
        match (seen, output) {
            (
                OpOutcome::CompareAndSet { succeeded, found: None },
                OpOutcome::CompareAndSet { succeeded: model_succeeded, .. },
            ) => succeeded == model_succeeded,
            _ => seen == output,
        }
    }
}

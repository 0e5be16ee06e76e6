//! The history split by key (keys are independent registers, and linearizability is compositional),
//! each entry validated, each key's values numbered, and each key's operations put in invocation
//! order.

use std::collections::BTreeMap;

use super::register::{ABSENT, Action, CasResult, OTHER, SearchOp, ValueId};
use super::{HistoryEntry, HistoryError, HistoryOp, OpCompletion, OpOutcome, Value};

/// The part of a history on one key.
pub(super) struct KeyHistory {
    /// The operations that can matter (no failed ones, no unknown reads), by invocation time, then
    /// position in the history.
    pub(super) ops: Vec<SearchOp>,
    /// For each of `ops`, its position in the history.
    pub(super) indices: Vec<usize>,
    /// Positions in the history of all the key's entries, in history order.
    pub(super) entries: Vec<usize>,
}

/// Numbers the values of one key.
#[derive(Default)]
struct Interner<'a> {
    ids: BTreeMap<&'a Value, ValueId>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, value: Option<&'a Value>) -> Option<ValueId> {
        let Some(value) = value else { return Some(ABSENT) };
        if let Some(&id) = self.ids.get(value) {
            return Some(id);
        }
        let id = ValueId::try_from(self.ids.len() + 1).ok().filter(|&id| id != OTHER)?;
        self.ids.insert(value, id);
        Some(id)
    }
}

/// Splits the history by key, validating each entry.
pub(super) fn partition(history: &[HistoryEntry]) -> Result<BTreeMap<&[u8], KeyHistory>, HistoryError> {
    let mut keys: BTreeMap<&[u8], (KeyHistory, Interner<'_>)> = BTreeMap::new();
    for (index, entry) in history.iter().enumerate() {
        let (key_history, interner) = keys.entry(entry.key.as_slice()).or_insert_with(|| {
            (KeyHistory { ops: Vec::new(), indices: Vec::new(), entries: Vec::new() }, Interner::default())
        });
        key_history.entries.push(index);
        let too_large = || HistoryError::TooLarge { key: entry.key.clone() };
        let (completed_at, outcome) = match &entry.completion {
            OpCompletion::Failed => continue,
            OpCompletion::Unknown => (None, None),
            OpCompletion::Completed { at, outcome } => {
                if *at < entry.invoked_at {
                    return Err(HistoryError::CompletedBeforeInvoked {
                        index,
                        invoked_at: entry.invoked_at,
                        completed_at: *at,
                    });
                }
                (Some(*at), Some(outcome))
            }
        };
        let action = match (&entry.op, outcome) {
            (HistoryOp::Get, None) => continue,
            (HistoryOp::Get, Some(OpOutcome::Read(value))) => {
                Action::Read(interner.id(value.as_ref()).ok_or_else(too_large)?)
            }
            (HistoryOp::Put { value }, None | Some(OpOutcome::Ok)) => {
                Action::Write(interner.id(Some(value)).ok_or_else(too_large)?)
            }
            (HistoryOp::Remove, None | Some(OpOutcome::Ok)) => Action::Write(ABSENT),
            (HistoryOp::CompareAndSet { expected, new }, None | Some(OpOutcome::CompareAndSet { .. })) => {
                let result = match outcome {
                    Some(OpOutcome::CompareAndSet { succeeded, found }) => {
                        let found = match found {
                            Some(found) => {
                                if (found == expected) != *succeeded {
                                    return Err(HistoryError::InconsistentCompareAndSet {
                                        index,
                                        succeeded: *succeeded,
                                    });
                                }
                                Some(interner.id(found.as_ref()).ok_or_else(too_large)?)
                            }
                            None => None,
                        };
                        Some(CasResult { succeeded: *succeeded, found })
                    }
                    _ => None,
                };
                Action::CompareAndSet {
                    expected: interner.id(expected.as_ref()).ok_or_else(too_large)?,
                    new: interner.id(new.as_ref()).ok_or_else(too_large)?,
                    result,
                }
            }
            (op, Some(outcome)) => {
                return Err(HistoryError::OutcomeMismatch { index, op: op.clone(), outcome: outcome.clone() });
            }
        };
        key_history.ops.push(SearchOp { invoked_at: entry.invoked_at, completed_at, action });
        key_history.indices.push(index);
    }
    let mut partitioned = BTreeMap::new();
    for (key, (mut key_history, _)) in keys {
        if u32::try_from(key_history.ops.len()).is_err() {
            return Err(HistoryError::TooLarge { key: key.to_vec() });
        }
        let mut order: Vec<usize> = (0..key_history.ops.len()).collect();
        order.sort_by_key(|&position| (key_history.ops[position].invoked_at, key_history.indices[position]));
        key_history.ops = order.iter().map(|&position| key_history.ops[position]).collect();
        key_history.indices = order.iter().map(|&position| key_history.indices[position]).collect();
        partitioned.insert(key, key_history);
    }
    Ok(partitioned)
}

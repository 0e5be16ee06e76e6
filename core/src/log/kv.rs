//! The records state machine applied from the log: a key/value map (netabase's PutRecord and
//! RemoveRecord, plus get and compare-and-set) with client sessions, so that a command retried by
//! its client is applied exactly once however many times it reaches the log.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An operation on the records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Reads `key`, linearizably (through the log).
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// Removes `key`.
    Remove {
        /// The key.
        key: Vec<u8>,
    },
    /// Sets `key` to `new` (`None` removes it) if its value is `expected` (`None`: absent).
    CompareAndSet {
        /// The key.
        key: Vec<u8>,
        /// The value the key must hold.
        expected: Option<Vec<u8>>,
        /// The value to store.
        new: Option<Vec<u8>>,
    },
}

impl KvOp {
    /// The key the operation touches.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        match self {
            KvOp::Put { key, .. } | KvOp::Get { key } | KvOp::Remove { key } | KvOp::CompareAndSet { key, .. } => key,
        }
    }
}

/// The result of an applied operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvResult {
    /// A put or remove took effect.
    Done,
    /// A get's answer.
    Value(Option<Vec<u8>>),
    /// A compare-and-set's answer, with the value the key held before it.
    CompareAndSet {
        /// Whether it swapped.
        succeeded: bool,
        /// The value found.
        found: Option<Vec<u8>>,
    },
    /// A membership change's answer: the configuration in force after it.
    Members {
        /// Whether the change took effect (false when another change got in first).
        changed: bool,
        /// The configuration after it.
        members: crate::log::members::Members,
    },
}

/// What the state machine remembers of a client: its last applied command and that command's
/// result, to answer a retry without applying it again.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Session {
    /// The client's last applied sequence number.
    pub sequence: u64,
    /// Its result.
    pub result: KvResult,
}

/// The replicated records and the client sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KvStore {
    records: BTreeMap<Vec<u8>, Vec<u8>>,
    sessions: BTreeMap<u64, Session>,
}

/// What applying a client command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It was new and took effect with this result.
    Fresh(KvResult),
    /// It was the client's last command again: not applied again; here is its result.
    Duplicate(KvResult),
    /// It is older than the client's last command: ignored (the client has moved on).
    Stale,
}

impl KvStore {
    /// Applies `op` of `client`'s command number `sequence`, exactly once per (client, sequence).
    pub fn apply(&mut self, client: u64, sequence: u64, op: &KvOp, dedupe: bool) -> Applied {
        if let Some(session) = self.sessions.get(&client).filter(|_| dedupe) {
            if sequence == session.sequence {
                return Applied::Duplicate(session.result.clone());
            }
            if sequence < session.sequence {
                return Applied::Stale;
            }
        }
        let result = self.execute(op);
        self.sessions.insert(client, Session { sequence, result: result.clone() });
        Applied::Fresh(result)
    }

    /// The session's verdict on (`client`, `sequence`) without applying anything: `None` for a
    /// fresh command, else its duplicate or stale answer. For commands that act outside the
    /// records (membership changes), which then call [`KvStore::record_session`].
    #[must_use]
    pub fn session_verdict(&self, client: u64, sequence: u64) -> Option<Applied> {
        let session = self.sessions.get(&client)?;
        if sequence == session.sequence {
            Some(Applied::Duplicate(session.result.clone()))
        } else if sequence < session.sequence {
            Some(Applied::Stale)
        } else {
            None
        }
    }

    /// Records `result` as the answer to (`client`, `sequence`).
    pub fn record_session(&mut self, client: u64, sequence: u64, result: KvResult) {
        self.sessions.insert(client, Session { sequence, result });
    }

    fn execute(&mut self, op: &KvOp) -> KvResult {
        match op {
            KvOp::Put { key, value } => {
                self.records.insert(key.clone(), value.clone());
                KvResult::Done
            }
            KvOp::Get { key } => KvResult::Value(self.records.get(key).cloned()),
            KvOp::Remove { key } => {
                self.records.remove(key);
                KvResult::Done
            }
            KvOp::CompareAndSet { key, expected, new } => {
                let found = self.records.get(key).cloned();
                let succeeded = found == *expected;
                if succeeded {
                    match new {
                        Some(value) => self.records.insert(key.clone(), value.clone()),
                        None => self.records.remove(key),
                    };
                }
                KvResult::CompareAndSet { succeeded, found }
            }
        }
    }

    /// The value of `key` now (a local, possibly stale read).
    #[must_use]
    pub fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.records.get(key)
    }

    /// Every record, in key order.
    #[must_use]
    pub fn records(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_command_applies_once_and_answers_the_same() {
        let mut store = KvStore::default();
        let put = KvOp::CompareAndSet { key: b"k".to_vec(), expected: None, new: Some(b"1".to_vec()) };
        let first = store.apply(7, 1, &put, true);
        assert_eq!(first, Applied::Fresh(KvResult::CompareAndSet { succeeded: true, found: None }));
        assert_eq!(
            store.apply(7, 1, &put, true),
            Applied::Duplicate(KvResult::CompareAndSet { succeeded: true, found: None })
        );
        assert_eq!(store.apply(7, 0, &put, true), Applied::Stale);
        assert_eq!(store.get(b"k"), Some(&b"1".to_vec()));
        // Without deduplication (a planted bug) the retry applies again and now fails.
        let again = store.apply(7, 1, &put, false);
        assert_eq!(again, Applied::Fresh(KvResult::CompareAndSet { succeeded: false, found: Some(b"1".to_vec()) }));
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The sequential specification: a plain map, and a table of each client's last answer.
    #[derive(Default)]
    struct Model {
        map: BTreeMap<Vec<u8>, Vec<u8>>,
        last: BTreeMap<u64, (u64, KvResult)>,
    }

    impl Model {
        fn apply(&mut self, client: u64, sequence: u64, op: &KvOp) -> Applied {
            if let Some((last, result)) = self.last.get(&client) {
                if sequence == *last {
                    return Applied::Duplicate(result.clone());
                }
                if sequence < *last {
                    return Applied::Stale;
                }
            }
            let result = match op {
                KvOp::Put { key, value } => {
                    self.map.insert(key.clone(), value.clone());
                    KvResult::Done
                }
                KvOp::Get { key } => KvResult::Value(self.map.get(key).cloned()),
                KvOp::Remove { key } => {
                    self.map.remove(key);
                    KvResult::Done
                }
                KvOp::CompareAndSet { key, expected, new } => {
                    let found = self.map.get(key).cloned();
                    let succeeded = &found == expected;
                    if succeeded {
                        match new {
                            Some(value) => {
                                self.map.insert(key.clone(), value.clone());
                            }
                            None => {
                                self.map.remove(key);
                            }
                        }
                    }
                    KvResult::CompareAndSet { succeeded, found }
                }
            };
            self.last.insert(client, (sequence, result.clone()));
            Applied::Fresh(result)
        }
    }

    fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
        (0u8..3).prop_map(|byte| vec![b'a' + byte])
    }

    fn op() -> impl Strategy<Value = KvOp> {
        prop_oneof![
            (small_bytes(), small_bytes()).prop_map(|(key, value)| KvOp::Put { key, value }),
            small_bytes().prop_map(|key| KvOp::Get { key }),
            small_bytes().prop_map(|key| KvOp::Remove { key }),
            (small_bytes(), proptest::option::of(small_bytes()), proptest::option::of(small_bytes()))
                .prop_map(|(key, expected, new)| KvOp::CompareAndSet { key, expected, new }),
        ]
    }

    proptest! {
        /// Any sequence of commands — including retries and stale ones — gives the model's answers,
        /// and the same records.
        #[test]
        fn the_store_follows_the_sequential_model(
            commands in proptest::collection::vec((0u64..3, 0u64..6, op()), 0..120)
        ) {
            let mut store = KvStore::default();
            let mut model = Model::default();
            for (client, sequence, op) in &commands {
                prop_assert_eq!(store.apply(*client, *sequence, op, true), model.apply(*client, *sequence, op));
            }
            prop_assert_eq!(store.records(), &model.map);
        }
    }
}

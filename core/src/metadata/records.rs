//! The records state machine: a key/value map (netabase's PutRecord and RemoveRecord, plus get and
//! compare-and-set), one part of the node's replicated metadata. Exactly-once application of
//! retried commands is the log's business (its sessions), not this map's.

use crate::codec::{CodecError, decode_serde, encode_serde};
use crate::log::{InvalidCommand, Part, StateMachine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest record key by default: 4 KiB.
pub const KEY_BYTES_MAX: usize = 4 * 1024;
/// The largest record value by default: 1 MiB.
pub const VALUE_BYTES_MAX: usize = 1024 * 1024;

/// An operation on the records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// Reads `key`, linearizably (through the log).
    Get {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Removes `key`.
    Remove {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Sets `key` to `new` (`None` removes it) if its value is `expected` (`None`: absent).
    CompareAndSet {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The value the key must hold.
        #[serde(with = "serde_bytes")]
        expected: Option<Vec<u8>>,
        /// The value to store.
        #[serde(with = "serde_bytes")]
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

    /// The values the operation carries.
    fn values(&self) -> impl Iterator<Item = &Vec<u8>> {
        let (first, second) = match self {
            KvOp::Put { value, .. } => (Some(value), None),
            KvOp::CompareAndSet { expected, new, .. } => (expected.as_ref(), new.as_ref()),
            KvOp::Get { .. } | KvOp::Remove { .. } => (None, None),
        };
        first.into_iter().chain(second)
    }
}

/// The result of an applied operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvResult {
    /// A put or remove took effect.
    Done,
    /// A get's answer.
    Value(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    /// A compare-and-set's answer, with the value the key held before it.
    CompareAndSet {
        /// Whether it swapped.
        succeeded: bool,
        /// The value found.
        #[serde(with = "serde_bytes")]
        found: Option<Vec<u8>>,
    },
}

/// How large keys and values may be; larger ones are refused before they reach the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordLimits {
    /// The largest key, in bytes.
    pub key_bytes_max: usize,
    /// The largest value, in bytes.
    pub value_bytes_max: usize,
}

impl Default for RecordLimits {
    fn default() -> Self {
        RecordLimits { key_bytes_max: KEY_BYTES_MAX, value_bytes_max: VALUE_BYTES_MAX }
    }
}

impl RecordLimits {
    /// Checks `op` against the limits.
    pub fn check(&self, op: &KvOp) -> Result<(), InvalidCommand> {
        let too_large = |part, bytes: usize, limit: usize| InvalidCommand::TooLarge {
            part,
            bytes: bytes as u64,
            limit: limit as u64,
        };
        if op.key().len() > self.key_bytes_max {
            return Err(too_large(Part::Key, op.key().len(), self.key_bytes_max));
        }
        match op.values().find(|value| value.len() > self.value_bytes_max) {
            Some(value) => Err(too_large(Part::Value, value.len(), self.value_bytes_max)),
            None => Ok(()),
        }
    }
}

/// One record in a snapshot, its bytes as slices.
#[derive(Serialize, Deserialize)]
struct RecordPair(#[serde(with = "serde_bytes")] Vec<u8>, #[serde(with = "serde_bytes")] Vec<u8>);

/// One record being written into a snapshot: [`RecordPair`]'s encoding, borrowed from the map.
#[derive(Serialize)]
struct RecordPairRef<'a>(#[serde(with = "serde_bytes")] &'a [u8], #[serde(with = "serde_bytes")] &'a [u8]);

/// The replicated records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Records {
    records: BTreeMap<Vec<u8>, Vec<u8>>,
    limits: RecordLimits,
}

impl Records {
    /// No records, with `limits`.
    #[must_use]
    pub fn new(limits: RecordLimits) -> Records {
        Records { records: BTreeMap::new(), limits }
    }

    /// The limits.
    #[must_use]
    pub fn limits(&self) -> RecordLimits {
        self.limits
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

impl StateMachine for Records {
    type Command = KvOp;
    type Output = KvResult;
    type Query = Vec<u8>;
    type Answer = Option<Vec<u8>>;

    fn validate(&self, command: &KvOp) -> Result<(), InvalidCommand> {
        self.limits.check(command)
    }

    fn is_read_only(command: &KvOp) -> bool {
        matches!(command, KvOp::Get { .. })
    }

    fn apply(&mut self, command: &KvOp) -> KvResult {
        match command {
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

    fn query(&self, key: &Vec<u8>) -> Option<Vec<u8>> {
        self.records.get(key).cloned()
    }

    fn snapshot(&self) -> Vec<u8> {
        let pairs: Vec<RecordPairRef<'_>> = self.records.iter().map(|(key, value)| RecordPairRef(key, value)).collect();
        // Room for every byte and a length prefix of up to 5 bytes per byte string, so that a large
        // state is encoded without growing (and copying) the buffer.
        let bytes: usize = self.records.iter().map(|(key, value)| key.len() + value.len() + 10).sum();
        let mut out = Vec::with_capacity(bytes + 10);
        // A list of byte strings always encodes.
        let _ = encode_serde(&pairs, &mut out);
        out
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let pairs: Vec<RecordPair> = decode_serde(bytes)?;
        self.records = pairs.into_iter().map(|RecordPair(key, value)| (key, value)).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The sequential specification: a plain map.
    fn model_apply(map: &mut BTreeMap<Vec<u8>, Vec<u8>>, op: &KvOp) -> KvResult {
        match op {
            KvOp::Put { key, value } => {
                map.insert(key.clone(), value.clone());
                KvResult::Done
            }
            KvOp::Get { key } => KvResult::Value(map.get(key).cloned()),
            KvOp::Remove { key } => {
                map.remove(key);
                KvResult::Done
            }
            KvOp::CompareAndSet { key, expected, new } => {
                let found = map.get(key).cloned();
                let succeeded = &found == expected;
                if succeeded {
                    match new {
                        Some(value) => map.insert(key.clone(), value.clone()),
                        None => map.remove(key),
                    };
                }
                KvResult::CompareAndSet { succeeded, found }
            }
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
        /// Any sequence of commands gives the model's answers and records, and a snapshot restores
        /// the same records.
        #[test]
        fn the_records_follow_the_sequential_model(ops in proptest::collection::vec(op(), 0..120)) {
            let mut records = Records::default();
            let mut model = BTreeMap::new();
            for op in &ops {
                prop_assert_eq!(records.apply(op), model_apply(&mut model, op));
            }
            prop_assert_eq!(records.records(), &model);
            let mut restored = Records::default();
            restored.restore(&records.snapshot()).unwrap();
            prop_assert_eq!(restored, records);
        }
    }

    #[test]
    fn oversized_keys_and_values_are_refused_with_their_sizes() {
        let records = Records::new(RecordLimits { key_bytes_max: 4, value_bytes_max: 8 });
        let put = KvOp::Put { key: b"k".to_vec(), value: vec![0; 9] };
        let error = records.validate(&put).unwrap_err();
        assert_eq!(error.to_string(), "value too large: 9 bytes, limit 8");
        let cas = KvOp::CompareAndSet { key: b"k".to_vec(), expected: None, new: Some(vec![0; 9]) };
        assert!(records.validate(&cas).is_err());
        assert_eq!(
            records.validate(&KvOp::Get { key: vec![0; 5] }).unwrap_err().to_string(),
            "key too large: 5 bytes, limit 4"
        );
        assert_eq!(records.validate(&KvOp::Put { key: b"k".to_vec(), value: vec![0; 8] }), Ok(()));
    }
}

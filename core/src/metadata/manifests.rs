//! The object manifests: which objects exist, and for each the chunk table that says how to find and
//! check its shards (see [`crate::ces`]). Replicated through the log, so every node agrees on which
//! objects exist; the shards themselves live in the nodes' storage (see [`crate::objects`]).
//!
//! # Deadlines instead of clocks
//!
//! A holder must be able to tell, on its own, when a stored shard can no longer belong to any
//! object, so that it can collect it. A time limit cannot say so (a proposed manifest may commit
//! much later, after a leader change), so the deadline is a position in this state machine: every
//! object operation applied counts one ([`Manifests::ops_applied`]), each shard is stored with the
//! count by which its manifest must commit (its upload's `commit_by`), and a manifest applied at or
//! after that count is refused. A holder that has applied that many operations and holds no
//! manifest for the shard's object knows none can ever commit: the shard is garbage.
//!
//! Deleted objects leave a tombstone until no shard of theirs can outlive it: each chunk's shards
//! carry the deadline their gateway gave (its count then, plus `put_ops_max`), the manifest the
//! earliest of them, and the last chunk was stored before the manifest committed, so no shard's
//! deadline is later than the manifest's plus `put_ops_max`. Until then a retried put of a deleted
//! object cannot bring it back, and every holder can tell its shards are garbage.

use crate::ces::{Manifest, ManifestError, ObjectId};
use crate::codec::{CodecError, decode_serde, encode_serde};
use crate::log::{InvalidCommand, StateMachine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Most objects the metadata holds; a put beyond it is refused.
pub const OBJECTS_MAX: usize = 1 << 20;
/// Most objects one listing returns.
pub const LIST_LIMIT_MAX: usize = 1000;

/// A change to the manifests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectsOp {
    /// Makes an object exist: its shards are durable on their holders.
    Put(Box<Manifest>),
    /// Removes an object; its shards become garbage.
    Delete(ObjectId),
}

/// Why a put was refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
pub enum PutRefused {
    /// The manifest is malformed.
    #[error("malformed manifest: {0}")]
    Invalid(ManifestError),
    /// An object with this id exists (with another manifest).
    #[error("an object with this id exists")]
    Exists,
    /// The object was deleted; ids are never reused.
    #[error("the object was deleted")]
    Deleted,
    /// The manifest came after its deadline: its shards may have been collected. Put the object
    /// again, under a new id.
    #[error("the manifest came after its deadline ({commit_by} object operations; {applied} applied)")]
    Late {
        /// The deadline.
        commit_by: u64,
        /// Object operations applied when it came.
        applied: u64,
    },
    /// The metadata holds [`OBJECTS_MAX`] objects.
    #[error("the metadata holds the most objects it may ({OBJECTS_MAX})")]
    Full,
}

/// What a change to the manifests did.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectsResult {
    /// The object exists now (or already did, with this same manifest: a retried put).
    Stored,
    /// The put was refused; nothing changed.
    Refused(PutRefused),
    /// The delete took effect; `existed` is false when there was no such object.
    Deleted {
        /// Whether the object existed.
        existed: bool,
    },
}

/// A read of the manifests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectsQuery {
    /// One object's manifest.
    Manifest(ObjectId),
    /// Objects in id order after `after`, at most `limit` (and [`LIST_LIMIT_MAX`]).
    List {
        /// Start after this id.
        after: Option<ObjectId>,
        /// Most to return.
        limit: u32,
    },
}

/// An object in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectSummary {
    /// Its id.
    pub object: ObjectId,
    /// Its size in bytes.
    pub size: u64,
    /// Its chunks.
    pub chunks: u32,
}

/// The answer to an [`ObjectsQuery`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectsAnswer {
    /// The manifest, if the object exists.
    Manifest(Option<Box<Manifest>>),
    /// A page of objects.
    List(Vec<ObjectSummary>),
}

/// The replicated manifests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Manifests {
    objects: BTreeMap<ObjectId, Manifest>,
    /// Deleted objects, with the count until which their tombstone stays.
    deleted: BTreeMap<ObjectId, u64>,
    ops_applied: u64,
    /// The cluster's upload window (`ObjectsConfig::put_ops_max`): how long tombstones stay. A
    /// setting, the same on every node, not part of the state.
    #[serde(skip)]
    put_ops_max: u64,
}

impl Default for Manifests {
    fn default() -> Self {
        Manifests::new(crate::objects::ObjectsConfig::default().put_ops_max)
    }
}

impl Manifests {
    /// No objects yet, in a cluster whose uploads have `put_ops_max` object operations to commit.
    #[must_use]
    pub fn new(put_ops_max: u64) -> Manifests {
        Manifests { objects: BTreeMap::new(), deleted: BTreeMap::new(), ops_applied: 0, put_ops_max }
    }

    /// The manifest of `object`, if it exists.
    #[must_use]
    pub fn get(&self, object: &ObjectId) -> Option<&Manifest> {
        self.objects.get(object)
    }

    /// Every object, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectId, &Manifest)> {
        self.objects.iter()
    }

    /// The first object after `after` (or the first of all), for scans that go round.
    #[must_use]
    pub fn next_after(&self, after: Option<&ObjectId>) -> Option<&Manifest> {
        match after {
            None => self.objects.values().next(),
            Some(after) => self
                .objects
                .range((std::ops::Bound::Excluded(*after), std::ops::Bound::Unbounded))
                .next()
                .map(|(_, m)| m),
        }
    }

    /// How many objects exist.
    #[must_use]
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// True when no object exists.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Object operations applied so far: the clock of upload deadlines.
    #[must_use]
    pub fn ops_applied(&self) -> u64 {
        self.ops_applied
    }

    /// True when a shard of `object` stored with deadline `commit_by` can belong to no object, now
    /// or later: no manifest names the object, and either it was deleted or its deadline passed.
    #[must_use]
    pub fn is_garbage(&self, object: &ObjectId, commit_by: u64) -> bool {
        !self.objects.contains_key(object) && (self.deleted.contains_key(object) || self.ops_applied >= commit_by)
    }

    fn put(&mut self, manifest: &Manifest) -> ObjectsResult {
        if let Err(error) = manifest.validate() {
            return ObjectsResult::Refused(PutRefused::Invalid(error));
        }
        if let Some(existing) = self.objects.get(&manifest.object) {
            return if existing == manifest {
                ObjectsResult::Stored
            } else {
                ObjectsResult::Refused(PutRefused::Exists)
            };
        }
        if self.deleted.contains_key(&manifest.object) {
            return ObjectsResult::Refused(PutRefused::Deleted);
        }
        if !manifest.chunks.is_empty() && self.ops_applied >= manifest.commit_by {
            let refused = PutRefused::Late { commit_by: manifest.commit_by, applied: self.ops_applied };
            return ObjectsResult::Refused(refused);
        }
        if self.objects.len() >= OBJECTS_MAX {
            return ObjectsResult::Refused(PutRefused::Full);
        }
        self.objects.insert(manifest.object, manifest.clone());
        ObjectsResult::Stored
    }

    fn delete(&mut self, object: &ObjectId) -> ObjectsResult {
        let Some(manifest) = self.objects.remove(object) else {
            return ObjectsResult::Deleted { existed: false };
        };
        let until = manifest.commit_by.saturating_add(self.put_ops_max);
        if until > self.ops_applied {
            self.deleted.insert(*object, until);
        }
        ObjectsResult::Deleted { existed: true }
    }
}

impl StateMachine for Manifests {
    type Command = ObjectsOp;
    type Output = ObjectsResult;
    type Query = ObjectsQuery;
    type Answer = ObjectsAnswer;

    fn validate(&self, _command: &ObjectsOp) -> Result<(), InvalidCommand> {
        // A malformed manifest is refused when applied, with its reason; the log checks the size.
        Ok(())
    }

    fn is_read_only(_command: &ObjectsOp) -> bool {
        false
    }

    fn apply(&mut self, command: &ObjectsOp) -> ObjectsResult {
        let result = match command {
            ObjectsOp::Put(manifest) => self.put(manifest),
            ObjectsOp::Delete(object) => self.delete(object),
        };
        self.ops_applied += 1;
        let applied = self.ops_applied;
        self.deleted.retain(|_, until| *until > applied);
        result
    }

    fn query(&self, query: &ObjectsQuery) -> ObjectsAnswer {
        match query {
            ObjectsQuery::Manifest(object) => ObjectsAnswer::Manifest(self.objects.get(object).cloned().map(Box::new)),
            ObjectsQuery::List { after, limit } => {
                let limit = (*limit as usize).min(LIST_LIMIT_MAX);
                let start = match after {
                    Some(after) => std::ops::Bound::Excluded(*after),
                    None => std::ops::Bound::Unbounded,
                };
                let page = self
                    .objects
                    .range((start, std::ops::Bound::Unbounded))
                    .take(limit)
                    .map(|(object, manifest)| ObjectSummary {
                        object: *object,
                        size: manifest.size,
                        chunks: manifest.chunks.len() as u32,
                    })
                    .collect();
                ObjectsAnswer::List(page)
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Manifests, ids and counters always encode.
        let _ = encode_serde(self, &mut out);
        out
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let mut restored: Manifests = decode_serde(bytes)?;
        restored.put_ops_max = self.put_ops_max;
        if restored.objects.values().any(|manifest| manifest.validate().is_err()) {
            return Err(CodecError::Malformed("a snapshot holds a malformed manifest".to_owned()));
        }
        *self = restored;
        Ok(())
    }
}

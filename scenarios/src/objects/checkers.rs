//! The object store's checkers.
//!
//! - **Durable at acknowledgement**: when a gateway reports a chunk stored, every holder it names
//!   has the shard on its disk's durable layer (a crash cannot take it). Not in runs with bit rot:
//!   there a holder may lose a shard (record and bytes rotten) between storing it and the owner
//!   hearing of it, which is a loss repair covers, not a broken promise. Nor for an upload past its
//!   deadline, whose shards may be collected before the owner hears and whose manifest can never
//!   commit.
//! - **Distinct keystreams**: two chunks of one object never share a ChaCha20 keystream (the XOR
//!   of a ciphertext and its plaintext differs between chunks), so no nonce repeats under a key.
//! - **No wrong bytes**: every read that returned bytes returned the object's.
//! - **Acknowledged objects stay, deleted ones stay gone**: a read after a put was acknowledged
//!   finds the object unless a delete of it had begun; a read that began after a delete was
//!   acknowledged does not.
//! - **Full redundancy after the heal**: every chunk of every object has all k + m shards, intact,
//!   on the nodes' disks (repair rebuilt what crashes, rot and partitions cost).

use super::clients::{ClientsConfig, ObjectOperation, OpKind, Outcome};
use super::content::Content;
use crate::report::{FailureKind, Involved, Violation};
use pangea_core::ces::{ObjectId, compress_chunk};
use pangea_core::codec::decode_serde;
use pangea_core::objects::{SHARD_RECORDS_TABLE, SHARDS_TABLE, ShardKey, ShardRecord, StoredChunk};
use pangea_core::{Instant, PangeaNode};
use pangea_sim::{NodeStatus, Sim};
use std::collections::{BTreeMap, BTreeSet};

/// Bytes of keystream compared between chunks.
const KEYSTREAM_BYTES: usize = 32;

/// Checks made while the run goes on, and their findings.
#[derive(Default)]
pub struct Checks {
    /// What they found.
    pub violations: Vec<Violation>,
    /// The first chunk's keystream of each object being put.
    keystreams: BTreeMap<ObjectId, Vec<u8>>,
    /// Chunks seen with every shard intact after the heal.
    redundant: BTreeSet<(ObjectId, u32)>,
    /// Chunks seen with fewer than k intact shards, and their objects.
    lost: BTreeSet<(ObjectId, u32)>,
    lost_objects: BTreeSet<ObjectId>,
}

impl Checks {
    /// A gateway reported `chunk` of `object` stored: every named holder must have its shard
    /// durably.
    pub fn chunk_acknowledged(&mut self, sim: &Sim<PangeaNode>, object: ObjectId, chunk: u32, stored: &StoredChunk) {
        if sim.plan().disk.read_corrupt_ppm > 0 {
            return;
        }
        for (shard, holder) in stored.holders.iter().enumerate() {
            let Some(index) = sim.index_of(holder) else { continue };
            // An upload that outlived its deadline: the holder may have collected its shards
            // already, and its manifest can never commit.
            if sim.node(index).is_some_and(|node| node.metadata().manifests().ops_applied() >= stored.commit_by) {
                continue;
            }
            let key = ShardKey { object, chunk, shard: shard as u8 };
            let durable = match sim.disk(index).durable_value(SHARD_RECORDS_TABLE, &key.to_bytes()) {
                Some(Ok(bytes)) => {
                    decode_serde::<ShardRecord>(&bytes).is_ok_and(|record| record.hash == stored.shard_hashes[shard])
                }
                Some(Err(_)) => true,
                None => false,
            };
            if !durable {
                self.violations.push(Violation {
                    checker: "durable-at-ack",
                    kind: FailureKind::Correctness,
                    at: sim.now(),
                    node: Some(index),
                    message: format!("shard {key} was reported stored on node {index}, which has not made it durable"),
                    involved: Involved::default(),
                });
                return;
            }
        }
    }

    /// A chunk was sealed: its keystream must differ from the object's first chunk's.
    #[allow(clippy::too_many_arguments)]
    pub fn sealed_chunk(
        &mut self,
        sim: &Sim<PangeaNode>,
        object: ObjectId,
        content: &Content,
        index: u32,
        compressed: bool,
        sealed: &[u8],
        config: &ClientsConfig,
    ) {
        if index > 1 {
            return;
        }
        let chunk_bytes = config.params.chunk_bytes as usize;
        let bytes = content.bytes();
        let start = index as usize * chunk_bytes;
        let plain = &bytes[start.min(bytes.len())..(start + chunk_bytes).min(bytes.len())];
        let input = if compressed {
            match compress_chunk(plain, config.params.zstd_level) {
                Ok(Some(compressed)) => compressed,
                _ => return,
            }
        } else {
            plain.to_vec()
        };
        let keystream: Vec<u8> =
            input.iter().zip(sealed).take(KEYSTREAM_BYTES).map(|(plain, cipher)| plain ^ cipher).collect();
        if index == 0 {
            self.keystreams.insert(object, keystream);
            return;
        }
        let Some(first) = self.keystreams.remove(&object) else { return };
        let common = first.len().min(keystream.len());
        if common >= 16 && first[..common] == keystream[..common] {
            self.violations.push(Violation {
                checker: "distinct-keystreams",
                kind: FailureKind::Correctness,
                at: sim.now(),
                node: None,
                message: format!(
                    "chunks 0 and 1 of object {object} were encrypted with the same keystream: a nonce repeated under one key"
                ),
                involved: Involved::default(),
            });
        }
    }

    /// Counts each chunk's intact shards on the disks (the durable layer of every node, crashed or
    /// not: a crash loses no synced shard). A chunk ever found with fewer than k is lost beyond what
    /// the store promises to survive (more than m of its shards rotted before repair could act),
    /// and is excused from the read-back and redundancy checks.
    pub fn observe(&mut self, sim: &Sim<PangeaNode>) {
        let Some(metadata) = latest_metadata(sim) else { return };
        for (object, manifest) in metadata.manifests().iter() {
            for chunk in 0..manifest.chunks.len() as u32 {
                if self.lost.contains(&(*object, chunk)) || self.redundant.contains(&(*object, chunk)) {
                    continue;
                }
                let shards = u32::from(manifest.data_shards) + u32::from(manifest.parity_shards);
                let intact = (0..shards).filter(|shard| intact_somewhere(sim, *object, chunk, *shard as u8)).count();
                if intact < usize::from(manifest.data_shards) {
                    self.lost.insert((*object, chunk));
                    self.lost_objects.insert(*object);
                }
            }
        }
    }

    /// True when a chunk of `object` was ever found with fewer than k intact shards.
    #[must_use]
    pub fn is_lost(&self, object: &ObjectId) -> bool {
        self.lost_objects.contains(object)
    }

    /// Chunks found lost beyond repair (more than m shards rotted at once).
    #[must_use]
    pub fn lost_chunks(&self) -> usize {
        self.lost.len()
    }

    /// Whether every chunk of every object the log holds (but those lost beyond repair) has all
    /// its shards intact on some node's disk; the first chunk short of shards otherwise.
    pub fn redundancy(&mut self, sim: &Sim<PangeaNode>) -> Result<(), String> {
        self.observe(sim);
        let Some(metadata) = latest_metadata(sim) else { return Ok(()) };
        for (object, manifest) in metadata.manifests().iter() {
            for chunk in 0..manifest.chunks.len() as u32 {
                if self.redundant.contains(&(*object, chunk)) || self.lost.contains(&(*object, chunk)) {
                    continue;
                }
                let shards = manifest.data_shards + manifest.parity_shards;
                if let Some(shard) = (0..shards).find(|shard| !intact_somewhere(sim, *object, chunk, *shard)) {
                    return Err(format!("shard {} has no intact copy", ShardKey { object: *object, chunk, shard }));
                }
                self.redundant.insert((*object, chunk));
            }
        }
        Ok(())
    }
}

/// The first shard of a deleted object some node still holds: `deleted` lists each object whose
/// delete was acknowledged, with its chunks and shards per chunk. Deleted objects leave a
/// tombstone, so every holder's next garbage scans collect their shards.
pub fn garbage_left(sim: &Sim<PangeaNode>, deleted: &[(ObjectId, u32, u8)]) -> Option<String> {
    for (object, chunks, shards) in deleted {
        for chunk in 0..*chunks {
            for shard in 0..*shards {
                let key = ShardKey { object: *object, chunk, shard };
                let bytes = key.to_bytes();
                if let Some(index) = (0..sim.nodes()).find(|index| sim.disk(*index).holds(SHARDS_TABLE, &bytes)) {
                    return Some(format!("node {index} still holds shard {key} of a deleted object"));
                }
            }
        }
    }
    None
}

/// The metadata of the up node that applied the most.
fn latest_metadata(sim: &Sim<PangeaNode>) -> Option<&pangea_core::metadata::Metadata> {
    (0..sim.nodes())
        .filter(|index| sim.status(*index) == NodeStatus::Up)
        .filter_map(|index| sim.node(index))
        .max_by_key(|node| node.log().applied_index())
        .map(PangeaNode::metadata)
}

/// Whether some node's disk holds an intact copy of the shard (the disk's checksum; shards are
/// written only after their hash checked, with a header of their deadline).
fn intact_somewhere(sim: &Sim<PangeaNode>, object: ObjectId, chunk: u32, shard: u8) -> bool {
    let key = ShardKey { object, chunk, shard }.to_bytes();
    (0..sim.nodes()).any(|index| sim.disk(index).durable_intact(SHARDS_TABLE, &key) == Some(true))
}

/// Violations of the history: wrong bytes, acknowledged objects missing, deleted objects back.
#[must_use]
pub fn history_violations(history: &[ObjectOperation]) -> Vec<Violation> {
    let mut stored_at: BTreeMap<ObjectId, Instant> = BTreeMap::new();
    let mut delete_began: BTreeMap<ObjectId, Instant> = BTreeMap::new();
    let mut deleted_at: BTreeMap<ObjectId, Instant> = BTreeMap::new();
    for operation in history {
        match (&operation.kind, &operation.outcome, operation.completed_at) {
            (OpKind::Put { object, .. }, Outcome::Stored, Some(at)) => {
                stored_at.insert(*object, at);
            }
            (OpKind::Delete { object }, outcome, _) => {
                let began = delete_began.entry(*object).or_insert(operation.invoked_at);
                *began = (*began).min(operation.invoked_at);
                // A delete of an object not yet stored changes nothing: its put may still commit.
                if let (Outcome::Deleted { existed: true }, Some(at)) = (outcome, operation.completed_at) {
                    let done = deleted_at.entry(*object).or_insert(at);
                    *done = (*done).min(at);
                }
            }
            _ => {}
        }
    }
    let mut violations = Vec::new();
    let mut flag = |operation: &ObjectOperation, checker: &'static str, message: String| {
        violations.push(Violation {
            checker,
            kind: FailureKind::Correctness,
            at: operation.completed_at.unwrap_or(operation.invoked_at),
            node: None,
            message,
            involved: Involved::default(),
        });
    };
    for operation in history {
        let OpKind::Get { object, offset, len } = &operation.kind else { continue };
        let Some(completed) = operation.completed_at else { continue };
        match &operation.outcome {
            Outcome::Read { matches: false } => {
                flag(
                    operation,
                    "no-wrong-bytes",
                    format!("a read of {object} ({offset}+{len}) returned other bytes than were written"),
                );
            }
            Outcome::Read { .. } if deleted_at.get(object).is_some_and(|at| *at < operation.invoked_at) => {
                flag(
                    operation,
                    "deleted-stays-deleted",
                    format!("{object} was read after its delete was acknowledged"),
                );
            }
            Outcome::Absent
                if stored_at.get(object).is_some_and(|at| *at < operation.invoked_at)
                    && delete_began.get(object).is_none_or(|began| *began > completed) =>
            {
                flag(
                    operation,
                    "acknowledged-stays",
                    format!("{object} was acknowledged, then a read found no such object"),
                );
            }
            _ => {}
        }
    }
    violations
}

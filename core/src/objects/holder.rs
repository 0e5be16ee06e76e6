//! A node as a holder of shards: it assembles shards sent in pieces, checks their hash, keeps them
//! durably, serves them (checking the hash again on every read), lists what it holds for repair,
//! and collects the shards no object can own any more.
//!
//! Two tables: the shards' bytes, and a small record per shard (hash, deadline, length), so that
//! scans read records, never shard bytes. The bytes carry their deadline too (a header of
//! [`SHARD_HEADER_BYTES`]), so that a rotten record can be written again from them.

use super::Objects;
use super::assembly::{Assembly, pieces};
use super::config::ObjectsPlantedBug;
use super::messages::{ObjectMessage, ShardKey, StoreOutcome, Unavailable};
use super::names::probes;
use crate::ces::{CHUNK_BYTES_MAX, ShardHash, shard_hash};
use crate::codec::{decode_serde, encode_serde};
use crate::id::NodeId;
use crate::metadata::manifests::Manifests;
use crate::node::Context;
use crate::storage::{StorageError, WriteBatch};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The table of shard bytes.
pub const SHARDS_TABLE: &str = "objects.shards";
/// The table of shard records.
pub const SHARD_RECORDS_TABLE: &str = "objects.shard_records";
/// The longest shard a holder takes: a whole chunk of the largest size (one data shard) and its tag.
pub const SHARD_BYTES_MAX: u32 = CHUNK_BYTES_MAX + 64;

/// Bytes before a stored shard: its upload's deadline, little-endian.
pub const SHARD_HEADER_BYTES: usize = 8;

/// What a holder keeps beside a shard's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardRecord {
    /// The hash the bytes must have.
    pub hash: ShardHash,
    /// The upload's deadline (see [`crate::metadata::manifests`]).
    pub commit_by: u64,
    /// The shard's length.
    pub len: u32,
}

impl ShardRecord {
    /// The record's stored form.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        // A hash and two numbers always encode.
        let _ = encode_serde(self, &mut out);
        out
    }
}

/// A shard arriving in pieces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Incoming {
    hash: ShardHash,
    commit_by: u64,
    assembly: Assembly,
    /// Arrival order, to drop the oldest when too many arrive at once.
    order: u64,
}

/// The holder's state: shards being assembled, and where the garbage scan goes on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Holder {
    incoming: BTreeMap<ShardKey, Incoming>,
    arrivals: u64,
    gc_cursor: Option<Vec<u8>>,
}

impl Objects {
    /// A piece of a shard to keep.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_store(
        &mut self,
        cx: &mut dyn Context<Objects>,
        from: NodeId,
        key: ShardKey,
        hash: ShardHash,
        commit_by: u64,
        total: u32,
        offset: u32,
        bytes: &[u8],
        manifests: &Manifests,
    ) {
        if total > SHARD_BYTES_MAX {
            cx.send(from, ObjectMessage::Stored { key, outcome: StoreOutcome::Refused });
            return;
        }
        if manifests.is_garbage(&key.object, commit_by) {
            // A gateway behind the log handed out a deadline already past here (or the object was
            // deleted): the shard would be garbage at once, and its manifest could never commit.
            cx.sometimes(probes::STORE_EXPIRED_REFUSED, true);
            cx.send(from, ObjectMessage::Stored { key, outcome: StoreOutcome::Expired });
            return;
        }
        // Already here and sound (a resend, or another sender): nothing to write but a later
        // deadline (the chunk sent again through another gateway, whose manifest may commit until
        // then: keeping the earlier one would let this holder collect a shard it still owes). A
        // rotten copy is written over.
        if let Ok(Some(record)) = self.record_of(cx, &key)
            && record.hash == hash
            && let Ok(shard) = self.read_checked(cx, &key)
        {
            let outcome = if record.commit_by >= commit_by || self.keep(cx, key, &shard, hash, commit_by) {
                StoreOutcome::Durable
            } else {
                StoreOutcome::Refused
            };
            cx.send(from, ObjectMessage::Stored { key, outcome });
            return;
        }
        let piece = self.config.piece_bytes_max;
        let holder = &mut self.holder;
        if holder.incoming.get(&key).is_some_and(|incoming| incoming.hash != hash || incoming.assembly.total() != total)
        {
            holder.incoming.remove(&key);
        }
        if !holder.incoming.contains_key(&key) && holder.incoming.len() >= self.config.incoming_max {
            let oldest = holder.incoming.iter().min_by_key(|(_, incoming)| incoming.order).map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                cx.sometimes(probes::INCOMING_SHARD_DROPPED, true);
                holder.incoming.remove(&oldest);
            }
        }
        holder.arrivals += 1;
        let order = holder.arrivals;
        let incoming = holder.incoming.entry(key).or_insert_with(|| Incoming {
            hash,
            commit_by,
            assembly: Assembly::new(total, piece),
            order,
        });
        match incoming.assembly.add(offset, bytes) {
            Ok(true) => {}
            Ok(false) => return,
            Err(_) => {
                holder.incoming.remove(&key);
                return;
            }
        }
        let Some(incoming) = holder.incoming.remove(&key) else { return };
        let shard = incoming.assembly.into_bytes();
        let outcome = if self.keep(cx, key, &shard, incoming.hash, incoming.commit_by) {
            StoreOutcome::Durable
        } else {
            StoreOutcome::Refused
        };
        cx.send(from, ObjectMessage::Stored { key, outcome });
    }

    /// Keeps a whole shard durably, after checking it against `hash`; true when it is durable.
    pub(super) fn keep(
        &mut self,
        cx: &mut dyn Context<Objects>,
        key: ShardKey,
        shard: &[u8],
        hash: ShardHash,
        commit_by: u64,
    ) -> bool {
        if shard_hash(shard) != hash {
            cx.sometimes(probes::STORE_BAD_HASH_REFUSED, true);
            return false;
        }
        let record = ShardRecord { hash, commit_by, len: shard.len() as u32 };
        let key_bytes = key.to_bytes();
        let mut batch = WriteBatch::new();
        let mut stored = Vec::with_capacity(SHARD_HEADER_BYTES + shard.len());
        stored.extend_from_slice(&commit_by.to_le_bytes());
        stored.extend_from_slice(shard);
        batch.put(SHARDS_TABLE, key_bytes.to_vec(), stored);
        batch.put(SHARD_RECORDS_TABLE, key_bytes.to_vec(), record.to_bytes());
        let storage = cx.storage();
        let ok = storage.write(batch).and_then(|()| storage.sync()).is_ok();
        cx.trace(crate::node::TraceEvent::new("objects.kept", format!("{key} {ok}")));
        ok
    }

    /// The record of a shard held here.
    fn record_of(&self, cx: &mut dyn Context<Objects>, key: &ShardKey) -> Result<Option<ShardRecord>, StorageError> {
        let bytes = cx.storage().get(SHARD_RECORDS_TABLE, &key.to_bytes())?;
        Ok(bytes.and_then(|bytes| decode_serde(&bytes).ok()))
    }

    /// A shard held here, read and checked against its record's hash.
    pub(super) fn read_checked(&self, cx: &mut dyn Context<Objects>, key: &ShardKey) -> Result<Vec<u8>, Unavailable> {
        let record = match self.record_of(cx, key) {
            Ok(Some(record)) => Some(record),
            Ok(None) => return Err(Unavailable::NotHere),
            // A rotten record: the bytes, which the disk checks, were hashed before they were kept;
            // readers check them against the manifest again (the scan mends the record).
            Err(StorageError::Corrupt { .. }) => None,
            Err(_) => return Err(Unavailable::Storage),
        };
        let shard = match cx.storage().get(SHARDS_TABLE, &key.to_bytes()) {
            Ok(Some(stored)) if stored.len() >= SHARD_HEADER_BYTES => stored[SHARD_HEADER_BYTES..].to_vec(),
            Ok(Some(_)) => return Err(Unavailable::Corrupt),
            Ok(None) => return Err(Unavailable::NotHere),
            Err(StorageError::Corrupt { .. }) => return Err(Unavailable::Corrupt),
            Err(_) => return Err(Unavailable::Storage),
        };
        if record.is_some_and(|record| shard.len() != record.len as usize || shard_hash(&shard) != record.hash) {
            cx.sometimes(probes::ROTTEN_SHARD_FOUND, true);
            return Err(Unavailable::Corrupt);
        }
        Ok(shard)
    }

    /// The shards of one chunk that this node's records name.
    fn recorded_shards(&self, cx: &mut dyn Context<Objects>, key: &ShardKey) -> Vec<ShardKey> {
        let prefix = ShardKey::chunk_prefix(&key.object, key.chunk);
        let mut end = prefix.to_vec();
        end.push(u8::MAX);
        end.push(u8::MAX);
        match cx.storage().range(SHARD_RECORDS_TABLE, &prefix, Some(&end), crate::ces::SHARDS_MAX) {
            Ok(pairs) => pairs.iter().filter_map(|(key, _)| ShardKey::from_bytes(key)).collect(),
            // A rotten record spoils the range: look for each shard's record on its own.
            Err(StorageError::Corrupt { .. }) => (0..crate::ces::SHARDS_MAX as u8)
                .map(|shard| ShardKey { shard, ..*key })
                .filter(|probe| matches!(self.record_of(cx, probe), Ok(Some(_)) | Err(StorageError::Corrupt { .. })))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// A request for a shard of a chunk: the first held here, sound, among those `wanted`.
    pub(super) fn on_fetch(
        &mut self,
        cx: &mut dyn Context<Objects>,
        from: NodeId,
        key: ShardKey,
        wanted: u32,
        tag: u64,
    ) {
        match self.find_sound(cx, key, wanted) {
            Ok((found, shard)) => self.send_pieces(cx, from, found, tag, &shard),
            Err(why) => cx.send(from, ObjectMessage::Missing { key, tag, why }),
        }
    }

    /// The first shard of `key`'s chunk held here and sound among those `wanted`.
    pub(super) fn find_sound(
        &self,
        cx: &mut dyn Context<Objects>,
        key: ShardKey,
        wanted: u32,
    ) -> Result<(ShardKey, Vec<u8>), Unavailable> {
        let keys: Vec<ShardKey> = if wanted.count_ones() == 1 {
            vec![ShardKey { shard: wanted.trailing_zeros() as u8, ..key }]
        } else {
            self.recorded_shards(cx, &key).into_iter().filter(|held| wanted_bit(wanted, held.shard)).collect()
        };
        let mut why = Unavailable::NotHere;
        for candidate in keys {
            match self.read_checked(cx, &candidate) {
                Ok(shard) => return Ok((candidate, shard)),
                Err(error) => why = error,
            }
        }
        Err(why)
    }

    /// Sends a shard to `to` in pieces.
    fn send_pieces(&self, cx: &mut dyn Context<Objects>, to: NodeId, key: ShardKey, tag: u64, shard: &[u8]) {
        let total = shard.len() as u32;
        for (offset, len) in pieces(total, self.config.piece_bytes_max) {
            let bytes = shard[offset as usize..(offset + len) as usize].to_vec();
            cx.send(to, ObjectMessage::Piece { key, tag, total, offset, bytes });
        }
    }

    /// Which shards of a chunk are here and sound (read and hashed, unless the planted bug trusts
    /// the records alone).
    pub(super) fn inventory(
        &self,
        cx: &mut dyn Context<Objects>,
        object: &crate::ces::ObjectId,
        chunk: u32,
    ) -> Vec<u8> {
        let probe = ShardKey { object: *object, chunk, shard: 0 };
        let trusting = self.config.planted(ObjectsPlantedBug::RepairTrustsShard);
        self.recorded_shards(cx, &probe)
            .into_iter()
            .filter(|key| trusting || self.read_checked(cx, key).is_ok())
            .map(|key| key.shard)
            .collect()
    }

    /// A shard's record rotted: written again from the shard's bytes and their header when they
    /// are sound (and match the manifest, if one names the object), else the shard is dropped and
    /// repair rebuilds it where an object owns it.
    fn mend_record(&mut self, cx: &mut dyn Context<Objects>, manifests: &Manifests, key_bytes: &[u8]) {
        let mut batch = WriteBatch::new();
        let key = ShardKey::from_bytes(key_bytes);
        let stored = cx.storage().get(SHARDS_TABLE, key_bytes).ok().flatten();
        let mended = key.zip(stored).and_then(|(key, stored)| {
            let (header, shard) = stored.split_first_chunk::<SHARD_HEADER_BYTES>()?;
            let record = ShardRecord {
                hash: shard_hash(shard),
                commit_by: u64::from_le_bytes(*header),
                len: shard.len() as u32,
            };
            let expected = manifests.get(&key.object).map(|manifest| {
                manifest.chunks.get(key.chunk as usize).and_then(|entry| entry.shard_hashes.get(usize::from(key.shard)))
            });
            match expected {
                Some(Some(hash)) if *hash != record.hash => None,
                Some(None) => None,
                _ => Some(record),
            }
        });
        match mended {
            Some(record) => batch.put(SHARD_RECORDS_TABLE, key_bytes.to_vec(), record.to_bytes()),
            None => batch.remove(SHARDS_TABLE, key_bytes.to_vec()).remove(SHARD_RECORDS_TABLE, key_bytes.to_vec()),
        };
        let _ = cx.storage().write(batch);
    }

    /// One step of the garbage scan: reads the next records and removes the shards no object can
    /// own (see [`Manifests::is_garbage`]).
    pub(super) fn collect_garbage(&mut self, cx: &mut dyn Context<Objects>, manifests: &Manifests) {
        let start = self.holder.gc_cursor.take().unwrap_or_default();
        let limit = self.config.gc_shards_per_scan.max(1);
        let page = match cx.storage().range(SHARD_RECORDS_TABLE, &start, None, limit) {
            Ok(page) => page,
            Err(StorageError::Corrupt { key, .. }) => {
                cx.sometimes(probes::ROTTEN_SHARD_FOUND, true);
                self.mend_record(cx, manifests, &key);
                self.holder.gc_cursor = Some(start);
                return;
            }
            Err(_) => return,
        };
        if page.len() == limit
            && let Some((last, _)) = page.last()
        {
            let mut next = last.clone();
            next.push(0);
            self.holder.gc_cursor = Some(next);
        }
        let mut batch = WriteBatch::new();
        for (key_bytes, record_bytes) in &page {
            let Some(key) = ShardKey::from_bytes(key_bytes) else { continue };
            let record: Option<ShardRecord> = decode_serde(record_bytes).ok();
            let garbage = record.is_some_and(|record| manifests.is_garbage(&key.object, record.commit_by));
            if garbage {
                cx.trace(crate::node::TraceEvent::new("objects.collected", format!("{key}")));
                batch.remove(SHARDS_TABLE, key_bytes.clone());
                batch.remove(SHARD_RECORDS_TABLE, key_bytes.clone());
            }
        }
        cx.sometimes(probes::GARBAGE_COLLECTED, !batch.is_empty());
        if !batch.is_empty() {
            // Not synced: a crash that undoes the removal leaves garbage the next scan finds again.
            let _ = cx.storage().write(batch);
        }
    }
}

/// Whether bit `shard` of `wanted` is set.
#[must_use]
pub fn wanted_bit(wanted: u32, shard: u8) -> bool {
    shard < 32 && wanted & (1 << shard) != 0
}

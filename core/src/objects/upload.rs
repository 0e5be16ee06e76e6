//! A node as a gateway for puts: it receives a sealed chunk in pieces, cuts it into k + m shards,
//! places them on distinct live members nearest the chunk's id, and reports the chunk stored once
//! every shard is durable on its holder.
//!
//! # The write quorum: all k + m
//!
//! A chunk is reported stored only when all k + m shards are durable, each on a distinct member.
//! Only then does an acknowledged object survive the loss of any m holders, which is what the
//! store promises; a quorum of k + 1 would survive one. Waiting for all of them does not cost
//! availability: a holder that does not answer in time is replaced by the next member in distance
//! order (the manifest names where each shard finally went), so a put fails only when fewer live
//! members remain than shards.

use super::Objects;
use super::assembly::{Assembly, pieces};
use super::config::ObjectsPlantedBug;
use super::messages::{BadRequest, ObjectError, ObjectMessage, ObjectResponse, ShardKey, StoreOutcome, StoredChunk};
use super::names::probes;
use super::placement::{by_distance, usable};
use crate::ces::{CHUNK_BYTES_MAX, CesError, ObjectId, SEAL_OVERHEAD_BYTES, ShardHash, shard_hash, validate_shards};
use crate::id::NodeId;
use crate::node::{Context, RequestId};
use crate::time::Instant;
use std::collections::BTreeMap;

/// The longest sealed chunk a gateway takes.
pub const SEALED_CHUNK_BYTES_MAX: u32 = CHUNK_BYTES_MAX + SEAL_OVERHEAD_BYTES as u32;

/// A chunk being put through this node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Upload {
    data_shards: u8,
    parity_shards: u8,
    sealed_len: u32,
    /// Requests that wait for the chunk to be stored.
    waiting: Vec<RequestId>,
    /// When a piece last came.
    touched: Instant,
    state: UploadState,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum UploadState {
    Receiving(Assembly),
    /// The chunk is in; the peers nearest its id are being looked up (see
    /// [`super::ObjectsNotification::Locate`]), under this number.
    Locating {
        sealed: Vec<u8>,
        lookup: u64,
        since: Instant,
    },
    Storing(Storing),
    Finished(Result<StoredChunk, ObjectError>),
}

/// Shards on their way to their holders.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Storing {
    shards: Vec<Vec<u8>>,
    hashes: Vec<ShardHash>,
    holders: Vec<NodeId>,
    durable: Vec<bool>,
    /// Shards their holder refused (its storage failed): the next spare takes them at once.
    refused: Vec<bool>,
    /// When each shard was last sent, and when it was given to its present holder.
    sent_at: Vec<Instant>,
    assigned_at: Vec<Instant>,
    /// Members that may take a shard whose holder does not answer, nearest first.
    spares: Vec<NodeId>,
    started: Instant,
    commit_by: u64,
}

/// Every chunk being put through this node.
pub(super) type Uploads = BTreeMap<(ObjectId, u32), Upload>;

/// A piece of a sealed chunk, as a client sends it.
pub(super) struct PutPiece {
    pub object: ObjectId,
    pub chunk: u32,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub sealed_len: u32,
    pub offset: u32,
    pub bytes: Vec<u8>,
}

impl Objects {
    /// A client's piece of a chunk to put.
    pub(super) fn on_put_piece(
        &mut self,
        cx: &mut dyn Context<Objects>,
        request: RequestId,
        piece: PutPiece,
        ops_applied: u64,
    ) {
        let fail = |cx: &mut dyn Context<Objects>, error| cx.reply(request, ObjectResponse::Failed(error));
        if let Err(error) = validate_shards(piece.data_shards, piece.parity_shards) {
            return fail(cx, ObjectError::Ces(error));
        }
        if piece.sealed_len > SEALED_CHUNK_BYTES_MAX {
            let error =
                CesError::TooLarge { bytes: u64::from(piece.sealed_len), max: u64::from(SEALED_CHUNK_BYTES_MAX) };
            return fail(cx, ObjectError::Ces(error));
        }
        let id = (piece.object, piece.chunk);
        if !self.uploads.contains_key(&id) && !self.make_room_for_upload(cx.now()) {
            cx.sometimes(probes::GATEWAY_BUSY, true);
            return fail(cx, ObjectError::Busy);
        }
        let piece_max = self.config.piece_bytes_max;
        let upload = self.uploads.entry(id).or_insert_with(|| Upload {
            data_shards: piece.data_shards,
            parity_shards: piece.parity_shards,
            sealed_len: piece.sealed_len,
            waiting: Vec::new(),
            touched: cx.now(),
            state: UploadState::Receiving(Assembly::new(piece.sealed_len, piece_max)),
        });
        if (upload.data_shards, upload.parity_shards, upload.sealed_len)
            != (piece.data_shards, piece.parity_shards, piece.sealed_len)
        {
            return fail(cx, ObjectError::BadRequest(BadRequest::PieceMismatch));
        }
        upload.touched = cx.now();
        match &mut upload.state {
            UploadState::Receiving(assembly) => match assembly.add(piece.offset, &piece.bytes) {
                Err(_) => fail(cx, ObjectError::BadRequest(BadRequest::PieceOutOfRange)),
                Ok(false) => {
                    let received = assembly.received();
                    cx.reply(request, ObjectResponse::PieceTaken { chunk: piece.chunk, received });
                }
                Ok(true) => {
                    upload.waiting.push(request);
                    self.chunk_received(cx, id, ops_applied);
                }
            },
            UploadState::Locating { .. } | UploadState::Storing(_) => {
                let last = u64::from(piece.offset) + piece.bytes.len() as u64 >= u64::from(piece.sealed_len);
                if last {
                    upload.waiting.push(request);
                } else {
                    let received = piece.offset + piece.bytes.len() as u32;
                    cx.reply(request, ObjectResponse::PieceTaken { chunk: piece.chunk, received });
                }
            }
            UploadState::Finished(result) => {
                let answer = match result {
                    Ok(stored) => ObjectResponse::ChunkStored { chunk: piece.chunk, stored: stored.clone() },
                    Err(error) => ObjectResponse::Failed(error.clone()),
                };
                cx.reply(request, answer);
            }
        }
    }

    /// Drops finished and abandoned uploads until there is room for one more; false when every
    /// slot holds a chunk in progress.
    fn make_room_for_upload(&mut self, now: Instant) -> bool {
        let idle_max = self.config.store_deadline;
        self.uploads.retain(|_, upload| {
            matches!(upload.state, UploadState::Storing(_) | UploadState::Locating { .. })
                || now - upload.touched < idle_max
        });
        if self.uploads.len() < self.config.uploads_max {
            return true;
        }
        let finished = self
            .uploads
            .iter()
            .filter(|(_, upload)| matches!(upload.state, UploadState::Finished(_)))
            .min_by_key(|(_, upload)| upload.touched)
            .map(|(id, _)| *id);
        finished.is_some_and(|id| self.uploads.remove(&id).is_some())
    }

    /// The chunk is in: with placement by lookup, the peers nearest it are looked up first;
    /// otherwise it is stored on the members nearest it at once.
    fn chunk_received(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), ops_applied: u64) {
        if !self.place_by_lookup {
            return self.start_storing(cx, id, ops_applied, None);
        }
        let Some(upload) = self.uploads.get_mut(&id) else { return };
        let UploadState::Receiving(assembly) =
            std::mem::replace(&mut upload.state, UploadState::Receiving(Assembly::new(0, 1)))
        else {
            return;
        };
        self.next_lookup += 1;
        let lookup = self.next_lookup;
        upload.state = UploadState::Locating { sealed: assembly.into_bytes(), lookup, since: cx.now() };
        self.notifications.push(super::ObjectsNotification::Locate { chunk: id.0.chunk(id.1), lookup });
    }

    /// The lookup numbered `lookup` found `closest` (nearest first; empty if it could not run):
    /// the chunk waiting for it is stored.
    pub(super) fn on_located(
        &mut self,
        cx: &mut dyn Context<Objects>,
        lookup: u64,
        closest: &[NodeId],
        ops_applied: u64,
    ) {
        let found = self.uploads.iter().find_map(|(id, upload)| match upload.state {
            UploadState::Locating { lookup: number, .. } if number == lookup => Some(*id),
            _ => None,
        });
        if let Some(id) = found {
            self.start_storing(cx, id, ops_applied, Some(closest));
        }
    }

    /// Where a chunk's shards may go, nearest first: the live members among the peers a lookup
    /// found nearest it (and this node), then — when they are too few for its shards, as when
    /// most peers near it are not members — the other live members by distance.
    fn placement(&self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), found: Option<&[NodeId]>) -> Vec<NodeId> {
        let me = cx.id();
        let live = usable(me, &self.members, &self.health);
        let chunk = id.0.chunk(id.1);
        let Some(found) = found else { return by_distance(&chunk, &live) };
        let mut near: Vec<NodeId> =
            live.iter().copied().filter(|member| *member == me || found.contains(member)).collect();
        near = by_distance(&chunk, &near);
        let wanted = self.uploads.get(&id).map_or(0, |upload| usize::from(upload.data_shards + upload.parity_shards));
        if near.len() < wanted {
            cx.sometimes(probes::PLACED_BEYOND_LOOKUP, true);
            for member in by_distance(&chunk, &live) {
                if !near.contains(&member) {
                    near.push(member);
                }
            }
        }
        near
    }

    /// Shards the chunk, places the shards (on the peers a lookup found, if one ran) and sends
    /// them.
    fn start_storing(
        &mut self,
        cx: &mut dyn Context<Objects>,
        id: (ObjectId, u32),
        ops_applied: u64,
        found: Option<&[NodeId]>,
    ) {
        let mut order = self.placement(cx, id, found);
        let Some(upload) = self.uploads.get_mut(&id) else { return };
        let sealed = match std::mem::replace(&mut upload.state, UploadState::Receiving(Assembly::new(0, 1))) {
            UploadState::Receiving(assembly) => assembly.into_bytes(),
            UploadState::Locating { sealed, .. } => sealed,
            other => {
                upload.state = other;
                return;
            }
        };
        let (k, m) = (upload.data_shards, upload.parity_shards);
        let shards = match self.sharder.encode(k, m, &sealed) {
            Ok(shards) => shards,
            Err(error) => return self.finish_upload(cx, id, Err(ObjectError::Ces(error))),
        };
        let count = shards.len();
        if order.len() < count {
            cx.sometimes(probes::TOO_FEW_PEERS_TO_PLACE, true);
            let error = ObjectError::NotEnoughPeers { live: order.len() as u32, needed: count as u32 };
            return self.finish_upload(cx, id, Err(error));
        }
        let spares = order.split_off(count);
        let now = cx.now();
        let storing = Storing {
            hashes: shards.iter().map(|shard| shard_hash(shard)).collect(),
            shards,
            holders: order,
            durable: vec![false; count],
            refused: vec![false; count],
            sent_at: vec![now; count],
            assigned_at: vec![now; count],
            spares,
            started: now,
            commit_by: ops_applied + self.config.put_ops_max,
        };
        for shard in 0..count {
            self.send_shard(cx, id, &storing, shard);
        }
        let before_quorum = self.config.planted(ObjectsPlantedBug::ManifestBeforeQuorum);
        if let Some(upload) = self.uploads.get_mut(&id) {
            upload.state = UploadState::Storing(storing);
        }
        if before_quorum && let Some(stored) = self.stored_chunk(&id) {
            // The planted bug: the chunk is reported stored while its shards are only on their way.
            self.answer_waiting(cx, id, &Ok(stored));
        }
        self.check_stored(cx, id);
    }

    /// Sends one shard to its holder (or keeps it here, when this node is its holder).
    fn send_shard(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), storing: &Storing, shard: usize) {
        let key = ShardKey { object: id.0, chunk: id.1, shard: shard as u8 };
        let holder = storing.holders[shard];
        let (bytes, hash, commit_by) = (&storing.shards[shard], storing.hashes[shard], storing.commit_by);
        if holder == cx.id() {
            let outcome =
                if self.keep(cx, key, bytes, hash, commit_by) { StoreOutcome::Durable } else { StoreOutcome::Refused };
            self.on_stored(cx, holder, key, outcome);
            return;
        }
        let total = bytes.len() as u32;
        for (offset, len) in pieces(total, self.config.piece_bytes_max) {
            let piece = bytes[offset as usize..(offset + len) as usize].to_vec();
            cx.send(holder, ObjectMessage::Store { key, hash, commit_by, total, offset, bytes: piece });
        }
    }

    /// A holder's answer about a shard this node sent.
    pub(super) fn on_stored(
        &mut self,
        cx: &mut dyn Context<Objects>,
        from: NodeId,
        key: ShardKey,
        outcome: StoreOutcome,
    ) {
        let id = (key.object, key.chunk);
        let Some(Upload { state: UploadState::Storing(storing), .. }) = self.uploads.get_mut(&id) else { return };
        let shard = key.shard as usize;
        if shard >= storing.holders.len() || storing.holders[shard] != from {
            return;
        }
        match outcome {
            StoreOutcome::Durable => {
                storing.durable[shard] = true;
                self.check_stored(cx, id);
            }
            StoreOutcome::Refused => storing.refused[shard] = true,
            StoreOutcome::Expired => self.finish_upload(cx, id, Err(ObjectError::GatewayBehind)),
        }
    }

    /// Reports the chunk stored once every shard is durable.
    fn check_stored(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32)) {
        let Some(Upload { state: UploadState::Storing(storing), .. }) = self.uploads.get(&id) else { return };
        if storing.durable.iter().all(|durable| *durable)
            && let Some(stored) = self.stored_chunk(&id)
        {
            self.finish_upload(cx, id, Ok(stored));
        }
    }

    fn stored_chunk(&self, id: &(ObjectId, u32)) -> Option<StoredChunk> {
        let Some(Upload { sealed_len, state: UploadState::Storing(storing), .. }) = self.uploads.get(id) else {
            return None;
        };
        Some(StoredChunk {
            sealed_len: *sealed_len,
            shard_hashes: storing.hashes.clone(),
            holders: storing.holders.clone(),
            commit_by: storing.commit_by,
        })
    }

    /// Ends an upload with `result`, answering everyone waiting for it.
    fn finish_upload(
        &mut self,
        cx: &mut dyn Context<Objects>,
        id: (ObjectId, u32),
        result: Result<StoredChunk, ObjectError>,
    ) {
        self.answer_waiting(cx, id, &result);
        if let Some(upload) = self.uploads.get_mut(&id) {
            upload.state = UploadState::Finished(result);
        }
    }

    fn answer_waiting(
        &mut self,
        cx: &mut dyn Context<Objects>,
        id: (ObjectId, u32),
        result: &Result<StoredChunk, ObjectError>,
    ) {
        let Some(upload) = self.uploads.get_mut(&id) else { return };
        for request in std::mem::take(&mut upload.waiting) {
            let answer = match result {
                Ok(stored) => ObjectResponse::ChunkStored { chunk: id.1, stored: stored.clone() },
                Err(error) => ObjectResponse::Failed(error.clone()),
            };
            cx.reply(request, answer);
        }
    }

    /// True while some chunk's shards are on their way, or their places are being looked up.
    pub(super) fn uploads_storing(&self) -> bool {
        self.uploads
            .values()
            .any(|upload| matches!(upload.state, UploadState::Storing(_) | UploadState::Locating { .. }))
    }

    /// Resends shards not yet durable, gives a silent holder's shard to the next spare, and fails
    /// chunks past their deadline.
    pub(super) fn tick_uploads(&mut self, cx: &mut dyn Context<Objects>) {
        let now = cx.now();
        let ids: Vec<(ObjectId, u32)> = self.uploads.keys().copied().collect();
        for id in ids {
            if let Some(Upload { state: UploadState::Locating { since, .. }, .. }) = self.uploads.get(&id)
                && now - *since >= self.config.store_deadline
            {
                cx.sometimes(probes::STORE_TIMED_OUT, true);
                self.finish_upload(cx, id, Err(ObjectError::StoreTimedOut { chunk: id.1, durable: 0, needed: 0 }));
                continue;
            }
            let Some(Upload { state: UploadState::Storing(storing), .. }) = self.uploads.get_mut(&id) else { continue };
            if now - storing.started >= self.config.store_deadline {
                let durable = storing.durable.iter().filter(|durable| **durable).count() as u32;
                let needed = storing.durable.len() as u32;
                cx.sometimes(probes::STORE_TIMED_OUT, true);
                self.finish_upload(cx, id, Err(ObjectError::StoreTimedOut { chunk: id.1, durable, needed }));
                continue;
            }
            let mut resend = Vec::new();
            for shard in 0..storing.holders.len() {
                if storing.durable[shard] {
                    continue;
                }
                let silent = now - storing.assigned_at[shard] >= self.config.store_replace_after;
                if (silent || storing.refused[shard]) && !storing.spares.is_empty() {
                    cx.sometimes(probes::HOLDER_REPLACED, true);
                    storing.refused[shard] = false;
                    storing.holders[shard] = storing.spares.remove(0);
                    storing.assigned_at[shard] = now;
                    storing.sent_at[shard] = now;
                    resend.push(shard);
                } else if now - storing.sent_at[shard] >= self.config.store_resend_after {
                    storing.sent_at[shard] = now;
                    resend.push(shard);
                }
            }
            if resend.is_empty() {
                continue;
            }
            let storing = storing.clone();
            for shard in resend {
                self.send_shard(cx, id, &storing, shard);
            }
        }
    }
}

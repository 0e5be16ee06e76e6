//! A node as a gateway for reads: it gathers k good shards of a chunk and rebuilds the sealed chunk.
//!
//! It asks the holders of the k data shards first (a chunk whose data shards are all good needs no
//! decoding). When some are slow — nothing good from them after `fetch_hedge_after` — it asks the
//! parity holders too (the long tail), and when holders answer that they lack their shard, it asks
//! the next members in distance order for whichever shard of the chunk they have (shards that
//! repair moved). A shard counts only if its bytes hash to what the manifest says; the first k
//! good ones are decoded and the stragglers' answers are dropped. The rebuilt chunk is kept for the
//! next pieces of the same read.

use super::Objects;
use super::assembly::Assembly;
use super::messages::{BadRequest, ObjectError, ObjectMessage, ObjectResponse, ShardKey, Unavailable};
use super::names::probes;
use super::placement::{by_distance, usable};
use crate::ces::{ChunkEntry, ObjectId, shard_hash, validate_shards};
use crate::id::NodeId;
use crate::node::{Context, RequestId};
use crate::time::Instant;
use std::collections::{BTreeMap, BTreeSet};

/// Who waits for a chunk being read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Waiter {
    /// A client, for a range of the sealed chunk.
    Client {
        /// Its request.
        request: RequestId,
        /// Where the range starts.
        offset: u32,
        /// Its length.
        len: u32,
    },
    /// This node's repair of the chunk.
    Repair,
}

/// A chunk being read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Fetch {
    pub entry: ChunkEntry,
    pub data_shards: u8,
    pub parity_shards: u8,
    tag: u64,
    started: Instant,
    /// When holders were last asked (or asked again).
    asked_at: Instant,
    hedged: bool,
    good: BTreeMap<u8, Vec<u8>>,
    incoming: BTreeMap<u8, Assembly>,
    /// Shard indexes asked for, and of whom.
    asked: BTreeMap<u8, NodeId>,
    /// Members asked for any shard of the chunk.
    asked_any: BTreeSet<NodeId>,
    /// Answers that brought nothing good.
    failures: u32,
    pub waiting: Vec<Waiter>,
}

impl Fetch {
    /// The shards not yet in hand, as bits.
    fn still_wanted(&self) -> u32 {
        (0..self.entry.holders.len() as u8)
            .filter(|shard| !self.good.contains_key(shard))
            .fold(0, |bits, shard| bits | 1 << shard)
    }
}

/// Reads in progress and chunks recently rebuilt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Fetches {
    pub active: BTreeMap<(ObjectId, u32), Fetch>,
    /// Recently rebuilt sealed chunks, oldest first.
    cache: Vec<((ObjectId, u32), Vec<u8>)>,
    next_tag: u64,
}

impl Objects {
    /// A client's request for a range of a sealed chunk.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_get_piece(
        &mut self,
        cx: &mut dyn Context<Objects>,
        request: RequestId,
        object: ObjectId,
        chunk: u32,
        entry: ChunkEntry,
        (data_shards, parity_shards): (u8, u8),
        (offset, len): (u32, u32),
    ) {
        if let Err(error) = validate_shards(data_shards, parity_shards) {
            return cx.reply(request, ObjectResponse::Failed(ObjectError::Ces(error)));
        }
        let shards = usize::from(data_shards) + usize::from(parity_shards);
        if entry.shard_hashes.len() != shards || entry.holders.len() != shards {
            return cx.reply(request, ObjectResponse::Failed(ObjectError::BadRequest(BadRequest::EntryMismatch)));
        }
        if len > self.config.piece_bytes_max || u64::from(offset) + u64::from(len) > u64::from(entry.sealed_len) {
            return cx.reply(request, ObjectResponse::Failed(ObjectError::BadRequest(BadRequest::PieceOutOfRange)));
        }
        let id = (object, chunk);
        let waiter = Waiter::Client { request, offset, len };
        if let Some(sealed) = self.fetches.cache.iter().find(|(cached, _)| *cached == id).map(|(_, sealed)| sealed)
            && sealed.len() == entry.sealed_len as usize
        {
            cx.sometimes(probes::READ_FROM_CACHE, true);
            let bytes = sealed[offset as usize..(offset + len) as usize].to_vec();
            return cx.reply(request, ObjectResponse::Piece { chunk, offset, bytes });
        }
        self.start_fetch(cx, id, entry, (data_shards, parity_shards), waiter);
    }

    /// Starts reading a chunk for `waiter` (or joins the read in progress).
    pub(super) fn start_fetch(
        &mut self,
        cx: &mut dyn Context<Objects>,
        id: (ObjectId, u32),
        entry: ChunkEntry,
        (data_shards, parity_shards): (u8, u8),
        waiter: Waiter,
    ) {
        if let Some(fetch) = self.fetches.active.get_mut(&id) {
            fetch.waiting.push(waiter);
            return;
        }
        if self.fetches.active.len() >= self.config.fetches_max {
            cx.sometimes(probes::GATEWAY_BUSY, true);
            match waiter {
                Waiter::Client { request, .. } => cx.reply(request, ObjectResponse::Failed(ObjectError::Busy)),
                Waiter::Repair => self.repair_ended(id),
            }
            return;
        }
        self.fetches.next_tag += 1;
        let fetch = Fetch {
            entry,
            data_shards,
            parity_shards,
            tag: self.fetches.next_tag,
            started: cx.now(),
            asked_at: cx.now(),
            hedged: false,
            good: BTreeMap::new(),
            incoming: BTreeMap::new(),
            asked: BTreeMap::new(),
            asked_any: BTreeSet::new(),
            failures: 0,
            waiting: vec![waiter],
        };
        self.fetches.active.insert(id, fetch);
        self.ask_for_shards(cx, id, usize::from(data_shards));
    }

    /// Asks for `count` more shards: the named holders of shards not yet asked for (data shards
    /// first), then other members for whichever shard they have.
    fn ask_for_shards(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), count: usize) {
        let me = cx.id();
        let live = usable(me, &self.members, &self.health);
        let Some(fetch) = self.fetches.active.get_mut(&id) else { return };
        let shards = fetch.entry.holders.len();
        let mut asked = 0;
        let mut local = Vec::new();
        for shard in 0..shards {
            if asked == count {
                break;
            }
            let index = shard as u8;
            if fetch.asked.contains_key(&index) {
                continue;
            }
            let holder = fetch.entry.holders[shard];
            fetch.asked.insert(index, holder);
            asked += 1;
            let key = ShardKey { object: id.0, chunk: id.1, shard: index };
            if holder == me {
                local.push((key, 1 << index));
            } else {
                cx.send(holder, ObjectMessage::Fetch { key, wanted: 1 << index, tag: fetch.tag });
            }
        }
        if asked < count {
            let holders: BTreeSet<NodeId> = fetch.entry.holders.iter().copied().collect();
            for node in by_distance(&id.0.chunk(id.1), &live) {
                if asked == count {
                    break;
                }
                if holders.contains(&node) || fetch.asked_any.contains(&node) {
                    continue;
                }
                fetch.asked_any.insert(node);
                asked += 1;
                let key = ShardKey { object: id.0, chunk: id.1, shard: 0 };
                if node == me {
                    local.push((key, fetch.still_wanted()));
                } else {
                    cx.sometimes(probes::READ_ASKED_BEYOND_HOLDERS, true);
                    cx.send(node, ObjectMessage::Fetch { key, wanted: fetch.still_wanted(), tag: fetch.tag });
                }
            }
        }
        for (key, wanted) in local {
            match self.find_sound(cx, key, wanted) {
                Ok((found, shard)) => self.on_shard(cx, id, found.shard, shard),
                Err(_) => self.on_shard_missing(cx, id),
            }
        }
    }

    /// A piece of a shard this node asked for.
    pub(super) fn on_piece(
        &mut self,
        cx: &mut dyn Context<Objects>,
        key: ShardKey,
        tag: u64,
        total: u32,
        offset: u32,
        bytes: &[u8],
    ) {
        let id = (key.object, key.chunk);
        let piece_max = self.config.piece_bytes_max;
        let Some(fetch) = self.fetches.active.get_mut(&id) else { return };
        let expected = fetch.entry.shard_hashes.len();
        if fetch.tag != tag || usize::from(key.shard) >= expected || fetch.good.contains_key(&key.shard) {
            return;
        }
        let assembly = fetch.incoming.entry(key.shard).or_insert_with(|| Assembly::new(total, piece_max));
        if assembly.total() != total {
            return;
        }
        match assembly.add(offset, bytes) {
            Ok(true) => {
                let Some(assembly) = fetch.incoming.remove(&key.shard) else { return };
                self.on_shard(cx, id, key.shard, assembly.into_bytes());
            }
            Ok(false) => {}
            Err(_) => {
                fetch.incoming.remove(&key.shard);
            }
        }
    }

    /// A holder could not give the shard asked for.
    pub(super) fn on_missing(
        &mut self,
        cx: &mut dyn Context<Objects>,
        from: NodeId,
        key: ShardKey,
        tag: u64,
        why: Unavailable,
    ) {
        let id = (key.object, key.chunk);
        let Some(fetch) = self.fetches.active.get_mut(&id).filter(|fetch| fetch.tag == tag) else { return };
        cx.sometimes(probes::HOLDER_LACKED_SHARD, why == Unavailable::NotHere);
        // A named holder without its own shard may hold another that repair put there: ask it once
        // for whichever shards are still wanted.
        if fetch.asked_any.insert(from) {
            let wanted = fetch.still_wanted();
            let key = ShardKey { object: id.0, chunk: id.1, shard: 0 };
            cx.send(from, ObjectMessage::Fetch { key, wanted, tag: fetch.tag });
        }
        self.on_shard_missing(cx, id);
    }

    fn on_shard_missing(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32)) {
        if let Some(fetch) = self.fetches.active.get_mut(&id) {
            fetch.failures += 1;
        }
        self.suspect(id);
        self.ask_for_shards(cx, id, 1);
    }

    /// A whole shard arrived: kept if it hashes right; with k good ones the chunk is rebuilt.
    fn on_shard(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), index: u8, shard: Vec<u8>) {
        let Some(fetch) = self.fetches.active.get_mut(&id) else { return };
        if shard_hash(&shard) != fetch.entry.shard_hashes[usize::from(index)] {
            cx.sometimes(probes::FETCHED_SHARD_BAD_HASH, true);
            return self.on_shard_missing(cx, id);
        }
        fetch.good.insert(index, shard);
        if fetch.good.len() < usize::from(fetch.data_shards) {
            return;
        }
        let Some(fetch) = self.fetches.active.remove(&id) else { return };
        let slots: Vec<Option<&[u8]>> =
            (0..fetch.entry.holders.len()).map(|index| fetch.good.get(&(index as u8)).map(Vec::as_slice)).collect();
        let decoded = self.sharder.decode(fetch.data_shards, fetch.parity_shards, fetch.entry.sealed_len, &slots);
        match decoded {
            Ok(sealed) => {
                cx.sometimes(
                    probes::READ_DECODED_WITH_PARITY,
                    fetch.good.keys().any(|index| *index >= fetch.data_shards),
                );
                self.fetched(cx, id, fetch, sealed);
            }
            Err(error) => self.fetch_failed(cx, id, &fetch, ObjectError::Ces(error)),
        }
    }

    /// Answers a finished read's waiters and keeps the chunk for the next pieces.
    fn fetched(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), fetch: Fetch, sealed: Vec<u8>) {
        for waiter in &fetch.waiting {
            match waiter {
                Waiter::Client { request, offset, len } => {
                    // A client that joined with another entry for this chunk may ask past its end.
                    let answer = match sealed.get(*offset as usize..(*offset as usize + *len as usize)) {
                        Some(bytes) => ObjectResponse::Piece { chunk: id.1, offset: *offset, bytes: bytes.to_vec() },
                        None => ObjectResponse::Failed(ObjectError::BadRequest(BadRequest::PieceOutOfRange)),
                    };
                    cx.reply(*request, answer);
                }
                Waiter::Repair => self.rebuild_missing(cx, id, &fetch, &sealed),
            }
        }
        self.fetches.cache.retain(|(cached, _)| *cached != id);
        self.fetches.cache.push((id, sealed));
        let keep = self.config.cached_chunks_max;
        if self.fetches.cache.len() > keep {
            let drop = self.fetches.cache.len() - keep;
            self.fetches.cache.drain(..drop);
        }
    }

    fn fetch_failed(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), fetch: &Fetch, error: ObjectError) {
        for waiter in &fetch.waiting {
            match waiter {
                Waiter::Client { request, .. } => cx.reply(*request, ObjectResponse::Failed(error.clone())),
                Waiter::Repair => self.repair_ended(id),
            }
        }
    }

    /// Hedges slow reads and fails those past their deadline.
    pub(super) fn tick_fetches(&mut self, cx: &mut dyn Context<Objects>) {
        let now = cx.now();
        let ids: Vec<(ObjectId, u32)> = self.fetches.active.keys().copied().collect();
        for id in ids {
            let Some(fetch) = self.fetches.active.get_mut(&id) else { continue };
            if now - fetch.started >= self.config.fetch_deadline {
                let Some(fetch) = self.fetches.active.remove(&id) else { continue };
                cx.sometimes(probes::READ_TIMED_OUT, true);
                let good = fetch.good.len() as u32;
                let error = ObjectError::Unavailable { chunk: id.1, good, needed: u32::from(fetch.data_shards) };
                self.fetch_failed(cx, id, &fetch, error);
            } else if now - fetch.asked_at >= self.config.fetch_hedge_after {
                fetch.asked_at = now;
                if fetch.hedged {
                    // Answers can be lost: ask everyone who has not answered with a good shard again.
                    let me = cx.id();
                    for (index, node) in &fetch.asked {
                        if *node != me && !fetch.good.contains_key(index) {
                            let key = ShardKey { object: id.0, chunk: id.1, shard: *index };
                            cx.send(*node, ObjectMessage::Fetch { key, wanted: 1 << *index, tag: fetch.tag });
                        }
                    }
                    for node in &fetch.asked_any {
                        if *node != me {
                            let key = ShardKey { object: id.0, chunk: id.1, shard: 0 };
                            cx.send(*node, ObjectMessage::Fetch { key, wanted: fetch.still_wanted(), tag: fetch.tag });
                        }
                    }
                } else {
                    fetch.hedged = true;
                    cx.sometimes(probes::READ_HEDGED, true);
                    let more = usize::from(fetch.parity_shards);
                    self.ask_for_shards(cx, id, more);
                }
            }
        }
    }
}

//! Repair: a background loop that finds chunks with lost or rotten shards and rebuilds them on
//! other members, within a byte budget per scan.
//!
//! Each chunk has one coordinator: the live member nearest its id (every node computes the same
//! from the same view; while views differ two may repair a chunk, which costs bandwidth, not
//! correctness). A scan goes round the manifests — chunks a read found short first — and for each
//! chunk it coordinates asks the members nearest it which shards they hold, checked by reading
//! and hashing them. A chunk short of shards but with k good ones is read like any other, its
//! missing shards are rebuilt by encoding it again, and each goes to the nearest live member that
//! holds no shard of that chunk. Nothing is written to the log: readers find moved shards by
//! asking members in the same distance order.

use super::Objects;
use super::assembly::pieces;
use super::fetch::{Fetch, Waiter};
use super::messages::{ObjectMessage, ShardKey};
use super::names::probes;
use super::placement::{by_distance, usable};
use crate::ces::{ChunkEntry, ObjectId, shard_hash};
use crate::id::NodeId;
use crate::metadata::manifests::Manifests;
use crate::node::{Context, TraceEvent};
use crate::time::Instant;
use std::collections::{BTreeMap, BTreeSet};

/// Members asked for an inventory beyond a chunk's k + m: where moved shards may be.
pub const INVENTORY_EXTRA_MEMBERS: usize = 4;
/// Most chunks a read found short that wait for repair.
pub const SUSPECTS_MAX: usize = 4096;
/// Most chunks one scan looks at, coordinated here or not, per chunk it may check.
const VISITS_PER_CHECK: usize = 16;

/// A chunk being repaired.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Repair {
    entry: ChunkEntry,
    data_shards: u8,
    parity_shards: u8,
    commit_by: u64,
    tag: u64,
    started: Instant,
    /// Members asked for an inventory, and what those that answered hold.
    asked: BTreeSet<NodeId>,
    holding: BTreeMap<NodeId, Vec<u8>>,
    /// Past the inventory: reading the chunk.
    reading: bool,
}

/// Repairs in progress, and where the scan goes on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Repairs {
    active: BTreeMap<(ObjectId, u32), Repair>,
    cursor: Option<(ObjectId, u32)>,
    next_tag: u64,
    /// Bytes repair may still move in this scan.
    budget: u64,
}

impl Objects {
    /// One repair scan: chunks reads found short, then the next chunks round the manifests.
    pub(super) fn scan_for_repairs(&mut self, cx: &mut dyn Context<Objects>, manifests: &Manifests) {
        self.repairs.budget = self.config.repair_bytes_per_scan;
        let checks_max = self.config.repair_chunks_per_scan;
        let mut checks = 0;
        let suspects: Vec<(ObjectId, u32)> = std::mem::take(&mut self.suspects).into_iter().collect();
        for id in suspects {
            if checks < checks_max && !self.repairs_full() && self.consider_repair(cx, manifests, id) {
                checks += 1;
            }
        }
        let mut visits = 0;
        while checks < checks_max && visits < checks_max * VISITS_PER_CHECK && !self.repairs_full() {
            let Some(id) = next_chunk(manifests, self.repairs.cursor) else {
                self.repairs.cursor = None;
                return;
            };
            self.repairs.cursor = Some(id);
            visits += 1;
            if self.consider_repair(cx, manifests, id) {
                checks += 1;
            }
        }
    }

    /// True while some repair is under way.
    pub(super) fn repairs_active(&self) -> bool {
        !self.repairs.active.is_empty()
    }

    /// True when as many repairs are under way as may be; the scan waits where it is.
    fn repairs_full(&self) -> bool {
        self.repairs.active.len() >= self.config.repairs_max
    }

    /// Starts checking chunk `id` if this node coordinates it; true when it did.
    fn consider_repair(&mut self, cx: &mut dyn Context<Objects>, manifests: &Manifests, id: (ObjectId, u32)) -> bool {
        let Some(manifest) = manifests.get(&id.0) else { return false };
        let Some(entry) = manifest.chunks.get(id.1 as usize) else { return false };
        if self.repairs.active.contains_key(&id) {
            return false;
        }
        let me = cx.id();
        let order = by_distance(&id.0.chunk(id.1), &usable(me, &self.members, &self.health));
        if order.first() != Some(&me) {
            return false;
        }
        let shards = entry.holders.len();
        self.repairs.next_tag += 1;
        let tag = self.repairs.next_tag;
        let asked: BTreeSet<NodeId> = order.iter().take(shards + INVENTORY_EXTRA_MEMBERS).copied().collect();
        for node in &asked {
            if *node != me {
                cx.send(*node, ObjectMessage::Inventory { object: id.0, chunk: id.1, tag });
            }
        }
        let mut holding = BTreeMap::new();
        holding.insert(me, self.inventory(cx, &id.0, id.1));
        let repair = Repair {
            entry: entry.clone(),
            data_shards: manifest.data_shards,
            parity_shards: manifest.parity_shards,
            commit_by: manifest.commit_by,
            tag,
            started: cx.now(),
            asked,
            holding,
            reading: false,
        };
        self.repairs.active.insert(id, repair);
        self.maybe_decide(cx, id, false);
        true
    }

    /// A member's inventory of a chunk this node repairs.
    pub(super) fn on_holding(
        &mut self,
        cx: &mut dyn Context<Objects>,
        from: NodeId,
        id: (ObjectId, u32),
        tag: u64,
        shards: Vec<u8>,
    ) {
        let Some(repair) = self.repairs.active.get_mut(&id) else { return };
        if repair.tag != tag || repair.reading || !repair.asked.contains(&from) {
            return;
        }
        repair.holding.insert(from, shards);
        self.maybe_decide(cx, id, false);
    }

    /// Once every member asked has answered (or `anyway`, when waiting longer is pointless),
    /// decides what the chunk lacks and starts reading it to rebuild that.
    fn maybe_decide(&mut self, cx: &mut dyn Context<Objects>, id: (ObjectId, u32), anyway: bool) {
        let Some(repair) = self.repairs.active.get_mut(&id) else { return };
        if repair.reading || (!anyway && repair.holding.len() < repair.asked.len()) {
            return;
        }
        let shards = repair.entry.holders.len();
        let mut present: BTreeMap<u8, NodeId> = BTreeMap::new();
        for (node, held) in &repair.holding {
            for shard in held {
                if usize::from(*shard) < shards {
                    let named = repair.entry.holders[usize::from(*shard)] == *node;
                    if named || !present.contains_key(shard) {
                        present.insert(*shard, *node);
                    }
                }
            }
        }
        let missing = shards - present.len();
        cx.sometimes(probes::REPAIR_FOUND_SHARDS_MISSING, missing > 0);
        if missing > 0 {
            let short: String = id.0.to_string().chars().take(8).collect();
            let have: Vec<u8> = present.keys().copied().collect();
            cx.trace(TraceEvent::new(
                "objects.repair",
                format!("{short}/{}: {missing} shards missing, have {have:?}", id.1),
            ));
        }
        if missing == 0 {
            self.repairs.active.remove(&id);
            return;
        }
        if present.len() < usize::from(repair.data_shards) {
            // With every member asked answering, the chunk is lost; otherwise a later scan asks again.
            cx.sometimes(probes::CHUNK_BEYOND_REPAIR, repair.holding.len() == repair.asked.len());
            self.repairs.active.remove(&id);
            return;
        }
        let cost = u64::from(repair.entry.sealed_len) * 2;
        if cost > self.repairs.budget {
            cx.sometimes(probes::REPAIR_DEFERRED_BY_BUDGET, true);
            self.suspect(id);
            self.repairs.active.remove(&id);
            return;
        }
        self.repairs.budget -= cost;
        repair.reading = true;
        let mut entry = repair.entry.clone();
        for (shard, node) in &present {
            entry.holders[usize::from(*shard)] = *node;
        }
        let shape = (repair.data_shards, repair.parity_shards);
        self.start_fetch(cx, id, entry, shape, Waiter::Repair);
    }

    /// The chunk was read: rebuilds the shards nobody holds and sends each to a member that holds
    /// none of this chunk.
    pub(super) fn rebuild_missing(
        &mut self,
        cx: &mut dyn Context<Objects>,
        id: (ObjectId, u32),
        fetch: &Fetch,
        sealed: &[u8],
    ) {
        let Some(repair) = self.repairs.active.remove(&id) else { return };
        let shards = match self.sharder.encode(fetch.data_shards, fetch.parity_shards, sealed) {
            Ok(shards) => shards,
            Err(_) => return,
        };
        let held: BTreeSet<u8> = repair.holding.values().flatten().copied().collect();
        let me = cx.id();
        let order = by_distance(&id.0.chunk(id.1), &usable(me, &self.members, &self.health));
        // Members holding nothing of this chunk first; then members whose every shard of it is
        // also held elsewhere (a copy repair made while they were away), so that each shard still
        // has a member of its own; and when fewer members live than the chunk has shards, the
        // least loaded take a second one (the chunk then survives fewer lost members, but as many
        // lost shards).
        let copies = |shard: &u8| repair.holding.values().filter(|held| held.contains(shard)).count();
        let spare =
            |node: &NodeId| repair.holding.get(node).is_none_or(|held| held.iter().all(|shard| copies(shard) > 1));
        let empty: Vec<NodeId> =
            order.iter().copied().filter(|node| repair.holding.get(node).is_none_or(Vec::is_empty)).collect();
        let doubled: Vec<NodeId> = order.iter().copied().filter(|node| !empty.contains(node) && spare(node)).collect();
        let mut crowded: Vec<NodeId> =
            order.iter().copied().filter(|node| !empty.contains(node) && !doubled.contains(node)).collect();
        crowded.sort_by_key(|node| repair.holding.get(node).map_or(0, Vec::len));
        let distinct = empty.len() + doubled.len();
        let mut targets = empty.into_iter().chain(doubled).chain(crowded.into_iter().cycle()).enumerate();
        for (index, shard) in shards.iter().enumerate() {
            let index_byte = index as u8;
            if held.contains(&index_byte) {
                continue;
            }
            if shard_hash(shard) != repair.entry.shard_hashes[index] {
                // Encoding the chunk again must give the same shards; if not, store nothing.
                cx.sometimes(probes::REBUILT_SHARD_MISMATCH, true);
                return;
            }
            let Some((taken, target)) = targets.next() else {
                cx.sometimes(probes::REPAIR_WITHOUT_TARGET, true);
                cx.trace(TraceEvent::new(
                    "objects.repair",
                    format!(
                        "{key_text}: no member to take it",
                        key_text = ShardKey { object: id.0, chunk: id.1, shard: index_byte }
                    ),
                ));
                return;
            };
            cx.sometimes(probes::SHARD_REBUILT, true);
            cx.sometimes(probes::REPAIR_DOUBLED_UP, taken >= distinct);
            let key = ShardKey { object: id.0, chunk: id.1, shard: index_byte };
            cx.trace(TraceEvent::new("objects.rebuilt", format!("{key} to {target}")));
            let hash = repair.entry.shard_hashes[index];
            if target == me {
                let _ = self.keep(cx, key, shard, hash, repair.commit_by);
                continue;
            }
            let total = shard.len() as u32;
            for (offset, len) in pieces(total, self.config.piece_bytes_max) {
                let bytes = shard[offset as usize..(offset + len) as usize].to_vec();
                cx.send(target, ObjectMessage::Store { key, hash, commit_by: repair.commit_by, total, offset, bytes });
            }
        }
    }

    /// A repair's read failed: it ends, and a later scan tries again.
    pub(super) fn repair_ended(&mut self, id: (ObjectId, u32)) {
        self.repairs.active.remove(&id);
    }

    /// Decides repairs whose inventories are slow, and drops those past the read deadline.
    pub(super) fn tick_repairs(&mut self, cx: &mut dyn Context<Objects>) {
        let now = cx.now();
        let (hedge, deadline) = (self.config.fetch_hedge_after, self.config.fetch_deadline);
        let slow: Vec<(ObjectId, u32)> = self
            .repairs
            .active
            .iter()
            .filter(|(_, repair)| !repair.reading && now - repair.started >= hedge)
            .map(|(id, _)| *id)
            .collect();
        for id in slow {
            self.maybe_decide(cx, id, true);
        }
        self.repairs.active.retain(|_, repair| now - repair.started < deadline);
    }
}

/// The chunk after `cursor` in the manifests, in (object, chunk) order.
fn next_chunk(manifests: &Manifests, cursor: Option<(ObjectId, u32)>) -> Option<(ObjectId, u32)> {
    if let Some((object, chunk)) = cursor
        && let Some(manifest) = manifests.get(&object)
        && (chunk as usize) + 1 < manifest.chunks.len()
    {
        return Some((object, chunk + 1));
    }
    let mut after = cursor.map(|(object, _)| object);
    loop {
        let manifest = manifests.next_after(after.as_ref())?;
        if !manifest.chunks.is_empty() {
            return Some((manifest.object, 0));
        }
        after = Some(manifest.object);
    }
}

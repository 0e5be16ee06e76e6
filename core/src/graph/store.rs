//! The graph's in-memory layout: entities and edges in slabs indexed by id, each entity with the
//! ids of its edges, each collection with the ids of its entities.
//!
//! - An entity slot is 48 bytes: its encoded properties (a boxed slice: no allocation when empty),
//!   its edges in both directions in id order (one list of 12-byte [`Adjacent`] entries, each
//!   carrying the edge's slot, the entity at its other end, its direction from the entity and its
//!   label, so that neighbours and traversals walk the lists without reading edge or entity slots,
//!   each a likely cache miss in a large graph), and its collection's number. The other end of
//!   every entry is live: removing an entity removes its edges.
//! - An edge slot is 40 bytes: its ends, its label's number, its pheromone level and the
//!   evaporation step it was set at, and its encoded properties. Each edge also costs 12 bytes in
//!   each end's list.
//! - A collection's members are a sorted list of entity slots (4 bytes an entity), so a scan pages
//!   by binary search.
//!
//! Ids are slots plus one and are never reused: a removed entity or edge leaves a vacant slot. The
//! slots are kept in pages ([`super::slab`]), which are given back once none of their slots is live,
//! so vacant slots do not keep memory for ever.

use super::config::{EDGE_IDS_MAX, ENTITY_IDS_MAX, NAMES_MAX};
use super::interner::{Interner, NameIndex};
use super::ops::{Direction, EdgeId, EntityId, GraphError};
use super::slab::{Slab, Slot};

/// A slot's collection or label number when the slot is vacant.
pub const VACANT: NameIndex = NameIndex::MAX;

/// An entity's slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntitySlot {
    /// Its properties, encoded ([`super::value::encode`]).
    pub properties: Box<[u8]>,
    /// Its edges, from and to it, in increasing slot order (an edge to itself once).
    pub edges: EdgeList,
    /// Its collection's number; [`VACANT`] when the slot is.
    pub collection: NameIndex,
}

/// One entry of an entity's edge list: the edge's slot (the high 32 bits, so that entries order as
/// their slots), whether it goes out from the entity and whether it comes in (both for an edge to
/// itself), and its label's number (the low 30 bits; labels are fewer than [`NAMES_MAX`]).
///
/// Filtering a list by direction and label reads only the list: in a large graph each edge slot
/// read is a likely cache miss, and most of an entity's edges are not the ones asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Adjacent {
    slot: u32,
    other: u32,
    meta: u32,
}

const ADJACENT_OUT: u32 = 1 << 31;
const ADJACENT_IN: u32 = 1 << 30;
const ADJACENT_LABEL_MASK: u32 = ADJACENT_IN - 1;
const _: () = assert!(NAMES_MAX <= ADJACENT_LABEL_MASK);

impl Adjacent {
    /// The entry of the edge at `slot` with `label`, in the list of an entity it goes `out` from
    /// and/or comes `into`.
    #[must_use]
    pub fn new(slot: u32, other: u32, label: NameIndex, out: bool, into: bool) -> Adjacent {
        debug_assert!(label <= ADJACENT_LABEL_MASK && (out || into));
        let direction = if out { ADJACENT_OUT } else { 0 } | if into { ADJACENT_IN } else { 0 };
        Adjacent { slot, other, meta: direction | (label & ADJACENT_LABEL_MASK) }
    }

    /// The edge's slot.
    #[must_use]
    pub fn slot(self) -> u32 {
        self.slot
    }

    /// The entity slot at the edge's other end.
    #[must_use]
    pub fn other(self) -> u32 {
        self.other
    }

    /// The edge's label number.
    #[must_use]
    pub fn label(self) -> NameIndex {
        self.meta & ADJACENT_LABEL_MASK
    }
}

/// Which entries of an edge list a walk wants: those that count in a direction and, when labels
/// are given, carry one of them. Checked on the entry alone, without a call per entry.
#[derive(Clone, Copy, Debug)]
pub struct Wanted<'a> {
    /// The direction bits an entry must have one of.
    direction_bits: u32,
    labels: Option<&'a [NameIndex]>,
}

impl<'a> Wanted<'a> {
    /// The entries that count in `direction` and, when given, carry a label among `labels`.
    #[must_use]
    pub fn new(direction: Direction, labels: Option<&'a [NameIndex]>) -> Wanted<'a> {
        let direction_bits = match direction {
            Direction::Out => ADJACENT_OUT,
            Direction::In => ADJACENT_IN,
            Direction::Both => ADJACENT_OUT | ADJACENT_IN,
        };
        Wanted { direction_bits, labels }
    }

    /// Whether the walk wants `entry`.
    #[inline]
    #[must_use]
    pub fn admits(self, entry: Adjacent) -> bool {
        entry.meta & self.direction_bits != 0
            && match self.labels {
                None => true,
                Some([label]) => entry.label() == *label,
                Some(labels) => labels.contains(&entry.label()),
            }
    }
}

/// An entity's edges, in increasing slot order; searched by slot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EdgeList(Vec<Adjacent>);

impl std::ops::Deref for EdgeList {
    type Target = [Adjacent];

    fn deref(&self) -> &[Adjacent] {
        &self.0
    }
}

impl EdgeList {
    /// Where the edge at `slot` is in the list (`Err`: where it would go).
    ///
    /// # Errors
    /// The edge is not in the list.
    pub fn binary_search(&self, slot: &u32) -> Result<usize, usize> {
        self.0.binary_search_by_key(slot, |entry| entry.slot())
    }

    /// Entries the list has room for without growing.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Enters `entry` in slot order (at the end, in the usual case of a new edge).
    fn enter(&mut self, entry: Adjacent) {
        let slot = entry.slot();
        match self.0.last().map(|last| last.slot()) {
            Some(last) if last == slot => {} // an edge to itself, entered once
            Some(last) if last > slot => {
                if let Err(at) = self.binary_search(&slot) {
                    self.0.insert(at, entry);
                }
            }
            _ => self.0.push(entry),
        }
    }

    /// Takes the edge at `slot` out of the list, if it is there.
    fn take_out(&mut self, slot: u32) {
        if let Ok(at) = self.binary_search(&slot) {
            self.0.remove(at);
        }
    }
}

/// An edge's slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EdgeSlot {
    /// The entity slot it starts at.
    pub from: u32,
    /// The entity slot it ends at.
    pub to: u32,
    /// Its label's number; [`VACANT`] when the slot is.
    pub label: NameIndex,
    /// Its pheromone level when last set.
    pub level: u32,
    /// The evaporation step at which `level` was set.
    pub at: u64,
    /// Its properties, encoded.
    pub properties: Box<[u8]>,
}

impl EdgeSlot {
    /// The entity slot at the other end from `entity`.
    #[must_use]
    pub fn other_end(&self, entity: u32) -> u32 {
        if self.from == entity { self.to } else { self.from }
    }

    /// Whether the edge counts in `direction` for the entity at `entity`.
    #[must_use]
    pub fn goes(&self, entity: u32, direction: Direction) -> bool {
        match direction {
            Direction::Out => self.from == entity,
            Direction::In => self.to == entity,
            Direction::Both => true,
        }
    }
}

impl Slot for EntitySlot {
    fn vacant() -> EntitySlot {
        EntitySlot { properties: Box::default(), edges: EdgeList::default(), collection: VACANT }
    }

    fn is_vacant(&self) -> bool {
        self.collection == VACANT
    }
}

impl Slot for EdgeSlot {
    fn vacant() -> EdgeSlot {
        EdgeSlot { from: 0, to: 0, label: VACANT, level: 0, at: 0, properties: Box::default() }
    }

    fn is_vacant(&self) -> bool {
        self.label == VACANT
    }
}

/// Entities, edges, names and collection indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Store {
    entities: Slab<EntitySlot>,
    edges: Slab<EdgeSlot>,
    /// Collection names, counted by live entities.
    pub collections: Interner,
    /// Edge labels, counted by live edges.
    pub labels: Interner,
    /// Per collection number, the slots of its live entities in increasing order.
    members: Vec<Vec<u32>>,
    live_entities: u64,
    live_edges: u64,
}

/// An entity id's slot.
#[must_use]
pub fn entity_slot(id: EntityId) -> Option<u32> {
    id.0.checked_sub(1).filter(|&slot| slot < ENTITY_IDS_MAX).map(|slot| slot as u32)
}

/// An edge id's slot.
#[must_use]
pub fn edge_slot(id: EdgeId) -> Option<u32> {
    id.0.checked_sub(1).filter(|&slot| slot < ENTITY_IDS_MAX).map(|slot| slot as u32)
}

/// The id of entity slot `slot`.
#[must_use]
pub fn entity_id(slot: u32) -> EntityId {
    EntityId(u64::from(slot) + 1)
}

/// The id of edge slot `slot`.
#[must_use]
pub fn edge_id(slot: u32) -> EdgeId {
    EdgeId(u64::from(slot) + 1)
}

impl Store {
    /// Live entities.
    #[must_use]
    pub fn live_entities(&self) -> u64 {
        self.live_entities
    }

    /// Live edges.
    #[must_use]
    pub fn live_edges(&self) -> u64 {
        self.live_edges
    }

    /// Entity slots handed out (live or vacant).
    #[must_use]
    pub fn entity_slots(&self) -> u32 {
        self.entities.handed_out()
    }

    /// Edge slots handed out (live or vacant).
    #[must_use]
    pub fn edge_slots(&self) -> u32 {
        self.edges.handed_out()
    }

    /// The live entity at `slot`.
    #[must_use]
    pub fn entity(&self, slot: u32) -> Option<&EntitySlot> {
        self.entities.get(slot)
    }

    /// Whether the entity at `slot` is live.
    #[must_use]
    pub fn is_live(&self, slot: u32) -> bool {
        self.entity(slot).is_some()
    }

    /// The live entity with id `id`.
    #[must_use]
    pub fn entity_by_id(&self, id: EntityId) -> Option<(u32, &EntitySlot)> {
        let slot = entity_slot(id)?;
        Some((slot, self.entity(slot)?))
    }

    /// The live edge at `slot`.
    #[must_use]
    pub fn edge(&self, slot: u32) -> Option<&EdgeSlot> {
        self.edges.get(slot)
    }

    /// The live edge with id `id`.
    #[must_use]
    pub fn edge_by_id(&self, id: EdgeId) -> Option<(u32, &EdgeSlot)> {
        let slot = edge_slot(id)?;
        Some((slot, self.edge(slot)?))
    }

    /// The live edge at `slot`, to change its level.
    pub fn edge_mut(&mut self, slot: u32) -> Option<&mut EdgeSlot> {
        self.edges.get_mut(slot)
    }

    /// The slots of a collection's live entities, in increasing order.
    #[must_use]
    pub fn members(&self, collection: NameIndex) -> &[u32] {
        self.members.get(collection as usize).map_or(&[], Vec::as_slice)
    }

    /// Adds an entity in the collection named `collection`; answers its slot.
    ///
    /// # Errors
    /// Every id handed out, or every collection name known.
    pub fn add_entity(&mut self, collection: &str, properties: Box<[u8]>) -> Result<u32, GraphError> {
        if u64::from(self.entities.handed_out()) >= ENTITY_IDS_MAX {
            return Err(GraphError::IdsExhausted);
        }
        let collection = self.collections.intern(collection, NAMES_MAX).ok_or(GraphError::NamesFull(NAMES_MAX))?;
        Ok(self.put_entity(None, collection, properties))
    }

    /// Puts an entity in slot `slot` (a vacant one, when a snapshot is read back) or a new slot.
    pub fn put_entity(&mut self, slot: Option<u32>, collection: NameIndex, properties: Box<[u8]>) -> u32 {
        let entity = EntitySlot { properties, edges: EdgeList::default(), collection };
        let slot = match slot {
            Some(slot) => {
                self.entities.put(slot, entity);
                slot
            }
            None => self.entities.push(entity),
        };
        self.collections.add(collection);
        if self.members.len() <= collection as usize {
            self.members.resize_with(collection as usize + 1, Vec::new);
        }
        let members = &mut self.members[collection as usize];
        // Slots arrive in increasing order, except in tests that build out of order.
        match members.last() {
            Some(&last) if last > slot => {
                let at = members.partition_point(|&member| member < slot);
                members.insert(at, slot);
            }
            _ => members.push(slot),
        }
        self.live_entities += 1;
        slot
    }

    /// Counts `entities` and `edges` slots as handed out, and grows the collection indexes to the
    /// collections known (reading a snapshot back).
    pub fn reserve_vacant(&mut self, entities: u32, edges: u32) {
        self.members.resize_with(self.collections.names().len(), Vec::new);
        self.entities.hand_out(entities);
        self.edges.hand_out(edges);
    }

    /// Replaces the encoded properties of the live entity at `slot`.
    pub fn set_properties(&mut self, slot: u32, properties: Box<[u8]>) {
        if let Some(entity) = self.entities.get_mut(slot) {
            entity.properties = properties;
        }
    }

    /// Removes the live entity at `slot`, and its edges unless `keep_edges` (a planted bug).
    pub fn remove_entity(&mut self, slot: u32, keep_edges: bool) {
        let Some(EntitySlot { collection, edges, .. }) = self.entities.vacate(slot) else { return };
        if !keep_edges {
            for edge in edges.iter() {
                self.remove_edge(edge.slot());
            }
        }
        self.collections.remove(collection);
        if let Some(members) = self.members.get_mut(collection as usize)
            && let Ok(at) = members.binary_search(&slot)
        {
            members.remove(at);
        }
        self.live_entities -= 1;
    }

    /// Adds an edge between live entities; answers its slot.
    ///
    /// # Errors
    /// Every id handed out, or every label known.
    pub fn add_edge(
        &mut self,
        (from, to): (u32, u32),
        label: &str,
        (level, at): (u32, u64),
        properties: Box<[u8]>,
    ) -> Result<u32, GraphError> {
        if u64::from(self.edges.handed_out()) >= EDGE_IDS_MAX {
            return Err(GraphError::IdsExhausted);
        }
        let label = self.labels.intern(label, NAMES_MAX).ok_or(GraphError::NamesFull(NAMES_MAX))?;
        let slot = self.edges.push(EdgeSlot { from, to, label, level, at, properties });
        self.link(slot);
        Ok(slot)
    }

    /// Puts an edge read back from a snapshot in its (vacant) slot.
    pub fn put_edge(&mut self, slot: u32, edge: EdgeSlot) {
        self.edges.put(slot, edge);
        self.link(slot);
    }

    /// Enters the edge at `slot` in its ends' lists and counts it.
    fn link(&mut self, slot: u32) {
        let Some(&EdgeSlot { from, to, label, .. }) = self.edges.get(slot) else { return };
        for end in [from, to] {
            let other = if end == from { to } else { from };
            let entry = Adjacent::new(slot, other, label, end == from, end == to);
            if let Some(entity) = self.entities.get_mut(end) {
                entity.edges.enter(entry);
            }
        }
        self.labels.add(label);
        self.live_edges += 1;
    }

    /// Removes the live edge at `slot` from its ends' lists and vacates it.
    pub fn remove_edge(&mut self, slot: u32) {
        let Some(EdgeSlot { from, to, label, .. }) = self.edges.vacate(slot) else { return };
        for end in [from, to] {
            if let Some(entity) = self.entities.get_mut(end) {
                entity.edges.take_out(slot);
            }
        }
        self.labels.remove(label);
        self.live_edges -= 1;
    }

    /// The live edges of the entity at `slot` that count in `direction` (and carry a label among
    /// `labels`, when given), in increasing order, with their slots. Only the edges wanted are read.
    pub fn edges_of<'a>(
        &'a self,
        slot: u32,
        direction: Direction,
        labels: Option<&'a [NameIndex]>,
    ) -> impl Iterator<Item = (u32, &'a EdgeSlot)> + 'a {
        self.adjacent(slot, direction, labels).filter_map(move |entry| {
            let edge = self.edge(entry.slot())?;
            debug_assert!(edge.label == entry.label() && edge.goes(slot, direction));
            Some((entry.slot(), edge))
        })
    }

    /// The list entries of the edges [`Store::edges_of`] answers, read off the list alone.
    pub fn adjacent<'a>(
        &'a self,
        slot: u32,
        direction: Direction,
        labels: Option<&'a [NameIndex]>,
    ) -> impl Iterator<Item = Adjacent> + 'a {
        let wanted = Wanted::new(direction, labels);
        self.edge_list(slot).iter().copied().filter(move |&entry| wanted.admits(entry))
    }

    /// The whole edge list of the entity at `slot` (empty for a vacant slot), in slot order.
    #[must_use]
    pub fn edge_list(&self, slot: u32) -> &[Adjacent] {
        self.entities.get(slot).map_or(&[][..], |entity| &entity.edges[..])
    }

    /// Every live entity slot, in increasing order.
    pub fn live_entity_slots(&self) -> impl Iterator<Item = (u32, &EntitySlot)> {
        self.entities.iter()
    }

    /// Every live edge slot, in increasing order.
    pub fn live_edge_slots(&self) -> impl Iterator<Item = (u32, &EdgeSlot)> {
        self.edges.iter()
    }

    /// Bytes the store holds on the heap, counted from capacities (for memory reports; the
    /// allocator's own overhead per allocation is not counted).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        let entities = self
            .entities
            .heap_bytes(|entity| entity.properties.len() + entity.edges.capacity() * size_of::<Adjacent>());
        let edges = self.edges.heap_bytes(|edge| edge.properties.len());
        let members = self.members.iter().map(|members| members.capacity() * 4 + 24).sum::<usize>();
        entities + edges + members + self.collections.heap_bytes() + self.labels.heap_bytes()
    }
}

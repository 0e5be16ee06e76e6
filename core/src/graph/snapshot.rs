//! The graph as bytes: what a snapshot of the metadata keeps, and how it is read back.
//!
//! The image is columnar enough to stay compact under postcard's variable-length integers: names
//! once, then each live entity as (slot, collection number, properties) and each live edge as
//! (slot, from, to, label number, level, step, properties). Reading back checks everything a
//! damaged image could get wrong — slots out of order or past the end, ends that are not live
//! entities, unknown names, properties that are not a canonical property map — and refuses the
//! image with a typed error rather than build an inconsistent graph.

use super::interner::Interner;
use super::store::{EdgeSlot, Store, VACANT};
use super::value;
use crate::codec::{CodecError, encode_serde};
use serde::{Deserialize, Serialize};

/// The layout version this build writes and reads.
const IMAGE_VERSION: u8 = 1;

/// A live entity in an image.
#[derive(Serialize, Deserialize)]
struct EntityRecord<'a>(u32, u32, #[serde(with = "serde_bytes", borrow)] &'a [u8]);

/// A live edge in an image.
#[derive(Serialize, Deserialize)]
struct EdgeRecord<'a>(u32, u32, u32, u32, u32, u64, #[serde(with = "serde_bytes", borrow)] &'a [u8]);

/// A whole graph.
#[derive(Serialize, Deserialize)]
struct Image<'a> {
    version: u8,
    entity_slots: u32,
    edge_slots: u32,
    evaporations: u64,
    mutations: u64,
    collections: Vec<String>,
    labels: Vec<String>,
    #[serde(borrow)]
    entities: Vec<EntityRecord<'a>>,
    #[serde(borrow)]
    edges: Vec<EdgeRecord<'a>>,
}

/// The counters a graph keeps beside its store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Evaporation steps so far.
    pub evaporations: u64,
    /// Graph mutations applied so far.
    pub mutations: u64,
}

/// `store` and `counters` as bytes; with `drop_levels` (a planted bug) every level is written as 0.
#[must_use]
pub fn write(store: &Store, counters: Counters, drop_levels: bool) -> Vec<u8> {
    let image = Image {
        version: IMAGE_VERSION,
        entity_slots: store.entity_slots(),
        edge_slots: store.edge_slots(),
        evaporations: counters.evaporations,
        mutations: counters.mutations,
        collections: store.collections.names().to_vec(),
        labels: store.labels.names().to_vec(),
        entities: store
            .live_entity_slots()
            .map(|(slot, entity)| EntityRecord(slot, entity.collection, &entity.properties))
            .collect(),
        edges: store
            .live_edge_slots()
            .map(|(slot, edge)| {
                let level = if drop_levels { 0 } else { edge.level };
                EdgeRecord(slot, edge.from, edge.to, edge.label, level, edge.at, &edge.properties)
            })
            .collect(),
    };
    let mut out = Vec::new();
    // Numbers, strings and byte strings always encode.
    let _ = encode_serde(&image, &mut out);
    out
}

/// Reads back what [`write`] wrote.
///
/// # Errors
/// Bytes that are not an image of a consistent graph.
pub fn read(bytes: &[u8]) -> Result<(Store, Counters), CodecError> {
    let (image, rest) =
        postcard::take_from_bytes::<Image<'_>>(bytes).map_err(|error| CodecError::Malformed(error.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::Malformed(format!("graph image: {} trailing bytes", rest.len())));
    }
    let malformed = |what: &str| CodecError::Malformed(format!("graph image: {what}"));
    if image.version != IMAGE_VERSION {
        return Err(malformed("unknown layout version"));
    }
    if u64::from(image.entity_slots) >= super::config::ENTITY_IDS_MAX
        || u64::from(image.edge_slots) >= super::config::EDGE_IDS_MAX
        || image.entities.len() > image.entity_slots as usize
        || image.edges.len() > image.edge_slots as usize
    {
        return Err(malformed("more records than slots"));
    }
    let mut store = Store::default();
    store.collections = Interner::from_names(image.collections).ok_or_else(|| malformed("a collection name twice"))?;
    store.labels = Interner::from_names(image.labels).ok_or_else(|| malformed("a label twice"))?;
    store.reserve_vacant(image.entity_slots, image.edge_slots);
    let mut previous = None;
    for EntityRecord(slot, collection, properties) in image.entities {
        if previous.is_some_and(|previous| slot <= previous) || slot >= image.entity_slots {
            return Err(malformed("entity slots out of order"));
        }
        previous = Some(slot);
        if collection == VACANT || collection as usize >= store.collections.names().len() {
            return Err(malformed("an unknown collection"));
        }
        store.put_entity(Some(slot), collection, canonical_properties(properties)?);
    }
    let mut previous = None;
    for EdgeRecord(slot, from, to, label, level, at, properties) in image.edges {
        if previous.is_some_and(|previous| slot <= previous) || slot >= image.edge_slots {
            return Err(malformed("edge slots out of order"));
        }
        previous = Some(slot);
        if store.entity(from).is_none() || store.entity(to).is_none() {
            return Err(malformed("an edge whose end is not a live entity"));
        }
        if label == VACANT || label as usize >= store.labels.names().len() {
            return Err(malformed("an unknown label"));
        }
        if at > image.evaporations {
            return Err(malformed("a level set after the last evaporation step"));
        }
        let properties = canonical_properties(properties)?;
        store.put_edge(slot, EdgeSlot { from, to, label, level, at, properties });
    }
    Ok((store, Counters { evaporations: image.evaporations, mutations: image.mutations }))
}

/// `bytes` as kept properties, if they are a property map encoded as [`value::encode`] would.
fn canonical_properties(bytes: &[u8]) -> Result<Box<[u8]>, CodecError> {
    let properties = value::decode(bytes)?;
    let encoded = value::encode(&properties);
    if *encoded != *bytes {
        return Err(CodecError::Malformed("graph image: properties not in canonical form".into()));
    }
    Ok(encoded)
}

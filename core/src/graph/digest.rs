//! A fingerprint of a graph's contents: every live entity and edge (ids, names, properties, the
//! pheromone level now) and the counters that decide what later commands do. Two graphs with the
//! same digest hold the same contents, whatever their layouts; a replica compares itself with
//! another, or with a model, by it ([`super::GraphQuery::Digest`]).
//!
//! The digest is XXH3-64 over a fixed sequence of fields, each written with its length where it
//! has one; both the graph and the brute-force model feed the same [`Digest`] in the same order.

use std::hash::Hasher;

/// The fingerprint being built.
pub struct Digest {
    hasher: twox_hash::XxHash3_64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest { hasher: twox_hash::XxHash3_64::with_seed(0) }
    }
}

impl Digest {
    /// Adds the counters: entity and edge ids handed out, evaporation steps, mutations.
    pub fn counters(&mut self, entity_ids: u64, edge_ids: u64, evaporations: u64, mutations: u64) {
        for value in [entity_ids, edge_ids, evaporations, mutations] {
            self.hasher.write_u64(value);
        }
    }

    /// Adds a live entity (entities go in id order, before every edge).
    pub fn entity(&mut self, id: u64, collection: &str, properties: &[u8]) {
        self.hasher.write_u8(1);
        self.hasher.write_u64(id);
        self.text(collection.as_bytes());
        self.text(properties);
    }

    /// Adds a live edge (edges go in id order, after every entity).
    pub fn edge(&mut self, id: u64, (from, to): (u64, u64), label: &str, level: u32, properties: &[u8]) {
        self.hasher.write_u8(2);
        self.hasher.write_u64(id);
        self.hasher.write_u64(from);
        self.hasher.write_u64(to);
        self.text(label.as_bytes());
        self.hasher.write_u32(level);
        self.text(properties);
    }

    fn text(&mut self, bytes: &[u8]) {
        self.hasher.write_u64(bytes.len() as u64);
        self.hasher.write(bytes);
    }

    /// The fingerprint.
    #[must_use]
    pub fn finish(&self) -> u64 {
        self.hasher.finish()
    }
}

//! Collection names and edge labels, each kept once and referred to by a small number, with the
//! count of live entities or edges that carry it.

use std::collections::BTreeMap;

/// A name's number in an [`Interner`].
pub type NameIndex = u32;

/// Names by number and numbers by name. A name stays known (with a count of zero) after the last
/// thing carrying it is removed, so numbers are never reused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Interner {
    names: Vec<String>,
    counts: Vec<u64>,
    index: BTreeMap<String, NameIndex>,
}

impl Interner {
    /// The number of `name`, if known.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<NameIndex> {
        self.index.get(name).copied()
    }

    /// The number of `name`, learning it if new; `None` when `names_max` names are known.
    pub fn intern(&mut self, name: &str, names_max: u32) -> Option<NameIndex> {
        if let Some(index) = self.find(name) {
            return Some(index);
        }
        if self.names.len() >= names_max as usize {
            return None;
        }
        let index = self.names.len() as NameIndex;
        self.names.push(name.to_owned());
        self.counts.push(0);
        self.index.insert(name.to_owned(), index);
        Some(index)
    }

    /// The name numbered `index` (empty for a number never handed out, which the graph never asks).
    #[must_use]
    pub fn name(&self, index: NameIndex) -> &str {
        self.names.get(index as usize).map_or("", String::as_str)
    }

    /// Counts one more thing carrying `index`.
    pub fn add(&mut self, index: NameIndex) {
        if let Some(count) = self.counts.get_mut(index as usize) {
            *count += 1;
        }
    }

    /// Counts one thing fewer carrying `index`.
    pub fn remove(&mut self, index: NameIndex) {
        if let Some(count) = self.counts.get_mut(index as usize) {
            *count = count.saturating_sub(1);
        }
    }

    /// The names carried by something, with their counts, in name order.
    #[must_use]
    pub fn counted(&self) -> Vec<(String, u64)> {
        self.index
            .iter()
            .filter_map(|(name, &index)| {
                let count = self.counts[index as usize];
                (count > 0).then(|| (name.clone(), count))
            })
            .collect()
    }

    /// Every name, by number (what a snapshot keeps).
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// An interner knowing `names` by number, with no counts; `None` if a name repeats.
    #[must_use]
    pub fn from_names(names: Vec<String>) -> Option<Interner> {
        let mut index = BTreeMap::new();
        for (number, name) in names.iter().enumerate() {
            if index.insert(name.clone(), number as NameIndex).is_some() {
                return None;
            }
        }
        Some(Interner { counts: vec![0; names.len()], names, index })
    }

    /// Bytes held, roughly (for memory reports).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.names.iter().map(|name| 2 * (name.capacity() + 24) + 8 + 16).sum()
    }
}

//! Records: the values a node keeps for others (each until its expiry), and the ones it publishes
//! itself (stored again at the k closest peers every `republish_every`, so they outlive churn).
//! Expiry is by the node's own monotonic clock, which comes through its context.

use super::key::Key;
use super::messages::Record;
use crate::time::Instant;
use std::collections::BTreeMap;

/// A record kept for another node, with its expiry.
#[derive(Clone, Debug, Hash)]
struct Kept {
    record: Record,
    expires: Instant,
}

/// Why a record was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepRefused {
    /// Its value is over `value_bytes_max`.
    TooLarge,
    /// `records_max` records are kept already (and none of them expired).
    Full,
}

/// The records one node keeps and publishes.
#[derive(Clone, Debug, Default, Hash)]
pub struct Records {
    kept: BTreeMap<Key, Kept>,
    published: BTreeMap<Key, Vec<u8>>,
}

impl Records {
    /// Keeps `record` until `expires` (a newer copy replaces an older one).
    pub fn keep(
        &mut self,
        record: Record,
        expires: Instant,
        now: Instant,
        records_max: usize,
        value_bytes_max: usize,
    ) -> Result<(), KeepRefused> {
        if record.value.len() > value_bytes_max {
            return Err(KeepRefused::TooLarge);
        }
        if !self.kept.contains_key(&record.key) && self.kept.len() >= records_max {
            self.expire(now);
            if self.kept.len() >= records_max {
                return Err(KeepRefused::Full);
            }
        }
        self.kept.insert(record.key, Kept { record, expires });
        Ok(())
    }

    /// The record under `key`, unless it expired.
    #[must_use]
    pub fn get(&self, key: &Key, now: Instant) -> Option<&Record> {
        self.kept.get(key).filter(|kept| kept.expires > now).map(|kept| &kept.record)
    }

    /// Drops every expired record; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.kept.len();
        self.kept.retain(|_, kept| kept.expires > now);
        before - self.kept.len()
    }

    /// Records kept for others.
    #[must_use]
    pub fn kept_len(&self) -> usize {
        self.kept.len()
    }

    /// Starts publishing `value` under `key`. False when `published_max` are published already.
    pub fn publish(&mut self, key: Key, value: Vec<u8>, published_max: usize) -> bool {
        if !self.published.contains_key(&key) && self.published.len() >= published_max {
            return false;
        }
        self.published.insert(key, value);
        true
    }

    /// What this node publishes.
    pub fn published(&self) -> impl Iterator<Item = (&Key, &Vec<u8>)> {
        self.published.iter()
    }
}

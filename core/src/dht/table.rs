//! The routing table: up to `k` contacts per bucket, least recently seen first, and the Kademlia
//! rule for a full bucket: a newcomer waits while the oldest contact is pinged, and replaces it
//! only if it does not answer (long-lived contacts are the likeliest to stay).
//!
//! Buckets are numbered by the bits a contact's id shares with this node's (0: the farthest half
//! of the key space). Only buckets up to the deepest one in use exist, so a table costs about
//! `k × log2(N / k)` contacts of 33 bytes.

use super::key::{Distance, KEY_BITS, Key};
use crate::id::NodeId;
use crate::time::Instant;

/// One contact: a peer, and how many of its queries failed in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Contact {
    /// The peer.
    pub id: NodeId,
    /// Queries it failed to answer since it last answered.
    pub failures: u8,
}

/// One bucket: contacts least recently seen first, the newcomer waiting for a place, and the
/// contact being pinged to decide whether it keeps its place.
#[derive(Clone, Debug, Default, Hash)]
pub struct Bucket {
    contacts: Vec<Contact>,
    /// The latest peer seen while the bucket was full: it takes the next place that frees.
    replacement: Option<NodeId>,
    /// The least recently seen contact, pinged because the bucket is full and a newcomer waits.
    probing: Option<NodeId>,
    /// When a lookup last went through the bucket's range (for refresh).
    touched: Instant,
}

impl Bucket {
    /// Its contacts, least recently seen first.
    #[must_use]
    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
    }

    /// The contact being pinged before a possible eviction.
    #[must_use]
    pub fn probing(&self) -> Option<NodeId> {
        self.probing
    }

    fn position(&self, id: &NodeId) -> Option<usize> {
        self.contacts.iter().position(|contact| contact.id == *id)
    }

    /// Appends a contact, growing the list a little at a time up to `k` (a table holds many
    /// partly filled buckets; doubling would waste a third of its memory).
    fn push(&mut self, id: NodeId, k: usize) {
        if self.contacts.len() == self.contacts.capacity() {
            let more = self.contacts.len().max(2).min(k - self.contacts.len());
            self.contacts.reserve_exact(more);
        }
        self.contacts.push(Contact { id, failures: 0 });
    }

    /// Fills a freed place with the waiting newcomer, if any.
    fn promote_replacement(&mut self, k: usize) -> Option<NodeId> {
        let replacement = self.replacement.take()?;
        if self.contacts.len() < k && self.position(&replacement).is_none() {
            self.push(replacement, k);
            return Some(replacement);
        }
        None
    }
}

/// What [`RoutingTable::observe`] did with a peer that was heard from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The node itself: never in its own table.
    Me,
    /// Known already: now the most recently seen of its bucket.
    Refreshed,
    /// Added to a bucket with room.
    Added,
    /// Its bucket is full: it waits as the replacement, and `head`, the least recently seen
    /// contact, must be pinged (the caller sends the ping and reports the outcome).
    PingHead {
        /// The contact to ping.
        head: NodeId,
    },
    /// Its bucket is full and its oldest contact is being pinged already: it waits.
    Waiting,
    /// (Planted bug) the oldest contact was evicted for it without a ping.
    EvictedUnpinged {
        /// The contact evicted.
        evicted: NodeId,
    },
}

/// A node's contacts, by bucket.
#[derive(Clone, Debug, Hash)]
pub struct RoutingTable {
    me: Key,
    k: usize,
    buckets: Vec<Bucket>,
    len: usize,
}

impl RoutingTable {
    /// An empty table of node `me`, `k` contacts per bucket.
    #[must_use]
    pub fn new(me: NodeId, k: usize) -> RoutingTable {
        assert!(k > 0, "a bucket holds at least one contact");
        RoutingTable { me: Key::from(me), k, buckets: Vec::new(), len: 0 }
    }

    /// The node this table belongs to.
    #[must_use]
    pub fn me(&self) -> Key {
        self.me
    }

    /// Contacts in the table.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table holds no contact.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buckets, by number (only up to the deepest one used).
    #[must_use]
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The bucket `id` falls in, `None` for the node itself.
    #[must_use]
    pub fn bucket_of(&self, key: &Key) -> Option<usize> {
        self.me.distance(key).bucket()
    }

    /// True when `id` is in the table.
    #[must_use]
    pub fn contains(&self, id: &NodeId) -> bool {
        self.bucket_of(&Key::from(id))
            .and_then(|bucket| self.buckets.get(bucket))
            .is_some_and(|bucket| bucket.position(id).is_some())
    }

    fn bucket_mut(&mut self, index: usize) -> &mut Bucket {
        if self.buckets.len() <= index {
            // Exactly as many as used: a table holds a few dozen at most, grown rarely.
            self.buckets.reserve_exact(index + 1 - self.buckets.len());
            self.buckets.resize_with(index + 1, Bucket::default);
        }
        &mut self.buckets[index]
    }

    /// `id` was heard from (a query or an answer). With `evict_unpinged` (a planted bug), a full
    /// bucket throws out its oldest contact at once instead of pinging it.
    pub fn observe(&mut self, id: NodeId, evict_unpinged: bool) -> Observed {
        let Some(index) = self.bucket_of(&Key::from(id)) else { return Observed::Me };
        let k = self.k;
        let bucket = self.bucket_mut(index);
        if let Some(position) = bucket.position(&id) {
            bucket.contacts.remove(position);
            bucket.contacts.push(Contact { id, failures: 0 });
            return Observed::Refreshed;
        }
        if bucket.contacts.len() < k {
            bucket.push(id, k);
            self.len += 1;
            return Observed::Added;
        }
        if evict_unpinged {
            let evicted = bucket.contacts.remove(0).id;
            bucket.push(id, k);
            return Observed::EvictedUnpinged { evicted };
        }
        bucket.replacement = Some(id);
        if bucket.probing.is_some() {
            return Observed::Waiting;
        }
        let head = bucket.contacts[0].id;
        bucket.probing = Some(head);
        Observed::PingHead { head }
    }

    /// The pinged contact `head` answered: it stays (as most recently seen), the newcomer waits on.
    pub fn probe_answered(&mut self, head: NodeId) {
        if let Some(bucket) = self.bucket_of(&Key::from(head)).and_then(|index| self.buckets.get_mut(index))
            && bucket.probing == Some(head)
        {
            bucket.probing = None;
        }
        self.observe(head, false);
    }

    /// The pinged contact `head` did not answer: it goes, and the newcomer takes its place.
    /// Returns the contact that took the place, if any.
    pub fn probe_failed(&mut self, head: NodeId) -> Option<NodeId> {
        let index = self.bucket_of(&Key::from(head))?;
        let bucket = self.buckets.get_mut(index)?;
        if bucket.probing == Some(head) {
            bucket.probing = None;
        }
        self.remove(&head)
    }

    /// A query to `id` failed. After `failures_max` in a row it is evicted (true).
    pub fn failed(&mut self, id: &NodeId, failures_max: u8) -> bool {
        let Some(index) = self.bucket_of(&Key::from(id)) else { return false };
        let Some(bucket) = self.buckets.get_mut(index) else { return false };
        let Some(position) = bucket.position(id) else {
            // A newcomer that fails to answer no longer waits for a place.
            if bucket.replacement == Some(*id) {
                bucket.replacement = None;
            }
            return false;
        };
        let contact = &mut bucket.contacts[position];
        contact.failures = contact.failures.saturating_add(1);
        if contact.failures < failures_max {
            return false;
        }
        self.remove(id);
        true
    }

    /// Removes `id` (judged dead, or evicted); a waiting newcomer takes its place. Returns the
    /// newcomer that did.
    pub fn remove(&mut self, id: &NodeId) -> Option<NodeId> {
        let index = self.bucket_of(&Key::from(id))?;
        let k = self.k;
        let bucket = self.buckets.get_mut(index)?;
        if bucket.replacement == Some(*id) {
            bucket.replacement = None;
        }
        let position = bucket.position(id)?;
        bucket.contacts.remove(position);
        if bucket.probing == Some(*id) {
            bucket.probing = None;
        }
        self.len -= 1;
        let promoted = bucket.promote_replacement(k);
        if promoted.is_some() {
            self.len += 1;
        }
        promoted
    }

    /// Up to `count` contacts nearest `target`, nearest first, skipping `except`.
    ///
    /// Only the buckets that can hold them are read: with `i` the bucket `target` falls in, its
    /// contacts are the nearest (they share bits 0..=i with `target`), then those of every
    /// deeper bucket (they differ from `target` first at bit `i`), then bucket `i - 1`, `i - 2`, …
    /// each farther than the one before.
    #[must_use]
    pub fn closest(&self, target: &Key, count: usize, except: Option<&NodeId>) -> Vec<NodeId> {
        let start = self.bucket_of(target).unwrap_or(KEY_BITS - 1).min(self.buckets.len());
        let mut out: Vec<NodeId> = Vec::with_capacity(count);
        let mut group: Vec<(Distance, NodeId)> = Vec::new();
        let own = start..(start + 1).min(self.buckets.len());
        let deeper = (start + 1).min(self.buckets.len())..self.buckets.len();
        let groups = [own, deeper].into_iter().chain((0..start).rev().map(|index| index..index + 1));
        for range in groups {
            if out.len() >= count {
                break;
            }
            group.clear();
            for bucket in &self.buckets[range] {
                for contact in &bucket.contacts {
                    if Some(&contact.id) != except {
                        group.push((target.distance(&Key::from(contact.id)), contact.id));
                    }
                }
            }
            group.sort_unstable();
            out.extend(group.iter().take(count - out.len()).map(|(_, id)| *id));
        }
        out
    }

    /// Every contact, bucket by bucket.
    pub fn contacts(&self) -> impl Iterator<Item = &Contact> {
        self.buckets.iter().flat_map(|bucket| bucket.contacts.iter())
    }

    /// A lookup went through the range of the bucket `key` falls in.
    pub fn touch(&mut self, key: &Key, now: Instant) {
        if let Some(index) = self.bucket_of(key)
            && index < self.buckets.len()
        {
            self.buckets[index].touched = now;
        }
    }

    /// The buckets, up to the deepest in use, that no lookup went through since `since`.
    #[must_use]
    pub fn stale_buckets(&self, since: Instant) -> Vec<usize> {
        (0..self.buckets.len().min(KEY_BITS)).filter(|index| self.buckets[*index].touched <= since).collect()
    }

    /// The bucket of the nearest contact: buckets farther out than it are refreshed when joining.
    #[must_use]
    pub fn deepest_used(&self) -> Option<usize> {
        self.buckets.iter().rposition(|bucket| !bucket.contacts.is_empty())
    }

    /// Checks the table's own invariants: every contact in the bucket its id falls in, none
    /// twice, none the node itself, no bucket over `k`, and the count right.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for (index, bucket) in self.buckets.iter().enumerate() {
            if bucket.contacts.len() > self.k {
                return Err(format!("bucket {index} holds {} contacts, over k = {}", bucket.contacts.len(), self.k));
            }
            for contact in &bucket.contacts {
                if self.bucket_of(&Key::from(contact.id)) != Some(index) {
                    return Err(format!("{} sits in bucket {index}, not its own", contact.id));
                }
                if !seen.insert(contact.id) {
                    return Err(format!("{} is in the table twice", contact.id));
                }
            }
        }
        if seen.len() != self.len {
            return Err(format!("the table counts {} contacts but holds {}", self.len, seen.len()));
        }
        Ok(())
    }
}

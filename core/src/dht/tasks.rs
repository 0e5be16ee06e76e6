//! Lookups and what they are for: a client's, another part's, joining (and the refreshes that
//! follow it), refreshing idle buckets, and publishing a record (stored at the closest found).

use super::names::probes;
use super::{
    Asked, Dht, DhtBody, DhtNotification, DhtPlantedBug, DhtResponse, DhtTimer, Goal, Key, Lookup, REFRESHES_AT_ONCE,
    Record, Task,
};
use crate::id::NodeId;
use crate::node::{Context, RequestId};
use crate::time::Duration;

impl Dht {
    pub(super) fn number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }

    /// Starts a lookup of `target`. False (and nothing started) when `lookups_max` run already.
    pub(super) fn start_lookup(&mut self, cx: &mut dyn Context<Self>, target: Key, goal: Goal) -> bool {
        if self.tasks.len() >= self.config.lookups_max {
            cx.sometimes(probes::LOOKUP_REFUSED_BUSY, true);
            return false;
        }
        let config = &self.config;
        let mut seeds = self.table.closest(&target, config.k * config.disjoint_paths, None);
        if matches!(goal, Goal::Join | Goal::Rejoin) {
            // The bootstrap contacts too, though the table may have dropped them: a node cut off
            // from part of the network (a partition that lasted) finds its way back through them.
            let me = self.table.me();
            let missing: Vec<NodeId> =
                config.bootstrap.iter().filter(|id| Key::from(*id) != me && !seeds.contains(id)).copied().collect();
            seeds.extend(missing);
        }
        let mut lookup =
            Lookup::new(target, &seeds, config.k, config.alpha, config.disjoint_paths, config.candidates_max);
        if self.config.planted(DhtPlantedBug::StopAtFirstStall) {
            lookup.plant_stop_at_first_stall();
        }
        self.table.touch(&target, cx.now());
        self.stats.lookups += 1;
        let number = self.number();
        self.tasks.insert(number, Task::Looking { lookup, goal });
        self.advance(cx, number);
        true
    }

    /// Sends the queries a lookup wants now, or ends it when it is done.
    pub(super) fn advance(&mut self, cx: &mut dyn Context<Self>, number: u64) {
        loop {
            let Some(Task::Looking { lookup, goal }) = self.tasks.get_mut(&number) else { return };
            if lookup.is_done() {
                return self.finish(cx, number);
            }
            let body = match goal {
                Goal::Get(_) => DhtBody::FindValue { key: lookup.target() },
                _ => DhtBody::FindNode { target: lookup.target() },
            };
            let peers = lookup.next_queries();
            if peers.is_empty() {
                return;
            }
            let refused: Vec<NodeId> =
                peers.into_iter().filter(|peer| !self.ask(cx, *peer, body.clone(), Asked::Lookup(number))).collect();
            if refused.is_empty() {
                // Wait for answers, unless the lookup is done without them.
                let Some(Task::Looking { lookup, .. }) = self.tasks.get(&number) else { return };
                if lookup.is_done() {
                    self.finish(cx, number);
                }
                return;
            }
            // No room for these queries: they count as failed, and others may be tried.
            if let Some(Task::Looking { lookup, .. }) = self.tasks.get_mut(&number) {
                for peer in &refused {
                    lookup.failed(peer);
                }
            }
        }
    }

    /// Ends lookup `number`: answers whoever asked, and goes on with what follows.
    pub(super) fn finish(&mut self, cx: &mut dyn Context<Self>, number: u64) {
        let Some(Task::Looking { lookup, goal }) = self.tasks.remove(&number) else { return };
        self.forget_queries_of(number);
        let result = lookup.result();
        match goal {
            Goal::Client(request) => {
                cx.reply(
                    request,
                    DhtResponse::Closest { peers: result.closest, hops: result.hops, queried: result.queried },
                );
            }
            Goal::Get(request) => {
                cx.reply(request, DhtResponse::Value { value: None, hops: result.hops });
            }
            Goal::Put { request, record } => self.store_at(cx, number, request, record, &result.closest),
            Goal::Join if result.closest.is_empty() => {
                // Nobody answered (the bootstrap contacts are down or unreachable): try again soon.
                cx.sometimes(probes::JOIN_RETRIED, true);
                cx.set_timer(self.config.query_timeout * 4, DhtTimer::Join);
            }
            Goal::Join => self.refresh_beyond_nearest(cx),
            Goal::Refresh => self.next_refresh(cx),
            Goal::Rejoin => {}
            Goal::Part(purpose) => {
                self.notifications.push(DhtNotification::Found {
                    target: lookup.target(),
                    purpose,
                    closest: result.closest,
                });
            }
        }
    }

    /// After joining: a lookup of a key in each bucket farther out than the nearest neighbour,
    /// so that every bucket has contacts.
    pub(super) fn refresh_beyond_nearest(&mut self, cx: &mut dyn Context<Self>) {
        let Some(deepest) = self.table.deepest_used() else { return };
        let buckets: Vec<usize> = (0..deepest).collect();
        self.refresh(cx, &buckets);
    }

    /// Queues refresh lookups of `buckets` (those queued already stay), and starts what may run.
    pub(super) fn refresh(&mut self, cx: &mut dyn Context<Self>, buckets: &[usize]) {
        for bucket in buckets {
            let key = self.table.me().in_bucket(*bucket, random_key(cx));
            if !self.refresh_queue.iter().any(|queued| self.table.bucket_of(queued) == Some(*bucket)) {
                self.refresh_queue.push(key);
            }
        }
        let running =
            self.tasks.values().filter(|task| matches!(task, Task::Looking { goal: Goal::Refresh, .. })).count();
        for _ in running..REFRESHES_AT_ONCE {
            self.next_refresh(cx);
        }
    }

    /// Starts the next queued refresh lookup, if any.
    pub(super) fn next_refresh(&mut self, cx: &mut dyn Context<Self>) {
        if let Some(key) = self.refresh_queue.pop()
            && !self.start_lookup(cx, key, Goal::Refresh)
        {
            self.refresh_queue.push(key);
        }
    }

    /// Stores `record` at `peers` (the closest a lookup found) for task `number`.
    pub(super) fn store_at(
        &mut self,
        cx: &mut dyn Context<Self>,
        number: u64,
        request: Option<RequestId>,
        record: Record,
        peers: &[NodeId],
    ) {
        let ttl_ms = u64::try_from(self.config.record_ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pending = 0;
        for peer in peers {
            let body = DhtBody::Store { record: record.clone(), ttl_ms };
            if self.ask(cx, *peer, body, Asked::Store(number)) {
                pending += 1;
            }
        }
        if pending == 0 {
            if let Some(request) = request {
                cx.reply(request, DhtResponse::Stored { replicas: 0 });
            }
            return;
        }
        self.tasks.insert(number, Task::Storing { request, pending, kept: 0 });
    }

    /// A store of task `number` was answered (`kept`) or timed out.
    pub(super) fn stored(&mut self, cx: &mut dyn Context<Self>, number: u64, kept: bool) {
        let Some(Task::Storing { request, pending, kept: count }) = self.tasks.get_mut(&number) else { return };
        *pending -= 1;
        *count += u32::from(kept);
        if *pending == 0 {
            let (request, replicas) = (*request, *count);
            self.tasks.remove(&number);
            if let Some(request) = request {
                cx.reply(request, DhtResponse::Stored { replicas });
            }
        }
    }

    /// The refresh timer: expired records go, and buckets no lookup went through lately are
    /// refreshed.
    pub(super) fn on_refresh(&mut self, cx: &mut dyn Context<Self>) {
        let now = cx.now();
        self.records.expire(now);
        let every_nanos = u64::try_from(self.config.refresh_every.as_nanos()).unwrap_or(u64::MAX);
        if let Some(since) = now.as_nanos().checked_sub(every_nanos) {
            let stale = self.table.stale_buckets(crate::time::Instant::from_nanos(since));
            self.refresh(cx, &stale);
            // Joining again through the bootstrap contacts mends a table that lost a whole part
            // of the network (a long partition evicts every contact across it).
            let joining = self.tasks.values().any(|task| matches!(task, Task::Looking { goal: Goal::Rejoin, .. }));
            if !joining {
                let me = Key::from(cx.id());
                self.start_lookup(cx, me, Goal::Rejoin);
            }
        }
        let jitter = crate::random::duration_between(cx.rng(), Duration::ZERO, self.config.refresh_every / 4);
        cx.set_timer(self.config.refresh_every / 2 + jitter, DhtTimer::Refresh);
    }

    /// Joins: a lookup of the own id through the bootstrap contacts (the buckets beyond the
    /// nearest neighbour are refreshed when it ends).
    pub(super) fn join(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        if !self.table.is_empty() || self.config.bootstrap.iter().any(|contact| *contact != me) {
            self.start_lookup(cx, Key::from(me), Goal::Join);
        }
    }

    pub(super) fn republish(&mut self, cx: &mut dyn Context<Self>) {
        let me = cx.id();
        let published: Vec<Record> = self
            .records
            .published()
            .map(|(key, value)| Record { key: *key, value: value.clone(), publisher: me })
            .collect();
        for record in published {
            if !self.start_lookup(cx, record.key, Goal::Put { request: None, record: record.clone() }) {
                break;
            }
        }
        cx.set_timer(self.config.republish_every, DhtTimer::Republish);
    }
}

/// 256 random bits.
pub(super) fn random_key(cx: &mut dyn Context<Dht>) -> [u8; 32] {
    let mut out = [0; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&cx.rng().next_u64().to_le_bytes());
    }
    out
}

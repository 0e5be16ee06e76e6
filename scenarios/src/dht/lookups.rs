//! The lookup workload and what it measures: clients ask random live nodes for the k closest
//! peers to the id of another live node, and each answer is scored against the truth the
//! simulator knows — found (the target is among them), precision (how many of the true k closest
//! live nodes it returned), and hops.

use super::DhtHost;
use pangea_core::dht::Key;
use pangea_core::random::below;
use pangea_core::{Duration, Instant, NodeId, RequestId};
use pangea_sim::{NodeStatus, Sim, SimRng};
use std::collections::BTreeMap;

/// Hop counts kept apart in the histogram; longer ones count in the last bucket.
pub const HOPS_TRACKED: usize = 12;
/// Lookups count only from this long after the last partition healed: tables repair within it
/// (the liveness probes check that they do).
pub const REPAIR_WINDOW: Duration = Duration::from_secs(30);
/// A lookup not answered by then is a failure (a lookup always ends: every query times out).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Tally names of the hop histogram, `dht.hops#<n>` (see `SweepReport::render_tallies`).
pub const HOP_TALLIES: [&str; HOPS_TRACKED] = [
    "dht.hops#0",
    "dht.hops#1",
    "dht.hops#2",
    "dht.hops#3",
    "dht.hops#4",
    "dht.hops#5",
    "dht.hops#6",
    "dht.hops#7",
    "dht.hops#8",
    "dht.hops#9",
    "dht.hops#10",
    "dht.hops#11",
];

/// One lookup in flight.
#[derive(Clone, Debug)]
struct Pending {
    from: u32,
    from_starts: u64,
    target: u32,
    issued: Instant,
    /// Counted in the scores (issued and answered with no partition in force, after the
    /// measuring began).
    measured: bool,
    /// A probe of the progress owed after the heal.
    probe: Option<u64>,
}

/// A scored answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scored {
    /// The target was among the peers returned.
    pub found: bool,
    /// Of the true k closest, how many were returned.
    pub hits: usize,
    /// How many there were (k, or fewer live nodes).
    pub truth: usize,
    /// Hops the lookup took.
    pub hops: u32,
}

/// What the lookups measured.
#[derive(Clone, Debug, Default)]
pub struct Scores {
    /// Lookups scored.
    pub lookups: u64,
    /// Of them, those that found their target.
    pub found: u64,
    /// Sum of hits over sum of truths is the precision.
    pub hits: u64,
    /// See `hits`.
    pub truths: u64,
    /// Lookups by hop count.
    pub hops: [u64; HOPS_TRACKED],
    /// Lookups never answered.
    pub unanswered: u64,
    /// Failed lookups, for the report: (when, from, target, hits of truth).
    pub misses: Vec<(Instant, u32, u32, usize, usize)>,
}

impl Scores {
    fn add(&mut self, scored: Scored) {
        self.lookups += 1;
        self.found += u64::from(scored.found);
        self.hits += scored.hits as u64;
        self.truths += scored.truth as u64;
        self.hops[(scored.hops as usize).min(HOPS_TRACKED - 1)] += 1;
    }

    /// Found over lookups (1 when none).
    #[must_use]
    pub fn success(&self) -> f64 {
        if self.lookups == 0 { 1.0 } else { self.found as f64 / self.lookups as f64 }
    }

    /// Hits over truths (1 when none).
    #[must_use]
    pub fn precision(&self) -> f64 {
        if self.truths == 0 { 1.0 } else { self.hits as f64 / self.truths as f64 }
    }

    /// The hop count at quantile `q` (0–1).
    #[must_use]
    pub fn hops_at(&self, q: f64) -> usize {
        let total: u64 = self.hops.iter().sum();
        let wanted = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (hops, count) in self.hops.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return hops;
            }
        }
        HOPS_TRACKED - 1
    }

    /// The largest hop count seen.
    #[must_use]
    pub fn hops_max(&self) -> usize {
        self.hops.iter().rposition(|count| *count > 0).unwrap_or(0)
    }

    /// One line for a person.
    #[must_use]
    pub fn render(&self) -> String {
        format!(
            "{} lookups: {:.2}% found their target, precision {:.2}%, hops p50 {} p90 {} max {}{}",
            self.lookups,
            100.0 * self.success(),
            100.0 * self.precision(),
            self.hops_at(0.5),
            self.hops_at(0.9),
            self.hops_max(),
            if self.unanswered > 0 { format!(", {} never answered", self.unanswered) } else { String::new() }
        )
    }
}

/// The workload: a lookup every `every` from `from` on.
pub struct Lookups {
    rng: SimRng,
    k: usize,
    every: Duration,
    next_at: Instant,
    measure_from: Instant,
    stop_at: Instant,
    pending: BTreeMap<RequestId, Pending>,
    /// Scores of the measured lookups.
    pub scores: Scores,
    /// Scores of the lookups made while a partition was in force (reported, not checked).
    pub partitioned: Scores,
    /// Probe results by probe number: whether it found its target.
    pub probes: BTreeMap<u64, bool>,
    /// The last moment a partition was seen in force.
    last_partitioned: Option<Instant>,
}

impl Lookups {
    /// Lookups every `every` between `measure_from` and `stop_at`, scored for `k` closest.
    #[must_use]
    pub fn new(rng: SimRng, k: usize, every: Duration, measure_from: Instant, stop_at: Instant) -> Lookups {
        Lookups {
            rng,
            k,
            every,
            next_at: measure_from,
            measure_from,
            stop_at,
            pending: BTreeMap::new(),
            scores: Scores::default(),
            partitioned: Scores::default(),
            probes: BTreeMap::new(),
            last_partitioned: None,
        }
    }

    /// True when lookups count now: measuring began, no partition is in force, and the last one
    /// healed at least [`REPAIR_WINDOW`] ago.
    fn measuring<N: DhtHost>(&self, sim: &Sim<N>) -> bool {
        sim.now() >= self.measure_from
            && sim.network().partition().is_none()
            && self.last_partitioned.is_none_or(|at| at + REPAIR_WINDOW <= sim.now())
    }

    /// True when `node` has been up for [`super::plans::STABLE_AFTER`] (so it has joined).
    fn stable<N: DhtHost>(sim: &Sim<N>, node: u32, at: Instant) -> bool {
        sim.status(node) == NodeStatus::Up
            && sim.up_since(node).is_some_and(|since| since + super::plans::STABLE_AFTER <= at)
    }

    /// A random stable node other than `except` that `except` can reach both ways, if one is
    /// found in a few draws.
    fn draw_stable<N: DhtHost>(&mut self, sim: &Sim<N>, except: Option<u32>) -> Option<u32> {
        let now = sim.now();
        for _ in 0..64 {
            let node = below(&mut self.rng, u64::from(sim.nodes())) as u32;
            let reachable = except.is_none_or(|other| {
                other != node && !sim.network().is_blocked(other, node) && !sim.network().is_blocked(node, other)
            });
            if reachable && Self::stable(sim, node, now) {
                return Some(node);
            }
        }
        None
    }

    /// Issues a lookup from `from` for `target`'s id.
    pub fn issue<N: DhtHost>(&mut self, sim: &mut Sim<N>, from: u32, target: u32, probe: Option<u64>) {
        let measured = self.measuring(sim);
        let request = sim.client_request(from, &N::find_node(Key::from(sim.id_of(target))));
        let pending = Pending { from, from_starts: sim.starts(from), target, issued: sim.now(), measured, probe };
        self.pending.insert(request, pending);
    }

    /// Every tick: scores the answers, and issues the lookups due.
    pub fn act<N: DhtHost>(&mut self, sim: &mut Sim<N>) {
        if sim.network().partition().is_some() {
            self.last_partitioned = Some(sim.now());
        }
        for reply in sim.take_replies() {
            let Some(pending) = self.pending.remove(&reply.request) else { continue };
            let Some((peers, hops)) = N::closest(&reply.body) else { continue };
            self.score(sim, &pending, &peers, hops);
        }
        let now = sim.now();
        let stale: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, pending)| {
                // Its node restarted or went down: the answer will never come, and no one is to blame.
                sim.starts(pending.from) != pending.from_starts || sim.status(pending.from) != NodeStatus::Up
            })
            .map(|(request, _)| *request)
            .collect();
        for request in stale {
            if let Some(Pending { probe: Some(probe), .. }) = self.pending.remove(&request) {
                self.probes.insert(probe, false);
            }
        }
        let late: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.issued + ANSWER_WITHIN <= now)
            .map(|(request, _)| *request)
            .collect();
        for request in late {
            if let Some(pending) = self.pending.remove(&request) {
                self.scores.unanswered += u64::from(pending.measured);
                if let Some(probe) = pending.probe {
                    self.probes.insert(probe, false);
                }
            }
        }
        while self.next_at <= now && now < self.stop_at {
            self.next_at += self.every;
            let Some(from) = self.draw_stable(sim, None) else { continue };
            let Some(target) = self.draw_stable(sim, Some(from)) else { continue };
            self.issue(sim, from, target, None);
        }
    }

    /// Lookups in flight.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    fn score<N: DhtHost>(&mut self, sim: &Sim<N>, pending: &Pending, peers: &[NodeId], hops: u32) {
        let now = sim.now();
        let target_id = sim.id_of(pending.target);
        let found = peers.contains(&target_id);
        // A target that went down during the lookup excuses a miss.
        let target_stayed = sim.up_since(pending.target).is_some_and(|since| since <= pending.issued);
        if let Some(probe) = pending.probe {
            self.probes.insert(probe, found);
        }
        if !target_stayed {
            return;
        }
        let truth = self.truth(sim, pending.from, &Key::from(target_id), now);
        let hits = truth.iter().filter(|id| peers.contains(id)).count();
        let scored = Scored { found, hits, truth: truth.len(), hops };
        let measured = pending.measured && self.measuring(sim);
        let scores = if measured { &mut self.scores } else { &mut self.partitioned };
        scores.add(scored);
        if !found && scores.misses.len() < 8 {
            scores.misses.push((now, pending.from, pending.target, hits, truth.len()));
        }
    }

    /// The k closest stable nodes to `key` that `from` can reach both ways, nearest first.
    fn truth<N: DhtHost>(&self, sim: &Sim<N>, from: u32, key: &Key, now: Instant) -> Vec<NodeId> {
        let network = sim.network();
        let mut all: Vec<(pangea_core::dht::Distance, NodeId)> = (0..sim.nodes())
            .filter(|node| *node != from && Self::stable(sim, *node, now))
            .filter(|node| !network.is_blocked(from, *node) && !network.is_blocked(*node, from))
            .map(|node| {
                let id = sim.id_of(node);
                (key.distance(&Key::from(id)), id)
            })
            .collect();
        if all.len() > self.k {
            all.select_nth_unstable(self.k);
            all.truncate(self.k);
        }
        all.sort_unstable();
        all.into_iter().map(|(_, id)| id).collect()
    }
}

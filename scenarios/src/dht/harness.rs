//! One run of a DHT scenario as the kit drives it: the lookups, a watch on routing tables (a
//! contact may leave a table only if it could not answer), probes owed after the heal, and the
//! verdicts on the scores.

use super::DhtHost;
use super::lookups::{HOP_TALLIES, Lookups};
use crate::kit::{DriveEnd, Findings, Harness, Progress};
use crate::report::{FailureKind, Involved, Violation};
use pangea_core::{Duration, Instant, NodeId};
use pangea_sim::{Fault, NodeStatus, Sim};
use std::collections::BTreeMap;

/// The lookups that must find their target: at least this share of those measured.
pub const SUCCESS_MIN: f64 = 0.99;
/// The share of the true k closest the lookups must return, over all measured.
pub const PRECISION_MIN: f64 = 0.95;
/// The 90th percentile of hops must be at most this.
pub const HOPS_P90_MAX: usize = 6;
/// Routing tables watched for evictions (the first ones; every node in small runs).
pub const WATCHED_MAX: u32 = 256;
/// Probe lookups issued at once after the heal; all must find their target.
pub const PROBES: u64 = 16;
/// Pairs drawn to find the ones the last partition cut (one node isolated among a thousand is
/// found in a few thousand draws).
const CUT_PAIR_TRIES: u32 = 20_000;

/// The watch on one node's routing table.
struct Watched {
    starts: u64,
    contacts: Vec<NodeId>,
}

/// The lookups and checkers of one run.
pub struct DhtHarness {
    /// The lookup workload and its scores.
    pub lookups: Lookups,
    /// A query is answered within this (or counts as failed) at the nodes.
    query_timeout: Duration,
    watched: BTreeMap<u32, Watched>,
    last_watch: Instant,
    violations: Vec<Violation>,
    /// Pairs the last partition cut, for probes across it after the heal.
    cut_pairs: Vec<(u32, u32)>,
    probe_round: u64,
    probes_issued: u64,
}

impl DhtHarness {
    /// A run of `lookups` at nodes that time queries out after `query_timeout`, under a plan whose
    /// partitions are `partitions`.
    #[must_use]
    pub fn new(lookups: Lookups, query_timeout: Duration, nodes: u32, plan: &pangea_sim::FaultPlan) -> DhtHarness {
        let last = plan.events.iter().rev().find_map(|event| match &event.fault {
            Fault::Partition { partition } => Some(partition.clone()),
            _ => None,
        });
        // A few pairs the last partition cut both ways, drawn over its links (a fixed sequence,
        // so that a run does not depend on anything but its seed).
        let cut_pairs = last.map_or_else(Vec::new, |partition| {
            let cut = pangea_sim::network::Cut::new(&partition, nodes);
            let mut pairs = Vec::new();
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            for _ in 0..CUT_PAIR_TRIES {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let (a, b) = ((state >> 33) as u32 % nodes, (state >> 7) as u32 % nodes);
                if cut.blocks(a, b) && cut.blocks(b, a) && !pairs.contains(&(a, b)) {
                    pairs.push((a, b));
                    if pairs.len() >= PROBES as usize {
                        break;
                    }
                }
            }
            pairs
        });
        DhtHarness {
            lookups,
            query_timeout,
            watched: BTreeMap::new(),
            last_watch: Instant::ZERO,
            violations: Vec::new(),
            cut_pairs,
            probe_round: 0,
            probes_issued: 0,
        }
    }

    /// Looks for contacts that left a watched table while they could answer.
    fn watch_tables<N: DhtHost>(&mut self, sim: &Sim<N>) {
        let now = sim.now();
        // A contact that left since the last look must have been unable to answer at some moment
        // since a query timeout before then.
        let since = Instant::from_nanos(
            self.last_watch.as_nanos().saturating_sub(u64::try_from((self.query_timeout * 2).as_nanos()).unwrap_or(0)),
        );
        for index in 0..sim.nodes().min(WATCHED_MAX) {
            let Some(node) = sim.node(index).filter(|_| sim.status(index) == NodeStatus::Up) else {
                self.watched.remove(&index);
                continue;
            };
            let mut contacts: Vec<NodeId> = node.dht().table().contacts().map(|contact| contact.id).collect();
            contacts.sort_unstable();
            let starts = sim.starts(index);
            if let Some(before) = self.watched.get(&index)
                && before.starts == starts
            {
                for gone in before.contacts.iter().filter(|id| contacts.binary_search(id).is_err()) {
                    let Some(peer) = sim.index_of(gone) else { continue };
                    if sim.heard_throughout(index, peer, since) && sim.heard_throughout(peer, index, since) {
                        self.violations.push(Violation {
                            involved: Involved::default(),
                            checker: "no-live-contact-evicted",
                            kind: FailureKind::Correctness,
                            at: now,
                            node: Some(index),
                            message: format!(
                                "n{index} dropped n{peer} from its routing table, though n{peer} was up and reachable \
                                 both ways the whole time since {since}"
                            ),
                        });
                    }
                }
            }
            self.watched.insert(index, Watched { starts, contacts });
        }
        self.last_watch = now;
    }

    fn check_scores(&mut self, at: Instant) {
        let scores = &self.lookups.scores;
        let lookups = scores.lookups;
        let missed = lookups - scores.found + scores.unanswered;
        let allowed = ((lookups as f64) * (1.0 - SUCCESS_MIN)).floor().max(1.0) as u64;
        let mut fail = |checker: &'static str, message: String| {
            self.violations.push(Violation {
                involved: Involved::default(),
                checker,
                kind: FailureKind::Correctness,
                at,
                node: None,
                message,
            });
        };
        if missed > allowed {
            let examples: Vec<String> = scores
                .misses
                .iter()
                .map(|(at, from, target, hits, truth)| {
                    format!("n{from} for n{target} at {at} ({hits}/{truth} of the closest)")
                })
                .collect();
            fail(
                "lookups-find-live-nodes",
                format!(
                    "{missed} of {lookups} lookups did not find their live target (at most {allowed} may): {}",
                    examples.join("; ")
                ),
            );
        }
        if lookups > 0 && scores.precision() < PRECISION_MIN {
            fail(
                "closest-are-the-closest",
                format!(
                    "lookups returned {:.2}% of the true k closest live nodes, under {:.0}%",
                    100.0 * scores.precision(),
                    100.0 * PRECISION_MIN
                ),
            );
        }
        if lookups > 0 && scores.hops_at(0.9) > HOPS_P90_MAX {
            fail("hops", format!("90% of lookups took up to {} hops, over {HOPS_P90_MAX}", scores.hops_at(0.9)));
        }
    }
}

impl<N: DhtHost> Harness<N> for DhtHarness {
    fn act(&mut self, sim: &mut Sim<N>) {
        self.lookups.act(sim);
    }

    fn observe(&mut self, sim: &Sim<N>) {
        self.watch_tables(sim);
    }

    fn enough(&self) -> bool {
        self.violations.len() >= 16
    }

    fn progress(&mut self, sim: &mut Sim<N>, heal_at: Instant) -> Progress {
        // A round of probe lookups, across the last partition's cut if there was one; progress is
        // made when a whole round finds its targets.
        let round_done =
            (self.probes_issued..self.probes_issued + PROBES).all(|probe| self.lookups.probes.contains_key(&probe));
        if self.probe_round > 0 && round_done {
            let first = self.probes_issued;
            if (first..first + PROBES).all(|probe| self.lookups.probes.get(&probe) == Some(&true)) {
                let after = (sim.now() - heal_at).as_secs_f64();
                let across = if self.cut_pairs.is_empty() { "" } else { " across the last partition's cut" };
                return Progress::Made(format!(
                    "{PROBES} probe lookups{across} all found their target {after:.1}s after the heal"
                ));
            }
            self.probes_issued += PROBES;
        }
        if self.probe_round == 0 || round_done {
            self.probe_round += 1;
            let first = self.probes_issued;
            for probe in first..first + PROBES {
                let pair = self.cut_pairs.get((probe % PROBES) as usize).copied();
                let (from, target) = match pair {
                    Some(pair) => pair,
                    None => {
                        let from = (probe * 7919 % u64::from(sim.nodes())) as u32;
                        let target = ((probe * 104_729 + 1) % u64::from(sim.nodes())) as u32;
                        (from, if target == from { (target + 1) % sim.nodes() } else { target })
                    }
                };
                self.lookups.issue(sim, from, target, Some(probe));
            }
        }
        Progress::Pending
    }

    fn finish(&mut self, sim: &Sim<N>, _end: &DriveEnd) -> Findings {
        self.check_scores(sim.now());
        let scores = &self.lookups.scores;
        let mut notes = vec![scores.render()];
        if self.lookups.partitioned.lookups > 0 {
            notes.push(format!("during partitions and the 30 s after each: {}", self.lookups.partitioned.render()));
        }
        let mut tallies = BTreeMap::new();
        tallies.insert("dht.found", scores.found as f64);
        tallies.insert("dht.found.out_of", scores.lookups as f64);
        tallies.insert("dht.closest_returned", scores.hits as f64);
        tallies.insert("dht.closest_returned.out_of", scores.truths as f64);
        for (name, count) in HOP_TALLIES.iter().zip(scores.hops) {
            if count > 0 {
                tallies.insert(*name, count as f64);
            }
        }
        Findings { violations: std::mem::take(&mut self.violations), notes, tallies }
    }
}

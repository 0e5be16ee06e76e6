//! The checkers of `health`: completeness, accuracy, per-node message load, and liveness after
//! the heal. They look at the nodes between steps of the simulation, never inside them.

use super::connectivity::Connectivity;
use crate::report::{FailureKind, Violation};
use pangea_core::membership::{Health, Membership};
use pangea_core::{Duration, Instant, PangeaNode};
use pangea_sim::{NodeStatus, Sim};
use std::collections::BTreeMap;

/// Node `index`'s membership subsystem, unless it is crashed.
pub fn membership(sim: &Sim<PangeaNode>, index: u32) -> Option<&Membership> {
    sim.node(index).map(PangeaNode::membership)
}

/// How many peers a node of a group of `nodes` must track once every fault healed: all of them,
/// or as many as its table holds.
pub fn peers_expected(nodes: u32, peers_max: usize) -> usize {
    (nodes as usize - 1).min(peers_max)
}

/// False deaths described in a report.
const EXAMPLES_MAX: usize = 3;

/// What the checkers have seen so far.
pub struct Checkers {
    nodes: u32,
    detection: Duration,
    /// Added to `detection` for an observer that joined a large component after the member was cut
    /// off: news of the member spread while it was away, and reaches it by full-state exchanges.
    late_allowance: Duration,
    /// `reported[observer * nodes + member]`: a completeness violation was already reported.
    reported: Vec<bool>,
    /// `(observer, member)` → the start of the cut during which the observer judged the member
    /// dead (see `check_completeness`).
    detected: BTreeMap<(u32, u32), Instant>,
    /// Per node: an overdue suspicion was already reported (since its latest start).
    suspicion_reported: Vec<bool>,
    /// Per node: its start count and boot number when last looked at (a reopened store rebuilds
    /// the node without a restart), and how many of its judgement changes were read.
    starts: Vec<(u64, u64)>,
    changes_read: Vec<u64>,
    /// Per node: when its load window opened (after the warm-up or its latest start) and the
    /// messages it had sent then.
    load_window: Vec<Option<(Instant, u64)>>,
    /// When load windows may open.
    warm_up_until: Instant,
    /// Detection times of cut-off members, in milliseconds.
    pub detections_ms: Vec<u64>,
    /// Suspicions and deaths of members reachable by a majority, by observers in that majority.
    pub false_suspicions: u64,
    /// Of which deaths.
    pub false_deaths: u64,
    /// False deaths by member judged.
    pub false_deaths_of: BTreeMap<u32, u64>,
    /// The first few false deaths, described.
    pub false_death_examples: Vec<String>,
    /// Judgement changes that were dropped before the checker read them.
    pub changes_lost: u64,
    /// Violations found.
    pub violations: Vec<Violation>,
    /// Looks taken so far.
    polls: u64,
}

/// Beyond this many nodes, overdue suspicions are looked for on every [`SUSPICION_SCAN_EVERY`]th
/// look only (a scan reads every node's whole table; a late scan finds the same violations).
const SUSPICION_SCAN_ALWAYS_MAX: u32 = 64;
/// See [`SUSPICION_SCAN_ALWAYS_MAX`].
const SUSPICION_SCAN_EVERY: u64 = 5;

/// Messages sent per node per probe interval: the mean over nodes and the busiest node.
#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    /// Mean over the nodes measured.
    pub mean: f64,
    /// The busiest node.
    pub max: f64,
    /// Nodes measured.
    pub nodes: u32,
}

impl Checkers {
    /// Checkers for `nodes` nodes with a completeness bound of `detection` (plus `late_allowance`
    /// for observers that joined a large component after the member was cut off), measuring load
    /// after `warm_up_until`.
    pub fn new(nodes: u32, detection: Duration, late_allowance: Duration, warm_up_until: Instant) -> Checkers {
        Checkers {
            nodes,
            detection,
            late_allowance,
            reported: vec![false; nodes as usize * nodes as usize],
            detected: BTreeMap::new(),
            starts: vec![(0, 0); nodes as usize],
            suspicion_reported: vec![false; nodes as usize],
            changes_read: vec![0; nodes as usize],
            load_window: vec![None; nodes as usize],
            warm_up_until,
            detections_ms: Vec::new(),
            false_suspicions: 0,
            false_deaths: 0,
            false_deaths_of: BTreeMap::new(),
            false_death_examples: Vec::new(),
            changes_lost: 0,
            violations: Vec::new(),
            polls: 0,
        }
    }

    /// One look at every node.
    pub fn poll(&mut self, sim: &Sim<PangeaNode>, connectivity: &Connectivity) {
        let now = sim.now();
        self.polls += 1;
        let scan_suspicions =
            self.nodes <= SUSPICION_SCAN_ALWAYS_MAX || self.polls.is_multiple_of(SUSPICION_SCAN_EVERY);
        for node in 0..self.nodes {
            let Some(state) = membership(sim, node) else { continue };
            let starts = (sim.starts(node), state.boot());
            if starts != self.starts[node as usize] {
                self.starts[node as usize] = starts;
                self.changes_read[node as usize] = 0;
                self.load_window[node as usize] = None;
                self.suspicion_reported[node as usize] = false;
            }
            if self.load_window[node as usize].is_none() && now >= self.warm_up_until {
                self.load_window[node as usize] = Some((now, state.stats().messages_sent));
            }
            self.read_changes(sim, connectivity, node, state);
            if sim.status(node) == NodeStatus::Up {
                if scan_suspicions {
                    self.check_suspicions_end(sim, node, state);
                }
                if connectivity.in_large_component(node) {
                    self.check_completeness(sim, connectivity, node, state);
                }
            }
        }
    }

    /// Counts the new suspicions and deaths, by an observer up for longer than the detection
    /// bound, of members that a majority has reached directly, and the observer through its
    /// component, for that long too (judgements of a member that was cut off shortly before are news still arriving, not errors).
    fn read_changes(&mut self, sim: &Sim<PangeaNode>, connectivity: &Connectivity, observer: u32, state: &Membership) {
        let (changes, lost) = state.changes().since(self.changes_read[observer as usize]);
        self.changes_lost += lost;
        for change in changes {
            let Some(member) = sim.index_of(&change.peer) else { continue };
            let settled_since = |since: Option<Instant>| {
                since.is_some_and(|since| change.at.saturating_duration_since(since) > self.detection)
            };
            // An observer back from a pause or crash acts on a stale view (timers due while it was
            // stopped fire before it reads what arrived): only settled observers count.
            let settled = settled_since(connectivity.majority_reach_since(member))
                && settled_since(connectivity.connected_since(observer, member))
                && settled_since(sim.up_since(observer));
            if connectivity.in_majority(observer) && settled && change.to != Health::Alive && change.from < change.to {
                self.false_suspicions += u64::from(change.to == Health::Suspect || change.from == Health::Alive);
                if change.to == Health::Dead {
                    self.false_deaths += 1;
                    *self.false_deaths_of.entry(member).or_default() += 1;
                    if self.false_death_examples.len() < EXAMPLES_MAX {
                        self.false_death_examples.push(format!("n{observer} declared n{member} dead at {}", change.at));
                    }
                }
            }
        }
        self.changes_read[observer as usize] = state.changes().total();
    }

    /// A suspicion ends within its longest timeout (plus [`SLACK`](super::SLACK) for inputs
    /// that wait behind slow handlers): refuted, or the member declared dead.
    fn check_suspicions_end(&mut self, sim: &Sim<PangeaNode>, observer: u32, state: &Membership) {
        let now = sim.now();
        // A paused observer's timers wait for it to resume.
        let Some(up_since) = sim.up_since(observer) else { return };
        for (id, peer) in state.peers() {
            let Some(suspicion) = &peer.suspicion else { continue };
            let lasted = now.saturating_duration_since(suspicion.since.max(up_since));
            if lasted <= suspicion.max + super::SLACK {
                continue;
            }
            let member = sim.index_of(id).unwrap_or(u32::MAX);
            // One report per observer and start: the first overdue suspicion says it all.
            if std::mem::replace(&mut self.suspicion_reported[observer as usize], true) {
                return;
            }
            self.violations.push(Violation {
                involved: crate::report::Involved::default(),
                checker: "suspicion-ends",
                kind: FailureKind::Correctness,
                at: now,
                node: Some(observer),
                message: format!(
                    "n{observer} has suspected n{member} since {} ({:.1}s), past the longest suspicion of {:.1}s",
                    suspicion.since,
                    lasted.as_secs_f64(),
                    suspicion.max.as_secs_f64()
                ),
            });
        }
    }

    /// Every member cut off from `observer` for longer than the bound must be dead in its eyes.
    fn check_completeness(
        &mut self,
        sim: &Sim<PangeaNode>,
        connectivity: &Connectivity,
        observer: u32,
        state: &Membership,
    ) {
        let now = sim.now();
        let (Some(up_since), Some(large_since)) = (sim.up_since(observer), connectivity.large_since(observer)) else {
            return;
        };
        for member in connectivity.cut_members(observer) {
            let Some(cut_since) = connectivity.cut_since(observer, member) else { continue };
            // A member cut off and then down was active on its side until it went down: news of
            // it (a refutation) may reach the observer after a heal and restart detection.
            let cut_since = connectivity.down_since(member).map_or(cut_since, |down| down.max(cut_since));
            // The simulator knows to the instant when a member went down (a restart and a crash
            // between two looks would hide from the components).
            let cut_since = sim.cut_since(observer, member).map_or(cut_since, |exact| exact.max(cut_since));
            let Some(tracked) = state.peer(&sim.id_of(member)) else { continue };
            // Detection cannot start before the observer is up and in a large component, the
            // member is cut off, and the observer knows of the member at all.
            let since = cut_since.max(up_since).max(large_since).max(tracked.known_since);
            // An observer that judged the member dead during this cut and no longer does heard
            // news newer than its judgement (a refutation the member made before it went down,
            // arriving after a heal): detection starts again from then.
            let since = match self.detected.get(&(observer, member)) {
                Some(cut) if *cut == cut_since && tracked.health != Health::Dead => since.max(tracked.health_since),
                _ => since,
            };
            let bound = if large_since > cut_since { self.detection + self.late_allowance } else { self.detection };
            let cell = (observer * self.nodes + member) as usize;
            if tracked.health == Health::Dead {
                if !self.reported[cell] && tracked.health_since >= since {
                    self.detections_ms.push(((tracked.health_since - since).as_millis()) as u64);
                    self.detected.insert((observer, member), cut_since);
                    // Count each detection once.
                    self.reported[cell] = true;
                }
                continue;
            }
            if now - since <= bound || self.reported[cell] {
                if now - since <= bound {
                    self.reported[cell] = false;
                }
                continue;
            }
            self.reported[cell] = true;
            let why = match sim.status(member) {
                NodeStatus::Crashed => "crashed",
                NodeStatus::Paused => "paused",
                NodeStatus::Up => "in another part of a partition",
            };
            self.violations.push(Violation {
                involved: crate::report::Involved::default(),
                checker: "completeness",
                kind: FailureKind::Correctness,
                at: now,
                node: Some(observer),
                message: format!(
                    "n{observer} still sees n{member} as {:?}, though n{member} has been {why} since {cut_since} \
                     (and n{observer} up since {up_since}): {:.1}s, over the detection bound of {:.1}s",
                    tracked.health,
                    (now - since).as_secs_f64(),
                    bound.as_secs_f64()
                ),
            });
        }
    }

    /// Messages each node sent per probe interval since its load window opened.
    pub fn load(&self, sim: &Sim<PangeaNode>, interval: Duration) -> Load {
        let now = sim.now();
        let mut load = Load::default();
        let mut total = 0.0;
        for node in 0..self.nodes {
            let (Some((opened, sent_then)), Some(state)) = (self.load_window[node as usize], membership(sim, node))
            else {
                continue;
            };
            let periods = (now - opened).as_secs_f64() / interval.as_secs_f64();
            if periods < 1.0 {
                continue;
            }
            let rate = state.stats().messages_sent.saturating_sub(sent_then) as f64 / periods;
            total += rate;
            load.max = load.max.max(rate);
            load.nodes += 1;
        }
        load.mean = if load.nodes == 0 { 0.0 } else { total / f64::from(load.nodes) };
        load
    }
}

/// True when every node is up and sees every member it must track as alive.
pub fn all_alive(sim: &Sim<PangeaNode>, expected: usize) -> bool {
    (0..sim.nodes()).all(|observer| {
        membership(sim, observer).is_some_and(|state| {
            state.peers().count() >= expected && state.peers().all(|(_, peer)| peer.health == Health::Alive)
        })
    })
}

/// What is wrong at the end of the liveness phase, one violation per node (at most `max`).
pub fn liveness_violations(
    sim: &Sim<PangeaNode>,
    expected: usize,
    heal_at: Instant,
    bound: Duration,
    max: usize,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    for observer in 0..sim.nodes() {
        if violations.len() >= max {
            break;
        }
        let violation = |message: String| Violation {
            involved: crate::report::Involved::default(),
            checker: "liveness",
            kind: FailureKind::Liveness,
            at: sim.now(),
            node: Some(observer),
            message,
        };
        let Some(state) = membership(sim, observer) else {
            violations.push(violation("node is down after the heal".to_owned()));
            continue;
        };
        let after = format!(
            "{:.1}s after every fault healed at {heal_at} (bound {:.1}s)",
            (sim.now() - heal_at).as_secs_f64(),
            bound.as_secs_f64()
        );
        let tracked = state.peers().count();
        if tracked < expected {
            violations.push(violation(format!("n{observer} tracks {tracked} peers, not {expected}, {after}")));
            continue;
        }
        let not_alive: Vec<String> = state
            .peers()
            .filter(|(_, peer)| peer.health != Health::Alive)
            .map(|(id, peer)| {
                let name = sim.index_of(id).map_or_else(|| id.short(), |index| format!("n{index}"));
                format!("{name} as {:?}", peer.health)
            })
            .collect();
        if let Some(first) = not_alive.first() {
            violations.push(violation(format!(
                "n{observer} sees {first} (and {} others not alive) {after}",
                not_alive.len() - 1
            )));
        }
    }
    violations
}

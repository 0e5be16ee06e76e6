//! One run of `health` as the kit drives it: the checkers look at every node each poll, the run
//! ends once every node sees every other alive after the heal, and the figures are kept.

use super::{
    Checkers, Connectivity, FALSE_DEATHS_PER_NODE_HOUR_MAX, HealthFigures, LOAD_MEAN_MAX, VIOLATIONS_MAX, all_alive,
    liveness_violations, percentile,
};
use crate::kit::{DriveEnd, Findings, Harness, Progress};
use crate::report::{FailureKind, Violation};
use pangea_core::{Duration, Instant, PangeaNode};
use pangea_sim::Sim;

/// The checkers of one run of `health`, and what they measured.
pub struct HealthHarness {
    checkers: Checkers,
    connectivity: Connectivity,
    /// Peers each node must track, alive, after the heal.
    expected: usize,
    detection: Duration,
    liveness: Duration,
    probe_interval: Duration,
    /// What the run measured (filled in by [`Harness::finish`]).
    pub figures: HealthFigures,
}

impl HealthHarness {
    /// Checkers for `nodes` nodes, each owed `expected` peers within `liveness` of the heal, with
    /// a detection bound of `detection`; load is counted per `probe_interval`.
    #[must_use]
    pub fn new(
        nodes: u32,
        checkers: Checkers,
        expected: usize,
        bounds: (Duration, Duration),
        probe_interval: Duration,
    ) -> Self {
        let (detection, liveness) = bounds;
        HealthHarness {
            checkers,
            connectivity: Connectivity::new(nodes),
            expected,
            detection,
            liveness,
            probe_interval,
            figures: HealthFigures::default(),
        }
    }
}

impl Harness<PangeaNode> for HealthHarness {
    fn observe(&mut self, sim: &Sim<PangeaNode>) {
        self.connectivity.update(sim);
        self.checkers.poll(sim, &self.connectivity);
    }

    fn enough(&self) -> bool {
        self.checkers.violations.len() >= VIOLATIONS_MAX
    }

    fn progress(&mut self, sim: &mut Sim<PangeaNode>, heal_at: Instant) -> Progress {
        if sim.now() > heal_at && all_alive(sim, self.expected) {
            let after = (sim.now() - heal_at).as_secs_f64();
            Progress::Made(format!("all nodes saw all others alive {after:.1}s after the heal"))
        } else {
            Progress::Pending
        }
    }

    fn stalled(&mut self, sim: &Sim<PangeaNode>, heal_at: Instant, bound: Duration) -> Vec<Violation> {
        if self.enough() {
            return Vec::new();
        }
        liveness_violations(sim, self.expected, heal_at, bound, VIOLATIONS_MAX)
    }

    fn finish(&mut self, sim: &Sim<PangeaNode>, end: &DriveEnd) -> Findings {
        let checkers = &mut self.checkers;
        let load = checkers.load(sim, self.probe_interval);
        let node_hours = f64::from(sim.nodes()) * sim.now().as_nanos() as f64 / 3.6e12;
        let false_rate = checkers.false_deaths as f64 / node_hours.max(1e-9);
        let mut notes = vec![
            format!(
                "detection bound {:.1}s, liveness bound {:.1}s after the heal at {}",
                self.detection.as_secs_f64(),
                self.liveness.as_secs_f64(),
                end.heal_at
            ),
            format!(
                "false suspicions {}, false deaths {} ({false_rate:.1} per node-hour, ceiling \
                 {FALSE_DEATHS_PER_NODE_HOUR_MAX}); messages per node per period: mean {:.2}, busiest node {:.2}",
                checkers.false_suspicions, checkers.false_deaths, load.mean, load.max
            ),
        ];
        let mut detections = checkers.detections_ms.clone();
        detections.sort_unstable();
        if let Some(slowest) = detections.last() {
            notes.push(format!(
                "{} detections: p50 {:.1}s, p99 {:.1}s, max {:.1}s",
                detections.len(),
                percentile(&detections, 50) as f64 / 1000.0,
                percentile(&detections, 99) as f64 / 1000.0,
                *slowest as f64 / 1000.0
            ));
        }
        let stopped_early = checkers.violations.len() >= VIOLATIONS_MAX;
        let mut violations = std::mem::take(&mut checkers.violations);
        let at = sim.now();
        if !end.crashed && !stopped_early {
            if load.mean > LOAD_MEAN_MAX {
                violations.push(Violation {
                    involved: crate::report::Involved::default(),
                    checker: "message-load",
                    kind: FailureKind::Correctness,
                    at,
                    node: None,
                    message: format!(
                        "nodes sent {:.2} membership messages per probe interval on average, over the limit of \
                         {LOAD_MEAN_MAX}",
                        load.mean
                    ),
                });
            }
            if false_rate > FALSE_DEATHS_PER_NODE_HOUR_MAX {
                violations.push(Violation {
                    involved: crate::report::Involved::default(),
                    checker: "accuracy",
                    kind: FailureKind::Correctness,
                    at,
                    node: None,
                    message: format!(
                        "{} false deaths of reachable members in {node_hours:.2} node-hours: {false_rate:.1} per \
                         node-hour, over the ceiling of {FALSE_DEATHS_PER_NODE_HOUR_MAX} (first: {})",
                        checkers.false_deaths,
                        checkers.false_death_examples.join("; ")
                    ),
                });
            }
        }
        violations.truncate(VIOLATIONS_MAX);
        self.figures = HealthFigures {
            detections_ms: detections,
            false_suspicions: checkers.false_suspicions,
            false_deaths: checkers.false_deaths,
            false_deaths_of: std::mem::take(&mut checkers.false_deaths_of),
            node_hours,
            load,
        };
        let tallies = [
            ("false_suspicions", self.figures.false_suspicions as f64),
            ("false_deaths", self.figures.false_deaths as f64),
            ("node_hours", self.figures.node_hours),
        ];
        Findings { violations, notes, tallies: tallies.into_iter().collect() }
    }
}

//! `health`: membership and health tracking under a swarm of faults.
//!
//! N nodes (default 5) run `PangeaNode`, whose membership subsystem is what this scenario checks.
//! Every node but n0 knows only n0 at boot and learns the rest by gossip. The node's metadata log
//! runs too, with n0 its only member and a slow heartbeat (it is not what `health` checks, and a
//! one-member log sends nothing), so that the scenario exercises the composed node at little cost. A safety phase of [`SAFETY`] applies the seed's fault plan; then every
//! fault heals and a liveness phase begins.
//!
//! Checkers:
//! - **completeness** (whole run): if a node has been up without interruption, and a peer it knows
//!   has been crashed, paused, or unable to reach it through a partition for longer than the detection
//!   bound (counted from the latest of: the observer's start, the peer's fall, the observer learning
//!   of the peer) — `dead_after + ping_interval +` the plan's worst message delay `+` [`SLACK`] — the node
//!   must judge that peer dead.
//! - **liveness** (after healing): within [`liveness_bound`] of the heal, every node knows every
//!   other node and judges it alive.
//!
//! Random loss can make a node suspect or even declare dead a live peer (that is the protocol's
//! nature, not a bug), so the safety phase checks no accuracy; the liveness phase checks that such
//! judgements are undone once the network is healthy.

use crate::error::ScenarioError;
use crate::registry::{Scenario, bug_names, checked_nodes, plan_of, planted_bug};
use crate::report::{FailureKind, RunOptions, RunReport, Violation};
use pangea_core::log::LogConfig;
use pangea_core::membership::names as membership_names;
use pangea_core::membership::{Health, HealthConfig, Membership, MembershipPlantedBug};
use pangea_core::{Duration, Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::{FaultPlan, NodeStatus, Sim, SimConfig};

/// Length of the safety phase.
pub const SAFETY: Duration = Duration::from_secs(60);
/// How often the checkers look at the nodes.
pub const POLL: Duration = Duration::from_millis(100);
/// Allowance, beyond the protocol's own timeouts, for inputs that wait behind slow disks and slow
/// nodes, and for the checker's polling.
pub const SLACK: Duration = Duration::from_millis(1500);
/// Most violations a run reports.
pub const VIOLATIONS_MAX: usize = 20;

/// The membership settings every node of the scenario runs with.
#[must_use]
pub fn health_config() -> HealthConfig {
    HealthConfig::default()
}

/// How soon after the last fault heals every node must see every other as alive.
#[must_use]
pub fn liveness_bound(plan: &FaultPlan) -> Duration {
    let config = health_config();
    // Boot (first tick within one interval), learn peers by gossip (one round trip via n0 and one
    // more round), then hear from each: a few intervals plus the network's delays.
    config.ping_interval * 4 + plan.message_delay_max() * 4 + SLACK
}

/// The detection bound of the completeness checker.
#[must_use]
pub fn detection_bound(plan: &FaultPlan) -> Duration {
    let config = health_config();
    config.dead_after + config.ping_interval + plan.message_delay_max() + SLACK
}

/// The `health` scenario.
pub struct HealthScenario;

impl Scenario for HealthScenario {
    fn name(&self) -> &'static str {
        "health"
    }

    fn description(&self) -> &'static str {
        "membership and failure detection: dead peers are detected in time, and all heal to alive"
    }

    fn default_nodes(&self) -> u32 {
        5
    }

    fn nodes_range(&self) -> (u32, u32) {
        (2, 64)
    }

    fn faults(&self) -> &'static str {
        "swarm: loss, duplication, reordering, corruption, partitions, crashes, pauses, slow nodes, clock jumps, disk faults, buggify"
    }

    fn plan(&self, seed: u64, nodes: u32) -> FaultPlan {
        FaultPlan::swarm(seed, nodes, SAFETY)
    }

    fn planted_bugs(&self) -> Vec<&'static str> {
        bug_names(&MembershipPlantedBug::ALL)
    }

    fn probes(&self) -> Vec<&'static str> {
        membership_names::probes::ALL.to_vec()
    }

    fn buggify_sites(&self) -> Vec<&'static str> {
        membership_names::sites::ALL.to_vec()
    }

    fn run(&self, options: &RunOptions) -> Result<RunReport, ScenarioError> {
        let nodes = checked_nodes(self, options)?;
        #[cfg_attr(not(feature = "planted-bugs"), allow(unused_mut))]
        let mut config = health_config();
        if let Some(name) = options.planted.as_deref() {
            let _bug = planted_bug(self.name(), name, &MembershipPlantedBug::ALL)?;
            #[cfg(feature = "planted-bugs")]
            {
                config.planted_bug = Some(_bug);
            }
        }
        let plan = plan_of(self, options, nodes)?;
        let seed_node = NodeId::for_index(0);
        let mut log = LogConfig::new(vec![seed_node]);
        log.heartbeat_interval = Duration::from_secs(1);
        log.election_timeout = Duration::from_secs(3);
        let node_config = PangeaConfig { health: config, log, ..PangeaConfig::new(Vec::new()) };
        node_config.validate().map_err(|error| ScenarioError::Config(error.to_string()))?;
        let factory = move |index: u32| {
            let mut node_config = node_config.clone();
            if index != 0 {
                node_config.health.bootstrap = vec![seed_node];
            }
            PangeaNode::new(node_config).expect("validated above")
        };
        let mut sim_config = SimConfig::new(options.seed, nodes, plan.clone());
        sim_config.keep_trace = options.keep_trace;
        let mut sim = Sim::new(sim_config, factory);

        let heal_at = Instant::from_nanos(plan.heal_at_ms * 1_000_000);
        let detection = detection_bound(&plan);
        let liveness = liveness_bound(&plan);
        let end = heal_at + liveness;
        let mut checker = Checker::new(nodes, detection);
        let mut converged_at = None;
        let mut crashed = None;
        while sim.now() < end && checker.violations.len() < VIOLATIONS_MAX {
            if let Err(error) = sim.run_for(POLL) {
                crashed = Some(error.to_string());
                break;
            }
            checker.check_completeness(&sim);
            if sim.now() > heal_at && converged_at.is_none() && all_alive(&sim) {
                converged_at = Some(sim.now());
            }
        }
        let mut notes = vec![format!(
            "detection bound {:.1}s, liveness bound {:.1}s after the heal at {}",
            detection.as_secs_f64(),
            liveness.as_secs_f64(),
            heal_at
        )];
        if let Some(message) = crashed {
            checker.violations.push(Violation {
                checker: "event-budget",
                kind: FailureKind::Crash,
                at: sim.now(),
                node: None,
                message,
            });
        } else if checker.violations.len() < VIOLATIONS_MAX {
            match converged_at {
                Some(at) => notes.push(format!(
                    "all nodes saw all others alive {:.1}s after the heal",
                    (at - heal_at).as_secs_f64()
                )),
                None => checker.violations.extend(liveness_violations(&sim, heal_at, liveness)),
            }
        }
        checker.violations.truncate(VIOLATIONS_MAX);
        Ok(RunReport::from_sim(self.name(), options, plan, &sim, checker.violations, notes))
    }
}

/// Node `index`'s membership subsystem, unless it is crashed.
fn membership(sim: &Sim<PangeaNode>, index: u32) -> Option<&Membership> {
    sim.node(index).map(PangeaNode::membership)
}

/// True when every node is up and sees every other node as alive.
fn all_alive(sim: &Sim<PangeaNode>) -> bool {
    (0..sim.nodes()).all(|observer| {
        membership(sim, observer).is_some_and(|state| {
            (0..sim.nodes())
                .filter(|&peer| peer != observer)
                .all(|peer| state.health_of(&sim.id_of(peer)) == Some(Health::Alive))
        })
    })
}

fn liveness_violations(sim: &Sim<PangeaNode>, heal_at: Instant, bound: Duration) -> Vec<Violation> {
    let mut violations = Vec::new();
    for observer in 0..sim.nodes() {
        let Some(state) = membership(sim, observer) else {
            violations.push(Violation {
                checker: "liveness",
                kind: FailureKind::Liveness,
                at: sim.now(),
                node: Some(observer),
                message: "node is down after the heal".to_owned(),
            });
            continue;
        };
        for peer in (0..sim.nodes()).filter(|&peer| peer != observer) {
            let health = state.health_of(&sim.id_of(peer));
            if health != Some(Health::Alive) {
                let seen = health.map_or_else(|| "does not know".to_owned(), |health| format!("sees as {health:?}"));
                violations.push(Violation {
                    checker: "liveness",
                    kind: FailureKind::Liveness,
                    at: sim.now(),
                    node: Some(observer),
                    message: format!(
                        "n{observer} {seen} n{peer} {:.1}s after every fault healed at {heal_at} (bound {:.1}s)",
                        (sim.now() - heal_at).as_secs_f64(),
                        bound.as_secs_f64()
                    ),
                });
            }
        }
    }
    violations
}

/// The completeness checker's memory: which (observer, peer) pairs were already reported.
struct Checker {
    nodes: u32,
    detection: Duration,
    reported: Vec<bool>,
    violations: Vec<Violation>,
}

impl Checker {
    fn new(nodes: u32, detection: Duration) -> Checker {
        Checker { nodes, detection, reported: vec![false; (nodes * nodes) as usize], violations: Vec::new() }
    }

    fn check_completeness(&mut self, sim: &Sim<PangeaNode>) {
        let now = sim.now();
        for observer in 0..self.nodes {
            if sim.status(observer) != NodeStatus::Up {
                continue;
            }
            let (Some(state), Some(up_since)) = (membership(sim, observer), sim.up_since(observer)) else { continue };
            for peer in (0..self.nodes).filter(|&peer| peer != observer) {
                let Some(cut_since) = sim.cut_since(observer, peer) else { continue };
                let Some(tracked) = state.peer(&sim.id_of(peer)) else { continue };
                let health = tracked.health;
                // Detection cannot start before the observer is up, the peer falls silent, and the
                // observer knows of the peer at all.
                let since = cut_since.max(up_since).max(tracked.known_since);
                let cell = (observer * self.nodes + peer) as usize;
                if health != Health::Dead && now - since > self.detection && !self.reported[cell] {
                    self.reported[cell] = true;
                    let why = match sim.status(peer) {
                        NodeStatus::Crashed => "crashed",
                        NodeStatus::Paused => "paused",
                        NodeStatus::Up => "unable to reach it through a partition",
                    };
                    self.violations.push(Violation {
                        checker: "completeness",
                        kind: FailureKind::Correctness,
                        at: now,
                        node: Some(observer),
                        message: format!(
                            "n{observer} still sees n{peer} as {health:?}, though n{peer} has been {why} since {cut_since} \
                             (and n{observer} up since {up_since}): {:.1}s, over the detection bound of {:.1}s",
                            (now - since).as_secs_f64(),
                            self.detection.as_secs_f64()
                        ),
                    });
                } else if health == Health::Dead {
                    self.reported[cell] = false;
                }
            }
        }
    }
}

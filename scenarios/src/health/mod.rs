//! `health`: membership and failure detection (SWIM with Lifeguard) under a swarm of faults.
//!
//! N nodes (default 5, up to 1,000; [`run_health`] takes up to 10,000, for an ignored test and the
//! benchmark) run `PangeaNode`, whose membership
//! subsystem is what this scenario checks. Every node but n0 knows only n0 at boot and joins through
//! it. The node's metadata log runs too, with n0 its only member and a slow heartbeat (it is not
//! what `health` checks, and a one-member log sends nothing), so that the scenario exercises the
//! composed node at little cost. A safety phase of [`SAFETY`] applies the seed's fault plan (the
//! swarm, with its first crash lasting until the heal: [`with_long_crash`]); then every fault heals
//! and a liveness phase begins.
//!
//! Checkers:
//! - **completeness** (whole run): a node that has been up without interruption, in a component of
//!   two-way links holding at least half of the up nodes, must judge dead every member it tracks that
//!   has been crashed, paused, or outside its component for longer than [`detection_bound`]:
//!   `probe_interval × (FIRST_PROBE_PERIODS + 1 + awareness_max + ⌈log2 n⌉) + suspicion_max(n) + 4 ×`
//!   the plan's worst message delay `+` [`SLACK`] — someone probes the member within a few periods,
//!   the probe fails within one (stretched by Lifeguard at most `1 + awareness_max` times), the
//!   unconfirmed suspicion runs out, and the death spreads in O(log n) periods.
//!   It grows with log n only. (A node alone or in a small minority probes each member once per round
//!   of all members, and in a ring news crosses the component in O(n) hops, so SWIM owes no such
//!   bound there. An observer that joined a large component after the member was cut off is owed it
//!   plus [`late_detection_allowance`]: the news spread while it was away. One whose dead judgement
//!   gave way to newer news — a refutation the member made just before it went down, arriving after
//!   a heal — is owed the bound again from then.)
//! - **suspicions end** (whole run): no suspicion outlives its longest timeout (plus [`SLACK`]).
//! - **accuracy** (whole run): suspicions and deaths of members that a majority of nodes has reached
//!   directly for longer than the detection bound, by observers up and in their component that long, are
//!   counted. Every run reports its counts as tallies and a sweep sums them: over a sweep, more than
//!   [`FALSE_DEATHS_PER_NODE_HOUR_SWEEP_MAX`] false deaths or [`FALSE_SUSPICIONS_PER_NODE_HOUR_SWEEP_MAX`]
//!   false suspicions per node-hour is a failure (checked by `tests/tests/health_accuracy.rs`); one
//!   run fails only beyond [`FALSE_DEATHS_PER_NODE_HOUR_MAX`].
//! - **message load**: membership messages each node sends per probe interval after a warm-up
//!   ([`WARM_UP`]); a mean over the nodes above [`LOAD_MEAN_MAX`] fails the run. SWIM keeps it
//!   constant whatever n.
//! - **liveness** (after healing): within [`liveness_bound`] of the heal, every node tracks every
//!   other (or `peers_max` of them) and judges each alive.

mod checkers;
mod connectivity;
mod harness;

pub use checkers::{Checkers, Load, all_alive, liveness_violations, membership, peers_expected};
pub use connectivity::Connectivity;
pub use harness::HealthHarness;

use crate::error::ScenarioError;
use crate::kit::{FaultSource, Kit, Parts, Phases, RunSetup};
use crate::registry::{bug_names, planted_bug};
use crate::report::{RunOptions, RunReport};
use pangea_core::log::LogConfig;
use pangea_core::membership::names as membership_names;
use pangea_core::membership::{HealthConfig, MembershipPlantedBug, milli_log2};
use pangea_core::{Duration, Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::{Fault, FaultPlan};

/// The largest node count the scenario advertises (and `sweep-sizes` sweeps).
pub const NODES_SWEPT_MAX: u32 = 1000;
/// The largest node count [`run_health`] accepts: beyond the advertised range, for the ignored
/// 10,000-node test and the benchmark (a seed takes minutes and gigabytes).
pub const NODES_MAX: u32 = 10_000;

/// Length of the safety phase.
pub const SAFETY: Duration = Duration::from_secs(60);
/// Allowance, beyond the protocol's own timeouts, for inputs that wait behind slow disks and slow
/// nodes, and for the checker's polling.
pub const SLACK: Duration = Duration::from_millis(2500);
/// Most violations a run reports.
pub const VIOLATIONS_MAX: usize = 20;
/// Periods within which some node of a large component probes a given member, with high
/// probability: each of `c ≥ n/2` nodes probes it once per round of `n − 1` periods, at a random
/// place, so none has within `t` periods with probability about `e^(−t·c/n) ≤ e^(−t/2)`: 2% at
/// 8. (At 6, 5%: sweeps of tens of thousands of seeds with one long crash each found a few runs
/// over the bound by a tenth of a second.)
pub const FIRST_PROBE_PERIODS: u32 = 8;
/// Time after the start before message load is measured (joins send a burst of full-state
/// exchanges to n0).
pub const WARM_UP: Duration = Duration::from_secs(20);
/// Largest mean number of membership messages a node may send per probe interval: a ping, the
/// acks of others' pings, indirect probes and their relays, and full-state exchanges.
pub const LOAD_MEAN_MAX: f64 = 10.0;
/// Most false deaths (of members up and in the observer's majority component) per node-hour in
/// one run: a sanity limit, since a short run under a harsh draw (a fifth of messages lost, slow
/// handlers) can see a few. The sweep's rate is what [`FALSE_DEATHS_PER_NODE_HOUR_SWEEP_MAX`] bounds.
pub const FALSE_DEATHS_PER_NODE_HOUR_MAX: f64 = 300.0;
/// Most false deaths per node-hour over a sweep of the full swarm at the default size of 5 nodes
/// (the accuracy ceiling for deaths), checked over seeds 0..300: the default build measures 0.95
/// there and 0.63 over 20,000 seeds. (At 64 nodes it measures 3.8 over seeds 0..300, and 1.6 at
/// 1,000 nodes over seeds 0..100.)
pub const FALSE_DEATHS_PER_NODE_HOUR_SWEEP_MAX: f64 = 1.5;
/// Most false suspicions per node-hour over the same sweep (the accuracy ceiling for suspicions):
/// the default build measures 25 over seeds 0..300, 14 to 24 over other windows and 20 over 20,000;
/// with indirect probes planted away, 89 there, 62 to 80 over other windows and 75 over 3,000.
/// (Most suspicions are refuted before they become deaths, so deaths alone hardly tell the two
/// apart: 0.91 against 1.63 over seeds 0..300, with overlapping windows.)
pub const FALSE_SUSPICIONS_PER_NODE_HOUR_SWEEP_MAX: f64 = 40.0;

/// The membership settings every node of the scenario runs with.
#[must_use]
pub fn health_config() -> HealthConfig {
    HealthConfig::default()
}

/// How often the checkers look at the nodes: every 100 ms up to 64 nodes, every second beyond
/// (a look costs O(n²)).
#[must_use]
pub fn poll_interval(nodes: u32) -> Duration {
    if nodes <= 64 { Duration::from_millis(100) } else { Duration::from_secs(1) }
}

/// ⌈log2 nodes⌉.
fn log2_ceil(nodes: u32) -> u32 {
    u32::try_from(milli_log2(u64::from(nodes)).div_ceil(1000)).unwrap_or(u32::MAX)
}

/// The detection bound of the completeness checker, for `nodes` nodes (see the module's doc).
#[must_use]
pub fn detection_bound(nodes: u32, plan: &FaultPlan) -> Duration {
    let config = health_config();
    config.probe_interval * (FIRST_PROBE_PERIODS + 1 + config.awareness_max + log2_ceil(nodes))
        + config.suspicion_max(nodes as usize)
        + plan.message_delay_max() * 4
        + SLACK
        + poll_interval(nodes)
}

/// What the completeness checker adds to [`detection_bound`] for an observer that joined a large
/// component after the member was cut off: SWIM spreads each judgement in one epidemic, and news
/// spread while the observer was cut off reaches it by full-state exchanges (one of its own and about
/// one from others every `sync_interval`) or by its own probe.
#[must_use]
pub fn late_detection_allowance() -> Duration {
    health_config().sync_interval * 2
}

/// How soon after the last fault heals every node must see every other as alive: nodes declared
/// dead refute at their next contact, and the refutations spread by gossip and full-state
/// exchanges in O(log n) periods.
#[must_use]
pub fn liveness_bound(nodes: u32, plan: &FaultPlan) -> Duration {
    let config = health_config();
    config.probe_interval * (4 + 2 * log2_ceil(nodes))
        + config.sync_interval * 2
        + plan.message_delay_max() * 4
        + SLACK
        + poll_interval(nodes)
}

/// The swarm's plan with its first crash made long: the crashed node stays down until the heal
/// (its later faults are dropped). The swarm's crash windows last about 5 to 15 s, shorter than
/// the detection bound, so without one long crash completeness would rarely be owed at all.
#[must_use]
pub fn with_long_crash(mut plan: FaultPlan) -> FaultPlan {
    let Some(first) = plan.events.iter().position(|event| matches!(event.fault, Fault::Crash { .. })) else {
        return plan;
    };
    let node = plan.events[first].fault.node();
    let mut index = 0;
    plan.events.retain(|event| {
        let keep = index <= first || event.fault.node() != node;
        index += 1;
        keep
    });
    plan
}

/// What one run of `health` measured, beyond pass or fail (the benchmark's figures).
#[derive(Clone, Debug, Default)]
pub struct HealthFigures {
    /// Detection times of cut-off members, in milliseconds, sorted.
    pub detections_ms: Vec<u64>,
    /// Suspicions of members up and reachable by a majority, by observers in that majority.
    pub false_suspicions: u64,
    /// Of which deaths.
    pub false_deaths: u64,
    /// False deaths by member judged (its index).
    pub false_deaths_of: std::collections::BTreeMap<u32, u64>,
    /// Node-hours observed (nodes × virtual time).
    pub node_hours: f64,
    /// Messages per node per probe interval.
    pub load: Load,
}

/// The `health` scenario: `PangeaNode`s checked by a [`HealthHarness`].
pub static HEALTH: Kit<PangeaNode, HealthHarness> = Kit::new("health", health_setup)
    .description(
        "SWIM failure detection: cut-off peers are declared dead within a log-n bound, few live ones are, \
         message load is flat in n, and all heal to alive",
    )
    .nodes(5, 2, NODES_SWEPT_MAX)
    .faults(
        FaultSource::Custom(long_crash_swarm),
        "swarm: loss, duplication, reordering, corruption, partitions, one-way links, crashes, pauses, slow nodes, \
         clock jumps, disk faults, buggify",
    )
    .phases(Phases::new(SAFETY))
    .planted_bugs(health_bugs)
    .coverage(health_probes, health_sites);

fn long_crash_swarm(seed: u64, nodes: u32, safety: Duration) -> FaultPlan {
    with_long_crash(FaultPlan::swarm(seed, nodes, safety))
}

fn health_bugs() -> Vec<&'static str> {
    bug_names(&MembershipPlantedBug::ALL)
}

fn health_probes() -> Vec<&'static str> {
    membership_names::probes::ALL.to_vec()
}

fn health_sites() -> Vec<&'static str> {
    membership_names::sites::ALL.to_vec()
}

fn health_setup(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, HealthHarness>, ScenarioError> {
    health_parts(setup, health_config())
}

/// Runs `health` with `config` as every node's membership settings (the scenario runs
/// [`health_config`]; the benchmark compares others) and up to [`NODES_MAX`] nodes, returning its
/// report and figures.
///
/// # Errors
/// Invalid options.
pub fn run_health(options: &RunOptions, config: HealthConfig) -> Result<(RunReport, HealthFigures), ScenarioError> {
    let nodes = options.nodes.unwrap_or(HEALTH.default_nodes);
    if !(2..=NODES_MAX).contains(&nodes) {
        return Err(ScenarioError::NodeCount { scenario: HEALTH.name.to_owned(), least: 2, most: NODES_MAX, nodes });
    }
    let (report, harness) = HEALTH.run_with(options, nodes, |setup| health_parts(setup, config))?;
    Ok((report, harness.figures))
}

/// One run's parts: every node but n0 joins through n0; the node's log runs too, with n0 its only
/// member and a slow heartbeat, so that the scenario exercises the composed node at little cost.
#[cfg_attr(not(feature = "planted-bugs"), allow(unused_mut))]
fn health_parts(
    setup: &RunSetup<'_>,
    mut config: HealthConfig,
) -> Result<Parts<PangeaNode, HealthHarness>, ScenarioError> {
    let (options, nodes, plan) = (setup.options, setup.nodes, setup.plan);
    if let Some(name) = options.planted.as_deref() {
        let _bug = planted_bug(setup.name, name, &MembershipPlantedBug::ALL)?;
        #[cfg(feature = "planted-bugs")]
        {
            config.planted_bug = Some(_bug);
        }
    }
    let seed_node = NodeId::for_index(0);
    let mut log = LogConfig::new(vec![seed_node]);
    log.heartbeat_interval = Duration::from_secs(1);
    log.election_timeout = Duration::from_secs(3);
    let expected = peers_expected(nodes, config.peers_max);
    // The log, with one member, sends nothing: every message is membership's.
    let message_bytes_max = config.message_bytes_max();
    let probe_interval = config.probe_interval;
    let node_config = PangeaConfig { health: config, log, ..PangeaConfig::new(Vec::new()) };
    node_config.validate().map_err(|error| ScenarioError::Config(error.to_string()))?;
    let node = move |index: u32| {
        let mut node_config = node_config.clone();
        if index != 0 {
            node_config.health.bootstrap = vec![seed_node];
        }
        PangeaNode::new(node_config).expect("validated above")
    };
    let detection = detection_bound(nodes, plan);
    let poll = poll_interval(nodes);
    let liveness = liveness_bound(nodes, plan);
    let phases = Phases { liveness, tick: poll, check_every: poll, ..setup.phases };
    let checkers = Checkers::new(nodes, detection, late_detection_allowance(), Instant::ZERO + WARM_UP);
    let harness = HealthHarness::new(nodes, checkers, expected, (detection, liveness), probe_interval);
    let mut parts = Parts::new(node, harness, phases);
    parts.message_bytes_max = Some(message_bytes_max);
    Ok(parts)
}

/// The `p`th percentile of sorted `values` (nearest rank); 0 when empty.
#[must_use]
pub fn percentile(values: &[u64], p: usize) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let rank = (values.len() * p).div_ceil(100).clamp(1, values.len());
    values[rank - 1]
}

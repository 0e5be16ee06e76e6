//! The DHT scenarios: nodes join through a few seeds, then clients look up the ids of live nodes
//! while the network churns or splits, and every answer is scored against the truth the
//! simulator knows.
//!
//! - `dht-churn` (`PangeaNode`s): nodes leave and come back continuously (0.5% a second).
//! - `dht-partition` (`PangeaNode`s): the network splits in every shape and heals; after the heal,
//!   lookups across the former cut must succeed within the liveness bound (tables repaired).
//! - `dht-scale` (the DHT alone, for speed: 1,000 nodes by default, up to 100,000): the default
//!   churn at scale (0.1% a second), for the figures — success, precision, hops.
//!
//! Checkers: lookups find their live target (≥ 99%), return the true k closest live nodes
//! (≥ 95% of them), 90% take at most 6 hops, and no routing table drops a contact that was up and
//! reachable all along (the ping-before-evict rule). The sweep's summary adds up the figures.

mod harness;
mod lookups;
pub mod plans;

pub use harness::{DhtHarness, HOPS_P90_MAX, PRECISION_MIN, SUCCESS_MIN};
pub use lookups::{HOP_TALLIES, Lookups, Scores};

use crate::error::ScenarioError;
use crate::kit::{FaultSource, Kit, Parts, Phases, RunSetup};
use crate::registry::{WorkloadKnobs, bug_names, planted_bug};
use pangea_core::dht::messages::DHT_MESSAGE_BYTES_MAX;
use pangea_core::dht::names as dht_names;
use pangea_core::dht::{Dht, DhtConfig, DhtPlantedBug, DhtRequest, DhtResponse, Key};
use pangea_core::log::LogConfig;
use pangea_core::metadata::records::RecordLimits;
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use pangea_core::{Duration, Instant, Node, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::FaultPlan;
use plans::{Disruption, SEEDS};

/// Contacts per bucket and peers per lookup.
pub const K: usize = 20;
/// Nodes in the metadata log of the `PangeaNode` scenarios (the first ones).
pub const LOG_MEMBERS: u32 = 3;
/// After the heal, a round of probe lookups must all succeed within this.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(40);
/// How often the `PangeaNode` scenarios refresh idle buckets: often, so that tables repair
/// within the liveness bound after a partition (`dht-scale` keeps the default, 10 minutes).
pub const PANGEA_REFRESH: Duration = Duration::from_secs(30);
/// `dht-scale`'s event budget per node (the kernel's default budget is too small past about
/// 20,000 nodes).
pub const EVENTS_PER_NODE_MAX: u64 = 5_000;
/// The simulator's message budget for `PangeaNode`s (as the object scenarios').
pub const SIM_MESSAGE_BYTES_MAX: usize = 256 * 1024;

/// A node with a DHT that clients can ask for lookups: `PangeaNode`, or the DHT alone.
pub trait DhtHost: Node {
    /// Its DHT.
    fn dht(&self) -> &Dht;
    /// The request of a lookup of `target`.
    fn find_node(target: Key) -> Self::Request;
    /// The peers and hops of a lookup's answer, if it is one.
    fn closest(response: &Self::Response) -> Option<(Vec<NodeId>, u32)>;
}

impl DhtHost for Dht {
    fn dht(&self) -> &Dht {
        self
    }

    fn find_node(target: Key) -> DhtRequest {
        DhtRequest::FindNode { target }
    }

    fn closest(response: &DhtResponse) -> Option<(Vec<NodeId>, u32)> {
        match response {
            DhtResponse::Closest { peers, hops, .. } => Some((peers.clone(), *hops)),
            _ => None,
        }
    }
}

impl DhtHost for PangeaNode {
    fn dht(&self) -> &Dht {
        PangeaNode::dht(self)
    }

    fn find_node(target: Key) -> PangeaRequest {
        PangeaRequest::Dht(DhtRequest::FindNode { target })
    }

    fn closest(response: &PangeaResponse) -> Option<(Vec<NodeId>, u32)> {
        match response {
            PangeaResponse::Dht(response) => Dht::closest(response),
            _ => None,
        }
    }
}

/// Every plantable bug, with its name.
pub const BUGS: [(DhtPlantedBug, &str); 2] =
    [(DhtPlantedBug::EvictWithoutPing, "evict-without-ping"), (DhtPlantedBug::StopAtFirstStall, "stop-at-first-stall")];

/// The phases of every DHT scenario (the plan sets the heal, which grows with the node count).
pub const PHASES: Phases = Phases {
    safety: Duration::from_secs(60),
    liveness: LIVENESS_BOUND,
    settle: None,
    convergence: None,
    tick: Duration::from_millis(10),
    check_every: Duration::from_millis(500),
};

const CHURN: Disruption = Disruption {
    leave_per_mille_per_second: 5,
    away: (Duration::from_secs(5), Duration::from_secs(30)),
    partitions: 0,
    window: Duration::from_secs(45),
};

const SPLITS: Disruption = Disruption {
    leave_per_mille_per_second: 0,
    away: (Duration::ZERO, Duration::ZERO),
    partitions: 3,
    window: Duration::from_secs(60),
};

/// The churn `dht-scale` runs under by default.
pub const DEFAULT_CHURN: Disruption = Disruption {
    leave_per_mille_per_second: 1,
    away: (Duration::from_secs(10), Duration::from_secs(30)),
    partitions: 0,
    window: Duration::from_secs(30),
};

/// `dht-churn`.
pub static DHT_CHURN: Kit<PangeaNode, DhtHarness> = Kit::new("dht-churn", churn_setup)
    .description("DHT lookups while nodes leave and rejoin: live nodes found, true k closest, few hops")
    .nodes(256, 32, 512)
    .phases(PHASES)
    .faults(FaultSource::Custom(churn_plan), "0.5% of nodes leave per second, back after 5-30 s; WAN latency")
    .knobs(WorkloadKnobs { clients: None, operations: None })
    .planted_bugs(dht_bugs)
    .coverage(dht_probes, nothing);

/// `dht-partition`.
pub static DHT_PARTITION: Kit<PangeaNode, DhtHarness> = Kit::new("dht-partition", partition_setup)
    .description("DHT under partitions of every shape: lookups, and tables repaired after the heal")
    .nodes(128, 16, 512)
    .phases(PHASES)
    .faults(FaultSource::Custom(partition_plan), "up to 3 partitions of 8-20 s (every shape), healed; WAN latency")
    .planted_bugs(dht_bugs)
    .coverage(dht_probes, nothing);

/// `dht-scale`.
pub static DHT_SCALE: Kit<Dht, DhtHarness> = Kit::new("dht-scale", scale_setup)
    .description("the DHT alone at scale (1,000 nodes; up to 100,000) under default churn")
    .nodes(1000, 16, 100_000)
    .phases(PHASES)
    .faults(FaultSource::Custom(scale_plan), "0.1% of nodes leave per second, back after 10-30 s; WAN latency")
    .planted_bugs(dht_bugs)
    .coverage(dht_probes, nothing);

fn nothing() -> Vec<&'static str> {
    Vec::new()
}

fn dht_bugs() -> Vec<&'static str> {
    bug_names(&BUGS)
}

fn dht_probes() -> Vec<&'static str> {
    dht_names::probes::ALL.to_vec()
}

fn churn_plan(seed: u64, nodes: u32, _safety: Duration) -> FaultPlan {
    plans::plan(seed, nodes, &CHURN)
}

fn partition_plan(seed: u64, nodes: u32, _safety: Duration) -> FaultPlan {
    plans::plan(seed, nodes, &SPLITS)
}

fn scale_plan(seed: u64, nodes: u32, _safety: Duration) -> FaultPlan {
    plans::plan(seed, nodes, &DEFAULT_CHURN)
}

/// The DHT settings of node `index` at its `start`-th start: the seeds join at once (through
/// each other); the rest through the seeds, spread over the join window at first and within
/// 2 s when they come back.
fn dht_config(index: u32, start: u32, nodes: u32, refresh_every: Duration, bug: Option<DhtPlantedBug>) -> DhtConfig {
    let seeds = SEEDS.min(nodes);
    let join_within = match (index < seeds, start) {
        (true, _) => Duration::ZERO,
        (false, 0) => plans::join_window(nodes),
        (false, _) => Duration::from_secs(2),
    };
    let _ = bug;
    DhtConfig {
        k: K,
        query_timeout: Duration::from_secs(1),
        refresh_every,
        join_within,
        bootstrap: (0..seeds).filter(|seed| *seed != index).map(NodeId::for_index).collect(),
        #[cfg(feature = "planted-bugs")]
        planted_bug: bug,
        ..DhtConfig::default()
    }
}

/// The harness of a run: lookups every `every` through the measured window.
fn harness(setup: &RunSetup<'_>, every: Duration) -> DhtHarness {
    let measure_from = Instant::ZERO + plans::measured_from(setup.nodes);
    let stop_at = Instant::from_nanos(setup.plan.heal_at_ms * 1_000_000);
    let lookups = Lookups::new(setup.streams.stream("dht-lookups"), K, every, measure_from, stop_at);
    DhtHarness::new(lookups, Duration::from_secs(1), setup.nodes, setup.plan)
}

fn bug_of(setup: &RunSetup<'_>) -> Result<Option<DhtPlantedBug>, ScenarioError> {
    setup.options.planted.as_deref().map(|name| planted_bug(setup.name, name, &BUGS)).transpose()
}

/// `PangeaNode`s: the first [`LOG_MEMBERS`] hold the metadata log, and every node runs the DHT.
fn pangea_parts(setup: &RunSetup<'_>, every: Duration) -> Result<Parts<PangeaNode, DhtHarness>, ScenarioError> {
    let bug = bug_of(setup)?;
    let nodes = setup.nodes;
    let members: Vec<NodeId> = (0..LOG_MEMBERS.min(nodes)).map(NodeId::for_index).collect();
    let log = LogConfig::new(members.clone()).with_message_budget(SIM_MESSAGE_BYTES_MAX);
    let records = RecordLimits { key_bytes_max: 1024, value_bytes_max: SIM_MESSAGE_BYTES_MAX / 16 };
    let base = PangeaConfig { log, records, ..PangeaConfig::new(members) };
    PangeaConfig { dht: dht_config(SEEDS, 0, nodes, PANGEA_REFRESH, bug), ..base.clone() }
        .validate()
        .map_err(|error| ScenarioError::Config(error.to_string()))?;
    let mut starts = vec![0_u32; nodes as usize];
    let node = move |index: u32| {
        let start = &mut starts[index as usize];
        let config = PangeaConfig { dht: dht_config(index, *start, nodes, PANGEA_REFRESH, bug), ..base.clone() };
        *start += 1;
        PangeaNode::new(config).expect("validated above")
    };
    let mut parts = Parts::new(node, harness(setup, every), setup.phases);
    parts.message_bytes_max = Some(SIM_MESSAGE_BYTES_MAX);
    Ok(parts)
}

fn churn_setup(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, DhtHarness>, ScenarioError> {
    pangea_parts(setup, Duration::from_millis(50))
}

fn partition_setup(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, DhtHarness>, ScenarioError> {
    pangea_parts(setup, Duration::from_millis(50))
}

fn scale_setup(setup: &RunSetup<'_>) -> Result<Parts<Dht, DhtHarness>, ScenarioError> {
    let bug = bug_of(setup)?;
    let nodes = setup.nodes;
    Dht::new(dht_config(SEEDS, 0, nodes, DhtConfig::default().refresh_every, bug))
        .map_err(|error| ScenarioError::Config(error.to_string()))?;
    let mut starts = vec![0_u32; nodes as usize];
    let node = move |index: u32| {
        let start = &mut starts[index as usize];
        let config = dht_config(index, *start, nodes, DhtConfig::default().refresh_every, bug);
        *start += 1;
        Dht::new(config).expect("validated above")
    };
    let mut parts = Parts::new(node, harness(setup, Duration::from_millis(20)), setup.phases);
    parts.message_bytes_max = Some(DHT_MESSAGE_BYTES_MAX);
    // Joining costs a node about 1,500 events (its own lookups and its share of others').
    parts.events_max = Some(pangea_sim::kernel::EVENTS_MAX_DEFAULT.max(u64::from(nodes) * EVENTS_PER_NODE_MAX));
    Ok(parts)
}

/// The DHT scenarios, in `list` order.
#[must_use]
pub fn scenarios() -> [&'static dyn crate::registry::Scenario; 3] {
    [&DHT_CHURN, &DHT_PARTITION, &DHT_SCALE]
}

//! `graph-swarm`: concurrent clients mutate, traverse and read the replicated property graph of
//! `PangeaNode`s under every fault (partitions, loss, crashes and restarts, disk faults, clock
//! skew, pauses), while evaporation advances by log commands and by log position.
//!
//! Checked:
//! - **linearizability** of the whole history against the brute-force graph model
//!   ([`pangea_core::graph::model::ModelGraph`]): every answer — ids handed out, neighbours, scans,
//!   traversals, pheromone levels, counts — is the model's in one order that respects real time;
//! - **the replicas' graph equals the model's** after the heal: the final reads ask every replica's
//!   log for the graph's digest and counts, which the model must explain too, and the replicas must
//!   converge to equal metadata;
//! - **agreement** of the log and of the replicas' state at equal positions, and **liveness** after
//!   the heal.
//!
//! Snapshots are taken every 200 slots, so restarted and lagging replicas restore the graph from
//! one. Planted bugs: `remove-keeps-edges`, `snapshot-drops-pheromone`.

mod source;

pub use source::{COLLECTIONS, GraphSource, LABELS};

use crate::error::ScenarioError;
use crate::kit::{FaultSource, Kit, Parts, RunSetup};
use crate::log::{
    PHASES, PartChecks, PartHarness, SIM_MESSAGE_BYTES_MAX, SIM_VALUE_BYTES_MAX, Workload, WorkloadConfig,
};
use crate::model::SequentialModel;
use crate::registry::{WorkloadKnobs, bug_names, planted_bug};
use pangea_core::graph::model::ModelGraph;
use pangea_core::graph::pheromone::PheromoneConfig;
use pangea_core::graph::{GraphConfig, GraphLimits, GraphOp, GraphPlantedBug, GraphQuery, GraphResult, Properties};
use pangea_core::log::LogConfig;
use pangea_core::metadata::records::RecordLimits;
use pangea_core::{Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::SwarmProfile;
use std::hash::{Hash, Hasher};

/// The graph as a [`SequentialModel`]: the brute-force graph under the run's settings.
#[derive(Clone, Debug)]
pub struct GraphModel(pub GraphConfig);

impl SequentialModel for GraphModel {
    type State = ModelGraph;
    type Op = GraphOp;
    type Output = GraphResult;

    fn initial(&self) -> ModelGraph {
        ModelGraph::default()
    }

    fn apply(&self, state: &ModelGraph, op: &GraphOp) -> (ModelGraph, GraphResult) {
        let mut next = state.clone();
        let output = next.apply(&self.0, op);
        (next, output)
    }

    fn is_read_only(&self, op: &GraphOp) -> bool {
        matches!(op, GraphOp::Read(_))
    }

    /// XXH3 over the whole model state (its `Hash`), so that the search remembers graphs by 8 bytes.
    fn fingerprint(&self, state: &ModelGraph) -> Option<u64> {
        let mut hasher = twox_hash::XxHash3_64::with_seed(0);
        state.hash(&mut hasher);
        Some(hasher.finish())
    }
}

/// A `graph-swarm` run's clients and checkers.
pub type GraphHarness = PartHarness<GraphOp, GraphModel>;

/// A client retries an operation (in its session, so it applies at most once) until answered, up to
/// this: past the safety and liveness phases, so that an operation ends unknown only when its
/// session expired. Each unknown operation multiplies the orders the model checker must search.
pub(crate) const GIVE_UP_AFTER: pangea_core::Duration = pangea_core::Duration::from_secs(60);

/// The workload unless `--clients` and `--operations` say otherwise.
const WORKLOAD: WorkloadConfig =
    WorkloadConfig { clients: 5, operations_max: 600, give_up_after: GIVE_UP_AFTER, ..WorkloadConfig::DEFAULT };

/// The graph's settings in the simulator: properties up to the simulator's record value size, a
/// fifth of a level lost per evaporation step, steps only by command. Steps every so many mutations
/// (`evaporate_every_mutations`) are left to the graph's property tests: they tie every mutation's
/// effect to its position among all others, so that each operation a client waits on across a
/// fault multiplies the orders the model checker must try (a 500-operation history took minutes).
#[cfg_attr(
    not(feature = "planted-bugs"),
    allow(clippy::needless_update, reason = "the planted bug is a field only with the feature")
)]
fn graph_config() -> GraphConfig {
    GraphConfig {
        limits: GraphLimits { properties_bytes_max: SIM_VALUE_BYTES_MAX, results_max: 256, ..GraphLimits::default() },
        pheromone: PheromoneConfig {
            evaporation_ppm: 200_000,
            evaporate_every_mutations: 0,
            ..PheromoneConfig::default()
        },
        ..GraphConfig::default()
    }
}

static GRAPH_CHECKS: PartChecks<GraphOp> = PartChecks {
    probe: || GraphOp::AddEntity { collection: "probe".into(), properties: Properties::new() },
    final_reads: |_| vec![GraphOp::Read(GraphQuery::Digest), GraphOp::Read(GraphQuery::Stats)],
    checks: |_| Vec::new(),
};

/// `graph-swarm`.
pub static GRAPH_SWARM: Kit<PangeaNode, GraphHarness> = Kit::new("graph-swarm", setup)
    .description("replicated property graph: mutations, traversals, reinforcement and evaporation under every fault")
    .faults(
        FaultSource::Swarm(SwarmProfile { disk_rot: false, ..SwarmProfile::ALL }),
        "swarm of every fault (no bit rot)",
    )
    .phases(PHASES)
    .knobs(WorkloadKnobs { clients: Some(WORKLOAD.clients), operations: Some(WORKLOAD.operations_max) })
    .planted_bugs(graph_bugs);

fn graph_bugs() -> Vec<&'static str> {
    bug_names(&GraphPlantedBug::ALL)
}

fn setup(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, GraphHarness>, ScenarioError> {
    let planted = setup.options.planted.as_deref().map(|name| planted_bug(setup.name, name, &GraphPlantedBug::ALL));
    let _planted = planted.transpose()?;
    let graph = GraphConfig {
        #[cfg(feature = "planted-bugs")]
        planted_bug: _planted,
        ..graph_config()
    };
    let config = PangeaConfig { graph, ..part_node_config(setup.nodes) };
    config.validate().map_err(|error| ScenarioError::Config(error.to_string()))?;
    let source = GraphSource {
        properties_bytes_max: graph.limits.properties_bytes_max,
        results_max: graph.limits.results_max,
        depth_max: graph.limits.depth_max,
    };
    let workload = workload_config(setup)?;
    let workload = Workload::with_source(workload, Box::new(source), setup.streams, setup.nodes, issuing(setup));
    Ok(part_parts(config, PartHarness::new(workload, GraphModel(graph), &GRAPH_CHECKS), setup))
}

/// The workload `--clients` and `--operations` ask for, checked.
///
/// # Errors
/// No client, or more than the log scenarios take.
pub(crate) fn workload_config(setup: &RunSetup<'_>) -> Result<WorkloadConfig, ScenarioError> {
    let clients = setup.options.clients.unwrap_or(WORKLOAD.clients);
    if clients == 0 || clients > crate::log::CLIENTS_MAX {
        let scenario = setup.name.to_owned();
        return Err(ScenarioError::ClientCount { scenario, most: crate::log::CLIENTS_MAX, clients });
    }
    Ok(WorkloadConfig {
        clients,
        operations_max: setup.options.operations.unwrap_or(WORKLOAD.operations_max),
        ..WORKLOAD
    })
}

/// Until when the clients issue, and which of them.
pub(crate) fn issuing<'a>(setup: &'a RunSetup<'_>) -> (Instant, Option<&'a [u32]>) {
    (Instant::from_nanos(setup.plan.heal_at_ms * 1_000_000), setup.options.only_clients.as_deref())
}

/// Every node's settings in a part's scenario: all processes are members, the simulator's message
/// budget, snapshots every 200 slots.
pub(crate) fn part_node_config(nodes: u32) -> PangeaConfig {
    let members = (0..nodes).map(NodeId::for_index).collect();
    let mut log = LogConfig::new(members).with_message_budget(SIM_MESSAGE_BYTES_MAX);
    log.snapshot_threshold = 200;
    log.inflight_slots_max = 4;
    log.batch_entries_max = 3;
    let records = RecordLimits { key_bytes_max: 1024, value_bytes_max: SIM_VALUE_BYTES_MAX };
    PangeaConfig { log, records, ..PangeaConfig::new(Vec::new()) }
}

/// The run's parts: nodes of `config`, the harness, clients on the network.
pub(crate) fn part_parts<H>(config: PangeaConfig, harness: H, setup: &RunSetup<'_>) -> Parts<PangeaNode, H> {
    let message_bytes_max = config.log.message_bytes_max;
    let node = move |_index: u32| PangeaNode::new(config.clone()).expect("validated by the setup");
    let mut parts = Parts::new(node, harness, setup.phases);
    parts.message_bytes_max = Some(message_bytes_max);
    parts.clients_on_network = true;
    parts
}

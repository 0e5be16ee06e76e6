//! The object-store scenarios: owners put, read (whole and in ranges) and delete objects from
//! empty to several MiB on `PangeaNode`s under faults, checked for durability at acknowledgement,
//! distinct keystreams, no wrong bytes, acknowledged objects staying and deleted ones staying gone,
//! every acknowledged object read back after the heal, and full k + m redundancy restored by repair
//! within [`REPAIR_BOUND`].
//!
//! The variants differ in the faults they draw: `objects-crashes` (crashes, restarts, full disks,
//! torn writes, I/O errors), `objects-corruption` (bit rot of shards, with crashes) and
//! `objects-swarm` (every fault). Rot reaches the shard tables only: the log's promises exist in
//! one copy and are not meant to survive it (see [`crate::log`]).
//!
//! Shards are placed with k + m chosen from the node count: m = 2, and k up to 4 leaving one spare
//! member (a holder to replace, a target for repair): 4 + 2 at the default 7 nodes.

mod checkers;
mod clients;
mod content;
mod harness;

pub use checkers::{Checks, history_violations};
pub use clients::{ClientsConfig, ObjectClients, ObjectOperation, OpKind, Outcome};
pub use content::Content;
pub use harness::ObjectsHarness;

use crate::error::ScenarioError;
use crate::kit::{FaultSource, Kit, Parts, Phases, RunSetup};
use crate::registry::{WorkloadKnobs, bug_names, planted_bug};
use pangea_core::ces::{CHUNK_BYTES_MIN, CesParams, CesPlantedBug};
use pangea_core::dht::DhtConfig;
use pangea_core::log::LogConfig;
use pangea_core::log::names as log_names;
use pangea_core::membership::names as membership_names;
use pangea_core::metadata::records::RecordLimits;
use pangea_core::objects::names as objects_names;
use pangea_core::objects::{ObjectsConfig, ObjectsPlantedBug, SHARD_RECORDS_TABLE, SHARDS_TABLE};
use pangea_core::pangea::names as node_names;
use pangea_core::{Duration, Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::SwarmProfile;
use pangea_sim::plan::NodeFaultKind;

/// Length of the safety phase.
pub const SAFETY: Duration = Duration::from_secs(20);
/// After the heal, a new object must be stored within this.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(15);
/// After that, every acknowledged object must read back within this.
pub const SETTLE_BOUND: Duration = Duration::from_secs(20);
/// Then repair must restore every chunk's k + m shards within this.
pub const REPAIR_BOUND: Duration = Duration::from_secs(20);

/// The phases of every object scenario.
pub const PHASES: Phases = Phases {
    safety: SAFETY,
    liveness: LIVENESS_BOUND,
    settle: Some(SETTLE_BOUND),
    convergence: Some(REPAIR_BOUND),
    tick: Duration::from_millis(1),
    check_every: Duration::from_millis(100),
};

/// Most concurrent owners a run has.
pub const CLIENTS_MAX: u32 = 32;
/// The largest object the owners put.
pub const SIZE_MAX: u64 = 3 * 1024 * 1024;
/// The simulator's piece size: small, so that chunks and shards travel in several pieces.
pub const SIM_PIECE_BYTES_MAX: u32 = 32 * 1024;
/// The simulator's message budget (as the log scenarios').
pub const SIM_MESSAGE_BYTES_MAX: usize = 256 * 1024;
/// The tables rot may reach: the shards and their records.
pub const ROT_TABLES: &[&str] = &[SHARDS_TABLE, SHARD_RECORDS_TABLE];

/// A bug an object scenario can plant: in the store, or in the owner's sealing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectsScenarioBug {
    /// In the nodes' store.
    Store(ObjectsPlantedBug),
    /// In the owners' sealing.
    Seal(CesPlantedBug),
}

/// Every plantable bug, with its name.
pub const BUGS: [(ObjectsScenarioBug, &str); 3] = [
    (ObjectsScenarioBug::Store(ObjectsPlantedBug::ManifestBeforeQuorum), "manifest-before-quorum"),
    (ObjectsScenarioBug::Store(ObjectsPlantedBug::RepairTrustsShard), "repair-trusts-shard"),
    (ObjectsScenarioBug::Seal(CesPlantedBug::NonceReuse), "nonce-reuse"),
];

/// An object scenario.
pub type ObjectsKit = Kit<PangeaNode, ObjectsHarness>;

const fn objects_kit(name: &'static str) -> ObjectsKit {
    Kit::new(name, setup)
        .phases(PHASES)
        .nodes(7, 4, 9)
        .knobs(WorkloadKnobs { clients: Some(4), operations: Some(400) })
        .planted_bugs(objects_bugs)
        .coverage(objects_probes, objects_sites)
}

/// `objects-crashes`.
pub static OBJECTS_CRASHES: ObjectsKit = objects_kit("objects-crashes")
    .description("object store under crashes, restarts and disk faults: durable, readable, repaired")
    .faults(
        FaultSource::Swarm(SwarmProfile {
            partitions: false,
            node_faults: &[NodeFaultKind::Crash, NodeFaultKind::DiskFull],
            network: false,
            disk: true,
            disk_rot: false,
            clock_skew: false,
            buggify: true,
        }),
        "crashes and restarts, torn writes, slow syncs, I/O errors, full disks, buggify",
    );

/// `objects-corruption`.
pub static OBJECTS_CORRUPTION: ObjectsKit = objects_kit("objects-corruption")
    .description("object store with rotting shards and crashes: never wrong bytes, rot repaired")
    .faults(
        FaultSource::Swarm(SwarmProfile {
            partitions: false,
            node_faults: &[NodeFaultKind::Crash],
            network: false,
            disk: false,
            disk_rot: true,
            clock_skew: false,
            buggify: true,
        }),
        "bit rot of shards, crashes and restarts, buggify",
    );

/// `objects-swarm`.
pub static OBJECTS_SWARM: ObjectsKit = objects_kit("objects-swarm")
    .description("object store under every fault mixed")
    .faults(FaultSource::Swarm(SwarmProfile::ALL), "swarm of everything (rot reaches shards only)");

/// The object scenarios, in `list` order.
pub static OBJECTS_SCENARIOS: [&ObjectsKit; 3] = [&OBJECTS_CRASHES, &OBJECTS_CORRUPTION, &OBJECTS_SWARM];

fn objects_bugs() -> Vec<&'static str> {
    bug_names(&BUGS)
}

fn objects_probes() -> Vec<&'static str> {
    objects_names::probes::ALL
        .iter()
        .chain(log_names::probes::ALL)
        .chain(membership_names::probes::ALL)
        .chain(node_names::probes::ALL)
        .copied()
        .collect()
}

fn objects_sites() -> Vec<&'static str> {
    log_names::sites::ALL.iter().chain(membership_names::sites::ALL).copied().collect()
}

/// Shards per chunk for `nodes` nodes: m = 2 (1 below 4 nodes), k up to 4 with one member spare.
#[must_use]
pub fn shards_for(nodes: u32) -> (u8, u8) {
    let parity = if nodes >= 4 { 2 } else { 1 };
    let data = nodes.saturating_sub(parity + 1).clamp(1, 4);
    (data as u8, parity as u8)
}

fn setup(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, ObjectsHarness>, ScenarioError> {
    let options = setup.options;
    let clients = options.clients.unwrap_or(4);
    if clients == 0 || clients > CLIENTS_MAX {
        let scenario = setup.name.to_owned();
        return Err(ScenarioError::ClientCount { scenario, most: CLIENTS_MAX, clients });
    }
    let bug = options.planted.as_deref().map(|name| planted_bug(setup.name, name, &BUGS)).transpose()?;
    let config = node_config(setup.nodes, bug)?;
    let (data_shards, parity_shards) = shards_for(setup.nodes);
    let params = CesParams { data_shards, parity_shards, chunk_bytes: CHUNK_BYTES_MIN, zstd_level: 1 };
    let clients_config = ClientsConfig {
        clients,
        operations_max: options.operations.unwrap_or(400),
        params,
        size_max: SIZE_MAX,
        piece_bytes_max: SIM_PIECE_BYTES_MAX,
        attempt_timeout: Duration::from_millis(500),
        give_up_after: Duration::from_secs(6),
        think_max: Duration::from_millis(100),
        planted: match bug {
            Some(ObjectsScenarioBug::Seal(bug)) => Some(bug),
            _ => None,
        },
    };
    let heal_at = Instant::from_nanos(setup.plan.heal_at_ms * 1_000_000);
    let owners = ObjectClients::new(clients_config, setup.streams, setup.nodes, heal_at);
    let node = move |_index: u32| PangeaNode::new(config.clone()).expect("validated above");
    let mut parts = Parts::new(node, ObjectsHarness::new(owners), setup.phases);
    parts.message_bytes_max = Some(SIM_MESSAGE_BYTES_MAX);
    parts.clients_on_network = true;
    parts.rot_tables = Some(ROT_TABLES);
    Ok(parts)
}

/// Every node's settings: all `nodes` in the log, the simulator's message budget, and an object
/// store with short timers and small pieces.
fn node_config(nodes: u32, bug: Option<ObjectsScenarioBug>) -> Result<PangeaConfig, ScenarioError> {
    let members = (0..nodes).map(NodeId::for_index).collect();
    let mut log = LogConfig::new(members).with_message_budget(SIM_MESSAGE_BYTES_MAX);
    log.snapshot_threshold = 200;
    let objects = ObjectsConfig {
        piece_bytes_max: SIM_PIECE_BYTES_MAX,
        put_ops_max: 64,
        tick: Duration::from_millis(20),
        store_resend_after: Duration::from_millis(200),
        store_replace_after: Duration::from_secs(1),
        store_deadline: Duration::from_secs(8),
        fetch_hedge_after: Duration::from_millis(100),
        fetch_deadline: Duration::from_secs(4),
        scan_every: Duration::from_millis(500),
        repair_chunks_per_scan: 64,
        repair_bytes_per_scan: 8 * 1024 * 1024,
        repairs_max: 32,
        #[cfg(feature = "planted-bugs")]
        planted_bug: match bug {
            Some(ObjectsScenarioBug::Store(bug)) => Some(bug),
            _ => None,
        },
        ..ObjectsConfig::default()
    };
    let _ = bug;
    let records = RecordLimits { key_bytes_max: 1024, value_bytes_max: SIM_MESSAGE_BYTES_MAX / 16 };
    // Lookups that place chunks wait for their slowest peer: a timeout a few round trips long
    // (the simulator's links take up to ~100 ms) keeps a crashed peer from holding a put up.
    let dht = DhtConfig { query_timeout: Duration::from_millis(300), ..DhtConfig::default() };
    let config = PangeaConfig { log, records, objects, dht, ..PangeaConfig::new(Vec::new()) };
    config.validate().map_err(|error| ScenarioError::Config(error.to_string()))?;
    Ok(config)
}

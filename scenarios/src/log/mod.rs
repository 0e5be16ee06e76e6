//! The replicated-log scenarios: concurrent clients against `PangeaNode`'s multi-Paxos metadata log under
//! faults, checked for linearizability, agreement, durability, convergence and liveness.
//!
//! Every run has a safety phase of [`SAFETY`] under the seed's faults, during which clients issue
//! puts, gets, removes and compare-and-sets with timeouts and retries. Then every fault heals and:
//! a new command must commit within [`LIVENESS_BOUND`]; every key is read back through the log
//! (so a lost acknowledged write shows up in the history); and all replicas must converge to the
//! same state within [`CONVERGENCE_BOUND`].
//!
//! The variants differ in the faults they draw: `log-partitions` (partitions of every shape, lossy
//! and reordering links), `log-crashes` (crashes and restarts, torn and slow disks, full disks),
//! `log-clock-skew` (skewed and jumping wall clocks, pauses), `log-swarm` (all of these), and
//! `log-membership` (all of these while an operator adds and removes replicas through the log: the
//! run has [`SPARES`] processes beyond the initial members, and convergence is checked among the
//! final configuration's members).
//! Bit rot of a disk is left out: an acceptor's promise exists nowhere else, so rotting it is not a
//! fault the protocol claims to survive.
//!
//! Clients are on the simulated network: requests and replies take a link's latency and are lost
//! at the network's loss rate (partitions do not reach them).

mod checkers;
mod harness;
mod membership;
mod part_harness;
mod workload;

pub use checkers::{Agreement, converged};
pub use harness::LogHarness;
pub use membership::{ChangeOutcome, ChangeRecord, MemberChanger};
pub use part_harness::{PartChecks, PartHarness};
pub use workload::{ClientOp, Completion, KvSource, OpSource, Operation, Workload, WorkloadConfig};

use crate::error::ScenarioError;
use crate::kit::{FaultSource, Kit, Parts, Phases, RunSetup};
use crate::registry::{WorkloadKnobs, bug_names, planted_bug};
use crate::report::{FailureKind, Violation};
use pangea_core::log::names as log_names;
use pangea_core::log::{LogConfig, LogPlantedBug};
use pangea_core::membership::names as membership_names;
use pangea_core::metadata::records::{KvOp, RecordLimits};
use pangea_core::pangea::names as node_names;
use pangea_core::{Duration, Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::SwarmProfile;
use pangea_sim::plan::NodeFaultKind;

/// Length of the safety phase.
pub const SAFETY: Duration = Duration::from_secs(30);
/// After the heal, a new command must commit within this.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(10);
/// After the final reads, all replicas must converge within this.
pub const CONVERGENCE_BOUND: Duration = Duration::from_secs(5);
/// How often the replica checkers look.
pub const CHECK_EVERY: Duration = Duration::from_millis(50);

/// The phases of every log scenario: [`SAFETY`] under faults; a new command committed within
/// [`LIVENESS_BOUND`] of the heal; every key read back within the same bound; the replicas
/// converged within [`CONVERGENCE_BOUND`]. The clients act every millisecond.
pub const PHASES: Phases = Phases {
    safety: SAFETY,
    liveness: LIVENESS_BOUND,
    settle: Some(LIVENESS_BOUND),
    convergence: Some(CONVERGENCE_BOUND),
    tick: Duration::from_millis(1),
    check_every: CHECK_EVERY,
};

/// Most concurrent clients a log scenario runs.
pub const CLIENTS_MAX: u32 = 64;

/// Processes of `log-membership` beyond its initial members: spares to add.
pub const SPARES: u32 = 2;

/// The log's message budget in the simulator: small, so that the workload's values reach the limits
/// (the records' value limit is a sixteenth of it, as 1 MiB is of the real node's 16 MiB frames)
/// and batches, catch-up answers and snapshots are cut to fit in most runs.
pub const SIM_MESSAGE_BYTES_MAX: usize = 256 * 1024;
/// The largest record value in the simulator.
pub const SIM_VALUE_BYTES_MAX: usize = SIM_MESSAGE_BYTES_MAX / 16;

/// A log scenario: `PangeaNode`s checked by a [`LogHarness`].
pub type LogKit = Kit<PangeaNode, LogHarness>;

/// The faults no log scenario draws on its own: buggify only.
const NO_FAULTS: SwarmProfile = SwarmProfile {
    partitions: false,
    node_faults: &[],
    network: false,
    disk: false,
    disk_rot: false,
    clock_skew: false,
    buggify: true,
};

/// Every fault but bit rot (an acceptor's promise exists nowhere else, so rotting it is not a
/// fault the protocol claims to survive).
const SWARM_NO_ROT: SwarmProfile = SwarmProfile { disk_rot: false, ..SwarmProfile::ALL };

/// What every log scenario shares: phases, node counts, workload knobs, bugs and coverage.
const fn log_kit(
    name: &'static str,
    setup: fn(&RunSetup<'_>) -> Result<Parts<PangeaNode, LogHarness>, ScenarioError>,
) -> LogKit {
    let defaults = WorkloadConfig::DEFAULT;
    Kit::new(name, setup)
        .phases(PHASES)
        .knobs(WorkloadKnobs { clients: Some(defaults.clients), operations: Some(defaults.operations_max) })
        .planted_bugs(log_bugs)
        .coverage(log_probes, log_sites)
}

/// `log-partitions`.
pub static LOG_PARTITIONS: LogKit = log_kit("log-partitions", setup_fixed)
    .description("replicated log under partitions and lossy links: linearizable, agreed, converging")
    .faults(
        FaultSource::Swarm(SwarmProfile { partitions: true, network: true, ..NO_FAULTS }),
        "partitions of every shape, loss, duplication, reordering, corruption, slow links, buggify",
    );

/// `log-crashes`.
pub static LOG_CRASHES: LogKit =
    log_kit("log-crashes", setup_fixed).description("replicated log under crashes, restarts and disk faults").faults(
        FaultSource::Swarm(SwarmProfile {
            node_faults: &[NodeFaultKind::Crash, NodeFaultKind::DiskFull],
            disk: true,
            ..NO_FAULTS
        }),
        "crashes and restarts, torn writes, slow syncs, I/O errors on reads, writes and syncs, full disks, buggify",
    );

/// `log-clock-skew`.
pub static LOG_CLOCK_SKEW: LogKit = log_kit("log-clock-skew", setup_fixed)
    .description("replicated log with skewed and jumping wall clocks and stop-the-world pauses")
    .faults(
        FaultSource::Swarm(SwarmProfile {
            node_faults: &[NodeFaultKind::ClockJump, NodeFaultKind::Pause],
            clock_skew: true,
            ..NO_FAULTS
        }),
        "clock skew, clock jumps, pauses, buggify",
    );

/// `log-swarm`.
pub static LOG_SWARM: LogKit = log_kit("log-swarm", setup_fixed)
    .description("replicated log under every fault mixed")
    .faults(FaultSource::Swarm(SWARM_NO_ROT), "swarm of everything above (no bit rot)");

/// `log-membership`: its processes are the initial members plus [`SPARES`].
pub static LOG_MEMBERSHIP: LogKit = log_kit("log-membership", setup_membership)
    .description("replicated log while replicas are added and removed through the log (nodes = members + 2 spares)")
    .nodes(3 + SPARES, 3 + SPARES, 5 + SPARES)
    .faults(
        FaultSource::Swarm(SWARM_NO_ROT),
        "swarm of everything (no bit rot), plus membership changes every few seconds",
    );

/// The log scenarios, in `list` order.
pub static LOG_SCENARIOS: [&LogKit; 5] = [&LOG_PARTITIONS, &LOG_CRASHES, &LOG_CLOCK_SKEW, &LOG_SWARM, &LOG_MEMBERSHIP];

fn log_bugs() -> Vec<&'static str> {
    bug_names(&LogPlantedBug::ALL)
}

fn log_probes() -> Vec<&'static str> {
    log_names::probes::ALL.iter().chain(membership_names::probes::ALL).chain(node_names::probes::ALL).copied().collect()
}

fn log_sites() -> Vec<&'static str> {
    log_names::sites::ALL.iter().chain(membership_names::sites::ALL).copied().collect()
}

/// A run whose members are all its processes.
fn setup_fixed(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, LogHarness>, ScenarioError> {
    parts(setup, setup.nodes, false)
}

/// A run of `log-membership`: [`SPARES`] processes start outside the configuration, and an
/// operator adds and removes replicas through the log until the heal.
fn setup_membership(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, LogHarness>, ScenarioError> {
    parts(setup, setup.nodes - SPARES, true)
}

fn parts(setup: &RunSetup<'_>, members: u32, changes: bool) -> Result<Parts<PangeaNode, LogHarness>, ScenarioError> {
    let options = setup.options;
    let defaults = WorkloadConfig::DEFAULT;
    let workload = WorkloadConfig {
        clients: options.clients.unwrap_or(defaults.clients),
        operations_max: options.operations.unwrap_or(defaults.operations_max),
        ..defaults
    };
    if workload.clients == 0 || workload.clients > CLIENTS_MAX {
        let scenario = setup.name.to_owned();
        return Err(ScenarioError::ClientCount { scenario, most: CLIENTS_MAX, clients: workload.clients });
    }
    let config = node_config(setup.name, members, options.planted.as_deref())?;
    let workload = WorkloadConfig { value_bytes_max: config.records.value_bytes_max, ..workload };
    let message_bytes_max = config.log.message_bytes_max;
    let heal_at = Instant::from_nanos(setup.plan.heal_at_ms * 1_000_000);
    let keys = workload.keys;
    let clients = Workload::new(workload, setup.streams, setup.nodes, heal_at, options.only_clients.as_deref());
    let changer = changes.then(|| MemberChanger::new(setup.streams, members as usize, heal_at));
    let node = move |_index: u32| PangeaNode::new(config.clone()).expect("validated above");
    let mut parts = Parts::new(node, LogHarness::new(clients, keys, changer), setup.phases);
    parts.message_bytes_max = Some(message_bytes_max);
    // Clients reach the replicas over links like the replicas' own (lossy when those are), so a
    // client can time out on a command that took effect and must retry it.
    parts.clients_on_network = true;
    Ok(parts)
}

/// Every node's settings: `members` replicas in the initial configuration, the simulator's
/// message budget, and small snapshot and batch limits.
fn node_config(scenario: &str, members: u32, planted: Option<&str>) -> Result<PangeaConfig, ScenarioError> {
    let members = (0..members).map(NodeId::for_index).collect();
    let mut log = LogConfig::new(members).with_message_budget(SIM_MESSAGE_BYTES_MAX);
    // Small enough that runs take snapshots and ship them to lagging replicas, and that the
    // clients fill the pipeline and split into several batches now and then.
    log.snapshot_threshold = 200;
    log.inflight_slots_max = 4;
    log.batch_entries_max = 3;
    if let Some(name) = planted {
        let _bug = planted_bug(scenario, name, &LogPlantedBug::ALL)?;
        #[cfg(feature = "planted-bugs")]
        {
            log.planted_bug = Some(_bug);
        }
    }
    let records = RecordLimits { key_bytes_max: 1024, value_bytes_max: SIM_VALUE_BYTES_MAX };
    let config = PangeaConfig { log, records, ..PangeaConfig::new(Vec::new()) };
    config.validate().map_err(|error| ScenarioError::Config(error.to_string()))?;
    Ok(config)
}

/// What the linearizability checker's `evidence` involves: its operations and the failed ones it
/// cites, by invocation time.
fn involved_in(evidence: &crate::linearizability::Evidence) -> crate::report::Involved {
    use crate::linearizability::{OpCompletion, Value};
    use crate::report::{CitedOperation, Involved};
    let mut operations: Vec<CitedOperation> = evidence
        .ops
        .iter()
        .chain(&evidence.failed)
        .map(|cited| {
            let entry = &cited.entry;
            let (what, completed_at) = match &entry.completion {
                OpCompletion::Completed { at, outcome } => {
                    (format!("{} -> {outcome}", entry.op), Some(Instant::from_nanos(*at)))
                }
                OpCompletion::Unknown => (format!("{} -> unknown", entry.op), None),
                OpCompletion::Failed => (format!("{} -> failed", entry.op), None),
            };
            CitedOperation {
                index: cited.index,
                client: entry.client,
                key: Value(entry.key.clone()).to_string(),
                what,
                invoked_at: Instant::from_nanos(entry.invoked_at),
                completed_at,
                culprit: cited.index == evidence.culprit,
            }
        })
        .collect();
    operations.sort_by_key(|operation| (operation.invoked_at, operation.index));
    Involved::of_operations(operations)
}

/// Checks the client history for linearizability (which, with the final reads of every key, also
/// catches acknowledged writes that were lost). Returns violations, and notes for a person (keys
/// the search could not decide within its budget are a note, never a failure).
#[must_use]
pub fn history_violations(history: &[Operation]) -> (Vec<Violation>, Vec<String>) {
    use crate::linearizability::{
        self as lin, CheckConfig, HistoryEntry, HistoryOp, OpCompletion, OpOutcome, Value, Verdict,
    };
    use pangea_core::metadata::records::KvResult;
    let value = |bytes: &Option<Vec<u8>>| bytes.clone().map(Value);
    let entries: Vec<HistoryEntry> = history
        .iter()
        .map(|operation| {
            let (key, op) = match &operation.op {
                KvOp::Put { key, value: stored } => (key, HistoryOp::Put { value: Value(stored.clone()) }),
                KvOp::Get { key } => (key, HistoryOp::Get),
                KvOp::Remove { key } => (key, HistoryOp::Remove),
                KvOp::CompareAndSet { key, expected, new } => {
                    (key, HistoryOp::CompareAndSet { expected: value(expected), new: value(new) })
                }
            };
            let completion = match &operation.completion {
                Completion::Done { at, result } => OpCompletion::Completed {
                    at: at.as_nanos(),
                    outcome: match result {
                        KvResult::Done => OpOutcome::Ok,
                        KvResult::Value(read) => OpOutcome::Read(value(read)),
                        KvResult::CompareAndSet { succeeded, found } => {
                            OpOutcome::CompareAndSet { succeeded: *succeeded, found: Some(value(found)) }
                        }
                    },
                },
                Completion::Unknown => OpCompletion::Unknown,
                Completion::Refused => OpCompletion::Failed,
            };
            HistoryEntry {
                client: operation.issuer as u64,
                key: key.clone(),
                op,
                invoked_at: operation.invoked_at.as_nanos(),
                completion,
            }
        })
        .collect();
    match lin::check(&entries, &CheckConfig::default()) {
        Ok(Verdict::Linearizable) => (Vec::new(), Vec::new()),
        Ok(verdict @ Verdict::NotLinearizable { .. }) => {
            let (at, involved) = match &verdict {
                Verdict::NotLinearizable { evidence, .. } => (
                    evidence
                        .ops
                        .iter()
                        .find(|cited| cited.index == evidence.culprit)
                        .and_then(|cited| match cited.entry.completion {
                            OpCompletion::Completed { at, .. } => Some(Instant::from_nanos(at)),
                            _ => None,
                        })
                        .unwrap_or(Instant::ZERO),
                    involved_in(evidence),
                ),
                _ => (Instant::ZERO, crate::report::Involved::default()),
            };
            let violation = Violation {
                involved,
                checker: "linearizability",
                kind: FailureKind::Correctness,
                at,
                node: None,
                message: verdict.to_string(),
            };
            (vec![violation], Vec::new())
        }
        Ok(verdict @ Verdict::Unknown { .. }) => (Vec::new(), vec![format!("linearizability {verdict}")]),
        Err(error) => {
            // An answer the sequential model forbids outright (a compare-and-set that reports
            // success and another value, a put answered with a read) is the system's fault; a
            // history the harness recorded wrong (answered before asked, too large) is the harness's.
            let (checker, kind, message) = match &error {
                lin::HistoryError::OutcomeMismatch { .. } | lin::HistoryError::InconsistentCompareAndSet { .. } => {
                    ("linearizability", FailureKind::Correctness, format!("an answer the model forbids: {error}"))
                }
                lin::HistoryError::CompletedBeforeInvoked { .. } | lin::HistoryError::TooLarge { .. } => {
                    ("history", FailureKind::Crash, format!("the workload recorded an unreadable history: {error}"))
                }
            };
            let violation = Violation {
                involved: crate::report::Involved::default(),
                checker,
                kind,
                at: Instant::ZERO,
                node: None,
                message,
            };
            (vec![violation], Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pangea_core::metadata::records::KvResult;

    fn operation(op: KvOp, completion: Completion) -> Operation {
        Operation {
            client: 1,
            issuer: 0,
            sequence: 1,
            op,
            read_index: false,
            invoked_at: Instant::from_nanos(1),
            completion,
        }
    }

    #[test]
    fn an_answer_the_model_forbids_is_a_correctness_failure_of_the_system() {
        let cas = KvOp::CompareAndSet { key: b"k".to_vec(), expected: None, new: Some(b"v".to_vec()) };
        let impossible = KvResult::CompareAndSet { succeeded: true, found: Some(b"other".to_vec()) };
        let history = [operation(cas, Completion::Done { at: Instant::from_nanos(2), result: impossible })];
        let (violations, _) = history_violations(&history);
        let [violation] = violations.as_slice() else { panic!("{violations:?}") };
        assert_eq!((violation.checker, violation.kind), ("linearizability", FailureKind::Correctness), "{violation}");
    }

    #[test]
    fn a_history_recorded_wrong_is_the_harness_crashing() {
        let get = KvOp::Get { key: b"k".to_vec() };
        let answered_early = Completion::Done { at: Instant::ZERO, result: KvResult::Value(None) };
        let mut entry = operation(get, answered_early);
        entry.invoked_at = Instant::from_nanos(5);
        let (violations, _) = history_violations(&[entry]);
        let [violation] = violations.as_slice() else { panic!("{violations:?}") };
        assert_eq!((violation.checker, violation.kind), ("history", FailureKind::Crash), "{violation}");
    }
}

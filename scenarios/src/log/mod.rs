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
mod membership;
mod workload;

pub use checkers::{Agreement, converged};
pub use membership::{ChangeOutcome, ChangeRecord, MemberChanger};
pub use workload::{Completion, Operation, Workload, WorkloadConfig};

use crate::error::ScenarioError;
use crate::registry::{Scenario, WorkloadKnobs, bug_names, checked_nodes, plan_of, planted_bug};
use crate::report::{FailureKind, RunOptions, RunReport, Violation};
use pangea_core::log::names as log_names;
use pangea_core::log::{LogConfig, LogPlantedBug};
use pangea_core::membership::names as membership_names;
use pangea_core::metadata::records::{KvOp, RecordLimits};
use pangea_core::pangea::names as node_names;
use pangea_core::{Duration, Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::{FaultPlan, Sim, SimConfig, SwarmProfile};

/// Length of the safety phase.
pub const SAFETY: Duration = Duration::from_secs(30);
/// After the heal, a new command must commit within this.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(10);
/// After the final reads, all replicas must converge within this.
pub const CONVERGENCE_BOUND: Duration = Duration::from_secs(5);
/// How often the replica checkers look.
pub const CHECK_EVERY: Duration = Duration::from_millis(50);
/// The workload's and checkers' time step.
const STEP: Duration = Duration::from_millis(1);

/// Which faults a variant draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogVariant {
    /// Partitions and lossy links.
    Partitions,
    /// Crashes, restarts and disk faults.
    Crashes,
    /// Clock skew and jumps, pauses.
    ClockSkew,
    /// Everything.
    Swarm,
    /// Everything, while replicas are added and removed.
    Membership,
}

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

/// One of the log scenarios.
pub struct LogScenario {
    name: &'static str,
    description: &'static str,
    faults: &'static str,
    variant: LogVariant,
}

/// The log scenarios, in `list` order.
pub const LOG_SCENARIOS: [LogScenario; 5] = [
    LogScenario {
        name: "log-partitions",
        description: "replicated log under partitions and lossy links: linearizable, agreed, converging",
        faults: "partitions of every shape, loss, duplication, reordering, corruption, slow links, buggify",
        variant: LogVariant::Partitions,
    },
    LogScenario {
        name: "log-crashes",
        description: "replicated log under crashes, restarts and disk faults",
        faults: "crashes and restarts, torn writes, slow syncs, I/O errors on reads, writes and syncs, full disks, buggify",
        variant: LogVariant::Crashes,
    },
    LogScenario {
        name: "log-clock-skew",
        description: "replicated log with skewed and jumping wall clocks and stop-the-world pauses",
        faults: "clock skew, clock jumps, pauses, buggify",
        variant: LogVariant::ClockSkew,
    },
    LogScenario {
        name: "log-swarm",
        description: "replicated log under every fault mixed",
        faults: "swarm of everything above (no bit rot)",
        variant: LogVariant::Swarm,
    },
    LogScenario {
        name: "log-membership",
        description: "replicated log while replicas are added and removed through the log (nodes = members + 2 spares)",
        faults: "swarm of everything (no bit rot), plus membership changes every few seconds",
        variant: LogVariant::Membership,
    },
];

impl LogScenario {
    fn profile(&self) -> SwarmProfile {
        use pangea_sim::plan::NodeFaultKind;

        let none = SwarmProfile {
            partitions: false,
            node_faults: &[],
            network: false,
            disk: false,
            disk_rot: false,
            clock_skew: false,
            buggify: true,
        };
        match self.variant {
            LogVariant::Partitions => SwarmProfile { partitions: true, network: true, ..none },
            LogVariant::Crashes => {
                SwarmProfile { node_faults: &[NodeFaultKind::Crash, NodeFaultKind::DiskFull], disk: true, ..none }
            }
            LogVariant::ClockSkew => SwarmProfile {
                node_faults: &[NodeFaultKind::ClockJump, NodeFaultKind::Pause],
                clock_skew: true,
                ..none
            },
            LogVariant::Swarm | LogVariant::Membership => SwarmProfile { disk_rot: false, ..SwarmProfile::ALL },
        }
    }

    /// Replicas in the initial configuration of a run with `nodes` processes.
    fn initial_members(&self, nodes: u32) -> u32 {
        if self.variant == LogVariant::Membership { nodes - SPARES } else { nodes }
    }

    fn node_config(&self, nodes: u32, planted: Option<&str>) -> Result<PangeaConfig, ScenarioError> {
        let members = (0..self.initial_members(nodes)).map(NodeId::for_index).collect();
        let mut log = LogConfig::new(members).with_message_budget(SIM_MESSAGE_BYTES_MAX);
        // Small enough that runs take snapshots and ship them to lagging replicas, and that the
        // clients fill the pipeline and split into several batches now and then.
        log.snapshot_threshold = 200;
        log.inflight_slots_max = 4;
        log.batch_entries_max = 3;
        if let Some(name) = planted {
            let _bug = planted_bug(self.name, name, &LogPlantedBug::ALL)?;
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
}

impl Scenario for LogScenario {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn default_nodes(&self) -> u32 {
        if self.variant == LogVariant::Membership { 3 + SPARES } else { 3 }
    }

    fn nodes_range(&self) -> (u32, u32) {
        if self.variant == LogVariant::Membership { (3 + SPARES, 5 + SPARES) } else { (3, 7) }
    }

    fn faults(&self) -> &'static str {
        self.faults
    }

    fn plan(&self, seed: u64, nodes: u32) -> FaultPlan {
        FaultPlan::swarm_with(seed, nodes, SAFETY, &self.profile())
    }

    fn planted_bugs(&self) -> Vec<&'static str> {
        bug_names(&LogPlantedBug::ALL)
    }

    fn probes(&self) -> Vec<&'static str> {
        log_names::probes::ALL
            .iter()
            .chain(membership_names::probes::ALL)
            .chain(node_names::probes::ALL)
            .copied()
            .collect()
    }

    fn buggify_sites(&self) -> Vec<&'static str> {
        log_names::sites::ALL.iter().chain(membership_names::sites::ALL).copied().collect()
    }

    fn workload_knobs(&self) -> WorkloadKnobs {
        let defaults = WorkloadConfig::default();
        WorkloadKnobs { clients: Some(defaults.clients), operations: Some(defaults.operations_max) }
    }

    fn run(&self, options: &RunOptions) -> Result<RunReport, ScenarioError> {
        let nodes = checked_nodes(self, options)?;
        let defaults = WorkloadConfig::default();
        let workload = WorkloadConfig {
            clients: options.clients.unwrap_or(defaults.clients),
            operations_max: options.operations.unwrap_or(defaults.operations_max),
            ..defaults
        };
        if workload.clients == 0 || workload.clients > CLIENTS_MAX {
            let scenario = self.name.to_owned();
            return Err(ScenarioError::ClientCount { scenario, most: CLIENTS_MAX, clients: workload.clients });
        }
        let config = self.node_config(nodes, options.planted.as_deref())?;
        let workload = WorkloadConfig { value_bytes_max: config.records.value_bytes_max, ..workload };
        let plan = plan_of(self, options, nodes)?;
        let mut sim_config = SimConfig::new(options.seed, nodes, plan.clone());
        sim_config.keep_trace = options.keep_trace;
        // Clients reach the replicas over links like the replicas' own (lossy when those are), so a
        // client can time out on a command that took effect and must retry it.
        sim_config.client_link = Some(plan.network.latency);
        sim_config.message_bytes_max = Some(config.log.message_bytes_max);
        let factory = move |_index: u32| PangeaNode::new(config.clone()).expect("validated above");
        let mut sim = Sim::new(sim_config, factory);
        let heal_at = Instant::from_nanos(plan.heal_at_ms * 1_000_000);
        let changer = (self.variant == LogVariant::Membership)
            .then(|| MemberChanger::new(options.seed, self.initial_members(nodes) as usize, heal_at));
        let outcome = drive(&mut sim, options.seed, workload, changer);
        Ok(RunReport::from_sim(self.name, options, plan, &sim, outcome.violations, outcome.notes))
    }
}

/// One time step: the simulation, then the clients, then (every [`CHECK_EVERY`]) the replica
/// checkers.
fn advance(
    sim: &mut Sim<PangeaNode>,
    workload: &mut Workload,
    changer: &mut Option<MemberChanger>,
    agreement: &mut Agreement,
    next_check: &mut Instant,
) -> Result<(), String> {
    sim.run_for(STEP).map_err(|error| error.to_string())?;
    let others = workload.act(sim);
    if let Some(changer) = changer {
        changer.act(sim, others);
    }
    if sim.now() >= *next_check {
        agreement.check(sim);
        *next_check = sim.now() + CHECK_EVERY;
    }
    Ok(())
}

/// What driving a run found: violations, and notes for a person.
struct DriveOutcome {
    violations: Vec<Violation>,
    notes: Vec<String>,
}

fn drive(
    sim: &mut Sim<PangeaNode>,
    seed: u64,
    config: WorkloadConfig,
    mut changer: Option<MemberChanger>,
) -> DriveOutcome {
    let heal_at = Instant::from_nanos(sim.plan().heal_at_ms * 1_000_000);
    let keys = config.keys;
    let mut workload = Workload::new(config, seed, sim.nodes(), heal_at);
    let mut agreement = Agreement::default();
    let mut violations = Vec::new();
    let mut notes = Vec::new();
    let mut next_check = sim.now() + CHECK_EVERY;

    // Safety phase, and the start of the liveness phase, until the probe commits or its bound passes.
    let mut probe = None;
    let probe_deadline = heal_at + LIVENESS_BOUND;
    let mut budget_error = None;
    loop {
        if let Err(error) = advance(sim, &mut workload, &mut changer, &mut agreement, &mut next_check) {
            budget_error = Some(error);
            break;
        }
        if sim.now() >= heal_at && probe.is_none() {
            let op = KvOp::Put { key: b"liveness-probe".to_vec(), value: b"after-heal".to_vec() };
            probe = Some(workload.issue_extra(sim, op));
        }
        if let Some(probe) = probe {
            if workload.is_done(probe) {
                if let Completion::Done { at, .. } = workload.history[probe].completion {
                    notes.push(format!("a new command committed {:.2}s after the heal", (at - heal_at).as_secs_f64()));
                }
                break;
            }
            if sim.now() >= probe_deadline {
                violations.push(Violation {
                    checker: "liveness",
                    kind: FailureKind::Liveness,
                    at: sim.now(),
                    node: None,
                    message: format!(
                        "no new command committed within {:.0}s of the heal at {heal_at}",
                        LIVENESS_BOUND.as_secs_f64()
                    ),
                });
                break;
            }
        }
    }

    // Read every key back through the log, and let the clients finish.
    if budget_error.is_none() && violations.is_empty() {
        let key_names: Vec<Vec<u8>> = (0..keys).map(|key| format!("k{key}").into_bytes()).collect();
        let reads: Vec<usize> = key_names.into_iter().map(|key| workload.issue_extra(sim, KvOp::Get { key })).collect();
        let deadline = sim.now() + LIVENESS_BOUND;
        while sim.now() < deadline && (reads.iter().any(|read| !workload.is_done(*read)) || workload.outstanding() > 0)
        {
            if let Err(error) = advance(sim, &mut workload, &mut changer, &mut agreement, &mut next_check) {
                budget_error = Some(error);
                break;
            }
        }
        if let Some(read) = reads.iter().find(|read| !workload.is_done(**read)) {
            violations.push(Violation {
                checker: "liveness",
                kind: FailureKind::Liveness,
                at: sim.now(),
                node: None,
                message: format!("the final read {:?} was not answered after the heal", workload.history[*read].op),
            });
        }
    }

    // Convergence.
    if budget_error.is_none() && violations.is_empty() {
        let deadline = sim.now() + CONVERGENCE_BOUND;
        let mut last = Err(String::new());
        while sim.now() < deadline {
            if let Err(error) = sim.run_for(CHECK_EVERY) {
                budget_error = Some(error.to_string());
                break;
            }
            agreement.check(sim);
            last = converged(sim);
            if last.is_ok() {
                break;
            }
        }
        if let Err(why) = last
            && budget_error.is_none()
        {
            violations.push(Violation {
                checker: "convergence",
                kind: FailureKind::Liveness,
                at: sim.now(),
                node: None,
                message: format!("replicas did not converge within {:.0}s: {why}", CONVERGENCE_BOUND.as_secs_f64()),
            });
        }
    }
    agreement.check(sim);
    violations.extend(agreement.violations);
    if let Some(message) = budget_error {
        violations.push(Violation {
            checker: "event-budget",
            kind: FailureKind::Crash,
            at: sim.now(),
            node: None,
            message,
        });
    }
    let (history_problems, history_notes) = history_violations(&workload.history);
    violations.extend(history_problems);
    notes.extend(history_notes);

    if let Some(changer) = &changer {
        notes.push(changer.summary());
        let members = (0..sim.nodes())
            .filter_map(|index| sim.node(index))
            .map(PangeaNode::log)
            .max_by_key(|replica| replica.applied_index())
            .map(|replica| replica.members().to_string());
        if let Some(members) = members {
            notes.push(format!("final configuration: {members}"));
        }
    }
    let done =
        workload.history.iter().filter(|operation| matches!(operation.completion, Completion::Done { .. })).count();
    let applied =
        (0..sim.nodes()).filter_map(|index| sim.node(index)).map(|node| node.log().applied_index()).max().unwrap_or(0);
    notes.push(format!(
        "{} operations, {done} answered, {} unknown; {applied} slots committed",
        workload.history.len(),
        workload.history.len() - done
    ));
    DriveOutcome { violations, notes }
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
            };
            HistoryEntry {
                client: operation.client,
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
            let at = match &verdict {
                Verdict::NotLinearizable { evidence, .. } => evidence
                    .ops
                    .iter()
                    .find(|cited| cited.index == evidence.culprit)
                    .and_then(|cited| match cited.entry.completion {
                        OpCompletion::Completed { at, .. } => Some(Instant::from_nanos(at)),
                        _ => None,
                    })
                    .unwrap_or(Instant::ZERO),
                _ => Instant::ZERO,
            };
            let violation = Violation {
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
            let violation = Violation { checker, kind, at: Instant::ZERO, node: None, message };
            (vec![violation], Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pangea_core::metadata::records::KvResult;

    fn operation(op: KvOp, completion: Completion) -> Operation {
        Operation { client: 1, sequence: 1, op, read_index: false, invoked_at: Instant::from_nanos(1), completion }
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

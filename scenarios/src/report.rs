//! What a scenario run takes and what it returns.

use pangea_core::Instant;
use pangea_sim::{Choices, Coverage, Fault, FaultPlan, Recorded, SimStats, TraceHash, TraceRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The program a report's commands (replay, shrink, trace) run: a binary whose `main` calls
/// [`crate::cli::main`] with a registry holding the scenario, built and run from a checkout with
/// `cargo run`.
///
/// Pangea's own scenarios name [`ReplayProgram::PANGEA_SIM`]; a crate with scenarios of its own
/// names its package and binary (see [`crate::Scenario::program`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplayProgram {
    /// The package that holds the binary (`cargo run -p PACKAGE`).
    pub package: &'static str,
    /// The binary (`cargo run --bin BIN`).
    pub bin: &'static str,
    /// The package's feature that makes planted bugs available, added to the command of a run that
    /// planted one (`None`: the package has no such feature).
    pub planted_feature: Option<&'static str>,
}

impl ReplayProgram {
    /// `pangea-sim`, of the `pangea-scenarios` package, with its `planted-bugs` feature.
    pub const PANGEA_SIM: ReplayProgram =
        ReplayProgram { package: "pangea-scenarios", bin: "pangea-sim", planted_feature: Some("planted-bugs") };

    /// `cargo run -q --release -p PACKAGE[ --features FEATURE] --bin BIN --`: the start of a
    /// command line that runs the program, with the planted-bugs feature when `planted` is true.
    #[must_use]
    pub fn command_prefix(self, planted: bool) -> String {
        let features = match self.planted_feature {
            Some(feature) if planted => format!(" --features {feature}"),
            _ => String::new(),
        };
        format!("cargo run -q --release -p {}{features} --bin {} --", self.package, self.bin)
    }
}

impl Default for ReplayProgram {
    fn default() -> Self {
        ReplayProgram::PANGEA_SIM
    }
}

/// How to run one seed of a scenario.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The seed.
    pub seed: u64,
    /// Number of nodes, if not the scenario's default.
    pub nodes: Option<u32>,
    /// A fault plan to use instead of the one the seed draws.
    pub plan: Option<FaultPlan>,
    /// Where the pinned plan came from (a file name), for the replay command.
    pub plan_source: Option<String>,
    /// Keep the trace's records in the report.
    pub keep_trace: bool,
    /// A planted bug to switch on (builds with the `planted-bugs` feature only).
    pub planted: Option<String>,
    /// Keep only these kinds of fault in the plan the seed draws (see [`crate::FaultFilter`]). Applied
    /// by [`crate::run_guarded`] (and so by sweeps, replays and [`crate::check()`]), not by
    /// [`crate::Scenario::run`] itself; ignored when `plan` pins a plan.
    pub faults: Option<crate::FaultFilter>,
    /// Number of clients, if not the scenario's default (only for scenarios whose
    /// [`crate::Scenario::workload_knobs`] names clients).
    pub clients: Option<u32>,
    /// Number of client operations, if not the scenario's default (only for scenarios whose
    /// [`crate::Scenario::workload_knobs`] names operations).
    pub operations: Option<u64>,
    /// The replay file this run comes from, for the replay command.
    pub replay_file: Option<String>,
    /// Only these clients (by index, from 0) issue operations; the others stay idle. The
    /// shrinker's evidence-guided step sets it to the clients a violation's evidence cites.
    /// Honoured by the kit's model clients and the log scenarios' workload.
    pub only_clients: Option<Vec<u32>>,
    /// Tapes that replace the named random streams' generators (see [`pangea_sim::rng`]): what a
    /// shrunk run replays. Honoured by scenarios built on the kit.
    pub choices: Option<Choices>,
    /// Record every stream's draws in [`RunReport::choices`] (for the shrinker). Honoured by
    /// scenarios built on the kit.
    pub record_choices: bool,
}

impl RunOptions {
    /// Options for `seed` with every default.
    #[must_use]
    pub fn seed(seed: u64) -> RunOptions {
        RunOptions { seed, ..RunOptions::default() }
    }
}

/// Which kind of failure, and the process exit code that says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A safety property was violated (wrong answer, lost write, wrong judgement).
    Correctness,
    /// The system did not make progress within the bound after the faults healed.
    Liveness,
    /// Node code panicked or the run blew its event budget.
    Crash,
}

impl FailureKind {
    /// The exit code `pangea-sim` uses for this kind: 1 correctness, 3 liveness, 4 crash (2 is a
    /// usage error, 5 a replay that diverged).
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            FailureKind::Correctness => 1,
            FailureKind::Liveness => 3,
            FailureKind::Crash => 4,
        }
    }

    /// A lower-case name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Correctness => "correctness",
            FailureKind::Liveness => "liveness",
            FailureKind::Crash => "crash",
        }
    }
}

/// What a violation involves, as data: the clients, keys and nodes its evidence names and the
/// operations it cites. The shrinker keeps what it names and drops the rest; the HTML trace draws
/// the cited operations on a timeline per key. Empty when a checker names nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Involved {
    /// Clients whose operations the evidence cites, in order.
    pub clients: Vec<u64>,
    /// Keys the evidence is about, as they print.
    pub keys: Vec<String>,
    /// Nodes the evidence names, in order.
    pub nodes: Vec<u32>,
    /// The operations the evidence cites, by invocation time.
    pub operations: Vec<CitedOperation>,
}

/// An operation a violation's evidence cites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CitedOperation {
    /// Its place in the run's history (the `#N` the message prints).
    pub index: usize,
    /// The client that issued it.
    pub client: u64,
    /// The key it is on, as it prints (empty for a system without keys).
    pub key: String,
    /// What it asked for and what it got, as the message prints it.
    pub what: String,
    /// When it was invoked.
    pub invoked_at: Instant,
    /// When it completed, if it did.
    pub completed_at: Option<Instant>,
    /// True for the operation where the history first went wrong.
    pub culprit: bool,
}

impl Involved {
    /// The clients and keys of `operations`, with the operations themselves.
    #[must_use]
    pub fn of_operations(operations: Vec<CitedOperation>) -> Involved {
        let mut clients: Vec<u64> = operations.iter().map(|operation| operation.client).collect();
        clients.sort_unstable();
        clients.dedup();
        let mut keys: Vec<String> = operations.iter().map(|operation| operation.key.clone()).collect();
        keys.sort();
        keys.dedup();
        keys.retain(|key| !key.is_empty());
        Involved { clients, keys, nodes: Vec::new(), operations }
    }
}

/// One thing a checker saw go wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The checker that saw it.
    pub checker: &'static str,
    /// What kind of failure it is.
    pub kind: FailureKind,
    /// Virtual time when it was seen.
    pub at: Instant,
    /// The node it was seen on, if one.
    pub node: Option<u32>,
    /// What was wrong, for a person.
    pub message: String,
    /// What it involves, as data.
    pub involved: Involved,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] at {}", self.checker, self.at)?;
        if let Some(node) = self.node {
            write!(f, " on n{node}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Pass or fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every checker was satisfied.
    Pass,
    /// At least one violation; the first decides the kind.
    Fail {
        /// The kind of the first violation.
        kind: FailureKind,
        /// Everything the checkers saw, in time order (capped).
        violations: Vec<Violation>,
    },
}

impl Outcome {
    /// Builds an outcome from violations.
    #[must_use]
    pub fn from_violations(mut violations: Vec<Violation>) -> Outcome {
        violations.sort_by_key(|violation| violation.at);
        match violations.first() {
            None => Outcome::Pass,
            Some(first) => Outcome::Fail { kind: first.kind, violations },
        }
    }

    /// True on pass.
    #[must_use]
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass)
    }

    /// The failure kind, if failed.
    #[must_use]
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            Outcome::Pass => None,
            Outcome::Fail { kind, .. } => Some(*kind),
        }
    }
}

/// Everything about one run. `RunReport::default()` is an empty passing report, so that scenarios
/// can fill what they know and leave the rest (`..RunReport::default()`).
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Nodes simulated.
    pub nodes: u32,
    /// Non-default nodes option, for the replay command.
    pub nodes_option: Option<u32>,
    /// The planted bug, if any.
    pub planted: Option<String>,
    /// The file a pinned plan came from, if any.
    pub plan_source: Option<String>,
    /// Pass or fail.
    pub outcome: Outcome,
    /// The run's fingerprint (`None` if node code panicked before the run finished).
    pub trace_hash: Option<TraceHash>,
    /// Trace records, if asked for.
    pub trace: Option<Vec<TraceRecord>>,
    /// Trace records produced.
    pub trace_len: u64,
    /// The fault plan that was in force.
    pub plan: FaultPlan,
    /// Counters.
    pub stats: SimStats,
    /// What the run covered.
    pub coverage: Coverage,
    /// Virtual time when the run ended.
    pub ended_at: Instant,
    /// Scenario-specific facts for a person (e.g. how soon the cluster converged).
    pub notes: Vec<String>,
    /// The `--faults` filter the plan was drawn with, as written (filled in by [`crate::run_guarded`]).
    pub faults: Option<String>,
    /// Non-default clients option, for the replay command (filled in by [`crate::run_guarded`]).
    pub clients: Option<u32>,
    /// Non-default operations option, for the replay command (filled in by [`crate::run_guarded`]).
    pub operations: Option<u64>,
    /// The replay file the run came from, if any (filled in by [`crate::run_guarded`]).
    pub replay_file: Option<String>,
    /// Scenario-specific quantities that a sweep sums over its runs (e.g. `health`'s false deaths
    /// and node-hours, whose ratio is its accuracy).
    pub tallies: BTreeMap<&'static str, f64>,
    /// The clients that alone issued operations ([`RunOptions::only_clients`]; filled in by
    /// [`crate::run_guarded`]), for its replay file.
    pub only_clients: Option<Vec<u32>>,
    /// The tapes the run replayed in place of random streams ([`RunOptions::choices`]), for its
    /// replay file.
    pub choices: Option<Choices>,
    /// Every random stream's draws and the spans marked on them, if
    /// [`RunOptions::record_choices`] asked for them.
    pub recorded_choices: Option<Recorded>,
    /// The program the replay, shrink and trace commands run (the scenario's
    /// [`crate::Scenario::program`], filled in by [`crate::run_guarded`]; `pangea-sim` by default).
    pub program: ReplayProgram,
}

impl Default for RunReport {
    fn default() -> Self {
        RunReport {
            scenario: String::new(),
            seed: 0,
            nodes: 0,
            nodes_option: None,
            planted: None,
            plan_source: None,
            outcome: Outcome::Pass,
            trace_hash: None,
            trace: None,
            trace_len: 0,
            plan: FaultPlan::none(0),
            stats: SimStats::default(),
            coverage: Coverage::default(),
            ended_at: Instant::ZERO,
            notes: Vec::new(),
            faults: None,
            clients: None,
            operations: None,
            replay_file: None,
            tallies: BTreeMap::new(),
            only_clients: None,
            choices: None,
            recorded_choices: None,
            program: ReplayProgram::PANGEA_SIM,
        }
    }
}

impl RunReport {
    /// The report of a run that ended on `sim`: its fingerprint, trace (if kept), counters and
    /// coverage, with what the checkers found.
    #[must_use]
    pub fn from_sim<N: pangea_core::Node>(
        scenario: &str,
        options: &RunOptions,
        plan: FaultPlan,
        sim: &pangea_sim::Sim<N>,
        mut violations: Vec<Violation>,
        notes: Vec<String>,
    ) -> RunReport {
        // What the kernel itself saw: messages over their budget, invariants a node reported broken.
        for seen in sim.violations() {
            let checker = match seen.kind {
                pangea_sim::SimViolationKind::MessageOverBudget { .. }
                | pangea_sim::SimViolationKind::Unencodable { .. } => "message-budget",
                pangea_sim::SimViolationKind::Invariant { .. } => "invariant",
            };
            violations.push(Violation {
                involved: crate::report::Involved::default(),
                checker,
                kind: FailureKind::Correctness,
                at: seen.at,
                node: Some(seen.node),
                message: format!("n{} {}", seen.node, seen.kind),
            });
        }
        RunReport {
            scenario: scenario.to_owned(),
            seed: options.seed,
            nodes: sim.nodes(),
            nodes_option: options.nodes,
            planted: options.planted.clone(),
            plan_source: options.plan_source.clone(),
            outcome: Outcome::from_violations(violations),
            trace_hash: Some(sim.trace_hash()),
            trace: sim.trace().records().map(<[_]>::to_vec),
            trace_len: sim.trace().len(),
            plan,
            stats: sim.stats(),
            coverage: sim.coverage().clone(),
            ended_at: sim.now(),
            notes,
            ..RunReport::default()
        }
    }

    /// The first violation, if the run failed.
    #[must_use]
    pub fn first_violation(&self) -> Option<&Violation> {
        match &self.outcome {
            Outcome::Pass => None,
            Outcome::Fail { violations, .. } => violations.first(),
        }
    }

    /// `cargo run ... --bin BIN --` for the run's [`RunReport::program`], with the features this run
    /// needs.
    #[must_use]
    pub fn command_prefix(&self) -> String {
        self.program.command_prefix(self.planted.is_some())
    }

    /// The options after `SCENARIO --seed N` that select this run (nodes, planted bug, plan file,
    /// fault filter, workload knobs).
    #[must_use]
    pub fn run_arguments(&self) -> String {
        let mut arguments = format!("{} --seed {}", self.scenario, self.seed);
        if let Some(nodes) = self.nodes_option {
            arguments.push_str(&format!(" --nodes {nodes}"));
        }
        if let Some(bug) = &self.planted {
            arguments.push_str(&format!(" --plant {bug}"));
        }
        if let Some(file) = &self.plan_source {
            arguments.push_str(&format!(" --plan {file}"));
        } else if let Some(faults) = &self.faults {
            arguments.push_str(&format!(" --faults {faults}"));
        }
        if let Some(clients) = self.clients {
            arguments.push_str(&format!(" --clients {clients}"));
        }
        if let Some(operations) = self.operations {
            arguments.push_str(&format!(" --operations {operations}"));
        }
        arguments
    }

    /// The command that replays this run exactly, from a checkout of the workspace, and checks that
    /// it leaves the same trace hash.
    #[must_use]
    pub fn replay_command(&self) -> String {
        if let Some(file) = &self.replay_file {
            return format!("{} replay {file}", self.command_prefix());
        }
        let mut command = format!("{} replay {}", self.command_prefix(), self.run_arguments());
        if let Some(hash) = self.trace_hash {
            command.push_str(&format!(" --expect-hash {hash}"));
        }
        command
    }

    /// The command that minimises this failing run.
    #[must_use]
    pub fn shrink_command(&self) -> String {
        match &self.replay_file {
            Some(file) => format!("{} shrink {file}", self.command_prefix()),
            None => format!("{} shrink {}", self.command_prefix(), self.run_arguments()),
        }
    }

    /// The command that draws this run as a page to open in a browser (written to
    /// `pangea-sim-out/SCENARIO-seed-N.html`).
    #[must_use]
    pub fn trace_command(&self) -> String {
        match &self.replay_file {
            Some(file) => format!("{} trace {file} --format html", self.command_prefix()),
            None => format!("{} trace {} --format html", self.command_prefix(), self.run_arguments()),
        }
    }

    /// A multi-line account for a person: outcome, violations, plan, fingerprint, replay line.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let hash = self.trace_hash.map_or_else(|| "none (run crashed)".to_owned(), |hash| hash.to_string());
        match &self.outcome {
            Outcome::Pass => out.push_str(&format!("PASS  {} seed {}  trace {}\n", self.scenario, self.seed, hash)),
            Outcome::Fail { kind, violations } => {
                out.push_str(&format!(
                    "FAIL ({})  {} seed {}  trace {}\n",
                    kind.name(),
                    self.scenario,
                    self.seed,
                    hash
                ));
                for (index, violation) in violations.iter().take(10).enumerate() {
                    out.push_str(&format!("  {violation}\n"));
                    if index == 0 {
                        let active = active_faults(&self.plan, violation.at);
                        let active = if active.is_empty() { "none".to_owned() } else { active.join("; ") };
                        out.push_str(&format!("      faults active at {}: {active}\n", violation.at));
                    }
                }
                if violations.len() > 10 {
                    out.push_str(&format!("  ... and {} more\n", violations.len() - 10));
                }
            }
        }
        for note in &self.notes {
            out.push_str(&format!("  {note}\n"));
        }
        out.push_str(&format!(
            "  {} nodes, {} virtual, {} events, {} messages delivered, {} trace records\n",
            self.nodes, self.ended_at, self.stats.events, self.stats.delivered, self.trace_len
        ));
        for line in self.plan.to_string().lines() {
            out.push_str(&format!("  {line}\n"));
        }
        if !self.outcome.passed() {
            out.push_str(&format!("  replay: {}\n", self.replay_command()));
            out.push_str(&format!("  shrink: {}\n", self.shrink_command()));
            out.push_str(&format!("  trace:  {}\n", self.trace_command()));
        }
        out
    }
}

/// What the plan had in force at `at`, for a person: the partition, each node's crash, pause, slow
/// handler, full disk or jumped clock with the time it began, and the standing faults. Empty when
/// nothing was in force (or `at` is after the heal).
#[must_use]
pub fn active_faults(plan: &FaultPlan, at: Instant) -> Vec<String> {
    let heal_at = Instant::from_nanos(plan.heal_at_ms.saturating_mul(1_000_000));
    if at >= heal_at {
        return Vec::new();
    }
    let since = |at_ms: u64| format!("since {}", Instant::from_nanos(at_ms.saturating_mul(1_000_000)));
    // In node order: (what, since when).
    let mut partition: Option<(String, u64)> = None;
    let mut per_node: std::collections::BTreeMap<(u32, &'static str), (String, u64)> = Default::default();
    let mut clock: std::collections::BTreeMap<u32, (i64, u64)> = Default::default();
    for event in plan.events.iter().take_while(|event| Instant::from_nanos(event.at_ms.saturating_mul(1_000_000)) <= at)
    {
        let at_ms = event.at_ms;
        match &event.fault {
            Fault::Partition { .. } => partition = Some((event.fault.to_string(), at_ms)),
            Fault::Heal => partition = None,
            Fault::Crash { node } => {
                per_node.remove(&(*node, "paused"));
                per_node.insert((*node, "down"), (format!("n{node} crashed"), at_ms));
            }
            Fault::Restart { node } => {
                per_node.remove(&(*node, "down"));
            }
            Fault::Pause { node } => {
                per_node.entry((*node, "paused")).or_insert((format!("n{node} paused"), at_ms));
            }
            Fault::Resume { node } => {
                per_node.remove(&(*node, "paused"));
            }
            Fault::Slow { node, handler_extra_us } => {
                if *handler_extra_us == 0 {
                    per_node.remove(&(*node, "slow"));
                } else {
                    per_node.insert((*node, "slow"), (format!("n{node} slow +{handler_extra_us}us per input"), at_ms));
                }
            }
            Fault::ClockJump { node, by_ms } => {
                let entry = clock.entry(*node).or_insert((0, at_ms));
                if entry.0 == 0 {
                    entry.1 = at_ms;
                }
                entry.0 += by_ms;
            }
            Fault::DiskFull { node } => {
                per_node.insert((*node, "disk"), (format!("n{node} disk full"), at_ms));
            }
            Fault::DiskFreed { node } => {
                per_node.remove(&(*node, "disk"));
            }
            Fault::HealAll => {}
        }
    }
    let mut active = Vec::new();
    if let Some((what, at_ms)) = partition {
        active.push(format!("{what} ({})", since(at_ms)));
    }
    for (what, at_ms) in per_node.values() {
        active.push(format!("{what} ({})", since(*at_ms)));
    }
    for (node, (offset, at_ms)) in clock {
        if offset != 0 {
            active.push(format!("n{node} clock jumped {offset:+}ms ({})", since(at_ms)));
        }
    }
    let standing = plan.enabled_kinds();
    let standing: Vec<String> =
        standing.into_iter().filter(|kind| !plan.events.iter().any(|event| event.fault.kind_name() == kind)).collect();
    if !standing.is_empty() {
        active.push(format!("standing: {}", standing.join(", ")));
    }
    active
}

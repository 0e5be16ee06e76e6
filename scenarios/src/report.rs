//! What a scenario run takes and what it returns.

use pangea_core::Instant;
use pangea_sim::{Coverage, FaultPlan, SimStats, TraceHash, TraceRecord};
use std::fmt;

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
}

impl RunOptions {
    /// Options for `seed` with every default.
    #[must_use]
    pub fn seed(seed: u64) -> RunOptions {
        RunOptions { seed, ..RunOptions::default() }
    }
}

/// Which kind of failure, and the process exit code that says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// usage error).
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

/// Everything about one run.
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
}

impl RunReport {
    /// The command that replays this run exactly, from a checkout of the workspace.
    #[must_use]
    pub fn replay_command(&self) -> String {
        let features = if self.planted.is_some() { " --features planted-bugs" } else { "" };
        let mut command = format!(
            "cargo run -q -p pangea-scenarios{features} --bin pangea-sim -- run {} --seed {}",
            self.scenario, self.seed
        );
        if let Some(nodes) = self.nodes_option {
            command.push_str(&format!(" --nodes {nodes}"));
        }
        if let Some(bug) = &self.planted {
            command.push_str(&format!(" --plant {bug}"));
        }
        if let Some(file) = &self.plan_source {
            command.push_str(&format!(" --plan {file}"));
        }
        command
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
                for violation in violations.iter().take(10) {
                    out.push_str(&format!("  {violation}\n"));
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
        }
        out
    }
}

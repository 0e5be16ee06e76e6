//! The scenario kit: what a scenario is made of, for Pangea's own scenarios and for a user's.
//!
//! A [`Kit`] names a scenario and holds its parts as plain values, so that it can be a `static`:
//!
//! - how many nodes it runs (a default and a range every sweep may ask for);
//! - its faults ([`FaultSource`]: a swarm profile, or a function of the seed);
//! - its [`Phases`]: a safety phase under the faults, then after the heal a liveness phase in which
//!   the progress owed must be made, then optionally a settling phase (clients finish) and a
//!   convergence phase (the nodes agree);
//! - its `setup`, called once per run, which builds the run's [`Parts`]: the node factory and a
//!   [`Harness`] — the clients and checkers of the run.
//!
//! [`drive`] runs those phases the same way for every scenario; [`Kit`] implements
//! [`Scenario`], so a kit joins a [`crate::Registry`] and gets sweeps, replay, shrinking, traces
//! and `cargo test` like any scenario.
//!
//! Ready-made parts for a system checked against a sequential model: [`ModelClients`], a client
//! workload that records a history, and [`ModelHarness`], which checks it for linearizability,
//! the progress owed after the heal and the nodes' convergence, plus the user's own checks.

mod drive;
mod harness;
pub mod model_clients;
pub mod model_harness;

pub use drive::{DriveEnd, drive};
pub use harness::{Findings, Harness, Progress};
pub use model_clients::{Answer, ClientSpec, ModelClients};
pub use model_harness::{ModelChecks, ModelHarness, UserCheck};

use crate::error::ScenarioError;
use crate::registry::{Scenario, WorkloadKnobs, checked_nodes, plan_of};
use crate::report::{ReplayProgram, RunOptions, RunReport};
use pangea_core::{Duration, Node};
use pangea_sim::{Choices, FaultPlan, SeedStreams, Sim, SimConfig, SwarmProfile};

/// Where a kit's fault plans come from.
#[derive(Clone, Debug)]
pub enum FaultSource {
    /// The swarm: each seed draws a mix of the faults the profile allows, within the safety phase.
    Swarm(SwarmProfile),
    /// A function of the seed, the node count and the safety phase's length.
    Custom(fn(seed: u64, nodes: u32, safety: Duration) -> FaultPlan),
}

impl FaultSource {
    /// The plan seed `seed` draws for `nodes` nodes and a safety phase of `safety`.
    #[must_use]
    pub fn plan(&self, seed: u64, nodes: u32, safety: Duration) -> FaultPlan {
        match self {
            FaultSource::Swarm(profile) => FaultPlan::swarm_with(seed, nodes, safety, profile),
            FaultSource::Custom(draw) => draw(seed, nodes, safety),
        }
    }
}

/// How long each phase of a run lasts, and how finely it is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phases {
    /// The safety phase: faults are drawn within it, and heal at its end (the plan's heal).
    pub safety: Duration,
    /// After the heal, the progress owed ([`Harness::progress`]) must be made within this.
    pub liveness: Duration,
    /// After the progress, clients finish what they do ([`Harness::settle`]) within this; `None`:
    /// no settling phase.
    pub settle: Option<Duration>,
    /// Then the nodes must converge ([`Harness::converged`]) within this; `None`: not checked.
    pub convergence: Option<Duration>,
    /// The simulator runs this much virtual time between two calls of [`Harness::act`].
    pub tick: Duration,
    /// The checkers look ([`Harness::observe`]) this often.
    pub check_every: Duration,
}

impl Phases {
    /// A safety phase of `safety`, 10 s of liveness, no settling or convergence phase, ticks of
    /// 1 ms and checks every 50 ms.
    #[must_use]
    pub const fn new(safety: Duration) -> Phases {
        Phases {
            safety,
            liveness: Duration::from_secs(10),
            settle: None,
            convergence: None,
            tick: Duration::from_millis(1),
            check_every: Duration::from_millis(50),
        }
    }
}

/// What `setup` knows when it builds a run.
#[derive(Clone, Copy, Debug)]
pub struct RunSetup<'a> {
    /// The scenario's name (for errors about its options).
    pub name: &'static str,
    /// The run's options (seed, planted bug, workload knobs).
    pub options: &'a RunOptions,
    /// Nodes in the run, within the kit's range.
    pub nodes: u32,
    /// The fault plan in force.
    pub plan: &'a FaultPlan,
    /// The kit's phases.
    pub phases: Phases,
    /// The run's random streams: clients draw from them (never from streams of their own), so
    /// that their choices are taped and replayed with the nodes' and the network's.
    pub streams: &'a SeedStreams,
}

/// What one run is made of: built by a kit's `setup` for each run.
pub struct Parts<N: Node, H> {
    /// Builds node `index` (at boot; a restarted node is rebuilt from its storage by `on_start`).
    pub node: Box<dyn FnMut(u32) -> N>,
    /// The run's clients and checkers.
    pub harness: H,
    /// The run's phases (the kit's, or adjusted to the node count or the plan).
    pub phases: Phases,
    /// The byte budget of a peer message: a node that sends a larger one fails the run.
    pub message_bytes_max: Option<usize>,
    /// Put clients on the simulated network, behind links like the nodes' own (so that a request
    /// or its answer can be lost, and a client can time out on a request that took effect).
    pub clients_on_network: bool,
    /// The tables bit rot may reach (`None`: every table); see `SimConfig::rot_tables`.
    pub rot_tables: Option<&'static [&'static str]>,
    /// The run's event budget (`None`: the kernel's default, `EVENTS_MAX_DEFAULT`), for a
    /// scenario whose events grow with its node count.
    pub events_max: Option<u64>,
}

impl<N: Node, H> Parts<N, H> {
    /// Nodes from `node`, checked by `harness`, with `phases`; no message budget, clients beside
    /// the network.
    pub fn new(node: impl FnMut(u32) -> N + 'static, harness: H, phases: Phases) -> Parts<N, H> {
        Parts {
            node: Box::new(node),
            harness,
            phases,
            message_bytes_max: None,
            clients_on_network: false,
            rot_tables: None,
            events_max: None,
        }
    }
}

/// A scenario built from parts: see the module's documentation. Every field is a plain value, so
/// that a kit can be a `static` and join a [`crate::Registry`].
pub struct Kit<N: Node, H: Harness<N>> {
    /// The name used on the command line: lowercase letters, digits and dashes.
    pub name: &'static str,
    /// One line: what it exercises and what it checks.
    pub description: &'static str,
    /// One line on the faults it injects.
    pub faults_text: &'static str,
    /// Nodes unless `--nodes` says otherwise.
    pub default_nodes: u32,
    /// The smallest and largest node counts it supports (a sweep may ask for any of them).
    pub nodes_range: (u32, u32),
    /// Where its fault plans come from.
    pub faults: FaultSource,
    /// Its phases.
    pub phases: Phases,
    /// The workload knobs it honours, with their defaults.
    pub knobs: WorkloadKnobs,
    /// The bugs that can be planted in it.
    pub planted_bugs: fn() -> Vec<&'static str>,
    /// The coverage probes its nodes can reach.
    pub probes: fn() -> Vec<&'static str>,
    /// The buggify sites its nodes can reach.
    pub buggify_sites: fn() -> Vec<&'static str>,
    /// The program that replays its runs (printed in failure reports): `pangea-sim` unless said.
    pub program: ReplayProgram,
    /// Builds one run's parts.
    pub setup: fn(&RunSetup<'_>) -> Result<Parts<N, H>, ScenarioError>,
}

fn nothing() -> Vec<&'static str> {
    Vec::new()
}

impl<N: Node + 'static, H: Harness<N>> Kit<N, H> {
    /// A kit called `name` whose runs `setup` builds: 3 nodes (3 to 7), every fault of the swarm
    /// within a safety phase of 30 s, then [`Phases::new`]'s defaults; no workload knobs, planted
    /// bugs, probes or buggify sites. The other `const` methods change one part each.
    #[must_use]
    pub const fn new(name: &'static str, setup: fn(&RunSetup<'_>) -> Result<Parts<N, H>, ScenarioError>) -> Self {
        Kit {
            name,
            description: "",
            faults_text: "swarm of every fault",
            default_nodes: 3,
            nodes_range: (3, 7),
            faults: FaultSource::Swarm(SwarmProfile::ALL),
            phases: Phases::new(Duration::from_secs(30)),
            knobs: WorkloadKnobs { clients: None, operations: None },
            planted_bugs: nothing,
            probes: nothing,
            buggify_sites: nothing,
            program: ReplayProgram::PANGEA_SIM,
            setup,
        }
    }

    /// With this description.
    #[must_use]
    pub const fn description(self, description: &'static str) -> Self {
        Kit { description, ..self }
    }

    /// With `default` nodes by default and any count from `least` to `most`.
    #[must_use]
    pub const fn nodes(self, default: u32, least: u32, most: u32) -> Self {
        Kit { default_nodes: default, nodes_range: (least, most), ..self }
    }

    /// With these faults, described by `text` in `list`.
    #[must_use]
    pub const fn faults(self, faults: FaultSource, text: &'static str) -> Self {
        Kit { faults, faults_text: text, ..self }
    }

    /// With these phases.
    #[must_use]
    pub const fn phases(self, phases: Phases) -> Self {
        Kit { phases, ..self }
    }

    /// Honouring these workload knobs.
    #[must_use]
    pub const fn knobs(self, knobs: WorkloadKnobs) -> Self {
        Kit { knobs, ..self }
    }

    /// With these plantable bugs.
    #[must_use]
    pub const fn planted_bugs(self, planted_bugs: fn() -> Vec<&'static str>) -> Self {
        Kit { planted_bugs, ..self }
    }

    /// With these coverage probes and buggify sites.
    #[must_use]
    pub const fn coverage(self, probes: fn() -> Vec<&'static str>, buggify_sites: fn() -> Vec<&'static str>) -> Self {
        Kit { probes, buggify_sites, ..self }
    }

    /// Replayed by `program` (a user's crate names its own package and simulation binary).
    #[must_use]
    pub const fn program(self, program: ReplayProgram) -> Self {
        Kit { program, ..self }
    }

    /// Runs one seed with `nodes` nodes (not checked against the kit's range: the caller checked
    /// it) and the parts `setup` builds, returning the report and the harness as the run left it
    /// (for figures beyond pass or fail).
    ///
    /// # Errors
    /// A pinned plan that cannot run with `nodes` nodes, or what `setup` refuses.
    pub fn run_with(
        &self,
        options: &RunOptions,
        nodes: u32,
        setup: impl FnOnce(&RunSetup<'_>) -> Result<Parts<N, H>, ScenarioError>,
    ) -> Result<(RunReport, H), ScenarioError> {
        let plan = plan_of(self, options, nodes)?;
        let empty = Choices::default();
        let streams =
            SeedStreams::taped(options.seed, options.choices.as_ref().unwrap_or(&empty), options.record_choices);
        let Parts { node, mut harness, phases, message_bytes_max, clients_on_network, rot_tables, events_max } =
            setup(&RunSetup { name: self.name, options, nodes, plan: &plan, phases: self.phases, streams: &streams })?;
        let mut config = SimConfig::new(options.seed, nodes, plan.clone());
        config.keep_trace = options.keep_trace;
        config.message_bytes_max = message_bytes_max;
        config.client_link = clients_on_network.then_some(plan.network.latency);
        config.rot_tables = rot_tables;
        if let Some(events_max) = events_max {
            config.events_max = events_max;
        }
        let mut sim = Sim::with_streams(config, streams.clone(), node);
        let end = drive(&mut sim, &mut harness, &phases);
        let mut findings = harness.finish(&sim, &end);
        let mut violations = end.violations;
        violations.append(&mut findings.violations);
        let mut notes = end.notes;
        notes.append(&mut findings.notes);
        let mut report = RunReport::from_sim(self.name, options, plan, &sim, violations, notes);
        report.tallies = findings.tallies;
        report.recorded_choices = options.record_choices.then(|| streams.recorded());
        Ok((report, harness))
    }
}

impl<N: Node + 'static, H: Harness<N>> Scenario for Kit<N, H> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn default_nodes(&self) -> u32 {
        self.default_nodes
    }

    fn nodes_range(&self) -> (u32, u32) {
        self.nodes_range
    }

    fn faults(&self) -> &'static str {
        self.faults_text
    }

    fn plan(&self, seed: u64, nodes: u32) -> FaultPlan {
        self.faults.plan(seed, nodes, self.phases.safety)
    }

    fn planted_bugs(&self) -> Vec<&'static str> {
        (self.planted_bugs)()
    }

    fn run(&self, options: &RunOptions) -> Result<RunReport, ScenarioError> {
        let nodes = checked_nodes(self, options)?;
        self.run_with(options, nodes, self.setup).map(|(report, _)| report)
    }

    fn workload_knobs(&self) -> WorkloadKnobs {
        self.knobs
    }

    fn probes(&self) -> Vec<&'static str> {
        (self.probes)()
    }

    fn buggify_sites(&self) -> Vec<&'static str> {
        (self.buggify_sites)()
    }

    fn program(&self) -> ReplayProgram {
        self.program
    }
}

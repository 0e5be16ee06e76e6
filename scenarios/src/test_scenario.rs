//! A scenario for the crate's own tests: a name, one node, no faults, and the run it is given.

use crate::error::ScenarioError;
use crate::registry::Scenario;
use crate::report::{ReplayProgram, RunOptions, RunReport};
use pangea_sim::FaultPlan;

/// A test scenario whose run is a plain function (so that it can be a `static`).
pub(crate) type RunFn = fn(&RunOptions) -> Result<RunReport, ScenarioError>;

/// A one-node, fault-free scenario called `name` whose runs are what `run` returns, replayed by
/// `program`.
pub(crate) struct TestScenario<F> {
    pub name: &'static str,
    pub run: F,
    pub program: ReplayProgram,
}

impl<F> TestScenario<F> {
    /// `name`, running `run`, replayed by `pangea-sim`.
    pub(crate) const fn new(name: &'static str, run: F) -> TestScenario<F> {
        TestScenario { name, run, program: ReplayProgram::PANGEA_SIM }
    }
}

impl<F: Fn(&RunOptions) -> Result<RunReport, ScenarioError> + Sync> Scenario for TestScenario<F> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn description(&self) -> &'static str {
        "a test's own scenario"
    }
    fn default_nodes(&self) -> u32 {
        1
    }
    fn nodes_range(&self) -> (u32, u32) {
        (1, 1)
    }
    fn faults(&self) -> &'static str {
        "none"
    }
    fn plan(&self, _seed: u64, _nodes: u32) -> FaultPlan {
        FaultPlan::none(0)
    }
    fn planted_bugs(&self) -> Vec<&'static str> {
        Vec::new()
    }
    fn run(&self, options: &RunOptions) -> Result<RunReport, ScenarioError> {
        (self.run)(options)
    }
    fn program(&self) -> ReplayProgram {
        self.program
    }
}

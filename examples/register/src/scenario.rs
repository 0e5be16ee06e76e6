//! The register's scenario: clients write values of every size up to the limit and read them back
//! while the swarm injects faults; the history must be linearizable against a register model, an
//! operation issued after the heal must complete, a final read must complete, and no node may hold
//! a value no client wrote.

use crate::node::{BUGS, RegisterNode, RegisterRequest, RegisterResponse, VALUE_BYTES_MAX};
use pangea_core::{Duration, NodeId, Rng};
use pangea_scenarios::kit::{
    Answer, ClientSpec, FaultSource, Kit, ModelChecks, ModelHarness, Parts, Phases, RunSetup, UserCheck,
};
use pangea_scenarios::model::History;
use pangea_scenarios::registry::{bug_names, planted_bug};
use pangea_scenarios::{FailureKind, Registry, RegistryError, ReplayProgram, ScenarioError, SequentialModel};
use pangea_sim::{Sim, SwarmProfile};

/// A value as the model sees it: a unique id (the value's first 8 bytes) and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValueId {
    /// Drawn at random: unique within a run.
    pub id: u64,
    /// Bytes on the wire.
    pub len: u32,
}

impl ValueId {
    /// The value's bytes: its id, then a fill byte that depends on the id.
    #[must_use]
    pub fn bytes(self) -> Vec<u8> {
        let mut bytes = self.id.to_le_bytes().to_vec();
        bytes.resize(self.len as usize, (self.id % 251) as u8);
        bytes
    }

    /// The value `bytes` hold, if they are well formed.
    #[must_use]
    pub fn parse(bytes: &[u8]) -> Option<ValueId> {
        let id = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let value = ValueId { id, len: u32::try_from(bytes.len()).ok()? };
        (value.bytes() == bytes).then_some(value)
    }
}

/// An operation on the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// Read the value.
    Read,
    /// Write this value.
    Write(ValueId),
}

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// A read's value (none before the first write).
    Read(Option<ValueId>),
    /// A write's acknowledgement.
    Written,
    /// Bytes that are no value any client wrote: the model never returns this.
    Garbled,
}

/// The register as one copy would behave: the sequential specification.
#[derive(Clone, Copy, Debug)]
pub struct RegisterModel;

impl SequentialModel for RegisterModel {
    type State = Option<ValueId>;
    type Op = RegisterOp;
    type Output = RegisterOutput;

    fn initial(&self) -> Option<ValueId> {
        None
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        *op == RegisterOp::Read
    }

    fn apply(&self, state: &Option<ValueId>, op: &RegisterOp) -> (Option<ValueId>, RegisterOutput) {
        match op {
            RegisterOp::Read => (*state, RegisterOutput::Read(*state)),
            RegisterOp::Write(value) => (Some(*value), RegisterOutput::Written),
        }
    }
}

/// A client's next operation: a write half the time, of a size spread evenly over the powers of two
/// up to [`VALUE_BYTES_MAX`].
fn next_op(rng: &mut dyn Rng, _client: u32) -> RegisterOp {
    if rng.next_u32().is_multiple_of(2) {
        return RegisterOp::Read;
    }
    let largest = VALUE_BYTES_MAX.ilog2() + 1;
    let ceiling = 1_u64 << (8 + rng.next_u32() % (largest - 7));
    let len = (8 + rng.next_u64() % ceiling).min(VALUE_BYTES_MAX as u64) as u32;
    RegisterOp::Write(ValueId { id: rng.next_u64(), len })
}

fn request(op: &RegisterOp) -> RegisterRequest {
    match op {
        RegisterOp::Read => RegisterRequest::Read,
        RegisterOp::Write(value) => RegisterRequest::Write(value.bytes()),
    }
}

fn answer(_op: &RegisterOp, response: &RegisterResponse) -> Answer<RegisterOutput> {
    match response {
        RegisterResponse::Value(None) => Answer::Done(RegisterOutput::Read(None)),
        RegisterResponse::Value(Some(bytes)) => Answer::Done(
            ValueId::parse(bytes).map_or(RegisterOutput::Garbled, |value| RegisterOutput::Read(Some(value))),
        ),
        RegisterResponse::Written => Answer::Done(RegisterOutput::Written),
        RegisterResponse::Refused => Answer::Refused,
    }
}

/// A check of our own, on the nodes' final states: each holds nothing, or a value a client wrote.
fn holds_only_written_values(sim: &Sim<RegisterNode>, history: &History<RegisterModel>) -> Result<(), String> {
    for index in 0..sim.nodes() {
        let Some(value) = sim.node(index).and_then(RegisterNode::stored).and_then(|stored| stored.value.as_deref())
        else {
            continue;
        };
        let written =
            ValueId::parse(value).is_some_and(|value| history.iter().any(|op| op.op == RegisterOp::Write(value)));
        if !written {
            return Err(format!("n{index} holds {} bytes that no client wrote", value.len()));
        }
    }
    Ok(())
}

/// The clients and checks of the register scenario.
pub static CHECKS: ModelChecks<RegisterNode, RegisterModel> = ModelChecks {
    clients: ClientSpec {
        model: RegisterModel,
        clients: 8,
        operations: 2_000,
        attempt_timeout: Duration::from_millis(1500),
        think_max: Duration::from_millis(100),
        generate: next_op,
        request,
        answer,
        final_ops: || vec![RegisterOp::Read],
    },
    // ABD owes no convergence: a write that reached a majority may never reach the others.
    converged_state: None,
    checks: &[UserCheck { name: "written-values", kind: FailureKind::Correctness, check: holds_only_written_values }],
};

fn setup(run: &RunSetup<'_>) -> Result<Parts<RegisterNode, ModelHarness<RegisterNode, RegisterModel>>, ScenarioError> {
    let bug = run.options.planted.as_deref().map(|name| planted_bug(run.name, name, &BUGS)).transpose()?;
    let members: Vec<NodeId> = (0..run.nodes).map(NodeId::for_index).collect();
    let harness = ModelHarness::new(&CHECKS, run)?;
    let mut parts = Parts::new(move |_| RegisterNode::new(members.clone()).plant(bug), harness, run.phases);
    // Clients reach the nodes over lossy links, so a write can take effect and its answer be lost.
    parts.clients_on_network = true;
    parts.message_bytes_max = Some(VALUE_BYTES_MAX + 256);
    Ok(parts)
}

/// The register under every fault but bit rot (a rotten disk loses a node's one copy, which ABD
/// does not claim to survive beyond a minority).
pub static REGISTER: Kit<RegisterNode, ModelHarness<RegisterNode, RegisterModel>> = Kit::new("register", setup)
    .description("ABD register: linearizable reads and writes of values up to 16 KiB under every fault")
    .nodes(3, 1, 7)
    .faults(FaultSource::Swarm(SwarmProfile { disk_rot: false, ..SwarmProfile::ALL }), "every fault but bit rot")
    .phases(Phases { settle: Some(Duration::from_secs(10)), ..Phases::new(Duration::from_secs(20)) })
    .knobs(CHECKS.knobs())
    .planted_bugs(|| bug_names(&BUGS))
    .program(ReplayProgram {
        package: "pangea-example-register",
        bin: "register-sim",
        planted_feature: Some("planted-bugs"),
    });

/// Every scenario of this crate.
///
/// # Errors
/// Two scenarios with one name (a bug of this crate).
pub fn registry() -> Result<Registry, RegistryError> {
    Registry::new().with(&REGISTER)
}

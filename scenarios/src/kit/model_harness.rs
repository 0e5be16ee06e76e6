//! A ready-made [`Harness`] for a system a [`SequentialModel`] describes: [`ModelClients`] run
//! the workload; after the heal one more operation must complete (liveness); the final operations
//! must complete when the clients settle; the nodes must converge (if the spec says how to compare
//! them); and at the end the history must be linearizable against the model, and the user's own
//! checks must hold.

use super::model_clients::{CLIENTS_MAX, ClientSpec, ModelClients, OPERATIONS_MAX};
use super::{DriveEnd, Findings, Harness, Progress, RunSetup};
use crate::error::ScenarioError;
use crate::model::{CONFIGURATIONS_MAX, Ended, History, ModelOp, ModelVerdict, SequentialModel, check_model};
use crate::registry::WorkloadKnobs;
use crate::report::{CitedOperation, FailureKind, Involved, Violation};
use pangea_core::{Instant, Node};
use pangea_sim::Sim;

/// A check of a user's own: any function of the run (its nodes' final states, its trace) and of
/// the history.
pub struct UserCheck<N: Node + 'static, M: SequentialModel + 'static> {
    /// The checker's name in reports.
    pub name: &'static str,
    /// Whether a violation is a correctness or a liveness failure.
    pub kind: FailureKind,
    /// The check: `Err` says what is wrong, for a person.
    pub check: fn(sim: &Sim<N>, history: &History<M>) -> Result<(), String>,
}

/// What a [`ModelHarness`] checks beyond linearizability: the spec of its clients, how nodes are
/// compared for convergence, and the user's own checks.
pub struct ModelChecks<N: Node + 'static, M: SequentialModel + 'static> {
    /// The clients.
    pub clients: ClientSpec<N, M>,
    /// The state the nodes must agree on after the heal, rendered for a person (`None`: nodes are
    /// not compared). Only nodes that are up are compared.
    pub converged_state: Option<fn(&N) -> String>,
    /// The user's own checks, run at the end.
    pub checks: &'static [UserCheck<N, M>],
}

impl<N: Node + 'static, M: SequentialModel + 'static> ModelChecks<N, M> {
    /// The workload knobs the clients honour, with the spec's defaults (for [`super::Kit::knobs`]).
    #[must_use]
    pub const fn knobs(&self) -> WorkloadKnobs {
        WorkloadKnobs { clients: Some(self.clients.clients), operations: Some(self.clients.operations) }
    }
}

/// The clients and checkers of one run of a system checked against a model.
pub struct ModelHarness<N: Node + 'static, M: SequentialModel + 'static> {
    checks: &'static ModelChecks<N, M>,
    /// The clients, and the history they made.
    pub clients: ModelClients<N, M>,
    probe: Option<usize>,
}

impl<N: Node + 'static, M: SequentialModel + 'static> ModelHarness<N, M> {
    /// The harness of the run `setup` describes: the spec's clients, or as many as `--clients` and
    /// `--operations` ask.
    ///
    /// # Errors
    /// No client, or more than [`CLIENTS_MAX`] clients or [`OPERATIONS_MAX`] operations.
    pub fn new(checks: &'static ModelChecks<N, M>, setup: &RunSetup<'_>) -> Result<Self, ScenarioError> {
        let spec = &checks.clients;
        let clients = setup.options.clients.unwrap_or(spec.clients);
        let operations = setup.options.operations.unwrap_or(spec.operations).min(OPERATIONS_MAX);
        if clients == 0 || clients > CLIENTS_MAX {
            return Err(ScenarioError::ClientCount { scenario: setup.name.to_owned(), most: CLIENTS_MAX, clients });
        }
        let heal_at = Instant::from_nanos(setup.plan.heal_at_ms.saturating_mul(1_000_000));
        let clients = ModelClients::new(
            spec,
            setup.streams,
            setup.nodes,
            (clients, operations, setup.options.only_clients.clone()),
            heal_at,
        );
        Ok(ModelHarness { checks, clients, probe: None })
    }

    /// The linearizability checker's violation, or note, on the history.
    fn linearizability(&self, findings: &mut Findings) {
        let history = &self.clients.history;
        match check_model(&self.checks.clients.model, history, CONFIGURATIONS_MAX) {
            ModelVerdict::Linearizable { .. } => {}
            ModelVerdict::Unknown { bound } => findings.notes.push(format!("linearizability undecided within {bound}")),
            ModelVerdict::NotLinearizable { longest } => {
                let stuck = unexplained(history, &longest);
                let at = stuck.and_then(|index| match history[index].ended {
                    Ended::Completed { at, .. } => Some(Instant::from_nanos(at)),
                    Ended::Unknown | Ended::Failed => None,
                });
                let culprit = stuck.map_or_else(String::new, |index| {
                    let operation = &history[index];
                    let answered = match &operation.ended {
                        Ended::Completed { at, output } => format!("{output:?} at {}", Instant::from_nanos(*at)),
                        Ended::Unknown | Ended::Failed => "nothing".to_owned(),
                    };
                    format!(
                        "; the first answer no order explains: {:?} by client {}, invoked at {}, answered {answered}",
                        operation.op,
                        operation.client,
                        Instant::from_nanos(operation.invoked_at),
                    )
                });
                let involved = stuck.map_or_else(Involved::default, |index| {
                    let operation = &history[index];
                    let (what, completed_at) = match &operation.ended {
                        Ended::Completed { at, output } => {
                            (format!("{:?} -> {output:?}", operation.op), Some(Instant::from_nanos(*at)))
                        }
                        Ended::Unknown | Ended::Failed => (format!("{:?}", operation.op), None),
                    };
                    Involved::of_operations(vec![CitedOperation {
                        index,
                        client: operation.client,
                        key: String::new(),
                        what,
                        invoked_at: Instant::from_nanos(operation.invoked_at),
                        completed_at,
                        culprit: true,
                    }])
                });
                findings.violations.push(Violation {
                    involved,
                    checker: "linearizability",
                    kind: FailureKind::Correctness,
                    at: at.unwrap_or(Instant::ZERO),
                    node: None,
                    message: format!(
                        "no order of the {} operations agrees with the model: at most {} of them fit one{culprit}",
                        history.len(),
                        longest.len()
                    ),
                });
            }
        }
    }
}

/// The completed operation, among those not in `longest` (the longest order the search found),
/// that completed first: the answer the model could not explain.
fn unexplained<Op, Output>(history: &[ModelOp<Op, Output>], longest: &[usize]) -> Option<usize> {
    (0..history.len())
        .filter(|index| !longest.contains(index))
        .filter_map(|index| match history[index].ended {
            Ended::Completed { at, .. } => Some((at, index)),
            Ended::Unknown | Ended::Failed => None,
        })
        .min()
        .map(|(_, index)| index)
}

impl<N: Node + 'static, M: SequentialModel + 'static> Harness<N> for ModelHarness<N, M> {
    fn act(&mut self, sim: &mut Sim<N>) {
        self.clients.act(sim);
    }

    fn progress(&mut self, sim: &mut Sim<N>, heal_at: Instant) -> Progress {
        let clients = &mut self.clients;
        let probe = *self.probe.get_or_insert_with(|| {
            let op = (clients.spec().generate)(clients.rng(), u32::MAX);
            clients.owe(sim, op)
        });
        match clients.owed_done(probe).map(|operation| &operation.ended) {
            Some(Ended::Completed { at, .. }) => {
                let after = (Instant::from_nanos(*at) - heal_at).as_secs_f64();
                Progress::Made(format!("an operation issued after the heal completed {after:.2}s after it"))
            }
            _ => Progress::Pending,
        }
    }

    fn settle(&mut self, sim: &mut Sim<N>) {
        for op in (self.checks.clients.final_ops)() {
            self.clients.owe(sim, op);
        }
    }

    fn settled(&self) -> bool {
        self.clients.owed_pending().next().is_none() && self.clients.outstanding() == 0
    }

    fn unsettled(&mut self, sim: &Sim<N>) -> Vec<Violation> {
        self.clients
            .owed_pending()
            .map(|op| Violation {
                involved: crate::report::Involved::default(),
                checker: "liveness",
                kind: FailureKind::Liveness,
                at: sim.now(),
                node: None,
                message: format!("the final operation {op:?} never completed after the heal"),
            })
            .collect()
    }

    fn converged(&mut self, sim: &Sim<N>) -> Result<(), String> {
        let Some(state) = self.checks.converged_state else { return Ok(()) };
        let mut states = (0..sim.nodes()).filter_map(|index| sim.node(index).map(|node| (index, state(node))));
        let Some((first, expected)) = states.next() else { return Ok(()) };
        match states.find(|(_, other)| *other != expected) {
            None => Ok(()),
            Some((index, other)) => Err(format!("n{first} holds {expected}, n{index} holds {other}")),
        }
    }

    fn finish(&mut self, sim: &Sim<N>, _end: &DriveEnd) -> Findings {
        let mut findings = Findings::default();
        self.linearizability(&mut findings);
        for check in self.checks.checks {
            if let Err(message) = (check.check)(sim, &self.clients.history) {
                let kind = check.kind;
                findings.violations.push(Violation {
                    involved: crate::report::Involved::default(),
                    checker: check.name,
                    kind,
                    at: sim.now(),
                    node: None,
                    message,
                });
            }
        }
        let history = &self.clients.history;
        let count = |wanted: fn(&Ended<M::Output>) -> bool| history.iter().filter(|op| wanted(&op.ended)).count();
        findings.notes.push(format!(
            "{} operations: {} completed, {} refused, {} unknown",
            history.len(),
            count(|ended| matches!(ended, Ended::Completed { .. })),
            count(|ended| matches!(ended, Ended::Failed)),
            count(|ended| matches!(ended, Ended::Unknown)),
        ));
        findings
    }
}

//! One run of a scenario that drives one part of the replicated metadata (the graph, the event
//! store) through the log: the session clients of [`Workload`] issue the part's operations; the
//! agreement checker watches the replicas; after the heal a probe operation must complete; when the
//! clients settle, the part's final reads are retried until answered; the replicas must converge;
//! and at the end the whole history is checked for linearizability against the part's sequential
//! model ([`crate::model::check_model`]), then by the part's own checks.

use super::{Agreement, ClientOp, Completion, Operation, Workload, converged};
use crate::kit::{DriveEnd, Findings, Harness, Progress};
use crate::model::{CONFIGURATIONS_MAX, Ended, ModelOp, ModelVerdict, SequentialModel, check_model};
use crate::report::{FailureKind, Involved, Violation};
use pangea_core::{Duration, Instant, PangeaNode};
use pangea_sim::Sim;

/// What a part's scenario brings to a [`PartHarness`].
pub struct PartChecks<O: ClientOp + 'static> {
    /// The operation issued at the heal, which must complete within the liveness bound.
    pub probe: fn() -> O,
    /// The reads issued when the clients settle (each retried until answered), given the history.
    pub final_reads: fn(&[Operation<O>]) -> Vec<O>,
    /// The part's own checks of the whole history (final reads included).
    pub checks: fn(&[Operation<O>]) -> Vec<Violation>,
}

/// The clients and checkers of one run of a part's scenario.
pub struct PartHarness<O: ClientOp + 'static, M: SequentialModel<Op = O, Output = O::Result>> {
    workload: Workload<O>,
    model: M,
    checks: &'static PartChecks<O>,
    agreement: Agreement,
    probe: Option<usize>,
    final_reads: Vec<usize>,
}

impl<O: ClientOp + 'static, M: SequentialModel<Op = O, Output = O::Result>> PartHarness<O, M> {
    /// Clients running `workload`, checked against `model` and by `checks`.
    #[must_use]
    pub fn new(workload: Workload<O>, model: M, checks: &'static PartChecks<O>) -> Self {
        PartHarness { workload, model, checks, agreement: Agreement::default(), probe: None, final_reads: Vec::new() }
    }

    /// The history as the model checker reads it.
    fn model_history(&self) -> Vec<ModelOp<O, O::Result>> {
        self.workload
            .history
            .iter()
            .map(|operation| ModelOp {
                client: operation.issuer as u64,
                invoked_at: operation.invoked_at.as_nanos(),
                op: operation.op.clone(),
                ended: match &operation.completion {
                    Completion::Done { at, result } => Ended::Completed { at: at.as_nanos(), output: result.clone() },
                    Completion::Unknown => Ended::Unknown,
                    Completion::Refused => Ended::Failed,
                },
            })
            .collect()
    }

    /// The linearizability checker's violation, or note.
    fn linearizability(&self, violations: &mut Vec<Violation>, notes: &mut Vec<String>) {
        let history = self.model_history();
        match check_model(&self.model, &history, CONFIGURATIONS_MAX) {
            ModelVerdict::Linearizable { .. } => {}
            ModelVerdict::Unknown { bound } => notes.push(format!("linearizability undecided: the search met {bound}")),
            ModelVerdict::NotLinearizable { longest } => {
                // What goes wrong comes right after the longest order the search could build: the
                // completed operations not in it, earliest completed first.
                let placed: std::collections::BTreeSet<usize> = longest.iter().copied().collect();
                let mut stuck: Vec<(u64, usize)> = history
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| !placed.contains(index))
                    .filter_map(|(index, op)| match op.ended {
                        Ended::Completed { at, .. } => Some((at, index)),
                        _ => None,
                    })
                    .collect();
                stuck.sort_unstable();
                let shown: Vec<String> = stuck
                    .iter()
                    .take(3)
                    .map(|&(_, index)| {
                        let op = &history[index];
                        let output = match &op.ended {
                            Ended::Completed { output, .. } => format!("{output:?}"),
                            _ => "?".to_owned(),
                        };
                        format!("#{index} client {} {:?} -> {output}", op.client, op.op)
                    })
                    .collect();
                let at = stuck.first().map_or(Instant::ZERO, |&(at, _)| Instant::from_nanos(at));
                violations.push(Violation {
                    involved: Involved::default(),
                    checker: "linearizability",
                    kind: FailureKind::Correctness,
                    at,
                    node: None,
                    message: format!(
                        "no order of the {} operations explains every answer; the longest order explains {}, then none of these fits: {}",
                        history.len(),
                        longest.len(),
                        shown.join("; ")
                    ),
                });
            }
        }
    }
}

impl<O: ClientOp + 'static, M: SequentialModel<Op = O, Output = O::Result>> Harness<PangeaNode> for PartHarness<O, M> {
    fn act(&mut self, sim: &mut Sim<PangeaNode>) {
        // Replies meant for nobody (an answer after its client gave up) are dropped.
        let _ = self.workload.act(sim);
    }

    fn observe(&mut self, sim: &Sim<PangeaNode>) {
        self.agreement.check(sim);
    }

    fn progress(&mut self, sim: &mut Sim<PangeaNode>, heal_at: Instant) -> Progress {
        let workload = &mut self.workload;
        let probe = *self.probe.get_or_insert_with(|| workload.issue_extra(sim, (self.checks.probe)()));
        match workload.history[probe].completion {
            Completion::Done { at, .. } => {
                Progress::Made(format!("a new command completed {:.2}s after the heal", (at - heal_at).as_secs_f64()))
            }
            Completion::Unknown | Completion::Refused => Progress::Pending,
        }
    }

    fn stalled(&mut self, sim: &Sim<PangeaNode>, heal_at: Instant, bound: Duration) -> Vec<Violation> {
        vec![Violation {
            involved: Involved::default(),
            checker: "liveness",
            kind: FailureKind::Liveness,
            at: sim.now(),
            node: None,
            message: format!("no new command completed within {:.0}s of the heal at {heal_at}", bound.as_secs_f64()),
        }]
    }

    fn settle(&mut self, sim: &mut Sim<PangeaNode>) {
        for read in (self.checks.final_reads)(&self.workload.history) {
            let index = self.workload.issue_extra(sim, read);
            self.final_reads.push(index);
        }
    }

    fn settled(&self) -> bool {
        self.workload.settled(&self.final_reads)
    }

    fn unsettled(&mut self, sim: &Sim<PangeaNode>) -> Vec<Violation> {
        self.workload.unanswered(sim, &self.final_reads)
    }

    fn converged(&mut self, sim: &Sim<PangeaNode>) -> Result<(), String> {
        converged(sim)
    }

    fn finish(&mut self, sim: &Sim<PangeaNode>, _end: &DriveEnd) -> Findings {
        self.agreement.check(sim);
        let mut violations = std::mem::take(&mut self.agreement.violations);
        let mut notes = Vec::new();
        violations.extend((self.checks.checks)(&self.workload.history));
        if violations.is_empty() {
            self.linearizability(&mut violations, &mut notes);
        }
        notes.push(self.workload.summary(sim));
        Findings { violations, notes, ..Findings::default() }
    }
}

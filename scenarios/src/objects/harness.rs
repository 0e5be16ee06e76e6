//! One run of an object scenario as the kit drives it: the owners, the checks made as the run goes,
//! a put that must succeed after the heal, every acknowledged object read back, and full
//! redundancy restored by repair.

use super::checkers::{Checks, history_violations};
use super::clients::{ObjectClients, OpKind, Outcome};
use super::content::Content;
use crate::kit::{DriveEnd, Findings, Harness, Progress};
use crate::report::{FailureKind, Involved, Violation};
use pangea_core::ces::ObjectId;
use pangea_core::{Instant, PangeaNode};
use pangea_sim::Sim;
use std::collections::BTreeSet;

/// The owners and checkers of one run.
pub struct ObjectsHarness {
    clients: ObjectClients,
    checks: Checks,
    /// The put issued at the heal, which must be acknowledged within the liveness bound.
    probe: Option<usize>,
    /// Puts tried for it (each under a new object id).
    probes_tried: u64,
    /// The reads of every acknowledged object issued when the clients settle.
    final_reads: Vec<usize>,
}

impl ObjectsHarness {
    /// A run of `clients`.
    #[must_use]
    pub fn new(clients: ObjectClients) -> ObjectsHarness {
        ObjectsHarness { clients, checks: Checks::default(), probe: None, probes_tried: 0, final_reads: Vec::new() }
    }

    /// Objects whose put was acknowledged and that no delete touched.
    fn kept_objects(&self) -> Vec<ObjectId> {
        let history = &self.clients.history;
        let deleted: BTreeSet<ObjectId> = history
            .iter()
            .filter_map(|operation| match operation.kind {
                OpKind::Delete { object } => Some(object),
                _ => None,
            })
            .collect();
        history
            .iter()
            .filter_map(|operation| match (&operation.kind, &operation.outcome) {
                (OpKind::Put { object, .. }, Outcome::Stored) if !deleted.contains(object) => Some(*object),
                _ => None,
            })
            .collect()
    }
}

impl Harness<PangeaNode> for ObjectsHarness {
    fn act(&mut self, sim: &mut Sim<PangeaNode>) {
        self.clients.act(sim, &mut self.checks);
    }

    fn observe(&mut self, sim: &Sim<PangeaNode>) {
        self.checks.observe(sim);
    }

    fn progress(&mut self, sim: &mut Sim<PangeaNode>, heal_at: Instant) -> Progress {
        let clients = &mut self.clients;
        let tried = &mut self.probes_tried;
        let probe = *self.probe.get_or_insert_with(|| {
            *tried += 1;
            let content = Content { seed: heal_at.as_nanos(), size: 100_000, text: true };
            let mut id = blake3::Hasher::new_derive_key("pangea sim liveness probe object v1");
            id.update(&tried.to_le_bytes());
            clients.issue_extra(sim, OpKind::Put { object: ObjectId(*id.finalize().as_bytes()), content })
        });
        let operation = &self.clients.history[probe];
        match (&operation.outcome, operation.completed_at) {
            (Outcome::Stored, Some(at)) => {
                Progress::Made(format!("a new object was stored {:.2}s after the heal", (at - heal_at).as_secs_f64()))
            }
            (Outcome::Pending, _) => Progress::Pending,
            (outcome, _) => {
                // Failed or unknown: try again with a new object.
                let _ = outcome;
                self.probe = None;
                Progress::Pending
            }
        }
    }

    fn settle(&mut self, sim: &mut Sim<PangeaNode>) {
        for object in self.kept_objects() {
            let read = self.clients.issue_extra(sim, OpKind::Get { object, offset: 0, len: u64::MAX });
            self.final_reads.push(read);
        }
    }

    fn settled(&self) -> bool {
        self.final_reads.iter().all(|read| self.clients.is_done(*read)) && self.clients.outstanding() == 0
    }

    fn unsettled(&mut self, sim: &Sim<PangeaNode>) -> Vec<Violation> {
        if self.settled() {
            return Vec::new();
        }
        let unanswered = self.final_reads.iter().filter(|read| !self.clients.is_done(**read)).count();
        let busy = self.clients.outstanding();
        vec![Violation {
            involved: Involved::default(),
            checker: "liveness",
            kind: FailureKind::Liveness,
            at: sim.now(),
            node: None,
            message: format!(
                "after the heal, {unanswered} final reads were not answered ({busy} operations in progress)"
            ),
        }]
    }

    fn converged(&mut self, sim: &Sim<PangeaNode>) -> Result<(), String> {
        self.checks.redundancy(sim)?;
        match super::checkers::garbage_left(sim, &self.clients.deleted_objects()) {
            Some(left) => Err(left),
            None => Ok(()),
        }
    }

    fn finish(&mut self, sim: &Sim<PangeaNode>, _end: &DriveEnd) -> Findings {
        self.clients.abandon();
        let mut violations = std::mem::take(&mut self.checks.violations);
        violations.extend(history_violations(&self.clients.history));
        for read in &self.final_reads {
            let operation = &self.clients.history[*read];
            let why = match &operation.outcome {
                Outcome::Failed(why) => why.as_str(),
                Outcome::Absent => "no such object",
                _ => continue,
            };
            if let OpKind::Get { object, .. } = &operation.kind
                && !self.checks.is_lost(object)
            {
                violations.push(Violation {
                    involved: Involved::default(),
                    checker: "acknowledged-reads-back",
                    kind: FailureKind::Correctness,
                    at: operation.completed_at.unwrap_or(sim.now()),
                    node: None,
                    message: format!("acknowledged object {object} could not be read back after the heal: {why}"),
                });
            }
        }
        let history = &self.clients.history;
        let count =
            |wanted: fn(&Outcome) -> bool| history.iter().filter(|operation| wanted(&operation.outcome)).count();
        let puts = history.iter().filter(|operation| matches!(operation.kind, OpKind::Put { .. })).count();
        let bytes: u64 = history
            .iter()
            .filter_map(|operation| match (&operation.kind, &operation.outcome) {
                (OpKind::Put { content, .. }, Outcome::Stored) => Some(content.size),
                _ => None,
            })
            .sum();
        let lost = self.checks.lost_chunks();
        let mut notes = vec![format!(
            "{} operations: {puts} puts ({} stored, {:.1} MiB), {} reads returned bytes, {} failed, {} unknown",
            history.len(),
            count(|outcome| *outcome == Outcome::Stored),
            bytes as f64 / (1024.0 * 1024.0),
            count(|outcome| matches!(outcome, Outcome::Read { .. })),
            count(|outcome| matches!(outcome, Outcome::Failed(_))),
            count(|outcome| *outcome == Outcome::Unknown),
        )];
        let mut reasons: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for operation in history {
            if let Outcome::Failed(why) = &operation.outcome {
                *reasons.entry(why.split(':').next().unwrap_or(why)).or_default() += 1;
            }
        }
        if !reasons.is_empty() {
            let reasons: Vec<String> = reasons.iter().map(|(why, count)| format!("{count} {why}")).collect();
            notes.push(format!("failures: {}", reasons.join("; ")));
        }
        if lost > 0 {
            notes.push(format!("{lost} chunks lost more than m shards to rot at once (excused from the read-back)"));
        }
        Findings { violations, notes, ..Findings::default() }
    }
}

//! One run of a log scenario as the kit drives it: the clients (and, in `log-membership`, the
//! operator changing replicas), the agreement checker, the liveness probe and the final reads.

use super::{Agreement, Completion, MemberChanger, Workload, converged, history_violations};
use crate::kit::{DriveEnd, Findings, Harness, Progress};
use crate::report::{FailureKind, Violation};
use pangea_core::metadata::records::KvOp;
use pangea_core::{Duration, Instant, PangeaNode};
use pangea_sim::Sim;

/// The clients and checkers of one run of a log scenario.
pub struct LogHarness {
    workload: Workload,
    changer: Option<MemberChanger>,
    agreement: Agreement,
    keys: u32,
    /// The put issued at the heal, which must commit within the liveness bound.
    probe: Option<usize>,
    /// The reads of every key issued when the clients settle.
    final_reads: Vec<usize>,
}

impl LogHarness {
    /// Clients running `workload` over `keys` keys, and `changer` if replicas are added and
    /// removed.
    #[must_use]
    pub fn new(workload: Workload, keys: u32, changer: Option<MemberChanger>) -> LogHarness {
        LogHarness { workload, changer, agreement: Agreement::default(), keys, probe: None, final_reads: Vec::new() }
    }
}

impl Harness<PangeaNode> for LogHarness {
    fn act(&mut self, sim: &mut Sim<PangeaNode>) {
        let others = self.workload.act(sim);
        if let Some(changer) = &mut self.changer {
            changer.act(sim, others);
        }
    }

    fn observe(&mut self, sim: &Sim<PangeaNode>) {
        self.agreement.check(sim);
    }

    fn progress(&mut self, sim: &mut Sim<PangeaNode>, heal_at: Instant) -> Progress {
        let workload = &mut self.workload;
        let probe = *self.probe.get_or_insert_with(|| {
            let op = KvOp::Put { key: b"liveness-probe".to_vec(), value: b"after-heal".to_vec() };
            workload.issue_extra(sim, op)
        });
        match workload.history[probe].completion {
            Completion::Done { at, .. } => {
                Progress::Made(format!("a new command committed {:.2}s after the heal", (at - heal_at).as_secs_f64()))
            }
            Completion::Unknown | Completion::Refused => Progress::Pending,
        }
    }

    fn stalled(&mut self, sim: &Sim<PangeaNode>, heal_at: Instant, bound: Duration) -> Vec<Violation> {
        vec![Violation {
            involved: crate::report::Involved::default(),
            checker: "liveness",
            kind: FailureKind::Liveness,
            at: sim.now(),
            node: None,
            message: format!("no new command committed within {:.0}s of the heal at {heal_at}", bound.as_secs_f64()),
        }]
    }

    fn settle(&mut self, sim: &mut Sim<PangeaNode>) {
        // Every key read back through the log: a lost acknowledged write shows in the history.
        for key in 0..self.keys {
            let read = self.workload.issue_extra(sim, KvOp::Get { key: format!("k{key}").into_bytes() });
            self.final_reads.push(read);
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
        let (history_problems, mut notes) = history_violations(&self.workload.history);
        violations.extend(history_problems);
        if let Some(changer) = &self.changer {
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
        notes.push(self.workload.summary(sim));
        Findings { violations, notes, ..Findings::default() }
    }
}

//! A run's clients and checkers, as the kit's driver sees them: [`Harness`].

use crate::report::{FailureKind, Violation};
use pangea_core::{Duration, Instant, Node};
use pangea_sim::Sim;
use std::collections::BTreeMap;

/// Whether the progress owed after the heal has been made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Not yet.
    Pending,
    /// Made; the text says what, for a person (e.g. "a new command committed 0.31s after the heal").
    Made(String),
}

/// What a harness found at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// What went wrong.
    pub violations: Vec<Violation>,
    /// Facts for a person (how many operations, how soon the cluster converged).
    pub notes: Vec<String>,
    /// Quantities a sweep sums over its runs (see [`crate::RunReport::tallies`]).
    pub tallies: BTreeMap<&'static str, f64>,
}

/// One run's clients and checkers: what the kit's driver ([`super::drive`]) calls, phase by phase.
///
/// Every method but [`Harness::finish`] has a default that does nothing (or says the thing owed is
/// there), so a harness writes only what its scenario needs. Harnesses must be deterministic: they
/// draw randomness from streams of the run's seed ([`pangea_sim::SeedStreams`]), never from the
/// OS, and iterate ordered maps only.
pub trait Harness<N: Node> {
    /// Every tick, after the simulator advanced: clients read their answers and issue requests.
    fn act(&mut self, _sim: &mut Sim<N>) {}

    /// Every [`super::Phases::check_every`]: checkers look at the nodes.
    fn observe(&mut self, _sim: &Sim<N>) {}

    /// True when the run has seen enough violations to stop early (checked before each tick of
    /// the safety and liveness phases).
    fn enough(&self) -> bool {
        false
    }

    /// Every tick from the heal on, until it says [`Progress::Made`]: whether the progress a
    /// healed system owes (a new command committed, every node alive again) has been made. It may
    /// issue what it waits for (a probe) on its first call. The default owes nothing.
    fn progress(&mut self, _sim: &mut Sim<N>, _heal_at: Instant) -> Progress {
        Progress::Made("nothing owed after the heal".to_owned())
    }

    /// The violations of a run whose progress was not made within `bound` of the heal. The
    /// default is one liveness violation.
    fn stalled(&mut self, sim: &Sim<N>, heal_at: Instant, bound: Duration) -> Vec<Violation> {
        vec![Violation {
            involved: crate::report::Involved::default(),
            checker: "liveness",
            kind: FailureKind::Liveness,
            at: sim.now(),
            node: None,
            message: format!("no progress within {:.0}s of the heal at {heal_at}", bound.as_secs_f64()),
        }]
    }

    /// At the start of the settling phase: clients issue their last requests (e.g. read every key
    /// back).
    fn settle(&mut self, _sim: &mut Sim<N>) {}

    /// True when the clients have finished (the settling phase ends early).
    fn settled(&self) -> bool {
        true
    }

    /// The violations of a settling phase that ended (early or at its bound), e.g. a final read
    /// that was never answered.
    fn unsettled(&mut self, _sim: &Sim<N>) -> Vec<Violation> {
        Vec::new()
    }

    /// During the convergence phase, every [`super::Phases::check_every`]: whether the nodes
    /// agree, or why not.
    ///
    /// # Errors
    /// What differs, for a person.
    fn converged(&mut self, _sim: &Sim<N>) -> Result<(), String> {
        Ok(())
    }

    /// After the run: the checkers' verdicts (on the history, the final node states, the trace
    /// when kept), notes and tallies. `end` says how the run ended.
    fn finish(&mut self, sim: &Sim<N>, end: &super::DriveEnd) -> Findings;
}

//! The kit's driver: one run through its phases — safety, liveness, settling, convergence — the
//! same way for every scenario.

use super::{Harness, Phases, Progress};
use crate::report::{FailureKind, Violation};
use pangea_core::{Instant, Node};
use pangea_sim::Sim;

/// How a run ended, as the driver saw it: what [`Harness::finish`] is told, and the violations
/// and notes of the phases themselves.
#[derive(Clone, Debug, Default)]
pub struct DriveEnd {
    /// When the faults healed.
    pub heal_at: Instant,
    /// When the progress owed after the heal was made, if it was.
    pub progress_at: Option<Instant>,
    /// The run blew its event budget (the simulator stopped; a crash violation says so).
    pub crashed: bool,
    /// The harness had seen enough violations and the run stopped early.
    pub stopped_early: bool,
    /// The settling phase ran and the clients finished.
    pub settled: bool,
    /// The convergence phase ran and the nodes converged.
    pub converged: bool,
    /// The phases' own violations: no progress, unsettled clients, no convergence, a blown budget.
    pub violations: Vec<Violation>,
    /// The phases' notes: what progress was made, how soon the nodes converged.
    pub notes: Vec<String>,
}

/// One tick: the simulator advances by [`Phases::tick`], the clients act, and the checkers look
/// when their time has come.
fn tick<N: Node, H: Harness<N>>(
    sim: &mut Sim<N>,
    harness: &mut H,
    phases: &Phases,
    next_check: &mut Instant,
) -> Result<(), String> {
    sim.run_for(phases.tick).map_err(|error| error.to_string())?;
    harness.act(sim);
    if sim.now() >= *next_check {
        harness.observe(sim);
        *next_check = sim.now() + phases.check_every;
    }
    Ok(())
}

/// Runs `sim` through `phases`, with `harness` acting and checking:
///
/// 1. **safety and liveness**: ticks until the harness says the progress owed after the heal was
///    made, or [`Phases::liveness`] after the heal passes (the harness says what that violates);
/// 2. **settling** (if [`Phases::settle`], and the progress was made): the clients issue their last
///    requests and finish, within the bound;
/// 3. **convergence** (if [`Phases::convergence`], and nothing failed so far): the simulator runs
///    on without new requests until the nodes converge, within the bound.
///
/// A run that blows its event budget stops where it is, with a crash violation.
pub fn drive<N: Node, H: Harness<N>>(sim: &mut Sim<N>, harness: &mut H, phases: &Phases) -> DriveEnd {
    let heal_at = Instant::from_nanos(sim.plan().heal_at_ms.saturating_mul(1_000_000));
    let mut end = DriveEnd { heal_at, ..DriveEnd::default() };
    let mut next_check = sim.now() + phases.check_every;
    let mut budget_error = None;

    let deadline = heal_at + phases.liveness;
    loop {
        if harness.enough() {
            end.stopped_early = true;
            break;
        }
        if let Err(error) = tick(sim, harness, phases, &mut next_check) {
            budget_error = Some(error);
            break;
        }
        if sim.now() >= heal_at
            && let Progress::Made(note) = harness.progress(sim, heal_at)
        {
            end.progress_at = Some(sim.now());
            end.notes.push(note);
            break;
        }
        if sim.now() >= deadline {
            end.violations.extend(harness.stalled(sim, heal_at, phases.liveness));
            break;
        }
    }

    if let Some(bound) = phases.settle
        && end.progress_at.is_some()
        && budget_error.is_none()
    {
        harness.settle(sim);
        let deadline = sim.now() + bound;
        while sim.now() < deadline && !harness.settled() {
            if let Err(error) = tick(sim, harness, phases, &mut next_check) {
                budget_error = Some(error);
                break;
            }
        }
        let unsettled = harness.unsettled(sim);
        end.settled = unsettled.is_empty() && budget_error.is_none();
        end.violations.extend(unsettled);
    }

    if let Some(bound) = phases.convergence
        && end.progress_at.is_some()
        && budget_error.is_none()
        && end.violations.is_empty()
    {
        let started = sim.now();
        let deadline = started + bound;
        let mut last = Err(String::new());
        while sim.now() < deadline {
            if let Err(error) = sim.run_for(phases.check_every) {
                budget_error = Some(error.to_string());
                break;
            }
            harness.observe(sim);
            last = harness.converged(sim);
            if last.is_ok() {
                break;
            }
        }
        match last {
            Ok(()) => {
                end.converged = true;
                end.notes.push(format!(
                    "the nodes converged {:.2}s after the clients finished",
                    (sim.now() - started).as_secs_f64()
                ));
            }
            Err(why) if budget_error.is_none() => end.violations.push(Violation {
                involved: crate::report::Involved::default(),
                checker: "convergence",
                kind: FailureKind::Liveness,
                at: sim.now(),
                node: None,
                message: format!("the nodes did not converge within {:.0}s: {why}", bound.as_secs_f64()),
            }),
            Err(_) => {}
        }
    }

    if let Some(message) = budget_error {
        end.crashed = true;
        end.violations.push(Violation {
            involved: crate::report::Involved::default(),
            checker: "event-budget",
            kind: FailureKind::Crash,
            at: sim.now(),
            node: None,
            message,
        });
    }
    end
}

//! Shrinking: from a failing run, find a smaller run that still fails the same checker in the same
//! way, and save it as a replay file.
//!
//! Every step only simplifies, so shrinking ends; a candidate is kept when its first violation has
//! the same checker and kind as the original's and its run is no larger. Within a round, in this
//! order (the structure of the run first, then its random choices, which are tied to the structure
//! they were drawn in):
//!
//! 1. **End the safety phase early**: heal everything just after the first violation (dropping the
//!    faults scheduled after it), else search for the earliest heal that still fails.
//! 2. **Only the clients and operations the evidence cites**: the other clients stay idle (for
//!    scenarios whose checkers name clients in [`crate::Violation::involved`] and whose clients
//!    honour [`RunOptions::only_clients`]); then every operation the evidence does not cite is left
//!    out (for clients that mark their operations as spans of their streams: see [`operations`]).
//! 3. **Fewer nodes**, down to the scenario's smallest cluster: the first nodes, or the nodes the
//!    failure and the remaining faults involve, renumbered in order; faults on removed nodes go, and
//!    partitions keep only the remaining nodes.
//! 4. **Fewer faults**: fault windows (a crash and its restart, a partition and its heal, ...) are
//!    removed in halves, quarters, ... and one at a time (delta debugging).
//! 5. **Calmer network and disks**: standing faults (loss, duplication, reordering, corruption,
//!    latency tails, slow links, disk faults, clock skew, buggify) are switched off, all at once, then
//!    one by one.
//! 6. **Shorter fault windows**: each remaining window's end moves towards its start by halves.
//! 7. **Earlier faults**: the whole schedule, heal included, moves towards time zero.
//! 8. **Fewer clients and operations**, for scenarios that honour those knobs; then blocks of each
//!    client's operations are left out, halves down to single operations (see [`operations`]).
//! 9. **Shorter choices**, for scenarios built on the kit: every random stream's recorded draws are
//!    cut short and deleted in blocks (see [`choices`]), which moves what the streams decide earlier;
//!    then the run is ended early again.
//! 10. **Simpler choices**: blocks of draws are zeroed, and single draws moved towards zero.
//!
//! Rounds repeat until one changes nothing or the budget (runs, wall-clock time) is spent. An
//! observer ([`ShrinkObserver`]) hears of every candidate run and every accepted step, with the
//! replay file of the smallest failing run so far, so that a caller can save it as it goes: a
//! shrink interrupted at any moment leaves its best run behind.

mod choices;
mod operations;
mod plans;
#[cfg(test)]
mod tests;

pub use plans::{for_nodes, remapped, truncated, windows};

use crate::registry::Scenario;
use crate::replay::{ReplayFile, RunSize};
use crate::report::{FailureKind, RunOptions, RunReport};
use crate::sweep::run_guarded;
use pangea_sim::{FaultPlan, NetworkFaults};
use std::time::{Duration, Instant as WallInstant};
use thiserror::Error;

/// Why a run cannot be shrunk.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ShrinkError {
    /// The scenario refused the options.
    #[error(transparent)]
    Invalid(#[from] crate::error::ScenarioError),
    /// The run to shrink passes.
    #[error("{scenario} seed {seed} passes: there is no failure to shrink")]
    Passes {
        /// The scenario.
        scenario: String,
        /// The seed.
        seed: u64,
    },
}

/// Limits on shrinking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShrinkOptions {
    /// Most candidate runs.
    pub runs_max: u32,
    /// Most rounds.
    pub rounds_max: u32,
    /// Most wall-clock time; `None`: no limit, so that the result depends on the run only (a limit
    /// makes it depend on the machine's speed too).
    pub time_max: Option<Duration>,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions { runs_max: 10_000, rounds_max: 8, time_max: None }
    }
}

/// The budget that ended a shrink before it ran out of simplifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetSpent {
    /// [`ShrinkOptions::runs_max`] candidate runs.
    Runs,
    /// [`ShrinkOptions::time_max`] of wall-clock time.
    Time,
}

/// What hears of a shrink as it goes.
pub trait ShrinkObserver {
    /// A candidate ran: `runs` so far, and the size of the smallest failing run so far.
    fn tried(&mut self, _runs: u32, _best: RunSize) {}
    /// A step was accepted; `best` is the replay file of the smallest failing run so far (it
    /// replays exactly as the final one would, were the shrink to stop here).
    fn accepted(&mut self, step: &ShrinkStep, best: &ReplayFile);
}

/// An observer that hears of accepted steps only.
struct StepsOnly<'a>(&'a mut dyn FnMut(&ShrinkStep));

impl ShrinkObserver for StepsOnly<'_> {
    fn accepted(&mut self, step: &ShrinkStep, _best: &ReplayFile) {
        (self.0)(step);
    }
}

/// One accepted simplification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkStep {
    /// What changed, for a person.
    pub what: String,
    /// The run's size after it.
    pub size: RunSize,
}

/// The result of shrinking.
#[derive(Clone, Debug)]
pub struct ShrinkOutcome {
    /// The run as given.
    pub original: RunReport,
    /// The smallest failing run found.
    pub shrunk: RunReport,
    /// Options that run `shrunk` (plan pinned, nodes explicit).
    pub options: RunOptions,
    /// Every accepted step, in order.
    pub steps: Vec<ShrinkStep>,
    /// Candidate runs tried.
    pub runs: u32,
    /// The budget that stopped the shrink, if one did.
    pub budget_spent: Option<BudgetSpent>,
}

impl ShrinkOutcome {
    /// The replay file of the shrunk run, which records the original's size.
    #[must_use]
    pub fn replay_file(&self) -> ReplayFile {
        ReplayFile { shrunk_from: Some(RunSize::of(&self.original)), ..ReplayFile::from_report(&self.shrunk) }
    }

    /// The shrunk run's trace records as a fraction of the original's.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        self.shrunk.trace_len as f64 / self.original.trace_len.max(1) as f64
    }
}

/// Shrinks the failing run `options` selects. `on_step` hears of each accepted step.
///
/// # Errors
/// The options are invalid, or the run passes.
pub fn shrink(
    scenario: &dyn Scenario,
    options: &RunOptions,
    limits: ShrinkOptions,
    on_step: &mut dyn FnMut(&ShrinkStep),
) -> Result<ShrinkOutcome, ShrinkError> {
    shrink_observed(scenario, options, limits, &mut StepsOnly(on_step))
}

/// As [`shrink`], telling `observer` of every candidate run and every accepted step.
///
/// # Errors
/// As [`shrink`].
pub fn shrink_observed(
    scenario: &dyn Scenario,
    options: &RunOptions,
    limits: ShrinkOptions,
    observer: &mut dyn ShrinkObserver,
) -> Result<ShrinkOutcome, ShrinkError> {
    let started = WallInstant::now();
    let run_options = RunOptions { keep_trace: false, record_choices: true, ..options.clone() };
    let original = run_guarded(scenario, &run_options).map_err(ShrinkError::Invalid)?;
    let Some(first) = original.first_violation() else {
        return Err(ShrinkError::Passes { scenario: scenario.name().to_owned(), seed: options.seed });
    };
    let signature = (first.kind, first.checker);
    let workload = scenario.workload_knobs();
    // From here on every candidate pins its plan and node count; nothing is drawn.
    let pinned = RunOptions {
        seed: options.seed,
        nodes: Some(original.nodes),
        plan: Some(original.plan.clone()),
        planted: options.planted.clone(),
        clients: options.clients.or(workload.clients),
        operations: options.operations.or(workload.operations),
        choices: options.choices.clone(),
        record_choices: true,
        ..RunOptions::default()
    };
    let mut shrinker = Shrinker {
        scenario,
        signature,
        limits,
        started,
        runs: 0,
        options: pinned,
        original_size: RunSize::of(&original),
        best: original.clone(),
        steps: Vec::new(),
        observer,
    };
    for _ in 0..limits.rounds_max {
        let before = shrinker.steps.len();
        shrinker.end_early();
        shrinker.evidence_clients();
        shrinker.evidence_operations();
        shrinker.fewer_nodes();
        shrinker.fewer_faults();
        shrinker.calmer();
        shrinker.shorter_windows();
        shrinker.earlier();
        shrinker.smaller_workload();
        shrinker.fewer_operations();
        shrinker.shorter_choices();
        shrinker.end_early();
        shrinker.smaller_choices();
        if shrinker.steps.len() == before || shrinker.budget_spent().is_some() {
            break;
        }
    }
    let budget_spent = shrinker.budget_spent();
    // Knobs equal to the scenario's defaults need not be spelled out.
    let mut options = RunOptions { record_choices: false, ..shrinker.options.clone() };
    if options.clients == workload.clients {
        options.clients = None;
    }
    if options.operations == workload.operations {
        options.operations = None;
    }
    // Tapes of streams the shrunk run no longer makes (those of removed nodes) change nothing.
    if let (Some(choices), Some(recorded)) = (&mut options.choices, &shrinker.best.recorded_choices) {
        choices.0.retain(|name, _| recorded.choices.0.contains_key(name));
    }
    let mut shrunk = shrinker.best.clone();
    shrunk.clients = options.clients;
    shrunk.operations = options.operations;
    shrunk.choices.clone_from(&options.choices);
    Ok(ShrinkOutcome { original, shrunk, options, steps: shrinker.steps, runs: shrinker.runs, budget_spent })
}

struct Shrinker<'a> {
    scenario: &'a dyn Scenario,
    signature: (FailureKind, &'static str),
    limits: ShrinkOptions,
    started: WallInstant,
    runs: u32,
    options: RunOptions,
    original_size: RunSize,
    best: RunReport,
    steps: Vec<ShrinkStep>,
    observer: &'a mut dyn ShrinkObserver,
}

impl Shrinker<'_> {
    /// The budget spent, if one is.
    fn budget_spent(&self) -> Option<BudgetSpent> {
        if self.runs >= self.limits.runs_max {
            Some(BudgetSpent::Runs)
        } else if self.limits.time_max.is_some_and(|most| self.started.elapsed() >= most) {
            Some(BudgetSpent::Time)
        } else {
            None
        }
    }

    fn exhausted(&self) -> bool {
        self.budget_spent().is_some()
    }

    fn plan(&self) -> &FaultPlan {
        self.options.plan.as_ref().expect("candidates pin their plan")
    }

    fn nodes(&self) -> u32 {
        self.options.nodes.expect("candidates pin their node count")
    }

    /// Runs `candidate`; keeps it if it fails the same way and its run is no larger (in trace
    /// records and in events) than the best so far: a simpler plan or tape can make a run longer
    /// (a calmer network that fails later), and that is not what a person wants to read.
    fn attempt(&mut self, candidate: RunOptions, what: impl FnOnce() -> String) -> bool {
        if self.exhausted() {
            return false;
        }
        let (Some(plan), Some(nodes)) = (&candidate.plan, candidate.nodes) else { return false };
        if plan.validate(nodes).is_err() {
            return false;
        }
        self.runs += 1;
        let report = run_guarded(self.scenario, &candidate);
        let same = report.as_ref().is_ok_and(|report| {
            report.first_violation().is_some_and(|first| (first.kind, first.checker) == self.signature)
                && report.trace_len <= self.best.trace_len
                && report.stats.events <= self.best.stats.events
        });
        let (Ok(report), true) = (report, same) else {
            self.observer.tried(self.runs, RunSize::of(&self.best));
            return false;
        };
        let step = ShrinkStep { what: what(), size: RunSize::of(&report) };
        self.options = candidate;
        self.best = report;
        self.observer.tried(self.runs, step.size);
        let best = ReplayFile { shrunk_from: Some(self.original_size), ..ReplayFile::from_report(&self.best) };
        self.observer.accepted(&step, &best);
        self.steps.push(step);
        true
    }

    fn with_plan(&self, plan: FaultPlan) -> RunOptions {
        RunOptions { plan: Some(plan), ..self.options.clone() }
    }

    /// Heal everything just after the first violation, or as early as still fails.
    fn end_early(&mut self) {
        let heal_at_ms = self.plan().heal_at_ms;
        if let Some(first) = self.best.first_violation() {
            let at_ms = first.at.as_nanos() / 1_000_000 + 1;
            if at_ms < heal_at_ms {
                let plan = truncated(self.plan(), at_ms);
                if self
                    .attempt(self.with_plan(plan), || format!("heal everything at {at_ms}ms, just after the failure"))
                {
                    return;
                }
            }
        }
        // Not monotone in general, but a binary search finds a good cut in a few runs.
        let (mut low, mut high) = (1, self.plan().heal_at_ms);
        while high.saturating_sub(low) > (high / 50).max(50) && !self.exhausted() {
            let middle = low + (high - low) / 2;
            let plan = truncated(self.plan(), middle);
            if self.attempt(self.with_plan(plan), || format!("heal everything at {middle}ms")) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
    }

    fn fewer_nodes(&mut self) {
        let (least, _) = self.scenario.nodes_range();
        let current = self.nodes();
        // The nodes the failure and the faults involve, n0 (often special) first.
        let mut involved = vec![0];
        involved.extend(self.best.first_violation().and_then(|violation| violation.node));
        involved.extend(self.plan().events.iter().filter_map(|event| event.fault.node()));
        let mut seen = std::collections::BTreeSet::new();
        involved.retain(|node| *node < current && seen.insert(*node));
        for nodes in least..current {
            let first: Vec<u32> = (0..nodes).collect();
            let mut relevant: Vec<u32> = involved.iter().copied().take(nodes as usize).collect();
            for node in 0..current {
                if relevant.len() < nodes as usize && !relevant.contains(&node) {
                    relevant.push(node);
                }
            }
            relevant.sort_unstable();
            let choices = if relevant == first { vec![first] } else { vec![first, relevant] };
            for kept in choices {
                let mut mapping = vec![None; current as usize];
                for (new, old) in kept.iter().enumerate() {
                    mapping[*old as usize] = Some(new as u32);
                }
                let Some(plan) = remapped(self.plan(), &mapping, nodes) else { continue };
                let candidate = RunOptions { nodes: Some(nodes), ..self.with_plan(plan) };
                let names: Vec<String> = kept.iter().map(|node| format!("n{node}")).collect();
                let what = || format!("{nodes} nodes instead of {current} (keeping {})", names.join(", "));
                if self.attempt(candidate, what) {
                    return;
                }
            }
        }
    }

    fn fewer_faults(&mut self) {
        let mut chunk = windows(self.plan()).len();
        while chunk > 0 && !self.exhausted() {
            let mut start = 0;
            let mut progressed = false;
            loop {
                let groups = windows(self.plan());
                if start >= groups.len() {
                    break;
                }
                let end = (start + chunk).min(groups.len());
                let removed: Vec<usize> = groups[start..end].iter().flatten().copied().collect();
                let described: Vec<String> =
                    groups[start..end].iter().map(|group| self.plan().events[group[0]].fault.to_string()).collect();
                let mut plan = self.plan().clone();
                plan.events = plan
                    .events
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| !removed.contains(index))
                    .map(|(_, event)| event.clone())
                    .collect();
                let what = || format!("without {} fault window(s): {}", described.len(), described.join("; "));
                if self.attempt(self.with_plan(plan), what) {
                    progressed = true;
                } else {
                    start += chunk;
                }
                if self.exhausted() {
                    return;
                }
            }
            if !progressed {
                if chunk == 1 {
                    break;
                }
                chunk = chunk.div_ceil(2).min(chunk - 1).max(1);
            }
        }
    }

    fn calmer(&mut self) {
        type Change = fn(&mut FaultPlan);
        let changes: [(&str, Change); 11] = [
            ("no message loss", |plan| plan.network.drop_ppm = 0),
            ("no duplication", |plan| plan.network.duplicate_ppm = 0),
            ("no reordering", |plan| {
                plan.network.reorder_ppm = 0;
                plan.network.reorder_delay_us = 0;
            }),
            ("no corruption", |plan| plan.network.corrupt_ppm = 0),
            ("no latency tail", |plan| {
                plan.network.latency.tail_ppm = 0;
                plan.network.latency.tail_us = 0;
            }),
            ("no slow links", |plan| plan.network.links.clear()),
            ("no disk faults", |plan| {
                plan.disk.stop_errors();
                plan.disk.torn_writes = false;
                plan.disk.capacity_bytes = None;
            }),
            ("no slow syncs", |plan| plan.disk.sync_latency.tail_ppm = 0),
            ("no clock skew", |plan| plan.clock_skew_ms.clear()),
            ("no buggify", |plan| plan.buggify = false),
            ("a default LAN latency", |plan| plan.network.latency = NetworkFaults::default().latency),
        ];
        let mut all = self.plan().clone();
        for (_, change) in &changes {
            change(&mut all);
        }
        if all != *self.plan() && self.attempt(self.with_plan(all), || "no standing faults at all".to_owned()) {
            return;
        }
        for (what, change) in changes {
            let mut plan = self.plan().clone();
            change(&mut plan);
            if plan != *self.plan() {
                self.attempt(self.with_plan(plan), || what.to_owned());
            }
        }
    }

    fn shorter_windows(&mut self) {
        let mut group = 0;
        while !self.exhausted() {
            let groups = windows(self.plan());
            let Some(window) = groups.get(group) else { break };
            if let [start, end] = window[..] {
                let (start_ms, end_ms) = (self.plan().events[start].at_ms, self.plan().events[end].at_ms);
                let length = end_ms - start_ms;
                if length >= 2 {
                    let shorter = start_ms + length / 2;
                    let mut plan = self.plan().clone();
                    plan.events[end].at_ms = shorter;
                    // Keep the schedule in time order; the stable sort keeps simultaneous faults as they were.
                    plan.events.sort_by_key(|event| event.at_ms);
                    let fault =
                        plan.events.iter().find(|event| event.at_ms == start_ms).map(|event| event.fault.to_string());
                    let what = || format!("{} lasts {}ms instead of {length}ms", fault.unwrap_or_default(), length / 2);
                    if self.attempt(self.with_plan(plan), what) {
                        continue; // try halving the same window again
                    }
                }
            }
            group += 1;
        }
    }

    /// Moves the whole schedule, the heal included, towards time zero.
    fn earlier(&mut self) {
        let original = self.plan().clone();
        let Some(first_ms) = original.events.first().map(|event| event.at_ms) else { return };
        let shifted = |by_ms: u64| {
            let mut plan = original.clone();
            for event in &mut plan.events {
                event.at_ms -= by_ms;
            }
            plan.heal_at_ms -= by_ms;
            plan
        };
        if first_ms == 0 {
            return;
        }
        let what = |by_ms: u64| move || format!("every fault {by_ms}ms earlier (the first at {}ms)", first_ms - by_ms);
        if self.attempt(self.with_plan(shifted(first_ms)), what(first_ms)) {
            return;
        }
        // The largest shift that still fails, roughly.
        let (mut good, mut bad) = (0, first_ms);
        while bad - good > (first_ms / 20).max(20) && !self.exhausted() {
            let middle = good + (bad - good) / 2;
            if self.attempt(self.with_plan(shifted(middle)), what(middle)) {
                good = middle;
            } else {
                bad = middle;
            }
        }
    }

    /// Only the clients the first violation's evidence cites issue operations.
    fn evidence_clients(&mut self) {
        let (Some(clients), Some(first)) = (self.options.clients, self.best.first_violation()) else { return };
        // The clients made after the heal (the probe, the final reads) come after the workload's.
        let cited: Vec<u32> = first
            .involved
            .clients
            .iter()
            .filter_map(|client| u32::try_from(*client).ok())
            .filter(|client| *client < clients)
            .collect();
        let issuing = self.options.only_clients.as_ref().map_or(clients as usize, Vec::len);
        if cited.is_empty() || cited.len() >= issuing {
            return;
        }
        let names: Vec<String> = cited.iter().map(ToString::to_string).collect();
        let what = || format!("only client(s) {} of {clients}, the ones the evidence cites", names.join(", "));
        self.attempt(RunOptions { only_clients: Some(cited.clone()), ..self.options.clone() }, what);
    }

    fn smaller_workload(&mut self) {
        // With some clients idle, fewer clients would only idle the cited ones.
        if let (Some(clients), None) = (self.options.clients, &self.options.only_clients) {
            self.bisect(u64::from(clients), "clients", |options, count| {
                options.clients = Some(u32::try_from(count).unwrap_or(u32::MAX));
            });
        }
        if let Some(operations) = self.options.operations {
            self.bisect(operations, "operations", |options, count| options.operations = Some(count));
        }
    }

    /// Bisects a workload knob (`what`, which `set` sets) from `current` down to the smallest count
    /// that still fails; each count that fails is kept (by [`Shrinker::attempt`]) as it is found.
    fn bisect(&mut self, current: u64, what: &str, set: impl Fn(&mut RunOptions, u64)) {
        let (mut low, mut high) = (1, current);
        while low < high && !self.exhausted() {
            let middle = low + (high - low) / 2;
            let mut candidate = self.options.clone();
            set(&mut candidate, middle);
            let from = high;
            if self.attempt(candidate, || format!("{middle} {what} instead of {from}")) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
    }
}

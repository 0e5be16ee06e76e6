//! Shrinking: from a failing run, find a smaller run that still fails the same checker in the same
//! way, and save it as a replay file.
//!
//! Every step only simplifies, so shrinking ends; a candidate is kept when its first violation has the
//! same checker and kind as the original's. Within a round, in this order:
//!
//! 1. **End the safety phase early**: heal everything just after the first violation (dropping the
//!    faults scheduled after it), else search for the earliest heal that still fails.
//! 2. **Fewer nodes**, down to the scenario's smallest cluster: the first nodes, or the nodes the
//!    failure and the remaining faults involve, renumbered in order; faults on removed nodes go, and
//!    partitions keep only the remaining nodes.
//! 3. **Fewer faults**: fault windows (a crash and its restart, a partition and its heal, ...) are
//!    removed in halves, quarters, ... and one at a time (delta debugging).
//! 4. **Calmer network and disks**: standing faults (loss, duplication, reordering, corruption,
//!    latency tails, slow links, disk faults, clock skew, buggify) are switched off, all at once, then
//!    one by one.
//! 5. **Shorter fault windows**: each remaining window's end moves towards its start by halves.
//! 6. **Earlier faults**: the whole schedule, heal included, moves towards time zero.
//! 7. **Fewer clients and operations**, for scenarios that honour those knobs.
//!
//! Rounds repeat until one changes nothing or the run budget is spent.

use crate::registry::Scenario;
use crate::replay::{ReplayFile, RunSize};
use crate::report::{FailureKind, RunOptions, RunReport};
use crate::sweep::run_guarded;
use pangea_sim::{Fault, FaultPlan, NetworkFaults, Partition, TimedFault};
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
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions { runs_max: 2_000, rounds_max: 8 }
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
    let run_options = RunOptions { keep_trace: false, ..options.clone() };
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
        ..RunOptions::default()
    };
    let mut shrinker = Shrinker {
        scenario,
        signature,
        limits,
        runs: 0,
        options: pinned,
        best: original.clone(),
        steps: Vec::new(),
        on_step,
    };
    for _ in 0..limits.rounds_max {
        let before = shrinker.steps.len();
        shrinker.end_early();
        shrinker.fewer_nodes();
        shrinker.fewer_faults();
        shrinker.calmer();
        shrinker.shorter_windows();
        shrinker.earlier();
        shrinker.smaller_workload();
        if shrinker.steps.len() == before || shrinker.exhausted() {
            break;
        }
    }
    // Knobs equal to the scenario's defaults need not be spelled out.
    let mut options = shrinker.options.clone();
    if options.clients == workload.clients {
        options.clients = None;
    }
    if options.operations == workload.operations {
        options.operations = None;
    }
    let mut shrunk = shrinker.best.clone();
    shrunk.clients = options.clients;
    shrunk.operations = options.operations;
    Ok(ShrinkOutcome { original, shrunk, options, steps: shrinker.steps, runs: shrinker.runs })
}

struct Shrinker<'a> {
    scenario: &'a dyn Scenario,
    signature: (FailureKind, &'static str),
    limits: ShrinkOptions,
    runs: u32,
    options: RunOptions,
    best: RunReport,
    steps: Vec<ShrinkStep>,
    on_step: &'a mut dyn FnMut(&ShrinkStep),
}

impl Shrinker<'_> {
    fn exhausted(&self) -> bool {
        self.runs >= self.limits.runs_max
    }

    fn plan(&self) -> &FaultPlan {
        self.options.plan.as_ref().expect("candidates pin their plan")
    }

    fn nodes(&self) -> u32 {
        self.options.nodes.expect("candidates pin their node count")
    }

    /// Runs `candidate`; keeps it if it fails the same way.
    fn attempt(&mut self, candidate: RunOptions, what: impl FnOnce() -> String) -> bool {
        if self.exhausted() {
            return false;
        }
        let (Some(plan), Some(nodes)) = (&candidate.plan, candidate.nodes) else { return false };
        if plan.validate(nodes).is_err() {
            return false;
        }
        self.runs += 1;
        let Ok(report) = run_guarded(self.scenario, &candidate) else { return false };
        let same = report.first_violation().is_some_and(|first| (first.kind, first.checker) == self.signature);
        if !same {
            return false;
        }
        let step = ShrinkStep { what: what(), size: RunSize::of(&report) };
        (self.on_step)(&step);
        self.steps.push(step);
        self.options = candidate;
        self.best = report;
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
        while high - low > (high / 50).max(50) && !self.exhausted() {
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

    fn smaller_workload(&mut self) {
        if let Some(clients) = self.options.clients {
            let (mut low, mut high) = (1, clients);
            while low < high && !self.exhausted() {
                let middle = low + (high - low) / 2;
                let candidate = RunOptions { clients: Some(middle), ..self.options.clone() };
                let from = high;
                if self.attempt(candidate, || format!("{middle} clients instead of {from}")) {
                    high = middle;
                } else {
                    low = middle + 1;
                }
            }
        }
        if let Some(operations) = self.options.operations {
            let (mut low, mut high) = (1, operations);
            while low < high && !self.exhausted() {
                let middle = low + (high - low) / 2;
                let candidate = RunOptions { operations: Some(middle), ..self.options.clone() };
                let from = high;
                if self.attempt(candidate, || format!("{middle} operations instead of {from}")) {
                    high = middle;
                } else {
                    low = middle + 1;
                }
            }
        }
    }
}

/// `plan` with everything healed at `heal_at_ms`: faults scheduled from then on are dropped.
#[must_use]
pub fn truncated(plan: &FaultPlan, heal_at_ms: u64) -> FaultPlan {
    let mut plan = plan.clone();
    plan.heal_at_ms = heal_at_ms.min(plan.heal_at_ms);
    let heal_at_ms = plan.heal_at_ms;
    plan.events.retain(|event| event.at_ms < heal_at_ms);
    plan
}

/// The fault windows of `plan`: indices of each fault that starts a window, with the fault that
/// ends it if there is one (a crash and its restart, a partition and the next heal, ...). Faults that
/// end nothing are windows of their own.
#[must_use]
pub fn windows(plan: &FaultPlan) -> Vec<Vec<usize>> {
    let events = &plan.events;
    let mut used = vec![false; events.len()];
    let mut groups = Vec::new();
    for index in 0..events.len() {
        if used[index] {
            continue;
        }
        used[index] = true;
        let ends = |candidate: &TimedFault| -> bool {
            match (&events[index].fault, &candidate.fault) {
                (Fault::Partition { .. }, Fault::Heal) => true,
                (Fault::Crash { node }, Fault::Restart { node: other })
                | (Fault::Pause { node }, Fault::Resume { node: other })
                | (Fault::DiskFull { node }, Fault::DiskFreed { node: other }) => node == other,
                (Fault::Slow { node, handler_extra_us }, Fault::Slow { node: other, handler_extra_us: 0 }) => {
                    *handler_extra_us > 0 && node == other
                }
                (Fault::ClockJump { node, by_ms }, Fault::ClockJump { node: other, by_ms: back }) => {
                    node == other && *back == -*by_ms
                }
                _ => false,
            }
        };
        // A new partition replaces the current one: a partition's window also ends at the next one.
        let stops = |candidate: &TimedFault| {
            matches!((&events[index].fault, &candidate.fault), (Fault::Partition { .. }, Fault::Partition { .. }))
        };
        let mut group = vec![index];
        for later in index + 1..events.len() {
            if used[later] {
                continue;
            }
            if ends(&events[later]) {
                used[later] = true;
                group.push(later);
                break;
            }
            if stops(&events[later]) {
                break;
            }
        }
        groups.push(group);
    }
    groups
}

/// `plan` for a cluster of only the first `nodes` nodes; see [`remapped`].
#[must_use]
pub fn for_nodes(plan: &FaultPlan, nodes: u32) -> Option<FaultPlan> {
    let largest = plan
        .events
        .iter()
        .filter_map(|event| event.fault.node())
        .chain(plan.network.links.iter().flat_map(|link| [link.from, link.to]))
        .max()
        .unwrap_or(0)
        .max(nodes)
        .max(plan.clock_skew_ms.len() as u32);
    let mapping: Vec<Option<u32>> = (0..=largest).map(|node| (node < nodes).then_some(node)).collect();
    remapped(plan, &mapping, nodes)
}

/// `plan` for a cluster of `nodes` nodes, where old node `i` becomes `mapping[i]` (or goes, if
/// `None`): faults on removed nodes go, partitions keep the remaining nodes (or go, if they no longer
/// cut anything), slow links and clock skews follow their nodes. Nodes past the end of `mapping`
/// go. `None` if the result is not a valid plan for `nodes` nodes.
#[must_use]
pub fn remapped(plan: &FaultPlan, mapping: &[Option<u32>], nodes: u32) -> Option<FaultPlan> {
    let map = |node: u32| mapping.get(node as usize).copied().flatten();
    let keep = |list: &[u32]| -> Vec<u32> { list.iter().filter_map(|node| map(*node)).collect() };
    let mut smaller = plan.clone();
    smaller.network.links = plan
        .network
        .links
        .iter()
        .filter_map(|link| {
            Some(pangea_sim::plan::LinkLatency { from: map(link.from)?, to: map(link.to)?, latency: link.latency })
        })
        .collect();
    if !plan.clock_skew_ms.is_empty() {
        let mut skews = vec![0; nodes as usize];
        for (old, skew) in plan.clock_skew_ms.iter().enumerate() {
            if let Some(new) = map(old as u32) {
                skews[new as usize] = *skew;
            }
        }
        smaller.clock_skew_ms = skews;
    }
    smaller.events = plan
        .events
        .iter()
        .filter_map(|event| {
            let fault = match &event.fault {
                Fault::Partition { partition } => {
                    let both = |left: Vec<u32>, right: Vec<u32>| {
                        (!left.is_empty() && !right.is_empty()).then_some((left, right))
                    };
                    let partition = match partition {
                        Partition::Isolate { node } => map(*node).map(|node| Partition::Isolate { node }),
                        Partition::Halves { left, right } => {
                            both(keep(left), keep(right)).map(|(left, right)| Partition::Halves { left, right })
                        }
                        Partition::MajorityMinority { majority, minority } => both(keep(majority), keep(minority))
                            .map(|(majority, minority)| Partition::MajorityMinority { majority, minority }),
                        Partition::Bridge { left, right, bridge } => {
                            both(keep(left), keep(right)).map(|(left, right)| match map(*bridge) {
                                Some(bridge) => Partition::Bridge { left, right, bridge },
                                None => Partition::Halves { left, right },
                            })
                        }
                        Partition::Ring { order } => {
                            let order = keep(order);
                            (order.len() >= 4).then_some(Partition::Ring { order })
                        }
                        Partition::OneWay { from, to } => {
                            both(keep(from), keep(to)).map(|(from, to)| Partition::OneWay { from, to })
                        }
                    }?;
                    Fault::Partition { partition }
                }
                Fault::Crash { node } => Fault::Crash { node: map(*node)? },
                Fault::Restart { node } => Fault::Restart { node: map(*node)? },
                Fault::Pause { node } => Fault::Pause { node: map(*node)? },
                Fault::Resume { node } => Fault::Resume { node: map(*node)? },
                Fault::Slow { node, handler_extra_us } => {
                    Fault::Slow { node: map(*node)?, handler_extra_us: *handler_extra_us }
                }
                Fault::ClockJump { node, by_ms } => Fault::ClockJump { node: map(*node)?, by_ms: *by_ms },
                Fault::DiskFull { node } => Fault::DiskFull { node: map(*node)? },
                Fault::DiskFreed { node } => Fault::DiskFreed { node: map(*node)? },
                Fault::Heal | Fault::HealAll => event.fault.clone(),
            };
            Some(TimedFault { at_ms: event.at_ms, fault })
        })
        .collect();
    smaller.validate(nodes).is_ok().then_some(smaller)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, Violation};
    use pangea_core::{Duration, Instant};

    /// A toy scenario that "fails" whenever its plan crashes node 1 for at least 300ms before 20s
    /// (whatever else happens), so that shrinking can be checked without a planted bug.
    struct Toy;

    impl Scenario for Toy {
        fn name(&self) -> &'static str {
            "toy"
        }
        fn description(&self) -> &'static str {
            "fails when n1 is crashed long enough"
        }
        fn default_nodes(&self) -> u32 {
            5
        }
        fn nodes_range(&self) -> (u32, u32) {
            (2, 9)
        }
        fn faults(&self) -> &'static str {
            "swarm"
        }
        fn plan(&self, seed: u64, nodes: u32) -> FaultPlan {
            let mut plan = FaultPlan::swarm(seed, nodes, Duration::from_secs(60));
            // Make sure there is something to find.
            plan.events.push(TimedFault { at_ms: 5_000, fault: Fault::Crash { node: 1 } });
            plan.events.push(TimedFault { at_ms: 9_000, fault: Fault::Restart { node: 1 } });
            plan.events.sort_by_key(|event| event.at_ms);
            plan
        }
        fn planted_bugs(&self) -> Vec<&'static str> {
            Vec::new()
        }
        fn workload_knobs(&self) -> crate::registry::WorkloadKnobs {
            crate::registry::WorkloadKnobs { clients: Some(8), operations: Some(1_000) }
        }
        fn run(&self, options: &RunOptions) -> Result<RunReport, crate::error::ScenarioError> {
            let nodes = options.nodes.unwrap_or(5);
            let plan = options.plan.clone().unwrap_or_else(|| self.plan(options.seed, nodes));
            let windows = windows(&plan);
            let crashed = windows.iter().find(|group| {
                matches!(plan.events[group[0]].fault, Fault::Crash { node: 1 })
                    && plan.events[group[0]].at_ms < 20_000
                    && group.get(1).map_or(plan.heal_at_ms, |end| plan.events[*end].at_ms) - plan.events[group[0]].at_ms
                        >= 300
            });
            // Size grows with everything the shrinker should remove.
            let size = u64::from(nodes) * 100
                + plan.heal_at_ms / 10
                + plan.events.len() as u64 * 50
                + u64::from(options.clients.unwrap_or(8)) * 10
                + options.operations.unwrap_or(1_000) / 10
                + u64::from(plan.network.drop_ppm > 0) * 500;
            let violations = crashed
                .map(|group| Violation {
                    checker: "toy",
                    kind: FailureKind::Correctness,
                    at: Instant::from_nanos((plan.events[group[0]].at_ms + 300) * 1_000_000),
                    node: Some(1),
                    message: "n1 was down".into(),
                })
                .into_iter()
                .collect();
            let at_least_three_clients = options.clients.unwrap_or(8) >= 3;
            Ok(RunReport {
                scenario: "toy".into(),
                seed: options.seed,
                nodes,
                outcome: if at_least_three_clients { Outcome::from_violations(violations) } else { Outcome::Pass },
                trace_len: size,
                plan,
                ..RunReport::default()
            })
        }
    }

    #[test]
    fn shrinking_keeps_the_failure_and_removes_the_rest() {
        let outcome = shrink(&Toy, &RunOptions::seed(11), ShrinkOptions::default(), &mut |_| {}).unwrap();
        let plan = outcome.options.plan.as_ref().unwrap();
        assert_eq!(outcome.shrunk.nodes, 2, "{:?}", outcome.steps);
        assert_eq!(plan.events.len(), 1, "only the crash is left: {plan}");
        assert_eq!(plan.events[0].fault, Fault::Crash { node: 1 });
        assert!(plan.heal_at_ms <= 5_301, "{plan}");
        assert_eq!(plan.network.drop_ppm, 0);
        assert_eq!(outcome.options.clients, Some(3));
        assert_eq!(outcome.options.operations, Some(1));
        assert!(outcome.ratio() < 0.25, "{} -> {}", outcome.original.trace_len, outcome.shrunk.trace_len);
        assert!(outcome.replay_file().shrunk_from.is_some());
        // Shrinking is deterministic.
        let again = shrink(&Toy, &RunOptions::seed(11), ShrinkOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(again.options.plan, outcome.options.plan);
    }

    #[test]
    fn a_passing_run_cannot_be_shrunk() {
        let health = crate::find("health").unwrap();
        let error = shrink(health, &RunOptions::seed(1), ShrinkOptions::default(), &mut |_| {}).unwrap_err();
        assert!(matches!(error, ShrinkError::Passes { .. }), "{error}");
    }

    #[test]
    fn plans_shrink_to_fewer_nodes_and_pair_their_windows() {
        for seed in 0..40 {
            let plan = FaultPlan::swarm(seed, 7, Duration::from_secs(60));
            for nodes in 2..7 {
                if let Some(smaller) = for_nodes(&plan, nodes) {
                    assert_eq!(smaller.validate(nodes), Ok(()));
                }
            }
            // Keep n0 and n6 only, as n0 and n1.
            let mut mapping = vec![None; 7];
            mapping[0] = Some(0);
            mapping[6] = Some(1);
            if let Some(pair) = remapped(&plan, &mapping, 2) {
                assert_eq!(pair.validate(2), Ok(()));
                let from_six = plan.events.iter().filter(|event| event.fault.node() == Some(6)).count();
                let on_one = pair.events.iter().filter(|event| event.fault.node() == Some(1)).count();
                assert_eq!(from_six, on_one, "n6's faults become n1's");
            }
            let groups = windows(&plan);
            let mut all: Vec<usize> = groups.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..plan.events.len()).collect::<Vec<_>>(), "every event in exactly one window");
            let truncated = truncated(&plan, 10_000);
            assert!(truncated.events.iter().all(|event| event.at_ms < 10_000));
            assert_eq!(truncated.validate(7), Ok(()));
        }
    }
}

//! Fault plans made smaller: cut at a heal, split into windows, fitted to fewer nodes.

use pangea_sim::{Fault, FaultPlan, Partition, TimedFault};

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

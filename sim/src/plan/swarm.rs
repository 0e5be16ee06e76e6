//! The swarm draw: a fault plan drawn from a seed, each kind of fault enabled or not at rates of its
//! own (swarm testing), restricted to what a scenario's [`SwarmProfile`] allows.

use super::{Fault, FaultPlan, Latency, LinkLatency, NODE_FAULT_KINDS, NodeFaultKind, Partition, TimedFault};
use crate::rng::SeedStreams;
use pangea_core::Duration;
use pangea_core::random::{below, chance};
use rand_core::Rng;

/// Which kinds of fault a swarm draw may use (see [`FaultPlan::swarm_with`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmProfile {
    /// Partitions of every shape.
    pub partitions: bool,
    /// Timed node faults allowed. When the draw enables none of them, it takes them all, and then
    /// their order matters: it picks from them by index.
    pub node_faults: &'static [NodeFaultKind],
    /// Standing network faults: loss, duplication, reordering, corruption, slow links.
    pub network: bool,
    /// Standing disk faults: torn writes, I/O errors on reads, writes and syncs, slow syncs.
    pub disk: bool,
    /// Bit rot on reads. Off where a node's only copy of essential state would rot (an acceptor's
    /// promise cannot be recovered from anywhere else).
    pub disk_rot: bool,
    /// Wall-clock skew.
    pub clock_skew: bool,
    /// Buggify fault points.
    pub buggify: bool,
}

impl SwarmProfile {
    /// Every kind of fault.
    pub const ALL: SwarmProfile = SwarmProfile {
        partitions: true,
        node_faults: &NODE_FAULT_KINDS,
        network: true,
        disk: true,
        disk_rot: true,
        clock_skew: true,
        buggify: true,
    };
}

impl FaultPlan {
    /// A plan drawn from `seed` for `nodes` nodes with a safety phase of `safety`: each kind of fault
    /// is enabled or not, at rates of its own (swarm testing). The draw uses the seed's `"plan"`
    /// stream only, so the workload's and the nodes' draws do not depend on it.
    #[must_use]
    pub fn swarm(seed: u64, nodes: u32, safety: Duration) -> FaultPlan {
        FaultPlan::swarm_with(seed, nodes, safety, &SwarmProfile::ALL)
    }

    /// Like [`FaultPlan::swarm`], restricted to the kinds of fault `profile` allows. The random draws
    /// are the same whatever the profile (disallowed faults are drawn, then dropped), so a seed's
    /// timing stays comparable across profiles; a profile that allows node faults gets at least one
    /// kind of them.
    #[must_use]
    pub fn swarm_with(seed: u64, nodes: u32, safety: Duration, profile: &SwarmProfile) -> FaultPlan {
        let plan = FaultPlan::swarm_draw(seed, nodes, safety, profile);
        let mut plan = plan;
        if !profile.network {
            plan.network.links.clear();
            plan.network.drop_ppm = 0;
            plan.network.duplicate_ppm = 0;
            plan.network.reorder_ppm = 0;
            plan.network.corrupt_ppm = 0;
        }
        if profile.disk {
            // Drawn from a stream of their own, so the draws above stay those of earlier versions.
            let mut rng = SeedStreams::new(seed).stream("plan.disk-errors");
            let rng: &mut dyn Rng = &mut rng;
            if chance(rng, 1, 2) {
                plan.disk.write_error_ppm = below(rng, 2_001) as u32;
            }
            if chance(rng, 1, 2) {
                plan.disk.sync_error_ppm = below(rng, 5_001) as u32;
            }
        } else {
            let rot = plan.disk.read_corrupt_ppm;
            plan.disk.stop_errors();
            plan.disk.read_corrupt_ppm = rot;
            plan.disk.torn_writes = false;
            plan.disk.sync_latency.tail_ppm = 0;
        }
        if !profile.disk_rot {
            plan.disk.read_corrupt_ppm = 0;
        }
        if !profile.clock_skew {
            plan.clock_skew_ms.clear();
        }
        if !profile.buggify {
            plan.buggify = false;
        }
        plan
    }

    fn swarm_draw(seed: u64, nodes: u32, safety: Duration, profile: &SwarmProfile) -> FaultPlan {
        let mut rng = SeedStreams::new(seed).stream("plan");
        let rng: &mut dyn Rng = &mut rng;
        let heal_at_ms = u64::try_from(safety.as_millis()).unwrap_or(u64::MAX);
        let mut plan = FaultPlan::none(heal_at_ms);
        let half = |rng: &mut dyn Rng| chance(rng, 1, 2);
        let two_thirds = |rng: &mut dyn Rng| chance(rng, 2, 3);
        let ppm_up_to = |rng: &mut dyn Rng, max: u32| below(rng, u64::from(max) + 1) as u32;

        // Network: latency always drawn; each standing fault on or off.
        plan.network.latency = Latency {
            min_us: 100 + below(rng, 2_000),
            jitter_us: below(rng, 5_000),
            tail_ppm: if half(rng) { ppm_up_to(rng, 50_000) } else { 0 },
            tail_us: 10_000 + below(rng, 90_000),
        };
        if half(rng) {
            for _ in 0..1 + below(rng, 3) {
                let from = below(rng, u64::from(nodes)) as u32;
                let to = below(rng, u64::from(nodes)) as u32;
                if from != to {
                    let min_us = 5_000 + below(rng, 50_000);
                    plan.network.links.push(LinkLatency {
                        from,
                        to,
                        latency: Latency { min_us, jitter_us: min_us / 2, tail_ppm: 0, tail_us: 0 },
                    });
                }
            }
        }
        if half(rng) {
            plan.network.drop_ppm = ppm_up_to(rng, 200_000);
        }
        if half(rng) {
            plan.network.duplicate_ppm = ppm_up_to(rng, 50_000);
        }
        if half(rng) {
            plan.network.reorder_ppm = ppm_up_to(rng, 50_000);
            plan.network.reorder_delay_us = 1_000 + below(rng, 300_000);
        }
        if half(rng) {
            plan.network.corrupt_ppm = ppm_up_to(rng, 20_000);
        }

        // Disks.
        plan.disk.sync_latency = Latency {
            min_us: 20 + below(rng, 500),
            jitter_us: below(rng, 2_000),
            tail_ppm: if half(rng) { ppm_up_to(rng, 100_000) } else { 0 },
            tail_us: 1_000 + below(rng, 100_000),
        };
        plan.disk.torn_writes = half(rng);
        if half(rng) {
            plan.disk.read_corrupt_ppm = ppm_up_to(rng, 10_000);
        }
        if half(rng) {
            plan.disk.read_error_ppm = ppm_up_to(rng, 10_000);
        }

        // Clocks and fault points.
        if half(rng) {
            plan.clock_skew_ms = (0..nodes).map(|_| below(rng, 10_001) as i64 - 5_000).collect();
        }
        plan.buggify = half(rng);

        // Timed faults: one timeline of partitions, and node-fault timelines (two for five or more
        // nodes, so that two nodes can be down at once).
        let partitions = two_thirds(rng) && profile.partitions;
        let mut node_kinds: Vec<NodeFaultKind> = NODE_FAULT_KINDS
            .into_iter()
            .filter(|_| two_thirds(rng))
            .filter(|kind| profile.node_faults.contains(kind))
            .collect();
        if node_kinds.is_empty() {
            node_kinds = profile.node_faults.to_vec();
        }
        let window = |rng: &mut dyn Rng| (1_000 + below(rng, 19_000), 500 + below(rng, 8_000));
        if partitions && nodes >= 2 {
            let mut at = 500 + below(rng, 5_000);
            loop {
                let (length, gap) = window(rng);
                if at + length >= heal_at_ms {
                    break;
                }
                let partition = draw_partition(rng, nodes);
                plan.events.push(TimedFault { at_ms: at, fault: Fault::Partition { partition } });
                plan.events.push(TimedFault { at_ms: at + length, fault: Fault::Heal });
                at += length + gap;
            }
        }
        if !node_kinds.is_empty() {
            let timelines = if nodes >= 5 { 2 } else { 1 };
            for _ in 0..timelines {
                let mut at = 500 + below(rng, 5_000);
                loop {
                    let (length, gap) = window(rng);
                    if at + length >= heal_at_ms {
                        break;
                    }
                    let node = below(rng, u64::from(nodes)) as u32;
                    let kind = node_kinds[below(rng, node_kinds.len() as u64) as usize];
                    let (start, end) = match kind {
                        NodeFaultKind::Crash => (Fault::Crash { node }, Fault::Restart { node }),
                        NodeFaultKind::Pause => (Fault::Pause { node }, Fault::Resume { node }),
                        NodeFaultKind::Slow => (
                            Fault::Slow { node, handler_extra_us: 1_000 + below(rng, 50_000) },
                            Fault::Slow { node, handler_extra_us: 0 },
                        ),
                        NodeFaultKind::ClockJump => {
                            let by_ms = below(rng, 120_001) as i64 - 60_000;
                            (Fault::ClockJump { node, by_ms }, Fault::ClockJump { node, by_ms: -by_ms })
                        }
                        NodeFaultKind::DiskFull => (Fault::DiskFull { node }, Fault::DiskFreed { node }),
                    };
                    plan.events.push(TimedFault { at_ms: at, fault: start });
                    plan.events.push(TimedFault { at_ms: at + length, fault: end });
                    at += length + gap;
                }
            }
        }
        // Stable sort: simultaneous faults keep the order they were drawn in.
        plan.events.sort_by_key(|event| event.at_ms);
        // Drawn last, so that adding it changed no earlier draw of any seed.
        if profile.node_faults.contains(&NodeFaultKind::Crash) && half(rng) {
            plan.crash_after_sync_ppm = 1 + ppm_up_to(rng, 50_000);
        }
        plan
    }
}

/// A partition of `nodes` nodes of a shape drawn from `rng`: one node isolated, halves, majority
/// and minority, a bridge, a ring, or one-way links.
pub fn draw_partition(rng: &mut dyn Rng, nodes: u32) -> Partition {
    let mut order: Vec<u32> = (0..nodes).collect();
    for index in (1..order.len()).rev() {
        let other = below(rng, index as u64 + 1) as usize;
        order.swap(index, other);
    }
    let node = order[0];
    let split = |cut: usize, order: &[u32]| (order[..cut].to_vec(), order[cut..].to_vec());
    match below(rng, 6) {
        0 => Partition::Isolate { node },
        1 => {
            let (left, right) = split(order.len() / 2, &order);
            Partition::Halves { left, right }
        }
        2 => {
            let (minority, majority) = split((order.len() - 1) / 2, &order);
            if minority.is_empty() {
                Partition::Isolate { node }
            } else {
                Partition::MajorityMinority { majority, minority }
            }
        }
        3 if nodes >= 3 => {
            let bridge = order[0];
            let rest = &order[1..];
            let (left, right) = split(rest.len() / 2, rest);
            Partition::Bridge { left, right, bridge }
        }
        4 if nodes >= 4 => Partition::Ring { order },
        _ => {
            let cut = 1 + below(rng, u64::from(nodes - 1)) as usize;
            let (from, to) = split(cut, &order);
            Partition::OneWay { from, to }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::TIMED_FAULT_KINDS;

    #[test]
    fn swarm_plans_are_deterministic_valid_and_varied() {
        let safety = Duration::from_secs(60);
        assert_eq!(FaultPlan::swarm(7, 5, safety), FaultPlan::swarm(7, 5, safety));
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let plan = FaultPlan::swarm(seed, 5, safety);
            assert!(plan.events.windows(2).all(|pair| pair[0].at_ms <= pair[1].at_ms));
            assert!(plan.events.iter().all(|event| event.at_ms < plan.heal_at_ms));
            for event in &plan.events {
                kinds.insert(event.fault.kind_name());
            }
            let json = serde_json::to_string(&plan).unwrap();
            assert_eq!(serde_json::from_str::<FaultPlan>(&json).unwrap(), plan);
        }
        for kind in TIMED_FAULT_KINDS {
            assert!(kinds.contains(kind), "200 swarm plans never drew {kind}");
        }
    }
}

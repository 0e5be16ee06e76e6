//! Validation of a plan written or edited by hand against the cluster it is to run on, and the
//! errors it reports.

use super::{Fault, FaultPlan, PPM, Partition};
use std::fmt;
use thiserror::Error;

/// The longest a plan may make anything take, in microseconds (an hour): each part of a latency (its
/// minimum, jitter and tail), the reordering delay and a slow node's extra time per input. Draws add
/// these parts up, so a plan edited to hold numbers near `u64::MAX` would overflow them.
pub const DELAY_US_MAX: u64 = 3_600_000_000;

/// Why a plan cannot run on a cluster: the first problem [`FaultPlan::validate`] found.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FaultPlanError {
    /// A probability over one.
    #[error("{field} is {ppm}, over {PPM} (parts per million)")]
    RateOverOne {
        /// The plan's field, as the JSON names it (`network.drop_ppm`).
        field: &'static str,
        /// Its value.
        ppm: u32,
    },
    /// A node index the cluster does not have.
    #[error("{mention} names node n{node}, but the cluster has {nodes} nodes")]
    NoSuchNode {
        /// What names it.
        mention: NodeMention,
        /// The index.
        node: u32,
        /// How many nodes the cluster has.
        nodes: u32,
    },
    /// More clock skews than nodes.
    #[error("clock_skew_ms has {entries} entries for {nodes} nodes")]
    TooManyClockSkews {
        /// Entries in `clock_skew_ms`.
        entries: usize,
        /// How many nodes the cluster has.
        nodes: u32,
    },
    /// A timed fault scheduled before the one listed ahead of it.
    #[error("timed faults are out of order at {at_ms}ms ('{fault}' comes after a fault at {previous_ms}ms)")]
    OutOfOrder {
        /// The fault out of order.
        fault: Fault,
        /// When it is scheduled, in milliseconds.
        at_ms: u64,
        /// When the fault listed before it is scheduled, in milliseconds.
        previous_ms: u64,
    },
    /// A timed fault at or after the heal.
    #[error("'{fault}' at {at_ms}ms is not before heal_at_ms ({heal_at_ms}ms)")]
    NotBeforeHeal {
        /// The fault.
        fault: Fault,
        /// When it is scheduled, in milliseconds.
        at_ms: u64,
        /// When the plan heals, in milliseconds.
        heal_at_ms: u64,
    },
    /// A delay longer than [`DELAY_US_MAX`].
    #[error("{field} is {us}us, over the limit of {DELAY_US_MAX}us")]
    DelayTooLong {
        /// The plan's field, as the JSON names it (`network.latency.min_us`).
        field: String,
        /// Its value, in microseconds.
        us: u64,
    },
    /// The end of the safety phase among the timed faults.
    #[error("HealAll (at {at_ms}ms) is not a timed fault: set heal_at_ms instead")]
    HealAllScheduled {
        /// When it is scheduled, in milliseconds.
        at_ms: u64,
    },
}

/// What in a plan names a node (see [`FaultPlanError::NoSuchNode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeMention {
    /// A per-link latency override.
    LinkLatency {
        /// Sending node.
        from: u32,
        /// Receiving node.
        to: u32,
    },
    /// A timed fault.
    TimedFault {
        /// The fault.
        fault: Fault,
        /// When it is scheduled, in milliseconds.
        at_ms: u64,
    },
}

impl fmt::Display for NodeMention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeMention::LinkLatency { from, to } => write!(f, "the link latency n{from} -> n{to}"),
            NodeMention::TimedFault { fault, at_ms } => write!(f, "'{fault}' at {at_ms}ms"),
        }
    }
}

impl FaultPlan {
    /// Checks a plan written or edited by hand against a cluster of `nodes` nodes: every node index
    /// exists, timed faults are in time order and come before the heal, rates are probabilities.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self, nodes: u32) -> Result<(), FaultPlanError> {
        let in_range = |node: u32, mention: &dyn Fn() -> NodeMention| {
            if node < nodes { Ok(()) } else { Err(FaultPlanError::NoSuchNode { mention: mention(), node, nodes }) }
        };
        for (field, ppm) in [
            ("network.drop_ppm", self.network.drop_ppm),
            ("network.duplicate_ppm", self.network.duplicate_ppm),
            ("network.reorder_ppm", self.network.reorder_ppm),
            ("network.corrupt_ppm", self.network.corrupt_ppm),
            ("network.latency.tail_ppm", self.network.latency.tail_ppm),
            ("disk.read_corrupt_ppm", self.disk.read_corrupt_ppm),
            ("disk.read_error_ppm", self.disk.read_error_ppm),
            ("disk.write_error_ppm", self.disk.write_error_ppm),
            ("disk.sync_error_ppm", self.disk.sync_error_ppm),
            ("disk.sync_latency.tail_ppm", self.disk.sync_latency.tail_ppm),
            ("crash_after_sync_ppm", self.crash_after_sync_ppm),
        ] {
            if ppm > PPM {
                return Err(FaultPlanError::RateOverOne { field, ppm });
            }
        }
        let mut delays = vec![("network.reorder_delay_us".to_owned(), self.network.reorder_delay_us)];
        let latencies = [("network.latency", &self.network.latency), ("disk.sync_latency", &self.disk.sync_latency)];
        let links = self
            .network
            .links
            .iter()
            .map(|link| (format!("the link latency n{} -> n{}", link.from, link.to), &link.latency));
        for (name, latency) in latencies.into_iter().map(|(name, latency)| (name.to_owned(), latency)).chain(links) {
            for (part, us) in
                [("min_us", latency.min_us), ("jitter_us", latency.jitter_us), ("tail_us", latency.tail_us)]
            {
                delays.push((format!("{name}.{part}"), us));
            }
        }
        for event in &self.events {
            if let Fault::Slow { node, handler_extra_us } = event.fault {
                delays.push((format!("slow n{node} at {}ms: handler_extra_us", event.at_ms), handler_extra_us));
            }
        }
        if let Some((field, us)) = delays.into_iter().find(|(_, us)| *us > DELAY_US_MAX) {
            return Err(FaultPlanError::DelayTooLong { field, us });
        }
        for link in &self.network.links {
            let mention = || NodeMention::LinkLatency { from: link.from, to: link.to };
            in_range(link.from, &mention)?;
            in_range(link.to, &mention)?;
        }
        if self.clock_skew_ms.len() > nodes as usize {
            return Err(FaultPlanError::TooManyClockSkews { entries: self.clock_skew_ms.len(), nodes });
        }
        let mut previous_ms = 0;
        for event in &self.events {
            let at_ms = event.at_ms;
            if at_ms < previous_ms {
                return Err(FaultPlanError::OutOfOrder { fault: event.fault.clone(), at_ms, previous_ms });
            }
            previous_ms = at_ms;
            if at_ms >= self.heal_at_ms {
                return Err(FaultPlanError::NotBeforeHeal {
                    fault: event.fault.clone(),
                    at_ms,
                    heal_at_ms: self.heal_at_ms,
                });
            }
            let mention = || NodeMention::TimedFault { fault: event.fault.clone(), at_ms };
            if let Some(node) = event.fault.node() {
                in_range(node, &mention)?;
            }
            if let Fault::Partition { partition } = &event.fault {
                let mentioned: Vec<u32> = match partition {
                    Partition::Isolate { node } => vec![*node],
                    Partition::Halves { left, right } => left.iter().chain(right).copied().collect(),
                    Partition::MajorityMinority { majority, minority } => {
                        majority.iter().chain(minority).copied().collect()
                    }
                    Partition::Bridge { left, right, bridge } => {
                        left.iter().chain(right).chain([bridge]).copied().collect()
                    }
                    Partition::Ring { order } => order.clone(),
                    Partition::OneWay { from, to } => from.iter().chain(to).copied().collect(),
                };
                for node in mentioned {
                    in_range(node, &mention)?;
                }
            }
            if event.fault == Fault::HealAll {
                return Err(FaultPlanError::HealAllScheduled { at_ms });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::TimedFault;
    use pangea_core::Duration;

    fn refusal(plan: &FaultPlan) -> (FaultPlanError, String) {
        let error = plan.validate(5).unwrap_err();
        let message = error.to_string();
        (error, message)
    }

    #[test]
    fn validate_refuses_what_cannot_run() {
        let safety = Duration::from_secs(60);
        assert_eq!(FaultPlan::swarm(3, 5, safety).validate(5), Ok(()));

        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault { at_ms: 10, fault: Fault::Crash { node: 7 } });
        let (error, message) = refusal(&plan);
        assert!(matches!(error, FaultPlanError::NoSuchNode { node: 7, nodes: 5, .. }), "{error:?}");
        assert_eq!(message, "'crash n7' at 10ms names node n7, but the cluster has 5 nodes");

        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault { at_ms: 2_000, fault: Fault::Heal });
        let (error, message) = refusal(&plan);
        assert!(matches!(error, FaultPlanError::NotBeforeHeal { at_ms: 2_000, heal_at_ms: 1_000, .. }));
        assert_eq!(message, "'heal partition' at 2000ms is not before heal_at_ms (1000ms)");

        let mut plan = FaultPlan::none(1_000);
        plan.network.drop_ppm = 2_000_000;
        let (error, message) = refusal(&plan);
        assert_eq!(error, FaultPlanError::RateOverOne { field: "network.drop_ppm", ppm: 2_000_000 });
        assert_eq!(message, "network.drop_ppm is 2000000, over 1000000 (parts per million)");

        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault {
            at_ms: 10,
            fault: Fault::Partition { partition: Partition::Ring { order: vec![0, 9] } },
        });
        assert!(matches!(refusal(&plan).0, FaultPlanError::NoSuchNode { node: 9, .. }));

        let mut plan = FaultPlan::none(1_000);
        plan.network.links.push(crate::plan::LinkLatency { from: 0, to: 5, latency: crate::plan::Latency::fixed(10) });
        assert_eq!(refusal(&plan).1, "the link latency n0 -> n5 names node n5, but the cluster has 5 nodes");

        let mut plan = FaultPlan::none(1_000);
        plan.clock_skew_ms = vec![0; 6];
        assert_eq!(refusal(&plan).0, FaultPlanError::TooManyClockSkews { entries: 6, nodes: 5 });

        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault { at_ms: 20, fault: Fault::Pause { node: 1 } });
        plan.events.push(TimedFault { at_ms: 10, fault: Fault::Resume { node: 1 } });
        assert_eq!(refusal(&plan).1, "timed faults are out of order at 10ms ('resume n1' comes after a fault at 20ms)");

        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault { at_ms: 10, fault: Fault::HealAll });
        assert_eq!(refusal(&plan).0, FaultPlanError::HealAllScheduled { at_ms: 10 });
    }

    /// Found by the `fault_plans` fuzz target: a latency near `u64::MAX` validated, then overflowed
    /// where the plan was printed and latencies drawn. Every delay is now bounded.
    #[test]
    fn validate_refuses_delays_that_would_overflow() {
        let mut plan = FaultPlan::none(1_000);
        plan.network.latency.min_us = u64::MAX;
        let (error, message) = refusal(&plan);
        assert_eq!(error, FaultPlanError::DelayTooLong { field: "network.latency.min_us".to_owned(), us: u64::MAX });
        assert_eq!(message, format!("network.latency.min_us is {}us, over the limit of 3600000000us", u64::MAX));

        let mut plan = FaultPlan::none(1_000);
        plan.network.reorder_delay_us = DELAY_US_MAX + 1;
        assert!(matches!(refusal(&plan).0, FaultPlanError::DelayTooLong { .. }));
        let mut plan = FaultPlan::none(1_000);
        plan.disk.sync_latency.tail_us = u64::MAX;
        assert!(matches!(refusal(&plan).0, FaultPlanError::DelayTooLong { .. }));
        let mut plan = FaultPlan::none(1_000);
        plan.network.links.push(crate::plan::LinkLatency {
            from: 0,
            to: 1,
            latency: crate::plan::Latency::fixed(u64::MAX),
        });
        assert_eq!(
            refusal(&plan).1,
            format!("the link latency n0 -> n1.min_us is {}us, over the limit of 3600000000us", u64::MAX)
        );
        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault { at_ms: 10, fault: Fault::Slow { node: 1, handler_extra_us: u64::MAX } });
        assert!(matches!(refusal(&plan).0, FaultPlanError::DelayTooLong { .. }));

        // At the limit, every part at once still adds up, draws and prints.
        let mut plan = FaultPlan::none(1_000);
        plan.network.latency = crate::plan::Latency {
            min_us: DELAY_US_MAX,
            jitter_us: DELAY_US_MAX,
            tail_ppm: PPM,
            tail_us: DELAY_US_MAX,
        };
        plan.network.reorder_ppm = 1;
        plan.network.reorder_delay_us = DELAY_US_MAX;
        assert_eq!(plan.validate(5), Ok(()));
        assert_eq!(plan.message_delay_max(), pangea_core::Duration::from_micros(4 * DELAY_US_MAX));
        assert!(!plan.to_string().is_empty());
    }
}

//! Validation of a plan written or edited by hand against the cluster it is to run on.

use super::{Fault, FaultPlan, PPM, Partition};

impl FaultPlan {
    /// Checks a plan written or edited by hand against a cluster of `nodes` nodes: every node index
    /// exists, timed faults are in time order and come before the heal, rates are probabilities.
    ///
    /// # Errors
    /// The first problem found, for a person.
    pub fn validate(&self, nodes: u32) -> Result<(), String> {
        let in_range = |node: u32, what: &str| {
            if node < nodes {
                Ok(())
            } else {
                Err(format!("{what} names node n{node}, but the cluster has {nodes} nodes"))
            }
        };
        for (name, ppm) in [
            ("network.drop_ppm", self.network.drop_ppm),
            ("network.duplicate_ppm", self.network.duplicate_ppm),
            ("network.reorder_ppm", self.network.reorder_ppm),
            ("network.corrupt_ppm", self.network.corrupt_ppm),
            ("network.latency.tail_ppm", self.network.latency.tail_ppm),
            ("disk.read_corrupt_ppm", self.disk.read_corrupt_ppm),
            ("disk.read_error_ppm", self.disk.read_error_ppm),
            ("disk.sync_latency.tail_ppm", self.disk.sync_latency.tail_ppm),
            ("crash_after_sync_ppm", self.crash_after_sync_ppm),
        ] {
            if ppm > PPM {
                return Err(format!("{name} is {ppm}, over {PPM} (parts per million)"));
            }
        }
        for link in &self.network.links {
            in_range(link.from, "a link latency")?;
            in_range(link.to, "a link latency")?;
        }
        if self.clock_skew_ms.len() > nodes as usize {
            return Err(format!("clock_skew_ms has {} entries for {nodes} nodes", self.clock_skew_ms.len()));
        }
        let mut previous = 0;
        for event in &self.events {
            if event.at_ms < previous {
                return Err(format!("timed faults are out of order at {}ms ({})", event.at_ms, event.fault));
            }
            previous = event.at_ms;
            if event.at_ms >= self.heal_at_ms {
                return Err(format!(
                    "'{}' at {}ms is not before heal_at_ms ({}ms)",
                    event.fault, event.at_ms, self.heal_at_ms
                ));
            }
            if let Some(node) = event.fault.node() {
                in_range(node, &format!("'{}'", event.fault))?;
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
                    in_range(node, &format!("'{}'", event.fault))?;
                }
            }
            if event.fault == Fault::HealAll {
                return Err("HealAll is not a timed fault: set heal_at_ms instead".to_owned());
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

    #[test]
    fn validate_refuses_what_cannot_run() {
        let safety = Duration::from_secs(60);
        assert_eq!(FaultPlan::swarm(3, 5, safety).validate(5), Ok(()));
        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault { at_ms: 10, fault: Fault::Crash { node: 7 } });
        assert!(plan.validate(5).unwrap_err().contains("n7"));
        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault { at_ms: 2_000, fault: Fault::Heal });
        assert!(plan.validate(5).unwrap_err().contains("heal_at_ms"));
        let mut plan = FaultPlan::none(1_000);
        plan.network.drop_ppm = 2_000_000;
        assert!(plan.validate(5).is_err());
        let mut plan = FaultPlan::none(1_000);
        plan.events.push(TimedFault {
            at_ms: 10,
            fault: Fault::Partition { partition: Partition::Ring { order: vec![0, 9] } },
        });
        assert!(plan.validate(5).is_err());
    }
}

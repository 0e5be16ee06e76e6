//! `--faults`: keep only some kinds of fault in the plan a seed draws.
//!
//! Names (comma-separated; `none` for a calm run, `all` for the full swarm):
//!
//! | name | what it keeps |
//! | --- | --- |
//! | `partition` | every partition shape (or one: `partition.isolate`, `partition.halves`, `partition.majority_minority`, `partition.bridge`, `partition.ring`, `partition.one_way`) |
//! | `crash`, `pause`, `slow`, `clock_jump`, `disk_full` | those node-fault windows |
//! | `drop`, `duplicate`, `reorder`, `corrupt` | those standing network faults |
//! | `latency` | latency tails and slow links (without it, latencies stay as drawn but without tails and slow links) |
//! | `disk` | rot, read errors, torn writes, slow syncs |
//! | `clock_skew` | standing wall-clock skew |
//! | `buggify` | fault points in node code |

use pangea_sim::{Fault, FaultPlan};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Every name [`FaultFilter`] accepts, for help texts and errors.
pub const FAULT_NAMES: &[&str] = &[
    "partition",
    "partition.isolate",
    "partition.halves",
    "partition.majority_minority",
    "partition.bridge",
    "partition.ring",
    "partition.one_way",
    "crash",
    "pause",
    "slow",
    "clock_jump",
    "disk_full",
    "drop",
    "duplicate",
    "reorder",
    "corrupt",
    "latency",
    "disk",
    "clock_skew",
    "buggify",
];

/// A `--faults` value that names no known kind of fault.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FilterError {
    /// An unknown name.
    #[error("unknown fault '{name}' (known: none, all, {})", FAULT_NAMES.join(", "))]
    UnknownName {
        /// The name as written.
        name: String,
    },
    /// Nothing between the commas.
    #[error("empty fault list (write e.g. crash,partition, or none)")]
    Empty,
}

/// Which kinds of fault a run keeps. Parsed from `crash,partition`, `none` or `all`; displays as it
/// was written (normalised).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultFilter {
    names: Vec<String>,
}

impl FaultFilter {
    /// True if the filter keeps the kind called `name` (a [`FAULT_NAMES`] entry).
    #[must_use]
    pub fn keeps(&self, name: &str) -> bool {
        self.names.iter().any(|kept| kept == "all" || kept == name || name.starts_with(&format!("{kept}.")))
    }

    /// True if the filter keeps the timed fault `fault` (heals follow the fault they end).
    fn keeps_timed(&self, fault: &Fault) -> bool {
        match fault {
            Fault::Partition { .. } => self.keeps(fault.kind_name()),
            Fault::Crash { .. } | Fault::Restart { .. } => self.keeps("crash"),
            Fault::Pause { .. } | Fault::Resume { .. } => self.keeps("pause"),
            Fault::Slow { .. } => self.keeps("slow"),
            Fault::ClockJump { .. } => self.keeps("clock_jump"),
            Fault::DiskFull { .. } | Fault::DiskFreed { .. } => self.keeps("disk_full"),
            Fault::Heal => true,
            Fault::HealAll => true,
        }
    }

    /// `plan` with only the kept kinds of fault. Latencies stay as drawn (a calm network still has
    /// latency), and heals of removed partitions go too.
    #[must_use]
    pub fn apply(&self, plan: &FaultPlan) -> FaultPlan {
        let mut kept = plan.clone();
        if !self.keeps("crash") {
            kept.crash_after_sync_ppm = 0;
        }
        let network = &mut kept.network;
        if !self.keeps("drop") {
            network.drop_ppm = 0;
        }
        if !self.keeps("duplicate") {
            network.duplicate_ppm = 0;
        }
        if !self.keeps("reorder") {
            network.reorder_ppm = 0;
            network.reorder_delay_us = 0;
        }
        if !self.keeps("corrupt") {
            network.corrupt_ppm = 0;
        }
        if !self.keeps("latency") {
            network.latency.tail_ppm = 0;
            network.latency.tail_us = 0;
            network.links.clear();
        }
        if !self.keeps("disk") {
            let calm = pangea_sim::DiskFaults::default();
            kept.disk.read_corrupt_ppm = 0;
            kept.disk.read_error_ppm = 0;
            kept.disk.torn_writes = false;
            kept.disk.sync_latency.tail_ppm = 0;
            kept.disk.capacity_bytes = calm.capacity_bytes;
        }
        if !self.keeps("clock_skew") {
            kept.clock_skew_ms.clear();
        }
        if !self.keeps("buggify") {
            kept.buggify = false;
        }
        // A heal belongs to the partition before it: keep it only if that partition stayed.
        let mut partition_kept = false;
        kept.events.retain(|event| match &event.fault {
            Fault::Partition { .. } => {
                partition_kept = self.keeps_timed(&event.fault);
                partition_kept
            }
            Fault::Heal => std::mem::take(&mut partition_kept),
            other => self.keeps_timed(other),
        });
        kept
    }
}

impl FromStr for FaultFilter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut names = Vec::new();
        for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let name = name.replace('-', "_").to_ascii_lowercase();
            if name == "none" {
                continue;
            }
            if name != "all" && !FAULT_NAMES.contains(&name.as_str()) {
                return Err(FilterError::UnknownName { name });
            }
            names.push(name);
        }
        if names.is_empty() && !text.split(',').any(|name| name.trim().eq_ignore_ascii_case("none")) {
            return Err(FilterError::Empty);
        }
        names.sort();
        names.dedup();
        Ok(FaultFilter { names })
    }
}

impl fmt::Display for FaultFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() { f.write_str("none") } else { f.write_str(&self.names.join(",")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pangea_core::Duration;

    #[test]
    fn filters_keep_what_they_name_and_nothing_else() {
        let plan = FaultPlan::swarm(0, 5, Duration::from_secs(60));
        let none: FaultFilter = "none".parse().unwrap();
        let calm = none.apply(&plan);
        assert!(calm.events.is_empty(), "{calm}");
        assert!(calm.enabled_kinds().is_empty(), "{calm}");
        assert_eq!(calm.network.latency.min_us, plan.network.latency.min_us);
        assert_eq!("all".parse::<FaultFilter>().unwrap().apply(&plan), plan);

        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let plan = FaultPlan::swarm(seed, 5, Duration::from_secs(60));
            let only: FaultFilter = "crash,partition".parse().unwrap();
            let kept = only.apply(&plan);
            assert_eq!(kept.validate(5), Ok(()));
            for event in &kept.events {
                kinds.insert(event.fault.kind_name());
            }
            assert_eq!(kept.network.drop_ppm, 0);
            assert!(!kept.buggify);
        }
        assert!(kinds.iter().all(|kind| kind.starts_with("partition") || ["crash", "restart", "heal"].contains(kind)));
        assert!(kinds.contains("crash") && kinds.contains("heal"), "{kinds:?}");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(matches!("crash,frobnicate".parse::<FaultFilter>(), Err(FilterError::UnknownName { .. })));
        assert_eq!("".parse::<FaultFilter>(), Err(FilterError::Empty));
        assert_eq!("Crash, clock-jump".parse::<FaultFilter>().unwrap().to_string(), "clock_jump,crash");
        assert_eq!("none".parse::<FaultFilter>().unwrap().to_string(), "none");
    }
}

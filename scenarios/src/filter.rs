//! `--faults`: keep only some kinds of fault in the plan a seed draws.
//!
//! A filter is a comma-separated list of names: those of the kinds of fault in [`FAULT_KINDS`] (the
//! one table of them, in `pangea-sim`), plus `partition` for every partition shape, `none` for a
//! calm run and `all` for the full swarm. [`FaultFilter::help`] lists them with what each keeps,
//! for `--help`.

use pangea_sim::plan::{FAULT_KINDS, FaultKind, NodeFaultKind, StandingFaultKind};
use pangea_sim::{DiskFaults, Fault, FaultPlan};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The name that keeps no fault at all.
pub const NONE: &str = "none";

/// The name that keeps every kind of fault.
pub const ALL: &str = "all";

/// The name that keeps partitions of every shape.
pub const PARTITION: &str = "partition";

/// Every name [`FaultFilter`] accepts, for help texts and errors: `none`, `all`, `partition`, then
/// the names of [`FAULT_KINDS`] in its order.
pub fn names() -> impl Iterator<Item = &'static str> {
    [NONE, ALL, PARTITION].into_iter().chain(FAULT_KINDS.iter().map(|info| info.name))
}

/// A `--faults` value that names no known kind of fault.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FilterError {
    /// An unknown name.
    #[error("unknown fault '{name}' (known: {})", names().collect::<Vec<_>>().join(", "))]
    UnknownName {
        /// The name as written.
        name: String,
    },
    /// Nothing between the commas.
    #[error("empty fault list (write e.g. crash,partition, or none)")]
    Empty,
}

/// What one name in a filter keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kept {
    /// Every kind (`all`).
    All,
    /// Every partition shape (`partition`).
    Partitions,
    /// One kind.
    Kind(FaultKind),
}

impl Kept {
    fn name(self) -> &'static str {
        match self {
            Kept::All => ALL,
            Kept::Partitions => PARTITION,
            Kept::Kind(kind) => kind.name(),
        }
    }

    fn keeps(self, kind: FaultKind) -> bool {
        match self {
            Kept::All => true,
            Kept::Partitions => matches!(kind, FaultKind::Partition(_)),
            Kept::Kind(kept) => kept == kind,
        }
    }
}

/// Which kinds of fault a run keeps. Parsed from `crash,partition`, `none` or `all`; displays as it
/// was written (normalised).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultFilter {
    /// Sorted by name, without repeats.
    kept: Vec<Kept>,
}

impl FaultFilter {
    /// The `--faults` help text: every name, with what it keeps.
    #[must_use]
    pub fn help() -> String {
        let width = names().map(str::len).max().unwrap_or(0);
        let mut help = format!(
            "Keep only these kinds of fault in the plan each seed draws, comma-separated (`{NONE}` runs calm, \
             `{ALL}` is the full swarm):\n  {PARTITION:<width$}  every partition shape below"
        );
        for info in &FAULT_KINDS {
            help.push_str(&format!("\n  {:<width$}  {}", info.name, info.description));
        }
        help
    }

    /// True if the filter keeps faults of `kind`.
    #[must_use]
    pub fn keeps_kind(&self, kind: FaultKind) -> bool {
        self.kept.iter().any(|kept| kept.keeps(kind))
    }

    /// True if the filter keeps the timed fault `fault` (a window's end goes with its start; heals
    /// are kept, see [`FaultFilter::apply`]).
    fn keeps_timed(&self, fault: &Fault) -> bool {
        fault.kind().is_none_or(|kind| self.keeps_kind(kind))
    }

    /// `plan` with only the kept kinds of fault. Latencies stay as drawn (a calm network still has
    /// latency), and heals of removed partitions go too.
    #[must_use]
    pub fn apply(&self, plan: &FaultPlan) -> FaultPlan {
        let mut kept = plan.clone();
        for info in &FAULT_KINDS {
            if !self.keeps_kind(info.kind) {
                switch_off_untimed(info.kind, &mut kept);
            }
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

/// Switches off what `plan` holds of `kind` outside its schedule of timed faults (which
/// [`FaultFilter::apply`] filters itself).
fn switch_off_untimed(kind: FaultKind, plan: &mut FaultPlan) {
    let network = &mut plan.network;
    match kind {
        FaultKind::Partition(_) => {}
        FaultKind::Node(NodeFaultKind::Crash) => plan.crash_after_sync_ppm = 0,
        FaultKind::Node(
            NodeFaultKind::Pause | NodeFaultKind::Slow | NodeFaultKind::ClockJump | NodeFaultKind::DiskFull,
        ) => {}
        FaultKind::Standing(StandingFaultKind::Drop) => network.drop_ppm = 0,
        FaultKind::Standing(StandingFaultKind::Duplicate) => network.duplicate_ppm = 0,
        FaultKind::Standing(StandingFaultKind::Reorder) => {
            network.reorder_ppm = 0;
            network.reorder_delay_us = 0;
        }
        FaultKind::Standing(StandingFaultKind::Corrupt) => network.corrupt_ppm = 0,
        FaultKind::Standing(StandingFaultKind::Latency) => {
            network.latency.tail_ppm = 0;
            network.latency.tail_us = 0;
            network.links.clear();
        }
        FaultKind::Standing(StandingFaultKind::Disk) => {
            plan.disk.stop_errors();
            plan.disk.torn_writes = false;
            plan.disk.sync_latency.tail_ppm = 0;
            plan.disk.capacity_bytes = DiskFaults::default().capacity_bytes;
        }
        FaultKind::Standing(StandingFaultKind::ClockSkew) => plan.clock_skew_ms.clear(),
        FaultKind::Standing(StandingFaultKind::Buggify) => plan.buggify = false,
    }
}

impl FromStr for FaultFilter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut kept = Vec::new();
        for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let name = name.replace('-', "_").to_ascii_lowercase();
            kept.push(match name.as_str() {
                NONE => continue,
                ALL => Kept::All,
                PARTITION => Kept::Partitions,
                other => match FaultKind::from_name(other) {
                    Some(kind) => Kept::Kind(kind),
                    None => return Err(FilterError::UnknownName { name }),
                },
            });
        }
        if kept.is_empty() && !text.split(',').any(|name| name.trim().eq_ignore_ascii_case(NONE)) {
            return Err(FilterError::Empty);
        }
        kept.sort_by_key(|kept| kept.name());
        kept.dedup();
        Ok(FaultFilter { kept })
    }
}

impl fmt::Display for FaultFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kept.is_empty() {
            f.write_str(NONE)
        } else {
            f.write_str(&self.kept.iter().map(|kept| kept.name()).collect::<Vec<_>>().join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pangea_core::Duration;
    use pangea_sim::plan::PartitionShape;

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
    fn partition_keeps_every_shape_and_a_shape_keeps_only_itself() {
        let every: FaultFilter = "partition".parse().unwrap();
        let ring: FaultFilter = "partition.ring".parse().unwrap();
        for info in &FAULT_KINDS {
            let is_partition = matches!(info.kind, FaultKind::Partition(_));
            assert_eq!(every.keeps_kind(info.kind), is_partition, "{}", info.name);
            assert_eq!(ring.keeps_kind(info.kind), info.kind == FaultKind::Partition(PartitionShape::Ring));
        }
    }

    #[test]
    fn every_name_parses_and_the_help_lists_it() {
        let help = FaultFilter::help();
        for name in names() {
            let filter: FaultFilter = name.parse().unwrap();
            assert_eq!(filter.to_string(), name);
            assert!(help.contains(&format!("  {name} ")) || help.contains(&format!("`{name}`")), "{help}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(matches!("crash,frobnicate".parse::<FaultFilter>(), Err(FilterError::UnknownName { .. })));
        assert_eq!("".parse::<FaultFilter>(), Err(FilterError::Empty));
        assert_eq!("Crash, clock-jump".parse::<FaultFilter>().unwrap().to_string(), "clock_jump,crash");
        assert_eq!("none".parse::<FaultFilter>().unwrap().to_string(), "none");
        assert_eq!("partition,all,partition".parse::<FaultFilter>().unwrap().to_string(), "all,partition");
        let unknown = "bogus".parse::<FaultFilter>().unwrap_err().to_string();
        assert!(
            unknown.starts_with("unknown fault 'bogus' (known: none, all, partition, partition.isolate, "),
            "{unknown}"
        );
    }
}

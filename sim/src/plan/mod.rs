//! Fault plans: what the simulator does to a run, as plain data that can be printed, saved as JSON,
//! edited, replayed and shrunk.
//!
//! A plan has standing fault rates (link loss, duplication, reordering, corruption; disk rot, read
//! errors, torn writes, slow syncs; clock skew; buggify) and a schedule of timed faults (partitions,
//! crashes, pauses, slow nodes, clock jumps, full disks), all before `heal_at_ms`. At `heal_at_ms`
//! every fault heals and the run's liveness phase begins. [`FaultPlan::swarm`] draws a plan from a
//! seed, enabling each kind of fault or not, at its own rates (swarm testing).
//!
//! The files, by concept: this one holds [`FaultPlan`] itself; `standing` the standing faults'
//! rates and latencies; `fault` the timed faults and partitions; `kind` the kinds of fault and
//! their one table of names ([`FAULT_KINDS`]); `swarm` the draw from a seed; `validate` the checks
//! of a plan written by hand.

mod fault;
mod kind;
mod standing;
mod swarm;
mod validate;

pub use fault::{Fault, Partition, TimedFault};
pub use kind::{
    FAULT_KINDS, FaultKind, FaultKindInfo, NODE_FAULT_KINDS, NodeFaultKind, PartitionShape, STANDING_FAULT_KINDS,
    StandingFaultKind, TIMED_FAULT_KINDS,
};
pub use standing::{DiskFaults, Latency, LinkLatency, NetworkFaults, PPM};
pub use swarm::{SwarmProfile, draw_partition};
pub use validate::{DELAY_US_MAX, FaultPlanError, NodeMention};

use pangea_core::Duration;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Everything the simulator does to one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Standing network faults.
    pub network: NetworkFaults,
    /// Standing disk faults.
    pub disk: DiskFaults,
    /// Each node's initial wall-clock skew in milliseconds (missing entries are 0).
    pub clock_skew_ms: Vec<i64>,
    /// Whether buggify fault points may fire.
    pub buggify: bool,
    /// Timed faults, in time order, all before `heal_at_ms`.
    pub events: Vec<TimedFault>,
    /// When every fault heals and the liveness phase begins, in milliseconds.
    pub heal_at_ms: u64,
    /// Probability that a node crashes right after an input in which it synced its disk (and
    /// restarts soon after): crash points exactly where durability matters, which random crash times
    /// rarely hit. Only in the safety phase.
    #[serde(default)]
    pub crash_after_sync_ppm: u32,
}

impl FaultPlan {
    /// No faults at all: a healthy network and disks, and nothing scheduled. Healing at `heal_at_ms`
    /// is then a no-op.
    #[must_use]
    pub fn none(heal_at_ms: u64) -> FaultPlan {
        FaultPlan {
            network: NetworkFaults::default(),
            disk: DiskFaults::default(),
            clock_skew_ms: Vec::new(),
            buggify: false,
            events: Vec::new(),
            heal_at_ms,
            crash_after_sync_ppm: 0,
        }
    }

    /// The longest a delivered message can take under this plan.
    #[must_use]
    pub fn message_delay_max(&self) -> Duration {
        self.network.delay_max()
    }

    /// The names of the kinds of fault this plan enables, for summaries and coverage.
    #[must_use]
    pub fn enabled_kinds(&self) -> Vec<String> {
        let mut kinds = Vec::new();
        let network = &self.network;
        if network.latency.tail_ppm > 0 {
            kinds.push(format!("latency-tail {}ppm", network.latency.tail_ppm));
        }
        if !network.links.is_empty() {
            kinds.push(format!("slow-links {}", network.links.len()));
        }
        for (name, ppm) in [
            ("drop", network.drop_ppm),
            ("duplicate", network.duplicate_ppm),
            ("reorder", network.reorder_ppm),
            ("corrupt", network.corrupt_ppm),
            ("disk-rot", self.disk.read_corrupt_ppm),
            ("disk-read-error", self.disk.read_error_ppm),
            ("disk-write-error", self.disk.write_error_ppm),
            ("disk-sync-error", self.disk.sync_error_ppm),
        ] {
            if ppm > 0 {
                kinds.push(format!("{name} {ppm}ppm"));
            }
        }
        if self.disk.torn_writes {
            kinds.push("torn-writes".to_owned());
        }
        if self.disk.sync_latency.tail_ppm > 0 {
            kinds.push("slow-sync".to_owned());
        }
        if self.crash_after_sync_ppm > 0 {
            kinds.push(format!("crash-after-sync {}ppm", self.crash_after_sync_ppm));
        }
        if self.clock_skew_ms.iter().any(|skew| *skew != 0) {
            kinds.push("clock-skew".to_owned());
        }
        if self.buggify {
            kinds.push("buggify".to_owned());
        }
        let mut timed: Vec<&'static str> =
            self.events.iter().filter(|event| !event.fault.undoes()).map(|event| event.fault.kind_name()).collect();
        timed.sort_unstable();
        timed.dedup();
        kinds.extend(timed.into_iter().map(str::to_owned));
        kinds
    }
}

impl fmt::Display for FaultPlan {
    /// A human summary: the standing faults on one line, then one line per timed fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds = self.enabled_kinds();
        let latency = self.network.latency;
        writeln!(
            f,
            "faults: {} | latency {}..{}us | liveness from {}.{:03}s",
            if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") },
            latency.min_us,
            latency.min_us + latency.jitter_us,
            self.heal_at_ms / 1000,
            self.heal_at_ms % 1000
        )?;
        for event in &self.events {
            writeln!(f, "  {:>4}.{:03}s  {}", event.at_ms / 1000, event.at_ms % 1000, event.fault)?;
        }
        Ok(())
    }
}

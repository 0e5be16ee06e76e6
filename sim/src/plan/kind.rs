//! The kinds of fault, as one closed set with one table: [`FAULT_KINDS`] gives each [`FaultKind`]
//! the name people type (`--faults crash,partition.ring`), coverage counts it under and plan
//! summaries print, and a line saying what it does.
//!
//! Everything that names kinds of fault derives from that table: [`Fault::kind`] and
//! [`Fault::kind_name`], [`TIMED_FAULT_KINDS`], the node faults a swarm draw may use
//! ([`NODE_FAULT_KINDS`], [`SwarmProfile`](super::SwarmProfile)), and in `pangea-scenarios` the
//! `--faults` parser, its `keeps` and its help text.
//!
//! [`Fault::kind`]: super::Fault::kind
//! [`Fault::kind_name`]: super::Fault::kind_name

use super::Partition;
use std::fmt;

/// A kind of fault: a partition of one shape, a window of one node fault, or one standing fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A partition window of one shape.
    Partition(PartitionShape),
    /// A node-fault window: it starts with this fault and ends when a later one undoes it.
    Node(NodeFaultKind),
    /// A fault that stands for the whole safety phase, at a rate the plan sets.
    Standing(StandingFaultKind),
}

/// The shape of a [`Partition`], without the nodes it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartitionShape {
    /// [`Partition::Isolate`].
    Isolate,
    /// [`Partition::Halves`].
    Halves,
    /// [`Partition::MajorityMinority`].
    MajorityMinority,
    /// [`Partition::Bridge`].
    Bridge,
    /// [`Partition::Ring`].
    Ring,
    /// [`Partition::OneWay`].
    OneWay,
}

/// A kind of node-fault window, as the swarm draws them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeFaultKind {
    /// A crash, then a restart (and crashes right after a sync, if the plan has them).
    Crash,
    /// A pause, then a resume.
    Pause,
    /// Slower handlers, then normal ones again.
    Slow,
    /// A wall-clock jump, then the jump back.
    ClockJump,
    /// A full disk, then a freed one.
    DiskFull,
}

/// A kind of standing fault, as `--faults` groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StandingFaultKind {
    /// Messages lost at random.
    Drop,
    /// Messages delivered twice.
    Duplicate,
    /// Messages held back so that later ones overtake them.
    Reorder,
    /// Messages with a flipped bit.
    Corrupt,
    /// Latency tails and slow links.
    Latency,
    /// Bit rot, I/O errors on reads, writes and syncs, torn writes and slow syncs.
    Disk,
    /// Skewed wall clocks.
    ClockSkew,
    /// Buggify fault points in node code.
    Buggify,
}

/// One row of [`FAULT_KINDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultKindInfo {
    /// The kind.
    pub kind: FaultKind,
    /// Its name, as people type it and as coverage counts it.
    pub name: &'static str,
    /// What it does, for help texts.
    pub description: &'static str,
}

const fn row(kind: FaultKind, name: &'static str, description: &'static str) -> FaultKindInfo {
    FaultKindInfo { kind, name, description }
}

/// Every kind of fault, with its name and what it does: timed kinds first (partitions, then node
/// faults), then standing ones.
///
/// The order is part of every seed's plan: the swarm draw goes through the node faults in this
/// order ([`NODE_FAULT_KINDS`]), so reordering them changes what every seed draws.
pub const FAULT_KINDS: [FaultKindInfo; 19] = {
    use FaultKind::{Node, Partition, Standing};
    [
        row(Partition(PartitionShape::Isolate), "partition.isolate", "one node cut off from all others, both ways"),
        row(Partition(PartitionShape::Halves), "partition.halves", "two halves that cannot reach each other"),
        row(
            Partition(PartitionShape::MajorityMinority),
            "partition.majority_minority",
            "a majority and a minority that cannot reach each other",
        ),
        row(
            Partition(PartitionShape::Bridge),
            "partition.bridge",
            "two sides that cannot reach each other, and one node that reaches both",
        ),
        row(Partition(PartitionShape::Ring), "partition.ring", "each node reaches only its two neighbours in a ring"),
        row(
            Partition(PartitionShape::OneWay),
            "partition.one_way",
            "messages from some nodes to others are lost, one way",
        ),
        row(
            Node(NodeFaultKind::Crash),
            "crash",
            "a node crashes, losing what it did not sync, and restarts later; also crashes right after syncs",
        ),
        row(Node(NodeFaultKind::Pause), "pause", "a node stops the world; its inputs wait until it resumes"),
        row(Node(NodeFaultKind::Slow), "slow", "every input of a node takes longer"),
        row(Node(NodeFaultKind::ClockJump), "clock_jump", "a node's wall clock jumps forward or back, then back again"),
        row(Node(NodeFaultKind::DiskFull), "disk_full", "a node's disk is full for a while"),
        row(Standing(StandingFaultKind::Drop), "drop", "messages lost at random"),
        row(Standing(StandingFaultKind::Duplicate), "duplicate", "messages delivered twice"),
        row(Standing(StandingFaultKind::Reorder), "reorder", "messages held back so that later ones overtake them"),
        row(
            Standing(StandingFaultKind::Corrupt),
            "corrupt",
            "a bit of a message flips in flight (the checksum must catch it)",
        ),
        row(
            Standing(StandingFaultKind::Latency),
            "latency",
            "latency tails and slow links (without it, latencies stay as drawn, minus these)",
        ),
        row(
            Standing(StandingFaultKind::Disk),
            "disk",
            "bit rot, I/O errors on reads, writes and syncs, torn writes, slow syncs",
        ),
        row(Standing(StandingFaultKind::ClockSkew), "clock_skew", "standing wall-clock skew"),
        row(Standing(StandingFaultKind::Buggify), "buggify", "fault points in node code"),
    ]
};

const fn timed_count() -> usize {
    let mut count = 0;
    let mut index = 0;
    while index < FAULT_KINDS.len() {
        if FAULT_KINDS[index].kind.is_timed() {
            count += 1;
        }
        index += 1;
    }
    count
}

const fn node_count() -> usize {
    let mut count = 0;
    let mut index = 0;
    while index < FAULT_KINDS.len() {
        if let FaultKind::Node(_) = FAULT_KINDS[index].kind {
            count += 1;
        }
        index += 1;
    }
    count
}

/// The names of the kinds of timed fault a swarm plan can draw, in [`FAULT_KINDS`] order: window
/// starts, by [`Fault::kind_name`](super::Fault::kind_name) (their ends — heal, restart, resume,
/// disk freed — are not listed).
pub const TIMED_FAULT_KINDS: &[&str] = &{
    let mut names = [""; timed_count()];
    let mut count = 0;
    let mut index = 0;
    while index < FAULT_KINDS.len() {
        if FAULT_KINDS[index].kind.is_timed() {
            names[count] = FAULT_KINDS[index].name;
            count += 1;
        }
        index += 1;
    }
    names
};

const fn standing_count() -> usize {
    FAULT_KINDS.len() - timed_count()
}

/// The names of the kinds of standing fault, in [`FAULT_KINDS`] order.
pub const STANDING_FAULT_KINDS: &[&str] = &{
    let mut names = [""; standing_count()];
    let mut count = 0;
    let mut index = 0;
    while index < FAULT_KINDS.len() {
        if !FAULT_KINDS[index].kind.is_timed() {
            names[count] = FAULT_KINDS[index].name;
            count += 1;
        }
        index += 1;
    }
    names
};

impl StandingFaultKind {
    /// True when `plan` enables this kind of standing fault.
    #[must_use]
    pub fn is_on(self, plan: &super::FaultPlan) -> bool {
        let network = &plan.network;
        let disk = &plan.disk;
        match self {
            StandingFaultKind::Drop => network.drop_ppm > 0,
            StandingFaultKind::Duplicate => network.duplicate_ppm > 0,
            StandingFaultKind::Reorder => network.reorder_ppm > 0,
            StandingFaultKind::Corrupt => network.corrupt_ppm > 0,
            StandingFaultKind::Latency => network.latency.tail_ppm > 0 || !network.links.is_empty(),
            StandingFaultKind::Disk => {
                disk.read_corrupt_ppm > 0
                    || disk.read_error_ppm > 0
                    || disk.write_error_ppm > 0
                    || disk.sync_error_ppm > 0
                    || disk.torn_writes
                    || disk.sync_latency.tail_ppm > 0
            }
            StandingFaultKind::ClockSkew => plan.clock_skew_ms.iter().any(|skew| *skew != 0),
            StandingFaultKind::Buggify => plan.buggify,
        }
    }
}

/// Every kind of node fault, in [`FAULT_KINDS`] order (the order the swarm draws them in).
pub const NODE_FAULT_KINDS: [NodeFaultKind; node_count()] = {
    let mut kinds = [NodeFaultKind::Crash; node_count()];
    let mut count = 0;
    let mut index = 0;
    while index < FAULT_KINDS.len() {
        if let FaultKind::Node(kind) = FAULT_KINDS[index].kind {
            kinds[count] = kind;
            count += 1;
        }
        index += 1;
    }
    kinds
};

impl FaultKind {
    /// Its row in [`FAULT_KINDS`].
    ///
    /// # Panics
    /// If the table lacks the kind: a kind added without its row.
    #[must_use]
    pub fn info(self) -> &'static FaultKindInfo {
        match FAULT_KINDS.iter().find(|info| info.kind == self) {
            Some(info) => info,
            None => panic!("{self:?} has no row in FAULT_KINDS"),
        }
    }

    /// Its name, as people type it and as coverage counts it.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// What it does, for help texts.
    #[must_use]
    pub fn description(self) -> &'static str {
        self.info().description
    }

    /// The kind called `name` exactly, if there is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FAULT_KINDS.iter().find(|info| info.name == name).map(|info| info.kind)
    }

    /// True for the kinds a plan schedules as windows (partitions and node faults), false for the
    /// standing ones.
    #[must_use]
    pub const fn is_timed(self) -> bool {
        match self {
            FaultKind::Partition(_) | FaultKind::Node(_) => true,
            FaultKind::Standing(_) => false,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Partition {
    /// Its shape.
    #[must_use]
    pub fn shape(&self) -> PartitionShape {
        match self {
            Partition::Isolate { .. } => PartitionShape::Isolate,
            Partition::Halves { .. } => PartitionShape::Halves,
            Partition::MajorityMinority { .. } => PartitionShape::MajorityMinority,
            Partition::Bridge { .. } => PartitionShape::Bridge,
            Partition::Ring { .. } => PartitionShape::Ring,
            Partition::OneWay { .. } => PartitionShape::OneWay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind, through an exhaustive match per enum: a kind added to an enum must be added here
    /// (the compiler insists), and then the test insists on its row.
    fn every_kind() -> Vec<FaultKind> {
        let shapes = [
            PartitionShape::Isolate,
            PartitionShape::Halves,
            PartitionShape::MajorityMinority,
            PartitionShape::Bridge,
            PartitionShape::Ring,
            PartitionShape::OneWay,
        ];
        let nodes = [
            NodeFaultKind::Crash,
            NodeFaultKind::Pause,
            NodeFaultKind::Slow,
            NodeFaultKind::ClockJump,
            NodeFaultKind::DiskFull,
        ];
        let standing = [
            StandingFaultKind::Drop,
            StandingFaultKind::Duplicate,
            StandingFaultKind::Reorder,
            StandingFaultKind::Corrupt,
            StandingFaultKind::Latency,
            StandingFaultKind::Disk,
            StandingFaultKind::ClockSkew,
            StandingFaultKind::Buggify,
        ];
        // Exhaustive matches without wildcards: they stop compiling when a variant is added.
        for shape in shapes {
            match shape {
                PartitionShape::Isolate
                | PartitionShape::Halves
                | PartitionShape::MajorityMinority
                | PartitionShape::Bridge
                | PartitionShape::Ring
                | PartitionShape::OneWay => {}
            }
        }
        for kind in nodes {
            match kind {
                NodeFaultKind::Crash
                | NodeFaultKind::Pause
                | NodeFaultKind::Slow
                | NodeFaultKind::ClockJump
                | NodeFaultKind::DiskFull => {}
            }
        }
        for kind in standing {
            match kind {
                StandingFaultKind::Drop
                | StandingFaultKind::Duplicate
                | StandingFaultKind::Reorder
                | StandingFaultKind::Corrupt
                | StandingFaultKind::Latency
                | StandingFaultKind::Disk
                | StandingFaultKind::ClockSkew
                | StandingFaultKind::Buggify => {}
            }
        }
        shapes
            .into_iter()
            .map(FaultKind::Partition)
            .chain(nodes.into_iter().map(FaultKind::Node))
            .chain(standing.into_iter().map(FaultKind::Standing))
            .collect()
    }

    #[test]
    fn the_table_has_one_row_per_kind_and_names_round_trip() {
        let kinds = every_kind();
        assert_eq!(kinds.len(), FAULT_KINDS.len());
        for kind in kinds {
            assert_eq!(FAULT_KINDS.iter().filter(|info| info.kind == kind).count(), 1, "{kind:?}");
            assert_eq!(FaultKind::from_name(kind.name()), Some(kind));
            assert!(!kind.description().is_empty());
        }
        let mut names: Vec<&str> = FAULT_KINDS.iter().map(|info| info.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAULT_KINDS.len(), "two kinds share a name");
        assert_eq!(FaultKind::from_name("crash,pause"), None);
    }

    #[test]
    fn derived_lists_follow_the_table() {
        // The order of node faults is part of every seed's plan; these are the names users type.
        assert_eq!(
            NODE_FAULT_KINDS,
            [
                NodeFaultKind::Crash,
                NodeFaultKind::Pause,
                NodeFaultKind::Slow,
                NodeFaultKind::ClockJump,
                NodeFaultKind::DiskFull
            ]
        );
        assert_eq!(
            TIMED_FAULT_KINDS,
            [
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
            ]
        );
    }
}

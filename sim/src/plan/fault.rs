//! The faults a plan schedules: partitions of every shape, node faults and their ends, and a fault at
//! a moment of virtual time.

use super::{FaultKind, NodeFaultKind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A partition: which directed links stop carrying messages. A new partition replaces the current
/// one; [`Fault::Heal`] removes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Partition {
    /// One node cut off from all others, both ways.
    Isolate {
        /// The isolated node.
        node: u32,
    },
    /// Two halves that cannot reach each other.
    Halves {
        /// One side.
        left: Vec<u32>,
        /// The other side.
        right: Vec<u32>,
    },
    /// A majority and a minority that cannot reach each other.
    MajorityMinority {
        /// The larger side.
        majority: Vec<u32>,
        /// The smaller side.
        minority: Vec<u32>,
    },
    /// Two sides that cannot reach each other, and one node that reaches both.
    Bridge {
        /// One side.
        left: Vec<u32>,
        /// The other side.
        right: Vec<u32>,
        /// The node that talks to both.
        bridge: u32,
    },
    /// Each node reaches only its neighbours in `order` (which wraps around).
    Ring {
        /// The ring.
        order: Vec<u32>,
    },
    /// Messages from `from` to `to` are lost; the other direction still works.
    OneWay {
        /// Senders whose messages are lost.
        from: Vec<u32>,
        /// Receivers that stop hearing them.
        to: Vec<u32>,
    },
}

impl Partition {
    /// The directed links `(from, to)` this partition blocks among `nodes` nodes.
    #[must_use]
    pub fn blocked_links(&self, nodes: u32) -> Vec<(u32, u32)> {
        let mut links = Vec::new();
        let both_ways = |a: &[u32], b: &[u32], links: &mut Vec<(u32, u32)>| {
            for &x in a {
                for &y in b {
                    if x != y {
                        links.push((x, y));
                        links.push((y, x));
                    }
                }
            }
        };
        match self {
            Partition::Isolate { node } => {
                let others: Vec<u32> = (0..nodes).filter(|other| other != node).collect();
                both_ways(&[*node], &others, &mut links);
            }
            Partition::Halves { left, right } | Partition::Bridge { left, right, .. } => {
                both_ways(left, right, &mut links);
            }
            Partition::MajorityMinority { majority, minority } => both_ways(majority, minority, &mut links),
            Partition::Ring { order } => {
                let count = order.len();
                for (position, &x) in order.iter().enumerate() {
                    for (other, &y) in order.iter().enumerate() {
                        let distance = position.abs_diff(other);
                        let neighbours = distance <= 1 || distance == count - 1;
                        if x != y && !neighbours {
                            links.push((x, y));
                        }
                    }
                }
            }
            Partition::OneWay { from, to } => {
                for &x in from {
                    for &y in to {
                        if x != y {
                            links.push((x, y));
                        }
                    }
                }
            }
        }
        links.sort_unstable();
        links.dedup();
        links
    }
}

/// One fault the simulator can apply at a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fault {
    /// Start a partition (replacing any current one).
    Partition {
        /// Its shape.
        partition: Partition,
    },
    /// End the current partition.
    Heal,
    /// Crash a node: its volatile state, timers and unsynced writes are lost.
    Crash {
        /// The node.
        node: u32,
    },
    /// Restart a crashed node from what its disk holds.
    Restart {
        /// The node.
        node: u32,
    },
    /// Stop the world on a node: its inputs wait until it resumes.
    Pause {
        /// The node.
        node: u32,
    },
    /// Resume a paused node.
    Resume {
        /// The node.
        node: u32,
    },
    /// Make every input of a node take `handler_extra_us` longer (0 restores it).
    Slow {
        /// The node.
        node: u32,
        /// Extra time per input, in microseconds.
        handler_extra_us: u64,
    },
    /// Jump a node's wall clock by `by_ms` (negative jumps back).
    ClockJump {
        /// The node.
        node: u32,
        /// The jump in milliseconds.
        by_ms: i64,
    },
    /// Fill a node's disk: further writes that add bytes fail.
    DiskFull {
        /// The node.
        node: u32,
    },
    /// Free a node's disk again.
    DiskFreed {
        /// The node.
        node: u32,
    },
    /// The end of the safety phase: heal partitions, restart crashed nodes, resume paused ones, undo
    /// slow nodes and full disks, and stop losing, duplicating, reordering and corrupting messages
    /// and failing reads.
    HealAll,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |nodes: &[u32]| nodes.iter().map(|node| format!("n{node}")).collect::<Vec<_>>().join(",");
        match self {
            Fault::Partition { partition } => match partition {
                Partition::Isolate { node } => write!(f, "partition isolate n{node}"),
                Partition::Halves { left, right } => {
                    write!(f, "partition halves {{{}}} | {{{}}}", list(left), list(right))
                }
                Partition::MajorityMinority { majority, minority } => {
                    write!(f, "partition majority {{{}}} | minority {{{}}}", list(majority), list(minority))
                }
                Partition::Bridge { left, right, bridge } => {
                    write!(f, "partition bridge {{{}}} | {{{}}} via n{bridge}", list(left), list(right))
                }
                Partition::Ring { order } => write!(f, "partition ring {}", list(order)),
                Partition::OneWay { from, to } => {
                    write!(f, "partition one-way {{{}}} -/-> {{{}}}", list(from), list(to))
                }
            },
            Fault::Heal => f.write_str("heal partition"),
            Fault::Crash { node } => write!(f, "crash n{node}"),
            Fault::Restart { node } => write!(f, "restart n{node}"),
            Fault::Pause { node } => write!(f, "pause n{node}"),
            Fault::Resume { node } => write!(f, "resume n{node}"),
            Fault::Slow { node, handler_extra_us } => write!(f, "slow n{node} +{handler_extra_us}us per input"),
            Fault::ClockJump { node, by_ms } => write!(f, "clock jump n{node} {by_ms:+}ms"),
            Fault::DiskFull { node } => write!(f, "disk full n{node}"),
            Fault::DiskFreed { node } => write!(f, "disk freed n{node}"),
            Fault::HealAll => f.write_str("heal everything (liveness phase begins)"),
        }
    }
}

impl Fault {
    /// The node a node fault targets.
    #[must_use]
    pub fn node(&self) -> Option<u32> {
        match self {
            Fault::Crash { node }
            | Fault::Restart { node }
            | Fault::Pause { node }
            | Fault::Resume { node }
            | Fault::Slow { node, .. }
            | Fault::ClockJump { node, .. }
            | Fault::DiskFull { node }
            | Fault::DiskFreed { node } => Some(*node),
            Fault::Partition { .. } | Fault::Heal | Fault::HealAll => None,
        }
    }

    /// The kind of fault window this fault belongs to: the one it starts, or the one it ends (a
    /// restart ends a `crash` window, a freed disk a `disk_full` one). `None` for heals: a heal ends
    /// whichever partition is current, and the end of the safety phase ends everything.
    #[must_use]
    pub fn kind(&self) -> Option<FaultKind> {
        match self {
            Fault::Partition { partition } => Some(FaultKind::Partition(partition.shape())),
            Fault::Crash { .. } | Fault::Restart { .. } => Some(FaultKind::Node(NodeFaultKind::Crash)),
            Fault::Pause { .. } | Fault::Resume { .. } => Some(FaultKind::Node(NodeFaultKind::Pause)),
            Fault::Slow { .. } => Some(FaultKind::Node(NodeFaultKind::Slow)),
            Fault::ClockJump { .. } => Some(FaultKind::Node(NodeFaultKind::ClockJump)),
            Fault::DiskFull { .. } | Fault::DiskFreed { .. } => Some(FaultKind::Node(NodeFaultKind::DiskFull)),
            Fault::Heal | Fault::HealAll => None,
        }
    }

    /// True for a fault that only undoes earlier ones: a heal, restart, resume, freed disk, or the
    /// end of the safety phase. (A slow node's return to normal speed and a clock's jump back are
    /// faults of their kind, as their starts are.)
    #[must_use]
    pub fn undoes(&self) -> bool {
        match self {
            Fault::Heal | Fault::Restart { .. } | Fault::Resume { .. } | Fault::DiskFreed { .. } | Fault::HealAll => {
                true
            }
            Fault::Partition { .. }
            | Fault::Crash { .. }
            | Fault::Pause { .. }
            | Fault::Slow { .. }
            | Fault::ClockJump { .. }
            | Fault::DiskFull { .. } => false,
        }
    }

    /// A short stable name for coverage counts: for a fault that starts or changes a window, the
    /// name of its kind in [`FAULT_KINDS`](super::FAULT_KINDS); for one that
    /// [`undoes`](Fault::undoes) earlier ones, a name of its own: `heal`, `restart`, `resume`,
    /// `disk_freed`, `heal_all`.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Fault::Heal => "heal",
            Fault::Restart { .. } => "restart",
            Fault::Resume { .. } => "resume",
            Fault::DiskFreed { .. } => "disk_freed",
            Fault::HealAll => "heal_all",
            Fault::Partition { partition } => FaultKind::Partition(partition.shape()).name(),
            Fault::Crash { .. } => FaultKind::Node(NodeFaultKind::Crash).name(),
            Fault::Pause { .. } => FaultKind::Node(NodeFaultKind::Pause).name(),
            Fault::Slow { .. } => FaultKind::Node(NodeFaultKind::Slow).name(),
            Fault::ClockJump { .. } => FaultKind::Node(NodeFaultKind::ClockJump).name(),
            Fault::DiskFull { .. } => FaultKind::Node(NodeFaultKind::DiskFull).name(),
        }
    }
}

/// A fault at a moment of virtual time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedFault {
    /// When, in milliseconds since the run began.
    pub at_ms: u64,
    /// What.
    pub fault: Fault,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_table_names_of_their_kinds() {
        let isolate = Partition::Isolate { node: 0 };
        let faults = [
            Fault::Partition { partition: isolate.clone() },
            Fault::Partition { partition: Partition::Ring { order: vec![0, 1, 2, 3] } },
            Fault::Heal,
            Fault::Crash { node: 1 },
            Fault::Restart { node: 1 },
            Fault::Pause { node: 1 },
            Fault::Resume { node: 1 },
            Fault::Slow { node: 1, handler_extra_us: 5 },
            Fault::Slow { node: 1, handler_extra_us: 0 },
            Fault::ClockJump { node: 1, by_ms: -3 },
            Fault::DiskFull { node: 1 },
            Fault::DiskFreed { node: 1 },
            Fault::HealAll,
        ];
        for fault in faults {
            match (fault.undoes(), fault.kind()) {
                (false, Some(kind)) => assert_eq!(fault.kind_name(), kind.name(), "{fault}"),
                (true, _) => assert!(FaultKind::from_name(fault.kind_name()).is_none(), "{fault}"),
                (false, None) => panic!("{fault} neither undoes a fault nor has a kind"),
            }
        }
        assert_eq!(Fault::Restart { node: 2 }.kind(), Some(FaultKind::Node(NodeFaultKind::Crash)));
        assert_eq!(Fault::Partition { partition: isolate }.kind_name(), "partition.isolate");
    }

    #[test]
    fn partitions_block_what_they_claim() {
        assert_eq!(Partition::OneWay { from: vec![0], to: vec![1, 2] }.blocked_links(3), vec![(0, 1), (0, 2)]);
        assert_eq!(Partition::Isolate { node: 1 }.blocked_links(3), vec![(0, 1), (1, 0), (1, 2), (2, 1)]);
        let bridge = Partition::Bridge { left: vec![0], right: vec![2], bridge: 1 }.blocked_links(3);
        assert_eq!(bridge, vec![(0, 2), (2, 0)]);
        let ring = Partition::Ring { order: vec![0, 1, 2, 3] }.blocked_links(4);
        assert_eq!(ring, vec![(0, 2), (1, 3), (2, 0), (3, 1)]);
    }
}

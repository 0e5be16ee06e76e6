//! The simulated network: which links are cut, and what happens to each message on a link.

use crate::plan::{NetworkFaults, PPM, Partition};
use crate::rng::SimRng;
use pangea_core::random::{below, chance};
use pangea_core::{Duration, Instant};

/// Why a message did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// A partition cut the link, at sending or at arrival.
    Partition,
    /// Random loss.
    Loss,
    /// The receiver was crashed when it arrived.
    NodeDown,
    /// The codec refused the bytes (corruption caught).
    Rejected,
}

impl DropReason {
    /// A short stable name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Partition => "partition",
            DropReason::Loss => "loss",
            DropReason::NodeDown => "node-down",
            DropReason::Rejected => "rejected",
        }
    }
}

/// One copy of a message on its way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// When it arrives.
    pub arrival: Instant,
    /// Its bytes (possibly corrupted).
    pub bytes: Vec<u8>,
    /// True if a bit was flipped.
    pub corrupted: bool,
    /// True if this is the extra copy of a duplicated message.
    pub duplicate: bool,
    /// True if it was held back to be overtaken.
    pub reordered: bool,
}

/// A partition indexed so that whether it cuts a link is one lookup: memory and set-up cost grow
/// with the nodes it names, never with the links it cuts (a split of 100,000 nodes cuts five
/// billion).
#[derive(Clone, Debug)]
pub struct Cut {
    rule: CutRule,
    /// Per node: its side (halves, majority/minority, bridge), its place in the ring, or its role
    /// in a one-way cut; [`UNNAMED`] for a node the partition does not name.
    marks: Vec<u32>,
}

/// A node the partition does not name.
const UNNAMED: u32 = u32::MAX;
/// One-way cuts mark senders and receivers as bit flags.
const SENDER: u32 = 1;
const RECEIVER: u32 = 2;

#[derive(Clone, Copy, Debug)]
enum CutRule {
    /// One node cut from all.
    Isolate(u32),
    /// Sides 0 and 1 cannot reach each other.
    Sides,
    /// A ring of this many places: only neighbours reach each other.
    Ring(u32),
    /// Senders' messages to receivers are lost.
    OneWay,
}

impl Cut {
    /// `partition` among `nodes` nodes, indexed.
    #[must_use]
    pub fn new(partition: &Partition, nodes: u32) -> Cut {
        let mut marks = Vec::new();
        // Sets `value` (or, for one-way cuts, adds its flag) on every node of `list`.
        let mut mark = |list: &[u32], value: u32, flags: bool| {
            marks.resize(nodes as usize, UNNAMED);
            for &node in list {
                if let Some(slot) = marks.get_mut(node as usize) {
                    *slot = if flags && *slot != UNNAMED { *slot | value } else { value };
                }
            }
        };
        let rule = match partition {
            Partition::Isolate { node } => CutRule::Isolate(*node),
            Partition::Halves { left, right }
            | Partition::Bridge { left, right, .. }
            | Partition::MajorityMinority { majority: left, minority: right } => {
                mark(left, 0, false);
                mark(right, 1, false);
                CutRule::Sides
            }
            Partition::Ring { order } => {
                let places: Vec<u32> = (0..order.len() as u32).collect();
                for (node, place) in order.iter().zip(places) {
                    mark(&[*node], place, false);
                }
                CutRule::Ring(order.len() as u32)
            }
            Partition::OneWay { from, to } => {
                mark(from, SENDER, true);
                mark(to, RECEIVER, true);
                CutRule::OneWay
            }
        };
        Cut { rule, marks }
    }

    fn mark(&self, node: u32) -> u32 {
        self.marks.get(node as usize).copied().unwrap_or(UNNAMED)
    }

    /// True when the partition cuts messages from `from` to `to`.
    #[must_use]
    pub fn blocks(&self, from: u32, to: u32) -> bool {
        if from == to {
            return false;
        }
        match self.rule {
            CutRule::Isolate(node) => from == node || to == node,
            CutRule::Sides => {
                let (a, b) = (self.mark(from), self.mark(to));
                a != UNNAMED && b != UNNAMED && a != b
            }
            CutRule::Ring(count) => {
                let (a, b) = (self.mark(from), self.mark(to));
                if a == UNNAMED || b == UNNAMED {
                    return false;
                }
                let distance = a.abs_diff(b);
                !(distance <= 1 || distance == count - 1)
            }
            CutRule::OneWay => {
                let (a, b) = (self.mark(from), self.mark(to));
                a != UNNAMED && a & SENDER != 0 && b != UNNAMED && b & RECEIVER != 0
            }
        }
    }
}

/// Links, their faults, and the current partition.
#[derive(Clone, Debug)]
pub struct Network {
    nodes: u32,
    faults: NetworkFaults,
    partition: Option<(Partition, std::rc::Rc<Cut>)>,
    rng: SimRng,
}

impl Network {
    /// A network of `nodes` nodes with `faults`, drawing from `rng`.
    #[must_use]
    pub fn new(nodes: u32, faults: NetworkFaults, rng: SimRng) -> Network {
        Network { nodes, faults, partition: None, rng }
    }

    /// True when messages from `from` to `to` are cut.
    #[must_use]
    pub fn is_blocked(&self, from: u32, to: u32) -> bool {
        self.partition.as_ref().is_some_and(|(_, cut)| cut.blocks(from, to))
    }

    /// The partition in force, indexed (shared with the kernel's history of partitions).
    #[must_use]
    pub fn cut(&self) -> Option<std::rc::Rc<Cut>> {
        self.partition.as_ref().map(|(_, cut)| std::rc::Rc::clone(cut))
    }

    /// The current partition.
    #[must_use]
    pub fn partition(&self) -> Option<&Partition> {
        self.partition.as_ref().map(|(partition, _)| partition)
    }

    /// Replaces the current partition.
    pub fn partition_with(&mut self, partition: Partition) {
        let cut = Cut::new(&partition, self.nodes);
        self.partition = Some((partition, std::rc::Rc::new(cut)));
    }

    /// Ends the current partition.
    pub fn heal(&mut self) {
        self.partition = None;
    }

    /// Stops loss, duplication, reordering and corruption (latency stays).
    pub fn calm(&mut self) {
        self.faults.drop_ppm = 0;
        self.faults.duplicate_ppm = 0;
        self.faults.reorder_ppm = 0;
        self.faults.corrupt_ppm = 0;
    }

    /// The standing faults in force.
    #[must_use]
    pub fn faults(&self) -> &NetworkFaults {
        &self.faults
    }

    /// Decides the fate of a message sent at `depart`: no copies (lost, with the reason), one, or two.
    pub fn route(&mut self, from: u32, to: u32, depart: Instant, bytes: Vec<u8>) -> Result<Vec<InFlight>, DropReason> {
        if self.is_blocked(from, to) {
            return Err(DropReason::Partition);
        }
        let rng = &mut self.rng;
        let million = u64::from(PPM);
        if self.faults.drop_ppm > 0 && chance(rng, u64::from(self.faults.drop_ppm), million) {
            return Err(DropReason::Loss);
        }
        let copies = if self.faults.duplicate_ppm > 0 && chance(rng, u64::from(self.faults.duplicate_ppm), million) {
            2
        } else {
            1
        };
        let latency = self
            .faults
            .links
            .iter()
            .find(|link| link.from == from && link.to == to)
            .map_or(self.faults.latency, |link| link.latency);
        // The first copy of a duplicated message is a clone, the last the original bytes.
        let clone = (copies == 2).then(|| bytes.clone());
        let mut out = Vec::with_capacity(copies);
        for (copy, mut bytes) in clone.into_iter().chain(std::iter::once(bytes)).enumerate() {
            let mut delay = latency.sample(rng);
            let reordered = self.faults.reorder_ppm > 0 && chance(rng, u64::from(self.faults.reorder_ppm), million);
            if reordered {
                delay += Duration::from_micros(below(rng, self.faults.reorder_delay_us + 1));
            }
            let corrupted = !bytes.is_empty()
                && self.faults.corrupt_ppm > 0
                && chance(rng, u64::from(self.faults.corrupt_ppm), million);
            if corrupted {
                let bit = below(rng, bytes.len() as u64 * 8) as usize;
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            out.push(InFlight { arrival: depart + delay, bytes, corrupted, duplicate: copy == 1, reordered });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn an_indexed_cut_blocks_exactly_the_links_the_partition_lists() {
        let nodes = 7;
        let partitions = [
            Partition::Isolate { node: 3 },
            Partition::Halves { left: vec![0, 1, 2], right: vec![3, 4, 5, 6] },
            Partition::MajorityMinority { majority: vec![0, 2, 4, 6], minority: vec![1, 3] },
            Partition::Bridge { left: vec![0, 1], right: vec![3, 4, 5], bridge: 2 },
            Partition::Ring { order: vec![6, 0, 5, 1, 4] },
            Partition::OneWay { from: vec![0, 1], to: vec![1, 2, 3] },
        ];
        for partition in partitions {
            let listed: BTreeSet<(u32, u32)> = partition.blocked_links(nodes).into_iter().collect();
            let cut = Cut::new(&partition, nodes);
            for from in 0..nodes {
                for to in 0..nodes {
                    assert_eq!(cut.blocks(from, to), listed.contains(&(from, to)), "{partition:?}: {from} -> {to}");
                }
            }
        }
    }
}

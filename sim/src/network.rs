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

/// Links, their faults, and the current partition.
#[derive(Clone, Debug)]
pub struct Network {
    nodes: u32,
    faults: NetworkFaults,
    /// `blocked[from * nodes + to]`: the directed link is cut.
    blocked: Vec<bool>,
    partition: Option<Partition>,
    rng: SimRng,
}

impl Network {
    /// A network of `nodes` nodes with `faults`, drawing from `rng`.
    #[must_use]
    pub fn new(nodes: u32, faults: NetworkFaults, rng: SimRng) -> Network {
        let cells = (nodes as usize) * (nodes as usize);
        Network { nodes, faults, blocked: vec![false; cells], partition: None, rng }
    }

    /// True when messages from `from` to `to` are cut.
    #[must_use]
    pub fn is_blocked(&self, from: u32, to: u32) -> bool {
        self.blocked[(from * self.nodes + to) as usize]
    }

    /// The current partition.
    #[must_use]
    pub fn partition(&self) -> Option<&Partition> {
        self.partition.as_ref()
    }

    /// Replaces the current partition.
    pub fn partition_with(&mut self, partition: Partition) {
        self.heal();
        for (from, to) in partition.blocked_links(self.nodes) {
            if from < self.nodes && to < self.nodes {
                self.blocked[(from * self.nodes + to) as usize] = true;
            }
        }
        self.partition = Some(partition);
    }

    /// Ends the current partition.
    pub fn heal(&mut self) {
        self.blocked.iter_mut().for_each(|cell| *cell = false);
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

//! Fault plans: what the simulator does to a run, as plain data that can be printed, saved as JSON,
//! edited, replayed and shrunk.
//!
//! A plan has standing fault rates (link loss, duplication, reordering, corruption; disk rot, read
//! errors, torn writes, slow syncs; clock skew; buggify) and a schedule of timed faults (partitions,
//! crashes, pauses, slow nodes, clock jumps, full disks), all before `heal_at_ms`. At `heal_at_ms`
//! every fault heals and the run's liveness phase begins. [`FaultPlan::swarm`] draws a plan from a
//! seed, enabling each kind of fault or not, at its own rates (swarm testing).

use crate::rng::SeedStreams;
use pangea_core::Duration;
use pangea_core::random::{below, chance};
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Parts per million: the unit of every probability in a plan.
pub const PPM: u32 = 1_000_000;

/// A latency distribution: `min + uniform(0..=jitter)`, plus, with probability `tail_ppm`, a
/// further `uniform(0..=tail)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// The least latency, in microseconds.
    pub min_us: u64,
    /// Uniform spread above the minimum, in microseconds.
    pub jitter_us: u64,
    /// Probability of a tail delay, in parts per million.
    pub tail_ppm: u32,
    /// Largest tail delay, in microseconds.
    pub tail_us: u64,
}

impl Latency {
    /// A fixed latency.
    #[must_use]
    pub const fn fixed(us: u64) -> Latency {
        Latency { min_us: us, jitter_us: 0, tail_ppm: 0, tail_us: 0 }
    }

    /// Draws one latency.
    pub fn sample(&self, rng: &mut dyn Rng) -> Duration {
        let mut us = self.min_us + below(rng, self.jitter_us + 1);
        if self.tail_ppm > 0 && chance(rng, u64::from(self.tail_ppm), u64::from(PPM)) {
            us += below(rng, self.tail_us + 1);
        }
        Duration::from_micros(us)
    }

    /// The largest latency this distribution can draw.
    #[must_use]
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.min_us + self.jitter_us + if self.tail_ppm > 0 { self.tail_us } else { 0 })
    }
}

/// A latency that differs from the default on one directed link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkLatency {
    /// Sending node.
    pub from: u32,
    /// Receiving node.
    pub to: u32,
    /// The link's latency.
    pub latency: Latency,
}

/// Standing network faults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFaults {
    /// Latency of every link without an override.
    pub latency: Latency,
    /// Per-link overrides.
    pub links: Vec<LinkLatency>,
    /// Probability that a message is lost.
    pub drop_ppm: u32,
    /// Probability that a message is delivered twice.
    pub duplicate_ppm: u32,
    /// Probability that a message is held back by `reorder_delay_us`, so later ones overtake it.
    pub reorder_ppm: u32,
    /// How long a reordered message is held back, in microseconds.
    pub reorder_delay_us: u64,
    /// Probability that one bit of a message flips in flight (the codec's checksum must catch it).
    pub corrupt_ppm: u32,
}

impl Default for NetworkFaults {
    /// A healthy LAN: 0.5–1.5 ms, nothing lost.
    fn default() -> Self {
        NetworkFaults {
            latency: Latency { min_us: 500, jitter_us: 1000, tail_ppm: 0, tail_us: 0 },
            links: Vec::new(),
            drop_ppm: 0,
            duplicate_ppm: 0,
            reorder_ppm: 0,
            reorder_delay_us: 0,
            corrupt_ppm: 0,
        }
    }
}

impl NetworkFaults {
    /// The longest a delivered message can take, overrides and reordering included.
    #[must_use]
    pub fn delay_max(&self) -> Duration {
        let worst_link = self.links.iter().map(|link| link.latency.max()).max().unwrap_or(Duration::ZERO);
        let reorder = if self.reorder_ppm > 0 { Duration::from_micros(self.reorder_delay_us) } else { Duration::ZERO };
        self.latency.max().max(worst_link) + reorder
    }
}

/// Standing disk faults (the same for every node's disk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskFaults {
    /// How long a sync keeps the node busy.
    pub sync_latency: Latency,
    /// On a crash, a prefix of the unsynced writes survives and the last survivor may be torn.
    pub torn_writes: bool,
    /// Probability that a read finds its value rotted (the checksum catches it).
    pub read_corrupt_ppm: u32,
    /// Probability that a read fails with an I/O error (the data is intact).
    pub read_error_ppm: u32,
    /// Disk size in bytes; `None` is unbounded.
    pub capacity_bytes: Option<u64>,
}

impl Default for DiskFaults {
    /// A fast, reliable SSD.
    fn default() -> Self {
        DiskFaults {
            sync_latency: Latency { min_us: 50, jitter_us: 100, tail_ppm: 0, tail_us: 0 },
            torn_writes: false,
            read_corrupt_ppm: 0,
            read_error_ppm: 0,
            capacity_bytes: None,
        }
    }
}

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

    /// A short stable name of the fault's kind, for coverage counts.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Fault::Partition { partition } => match partition {
                Partition::Isolate { .. } => "partition.isolate",
                Partition::Halves { .. } => "partition.halves",
                Partition::MajorityMinority { .. } => "partition.majority_minority",
                Partition::Bridge { .. } => "partition.bridge",
                Partition::Ring { .. } => "partition.ring",
                Partition::OneWay { .. } => "partition.one_way",
            },
            Fault::Heal => "heal",
            Fault::Crash { .. } => "crash",
            Fault::Restart { .. } => "restart",
            Fault::Pause { .. } => "pause",
            Fault::Resume { .. } => "resume",
            Fault::Slow { .. } => "slow",
            Fault::ClockJump { .. } => "clock_jump",
            Fault::DiskFull { .. } => "disk_full",
            Fault::DiskFreed { .. } => "disk_freed",
            Fault::HealAll => "heal_all",
        }
    }
}

/// The kinds of timed fault a swarm plan can draw (window starts; their ends — heal, restart,
/// resume, disk freed — are not listed), by [`Fault::kind_name`].
pub const TIMED_FAULT_KINDS: &[&str] = &[
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
];

/// A fault at a moment of virtual time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedFault {
    /// When, in milliseconds since the run began.
    pub at_ms: u64,
    /// What.
    pub fault: Fault,
}

/// Which kinds of fault a swarm draw may use (see [`FaultPlan::swarm_with`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmProfile {
    /// Partitions of every shape.
    pub partitions: bool,
    /// Timed node faults allowed, by kind name: `crash`, `pause`, `slow`, `clock_jump`, `disk_full`.
    pub node_faults: &'static [&'static str],
    /// Standing network faults: loss, duplication, reordering, corruption, slow links.
    pub network: bool,
    /// Standing disk faults: torn writes, read errors, slow syncs.
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
        node_faults: &["crash", "pause", "slow", "clock_jump", "disk_full"],
        network: true,
        disk: true,
        disk_rot: true,
        clock_skew: true,
        buggify: true,
    };
}

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

    /// The longest a delivered message can take under this plan.
    #[must_use]
    pub fn message_delay_max(&self) -> Duration {
        self.network.delay_max()
    }

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
        if !profile.disk {
            plan.disk.torn_writes = false;
            plan.disk.read_error_ppm = 0;
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
        let mut node_kinds: Vec<&'static str> = ["crash", "pause", "slow", "clock_jump", "disk_full"]
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
                        "crash" => (Fault::Crash { node }, Fault::Restart { node }),
                        "pause" => (Fault::Pause { node }, Fault::Resume { node }),
                        "slow" => (
                            Fault::Slow { node, handler_extra_us: 1_000 + below(rng, 50_000) },
                            Fault::Slow { node, handler_extra_us: 0 },
                        ),
                        "clock_jump" => {
                            let by_ms = below(rng, 120_001) as i64 - 60_000;
                            (Fault::ClockJump { node, by_ms }, Fault::ClockJump { node, by_ms: -by_ms })
                        }
                        _ => (Fault::DiskFull { node }, Fault::DiskFreed { node }),
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
        if profile.node_faults.contains(&"crash") && half(rng) {
            plan.crash_after_sync_ppm = 1 + ppm_up_to(rng, 50_000);
        }
        plan
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
        let mut timed: Vec<&'static str> = self.events.iter().map(|event| event.fault.kind_name()).collect();
        timed.sort_unstable();
        timed.dedup();
        kinds.extend(
            timed
                .into_iter()
                .filter(|kind| !matches!(*kind, "heal" | "restart" | "resume" | "disk_freed"))
                .map(str::to_owned),
        );
        kinds
    }
}

fn draw_partition(rng: &mut dyn Rng, nodes: u32) -> Partition {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn partitions_block_what_they_claim() {
        assert_eq!(Partition::OneWay { from: vec![0], to: vec![1, 2] }.blocked_links(3), vec![(0, 1), (0, 2)]);
        assert_eq!(Partition::Isolate { node: 1 }.blocked_links(3), vec![(0, 1), (1, 0), (1, 2), (2, 1)]);
        let bridge = Partition::Bridge { left: vec![0], right: vec![2], bridge: 1 }.blocked_links(3);
        assert_eq!(bridge, vec![(0, 2), (2, 0)]);
        let ring = Partition::Ring { order: vec![0, 1, 2, 3] }.blocked_links(4);
        assert_eq!(ring, vec![(0, 2), (1, 3), (2, 0), (3, 1)]);
    }

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

//! The DHT scenarios' fault plans: a join window, time to settle, then churn (nodes leave and come
//! back) or partitions that split and heal the network, drawn from the seed's `"plan"` stream.
//! The timeline grows with the node count, so that a hundred thousand nodes join at a realistic
//! rate.

use pangea_core::Duration;
use pangea_core::Rng;
use pangea_core::random::below;
use pangea_sim::plan::draw_partition;
use pangea_sim::{Fault, FaultPlan, Latency, SeedStreams, TimedFault};

/// Nodes every other node joins through (the first ones; they start at once and never leave).
pub const SEEDS: u32 = 4;
/// Nodes that join per second of the join window.
pub const JOINS_PER_SECOND: u64 = 2_000;
/// Time after the join window before lookups are measured.
pub const SETTLE: Duration = Duration::from_secs(10);
/// Time a node must have been up before it counts as findable (its join is done by then).
pub const STABLE_AFTER: Duration = Duration::from_secs(8);

/// The join window for `nodes` nodes: at least 5 s, and long enough that about
/// [`JOINS_PER_SECOND`] join per second.
#[must_use]
pub fn join_window(nodes: u32) -> Duration {
    Duration::from_millis((u64::from(nodes) * 1000 / JOINS_PER_SECOND).max(5_000))
}

/// When lookups start to count: after the join window and [`SETTLE`].
#[must_use]
pub fn measured_from(nodes: u32) -> Duration {
    join_window(nodes) + SETTLE
}

/// How a scenario churns or splits its network.
#[derive(Clone, Copy, Debug)]
pub struct Disruption {
    /// Per mille of the nodes that leave per second while churn lasts (each comes back later).
    pub leave_per_mille_per_second: u64,
    /// A node that left stays away between these.
    pub away: (Duration, Duration),
    /// Partitions drawn during the measured window (each lasts 8–20 s, healed 5 s before the next).
    pub partitions: u32,
    /// How long the measured window (churn, partitions) lasts.
    pub window: Duration,
}

/// A healthy network with latencies of a wide-area overlay: 5–80 ms, a few slow messages.
fn latency(rng: &mut dyn Rng) -> Latency {
    Latency {
        min_us: 5_000 + below(rng, 10_000),
        jitter_us: 20_000 + below(rng, 50_000),
        tail_ppm: 10_000,
        tail_us: 200_000,
    }
}

/// The plan of seed `seed` for `nodes` nodes under `disruption`.
#[must_use]
pub fn plan(seed: u64, nodes: u32, disruption: &Disruption) -> FaultPlan {
    let mut rng = SeedStreams::new(seed).stream("plan");
    let rng: &mut dyn Rng = &mut rng;
    let start = measured_from(nodes);
    let end = start + disruption.window;
    let mut plan = FaultPlan::none(millis(end));
    plan.network.latency = latency(rng);
    let mut events = Vec::new();
    // Churn: each second, some nodes leave (never a seed), each back after a while; the rate is
    // kept exactly, in thousandths of a node carried from second to second (so a small network
    // loses one node every few seconds, not one a second).
    if disruption.leave_per_mille_per_second > 0 && nodes > SEEDS {
        let mut owed = 0;
        let mut second = millis(start);
        while second < millis(end) {
            owed += u64::from(nodes) * disruption.leave_per_mille_per_second;
            let leaving = owed / 1000;
            owed %= 1000;
            for _ in 0..leaving {
                let node = SEEDS + below(rng, u64::from(nodes - SEEDS)) as u32;
                let at = second + below(rng, 1000);
                let (least, most) = (millis(disruption.away.0), millis(disruption.away.1));
                let back = at + least + below(rng, most - least + 1);
                events.push(TimedFault { at_ms: at, fault: Fault::Crash { node } });
                if back < millis(end) {
                    events.push(TimedFault { at_ms: back, fault: Fault::Restart { node } });
                }
            }
            second += 1000;
        }
    }
    // Partitions: each lasts 8–20 s, with 5 s healed between them.
    let mut at = millis(start) + 2_000;
    for _ in 0..disruption.partitions {
        let lasts = 8_000 + below(rng, 12_001);
        if at + lasts >= millis(end) {
            break;
        }
        let partition = draw_partition(rng, nodes);
        events.push(TimedFault { at_ms: at, fault: Fault::Partition { partition } });
        events.push(TimedFault { at_ms: at + lasts, fault: Fault::Heal });
        at += lasts + 5_000;
    }
    events.sort_by_key(|event| event.at_ms);
    plan.events = events;
    plan
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

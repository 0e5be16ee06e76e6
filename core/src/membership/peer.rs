//! One tracked peer: its health and its measured round-trip time.

pub use crate::health::Health;
use crate::membership::suspicion::Suspicion;
use crate::time::{Duration, Instant};

/// Smoothed round-trip time and its variation, after RFC 6298 (gains 1/8 and 1/4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RttEstimate {
    /// Smoothed round-trip time.
    pub smoothed: Duration,
    /// Mean deviation of the samples.
    pub variation: Duration,
    /// Samples taken.
    pub samples: u64,
}

impl RttEstimate {
    /// The estimate after a first sample.
    #[must_use]
    pub fn first(sample: Duration) -> RttEstimate {
        RttEstimate { smoothed: sample, variation: sample / 2, samples: 1 }
    }

    /// Folds in another sample.
    pub fn update(&mut self, sample: Duration) {
        let deviation = self.smoothed.abs_diff(sample);
        self.variation = (self.variation * 3 + deviation) / 4;
        self.smoothed = (self.smoothed * 7 + sample) / 8;
        self.samples += 1;
    }
}

/// What a node knows about one peer. About 200 bytes with its table entry, so a node that tracks
/// `peers_max` peers holds at most `peers_max × 200` bytes of membership state (plus its queues).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Current judgement.
    pub health: Health,
    /// The peer's incarnation the judgement is about.
    pub incarnation: u64,
    /// False until the judgement rests on the protocol (a message from the peer, or gossip about
    /// it): a peer just learned from configuration, storage or an id is suspect, without a timer.
    pub judged: bool,
    /// True when another part of the node asked to track it (the log's members): never dropped.
    pub pinned: bool,
    /// When this node (in this incarnation) first knew of the peer.
    pub known_since: Instant,
    /// When the peer was last heard from directly in this incarnation.
    pub last_heard: Option<Instant>,
    /// When `health` last changed.
    pub health_since: Instant,
    /// Round-trip estimate, once measured.
    pub rtt: Option<RttEstimate>,
    /// The running suspicion, while the peer is suspect.
    pub suspicion: Option<Suspicion>,
}

impl Peer {
    /// A peer just learned of (from config, storage or an id): suspect until judged.
    #[must_use]
    pub fn new(now: Instant) -> Peer {
        Peer {
            health: Health::Suspect,
            incarnation: 0,
            judged: false,
            pinned: false,
            known_since: now,
            last_heard: None,
            health_since: now,
            rtt: None,
            suspicion: None,
        }
    }
}

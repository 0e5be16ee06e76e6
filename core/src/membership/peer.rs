//! One tracked peer: its health and its measured round-trip time.

pub use crate::health::Health;
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

/// What a node knows about one peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Current judgement.
    pub health: Health,
    /// When this node (in this incarnation) first knew of the peer; silence is counted from here
    /// until the peer is first heard.
    pub known_since: Instant,
    /// When the peer was last heard from in this incarnation.
    pub last_heard: Option<Instant>,
    /// When `health` last changed.
    pub health_since: Instant,
    /// Round-trip estimate, once measured.
    pub rtt: Option<RttEstimate>,
}

impl Peer {
    /// A peer just learned of (from config, storage or gossip): suspect until heard.
    #[must_use]
    pub fn new(now: Instant) -> Peer {
        Peer { health: Health::Suspect, known_since: now, last_heard: None, health_since: now, rtt: None }
    }

    /// How long the peer has been silent at `now`.
    #[must_use]
    pub fn silence(&self, now: Instant) -> Duration {
        now - self.last_heard.unwrap_or(self.known_since)
    }
}

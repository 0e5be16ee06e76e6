//! The userspace firewall: allow or deny each source, and rate-limit every allowed one with a token
//! bucket. It is the portable path and the reference for the XDP program of `pangea-hw`, which runs
//! the same bucket arithmetic on packets in the kernel (see [`bucket`]): for the same arrivals at
//! the same times both pass and drop the same packets.
//!
//! A source is anything ordered: a peer's [`NodeId`](crate::id::NodeId) when a
//! [`PangeaNode`](crate::pangea::PangeaNode) filters messages, an IP address when the real node
//! filters datagrams before QUIC sees them. The caller decides whether a source is allowed (a
//! member of the configuration, an address in an allow-list); the firewall counts and rate-limits.
//! Time comes from the caller, in nanoseconds of its monotonic clock.

pub mod bucket;
mod config;
pub mod names;
#[cfg(test)]
mod tests;

pub use bucket::{Bucket, NANOS_PER_TOKEN};
pub use config::{BURST_MAX, FirewallConfig, FirewallConfigError, FirewallPlantedBug, RATE_PER_SECOND_MAX, RateLimit};

use std::collections::{BTreeMap, BTreeSet};

/// Most sources whose buckets are kept; past it, the least recently seen source's is forgotten
/// (it starts again with a full bucket, as the XDP program's LRU map does).
pub const SOURCES_MAX: usize = 65_536;

/// What the firewall does with one packet or message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Let it through.
    Pass,
    /// Drop it: its source is not allowed.
    DropDenied,
    /// Drop it: its source is over its rate.
    DropRate,
}

/// How many packets or messages the firewall passed and dropped, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FirewallCounters {
    /// Let through.
    pub passed: u64,
    /// Dropped because the source is not allowed.
    pub dropped_denied: u64,
    /// Dropped because the source was over its rate.
    pub dropped_rate: u64,
}

/// The firewall's state: the rate limit, each recent source's bucket, and the counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Firewall<S: Ord + Clone> {
    rate: RateLimit,
    buckets: BTreeMap<S, Bucket>,
    /// `(last seen, source)` of every source in `buckets`, for forgetting the least recent.
    by_last_seen: BTreeSet<(u64, S)>,
    counters: FirewallCounters,
    planted_bug: Option<FirewallPlantedBug>,
}

impl<S: Ord + Clone> Firewall<S> {
    /// A firewall limiting every allowed source to `rate`.
    pub fn new(rate: RateLimit) -> Result<Firewall<S>, FirewallConfigError> {
        rate.validate()?;
        Ok(Firewall {
            rate,
            buckets: BTreeMap::new(),
            by_last_seen: BTreeSet::new(),
            counters: FirewallCounters::default(),
            planted_bug: None,
        })
    }

    /// Plants `bug` (in builds with the `planted-bugs` feature; otherwise it has no effect).
    #[must_use]
    pub fn with_planted_bug(mut self, bug: Option<FirewallPlantedBug>) -> Firewall<S> {
        if cfg!(feature = "planted-bugs") {
            self.planted_bug = bug;
        }
        self
    }

    /// The rate limit.
    #[must_use]
    pub fn rate(&self) -> RateLimit {
        self.rate
    }

    /// Changes the rate limit; buckets keep their tokens, capped at the new burst on their next use.
    pub fn set_rate(&mut self, rate: RateLimit) -> Result<(), FirewallConfigError> {
        rate.validate()?;
        self.rate = rate;
        Ok(())
    }

    /// The counters so far.
    #[must_use]
    pub fn counters(&self) -> FirewallCounters {
        self.counters
    }

    /// How many sources' buckets are kept.
    #[must_use]
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }

    /// Decides on one packet or message from `source` arriving at `now_nanos`, which the caller
    /// found `allowed` or not, and counts the verdict.
    pub fn check(&mut self, source: &S, allowed: bool, now_nanos: u64) -> Verdict {
        let verdict = self.decide(source, allowed, now_nanos);
        let counter = match verdict {
            Verdict::Pass => &mut self.counters.passed,
            Verdict::DropDenied => &mut self.counters.dropped_denied,
            Verdict::DropRate => &mut self.counters.dropped_rate,
        };
        *counter += 1;
        verdict
    }

    fn decide(&mut self, source: &S, allowed: bool, now_nanos: u64) -> Verdict {
        if !allowed && self.planted_bug != Some(FirewallPlantedBug::AdmitsDenied) {
            return Verdict::DropDenied;
        }
        if self.rate.is_off() {
            return Verdict::Pass;
        }
        let bucket = match self.buckets.get(source) {
            Some(bucket) => {
                self.by_last_seen.remove(&(bucket.last_nanos, source.clone()));
                bucket.refilled(now_nanos, self.rate)
            }
            None => {
                if self.buckets.len() >= SOURCES_MAX
                    && let Some((_, oldest)) = self.by_last_seen.pop_first()
                {
                    self.buckets.remove(&oldest);
                }
                Bucket::full(now_nanos, self.rate)
            }
        };
        let (bucket, passes) = bucket.take();
        self.by_last_seen.insert((bucket.last_nanos, source.clone()));
        self.buckets.insert(source.clone(), bucket);
        debug_assert_eq!(self.buckets.len(), self.by_last_seen.len());
        if passes { Verdict::Pass } else { Verdict::DropRate }
    }
}

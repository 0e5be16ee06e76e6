//! Where requests' time goes, stage by stage: fine-grained latency histograms kept by the event
//! loop, exported to Prometheus as `pangea_stage_seconds{stage=...}` and handed to clients in the
//! runtime status, from which `pangea bench --breakdown` prints a table.
//!
//! The stages are the log's ([`pangea_core::log::Stage`], measured by the core with the node's
//! clock) and three the runtime measures itself: [`SENDS_HELD`], how long a peer message waited
//! between the handler asking for it and the transport taking it, [`TOTAL`], a client request
//! from arrival to its answer being handed to the transport, and [`HANDLER`], how long the event
//! loop spent on one input (its p99 shows stalls that every request behind them waits out).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The runtime's own stage: a peer message from the handler's send to the transport.
pub const SENDS_HELD: &str = "sends_held";
/// The runtime's own stage: a client request from arrival to its answer.
pub const TOTAL: &str = "total";
/// The runtime's own stage: one input (message, request, timer) from handing it to the node to
/// having carried out what it asked for.
pub const HANDLER: &str = "handler";
/// Stages a table keeps (the log's, the runtime's, and room to spare); others are ignored.
pub const STAGES_MAX: usize = 16;

/// Upper bounds of the fine buckets, in nanoseconds: 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7 and 8
/// times each power of ten from 1 µs to 1 s, then 10 s; above is the overflow bucket. Every bound
/// of the coarse Prometheus buckets ([`crate::metrics::LATENCY_BUCKETS_US`]) is one of these.
#[must_use]
pub fn bucket_bounds_nanos() -> Vec<u64> {
    const STEPS_PER_HUNDRED: [u64; 11] = [100, 125, 150, 200, 250, 300, 400, 500, 600, 700, 800];
    let mut bounds = Vec::new();
    let mut decade = 1_000_u64;
    while decade <= 1_000_000_000 {
        bounds.extend(STEPS_PER_HUNDRED.iter().map(|step| decade * step / 100));
        decade *= 10;
    }
    bounds.push(10_000_000_000);
    bounds
}

/// One stage's histogram: counts per fine bucket (the last counts everything above the bounds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageCounts {
    /// The stage's name.
    pub stage: String,
    /// Observations.
    pub count: u64,
    /// Their sum, in nanoseconds.
    pub sum_nanos: u64,
    /// Observations per bucket of [`bucket_bounds_nanos`], plus one overflow bucket.
    pub buckets: Vec<u64>,
}

impl StageCounts {
    fn new(stage: &str, buckets: usize) -> StageCounts {
        StageCounts { stage: stage.to_owned(), count: 0, sum_nanos: 0, buckets: vec![0; buckets + 1] }
    }

    /// The mean, or zero without observations.
    #[must_use]
    pub fn mean(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos.checked_div(self.count).unwrap_or(0))
    }

    /// The upper bound of the bucket holding percentile `p` (0..=1), or zero without observations
    /// (the overflow bucket reports the largest bound).
    #[must_use]
    pub fn percentile(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let bounds = bucket_bounds_nanos();
        let rank = ((self.count as f64 * p).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(bounds[index.min(bounds.len() - 1)]);
            }
        }
        Duration::from_nanos(bounds[bounds.len() - 1])
    }

    /// What was observed since `earlier` (an earlier reading of the same stage).
    #[must_use]
    pub fn since(&self, earlier: &StageCounts) -> StageCounts {
        StageCounts {
            stage: self.stage.clone(),
            count: self.count.saturating_sub(earlier.count),
            sum_nanos: self.sum_nanos.saturating_sub(earlier.sum_nanos),
            buckets: self
                .buckets
                .iter()
                .enumerate()
                .map(|(index, count)| count.saturating_sub(earlier.buckets.get(index).copied().unwrap_or(0)))
                .collect(),
        }
    }

    /// Adds `other`'s observations (of the same stage, e.g. on another node).
    pub fn add(&mut self, other: &StageCounts) {
        self.count += other.count;
        self.sum_nanos = self.sum_nanos.saturating_add(other.sum_nanos);
        for (index, count) in other.buckets.iter().enumerate() {
            if let Some(mine) = self.buckets.get_mut(index) {
                *mine += count;
            }
        }
    }
}

/// One stage's histogram in coarse buckets (see [`StageTable::coarse`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CoarseStage {
    /// The stage's name.
    pub stage: &'static str,
    /// Observations.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum_seconds: f64,
    /// (upper bound in seconds, observations in that bucket alone), the last bound infinite.
    pub buckets: Vec<(f64, u64)>,
}

/// Every stage's histogram, by name.
#[derive(Clone, Debug)]
pub struct StageTable {
    bounds: Vec<u64>,
    stages: BTreeMap<&'static str, StageCounts>,
}

impl Default for StageTable {
    fn default() -> StageTable {
        StageTable { bounds: bucket_bounds_nanos(), stages: BTreeMap::new() }
    }
}

impl StageTable {
    /// Records that one request spent `took` in `stage`.
    pub fn observe(&mut self, stage: &'static str, took: Duration) {
        if !self.stages.contains_key(stage) && self.stages.len() >= STAGES_MAX {
            return;
        }
        let buckets = self.bounds.len();
        let counts = self.stages.entry(stage).or_insert_with(|| StageCounts::new(stage, buckets));
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let index = self.bounds.partition_point(|bound| *bound < nanos);
        counts.count += 1;
        counts.sum_nanos = counts.sum_nanos.saturating_add(nanos);
        counts.buckets[index] += 1;
    }

    /// Every stage observed so far, by name.
    #[must_use]
    pub fn snapshot(&self) -> Vec<StageCounts> {
        self.stages.values().cloned().collect()
    }

    /// Each stage's observations in the buckets that end at `bounds_nanos` (each one of the fine
    /// bounds, ascending), plus one for everything above, as Prometheus' encoder takes them.
    #[must_use]
    pub fn coarse(&self, bounds_nanos: &[u64]) -> Vec<CoarseStage> {
        self.stages
            .iter()
            .map(|(stage, counts)| {
                let mut below = 0;
                let mut buckets = Vec::with_capacity(bounds_nanos.len() + 1);
                for bound in bounds_nanos {
                    let upto: u64 = counts.buckets[..self.bounds.partition_point(|fine| fine <= bound)].iter().sum();
                    buckets.push((*bound as f64 / 1e9, upto - below));
                    below = upto;
                }
                buckets.push((f64::INFINITY, counts.count - below));
                CoarseStage { stage, count: counts.count, sum_seconds: counts.sum_nanos as f64 / 1e9, buckets }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LATENCY_BUCKETS_US;

    #[test]
    fn the_fine_bounds_rise_and_hold_every_coarse_bound() {
        let bounds = bucket_bounds_nanos();
        assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]));
        for micros in LATENCY_BUCKETS_US {
            assert!(bounds.contains(&(micros * 1_000)), "{micros} µs");
        }
    }

    #[test]
    fn percentiles_report_the_bound_of_their_bucket() {
        let mut table = StageTable::default();
        for micros in 1..=100 {
            table.observe("quorum", Duration::from_micros(micros * 10));
        }
        let quorum = &table.snapshot()[0];
        assert_eq!(quorum.count, 100);
        assert_eq!(quorum.mean(), Duration::from_micros(505));
        // The 50th observation is 500 µs, a bound itself; the 99th is 990 µs, in the bucket to 1 ms.
        assert_eq!(quorum.percentile(0.5), Duration::from_micros(500));
        assert_eq!(quorum.percentile(0.99), Duration::from_millis(1));
        table.observe("quorum", Duration::from_secs(60));
        assert_eq!(table.snapshot()[0].percentile(1.0), Duration::from_secs(10));
    }

    #[test]
    fn a_reading_since_an_earlier_one_holds_only_what_came_between() {
        let mut table = StageTable::default();
        table.observe("queued", Duration::from_micros(3));
        let before = table.snapshot();
        table.observe("queued", Duration::from_millis(2));
        let between = table.snapshot()[0].since(&before[0]);
        assert_eq!((between.count, between.mean()), (1, Duration::from_millis(2)));
        assert_eq!(between.percentile(0.5), Duration::from_millis(2));
    }

    #[test]
    fn coarse_buckets_split_the_observations_and_end_with_the_rest() {
        let mut table = StageTable::default();
        table.observe(TOTAL, Duration::from_micros(90));
        table.observe(TOTAL, Duration::from_micros(300));
        table.observe(TOTAL, Duration::from_secs(30));
        let coarse = table.coarse(&[100_000, 500_000]);
        assert_eq!(coarse[0].count, 3);
        let counts: Vec<u64> = coarse[0].buckets.iter().map(|(_, count)| *count).collect();
        assert_eq!(counts, [1, 1, 1]);
    }
}

//! Where a client request's time goes at the replica that took it: each request is stamped with the
//! context's clock as it passes each stage, and the time spent in each stage is handed to whoever
//! drains [`StageSamples`] (the real runtime turns them into histograms; `pangea bench --breakdown`
//! prints them). In the simulator the clock is virtual, so the samples are as deterministic as
//! everything else.

use crate::time::{Duration, Instant};

/// A stage of a request at the leader that took it. A write's stages follow one another, and so do
/// a read's; each is measured from the end of the one before (from arrival for the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// A write from arrival until it is proposed: waiting for the batch delay, or for room in the
    /// pipeline.
    Queued,
    /// A write from proposed until the leader's own acceptance of it is synced.
    Persisted,
    /// A write from its local acceptance until a quorum accepted it: the followers' round trips
    /// and syncs (zero when a quorum was there before the leader's own sync).
    Quorum,
    /// A write from chosen until applied to the state machine and answered.
    Applied,
    /// A linearizable read from arrival until a quorum confirmed the leadership it was read under.
    ReadConfirmed,
    /// A read from confirmed until the state machine has applied its read index and it is
    /// answered.
    ReadApplied,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 6] =
        [Stage::Queued, Stage::Persisted, Stage::Quorum, Stage::Applied, Stage::ReadConfirmed, Stage::ReadApplied];

    /// The stage's name in metrics and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Persisted => "persisted",
            Stage::Quorum => "quorum",
            Stage::Applied => "applied",
            Stage::ReadConfirmed => "read_confirmed",
            Stage::ReadApplied => "read_applied",
        }
    }
}

/// One observation: a request spent `took` in `stage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StageSample {
    /// The stage.
    pub stage: Stage,
    /// The time spent in it.
    pub took: Duration,
}

/// The stamps of a proposed write, kept with its slot while it is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WriteStamps {
    /// When its request arrived.
    pub received: Instant,
    /// When it was proposed.
    pub proposed: Instant,
    /// When the leader's own acceptance was synced, once it was.
    pub persisted: Option<Instant>,
}

impl WriteStamps {
    /// The samples of a write chosen at `chosen` and applied at `applied`.
    #[must_use]
    pub fn samples(&self, chosen: Instant, applied: Instant) -> [StageSample; 4] {
        let persisted = self.persisted.unwrap_or(self.proposed).max(self.proposed);
        let quorum = chosen.max(persisted);
        [
            StageSample { stage: Stage::Queued, took: self.proposed - self.received },
            StageSample { stage: Stage::Persisted, took: persisted - self.proposed },
            StageSample { stage: Stage::Quorum, took: quorum - persisted },
            StageSample { stage: Stage::Applied, took: applied.max(quorum) - quorum },
        ]
    }
}

/// Samples kept until drained: at most [`STAGE_SAMPLES_MAX`]; more are counted and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StageSamples {
    held: Vec<StageSample>,
    dropped: u64,
}

/// Samples held between drains. The runtime drains after every input; where nobody drains (the
/// simulator), the buffer stays this small.
pub const STAGE_SAMPLES_MAX: usize = 256;

impl StageSamples {
    /// Keeps `sample` if there is room.
    pub fn record(&mut self, sample: StageSample) {
        if self.held.len() < STAGE_SAMPLES_MAX {
            self.held.push(sample);
        } else {
            self.dropped += 1;
        }
    }

    /// The samples held, oldest first, leaving none.
    pub fn take(&mut self) -> Vec<StageSample> {
        std::mem::take(&mut self.held)
    }

    /// Samples dropped for want of room since the start.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: u64) -> Instant {
        Instant::from_nanos(micros * 1_000)
    }

    #[test]
    fn a_writes_stages_add_up_to_its_time_at_the_leader() {
        let stamps = WriteStamps { received: at(10), proposed: at(12), persisted: Some(at(40)) };
        let samples = stamps.samples(at(90), at(95));
        let micros: Vec<u64> = samples.iter().map(|sample| sample.took.as_nanos() as u64 / 1_000).collect();
        assert_eq!(micros, [2, 28, 50, 5]);
        assert_eq!(micros.iter().sum::<u64>(), 95 - 10);
    }

    #[test]
    fn a_quorum_before_the_leaders_own_sync_costs_no_quorum_time() {
        let stamps = WriteStamps { received: at(0), proposed: at(0), persisted: Some(at(50)) };
        let samples = stamps.samples(at(30), at(51));
        assert_eq!(samples[2].took, Duration::ZERO);
        assert_eq!(samples[3].took, Duration::from_micros(1));
    }

    #[test]
    fn samples_beyond_the_limit_are_counted_not_kept() {
        let mut samples = StageSamples::default();
        for _ in 0..STAGE_SAMPLES_MAX + 3 {
            samples.record(StageSample { stage: Stage::Queued, took: Duration::ZERO });
        }
        assert_eq!(samples.dropped(), 3);
        assert_eq!(samples.take().len(), STAGE_SAMPLES_MAX);
        assert!(samples.take().is_empty());
    }
}

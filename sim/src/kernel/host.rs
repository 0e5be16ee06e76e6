//! The simulated world as a node's handler sees it, behind `pangea-core`'s [`Host`].

use super::WALL_CLOCK_ORIGIN_UNIX_SECONDS;
use crate::coverage::{Buggify, Coverage};
use crate::disk::SimDisk;
use crate::rng::SimRng;
use pangea_core::{Host, Instant, Storage, WallTime};
use rand_core::Rng;

/// The simulated world as a node's handler sees it: virtual time (plus the disk time charged so
/// far), its skewed wall clock, its seeded RNG, its simulated disk, and the run's fault points and
/// probes.
pub(super) struct SimHost<'a> {
    pub(super) start: Instant,
    pub(super) skew_nanos: i128,
    pub(super) rng: &'a mut SimRng,
    pub(super) disk: &'a mut SimDisk,
    pub(super) buggify: &'a mut Buggify,
    pub(super) coverage: &'a mut Coverage,
}

impl Host for SimHost<'_> {
    fn now(&self) -> Instant {
        self.start + self.disk.charged()
    }

    fn wall_clock(&self) -> WallTime {
        let nanos =
            i128::from(self.now().as_nanos()) + WALL_CLOCK_ORIGIN_UNIX_SECONDS * 1_000_000_000 + self.skew_nanos;
        WallTime::from_unix_nanos(nanos)
    }

    fn rng(&mut self) -> &mut dyn Rng {
        self.rng
    }

    fn storage(&mut self) -> &mut dyn Storage {
        self.disk
    }

    fn buggify(&mut self, site: &'static str) -> bool {
        self.buggify.fire(site, self.coverage)
    }

    fn sometimes(&mut self, probe: &'static str, condition: bool) {
        let count = match self.coverage.probes.get_mut(probe) {
            Some(count) => count,
            None => self.coverage.probes.entry(probe.to_owned()).or_default(),
        };
        count.evaluated += 1;
        count.held += u64::from(condition);
    }
}

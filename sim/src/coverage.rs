//! Coverage of a run or a sweep: which faults were applied, which buggify sites were enabled and
//! fired, and which `sometimes` probes held at least once.

use crate::rng::{SeedStreams, SimRng};
use pangea_core::random::chance;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One in this many evaluations of an enabled buggify site fires.
pub const BUGGIFY_FIRE_ONE_IN: u64 = 20;

/// Counts for one buggify site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteCount {
    /// Runs in which the site was enabled.
    pub enabled_runs: u64,
    /// Times it was evaluated.
    pub evaluated: u64,
    /// Times it fired.
    pub fired: u64,
}

/// Counts for one probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeCount {
    /// Times it was evaluated.
    pub evaluated: u64,
    /// Times its condition held.
    pub held: u64,
}

/// What a run or sweep covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Faults applied, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Buggify sites, by name.
    pub buggify: BTreeMap<String, SiteCount>,
    /// Probes, by name.
    pub probes: BTreeMap<String, ProbeCount>,
}

impl Coverage {
    /// Adds another run's or sweep's counts to these.
    pub fn merge(&mut self, other: &Coverage) {
        for (kind, count) in &other.faults {
            *self.faults.entry(kind.clone()).or_default() += count;
        }
        for (site, count) in &other.buggify {
            let entry = self.buggify.entry(site.clone()).or_default();
            entry.enabled_runs += count.enabled_runs;
            entry.evaluated += count.evaluated;
            entry.fired += count.fired;
        }
        for (probe, count) in &other.probes {
            let entry = self.probes.entry(probe.clone()).or_default();
            entry.evaluated += count.evaluated;
            entry.held += count.held;
        }
    }

    /// Probes that were evaluated but never held.
    #[must_use]
    pub fn probes_never_held(&self) -> Vec<&str> {
        self.probes.iter().filter(|(_, count)| count.held == 0).map(|(name, _)| name.as_str()).collect()
    }
}

/// The buggify switchboard of one run.
#[derive(Clone, Debug)]
pub(crate) struct Buggify {
    active: bool,
    streams: SeedStreams,
    rng: SimRng,
    enabled: BTreeMap<&'static str, bool>,
}

impl Buggify {
    pub(crate) fn new(active: bool, streams: &SeedStreams) -> Buggify {
        Buggify { active, streams: streams.clone(), rng: streams.stream("buggify"), enabled: BTreeMap::new() }
    }

    /// Whether `site` fires now. Whether a site is enabled at all depends only on the seed and the
    /// site's name, not on the order in which sites are first reached.
    pub(crate) fn fire(&mut self, site: &'static str, coverage: &mut Coverage) -> bool {
        if !self.active {
            return false;
        }
        let streams = &self.streams;
        let first = !self.enabled.contains_key(site);
        let enabled = *self
            .enabled
            .entry(site)
            .or_insert_with(|| streams.fixed_u64(&format!("buggify/{site}")).is_multiple_of(2));
        let count = coverage.buggify.entry(site.to_owned()).or_default();
        if first && enabled {
            count.enabled_runs += 1;
        }
        count.evaluated += 1;
        let fired = enabled && chance(&mut self.rng, 1, BUGGIFY_FIRE_ONE_IN);
        if fired {
            count.fired += 1;
        }
        fired
    }
}

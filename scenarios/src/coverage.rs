//! What a sweep covered and what it missed: how many runs applied each kind of fault, how often each
//! `buggify` site was enabled and fired, which `sometimes` probes held, and which of all these never
//! happened at all.

use crate::filter::FaultFilter;
use crate::report::RunReport;
use pangea_sim::FaultPlan;
use pangea_sim::plan::{FAULT_KINDS, FaultKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// Timed fault kinds a swarm plan can draw (window starts; their ends are counted but not expected).
pub use pangea_sim::plan::TIMED_FAULT_KINDS;

/// Standing fault kinds, named as `--faults` names them.
pub use pangea_sim::plan::STANDING_FAULT_KINDS;

/// Runs and occurrences of one thing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Runs in which it happened at least once.
    pub runs: u64,
    /// Times it happened over all runs.
    pub count: u64,
}

/// One buggify site over a sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SiteTally {
    /// Runs in which the site was enabled.
    pub runs_enabled: u64,
    /// Runs in which it fired at least once.
    pub runs_fired: u64,
    /// Times it was evaluated.
    pub evaluated: u64,
    /// Times it fired.
    pub fired: u64,
}

/// One `sometimes` probe over a sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProbeTally {
    /// Runs in which it held at least once.
    pub runs_held: u64,
    /// Times it was evaluated.
    pub evaluated: u64,
    /// Times it held.
    pub held: u64,
}

/// The coverage of a sweep, run by run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CoverageSummary {
    /// Runs counted.
    pub runs: u64,
    /// Timed faults applied, by kind.
    pub faults: BTreeMap<String, Tally>,
    /// Standing faults: runs whose plan enabled them, by `--faults` name.
    pub standing: BTreeMap<String, u64>,
    /// Buggify sites, by name.
    pub buggify: BTreeMap<String, SiteTally>,
    /// Probes, by name.
    pub probes: BTreeMap<String, ProbeTally>,
}

/// The standing faults `plan` enables, by `--faults` name.
#[must_use]
pub fn standing_kinds(plan: &FaultPlan) -> Vec<&'static str> {
    FAULT_KINDS
        .iter()
        .filter(|info| matches!(info.kind, FaultKind::Standing(kind) if kind.is_on(plan)))
        .map(|info| info.name)
        .collect()
}

impl CoverageSummary {
    /// Counts one run.
    pub fn add(&mut self, report: &RunReport) {
        self.runs += 1;
        for (kind, count) in &report.coverage.faults {
            let tally = self.faults.entry(kind.clone()).or_default();
            tally.runs += u64::from(*count > 0);
            tally.count += count;
        }
        for kind in standing_kinds(&report.plan) {
            *self.standing.entry(kind.to_owned()).or_default() += 1;
        }
        for (site, count) in &report.coverage.buggify {
            let tally = self.buggify.entry(site.clone()).or_default();
            tally.runs_enabled += count.enabled_runs.min(1);
            tally.runs_fired += u64::from(count.fired > 0);
            tally.evaluated += count.evaluated;
            tally.fired += count.fired;
        }
        for (probe, count) in &report.coverage.probes {
            let tally = self.probes.entry(probe.clone()).or_default();
            tally.runs_held += u64::from(count.held > 0);
            tally.evaluated += count.evaluated;
            tally.held += count.held;
        }
    }

    /// Makes every name of `probes` and `sites` (a scenario's tables, see
    /// [`crate::Scenario::probes`]) count, so that one no run ever reached is reported as missed too,
    /// not only one reached and never held or fired.
    pub fn expect(&mut self, probes: &[&str], sites: &[&str]) {
        for probe in probes {
            self.probes.entry((*probe).to_owned()).or_default();
        }
        for site in sites {
            self.buggify.entry((*site).to_owned()).or_default();
        }
    }

    /// Adds another summary's counts to these.
    pub fn merge(&mut self, other: &CoverageSummary) {
        self.runs += other.runs;
        for (kind, tally) in &other.faults {
            let mine = self.faults.entry(kind.clone()).or_default();
            mine.runs += tally.runs;
            mine.count += tally.count;
        }
        for (kind, runs) in &other.standing {
            *self.standing.entry(kind.clone()).or_default() += runs;
        }
        for (site, tally) in &other.buggify {
            let mine = self.buggify.entry(site.clone()).or_default();
            mine.runs_enabled += tally.runs_enabled;
            mine.runs_fired += tally.runs_fired;
            mine.evaluated += tally.evaluated;
            mine.fired += tally.fired;
        }
        for (probe, tally) in &other.probes {
            let mine = self.probes.entry(probe.clone()).or_default();
            mine.runs_held += tally.runs_held;
            mine.evaluated += tally.evaluated;
            mine.held += tally.held;
        }
    }

    /// Fault kinds (timed and standing) that no run applied, leaving out those `filter` removed.
    #[must_use]
    pub fn faults_never_applied(&self, filter: Option<&FaultFilter>) -> Vec<&'static str> {
        let wanted = |name: &str| {
            filter.is_none_or(|filter| FaultKind::from_name(name).is_some_and(|kind| filter.keeps_kind(kind)))
        };
        let timed = TIMED_FAULT_KINDS
            .iter()
            .filter(|kind| wanted(kind) && self.faults.get(**kind).is_none_or(|tally| tally.count == 0));
        let standing = STANDING_FAULT_KINDS
            .iter()
            .filter(|kind| wanted(kind) && self.standing.get(**kind).is_none_or(|runs| *runs == 0));
        timed.chain(standing).copied().collect()
    }

    /// Buggify sites that never fired (reached or not).
    #[must_use]
    pub fn buggify_never_fired(&self) -> Vec<&str> {
        self.buggify.iter().filter(|(_, tally)| tally.fired == 0).map(|(site, _)| site.as_str()).collect()
    }

    /// Probes that never held (evaluated or not).
    #[must_use]
    pub fn probes_never_held(&self) -> Vec<&str> {
        self.probes.iter().filter(|(_, tally)| tally.held == 0).map(|(probe, _)| probe.as_str()).collect()
    }

    /// A few lines for a person: what the runs covered, then what they missed.
    #[must_use]
    pub fn render(&self, filter: Option<&FaultFilter>) -> String {
        let runs = self.runs.max(1);
        let percent = |count: u64| (count * 100).div_ceil(runs);
        let mut out = format!("coverage of {} runs (in % of runs; counts in brackets):\n", self.runs);
        let timed: Vec<String> = self
            .faults
            .iter()
            .filter(|(kind, _)| TIMED_FAULT_KINDS.contains(&kind.as_str()))
            .map(|(kind, tally)| format!("{kind} {}% [{}]", percent(tally.runs), tally.count))
            .collect();
        if !timed.is_empty() {
            out.push_str(&format!("  timed faults:    {}\n", timed.join(", ")));
        }
        let standing: Vec<String> =
            self.standing.iter().map(|(kind, runs)| format!("{kind} {}%", percent(*runs))).collect();
        if !standing.is_empty() {
            out.push_str(&format!("  standing faults: {}\n", standing.join(", ")));
        }
        let sites: Vec<String> = self
            .buggify
            .iter()
            .map(|(site, tally)| {
                format!(
                    "{site} enabled {}% fired {}% [{} of {}]",
                    percent(tally.runs_enabled),
                    percent(tally.runs_fired),
                    tally.fired,
                    tally.evaluated
                )
            })
            .collect();
        if !sites.is_empty() {
            out.push_str(&format!("  buggify sites:   {}\n", sites.join(", ")));
        }
        let probes: Vec<String> = self
            .probes
            .iter()
            .map(|(probe, tally)| format!("{probe} {}% [{}]", percent(tally.runs_held), tally.held))
            .collect();
        if !probes.is_empty() {
            out.push_str(&format!("  probes held:     {}\n", probes.join(", ")));
        }
        let never_faults = self.faults_never_applied(filter);
        let never_sites = self.buggify_never_fired();
        let never_probes = self.probes_never_held();
        if never_faults.is_empty() && never_sites.is_empty() && never_probes.is_empty() {
            out.push_str("  missed: nothing\n");
        } else {
            if !never_faults.is_empty() {
                out.push_str(&format!("  missed faults (never applied): {}\n", never_faults.join(", ")));
            }
            if !never_sites.is_empty() {
                out.push_str(&format!("  missed buggify sites (never fired): {}\n", never_sites.join(", ")));
            }
            if !never_probes.is_empty() {
                out.push_str(&format!("  missed probes (never held): {}\n", never_probes.join(", ")));
            }
        }
        out
    }
}

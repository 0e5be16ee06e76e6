//! Machine-readable sweep results: one [`SeedResult`] per seed, a [`SweepSummary`] written as JSON
//! (`sweep --json`), and JUnit XML (`sweep --junit`) for CI systems that show test reports.

use crate::coverage::CoverageSummary;
use crate::replay::hash_to_hex;
use crate::report::{FailureKind, RunReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` of a sweep's JSON results.
pub const SWEEP_FORMAT: &str = "pangea-sweep";

/// One seed's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedResult {
    /// Scenario.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// True if every checker was satisfied.
    pub passed: bool,
    /// The kind of failure.
    pub kind: Option<FailureKind>,
    /// The first violation's checker.
    pub checker: Option<String>,
    /// The first violation's virtual time, in nanoseconds.
    pub at_ns: Option<u64>,
    /// The first violation's node.
    pub node: Option<u32>,
    /// The first violation's message.
    pub message: Option<String>,
    /// The full trace hash, 64 hex digits.
    pub trace_hash: Option<String>,
    /// Trace records.
    pub trace_records: u64,
    /// Simulator events.
    pub events: u64,
    /// Virtual time the run lasted, in milliseconds.
    pub virtual_ms: u64,
    /// The command that replays a failure.
    pub replay: Option<String>,
    /// The full report of a failure, for a person.
    pub report: Option<String>,
}

impl SeedResult {
    /// The result of `report`'s run.
    #[must_use]
    pub fn of(report: &RunReport) -> SeedResult {
        let first = report.first_violation();
        let failed = first.is_some();
        SeedResult {
            scenario: report.scenario.clone(),
            seed: report.seed,
            passed: !failed,
            kind: report.outcome.failure_kind(),
            checker: first.map(|violation| violation.checker.to_owned()),
            at_ns: first.map(|violation| violation.at.as_nanos()),
            node: first.and_then(|violation| violation.node),
            message: first.map(|violation| violation.message.clone()),
            trace_hash: report.trace_hash.as_ref().map(hash_to_hex),
            trace_records: report.trace_len,
            events: report.stats.events,
            virtual_ms: report.ended_at.as_nanos() / 1_000_000,
            replay: failed.then(|| report.replay_command()),
            report: failed.then(|| report.render()),
        }
    }
}

/// A whole sweep's results, as `sweep --json` writes them.
#[derive(Clone, Debug, Serialize)]
pub struct SweepSummary {
    /// Always [`SWEEP_FORMAT`].
    pub format: &'static str,
    /// Version of this layout.
    pub version: u32,
    /// Scenarios swept.
    pub scenarios: Vec<String>,
    /// The seed range, as given.
    pub seeds: String,
    /// The shard run, `i/n`.
    pub shard: String,
    /// Worker threads.
    pub jobs: usize,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// Seeds per wall-clock second.
    pub seeds_per_second: f64,
    /// Seeds run.
    pub runs: u64,
    /// Seeds that passed.
    pub passed: u64,
    /// Seeds that failed.
    pub failed: u64,
    /// True if the sweep stopped at the first failure.
    pub stopped_early: bool,
    /// Every seed's result, by scenario then seed.
    pub results: Vec<SeedResult>,
    /// Coverage per scenario.
    pub coverage: BTreeMap<String, CoverageSummary>,
}

fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            character if (character as u32) < 0x20 && !matches!(character, '\n' | '\t' | '\r') => out.push(' '),
            character => out.push(character),
        }
    }
    out
}

impl SweepSummary {
    /// JUnit XML: a test suite per scenario, a test case per seed, a failure element with the report
    /// and the replay command for each failing seed.
    #[must_use]
    pub fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"pangea-sim sweep\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">\n",
            self.runs, self.failed, self.wall_seconds
        ));
        for scenario in &self.scenarios {
            let results: Vec<&SeedResult> = self.results.iter().filter(|result| &result.scenario == scenario).collect();
            let failures = results.iter().filter(|result| !result.passed).count();
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
                escape_xml(scenario),
                results.len()
            ));
            for result in results {
                let name = format!("seed {}", result.seed);
                out.push_str(&format!(
                    "    <testcase classname=\"pangea-sim.{}\" name=\"{name}\"",
                    escape_xml(scenario)
                ));
                if result.passed {
                    out.push_str("/>\n");
                    continue;
                }
                let kind = result.kind.map_or("failure", FailureKind::name);
                let message = format!(
                    "[{}] {}",
                    result.checker.as_deref().unwrap_or("?"),
                    result.message.as_deref().unwrap_or("")
                );
                out.push_str(&format!(
                    ">\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    escape_xml(&message),
                    escape_xml(result.report.as_deref().unwrap_or(""))
                ));
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts() {
        let passing = SeedResult {
            scenario: "health".into(),
            seed: 1,
            passed: true,
            kind: None,
            checker: None,
            at_ns: None,
            node: None,
            message: None,
            trace_hash: None,
            trace_records: 10,
            events: 5,
            virtual_ms: 100,
            replay: None,
            report: None,
        };
        let failing = SeedResult {
            seed: 2,
            passed: false,
            kind: Some(FailureKind::Liveness),
            checker: Some("liveness".into()),
            message: Some("n0 sees <n1> & \"n2\"".into()),
            report: Some("FAIL\u{1}".into()),
            ..passing.clone()
        };
        let summary = SweepSummary {
            format: SWEEP_FORMAT,
            version: 1,
            scenarios: vec!["health".into()],
            seeds: "1..3".into(),
            shard: "1/1".into(),
            jobs: 1,
            wall_seconds: 0.5,
            seeds_per_second: 4.0,
            runs: 2,
            passed: 1,
            failed: 1,
            stopped_early: false,
            results: vec![passing, failing],
            coverage: BTreeMap::new(),
        };
        let xml = summary.junit();
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(xml.contains("&lt;n1&gt; &amp; &quot;n2&quot;"), "{xml}");
        assert!(xml.contains("type=\"liveness\""), "{xml}");
        assert!(!xml.contains('\u{1}'));
        assert_eq!(xml.matches("<testcase").count(), 2);
    }
}

//! The DHT at scale, through `dht-scale`: at 1,000 nodes under the default churn a run passes its
//! checkers (lookups find ≥ 99% of live targets, return ≥ 95% of the true k closest, 90% within 6
//! hops; no live contact dropped). The 10,000- and 100,000-node runs are `--ignored`: they take
//! minutes (`cargo test --release -p pangea-tests --test dht -- --ignored --nocapture`).

use pangea_scenarios::{RunOptions, find, run_guarded};

fn scale_run(nodes: u32, seed: u64) {
    let scenario = find("dht-scale").expect("dht-scale is registered");
    let report = run_guarded(scenario, &RunOptions { nodes: Some(nodes), ..RunOptions::seed(seed) }).unwrap();
    println!("{}", report.render());
    assert!(report.outcome.passed(), "{}", report.render());
    let figures = report.notes.iter().find(|note| note.contains("lookups:")).expect("the lookups' figures");
    assert!(figures.contains("found their target"), "{figures}");
}

#[test]
fn a_thousand_nodes_under_default_churn_meet_the_goals() {
    scale_run(1_000, 1);
}

#[test]
#[ignore = "minutes: run with --release --ignored"]
fn ten_thousand_nodes_under_default_churn_meet_the_goals() {
    scale_run(10_000, 1);
}

#[test]
#[ignore = "tens of minutes and a few GiB: run with --release --ignored"]
fn a_hundred_thousand_nodes_under_default_churn_meet_the_goals() {
    scale_run(100_000, 1);
}

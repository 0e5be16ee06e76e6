//! `health`'s accuracy over a sweep: false deaths and false suspicions of members a majority
//! reaches, per node-hour, stay under the stated ceilings with every fault of the swarm.

use pangea_scenarios::health::{FALSE_DEATHS_PER_NODE_HOUR_SWEEP_MAX, FALSE_SUSPICIONS_PER_NODE_HOUR_SWEEP_MAX};
use pangea_scenarios::{RunOptions, SweepOptions, find, sweep_with};

#[test]
fn false_deaths_and_suspicions_over_a_sweep_stay_under_the_ceilings() {
    let health = find("health").unwrap();
    let seeds: Vec<u64> = (0..300).collect();
    let options = SweepOptions { jobs: 2, template: RunOptions::default(), ..SweepOptions::default() };
    let report = sweep_with(health, &seeds, &options, &|_, _, _| {}).unwrap();
    assert_eq!(report.failed, 0, "{:?}", report.reports.first().map(pangea_scenarios::RunReport::render));
    let rate = report.tallies["false_deaths"] / report.tallies["node_hours"];
    assert!(rate <= FALSE_DEATHS_PER_NODE_HOUR_SWEEP_MAX, "{rate:.2} false deaths per node-hour");
    let rate = report.tallies["false_suspicions"] / report.tallies["node_hours"];
    assert!(rate <= FALSE_SUSPICIONS_PER_NODE_HOUR_SWEEP_MAX, "{rate:.2} false suspicions per node-hour");
    assert!(report.tallies["node_hours"] > 20.0, "the sweep observed {} node-hours", report.tallies["node_hours"]);
}

//! Small fixed-seed traces, pinned with insta: any change of behaviour — in the kernel, the fault
//! model, the membership protocol, the checkers or the trace export — shows up as a snapshot diff
//! to review (`cargo insta review`, or `INSTA_UPDATE=always` to accept).

use pangea_core::NodeId;
use pangea_core::membership::{HealthConfig, Membership};
use pangea_scenarios::{RunOptions, RunReport, TraceFormat, export, find, run_guarded};
use pangea_sim::{Fault, FaultPlan, Partition, Sim, SimConfig, TimedFault};

fn small_run() -> Sim<Membership> {
    let mut plan = FaultPlan::none(3_000);
    plan.events = vec![
        TimedFault { at_ms: 1_200, fault: Fault::Crash { node: 2 } },
        TimedFault { at_ms: 2_100, fault: Fault::Restart { node: 2 } },
    ];
    let mut config = SimConfig::new(42, 3, plan);
    config.keep_trace = true;
    let mut sim = Sim::new(config, |index| {
        let mut config = HealthConfig::default();
        if index != 0 {
            config.bootstrap = vec![NodeId::for_index(0)];
        }
        Membership::new(config).unwrap()
    });
    sim.run_until(pangea_core::Instant::from_nanos(3_500_000_000)).unwrap();
    sim
}

#[test]
fn a_small_trace_is_pinned() {
    let sim = small_run();
    let records = sim.trace().records().expect("kept");
    let text: String = records.iter().map(|record| format!("{record}\n")).collect();
    insta::assert_snapshot!(format!("trace hash {}\n{text}", sim.trace_hash()));
}

/// A scenario run through the harness, with its report and every record.
fn scenario_run(seed: u64, nodes: u32, plan: FaultPlan) -> RunReport {
    let options = RunOptions { nodes: Some(nodes), plan: Some(plan), keep_trace: true, ..RunOptions::seed(seed) };
    run_guarded(find("health").unwrap(), &options).unwrap()
}

fn pinned(report: &RunReport) -> String {
    let records: String = report.trace.as_ref().unwrap().iter().map(|record| format!("{record}\n")).collect();
    format!("{}\n{records}", report.render())
}

#[test]
fn health_with_a_partition_and_a_pause_is_pinned() {
    let mut plan = FaultPlan::none(2_500);
    plan.network.drop_ppm = 50_000;
    plan.events = vec![
        TimedFault { at_ms: 600, fault: Fault::Partition { partition: Partition::Isolate { node: 1 } } },
        TimedFault { at_ms: 1_400, fault: Fault::Heal },
        TimedFault { at_ms: 1_700, fault: Fault::Pause { node: 2 } },
        TimedFault { at_ms: 2_200, fault: Fault::Resume { node: 2 } },
    ];
    insta::assert_snapshot!(pinned(&scenario_run(7, 3, plan)));
}

#[test]
fn health_drawn_from_a_seed_with_only_crashes_is_pinned() {
    // The seed's own swarm draw, filtered to crashes (n1 crashes at 2.854s, restarts at 4.845s) and
    // cut to 6 s: pins the plan draw too.
    let options =
        RunOptions { nodes: Some(2), faults: Some("crash".parse().unwrap()), keep_trace: true, ..RunOptions::seed(31) };
    let health = find("health").unwrap();
    let plan = pangea_scenarios::resolve_options(health, &options).unwrap().plan.unwrap();
    let plan = pangea_scenarios::shrink::truncated(&plan, 6_000);
    insta::assert_snapshot!(pinned(&scenario_run(31, 2, plan)));
}

#[test]
fn the_jsonl_export_of_a_calm_run_is_pinned() {
    let report = scenario_run(3, 2, FaultPlan::none(700));
    insta::assert_snapshot!(export(&report, TraceFormat::Jsonl).unwrap());
}

//! A small fixed-seed trace, pinned with insta: any change of behaviour — in the kernel, the fault
//! model or the membership protocol — shows up as a snapshot diff to review
//! (`cargo insta review`, or `INSTA_UPDATE=always` to accept).

use pangea_core::NodeId;
use pangea_core::membership::{HealthConfig, Membership};
use pangea_sim::{Fault, FaultPlan, Sim, SimConfig, TimedFault};

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

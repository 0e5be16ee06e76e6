//! The userspace firewall of `PangeaNode`, in the simulator: a cluster of members and one stranger
//! (a node configured with the cluster's members but never made one). With the firewall on
//! (`members_only`), the members drop everything the stranger sends: it never enters a member's
//! routing table or health view, and the cluster elects a leader and agrees on it as usual. With
//! the firewall off, the same run lets the stranger in — which shows the check can fail; and the
//! planted bug `firewall-admits-denied` (feature `planted-bugs`) is caught by it.

use pangea_core::firewall::{FirewallConfig, FirewallCounters, FirewallPlantedBug, RateLimit};
use pangea_core::{Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_sim::{FaultPlan, Sim, SimConfig};

/// Cluster members; the stranger is node `MEMBERS`.
const MEMBERS: u32 = 3;
/// Simulated time a run lasts.
const RUN_SECONDS: u64 = 20;

/// What a run with `firewall` found.
struct Outcome {
    /// Members that let the stranger into their routing table or health view.
    members_knowing_the_stranger: Vec<u32>,
    /// Every member's firewall counters.
    counters: Vec<FirewallCounters>,
    /// True when every member follows the same leader, one of them.
    agreed_leader: bool,
    trace_hash: String,
}

fn run(seed: u64, firewall: FirewallConfig) -> Outcome {
    let members: Vec<NodeId> = (0..MEMBERS).map(NodeId::for_index).collect();
    let config = PangeaConfig { firewall, ..PangeaConfig::new(members.clone()) };
    config.validate().unwrap();
    let mut sim = Sim::new(SimConfig::new(seed, MEMBERS + 1, FaultPlan::none(1_000)), move |_| {
        PangeaNode::new(config.clone()).unwrap()
    });
    sim.run_until(Instant::from_nanos(RUN_SECONDS * 1_000_000_000)).unwrap();
    let stranger = NodeId::for_index(MEMBERS);
    let nodes: Vec<&PangeaNode> = (0..MEMBERS).map(|index| sim.node(index).expect("a member")).collect();
    let members_knowing_the_stranger = (0..MEMBERS)
        .filter(|&index| {
            let node = nodes[index as usize];
            node.dht().table().contains(&stranger) || node.membership().peers().any(|(peer, _)| *peer == stranger)
        })
        .collect();
    let leaders: Vec<Option<NodeId>> = nodes.iter().map(|node| node.log().status().leader).collect();
    let agreed_leader = leaders[0].is_some_and(|leader| members.contains(&leader))
        && leaders.iter().all(|leader| *leader == leaders[0]);
    Outcome {
        members_knowing_the_stranger,
        counters: nodes.iter().map(|node| node.firewall_counters()).collect(),
        agreed_leader,
        trace_hash: sim.trace_hash().to_string(),
    }
}

fn members_only() -> FirewallConfig {
    FirewallConfig { members_only: true, ..FirewallConfig::default() }
}

#[test]
fn members_drop_the_stranger_and_keep_working() {
    for seed in 1..=4 {
        let outcome = run(seed, members_only());
        assert!(
            outcome.members_knowing_the_stranger.is_empty(),
            "seed {seed}: {:?}",
            outcome.members_knowing_the_stranger
        );
        assert!(outcome.agreed_leader, "seed {seed}: the members did not agree on a leader");
        for (member, counters) in outcome.counters.iter().enumerate() {
            assert!(counters.dropped_denied > 0, "seed {seed}: member {member} never heard the stranger: {counters:?}");
            assert!(counters.passed > 0 && counters.dropped_rate == 0, "seed {seed}: member {member}: {counters:?}");
        }
    }
}

#[test]
fn without_the_firewall_the_stranger_gets_in() {
    let outcome = run(1, FirewallConfig::default());
    assert!(!outcome.members_knowing_the_stranger.is_empty(), "the check above could never fail");
    assert!(outcome.counters.iter().all(|counters| counters.dropped_denied == 0));
}

#[test]
fn a_rate_limit_drops_the_excess_of_each_peer() {
    // Far below what the members send each other: every member drops some of every peer's messages.
    let firewall = FirewallConfig { rate: RateLimit { per_second: 5, burst: 5 }, ..members_only() };
    let outcome = run(1, firewall);
    for (member, counters) in outcome.counters.iter().enumerate() {
        assert!(counters.dropped_rate > 0, "member {member}: {counters:?}");
        let bound = u64::from(MEMBERS + 1) * (5 + 5 * RUN_SECONDS);
        assert!(
            counters.passed <= bound,
            "member {member} passed {} of its peers' messages, over {bound}",
            counters.passed
        );
    }
}

#[test]
fn a_firewalled_run_replays_bit_for_bit() {
    assert_eq!(run(7, members_only()).trace_hash, run(7, members_only()).trace_hash);
}

#[cfg(feature = "planted-bugs")]
#[test]
fn the_planted_firewall_bug_lets_the_stranger_in() {
    let firewall = FirewallConfig { planted_bug: Some(FirewallPlantedBug::AdmitsDenied), ..members_only() };
    let outcome = run(1, firewall);
    assert!(!outcome.members_knowing_the_stranger.is_empty(), "firewall-admits-denied went unnoticed");
}

#[cfg(not(feature = "planted-bugs"))]
#[test]
fn a_planted_bug_has_no_effect_without_the_feature() {
    let firewall = FirewallConfig { planted_bug: Some(FirewallPlantedBug::AdmitsDenied), ..members_only() };
    assert!(run(1, firewall).members_knowing_the_stranger.is_empty());
}

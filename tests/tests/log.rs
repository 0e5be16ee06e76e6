//! The replicated-log scenarios as cargo tests: a sweep of every variant at 3 and 5 replicas in the
//! default run, thousands of seeds behind `--ignored`. `PANGEA_SEED` / `PANGEA_SEEDS` override the
//! seeds (see `pangea_scenarios::check`).

use pangea_scenarios::check;

const VARIANTS: [&str; 4] = ["log-partitions", "log-crashes", "log-clock-skew", "log-swarm"];

/// `log-membership` runs two spare processes beyond its initial members.
const MEMBERSHIP_SPARES: u32 = 2;

#[test]
fn every_log_variant_passes_with_three_replicas() {
    for variant in VARIANTS {
        let report = check(variant).seeds(1_000..1_120).run();
        assert_eq!(report.failed, 0);
    }
    let report = check("log-membership").nodes(3 + MEMBERSHIP_SPARES).seeds(1_000..1_120).run();
    assert_eq!(report.failed, 0);
}

#[test]
fn every_log_variant_passes_with_five_replicas() {
    for variant in VARIANTS {
        let report = check(variant).nodes(5).seeds(2_000..2_030).run();
        assert_eq!(report.failed, 0);
    }
    let report = check("log-membership").nodes(5 + MEMBERSHIP_SPARES).seeds(2_000..2_030).run();
    assert_eq!(report.failed, 0);
}

#[test]
fn membership_changes_happen_and_span_elections() {
    let report = check("log-membership").seeds(4_000..4_040).run();
    for probe in [
        "log.members_changed",
        "log.pipeline_held_for_member_change",
        "log.election_spanned_configurations",
        "log.removed_leader_stepped_down",
        "log.member_change_refused",
    ] {
        let count = report.coverage.probes.get(probe).map_or(0, |count| count.held);
        assert!(count > 0, "40 seeds of log-membership never reached {probe}");
    }
}

#[test]
fn a_log_sweep_reaches_the_interesting_paths() {
    let report = check("log-swarm").seeds(3_000..3_060).run();
    for probe in [
        "log.leader_elected",
        "log.leader_stepped_down",
        "log.catch_up_requested",
        "log.snapshot_taken",
        "log.snapshot_installed",
        "log.recovered_state",
        "log.gap_filled_with_noop",
        "log.batched_commands",
        "log.duplicate_command_suppressed",
        "log.pipeline_full",
    ] {
        let count = report.coverage.probes.get(probe).map_or(0, |count| count.held);
        assert!(count > 0, "60 seeds of log-swarm never reached {probe}");
    }
}

#[test]
#[ignore = "long sweep: cargo test --release -p pangea-tests --test log -- --ignored"]
fn every_log_variant_passes_thousands_of_seeds() {
    for variant in VARIANTS {
        assert_eq!(check(variant).seeds(0..3_000).run().failed, 0);
        assert_eq!(check(variant).nodes(5).seeds(10_000..11_000).run().failed, 0);
    }
    assert_eq!(check("log-membership").seeds(0..3_000).run().failed, 0);
    assert_eq!(check("log-membership").nodes(5 + MEMBERSHIP_SPARES).seeds(10_000..11_000).run().failed, 0);
}

//! The replicated-log scenarios as cargo tests: a sweep of every variant at 3 and 5 replicas in the
//! default run, thousands of seeds behind `--ignored`. `PANGEA_SEED` / `PANGEA_SEEDS` override the
//! seeds (see `pangea_scenarios::check`). A failing seed fails the test inside `check(..).run()`,
//! with its report and replay command.

use pangea_core::log::names::probes;
use pangea_scenarios::check;

const VARIANTS: [&str; 4] = ["log-partitions", "log-crashes", "log-clock-skew", "log-swarm"];

/// `log-membership` runs two spare processes beyond its initial members.
const MEMBERSHIP_SPARES: u32 = 2;

#[test]
fn every_log_variant_passes_with_three_replicas() {
    for variant in VARIANTS {
        check(variant).seeds(1_000..1_120).run();
    }
    check("log-membership").nodes(3 + MEMBERSHIP_SPARES).seeds(1_000..1_120).run();
}

#[test]
fn every_log_variant_passes_with_five_replicas() {
    for variant in VARIANTS {
        check(variant).nodes(5).seeds(2_000..2_030).run();
    }
    check("log-membership").nodes(5 + MEMBERSHIP_SPARES).seeds(2_000..2_030).run();
}

#[test]
fn membership_changes_happen_and_span_elections() {
    let report = check("log-membership").seeds(4_000..4_040).run();
    for probe in [
        probes::MEMBERS_CHANGED,
        probes::PIPELINE_HELD_FOR_MEMBER_CHANGE,
        probes::ELECTION_SPANNED_CONFIGURATIONS,
        probes::REMOVED_LEADER_STEPPED_DOWN,
        probes::MEMBER_CHANGE_REFUSED,
    ] {
        let count = report.coverage.probes.get(probe).map_or(0, |count| count.held);
        assert!(count > 0, "40 seeds of log-membership never reached {probe}");
    }
}

#[test]
fn a_log_sweep_reaches_the_interesting_paths() {
    let report = check("log-swarm").seeds(3_000..3_060).run();
    for probe in [
        probes::LEADER_ELECTED,
        probes::LEADER_STEPPED_DOWN,
        probes::CATCH_UP_REQUESTED,
        probes::SNAPSHOT_TAKEN,
        probes::SNAPSHOT_INSTALLED,
        probes::RECOVERED_STATE,
        probes::GAP_FILLED_WITH_NOOP,
        probes::BATCHED_COMMANDS,
        probes::DUPLICATE_COMMAND_SUPPRESSED,
        probes::PIPELINE_FULL,
    ] {
        let count = report.coverage.probes.get(probe).map_or(0, |count| count.held);
        assert!(count > 0, "60 seeds of log-swarm never reached {probe}");
    }
}

#[test]
#[ignore = "long sweep: cargo test --release -p pangea-tests --test log -- --ignored"]
fn every_log_variant_passes_thousands_of_seeds() {
    for variant in VARIANTS {
        check(variant).seeds(0..3_000).run();
        check(variant).nodes(5).seeds(10_000..11_000).run();
    }
    check("log-membership").seeds(0..3_000).run();
    check("log-membership").nodes(5 + MEMBERSHIP_SPARES).seeds(10_000..11_000).run();
}

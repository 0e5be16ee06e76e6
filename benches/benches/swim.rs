//! SWIM's figures, side by side in one run: membership messages per node per probe period at
//! growing n (flat is the claim), wall time and peak memory of `health` at each n, and detection
//! time and false positives with and without Lifeguard under slow nodes.
//!
//! `cargo bench -p pangea-benches --bench swim` (5, 64 and 1,000 nodes; about 2 minutes), or with
//! `-- --large` to add 10,000 nodes (about 4 more minutes and 12 GB); `-- --lifeguard-only` and
//! `-- --load-only` run one table of the two.

use pangea_scenarios::RunOptions;
use pangea_scenarios::health::{HealthFigures, health_config, percentile, run_health};
use pangea_sim::{Fault, FaultPlan, Latency, LinkLatency, TimedFault};
use std::time::Instant as WallInstant;

/// Peak resident memory of this process so far, in MiB (Linux; 0 elsewhere).
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib / 1024)
}

fn run(seed: u64, nodes: u32, plan: Option<FaultPlan>, lifeguard: bool) -> (HealthFigures, bool) {
    let options = RunOptions { nodes: Some(nodes), plan, ..RunOptions::seed(seed) };
    // `run_health` itself, not the registry's checks: it takes sizes beyond the advertised range.
    let config = pangea_core::membership::HealthConfig { lifeguard, ..health_config() };
    let (report, figures) = run_health(&options, config).expect("runs");
    (figures, report.outcome.passed())
}

fn load_table(sizes: &[(u32, u64)]) {
    println!("messages per node per probe period under the full swarm, and the cost of simulating it");
    println!("| nodes | seeds | passed | mean | busiest node | wall per seed | peak RSS |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for &(nodes, seeds) in sizes {
        let started = WallInstant::now();
        let (mut mean, mut busiest, mut passed) = (0.0, 0.0_f64, 0);
        for seed in 0..seeds {
            let (figures, ok) = run(seed, nodes, None, true);
            mean += figures.load.mean / seeds as f64;
            busiest = busiest.max(figures.load.max);
            passed += u64::from(ok);
        }
        let wall = started.elapsed().as_secs_f64() / seeds as f64;
        println!("| {nodes} | {seeds} | {passed} | {mean:.2} | {busiest:.2} | {wall:.2} s | {} MiB |", peak_rss_mib());
    }
}

/// Every eighth node, from n3 on, is slow.
fn is_slow(node: u32) -> bool {
    node >= 3 && (node - 3).is_multiple_of(8)
}

/// Slow nodes as the Lifeguard paper has them: every eighth node receives every message 500 ms to
/// 1 s late (its receive path is starved) while its own timers fire on time, so its probes time
/// out before the acks reach it and, without Lifeguard, it accuses healthy members. Two nodes
/// crash from 20 s to 50 s, to time detection. No partitions, no loss.
fn slow_nodes_plan(nodes: u32) -> FaultPlan {
    let mut plan = FaultPlan::none(60_000);
    let late = Latency { min_us: 500_000, jitter_us: 500_000, tail_ppm: 0, tail_us: 0 };
    for to in (0..nodes).filter(|node| is_slow(*node)) {
        for from in (0..nodes).filter(|from| *from != to) {
            plan.network.links.push(LinkLatency { from, to, latency: late });
        }
    }
    for node in [1, 2] {
        plan.events.push(TimedFault { at_ms: 20_000, fault: Fault::Crash { node } });
        plan.events.push(TimedFault { at_ms: 50_000, fault: Fault::Restart { node } });
    }
    plan.events.sort_by_key(|event| event.at_ms);
    plan
}

fn lifeguard_table(nodes: u32, seeds: u64) {
    println!();
    println!(
        "{nodes} nodes, {seeds} seeds: every 8th node receives every message 0.5 to 1 s late, 2 nodes crashed \
         for 30 s; with and without Lifeguard, same seeds"
    );
    println!(
        "| Lifeguard | detections | p50 | p99 | false suspicions / node-hour | false deaths / node-hour | \
         of healthy members |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for lifeguard in [true, false] {
        let mut detections = Vec::new();
        let (mut suspicions, mut deaths, mut healthy_deaths, mut hours) = (0, 0, 0, 0.0);
        for seed in 0..seeds {
            let (figures, _) = run(seed, nodes, Some(slow_nodes_plan(nodes)), lifeguard);
            detections.extend(figures.detections_ms);
            suspicions += figures.false_suspicions;
            deaths += figures.false_deaths;
            healthy_deaths += figures
                .false_deaths_of
                .iter()
                .filter(|(member, _)| !is_slow(**member))
                .map(|(_, count)| count)
                .sum::<u64>();
            hours += figures.node_hours;
        }
        detections.sort_unstable();
        println!(
            "| {} | {} | {:.1} s | {:.1} s | {:.2} | {:.2} | {:.2} |",
            if lifeguard { "on" } else { "off" },
            detections.len(),
            percentile(&detections, 50) as f64 / 1000.0,
            percentile(&detections, 99) as f64 / 1000.0,
            suspicions as f64 / hours,
            deaths as f64 / hours,
            healthy_deaths as f64 / hours
        );
    }
}

fn main() {
    let flag = |name: &str| std::env::args().any(|argument| argument == name);
    let large = flag("--large");
    if !flag("--load-only") {
        lifeguard_table(64, 20);
    }
    if flag("--lifeguard-only") {
        return;
    }
    let mut sizes = vec![(5, 200), (64, 20), (1000, 2)];
    if large {
        sizes.push((10_000, 1));
    }
    println!();
    load_table(&sizes);
}

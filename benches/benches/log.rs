//! The replicated log in the simulator: simulated commits per wall-clock second (3 and 5 replicas,
//! a healthy network, clients that keep the leader busy), and seeds per second of each scenario.
//!
//! ```text
//! cargo bench -p pangea-benches --bench log
//! ```

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pangea_core::log::{KvOp, KvRequest, KvResponse, LogConfig, Replica};
use pangea_core::{Duration, Instant, NodeId};
use pangea_scenarios::{RunOptions, find};
use pangea_sim::{FaultPlan, Sim, SimConfig};
use std::collections::BTreeMap;
use std::hint::black_box;

/// Clients, each with one command outstanding at a time.
const CLIENTS: u64 = 32;
/// Virtual time simulated per iteration.
const VIRTUAL: Duration = Duration::from_secs(5);

/// Runs `nodes` replicas with closed-loop clients on a calm network; returns slots committed.
fn commits(nodes: u32, seed: u64) -> u64 {
    let members: Vec<NodeId> = (0..nodes).map(NodeId::for_index).collect();
    let config = LogConfig::new(members);
    let mut sim = Sim::new(SimConfig::new(seed, nodes, FaultPlan::none(0)), move |_| {
        Replica::new(config.clone()).expect("valid config")
    });
    // Let a leader emerge.
    sim.run_until(Instant::from_nanos(2_000_000_000)).expect("within budget");
    let leader = (0..nodes).find(|index| sim.node(*index).is_some_and(Replica::is_leader)).expect("a leader");
    let start_index = sim.node(leader).map_or(0, Replica::commit_index);
    let mut sequences: BTreeMap<u64, u64> = (1..=CLIENTS).map(|client| (client, 1)).collect();
    let mut waiting = BTreeMap::new();
    for client in 1..=CLIENTS {
        let body = KvRequest::Command {
            client,
            sequence: 1,
            op: KvOp::Put { key: client.to_le_bytes().to_vec(), value: vec![1; 16] },
        };
        waiting.insert(sim.client_request(leader, &body), client);
    }
    let end = sim.now() + VIRTUAL;
    while sim.now() < end {
        sim.run_for(Duration::from_micros(200)).expect("within budget");
        for reply in sim.take_replies() {
            let Some(client) = waiting.remove(&reply.request) else { continue };
            let sequence = sequences.get_mut(&client).expect("known client");
            if matches!(reply.body, KvResponse::Done { .. }) {
                *sequence += 1;
            }
            let op = KvOp::Put { key: client.to_le_bytes().to_vec(), value: sequence.to_le_bytes().to_vec() };
            let body = KvRequest::Command { client, sequence: *sequence, op };
            waiting.insert(sim.client_request(leader, &body), client);
        }
    }
    sim.node(leader).map_or(0, Replica::commit_index) - start_index
}

fn bench_commits(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_commits");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    for nodes in [3, 5] {
        let count = commits(nodes, 1);
        eprintln!("{nodes} replicas: {count} commits in {VIRTUAL:?} of virtual time");
        group.throughput(Throughput::Elements(count));
        group.bench_function(format!("replicas{nodes}"), |b| b.iter(|| black_box(commits(nodes, 1))));
    }
    group.finish();
}

fn bench_seeds(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario_seeds");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));
    for name in ["health", "log-partitions", "log-crashes", "log-clock-skew", "log-swarm"] {
        let scenario = find(name).expect("registered");
        let mut seed = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                seed += 1;
                black_box(scenario.run(&RunOptions::seed(seed)).expect("valid options"))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_commits, bench_seeds);
criterion_main!(benches);

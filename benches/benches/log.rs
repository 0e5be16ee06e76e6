//! The replicated log of `PangeaNode` in the simulator: simulated commits per wall-clock second (3
//! and 5 replicas, a healthy network, clients that keep the leader busy), and seeds per second of
//! each scenario.
//!
//! ```text
//! cargo bench -p pangea-benches --bench log
//! ```

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pangea_core::log::{LogRequest, LogResponse};
use pangea_core::metadata::MetadataCommand;
use pangea_core::metadata::records::KvOp;
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use pangea_core::{Duration, Instant, NodeId, PangeaConfig, PangeaNode};
use pangea_scenarios::{RunOptions, find};
use pangea_sim::{FaultPlan, Sim, SimConfig};
use std::collections::BTreeMap;
use std::hint::black_box;

/// Clients, each with one command outstanding at a time.
const CLIENTS: u64 = 32;
/// Virtual time simulated per iteration.
const VIRTUAL: Duration = Duration::from_secs(5);

/// A put of `client`'s key, as command `sequence` of its session.
fn put(session: u64, sequence: u64, value: Vec<u8>) -> PangeaRequest {
    let command = MetadataCommand::Records(KvOp::Put { key: session.to_le_bytes().to_vec(), value });
    PangeaRequest::Log(LogRequest::Command { client: session, sequence, command })
}

/// Runs `nodes` replicas with closed-loop clients on a calm network; returns slots committed.
fn commits(nodes: u32, seed: u64) -> u64 {
    let members: Vec<NodeId> = (0..nodes).map(NodeId::for_index).collect();
    let config = PangeaConfig::new(members);
    let mut sim = Sim::new(SimConfig::new(seed, nodes, FaultPlan::none(0)), move |_| {
        PangeaNode::new(config.clone()).expect("valid config")
    });
    // Let a leader emerge.
    sim.run_until(Instant::from_nanos(2_000_000_000)).expect("within budget");
    let is_leader = |node: &PangeaNode| node.log().is_leader();
    let leader = (0..nodes).find(|index| sim.node(*index).is_some_and(is_leader)).expect("a leader");
    let commit_index = |sim: &Sim<PangeaNode>| sim.node(leader).map_or(0, |node| node.log().commit_index());
    // Each client opens a session, then keeps one put outstanding: (session, sequence) by request.
    let mut waiting = BTreeMap::new();
    for client in 0..CLIENTS {
        waiting.insert(sim.client_request(leader, &PangeaRequest::Log(LogRequest::OpenSession)), (client, 0, 0));
    }
    let start_index = commit_index(&sim);
    let end = sim.now() + VIRTUAL;
    while sim.now() < end {
        sim.run_for(Duration::from_micros(200)).expect("within budget");
        for reply in sim.take_replies() {
            let Some((client, mut session, mut sequence)) = waiting.remove(&reply.request) else { continue };
            match reply.body {
                PangeaResponse::Log(LogResponse::SessionOpened { client: opened }) => session = opened,
                PangeaResponse::Log(LogResponse::Done { .. }) => sequence += 1,
                _ => {}
            }
            let body = if session == 0 {
                PangeaRequest::Log(LogRequest::OpenSession)
            } else {
                put(session, sequence.max(1), sequence.to_le_bytes().to_vec())
            };
            waiting.insert(sim.client_request(leader, &body), (client, session, sequence.max(1)));
        }
    }
    commit_index(&sim) - start_index
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
    for name in ["health", "log-partitions", "log-crashes", "log-clock-skew", "log-swarm", "log-membership"] {
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

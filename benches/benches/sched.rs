//! Pangea's topological scheduler (`pangea_core::sched`): a full run of a 100,000-node DAG (each
//! node depending on up to three earlier ones, as in the `sched_vs_graphlib` example), building the
//! DAG from edges and running it, and running it again after a reset on the same memory.
//!
//! ```text
//! cargo bench -p pangea-benches --bench sched
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pangea_core::sched::{Dag, Scheduler};
use std::hint::black_box;

/// Nodes of the benchmark DAG.
const NODES: u32 = 100_000;
/// Each node depends on at most this many earlier nodes.
const DEPENDENCIES_PER_NODE_MAX: u32 = 3;

/// A splitmix64 finalizer of `(node, slot)` (the same as the `sched_vs_graphlib` example's).
fn hash(node: u32, slot: u32) -> u64 {
    let mut z = (u64::from(node) << 32 | u64::from(slot)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The DAG: node `i` depends on up to three distinct nodes `hash(i, j) % i`.
fn generate(nodes: u32) -> Vec<(u32, u32)> {
    let mut edges = Vec::with_capacity(nodes as usize * DEPENDENCIES_PER_NODE_MAX as usize);
    for node in 1..nodes {
        let first = edges.len();
        for slot in 0..DEPENDENCIES_PER_NODE_MAX.min(node) {
            let dependency = (hash(node, slot) % u64::from(node)) as u32;
            if !edges[first..].contains(&(dependency, node)) {
                edges.push((dependency, node));
            }
        }
    }
    edges
}

/// Runs `scheduler` to completion in whole batches; the number of batches.
fn run(scheduler: &mut Scheduler, batch: &mut Vec<u32>) -> u32 {
    let mut rounds = 0;
    while !scheduler.is_complete() {
        batch.clear();
        scheduler.take_ready_into(batch);
        for &node in batch.iter() {
            scheduler.mark_completed(node).expect("handed out");
        }
        rounds += 1;
    }
    rounds
}

fn sched(c: &mut Criterion) {
    let edges = generate(NODES);
    let mut group = c.benchmark_group("sched");
    group.throughput(Throughput::Elements(u64::from(NODES)));
    let mut batch = Vec::new();
    group.bench_function("build_and_run_100k", |b| {
        b.iter(|| {
            let mut scheduler = Scheduler::new(Dag::from_edges(NODES, black_box(&edges)).expect("a DAG"));
            black_box(run(&mut scheduler, &mut batch))
        });
    });
    let mut scheduler = Scheduler::new(Dag::from_edges(NODES, &edges).expect("a DAG"));
    group.bench_function("reset_and_run_100k", |b| {
        b.iter(|| {
            scheduler.reset();
            black_box(run(&mut scheduler, &mut batch))
        });
    });
    group.finish();
}

criterion_group!(benches, sched);
criterion_main!(benches);

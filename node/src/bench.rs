//! The load generator behind `pangea bench`: N concurrent closed-loop clients issue puts and gets
//! against a running cluster for a while; the report gives throughput and latency percentiles.

use crate::api::Client;
use crate::stages::{HANDLER, SENDS_HELD, StageCounts, TOTAL};
use crate::wire::{ClientReply, ClientRequest};
use pangea_core::log::Stage;
use pangea_core::metadata::records::KvOp;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What load to generate.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchOptions {
    /// Concurrent clients, each with one request outstanding.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Seconds of measured load (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Distinct keys.
    #[arg(long, default_value_t = 1_000)]
    pub keys: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Percent of operations that are gets (the rest are puts).
    #[arg(long, default_value_t = 50)]
    pub read_percent: u64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// Operations answered in the measured window.
    pub operations: u64,
    /// Operations that failed (timed out or refused).
    pub errors: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Latency percentiles: p50, p99, p99.9.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Clients.
    pub clients: usize,
}

impl BenchReport {
    /// Operations per second.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} clients: {} ops in {:.1}s = {:.0} ops/s, {} errors; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
            self.clients,
            self.operations,
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.errors,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.p999.as_secs_f64() * 1e3
        )
    }
}

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The options make no sense.
    #[error("bad bench options: {0}")]
    Options(&'static str),
    /// The cluster did not take the first command (unreachable, wrong token).
    #[error("the cluster is not serving: {0}")]
    NotServing(#[from] crate::api::ApiError),
}

/// The value of percentile `p` (0..=1) of sorted `samples`.
#[must_use]
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One operation of the load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadOp {
    /// Read `key` (linearizably, in every system measured).
    Get(Vec<u8>),
    /// Write `value` under `key`.
    Put(Vec<u8>, Vec<u8>),
}

/// A system under load, as one client sees it: runs one operation at a time.
pub trait LoadTarget: Send + 'static {
    /// Runs `op`; true when it succeeded.
    fn execute(&mut self, op: LoadOp) -> impl std::future::Future<Output = bool> + Send;
}

impl LoadTarget for Client {
    async fn execute(&mut self, op: LoadOp) -> bool {
        let op = match op {
            LoadOp::Get(key) => KvOp::Get { key },
            LoadOp::Put(key, value) => KvOp::Put { key, value },
        };
        self.command(op).await.is_ok()
    }
}

/// Checks `options` for a load that makes sense.
pub fn validate(options: &BenchOptions) -> Result<(), BenchError> {
    if options.clients == 0 || options.seconds == 0 || options.keys == 0 || options.read_percent > 100 {
        return Err(BenchError::Options("clients, seconds and keys must be positive, read-percent at most 100"));
    }
    Ok(())
}

/// Runs the closed loop: one task per target, each with one operation outstanding, for a
/// one-second warm-up and then `options.seconds` of measured load. Every client draws its keys and
/// op kinds from the same cheap deterministic generator, so two systems given the same options get
/// the same load.
pub async fn closed_loop<T: LoadTarget>(options: &BenchOptions, targets: Vec<T>) -> BenchReport {
    let warm_up_until = Instant::now() + Duration::from_secs(1);
    let stop_at = warm_up_until + Duration::from_secs(options.seconds);
    let clients = targets.len();
    let mut tasks = Vec::new();
    for (index, mut target) in targets.into_iter().enumerate() {
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            let value = vec![b'x'; options.value_bytes];
            let mut counter = index as u64;
            while Instant::now() < stop_at {
                counter = counter.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let key = format!("bench-{}", (counter >> 33) % options.keys).into_bytes();
                let op = if (counter >> 20) % 100 < options.read_percent {
                    LoadOp::Get(key)
                } else {
                    LoadOp::Put(key, value.clone())
                };
                let started = Instant::now();
                let succeeded = target.execute(op).await;
                if started >= warm_up_until && Instant::now() <= stop_at {
                    if succeeded {
                        latencies.push(started.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((mine, failed)) = task.await {
            latencies.extend(mine);
            errors += failed;
        }
    }
    latencies.sort_unstable();
    BenchReport {
        operations: latencies.len() as u64,
        errors,
        elapsed: Duration::from_secs(options.seconds),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        clients,
    }
}

/// Runs the load against the Pangea nodes at `nodes`; with `breakdown`, also reads every node's
/// stage histograms before and after and returns what the run added to them.
pub async fn run_bench(
    nodes: &[SocketAddr],
    token: [u8; 32],
    options: &BenchOptions,
    breakdown: bool,
) -> Result<(BenchReport, Option<Breakdown>), BenchError> {
    validate(options)?;
    // One command first: fail fast when the cluster is not there.
    let mut probe = Client::new(nodes.to_vec(), token, Duration::from_secs(10));
    probe.command(KvOp::Put { key: b"bench-probe".to_vec(), value: b"1".to_vec() }).await?;
    let before = if breakdown { Some(Breakdown::read(&mut probe).await) } else { None };
    let targets =
        (0..options.clients).map(|_| Client::new(probe.addresses().to_vec(), token, Duration::from_secs(5))).collect();
    let report = closed_loop(options, targets).await;
    let breakdown = match before {
        Some(before) => Some(Breakdown::read(&mut probe).await.since(&before)),
        None => None,
    };
    Ok((report, breakdown))
}

/// Every node's stage histograms (see [`crate::stages`]), summed over the nodes that answered.
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    /// Nodes whose histograms are in the sum.
    pub nodes: usize,
    /// Nodes asked.
    pub asked: usize,
    /// Each stage's histogram, by name.
    pub stages: BTreeMap<String, StageCounts>,
}

impl Breakdown {
    /// Reads the runtime status of every node `client` knows.
    pub async fn read(client: &mut Client) -> Breakdown {
        let mut breakdown = Breakdown::default();
        for addr in client.addresses().to_vec() {
            breakdown.asked += 1;
            let Ok(ClientReply::Runtime(status)) = client.ask(addr, ClientRequest::Runtime).await else { continue };
            breakdown.nodes += 1;
            for stage in status.stages {
                match breakdown.stages.get_mut(&stage.stage) {
                    Some(sum) => sum.add(&stage),
                    None => {
                        breakdown.stages.insert(stage.stage.clone(), stage);
                    }
                }
            }
        }
        breakdown
    }

    /// What was added between `earlier` and this reading.
    #[must_use]
    pub fn since(&self, earlier: &Breakdown) -> Breakdown {
        let stages = self
            .stages
            .iter()
            .map(|(name, counts)| {
                let added = earlier.stages.get(name).map_or_else(|| counts.clone(), |before| counts.since(before));
                (name.clone(), added)
            })
            .collect();
        Breakdown { nodes: self.nodes.min(earlier.nodes), asked: self.asked, stages }
    }
}

impl fmt::Display for Breakdown {
    /// A table of the stages in the order a request passes them: writes, reads, then the runtime's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "where the time went ({} of {} nodes read; stages at the node that took each request):",
            self.nodes, self.asked
        )?;
        writeln!(f, "| stage            |   count |  mean ms |   p50 ms |   p99 ms |")?;
        writeln!(f, "| ---------------- | ------- | -------- | -------- | -------- |")?;
        let order = Stage::ALL.iter().map(|stage| stage.name()).chain([SENDS_HELD, HANDLER, TOTAL]);
        let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
        for name in order {
            let Some(counts) = self.stages.get(name).filter(|counts| counts.count > 0) else { continue };
            writeln!(
                f,
                "| {name:<16} | {:>7} | {:>8.3} | {:>8.3} | {:>8.3} |",
                counts.count,
                ms(counts.mean()),
                ms(counts.percentile(0.5)),
                ms(counts.percentile(0.99))
            )?;
        }
        write!(f, "(p50 and p99 are bucket bounds: within 25% above the true value)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_sample_at_their_rank() {
        let samples: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.5), Duration::from_millis(500));
        assert_eq!(percentile(&samples, 0.99), Duration::from_millis(990));
        assert_eq!(percentile(&samples, 0.999), Duration::from_millis(999));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}

//! `etcd-bench`: the load of `pangea bench` against an etcd cluster, for a side-by-side comparison.
//!
//! Same options and defaults, same op mix (the same per-client generator picks each key and whether
//! it is a get or a put), same one-second warm-up, same per-operation deadline (5 s) and the same
//! report line as `pangea bench` (`node/src/bench.rs`), whose small logic is copied here rather than
//! depended on, so this package builds without the node. Gets are etcd's default range
//! requests, which are linearizable (they go through the leader's read index); puts are plain puts.
//! Each client has its own connection to all the endpoints, with one request outstanding.

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use etcd_client::{Client, ConnectOptions};
use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Deadline of one operation, as in `pangea bench`.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// What load to generate (as `pangea bench`'s options).
#[derive(Clone, Debug, clap::Args)]
struct BenchOptions {
    /// Concurrent clients, each with one request outstanding.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of measured load (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Distinct keys.
    #[arg(long, default_value_t = 1_000)]
    keys: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Percent of operations that are gets (the rest are puts).
    #[arg(long, default_value_t = 50)]
    read_percent: u64,
}

/// What a run measured; printed as `pangea bench` prints its report.
struct BenchReport {
    operations: u64,
    errors: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    clients: usize,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} clients: {} ops in {:.1}s = {:.0} ops/s, {} errors; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
            self.clients,
            self.operations,
            self.elapsed.as_secs_f64(),
            self.operations as f64 / self.elapsed.as_secs_f64().max(1e-9),
            self.errors,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.p999.as_secs_f64() * 1e3
        )
    }
}

/// The value of percentile `p` (0..=1) of sorted `samples`.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The load of `pangea bench`, against etcd.
#[derive(Parser)]
#[command(name = "etcd-bench", about, long_about = None)]
struct Cli {
    /// The etcd members' client URLs or host:port, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:2379")]
    endpoints: Vec<String>,
    #[command(flatten)]
    options: BenchOptions,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&cli.endpoints, &cli.options)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn connect(endpoints: &[String], timeout: Duration) -> Result<Client> {
    let options = ConnectOptions::new().with_timeout(timeout).with_connect_timeout(timeout);
    Client::connect(endpoints, Some(options)).await.with_context(|| format!("cannot connect to {endpoints:?}"))
}

async fn run(endpoints: &[String], options: &BenchOptions) -> Result<BenchReport> {
    if options.clients == 0 || options.seconds == 0 || options.keys == 0 || options.read_percent > 100 {
        bail!("bad bench options: clients, seconds and keys must be positive, read-percent at most 100");
    }
    // One put first: fail fast when the cluster is not there.
    let mut probe = connect(endpoints, Duration::from_secs(10)).await?;
    probe.put("bench-probe", "1", None).await.context("the cluster is not serving")?;
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        clients.push(connect(endpoints, OPERATION_TIMEOUT).await?);
    }
    let warm_up_until = Instant::now() + Duration::from_secs(1);
    let stop_at = warm_up_until + Duration::from_secs(options.seconds);
    let mut tasks = Vec::new();
    for (index, mut client) in clients.into_iter().enumerate() {
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            let value = vec![b'x'; options.value_bytes];
            let mut counter = index as u64;
            while Instant::now() < stop_at {
                // The same deterministic spread of keys and op kinds per client as `pangea bench`.
                counter = counter.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let key = format!("bench-{}", (counter >> 33) % options.keys).into_bytes();
                let get = (counter >> 20) % 100 < options.read_percent;
                let started = Instant::now();
                let succeeded = if get {
                    client.get(key, None).await.is_ok()
                } else {
                    client.put(key, value.clone(), None).await.is_ok()
                };
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
    Ok(BenchReport {
        operations: latencies.len() as u64,
        errors,
        elapsed: Duration::from_secs(options.seconds),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        clients: options.clients,
    })
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

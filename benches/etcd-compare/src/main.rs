//! `etcd-bench`: the load of `pangea bench` against an etcd cluster, for a side-by-side comparison.
//!
//! Same options and defaults, same op mix (the same per-client generator picks each key and whether
//! it is a get or a put), same one-second warm-up, same per-operation deadline (5 s) and the same
//! report line as `pangea bench`: both run `pangea_node::bench::closed_loop`, this one with etcd as
//! the [`LoadTarget`]. Gets are etcd's default range
//! requests, which are linearizable (they go through the leader's read index); puts are plain puts.
//! Each client has its own connection to all the endpoints, with one request outstanding.

use anyhow::{Context as _, Result};
use clap::Parser;
use etcd_client::{Client, ConnectOptions};
use pangea_node::bench::{BenchOptions, BenchReport, LoadOp, LoadTarget, closed_loop, validate};
use std::process::ExitCode;
use std::time::Duration;

// The allocator of the `pangea` binary (and of its `pangea bench`), so that both load generators
// spend the same on allocation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Deadline of one operation, as in `pangea bench`.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// One etcd client with its own connection to all the endpoints.
struct Etcd(Client);

impl LoadTarget for Etcd {
    async fn execute(&mut self, op: LoadOp) -> bool {
        match op {
            LoadOp::Get(key) => self.0.get(key, None).await.is_ok(),
            LoadOp::Put(key, value) => self.0.put(key, value, None).await.is_ok(),
        }
    }
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
    validate(options)?;
    // One put first: fail fast when the cluster is not there.
    let mut probe = connect(endpoints, Duration::from_secs(10)).await?;
    probe.put("bench-probe", "1", None).await.context("the cluster is not serving")?;
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        clients.push(Etcd(connect(endpoints, OPERATION_TIMEOUT).await?));
    }
    Ok(closed_loop(options, clients).await)
}

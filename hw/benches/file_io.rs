//! Blob file I/O through plain file I/O and io_uring, side by side: writes of 64 KiB to 4 MiB
//! blobs, each a new file, with and without a sync of the file and its directory; and reads of whole
//! files (from the page cache); and writes of eight blobs in one call, synced (what a holder's batch
//! of shards costs). Criterion reports each one's time; at the end a table gives, for
//! each, throughput and the 99th percentile of one operation's latency.
//!
//! `cargo bench -p pangea-hw --features uring --bench file_io` (without the feature, only std runs).
//! Files go to `target/bench-blobs` on the disk the target directory is on, or `$PANGEA_BENCH_DIR`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pangea_hw::blobs::BlobFiles;
use pangea_hw::file_io::every_engine;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
/// The operations: name, blobs per call, whether a call writes, whether it syncs.
const OPERATIONS: [(&str, usize, bool, bool); 4] = [
    ("write+sync", 1, true, true),
    ("8 x write+sync", 8, true, true),
    ("write", 1, true, false),
    ("read", 1, false, false),
];

/// Every operation's latency, by (operation, size, engine).
static LATENCIES: Mutex<BTreeMap<(String, usize, String), Vec<Duration>>> = Mutex::new(BTreeMap::new());

fn bench_root() -> PathBuf {
    std::env::var_os("PANGEA_BENCH_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-blobs"), PathBuf::from)
}

fn record(operation: &str, size: usize, engine: &str, latency: Duration) {
    LATENCIES.lock().unwrap().entry((operation.to_owned(), size, engine.to_owned())).or_default().push(latency);
}

fn file_io(c: &mut Criterion) {
    let root = bench_root();
    for (operation, per_call, writes, syncs) in OPERATIONS {
        let mut group = c.benchmark_group(operation);
        group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(4));
        for size in SIZES {
            group.throughput(Throughput::Bytes((size * per_call) as u64));
            let blob: Vec<u8> = (0..size).map(|at| (at * 31 % 251) as u8).collect();
            for (engine, make) in every_engine() {
                let directory = root.join(format!("{engine}-{}-{size}", operation.replace(' ', "")));
                let _ = std::fs::remove_dir_all(&directory);
                let mut blobs = BlobFiles::open(&directory, make().expect("an I/O path"), &BTreeSet::new()).unwrap();
                let stored = blobs.write(&[&blob], true).unwrap()[0];
                group.bench_with_input(BenchmarkId::new(engine, size), &size, |b, _| {
                    b.iter_custom(|iterations| {
                        let mut total = Duration::ZERO;
                        let mut written = Vec::new();
                        for _ in 0..iterations {
                            let start = Instant::now();
                            if writes {
                                written.extend(blobs.write(&vec![blob.as_slice(); per_call], syncs).unwrap());
                            } else {
                                assert_eq!(blobs.read(stored).unwrap().len(), size);
                            }
                            let latency = start.elapsed();
                            record(operation, size * per_call, engine, latency);
                            total += latency;
                        }
                        for number in written {
                            blobs.remove(number.number).unwrap();
                        }
                        total
                    });
                });
                let _ = std::fs::remove_dir_all(&directory);
            }
        }
        group.finish();
    }
    print_table();
}

fn print_table() {
    let latencies = LATENCIES.lock().unwrap();
    println!("\n{:<15} {:>9} {:>20} {:>9} {:>9}", "operation", "bytes/call", "engine", "MB/s", "p99 µs");
    for ((operation, size, engine), samples) in latencies.iter() {
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
        let total: Duration = sorted.iter().sum();
        let throughput = (*size as f64 * sorted.len() as f64) / total.as_secs_f64() / 1e6;
        println!(
            "{:<15} {:>9} {:>20} {:>9.1} {:>9.0}",
            operation,
            format!("{} KiB", size / 1024),
            engine,
            throughput,
            p99.as_secs_f64() * 1e6
        );
    }
}

criterion_group!(benches, file_io);
criterion_main!(benches);

//! Streams 1 GiB (or `--gib N`) of generated data through the CES pipeline in bounded memory and
//! prints the throughput and the peak resident set size.
//!
//! The object is generated piece by piece (pieces of an odd size, fresh log-like text from a seeded
//! generator, or random bytes with `--random`), never held whole. Each piece goes through a
//! [`ChunkCutter`]; each full chunk is sealed and sharded ([`encode_chunk`], 4+2, 1 MiB chunks),
//! then read back at once from four of its six shards ([`decode_chunk`], two data shards missing),
//! hashed by a [`ContentCheck`] and dropped. The manifest is built and validated at the end. One
//! thread. The generator runs twice (first alone, for the expected content hash); its time is
//! reported apart. Peak RSS is `VmHWM` from `/proc/self/status`, reset just before the pipeline.
//!
//! ```text
//! cargo run --release -p pangea-benches --example ces_rss [-- --random] [-- --gib 2]
//! ```

use pangea_core::NodeId;
use pangea_core::ces::{
    CesParams, ChunkCutter, ContentCheck, FORMAT_VERSION, Manifest, MasterKey, ObjectId, Sharder, chunk_bytes_for_size,
    decode_chunk, encode_chunk,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Bytes per generated piece: odd, so that pieces do not line up with chunks.
const PIECE_BYTES: u64 = 300_007;

/// The object's bytes, piece by piece, the same on every run.
struct Generator {
    rng: ChaCha8Rng,
    random: bool,
    left: u64,
}

impl Generator {
    fn new(size: u64, random: bool) -> Generator {
        Generator { rng: ChaCha8Rng::seed_from_u64(5), random, left: size }
    }

    /// The next piece, or `None` at the end.
    fn next_piece(&mut self) -> Option<Vec<u8>> {
        let len = self.left.min(PIECE_BYTES) as usize;
        if len == 0 {
            return None;
        }
        self.left -= len as u64;
        if self.random {
            let mut out = vec![0; len];
            self.rng.fill_bytes(&mut out);
            Some(out)
        } else {
            Some(log_text(len, &mut self.rng))
        }
    }
}

/// Log-like text, one line per simulated request (zstd level 1 compresses it about 4×): the same
/// generator as `benches/benches/ces.rs`.
fn log_text(len: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    const LEVELS: [&str; 6] = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
    const OPS: [&str; 5] = ["GET", "PUT", "GET", "HEAD", "DELETE"];
    const MESSAGES: [&str; 7] =
        ["request served", "chunk stored", "shard repaired", "peer joined", "lease renewed", "cache miss", "slow disk"];
    let pick = |rng: &mut ChaCha8Rng, n: usize| rng.next_u32() as usize % n;
    let mut out = Vec::with_capacity(len + 512);
    let mut millis: u64 = 36_000_000;
    while out.len() < len {
        millis += u64::from(rng.next_u32() % 40);
        let line = format!(
            "2026-11-29T{:02}:{:02}:{:02}.{:03}Z {:5} node-{:02} client=10.{}.{}.{} req={:016x} span={:08x} {} \
             /objects/{:016x}/chunks/{} status={} bytes={} latency_ms={} msg=\"{}\"\n",
            millis / 3_600_000 % 24,
            millis / 60_000 % 60,
            millis / 1000 % 60,
            millis % 1000,
            LEVELS[pick(rng, LEVELS.len())],
            pick(rng, 16),
            pick(rng, 256),
            pick(rng, 256),
            pick(rng, 256),
            rng.next_u64(),
            rng.next_u32(),
            OPS[pick(rng, OPS.len())],
            rng.next_u64(),
            pick(rng, 64),
            if pick(rng, 20) == 0 { 404 } else { 200 },
            pick(rng, 2_000_000),
            pick(rng, 300),
            MESSAGES[pick(rng, MESSAGES.len())],
        );
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let random = args.iter().any(|arg| arg == "--random");
    let gib: u64 =
        args.iter().position(|arg| arg == "--gib").and_then(|at| args.get(at + 1)?.parse().ok()).unwrap_or(1);
    let size = gib << 30;

    // The expected content hash, from a pass of the generator alone.
    let start = Instant::now();
    let mut expected = blake3::Hasher::new();
    let mut generator = Generator::new(size, random);
    while let Some(piece) = generator.next_piece() {
        expected.update(&piece);
    }
    let expected = *expected.finalize().as_bytes();
    let generate_time = start.elapsed();

    let chunk_bytes = chunk_bytes_for_size(size, 1 << 20).map_err(|error| error.to_string())?;
    let params = CesParams { chunk_bytes, ..CesParams::default() };
    let object = ObjectId([0x77; 32]);
    let key = MasterKey::from_bytes([1; 32]).object_key(&object);
    let holders: Vec<NodeId> = (0..params.shards() as u32).map(NodeId::for_index).collect();

    // Reset the peak so that it measures the pipeline, not the start-up.
    let baseline_kib = status_kib("VmRSS:");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    let mut cutter = ChunkCutter::new(chunk_bytes).map_err(|error| error.to_string())?;
    let mut check = ContentCheck::expecting(size, expected);
    let mut sharder = Sharder::new();
    let mut entries = Vec::new();
    let (mut encode_time, mut decode_time) = (Duration::ZERO, Duration::ZERO);
    let mut stored_bytes = 0u64;
    let mut handle = |chunk_index: u32, plain: Vec<u8>, entries: &mut Vec<_>| -> Result<(), String> {
        let start = Instant::now();
        let encoded =
            encode_chunk(&key, &object, chunk_index, &plain, &params, &mut sharder).map_err(|e| e.to_string())?;
        encode_time += start.elapsed();
        stored_bytes += encoded.shards.iter().map(|shard| shard.len() as u64).sum::<u64>();
        drop(plain);
        let slots: Vec<Option<&[u8]>> =
            encoded.shards.iter().enumerate().map(|(shard, bytes)| (shard >= 2).then_some(bytes.as_slice())).collect();
        let start = Instant::now();
        let plain = decode_chunk(
            &key,
            &object,
            chunk_index,
            &encoded.entry,
            params.data_shards,
            params.parity_shards,
            &slots,
            &mut sharder,
        )
        .map_err(|e| e.to_string())?;
        decode_time += start.elapsed();
        check.push(&plain);
        let mut entry = encoded.entry;
        entry.holders = holders.clone();
        entries.push(entry);
        Ok(())
    };

    let start = Instant::now();
    let mut generator = Generator::new(size, random);
    while let Some(piece) = generator.next_piece() {
        let mut bytes = piece.as_slice();
        while let Some((chunk_index, chunk)) = cutter.next_chunk(&mut bytes).map_err(|error| error.to_string())? {
            handle(chunk_index, chunk, &mut entries)?;
        }
    }
    let end = cutter.finish();
    if let Some((chunk_index, chunk)) = end.last {
        handle(chunk_index, chunk, &mut entries)?;
    }
    let elapsed = start.elapsed();
    check.finish().map_err(|error| error.to_string())?;
    if end.content_hash != expected {
        return Err("the cutter's content hash differs from the generator's".into());
    }
    let manifest = Manifest {
        version: FORMAT_VERSION,
        object,
        size: end.size,
        content_hash: end.content_hash,
        data_shards: params.data_shards,
        parity_shards: params.parity_shards,
        chunk_bytes,
        commit_by: 0,
        chunks: entries,
    };
    manifest.validate().map_err(|error| error.to_string())?;
    let manifest_bytes = manifest.encode().len();

    let mb = |seconds: f64| size as f64 / seconds / 1e6;
    println!(
        "{} GiB of {} in {} chunks of {} KiB, {}+{}: stored {:.2} GiB of shards, manifest {} bytes",
        gib,
        if random { "random bytes" } else { "log-like text" },
        manifest.chunks.len(),
        chunk_bytes >> 10,
        params.data_shards,
        params.parity_shards,
        stored_bytes as f64 / f64::from(1u32 << 30),
        manifest_bytes,
    );
    // The loop ran the generator once more: take its time out.
    let pipeline = elapsed.saturating_sub(generate_time);
    println!(
        "one thread: loop {:.2} s, of which generating the data ~{:.2} s; without it {:.0} MB/s \
         (cut, encode, decode, content check); encode_chunk {:.0} MB/s; decode_chunk (2 data shards missing) {:.0} MB/s",
        elapsed.as_secs_f64(),
        generate_time.as_secs_f64(),
        mb(pipeline.as_secs_f64()),
        mb(encode_time.as_secs_f64()),
        mb(decode_time.as_secs_f64()),
    );
    println!(
        "peak RSS (VmHWM) {:.1} MiB{}; RSS before the pipeline {:.1} MiB",
        status_kib("VmHWM:") as f64 / 1024.0,
        if reset { ", reset before the pipeline" } else { " since start (clear_refs refused)" },
        baseline_kib as f64 / 1024.0,
    );
    Ok(())
}

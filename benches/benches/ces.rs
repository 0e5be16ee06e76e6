//! Throughput of the CES pipeline (compress → encrypt → Reed-Solomon shard → hash) and its stages,
//! on 1 MiB chunks of two kinds of data:
//!
//! - **text**: generated log lines (timestamps, levels, node names, paths with random hex ids,
//!   status codes, latencies), which zstd level 1 compresses about 3–4×;
//! - **random**: bytes from a seeded ChaCha8 generator, which do not compress.
//!
//! Stages: zstd-1 compress and decompress; seal (compress + encrypt) and encrypt alone;
//! Reed-Solomon 4+2 encode and decode with two data shards missing, with `reed-solomon-simd` (the
//! one `pangea-core` uses, through its reused [`Sharder`]) and `reed-solomon-erasure` (reused
//! `ReedSolomon`, `simd-accel` feature) side by side; blake3 of the shards; the whole
//! [`encode_chunk`] / [`decode_chunk`] path on one core, and on every core (64 chunks per iteration,
//! split across `available_parallelism()` scoped threads).
//!
//! Throughput is in MB/s (10^6 bytes) of the stage's input, except the pipeline and the parallel
//! runs, which count plaintext bytes. After the criterion groups, a summary times each stage once
//! more on the bytes it really sees in the pipeline (encryption and sharding see the compressed
//! chunk) and prints the serial bound 1/Σ(1/stage) next to the measured pipeline.
//!
//! ```text
//! cargo bench -p pangea-benches --bench ces
//! ```

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use criterion::{Criterion, SamplingMode, Throughput};
use pangea_core::ces::{
    CesParams, EncodedChunk, MasterKey, ObjectId, ObjectKey, Sharder, compress_chunk, decode_chunk, decompress_chunk,
    encode_chunk, seal, shard_hash,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use reed_solomon_erasure::galois_8::ReedSolomon;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Bytes per chunk.
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks per iteration of the parallel runs.
const PARALLEL_CHUNKS: usize = 64;
/// Data and parity shards.
const K: u8 = 4;
/// Parity shards.
const M: u8 = 2;
/// The object every chunk belongs to.
const OBJECT: ObjectId = ObjectId([0x5a; 32]);

/// Log-like text: one line per simulated request (zstd level 1 compresses it about 4×).
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

fn random_bytes(len: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = vec![0; len];
    rng.fill_bytes(&mut out);
    out
}

fn key() -> ObjectKey {
    MasterKey::from_bytes([3; 32]).object_key(&OBJECT)
}

fn params() -> CesParams {
    CesParams { data_shards: K, parity_shards: M, chunk_bytes: CHUNK_BYTES as u32, zstd_level: 1 }
}

/// The test data: one text chunk and one random chunk.
struct Data {
    text: Vec<u8>,
    random: Vec<u8>,
}

fn data() -> Data {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    Data { text: log_text(CHUNK_BYTES, &mut rng), random: random_bytes(CHUNK_BYTES, &mut rng) }
}

fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .configure_from_args()
}

fn zstd_stage(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("zstd1");
    group.throughput(Throughput::BytesDecimal(CHUNK_BYTES as u64));
    for (name, plain) in [("text", &data.text), ("random", &data.random)] {
        group.bench_function(format!("compress/{name}"), |b| b.iter(|| compress_chunk(black_box(plain), 1)));
    }
    let compressed = compress_chunk(&data.text, 1).ok().flatten().expect("text compresses");
    group.bench_function("decompress/text", |b| {
        b.iter(|| decompress_chunk(black_box(&compressed), CHUNK_BYTES as u32).expect("decompresses"))
    });
    group.finish();
}

fn crypt_stage(c: &mut Criterion, data: &Data) {
    let key = key();
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::BytesDecimal(CHUNK_BYTES as u64));
    for (name, plain) in [("text", &data.text), ("random", &data.random)] {
        group.bench_function(format!("compress+encrypt/{name}"), |b| {
            b.iter(|| seal(&key, &OBJECT, 1, black_box(plain), 1).expect("seals"))
        });
    }
    let cipher = ChaCha20Poly1305::new(&Key::from([3; 32]));
    let mut buffer = data.random.clone();
    group.bench_function("encrypt-only/chacha20poly1305", |b| {
        b.iter(|| {
            cipher
                .encrypt_inout_detached(&Nonce::from([0; 12]), b"aad", buffer.as_mut_slice().into())
                .expect("encrypts")
        })
    });
    group.finish();
}

/// A sealed chunk split into 4 data shards for reed-solomon-erasure, plus 2 empty parity shards.
fn erasure_shards(sealed: &[u8]) -> Vec<Vec<u8>> {
    let len = sealed.len().div_ceil(usize::from(K)).div_ceil(64) * 64;
    let mut shards: Vec<Vec<u8>> = sealed.chunks(len).map(|piece| piece.to_vec()).collect();
    shards.iter_mut().for_each(|shard| shard.resize(len, 0));
    shards.resize(usize::from(K + M), vec![0; len]);
    shards
}

fn reed_solomon_stage(c: &mut Criterion, data: &Data) {
    // A raw (incompressible) sealed chunk: 1 MiB + 16 bytes.
    let sealed = seal(&key(), &OBJECT, 0, &data.random, 1).expect("seals").bytes;
    let mut group = c.benchmark_group("reed_solomon_4+2");
    group.throughput(Throughput::BytesDecimal(sealed.len() as u64));

    let mut sharder = Sharder::new();
    group.bench_function("encode/simd_sharder", |b| {
        b.iter(|| sharder.encode(K, M, black_box(&sealed)).expect("encodes"))
    });
    let erasure = ReedSolomon::new(usize::from(K), usize::from(M)).expect("4+2");
    group.bench_function("encode/erasure_split_alloc", |b| {
        b.iter(|| {
            // The same work as the sharder: split and pad into fresh shards, then parity.
            let mut shards = erasure_shards(black_box(&sealed));
            erasure.encode(&mut shards).expect("encodes");
            shards
        })
    });
    let mut shards = erasure_shards(&sealed);
    group.bench_function("encode/erasure_in_place", |b| {
        b.iter(|| erasure.encode(black_box(&mut shards)).expect("encodes"))
    });
    let data_shards = erasure_shards(&sealed);
    let mut encoder =
        reed_solomon_simd::ReedSolomonEncoder::new(usize::from(K), usize::from(M), data_shards[0].len()).expect("4+2");
    group.bench_function("encode/simd_encoder_raw", |b| {
        b.iter(|| {
            for shard in &data_shards[..usize::from(K)] {
                encoder.add_original_shard(shard).expect("adds");
            }
            encoder.encode().expect("encodes").recovery(0).map(<[u8]>::len)
        })
    });

    // Decoding with the first two data shards missing (the decoder has to work for both).
    let encoded = sharder.encode(K, M, &sealed).expect("encodes");
    let slots: Vec<Option<&[u8]>> =
        encoded.iter().enumerate().map(|(index, shard)| (index >= 2).then_some(shard.as_slice())).collect();
    let sealed_len = sealed.len() as u32;
    group.bench_function("decode_2_missing/simd_sharder", |b| {
        b.iter(|| sharder.decode(K, M, sealed_len, black_box(&slots)).expect("decodes"))
    });
    let mut full = erasure_shards(&sealed);
    erasure.encode(&mut full).expect("encodes");
    // Reconstructed into buffers kept across iterations (a shard marked absent is rewritten in
    // place), then reassembled into a fresh sealed chunk, as the sharder does.
    let mut buffers: Vec<(Vec<u8>, bool)> = full.iter().map(|shard| (shard.clone(), true)).collect();
    group.bench_function("decode_2_missing/erasure", |b| {
        b.iter(|| {
            buffers[0].1 = false;
            buffers[1].1 = false;
            erasure.reconstruct_data(black_box(&mut buffers)).expect("reconstructs");
            let mut out = Vec::with_capacity(sealed.len());
            for (shard, _) in buffers.iter().take(usize::from(K)) {
                let take = (sealed.len() - out.len()).min(shard.len());
                out.extend_from_slice(&shard[..take]);
            }
            out
        })
    });
    assert_eq!(buffers[0].0, full[0], "reed-solomon-erasure rebuilt the shard");
    let all: Vec<Option<&[u8]>> = encoded.iter().map(|shard| Some(shard.as_slice())).collect();
    group.bench_function("decode_none_missing/simd_sharder", |b| {
        b.iter(|| sharder.decode(K, M, sealed_len, black_box(&all)).expect("decodes"))
    });
    group.finish();

    let mut group = c.benchmark_group("blake3");
    let shard_bytes: usize = encoded.iter().map(Vec::len).sum();
    group.throughput(Throughput::BytesDecimal(shard_bytes as u64));
    group.bench_function("shards_4+2", |b| {
        b.iter(|| encoded.iter().map(|shard| shard_hash(black_box(shard))).collect::<Vec<_>>())
    });
    group.finish();
}

fn pipeline_stage(c: &mut Criterion, data: &Data) {
    let key = key();
    let params = params();
    let mut group = c.benchmark_group("pipeline_1_core");
    group.throughput(Throughput::BytesDecimal(CHUNK_BYTES as u64));
    let mut sharder = Sharder::new();
    for (name, plain) in [("text", &data.text), ("random", &data.random)] {
        group.bench_function(format!("encode_chunk/{name}"), |b| {
            b.iter(|| encode_chunk(&key, &OBJECT, 0, black_box(plain), &params, &mut sharder).expect("encodes"))
        });
        let encoded = encode_chunk(&key, &OBJECT, 0, plain, &params, &mut sharder).expect("encodes");
        for missing in [0, 2] {
            let slots: Vec<Option<&[u8]>> = encoded
                .shards
                .iter()
                .enumerate()
                .map(|(index, shard)| (index >= missing).then_some(shard.as_slice()))
                .collect();
            group.bench_function(format!("decode_chunk_{missing}_missing/{name}"), |b| {
                b.iter(|| {
                    decode_chunk(&key, &OBJECT, 0, &encoded.entry, K, M, black_box(&slots), &mut sharder)
                        .expect("decodes")
                })
            });
        }
    }
    group.finish();
}

/// Text chunks for the parallel runs (distinct content per chunk).
fn parallel_chunks() -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    (0..PARALLEL_CHUNKS).map(|_| log_text(CHUNK_BYTES, &mut rng)).collect()
}

/// Runs `work` on each chunk, the chunks split into `threads` contiguous runs, one scoped thread
/// (with its own sharder) per run.
fn on_threads<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    work: impl Fn(usize, &T, &mut Sharder) -> R + Sync,
) -> Vec<R> {
    let per_thread = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_thread)
            .enumerate()
            .map(|(run, slice)| {
                let work = &work;
                scope.spawn(move || {
                    let mut sharder = Sharder::new();
                    slice
                        .iter()
                        .enumerate()
                        .map(|(offset, item)| work(run * per_thread + offset, item, &mut sharder))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().expect("worker")).collect()
    })
}

fn parallel_stage(c: &mut Criterion, chunks: &[Vec<u8>]) {
    let key = key();
    let params = params();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let encode = |index: usize, plain: &Vec<u8>, sharder: &mut Sharder| {
        encode_chunk(&key, &OBJECT, index as u32, plain, &params, sharder).expect("encodes")
    };
    let encoded: Vec<EncodedChunk> = on_threads(cores, chunks, encode);
    let decode = |index: usize, chunk: &EncodedChunk, sharder: &mut Sharder| {
        // Two data shards missing, as after the loss of two nodes.
        let slots: Vec<Option<&[u8]>> =
            chunk.shards.iter().enumerate().map(|(shard, bytes)| (shard >= 2).then_some(bytes.as_slice())).collect();
        decode_chunk(&key, &OBJECT, index as u32, &chunk.entry, K, M, &slots, sharder).expect("decodes").len()
    };
    let mut group = c.benchmark_group(format!("pipeline_{PARALLEL_CHUNKS}_chunks"));
    group.throughput(Throughput::BytesDecimal((PARALLEL_CHUNKS * CHUNK_BYTES) as u64));
    // One iteration moves 64 MiB: one per sample.
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(4));
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    for threads in thread_counts {
        group.bench_function(format!("encode/text/{threads}_threads"), |b| {
            // Each chunk's shards are dropped as soon as they are made, as a node that sends them on
            // would: keeping 64 chunks' shards measured page faults rather than the pipeline.
            b.iter(|| {
                on_threads(threads, chunks, |index, plain, sharder| encode(index, plain, sharder).entry.sealed_len)
            })
        });
        group.bench_function(format!("decode_2_missing/text/{threads}_threads"), |b| {
            b.iter(|| on_threads(threads, &encoded, decode))
        });
    }
    group.finish();
}

/// Seconds per call of `work`, the best of a few runs of enough calls to take ~0.2 s.
fn time_per_call<R>(mut work: impl FnMut() -> R) -> f64 {
    let mut calls = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..calls {
            black_box(work());
        }
        if start.elapsed() > Duration::from_millis(20) {
            break;
        }
        calls *= 2;
    }
    (0..10)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                black_box(work());
            }
            start.elapsed().as_secs_f64() / f64::from(calls)
        })
        .fold(f64::INFINITY, f64::min)
}

/// Each stage on the bytes it sees in the pipeline, per plaintext byte, and the serial bound.
fn summary(data: &Data) {
    let key = key();
    let params = params();
    let mb = |bytes: usize, seconds: f64| bytes as f64 / seconds / 1e6;
    for (name, plain) in [("text", &data.text), ("random", &data.random)] {
        let compressed = compress_chunk(plain, 1).expect("compresses");
        let cipher_input = compressed.clone().unwrap_or_else(|| plain.clone());
        let sealed = seal(&key, &OBJECT, 0, plain, 1).expect("seals").bytes;
        let mut sharder = Sharder::new();
        let shards = sharder.encode(K, M, &sealed).expect("encodes");
        let cipher = ChaCha20Poly1305::new(&Key::from([3; 32]));
        let mut buffer = cipher_input.clone();

        let compress = time_per_call(|| compress_chunk(plain, 1));
        let encrypt = time_per_call(|| {
            cipher.encrypt_inout_detached(&Nonce::from([0; 12]), b"aad", buffer.as_mut_slice().into())
        });
        let shard = time_per_call(|| sharder.encode(K, M, &sealed));
        let hash = time_per_call(|| shards.iter().map(|shard| shard_hash(shard)).collect::<Vec<_>>());
        let pipeline = time_per_call(|| encode_chunk(&key, &OBJECT, 0, plain, &params, &mut sharder));
        let stages = compress + encrypt + shard + hash;
        eprintln!(
            "\nsummary/{name}: ratio {:.2}; per stage on its own input: compress {:.0} MB/s, encrypt {:.0} MB/s ({} bytes), \
             shard {:.0} MB/s ({} bytes), blake3 {:.0} MB/s ({} bytes)",
            plain.len() as f64 / cipher_input.len() as f64,
            mb(plain.len(), compress),
            mb(cipher_input.len(), encrypt),
            cipher_input.len(),
            mb(sealed.len(), shard),
            sealed.len(),
            mb(shards.iter().map(Vec::len).sum(), hash),
            shards.iter().map(Vec::len).sum::<usize>(),
        );
        eprintln!(
            "summary/{name}: per plaintext byte: compress {:.0}, encrypt {:.0}, shard {:.0}, blake3 {:.0} MB/s; \
             serial bound 1/Σ(1/stage) = {:.0} MB/s; measured encode_chunk {:.0} MB/s",
            mb(plain.len(), compress),
            mb(plain.len(), encrypt),
            mb(plain.len(), shard),
            mb(plain.len(), hash),
            mb(plain.len(), stages),
            mb(plain.len(), pipeline),
        );
    }
}

fn main() {
    let data = data();
    let mut c = criterion();
    zstd_stage(&mut c, &data);
    crypt_stage(&mut c, &data);
    reed_solomon_stage(&mut c, &data);
    pipeline_stage(&mut c, &data);
    parallel_stage(&mut c, &parallel_chunks());
    summary(&data);
    c.final_summary();
}

//! Whole-object round trips through the pipeline, with shards lost and corrupted.

use super::*;
use crate::id::NodeId;
use proptest::prelude::*;

const OBJECT: ObjectId = ObjectId([0x42; 32]);

fn master() -> MasterKey {
    MasterKey::from_bytes([7; 32])
}

/// Log-like text (compresses), xorshift noise (does not), or half of each per 4 KiB block.
fn object_bytes(len: usize, kind: u8, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let words: [&[u8]; 6] = [b"GET ", b"/objects/", b"status=200 ", b"latency_ms=3 ", b"node=7 ", b"\n"];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let block = len - out.len();
        let block = block.min(4096);
        let random = match kind {
            0 => false,
            1 => true,
            _ => noise() % 2 == 0,
        };
        let end = out.len() + block;
        while out.len() < end {
            let value = noise();
            if random {
                out.push(value.to_le_bytes()[2]);
            } else {
                let word = words[usize::try_from(value % 6).unwrap_or(0)];
                out.extend_from_slice(&word[..word.len().min(end - out.len())]);
            }
        }
    }
    out
}

/// An object written: its manifest and every chunk's shards.
struct Written {
    manifest: Manifest,
    shards: Vec<Vec<Vec<u8>>>,
}

fn write(plain: &[u8], params: &CesParams, piece_bytes: usize) -> Written {
    let key = master().object_key(&OBJECT);
    let mut sharder = Sharder::new();
    let mut cutter = ChunkCutter::new(params.chunk_bytes).unwrap();
    let mut entries = Vec::new();
    let mut shards = Vec::new();
    let mut encode = |index: u32, chunk: &[u8], entries: &mut Vec<ChunkEntry>| {
        let encoded = encode_chunk(&key, &OBJECT, index, chunk, params, &mut sharder).unwrap();
        let mut entry = encoded.entry;
        assert_eq!(usize::try_from(index).unwrap(), entries.len());
        entry.holders = (0..params.shards()).map(|shard| NodeId::for_index(u32::try_from(shard).unwrap())).collect();
        entries.push(entry);
        shards.push(encoded.shards);
    };
    for piece in plain.chunks(piece_bytes.max(1)) {
        for (index, chunk) in cutter.push(piece).unwrap() {
            encode(index, &chunk, &mut entries);
        }
    }
    let end = cutter.finish();
    if let Some((index, chunk)) = end.last {
        encode(index, &chunk, &mut entries);
    }
    assert_eq!(end.content_hash, *blake3::hash(plain).as_bytes());
    let manifest = Manifest {
        version: FORMAT_VERSION,
        object: OBJECT,
        size: end.size,
        content_hash: end.content_hash,
        data_shards: params.data_shards,
        parity_shards: params.parity_shards,
        chunk_bytes: params.chunk_bytes,
        commit_by: 0,
        chunks: entries,
    };
    assert_eq!(manifest.validate(), Ok(()));
    Written { manifest, shards }
}

/// Reads the whole object back, with `damage(chunk, shard)` saying what happened to each shard.
fn read(written: &Written, key: &ObjectKey, damage: &dyn Fn(usize, usize) -> Damage) -> Result<Vec<u8>, CesError> {
    let manifest = Manifest::decode(&written.manifest.encode()).map_err(|_| CesError::UnknownVersion(0))?;
    let mut sharder = Sharder::new();
    let mut check = ContentCheck::new(&manifest);
    let mut out = Vec::new();
    for (index, (entry, shards)) in manifest.chunks.iter().zip(&written.shards).enumerate() {
        let mut damaged: Vec<Option<Vec<u8>>> = Vec::new();
        for (shard_index, shard) in shards.iter().enumerate() {
            damaged.push(match damage(index, shard_index) {
                Damage::None => Some(shard.clone()),
                Damage::Lost => None,
                Damage::Flipped(position) => {
                    let mut copy = shard.clone();
                    let position = position % copy.len();
                    copy[position] ^= 0x10;
                    Some(copy)
                }
                Damage::Truncated => Some(shard[..shard.len() / 2].to_vec()),
            });
        }
        let slots: Vec<Option<&[u8]>> = damaged.iter().map(|shard| shard.as_deref()).collect();
        let index = u32::try_from(index).unwrap();
        let plain = decode_chunk(
            key,
            &OBJECT,
            index,
            entry,
            manifest.data_shards,
            manifest.parity_shards,
            &slots,
            &mut sharder,
        )?;
        check.push(&plain);
        out.extend_from_slice(&plain);
    }
    check.finish()?;
    Ok(out)
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    None,
    Lost,
    Flipped(usize),
    Truncated,
}

fn damage_kind(selector: u8, position: usize) -> Damage {
    match selector % 3 {
        0 => Damage::Lost,
        1 => Damage::Flipped(position),
        _ => Damage::Truncated,
    }
}

fn params(k: u8, m: u8) -> CesParams {
    CesParams { data_shards: k, parity_shards: m, chunk_bytes: CHUNK_BYTES_MIN, zstd_level: 1 }
}

/// Sizes around the chunk boundaries.
fn size_strategy() -> impl Strategy<Value = usize> {
    let chunk = CHUNK_BYTES_MIN as usize;
    prop_oneof![
        Just(0),
        Just(1),
        Just(chunk - 1),
        Just(chunk),
        Just(chunk + 1),
        Just(2 * chunk),
        Just(3 * chunk + 1),
        0..4 * chunk,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Up to m shards of each chunk lost or corrupted: the exact bytes come back.
    #[test]
    fn round_trip_with_up_to_m_bad_shards(
        size in size_strategy(),
        kind in 0u8..3,
        seed in any::<u64>(),
        k in 1u8..=6,
        m in 1u8..=6,
        piece in prop_oneof![Just(1000usize), Just(CHUNK_BYTES_MIN as usize), Just(usize::MAX)],
        bad in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), any::<usize>()), 0..=6),
    ) {
        let plain = object_bytes(size, kind, seed);
        let written = write(&plain, &params(k, m), piece);
        let total = usize::from(k + m);
        // The same up-to-m shard indexes are bad in every chunk.
        let bad: Vec<(usize, Damage)> = bad
            .iter()
            .take(usize::from(m))
            .map(|(index, selector, position)| (index.index(total), damage_kind(*selector, *position)))
            .collect();
        let key = master().object_key(&OBJECT);
        let damage = |_, shard| bad.iter().find(|(index, _)| *index == shard).map_or(Damage::None, |(_, damage)| *damage);
        prop_assert_eq!(read(&written, &key, &damage), Ok(plain));
    }

    /// More than m bad shards in a chunk: CorruptBeyondRepair, never wrong bytes.
    #[test]
    fn more_than_m_bad_shards_is_beyond_repair(
        size in 1usize..3 * CHUNK_BYTES_MIN as usize,
        kind in 0u8..3,
        seed in any::<u64>(),
        k in 1u8..=6,
        m in 1u8..=6,
        extra in 1usize..=6,
        selector in any::<u8>(),
        position in any::<usize>(),
        victim in any::<proptest::sample::Index>(),
    ) {
        let plain = object_bytes(size, kind, seed);
        let written = write(&plain, &params(k, m), usize::MAX);
        let total = usize::from(k + m);
        let bad_count = (usize::from(m) + extra).min(total);
        let chunk = victim.index(written.shards.len());
        let key = master().object_key(&OBJECT);
        let damage = |index, shard: usize| {
            // Spread the bad shards from a selector-chosen start, wrapping around.
            let offset = (shard + total - usize::from(selector) % total) % total;
            if index == chunk && offset < bad_count {
                damage_kind(selector.wrapping_add(u8::try_from(shard).unwrap_or(0)), position)
            } else {
                Damage::None
            }
        };
        let good = u32::try_from(total - bad_count).unwrap();
        prop_assert_eq!(
            read(&written, &key, &damage),
            Err(CesError::CorruptBeyondRepair { chunk: u32::try_from(chunk).unwrap(), good, needed: u32::from(k) })
        );
    }
}

#[test]
fn wrong_keys_objects_and_indexes_fail_authentication() {
    let plain = object_bytes(100_000, 2, 9);
    let written = write(&plain, &params(3, 2), usize::MAX);
    let intact = |_, _| Damage::None;
    assert_eq!(read(&written, &master().object_key(&OBJECT), &intact), Ok(plain));
    let other_master = MasterKey::from_bytes([8; 32]).object_key(&OBJECT);
    assert_eq!(read(&written, &other_master, &intact), Err(CesError::WrongKey { chunk: 0 }));
    let other_object = master().object_key(&ObjectId([0x43; 32]));
    assert_eq!(read(&written, &other_object, &intact), Err(CesError::WrongKey { chunk: 0 }));

    let key = master().object_key(&OBJECT);
    let mut sharder = Sharder::new();
    let slots: Vec<Option<&[u8]>> = written.shards[0].iter().map(|shard| Some(shard.as_slice())).collect();
    let entry = &written.manifest.chunks[0];
    // The right key under another object id (the AAD) or as another chunk (nonce and AAD).
    assert_eq!(
        decode_chunk(&key, &ObjectId([0x43; 32]), 0, entry, 3, 2, &slots, &mut sharder),
        Err(CesError::WrongKey { chunk: 0 })
    );
    assert_eq!(decode_chunk(&key, &OBJECT, 1, entry, 3, 2, &slots, &mut sharder), Err(CesError::WrongKey { chunk: 1 }));
    // Chunk 1's shards presented as chunk 0 fail their hashes.
    let other: Vec<Option<&[u8]>> = written.shards[1].iter().map(|shard| Some(shard.as_slice())).collect();
    assert_eq!(
        decode_chunk(&key, &OBJECT, 0, entry, 3, 2, &other, &mut sharder),
        Err(CesError::CorruptBeyondRepair { chunk: 0, good: 0, needed: 3 })
    );
}

#[test]
fn shape_errors_are_typed() {
    let plain = object_bytes(70_000, 0, 1);
    let written = write(&plain, &params(2, 2), usize::MAX);
    let key = master().object_key(&OBJECT);
    let mut sharder = Sharder::new();
    let entry = &written.manifest.chunks[0];
    let slots: Vec<Option<&[u8]>> = written.shards[0].iter().map(|shard| Some(shard.as_slice())).collect();
    assert_eq!(
        decode_chunk(&key, &OBJECT, 0, entry, 2, 2, &slots[..3], &mut sharder),
        Err(CesError::ShardCount { expected: 4, got: 3 })
    );
    assert_eq!(
        decode_chunk(&key, &OBJECT, 0, entry, 2, 1, &slots[..3], &mut sharder),
        Err(CesError::ShardCount { expected: 3, got: 4 })
    );
    let mut lying = entry.clone();
    lying.sealed_len += 1000;
    assert!(matches!(
        decode_chunk(&key, &OBJECT, 0, &lying, 2, 2, &slots, &mut sharder),
        Err(CesError::ShardLength { .. }
            | CesError::Truncated { .. }
            | CesError::TooLarge { .. }
            | CesError::WrongKey { .. })
    ));
    let mut lying = entry.clone();
    lying.plain_len += 1;
    assert_eq!(decode_chunk(&key, &OBJECT, 0, &lying, 2, 2, &slots, &mut sharder), Err(CesError::Corrupt { chunk: 0 }));
    let big = vec![0; CHUNK_BYTES_MIN as usize + 1];
    assert_eq!(
        encode_chunk(&key, &OBJECT, 0, &big, &params(2, 2), &mut sharder),
        Err(CesError::TooLarge { bytes: u64::from(CHUNK_BYTES_MIN) + 1, max: u64::from(CHUNK_BYTES_MIN) })
    );
    assert!(matches!(
        encode_chunk(&key, &OBJECT, 0, &plain, &params(0, 2), &mut sharder),
        Err(CesError::InvalidParams(_))
    ));
}

#[test]
fn compressed_and_raw_chunks_are_recorded() {
    let text = write(&object_bytes(100_000, 0, 3), &params(4, 2), usize::MAX);
    assert!(text.manifest.chunks.iter().all(|chunk| chunk.compressed));
    let text_stored: u32 = text.manifest.chunks.iter().map(|chunk| chunk.sealed_len).sum();
    assert!(text_stored < 100_000 / 2, "log-like text should compress: {text_stored}");
    let noise = write(&object_bytes(100_000, 1, 3), &params(4, 2), usize::MAX);
    assert!(noise.manifest.chunks.iter().all(|chunk| !chunk.compressed));
}

#[test]
fn content_check_catches_a_wrong_object() {
    let mut check = ContentCheck::expecting(3, *blake3::hash(b"abc").as_bytes());
    check.push(b"ab");
    check.push(b"c");
    assert_eq!(check.finish(), Ok(()));
    let mut check = ContentCheck::expecting(3, *blake3::hash(b"abc").as_bytes());
    check.push(b"abd");
    assert_eq!(check.finish(), Err(CesError::ContentMismatch { expected: 3, got: 3 }));
    let mut check = ContentCheck::expecting(3, *blake3::hash(b"abc").as_bytes());
    check.push(b"ab");
    assert_eq!(check.finish(), Err(CesError::ContentMismatch { expected: 3, got: 2 }));
}

#[test]
fn cutter_bounds() {
    assert!(matches!(ChunkCutter::new(CHUNK_BYTES_MIN - 1), Err(CesError::InvalidParams(_))));
    let mut cutter = ChunkCutter::new(CHUNK_BYTES_MIN).unwrap();
    let chunk = vec![1; CHUNK_BYTES_MIN as usize];
    for expected in 0..CHUNKS_MAX {
        let mut input = chunk.as_slice();
        assert_eq!(cutter.next_chunk(&mut input).unwrap().map(|(index, _)| index), Some(expected));
        assert!(input.is_empty());
    }
    assert!(matches!(cutter.push(b"x"), Err(CesError::TooLarge { .. })));
    let end = cutter.finish();
    assert_eq!((end.last, end.size), (None, u64::from(CHUNKS_MAX) * u64::from(CHUNK_BYTES_MIN)));
    let empty = ChunkCutter::new(CHUNK_BYTES_MIN).unwrap().finish();
    assert_eq!((empty.last, empty.size, empty.content_hash), (None, 0, *blake3::hash(b"").as_bytes()));
}

#[test]
fn a_sharder_is_reused_across_shapes() {
    // One sharder through changing k, m and lengths gives what fresh ones give.
    let key = master().object_key(&OBJECT);
    let mut reused = Sharder::new();
    for (k, m, len) in [(4, 2, 60_000), (1, 1, 10), (6, 6, 65_536), (3, 1, 0), (4, 2, 65_535)] {
        let plain = object_bytes(len, 2, u64::from(k));
        let params = params(k, m);
        let a = encode_chunk(&key, &OBJECT, 5, &plain, &params, &mut reused).unwrap();
        let b = encode_chunk(&key, &OBJECT, 5, &plain, &params, &mut Sharder::new()).unwrap();
        assert_eq!(a, b);
        let mut slots: Vec<Option<&[u8]>> = a.shards.iter().map(|shard| Some(shard.as_slice())).collect();
        slots[0] = None;
        assert_eq!(decode_chunk(&key, &OBJECT, 5, &a.entry, k, m, &slots, &mut reused), Ok(plain));
    }
}

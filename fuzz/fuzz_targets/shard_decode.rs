//! Shards from outside (a peer, a rotten disk): the Reed-Solomon decoder and the whole chunk path
//! given arbitrary shards, lengths and counts answer with bytes or a typed error, never a panic, and
//! never return bytes for a chunk whose shards do not hash to its entry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pangea_core::ces::{ChunkEntry, MasterKey, ObjectId, Sharder, decode_chunk, shard_hash};

fuzz_target!(|input: (u8, u8, u32, Vec<Option<Vec<u8>>>)| {
    let (data_shards, parity_shards, sealed_len, shards) = input;
    let (data_shards, parity_shards) = (data_shards % 8, parity_shards % 8);
    let sealed_len = sealed_len % (1 << 16);
    let slots: Vec<Option<&[u8]>> = shards.iter().map(|shard| shard.as_deref()).collect();
    let mut sharder = Sharder::new();
    let _ = sharder.decode(data_shards, parity_shards, sealed_len, &slots);
    let _ = sharder.rebuild(data_shards, parity_shards, sealed_len, &slots, &[0, 1]);
    // The whole path: hashes from the shards given, so the decoder and the AEAD see them.
    let entry = ChunkEntry {
        plain_len: sealed_len,
        compressed: sealed_len % 2 == 0,
        sealed_len,
        shard_hashes: shards.iter().map(|shard| shard_hash(shard.as_deref().unwrap_or(&[]))).collect(),
        holders: Vec::new(),
    };
    let key = MasterKey::from_bytes([7; 32]).object_key(&ObjectId([1; 32]));
    let opened = decode_chunk(&key, &ObjectId([1; 32]), 0, &entry, data_shards, parity_shards, &slots, &mut sharder);
    // Nothing sealed these shards under this key: any bytes back would be forged.
    assert!(opened.is_err());
});

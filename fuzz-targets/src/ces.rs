//! The object pipeline's decoders of outside bytes: manifests (from the log, a snapshot, a disk) and
//! shards (from peers and rotting disks).

use pangea_core::ces::{ChunkEntry, Manifest, MasterKey, ObjectId, Sharder, decode_chunk, shard_hash};

/// Shards one [`shard_decode`] input holds at most (more than any k + m the pipeline accepts).
pub const SHARD_INPUT_SHARDS_MAX: usize = 64;

/// A manifest: decoding gives a manifest that validates, or a typed error — never a panic — and a
/// decoded manifest encodes back to bytes that decode to the same manifest.
///
/// # Panics
/// When a decoded manifest does not validate or does not read back.
pub fn manifest_decode(bytes: &[u8]) {
    if let Ok(manifest) = Manifest::decode(bytes) {
        assert!(manifest.validate().is_ok());
        let again = Manifest::decode(&manifest.encode()).expect("a decoded manifest encodes back");
        assert_eq!(again, manifest);
        let _ = manifest.chunks_for_range(u64::from(bytes.len() as u32), 1 << 20);
    }
}

/// The shape [`shard_decode`] reads from its bytes: a count of data and of parity shards (each
/// below 8), a sealed length (below 64 KiB) and the shards, each present or missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardInput {
    /// k.
    pub data_shards: u8,
    /// m.
    pub parity_shards: u8,
    /// Bytes of the sealed chunk the shards claim to hold.
    pub sealed_len: u32,
    /// The shards given, in order (`None`: missing).
    pub shards: Vec<Option<Vec<u8>>>,
}

impl ShardInput {
    /// Reads the shape: `k`, `m`, the sealed length (u16 LE), then per shard a tag byte (even: missing)
    /// and, for a present one, its length (u16 LE) and bytes (a short last shard takes what is left).
    #[must_use]
    pub fn parse(bytes: &[u8]) -> ShardInput {
        let byte = |index: usize| bytes.get(index).copied().unwrap_or(0);
        let mut input = ShardInput {
            data_shards: byte(0) % 8,
            parity_shards: byte(1) % 8,
            sealed_len: u32::from(u16::from_le_bytes([byte(2), byte(3)])),
            shards: Vec::new(),
        };
        let mut rest = bytes.get(4..).unwrap_or(&[]);
        while let Some((&tag, after)) = rest.split_first() {
            if input.shards.len() == SHARD_INPUT_SHARDS_MAX {
                break;
            }
            if tag % 2 == 0 {
                input.shards.push(None);
                rest = after;
                continue;
            }
            let length = match after {
                [low, high, ..] => usize::from(u16::from_le_bytes([*low, *high])),
                _ => 0,
            };
            let body = after.get(2..).unwrap_or(&[]);
            let (shard, next) = body.split_at(length.min(body.len()));
            input.shards.push(Some(shard.to_vec()));
            rest = next;
        }
        input
    }

    /// The bytes [`ShardInput::parse`] reads back as this shape (for seeds).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.data_shards, self.parity_shards];
        out.extend_from_slice(&u16::try_from(self.sealed_len).unwrap_or(u16::MAX).to_le_bytes());
        for shard in &self.shards {
            match shard {
                None => out.push(0),
                Some(shard) => {
                    out.push(1);
                    out.extend_from_slice(&u16::try_from(shard.len()).unwrap_or(u16::MAX).to_le_bytes());
                    out.extend_from_slice(&shard[..shard.len().min(usize::from(u16::MAX))]);
                }
            }
        }
        out
    }
}

/// Shards: the Reed-Solomon decoder and the whole chunk path given arbitrary shards, lengths and
/// counts answer with bytes or a typed error, never a panic, and never return bytes for a chunk whose
/// shards do not hash to its entry.
///
/// # Panics
/// When the pipeline opens a chunk nothing sealed under its key.
pub fn shard_decode(bytes: &[u8]) {
    let ShardInput { data_shards, parity_shards, sealed_len, shards } = ShardInput::parse(bytes);
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
}

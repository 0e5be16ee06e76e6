//! The whole path of a chunk in one place, and the streaming ends around it.
//!
//! Writing: a [`ChunkCutter`] cuts the object's byte stream into chunks (hashing the plaintext as it
//! goes), and [`encode_chunk`] seals each one and shards it. Reading: [`decode_chunk`] checks the
//! shards against their hashes, rebuilds the sealed chunk from any k good ones and opens it, and a
//! [`ContentCheck`] hashes the chunks in order to compare with the manifest. Nothing holds more than
//! one chunk (and its shards) at a time, so an object of any size goes through in bounded memory.

use super::crypt::ObjectKey;
use super::errors::ParamsError;
use super::errors::{CesError, count_u32, len_u64};
use super::ids::{ObjectId, shard_hash};
use super::manifest::{ChunkEntry, Manifest};
use super::params::{CHUNK_BYTES_MAX, CHUNK_BYTES_MIN, CHUNKS_MAX, CesParams};
use super::seal::{CesPlantedBug, open_owned, seal_with};
use super::shard::Sharder;

/// One chunk encoded: what the manifest records for it (without holders, which placement fills in)
/// and its k + m shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedChunk {
    /// The manifest's entry, `holders` empty.
    pub entry: ChunkEntry,
    /// Data shards, then parity shards.
    pub shards: Vec<Vec<u8>>,
}

/// Seals chunk `index` of `object` (compress, encrypt) and shards it as `params` say.
pub fn encode_chunk(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    plain: &[u8],
    params: &CesParams,
    sharder: &mut Sharder,
) -> Result<EncodedChunk, CesError> {
    encode_chunk_with(key, object, index, plain, params, sharder, None)
}

/// [`encode_chunk`] with a bug planted (no effect without the `planted-bugs` feature).
pub fn encode_chunk_with(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    plain: &[u8],
    params: &CesParams,
    sharder: &mut Sharder,
    bug: Option<CesPlantedBug>,
) -> Result<EncodedChunk, CesError> {
    params.validate()?;
    if len_u64(plain.len()) > u64::from(params.chunk_bytes) {
        return Err(CesError::TooLarge { bytes: len_u64(plain.len()), max: u64::from(params.chunk_bytes) });
    }
    let sealed = seal_with(key, object, index, plain, params.zstd_level, bug)?;
    let shards = sharder.encode(params.data_shards, params.parity_shards, &sealed.bytes)?;
    let entry = ChunkEntry {
        plain_len: count_u32(plain.len()),
        compressed: sealed.compressed,
        sealed_len: count_u32(sealed.bytes.len()),
        shard_hashes: shards.iter().map(|shard| shard_hash(shard)).collect(),
        holders: Vec::new(),
    };
    Ok(EncodedChunk { entry, shards })
}

/// Reads chunk `index` of `object` back from its shards (`None` for a missing one).
///
/// Each present shard is checked against `entry.shard_hashes`; one that does not match (bitrot, a
/// wrong length) counts as missing. Fewer than k good shards gives
/// [`CesError::CorruptBeyondRepair`]; otherwise the sealed chunk is rebuilt and opened, so the
/// bytes returned are exactly those written, or an error.
#[allow(clippy::too_many_arguments)]
pub fn decode_chunk(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    entry: &ChunkEntry,
    data_shards: u8,
    parity_shards: u8,
    shards: &[Option<&[u8]>],
    sharder: &mut Sharder,
) -> Result<Vec<u8>, CesError> {
    decode_chunk_with(key, object, index, entry, data_shards, parity_shards, shards, sharder, None)
}

/// [`decode_chunk`] with a bug planted (no effect without the `planted-bugs` feature).
#[allow(clippy::too_many_arguments)]
pub fn decode_chunk_with(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    entry: &ChunkEntry,
    data_shards: u8,
    parity_shards: u8,
    shards: &[Option<&[u8]>],
    sharder: &mut Sharder,
    bug: Option<CesPlantedBug>,
) -> Result<Vec<u8>, CesError> {
    super::params::validate_shards(data_shards, parity_shards)?;
    let total = usize::from(data_shards) + usize::from(parity_shards);
    if shards.len() != total {
        return Err(CesError::ShardCount { expected: count_u32(total), got: len_u64(shards.len()) });
    }
    if entry.shard_hashes.len() != total {
        return Err(CesError::ShardCount { expected: count_u32(total), got: len_u64(entry.shard_hashes.len()) });
    }
    // Hash in index order (data shards first, which spares the decoder work) and stop at k good
    // ones: more cannot help.
    let needed = usize::from(data_shards);
    let mut good: Vec<Option<&[u8]>> = vec![None; total];
    let mut found = 0;
    for ((slot, shard), expected) in good.iter_mut().zip(shards).zip(&entry.shard_hashes) {
        if found == needed {
            break;
        }
        if let Some(shard) = shard
            && shard_hash(shard) == *expected
        {
            *slot = Some(*shard);
            found += 1;
        }
    }
    if found < needed {
        return Err(CesError::CorruptBeyondRepair {
            chunk: index,
            good: count_u32(found),
            needed: u32::from(data_shards),
        });
    }
    let sealed = sharder.decode(data_shards, parity_shards, entry.sealed_len, &good).map_err(|error| match error {
        CesError::NotEnoughShards { present, needed } => {
            CesError::CorruptBeyondRepair { chunk: index, good: present, needed }
        }
        other => other,
    })?;
    open_owned(key, object, index, entry.compressed, entry.plain_len, sealed, bug)
}

/// Cuts a byte stream into chunks of a fixed size, holding at most one partial chunk, and hashes
/// the whole stream as it passes.
#[derive(Clone, Debug)]
pub struct ChunkCutter {
    chunk_bytes: usize,
    partial: Vec<u8>,
    next_index: u32,
    size: u64,
    hasher: blake3::Hasher,
}

/// The end of a cut stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutEnd {
    /// The last chunk if it is shorter than the chunk size (and not empty), with its index.
    pub last: Option<(u32, Vec<u8>)>,
    /// Bytes in the stream.
    pub size: u64,
    /// The blake3 hash of the stream (the manifest's `content_hash`).
    pub content_hash: [u8; 32],
}

impl ChunkCutter {
    /// A cutter into chunks of `chunk_bytes` ([`CHUNK_BYTES_MIN`]..=[`CHUNK_BYTES_MAX`]).
    pub fn new(chunk_bytes: u32) -> Result<ChunkCutter, CesError> {
        if !(CHUNK_BYTES_MIN..=CHUNK_BYTES_MAX).contains(&chunk_bytes) {
            return Err(ParamsError::ChunkBytes { chunk_bytes, min: CHUNK_BYTES_MIN, max: CHUNK_BYTES_MAX }.into());
        }
        Ok(ChunkCutter {
            chunk_bytes: usize::try_from(chunk_bytes).unwrap_or(usize::MAX),
            partial: Vec::new(),
            next_index: 0,
            size: 0,
            hasher: blake3::Hasher::new(),
        })
    }

    /// Takes bytes from the front of `input` until a chunk is full and returns it with its index;
    /// `None` once `input` is used up with the chunk still partial. Call it until `None` to go
    /// through a buffer one chunk at a time. Past [`CHUNKS_MAX`] chunks, [`CesError::TooLarge`].
    pub fn next_chunk(&mut self, input: &mut &[u8]) -> Result<Option<(u32, Vec<u8>)>, CesError> {
        let room = self.chunk_bytes - self.partial.len();
        let (taken, rest) = input.split_at(room.min(input.len()));
        if !taken.is_empty() {
            if self.next_index >= CHUNKS_MAX {
                let max = u64::from(CHUNKS_MAX) * len_u64(self.chunk_bytes);
                return Err(CesError::TooLarge { bytes: self.size + len_u64(taken.len()), max });
            }
            if self.partial.capacity() == 0 {
                self.partial.reserve_exact(self.chunk_bytes);
            }
            self.partial.extend_from_slice(taken);
            self.hasher.update(taken);
            self.size += len_u64(taken.len());
            *input = rest;
        }
        if self.partial.len() < self.chunk_bytes {
            return Ok(None);
        }
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some((index, std::mem::take(&mut self.partial))))
    }

    /// Takes all of `bytes`, returning the chunks it completes (as many as `bytes` holds: feed it
    /// pieces no larger than a chunk, or use [`ChunkCutter::next_chunk`], to hold one at a time).
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, CesError> {
        let mut full = Vec::new();
        while let Some(chunk) = self.next_chunk(&mut bytes)? {
            full.push(chunk);
        }
        Ok(full)
    }

    /// Ends the stream: the last, partial chunk if any, the size and the content hash.
    #[must_use]
    pub fn finish(self) -> CutEnd {
        let last = (!self.partial.is_empty()).then_some((self.next_index, self.partial));
        CutEnd { last, size: self.size, content_hash: *self.hasher.finalize().as_bytes() }
    }
}

/// Checks an object read back in full: hashes its chunks' plaintext in order and, at the end,
/// compares size and hash with the manifest's.
#[derive(Clone, Debug)]
pub struct ContentCheck {
    expected_size: u64,
    expected_hash: [u8; 32],
    size: u64,
    hasher: blake3::Hasher,
}

impl ContentCheck {
    /// A check against `manifest`'s size and content hash.
    #[must_use]
    pub fn new(manifest: &Manifest) -> ContentCheck {
        ContentCheck::expecting(manifest.size, manifest.content_hash)
    }

    /// A check against a size and a content hash.
    #[must_use]
    pub fn expecting(size: u64, content_hash: [u8; 32]) -> ContentCheck {
        ContentCheck { expected_size: size, expected_hash: content_hash, size: 0, hasher: blake3::Hasher::new() }
    }

    /// Adds the next chunk's plaintext.
    pub fn push(&mut self, plain: &[u8]) {
        self.hasher.update(plain);
        self.size += len_u64(plain.len());
    }

    /// [`CesError::ContentMismatch`] unless the bytes pushed have the expected size and hash.
    pub fn finish(self) -> Result<(), CesError> {
        if self.size != self.expected_size || *self.hasher.finalize().as_bytes() != self.expected_hash {
            return Err(CesError::ContentMismatch { expected: self.expected_size, got: self.size });
        }
        Ok(())
    }
}

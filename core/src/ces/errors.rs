//! Why a chunk could not be sealed, sharded, rebuilt or opened.
//!
//! The errors are plain data (they derive `Serialize`) so that a node can put one in a message.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What is wrong with a set of [`CesParams`](super::CesParams).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
pub enum ParamsError {
    /// `data_shards` is zero.
    #[error("at least one data shard is needed")]
    NoDataShards,
    /// `parity_shards` is zero: a chunk would not survive the loss of a single shard.
    #[error("at least one parity shard is needed")]
    NoParityShards,
    /// `data_shards + parity_shards` is over [`SHARDS_MAX`](super::SHARDS_MAX).
    #[error("{shards} shards per chunk, at most {max} allowed")]
    TooManyShards {
        /// Data plus parity shards asked for.
        shards: usize,
        /// The limit.
        max: usize,
    },
    /// The chunk size is outside [`CHUNK_BYTES_MIN`](super::CHUNK_BYTES_MIN)..=[`CHUNK_BYTES_MAX`](super::CHUNK_BYTES_MAX).
    #[error("chunk size {chunk_bytes} bytes outside {min}..={max}")]
    ChunkBytes {
        /// The size asked for.
        chunk_bytes: u32,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// The zstd level is outside [`ZSTD_LEVEL_MIN`](super::ZSTD_LEVEL_MIN)..=[`ZSTD_LEVEL_MAX`](super::ZSTD_LEVEL_MAX).
    #[error("zstd level {level} outside {min}..={max}")]
    ZstdLevel {
        /// The level asked for.
        level: i32,
        /// Lowest allowed.
        min: i32,
        /// Highest allowed.
        max: i32,
    },
}

/// Why the compress → encrypt → shard pipeline (or its way back) failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
pub enum CesError {
    /// The parameters cannot work.
    #[error("invalid parameters: {0}")]
    InvalidParams(ParamsError),
    /// The chunk's authentication tag does not verify: another key, another object or chunk index,
    /// or ciphertext that was changed.
    #[error("chunk {chunk}: authentication failed (wrong key, wrong object or chunk, or tampered bytes)")]
    WrongKey {
        /// The chunk's index in its object.
        chunk: u32,
    },
    /// Fewer intact shards than data shards: the chunk cannot be rebuilt.
    #[error("chunk {chunk}: {good} intact shards, {needed} needed")]
    CorruptBeyondRepair {
        /// The chunk's index in its object.
        chunk: u32,
        /// Shards present whose hash matched.
        good: u32,
        /// Shards needed (the data shard count).
        needed: u32,
    },
    /// Fewer shards than data shards were given to the Reed-Solomon decoder (the shard layer does
    /// not know the chunk index; [`decode_chunk`](super::decode_chunk) reports
    /// [`CesError::CorruptBeyondRepair`] instead).
    #[error("{present} shards present, {needed} needed")]
    NotEnoughShards {
        /// Shards given.
        present: u32,
        /// Shards needed (the data shard count).
        needed: u32,
    },
    /// Fewer bytes than the format needs.
    #[error("truncated: {expected} bytes expected, {got} present")]
    Truncated {
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        got: u64,
    },
    /// A format version this build does not speak.
    #[error("unknown format version {0}")]
    UnknownVersion(u16),
    /// The tag verified but the plaintext is not what the chunk's record says (decompression
    /// failed, or its length differs): impossible without a bug on the sealing side.
    #[error("chunk {chunk}: authenticated but inconsistent with its record")]
    Corrupt {
        /// The chunk's index in its object.
        chunk: u32,
    },
    /// More bytes than a limit allows.
    #[error("{bytes} bytes over the limit of {max}")]
    TooLarge {
        /// Bytes asked for.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// A shard whose length is not the chunk's shard length.
    #[error("shard {index} is {got} bytes, {expected} expected")]
    ShardLength {
        /// The shard's index in the chunk (data shards first, then parity).
        index: u32,
        /// The chunk's shard length.
        expected: u32,
        /// The shard's length.
        got: u64,
    },
    /// A shard list whose length is not data plus parity shards.
    #[error("{got} shard slots given, {expected} expected")]
    ShardCount {
        /// Data plus parity shards.
        expected: u32,
        /// Slots given.
        got: u64,
    },
    /// A shard index beyond data plus parity shards.
    #[error("shard index {index} out of range (chunk has {shards} shards)")]
    ShardIndex {
        /// The index asked for.
        index: u64,
        /// Data plus parity shards.
        shards: u32,
    },
    /// zstd could not decompress the bytes, or they did not decompress to exactly `plain_len` bytes.
    #[error("compressed bytes do not decompress to exactly {plain_len} bytes")]
    DecompressFailed {
        /// The length the plaintext should have.
        plain_len: u32,
    },
    /// The Reed-Solomon codec refused shards whose count and lengths were checked before: a bug.
    #[error("the Reed-Solomon codec refused checked shards")]
    ReedSolomonRefused,
    /// zstd refused to compress (an allocation failure in its context; never the input's fault).
    #[error("zstd could not compress the chunk")]
    CompressFailed,
    /// The object read back is not the object written: its size or its content hash differs.
    #[error("content mismatch: {got} bytes read, {expected} expected, or their hash differs")]
    ContentMismatch {
        /// The size recorded in the manifest.
        expected: u64,
        /// The bytes read.
        got: u64,
    },
}

impl From<ParamsError> for CesError {
    fn from(error: ParamsError) -> CesError {
        CesError::InvalidParams(error)
    }
}

/// Saturating conversion of a count to the `u32` that errors carry.
pub(crate) fn count_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Saturating conversion of a length to the `u64` that errors carry.
pub(crate) fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

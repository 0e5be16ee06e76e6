//! How an object is cut, compressed and spread: the parameters and their limits.

use super::errors::{CesError, ParamsError};
use serde::{Deserialize, Serialize};

/// The smallest chunk: below it, per-chunk costs (a manifest entry, k + m shard hashes and
/// placements, zstd and AEAD setup) outweigh the data.
pub const CHUNK_BYTES_MIN: u32 = 64 * 1024;
/// The largest chunk: the unit a node holds in memory while it encodes or decodes.
pub const CHUNK_BYTES_MAX: u32 = 64 * 1024 * 1024;
/// Most shards (data plus parity) per chunk.
pub const SHARDS_MAX: usize = 16;
/// Most chunks per object, so that a manifest stays near 1 MiB.
pub const CHUNKS_MAX: u32 = 1024;
/// The largest object.
pub const OBJECT_BYTES_MAX: u64 = CHUNKS_MAX as u64 * CHUNK_BYTES_MAX as u64;
/// The zstd level used unless asked otherwise: the fastest, since compression is the slowest stage.
pub const ZSTD_LEVEL_DEFAULT: i32 = 1;
/// The lowest zstd level accepted (zstd's negative "fast" levels are not used).
pub const ZSTD_LEVEL_MIN: i32 = 1;
/// The highest zstd level accepted (20 and up need large windows and much memory).
pub const ZSTD_LEVEL_MAX: i32 = 19;
/// The chunk size is the node's memory divided by this (before rounding and clamping).
pub const MEMORY_PER_CHUNK_BYTE: u64 = 1024;
/// Data shards by default.
const DATA_SHARDS_DEFAULT: u8 = 4;
/// Parity shards by default.
const PARITY_SHARDS_DEFAULT: u8 = 2;
/// Chunk size by default.
const CHUNK_BYTES_DEFAULT: u32 = 1024 * 1024;

/// How an object is cut into chunks, compressed, and spread over shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CesParams {
    /// Shards a chunk is split into (k); any k of the k + m shards rebuild it.
    pub data_shards: u8,
    /// Parity shards added (m): a chunk survives the loss of any m shards.
    pub parity_shards: u8,
    /// Plaintext bytes per chunk (the last chunk of an object may be shorter).
    pub chunk_bytes: u32,
    /// The zstd level, [`ZSTD_LEVEL_MIN`]..=[`ZSTD_LEVEL_MAX`].
    pub zstd_level: i32,
}

impl Default for CesParams {
    /// 4 data + 2 parity shards (1.5× storage, survives two losses), 1 MiB chunks, zstd level 1.
    fn default() -> CesParams {
        CesParams {
            data_shards: DATA_SHARDS_DEFAULT,
            parity_shards: PARITY_SHARDS_DEFAULT,
            chunk_bytes: CHUNK_BYTES_DEFAULT,
            zstd_level: ZSTD_LEVEL_DEFAULT,
        }
    }
}

impl CesParams {
    /// Checks every limit.
    pub fn validate(&self) -> Result<(), CesError> {
        validate_shards(self.data_shards, self.parity_shards)?;
        if !(CHUNK_BYTES_MIN..=CHUNK_BYTES_MAX).contains(&self.chunk_bytes) {
            return Err(ParamsError::ChunkBytes {
                chunk_bytes: self.chunk_bytes,
                min: CHUNK_BYTES_MIN,
                max: CHUNK_BYTES_MAX,
            }
            .into());
        }
        validate_zstd_level(self.zstd_level)
    }

    /// Data plus parity shards.
    #[must_use]
    pub fn shards(&self) -> usize {
        usize::from(self.data_shards) + usize::from(self.parity_shards)
    }

    /// How many chunks an object of `size` bytes takes: 0 for an empty object.
    pub fn chunk_count(&self, size: u64) -> Result<u32, CesError> {
        self.validate()?;
        chunk_count(size, self.chunk_bytes)
    }
}

/// `ceil(size / chunk_bytes)`, or [`CesError::TooLarge`] over [`CHUNKS_MAX`] chunks.
pub(crate) fn chunk_count(size: u64, chunk_bytes: u32) -> Result<u32, CesError> {
    let chunk_bytes = u64::from(chunk_bytes.max(1));
    let max = u64::from(CHUNKS_MAX) * chunk_bytes;
    if size > max {
        return Err(CesError::TooLarge { bytes: size, max });
    }
    // At most CHUNKS_MAX after the check above.
    u32::try_from(size.div_ceil(chunk_bytes)).map_err(|_| CesError::TooLarge { bytes: size, max })
}

/// Checks a shard layout: k ≥ 1, m ≥ 1, k + m ≤ [`SHARDS_MAX`].
pub fn validate_shards(data_shards: u8, parity_shards: u8) -> Result<(), CesError> {
    if data_shards == 0 {
        return Err(ParamsError::NoDataShards.into());
    }
    if parity_shards == 0 {
        return Err(ParamsError::NoParityShards.into());
    }
    let shards = usize::from(data_shards) + usize::from(parity_shards);
    if shards > SHARDS_MAX {
        return Err(ParamsError::TooManyShards { shards, max: SHARDS_MAX }.into());
    }
    Ok(())
}

/// Checks a zstd level against [`ZSTD_LEVEL_MIN`]..=[`ZSTD_LEVEL_MAX`].
pub fn validate_zstd_level(level: i32) -> Result<(), CesError> {
    if !(ZSTD_LEVEL_MIN..=ZSTD_LEVEL_MAX).contains(&level) {
        return Err(ParamsError::ZstdLevel { level, min: ZSTD_LEVEL_MIN, max: ZSTD_LEVEL_MAX }.into());
    }
    Ok(())
}

/// The chunk size for a node that reports `memory_bytes` of memory: a 1/1024th of it, rounded down
/// to a power of two and clamped to [`CHUNK_BYTES_MIN`]..=[`CHUNK_BYTES_MAX`] (1 GiB → 1 MiB).
#[must_use]
pub fn chunk_bytes_for_memory(memory_bytes: u64) -> u32 {
    let share = memory_bytes / MEMORY_PER_CHUNK_BYTE;
    if share < u64::from(CHUNK_BYTES_MIN) {
        return CHUNK_BYTES_MIN;
    }
    let rounded = 1u64 << share.ilog2();
    u32::try_from(rounded).unwrap_or(CHUNK_BYTES_MAX).min(CHUNK_BYTES_MAX)
}

/// The smallest power-of-two chunk size at least `preferred` (itself clamped to
/// [`CHUNK_BYTES_MIN`]..=[`CHUNK_BYTES_MAX`]) with which `size` bytes fit in [`CHUNKS_MAX`] chunks;
/// [`CesError::TooLarge`] over [`OBJECT_BYTES_MAX`].
pub fn chunk_bytes_for_size(size: u64, preferred: u32) -> Result<u32, CesError> {
    if size > OBJECT_BYTES_MAX {
        return Err(CesError::TooLarge { bytes: size, max: OBJECT_BYTES_MAX });
    }
    // Both bounds are powers of two, so rounding up stays within them.
    let mut chunk_bytes = preferred.clamp(CHUNK_BYTES_MIN, CHUNK_BYTES_MAX).next_power_of_two();
    while size.div_ceil(u64::from(chunk_bytes)) > u64::from(CHUNKS_MAX) && chunk_bytes < CHUNK_BYTES_MAX {
        chunk_bytes *= 2;
    }
    Ok(chunk_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        let params = CesParams::default();
        assert_eq!(params.validate(), Ok(()));
        assert_eq!(params.shards(), 6);
        assert_eq!(params.chunk_count(0), Ok(0));
        assert_eq!(params.chunk_count(1), Ok(1));
        assert_eq!(params.chunk_count(1 << 20), Ok(1));
        assert_eq!(params.chunk_count((1 << 20) + 1), Ok(2));
        assert_eq!(params.chunk_count(1 << 30), Ok(1024));
        assert_eq!(params.chunk_count((1 << 30) + 1), Err(CesError::TooLarge { bytes: (1 << 30) + 1, max: 1 << 30 }));
    }

    #[test]
    fn each_invalid_param_has_its_error() {
        let good = CesParams::default();
        let check = |params: CesParams, error: ParamsError| {
            assert_eq!(params.validate(), Err(CesError::InvalidParams(error)));
        };
        check(CesParams { data_shards: 0, ..good }, ParamsError::NoDataShards);
        check(CesParams { parity_shards: 0, ..good }, ParamsError::NoParityShards);
        check(
            CesParams { data_shards: 10, parity_shards: 7, ..good },
            ParamsError::TooManyShards { shards: 17, max: 16 },
        );
        for chunk_bytes in [0, CHUNK_BYTES_MIN - 1, CHUNK_BYTES_MAX + 1] {
            check(
                CesParams { chunk_bytes, ..good },
                ParamsError::ChunkBytes { chunk_bytes, min: CHUNK_BYTES_MIN, max: CHUNK_BYTES_MAX },
            );
        }
        for level in [0, -1, 20, i32::MIN] {
            check(CesParams { zstd_level: level, ..good }, ParamsError::ZstdLevel { level, min: 1, max: 19 });
        }
        assert!(CesParams { chunk_bytes: 0, ..good }.chunk_count(5).is_err());
        assert_eq!(CesParams { data_shards: 15, parity_shards: 1, ..good }.validate(), Ok(()));
    }

    #[test]
    fn chunk_size_from_memory() {
        assert_eq!(chunk_bytes_for_memory(0), CHUNK_BYTES_MIN);
        assert_eq!(chunk_bytes_for_memory(1 << 30), 1 << 20);
        assert_eq!(chunk_bytes_for_memory(3 << 30), 2 << 20);
        assert_eq!(chunk_bytes_for_memory(1 << 40), CHUNK_BYTES_MAX);
        assert_eq!(chunk_bytes_for_memory(u64::MAX), CHUNK_BYTES_MAX);
    }

    #[test]
    fn chunk_size_from_object_size() {
        assert_eq!(chunk_bytes_for_size(0, 1 << 20), Ok(1 << 20));
        assert_eq!(chunk_bytes_for_size(1 << 30, 1 << 20), Ok(1 << 20));
        assert_eq!(chunk_bytes_for_size((1 << 30) + 1, 1 << 20), Ok(2 << 20));
        assert_eq!(chunk_bytes_for_size(5, 100_000), Ok(128 * 1024));
        assert_eq!(chunk_bytes_for_size(5, 0), Ok(CHUNK_BYTES_MIN));
        assert_eq!(chunk_bytes_for_size(OBJECT_BYTES_MAX, 1), Ok(CHUNK_BYTES_MAX));
        assert_eq!(
            chunk_bytes_for_size(OBJECT_BYTES_MAX + 1, 1),
            Err(CesError::TooLarge { bytes: OBJECT_BYTES_MAX + 1, max: OBJECT_BYTES_MAX })
        );
        assert_eq!(chunk_bytes_for_size(u64::MAX, u32::MAX).map_err(|_| ()), Err(()));
    }
}

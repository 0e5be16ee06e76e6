//! zstd compression of a chunk, and its bounded decompression.
//!
//! A chunk is stored compressed only when that makes it smaller; already-compressed or random data
//! is stored raw, which costs one failed compression attempt (zstd level 1 gives up quickly on such
//! data) and nothing on reads.

use super::errors::CesError;
use super::params::{CHUNK_BYTES_MAX, validate_zstd_level};

/// zstd's compression of `plain` at `level`, or `None` when it is not smaller than `plain`. A
/// checker can call this to reproduce the bytes a chunk's cipher was fed.
pub fn compress_chunk(plain: &[u8], level: i32) -> Result<Option<Vec<u8>>, CesError> {
    compress_with_room(plain, level, 0)
}

/// Like [`compress_chunk`], with `room` spare bytes of capacity in the result (for the AEAD tag, so
/// that appending it does not copy the chunk).
pub(crate) fn compress_with_room(plain: &[u8], level: i32, room: usize) -> Result<Option<Vec<u8>>, CesError> {
    validate_zstd_level(level)?;
    check_plain_len(plain.len())?;
    let mut compressor = zstd::bulk::Compressor::new(level).map_err(|_| CesError::CompressFailed)?;
    // The bound is what zstd needs in the worst case; pages of it that are never written are never
    // touched, so the over-allocation costs address space only.
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(plain.len()) + room);
    compressor.compress_to_buffer(plain, &mut out).map_err(|_| CesError::CompressFailed)?;
    Ok((out.len() < plain.len()).then_some(out))
}

/// Decompresses a chunk that must come back as exactly `plain_len` bytes. Never allocates more than
/// `plain_len` bytes (itself at most [`CHUNK_BYTES_MAX`]) for the output.
pub fn decompress_chunk(compressed: &[u8], plain_len: u32) -> Result<Vec<u8>, CesError> {
    if plain_len > CHUNK_BYTES_MAX {
        return Err(CesError::TooLarge { bytes: u64::from(plain_len), max: u64::from(CHUNK_BYTES_MAX) });
    }
    let failed = CesError::DecompressFailed { plain_len };
    let capacity = usize::try_from(plain_len).map_err(|_| failed.clone())?;
    let mut decompressor = zstd::bulk::Decompressor::new().map_err(|_| failed.clone())?;
    let plain = decompressor.decompress(compressed, capacity).map_err(|_| failed.clone())?;
    if plain.len() != capacity {
        return Err(failed);
    }
    Ok(plain)
}

/// [`CesError::TooLarge`] for a chunk over [`CHUNK_BYTES_MAX`].
pub(crate) fn check_plain_len(len: usize) -> Result<(), CesError> {
    let max = u64::from(CHUNK_BYTES_MAX);
    let bytes = u64::try_from(len).unwrap_or(u64::MAX);
    if bytes > max {
        return Err(CesError::TooLarge { bytes, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ces::ParamsError;
    use proptest::prelude::*;

    fn text(len: usize) -> Vec<u8> {
        b"2026-11-29T10:00:00Z INFO request served path=/objects status=200\n"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    #[test]
    fn compressible_shrinks_and_comes_back() {
        let plain = text(100_000);
        let compressed = compress_chunk(&plain, 1).ok().flatten();
        let compressed = compressed.unwrap_or_default();
        assert!(!compressed.is_empty() && compressed.len() < plain.len() / 10);
        assert_eq!(decompress_chunk(&compressed, 100_000), Ok(plain));
        // Exactly plain_len, no more and no less.
        assert_eq!(decompress_chunk(&compressed, 99_999), Err(CesError::DecompressFailed { plain_len: 99_999 }));
        assert_eq!(decompress_chunk(&compressed, 100_001), Err(CesError::DecompressFailed { plain_len: 100_001 }));
    }

    #[test]
    fn incompressible_and_empty_stay_raw() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let random: Vec<u8> = (0..50_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        assert_eq!(compress_chunk(&random, 1), Ok(None));
        assert_eq!(compress_chunk(&[], 1), Ok(None));
        assert_eq!(compress_chunk(b"a", 19), Ok(None));
    }

    #[test]
    fn limits() {
        assert_eq!(
            compress_chunk(b"abc", 0),
            Err(CesError::InvalidParams(ParamsError::ZstdLevel { level: 0, min: 1, max: 19 }))
        );
        assert_eq!(
            decompress_chunk(b"", CHUNK_BYTES_MAX + 1),
            Err(CesError::TooLarge { bytes: u64::from(CHUNK_BYTES_MAX) + 1, max: u64::from(CHUNK_BYTES_MAX) })
        );
        assert_eq!(check_plain_len(CHUNK_BYTES_MAX as usize), Ok(()));
        assert!(check_plain_len(CHUNK_BYTES_MAX as usize + 1).is_err());
    }

    #[test]
    fn a_bomb_is_refused_without_allocating_its_size() {
        // 64 MiB of zeros compresses to a few KiB and records its size in the frame header.
        let zeros = vec![0; CHUNK_BYTES_MAX as usize];
        let bomb = compress_chunk(&zeros, 1).ok().flatten().unwrap_or_default();
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(decompress_chunk(&bomb, 1024), Err(CesError::DecompressFailed { plain_len: 1024 }));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), plain_len in 0u32..4096) {
            let _ = decompress_chunk(&bytes, plain_len);
        }

        #[test]
        fn round_trip(plain in proptest::collection::vec(0u8..4, 0..5000), level in 1i32..=19) {
            match compress_chunk(&plain, level) {
                Ok(Some(compressed)) => {
                    prop_assert!(compressed.len() < plain.len());
                    prop_assert_eq!(decompress_chunk(&compressed, u32::try_from(plain.len()).unwrap_or(0)), Ok(plain));
                }
                Ok(None) => {}
                Err(error) => prop_assert!(false, "{error}"),
            }
        }
    }
}

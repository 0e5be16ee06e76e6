//! Sealing a chunk (compress, then encrypt) and opening it again: the client's half of the pipeline.
//!
//! A sealed chunk is `ciphertext || 16-byte tag`, where the ciphertext is of the zstd-compressed
//! plaintext when that is smaller, and of the plaintext itself otherwise. Nodes only ever see sealed
//! bytes; the "compressed" flag and the plaintext length travel in the manifest, and the flag is
//! bound into the tag.

use super::compress::{check_plain_len, compress_with_room, decompress_chunk};
use super::crypt::{ObjectKey, TAG_BYTES, chunk_aad, chunk_nonce, decrypt_in_place, encrypt_in_place};
use super::errors::{CesError, len_u64};
use super::ids::ObjectId;
use super::params::CHUNK_BYTES_MAX;
use serde::{Deserialize, Serialize};

/// Bytes a sealed chunk has beyond its (possibly compressed) plaintext: the Poly1305 tag.
pub const SEAL_OVERHEAD_BYTES: usize = TAG_BYTES;

/// A chunk compressed (or not) and encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedChunk {
    /// Whether the ciphertext is of zstd-compressed plaintext.
    pub compressed: bool,
    /// `ciphertext || tag`.
    pub bytes: Vec<u8>,
}

/// Bugs that can be planted in sealing, each a classic mistake. They take effect only in builds
/// with the `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CesPlantedBug {
    /// Every chunk of an object is sealed (and opened) with nonce 0: reads still work, but the
    /// ChaCha20 keystream repeats across the object's chunks, so the XOR of two ciphertexts is the
    /// XOR of their plaintexts.
    NonceReuse,
}

impl CesPlantedBug {
    /// Every bug with its command-line name, in one table.
    pub const ALL: [(CesPlantedBug, &'static str); 1] = [(CesPlantedBug::NonceReuse, "nonce-reuse")];

    /// The bug called `name` on the command line.
    #[must_use]
    pub fn from_name(name: &str) -> Option<CesPlantedBug> {
        Self::ALL.iter().find(|(_, known)| *known == name).map(|(bug, _)| *bug)
    }

    /// Its command-line name.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(bug, _)| *bug == self).map_or("", |(_, name)| name)
    }
}

/// Is `bug` planted? Always false without the `planted-bugs` feature.
#[allow(unused_variables)]
fn planted(planted: Option<CesPlantedBug>, bug: CesPlantedBug) -> bool {
    #[cfg(feature = "planted-bugs")]
    {
        planted == Some(bug)
    }
    #[cfg(not(feature = "planted-bugs"))]
    false
}

/// The nonce chunk `index` is sealed with (0 for every chunk under the planted nonce reuse).
fn nonce_for(index: u32, bug: Option<CesPlantedBug>) -> [u8; 12] {
    if planted(bug, CesPlantedBug::NonceReuse) { chunk_nonce(0) } else { chunk_nonce(index) }
}

/// Compresses `plain` with zstd at `zstd_level` (kept raw when that does not make it smaller) and
/// encrypts it as chunk `index` of `object`. At most [`CHUNK_BYTES_MAX`] bytes.
pub fn seal(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    plain: &[u8],
    zstd_level: i32,
) -> Result<SealedChunk, CesError> {
    seal_with(key, object, index, plain, zstd_level, None)
}

/// [`seal`] with a bug planted (which has no effect without the `planted-bugs` feature).
pub fn seal_with(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    plain: &[u8],
    zstd_level: i32,
    bug: Option<CesPlantedBug>,
) -> Result<SealedChunk, CesError> {
    let (compressed, mut buffer) = match compress_with_room(plain, zstd_level, SEAL_OVERHEAD_BYTES)? {
        Some(compressed) => (true, compressed),
        None => {
            let mut raw = Vec::with_capacity(plain.len() + SEAL_OVERHEAD_BYTES);
            raw.extend_from_slice(plain);
            (false, raw)
        }
    };
    let aad = chunk_aad(object, index, compressed);
    encrypt_in_place(key.bytes(), &nonce_for(index, bug), &aad, &mut buffer)
        .map_err(|_| CesError::TooLarge { bytes: len_u64(plain.len()), max: u64::from(CHUNK_BYTES_MAX) })?;
    Ok(SealedChunk { compressed, bytes: buffer })
}

/// Authenticates and decrypts chunk `index` of `object`, then decompresses it if `compressed`; the
/// result is exactly `plain_len` bytes.
///
/// A tag that does not verify gives [`CesError::WrongKey`]; bytes shorter than the tag (or than a
/// raw chunk of `plain_len` needs) [`CesError::Truncated`]; longer than `plain_len` plus the tag
/// [`CesError::TooLarge`]; a verified chunk that does not decompress to `plain_len` bytes
/// [`CesError::Corrupt`].
pub fn open(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    compressed: bool,
    plain_len: u32,
    sealed: &[u8],
) -> Result<Vec<u8>, CesError> {
    open_with(key, object, index, compressed, plain_len, sealed, None)
}

/// [`open`] with a bug planted (which has no effect without the `planted-bugs` feature).
pub fn open_with(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    compressed: bool,
    plain_len: u32,
    sealed: &[u8],
    bug: Option<CesPlantedBug>,
) -> Result<Vec<u8>, CesError> {
    check_sealed_len(compressed, plain_len, sealed.len())?;
    open_owned(key, object, index, compressed, plain_len, sealed.to_vec(), bug)
}

/// [`open_with`] on bytes the caller owns, decrypted in place (the pipeline's read path, which gets
/// the sealed chunk as a fresh buffer from the Reed-Solomon decoder).
pub(crate) fn open_owned(
    key: &ObjectKey,
    object: &ObjectId,
    index: u32,
    compressed: bool,
    plain_len: u32,
    mut buffer: Vec<u8>,
    bug: Option<CesPlantedBug>,
) -> Result<Vec<u8>, CesError> {
    check_sealed_len(compressed, plain_len, buffer.len())?;
    let aad = chunk_aad(object, index, compressed);
    decrypt_in_place(key.bytes(), &nonce_for(index, bug), &aad, &mut buffer)
        .map_err(|_| CesError::WrongKey { chunk: index })?;
    if compressed {
        decompress_chunk(&buffer, plain_len).map_err(|_| CesError::Corrupt { chunk: index })
    } else {
        // The length was checked against plain_len before decryption.
        Ok(buffer)
    }
}

/// Checks a sealed length against the plaintext length before anything is copied or decrypted.
fn check_sealed_len(compressed: bool, plain_len: u32, sealed_len: usize) -> Result<(), CesError> {
    check_plain_len(usize::try_from(plain_len).unwrap_or(usize::MAX))?;
    let got = len_u64(sealed_len);
    let overhead = len_u64(SEAL_OVERHEAD_BYTES);
    let full = u64::from(plain_len) + overhead;
    if got < overhead || (!compressed && got < full) {
        let expected = if compressed { overhead } else { full };
        return Err(CesError::Truncated { expected, got });
    }
    // A compressed chunk is smaller than its plaintext; a raw one is exactly as long.
    if got > full {
        return Err(CesError::TooLarge { bytes: got, max: full });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ces::crypt::MasterKey;

    fn key(byte: u8) -> ObjectKey {
        MasterKey::from_bytes([byte; 32]).object_key(&ObjectId([1; 32]))
    }

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[3]
            })
            .collect()
    }

    const OBJECT: ObjectId = ObjectId([1; 32]);

    #[test]
    fn compressible_is_compressed_and_random_is_raw() {
        let text: Vec<u8> = b"level=info msg=\"ok\" ".iter().copied().cycle().take(70_000).collect();
        let sealed = seal(&key(1), &OBJECT, 0, &text, 1).unwrap_or_else(|error| panic!("{error}"));
        assert!(sealed.compressed);
        assert!(sealed.bytes.len() < text.len() / 10);
        assert_eq!(open(&key(1), &OBJECT, 0, true, 70_000, &sealed.bytes), Ok(text));

        let random = noise(70_000, 3);
        let sealed = seal(&key(1), &OBJECT, 0, &random, 1).unwrap_or_else(|error| panic!("{error}"));
        assert!(!sealed.compressed);
        assert_eq!(sealed.bytes.len(), random.len() + SEAL_OVERHEAD_BYTES);
        assert_eq!(open(&key(1), &OBJECT, 0, false, 70_000, &sealed.bytes), Ok(random));

        let empty = seal(&key(1), &OBJECT, 9, &[], 1).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!((empty.compressed, empty.bytes.len()), (false, SEAL_OVERHEAD_BYTES));
        assert_eq!(open(&key(1), &OBJECT, 9, false, 0, &empty.bytes), Ok(vec![]));
    }

    #[test]
    fn every_binding_is_checked() {
        let text: Vec<u8> = b"abcabcabd".iter().copied().cycle().take(10_000).collect();
        let sealed = seal(&key(1), &OBJECT, 3, &text, 3).unwrap_or_else(|error| panic!("{error}"));
        let wrong = Err(CesError::WrongKey { chunk: 3 });
        assert_eq!(open(&key(2), &OBJECT, 3, true, 10_000, &sealed.bytes), wrong);
        assert_eq!(open(&key(1), &ObjectId([2; 32]), 3, true, 10_000, &sealed.bytes), wrong);
        assert_eq!(open(&key(1), &OBJECT, 4, true, 10_000, &sealed.bytes), Err(CesError::WrongKey { chunk: 4 }));
        let mut tampered = sealed.bytes.clone();
        tampered[5] ^= 0x40;
        assert_eq!(open(&key(1), &OBJECT, 3, true, 10_000, &tampered), wrong);
        // The flag is bound: claiming raw fails on length or on the tag, never returns bytes.
        assert!(open(&key(1), &OBJECT, 3, false, 10_000, &sealed.bytes).is_err());
        let raw_len = u32::try_from(sealed.bytes.len() - SEAL_OVERHEAD_BYTES).unwrap_or(0);
        assert_eq!(open(&key(1), &OBJECT, 3, false, raw_len, &sealed.bytes), wrong);
        // A good tag with a wrong plaintext length is Corrupt.
        assert_eq!(open(&key(1), &OBJECT, 3, true, 10_001, &sealed.bytes), Err(CesError::Corrupt { chunk: 3 }));
    }

    #[test]
    fn lengths_are_checked_before_decryption() {
        let random = noise(1000, 5);
        let sealed = seal(&key(1), &OBJECT, 0, &random, 1).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            open(&key(1), &OBJECT, 0, false, 1000, &sealed.bytes[..15]),
            Err(CesError::Truncated { expected: 1016, got: 15 })
        );
        assert_eq!(
            open(&key(1), &OBJECT, 0, true, 1000, &sealed.bytes[..15]),
            Err(CesError::Truncated { expected: 16, got: 15 })
        );
        assert_eq!(
            open(&key(1), &OBJECT, 0, false, 1000, &sealed.bytes[..1015]),
            Err(CesError::Truncated { expected: 1016, got: 1015 })
        );
        assert_eq!(
            open(&key(1), &OBJECT, 0, false, 999, &sealed.bytes),
            Err(CesError::TooLarge { bytes: 1016, max: 1015 })
        );
        assert_eq!(
            open(&key(1), &OBJECT, 0, true, CHUNK_BYTES_MAX + 1, &sealed.bytes),
            Err(CesError::TooLarge { bytes: u64::from(CHUNK_BYTES_MAX) + 1, max: u64::from(CHUNK_BYTES_MAX) })
        );
        let too_big = vec![0; CHUNK_BYTES_MAX as usize + 1];
        assert!(matches!(seal(&key(1), &OBJECT, 0, &too_big, 1), Err(CesError::TooLarge { .. })));
        assert!(matches!(seal(&key(1), &OBJECT, 0, &random, 0), Err(CesError::InvalidParams(_))));
    }

    #[test]
    fn planted_bug_names() {
        assert_eq!(CesPlantedBug::from_name("nonce-reuse"), Some(CesPlantedBug::NonceReuse));
        assert_eq!(CesPlantedBug::NonceReuse.name(), "nonce-reuse");
        assert_eq!(CesPlantedBug::from_name("nope"), None);
    }

    /// The keystream of a raw chunk: ciphertext XOR plaintext.
    fn keystream(sealed: &SealedChunk, plain: &[u8]) -> Vec<u8> {
        assert!(!sealed.compressed);
        sealed.bytes.iter().zip(plain).map(|(cipher, plain)| cipher ^ plain).collect()
    }

    #[test]
    fn nonce_reuse_repeats_the_keystream_only_when_planted() {
        let (first, second) = (noise(4096, 11), noise(4096, 12));
        let bug = Some(CesPlantedBug::NonceReuse);
        let seal_both = |bug| {
            let a = seal_with(&key(1), &OBJECT, 0, &first, 1, bug).unwrap_or_else(|error| panic!("{error}"));
            let b = seal_with(&key(1), &OBJECT, 1, &second, 1, bug).unwrap_or_else(|error| panic!("{error}"));
            (keystream(&a, &first) == keystream(&b, &second), b)
        };
        let (repeated, sealed) = seal_both(bug);
        // Reads still work with the same bug planted.
        assert_eq!(open_with(&key(1), &OBJECT, 1, false, 4096, &sealed.bytes, bug), Ok(second.clone()));
        assert_eq!(repeated, cfg!(feature = "planted-bugs"));
        let (repeated, _) = seal_both(None);
        assert!(!repeated);
    }
}

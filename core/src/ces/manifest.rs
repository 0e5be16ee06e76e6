//! The manifest: everything needed to find, check and reassemble an object, except its key.
//!
//! It records the parameters the object was encoded with and, per chunk, the plaintext and sealed
//! lengths, the compressed flag, the hash of each shard and the node each shard was first placed on.
//! It holds no secret: the key is derived from the owner's master key and the object id.

use super::FORMAT_VERSION;
use super::errors::{CesError, ParamsError};
use super::ids::{ObjectId, ShardHash};
use super::params::{CesParams, SHARDS_MAX, ZSTD_LEVEL_DEFAULT, chunk_count};
use super::seal::SEAL_OVERHEAD_BYTES;
use crate::codec::{decode_serde, encode_serde};
use crate::id::NodeId;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use thiserror::Error;

/// The largest encoded manifest accepted. The largest valid one (1,024 chunks of 16 shards, each
/// with a 32-byte hash and a 32-byte holder) encodes to about 1.06 MB, so the limit is 1 MiB plus
/// 64 KiB; [`Manifest::decode`] refuses anything longer before parsing it.
pub const MANIFEST_BYTES_MAX: usize = (1 << 20) + (64 << 10);

/// One chunk of an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkEntry {
    /// Plaintext bytes of the chunk.
    pub plain_len: u32,
    /// Whether the sealed bytes are of zstd-compressed plaintext.
    pub compressed: bool,
    /// Bytes of the sealed chunk (ciphertext and tag), before sharding.
    pub sealed_len: u32,
    /// The hash of each of the k + m shards, data shards first.
    pub shard_hashes: Vec<ShardHash>,
    /// Where each of the k + m shards was first placed.
    pub holders: Vec<NodeId>,
}

/// What is needed to find, check and reassemble an object (with its key).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Manifest {
    /// The format the object was written in: [`FORMAT_VERSION`].
    pub version: u16,
    /// The object.
    pub object: ObjectId,
    /// Plaintext bytes of the object.
    pub size: u64,
    /// The blake3 hash of the whole plaintext.
    pub content_hash: [u8; 32],
    /// Data shards per chunk (k).
    pub data_shards: u8,
    /// Parity shards per chunk (m).
    pub parity_shards: u8,
    /// Plaintext bytes per chunk (the last may be shorter).
    pub chunk_bytes: u32,
    /// A deadline the object store uses (opaque here).
    pub commit_by: u64,
    /// The chunks, in order.
    pub chunks: Vec<ChunkEntry>,
}

/// Why a manifest is refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
pub enum ManifestError {
    /// A format version this build does not speak.
    #[error("unknown manifest version {0}")]
    UnknownVersion(u16),
    /// The parameters cannot work.
    #[error("invalid parameters: {0}")]
    InvalidParams(ParamsError),
    /// The object is larger than its chunk size allows.
    #[error("object of {size} bytes over the limit of {max} for its chunk size")]
    TooLarge {
        /// The recorded size.
        size: u64,
        /// The largest size for the chunk size.
        max: u64,
    },
    /// The encoded manifest is longer than [`MANIFEST_BYTES_MAX`].
    #[error("manifest of {bytes} bytes over the limit of {MANIFEST_BYTES_MAX}")]
    EncodedTooLarge {
        /// Its length.
        bytes: u64,
    },
    /// The bytes do not parse as a manifest.
    #[error("malformed manifest: {0}")]
    Malformed(String),
    /// The chunk list does not match the size.
    #[error("{got} chunks recorded, {expected} for the object's size")]
    ChunkCount {
        /// Chunks the size needs.
        expected: u32,
        /// Chunks recorded.
        got: u64,
    },
    /// A chunk's plaintext length is not what the size and chunk size make it.
    #[error("chunk {chunk} has {got} plaintext bytes, {expected} expected")]
    PlainLength {
        /// The chunk's index.
        chunk: u32,
        /// Bytes it should have.
        expected: u32,
        /// Bytes recorded.
        got: u32,
    },
    /// A chunk's sealed length cannot come from its plaintext length.
    #[error("chunk {chunk}: {sealed_len} sealed bytes cannot hold {plain_len} plaintext bytes")]
    SealedLength {
        /// The chunk's index.
        chunk: u32,
        /// Plaintext bytes recorded.
        plain_len: u32,
        /// Sealed bytes recorded.
        sealed_len: u32,
    },
    /// A chunk has not one hash per shard.
    #[error("chunk {chunk} has {got} shard hashes, {expected} expected")]
    ShardHashCount {
        /// The chunk's index.
        chunk: u32,
        /// Data plus parity shards.
        expected: u32,
        /// Hashes recorded.
        got: u64,
    },
    /// A chunk has not one holder per shard.
    #[error("chunk {chunk} has {got} holders, {expected} expected")]
    HolderCount {
        /// The chunk's index.
        chunk: u32,
        /// Data plus parity shards.
        expected: u32,
        /// Holders recorded.
        got: u64,
    },
    /// Two shards of a chunk were placed on the same node.
    #[error("chunk {chunk}: node {holder} holds two shards")]
    DuplicateHolder {
        /// The chunk's index.
        chunk: u32,
        /// The node.
        holder: NodeId,
    },
}

impl Manifest {
    /// Checks the manifest is self-consistent: version, parameters, chunk count and lengths, one
    /// hash and one distinct holder per shard.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.version != FORMAT_VERSION {
            return Err(ManifestError::UnknownVersion(self.version));
        }
        let params = CesParams {
            data_shards: self.data_shards,
            parity_shards: self.parity_shards,
            chunk_bytes: self.chunk_bytes,
            zstd_level: ZSTD_LEVEL_DEFAULT,
        };
        params.validate().map_err(ManifestError::from_params)?;
        let expected = chunk_count(self.size, self.chunk_bytes).map_err(ManifestError::from_params)?;
        if u64::try_from(self.chunks.len()).ok() != Some(u64::from(expected)) {
            return Err(ManifestError::ChunkCount { expected, got: len(self.chunks.len()) });
        }
        let shards = params.shards();
        let shards_u32 = u32::try_from(shards).unwrap_or(u32::MAX);
        for (chunk, entry) in (0u32..).zip(&self.chunks) {
            let start = u64::from(chunk) * u64::from(self.chunk_bytes);
            let plain_expected = (self.size - start).min(u64::from(self.chunk_bytes));
            let plain_expected = u32::try_from(plain_expected).unwrap_or(u32::MAX);
            if entry.plain_len != plain_expected {
                return Err(ManifestError::PlainLength { chunk, expected: plain_expected, got: entry.plain_len });
            }
            let overhead = SEAL_OVERHEAD_BYTES as u64;
            let sealed_max = u64::from(entry.plain_len) + overhead;
            let sealed = u64::from(entry.sealed_len);
            let sealed_ok =
                if entry.compressed { sealed >= overhead && sealed < sealed_max } else { sealed == sealed_max };
            if !sealed_ok {
                return Err(ManifestError::SealedLength {
                    chunk,
                    plain_len: entry.plain_len,
                    sealed_len: entry.sealed_len,
                });
            }
            if entry.shard_hashes.len() != shards {
                return Err(ManifestError::ShardHashCount {
                    chunk,
                    expected: shards_u32,
                    got: len(entry.shard_hashes.len()),
                });
            }
            if entry.holders.len() != shards {
                return Err(ManifestError::HolderCount { chunk, expected: shards_u32, got: len(entry.holders.len()) });
            }
            // At most SHARDS_MAX holders: comparing pairs is cheaper than sorting a copy.
            for (index, holder) in entry.holders.iter().enumerate() {
                if entry.holders[..index].contains(holder) {
                    return Err(ManifestError::DuplicateHolder { chunk, holder: *holder });
                }
            }
        }
        Ok(())
    }

    /// The chunks a byte range of the plaintext touches: empty for `len` 0 or `offset` at or past
    /// the end; a range reaching past the end stops at the last chunk.
    #[must_use]
    pub fn chunks_for_range(&self, offset: u64, len: u64) -> Range<u32> {
        if len == 0 || offset >= self.size || self.chunk_bytes == 0 {
            return 0..0;
        }
        let end = offset.saturating_add(len).min(self.size);
        let chunk_bytes = u64::from(self.chunk_bytes);
        let recorded = u32::try_from(self.chunks.len()).unwrap_or(u32::MAX);
        let first = u32::try_from(offset / chunk_bytes).unwrap_or(u32::MAX).min(recorded);
        let last = u32::try_from((end - 1) / chunk_bytes + 1).unwrap_or(u32::MAX).min(recorded);
        first..last
    }

    /// The manifest's postcard encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(encoded_bytes_max(self.chunks.len(), self.data_shards, self.parity_shards));
        // Postcard encodes every type of a manifest; nothing can fail.
        let _ = encode_serde(self, &mut out);
        out
    }

    /// Decodes and validates a manifest. Input over [`MANIFEST_BYTES_MAX`] is refused before parsing;
    /// a version other than [`FORMAT_VERSION`] gives [`ManifestError::UnknownVersion`] whatever
    /// follows it; anything malformed a typed error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() > MANIFEST_BYTES_MAX {
            return Err(ManifestError::EncodedTooLarge { bytes: len(bytes.len()) });
        }
        // The version comes first, so a later layout is recognized as such before it is parsed.
        let (version, _) =
            postcard::take_from_bytes::<u16>(bytes).map_err(|error| ManifestError::Malformed(error.to_string()))?;
        if version != FORMAT_VERSION {
            return Err(ManifestError::UnknownVersion(version));
        }
        let manifest: Manifest = decode_serde(bytes).map_err(|error| ManifestError::Malformed(error.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }
}

/// An upper bound on the encoded length of a manifest of `chunks` chunks with k + m shards (postcard
/// varints at their widest).
#[must_use]
pub fn encoded_bytes_max(chunks: usize, data_shards: u8, parity_shards: u8) -> usize {
    /// version, object, size, content hash, k, m, chunk size, deadline, chunk count.
    const HEADER_BYTES_MAX: usize = 3 + 32 + 10 + 32 + 1 + 1 + 5 + 10 + 10;
    let shards = (usize::from(data_shards) + usize::from(parity_shards)).min(SHARDS_MAX);
    // plain_len, flag, sealed_len, two list lengths, then a hash and a holder per shard.
    let chunk_bytes_max = 5 + 1 + 5 + 2 * 5 + shards * 64;
    HEADER_BYTES_MAX + chunks.saturating_mul(chunk_bytes_max)
}

impl ManifestError {
    fn from_params(error: CesError) -> ManifestError {
        match error {
            CesError::InvalidParams(params) => ManifestError::InvalidParams(params),
            CesError::TooLarge { bytes, max } => ManifestError::TooLarge { size: bytes, max },
            other => ManifestError::Malformed(other.to_string()),
        }
    }
}

fn len(count: usize) -> u64 {
    u64::try_from(count).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ces::params::{CHUNK_BYTES_MIN, CHUNKS_MAX};
    use proptest::prelude::*;

    fn entry(plain_len: u32, shards: usize) -> ChunkEntry {
        ChunkEntry {
            plain_len,
            compressed: false,
            sealed_len: plain_len + 16,
            shard_hashes: (0..shards).map(|index| ShardHash([u8::try_from(index).unwrap_or(0); 32])).collect(),
            holders: (0..shards).map(|index| NodeId::for_index(u32::try_from(index).unwrap_or(0))).collect(),
        }
    }

    fn manifest(size: u64, chunk_bytes: u32, k: u8, m: u8) -> Manifest {
        let count = chunk_count(size, chunk_bytes).unwrap();
        let shards = usize::from(k + m);
        let chunks = (0..count)
            .map(|index| {
                let left = size - u64::from(index) * u64::from(chunk_bytes);
                entry(u32::try_from(left.min(u64::from(chunk_bytes))).unwrap(), shards)
            })
            .collect();
        Manifest {
            version: FORMAT_VERSION,
            object: ObjectId([5; 32]),
            size,
            content_hash: [6; 32],
            data_shards: k,
            parity_shards: m,
            chunk_bytes,
            commit_by: 77,
            chunks,
        }
    }

    #[test]
    fn round_trip() {
        let good = manifest(3 * 65_536 + 5, CHUNK_BYTES_MIN, 4, 2);
        assert_eq!(good.validate(), Ok(()));
        assert_eq!(Manifest::decode(&good.encode()), Ok(good.clone()));
        let empty = manifest(0, CHUNK_BYTES_MIN, 1, 1);
        assert_eq!(Manifest::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn the_largest_manifest_fits() {
        let largest = manifest(u64::from(CHUNKS_MAX) * u64::from(CHUNK_BYTES_MIN), CHUNK_BYTES_MIN, 8, 8);
        let mut largest = largest;
        largest.size = u64::MAX / 2;
        largest.chunk_bytes = u32::MAX;
        let encoded_len = crate::codec::encoded_len(&largest);
        assert!(encoded_len <= encoded_bytes_max(1024, 8, 8));
        assert!(encoded_bytes_max(1024, 8, 8) <= MANIFEST_BYTES_MAX);
    }

    #[test]
    fn each_inconsistency_has_its_error() {
        let good = manifest(2 * 65_536 + 100, CHUNK_BYTES_MIN, 3, 2);
        let check = |change: &dyn Fn(&mut Manifest), error: ManifestError| {
            let mut bad = good.clone();
            change(&mut bad);
            assert_eq!(bad.validate(), Err(error.clone()));
            assert_eq!(Manifest::decode(&bad.encode()), Err(error));
        };
        check(&|m| m.version = 2, ManifestError::UnknownVersion(2));
        check(&|m| m.version = 0x4321, ManifestError::UnknownVersion(0x4321));
        check(&|m| m.data_shards = 0, ManifestError::InvalidParams(ParamsError::NoDataShards));
        check(
            &|m| m.chunk_bytes = 5,
            ManifestError::InvalidParams(ParamsError::ChunkBytes { chunk_bytes: 5, min: 65_536, max: 64 << 20 }),
        );
        check(&|m| m.size = 1 << 40, ManifestError::TooLarge { size: 1 << 40, max: 1 << 26 });
        check(
            &|m| {
                m.chunks.pop();
            },
            ManifestError::ChunkCount { expected: 3, got: 2 },
        );
        check(&|m| m.chunks[0].plain_len = 3, ManifestError::PlainLength { chunk: 0, expected: 65_536, got: 3 });
        check(&|m| m.chunks[2].plain_len = 99, ManifestError::PlainLength { chunk: 2, expected: 100, got: 99 });
        check(
            &|m| m.chunks[1].sealed_len = 65_536,
            ManifestError::SealedLength { chunk: 1, plain_len: 65_536, sealed_len: 65_536 },
        );
        check(
            &|m| {
                m.chunks[2].compressed = true;
                m.chunks[2].sealed_len = 15;
            },
            ManifestError::SealedLength { chunk: 2, plain_len: 100, sealed_len: 15 },
        );
        check(
            &|m| {
                m.chunks[1].shard_hashes.pop();
            },
            ManifestError::ShardHashCount { chunk: 1, expected: 5, got: 4 },
        );
        check(&|m| m.chunks[0].holders.clear(), ManifestError::HolderCount { chunk: 0, expected: 5, got: 0 });
        let holder = good.chunks[0].holders[1];
        check(&|m| m.chunks[0].holders[3] = holder, ManifestError::DuplicateHolder { chunk: 0, holder });
        let mut compressed = good.clone();
        compressed.chunks[2].compressed = true;
        compressed.chunks[2].sealed_len = 40;
        assert_eq!(compressed.validate(), Ok(()));
    }

    #[test]
    fn decode_refuses_junk() {
        assert!(matches!(Manifest::decode(&[]), Err(ManifestError::Malformed(_))));
        assert_eq!(Manifest::decode(&[2]), Err(ManifestError::UnknownVersion(2)));
        let mut trailing = manifest(10, CHUNK_BYTES_MIN, 1, 1).encode();
        trailing.push(0);
        assert!(matches!(Manifest::decode(&trailing), Err(ManifestError::Malformed(_))));
        let huge = vec![1; MANIFEST_BYTES_MAX + 1];
        assert_eq!(Manifest::decode(&huge), Err(ManifestError::EncodedTooLarge { bytes: len(MANIFEST_BYTES_MAX + 1) }));
    }

    #[test]
    fn ranges() {
        let m = manifest(3 * 65_536 + 5, CHUNK_BYTES_MIN, 2, 1);
        assert_eq!(m.chunks_for_range(0, 0), 0..0);
        assert_eq!(m.chunks_for_range(m.size, 10), 0..0);
        assert_eq!(m.chunks_for_range(0, 1), 0..1);
        assert_eq!(m.chunks_for_range(65_535, 2), 0..2);
        assert_eq!(m.chunks_for_range(65_536, 65_536), 1..2);
        assert_eq!(m.chunks_for_range(0, u64::MAX), 0..4);
        assert_eq!(m.chunks_for_range(m.size - 1, u64::MAX), 3..4);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Manifest::decode(&bytes);
        }

        #[test]
        fn corrupted_encodings_never_panic(position in 0usize..2000, value in any::<u8>()) {
            let mut bytes = manifest(2 * 65_536 + 7, CHUNK_BYTES_MIN, 2, 2).encode();
            let position = position % bytes.len();
            bytes[position] = value;
            let _ = Manifest::decode(&bytes);
            bytes.truncate(position);
            let _ = Manifest::decode(&bytes);
        }

        #[test]
        fn ranges_stay_within_the_chunks(size in 0u64..1_000_000, offset in 0u64..1_100_000, len in 0u64..2_000_000) {
            let m = manifest(size, CHUNK_BYTES_MIN, 2, 1);
            let range = m.chunks_for_range(offset, len);
            prop_assert!(range.start <= range.end);
            prop_assert!(range.end as usize <= m.chunks.len());
            if len > 0 && offset < size {
                prop_assert!(!range.is_empty());
            }
        }
    }
}

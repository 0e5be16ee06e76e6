//! CES: compress, encrypt, shard — how an object becomes shards on nodes, and back.
//!
//! ```text
//! owner (client)                                   | nodes
//! bytes ─ChunkCutter→ chunks ─zstd→ ─ChaCha20-Poly1305→ sealed ─Reed-Solomon k+m→ shards ─blake3→ hashes
//! ```
//!
//! An object is cut into chunks of [`CesParams::chunk_bytes`] ([`ChunkCutter`]). The owner *seals*
//! each chunk ([`seal`]): zstd compression when it makes the chunk smaller ([`compress_chunk`]),
//! then ChaCha20-Poly1305 under a key derived per object from the owner's [`MasterKey`], with the
//! chunk index as nonce and the object id, index and compressed flag as associated data. Nodes never
//! see a key or a plaintext: they receive sealed chunks, split them into k data and m parity shards
//! ([`Sharder`]), name each shard by its blake3 hash ([`shard_hash`]), and record it all in the
//! object's [`Manifest`]. Reading reverses the path: shards whose hash does not match are treated as
//! missing, any k good ones rebuild the sealed chunk, and only the key holder can open it
//! ([`open`]); a [`ContentCheck`] compares the whole plaintext with the manifest's hash.
//!
//! [`encode_chunk`] and [`decode_chunk`] string the stages together for one chunk. Everything here
//! is pure: no clocks, no randomness (object ids and keys come from the caller), no threads. Every
//! input from a peer, a disk or a client is checked, and a bad one gives a typed [`CesError`] or
//! [`ManifestError`], never a panic, and never wrong bytes.

mod compress;
mod crypt;
mod errors;
mod ids;
mod manifest;
mod params;
mod pipeline;
mod seal;
mod shard;

#[cfg(test)]
mod tests;

/// The version of the sealed-chunk and manifest formats. It is bound into every chunk's associated
/// data and leads every manifest.
pub const FORMAT_VERSION: u16 = 1;

pub use compress::{compress_chunk, decompress_chunk};
pub use crypt::{MasterKey, ObjectKey};
pub use errors::{CesError, ParamsError};
pub use ids::{ChunkId, ObjectId, ParseObjectIdError, ShardHash, shard_hash};
pub use manifest::{ChunkEntry, MANIFEST_BYTES_MAX, Manifest, ManifestError, encoded_bytes_max};
pub use params::{
    CHUNK_BYTES_MAX, CHUNK_BYTES_MIN, CHUNKS_MAX, CesParams, MEMORY_PER_CHUNK_BYTE, OBJECT_BYTES_MAX, SHARDS_MAX,
    ZSTD_LEVEL_DEFAULT, ZSTD_LEVEL_MAX, ZSTD_LEVEL_MIN, chunk_bytes_for_memory, chunk_bytes_for_size, validate_shards,
    validate_zstd_level,
};
pub use pipeline::{
    ChunkCutter, ContentCheck, CutEnd, EncodedChunk, decode_chunk, decode_chunk_with, encode_chunk, encode_chunk_with,
};
pub use seal::{CesPlantedBug, SEAL_OVERHEAD_BYTES, SealedChunk, open, open_with, seal, seal_with};
pub use shard::{
    SEALED_BYTES_MAX, SHARD_ALIGN_BYTES, Sharder, decode_shards, encode_shards, rebuild_shards, shard_len,
};

//! Names of objects, chunks and shards.
//!
//! An [`ObjectId`] is a random 256-bit value the owner draws once per object and never reuses (the
//! per-object key and the chunk nonces rely on that). Chunk ids are derived from it, and a shard is
//! named by the blake3 hash of its bytes, which is also how bitrot is detected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The blake3 key-derivation context of chunk ids.
const CHUNK_ID_CONTEXT: &str = "pangea chunk id v1";
/// Hex digits of an object id.
const OBJECT_ID_HEX_CHARS: usize = 64;
/// Bytes shown by the short forms (`Display` of chunk ids and shard hashes).
const SHORT_BYTES: usize = 4;

/// An object's identity: 256 random bits chosen by its owner, never reused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId(pub [u8; 32]);

/// A chunk's identity: derived from its object's id and its index.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChunkId(pub [u8; 32]);

/// The blake3 hash of a shard's bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShardHash(pub [u8; 32]);

/// The hash that names and checks `shard`.
#[must_use]
pub fn shard_hash(shard: &[u8]) -> ShardHash {
    ShardHash(*blake3::hash(shard).as_bytes())
}

impl ObjectId {
    /// The id of chunk `index` of this object.
    #[must_use]
    pub fn chunk(&self, index: u32) -> ChunkId {
        let mut hasher = blake3::Hasher::new_derive_key(CHUNK_ID_CONTEXT);
        hasher.update(&self.0);
        hasher.update(&index.to_le_bytes());
        ChunkId(*hasher.finalize().as_bytes())
    }
}

/// Why a string is not an [`ObjectId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum ParseObjectIdError {
    /// Not 64 characters.
    #[error("an object id is {OBJECT_ID_HEX_CHARS} hex digits, not {0} characters")]
    Length(usize),
    /// A character that is not a lowercase or uppercase hex digit.
    #[error("character {0} is not a hex digit")]
    NotHex(usize),
}

impl FromStr for ObjectId {
    type Err = ParseObjectIdError;

    fn from_str(text: &str) -> Result<ObjectId, ParseObjectIdError> {
        let digits = text.as_bytes();
        if digits.len() != OBJECT_ID_HEX_CHARS {
            return Err(ParseObjectIdError::Length(text.chars().count()));
        }
        let mut bytes = [0; 32];
        for (index, (byte, pair)) in bytes.iter_mut().zip(digits.chunks_exact(2)).enumerate() {
            let high = hex_value(pair[0]).ok_or(ParseObjectIdError::NotHex(index * 2))?;
            let low = hex_value(pair[1]).ok_or(ParseObjectIdError::NotHex(index * 2 + 1))?;
            *byte = (high << 4) | low;
        }
        Ok(ObjectId(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0[..SHORT_BYTES])
    }
}

impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChunkId(")?;
        write_hex(f, &self.0[..SHORT_BYTES])?;
        f.write_str(")")
    }
}

impl fmt::Display for ShardHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0[..SHORT_BYTES])
    }
}

impl fmt::Debug for ShardHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShardHash(")?;
        write_hex(f, &self.0[..SHORT_BYTES])?;
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn object_id_hex_round_trip() {
        let mut bytes = [0; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::try_from(index * 7 + 1).unwrap_or(0);
        }
        let id = ObjectId(bytes);
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text, format!("{id:?}"));
        assert!(text.starts_with("01080f16"));
        assert_eq!(text.parse::<ObjectId>(), Ok(id));
        assert_eq!(text.to_uppercase().parse::<ObjectId>(), Ok(id));
    }

    #[test]
    fn object_id_parse_errors() {
        assert_eq!("abc".parse::<ObjectId>(), Err(ParseObjectIdError::Length(3)));
        let mut text = "0".repeat(64);
        text.replace_range(10..11, "g");
        assert_eq!(text.parse::<ObjectId>(), Err(ParseObjectIdError::NotHex(10)));
        // A multi-byte character must not split a digit pair or panic.
        let text = format!("é{}", "0".repeat(62));
        assert!(text.parse::<ObjectId>().is_err());
    }

    #[test]
    fn chunk_ids_differ_by_index_and_object() {
        let a = ObjectId([1; 32]);
        let b = ObjectId([2; 32]);
        assert_ne!(a.chunk(0), a.chunk(1));
        assert_ne!(a.chunk(0), b.chunk(0));
        assert_eq!(a.chunk(7), a.chunk(7));
        assert_eq!(a.chunk(0).to_string().len(), 8);
        assert_eq!(shard_hash(b"abc"), ShardHash(*blake3::hash(b"abc").as_bytes()));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,70}") {
            let _ = text.parse::<ObjectId>();
        }
    }
}

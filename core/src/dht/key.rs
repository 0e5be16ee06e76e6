//! Positions in the DHT's key space: 256-bit keys (a node's id is its position), XOR distance,
//! and the bucket a distance falls in.

use crate::id::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bits of a key, and so the number of buckets a routing table can have.
pub const KEY_BITS: usize = 256;

/// A position in the key space: a node's id, a chunk's id, a record's key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// The XOR distance from this key to `other`.
    #[must_use]
    pub fn distance(&self, other: &Key) -> Distance {
        let mut out = [0; 32];
        for (index, byte) in out.iter_mut().enumerate() {
            *byte = self.0[index] ^ other.0[index];
        }
        Distance(out)
    }

    /// A key in bucket `bucket` of a table centred on this key, for refreshing that bucket: the
    /// bits above bit `bucket` (counted from the most significant) as this key's, that bit
    /// flipped, and the bits below taken from `low`.
    #[must_use]
    pub fn in_bucket(&self, bucket: usize, low: [u8; 32]) -> Key {
        assert!(bucket < KEY_BITS, "bucket {bucket} out of range");
        let mut out = self.0;
        let byte = bucket / 8;
        let bit = 7 - (bucket % 8);
        // Keep the bits above `bucket`, flip it, and take the bits below from `low`.
        let below_mask: u8 = (1u16 << bit) as u8 - 1;
        out[byte] =
            (self.0[byte] & !below_mask & !(1 << bit)) | (!self.0[byte] & (1 << bit)) | (low[byte] & below_mask);
        out[byte + 1..].copy_from_slice(&low[byte + 1..]);
        Key(out)
    }
}

impl From<NodeId> for Key {
    fn from(id: NodeId) -> Key {
        Key(id.0)
    }
}

impl From<&NodeId> for Key {
    fn from(id: &NodeId) -> Key {
        Key(id.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The XOR distance between two keys, compared as a big-endian number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Distance(pub [u8; 32]);

impl Ord for Distance {
    /// As the byte arrays compare, but a word at a time (lookups sort and search distances a lot,
    /// and two distances almost always differ in their first word).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for (mine, theirs) in self.0.chunks_exact(8).zip(other.0.chunks_exact(8)) {
            let word = |bytes: &[u8]| u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8]));
            match word(mine).cmp(&word(theirs)) {
                std::cmp::Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        std::cmp::Ordering::Equal
    }
}

impl PartialOrd for Distance {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Distance {
    /// The bucket this distance falls in: the number of leading bits the two keys share (0: they
    /// differ in the top bit, the farthest half of the key space). `None` for distance zero (the
    /// same key).
    #[must_use]
    pub fn bucket(&self) -> Option<usize> {
        let mut zeros = 0;
        for byte in self.0 {
            if byte != 0 {
                return Some(zeros + byte.leading_zeros() as usize);
            }
            zeros += 8;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_order_as_their_bytes_do() {
        let keys: Vec<Key> = (0..64u8).map(|seed| Key(*blake3::hash(&[seed]).as_bytes())).collect();
        for a in &keys {
            for b in &keys {
                let (x, y) = (keys[0].distance(a), keys[0].distance(b));
                assert_eq!(x.cmp(&y), x.0.cmp(&y.0));
            }
        }
    }

    #[test]
    fn distance_is_symmetric_zero_to_itself_and_ordered_big_endian() {
        let a = Key([0x80; 32]);
        let b = Key([0x00; 32]);
        assert_eq!(a.distance(&b), b.distance(&a));
        assert_eq!(a.distance(&a).bucket(), None);
        assert_eq!(a.distance(&b).bucket(), Some(0));
        let mut near = a;
        near.0[31] ^= 1;
        assert_eq!(a.distance(&near).bucket(), Some(255));
        assert!(a.distance(&near) < a.distance(&b));
    }

    #[test]
    fn a_key_in_a_bucket_falls_in_that_bucket() {
        let centre = Key(*blake3::hash(b"centre").as_bytes());
        for bucket in 0..KEY_BITS {
            for low in [[0u8; 32], [0xff; 32], *blake3::hash(&[bucket as u8]).as_bytes()] {
                let key = centre.in_bucket(bucket, low);
                assert_eq!(centre.distance(&key).bucket(), Some(bucket), "bucket {bucket}");
            }
        }
    }
}

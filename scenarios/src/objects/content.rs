//! What the object clients write: bytes regenerated from a small description, so that a checker
//! can compare what a read returned with what was written without keeping every object.

use pangea_core::Rng;
use pangea_core::random::below;

/// An object's bytes, as a recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Content {
    /// The generator's seed.
    pub seed: u64,
    /// Bytes.
    pub size: u64,
    /// Log-like text (compresses about fourfold) rather than random bytes (which do not).
    pub text: bool,
}

/// Words the text is made of.
const WORDS: [&str; 16] = [
    "GET",
    "PUT",
    "/objects",
    "200",
    "404",
    "latency_ms=",
    "node=",
    "shard",
    "chunk",
    "repair",
    "ok",
    "timeout",
    "leader",
    "term",
    "commit",
    "bytes=",
];

impl Content {
    /// The bytes.
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        let size = self.size as usize;
        let mut out = Vec::with_capacity(size);
        if self.text {
            let mut state = self.seed | 1;
            let mut line = 0u64;
            while out.len() < size {
                line += 1;
                out.extend_from_slice(format!("{:010} ", line + self.seed % 1000).as_bytes());
                for _ in 0..6 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    out.extend_from_slice(WORDS[(state % 16) as usize].as_bytes());
                    out.push(b' ');
                }
                out.push(b'\n');
            }
        } else {
            let mut hasher = blake3::Hasher::new_derive_key("pangea sim object content v1");
            hasher.update(&self.seed.to_le_bytes());
            out.resize(size, 0);
            hasher.finalize_xof().fill(&mut out);
        }
        out.truncate(size);
        out
    }

    /// Draws an object's size and kind: mostly small, some around a chunk boundary, now and then
    /// up to `size_max`; empty objects too.
    pub fn draw(rng: &mut dyn Rng, chunk_bytes: u64, size_max: u64) -> Content {
        let seed = rng.next_u64();
        let size = match below(rng, 20) {
            0 => 0,
            1..=7 => 1 + below(rng, 4096),
            8..=12 => 1 + below(rng, chunk_bytes),
            13..=15 => {
                // A chunk boundary, give or take a byte.
                let chunks = 1 + below(rng, 4);
                (chunks * chunk_bytes + below(rng, 3)).saturating_sub(1)
            }
            16..=18 => 1 + below(rng, size_max / 4),
            _ => size_max - below(rng, 1024),
        };
        Content { seed, size, text: below(rng, 3) != 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_are_a_function_of_the_recipe() {
        for text in [true, false] {
            let content = Content { seed: 7, size: 10_000, text };
            assert_eq!(content.bytes(), content.bytes());
            assert_eq!(content.bytes().len(), 10_000);
            assert_ne!(content.bytes(), Content { seed: 8, ..content }.bytes());
        }
        assert!(Content { seed: 1, size: 0, text: true }.bytes().is_empty());
    }
}

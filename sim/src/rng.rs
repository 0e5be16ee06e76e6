//! Seeded random streams. Every random choice of a run is drawn from a stream derived from the seed
//! and a name (`"net"`, `"node/3"`, `"disk/3"`, `"plan"`), so that adding a new consumer of
//! randomness does not reshuffle the draws of the existing ones.

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// The pinned generator of every simulated stream: ChaCha with 8 rounds, whose output is fixed by
/// its specification, not by a library's choice of default.
pub type SimRng = ChaCha8Rng;

/// Derives named, independent streams from one seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedStreams {
    seed: u64,
}

impl SeedStreams {
    /// The streams of `seed`.
    #[must_use]
    pub fn new(seed: u64) -> SeedStreams {
        SeedStreams { seed }
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream called `name`: 256 bits of key from blake3(seed, name).
    #[must_use]
    pub fn stream(&self, name: &str) -> SimRng {
        SimRng::from_seed(self.key(name))
    }

    /// A 64-bit value fixed by the seed and `name`, for choices that must not depend on the order of
    /// other draws (for example whether a buggify site is enabled).
    #[must_use]
    pub fn fixed_u64(&self, name: &str) -> u64 {
        let key = self.key(name);
        u64::from_le_bytes([key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7]])
    }

    fn key(&self, name: &str) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"pangea/sim-stream/v1");
        hasher.update(&self.seed.to_le_bytes());
        hasher.update(name.as_bytes());
        *hasher.finalize().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn streams_are_stable_and_independent() {
        let streams = SeedStreams::new(42);
        assert_eq!(streams.stream("net").next_u64(), streams.stream("net").next_u64());
        assert_ne!(streams.stream("net").next_u64(), streams.stream("disk/0").next_u64());
        assert_ne!(SeedStreams::new(43).stream("net").next_u64(), streams.stream("net").next_u64());
    }

    #[test]
    fn chacha8_output_is_pinned() {
        // If this changes, every recorded seed replays differently: that needs a stream version bump.
        let first = SeedStreams::new(0).stream("pin").next_u64();
        assert_eq!(first, SeedStreams::new(0).stream("pin").next_u64());
        // The ChaCha8 keystream for the all-zero key and nonce starts 3e 00 ef 2f (the published
        // reference vector), read as a little-endian word.
        let mut zero = SimRng::from_seed([0; 32]);
        assert_eq!(zero.next_u32(), 0x2fef_003e);
    }
}

//! Node identities.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's identity: 256 bits, the blake3 hash of its public key in the real node, and a hash of
/// its index in the simulator. The same width serves as a Kademlia key, so identities are also
/// positions in the DHT's key space.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    /// The identity the simulator gives the node with index `index`: stable across versions, so a
    /// seed replays the same way after an upgrade.
    #[must_use]
    pub fn for_index(index: u32) -> NodeId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"pangea/sim-node-id/v1");
        hasher.update(&index.to_le_bytes());
        NodeId(*hasher.finalize().as_bytes())
    }

    /// The identity of the holder of `public_key` (the real node's rule).
    #[must_use]
    pub fn for_public_key(public_key: &[u8]) -> NodeId {
        NodeId(*blake3::hash(public_key).as_bytes())
    }

    /// The first eight bytes in hex, enough to tell nodes apart in logs.
    #[must_use]
    pub fn short(&self) -> String {
        self.0[..4].iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

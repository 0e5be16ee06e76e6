//! Log entries: what the replicated log orders.

use crate::log::kv::KvOp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An entry's unique id: the proposer's wall-clock reading when it was created, plus a blake3 hash
/// of its content (netabase's log id). Two entries with the same id are the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryId {
    /// Wall clock at creation, nanoseconds since the Unix epoch (may be skewed; only for humans and
    /// uniqueness, never for ordering).
    pub wall_nanos: i64,
    /// The first 16 bytes of blake3 over the encoded command and the proposer's sequence.
    pub hash: [u8; 16],
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.hash[..6] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// What an entry asks the state machine to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    /// Nothing: fills a slot a new leader found empty.
    Noop,
    /// A client's command.
    Client {
        /// The client.
        client: u64,
        /// The client's sequence number for this command (retries reuse it).
        sequence: u64,
        /// The operation.
        op: KvOp,
    },
    /// A change of membership ([`crate::log::Members::after`]): takes effect for later slots, and
    /// only if the configuration in force is still the one of `epoch`.
    Reconfigure {
        /// The client that asked for it (its session dedupes the reply).
        client: u64,
        /// The client's sequence number of the request.
        sequence: u64,
        /// The epoch of the configuration it replaces.
        epoch: u64,
        /// The new members.
        members: Vec<crate::id::NodeId>,
    },
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Unique id.
    pub id: EntryId,
    /// The command.
    pub command: Command,
}

impl Entry {
    /// An entry for `command`, created at `wall_nanos` by a proposer whose `nonce` makes the id unique
    /// even for identical commands.
    #[must_use]
    pub fn new(command: Command, wall_nanos: i64, nonce: &[u8]) -> Entry {
        let mut encoded = Vec::new();
        crate::codec::encode_serde(&command, &mut encoded);
        let mut hasher = blake3::Hasher::new();
        hasher.update(&wall_nanos.to_le_bytes());
        hasher.update(nonce);
        hasher.update(&encoded);
        let mut hash = [0; 16];
        hash.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        Entry { id: EntryId { wall_nanos, hash }, command }
    }
}

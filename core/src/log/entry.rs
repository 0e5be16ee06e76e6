//! Log entries: what the replicated log orders.

use crate::id::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An entry's unique id: the proposer's wall-clock reading when it was created, plus a blake3 hash
/// of its content (netabase's log id). Two entries with the same id are the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryId {
    /// Wall clock at creation, nanoseconds since the Unix epoch (may be skewed; only for humans and
    /// uniqueness, never for ordering).
    pub wall_nanos: i64,
    /// The first 16 bytes of blake3 over the encoded command and the proposer's nonce.
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

/// What an entry asks the log to do; `C` is the replicated state machine's command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command<C> {
    /// Nothing: fills a slot a new leader found empty.
    Noop,
    /// Opens a client session whose id is this entry's slot.
    OpenSession,
    /// A client's command for the state machine.
    Client {
        /// The client's session id.
        client: u64,
        /// The client's sequence number for this command (retries reuse it).
        sequence: u64,
        /// The state machine's command.
        command: C,
    },
    /// A change of membership ([`crate::log::Members::after`]): takes effect for later slots, and
    /// only if the configuration in force is still the one of `epoch`.
    Reconfigure {
        /// The session of the client that asked for it.
        client: u64,
        /// The client's sequence number of the request.
        sequence: u64,
        /// The epoch of the configuration it replaces.
        epoch: u64,
        /// The new members.
        members: Vec<NodeId>,
    },
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry<C> {
    /// Unique id.
    pub id: EntryId,
    /// The command.
    pub command: Command<C>,
}

impl<C: Serialize> Entry<C> {
    /// An entry for `command`, created at `wall_nanos` by a proposer whose `nonce` makes the id unique
    /// even for identical commands.
    #[must_use]
    pub fn new(command: Command<C>, wall_nanos: i64, nonce: &[u8]) -> Entry<C> {
        let mut encoded = Vec::new();
        // A command that cannot be encoded could not be sent either; the nonce alone keeps the id
        // unique.
        if crate::codec::encode_serde(&command, &mut encoded).is_err() {
            encoded.clear();
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&wall_nanos.to_le_bytes());
        hasher.update(nonce);
        hasher.update(&encoded);
        let mut hash = [0; 16];
        hash.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        Entry { id: EntryId { wall_nanos, hash }, command }
    }

    /// Bytes the entry takes in a message.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        crate::codec::encoded_len(self)
    }
}

//! The directory: where each node of the cluster can be reached, replicated through the log so that
//! every node learns every member's address. Core treats an address as opaque text; the real node
//! writes and parses socket addresses.

use crate::codec::{CodecError, decode_serde, encode_serde};
use crate::id::NodeId;
use crate::log::{InvalidCommand, Part, StateMachine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest address accepted, in bytes.
pub const ADDRESS_BYTES_MAX: usize = 256;
/// Most nodes the directory holds; registering another is refused.
pub const DIRECTORY_NODES_MAX: usize = 4096;

/// A change to the directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirectoryOp {
    /// `node` can be reached at `address` (replacing what was known).
    Register {
        /// The node.
        node: NodeId,
        /// Where it listens.
        address: String,
    },
    /// Forget `node`'s address.
    Forget {
        /// The node.
        node: NodeId,
    },
}

/// What a directory change did.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirectoryResult {
    /// It took effect.
    Done,
    /// The directory holds [`DIRECTORY_NODES_MAX`] nodes already; nothing changed.
    Full,
}

/// The replicated directory of node addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Directory {
    addresses: BTreeMap<NodeId, String>,
}

impl Directory {
    /// The address of `node`, if registered.
    #[must_use]
    pub fn address_of(&self, node: &NodeId) -> Option<&str> {
        self.addresses.get(node).map(String::as_str)
    }

    /// Every registered node and its address, in id order.
    #[must_use]
    pub fn addresses(&self) -> &BTreeMap<NodeId, String> {
        &self.addresses
    }
}

impl StateMachine for Directory {
    type Command = DirectoryOp;
    type Output = DirectoryResult;
    type Query = ();
    type Answer = Vec<(NodeId, String)>;

    fn validate(&self, command: &DirectoryOp) -> Result<(), InvalidCommand> {
        match command {
            DirectoryOp::Register { address, .. } if address.len() > ADDRESS_BYTES_MAX => {
                Err(InvalidCommand::TooLarge {
                    part: Part::Value,
                    bytes: address.len() as u64,
                    limit: ADDRESS_BYTES_MAX as u64,
                })
            }
            _ => Ok(()),
        }
    }

    fn is_read_only(_command: &DirectoryOp) -> bool {
        false
    }

    fn apply(&mut self, command: &DirectoryOp) -> DirectoryResult {
        match command {
            DirectoryOp::Register { node, address } => {
                if !self.addresses.contains_key(node) && self.addresses.len() >= DIRECTORY_NODES_MAX {
                    return DirectoryResult::Full;
                }
                self.addresses.insert(*node, address.clone());
                DirectoryResult::Done
            }
            DirectoryOp::Forget { node } => {
                self.addresses.remove(node);
                DirectoryResult::Done
            }
        }
    }

    fn query(&self, _query: &()) -> Vec<(NodeId, String)> {
        self.addresses.iter().map(|(node, address)| (*node, address.clone())).collect()
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Ids and strings always encode.
        let _ = encode_serde(&self.addresses, &mut out);
        out
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        self.addresses = decode_serde(bytes)?;
        Ok(())
    }
}

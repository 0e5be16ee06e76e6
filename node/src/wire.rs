//! What clients and nodes say to a node over QUIC, beyond the core's own messages.
//!
//! Peer streams carry [`pangea_core::log::LogMessage`] frames exactly as the simulator delivers
//! them (same codec, same checks). Client streams carry one [`ClientEnvelope`] and get one
//! [`ClientReply`], both framed by the core codec (magic, version, family, checksum), so a garbled
//! or foreign request is refused with a typed error, never misread.

use pangea_core::NodeId;
use pangea_core::log::{KvRequest, KvResponse, ReplicaStatus};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Keys beginning with this are the node's own records (members' addresses); clients may read but
/// not write them.
pub const RESERVED_PREFIX: &[u8] = b"\0pangea/";

/// The record that holds a member's address: `RESERVED_PREFIX` + `addr/` + the node id's hex.
#[must_use]
pub fn address_key(node: &NodeId) -> Vec<u8> {
    let mut key = RESERVED_PREFIX.to_vec();
    key.extend_from_slice(b"addr/");
    key.extend_from_slice(crate::hex::encode(&node.0).as_bytes());
    key
}

/// The node id an address record's key names, if it is one.
#[must_use]
pub fn node_of_address_key(key: &[u8]) -> Option<NodeId> {
    let rest = key.strip_prefix(RESERVED_PREFIX)?.strip_prefix(b"addr/".as_slice())?;
    let text = std::str::from_utf8(rest).ok()?;
    crate::hex::decode_32(text).map(NodeId)
}

/// A client's request with its credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEnvelope {
    /// The cluster's client token (set at `pangea init`).
    pub token: [u8; 32],
    /// What it asks.
    pub request: ClientRequest,
}

pangea_core::serde_codec!(ClientEnvelope, family = 20, version = 1);

/// What a client asks a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientRequest {
    /// A request to the replicated log (commands, membership changes, status).
    Log(KvRequest),
    /// "Who are you, and what is the cluster's initial configuration?" (asked by joining nodes).
    Hello,
    /// The node's status: its log view, and the health of the peers as it sees them.
    Status,
}

/// A node's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientReply {
    /// The replicated log's answer, with the address of the leader when the node knows it (so a
    /// client redirected by `NotLeader` knows where to go).
    Log {
        /// The answer.
        response: KvResponse,
        /// Where the leader listens, if known.
        leader_addr: Option<SocketAddr>,
    },
    /// The answer to [`ClientRequest::Hello`].
    Hello {
        /// The answering node.
        node: NodeId,
        /// The cluster's initial configuration (epoch 0).
        genesis: Vec<NodeId>,
    },
    /// The answer to [`ClientRequest::Status`].
    Status(NodeStatus),
    /// The token was wrong: nothing was done.
    Unauthorized,
    /// The request could not be served (the node is starting or stopping, or the request is
    /// malformed); nothing was done.
    Refused {
        /// Why.
        why: String,
    },
}

pangea_core::serde_codec!(ClientReply, family = 21, version = 1);

/// A node's view of itself and its peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node.
    pub node: NodeId,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Its replica's view.
    pub log: ReplicaStatus,
    /// Every peer it knows, with its address and health.
    pub peers: Vec<PeerHealth>,
    /// Peer connections refused at the handshake since start.
    pub refused_connections: u64,
}

/// One peer as a node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerHealth {
    /// The peer.
    pub node: NodeId,
    /// Where it listens, if known.
    pub addr: Option<SocketAddr>,
    /// Milliseconds since a message from it arrived, if one ever did.
    pub last_heard_ms: Option<u64>,
    /// True when it is a member of the configuration in force.
    pub member: bool,
}

impl PeerHealth {
    /// "alive" when heard within `alive_ms`, "unreachable" when heard before that, "never heard".
    #[must_use]
    pub fn state(&self, alive_ms: u64) -> &'static str {
        match self.last_heard_ms {
            Some(ms) if ms <= alive_ms => "alive",
            Some(_) => "unreachable",
            None => "never heard",
        }
    }
}

/// Converts a log response into the reply a client gets.
#[must_use]
pub fn log_reply(response: KvResponse, leader_addr: Option<SocketAddr>) -> ClientReply {
    ClientReply::Log { response, leader_addr }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pangea_core::Codec;

    #[test]
    fn address_keys_round_trip_and_foreign_keys_are_not_addresses() {
        let node = NodeId::for_index(3);
        assert_eq!(node_of_address_key(&address_key(&node)), Some(node));
        assert_eq!(node_of_address_key(b"user-key"), None);
        assert_eq!(node_of_address_key(b"\0pangea/addr/zz"), None);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(ClientEnvelope::decode(b"not a frame at all").is_err());
        let envelope = ClientEnvelope { token: [7; 32], request: ClientRequest::Hello };
        let mut bytes = envelope.encode();
        assert_eq!(ClientEnvelope::decode(&bytes), Ok(envelope));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(ClientEnvelope::decode(&bytes).is_err());
    }
}

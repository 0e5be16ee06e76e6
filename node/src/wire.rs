//! What clients say to a node's runtime over QUIC.
//!
//! Peer streams carry the node's own message frames exactly as the simulator delivers them (same
//! codec, same checks). A client stream carries one [`ClientEnvelope`] — the client token and either
//! a frame of the node's request type or a question for the runtime itself — and gets one
//! [`ClientReply`], both framed by the core codec (magic, version, family, checksum), so a garbled
//! or foreign request is refused with a typed error, never misread. The envelope knows nothing of
//! the node's types: the runtime is generic, and the node's request and response frames pass
//! through it as bytes.

use pangea_core::NodeId;
use pangea_core::family;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// A client's request with its credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEnvelope {
    /// The cluster's client token (set at `pangea init`).
    pub token: [u8; 32],
    /// What it asks.
    pub request: ClientRequest,
}

pangea_core::serde_codec!(ClientEnvelope, family = family::CLIENT_ENVELOPE, version = 2);

/// What a client asks a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientRequest {
    /// A request for the node: a frame of its request type.
    Node(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The runtime's own view: where it listens, what its transport did.
    Runtime,
}

/// A runtime's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientReply {
    /// The node's answer: a frame of its response type.
    Node(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The answer to [`ClientRequest::Runtime`].
    Runtime(RuntimeStatus),
    /// The token was wrong: nothing was done.
    Unauthorized,
    /// Too many requests wait for the node: nothing was done.
    Busy,
    /// The request could not be served (malformed, or the node is stopping); nothing was done.
    Refused {
        /// Why.
        why: String,
    },
}

pangea_core::serde_codec!(ClientReply, family = family::CLIENT_REPLY, version = 2);

/// A runtime's view of itself and its transport.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeStatus {
    /// The node.
    pub node: NodeId,
    /// Where it listens (as advertised).
    pub listen: SocketAddr,
    /// Milliseconds since the runtime started.
    pub uptime_ms: u64,
    /// Peer connections refused at the handshake since start.
    pub refused_connections: u64,
    /// Peer messages the transport took.
    pub messages_sent: u64,
    /// Peer messages the transport dropped or that could not be encoded.
    pub messages_dropped: u64,
    /// Peer messages without a known address.
    pub messages_unroutable: u64,
    /// Peer messages received.
    pub messages_received: u64,
    /// Where the runtime sends to each peer it knows.
    pub addresses: Vec<(NodeId, SocketAddr)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pangea_core::Codec;

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(ClientEnvelope::decode(b"not a frame at all").is_err());
        let envelope = ClientEnvelope { token: [7; 32], request: ClientRequest::Node(vec![1, 2, 3]) };
        let mut bytes = envelope.encode().unwrap();
        assert_eq!(ClientEnvelope::decode(&bytes), Ok(envelope));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(ClientEnvelope::decode(&bytes).is_err());
        assert!(ClientReply::decode(&ClientReply::Busy.encode().unwrap()).is_ok());
    }
}

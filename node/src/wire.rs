//! What clients say to a node's runtime over QUIC.
//!
//! Peer streams carry the node's own message frames exactly as the simulator delivers them (same
//! codec, same checks). A client stream carries one [`ClientEnvelope`] — the client token and either
//! a frame of the node's request type or a question for the runtime itself — and gets one
//! [`ClientReply`], both framed by the core codec (magic, version, family, checksum), so a garbled
//! or foreign request is refused with a typed error, never misread. The envelope knows nothing of
//! the node's types: the runtime is generic, and the node's request and response frames pass
//! through it as bytes.

use crate::stages::StageCounts;
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
    Runtime(Box<RuntimeStatus>),
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

pangea_core::serde_codec!(ClientReply, family = family::CLIENT_REPLY, version = 3);

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
    /// How long requests spent in each stage here since the start (see [`crate::stages`]).
    pub stages: Vec<StageCounts>,
    /// The machine's capabilities and the hardware paths the node chose.
    pub hardware: crate::hardware::HardwareFacts,
    /// Datagrams the firewall passed, dropped as denied, and dropped over their rate.
    pub firewall: (u64, u64, u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use pangea_core::Codec;
    use proptest::prelude::*;

    /// Any client request.
    fn request() -> impl Strategy<Value = ClientRequest> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048).prop_map(ClientRequest::Node),
            Just(ClientRequest::Runtime),
        ]
    }

    /// Any runtime status.
    fn status() -> impl Strategy<Value = RuntimeStatus> {
        let addr = (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port)));
        let peers = proptest::collection::vec((any::<[u8; 32]>().prop_map(NodeId), addr.clone()), 0..8);
        let stage = (".{0,16}", any::<[u64; 2]>(), proptest::collection::vec(any::<u64>(), 0..80))
            .prop_map(|(stage, [count, sum_nanos], buckets)| StageCounts { stage, count, sum_nanos, buckets });
        let stages = proptest::collection::vec(stage, 0..4);
        (any::<[u8; 32]>(), addr, any::<[u64; 6]>(), peers, stages).prop_map(
            |(node, listen, counts, addresses, stages)| RuntimeStatus {
                node: NodeId(node),
                listen,
                uptime_ms: counts[0],
                refused_connections: counts[1],
                messages_sent: counts[2],
                messages_dropped: counts[3],
                messages_unroutable: counts[4],
                messages_received: counts[5],
                addresses,
                stages,
                hardware: crate::hardware::HardwareFacts::default(),
                firewall: (counts[0], counts[1], counts[2]),
            },
        )
    }

    /// Any reply.
    fn reply() -> impl Strategy<Value = ClientReply> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048).prop_map(ClientReply::Node),
            status().prop_map(|status| ClientReply::Runtime(Box::new(status))),
            Just(ClientReply::Unauthorized),
            Just(ClientReply::Busy),
            ".{0,64}".prop_map(|why| ClientReply::Refused { why }),
        ]
    }

    proptest! {
        /// Envelopes and replies round-trip; truncated, bit-flipped and arbitrary bytes are refused
        /// with an error, never a panic.
        #[test]
        fn envelopes_and_replies_round_trip_and_damage_is_refused(
            token in any::<[u8; 32]>(),
            request in request(),
            reply in reply(),
            cut in any::<prop::sample::Index>(),
            bit in any::<prop::sample::Index>(),
            junk in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let envelope = ClientEnvelope { token, request };
            let frame = envelope.encode().unwrap();
            prop_assert_eq!(ClientEnvelope::decode(&frame), Ok(envelope));
            prop_assert!(ClientEnvelope::decode(&frame[..cut.index(frame.len())]).is_err());
            let mut flipped = frame.clone();
            let bit = bit.index(frame.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(ClientEnvelope::decode(&flipped).is_err());
            let answer = reply.encode().unwrap();
            prop_assert_eq!(ClientReply::decode(&answer), Ok(reply));
            prop_assert!(ClientReply::decode(&answer[..answer.len() - 1]).is_err());
            prop_assert!(ClientReply::decode(&frame).is_err(), "an envelope is not a reply");
            prop_assert!(ClientEnvelope::decode(&junk).is_err());
            prop_assert!(ClientReply::decode(&junk).is_err());
        }
    }

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

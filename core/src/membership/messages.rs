//! What membership nodes say to each other and to clients.

use crate::codec::{Codec, CodecError, decode_serde, encode_serde};
use crate::id::NodeId;
use crate::membership::peer::Health;
use serde::{Deserialize, Serialize};

/// Peer-to-peer messages of the membership subsystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipMessage {
    /// "Are you there?" Carries the sender's clock reading, echoed back to measure round trips.
    Ping {
        /// The sender's ping counter.
        sequence: u64,
        /// The sender's boot count: a round-trip sample is only valid within one incarnation.
        boot: u64,
        /// The sender's monotonic clock when it sent the ping, in nanoseconds.
        sent_at_nanos: u64,
        /// Some peers the sender knows, so that membership spreads by gossip.
        known: Vec<NodeId>,
    },
    /// "I am." The answer to a ping.
    Pong {
        /// The ping's sequence number.
        sequence: u64,
        /// The ping's boot count, echoed.
        echo_boot: u64,
        /// The ping's clock reading, echoed.
        echo_sent_at_nanos: u64,
        /// Some peers the answerer knows.
        known: Vec<NodeId>,
    },
}

impl Codec for MembershipMessage {
    const FAMILY: u8 = 1;
    const SCHEMA_VERSION: u16 = 1;
    fn encode_payload(&self, out: &mut Vec<u8>) {
        encode_serde(self, out);
    }
    fn decode_payload(payload: &[u8], _schema_version: u16) -> Result<Self, CodecError> {
        decode_serde(payload)
    }
}

/// What a client may ask the membership subsystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipRequest {
    /// The node's view of its peers.
    Status,
}

impl Codec for MembershipRequest {
    const FAMILY: u8 = 2;
    const SCHEMA_VERSION: u16 = 1;
    fn encode_payload(&self, out: &mut Vec<u8>) {
        encode_serde(self, out);
    }
    fn decode_payload(payload: &[u8], _schema_version: u16) -> Result<Self, CodecError> {
        decode_serde(payload)
    }
}

/// One peer as a status answer shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerView {
    /// The peer.
    pub id: NodeId,
    /// Its health as this node sees it.
    pub health: Health,
    /// Smoothed round-trip time in microseconds, once measured.
    pub rtt_micros: Option<u64>,
}

/// The membership subsystem's answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipResponse {
    /// Every tracked peer, in id order.
    Status {
        /// How many times this node has started.
        boot: u64,
        /// The peers.
        peers: Vec<PeerView>,
    },
}

impl Codec for MembershipResponse {
    const FAMILY: u8 = 3;
    const SCHEMA_VERSION: u16 = 1;
    fn encode_payload(&self, out: &mut Vec<u8>) {
        encode_serde(self, out);
    }
    fn decode_payload(payload: &[u8], _schema_version: u16) -> Result<Self, CodecError> {
        decode_serde(payload)
    }
}

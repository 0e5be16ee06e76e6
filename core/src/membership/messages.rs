//! What membership nodes say to each other and to clients.

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

crate::serde_codec!(MembershipMessage, family = crate::family::MEMBERSHIP_MESSAGE, version = 1);

/// What a client may ask the membership subsystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipRequest {
    /// The node's view of its peers.
    Status,
}

crate::serde_codec!(MembershipRequest, family = crate::family::MEMBERSHIP_REQUEST, version = 1);

/// One peer as a status answer shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

crate::serde_codec!(MembershipResponse, family = crate::family::MEMBERSHIP_RESPONSE, version = 1);

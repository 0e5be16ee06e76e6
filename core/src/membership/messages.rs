//! What membership nodes say to each other and to clients.

use crate::id::NodeId;
use crate::membership::peer::Health;
use serde::{Deserialize, Serialize};

/// One node's judgement of a member, as it travels by gossip: SWIM's alive, suspect and dead
/// messages. A judgement with a higher incarnation overrides one with a lower; only the member
/// itself raises its incarnation, to refute a suspicion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Update {
    /// The member judged.
    pub node: NodeId,
    /// The member's incarnation the judgement is about.
    pub incarnation: u64,
    /// The judgement.
    pub judgement: Judgement,
}

/// What an [`Update`] says of its member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Judgement {
    /// The member is alive at this incarnation.
    Alive,
    /// `by` suspects the member.
    Suspect {
        /// The node that suspects it (Lifeguard counts independent suspecters as confirmations).
        by: NodeId,
    },
    /// `by` declared the member dead.
    Dead {
        /// The node that declared it.
        by: NodeId,
    },
}

impl Judgement {
    /// The health this judgement gives its member.
    #[must_use]
    pub fn health(self) -> Health {
        match self {
            Judgement::Alive => Health::Alive,
            Judgement::Suspect { .. } => Health::Suspect,
            Judgement::Dead { .. } => Health::Dead,
        }
    }
}

/// Peer-to-peer messages of the membership subsystem: every one carries the sender's incarnation
/// and some judgements piggybacked (at most `piggyback_max`; a receiver reads no more than that).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipMessage {
    /// The sender's incarnation: a message from a member is direct word that it is alive at it.
    pub incarnation: u64,
    /// Judgements spreading by gossip.
    pub gossip: Vec<Update>,
    /// What the message is.
    pub kind: MessageKind,
}

/// The kinds of membership message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    /// "Are you there?" Carries the sender's clock reading, echoed back to measure round trips.
    Ping {
        /// The sender's probe number, echoed in the ack.
        sequence: u64,
        /// The sender's boot count: a round-trip sample is only valid within one incarnation.
        boot: u64,
        /// The sender's monotonic clock when it sent the ping, in nanoseconds.
        sent_at_nanos: u64,
    },
    /// "I am." The answer to a ping.
    Ack {
        /// The ping's sequence number.
        sequence: u64,
        /// The ping's boot count, echoed.
        echo_boot: u64,
        /// The ping's clock reading, echoed.
        echo_sent_at_nanos: u64,
    },
    /// "Please ping `target` for me": an indirect probe.
    PingRequest {
        /// The asker's probe number, echoed in the answer.
        sequence: u64,
        /// The member to probe.
        target: NodeId,
    },
    /// "`target` answered me": the answer to an indirect probe.
    IndirectAck {
        /// The asker's probe number.
        sequence: u64,
        /// The member probed.
        target: NodeId,
        /// The incarnation `target` answered with.
        target_incarnation: u64,
    },
    /// "`target` did not answer me in time" (Lifeguard): tells the asker that its helper is alive,
    /// so that an asker whose helpers are silent knows the fault is its own.
    Nack {
        /// The asker's probe number.
        sequence: u64,
        /// The member probed.
        target: NodeId,
    },
    /// Nothing but the piggybacked judgements: a gossip round.
    Gossip,
    /// A full-state exchange: the members the sender knows (at most `sync_entries_max`).
    Sync {
        /// True for the answer to a sync, which is not answered again.
        reply: bool,
        /// The sender's judgements, itself included.
        members: Vec<Update>,
    },
}

crate::serde_codec!(MembershipMessage, family = crate::family::MEMBERSHIP_MESSAGE, version = 2);

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

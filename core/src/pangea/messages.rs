//! `PangeaNode`'s types: one variant per part for messages, timers, requests and responses, and the
//! node-level requests (status, hello) that no single part answers.

use crate::dht::{DhtMessage, DhtRequest, DhtResponse, DhtTimer};
use crate::family;
use crate::id::NodeId;
use crate::log::{LogMessage, LogRequest, LogResponse, LogTimer, ReplicaStatus};
use crate::membership::{MembershipMessage, MembershipRequest, MembershipResponse, MembershipTimer, PeerView};
use crate::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use crate::objects::{ObjectMessage, ObjectRequest, ObjectResponse, ObjectTimer};
use crate::pangea::storage_watch::StorageStatus;
use serde::{Deserialize, Serialize};

/// A request to the metadata log.
pub type MetadataRequest = LogRequest<MetadataCommand, MetadataQuery>;
/// The metadata log's answer.
pub type MetadataResponse = LogResponse<MetadataOutput, MetadataAnswer>;

crate::composite! {
    /// What Pangea nodes say to each other: a frame of one part's family.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum PangeaMessage: codec {
        Membership(MembershipMessage),
        Log(LogMessage<MetadataCommand>),
        Objects(ObjectMessage),
        Dht(DhtMessage),
    }
}

crate::composite! {
    /// A Pangea node's timers.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum PangeaTimer {
        Node(NodeTimer),
        Membership(MembershipTimer),
        Log(LogTimer),
        Objects(ObjectTimer),
        Dht(DhtTimer),
    }
}

crate::composite! {
    /// What a client asks a Pangea node.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum PangeaRequest: codec {
        Node(NodeRequest),
        Membership(MembershipRequest),
        Log(MetadataRequest),
        Objects(ObjectRequest),
        Dht(DhtRequest),
    }
}

crate::composite! {
    /// A Pangea node's answers.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum PangeaResponse: codec {
        Node(NodeResponse),
        Membership(MembershipResponse),
        Log(MetadataResponse),
        Objects(ObjectResponse),
        Dht(DhtResponse),
    }
}

/// The node's own timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeTimer {
    /// Time to try reopening the failed storage.
    ReopenStorage,
}

impl PangeaRequest {
    /// True for requests that need a working log, which a node whose storage failed cannot serve:
    /// commands (reads through the log too), linearizable reads, membership changes, new sessions.
    #[must_use]
    pub fn needs_the_log(&self) -> bool {
        matches!(
            self,
            PangeaRequest::Log(
                LogRequest::Command { .. }
                    | LogRequest::Read(_)
                    | LogRequest::ChangeMembers { .. }
                    | LogRequest::OpenSession
            )
        )
    }
}

/// Requests the node answers as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeRequest {
    /// The node's view: its log, its peers' health, the directory.
    Status,
    /// "Who are you, and what is the cluster's initial configuration?" (asked by joining nodes).
    Hello,
}

crate::serde_codec!(NodeRequest, family = family::NODE_REQUEST, version = 1);

/// The node's answers to [`NodeRequest`]s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeResponse {
    /// The answer to [`NodeRequest::Status`].
    Status(Box<NodeView>),
    /// The answer to [`NodeRequest::Hello`].
    Hello {
        /// The answering node.
        node: NodeId,
        /// The cluster's initial configuration (epoch 0).
        genesis: Vec<NodeId>,
    },
    /// The node's storage failed: it did nothing, and cannot serve requests through the log until
    /// it has reopened its storage. Another node may.
    CannotWrite {
        /// The answering node.
        node: NodeId,
        /// What failed, e.g. "disk full (…)".
        cause: String,
    },
}

crate::serde_codec!(NodeResponse, family = family::NODE_RESPONSE, version = 2);

/// A node's view of itself and the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeView {
    /// The node.
    pub node: NodeId,
    /// How many times it has started.
    pub boot: u64,
    /// Its log replica's view.
    pub log: ReplicaStatus,
    /// Every peer it tracks, with the health the membership subsystem judges.
    pub peers: Vec<PeerView>,
    /// Every node's address, as the replicated directory holds it.
    pub directory: Vec<(NodeId, String)>,
    /// Whether its storage works.
    pub storage: StorageStatus,
}

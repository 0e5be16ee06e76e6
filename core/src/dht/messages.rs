//! What DHT nodes say to each other, and what clients ask a node's DHT.
//!
//! Every answer echoes its query's number, and a node takes an answer only from the peer it asked
//! under that number: a stray, late or forged answer changes nothing. Lists and values from peers
//! are cut to this node's own limits before use.

use super::config::{ADDRESS_BYTES_MAX, K_MAX};
use super::key::Key;
use crate::family;
use crate::id::NodeId;
use serde::{Deserialize, Serialize};

/// Largest value any record may carry on the wire (a node's own `value_bytes_max` is at most
/// this).
pub const VALUE_BYTES_LIMIT: usize = 64 * 1024;

/// The byte budget of one DHT message: a record at the value limit, or `K_MAX` contacts with
/// addresses at their limit, and room for the rest.
pub const DHT_MESSAGE_BYTES_MAX: usize = VALUE_BYTES_LIMIT + K_MAX * (32 + ADDRESS_BYTES_MAX + 8) + 1024;

/// A peer as an answer lists it: its id, and where it listens when the sender knows (the real
/// node; the simulator's ids are addresses).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Peer {
    /// The peer's id.
    pub id: NodeId,
    /// Its address, `host:port`.
    pub address: Option<String>,
}

/// A value stored under a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Vec<u8>,
    /// Who published it (and republishes it).
    pub publisher: NodeId,
}

/// A DHT message between nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhtMessage {
    /// The query's number, chosen by the asker and echoed in the answer.
    pub query: u64,
    /// Where the sender listens, if it says (queries only).
    pub address: Option<String>,
    /// What it is.
    pub body: DhtBody,
}

/// The kinds of DHT message: four queries and their answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DhtBody {
    /// "Are you there?" (a full bucket's oldest contact is pinged before it may be evicted).
    Ping,
    /// The answer to a ping.
    Pong,
    /// "Which peers do you know nearest `target`?"
    FindNode {
        /// The key looked up.
        target: Key,
    },
    /// The answer: up to `k` peers nearest the target.
    Nodes {
        /// Nearest first.
        closer: Vec<Peer>,
    },
    /// "Do you hold a record under `key`? If not, which peers do you know nearest it?"
    FindValue {
        /// The key.
        key: Key,
    },
    /// The answer: the record if held, else peers nearer the key.
    Value {
        /// The record, if held.
        record: Option<Record>,
        /// Peers nearest the key (empty when the record is there).
        closer: Vec<Peer>,
    },
    /// "Keep this record for `ttl_ms`."
    Store {
        /// The record.
        record: Record,
        /// How long to keep it, in milliseconds (cut to the receiver's own limit).
        ttl_ms: u64,
    },
    /// The answer: whether it was kept.
    Stored {
        /// False when refused (over the receiver's limits, or it is full).
        kept: bool,
    },
}

impl DhtBody {
    /// True for a query (which the receiver answers), false for an answer.
    #[must_use]
    pub fn is_query(&self) -> bool {
        matches!(self, DhtBody::Ping | DhtBody::FindNode { .. } | DhtBody::FindValue { .. } | DhtBody::Store { .. })
    }
}

crate::serde_codec!(DhtMessage, family = family::DHT_MESSAGE, version = 1);

/// What a client asks a node's DHT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DhtRequest {
    /// Find the `k` live peers nearest `target`.
    FindNode {
        /// The key.
        target: Key,
    },
    /// Publish `value` under `key` at the `k` peers nearest it (republished until removed).
    Put {
        /// The key.
        key: Key,
        /// The value.
        value: Vec<u8>,
    },
    /// Find the record under `key`.
    Get {
        /// The key.
        key: Key,
    },
    /// The node's routing table.
    Table,
}

crate::serde_codec!(DhtRequest, family = family::DHT_REQUEST, version = 1);

/// A node's DHT answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DhtResponse {
    /// The peers nearest the key that answered, nearest first.
    Closest {
        /// The peers.
        peers: Vec<NodeId>,
        /// Hops to the nearest (see [`super::LookupResult::hops`]).
        hops: u32,
        /// Queries the lookup sent.
        queried: u32,
    },
    /// A record was stored at `replicas` peers.
    Stored {
        /// Peers that kept it.
        replicas: u32,
    },
    /// The record found, if any.
    Value {
        /// The value.
        value: Option<Vec<u8>>,
        /// Hops to the peer that had it.
        hops: u32,
    },
    /// The routing table: contacts per bucket.
    Table {
        /// (bucket, contacts in it), for buckets in use.
        buckets: Vec<(u16, u16)>,
        /// Every contact.
        contacts: Vec<NodeId>,
    },
    /// Refused.
    Refused(DhtRefusal),
}

/// Why a DHT request was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DhtRefusal {
    /// Too many lookups running; try again later.
    #[error("too many lookups running (at most {0})")]
    Busy(u32),
    /// The value is over the limit.
    #[error("the value is {bytes} bytes, over the limit of {limit}")]
    ValueTooLarge {
        /// The value's size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// This node publishes as many records as it may.
    #[error("this node publishes {0} records already, its limit")]
    TooManyPublished(u32),
}

crate::serde_codec!(DhtResponse, family = family::DHT_RESPONSE, version = 1);

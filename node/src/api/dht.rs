//! The DHT's client calls: the routing table of one node, a lookup of the peers nearest a key, and
//! records published and found through the DHT.
//!
//! Each call goes to the one node asked (the DHT has no leader: any node looks up, publishes and
//! finds for its clients) and waits up to [`DHT_ATTEMPT_TIMEOUT`], or the client's deadline if
//! shorter: a lookup asks peers in turn and waits out the ones that do not answer. Peers' addresses
//! come from the node's runtime (its directory, and what its DHT learned), when it knows them.

use super::{ApiError, Client};
use crate::wire::{ClientReply, ClientRequest};
use pangea_core::NodeId;
use pangea_core::dht::{DhtConfig, DhtRefusal, DhtRequest, DhtResponse, Key};
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The longest one DHT request may take (less when the client's deadline is nearer).
pub const DHT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A node's routing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtTable {
    /// The node asked.
    pub node: NodeId,
    /// `(bucket, contacts in it)` for the buckets in use; bucket `b` holds the peers whose ids share
    /// exactly `b` leading bits with the node's.
    pub buckets: Vec<(u16, u16)>,
    /// Every contact, with its address where the node knows it.
    pub contacts: Vec<(NodeId, Option<SocketAddr>)>,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtFound {
    /// The peers nearest the key that answered, nearest first, with their addresses where the node
    /// asked knows them.
    pub peers: Vec<(NodeId, Option<SocketAddr>)>,
    /// Hops to the nearest.
    pub hops: u32,
    /// Queries the lookup sent.
    pub queried: u32,
}

/// A record looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtValue {
    /// The value, if some peer holds one.
    pub value: Option<Vec<u8>>,
    /// Hops to the peer that had it (0: the node asked had it).
    pub hops: u32,
}

impl Client {
    /// One DHT request to the node at `addr`; a refusal is [`ApiError::Dht`].
    pub async fn dht_request(&mut self, addr: SocketAddr, request: DhtRequest) -> Result<DhtResponse, ApiError> {
        let limit = self.deadline.min(DHT_ATTEMPT_TIMEOUT);
        match self.ask_node_within(addr, PangeaRequest::Dht(request), limit).await? {
            PangeaResponse::Dht(DhtResponse::Refused(why)) => Err(ApiError::Dht(why)),
            PangeaResponse::Dht(response) => Ok(response),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Where the node at `addr` sends to each peer it knows.
    pub async fn peer_addresses(&mut self, addr: SocketAddr) -> Result<BTreeMap<NodeId, SocketAddr>, ApiError> {
        match self.ask(addr, ClientRequest::Runtime).await? {
            ClientReply::Runtime(runtime) => Ok(runtime.addresses.into_iter().collect()),
            ClientReply::Unauthorized => Err(ApiError::Unauthorized),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The routing table of the node at `addr`, with its contacts' addresses.
    pub async fn dht_table(&mut self, addr: SocketAddr) -> Result<DhtTable, ApiError> {
        let (buckets, contacts) = match self.dht_request(addr, DhtRequest::Table).await? {
            DhtResponse::Table { buckets, contacts } => (buckets, contacts),
            other => return Err(ApiError::Unexpected(format!("{other:?}"))),
        };
        let (node, addresses) = match self.ask(addr, ClientRequest::Runtime).await? {
            ClientReply::Runtime(runtime) => (runtime.node, runtime.addresses.into_iter().collect::<BTreeMap<_, _>>()),
            ClientReply::Unauthorized => return Err(ApiError::Unauthorized),
            other => return Err(ApiError::Unexpected(format!("{other:?}"))),
        };
        let contacts = contacts.into_iter().map(|id| (id, addresses.get(&id).copied())).collect();
        Ok(DhtTable { node, buckets, contacts })
    }

    /// The `k` live peers nearest `target`, as a lookup from the node at `addr` finds them.
    pub async fn dht_find(&mut self, addr: SocketAddr, target: Key) -> Result<DhtFound, ApiError> {
        let (peers, hops, queried) = match self.dht_request(addr, DhtRequest::FindNode { target }).await? {
            DhtResponse::Closest { peers, hops, queried } => (peers, hops, queried),
            other => return Err(ApiError::Unexpected(format!("{other:?}"))),
        };
        let addresses = self.peer_addresses(addr).await?;
        let peers = peers.into_iter().map(|id| (id, addresses.get(&id).copied())).collect();
        Ok(DhtFound { peers, hops, queried })
    }

    /// Publishes `value` under `key` from the node at `addr` (which stores it at the `k` peers
    /// nearest the key and republishes it); returns how many peers kept it. A value over the
    /// DHT's default limit is refused before anything is sent.
    pub async fn dht_put(&mut self, addr: SocketAddr, key: Key, value: Vec<u8>) -> Result<u32, ApiError> {
        let limit = DhtConfig::default().value_bytes_max;
        if value.len() > limit {
            return Err(ApiError::Dht(DhtRefusal::ValueTooLarge { bytes: value.len() as u64, limit: limit as u64 }));
        }
        match self.dht_request(addr, DhtRequest::Put { key, value }).await? {
            DhtResponse::Stored { replicas } => Ok(replicas),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The value under `key`, as a lookup from the node at `addr` finds it.
    pub async fn dht_get(&mut self, addr: SocketAddr, key: Key) -> Result<DhtValue, ApiError> {
        match self.dht_request(addr, DhtRequest::Get { key }).await? {
            DhtResponse::Value { value, hops } => Ok(DhtValue { value, hops }),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }
}

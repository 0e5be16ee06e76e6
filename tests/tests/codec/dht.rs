//! Strategies for the DHT's messages, requests and answers (the codec tests' wiring is in
//! `codec.rs`).

use super::{blob, node_id, text};
use pangea_core::dht::{DhtBody, DhtMessage, DhtRefusal, DhtRequest, DhtResponse, Key, Peer, Record};
use proptest::collection::vec;
use proptest::prelude::*;

/// Any key.
pub fn key() -> impl Strategy<Value = Key> {
    any::<[u8; 32]>().prop_map(Key)
}

/// A peer as an answer lists it, with or without an address.
pub fn peer() -> impl Strategy<Value = Peer> {
    (node_id(), proptest::option::of(text())).prop_map(|(id, address)| Peer { id, address })
}

/// Up to a bucket of peers (more than a node's `k` now and then: the receiver cuts them).
fn peers() -> impl Strategy<Value = Vec<Peer>> {
    vec(peer(), 0..24)
}

/// A record.
pub fn record() -> impl Strategy<Value = Record> {
    (key(), blob(), node_id()).prop_map(|(key, value, publisher)| Record { key, value, publisher })
}

/// Any DHT body.
fn body() -> impl Strategy<Value = DhtBody> {
    prop_oneof![
        Just(DhtBody::Ping),
        Just(DhtBody::Pong),
        key().prop_map(|target| DhtBody::FindNode { target }),
        peers().prop_map(|closer| DhtBody::Nodes { closer }),
        key().prop_map(|key| DhtBody::FindValue { key }),
        (proptest::option::of(record()), peers()).prop_map(|(record, closer)| DhtBody::Value { record, closer }),
        (record(), any::<u64>()).prop_map(|(record, ttl_ms)| DhtBody::Store { record, ttl_ms }),
        any::<bool>().prop_map(|kept| DhtBody::Stored { kept }),
    ]
}

/// Any DHT message between nodes.
pub fn dht_message() -> impl Strategy<Value = DhtMessage> {
    (any::<u64>(), proptest::option::of(text()), body()).prop_map(|(query, address, body)| DhtMessage {
        query,
        address,
        body,
    })
}

/// Any client request to the DHT.
pub fn dht_request() -> impl Strategy<Value = DhtRequest> {
    prop_oneof![
        key().prop_map(|target| DhtRequest::FindNode { target }),
        (key(), blob()).prop_map(|(key, value)| DhtRequest::Put { key, value }),
        key().prop_map(|key| DhtRequest::Get { key }),
        Just(DhtRequest::Table),
    ]
}

/// Any answer of the DHT.
pub fn dht_response() -> impl Strategy<Value = DhtResponse> {
    let refusal = prop_oneof![
        any::<u32>().prop_map(DhtRefusal::Busy),
        (any::<u64>(), any::<u64>()).prop_map(|(bytes, limit)| DhtRefusal::ValueTooLarge { bytes, limit }),
        any::<u32>().prop_map(DhtRefusal::TooManyPublished),
    ];
    prop_oneof![
        (vec(node_id(), 0..24), any::<u32>(), any::<u32>()).prop_map(|(peers, hops, queried)| DhtResponse::Closest {
            peers,
            hops,
            queried
        }),
        any::<u32>().prop_map(|replicas| DhtResponse::Stored { replicas }),
        (proptest::option::of(blob()), any::<u32>()).prop_map(|(value, hops)| DhtResponse::Value { value, hops }),
        (vec((any::<u16>(), any::<u16>()), 0..20), vec(node_id(), 0..40))
            .prop_map(|(buckets, contacts)| DhtResponse::Table { buckets, contacts }),
        refusal.prop_map(DhtResponse::Refused),
    ]
}

//! Frames from peers and clients, one target per family group: every type that implements
//! [`Codec`](pangea_core::Codec) in Pangea (the families of `pangea_core::family`) is decoded by one
//! of these, and the node's composites, which route a frame to its family's type, by
//! [`node_frames`].

use crate::frame_round_trip;
use pangea_core::dht::{DhtMessage, DhtRequest, DhtResponse};
use pangea_core::log::LogMessage;
use pangea_core::membership::{MembershipMessage, MembershipRequest, MembershipResponse};
use pangea_core::metadata::MetadataCommand;
use pangea_core::objects::{ObjectMessage, ObjectRequest, ObjectResponse};
use pangea_core::pangea::{
    MetadataRequest, MetadataResponse, NodeRequest, NodeResponse, PangeaMessage, PangeaRequest, PangeaResponse,
};

/// The DHT's frames: its message, request and answer decoders. (That a DHT takes any decoded
/// message from a peer without panicking is a property test in `core/src/dht/tests.rs`.)
pub fn dht_frames(bytes: &[u8]) {
    let _ = frame_round_trip::<DhtMessage>(bytes);
    let _ = frame_round_trip::<DhtRequest>(bytes);
    let _ = frame_round_trip::<DhtResponse>(bytes);
}

/// The replicated log's frames as the node speaks them: replica-to-replica messages of the
/// metadata log (promises, accepts, catch-up, snapshot chunks), and the log's requests and answers,
/// which carry the metadata's commands and queries (records, graph, events, manifests) from clients.
pub fn log_frames(bytes: &[u8]) {
    let _ = frame_round_trip::<LogMessage<MetadataCommand>>(bytes);
    let _ = frame_round_trip::<MetadataRequest>(bytes);
    let _ = frame_round_trip::<MetadataResponse>(bytes);
}

/// Membership's frames: SWIM probes, acknowledgements and gossip between peers, and its requests
/// and answers.
pub fn membership_frames(bytes: &[u8]) {
    let _ = frame_round_trip::<MembershipMessage>(bytes);
    let _ = frame_round_trip::<MembershipRequest>(bytes);
    let _ = frame_round_trip::<MembershipResponse>(bytes);
}

/// The node's own requests and answers (status, hello), and the composites a node decodes every
/// peer message, client request and answer with: any family routes to its type or is refused.
pub fn node_frames(bytes: &[u8]) {
    let _ = frame_round_trip::<NodeRequest>(bytes);
    let _ = frame_round_trip::<NodeResponse>(bytes);
    let _ = frame_round_trip::<PangeaMessage>(bytes);
    let _ = frame_round_trip::<PangeaRequest>(bytes);
    let _ = frame_round_trip::<PangeaResponse>(bytes);
}

/// The object store's frames: shards and fetches between holders, pieces from owners.
pub fn object_frames(bytes: &[u8]) {
    let _ = frame_round_trip::<ObjectMessage>(bytes);
    let _ = frame_round_trip::<ObjectRequest>(bytes);
    let _ = frame_round_trip::<ObjectResponse>(bytes);
}

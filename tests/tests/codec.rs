//! Property tests of every decoder core has for bytes from outside: the leaf types
//! (`MembershipMessage`, `MembershipRequest`, `MembershipResponse`, `LogMessage`, `LogRequest` and
//! `LogResponse` of the metadata log, `NodeRequest`, `NodeResponse`) and the composites that route
//! frames to them by family (`PangeaMessage`, `PangeaRequest`, `PangeaResponse`).
//!
//! For each it checks that
//! - arbitrary values of every variant round-trip, and a composite's frame is its part's frame;
//! - arbitrary bytes, frames with a wrong checksum, truncated frames and frames with one bit flipped
//!   are refused with a frame-level error, never a panic;
//! - a valid frame (right magic, versions, length and checksum) around an arbitrary or edited
//!   payload decodes to a value that round-trips, or is refused with `Malformed`, never a panic;
//! - a frame goes to the decoder that owns its family: a leaf refuses another family's frame with
//!   `WrongFamily`, a composite a family none of its parts owns with `UnknownFamily`.
//!
//! Valid frames around made-up payloads are sealed with the frame checksum, XXH3-64 (`twox-hash`).
//!
//! Longer than the project's usual file on purpose: the strategies for every message type and the
//! checks they all go through belong together, so that a new decoder is added in one place.

use pangea_core::ces::{CesError, ChunkEntry, FORMAT_VERSION, Manifest, ObjectId, ShardHash};
use pangea_core::codec::{FRAME_CHECKSUM_BYTES, FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_VERSION};
use pangea_core::dht::{DhtMessage, DhtRequest, DhtResponse};
use pangea_core::family;
use pangea_core::log::{
    Ballot, Command, Entry, EntryId, InvalidCommand, LogMessage, MemberChange, MemberChangeRefused, Members, Part,
    ReplicaStatus,
};
use pangea_core::membership::{
    Health, Judgement, MembershipMessage, MembershipRequest, MembershipResponse, MessageKind, PeerView, Update,
};
use pangea_core::metadata::directory::{DirectoryOp, DirectoryResult};
use pangea_core::metadata::manifests::{
    ObjectSummary, ObjectsAnswer, ObjectsOp, ObjectsQuery, ObjectsResult, PutRefused,
};
use pangea_core::metadata::records::{KvOp, KvResult};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::objects::{
    BadRequest, ObjectError, ObjectMessage, ObjectRequest, ObjectResponse, ShardKey, StoreOutcome, StoredChunk,
    Unavailable,
};
use pangea_core::pangea::{
    MetadataRequest, MetadataResponse, NodeRequest, NodeResponse, NodeView, PangeaMessage, PangeaRequest,
    PangeaResponse, StorageStatus,
};
use pangea_core::{Codec, CodecError, NodeId, WallTime};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::any::type_name;
use std::fmt::Debug;

#[path = "codec/dht.rs"]
mod dht;
#[path = "codec/parts.rs"]
mod parts;

/// The metadata log's peer messages, as `PangeaMessage::Log` carries them.
type MetadataMessage = LogMessage<MetadataCommand>;

/// What a check returns: `Err` fails the test case.
type Checked = Result<(), TestCaseError>;

// ---------------------------------------------------------------------------------------------------
// The decoders under test
// ---------------------------------------------------------------------------------------------------

/// A decoder under test, with the families `core/src/family.rs` gives it.
trait Decoder: Codec + Clone + Debug + PartialEq {
    /// The families whose frames it decodes.
    const FAMILIES: &'static [u8];
    /// True for a composite, which refuses a foreign frame with `UnknownFamily` (a leaf: `WrongFamily`).
    const COMPOSITE: bool = false;
}

impl Decoder for MembershipMessage {
    const FAMILIES: &'static [u8] = &[family::MEMBERSHIP_MESSAGE];
}
impl Decoder for MembershipRequest {
    const FAMILIES: &'static [u8] = &[family::MEMBERSHIP_REQUEST];
}
impl Decoder for MembershipResponse {
    const FAMILIES: &'static [u8] = &[family::MEMBERSHIP_RESPONSE];
}
impl Decoder for MetadataMessage {
    const FAMILIES: &'static [u8] = &[family::LOG_MESSAGE];
}
impl Decoder for MetadataRequest {
    const FAMILIES: &'static [u8] = &[family::LOG_REQUEST];
}
impl Decoder for MetadataResponse {
    const FAMILIES: &'static [u8] = &[family::LOG_RESPONSE];
}
impl Decoder for NodeRequest {
    const FAMILIES: &'static [u8] = &[family::NODE_REQUEST];
}
impl Decoder for NodeResponse {
    const FAMILIES: &'static [u8] = &[family::NODE_RESPONSE];
}
impl Decoder for ObjectMessage {
    const FAMILIES: &'static [u8] = &[family::OBJECT_MESSAGE];
}
impl Decoder for ObjectRequest {
    const FAMILIES: &'static [u8] = &[family::OBJECT_REQUEST];
}
impl Decoder for ObjectResponse {
    const FAMILIES: &'static [u8] = &[family::OBJECT_RESPONSE];
}
impl Decoder for DhtMessage {
    const FAMILIES: &'static [u8] = &[family::DHT_MESSAGE];
}
impl Decoder for DhtRequest {
    const FAMILIES: &'static [u8] = &[family::DHT_REQUEST];
}
impl Decoder for DhtResponse {
    const FAMILIES: &'static [u8] = &[family::DHT_RESPONSE];
}
impl Decoder for PangeaMessage {
    const FAMILIES: &'static [u8] =
        &[family::MEMBERSHIP_MESSAGE, family::LOG_MESSAGE, family::OBJECT_MESSAGE, family::DHT_MESSAGE];
    const COMPOSITE: bool = true;
}
impl Decoder for PangeaRequest {
    const FAMILIES: &'static [u8] = &[
        family::NODE_REQUEST,
        family::MEMBERSHIP_REQUEST,
        family::LOG_REQUEST,
        family::OBJECT_REQUEST,
        family::DHT_REQUEST,
    ];
    const COMPOSITE: bool = true;
}
impl Decoder for PangeaResponse {
    const FAMILIES: &'static [u8] = &[
        family::NODE_RESPONSE,
        family::MEMBERSHIP_RESPONSE,
        family::LOG_RESPONSE,
        family::OBJECT_RESPONSE,
        family::DHT_RESPONSE,
    ];
    const COMPOSITE: bool = true;
}

/// Runs `$check::<T>(arguments)?` for every decoder of outside bytes core has.
macro_rules! for_every_decoder {
    ($check:ident($($argument:expr),* $(,)?)) => {{
        $check::<MembershipMessage>($($argument),*)?;
        $check::<MembershipRequest>($($argument),*)?;
        $check::<MembershipResponse>($($argument),*)?;
        $check::<MetadataMessage>($($argument),*)?;
        $check::<MetadataRequest>($($argument),*)?;
        $check::<MetadataResponse>($($argument),*)?;
        $check::<NodeRequest>($($argument),*)?;
        $check::<NodeResponse>($($argument),*)?;
        $check::<ObjectMessage>($($argument),*)?;
        $check::<ObjectRequest>($($argument),*)?;
        $check::<ObjectResponse>($($argument),*)?;
        $check::<DhtMessage>($($argument),*)?;
        $check::<DhtRequest>($($argument),*)?;
        $check::<DhtResponse>($($argument),*)?;
        $check::<PangeaMessage>($($argument),*)?;
        $check::<PangeaRequest>($($argument),*)?;
        $check::<PangeaResponse>($($argument),*)?;
    }};
}

// ---------------------------------------------------------------------------------------------------
// Strategies: arbitrary values of every variant
// ---------------------------------------------------------------------------------------------------

/// Any node id.
fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 32]>().prop_map(NodeId)
}

/// A few node ids, neither sorted nor distinct (the decoder does not care).
fn node_ids() -> impl Strategy<Value = Vec<NodeId>> {
    vec(node_id(), 0..6)
}

/// Bytes, mostly short, now and then a few KB.
fn blob() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![8 => vec(any::<u8>(), 0..32), 1 => vec(any::<u8>(), 0..4096)]
}

/// Any text, including multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    ".{0,40}"
}

/// Any ballot.
fn ballot() -> impl Strategy<Value = Ballot> {
    (any::<u64>(), node_id()).prop_map(|(round, node)| Ballot { round, node })
}

/// Any configuration.
fn members() -> impl Strategy<Value = Members> {
    (any::<u64>(), node_ids()).prop_map(|(epoch, nodes)| Members { epoch, nodes })
}

/// Any records operation.
fn kv_op() -> impl Strategy<Value = KvOp> {
    prop_oneof![
        (blob(), blob()).prop_map(|(key, value)| KvOp::Put { key, value }),
        blob().prop_map(|key| KvOp::Get { key }),
        blob().prop_map(|key| KvOp::Remove { key }),
        (blob(), proptest::option::of(blob()), proptest::option::of(blob()))
            .prop_map(|(key, expected, new)| KvOp::CompareAndSet { key, expected, new }),
    ]
}

/// Any directory change.
fn directory_op() -> impl Strategy<Value = DirectoryOp> {
    prop_oneof![
        (node_id(), text()).prop_map(|(node, address)| DirectoryOp::Register { node, address }),
        node_id().prop_map(|node| DirectoryOp::Forget { node }),
    ]
}

/// Any object id.
fn object_id() -> impl Strategy<Value = ObjectId> {
    any::<[u8; 32]>().prop_map(ObjectId)
}

/// Any shard's place.
fn shard_key() -> impl Strategy<Value = ShardKey> {
    (object_id(), any::<u32>(), any::<u8>()).prop_map(|(object, chunk, shard)| ShardKey { object, chunk, shard })
}

/// A few shard hashes.
fn shard_hashes() -> impl Strategy<Value = Vec<ShardHash>> {
    vec(any::<[u8; 32]>().prop_map(ShardHash), 0..7)
}

/// Any chunk entry (the codec does not check it against its manifest).
fn chunk_entry() -> impl Strategy<Value = ChunkEntry> {
    (any::<u32>(), any::<bool>(), any::<u32>(), shard_hashes(), node_ids()).prop_map(
        |(plain_len, compressed, sealed_len, shard_hashes, holders)| ChunkEntry {
            plain_len,
            compressed,
            sealed_len,
            shard_hashes,
            holders,
        },
    )
}

/// Any manifest, well-formed or not (the state machine refuses a malformed one when applied).
fn manifest() -> impl Strategy<Value = Manifest> {
    (object_id(), any::<u64>(), any::<[u8; 32]>(), any::<(u8, u8, u32, u64)>(), vec(chunk_entry(), 0..4)).prop_map(
        |(object, size, content_hash, (data_shards, parity_shards, chunk_bytes, commit_by), chunks)| Manifest {
            version: FORMAT_VERSION,
            object,
            size,
            content_hash,
            data_shards,
            parity_shards,
            chunk_bytes,
            commit_by,
            chunks,
        },
    )
}

/// Any change to the manifests.
fn objects_op() -> impl Strategy<Value = ObjectsOp> {
    prop_oneof![
        manifest().prop_map(|manifest| ObjectsOp::Put(Box::new(manifest))),
        object_id().prop_map(ObjectsOp::Delete)
    ]
}

/// Any metadata command.
fn metadata_command() -> impl Strategy<Value = MetadataCommand> {
    prop_oneof![
        kv_op().prop_map(MetadataCommand::Records),
        directory_op().prop_map(MetadataCommand::Directory),
        objects_op().prop_map(MetadataCommand::Objects),
        parts::graph_op().prop_map(MetadataCommand::Graph),
        parts::events_op().prop_map(MetadataCommand::Events),
    ]
}

/// Any error of the pipeline a message may carry.
fn ces_error() -> impl Strategy<Value = CesError> {
    prop_oneof![
        any::<u32>().prop_map(|chunk| CesError::WrongKey { chunk }),
        any::<(u32, u32, u32)>().prop_map(|(chunk, good, needed)| CesError::CorruptBeyondRepair {
            chunk,
            good,
            needed
        }),
        any::<(u64, u64)>().prop_map(|(bytes, max)| CesError::TooLarge { bytes, max }),
    ]
}

/// Any object-store failure.
fn object_error() -> impl Strategy<Value = ObjectError> {
    prop_oneof![
        any::<(u32, u32)>().prop_map(|(live, needed)| ObjectError::NotEnoughPeers { live, needed }),
        any::<(u32, u32, u32)>().prop_map(|(chunk, durable, needed)| ObjectError::StoreTimedOut {
            chunk,
            durable,
            needed
        }),
        any::<(u32, u32, u32)>().prop_map(|(chunk, good, needed)| ObjectError::Unavailable { chunk, good, needed }),
        ces_error().prop_map(ObjectError::Ces),
        prop_oneof![
            Just(BadRequest::PieceOutOfRange),
            Just(BadRequest::PieceMismatch),
            Just(BadRequest::EntryMismatch)
        ]
        .prop_map(ObjectError::BadRequest),
        Just(ObjectError::GatewayBehind),
        Just(ObjectError::Busy),
    ]
}

/// Any object-store peer message.
fn object_message() -> impl Strategy<Value = ObjectMessage> {
    let outcome = prop_oneof![Just(StoreOutcome::Durable), Just(StoreOutcome::Refused), Just(StoreOutcome::Expired)];
    let why = prop_oneof![Just(Unavailable::NotHere), Just(Unavailable::Corrupt), Just(Unavailable::Storage)];
    prop_oneof![
        (shard_key(), any::<[u8; 32]>(), any::<(u64, u32, u32)>(), blob()).prop_map(
            |(key, hash, (commit_by, total, offset), bytes)| ObjectMessage::Store {
                key,
                hash: ShardHash(hash),
                commit_by,
                total,
                offset,
                bytes
            }
        ),
        (shard_key(), outcome).prop_map(|(key, outcome)| ObjectMessage::Stored { key, outcome }),
        (shard_key(), any::<(u32, u64)>()).prop_map(|(key, (wanted, tag))| ObjectMessage::Fetch { key, wanted, tag }),
        (shard_key(), any::<(u64, u32, u32)>(), blob())
            .prop_map(|(key, (tag, total, offset), bytes)| ObjectMessage::Piece { key, tag, total, offset, bytes }),
        (shard_key(), any::<u64>(), why).prop_map(|(key, tag, why)| ObjectMessage::Missing { key, tag, why }),
        (object_id(), any::<(u32, u64)>()).prop_map(|(object, (chunk, tag))| ObjectMessage::Inventory {
            object,
            chunk,
            tag
        }),
        (object_id(), any::<(u32, u64)>(), blob()).prop_map(|(object, (chunk, tag), shards)| ObjectMessage::Holding {
            object,
            chunk,
            tag,
            shards
        }),
    ]
}

/// Any request to the object store.
fn object_request() -> impl Strategy<Value = ObjectRequest> {
    prop_oneof![
        (object_id(), any::<(u32, u8, u8, u32, u32)>(), blob()).prop_map(
            |(object, (chunk, data_shards, parity_shards, sealed_len, offset), bytes)| ObjectRequest::PutPiece {
                object,
                chunk,
                data_shards,
                parity_shards,
                sealed_len,
                offset,
                bytes
            }
        ),
        (object_id(), chunk_entry(), any::<(u32, u8, u8, u32, u32)>()).prop_map(
            |(object, entry, (chunk, data_shards, parity_shards, offset, len))| ObjectRequest::GetPiece {
                object,
                chunk,
                entry: Box::new(entry),
                data_shards,
                parity_shards,
                offset,
                len
            }
        ),
        (object_id(), any::<u32>()).prop_map(|(object, chunk)| ObjectRequest::Locate { object, chunk }),
    ]
}

/// Any answer of the object store.
fn object_response() -> impl Strategy<Value = ObjectResponse> {
    let stored = (any::<(u32, u64)>(), shard_hashes(), node_ids()).prop_map(
        |((sealed_len, commit_by), shard_hashes, holders)| StoredChunk { sealed_len, shard_hashes, holders, commit_by },
    );
    prop_oneof![
        any::<(u32, u32)>().prop_map(|(chunk, received)| ObjectResponse::PieceTaken { chunk, received }),
        (any::<u32>(), stored).prop_map(|(chunk, stored)| ObjectResponse::ChunkStored { chunk, stored }),
        (any::<(u32, u32)>(), blob()).prop_map(|((chunk, offset), bytes)| ObjectResponse::Piece {
            chunk,
            offset,
            bytes
        }),
        (any::<u32>(), vec((node_id(), blob()), 0..6), node_ids())
            .prop_map(|(chunk, holders, silent)| ObjectResponse::Located { chunk, holders, silent }),
        object_error().prop_map(ObjectResponse::Failed),
    ]
}

/// Any metadata output.
fn metadata_output() -> impl Strategy<Value = MetadataOutput> {
    let records = prop_oneof![
        Just(KvResult::Done),
        proptest::option::of(blob()).prop_map(KvResult::Value),
        (any::<bool>(), proptest::option::of(blob()))
            .prop_map(|(succeeded, found)| KvResult::CompareAndSet { succeeded, found }),
    ];
    let directory = prop_oneof![Just(DirectoryResult::Done), Just(DirectoryResult::Full)];
    let refused = prop_oneof![
        Just(PutRefused::Exists),
        Just(PutRefused::Deleted),
        any::<(u64, u64)>().prop_map(|(commit_by, applied)| PutRefused::Late { commit_by, applied }),
        Just(PutRefused::Full),
    ];
    let objects = prop_oneof![
        Just(ObjectsResult::Stored),
        refused.prop_map(ObjectsResult::Refused),
        any::<bool>().prop_map(|existed| ObjectsResult::Deleted { existed }),
    ];
    prop_oneof![
        records.prop_map(MetadataOutput::Records),
        directory.prop_map(MetadataOutput::Directory),
        objects.prop_map(MetadataOutput::Objects),
        parts::graph_result().prop_map(MetadataOutput::Graph),
        parts::events_result().prop_map(MetadataOutput::Events),
    ]
}

/// Any metadata query.
fn metadata_query() -> impl Strategy<Value = MetadataQuery> {
    let objects = prop_oneof![
        object_id().prop_map(ObjectsQuery::Manifest),
        (proptest::option::of(object_id()), any::<u32>())
            .prop_map(|(after, limit)| ObjectsQuery::List { after, limit }),
    ];
    prop_oneof![
        blob().prop_map(MetadataQuery::Record),
        Just(MetadataQuery::Directory),
        objects.prop_map(MetadataQuery::Objects),
        parts::graph_query().prop_map(MetadataQuery::Graph),
        parts::events_query().prop_map(MetadataQuery::Events),
    ]
}

/// Any answer to a metadata query.
fn metadata_answer() -> impl Strategy<Value = MetadataAnswer> {
    prop_oneof![
        proptest::option::of(blob()).prop_map(MetadataAnswer::Record),
        vec((node_id(), text()), 0..6).prop_map(MetadataAnswer::Directory),
        proptest::option::of(manifest())
            .prop_map(|manifest| MetadataAnswer::Objects(ObjectsAnswer::Manifest(manifest.map(Box::new)))),
        vec((object_id(), any::<(u64, u32)>()), 0..4).prop_map(|list| MetadataAnswer::Objects(ObjectsAnswer::List(
            list.into_iter().map(|(object, (size, chunks))| ObjectSummary { object, size, chunks }).collect()
        ))),
        parts::graph_answer().prop_map(MetadataAnswer::Graph),
        parts::events_answer().prop_map(MetadataAnswer::Events),
    ]
}

/// Any log entry, of every command kind.
fn entry() -> impl Strategy<Value = Entry<MetadataCommand>> {
    let command = prop_oneof![
        Just(Command::Noop),
        Just(Command::OpenSession),
        (any::<u64>(), any::<u64>(), metadata_command()).prop_map(|(client, sequence, command)| Command::Client {
            client,
            sequence,
            command
        }),
        (any::<u64>(), any::<u64>(), any::<u64>(), node_ids())
            .prop_map(|(client, sequence, epoch, members)| Command::Reconfigure { client, sequence, epoch, members }),
    ];
    (any::<i64>(), any::<[u8; 16]>(), command)
        .prop_map(|(wall_nanos, hash, command)| Entry { id: EntryId { wall_nanos, hash }, command })
}

/// A batch of entries.
fn entries() -> impl Strategy<Value = Vec<Entry<MetadataCommand>>> {
    vec(entry(), 0..6)
}

/// Any judgement of a member.
fn update() -> impl Strategy<Value = Update> {
    let judgement = prop_oneof![
        Just(Judgement::Alive),
        any::<[u8; 32]>().prop_map(|by| Judgement::Suspect { by: NodeId(by) }),
        any::<[u8; 32]>().prop_map(|by| Judgement::Dead { by: NodeId(by) }),
    ];
    (any::<[u8; 32]>(), any::<u64>(), judgement).prop_map(|(node, incarnation, judgement)| Update {
        node: NodeId(node),
        incarnation,
        judgement,
    })
}

/// Any membership peer message.
fn membership_message() -> impl Strategy<Value = MembershipMessage> {
    let kind = prop_oneof![
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(sequence, boot, sent_at_nanos)| MessageKind::Ping {
            sequence,
            boot,
            sent_at_nanos
        }),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(sequence, echo_boot, echo_sent_at_nanos)| {
            MessageKind::Ack { sequence, echo_boot, echo_sent_at_nanos }
        }),
        (any::<u64>(), any::<[u8; 32]>())
            .prop_map(|(sequence, target)| MessageKind::PingRequest { sequence, target: NodeId(target) }),
        (any::<u64>(), any::<[u8; 32]>(), any::<u64>()).prop_map(|(sequence, target, target_incarnation)| {
            MessageKind::IndirectAck { sequence, target: NodeId(target), target_incarnation }
        }),
        (any::<u64>(), any::<[u8; 32]>())
            .prop_map(|(sequence, target)| MessageKind::Nack { sequence, target: NodeId(target) }),
        Just(MessageKind::Gossip),
        (any::<bool>(), vec(update(), 0..6)).prop_map(|(reply, members)| MessageKind::Sync { reply, members }),
    ];
    (any::<u64>(), vec(update(), 0..6), kind).prop_map(|(incarnation, gossip, kind)| MembershipMessage {
        incarnation,
        gossip,
        kind,
    })
}

/// Any membership request.
fn membership_request() -> impl Strategy<Value = MembershipRequest> {
    Just(MembershipRequest::Status)
}

/// Any peer as a status shows it.
fn peer_view() -> impl Strategy<Value = PeerView> {
    let health = prop_oneof![Just(Health::Alive), Just(Health::Suspect), Just(Health::Dead)];
    (node_id(), health, any::<Option<u64>>()).prop_map(|(id, health, rtt_micros)| PeerView { id, health, rtt_micros })
}

/// Any membership response.
fn membership_response() -> impl Strategy<Value = MembershipResponse> {
    (any::<u64>(), vec(peer_view(), 0..6)).prop_map(|(boot, peers)| MembershipResponse::Status { boot, peers })
}

/// Any metadata log peer message, of every variant.
fn log_message() -> impl Strategy<Value = MetadataMessage> {
    prop_oneof![
        (ballot(), any::<u64>()).prop_map(|(ballot, from_slot)| LogMessage::Prepare { ballot, from_slot }),
        (ballot(), any::<u64>(), members(), vec((any::<u64>(), ballot(), entry()), 0..6), any::<Option<u64>>())
            .prop_map(|(ballot, snapshot_index, snapshot_members, accepted, more_from)| LogMessage::Promise {
                ballot,
                snapshot_index,
                snapshot_members,
                accepted,
                more_from
            }),
        (ballot(), any::<u64>(), entries(), any::<u64>()).prop_map(|(ballot, first_slot, entries, commit_index)| {
            LogMessage::Accept { ballot, first_slot, entries, commit_index }
        }),
        (ballot(), any::<u64>(), any::<u64>()).prop_map(|(ballot, first_slot, count)| LogMessage::Accepted {
            ballot,
            first_slot,
            count
        }),
        (ballot(), ballot()).prop_map(|(ballot, promised)| LogMessage::Reject { ballot, promised }),
        (ballot(), any::<u64>(), any::<u64>()).prop_map(|(ballot, commit_index, read_round)| LogMessage::Heartbeat {
            ballot,
            commit_index,
            read_round
        }),
        (ballot(), any::<u64>()).prop_map(|(ballot, read_round)| LogMessage::HeartbeatAck { ballot, read_round }),
        any::<u64>().prop_map(|from_slot| LogMessage::CatchUp { from_slot }),
        (any::<u64>(), entries()).prop_map(|(first_slot, entries)| LogMessage::Chosen { first_slot, entries }),
        (any::<u64>(), any::<u64>(), any::<[u8; 32]>(), any::<u64>(), blob()).prop_map(
            |(index, total_bytes, digest, offset, data)| LogMessage::SnapshotChunk {
                index,
                total_bytes,
                digest,
                offset,
                data
            }
        ),
        (any::<u64>(), any::<u64>()).prop_map(|(index, offset)| LogMessage::SnapshotRequest { index, offset }),
        any::<u64>().prop_map(|round| LogMessage::PreVote { round }),
        (any::<u64>(), any::<bool>()).prop_map(|(round, granted)| LogMessage::PreVoteReply { round, granted }),
    ]
}

/// Any membership change.
fn member_change() -> impl Strategy<Value = MemberChange> {
    prop_oneof![node_id().prop_map(MemberChange::Add), node_id().prop_map(MemberChange::Remove)]
}

/// Any request to the metadata log, of every variant.
fn log_request() -> impl Strategy<Value = MetadataRequest> {
    prop_oneof![
        Just(MetadataRequest::OpenSession),
        (any::<u64>(), any::<u64>(), metadata_command())
            .prop_map(|(client, sequence, command)| MetadataRequest::Command { client, sequence, command }),
        metadata_query().prop_map(MetadataRequest::Query),
        metadata_query().prop_map(MetadataRequest::Read),
        (any::<u64>(), any::<u64>(), member_change())
            .prop_map(|(client, sequence, change)| MetadataRequest::ChangeMembers { client, sequence, change }),
        Just(MetadataRequest::Status),
    ]
}

/// Any replica status.
fn replica_status() -> impl Strategy<Value = ReplicaStatus> {
    (
        members(),
        proptest::option::of(node_id()),
        any::<bool>(),
        ballot(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(members, leader, leading, promised, commit_index, applied_index, snapshot_index, sessions)| {
            ReplicaStatus { members, leader, leading, promised, commit_index, applied_index, snapshot_index, sessions }
        })
}

/// Any answer of the metadata log, of every variant.
fn log_response() -> impl Strategy<Value = MetadataResponse> {
    let part = prop_oneof![Just(Part::Key), Just(Part::Value), Just(Part::Command)];
    let invalid = (part, any::<u64>(), any::<u64>()).prop_map(|(part, bytes, limit)| InvalidCommand::TooLarge {
        part,
        bytes,
        limit,
    });
    let refused = prop_oneof![
        Just(MemberChangeRefused::AlreadyMember),
        Just(MemberChangeRefused::NotMember),
        Just(MemberChangeRefused::LastMember),
        Just(MemberChangeRefused::TooMany),
    ];
    prop_oneof![
        (any::<u64>(), any::<u64>(), metadata_output()).prop_map(|(client, sequence, output)| MetadataResponse::Done {
            client,
            sequence,
            output
        }),
        (any::<u64>(), any::<u64>(), any::<bool>(), members()).prop_map(|(client, sequence, changed, members)| {
            MetadataResponse::MembersChanged { client, sequence, changed, members }
        }),
        any::<u64>().prop_map(|client| MetadataResponse::SessionOpened { client }),
        any::<u64>().prop_map(|client| MetadataResponse::SessionExpired { client }),
        proptest::option::of(node_id()).prop_map(|leader| MetadataResponse::NotLeader { leader }),
        proptest::option::of(node_id()).prop_map(|leader| MetadataResponse::Unknown { leader }),
        Just(MetadataResponse::Busy),
        invalid.prop_map(MetadataResponse::Invalid),
        (refused, members()).prop_map(|(why, members)| MetadataResponse::ChangeRefused { why, members }),
        (metadata_answer(), any::<u64>())
            .prop_map(|(answer, applied_index)| MetadataResponse::Answer { answer, applied_index }),
        replica_status().prop_map(MetadataResponse::Status),
    ]
}

/// Any node-level request.
fn node_request() -> impl Strategy<Value = NodeRequest> {
    prop_oneof![Just(NodeRequest::Status), Just(NodeRequest::Hello)]
}

/// Any node-level answer.
fn node_response() -> impl Strategy<Value = NodeResponse> {
    let storage = prop_oneof![
        Just(StorageStatus::Healthy),
        (any::<i64>(), text(), any::<u32>()).prop_map(|(since, cause, reopens)| StorageStatus::Failing {
            since: WallTime::from_unix_nanos(i128::from(since)),
            cause,
            reopens
        }),
    ];
    let view =
        (node_id(), any::<u64>(), replica_status(), vec(peer_view(), 0..6), vec((node_id(), text()), 0..6), storage)
            .prop_map(|(node, boot, log, peers, directory, storage)| NodeView {
                node,
                boot,
                log,
                peers,
                directory,
                storage,
            });
    prop_oneof![
        view.prop_map(|view| NodeResponse::Status(Box::new(view))),
        (node_id(), node_ids()).prop_map(|(node, genesis)| NodeResponse::Hello { node, genesis }),
        (node_id(), text()).prop_map(|(node, cause)| NodeResponse::CannotWrite { node, cause }),
    ]
}

/// Any message between Pangea nodes.
fn pangea_message() -> impl Strategy<Value = PangeaMessage> {
    prop_oneof![
        membership_message().prop_map(PangeaMessage::from),
        log_message().prop_map(PangeaMessage::from),
        object_message().prop_map(PangeaMessage::from),
        dht::dht_message().prop_map(PangeaMessage::from),
    ]
}

/// Any client request to a Pangea node.
fn pangea_request() -> impl Strategy<Value = PangeaRequest> {
    prop_oneof![
        node_request().prop_map(PangeaRequest::from),
        membership_request().prop_map(PangeaRequest::from),
        log_request().prop_map(PangeaRequest::from),
        object_request().prop_map(PangeaRequest::from),
        dht::dht_request().prop_map(PangeaRequest::from),
    ]
}

/// Any answer of a Pangea node.
fn pangea_response() -> impl Strategy<Value = PangeaResponse> {
    prop_oneof![
        node_response().prop_map(PangeaResponse::from),
        membership_response().prop_map(PangeaResponse::from),
        log_response().prop_map(PangeaResponse::from),
        object_response().prop_map(PangeaResponse::from),
        dht::dht_response().prop_map(PangeaResponse::from),
    ]
}

/// The frame of an arbitrary value of any type core decodes (a composite's frames are its parts').
fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        pangea_message().prop_map(|message| encode(&message)),
        pangea_request().prop_map(|request| encode(&request)),
        pangea_response().prop_map(|response| encode(&response)),
    ]
}

/// A family byte: mostly one Pangea uses, sometimes any.
fn any_family() -> impl Strategy<Value = u8> {
    let known: Vec<u8> = family::FAMILIES.iter().map(|(number, _)| *number).collect();
    prop_oneof![3 => prop::sample::select(known), 1 => any::<u8>()]
}

/// One edit of a payload, for frames resealed around it.
#[derive(Clone, Debug)]
enum Edit {
    /// Flips bit `.1` of a byte.
    Flip(Index, u8),
    /// Overwrites a byte.
    Set(Index, u8),
    /// Inserts a byte.
    Insert(Index, u8),
    /// Removes a byte.
    Remove(Index),
    /// Cuts the payload short.
    Truncate(Index),
    /// Appends bytes.
    Append(Vec<u8>),
}

/// Any payload edit.
fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), 0_u8..8).prop_map(|(at, bit)| Edit::Flip(at, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Edit::Set(at, byte)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert(at, byte)),
        1 => any::<Index>().prop_map(Edit::Remove),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => vec(any::<u8>(), 1..16).prop_map(Edit::Append),
    ]
}

/// Applies `edit` to `payload` (edits of a byte do nothing to an empty payload).
fn apply(edit: &Edit, payload: &mut Vec<u8>) {
    let length = payload.len();
    match edit {
        Edit::Insert(at, byte) => payload.insert(at.index(length + 1), *byte),
        Edit::Append(bytes) => payload.extend_from_slice(bytes),
        _ if length == 0 => {}
        Edit::Flip(at, bit) => payload[at.index(length)] ^= 1 << bit,
        Edit::Set(at, byte) => payload[at.index(length)] = *byte,
        Edit::Remove(at) => {
            payload.remove(at.index(length));
        }
        Edit::Truncate(at) => payload.truncate(at.index(length)),
    }
}

// ---------------------------------------------------------------------------------------------------
// Frames and checks
// ---------------------------------------------------------------------------------------------------

/// `value`'s frame; test values are far below the frame limit, so encoding cannot fail.
fn encode<T: Codec + Debug>(value: &T) -> Vec<u8> {
    value.encode().unwrap_or_else(|error| panic!("{value:?} does not encode: {error}"))
}

/// A valid frame of `family` and `schema_version` around `payload`: magic, frame version, length and
/// checksum all right, whatever the payload holds.
fn seal(family: u8, schema_version: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len() + FRAME_CHECKSUM_BYTES);
    frame.extend_from_slice(&FRAME_MAGIC);
    frame.push(FRAME_VERSION);
    frame.push(family);
    frame.extend_from_slice(&schema_version.to_le_bytes());
    let length = u32::try_from(payload.len()).expect("test payloads are small");
    frame.extend_from_slice(&length.to_le_bytes());
    frame.extend_from_slice(payload);
    let checksum = xxh3_64(&frame);
    frame.extend_from_slice(&checksum.to_le_bytes());
    frame
}

/// The family, schema version and payload of a well-formed frame.
fn unseal(frame: &[u8]) -> (u8, u16, &[u8]) {
    (frame[3], u16::from_le_bytes([frame[4], frame[5]]), &frame[FRAME_HEADER_BYTES..frame.len() - FRAME_CHECKSUM_BYTES])
}

/// A frame of every leaf type, so of every family core decodes, built from fixed values.
fn leaf_frames() -> Vec<Vec<u8>> {
    let node = NodeId::for_index(1);
    vec![
        encode(&MembershipMessage {
            incarnation: 1,
            gossip: vec![Update { node, incarnation: 1, judgement: Judgement::Alive }],
            kind: MessageKind::Ping { sequence: 1, boot: 1, sent_at_nanos: 1 },
        }),
        encode(&MembershipRequest::Status),
        encode(&MembershipResponse::Status { boot: 1, peers: Vec::new() }),
        encode(&MetadataMessage::CatchUp { from_slot: 1 }),
        encode(&MetadataRequest::Status),
        encode(&MetadataResponse::Busy),
        encode(&NodeRequest::Hello),
        encode(&NodeResponse::Hello { node, genesis: vec![node] }),
        encode(&ObjectMessage::Inventory { object: ObjectId([1; 32]), chunk: 0, tag: 1 }),
        encode(&ObjectRequest::Locate { object: ObjectId([1; 32]), chunk: 0 }),
        encode(&ObjectResponse::Failed(ObjectError::Busy)),
        encode(&DhtMessage { query: 1, address: None, body: pangea_core::dht::DhtBody::Ping }),
        encode(&DhtRequest::Table),
        encode(&DhtResponse::Stored { replicas: 1 }),
    ]
}

/// The schema version core writes for `family` (1 for a family core does not decode).
fn schema_version_of(family: u8) -> u16 {
    leaf_frames()
        .iter()
        .map(|frame| unseal(frame))
        .find(|(owner, _, _)| *owner == family)
        .map_or(1, |(_, version, _)| version)
}

/// The error `T` must give for an intact frame of `family`, which it does not own.
fn foreign_family_error<T: Decoder>(found: u8) -> CodecError {
    if T::COMPOSITE {
        CodecError::UnknownFamily { found }
    } else {
        CodecError::WrongFamily { expected: T::FAMILIES[0], found }
    }
}

/// Encodes `value`, checks that the frame is the one [`seal`] makes of its header and payload (so
/// the reference checksum agrees with the codec's) and that it decodes back to `value`; returns it.
fn round_trips<T: Decoder>(value: &T) -> Result<Vec<u8>, TestCaseError> {
    let frame = value.encode().map_err(|error| TestCaseError::fail(format!("{value:?} does not encode: {error}")))?;
    let (family, schema_version, payload) = unseal(&frame);
    prop_assert!(T::FAMILIES.contains(&family), "{} wrote a frame of family {family}", type_name::<T>());
    prop_assert_eq!(&seal(family, schema_version, payload), &frame, "frame layout or checksum differs");
    prop_assert_eq!(T::decode(&frame), Ok(value.clone()));
    Ok(frame)
}

/// Checks that `T` refuses `bytes` with `expected`.
fn refuses_with<T: Decoder>(bytes: &[u8], expected: &CodecError) -> Checked {
    prop_assert_eq!(&T::decode(bytes).map(|_| ()), &Err(expected.clone()), "decoded as {}", type_name::<T>());
    Ok(())
}

/// Checks that `T` refuses `bytes` (which, not made by the codec, pass its checks with a chance below
/// 2^-64: magic, version and length must be right and the checksum must match).
fn refuses<T: Decoder>(bytes: &[u8]) -> Checked {
    let decoded = T::decode(bytes);
    prop_assert!(decoded.is_err(), "{} accepted arbitrary bytes as {decoded:?}", type_name::<T>());
    Ok(())
}

/// Checks that `T` refuses a damaged frame at the frame level, before looking at the payload.
fn refuses_damaged<T: Decoder>(frame: &[u8]) -> Checked {
    match T::decode(frame) {
        Err(
            CodecError::TooShort { .. }
            | CodecError::BadMagic
            | CodecError::UnsupportedFrameVersion { .. }
            | CodecError::TooLarge { .. }
            | CodecError::LengthMismatch { .. }
            | CodecError::ChecksumMismatch,
        ) => Ok(()),
        other => Err(TestCaseError::fail(format!("{} made {other:?} of a damaged frame", type_name::<T>()))),
    }
}

/// Checks what `T` makes of an intact frame whose payload may hold anything: for a family it owns, a
/// value that round-trips or `Malformed`; for another family, the foreign-family error.
fn decodes_or_refuses<T: Decoder>(frame: &[u8]) -> Checked {
    let (family, _, _) = unseal(frame);
    let owned = T::FAMILIES.contains(&family);
    match T::decode(frame) {
        Ok(value) => {
            prop_assert!(owned, "{} decoded a frame of family {family}", type_name::<T>());
            round_trips(&value)?;
        }
        Err(CodecError::Malformed(_)) => prop_assert!(owned, "{} read a family {family} payload", type_name::<T>()),
        Err(error) => prop_assert_eq!(error, foreign_family_error::<T>(family), "as {}", type_name::<T>()),
    }
    Ok(())
}

/// Checks that `T` accepts exactly its families.
fn accepts_its_families<T: Decoder>() -> Checked {
    for family in 0..=u8::MAX {
        prop_assert_eq!(T::accepts(family), T::FAMILIES.contains(&family), "{} and {}", type_name::<T>(), family);
    }
    Ok(())
}

/// Checks that `T` decodes each of `frames` whose family it owns, and refuses the others with the
/// foreign-family error.
fn routes<T: Decoder>(frames: &[Vec<u8>]) -> Checked {
    for frame in frames {
        let (family, _, _) = unseal(frame);
        if T::FAMILIES.contains(&family) {
            prop_assert!(T::decode(frame).is_ok(), "{} refused a frame of its family {family}", type_name::<T>());
        } else {
            refuses_with::<T>(frame, &foreign_family_error::<T>(family))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn membership_messages_round_trip(message in membership_message()) {
        round_trips(&message)?;
    }

    #[test]
    fn membership_requests_round_trip(request in membership_request()) {
        round_trips(&request)?;
    }

    #[test]
    fn membership_responses_round_trip(response in membership_response()) {
        round_trips(&response)?;
    }

    #[test]
    fn log_messages_round_trip(message in log_message()) {
        round_trips(&message)?;
    }

    #[test]
    fn log_requests_round_trip(request in log_request()) {
        round_trips(&request)?;
    }

    #[test]
    fn log_responses_round_trip(response in log_response()) {
        round_trips(&response)?;
    }

    #[test]
    fn node_requests_round_trip(request in node_request()) {
        round_trips(&request)?;
    }

    #[test]
    fn node_responses_round_trip(response in node_response()) {
        round_trips(&response)?;
    }

    #[test]
    fn object_messages_round_trip(message in object_message()) {
        round_trips(&message)?;
    }

    #[test]
    fn object_requests_round_trip(request in object_request()) {
        round_trips(&request)?;
    }

    #[test]
    fn object_responses_round_trip(response in object_response()) {
        round_trips(&response)?;
    }

    #[test]
    fn dht_messages_round_trip(message in dht::dht_message()) {
        round_trips(&message)?;
    }

    #[test]
    fn dht_requests_round_trip(request in dht::dht_request()) {
        round_trips(&request)?;
    }

    #[test]
    fn dht_responses_round_trip(response in dht::dht_response()) {
        round_trips(&response)?;
    }

    #[test]
    fn pangea_messages_round_trip_as_their_parts(message in pangea_message()) {
        let frame = round_trips(&message)?;
        match &message {
            PangeaMessage::Membership(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaMessage::Log(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaMessage::Objects(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaMessage::Dht(part) => prop_assert_eq!(frame, round_trips(part)?),
        }
    }

    #[test]
    fn pangea_requests_round_trip_as_their_parts(request in pangea_request()) {
        let frame = round_trips(&request)?;
        match &request {
            PangeaRequest::Node(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaRequest::Membership(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaRequest::Log(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaRequest::Objects(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaRequest::Dht(part) => prop_assert_eq!(frame, round_trips(part)?),
        }
    }

    #[test]
    fn pangea_responses_round_trip_as_their_parts(response in pangea_response()) {
        let frame = round_trips(&response)?;
        match &response {
            PangeaResponse::Node(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaResponse::Membership(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaResponse::Log(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaResponse::Objects(part) => prop_assert_eq!(frame, round_trips(part)?),
            PangeaResponse::Dht(part) => prop_assert_eq!(frame, round_trips(part)?),
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_by_every_decoder(bytes in vec(any::<u8>(), 0..512)) {
        for_every_decoder!(refuses(&bytes));
    }

    #[test]
    fn arbitrary_bytes_behind_a_frame_magic_are_refused_by_every_decoder(bytes in vec(any::<u8>(), 0..512)) {
        let mut framed = FRAME_MAGIC.to_vec();
        framed.push(FRAME_VERSION);
        framed.extend_from_slice(&bytes);
        for_every_decoder!(refuses(&framed));
    }

    #[test]
    fn frames_with_a_wrong_checksum_are_refused_by_every_decoder(
        family in any_family(),
        schema_version: u16,
        payload in vec(any::<u8>(), 0..512),
        checksum: u64,
    ) {
        let mut frame = seal(family, schema_version, &payload);
        let body = frame.len() - FRAME_CHECKSUM_BYTES;
        let checksum = if frame[body..] == checksum.to_le_bytes() { !checksum } else { checksum };
        frame[body..].copy_from_slice(&checksum.to_le_bytes());
        for_every_decoder!(refuses_with(&frame, &CodecError::ChecksumMismatch));
    }

}

/// Cases of the tests that draw a frame or family of any type, so that each type gets a few hundred.
const FRAME_CASES: u32 = 2048;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(FRAME_CASES))]

    #[test]
    fn truncated_frames_are_refused_by_every_decoder(frame in any_frame(), cut: Index) {
        let cut = cut.index(frame.len());
        let minimum = FRAME_HEADER_BYTES + FRAME_CHECKSUM_BYTES;
        let expected = if cut < minimum {
            CodecError::TooShort { length: cut, minimum }
        } else {
            CodecError::LengthMismatch { declared: frame.len() - minimum, actual: cut - minimum }
        };
        for_every_decoder!(refuses_with(&frame[..cut], &expected));
    }

    #[test]
    fn frames_with_a_flipped_bit_are_refused_by_every_decoder(frame in any_frame(), bit: Index) {
        let bit = bit.index(frame.len() * 8);
        let mut flipped = frame;
        flipped[bit / 8] ^= 1 << (bit % 8);
        for_every_decoder!(refuses_damaged(&flipped));
    }

    #[test]
    fn arbitrary_payloads_in_intact_frames_never_panic(family in any_family(), payload in vec(any::<u8>(), 0..1024)) {
        let frame = seal(family, schema_version_of(family), &payload);
        for_every_decoder!(decodes_or_refuses(&frame));
    }

    #[test]
    fn edited_payloads_in_intact_frames_never_panic(frame in any_frame(), edits in vec(edit(), 1..4)) {
        let (family, schema_version, payload) = unseal(&frame);
        let mut payload = payload.to_vec();
        for edit in &edits {
            apply(edit, &mut payload);
        }
        for_every_decoder!(decodes_or_refuses(&seal(family, schema_version, &payload)));
    }
}

// ---------------------------------------------------------------------------------------------------
// Routing by family
// ---------------------------------------------------------------------------------------------------

#[test]
fn the_decoders_here_cover_every_family_core_decodes() {
    let mut covered: Vec<u8> = leaf_frames().iter().map(|frame| unseal(frame).0).collect();
    covered.sort_unstable();
    // The client envelope and reply belong to the real runtime (`node/`), not to core.
    let runtime = [family::CLIENT_ENVELOPE, family::CLIENT_REPLY];
    let core: Vec<u8> =
        family::FAMILIES.iter().map(|(number, _)| *number).filter(|number| !runtime.contains(number)).collect();
    assert_eq!(covered, core);
    let mut composite_parts: Vec<u8> =
        [PangeaMessage::FAMILIES, PangeaRequest::FAMILIES, PangeaResponse::FAMILIES].concat();
    composite_parts.sort_unstable();
    assert_eq!(composite_parts, core, "every leaf is a part of one composite");
}

#[test]
fn every_decoder_accepts_exactly_its_families() -> Checked {
    for_every_decoder!(accepts_its_families());
    Ok(())
}

#[test]
fn every_decoder_takes_its_families_and_refuses_the_others() -> Checked {
    let frames = leaf_frames();
    for_every_decoder!(routes(&frames));
    Ok(())
}

#[test]
fn a_log_message_frame_decodes_as_a_pangea_message_and_as_a_log_message() {
    let message = MetadataMessage::Heartbeat {
        ballot: Ballot { round: 3, node: NodeId::for_index(2) },
        commit_index: 9,
        read_round: 4,
    };
    let frame = encode(&PangeaMessage::Log(message.clone()));
    assert_eq!(frame, encode(&message));
    assert_eq!(PangeaMessage::decode(&frame), Ok(PangeaMessage::Log(message.clone())));
    assert_eq!(MetadataMessage::decode(&frame), Ok(message));
}

#[test]
fn a_membership_request_frame_decodes_as_the_membership_part_of_a_pangea_request() {
    let frame = encode(&MembershipRequest::Status);
    assert_eq!(PangeaRequest::decode(&frame), Ok(PangeaRequest::Membership(MembershipRequest::Status)));
}

#[test]
fn a_composite_refuses_a_family_none_of_its_parts_owns() {
    let node_response = encode(&NodeResponse::Hello { node: NodeId::for_index(1), genesis: Vec::new() });
    assert_eq!(PangeaMessage::decode(&node_response), Err(CodecError::UnknownFamily { found: family::NODE_RESPONSE }));
    assert_eq!(PangeaRequest::decode(&node_response), Err(CodecError::UnknownFamily { found: family::NODE_RESPONSE }));
    let ping = encode(&MembershipMessage {
        incarnation: 0,
        gossip: Vec::new(),
        kind: MessageKind::Ping { sequence: 1, boot: 1, sent_at_nanos: 1 },
    });
    assert_eq!(PangeaResponse::decode(&ping), Err(CodecError::UnknownFamily { found: family::MEMBERSHIP_MESSAGE }));
}

#[test]
fn a_leaf_decoder_refuses_another_familys_frame() {
    let request = encode(&MembershipRequest::Status);
    assert_eq!(
        MembershipMessage::decode(&request),
        Err(CodecError::WrongFamily { expected: family::MEMBERSHIP_MESSAGE, found: family::MEMBERSHIP_REQUEST })
    );
    let log = encode(&MetadataMessage::CatchUp { from_slot: 1 });
    assert_eq!(
        MetadataRequest::decode(&log),
        Err(CodecError::WrongFamily { expected: family::LOG_REQUEST, found: family::LOG_MESSAGE })
    );
}

/// The frame checksum: XXH3-64 with seed 0 (what the codec computes; every round trip here checks
/// that the two agree).
fn xxh3_64(input: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(input)
}

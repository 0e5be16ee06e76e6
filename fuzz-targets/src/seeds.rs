//! The seed corpus: a few valid encodings per target, made from real values with the real encoders,
//! so that the fuzzer starts past the framing and the stored corpus replays decoders' success paths
//! as well as their refusals. `tests/corpus.rs` checks that every seed still decodes and writes
//! those missing to `fuzz/corpus/TARGET/seed-NAME` when `PANGEA_WRITE_SEEDS=1` (delete a seed to write
//! it again; the identity seed is a throwaway key pair, new each time it is made).

use crate::ces::ShardInput;
use crate::records::stored;
use pangea_core::Codec;
use pangea_core::ces::{
    CesParams, ChunkEntry, FORMAT_VERSION, Manifest, MasterKey, ObjectId, ShardHash, Sharder, encode_chunk,
};
use pangea_core::dht::{DhtBody, DhtMessage, DhtRequest, DhtResponse, Key, Peer, Record};
use pangea_core::events::{EventKey, EventsOp};
use pangea_core::graph::{EntityId, GraphOp, GraphQuery, Properties, Scalar, Value};
use pangea_core::id::NodeId;
use pangea_core::log::{
    Ballot, Command, Entry, EntryId, LogMessage, LogRequest, LogResponse, MemberChange, Members, Sessions, Snapshot,
    SnapshotImage, StateMachine,
};
use pangea_core::membership::{Judgement, MembershipMessage, MembershipRequest, MessageKind, Update};
use pangea_core::metadata::manifests::ObjectsOp;
use pangea_core::metadata::records::KvOp;
use pangea_core::metadata::{Metadata, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::objects::{ObjectMessage, ObjectRequest, ShardKey, ShardRecord};
use pangea_core::pangea::{NodeRequest, NodeResponse, PangeaRequest, PangeaResponse};

/// One seed: the target it is for, a name for its file, and its bytes.
#[derive(Clone, Debug)]
pub struct Seed {
    /// The target's name.
    pub target: &'static str,
    /// The file's name, after `seed-`.
    pub name: &'static str,
    /// The input.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: &'static str, bytes: Vec<u8>) -> Seed {
    Seed { target, name, bytes }
}

fn frame<T: Codec>(value: &T) -> Vec<u8> {
    value.encode().expect("seed values encode")
}

fn node(index: u32) -> NodeId {
    NodeId::for_index(index)
}

fn ballot(round: u64) -> Ballot {
    Ballot { round, node: node(1) }
}

fn put(key: &[u8], value: &[u8]) -> MetadataCommand {
    MetadataCommand::Records(KvOp::Put { key: key.to_vec(), value: value.to_vec() })
}

fn entry(command: Command<MetadataCommand>) -> Entry<MetadataCommand> {
    Entry { id: EntryId { wall_nanos: 1_700_000_000_000_000_000, hash: [3; 16] }, command }
}

fn client_entry(sequence: u64, command: MetadataCommand) -> Entry<MetadataCommand> {
    entry(Command::Client { client: 2, sequence, command })
}

fn properties() -> Properties {
    Properties::from([
        ("name".to_owned(), Value::Scalar(Scalar::Str("Ada".to_owned()))),
        ("age".to_owned(), Value::Scalar(Scalar::Int(36))),
        ("tags".to_owned(), Value::List(vec![Scalar::Bool(true), Scalar::Bytes(vec![1, 2])])),
    ])
}

/// Metadata with something in every part, through its own commands.
fn metadata() -> Metadata {
    let mut metadata = Metadata::default();
    let event_key = EventKey { node: "sensor-1".to_owned(), signal: "temperature".to_owned(), epoch: 0 };
    let commands = [
        put(b"greeting", b"hello"),
        MetadataCommand::Graph(GraphOp::AddEntity { collection: "people".to_owned(), properties: properties() }),
        MetadataCommand::Graph(GraphOp::AddEntity { collection: "people".to_owned(), properties: Properties::new() }),
        MetadataCommand::Graph(GraphOp::AddEdge {
            from: EntityId(1),
            to: EntityId(2),
            label: "knows".to_owned(),
            properties: properties(),
        }),
        MetadataCommand::Events(EventsOp::Append { key: event_key, payload: b"21.5".to_vec() }),
        MetadataCommand::Objects(ObjectsOp::Put(Box::new(manifest()))),
    ];
    for command in &commands {
        let _ = metadata.apply(command);
    }
    metadata
}

/// A manifest of one real chunk, as an owner commits it.
fn manifest() -> Manifest {
    let chunk = chunk();
    Manifest {
        version: FORMAT_VERSION,
        object: ObjectId([5; 32]),
        size: u64::from(chunk.entry.plain_len),
        content_hash: [6; 32],
        data_shards: 2,
        parity_shards: 1,
        chunk_bytes: 64 * 1024,
        commit_by: 77,
        chunks: vec![ChunkEntry { holders: vec![node(0), node(1), node(2)], ..chunk.entry }],
    }
}

/// A real chunk sealed and cut into 2 + 1 shards.
fn chunk() -> pangea_core::ces::EncodedChunk {
    let params = CesParams { data_shards: 2, parity_shards: 1, chunk_bytes: 64 * 1024, ..CesParams::default() };
    let key = MasterKey::from_bytes([9; 32]).object_key(&ObjectId([5; 32]));
    let plain = b"a chunk of an object, long enough to be worth compressing: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    encode_chunk(&key, &ObjectId([5; 32]), 0, plain, &params, &mut Sharder::new()).expect("a chunk encodes")
}

/// Every seed of the targets of `pangea-core`, then those of the features built.
#[must_use]
pub fn seeds() -> Vec<Seed> {
    let mut seeds = core_seeds();
    #[cfg(feature = "node")]
    seeds.extend(node::seeds());
    #[cfg(feature = "scenarios")]
    seeds.extend(scenarios::seeds());
    seeds
}

fn core_seeds() -> Vec<Seed> {
    let key = Key([4; 32]);
    let record = Record { key, value: b"hello".to_vec(), publisher: node(3) };
    let peer = Peer { id: node(2), address: Some("127.0.0.1:7102".to_owned()) };
    let shard_key = ShardKey { object: ObjectId([5; 32]), chunk: 0, shard: 1 };
    let chunk = chunk();
    let members = Members::initial(&[node(0), node(1), node(2)]);
    let accept = LogMessage::Accept {
        ballot: ballot(3),
        first_slot: 10,
        entries: vec![client_entry(1, put(b"k", b"v")), entry(Command::OpenSession), entry(Command::Noop)],
        commit_index: 9,
    };
    let promise = LogMessage::<MetadataCommand>::Promise {
        ballot: ballot(4),
        snapshot_index: 5,
        snapshot_members: members.clone(),
        accepted: vec![(6, ballot(3), client_entry(2, put(b"k", b"w")))],
        more_from: Some(7),
    };
    let metadata = metadata();
    let mut sessions = Sessions::<MetadataOutput>::default();
    sessions.open(3, 16);
    let image = SnapshotImage { index: 12, members: members.clone(), sessions, state: metadata.snapshot() };
    let snapshot = Snapshot::of(&image).expect("a seed image encodes");
    vec![
        seed(
            "dht_frames",
            "find-node",
            frame(&DhtMessage { query: 7, address: None, body: DhtBody::FindNode { target: key } }),
        ),
        seed(
            "dht_frames",
            "value",
            frame(&DhtMessage {
                query: 8,
                address: Some("127.0.0.1:7101".to_owned()),
                body: DhtBody::Value { record: Some(record.clone()), closer: vec![peer.clone()] },
            }),
        ),
        seed(
            "dht_frames",
            "store",
            frame(&DhtMessage { query: 9, address: None, body: DhtBody::Store { record, ttl_ms: 3_600_000 } }),
        ),
        seed("dht_frames", "put", frame(&DhtRequest::Put { key, value: b"hello".to_vec() })),
        seed(
            "dht_frames",
            "closest",
            frame(&DhtResponse::Closest { peers: vec![node(1), node(2)], hops: 2, queried: 5 }),
        ),
        seed("log_frames", "accept", frame(&accept)),
        seed("log_frames", "promise", frame(&promise)),
        seed(
            "log_frames",
            "heartbeat",
            frame(&LogMessage::<MetadataCommand>::Heartbeat { ballot: ballot(3), commit_index: 9, read_round: 4 }),
        ),
        seed(
            "log_frames",
            "snapshot-chunk",
            frame(&LogMessage::<MetadataCommand>::SnapshotChunk {
                index: 12,
                total_bytes: snapshot.total_bytes(),
                digest: [1; 32],
                offset: 0,
                data: snapshot.chunk(0, 64),
            }),
        ),
        seed(
            "log_frames",
            "command",
            frame(&LogRequest::<MetadataCommand, MetadataQuery>::Command {
                client: 2,
                sequence: 1,
                command: put(b"k", b"v"),
            }),
        ),
        seed(
            "log_frames",
            "graph-read",
            frame(&LogRequest::<MetadataCommand, MetadataQuery>::Read(MetadataQuery::Graph(GraphQuery::Entity(
                EntityId(1),
            )))),
        ),
        seed(
            "log_frames",
            "change-members",
            frame(&LogRequest::<MetadataCommand, MetadataQuery>::ChangeMembers {
                client: 2,
                sequence: 3,
                change: MemberChange::Add(node(4)),
            }),
        ),
        seed(
            "log_frames",
            "members-changed",
            frame(&LogResponse::<MetadataOutput, pangea_core::metadata::MetadataAnswer>::MembersChanged {
                client: 2,
                sequence: 3,
                changed: true,
                members: members.clone(),
            }),
        ),
        seed("manifest_decode", "one-chunk", manifest().encode()),
        seed(
            "membership_frames",
            "ping",
            frame(&MembershipMessage {
                incarnation: 2,
                gossip: vec![Update { node: node(3), incarnation: 1, judgement: Judgement::Suspect { by: node(1) } }],
                kind: MessageKind::Ping { sequence: 5, boot: 1, sent_at_nanos: 123_456 },
            }),
        ),
        seed(
            "membership_frames",
            "sync",
            frame(&MembershipMessage {
                incarnation: 0,
                gossip: Vec::new(),
                kind: MessageKind::Sync {
                    reply: true,
                    members: vec![Update { node: node(2), incarnation: 4, judgement: Judgement::Alive }],
                },
            }),
        ),
        seed("membership_frames", "status", frame(&MembershipRequest::Status)),
        seed("metadata_images", "metadata", metadata.snapshot()),
        seed("metadata_images", "empty", Metadata::default().snapshot()),
        seed("node_frames", "status", frame(&PangeaRequest::Node(NodeRequest::Status))),
        seed(
            "node_frames",
            "hello",
            frame(&PangeaResponse::Node(NodeResponse::Hello { node: node(0), genesis: vec![node(0), node(1)] })),
        ),
        seed(
            "node_frames",
            "log-command",
            frame(&PangeaRequest::Log(LogRequest::Command { client: 2, sequence: 1, command: put(b"k", b"v") })),
        ),
        seed("node_frames", "membership", frame(&pangea_core::pangea::PangeaMessage::Log(accept))),
        seed(
            "object_frames",
            "store",
            frame(&ObjectMessage::Store {
                key: shard_key,
                hash: ShardHash([2; 32]),
                commit_by: 77,
                total: 64,
                offset: 0,
                bytes: chunk.shards[1].clone(),
            }),
        ),
        seed("object_frames", "fetch", frame(&ObjectMessage::Fetch { key: shard_key, wanted: 64, tag: 3 })),
        seed(
            "object_frames",
            "get-piece",
            frame(&ObjectRequest::GetPiece {
                object: ObjectId([5; 32]),
                chunk: 0,
                entry: Box::new(chunk.entry.clone()),
                data_shards: 2,
                parity_shards: 1,
                offset: 0,
                len: 64,
            }),
        ),
        seed(
            "shard_decode",
            "whole",
            ShardInput {
                data_shards: 2,
                parity_shards: 1,
                sealed_len: chunk.entry.sealed_len,
                shards: chunk.shards.iter().cloned().map(Some).collect(),
            }
            .to_bytes(),
        ),
        seed(
            "shard_decode",
            "one-lost",
            ShardInput {
                data_shards: 2,
                parity_shards: 1,
                sealed_len: chunk.entry.sealed_len,
                shards: vec![None, Some(chunk.shards[1].clone()), Some(chunk.shards[2].clone())],
            }
            .to_bytes(),
        ),
        seed("snapshot_images", "metadata", snapshot.bytes.as_ref().clone()),
        seed("stored_records", "promised", stored(&ballot(3))),
        seed("stored_records", "accepted", stored(&(ballot(3), client_entry(1, put(b"k", b"v"))))),
        seed(
            "stored_records",
            "chosen",
            stored(&client_entry(1, MetadataCommand::Graph(GraphOp::Evaporate { steps: 1 }))),
        ),
        seed(
            "stored_records",
            "shard-record",
            ShardRecord { hash: ShardHash([2; 32]), commit_by: 77, len: 64 }.to_bytes(),
        ),
        seed("stored_records", "shard-key", shard_key.to_bytes().to_vec()),
    ]
}

#[cfg(feature = "node")]
mod node {
    use super::{Seed, frame, node, seed};
    use crate::node::{client_stream, wal_file};
    use pangea_core::codec::encode_serde;
    use pangea_core::pangea::{NodeRequest, NodeResponse, PangeaRequest, PangeaResponse};
    use pangea_core::storage::WriteBatch;
    use pangea_node::datadir::MetaFile;
    use pangea_node::identity::{Admission, ClusterKey, Identity};
    use pangea_node::server::encode_dht_bootstrap;
    use pangea_node::wal::encode_batches;
    use pangea_node::wire::{ClientEnvelope, ClientReply, ClientRequest};
    use std::collections::BTreeSet;

    pub(super) fn seeds() -> Vec<Seed> {
        let status = frame(&PangeaRequest::Node(NodeRequest::Status));
        let envelope = ClientEnvelope { token: [9; 32], request: ClientRequest::Node(status) };
        let reply = ClientReply::Node(frame(&PangeaResponse::Node(NodeResponse::CannotWrite {
            node: node(1),
            cause: "disk full".to_owned(),
        })));
        let mut batch = WriteBatch::new();
        batch.put("log.acceptor", b"promised".to_vec(), vec![3, 0, 1]);
        batch.remove("log.chosen", 7_u64.to_be_bytes().to_vec());
        let mut second = WriteBatch::new();
        second.put("objects.shards", vec![5; 37], vec![1; 100]);
        let batches = [batch, second];
        let pinned = Admission::Pinned(BTreeSet::from([node(1), node(2)]));
        let identity = Identity::generate(&Admission::ClusterKey(ClusterKey([8; 32]))).expect("an identity generates");
        let mut genesis = Vec::new();
        encode_serde(&vec![node(0), node(1), node(2)], &mut genesis).expect("ids encode");
        let contacts = [
            (node(0), Some("127.0.0.1:7101".parse().expect("an address"))),
            (node(1), Some("[::1]:7102".parse().expect("an address"))),
        ];
        let meta = |admission| {
            MetaFile { node_id: node(0), admission, client_token: [9; 32] }.to_json().expect("meta.json encodes")
        };
        vec![
            seed("client_envelopes", "stream", client_stream(&frame(&envelope))),
            seed("client_envelopes", "envelope", frame(&envelope)),
            seed(
                "client_envelopes",
                "runtime",
                frame(&ClientEnvelope { token: [0; 32], request: ClientRequest::Runtime }),
            ),
            seed("client_envelopes", "reply", frame(&reply)),
            seed("node_files", "meta-cluster-key", meta(Admission::ClusterKey(ClusterKey([7; 32])))),
            seed("node_files", "meta-pinned", meta(pinned)),
            seed("node_files", "genesis", genesis),
            seed("node_files", "dht-bootstrap", encode_dht_bootstrap(&contacts).expect("contacts encode")),
            seed("node_files", "master-key", format!("{}\n", "ab".repeat(32)).into_bytes()),
            seed(
                "node_files",
                "identity",
                format!("{}\0{}", identity.certificate_pem(), identity.private_key_pem()).into_bytes(),
            ),
            seed("peer_certificates", "cluster-key", identity.certificate().to_vec()),
            seed("wal_records", "file", wal_file(&batches, 3)),
            seed("wal_records", "payload", encode_batches(&batches).expect("batches encode")),
        ]
    }
}

#[cfg(feature = "scenarios")]
mod scenarios {
    use super::{Seed, seed};
    use pangea_core::Duration;
    use pangea_scenarios::ReplayFile;
    use pangea_scenarios::replay::{REPLAY_FORMAT, REPLAY_VERSION, RecordedFailure};
    use pangea_scenarios::report::FailureKind;
    use pangea_sim::{Fault, FaultPlan, Partition, TimedFault};

    /// A plan of every kind of timed fault that heals after 1.5 s, on 3 nodes.
    fn short_plan() -> FaultPlan {
        let mut plan = FaultPlan::none(1_500);
        plan.network.drop_ppm = 10_000;
        plan.network.duplicate_ppm = 10_000;
        plan.network.reorder_ppm = 10_000;
        plan.network.reorder_delay_us = 5_000;
        plan.network.corrupt_ppm = 1_000;
        plan.disk.torn_writes = true;
        plan.disk.read_error_ppm = 1_000;
        plan.clock_skew_ms = vec![0, 250, -250];
        plan.buggify = true;
        plan.crash_after_sync_ppm = 1_000;
        let faults = [
            (100, Fault::Partition { partition: Partition::Isolate { node: 0 } }),
            (200, Fault::Crash { node: 1 }),
            (300, Fault::Heal),
            (400, Fault::Restart { node: 1 }),
            (500, Fault::Pause { node: 2 }),
            (600, Fault::Slow { node: 0, handler_extra_us: 2_000 }),
            (700, Fault::Resume { node: 2 }),
            (800, Fault::ClockJump { node: 1, by_ms: -5_000 }),
            (900, Fault::DiskFull { node: 2 }),
            (1_000, Fault::DiskFreed { node: 2 }),
            (1_100, Fault::Partition { partition: Partition::OneWay { from: vec![0], to: vec![1, 2] } }),
        ];
        plan.events = faults.into_iter().map(|(at_ms, fault)| TimedFault { at_ms, fault }).collect();
        plan
    }

    /// A register history in Jepsen's EDN that is not linearizable.
    const HISTORY_EDN: &[u8] = include_bytes!("../../scenarios/tests/histories/register-bad.edn");
    /// Jepsen's independent compare-and-set registers, in EDN.
    const HISTORY_CAS_EDN: &[u8] = include_bytes!("../../scenarios/tests/histories/independent-cas-bad.edn");
    /// Pangea's JSONL, as the nemesis writes it.
    const HISTORY_JSONL: &[u8] = include_bytes!("../../scenarios/tests/histories/pangea-ok.jsonl");
    /// A log of porcupine's etcd tests.
    const HISTORY_PORCUPINE: &[u8] = include_bytes!("../../scenarios/tests/histories/etcd_002.log");

    pub(super) fn seeds() -> Vec<Seed> {
        let swarm = FaultPlan::swarm(7, 5, Duration::from_secs(20));
        let replay = ReplayFile {
            format: REPLAY_FORMAT.to_owned(),
            version: REPLAY_VERSION,
            scenario: "health".to_owned(),
            seed: 7,
            nodes: 5,
            planted: Some("never-dead".to_owned()),
            clients: None,
            operations: None,
            plan: swarm.clone(),
            trace_hash: Some("ab".repeat(32)),
            trace_records: 812,
            events: 455,
            failure: Some(RecordedFailure {
                kind: FailureKind::Correctness,
                checker: "suspicion-ends".to_owned(),
                at_ns: 9_900_000_000,
                node: Some(0),
                message: "n0 has suspected n1 for too long".to_owned(),
            }),
            only_clients: Some(vec![0, 2]),
            choices: None,
            shrunk_from: None,
        };
        let json = |plan: &FaultPlan| serde_json::to_vec_pretty(plan).expect("a plan encodes");
        vec![
            seed("fault_plans", "swarm", json(&swarm)),
            seed("fault_plans", "log-swarm", json(&FaultPlan::swarm(3, 3, Duration::from_secs(30)))),
            seed("fault_plans", "none", json(&FaultPlan::none(1_000))),
            // Short enough to be run (see `scenarios::fault_plans`).
            seed("fault_plans", "short", json(&short_plan())),
            seed("replay_files", "health", replay.to_json().into_bytes()),
            // Small histories of each format, from the check-history fixtures.
            seed("history_files", "register-edn", HISTORY_EDN.to_vec()),
            seed("history_files", "cas-edn", HISTORY_CAS_EDN.to_vec()),
            seed("history_files", "jsonl", HISTORY_JSONL.to_vec()),
            seed("history_files", "porcupine", HISTORY_PORCUPINE.to_vec()),
        ]
    }
}

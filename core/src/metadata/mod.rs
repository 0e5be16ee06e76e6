//! The node's replicated metadata: one state machine the log replicates, made of parts — the
//! [`records`] (a key/value map), the [`directory`] of node addresses, the object [`manifests`],
//! the property [`Graph`] and the event store ([`Events`]); job state joins with compute. Each part
//! is a [`StateMachine`] of its own; [`Metadata`] routes each command to its part and snapshots
//! them together.

pub mod directory;
pub mod manifests;
pub mod records;

use crate::codec::{CodecError, decode_serde, encode_serde};
use crate::events::{Events, EventsAnswer, EventsConfig, EventsOp, EventsQuery, EventsResult};
use crate::graph::{Graph, GraphAnswer, GraphConfig, GraphOp, GraphQuery, GraphResult};
use crate::id::NodeId;
use crate::log::{InvalidCommand, StateMachine};
use directory::{Directory, DirectoryOp, DirectoryResult};
use manifests::{Manifests, ObjectsAnswer, ObjectsOp, ObjectsQuery, ObjectsResult};
use records::{KvOp, KvResult, RecordLimits, Records};
use serde::{Deserialize, Serialize};

/// A command for one part of the metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataCommand {
    /// For the records.
    Records(KvOp),
    /// For the directory.
    Directory(DirectoryOp),
    /// For the object manifests.
    Objects(ObjectsOp),
    /// For the graph.
    Graph(GraphOp),
    /// For the event store.
    Events(EventsOp),
}

/// What a metadata command did.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataOutput {
    /// The records' answer.
    Records(KvResult),
    /// The directory's answer.
    Directory(DirectoryResult),
    /// The manifests' answer.
    Objects(ObjectsResult),
    /// The graph's answer.
    Graph(GraphResult),
    /// The event store's answer.
    Events(EventsResult),
}

/// A local read of the metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataQuery {
    /// The value of a record.
    Record(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Every node's address.
    Directory,
    /// Object manifests.
    Objects(ObjectsQuery),
    /// The graph.
    Graph(GraphQuery),
    /// The event store.
    Events(EventsQuery),
}

/// The answer to a [`MetadataQuery`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataAnswer {
    /// A record's value.
    Record(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    /// Every node's address.
    Directory(Vec<(NodeId, String)>),
    /// Object manifests.
    Objects(ObjectsAnswer),
    /// The graph's answer.
    Graph(GraphAnswer),
    /// The event store's answer.
    Events(EventsAnswer),
}

/// The parts' snapshots as data directories of format 2 wrote them, before the manifests: read
/// back with no objects.
#[derive(Deserialize)]
struct MetadataImageBeforeObjects {
    #[serde(with = "serde_bytes")]
    records: Vec<u8>,
    #[serde(with = "serde_bytes")]
    directory: Vec<u8>,
}

/// The parts' snapshots as data directories wrote them before the graph and the event store: read
/// back with an empty graph and store.
#[derive(Deserialize)]
struct MetadataImageBeforeGraph {
    #[serde(with = "serde_bytes")]
    records: Vec<u8>,
    #[serde(with = "serde_bytes")]
    directory: Vec<u8>,
    #[serde(with = "serde_bytes")]
    manifests: Vec<u8>,
}

/// The parts' snapshots, together.
#[derive(Serialize, Deserialize)]
struct MetadataImage {
    #[serde(with = "serde_bytes")]
    records: Vec<u8>,
    #[serde(with = "serde_bytes")]
    directory: Vec<u8>,
    #[serde(with = "serde_bytes")]
    manifests: Vec<u8>,
    #[serde(with = "serde_bytes")]
    graph: Vec<u8>,
    #[serde(with = "serde_bytes")]
    events: Vec<u8>,
}

/// How the metadata's parts are set up; every replica of a cluster uses the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MetadataConfig {
    /// How large records may be.
    pub records: RecordLimits,
    /// Object operations an upload has to commit its manifest (see [`manifests`]).
    pub put_ops_max: u64,
    /// The graph's settings.
    pub graph: GraphConfig,
    /// The event store's settings.
    pub events: EventsConfig,
}

/// The node's replicated metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Metadata {
    records: Records,
    directory: Directory,
    manifests: Manifests,
    graph: Graph,
    events: Events,
}

impl Metadata {
    /// Empty metadata set up by `config`.
    #[must_use]
    pub fn new(config: MetadataConfig) -> Metadata {
        Metadata {
            records: Records::new(config.records),
            directory: Directory::default(),
            manifests: Manifests::new(config.put_ops_max),
            graph: Graph::new(config.graph),
            events: Events::new(config.events),
        }
    }

    /// The graph.
    #[must_use]
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The event store.
    #[must_use]
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The records.
    #[must_use]
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The directory of addresses.
    #[must_use]
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The object manifests.
    #[must_use]
    pub fn manifests(&self) -> &Manifests {
        &self.manifests
    }
}

impl StateMachine for Metadata {
    type Command = MetadataCommand;
    type Output = MetadataOutput;
    type Query = MetadataQuery;
    type Answer = MetadataAnswer;

    fn validate(&self, command: &MetadataCommand) -> Result<(), InvalidCommand> {
        match command {
            MetadataCommand::Records(op) => self.records.validate(op),
            MetadataCommand::Directory(op) => self.directory.validate(op),
            MetadataCommand::Objects(op) => self.manifests.validate(op),
            MetadataCommand::Graph(op) => self.graph.validate(op),
            MetadataCommand::Events(op) => self.events.validate(op),
        }
    }

    fn is_read_only(command: &MetadataCommand) -> bool {
        match command {
            MetadataCommand::Records(op) => Records::is_read_only(op),
            MetadataCommand::Directory(op) => Directory::is_read_only(op),
            MetadataCommand::Objects(op) => Manifests::is_read_only(op),
            MetadataCommand::Graph(op) => Graph::is_read_only(op),
            MetadataCommand::Events(op) => Events::is_read_only(op),
        }
    }

    fn apply(&mut self, command: &MetadataCommand) -> MetadataOutput {
        match command {
            MetadataCommand::Records(op) => MetadataOutput::Records(self.records.apply(op)),
            MetadataCommand::Directory(op) => MetadataOutput::Directory(self.directory.apply(op)),
            MetadataCommand::Objects(op) => MetadataOutput::Objects(self.manifests.apply(op)),
            MetadataCommand::Graph(op) => MetadataOutput::Graph(self.graph.apply(op)),
            MetadataCommand::Events(op) => MetadataOutput::Events(self.events.apply(op)),
        }
    }

    fn query(&self, query: &MetadataQuery) -> MetadataAnswer {
        match query {
            MetadataQuery::Record(key) => MetadataAnswer::Record(self.records.query(key)),
            MetadataQuery::Directory => MetadataAnswer::Directory(self.directory.query(&())),
            MetadataQuery::Objects(query) => MetadataAnswer::Objects(self.manifests.query(query)),
            MetadataQuery::Graph(query) => MetadataAnswer::Graph(self.graph.query(query)),
            MetadataQuery::Events(query) => MetadataAnswer::Events(self.events.query(query)),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let image = MetadataImage {
            records: self.records.snapshot(),
            directory: self.directory.snapshot(),
            manifests: self.manifests.snapshot(),
            graph: self.graph.snapshot(),
            events: self.events.snapshot(),
        };
        let parts = [&image.records, &image.directory, &image.manifests, &image.graph, &image.events];
        let mut out = Vec::with_capacity(parts.iter().map(|part| part.len() + 5).sum::<usize>());
        // Byte strings always encode.
        let _ = encode_serde(&image, &mut out);
        out
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let image: MetadataImage = match decode_serde(bytes) {
            Ok(image) => image,
            Err(error) => {
                let empty_graph = Graph::new(*self.graph.config()).snapshot();
                let empty_events = Events::new(*self.events.config()).snapshot();
                if let Ok(older) = decode_serde::<MetadataImageBeforeGraph>(bytes) {
                    MetadataImage {
                        records: older.records,
                        directory: older.directory,
                        manifests: older.manifests,
                        graph: empty_graph,
                        events: empty_events,
                    }
                } else {
                    let Ok(older) = decode_serde::<MetadataImageBeforeObjects>(bytes) else { return Err(error) };
                    let mut manifests = Vec::new();
                    // An empty set of manifests always encodes.
                    let _ = encode_serde(&Manifests::default(), &mut manifests);
                    MetadataImage {
                        records: older.records,
                        directory: older.directory,
                        manifests,
                        graph: empty_graph,
                        events: empty_events,
                    }
                }
            }
        };
        let mut records = Records::new(self.records.limits());
        records.restore(&image.records)?;
        let mut directory = Directory::default();
        directory.restore(&image.directory)?;
        let mut manifests = self.manifests.clone();
        manifests.restore(&image.manifests)?;
        let mut graph = Graph::new(*self.graph.config());
        graph.restore(&image.graph)?;
        let mut events = Events::new(*self.events.config());
        events.restore(&image.events)?;
        self.records = records;
        self.directory = directory;
        self.manifests = manifests;
        self.graph = graph;
        self.events = events;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Snapshot;
    use proptest::prelude::*;

    proptest! {
        /// Snapshot bytes come from peers: whatever arrives, decoding the image and restoring the
        /// metadata from it answers with an error or a state, never a panic — and a failed restore
        /// changes nothing.
        #[test]
        fn arbitrary_snapshot_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = Snapshot::decode::<MetadataOutput>(&bytes);
            let mut metadata = Metadata::default();
            let before = metadata.clone();
            if metadata.restore(&bytes).is_err() {
                prop_assert_eq!(metadata, before);
            }
        }
    }

    #[test]
    fn a_snapshot_restores_every_part() {
        let mut metadata = Metadata::default();
        metadata.apply(&MetadataCommand::Records(KvOp::Put { key: b"k".to_vec(), value: b"v".to_vec() }));
        let node = NodeId::for_index(1);
        metadata.apply(&MetadataCommand::Directory(DirectoryOp::Register { node, address: "127.0.0.1:1".into() }));
        let mut restored = Metadata::default();
        restored.restore(&metadata.snapshot()).unwrap();
        assert_eq!(restored, metadata);
        assert!(restored.restore(b"garbage").is_err());
        // A snapshot from before the manifests existed restores with no objects.
        #[derive(Serialize)]
        struct Older {
            #[serde(with = "serde_bytes")]
            records: Vec<u8>,
            #[serde(with = "serde_bytes")]
            directory: Vec<u8>,
        }
        let mut older = Vec::new();
        encode_serde(
            &Older { records: metadata.records.snapshot(), directory: metadata.directory.snapshot() },
            &mut older,
        )
        .unwrap();
        let mut from_older = Metadata::default();
        from_older.restore(&older).unwrap();
        assert_eq!(from_older.records(), metadata.records());
        assert!(from_older.manifests().is_empty());
        assert_eq!(restored, metadata, "a failed restore changes nothing");
    }

    /// The directory used to live under reserved record keys (`\0pangea/addr/…`), a claim nothing
    /// enforced. It is now a part of its own: no record key, whatever its bytes, reaches it.
    #[test]
    fn no_record_key_reaches_the_directory() {
        let mut metadata = Metadata::default();
        let node = NodeId::for_index(1);
        metadata.apply(&MetadataCommand::Directory(DirectoryOp::Register { node, address: "127.0.0.1:1".into() }));
        let directory = metadata.directory().clone();
        for key in [b"\0pangea/addr/1".to_vec(), format!("\0pangea/addr/{node}").into_bytes(), Vec::new()] {
            metadata.apply(&MetadataCommand::Records(KvOp::Put { key: key.clone(), value: b"10.0.0.1:1".to_vec() }));
            metadata.apply(&MetadataCommand::Records(KvOp::Remove { key }));
        }
        assert_eq!(metadata.directory(), &directory);
    }
}

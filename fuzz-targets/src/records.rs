//! What `pangea-core` reads back from storage (a data directory's redb file) and from snapshot
//! images (a disk's, or a peer's, assembled from chunks): the acceptor's durable records, chosen
//! entries, the object holder's shard records, and the state machines' images.

use pangea_core::codec::{decode_serde, encode_serde};
use pangea_core::events::Events;
use pangea_core::graph::{Graph, GraphConfig};
use pangea_core::log::{
    ACCEPTOR_TABLE, AcceptedRecord, Ballot, CHOSEN_TABLE, Entry, Snapshot, StateMachine, decode_record, encode_record,
};
use pangea_core::metadata::directory::Directory;
use pangea_core::metadata::manifests::Manifests;
use pangea_core::metadata::records::Records;
use pangea_core::metadata::{Metadata, MetadataCommand, MetadataOutput};
use pangea_core::objects::{ShardKey, ShardRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Decodes `bytes` as a record of the log's `table`; when that works, checks that it encodes to
/// bytes that decode to the same record.
fn record_round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(table: &str, bytes: &[u8]) {
    let Ok(value) = decode_record::<T>(table, b"fuzz", bytes) else { return };
    let again = encode_record(&value).expect("a decoded record encodes");
    assert_eq!(decode_record::<T>(table, b"fuzz", &again).expect("its bytes decode"), value);
}

/// What storage gives back to the log and the object store at recovery: the acceptor's promised
/// ballot and accepted slots (`log.acceptor`), chosen entries (`log.chosen`), and a holder's shard
/// records and shard keys. (Membership's boot counter and peer keys are fixed-width byte strings,
/// read with a length check.)
///
/// # Panics
/// When a decoded record does not read back to itself.
pub fn stored_records(bytes: &[u8]) {
    record_round_trip::<Ballot>(ACCEPTOR_TABLE, bytes);
    record_round_trip::<AcceptedRecord<MetadataCommand>>(ACCEPTOR_TABLE, bytes);
    record_round_trip::<Entry<MetadataCommand>>(CHOSEN_TABLE, bytes);
    if let Ok(record) = decode_serde::<ShardRecord>(bytes) {
        assert_eq!(decode_serde::<ShardRecord>(&record.to_bytes()), Ok(record));
    }
    if let Some(key) = ShardKey::from_bytes(bytes) {
        assert_eq!(key.to_bytes().as_slice(), bytes);
    }
}

/// Restores `fresh` from `bytes`; when that works, checks that the state's own image restores to
/// the same state.
fn image_round_trip<S: StateMachine + PartialEq + Debug>(fresh: S, bytes: &[u8]) {
    let mut state = fresh.clone();
    if state.restore(bytes).is_err() {
        return;
    }
    let mut again = fresh;
    again.restore(&state.snapshot()).expect("a restored state's image reads back");
    assert_eq!(again, state);
}

/// The replicated metadata's images, whole and part by part (records, directory, manifests, graph,
/// events): restoring answers with a state or a typed error, never a panic or an allocation out of
/// proportion to the image, and a restored state writes an image that restores to the same state.
/// The whole metadata also reads the images of older versions.
pub fn metadata_images(bytes: &[u8]) {
    image_round_trip(Graph::new(GraphConfig::default()), bytes);
    image_round_trip(Events::default(), bytes);
    image_round_trip(Records::default(), bytes);
    image_round_trip(Directory::default(), bytes);
    image_round_trip(Manifests::default(), bytes);
    image_round_trip(Metadata::default(), bytes);
}

/// The log's snapshot images, as recovery reads the stored one and a follower the one it assembled
/// from a leader's chunks: the image (index, configuration, client sessions, state) decodes or is
/// refused, encodes back to itself, and its state restores into the metadata or is refused.
///
/// # Panics
/// When a decoded image or a restored state does not read back to itself.
pub fn snapshot_images(bytes: &[u8]) {
    let Ok(image) = Snapshot::decode::<MetadataOutput>(bytes) else { return };
    let snapshot = Snapshot::of(&image).expect("a decoded image encodes");
    assert_eq!(Snapshot::decode::<MetadataOutput>(&snapshot.bytes).expect("its bytes decode"), image);
    image_round_trip(Metadata::default(), &image.state);
}

/// The bytes of `value` as the log stores it (for seeds).
#[must_use]
pub fn stored<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_serde(value, &mut out).expect("seed values encode");
    out
}

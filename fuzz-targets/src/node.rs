//! What the `pangea` binary reads from outside: the streams and envelopes clients send, the
//! certificates peers present, and the files of a data directory (the write-ahead file, `meta.json`,
//! the key and certificate, the node's stored genesis and bootstrap contacts) and the owner's master
//! key file.

use crate::{frame_round_trip, text};
use pangea_core::Codec;
use pangea_core::codec::encode_serde;
use pangea_core::id::NodeId;
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use pangea_core::storage::WriteBatch;
use pangea_node::datadir::MetaFile;
use pangea_node::framing::read_only_frame;
use pangea_node::identity::{Admission, ClusterKey, Identity, admitted, node_id_of};
use pangea_node::objects::parse_master_key;
use pangea_node::server::{decode_dht_bootstrap, decode_genesis, encode_dht_bootstrap};
use pangea_node::wal::{Wal, decode_batches, encode_batches};
use pangea_node::wire::{ClientEnvelope, ClientReply, ClientRequest};
use redb::StorageBackend;
use rustls::pki_types::CertificateDer;
use std::collections::BTreeSet;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// What a client sends and gets back, as the runtime and the client library read it: a stream's
/// one length-prefixed frame, the envelope in it (token and request) and the node request inside;
/// the reply and the node answer inside. The same bytes are also tried as an envelope or reply
/// frame directly.
///
/// # Panics
/// When a decoded value does not encode back to itself, or the stream reader does not finish at once
/// on bytes in memory.
pub fn client_envelopes(bytes: &[u8]) {
    if let Ok(Some(frame)) = read_stream(bytes) {
        assert!(frame.len() + 4 <= bytes.len(), "a frame is never longer than its stream");
        client_frames(&frame);
    }
    client_frames(bytes);
}

/// One frame of the client protocol, as an envelope and as a reply, with their node frames.
fn client_frames(frame: &[u8]) {
    if let Some(ClientEnvelope { request: ClientRequest::Node(body), .. }) = frame_round_trip(frame) {
        let _ = frame_round_trip::<PangeaRequest>(&body);
    }
    if let Some(ClientReply::Node(body)) = frame_round_trip(frame) {
        let _ = frame_round_trip::<PangeaResponse>(&body);
    }
}

/// Reads the one frame of a client stream holding `bytes` (a reader in memory is always ready, so
/// one poll finishes it).
fn read_stream(bytes: &[u8]) -> Result<Option<Vec<u8>>, pangea_node::framing::FrameError> {
    let mut stream = bytes;
    let mut read = pin!(read_only_frame(&mut stream));
    match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("reading a stream in memory waited"),
    }
}

/// A peer's certificate from a TLS handshake (DER): the node id and the admission rule's verdict
/// come out as values or typed errors, and agree: a certificate that has an id is admitted by the
/// pinned rule naming that id and refused by one that does not.
///
/// # Panics
/// When the id and the verdicts disagree.
pub fn peer_certificates(bytes: &[u8]) {
    let certificate = CertificateDer::from(bytes);
    let cluster = admitted(&certificate, &Admission::ClusterKey(ClusterKey([7; 32])));
    match node_id_of(&certificate) {
        Ok(id) => {
            assert!(cluster.is_ok());
            let pinned = admitted(&certificate, &Admission::Pinned(BTreeSet::from([id])));
            assert!(pinned.expect("a certificate with an id parses"));
            let others = admitted(&certificate, &Admission::Pinned(BTreeSet::from([NodeId([0; 32])])));
            assert_eq!(others.expect("a certificate with an id parses"), id == NodeId([0; 32]));
        }
        Err(_) => assert!(cluster.is_err()),
    }
}

/// The small files of a data directory and of an owner, each tried on the same bytes: `meta.json`
/// (node id, admission rule with its pinned peers, client token), the stored genesis and DHT
/// bootstrap contacts (the node's table in its redb file), the master key file, and the key and
/// certificate PEM files (the certificate's text, a NUL byte, the key's text). Each reads back to a
/// value that writes back to bytes that read back to the same value.
///
/// # Panics
/// When a value read does not write back to itself.
pub fn node_files(bytes: &[u8]) {
    if let Ok(meta) = MetaFile::parse(bytes) {
        let again = meta.to_json().expect("a parsed meta.json encodes");
        assert_eq!(MetaFile::parse(&again).expect("its text parses"), meta);
    }
    if let Ok(genesis) = decode_genesis(bytes) {
        let mut again = Vec::new();
        encode_serde(&genesis, &mut again).expect("a decoded genesis encodes");
        assert_eq!(decode_genesis(&again).expect("its bytes decode"), genesis);
    }
    if let Ok(contacts) = decode_dht_bootstrap(bytes) {
        let again = encode_dht_bootstrap(&contacts).expect("decoded contacts encode");
        assert_eq!(decode_dht_bootstrap(&again).expect("their bytes decode"), contacts);
    }
    let Some(text) = text(bytes) else { return };
    if let Some(key) = parse_master_key(text) {
        // A key's text is 64 hex digits and at most line ends after them.
        assert!(text.trim_end_matches(['\n', '\r']).len() == 64);
        let _ = key.object_key(&pangea_core::ces::ObjectId([0; 32]));
    }
    let (certificate, key) = text.split_once('\0').unwrap_or((text, ""));
    if let Ok(identity) = Identity::from_pem(certificate, key) {
        let again = Identity::from_pem(&identity.certificate_pem(), &identity.private_key_pem())
            .expect("a loaded identity's files load");
        assert_eq!(again.node_id(), identity.node_id());
        assert_eq!(node_id_of(identity.certificate()).expect("its certificate parses"), identity.node_id());
    }
}

/// The write-ahead file: a record's payload decodes to batches or is refused (never a panic, never
/// an allocation the payload's length does not justify) and its batches encode back to exactly those
/// bytes; and the whole file (as it is, and with its first record's length and hash made right for
/// the bytes after its header), replayed in the generation its first record names, gives batches
/// that a fresh file replays the same.
///
/// # Panics
/// When decoded batches do not encode back to their bytes, or a replay differs.
pub fn wal_records(bytes: &[u8]) {
    if let Some(batches) = decode_batches(bytes) {
        let again = encode_batches(&batches).expect("decoded batches encode");
        assert_eq!(again, bytes);
    }
    replay(bytes);
    if let Some(resealed) = resealed_record(bytes) {
        replay(&resealed);
    }
}

/// Replays a write-ahead file in the generation its first record names, and checks that a fresh
/// file of the batches replayed replays the same.
fn replay(bytes: &[u8]) {
    let generation = bytes.get(4..12).map_or(0, |field| u64::from_le_bytes(field.try_into().unwrap_or([0; 8])));
    let (_, replayed) = Wal::open(Box::new(MemoryFile::holding(bytes)), generation).expect("a file in memory reads");
    if replayed.is_empty() {
        return;
    }
    let file = MemoryFile::holding(&[]);
    let (mut wal, none) = Wal::open(Box::new(file.clone()), generation).expect("a file in memory reads");
    assert!(none.is_empty());
    wal.append(&replayed).expect("replayed batches append");
    let (_, again) = Wal::open(Box::new(file), generation).expect("a file in memory reads");
    assert_eq!(again, replayed);
}

/// `bytes` as a file of one record whose length and hash fit the bytes after its header (`None` when
/// too short for a header): as [`crate::resealed`] does for frames, so that mutations reach the
/// payload. The record's hash is the first 8 bytes of blake3 over its length, generation and
/// payload (see `pangea_node::wal`).
fn resealed_record(bytes: &[u8]) -> Option<Vec<u8>> {
    const HEADER_BYTES: usize = 4 + 8 + 8;
    let payload = bytes.get(HEADER_BYTES..)?;
    let length = u32::try_from(payload.len()).ok()?.to_le_bytes();
    let generation = &bytes[4..12];
    let mut hasher = blake3::Hasher::new();
    hasher.update(&length);
    hasher.update(generation);
    hasher.update(payload);
    let mut record = length.to_vec();
    record.extend_from_slice(generation);
    record.extend_from_slice(&hasher.finalize().as_bytes()[..8]);
    record.extend_from_slice(payload);
    Some(record)
}

/// The write-ahead record of `batches` in `generation`, as a file of one record (for seeds).
///
/// # Panics
/// When the batches cannot be appended.
#[must_use]
pub fn wal_file(batches: &[WriteBatch], generation: u64) -> Vec<u8> {
    let file = MemoryFile::holding(&[]);
    let (mut wal, _) = Wal::open(Box::new(file.clone()), generation).expect("a file in memory reads");
    wal.append(batches).expect("seed batches append");
    file.bytes().clone()
}

/// A file in memory, shared by its clones, that writes grow.
#[derive(Clone, Debug, Default)]
struct MemoryFile(Arc<Mutex<Vec<u8>>>);

impl MemoryFile {
    fn holding(bytes: &[u8]) -> MemoryFile {
        MemoryFile(Arc::new(Mutex::new(bytes.to_vec())))
    }

    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl StorageBackend for MemoryFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.bytes().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let bytes = self.bytes();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let source = start.checked_add(out.len()).and_then(|end| bytes.get(start..end));
        out.copy_from_slice(source.ok_or(io::ErrorKind::UnexpectedEof)?);
        Ok(())
    }

    fn set_len(&self, length: u64) -> io::Result<()> {
        self.bytes().resize(usize::try_from(length).map_err(|_| io::ErrorKind::OutOfMemory)?, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut bytes = self.bytes();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::OutOfMemory)?;
        let end = start.checked_add(data.len()).ok_or(io::ErrorKind::OutOfMemory)?;
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        Ok(())
    }
}

/// The stream a client sends with `frame` in it: its length (u32 big-endian), then the frame (for
/// seeds).
#[must_use]
pub fn client_stream(frame: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(frame.len()).expect("seed frames are small").to_be_bytes().to_vec();
    out.extend_from_slice(frame);
    out
}

/// The frame of `value` (for seeds).
///
/// # Panics
/// When `value` does not encode.
#[must_use]
pub fn frame_of<T: Codec>(value: &T) -> Vec<u8> {
    value.encode().expect("seed values encode")
}

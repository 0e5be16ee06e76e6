//! Snapshots: the applied state up to a slot, taken every so often so that the log can drop the
//! entries it covers, and sent in chunks to replicas too far behind for the entries.

use crate::codec::{CodecError, decode_serde, encode_serde};
use crate::log::members::Members;
use crate::log::sessions::Sessions;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Everything applied up to `index`, as stored and as sent (encoded, then cut into chunks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotImage<O> {
    /// The last slot it includes.
    pub index: u64,
    /// The configuration in force after `index`.
    pub members: Members,
    /// The client sessions after `index`.
    pub sessions: Sessions<O>,
    /// The state machine's snapshot ([`crate::log::StateMachine::snapshot`]), as one byte string
    /// (the same encoding as a sequence of bytes, without a call per byte).
    #[serde(with = "serde_bytes")]
    pub state: Vec<u8>,
}

/// A replica's latest snapshot: its position and configuration, and the encoded image, kept for
/// sending. Cloning shares the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// The last slot it includes (0: the initial state).
    pub index: u64,
    /// The configuration in force after `index`.
    pub members: Members,
    /// blake3 of `bytes`, once computed (when the snapshot is first sent): a receiver installs the
    /// image only if the chunks it assembled match.
    pub digest: Option<[u8; 32]>,
    /// The encoded [`SnapshotImage`].
    pub bytes: Arc<Vec<u8>>,
}

impl Snapshot {
    /// Encodes `image`.
    ///
    /// # Errors
    /// Only for a state machine whose types postcard cannot encode.
    pub fn of<O: Serialize>(image: &SnapshotImage<O>) -> Result<Snapshot, postcard::Error> {
        // The state is most of it: room for it and the rest, so that a large one is not copied as
        // the buffer grows.
        let mut bytes = Vec::with_capacity(image.state.len() + 4096);
        encode_serde(image, &mut bytes)?;
        Ok(Snapshot::from_bytes(image.index, image.members.clone(), bytes))
    }

    /// A snapshot of already encoded image bytes (its digest computed when first needed).
    #[must_use]
    pub fn from_bytes(index: u64, members: Members, bytes: Vec<u8>) -> Snapshot {
        Snapshot { index, members, digest: None, bytes: Arc::new(bytes) }
    }

    /// blake3 of the image, computed once.
    pub fn digest(&mut self) -> [u8; 32] {
        *self.digest.get_or_insert_with(|| *blake3::hash(&self.bytes).as_bytes())
    }

    /// Reads an image back.
    ///
    /// # Errors
    /// Bytes that are not an image.
    pub fn decode<O: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<SnapshotImage<O>, CodecError> {
        decode_serde(bytes)
    }

    /// Total size of the image in bytes.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The chunk of at most `chunk_bytes_max` bytes starting at `offset` (empty past the end).
    #[must_use]
    pub fn chunk(&self, offset: u64, chunk_bytes_max: usize) -> Vec<u8> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.bytes.len());
        let end = start.saturating_add(chunk_bytes_max).min(self.bytes.len());
        self.bytes[start..end].to_vec()
    }
}

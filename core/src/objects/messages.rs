//! What the object store's parts say: between nodes (shards in pieces, fetches, inventories) and
//! between a client and the node it puts through or reads through (its gateway).

use crate::ces::{CesError, ChunkEntry, ObjectId, ShardHash};
use crate::family;
use crate::id::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// One shard's place: its object, chunk and index among the chunk's k + m shards. Its storage key
/// orders a chunk's shards together, and an object's chunks together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShardKey {
    /// The object.
    pub object: ObjectId,
    /// The chunk's index in the object.
    pub chunk: u32,
    /// The shard's index in the chunk (data shards first).
    pub shard: u8,
}

/// Bytes of an encoded [`ShardKey`].
pub const SHARD_KEY_BYTES: usize = 32 + 4 + 1;

impl ShardKey {
    /// The storage key: object, chunk (big-endian), shard.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SHARD_KEY_BYTES] {
        let mut out = [0; SHARD_KEY_BYTES];
        out[..32].copy_from_slice(&self.object.0);
        out[32..36].copy_from_slice(&self.chunk.to_be_bytes());
        out[36] = self.shard;
        out
    }

    /// The key a storage key encodes, if it is one.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<ShardKey> {
        let bytes: &[u8; SHARD_KEY_BYTES] = bytes.try_into().ok()?;
        let mut object = [0; 32];
        object.copy_from_slice(&bytes[..32]);
        let chunk = u32::from_be_bytes([bytes[32], bytes[33], bytes[34], bytes[35]]);
        Some(ShardKey { object: ObjectId(object), chunk, shard: bytes[36] })
    }

    /// The storage-key prefix of every shard of one chunk.
    #[must_use]
    pub fn chunk_prefix(object: &ObjectId, chunk: u32) -> [u8; 36] {
        let mut out = [0; 36];
        out[..32].copy_from_slice(&object.0);
        out[32..].copy_from_slice(&chunk.to_be_bytes());
        out
    }
}

impl fmt::Display for ShardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short: String = self.object.to_string().chars().take(8).collect();
        write!(f, "{short}/{}/{}", self.chunk, self.shard)
    }
}

/// What a holder did with a shard sent to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StoreOutcome {
    /// The shard is durable here.
    Durable,
    /// Not stored: its bytes do not match its hash, or the storage failed. Another member may.
    Refused,
    /// Not stored: the holder has applied more object operations than the upload's deadline
    /// allows, so the manifest could never commit (the gateway is behind the log).
    Expired,
}

/// Why a holder did not give a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Unavailable {
    /// It holds no such shard.
    NotHere,
    /// Its copy is rotten (the disk said so, or the bytes fail their hash).
    Corrupt,
    /// Its storage failed.
    Storage,
}

/// What object-store parts of two nodes say to each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectMessage {
    /// A piece of a shard to store, with the hash the whole shard must have.
    Store {
        /// Which shard.
        key: ShardKey,
        /// The whole shard's hash.
        hash: ShardHash,
        /// The upload's deadline (see [`crate::metadata::manifests`]).
        commit_by: u64,
        /// The whole shard's length.
        total: u32,
        /// Where this piece starts.
        offset: u32,
        /// The piece.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// What became of a shard sent to be stored.
    Stored {
        /// Which shard.
        key: ShardKey,
        /// Durable, or why not.
        outcome: StoreOutcome,
    },
    /// Asks for a shard of `key`'s chunk: the first the holder has among those `wanted` names.
    Fetch {
        /// The chunk (its `shard` says nothing).
        key: ShardKey,
        /// The shard indexes that will do, as bits (bit i: shard i).
        wanted: u32,
        /// The asker's tag, echoed back.
        tag: u64,
    },
    /// A piece of a fetched shard.
    Piece {
        /// Which shard.
        key: ShardKey,
        /// The asker's tag.
        tag: u64,
        /// The whole shard's length.
        total: u32,
        /// Where this piece starts.
        offset: u32,
        /// The piece.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The fetched shard cannot be given.
    Missing {
        /// Which shard was asked for.
        key: ShardKey,
        /// The asker's tag.
        tag: u64,
        /// Why.
        why: Unavailable,
    },
    /// Asks which shards of a chunk the holder has, checked (for repair).
    Inventory {
        /// The object.
        object: ObjectId,
        /// The chunk.
        chunk: u32,
        /// The asker's tag.
        tag: u64,
    },
    /// The shards of a chunk held here whose bytes check out.
    Holding {
        /// The object.
        object: ObjectId,
        /// The chunk.
        chunk: u32,
        /// The asker's tag.
        tag: u64,
        /// Their indexes.
        shards: Vec<u8>,
    },
}

crate::serde_codec!(ObjectMessage, family = family::OBJECT_MESSAGE, version = 1);

/// What a client asks its gateway.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectRequest {
    /// A piece of a sealed chunk to store. When the last piece is in, the gateway shards the chunk,
    /// places the shards and answers [`ObjectResponse::ChunkStored`] once every shard is durable.
    PutPiece {
        /// The object.
        object: ObjectId,
        /// The chunk's index.
        chunk: u32,
        /// Data shards.
        data_shards: u8,
        /// Parity shards.
        parity_shards: u8,
        /// The whole sealed chunk's length.
        sealed_len: u32,
        /// Where this piece starts.
        offset: u32,
        /// The piece.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A range of a sealed chunk, rebuilt from its shards.
    GetPiece {
        /// The object.
        object: ObjectId,
        /// The chunk's index.
        chunk: u32,
        /// The chunk's entry in the manifest: where its shards were placed and their hashes.
        entry: Box<ChunkEntry>,
        /// Data shards.
        data_shards: u8,
        /// Parity shards.
        parity_shards: u8,
        /// Where the range starts in the sealed chunk.
        offset: u32,
        /// Its length (at most the piece limit).
        len: u32,
    },
    /// Where a chunk's shards are: every live member's checked inventory.
    Locate {
        /// The object.
        object: ObjectId,
        /// The chunk.
        chunk: u32,
    },
}

crate::serde_codec!(ObjectRequest, family = family::OBJECT_REQUEST, version = 1);

/// Where a chunk's shards were placed and what they hash to: the manifest's entry for it, less what
/// only the client knows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredChunk {
    /// The sealed chunk's length.
    pub sealed_len: u32,
    /// Each shard's hash.
    pub shard_hashes: Vec<ShardHash>,
    /// Each shard's holder.
    pub holders: Vec<NodeId>,
    /// The upload's deadline: the manifest must commit before this many object operations.
    pub commit_by: u64,
}

/// A gateway's answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectResponse {
    /// A piece arrived; send the next.
    PieceTaken {
        /// The chunk.
        chunk: u32,
        /// Bytes of the chunk received so far.
        received: u32,
    },
    /// Every shard of the chunk is durable on its holder.
    ChunkStored {
        /// The chunk.
        chunk: u32,
        /// Where and what.
        stored: StoredChunk,
    },
    /// A range of a sealed chunk.
    Piece {
        /// The chunk.
        chunk: u32,
        /// Where the range starts.
        offset: u32,
        /// The bytes.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The answer to [`ObjectRequest::Locate`].
    Located {
        /// The chunk.
        chunk: u32,
        /// Each member that answered, with the sound shards of the chunk it holds.
        holders: Vec<(NodeId, Vec<u8>)>,
        /// Members asked that did not answer in time.
        silent: Vec<NodeId>,
    },
    /// The request failed; nothing was stored or returned.
    Failed(ObjectError),
}

crate::serde_codec!(ObjectResponse, family = family::OBJECT_RESPONSE, version = 1);

/// Why an object request failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
pub enum ObjectError {
    /// Fewer live peers than a chunk has shards.
    #[error("{live} live peers, but a chunk's {needed} shards need as many")]
    NotEnoughPeers {
        /// Live peers (this node included).
        live: u32,
        /// Shards per chunk.
        needed: u32,
    },
    /// Not every shard became durable in time.
    #[error("chunk {chunk}: {durable} of {needed} shards durable before the deadline")]
    StoreTimedOut {
        /// The chunk.
        chunk: u32,
        /// Shards durable.
        durable: u32,
        /// Shards needed.
        needed: u32,
    },
    /// Fewer than k good shards could be found in time.
    #[error("chunk {chunk}: {good} good shards found, {needed} needed")]
    Unavailable {
        /// The chunk.
        chunk: u32,
        /// Good shards found.
        good: u32,
        /// Shards needed (k).
        needed: u32,
    },
    /// The pipeline refused the data (bad parameters, a corrupt chunk beyond repair).
    #[error("{0}")]
    Ces(CesError),
    /// The request contradicts itself or its earlier pieces.
    #[error("bad request: {0}")]
    BadRequest(BadRequest),
    /// The gateway is behind the log: the upload's deadline had already passed on its holders. Put
    /// the object through another node.
    #[error("the gateway is behind the log; put through another node")]
    GatewayBehind,
    /// The gateway is handling as many transfers as it may; try again later.
    #[error("busy: too many transfers in progress")]
    Busy,
}

/// How a request contradicts itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
pub enum BadRequest {
    /// A piece lies outside its chunk, or is larger than the piece limit.
    #[error("a piece outside its chunk or over the piece limit")]
    PieceOutOfRange,
    /// A piece disagrees with earlier pieces of its chunk (another length or shard count).
    #[error("a piece disagrees with the earlier pieces of its chunk")]
    PieceMismatch,
    /// The chunk entry does not fit the shard counts.
    #[error("the chunk entry does not fit the shard counts")]
    EntryMismatch,
}

/// The object store's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectTimer {
    /// Resends, hedges and deadlines of transfers in flight (armed only while some are).
    Tick,
    /// A scan for garbage and for chunks to repair.
    Scan,
}

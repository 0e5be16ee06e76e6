//! The owner's side of the object store, without I/O: a put as a sequence of pieces to send and
//! answers to take, a read likewise. The simulator's clients and the `pangea object` commands drive
//! these same machines, so what the simulator tested is what the command line does.
//!
//! A put: the owner cuts its bytes into chunks ([`ChunkCutter`](crate::ces::ChunkCutter)), seals
//! each with the object's key and sends it to its gateway in pieces; the gateway answers with
//! where the chunk's shards went; after the last chunk the owner commits the [`Manifest`] through
//! the log. A read: the owner gets the manifest from the log, asks its gateway for the pieces of
//! each chunk its range needs, opens each chunk and keeps the bytes of the range.

use super::messages::{ObjectError, ObjectRequest, ObjectResponse};
use crate::ces::{
    CesError, CesParams, CesPlantedBug, ChunkEntry, ContentCheck, FORMAT_VERSION, Manifest, MasterKey, ObjectId,
    ObjectKey, open_with, seal_with,
};

/// A chunk on its way to the gateway.
#[derive(Clone, Debug)]
struct Outgoing {
    index: u32,
    plain_len: u32,
    compressed: bool,
    sealed: Vec<u8>,
    /// Bytes the gateway has taken.
    sent: u32,
}

/// What an answer did to a put.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutStep {
    /// Send [`PutObject::next_request`] next.
    Continue,
    /// The chunk is stored; add the next (or finish).
    ChunkStored,
    /// The answer was for another request; nothing changed.
    Ignored,
}

/// One object being put.
#[derive(Clone, Debug)]
pub struct PutObject {
    object: ObjectId,
    key: ObjectKey,
    params: CesParams,
    piece_bytes_max: u32,
    planted: Option<CesPlantedBug>,
    chunks: Vec<ChunkEntry>,
    commit_by: u64,
    outgoing: Option<Outgoing>,
}

impl PutObject {
    /// A put of object `object` under `master`'s key, cut and sharded as `params` say, sent in
    /// pieces of at most `piece_bytes_max` bytes.
    pub fn new(
        master: &MasterKey,
        object: ObjectId,
        params: CesParams,
        piece_bytes_max: u32,
    ) -> Result<PutObject, CesError> {
        params.validate()?;
        Ok(PutObject {
            object,
            key: master.object_key(&object),
            params,
            piece_bytes_max: piece_bytes_max.max(1),
            planted: None,
            chunks: Vec::new(),
            commit_by: u64::MAX,
            outgoing: None,
        })
    }

    /// The same put with a bug planted in sealing (no effect without the `planted-bugs` feature).
    #[must_use]
    pub fn with_planted(mut self, bug: Option<CesPlantedBug>) -> PutObject {
        self.planted = bug;
        self
    }

    /// The object.
    #[must_use]
    pub fn object(&self) -> ObjectId {
        self.object
    }

    /// Chunks stored so far.
    #[must_use]
    pub fn chunks_stored(&self) -> u32 {
        self.chunks.len() as u32
    }

    /// Seals the next chunk (index [`PutObject::chunks_stored`]) to send. The previous chunk must
    /// be stored first.
    pub fn add_chunk(&mut self, plain: &[u8]) -> Result<(), CesError> {
        let index = self.chunks_stored();
        let sealed = seal_with(&self.key, &self.object, index, plain, self.params.zstd_level, self.planted)?;
        self.outgoing = Some(Outgoing {
            index,
            plain_len: plain.len() as u32,
            compressed: sealed.compressed,
            sealed: sealed.bytes,
            sent: 0,
        });
        Ok(())
    }

    /// Sends the chunk on its way again from its first byte (to another gateway, after this one
    /// went silent: a gateway keeps the pieces it took only for itself).
    pub fn restart_chunk(&mut self) {
        if let Some(outgoing) = &mut self.outgoing {
            outgoing.sent = 0;
        }
    }

    /// The sealed bytes of the chunk on its way (for checkers that look at ciphertexts).
    #[must_use]
    pub fn outgoing_sealed(&self) -> Option<(u32, bool, &[u8])> {
        self.outgoing.as_ref().map(|outgoing| (outgoing.index, outgoing.compressed, outgoing.sealed.as_slice()))
    }

    /// The request to send now: the next piece of the chunk on its way. Sending it again after a
    /// timeout is safe.
    #[must_use]
    pub fn next_request(&self) -> Option<ObjectRequest> {
        let outgoing = self.outgoing.as_ref()?;
        let total = outgoing.sealed.len() as u32;
        let offset = outgoing.sent.min(total);
        let len = self.piece_bytes_max.min(total - offset);
        Some(ObjectRequest::PutPiece {
            object: self.object,
            chunk: outgoing.index,
            data_shards: self.params.data_shards,
            parity_shards: self.params.parity_shards,
            sealed_len: total,
            offset,
            bytes: outgoing.sealed[offset as usize..(offset + len) as usize].to_vec(),
        })
    }

    /// Takes the gateway's answer.
    pub fn on_response(&mut self, response: &ObjectResponse) -> Result<PutStep, ObjectError> {
        let Some(outgoing) = &mut self.outgoing else { return Ok(PutStep::Ignored) };
        match response {
            ObjectResponse::PieceTaken { chunk, received } if *chunk == outgoing.index => {
                outgoing.sent = outgoing.sent.max(*received);
                Ok(PutStep::Continue)
            }
            ObjectResponse::ChunkStored { chunk, stored } if *chunk == outgoing.index => {
                let shards = self.params.shards();
                if stored.shard_hashes.len() != shards || stored.holders.len() != shards {
                    return Err(ObjectError::BadRequest(super::messages::BadRequest::EntryMismatch));
                }
                self.chunks.push(ChunkEntry {
                    plain_len: outgoing.plain_len,
                    compressed: outgoing.compressed,
                    sealed_len: stored.sealed_len,
                    shard_hashes: stored.shard_hashes.clone(),
                    holders: stored.holders.clone(),
                });
                self.commit_by = self.commit_by.min(stored.commit_by);
                self.outgoing = None;
                Ok(PutStep::ChunkStored)
            }
            ObjectResponse::Failed(error) => Err(error.clone()),
            _ => Ok(PutStep::Ignored),
        }
    }

    /// The manifest to commit once every chunk is stored, for an object of `size` bytes whose
    /// plaintext hashes to `content_hash` (from the [`ChunkCutter`](crate::ces::ChunkCutter)).
    #[must_use]
    pub fn manifest(&self, size: u64, content_hash: [u8; 32]) -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            object: self.object,
            size,
            content_hash,
            data_shards: self.params.data_shards,
            parity_shards: self.params.parity_shards,
            chunk_bytes: self.params.chunk_bytes,
            commit_by: if self.chunks.is_empty() { 0 } else { self.commit_by },
            chunks: self.chunks.clone(),
        }
    }
}

/// A chunk on its way from the gateway.
#[derive(Clone, Debug)]
struct Incoming {
    index: u32,
    sealed: Vec<u8>,
}

/// One read of a byte range of an object.
#[derive(Clone, Debug)]
pub struct GetObject {
    manifest: Manifest,
    key: ObjectKey,
    piece_bytes_max: u32,
    planted: Option<CesPlantedBug>,
    /// The range, clipped to the object.
    offset: u64,
    end: u64,
    /// Chunks still to read, the first being read now.
    next_chunk: u32,
    last_chunk: u32,
    incoming: Option<Incoming>,
    /// For a read of the whole object: its hash checked at the end.
    check: Option<ContentCheck>,
}

impl GetObject {
    /// A read of `len` bytes from `offset` of the object `manifest` describes, under `master`'s
    /// key, in pieces of at most `piece_bytes_max` bytes. A range past the end is clipped.
    #[must_use]
    pub fn new(master: &MasterKey, manifest: Manifest, offset: u64, len: u64, piece_bytes_max: u32) -> GetObject {
        let end = offset.saturating_add(len).min(manifest.size);
        let offset = offset.min(end);
        let chunks = manifest.chunks_for_range(offset, end - offset);
        let whole = offset == 0 && end == manifest.size;
        GetObject {
            key: master.object_key(&manifest.object),
            check: whole.then(|| ContentCheck::new(&manifest)),
            manifest,
            piece_bytes_max: piece_bytes_max.max(1),
            planted: None,
            offset,
            end,
            next_chunk: chunks.start,
            last_chunk: chunks.end,
            incoming: None,
        }
    }

    /// The same read with a bug planted in opening (no effect without the `planted-bugs` feature).
    #[must_use]
    pub fn with_planted(mut self, bug: Option<CesPlantedBug>) -> GetObject {
        self.planted = bug;
        self
    }

    /// True when every chunk of the range has been read.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.next_chunk >= self.last_chunk
    }

    /// The range's length.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.end - self.offset
    }

    /// True for an empty range.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end == self.offset
    }

    /// The request to send now (again after a timeout): the next piece of the chunk being read.
    #[must_use]
    pub fn next_request(&self) -> Option<ObjectRequest> {
        if self.is_done() {
            return None;
        }
        let index = self.next_chunk;
        let entry = &self.manifest.chunks[index as usize];
        let have =
            self.incoming.as_ref().filter(|incoming| incoming.index == index).map_or(0, |i| i.sealed.len() as u32);
        let len = self.piece_bytes_max.min(entry.sealed_len - have.min(entry.sealed_len));
        Some(ObjectRequest::GetPiece {
            object: self.manifest.object,
            chunk: index,
            entry: Box::new(entry.clone()),
            data_shards: self.manifest.data_shards,
            parity_shards: self.manifest.parity_shards,
            offset: have,
            len,
        })
    }

    /// Takes the gateway's answer; when it completes a chunk, returns that chunk's bytes within
    /// the range (bytes for the caller, in order). A full read whose bytes do not hash to the
    /// manifest's content hash fails at its last chunk; the pipeline's checks make that a bug.
    pub fn on_response(&mut self, response: &ObjectResponse) -> Result<Option<Vec<u8>>, ObjectError> {
        if self.is_done() {
            return Ok(None);
        }
        let index = self.next_chunk;
        match response {
            ObjectResponse::Piece { chunk, offset, bytes } if *chunk == index => {
                let incoming = self.incoming.get_or_insert_with(|| Incoming { index, sealed: Vec::new() });
                if incoming.index != index || *offset as usize != incoming.sealed.len() {
                    return Ok(None);
                }
                incoming.sealed.extend_from_slice(bytes);
                let entry = &self.manifest.chunks[index as usize];
                if incoming.sealed.len() < entry.sealed_len as usize {
                    return Ok(None);
                }
                let Some(incoming) = self.incoming.take() else { return Ok(None) };
                let object = self.manifest.object;
                let plain = open_with(
                    &self.key,
                    &object,
                    index,
                    entry.compressed,
                    entry.plain_len,
                    &incoming.sealed,
                    self.planted,
                )
                .map_err(ObjectError::Ces)?;
                self.next_chunk += 1;
                if let Some(check) = &mut self.check {
                    check.push(&plain);
                }
                if self.is_done()
                    && let Some(check) = self.check.take()
                {
                    check.finish().map_err(ObjectError::Ces)?;
                }
                let chunk_start = u64::from(index) * u64::from(self.manifest.chunk_bytes);
                let from = self.offset.saturating_sub(chunk_start).min(plain.len() as u64) as usize;
                let to = (self.end - chunk_start).min(plain.len() as u64) as usize;
                Ok(Some(plain[from..to.max(from)].to_vec()))
            }
            ObjectResponse::Failed(error) => Err(error.clone()),
            _ => Ok(None),
        }
    }
}

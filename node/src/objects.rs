//! Objects from the owner's side, over the network: files put into the object store and read back,
//! streaming, with the owner machines of [`pangea_core::objects::owner`] (the same ones the
//! simulator's clients drive) doing the sealing, cutting and checking.
//!
//! A put reads its file one piece at a time and cuts it into chunks ([`ChunkCutter`]); only one
//! chunk (plus the sealed copy on its way) is in memory at once, whatever the file's size. Each
//! chunk goes to one gateway node in pieces; after the last chunk, the manifest is committed
//! through the log, and only then does the object exist. A read asks the log for the manifest,
//! then the gateway for each chunk of the range, and writes each chunk's bytes as soon as it is
//! opened; a read of a whole object checks its content hash at the end.
//!
//! Gateways: the addresses given, first to last. One that does not answer is replaced by the next
//! (a put then sends its current chunk again from its first byte, since a gateway keeps the pieces
//! it took only for itself); a busy one is asked again after a pause. Every wait is bounded.
//!
//! Keys: the owner's [`MasterKey`] lives in a key file (64 hex digits and a newline, mode 0600);
//! nodes never see it. Randomness (object ids, new master keys) comes from the caller.

use crate::api::{ApiError, Client};
use crate::hex;
use pangea_core::NodeId;
use pangea_core::ces::{CesError, CesParams, ChunkCutter, Manifest, MasterKey, ObjectId, ParamsError};
use pangea_core::health::Health;
use pangea_core::metadata::manifests::{ObjectsOp, ObjectsResult, PutRefused};
use pangea_core::objects::owner::{GetObject, PutObject, PutStep};
use pangea_core::objects::{ObjectError, ObjectRequest, ObjectResponse, ObjectsConfig};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Bytes read from a file at once while cutting it into chunks.
pub const READ_BYTES: usize = 1024 * 1024;
/// How long to wait before asking a busy gateway again.
pub const BUSY_PAUSE: Duration = Duration::from_millis(100);
/// Most times in a row a gateway may answer busy before a transfer gives up (about a minute).
pub const BUSY_RETRIES_MAX: u32 = 600;
/// Most requests in a row that get no answer (from any gateway) before a transfer gives up, per
/// gateway known.
pub const SILENT_ATTEMPTS_PER_GATEWAY_MAX: usize = 3;
/// Pause after a request got no answer, before the next gateway is asked.
pub const SILENT_PAUSE: Duration = Duration::from_millis(200);
/// Most answers in a row that do not move a transfer on (answers to another request) before it
/// gives up.
pub const STRAY_ANSWERS_MAX: u32 = 16;

/// Why an object operation failed.
#[derive(Debug, Error)]
pub enum ObjectsError {
    /// The cluster could not be asked (no answer, token refused, …).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No gateway answered the object request.
    #[error("no gateway answered: {0}")]
    NoGateway(String),
    /// The gateway refused or failed the request.
    #[error("{}", gateway_error_text(.0))]
    Gateway(ObjectError),
    /// The parameters cannot work, or the data was refused by the pipeline.
    #[error(transparent)]
    Ces(#[from] CesError),
    /// The log refused the object's manifest.
    #[error("the cluster refused the object's manifest: {0}")]
    Refused(PutRefused),
    /// No object has this id.
    #[error("no object {0}")]
    NotFound(ObjectId),
    /// The input file cannot be read.
    #[error("cannot read {}: {cause}", .path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The output cannot be written.
    #[error("cannot write {what}: {cause}")]
    Output {
        /// The file, or "standard output".
        what: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The key file is missing, unreadable or malformed, or cannot be created.
    #[error("{0}")]
    KeyFile(String),
    /// More shards per chunk than the cluster has live members to put them on.
    #[error(
        "a chunk's {shards} shards ({data_shards} data + {parity_shards} parity) need {shards} live members, but \
         the cluster has {live}: lower --data-shards or --parity-shards"
    )]
    TooFewMembers {
        /// Data shards asked for.
        data_shards: u8,
        /// Parity shards asked for.
        parity_shards: u8,
        /// Their sum.
        shards: usize,
        /// Live members the gateway knows of.
        live: usize,
    },
    /// The gateway answered something this client cannot use.
    #[error("unexpected answer from the gateway: {0}")]
    Unexpected(String),
}

impl ObjectsError {
    /// True for mistakes of the caller (bad parameters, an unreadable input file, a bad key file):
    /// exit code 2 on the command line.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ObjectsError::Ces(CesError::InvalidParams(_))
                | ObjectsError::Gateway(ObjectError::Ces(CesError::InvalidParams(_)))
                | ObjectsError::Input { .. }
                | ObjectsError::KeyFile(_)
                | ObjectsError::Api(ApiError::Invalid(_))
        )
    }
}

/// A gateway's error as the user needs it.
fn gateway_error_text(error: &ObjectError) -> String {
    match error {
        ObjectError::NotEnoughPeers { live, needed } => format!(
            "the gateway sees {live} live members, but a chunk's {needed} shards need as many: lower \
             --data-shards or --parity-shards, or wait for members to come back"
        ),
        ObjectError::Ces(CesError::WrongKey { chunk }) => format!(
            "chunk {chunk} does not open with this master key: the object was put with another key file \
             (--key-file), or its bytes were tampered with"
        ),
        ObjectError::Unavailable { chunk, good, needed } => {
            format!(
                "chunk {chunk} cannot be read now: {good} good shards found, {needed} needed (too many holders down?)"
            )
        }
        other => format!("the gateway failed the request: {other}"),
    }
}

/// The nodes a transfer goes through, first to last; the current one until it stops answering.
#[derive(Clone, Debug)]
pub struct Gateways {
    addrs: Vec<SocketAddr>,
    current: usize,
}

impl Gateways {
    /// Gateways at `addrs`, in this order of preference.
    #[must_use]
    pub fn new(addrs: Vec<SocketAddr>) -> Gateways {
        Gateways { addrs, current: 0 }
    }

    /// The gateway asked now.
    #[must_use]
    pub fn current(&self) -> Option<SocketAddr> {
        self.addrs.get(self.current).copied()
    }

    /// Sends `request` to the current gateway until it answers something other than busy. `None`
    /// when it did not answer: the next gateway is current then, and the caller builds its request
    /// again (a put from its chunk's first byte).
    pub async fn send(
        &mut self,
        client: &mut Client,
        request: &ObjectRequest,
        silent_in_a_row: &mut usize,
    ) -> Result<Option<ObjectResponse>, ObjectsError> {
        let Some(addr) = self.current() else { return Err(ObjectsError::Api(ApiError::NoAddress)) };
        let mut busy = 0;
        loop {
            match client.object_request(addr, request.clone()).await {
                Ok(ObjectResponse::Failed(ObjectError::Busy)) => {
                    busy += 1;
                    if busy > BUSY_RETRIES_MAX {
                        return Err(ObjectsError::Gateway(ObjectError::Busy));
                    }
                    tokio::time::sleep(BUSY_PAUSE).await;
                }
                Ok(response) => {
                    *silent_in_a_row = 0;
                    return Ok(Some(response));
                }
                Err(error @ (ApiError::Unreachable(_) | ApiError::CannotWrite { .. } | ApiError::Refused(_))) => {
                    *silent_in_a_row += 1;
                    if *silent_in_a_row >= SILENT_ATTEMPTS_PER_GATEWAY_MAX * self.addrs.len() {
                        return Err(ObjectsError::NoGateway(error.to_string()));
                    }
                    tracing::debug!(%addr, %error, "gateway did not answer; trying the next");
                    self.current = (self.current + 1) % self.addrs.len();
                    tokio::time::sleep(SILENT_PAUSE).await;
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// The piece size gateways take.
fn piece_bytes_max() -> u32 {
    ObjectsConfig::default().piece_bytes_max
}

/// What a put stored.
#[derive(Clone, Debug)]
pub struct PutSummary {
    /// The object.
    pub object: ObjectId,
    /// Its size in bytes.
    pub size: u64,
    /// Its chunks.
    pub chunks: u32,
}

/// Puts the file at `path` as object `object` (a fresh random id) under `master`'s key, cut and
/// sharded as `params` say, through `gateways`; `progress` is told the bytes stored so far after
/// each chunk. Memory: one chunk and its sealed copy.
pub async fn put_file(
    client: &mut Client,
    gateways: &mut Gateways,
    master: &MasterKey,
    object: ObjectId,
    path: &Path,
    params: CesParams,
    progress: &mut dyn FnMut(u64),
) -> Result<PutSummary, ObjectsError> {
    params.validate()?;
    let input = |cause| ObjectsError::Input { path: path.to_owned(), cause };
    let mut file = std::fs::File::open(path).map_err(input)?;
    let mut put = PutObject::new(master, object, params, piece_bytes_max())?;
    let mut cutter = ChunkCutter::new(params.chunk_bytes)?;
    let mut buffer = vec![0; READ_BYTES];
    let mut stored = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(input(error)),
        };
        let mut rest = &buffer[..read];
        while let Some((index, chunk)) = cutter.next_chunk(&mut rest)? {
            debug_assert_eq!(index, put.chunks_stored());
            store_chunk(client, gateways, &mut put, &chunk).await?;
            stored += chunk.len() as u64;
            progress(stored);
        }
    }
    let end = cutter.finish();
    if let Some((index, chunk)) = end.last {
        debug_assert_eq!(index, put.chunks_stored());
        store_chunk(client, gateways, &mut put, &chunk).await?;
        stored += chunk.len() as u64;
        progress(stored);
    }
    assert_eq!(stored, end.size, "every byte read was stored");
    let manifest = put.manifest(end.size, end.content_hash);
    let chunks = manifest.chunks.len() as u32;
    match client.objects_command(ObjectsOp::Put(Box::new(manifest))).await? {
        ObjectsResult::Stored => Ok(PutSummary { object, size: end.size, chunks }),
        ObjectsResult::Refused(why) => Err(ObjectsError::Refused(why)),
        other => Err(ObjectsError::Unexpected(format!("{other:?}"))),
    }
}

/// Seals `plain` as the put's next chunk and sends it until the gateway reports it stored.
async fn store_chunk(
    client: &mut Client,
    gateways: &mut Gateways,
    put: &mut PutObject,
    plain: &[u8],
) -> Result<(), ObjectsError> {
    put.add_chunk(plain)?;
    let mut silent = 0;
    let mut stray = 0;
    loop {
        let Some(request) = put.next_request() else {
            return Err(ObjectsError::Unexpected("the put has no chunk on its way".to_owned()));
        };
        let Some(response) = gateways.send(client, &request, &mut silent).await? else {
            put.restart_chunk();
            continue;
        };
        match put.on_response(&response).map_err(ObjectsError::Gateway)? {
            PutStep::ChunkStored => return Ok(()),
            PutStep::Continue => stray = 0,
            PutStep::Ignored => {
                stray += 1;
                if stray > STRAY_ANSWERS_MAX {
                    return Err(ObjectsError::Unexpected(format!("{response:?}")));
                }
            }
        }
    }
}

/// Reads `len` bytes (all, when `None`) from `offset` of object `object` through `gateways` and
/// writes them to `out` chunk by chunk; `progress` is told the bytes written so far. Returns the
/// bytes written. A range past the end is clipped; a read of the whole object checks its content
/// hash before its last bytes are written.
#[allow(clippy::too_many_arguments)]
pub async fn get_to_writer(
    client: &mut Client,
    gateways: &mut Gateways,
    master: &MasterKey,
    object: ObjectId,
    offset: u64,
    len: Option<u64>,
    out: &mut dyn Write,
    out_name: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, ObjectsError> {
    let manifest = client.manifest(object).await?.ok_or(ObjectsError::NotFound(object))?;
    let mut get = GetObject::new(master, manifest, offset, len.unwrap_or(u64::MAX), piece_bytes_max());
    let total = get.len();
    let output = |cause| ObjectsError::Output { what: out_name.to_owned(), cause };
    let mut written = 0u64;
    progress(0, total);
    let mut silent = 0;
    let mut stray = 0;
    while !get.is_done() {
        let Some(request) = get.next_request() else { break };
        let Some(response) = gateways.send(client, &request, &mut silent).await? else { continue };
        if matches!(response, ObjectResponse::Piece { .. }) {
            stray = 0;
        } else {
            stray += 1;
            if stray > STRAY_ANSWERS_MAX {
                return Err(ObjectsError::Unexpected(format!("{response:?}")));
            }
        }
        if let Some(bytes) = get.on_response(&response).map_err(ObjectsError::Gateway)? {
            out.write_all(&bytes).map_err(output)?;
            written += bytes.len() as u64;
            progress(written, total);
        }
    }
    out.flush().map_err(output)?;
    assert_eq!(written, total, "every byte of the range was written");
    Ok(written)
}

/// Where one chunk's shards are, as the live members said.
#[derive(Clone, Debug)]
pub struct ChunkStat {
    /// The chunk.
    pub chunk: u32,
    /// Each member that answered, with the sound shards of the chunk it holds.
    pub holders: Vec<(NodeId, Vec<u8>)>,
    /// Members asked that did not answer in time.
    pub silent: Vec<NodeId>,
}

impl ChunkStat {
    /// Distinct shard indexes held sound by the members that answered.
    #[must_use]
    pub fn sound_shards(&self) -> usize {
        self.holders.iter().flat_map(|(_, shards)| shards.iter().copied()).collect::<BTreeSet<u8>>().len()
    }
}

/// An object's manifest and where each of its chunks' shards are.
#[derive(Clone, Debug)]
pub struct ObjectStat {
    /// The manifest.
    pub manifest: Manifest,
    /// Each chunk, in order.
    pub chunks: Vec<ChunkStat>,
}

impl ObjectStat {
    /// True when every chunk has all its shards sound on the live members.
    #[must_use]
    pub fn fully_redundant(&self) -> bool {
        let shards = usize::from(self.manifest.data_shards) + usize::from(self.manifest.parity_shards);
        self.chunks.iter().all(|chunk| chunk.sound_shards() == shards)
    }
}

/// The manifest of `object` and, asked through `gateways` (each asks every live member), where each
/// chunk's sound shards are.
pub async fn stat(client: &mut Client, gateways: &mut Gateways, object: ObjectId) -> Result<ObjectStat, ObjectsError> {
    let manifest = client.manifest(object).await?.ok_or(ObjectsError::NotFound(object))?;
    let mut chunks = Vec::with_capacity(manifest.chunks.len());
    let mut silent_in_a_row = 0;
    for chunk in 0..manifest.chunks.len() as u32 {
        let request = ObjectRequest::Locate { object, chunk };
        let mut stray = 0;
        loop {
            let Some(response) = gateways.send(client, &request, &mut silent_in_a_row).await? else { continue };
            match response {
                ObjectResponse::Located { chunk: located, holders, silent } if located == chunk => {
                    chunks.push(ChunkStat { chunk, holders, silent });
                    break;
                }
                ObjectResponse::Failed(error) => return Err(ObjectsError::Gateway(error)),
                other => {
                    stray += 1;
                    if stray > STRAY_ANSWERS_MAX {
                        return Err(ObjectsError::Unexpected(format!("{other:?}")));
                    }
                }
            }
        }
    }
    Ok(ObjectStat { manifest, chunks })
}

/// How many members the node at `addr` judges live (itself included): where shards can go.
pub async fn live_members(client: &mut Client, addr: SocketAddr) -> Result<usize, ApiError> {
    let (view, _) = client.status(addr).await?;
    let live = view
        .log
        .members
        .nodes
        .iter()
        .filter(|member| {
            **member == view.node || view.peers.iter().any(|peer| peer.id == **member && peer.health == Health::Alive)
        })
        .count();
    Ok(live)
}

/// Checks that a chunk's shards fit the live members the first answering gateway sees, so that a
/// put with too many shards fails before any byte is sent.
pub async fn check_live_members(
    client: &mut Client,
    gateways: &Gateways,
    params: &CesParams,
) -> Result<(), ObjectsError> {
    let mut last = None;
    for addr in &gateways.addrs {
        match live_members(client, *addr).await {
            Ok(live) if live < params.shards() => {
                return Err(ObjectsError::TooFewMembers {
                    data_shards: params.data_shards,
                    parity_shards: params.parity_shards,
                    shards: params.shards(),
                    live,
                });
            }
            Ok(_) => return Ok(()),
            Err(error @ ApiError::Unauthorized) => return Err(error.into()),
            Err(error) => last = Some(error),
        }
    }
    Err(last.map_or(ObjectsError::Api(ApiError::NoAddress), ObjectsError::Api))
}

/// This machine's memory from `/proc/meminfo` (`MemTotal`), if it can be read.
#[must_use]
pub fn memory_total_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// The chunk size for an object of `size` bytes: `preferred` if given, else a share of this
/// machine's memory ([`pangea_core::ces::chunk_bytes_for_memory`]), raised so that the object
/// fits [`pangea_core::ces::CHUNKS_MAX`] chunks.
pub fn chunk_bytes_for(size: u64, preferred: Option<u32>) -> Result<u32, CesError> {
    let preferred = match preferred {
        Some(chunk_bytes) => {
            if !(pangea_core::ces::CHUNK_BYTES_MIN..=pangea_core::ces::CHUNK_BYTES_MAX).contains(&chunk_bytes) {
                return Err(ParamsError::ChunkBytes {
                    chunk_bytes,
                    min: pangea_core::ces::CHUNK_BYTES_MIN,
                    max: pangea_core::ces::CHUNK_BYTES_MAX,
                }
                .into());
            }
            chunk_bytes
        }
        None => memory_total_bytes().map_or(CesParams::default().chunk_bytes, pangea_core::ces::chunk_bytes_for_memory),
    };
    pangea_core::ces::chunk_bytes_for_size(size, preferred)
}

/// The key file used when none is given: `$HOME/.config/pangea/master.key`.
#[must_use]
pub fn default_key_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty())?;
    Some(PathBuf::from(home).join(".config").join("pangea").join("master.key"))
}

/// Reads the master key from `path`: 64 hex digits, then optionally a newline.
pub fn read_master_key(path: &Path) -> Result<MasterKey, ObjectsError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        let why = if error.kind() == std::io::ErrorKind::NotFound {
            "it does not exist (a put creates one; give the key the objects were put with via --key-file or \
             PANGEA_KEY_FILE)"
                .to_owned()
        } else {
            error.to_string()
        };
        ObjectsError::KeyFile(format!("cannot read the master key file {}: {why}", path.display()))
    })?;
    parse_master_key(&text).ok_or_else(|| {
        ObjectsError::KeyFile(format!("the master key file {} does not hold 64 hex digits", path.display()))
    })
}

/// The master key in a key file's text: 64 hex digits, then optionally a newline; `None` for
/// anything else.
#[must_use]
pub fn parse_master_key(text: &str) -> Option<MasterKey> {
    hex::decode_32(text.trim_end_matches(['\n', '\r'])).map(MasterKey::from_bytes)
}

/// The master key at `path`, or, when there is no file there, a new one of `fresh` bytes written
/// there (mode 0600, its directory created as needed); true when it was created.
pub fn read_or_create_master_key(path: &Path, fresh: [u8; 32]) -> Result<(MasterKey, bool), ObjectsError> {
    if path.exists() {
        return read_master_key(path).map(|key| (key, false));
    }
    let cannot = |error: std::io::Error| {
        ObjectsError::KeyFile(format!("cannot create the master key file {}: {error}", path.display()))
    };
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(parent).map_err(cannot)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another put created it meanwhile: use that one.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return read_master_key(path).map(|key| (key, false));
        }
        Err(error) => return Err(cannot(error)),
    };
    let text = format!("{}\n", hex::encode(&fresh));
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(cannot)?;
    let key = read_master_key(path)?;
    assert_eq!(key.to_bytes(), fresh, "the key file reads back as written");
    Ok((key, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_file_reads_back_and_is_private() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("sub").join("master.key");
        let (key, created) = read_or_create_master_key(&path, [7; 32]).unwrap();
        assert!(created);
        assert_eq!(key.to_bytes(), [7; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (again, created) = read_or_create_master_key(&path, [9; 32]).unwrap();
        assert!(!created);
        assert_eq!(again.to_bytes(), [7; 32]);
        std::fs::write(&path, "not hex\n").unwrap();
        assert!(matches!(read_master_key(&path), Err(ObjectsError::KeyFile(_))));
        assert!(matches!(read_master_key(&temp.path().join("absent")), Err(ObjectsError::KeyFile(_))));
    }

    #[test]
    fn chunk_size_follows_memory_and_size() {
        assert!(memory_total_bytes().is_none_or(|bytes| bytes > 0));
        assert_eq!(chunk_bytes_for(10, Some(1 << 20)), Ok(1 << 20));
        assert_eq!(chunk_bytes_for(4 << 30, Some(1 << 20)), Ok(4 << 20));
        assert!(chunk_bytes_for(10, Some(1)).is_err());
        let chunk_bytes = chunk_bytes_for(10, None).unwrap();
        assert!((pangea_core::ces::CHUNK_BYTES_MIN..=pangea_core::ces::CHUNK_BYTES_MAX).contains(&chunk_bytes));
    }
}

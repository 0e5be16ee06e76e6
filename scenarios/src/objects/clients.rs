//! Owners of objects: each client puts objects (sizes from empty to several MiB, text and random
//! bytes), reads them back whole or in ranges, and deletes them, through the same owner machines
//! the `pangea object` commands use ([`PutObject`], [`GetObject`]). Manifests go through the log
//! with a session, as any client's commands do; pieces go to a gateway node. Every operation is
//! recorded for the checkers.

use super::checkers::Checks;
use super::content::Content;
use crate::kit::model_clients::{begin_operation, left_out_pause};
use pangea_core::ces::{CesParams, CesPlantedBug, Manifest, MasterKey, ObjectId};
use pangea_core::log::{LogRequest, LogResponse};
use pangea_core::metadata::manifests::{ObjectsAnswer, ObjectsOp, ObjectsQuery, ObjectsResult};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::objects::owner::{GetObject, PutObject, PutStep};
use pangea_core::objects::{ObjectError, ObjectResponse};
use pangea_core::pangea::{NodeResponse, PangeaRequest, PangeaResponse};
use pangea_core::random::{below, duration_between};
use pangea_core::{Duration, Instant, PangeaNode, RequestId, Rng};
use pangea_sim::{SeedStreams, Sim, SimRng};
use std::collections::BTreeMap;

/// How the owners behave.
#[derive(Clone, Debug)]
pub struct ClientsConfig {
    /// Concurrent clients.
    pub clients: u32,
    /// Most operations in all.
    pub operations_max: u64,
    /// How objects are cut and sharded.
    pub params: CesParams,
    /// The largest object.
    pub size_max: u64,
    /// The largest piece a request carries.
    pub piece_bytes_max: u32,
    /// How long one attempt waits for its answer.
    pub attempt_timeout: Duration,
    /// How long an operation is tried before its client gives up.
    pub give_up_after: Duration,
    /// Pause between a client's operations, drawn up to this.
    pub think_max: Duration,
    /// The planted sealing bug, if any.
    pub planted: Option<CesPlantedBug>,
}

/// What an operation asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Put an object.
    Put {
        /// The object.
        object: ObjectId,
        /// Its bytes.
        content: Content,
    },
    /// Read a range of an object (the whole when `offset` is 0 and `len` its size or more).
    Get {
        /// The object.
        object: ObjectId,
        /// Where the range starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// Delete an object.
    Delete {
        /// The object.
        object: ObjectId,
    },
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not yet.
    Pending,
    /// The put's manifest committed.
    Stored,
    /// The operation failed without effect (a typed error, or a refused manifest).
    Failed(String),
    /// A read returned bytes; `matches` says whether they were the object's.
    Read {
        /// True when the bytes are those written.
        matches: bool,
    },
    /// A read found no manifest.
    Absent,
    /// A delete took effect.
    Deleted {
        /// Whether the object existed.
        existed: bool,
    },
    /// The client gave up, or the run ended: it may or may not have taken effect.
    Unknown,
}

/// One operation of the history.
#[derive(Clone, Debug)]
pub struct ObjectOperation {
    /// The client that issued it.
    pub issuer: usize,
    /// What it asked.
    pub kind: OpKind,
    /// When it began.
    pub invoked_at: Instant,
    /// When it ended, if it did.
    pub completed_at: Option<Instant>,
    /// How.
    pub outcome: Outcome,
}

/// What a client is in the middle of.
#[derive(Clone, Debug)]
enum Task {
    Thinking { at: Instant },
    Put { op: usize, bytes: Vec<u8>, put: Box<PutObject>, manifest: Option<Box<Manifest>>, sequence: Option<u64> },
    GetManifest { op: usize },
    GetPieces { op: usize, get: Box<GetObject>, out: Vec<u8> },
    Delete { op: usize, sequence: Option<u64> },
    Done,
}

/// What an attempt in flight was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    OpenSession,
    Log,
    Gateway,
}

#[derive(Clone, Debug)]
struct Attempt {
    request: RequestId,
    deadline: Instant,
    kind: Kind,
}

#[derive(Clone, Debug)]
struct Client {
    rng: SimRng,
    /// The node that gets its log requests (the leader, once it knows).
    log_target: u32,
    /// The node its pieces go through.
    gateway: u32,
    session: Option<u64>,
    sequence: u64,
    task: Task,
    attempt: Option<Attempt>,
    /// Attempts on the present gateway that timed out in a row.
    timeouts: u32,
    /// Issues one operation only (a final read).
    extra: bool,
}

/// The owners and their history.
pub struct ObjectClients {
    config: ClientsConfig,
    master: MasterKey,
    clients: Vec<Client>,
    waiting: BTreeMap<RequestId, usize>,
    streams: SeedStreams,
    nodes: u32,
    /// Every operation, in invocation order.
    pub history: Vec<ObjectOperation>,
    /// Every object put, with its bytes' recipe.
    pub contents: BTreeMap<ObjectId, Content>,
    stop_issuing_at: Instant,
    issued: u64,
}

impl ObjectClients {
    /// Owners of objects on `nodes` nodes, issuing operations until `stop_issuing_at`.
    #[must_use]
    pub fn new(config: ClientsConfig, streams: &SeedStreams, nodes: u32, stop_issuing_at: Instant) -> ObjectClients {
        let mut key_rng = streams.stream("objects/master-key");
        let mut key = [0; 32];
        key_rng.fill_bytes(&mut key);
        let mut clients = ObjectClients {
            master: MasterKey::from_bytes(key),
            clients: Vec::new(),
            waiting: BTreeMap::new(),
            streams: streams.clone(),
            nodes,
            history: Vec::new(),
            contents: BTreeMap::new(),
            stop_issuing_at,
            issued: 0,
            config,
        };
        for _ in 0..clients.config.clients {
            clients.add_client(false);
        }
        clients
    }

    fn add_client(&mut self, extra: bool) -> usize {
        let index = self.clients.len();
        let mut rng = self.streams.stream(&format!("objects/client/{index}"));
        let log_target = below(&mut rng, u64::from(self.nodes)) as u32;
        let gateway = below(&mut rng, u64::from(self.nodes)) as u32;
        let task = if extra { Task::Done } else { Task::Thinking { at: Instant::ZERO + Duration::from_millis(500) } };
        self.clients.push(Client {
            rng,
            log_target,
            gateway,
            session: None,
            sequence: 0,
            task,
            attempt: None,
            timeouts: 0,
            extra,
        });
        index
    }

    /// Operations still in progress.
    #[must_use]
    pub fn outstanding(&self) -> usize {
        self.clients.iter().filter(|client| !matches!(client.task, Task::Thinking { .. } | Task::Done)).count()
    }

    /// True when operation `op` has ended.
    #[must_use]
    pub fn is_done(&self, op: usize) -> bool {
        self.history[op].outcome != Outcome::Pending
    }

    /// Takes answers, resends what timed out, and starts new operations, up to now.
    pub fn act(&mut self, sim: &mut Sim<PangeaNode>, checks: &mut Checks) {
        for reply in sim.take_replies() {
            let Some(client) = self.waiting.remove(&reply.request) else { continue };
            let Some(attempt) = self.clients[client].attempt.take() else { continue };
            if attempt.request != reply.request {
                continue;
            }
            self.clients[client].timeouts = 0;
            self.on_reply(sim, client, attempt.kind, reply.body, checks);
        }
        let now = sim.now();
        for client in 0..self.clients.len() {
            if let Some(attempt) = &self.clients[client].attempt
                && now >= attempt.deadline
            {
                let attempt = self.clients[client].attempt.take().expect("checked");
                self.waiting.remove(&attempt.request);
                self.on_timeout(sim, client, attempt.kind);
            }
            if let Task::Thinking { at } = self.clients[client].task
                && now >= at
            {
                self.begin(sim, client);
            }
        }
    }

    /// Starts the client's next operation, if it may.
    fn begin(&mut self, sim: &mut Sim<PangeaNode>, client: usize) {
        let now = sim.now();
        if now >= self.stop_issuing_at || self.issued >= self.config.operations_max {
            self.clients[client].task = Task::Done;
            return;
        }
        if !begin_operation(&mut self.clients[client].rng, now) {
            self.clients[client].task = Task::Thinking { at: now + left_out_pause(self.config.think_max) };
            return;
        }
        self.issued += 1;
        let known: Vec<ObjectId> = self.contents.keys().copied().collect();
        let rng = &mut self.clients[client].rng;
        let roll = below(rng, 20);
        let kind = if known.is_empty() || roll < 9 {
            let mut id = [0; 32];
            rng.fill_bytes(&mut id);
            let content = Content::draw(rng, u64::from(self.config.params.chunk_bytes), self.config.size_max);
            OpKind::Put { object: ObjectId(id), content }
        } else {
            let object = known[below(rng, known.len() as u64) as usize];
            if roll < 17 {
                let size = self.contents[&object].size;
                let (offset, len) = if below(rng, 3) == 0 && size > 0 {
                    let offset = below(rng, size);
                    (offset, 1 + below(rng, size - offset))
                } else {
                    (0, u64::MAX)
                };
                OpKind::Get { object, offset, len }
            } else {
                OpKind::Delete { object }
            }
        };
        self.start(sim, client, kind);
    }

    /// Issues one operation from a fresh client (after the heal); returns its index.
    pub fn issue_extra(&mut self, sim: &mut Sim<PangeaNode>, kind: OpKind) -> usize {
        let client = self.add_client(true);
        self.start(sim, client, kind)
    }

    /// Starts operation `kind` on `client`; returns its index in the history.
    fn start(&mut self, sim: &mut Sim<PangeaNode>, client: usize, kind: OpKind) -> usize {
        let op = self.record(sim, client, kind.clone());
        self.clients[client].task = match kind {
            OpKind::Put { object, content } => {
                self.contents.insert(object, content);
                match PutObject::new(&self.master, object, self.config.params, self.config.piece_bytes_max) {
                    Ok(put) => Task::Put {
                        op,
                        bytes: content.bytes(),
                        put: Box::new(put.with_planted(self.config.planted)),
                        manifest: None,
                        sequence: None,
                    },
                    Err(error) => {
                        self.end(sim, client, op, Outcome::Failed(error.to_string()));
                        return op;
                    }
                }
            }
            OpKind::Get { .. } => Task::GetManifest { op },
            OpKind::Delete { .. } => Task::Delete { op, sequence: None },
        };
        self.send_next(sim, client);
        op
    }

    fn record(&mut self, sim: &Sim<PangeaNode>, issuer: usize, kind: OpKind) -> usize {
        let invoked_at = sim.now();
        self.history.push(ObjectOperation { issuer, kind, invoked_at, completed_at: None, outcome: Outcome::Pending });
        self.history.len() - 1
    }

    /// Ends operation `op` of `client` with `outcome`, and the client thinks before its next.
    fn end(&mut self, sim: &Sim<PangeaNode>, client: usize, op: usize, outcome: Outcome) {
        let record = &mut self.history[op];
        if record.outcome == Outcome::Pending {
            record.outcome = outcome;
            record.completed_at = Some(sim.now());
        }
        let state = &mut self.clients[client];
        let pause = duration_between(&mut state.rng, Duration::ZERO, self.config.think_max);
        state.task = if state.extra { Task::Done } else { Task::Thinking { at: sim.now() + pause } };
    }

    /// Sends the request the client's task needs next (or ends the task).
    fn send_next(&mut self, sim: &mut Sim<PangeaNode>, client: usize) {
        let now = sim.now();
        let give_up = self.config.give_up_after;
        let state = &mut self.clients[client];
        let (op, is_put) = match &state.task {
            Task::Put { op, .. } => (*op, true),
            Task::GetManifest { op } | Task::GetPieces { op, .. } | Task::Delete { op, .. } => (*op, false),
            Task::Thinking { .. } | Task::Done => return,
        };
        // Operations after the heal (extra clients) have the settling phase's time.
        let give_up = if state.extra { give_up * 3 } else { give_up };
        if now - self.history[op].invoked_at >= give_up {
            // A put whose manifest may be on its way ends unknown; anything else changed nothing.
            let committing = matches!(&state.task, Task::Put { manifest: Some(_), .. });
            let deleting = matches!(&state.task, Task::Delete { .. });
            let outcome = if committing || deleting { Outcome::Unknown } else { Outcome::Failed("gave up".to_owned()) };
            let _ = is_put;
            self.end(sim, client, op, outcome);
            return;
        }
        let request = match &mut state.task {
            Task::Put { bytes, put, manifest, sequence, .. } => if manifest.is_none() {
                if put.next_request().is_none() {
                    let chunk_bytes = self.config.params.chunk_bytes as usize;
                    let start = put.chunks_stored() as usize * chunk_bytes;
                    if start < bytes.len() {
                        let end = (start + chunk_bytes).min(bytes.len());
                        if let Err(error) = put.add_chunk(&bytes[start..end]) {
                            self.end(sim, client, op, Outcome::Failed(error.to_string()));
                            return;
                        }
                    } else {
                        let content_hash = *blake3::hash(bytes).as_bytes();
                        *manifest = Some(Box::new(put.manifest(bytes.len() as u64, content_hash)));
                    }
                }
                if manifest.is_none() {
                    let request = put.next_request().expect("a chunk is on its way");
                    Some((Kind::Gateway, PangeaRequest::Objects(request)))
                } else {
                    None
                }
            } else {
                None
            }
            .or_else(|| {
                let command = MetadataCommand::Objects(ObjectsOp::Put(manifest.clone().expect("set above")));
                log_command(state_session(&mut state.session, &mut state.sequence, sequence), command)
            }),
            Task::GetManifest { op } => {
                let OpKind::Get { object, .. } = self.history[*op].kind else { return };
                let query = MetadataQuery::Objects(ObjectsQuery::Manifest(object));
                Some((Kind::Log, PangeaRequest::Log(LogRequest::Read(query))))
            }
            Task::GetPieces { get, .. } => {
                get.next_request().map(|request| (Kind::Gateway, PangeaRequest::Objects(request)))
            }
            Task::Delete { op, sequence } => {
                let OpKind::Delete { object } = self.history[*op].kind else { return };
                let command = MetadataCommand::Objects(ObjectsOp::Delete(object));
                log_command(state_session(&mut state.session, &mut state.sequence, sequence), command)
            }
            Task::Thinking { .. } | Task::Done => return,
        };
        let Some((kind, body)) = request else { return };
        let target = if kind == Kind::Gateway { state.gateway } else { state.log_target };
        let request = sim.client_request(target, &body);
        self.waiting.insert(request, client);
        let deadline = now + self.config.attempt_timeout;
        self.clients[client].attempt = Some(Attempt { request, deadline, kind });
    }

    fn on_timeout(&mut self, sim: &mut Sim<PangeaNode>, client: usize, kind: Kind) {
        let nodes = u64::from(self.nodes);
        let state = &mut self.clients[client];
        state.timeouts += 1;
        match kind {
            Kind::Gateway if state.timeouts >= 3 => {
                // The gateway seems gone: start the chunk again elsewhere.
                state.timeouts = 0;
                state.gateway = below(&mut state.rng, nodes) as u32;
                if let Task::Put { put, .. } = &mut state.task {
                    put.restart_chunk();
                }
            }
            Kind::Gateway => {}
            Kind::OpenSession | Kind::Log => state.log_target = below(&mut state.rng, nodes) as u32,
        }
        self.send_next(sim, client);
    }

    fn on_reply(
        &mut self,
        sim: &mut Sim<PangeaNode>,
        client: usize,
        kind: Kind,
        body: PangeaResponse,
        checks: &mut Checks,
    ) {
        let nodes = u64::from(self.nodes);
        match body {
            PangeaResponse::Log(response) => self.on_log(sim, client, kind, response),
            PangeaResponse::Objects(response) if kind == Kind::Gateway => {
                self.on_gateway(sim, client, &response, checks)
            }
            PangeaResponse::Node(NodeResponse::CannotWrite { .. }) | PangeaResponse::Objects(_) => {
                let state = &mut self.clients[client];
                state.log_target = below(&mut state.rng, nodes) as u32;
                self.send_next(sim, client);
            }
            _ => self.send_next(sim, client),
        }
    }

    fn on_log(
        &mut self,
        sim: &mut Sim<PangeaNode>,
        client: usize,
        kind: Kind,
        response: pangea_core::pangea::MetadataResponse,
    ) {
        let nodes = u64::from(self.nodes);
        let state = &mut self.clients[client];
        match response {
            LogResponse::SessionOpened { client: session } if kind == Kind::OpenSession => {
                state.session = Some(session);
                state.sequence = 0;
                if let Task::Put { sequence, .. } | Task::Delete { sequence, .. } = &mut state.task {
                    *sequence = None;
                }
            }
            LogResponse::Done { output: MetadataOutput::Objects(result), sequence: answered, .. }
                if kind == Kind::Log =>
            {
                let (op, expected) = match &state.task {
                    Task::Put { op, sequence, .. } | Task::Delete { op, sequence } => (*op, *sequence),
                    _ => return self.send_next(sim, client),
                };
                if expected != Some(answered) {
                    return self.send_next(sim, client);
                }
                let outcome = match result {
                    ObjectsResult::Stored => Outcome::Stored,
                    ObjectsResult::Refused(why) => Outcome::Failed(why.to_string()),
                    ObjectsResult::Deleted { existed } => Outcome::Deleted { existed },
                };
                return self.end(sim, client, op, outcome);
            }
            LogResponse::Answer { answer: MetadataAnswer::Objects(ObjectsAnswer::Manifest(manifest)), .. }
                if kind == Kind::Log =>
            {
                let Task::GetManifest { op } = state.task else { return self.send_next(sim, client) };
                let OpKind::Get { offset, len, .. } = self.history[op].kind else { return };
                let Some(manifest) = manifest else { return self.end(sim, client, op, Outcome::Absent) };
                let get = GetObject::new(&self.master, *manifest, offset, len, self.config.piece_bytes_max)
                    .with_planted(self.config.planted);
                if get.is_done() {
                    let matches = self.matches(op, &[]);
                    return self.end(sim, client, op, Outcome::Read { matches });
                }
                self.clients[client].task = Task::GetPieces { op, get: Box::new(get), out: Vec::new() };
            }
            LogResponse::SessionExpired { .. } => {
                state.session = None;
                // Whether an earlier attempt applied is unknown.
                if let Task::Put { op, manifest: Some(_), .. } | Task::Delete { op, .. } = state.task {
                    return self.end(sim, client, op, Outcome::Unknown);
                }
            }
            LogResponse::NotLeader { leader } => {
                state.log_target = match leader.and_then(|leader| sim.index_of(&leader)) {
                    Some(leader) => leader,
                    None => below(&mut state.rng, nodes) as u32,
                };
            }
            _ => state.log_target = below(&mut state.rng, nodes) as u32,
        }
        self.send_next(sim, client);
    }

    fn on_gateway(&mut self, sim: &mut Sim<PangeaNode>, client: usize, response: &ObjectResponse, checks: &mut Checks) {
        let nodes = u64::from(self.nodes);
        let state = &mut self.clients[client];
        let busy = matches!(response, ObjectResponse::Failed(ObjectError::Busy));
        if busy {
            state.gateway = below(&mut state.rng, nodes) as u32;
            if let Task::Put { put, .. } = &mut state.task {
                put.restart_chunk();
            }
            return self.send_next(sim, client);
        }
        match &mut state.task {
            Task::Put { op, put, .. } => {
                let op = *op;
                let sealed =
                    put.outgoing_sealed().map(|(index, compressed, sealed)| (index, compressed, sealed.to_vec()));
                match put.on_response(response) {
                    Ok(PutStep::ChunkStored) => {
                        if let ObjectResponse::ChunkStored { chunk, stored } = response {
                            checks.chunk_acknowledged(sim, put.object(), *chunk, stored);
                        }
                        if let (Some((index, compressed, sealed)), OpKind::Put { content, .. }) =
                            (sealed, &self.history[op].kind)
                        {
                            checks.sealed_chunk(sim, put.object(), content, index, compressed, &sealed, &self.config);
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        // The next put goes through another node.
                        state.gateway = below(&mut state.rng, nodes) as u32;
                        return self.end(sim, client, op, Outcome::Failed(error.to_string()));
                    }
                }
            }
            Task::GetPieces { op, get, out } => {
                let op = *op;
                match get.on_response(response) {
                    Ok(Some(bytes)) => out.extend_from_slice(&bytes),
                    Ok(None) => {}
                    Err(ObjectError::Unavailable { .. }) if state.extra => {
                        // A read after the heal tries again while repair catches up, as an owner
                        // who must have the object would.
                        state.task = Task::GetManifest { op };
                        return self.send_next(sim, client);
                    }
                    Err(error) => return self.end(sim, client, op, Outcome::Failed(error.to_string())),
                }
                if get.is_done() {
                    let out = std::mem::take(out);
                    let matches = self.matches(op, &out);
                    return self.end(sim, client, op, Outcome::Read { matches });
                }
            }
            _ => {}
        }
        self.send_next(sim, client);
    }

    /// Whether `bytes` are what get `op` should have read.
    fn matches(&self, op: usize, bytes: &[u8]) -> bool {
        let OpKind::Get { object, offset, len } = self.history[op].kind else { return false };
        let Some(content) = self.contents.get(&object) else { return false };
        let whole = content.bytes();
        let start = offset.min(content.size) as usize;
        let end = offset.saturating_add(len).min(content.size) as usize;
        whole[start..end] == *bytes
    }

    /// Every object whose delete was acknowledged after it existed, with its chunks and shards per
    /// chunk.
    #[must_use]
    pub fn deleted_objects(&self) -> Vec<(ObjectId, u32, u8)> {
        let chunk_bytes = u64::from(self.config.params.chunk_bytes);
        let shards = self.config.params.data_shards + self.config.params.parity_shards;
        self.history
            .iter()
            .filter_map(|operation| match (&operation.kind, &operation.outcome) {
                (OpKind::Delete { object }, Outcome::Deleted { existed: true }) => {
                    let size = self.contents.get(object).map_or(0, |content| content.size);
                    Some((*object, size.div_ceil(chunk_bytes) as u32, shards))
                }
                _ => None,
            })
            .collect()
    }

    /// Ends every operation still in progress as unknown (the run is over).
    pub fn abandon(&mut self) {
        for record in &mut self.history {
            if record.outcome == Outcome::Pending {
                record.outcome = Outcome::Unknown;
            }
        }
    }
}

/// The session and sequence number a command goes with, numbering it on its first attempt in a
/// session; `None` when a session must be opened first.
fn state_session(session: &mut Option<u64>, counter: &mut u64, sequence: &mut Option<u64>) -> Option<(u64, u64)> {
    let session = (*session)?;
    let number = *sequence.get_or_insert_with(|| {
        *counter += 1;
        *counter
    });
    Some((session, number))
}

/// The request for a command through the log (or for the session it needs first).
fn log_command(seat: Option<(u64, u64)>, command: MetadataCommand) -> Option<(Kind, PangeaRequest)> {
    Some(match seat {
        None => (Kind::OpenSession, PangeaRequest::Log(LogRequest::OpenSession)),
        Some((client, sequence)) => (Kind::Log, PangeaRequest::Log(LogRequest::Command { client, sequence, command })),
    })
}

//! The client library: records, object manifests and object requests, membership changes, the
//! directory and status against a running Pangea cluster, used by the CLI, by joining nodes and by the load generator;
//! the DHT's calls are in [`dht`], the property graph's in [`graph`] and the event store's in [`events`].
//!
//! A [`Client`] knows some nodes' addresses and the cluster's client token. Commands go through the
//! replicated log in a session the client opens there on first use; each command gets the next
//! sequence number of the session and keeps it across retries, so a command that times out and is
//! sent again (or is sent to two nodes at once) is applied at most once. Keys and values over the
//! records' limits are refused before anything is sent, with the same typed error the node would
//! give.
//!
//! Finding the leader without waiting on a dead node: a client that knows no leader asks every
//! known node at once and takes the first final answer (followers answer `NotLeader` at once and
//! do nothing). Once a node has given a final answer, the client goes to it first; if it has not
//! answered within [`HEDGE_AFTER`], or fails sooner, the others are asked too. A `NotLeader` answer
//! names the leader; the client finds its address in the cluster's directory (asking that node's
//! status when it does not know it yet) and asks it too. So one unreachable node costs a fresh
//! client nothing and a client that believed it to lead one [`HEDGE_AFTER`], not an
//! [`ATTEMPT_TIMEOUT`] per operation. When no node gives a final answer, the client pauses
//! [`RETRY_PAUSE`] and starts again, until the call's deadline.

use crate::client::{ClientConn, ClientError};
use crate::wire::{ClientEnvelope, ClientReply, ClientRequest, RuntimeStatus};
use pangea_core::ces::{Manifest, ObjectId};
use pangea_core::log::{InvalidCommand, LogRequest, LogResponse, MemberChange, MemberChangeRefused, Members};
use pangea_core::metadata::directory::DirectoryOp;
use pangea_core::metadata::manifests::{ObjectSummary, ObjectsAnswer, ObjectsOp, ObjectsQuery, ObjectsResult};
use pangea_core::metadata::records::{KvOp, KvResult, RecordLimits};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::objects::{ObjectRequest, ObjectResponse};
use pangea_core::pangea::{MetadataRequest, MetadataResponse, NodeRequest, NodeResponse, NodeView};
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use pangea_core::{Codec, NodeId};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub mod dht;
pub mod events;
pub mod graph;

/// The longest one request to one node may take (less when the call's deadline is nearer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause before asking again after no node gave a final answer.
pub const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// The longest one object request to its gateway may take (less when the call's deadline is
/// nearer): the gateway answers a chunk's last piece once all its shards are durable, and gives a
/// read up to its fetch deadline (20 s by default) to find k good shards.
pub const OBJECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the node that answered last has to answer before the other nodes are asked too.
/// Healthy commands take milliseconds; a node that takes this long is probably gone, and asking
/// the others twice is harmless (followers answer `NotLeader`, the session deduplicates).
pub const HEDGE_AFTER: Duration = Duration::from_millis(200);

/// Why one request to one node got no answer.
#[derive(Clone, Debug, Error)]
#[error("{addr}: {why}")]
pub struct NoAnswer {
    /// The node's address.
    pub addr: SocketAddr,
    /// What went wrong ("did not answer within 2s", "cannot connect: …").
    pub why: String,
}

/// Why a client call failed.
#[derive(Debug, Error)]
pub enum ApiError {
    /// No node gave a final answer within the call's deadline.
    #[error("no answer from the cluster within {within} (last problem: {last})", within = seconds(*.0), last = .1)]
    Timeout(Duration, String),
    /// The node asked got no answer (a call to one node, such as [`Client::status`]).
    #[error(transparent)]
    Unreachable(#[from] NoAnswer),
    /// The node refused the client token.
    #[error("the node refused the client token (check --token or PANGEA_TOKEN)")]
    Unauthorized,
    /// The node could not serve the request.
    #[error("refused: {0}")]
    Refused(String),
    /// The command is invalid (too large); nothing was sent or done.
    #[error("{0}")]
    Invalid(#[from] InvalidCommand),
    /// The command may or may not have been applied, and its outcome can no longer be learned.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// The node answered something this client does not understand.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// No address to talk to.
    #[error("no node address given")]
    NoAddress,
    /// The node's DHT refused the request (too busy, a value over the limit, too many published).
    #[error("the DHT refused: {0}")]
    Dht(pangea_core::dht::DhtRefusal),
    /// The graph did nothing, for this reason (no such entity, a full graph); every replica finds
    /// the same.
    #[error("{0}")]
    Graph(pangea_core::graph::GraphError),
    /// The event store did nothing, for this reason (full); every replica finds the same.
    #[error("{0}")]
    Events(pangea_core::events::EventsError),
    /// The node's storage failed (a full disk, say): it did nothing, and no other node asked could
    /// serve the request. It reopens its storage by itself and resumes once that works.
    #[error("node {node} cannot write: {cause}")]
    CannotWrite {
        /// The node, as its short id.
        node: String,
        /// What failed.
        cause: String,
    },
}

/// `duration` for people: "1s", "1.5s", "250ms" (rounded up to the millisecond, so a limit just
/// under a second still reads as the second it came from).
#[must_use]
pub fn seconds(duration: Duration) -> String {
    let millis = duration.as_micros().div_ceil(1000);
    format!("{:?}", Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX)))
}

/// An error and its sources, as one line.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What came of one request to one node.
struct Attempt {
    addr: SocketAddr,
    /// A connection this attempt opened, worth keeping when it answered.
    opened: Option<ClientConn>,
    outcome: Result<ClientReply, Failed>,
}

/// Why an attempt got no answer, and whether its request may have reached the node.
struct Failed {
    no_answer: NoAnswer,
    maybe_delivered: bool,
}

/// Sends `envelope` to `addr` (over `cached`, or a new connection) and waits at most `limit` for
/// the answer.
async fn attempt(addr: SocketAddr, cached: Option<ClientConn>, envelope: Arc<[u8]>, limit: Duration) -> Attempt {
    let started = Instant::now();
    let failed = |why: String, maybe_delivered| Failed { no_answer: NoAnswer { addr, why }, maybe_delivered };
    let late = || format!("did not answer within {}", seconds(limit));
    let (connection, opened) = match cached {
        Some(connection) => (connection, None),
        None => match tokio::time::timeout(limit, ClientConn::connect(addr, None)).await {
            Ok(Ok(connection)) => (connection.clone(), Some(connection)),
            Ok(Err(error)) => return Attempt { addr, opened: None, outcome: Err(failed(with_sources(&error), false)) },
            Err(_) => return Attempt { addr, opened: None, outcome: Err(failed(late(), false)) },
        },
    };
    let left = limit.saturating_sub(started.elapsed());
    let outcome = match tokio::time::timeout(left, connection.request(&envelope)).await {
        Ok(Ok(answer)) => ClientReply::decode(&answer)
            .map_err(|error| failed(format!("sent an answer that does not decode: {error}"), true)),
        Ok(Err(error @ ClientError::TooLarge(_))) => Err(failed(error.to_string(), false)),
        Ok(Err(error)) => Err(failed(with_sources(&error), true)),
        Err(_) => Err(failed(late(), true)),
    };
    Attempt { addr, opened, outcome }
}

/// The attempts of one round of a log request: each known node asked at most once.
struct Round {
    envelope: Arc<[u8]>,
    deadline: Instant,
    in_flight: JoinSet<Attempt>,
    asked: BTreeSet<SocketAddr>,
    /// Nodes that answered they cannot write (their storage failed), with the last such answer.
    cannot_write: BTreeSet<SocketAddr>,
    last_cannot_write: Option<ApiError>,
}

impl Round {
    /// Asks `addr` unless it was asked in this round already or the deadline has passed.
    fn ask(&mut self, addr: SocketAddr, cached: Option<ClientConn>) {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !self.asked.insert(addr) {
            return;
        }
        self.in_flight.spawn(attempt(addr, cached, Arc::clone(&self.envelope), left.min(ATTEMPT_TIMEOUT)));
    }
}

/// A final answer to a log request, and whether another attempt of the same request may have
/// taken effect (one that got no answer, or that was still under way).
struct Settled {
    response: MetadataResponse,
    maybe_applied_elsewhere: bool,
}

/// A client of a cluster.
pub struct Client {
    token: [u8; 32],
    addresses: Vec<SocketAddr>,
    /// The node that gave the last final answer: asked first next time.
    leader: Option<SocketAddr>,
    connections: BTreeMap<SocketAddr, ClientConn>,
    /// The session opened in the log, once there is one.
    session: Option<u64>,
    sequence: u64,
    deadline: Duration,
    /// Where nodes listen, from the cluster's directory.
    directory: BTreeMap<NodeId, SocketAddr>,
    limits: RecordLimits,
}

impl Client {
    /// A client of the nodes at `addresses`, with the cluster's `token`, giving each call up to
    /// `deadline`.
    #[must_use]
    pub fn new(addresses: Vec<SocketAddr>, token: [u8; 32], deadline: Duration) -> Client {
        Client {
            token,
            addresses,
            leader: None,
            connections: BTreeMap::new(),
            session: None,
            sequence: 0,
            deadline,
            directory: BTreeMap::new(),
            limits: RecordLimits::default(),
        }
    }

    /// The addresses it knows (those given, plus leaders it was sent to).
    #[must_use]
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The node that gave the last final answer, which the next command goes to first.
    #[must_use]
    pub fn leader(&self) -> Option<SocketAddr> {
        self.leader
    }

    fn envelope(&self, request: ClientRequest) -> Result<Arc<[u8]>, ApiError> {
        let envelope = ClientEnvelope { token: self.token, request };
        envelope.encode().map(Arc::from).map_err(|error| ApiError::Refused(error.to_string()))
    }

    /// Keeps the connection an attempt opened if the node answered, and forgets the one it used if
    /// it did not.
    fn keep_connection(&mut self, attempt: &mut Attempt) {
        match (&attempt.outcome, attempt.opened.take()) {
            (Ok(_), Some(opened)) => {
                self.connections.insert(attempt.addr, opened);
            }
            (Ok(_), None) => {}
            (Err(_), _) => {
                self.connections.remove(&attempt.addr);
            }
        }
    }

    /// One request to the runtime at `addr`, within [`ATTEMPT_TIMEOUT`] (or the client's deadline,
    /// if shorter).
    pub async fn ask(&mut self, addr: SocketAddr, request: ClientRequest) -> Result<ClientReply, ApiError> {
        self.ask_within(addr, request, self.deadline.min(ATTEMPT_TIMEOUT)).await
    }

    /// One request to the runtime at `addr`, within `limit`.
    async fn ask_within(
        &mut self,
        addr: SocketAddr,
        request: ClientRequest,
        limit: Duration,
    ) -> Result<ClientReply, ApiError> {
        let envelope = self.envelope(request)?;
        let cached = self.connections.get(&addr).cloned();
        let mut done = attempt(addr, cached, envelope, limit).await;
        self.keep_connection(&mut done);
        done.outcome.map_err(|failed| ApiError::Unreachable(failed.no_answer))
    }

    /// One request to the node at `addr`: its answer, or why there is none.
    pub async fn ask_node(&mut self, addr: SocketAddr, request: PangeaRequest) -> Result<PangeaResponse, ApiError> {
        self.ask_node_within(addr, request, self.deadline.min(ATTEMPT_TIMEOUT)).await
    }

    /// One request to the node at `addr` within `limit`: its answer, or why there is none.
    async fn ask_node_within(
        &mut self,
        addr: SocketAddr,
        request: PangeaRequest,
        limit: Duration,
    ) -> Result<PangeaResponse, ApiError> {
        let bytes = request.encode().map_err(|error| ApiError::Refused(error.to_string()))?;
        match self.ask_within(addr, ClientRequest::Node(bytes), limit).await? {
            ClientReply::Node(bytes) => PangeaResponse::decode(&bytes)
                .map_err(|error| ApiError::Unexpected(format!("an answer that does not decode: {error}"))),
            ClientReply::Unauthorized => Err(ApiError::Unauthorized),
            ClientReply::Busy => Err(ApiError::Refused(format!("{addr} is busy"))),
            ClientReply::Refused { why } => Err(ApiError::Refused(why)),
            ClientReply::Runtime(_) => Err(ApiError::Unexpected("a runtime status".to_owned())),
        }
    }

    /// The address of `leader`: from the directory, asking `asked`'s status when it is not there.
    async fn address_of(&mut self, leader: NodeId, asked: SocketAddr) -> Option<SocketAddr> {
        if !self.directory.contains_key(&leader)
            && let Ok(PangeaResponse::Node(NodeResponse::Status(view))) =
                self.ask_node(asked, PangeaRequest::Node(NodeRequest::Status)).await
        {
            self.learn_directory(&view);
        }
        self.directory.get(&leader).copied()
    }

    fn learn_directory(&mut self, view: &NodeView) {
        for (node, text) in &view.directory {
            if let Ok(addr) = text.parse() {
                self.directory.insert(*node, addr);
            }
        }
    }

    /// Sends a log request until a final answer, following the leader, within the deadline.
    async fn log_request(&mut self, request: MetadataRequest) -> Result<Settled, ApiError> {
        if self.addresses.is_empty() {
            return Err(ApiError::NoAddress);
        }
        let body = PangeaRequest::Log(request).encode().map_err(|error| ApiError::Refused(error.to_string()))?;
        let envelope = self.envelope(ClientRequest::Node(body))?;
        let deadline = Instant::now() + self.deadline;
        let mut last_problem = String::from("none");
        let mut maybe_applied = false;
        while Instant::now() < deadline {
            let round = Round {
                envelope: Arc::clone(&envelope),
                deadline,
                in_flight: JoinSet::new(),
                asked: BTreeSet::new(),
                cannot_write: BTreeSet::new(),
                last_cannot_write: None,
            };
            if let Some(response) = self.round(round, &mut last_problem, &mut maybe_applied).await? {
                return Ok(Settled { response, maybe_applied_elsewhere: maybe_applied });
            }
            tokio::time::sleep_until((Instant::now() + RETRY_PAUSE).min(deadline)).await;
        }
        Err(ApiError::Timeout(self.deadline, last_problem))
    }

    /// One round: the node believed to lead first (the others after [`HEDGE_AFTER`] or when it
    /// fails), or every node at once when none is believed to; leaders named in `NotLeader`
    /// answers too. Ends with the first final answer, or with `None` when every node asked has
    /// answered without one.
    async fn round(
        &mut self,
        mut round: Round,
        last_problem: &mut String,
        maybe_applied: &mut bool,
    ) -> Result<Option<MetadataResponse>, ApiError> {
        let mut hedge_at = match self.leader {
            Some(leader) => {
                round.ask(leader, self.connections.get(&leader).cloned());
                Some(Instant::now() + HEDGE_AFTER)
            }
            None => {
                self.ask_the_rest(&mut round);
                None
            }
        };
        loop {
            if round.in_flight.is_empty() {
                if hedge_at.take().is_none() {
                    // Every node asked says it cannot write: waiting will not change that soon.
                    if round.cannot_write.len() == round.asked.len()
                        && let Some(error) = round.last_cannot_write.take()
                    {
                        return Err(error);
                    }
                    return Ok(None);
                }
                self.ask_the_rest(&mut round);
                continue;
            }
            let hedge = async {
                match hedge_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let mut done = tokio::select! {
                () = hedge => {
                    hedge_at = None;
                    self.ask_the_rest(&mut round);
                    continue;
                }
                Some(joined) = round.in_flight.join_next() => match joined {
                    Ok(done) => done,
                    // An attempt only panics on a bug; count it as a request that may have gone.
                    Err(_) => {
                        *maybe_applied = true;
                        continue;
                    }
                },
            };
            self.keep_connection(&mut done);
            let addr = done.addr;
            let reply = match done.outcome {
                Ok(reply) => reply,
                Err(failed) => {
                    *maybe_applied |= failed.maybe_delivered;
                    *last_problem = failed.no_answer.to_string();
                    self.forget_leader(addr);
                    continue;
                }
            };
            let response = match reply {
                ClientReply::Node(bytes) => match PangeaResponse::decode(&bytes) {
                    Ok(PangeaResponse::Log(response)) => response,
                    Ok(PangeaResponse::Node(NodeResponse::CannotWrite { node, cause })) => {
                        let error = ApiError::CannotWrite { node: node.short(), cause };
                        *last_problem = error.to_string();
                        self.forget_leader(addr);
                        round.cannot_write.insert(addr);
                        round.last_cannot_write = Some(error);
                        continue;
                    }
                    Ok(other) => return Err(ApiError::Unexpected(format!("{other:?}"))),
                    Err(error) => {
                        *last_problem = format!("{addr} sent an answer that does not decode: {error}");
                        continue;
                    }
                },
                ClientReply::Unauthorized => return Err(ApiError::Unauthorized),
                ClientReply::Busy => {
                    *last_problem = format!("{addr} is busy");
                    continue;
                }
                ClientReply::Refused { why } => {
                    *last_problem = format!("{addr} refused the request: {why}");
                    continue;
                }
                ClientReply::Runtime(_) => return Err(ApiError::Unexpected("a runtime status".to_owned())),
            };
            match response {
                LogResponse::NotLeader { leader } | LogResponse::Unknown { leader } => {
                    *maybe_applied |= matches!(response, LogResponse::Unknown { .. });
                    self.forget_leader(addr);
                    *last_problem = match leader {
                        Some(leader) => format!("{addr} is not the leader; {} is", leader.short()),
                        None => format!("{addr} is not the leader and knows none"),
                    };
                    if let Some(leader) = leader
                        && let Some(leader_addr) = self.address_of(leader, addr).await
                    {
                        round.ask(leader_addr, self.connections.get(&leader_addr).cloned());
                    }
                }
                LogResponse::Busy => *last_problem = format!("{addr} is busy"),
                LogResponse::Invalid(why) => return Err(ApiError::Invalid(why)),
                done => {
                    // Attempts still under way may reach a node; dropping the round stops them.
                    *maybe_applied |= !round.in_flight.is_empty();
                    self.leader = Some(addr);
                    if !self.addresses.contains(&addr) {
                        self.addresses.push(addr);
                    }
                    return Ok(Some(done));
                }
            }
        }
    }

    /// Asks every known node this round has not asked yet.
    fn ask_the_rest(&self, round: &mut Round) {
        for addr in &self.addresses {
            round.ask(*addr, self.connections.get(addr).cloned());
        }
    }

    fn forget_leader(&mut self, addr: SocketAddr) {
        if self.leader == Some(addr) {
            self.leader = None;
        }
    }

    /// This client's session in the log, opened on first use.
    async fn session(&mut self) -> Result<u64, ApiError> {
        if let Some(session) = self.session {
            return Ok(session);
        }
        match self.log_request(LogRequest::OpenSession).await?.response {
            LogResponse::SessionOpened { client } => {
                self.session = Some(client);
                self.sequence = 0;
                Ok(client)
            }
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends the request `make` builds for the next sequence number of the session, until a final
    /// answer. A session that expired is opened again when no other attempt of the command may have
    /// taken effect (so it was certainly not applied); otherwise its outcome is unknown.
    async fn sequenced(&mut self, make: impl Fn(u64, u64) -> MetadataRequest) -> Result<MetadataResponse, ApiError> {
        let mut reopened = false;
        loop {
            let client = self.session().await?;
            self.sequence += 1;
            let settled = self.log_request(make(client, self.sequence)).await?;
            match settled.response {
                LogResponse::SessionExpired { .. } => {
                    self.session = None;
                    if settled.maybe_applied_elsewhere || reopened {
                        return Err(ApiError::OutcomeUnknown(
                            "the client's session expired while the command was being retried".to_owned(),
                        ));
                    }
                    reopened = true;
                }
                other => return Ok(other),
            }
        }
    }

    async fn metadata_command(&mut self, command: MetadataCommand) -> Result<MetadataOutput, ApiError> {
        let request = |client, sequence| LogRequest::Command { client, sequence, command: command.clone() };
        match self.sequenced(request).await? {
            LogResponse::Done { output, .. } => Ok(output),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Applies `op` to the records through the log, exactly once, and returns its result; a get is
    /// a linearizable read at the leader instead ([`Client::get`]), with no log write. Keys and
    /// values over the limits are refused here, before anything is sent.
    pub async fn command(&mut self, op: KvOp) -> Result<KvResult, ApiError> {
        self.limits.check(&op)?;
        if let KvOp::Get { key } = op {
            return self.get(key).await.map(KvResult::Value);
        }
        match self.metadata_command(MetadataCommand::Records(op)).await? {
            MetadataOutput::Records(result) => Ok(result),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The value of `key`, linearizably: the leader answers once a quorum confirmed it still leads
    /// and it has applied every write acknowledged before (its read index). Nothing is written.
    pub async fn get(&mut self, key: Vec<u8>) -> Result<Option<Vec<u8>>, ApiError> {
        match self.log_request(LogRequest::Read(MetadataQuery::Record(key))).await?.response {
            LogResponse::Answer { answer: MetadataAnswer::Record(value), .. } => Ok(value),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Applies `op` to the object manifests through the log, exactly once: a put makes the object
    /// exist (or is refused, see [`ObjectsResult::Refused`]), a delete removes it.
    pub async fn objects_command(&mut self, op: ObjectsOp) -> Result<ObjectsResult, ApiError> {
        match self.metadata_command(MetadataCommand::Objects(op)).await? {
            MetadataOutput::Objects(result) => Ok(result),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The manifest of `object`, linearizably (a read at the leader, as [`Client::get`]); `None`
    /// when no such object exists.
    pub async fn manifest(&mut self, object: ObjectId) -> Result<Option<Manifest>, ApiError> {
        let query = MetadataQuery::Objects(ObjectsQuery::Manifest(object));
        match self.log_request(LogRequest::Read(query)).await?.response {
            LogResponse::Answer { answer: MetadataAnswer::Objects(ObjectsAnswer::Manifest(manifest)), .. } => {
                Ok(manifest.map(|manifest| *manifest))
            }
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Up to `limit` objects (and at most
    /// [`LIST_LIMIT_MAX`](pangea_core::metadata::manifests::LIST_LIMIT_MAX)) in id order after `after`,
    /// linearizably.
    pub async fn list_objects(&mut self, after: Option<ObjectId>, limit: u32) -> Result<Vec<ObjectSummary>, ApiError> {
        let query = MetadataQuery::Objects(ObjectsQuery::List { after, limit });
        match self.log_request(LogRequest::Read(query)).await?.response {
            LogResponse::Answer { answer: MetadataAnswer::Objects(ObjectsAnswer::List(page)), .. } => Ok(page),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// One object request to the node at `addr` (the gateway of a put or a read), waiting up to
    /// [`OBJECT_ATTEMPT_TIMEOUT`] (or the client's deadline, if shorter): the last piece of a chunk
    /// is answered only once every shard is durable. Sending the same request again after a
    /// timeout is safe.
    pub async fn object_request(
        &mut self,
        addr: SocketAddr,
        request: ObjectRequest,
    ) -> Result<ObjectResponse, ApiError> {
        let limit = self.deadline.min(OBJECT_ATTEMPT_TIMEOUT);
        match self.ask_node_within(addr, PangeaRequest::Objects(request), limit).await? {
            PangeaResponse::Objects(response) => Ok(response),
            PangeaResponse::Node(NodeResponse::CannotWrite { node, cause }) => {
                Err(ApiError::CannotWrite { node: node.short(), cause })
            }
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Writes `node`'s address into the cluster's directory.
    pub async fn register_address(&mut self, node: NodeId, address: String) -> Result<(), ApiError> {
        match self.metadata_command(MetadataCommand::Directory(DirectoryOp::Register { node, address })).await? {
            MetadataOutput::Directory(pangea_core::metadata::directory::DirectoryResult::Done) => Ok(()),
            other => Err(ApiError::Refused(format!("the directory answered {other:?}"))),
        }
    }

    /// Asks for a membership change; `Ok(Err(_))` when the leader refused it as pointless.
    pub async fn change_members(
        &mut self,
        change: MemberChange,
    ) -> Result<Result<(bool, Members), MemberChangeRefused>, ApiError> {
        match self.sequenced(|client, sequence| LogRequest::ChangeMembers { client, sequence, change }).await? {
            LogResponse::MembersChanged { changed, members, .. } => Ok(Ok((changed, members))),
            LogResponse::ChangeRefused { why, .. } => Ok(Err(why)),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The value of `key` as the node at `addr` has applied it (fast, possibly stale), with its
    /// applied index.
    pub async fn stale_get(&mut self, addr: SocketAddr, key: &[u8]) -> Result<(Option<Vec<u8>>, u64), ApiError> {
        let request = PangeaRequest::Log(LogRequest::Query(MetadataQuery::Record(key.to_vec())));
        match self.ask_node(addr, request).await? {
            PangeaResponse::Log(LogResponse::Answer { answer: MetadataAnswer::Record(value), applied_index }) => {
                Ok((value, applied_index))
            }
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The view of the node at `addr`, and its runtime's.
    pub async fn status(&mut self, addr: SocketAddr) -> Result<(NodeView, RuntimeStatus), ApiError> {
        let view = match self.ask_node(addr, PangeaRequest::Node(NodeRequest::Status)).await? {
            PangeaResponse::Node(NodeResponse::Status(view)) => *view,
            other => return Err(ApiError::Unexpected(format!("{other:?}"))),
        };
        self.learn_directory(&view);
        match self.ask(addr, ClientRequest::Runtime).await? {
            ClientReply::Runtime(runtime) => Ok((view, *runtime)),
            ClientReply::Unauthorized => Err(ApiError::Unauthorized),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The node at `addr` and the cluster's initial configuration.
    pub async fn hello(&mut self, addr: SocketAddr) -> Result<(NodeId, Vec<NodeId>), ApiError> {
        match self.ask_node(addr, PangeaRequest::Node(NodeRequest::Hello)).await? {
            PangeaResponse::Node(NodeResponse::Hello { node, genesis }) => Ok((node, genesis)),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }
}

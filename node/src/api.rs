//! The client library: records, membership changes, the directory and status against a running
//! Pangea cluster, used by the CLI, by joining nodes and by the load generator.
//!
//! A [`Client`] knows some nodes' addresses and the cluster's client token. Commands go through the
//! replicated log in a session the client opens there on first use; each command gets the next
//! sequence number of the session and keeps it across retries, so a command that times out and is
//! sent again is applied at most once. A `NotLeader` answer names the leader; the client finds its
//! address in the cluster's directory (asking a node's status when it does not know it yet) and goes
//! there next. Other failures move it on to the next known address, with a short pause, until the
//! command's deadline passes. Keys and values over the records' limits are refused before anything
//! is sent, with the same typed error the node would give.

use crate::client::{ClientConn, ClientError};
use crate::wire::{ClientEnvelope, ClientReply, ClientRequest, RuntimeStatus};
use pangea_core::log::{InvalidCommand, LogRequest, LogResponse, MemberChange, MemberChangeRefused, Members};
use pangea_core::metadata::directory::DirectoryOp;
use pangea_core::metadata::records::{KvOp, KvResult, RecordLimits};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::pangea::{MetadataRequest, MetadataResponse, NodeRequest, NodeResponse, NodeView};
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use pangea_core::{Codec, NodeId};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause before trying again after a failed attempt.
pub const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Why a client call failed.
#[derive(Debug, Error)]
pub enum ApiError {
    /// No node answered within the deadline.
    #[error("no answer from the cluster within {0:?} (last problem: {1})")]
    Timeout(Duration, String),
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
}

/// A client of a cluster.
pub struct Client {
    token: [u8; 32],
    addresses: Vec<SocketAddr>,
    target: usize,
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
            target: 0,
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

    /// One request to the runtime at `addr`, within [`ATTEMPT_TIMEOUT`].
    pub async fn ask(&mut self, addr: SocketAddr, request: ClientRequest) -> Result<ClientReply, String> {
        let envelope = ClientEnvelope { token: self.token, request };
        let bytes = envelope.encode().map_err(|error| error.to_string())?;
        let attempt = async {
            let connection = match self.connections.entry(addr) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => {
                    entry.insert(ClientConn::connect(addr, None).await.map_err(|error| error.to_string())?)
                }
            };
            match connection.request(&bytes).await {
                Ok(answer) => ClientReply::decode(&answer).map_err(|error| format!("undecodable answer: {error}")),
                Err(error @ (ClientError::Connection(_) | ClientError::Frame(_) | ClientError::NoResponse)) => {
                    self.connections.remove(&addr);
                    Err(error.to_string())
                }
                Err(error) => Err(error.to_string()),
            }
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => {
                self.connections.remove(&addr);
                Err(format!("{addr} did not answer within {ATTEMPT_TIMEOUT:?}"))
            }
        }
    }

    /// One request to the node at `addr`: its answer, or why there is none.
    pub async fn ask_node(&mut self, addr: SocketAddr, request: PangeaRequest) -> Result<PangeaResponse, ApiError> {
        let bytes = request.encode().map_err(|error| ApiError::Refused(error.to_string()))?;
        match self.ask(addr, ClientRequest::Node(bytes)).await {
            Ok(ClientReply::Node(bytes)) => PangeaResponse::decode(&bytes)
                .map_err(|error| ApiError::Unexpected(format!("an answer that does not decode: {error}"))),
            Ok(ClientReply::Unauthorized) => Err(ApiError::Unauthorized),
            Ok(ClientReply::Busy) => Err(ApiError::Refused(format!("{addr} is busy"))),
            Ok(ClientReply::Refused { why }) => Err(ApiError::Refused(why)),
            Ok(ClientReply::Runtime(_)) => Err(ApiError::Unexpected("a runtime status".to_owned())),
            Err(problem) => Err(ApiError::Timeout(ATTEMPT_TIMEOUT, problem)),
        }
    }

    fn current(&self) -> Result<SocketAddr, ApiError> {
        self.addresses.get(self.target % self.addresses.len().max(1)).copied().ok_or(ApiError::NoAddress)
    }

    fn go_to(&mut self, addr: SocketAddr) {
        match self.addresses.iter().position(|known| *known == addr) {
            Some(index) => self.target = index,
            None => {
                self.addresses.push(addr);
                self.target = self.addresses.len() - 1;
            }
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
    /// Returns the answer and how many attempts reached a node.
    async fn log_request(&mut self, request: MetadataRequest) -> Result<(MetadataResponse, u32), ApiError> {
        let started = tokio::time::Instant::now();
        let mut last_problem = String::from("none");
        let mut attempts = 0;
        while started.elapsed() < self.deadline {
            let addr = self.current()?;
            match self.ask_node(addr, PangeaRequest::Log(request.clone())).await {
                Ok(PangeaResponse::Log(response)) => {
                    attempts += 1;
                    match response {
                        LogResponse::NotLeader { leader } | LogResponse::Unknown { leader } => {
                            last_problem = match leader {
                                Some(leader) => format!("{addr} is not the leader; {} is", leader.short()),
                                None => format!("{addr} is not the leader and knows none"),
                            };
                            match leader {
                                Some(leader) => match self.address_of(leader, addr).await {
                                    Some(leader_addr) if leader_addr != addr => {
                                        self.go_to(leader_addr);
                                        continue;
                                    }
                                    _ => self.target += 1,
                                },
                                None => self.target += 1,
                            }
                        }
                        LogResponse::Busy => {
                            last_problem = format!("{addr} is busy");
                        }
                        LogResponse::Invalid(why) => return Err(ApiError::Invalid(why)),
                        done => return Ok((done, attempts)),
                    }
                }
                Ok(other) => return Err(ApiError::Unexpected(format!("{other:?}"))),
                Err(ApiError::Unauthorized) => return Err(ApiError::Unauthorized),
                Err(problem) => {
                    last_problem = problem.to_string();
                    self.target += 1;
                }
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        Err(ApiError::Timeout(self.deadline, last_problem))
    }

    /// This client's session in the log, opened on first use.
    async fn session(&mut self) -> Result<u64, ApiError> {
        if let Some(session) = self.session {
            return Ok(session);
        }
        match self.log_request(LogRequest::OpenSession).await? {
            (LogResponse::SessionOpened { client }, _) => {
                self.session = Some(client);
                self.sequence = 0;
                Ok(client)
            }
            (other, _) => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends the request `make` builds for the next sequence number of the session, until a final
    /// answer. A session that expired is opened again when the command had reached no node before
    /// (so it was certainly not applied); otherwise its outcome is unknown.
    async fn sequenced(&mut self, make: impl Fn(u64, u64) -> MetadataRequest) -> Result<MetadataResponse, ApiError> {
        let mut reopened = false;
        loop {
            let client = self.session().await?;
            self.sequence += 1;
            let (response, attempts) = self.log_request(make(client, self.sequence)).await?;
            match response {
                LogResponse::SessionExpired { .. } => {
                    self.session = None;
                    if attempts > 1 || reopened {
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

    /// Applies `op` to the records through the log, exactly once, and returns its result. Keys and
    /// values over the limits are refused here, before anything is sent.
    pub async fn command(&mut self, op: KvOp) -> Result<KvResult, ApiError> {
        self.limits.check(&op)?;
        match self.metadata_command(MetadataCommand::Records(op)).await? {
            MetadataOutput::Records(result) => Ok(result),
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
            PangeaResponse::Node(NodeResponse::Status(view)) => view,
            other => return Err(ApiError::Unexpected(format!("{other:?}"))),
        };
        self.learn_directory(&view);
        match self.ask(addr, ClientRequest::Runtime).await {
            Ok(ClientReply::Runtime(runtime)) => Ok((view, runtime)),
            Ok(ClientReply::Unauthorized) => Err(ApiError::Unauthorized),
            Ok(other) => Err(ApiError::Unexpected(format!("{other:?}"))),
            Err(problem) => Err(ApiError::Timeout(ATTEMPT_TIMEOUT, problem)),
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

//! The client library: commands, membership changes and status against a running cluster, used
//! by the CLI, by joining nodes and by the load generator.
//!
//! A [`Client`] knows some nodes' addresses and the cluster's client token. Each command gets the
//! next sequence number of the client's session and keeps it across retries, so a command that
//! times out and is sent again is applied at most once. A `NotLeader` answer names the leader's
//! address when the node knows it, and the client goes there next; other failures move it on to the
//! next known address, with a short pause, until the command's deadline passes.

use crate::client::{ClientConn, ClientError};
use crate::wire::{ClientEnvelope, ClientReply, ClientRequest, NodeStatus};
use pangea_core::log::{KvOp, KvRequest, KvResponse, KvResult, MemberChange, MemberChangeRefused, Members};
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
    client_id: u64,
    sequence: u64,
    deadline: Duration,
}

impl Client {
    /// A client of the nodes at `addresses`, with the cluster's `token`, giving each call up to
    /// `deadline`. Its session id is random, so concurrent clients never share a session.
    #[must_use]
    pub fn new(addresses: Vec<SocketAddr>, token: [u8; 32], deadline: Duration) -> Client {
        let mut bytes = [0; 8];
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            bytes = (nanos.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
        }
        Client {
            token,
            addresses,
            target: 0,
            connections: BTreeMap::new(),
            client_id: u64::from_le_bytes(bytes) | 1 << 63,
            sequence: 0,
            deadline,
        }
    }

    /// The addresses it knows (those given, plus leaders it was sent to).
    #[must_use]
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// One request to one address, within [`ATTEMPT_TIMEOUT`].
    pub async fn ask(&mut self, addr: SocketAddr, request: ClientRequest) -> Result<ClientReply, String> {
        let envelope = ClientEnvelope { token: self.token, request };
        let bytes = envelope.encode();
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

    /// Sends a log request until a final answer, following leader hints, within the deadline.
    async fn log_request(&mut self, request: KvRequest) -> Result<KvResponse, ApiError> {
        let started = tokio::time::Instant::now();
        let mut last_problem = String::from("none");
        while started.elapsed() < self.deadline {
            let addr = self.current()?;
            match self.ask(addr, ClientRequest::Log(request.clone())).await {
                Ok(ClientReply::Log { response, leader_addr }) => match response {
                    KvResponse::NotLeader { .. } | KvResponse::Unknown { .. } | KvResponse::Busy => {
                        last_problem = format!("{addr} answered {response:?}");
                        match leader_addr {
                            Some(leader) if leader != addr => {
                                self.go_to(leader);
                                continue;
                            }
                            _ => self.target += 1,
                        }
                    }
                    done => return Ok(done),
                },
                Ok(ClientReply::Unauthorized) => return Err(ApiError::Unauthorized),
                Ok(ClientReply::Refused { why }) => {
                    last_problem = why;
                    self.target += 1;
                }
                Ok(other) => return Err(ApiError::Unexpected(format!("{other:?}"))),
                Err(problem) => {
                    last_problem = problem;
                    self.target += 1;
                }
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        Err(ApiError::Timeout(self.deadline, last_problem))
    }

    /// Applies `op` through the log, exactly once, and returns its result.
    pub async fn command(&mut self, op: KvOp) -> Result<KvResult, ApiError> {
        self.sequence += 1;
        let request = KvRequest::Command { client: self.client_id, sequence: self.sequence, op };
        match self.log_request(request).await? {
            KvResponse::Done { result, .. } => Ok(result),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Asks for a membership change; `Ok(Err(_))` when the leader refused it as pointless.
    pub async fn change_members(
        &mut self,
        change: MemberChange,
    ) -> Result<Result<(bool, Members), MemberChangeRefused>, ApiError> {
        self.sequence += 1;
        let request = KvRequest::ChangeMembers { client: self.client_id, sequence: self.sequence, change };
        match self.log_request(request).await? {
            KvResponse::Done { result: KvResult::Members { changed, members }, .. } => Ok(Ok((changed, members))),
            KvResponse::ChangeRefused { why, .. } => Ok(Err(why)),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The value of `key` as the node at `addr` has applied it (fast, possibly stale), with its
    /// applied index.
    pub async fn stale_get(&mut self, addr: SocketAddr, key: &[u8]) -> Result<(Option<Vec<u8>>, u64), ApiError> {
        match self.ask(addr, ClientRequest::Log(KvRequest::StaleGet { key: key.to_vec() })).await {
            Ok(ClientReply::Log { response: KvResponse::Stale { value, applied_index }, .. }) => {
                Ok((value, applied_index))
            }
            Ok(ClientReply::Unauthorized) => Err(ApiError::Unauthorized),
            Ok(other) => Err(ApiError::Unexpected(format!("{other:?}"))),
            Err(problem) => Err(ApiError::Timeout(ATTEMPT_TIMEOUT, problem)),
        }
    }

    /// The status of the node at `addr`.
    pub async fn status(&mut self, addr: SocketAddr) -> Result<NodeStatus, ApiError> {
        match self.ask(addr, ClientRequest::Status).await {
            Ok(ClientReply::Status(status)) => Ok(status),
            Ok(ClientReply::Unauthorized) => Err(ApiError::Unauthorized),
            Ok(other) => Err(ApiError::Unexpected(format!("{other:?}"))),
            Err(problem) => Err(ApiError::Timeout(ATTEMPT_TIMEOUT, problem)),
        }
    }

    /// The node at `addr` and the cluster's initial configuration.
    pub async fn hello(&mut self, addr: SocketAddr) -> Result<(NodeId, Vec<NodeId>), ApiError> {
        match self.ask(addr, ClientRequest::Hello).await {
            Ok(ClientReply::Hello { node, genesis }) => Ok((node, genesis)),
            Ok(ClientReply::Unauthorized) => Err(ApiError::Unauthorized),
            Ok(other) => Err(ApiError::Unexpected(format!("{other:?}"))),
            Err(problem) => Err(ApiError::Timeout(ATTEMPT_TIMEOUT, problem)),
        }
    }
}

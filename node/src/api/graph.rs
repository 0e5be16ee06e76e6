//! The property graph's client calls: commands through the log, linearizable reads at the
//! leader's read index, and local (possibly stale) reads of one node.
//!
//! Commands go through the client's session like the records' ([`Client::command`]): a retried
//! command is applied once. Every command and read is checked here first against the graph's
//! default limits (those a `pangea node` runs with), so that a name, a property map, a depth or a
//! limit over them is refused with [`ApiError::Invalid`] before anything is sent — the node checks
//! commands the same way, but cuts reads to its limits silently. What the graph itself refuses
//! (no such entity, a full graph) is [`ApiError::Graph`].

use super::{ApiError, Client};
use pangea_core::graph::{Graph, GraphAnswer, GraphConfig, GraphOp, GraphQuery, GraphResult};
use pangea_core::log::{LogRequest, LogResponse, StateMachine};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use std::net::SocketAddr;

/// Checks `op` against the default graph's limits; an empty graph checks as any other would.
fn check(op: &GraphOp) -> Result<(), ApiError> {
    Graph::new(GraphConfig::default()).validate(op).map_err(ApiError::Invalid)
}

/// A read's answer, or the graph's reason for having none.
fn answered(answer: GraphAnswer) -> Result<GraphAnswer, ApiError> {
    match answer {
        GraphAnswer::Error(why) => Err(ApiError::Graph(why)),
        answer => Ok(answer),
    }
}

impl Client {
    /// Applies `op` to the graph through the log, exactly once, and returns what it did; a refusal
    /// by the graph is [`ApiError::Graph`].
    pub async fn graph_command(&mut self, op: GraphOp) -> Result<GraphResult, ApiError> {
        check(&op)?;
        match self.metadata_command(MetadataCommand::Graph(op)).await? {
            MetadataOutput::Graph(GraphResult::Error(why)) => Err(ApiError::Graph(why)),
            MetadataOutput::Graph(GraphResult::Read(answer)) => answered(answer).map(GraphResult::Read),
            MetadataOutput::Graph(result) => Ok(result),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Answers `query` linearizably: at the leader, once a quorum confirmed it still leads and it
    /// has applied every write acknowledged before. Nothing is written to the log.
    pub async fn graph_read(&mut self, query: GraphQuery) -> Result<GraphAnswer, ApiError> {
        check(&GraphOp::Read(query.clone()))?;
        match self.log_request(LogRequest::Read(MetadataQuery::Graph(query))).await?.response {
            LogResponse::Answer { answer: MetadataAnswer::Graph(answer), .. } => answered(answer),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Answers `query` from what the node at `addr` has applied (fast, possibly stale), with its
    /// applied index.
    pub async fn graph_query(&mut self, addr: SocketAddr, query: GraphQuery) -> Result<(GraphAnswer, u64), ApiError> {
        check(&GraphOp::Read(query.clone()))?;
        let request = PangeaRequest::Log(LogRequest::Query(MetadataQuery::Graph(query)));
        match self.ask_node(addr, request).await? {
            PangeaResponse::Log(LogResponse::Answer { answer: MetadataAnswer::Graph(answer), applied_index }) => {
                Ok((answered(answer)?, applied_index))
            }
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }
}

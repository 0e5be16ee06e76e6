//! The event store's client calls: appends and trims through the log, linearizable reads at the
//! leader's read index, and local (possibly stale) reads of one node.
//!
//! Commands go through the client's session like the records' ([`Client::command`]): a retried
//! append is applied once, so it gets one id. Every command and read is checked here first against
//! the store's default limits (those a `pangea node` runs with): a name, a payload or a limit over
//! them is refused with [`ApiError::Invalid`] before anything is sent. What the store itself
//! refuses (it is full) is [`ApiError::Events`].

use super::{ApiError, Client};
use pangea_core::events::{Events, EventsAnswer, EventsConfig, EventsOp, EventsQuery, EventsResult};
use pangea_core::log::{LogRequest, LogResponse, StateMachine};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::pangea::{PangeaRequest, PangeaResponse};
use std::net::SocketAddr;

/// Checks `op` against the default store's limits; an empty store checks as any other would.
fn check(op: &EventsOp) -> Result<(), ApiError> {
    Events::new(EventsConfig::default()).validate(op).map_err(ApiError::Invalid)
}

impl Client {
    /// Applies `op` to the event store through the log, exactly once, and returns what it did; a
    /// refusal by the store is [`ApiError::Events`].
    pub async fn events_command(&mut self, op: EventsOp) -> Result<EventsResult, ApiError> {
        check(&op)?;
        match self.metadata_command(MetadataCommand::Events(op)).await? {
            MetadataOutput::Events(EventsResult::Error(why)) => Err(ApiError::Events(why)),
            MetadataOutput::Events(result) => Ok(result),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Answers `query` linearizably: at the leader, once a quorum confirmed it still leads and it
    /// has applied every write acknowledged before. Nothing is written to the log.
    pub async fn events_read(&mut self, query: EventsQuery) -> Result<EventsAnswer, ApiError> {
        check(&EventsOp::Read(query.clone()))?;
        match self.log_request(LogRequest::Read(MetadataQuery::Events(query))).await?.response {
            LogResponse::Answer { answer: MetadataAnswer::Events(answer), .. } => Ok(answer),
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Answers `query` from what the node at `addr` has applied (fast, possibly stale), with its
    /// applied index.
    pub async fn events_query(
        &mut self,
        addr: SocketAddr,
        query: EventsQuery,
    ) -> Result<(EventsAnswer, u64), ApiError> {
        check(&EventsOp::Read(query.clone()))?;
        let request = PangeaRequest::Log(LogRequest::Query(MetadataQuery::Events(query)));
        match self.ask_node(addr, request).await? {
            PangeaResponse::Log(LogResponse::Answer { answer: MetadataAnswer::Events(answer), applied_index }) => {
                Ok((answer, applied_index))
            }
            other => Err(ApiError::Unexpected(format!("{other:?}"))),
        }
    }
}

//! Hosting any node on the real runtime: what a user's `main` calls to run their own [`Node`] as
//! a process on QUIC, with the same data directory (identity, admission, client token), redb
//! storage, event loop and metrics as `pangea`, and to ask it something as a client.
//!
//! The cluster's peers are given at start (each node's id and address); a node whose state knows
//! more addresses says so through [`Hosted::peer_addresses`].
//!
//! ```no_run
//! # use pangea_node::host::{HostOptions, host};
//! # async fn start<N: pangea_node::runtime::Hosted>(options: HostOptions, make: impl FnOnce(pangea_core::NodeId) -> N) {
//! host(options, make, async { let _ = tokio::signal::ctrl_c().await; }).await.expect("the node ran");
//! # }
//! ```

use crate::client::{ClientConn, ClientError};
use crate::datadir::{DataDir, DataDirError};
use crate::metrics::{self, Metrics};
use crate::runtime::{Hosted, Runtime, RuntimeError};
use crate::server::AbortOnDrop;
use crate::store::RedbStorage;
use crate::transport::{Transport, TransportError};
use crate::wire::{ClientEnvelope, ClientReply, ClientRequest};
use pangea_core::{Codec, CodecError, EncodeError, NodeId};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// How a hosted node starts.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// A data directory made by [`DataDir::init`] (or `pangea init`).
    pub data_dir: PathBuf,
    /// Where to listen for peers and clients (UDP).
    pub listen: SocketAddr,
    /// Every other node of the cluster: its id and where it listens.
    pub peers: Vec<(NodeId, SocketAddr)>,
    /// Where to serve Prometheus metrics (TCP), if anywhere.
    pub metrics: Option<SocketAddr>,
}

/// Why a hosted node could not start, or stopped with an error.
#[derive(Debug, Error)]
pub enum HostError {
    /// The data directory is missing, locked, from a newer version or corrupt.
    #[error("unusable data directory")]
    DataDir(#[from] DataDirError),
    /// The storage file could not be opened or read.
    #[error("storage file")]
    Storage(#[from] pangea_core::StorageError),
    /// The QUIC endpoint could not start.
    #[error("QUIC endpoint")]
    Transport(#[from] TransportError),
    /// The listen address is a wildcard: peers need one they can reach.
    #[error("listening on {0} (all interfaces): listen on the address peers should use")]
    Wildcard(SocketAddr),
    /// The metrics listener could not start.
    #[error("cannot serve metrics on {addr}")]
    Metrics {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS's error.
        source: std::io::Error,
    },
    /// The event loop failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// Runs the node `make` builds for this data directory's id until `shutdown` resolves.
///
/// # Errors
/// See [`HostError`].
pub async fn host<N: Hosted>(
    options: HostOptions,
    make: impl FnOnce(NodeId) -> N,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), HostError> {
    if options.listen.ip().is_unspecified() {
        return Err(HostError::Wildcard(options.listen));
    }
    let data_dir = DataDir::open(&options.data_dir)?;
    let me = data_dir.node_id();
    let storage = RedbStorage::open(data_dir.store_path())?;
    let (transport, inbound) = Transport::bind(options.listen, data_dir.identity(), data_dir.admission().clone())?;
    let metrics = Arc::new(Metrics::default());
    let _metrics_task = match options.metrics {
        Some(addr) => {
            let listener = metrics::bind(addr).await.map_err(|source| HostError::Metrics { addr, source })?;
            Some(AbortOnDrop(tokio::spawn(metrics::serve(listener, Arc::clone(&metrics)))))
        }
        None => None,
    };
    tracing::info!(node = %me, listen = %options.listen, "hosting");
    let mut runtime =
        Runtime::new(me, make(me), storage, transport, options.listen, *data_dir.client_token(), metrics)?;
    runtime.add_peer_addresses(options.peers);
    runtime.run(inbound, shutdown).await?;
    drop(data_dir);
    Ok(())
}

/// Why a request to a hosted node got no answer of the node's.
#[derive(Debug, Error)]
pub enum AskError {
    /// The request cannot be encoded (too large).
    #[error("cannot encode the request: {0}")]
    Encode(#[from] EncodeError),
    /// No connection, or the exchange failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No answer within the deadline: the request may or may not have taken effect.
    #[error("no answer within {0:?}: the outcome is unknown")]
    Timeout(Duration),
    /// The node refused the client token.
    #[error("the node refused the client token")]
    Unauthorized,
    /// Too many requests wait for the node; nothing was done.
    #[error("the node is busy")]
    Busy,
    /// The runtime refused the request; nothing was done.
    #[error("refused: {0}")]
    Refused(String),
    /// The answer is not a frame of the expected type.
    #[error("unreadable answer: {0}")]
    Decode(#[from] CodecError),
    /// The runtime answered something else than the node's answer.
    #[error("unexpected answer from the runtime")]
    Unexpected,
}

/// Sends `request` to the node at `addr`, presenting the cluster's client `token`, and decodes its
/// answer, within `deadline`.
///
/// # Errors
/// See [`AskError`].
pub async fn ask<Request: Codec, Response: Codec>(
    addr: SocketAddr,
    token: [u8; 32],
    request: &Request,
    deadline: Duration,
) -> Result<Response, AskError> {
    let envelope = ClientEnvelope { token, request: ClientRequest::Node(request.encode()?) };
    let bytes = envelope.encode()?;
    let exchange = async {
        let connection = ClientConn::connect(addr, None).await?;
        connection.request(&bytes).await
    };
    let answer = tokio::time::timeout(deadline, exchange).await.map_err(|_| AskError::Timeout(deadline))??;
    match ClientReply::decode(&answer)? {
        ClientReply::Node(body) => Ok(Response::decode(&body)?),
        ClientReply::Unauthorized => Err(AskError::Unauthorized),
        ClientReply::Busy => Err(AskError::Busy),
        ClientReply::Refused { why } => Err(AskError::Refused(why)),
        ClientReply::Runtime(_) => Err(AskError::Unexpected),
    }
}

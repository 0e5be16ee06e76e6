//! The client side of the client protocol (ALPN [`ALPN_CLIENT`]): one QUIC connection to a node,
//! one bidirectional stream per request carrying one request frame and one response frame.
//!
//! The client presents no certificate: it authenticates in the application protocol, with the
//! node's client token in each request. It verifies the server's TLS handshake signature always,
//! and the server's identity only when given the node id to expect; without one it accepts any
//! node (trust on first use is the caller's business: [`ClientConn::server_id`] tells whom it
//! reached).

use crate::framing::{FRAME_BYTES_MAX, FrameError, read_only_frame, write_frame};
use crate::identity::node_id_of;
use crate::tls::{self, ALPN_CLIENT, SERVER_NAME};
use crate::transport::TransportError;
use crate::verify::ServerIdVerifier;
use pangea_core::id::NodeId;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use thiserror::Error;

/// Why a client connection or request failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The client's configuration or socket could not be set up.
    #[error(transparent)]
    Setup(#[from] TransportError),
    /// The connection could not be made (unreachable, refused, or not the expected node).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection failed while the request was under way.
    #[error("connection lost: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The request's stream failed or carried a bad frame.
    #[error("bad exchange: {0}")]
    Frame(#[from] FrameError),
    /// The node closed the stream without a response.
    #[error("the node sent no response")]
    NoResponse,
    /// The request is longer than [`FRAME_BYTES_MAX`].
    #[error("request of {0} bytes is too large")]
    TooLarge(usize),
}

/// A client's connection to one node. Clones share the connection (requests on it run side by
/// side, each on its own stream).
#[derive(Clone, Debug)]
pub struct ClientConn {
    // Kept so that the socket lives as long as the connection.
    _endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    server_id: Option<NodeId>,
}

/// Connects to the node at `addr`; see [`ClientConn::connect`].
pub async fn connect(addr: SocketAddr, expected: Option<NodeId>) -> Result<ClientConn, ClientError> {
    ClientConn::connect(addr, expected).await
}

impl ClientConn {
    /// Connects to the node at `addr`, requiring it to be node `expected` when given. Must be
    /// called within a tokio runtime.
    pub async fn connect(addr: SocketAddr, expected: Option<NodeId>) -> Result<ClientConn, ClientError> {
        let verifier = Arc::new(ServerIdVerifier::new(expected, tls::provider()));
        let config = tls::client_config(ALPN_CLIENT, None, verifier)?;
        let local: SocketAddr = match addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let endpoint = quinn::Endpoint::client(local).map_err(|source| TransportError::Bind { addr: local, source })?;
        let connecting = endpoint
            .connect_with(config, addr, SERVER_NAME)
            .map_err(|error| ClientError::Connect(error.to_string()))?;
        let connection = connecting.await.map_err(|error| ClientError::Connect(error.to_string()))?;
        let server_id = connection
            .peer_identity()
            .and_then(|identity| identity.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok())
            .and_then(|certificates| certificates.first().and_then(|certificate| node_id_of(certificate).ok()));
        Ok(ClientConn { _endpoint: endpoint, connection, server_id })
    }

    /// The id of the node reached.
    #[must_use]
    pub fn server_id(&self) -> Option<NodeId> {
        self.server_id
    }

    /// Sends one request and waits for its response (callers bound the wait with a timeout).
    pub async fn request(&self, bytes: &[u8]) -> Result<Vec<u8>, ClientError> {
        if bytes.len() > FRAME_BYTES_MAX {
            return Err(ClientError::TooLarge(bytes.len()));
        }
        let (mut send, mut receive) = self.connection.open_bi().await?;
        write_frame(&mut send, bytes).await?;
        // The stream is open and unfinished, so finishing cannot fail; ignore it if it does.
        let _ = send.finish();
        read_only_frame(&mut receive).await?.ok_or(ClientError::NoResponse)
    }
}

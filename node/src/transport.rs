//! QUIC between nodes and from clients, on one UDP port.
//!
//! **Peers** (ALPN [`ALPN_PEER`]) authenticate both ways with their self-signed certificates; each
//! side admits the other only under its [`Admission`] rule (see [`crate::identity`]), and every
//! refused certificate, as well as a peer connection that presents none, adds one to
//! [`Transport::refused`]. Messages go one way per connection: [`Transport::send`] keeps one
//! outgoing connection per destination address, and on it one long-lived unidirectional stream
//! carrying the messages as frames (see [`crate::framing`]) in order. So two nodes talking both
//! ways hold two connections, one dialled by each. Each destination has a task with a queue of
//! [`SEND_QUEUE_MAX`] messages; `send` never waits: it drops the message when the queue is full,
//! since the protocols above tolerate loss. The task connects lazily, reconnects on failure (with
//! a backoff) and gives up a message whose connection failed. A peer that dials this node again
//! (it restarted, or lost its connection) gets a new connection back at its next message: the old
//! one is probably dead, and what is sent on it is lost until the peer's stateless reset comes
//! back — the answer to a restarted node's first query, say.
//!
//! **Clients** (ALPN [`ALPN_CLIENT`]) present no certificate; each request is one bidirectional
//! stream carrying one request frame and one response frame, each read to the stream's end (bytes
//! after the request's frame close the connection as a bad frame). Clients authenticate in the
//! application protocol (the client token in each request), which is not this module's concern.
//!
//! At most [`CONNECTIONS_MAX`] incoming connections are served at once; more are refused at the
//! QUIC level (not counted in [`Transport::refused`], which counts failed admissions).
//!
//! **Garbage** closes at most the connection that carried it: undecodable datagrams are dropped by
//! quinn, and a frame longer than [`FRAME_BYTES_MAX`] or cut short closes its connection with
//! [`CLOSE_BAD_FRAME`]; the endpoint keeps serving.

use crate::framing::{FRAME_BYTES_MAX, read_frame, read_only_frame, write_frame};
use crate::identity::{Admission, Identity, node_id_of};
use crate::tls::{self, ALPN_CLIENT, ALPN_PEER, SERVER_NAME};
use crate::verify::PeerVerifier;
use pangea_core::id::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Messages waiting for one destination; more are dropped.
pub const SEND_QUEUE_MAX: usize = 1024;
/// The UDP socket's receive and send buffers asked of the kernel.
pub const UDP_BUFFER_BYTES: usize = 4 * 1024 * 1024;
/// Inbound messages and requests waiting for the node; the connections wait while it is full.
pub const INBOUND_QUEUE_MAX: usize = 4096;
/// Connections (peers and clients, being set up or open) served at once; more are refused.
pub const CONNECTIONS_MAX: usize = 1024;
/// Most peer addresses remembered as having dialled this node (past it the memory starts over,
/// which costs at most one needless reconnection per peer).
pub const DIALLED_BY_MAX: usize = 4096;
/// Application close code: the node is shutting down.
pub const CLOSE_SHUTDOWN: u32 = 0;
/// Application close code: a peer connection came without an admissible certificate.
pub const CLOSE_REFUSED: u32 = 1;
/// Application close code: a frame was too long or cut short.
pub const CLOSE_BAD_FRAME: u32 = 2;
/// Stream reset code: the node gave no response to the request.
pub const RESET_NO_RESPONSE: u32 = 3;

/// Longest wait for a connection to a peer to complete its handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for one message to be handed to QUIC (flow control may hold it).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// First and largest pause after a failed connection attempt.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a transport could not start.
#[derive(Debug, Error)]
pub enum TransportError {
    /// `bind` was called outside a tokio runtime.
    #[error("no tokio runtime: bind the transport from within one")]
    NoRuntime,
    /// The TLS configuration was refused (e.g. the key does not suit the provider).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The QUIC configuration was refused.
    #[error("QUIC configuration: {0}")]
    Quic(String),
    /// The UDP socket could not be bound.
    #[error("cannot bind {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS's error.
        source: std::io::Error,
    },
}

/// Something that arrived for the node.
#[derive(Debug)]
pub enum Inbound {
    /// A message from an admitted peer.
    Peer {
        /// The peer's id, from its certificate.
        from: NodeId,
        /// The peer's address (its listening address when it dials from its transport's port).
        addr: SocketAddr,
        /// The message.
        bytes: Vec<u8>,
    },
    /// A client's request; send the response on `reply` (dropping it resets the client's stream, an error for the client).
    Client {
        /// The request.
        request: Vec<u8>,
        /// Where the response goes.
        reply: oneshot::Sender<Vec<u8>>,
    },
}

/// What became of a message given to [`Transport::send`].
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Queued for its destination (delivery is still not guaranteed).
    Queued,
    /// Dropped: the destination's queue was full.
    QueueFull,
    /// Dropped: longer than [`FRAME_BYTES_MAX`].
    TooLarge,
}

/// A node's QUIC endpoint: listens for peers and clients, and sends to peers.
#[derive(Debug)]
pub struct Transport {
    endpoint: quinn::Endpoint,
    peer_config: quinn::ClientConfig,
    links: Arc<Links>,
    refused: Arc<watch::Sender<u64>>,
    node_id: NodeId,
    runtime: tokio::runtime::Handle,
    accept_task: JoinHandle<()>,
}

impl Transport {
    /// Binds `listen` and starts serving peers admitted by `admission` and clients; what arrives
    /// comes out of the returned receiver. Must be called within a tokio runtime.
    pub fn bind(
        listen: SocketAddr,
        identity: &Identity,
        admission: Admission,
    ) -> Result<(Transport, mpsc::Receiver<Inbound>), TransportError> {
        Transport::bind_filtered(listen, identity, admission, None)
    }

    /// As [`Transport::bind`], every datagram received first judged by `filter` (the userspace
    /// firewall), when given.
    pub fn bind_filtered(
        listen: SocketAddr,
        identity: &Identity,
        admission: Admission,
        filter: Option<Arc<SocketFilter>>,
    ) -> Result<(Transport, mpsc::Receiver<Inbound>), TransportError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        let refused = Arc::new(watch::Sender::new(0));
        let verifier = Arc::new(PeerVerifier::new(admission, tls::provider(), refused.clone()));
        let server_config = tls::server_config(identity, verifier.clone())?;
        let peer_config = tls::client_config(ALPN_PEER, Some(identity), verifier)?;
        let socket =
            std::net::UdpSocket::bind(listen).map_err(|source| TransportError::Bind { addr: listen, source })?;
        // A burst of large accepts overflows the default receive buffer (about 200 KiB) and costs
        // QUIC a loss recovery; the kernel caps the request at `net.core.rmem_max`.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(UDP_BUFFER_BYTES);
        let _ = socket2::SockRef::from(&socket).set_send_buffer_size(UDP_BUFFER_BYTES);
        let bind_error = |source| TransportError::Bind { addr: listen, source };
        let udp = quinn::Runtime::wrap_udp_socket(&quinn::TokioRuntime, socket).map_err(bind_error)?;
        let udp: Arc<dyn quinn::AsyncUdpSocket> = match filter {
            Some(filter) => Arc::new(FilteredSocket::new(udp, filter)),
            None => udp,
        };
        let endpoint = quinn::Endpoint::new_with_abstract_socket(
            tls::endpoint_config(identity),
            Some(server_config),
            udp,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(bind_error)?;
        let (inbound, receiver) = mpsc::channel(INBOUND_QUEUE_MAX);
        let links: Arc<Links> = Arc::default();
        let accept_task = runtime.spawn(accept_loop(endpoint.clone(), inbound, refused.clone(), links.clone()));
        let transport =
            Transport { endpoint, peer_config, links, refused, node_id: identity.node_id(), runtime, accept_task };
        Ok((transport, receiver))
    }

    /// The address the endpoint listens on (with the port the OS chose when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// This node's id.
    #[must_use]
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Handshakes refused so far, in either direction: peer certificates failing admission and
    /// peer connections without a certificate.
    #[must_use]
    pub fn refused(&self) -> u64 {
        *self.refused.borrow()
    }

    /// Watches [`Transport::refused`], to await a refusal instead of polling for it.
    #[must_use]
    pub fn watch_refused(&self) -> watch::Receiver<u64> {
        self.refused.subscribe()
    }

    /// Queues `bytes` for the peer listening at `to` and returns at once (see the module doc).
    pub fn send(&self, to: SocketAddr, bytes: Vec<u8>) -> SendOutcome {
        if bytes.len() > FRAME_BYTES_MAX {
            return SendOutcome::TooLarge;
        }
        let mut links = self.links.senders.lock().unwrap_or_else(PoisonError::into_inner);
        let mut bytes = bytes;
        // At most two rounds: the second follows a link whose task had ended.
        for _ in 0..2 {
            let link = links.entry(to).or_insert_with(|| {
                let (sender, queue) = mpsc::channel(SEND_QUEUE_MAX);
                self.runtime.spawn(run_link(self.endpoint.clone(), self.peer_config.clone(), to, queue));
                sender
            });
            match link.try_send(bytes) {
                Ok(()) => return SendOutcome::Queued,
                Err(mpsc::error::TrySendError::Full(_)) => return SendOutcome::QueueFull,
                Err(mpsc::error::TrySendError::Closed(returned)) => {
                    links.remove(&to);
                    bytes = returned;
                }
            }
        }
        SendOutcome::QueueFull
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.endpoint.close(CLOSE_SHUTDOWN.into(), b"shutdown");
        // Dropping the links' senders ends their tasks.
    }
}

/// The outgoing links, and the peers that dialled this node.
#[derive(Debug, Default)]
struct Links {
    /// Each destination's queue (its task holds the connection).
    senders: Mutex<BTreeMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
    /// Addresses peer connections came from.
    dialled_by: Mutex<std::collections::BTreeSet<SocketAddr>>,
}

impl Links {
    /// A peer connection came from `addr`: if one came from there before, the peer dialled again,
    /// so the link to it is dropped (it finishes its queue) and the next message opens another.
    fn dialled_by(&self, addr: SocketAddr) {
        let again = {
            let mut dialled_by = self.dialled_by.lock().unwrap_or_else(PoisonError::into_inner);
            if dialled_by.len() >= DIALLED_BY_MAX && !dialled_by.contains(&addr) {
                dialled_by.clear();
            }
            !dialled_by.insert(addr)
        };
        if again {
            self.senders.lock().unwrap_or_else(PoisonError::into_inner).remove(&addr);
        }
    }
}

/// Sends the messages queued for `addr` over one connection and stream at a time.
async fn run_link(
    endpoint: quinn::Endpoint,
    config: quinn::ClientConfig,
    addr: SocketAddr,
    mut queue: mpsc::Receiver<Vec<u8>>,
) {
    let mut backoff = BACKOFF_MIN;
    while let Some(first) = queue.recv().await {
        let Some((connection, mut stream)) = open_link(&endpoint, &config, addr).await else {
            // `first` is given up; later messages wait in the queue (or are dropped when it fills).
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            continue;
        };
        backoff = BACKOFF_MIN;
        let mut next = Some(first);
        loop {
            let bytes = match next.take() {
                Some(bytes) => bytes,
                None => tokio::select! {
                    message = queue.recv() => match message {
                        Some(bytes) => bytes,
                        None => {
                            let _ = stream.finish();
                            return;
                        }
                    },
                    _ = connection.closed() => break,
                },
            };
            match tokio::time::timeout(WRITE_TIMEOUT, write_frame(&mut stream, &bytes)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    connection.close(CLOSE_SHUTDOWN.into(), b"write failed");
                    break;
                }
            }
        }
    }
}

/// A connection to the peer at `addr` and a fresh stream on it, or `None` when either fails.
async fn open_link(
    endpoint: &quinn::Endpoint,
    config: &quinn::ClientConfig,
    addr: SocketAddr,
) -> Option<(quinn::Connection, quinn::SendStream)> {
    let connecting = endpoint.connect_with(config.clone(), addr, SERVER_NAME).ok()?;
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, connecting).await.ok()?.ok()?;
    let stream = connection.open_uni().await.ok()?;
    Some((connection, stream))
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    inbound: mpsc::Sender<Inbound>,
    refused: Arc<watch::Sender<u64>>,
    links: Arc<Links>,
) {
    let connections = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    while let Some(incoming) = endpoint.accept().await {
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            incoming.refuse();
            continue;
        };
        let (inbound, refused, links) = (inbound.clone(), refused.clone(), links.clone());
        tokio::spawn(async move {
            serve_connection(incoming, inbound, refused, &links).await;
            drop(permit);
        });
    }
}

/// The ALPN the connection negotiated, if any.
fn alpn(connection: &quinn::Connection) -> Option<Vec<u8>> {
    connection
        .handshake_data()
        .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|data| data.protocol)
}

/// The node id of the peer's certificate, if it presented one.
fn peer_node_id(connection: &quinn::Connection) -> Option<NodeId> {
    let certificates =
        connection.peer_identity()?.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok()?;
    node_id_of(certificates.first()?).ok()
}

async fn serve_connection(
    incoming: quinn::Incoming,
    inbound: mpsc::Sender<Inbound>,
    refused: Arc<watch::Sender<u64>>,
    links: &Links,
) {
    // A failed handshake was counted by the verifier when it was a refusal.
    let Ok(connection) = incoming.await else {
        return;
    };
    match alpn(&connection).as_deref() {
        Some(ALPN_PEER) => {
            let Some(from) = peer_node_id(&connection) else {
                refused.send_modify(|count| *count += 1);
                connection.close(CLOSE_REFUSED.into(), b"peer certificate required");
                return;
            };
            // Before any of its messages goes up: the answers to them take a new connection.
            links.dialled_by(connection.remote_address());
            while let Ok(stream) = connection.accept_uni().await {
                tokio::spawn(serve_peer_stream(connection.clone(), from, stream, inbound.clone()));
            }
        }
        Some(ALPN_CLIENT) => {
            while let Ok((send, receive)) = connection.accept_bi().await {
                tokio::spawn(serve_request(connection.clone(), send, receive, inbound.clone()));
            }
        }
        _ => connection.close(CLOSE_REFUSED.into(), b"unknown protocol"),
    }
}

async fn serve_peer_stream(
    connection: quinn::Connection,
    from: NodeId,
    mut stream: quinn::RecvStream,
    inbound: mpsc::Sender<Inbound>,
) {
    let addr = connection.remote_address();
    loop {
        match read_frame(&mut stream).await {
            Ok(Some(bytes)) => {
                if inbound.send(Inbound::Peer { from, addr, bytes }).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(_) => {
                connection.close(CLOSE_BAD_FRAME.into(), b"bad frame");
                return;
            }
        }
    }
}

async fn serve_request(
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut receive: quinn::RecvStream,
    inbound: mpsc::Sender<Inbound>,
) {
    let request = match read_only_frame(&mut receive).await {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(_) => {
            connection.close(CLOSE_BAD_FRAME.into(), b"bad frame");
            return;
        }
    };
    let (reply, response) = oneshot::channel();
    if inbound.send(Inbound::Client { request, reply }).await.is_err() {
        return;
    }
    let Ok(response) = response.await else {
        // The node dropped `reply`: reset the stream so the client sees an error, not an answer.
        let _ = send.reset(RESET_NO_RESPONSE.into());
        return;
    };
    if write_frame(&mut send, &response).await.is_ok() {
        let _ = send.finish();
    }
}

pub mod filter;
#[cfg(test)]
mod tests;

use filter::{FilteredSocket, SocketFilter};

//! rustls and quinn configurations for the two protocols a node speaks, on rustls' ring provider
//! and TLS 1.3 only (QUIC requires it).

use crate::identity::Identity;
use crate::transport::TransportError;
use crate::verify::PeerVerifier;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use std::sync::Arc;
use std::time::Duration;

/// ALPN of node-to-node connections: both sides present certificates and apply admission.
pub const ALPN_PEER: &[u8] = b"pangea-peer/1";
/// ALPN of client connections: the server presents its certificate, the client none.
pub const ALPN_CLIENT: &[u8] = b"pangea-client/1";
/// The TLS server name clients send; servers ignore it (identities are keys, not names).
pub(crate) const SERVER_NAME: &str = "node.pangea";

/// A connection with no traffic for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Keep-alives keep idle connections open below [`IDLE_TIMEOUT`].
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Streams a peer may have open at once towards a node, each way.
const STREAMS_CONCURRENT_MAX: u32 = 64;

/// The crypto provider every configuration uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut config = quinn::TransportConfig::default();
    // 30 s fits in a QUIC varint of milliseconds, so the conversion cannot fail.
    config.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    config.keep_alive_interval(Some(KEEP_ALIVE_INTERVAL));
    config.max_concurrent_uni_streams(STREAMS_CONCURRENT_MAX.into());
    config.max_concurrent_bidi_streams(STREAMS_CONCURRENT_MAX.into());
    Arc::new(config)
}

/// The server side for both ALPNs: presents `identity`, asks for (but does not require) a client
/// certificate and judges it with `verifier`.
pub(crate) fn server_config(
    identity: &Identity,
    verifier: Arc<PeerVerifier>,
) -> Result<quinn::ServerConfig, TransportError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.certificate().clone()], identity.private_key())?;
    tls.alpn_protocols = vec![ALPN_PEER.to_vec(), ALPN_CLIENT.to_vec()];
    let quic = QuicServerConfig::try_from(tls).map_err(|error| TransportError::Quic(error.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(transport_config());
    Ok(config)
}

/// The client side of a connection speaking `alpn`, presenting `identity` when given and judging
/// the server with `verifier`.
pub(crate) fn client_config(
    alpn: &[u8],
    identity: Option<&Identity>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<quinn::ClientConfig, TransportError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut tls = match identity {
        Some(identity) => {
            builder.with_client_auth_cert(vec![identity.certificate().clone()], identity.private_key())?
        }
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![alpn.to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(|error| TransportError::Quic(error.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(transport_config());
    Ok(config)
}

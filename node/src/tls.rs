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

/// The key of the QUIC stateless resets this node sends: derived from its identity, so that a
/// restarted node can reset the connections its previous process had. A peer still writing to the
/// old process then learns at once that it is gone and reconnects, instead of waiting out the
/// idle timeout while the restarted node stays unreachable.
struct ResetKey(blake3::Hasher);

impl quinn::crypto::HmacKey for ResetKey {
    fn sign(&self, data: &[u8], signature_out: &mut [u8]) {
        let mut hasher = self.0.clone();
        hasher.update(data);
        hasher.finalize_xof().fill(signature_out);
    }

    fn signature_len(&self) -> usize {
        32
    }

    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), quinn::crypto::CryptoError> {
        let mut expected = [0u8; 32];
        self.sign(data, &mut expected);
        // `blake3::Hash` compares in constant time.
        if signature.len() == expected.len()
            && blake3::Hash::from(expected)
                == blake3::Hash::from_slice(signature).map_err(|_| quinn::crypto::CryptoError)?
        {
            Ok(())
        } else {
            Err(quinn::crypto::CryptoError)
        }
    }
}

/// Random connection ids of 8 bytes that claim no way to tell them from others. quinn's default
/// generator signs its ids with a key drawn at each start and silently drops packets whose ids fail
/// the check, so a restarted node would drop the packets of its previous process's connections
/// without the stateless reset that tells the sender to reconnect.
struct RandomCids;

/// Bytes of a connection id.
const CID_BYTES: usize = 8;

impl quinn::ConnectionIdGenerator for RandomCids {
    fn generate_cid(&mut self) -> quinn::ConnectionId {
        let mut bytes = [0u8; CID_BYTES];
        // Should the OS have no randomness, fall back on the clock: ids need only be unlikely to
        // collide, and the handshake's own randomness protects the connection.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            bytes = (nanos.as_nanos() as u64).to_le_bytes();
        }
        quinn::ConnectionId::new(&bytes)
    }

    fn cid_len(&self) -> usize {
        CID_BYTES
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

/// The endpoint's configuration: stateless resets keyed by `identity` (see [`ResetKey`]) and
/// connection ids every packet of which may be answered with one (see [`RandomCids`]), so that a
/// restarted node resets the connections of its previous process at their first packet.
pub(crate) fn endpoint_config(identity: &Identity) -> quinn::EndpointConfig {
    let reset_key = blake3::derive_key("pangea/quic-stateless-reset/v1", identity.private_key().secret_der());
    let mut config = quinn::EndpointConfig::new(Arc::new(ResetKey(blake3::Hasher::new_keyed(&reset_key))));
    config.cid_generator(|| Box::new(RandomCids));
    config
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

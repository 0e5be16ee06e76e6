//! rustls certificate verifiers for Pangea's self-signed certificates.
//!
//! There is no certificate authority: a peer is judged by its own certificate against the node's
//! [`Admission`] rule ([`PeerVerifier`], used in both directions of node-to-node connections), and
//! a client judges a server only by its node id, when it knows one ([`ServerIdVerifier`]). Validity
//! periods and server names are not checked: identities are keys, not names. The handshake
//! signatures are always checked with the crypto provider's own algorithms, which is what proves
//! that the peer holds the certificate's private key.

use crate::identity::{Admission, admitted, node_id_of};
use pangea_core::id::NodeId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::sync::Arc;
use tokio::sync::watch;

/// The three signature methods of rustls' verifier traits, the same in every verifier here: the
/// handshake signature is checked with the algorithms of the verifier's crypto provider
/// (`self.provider`), whatever rule judges the certificate itself. Expands inside an `impl` of
/// [`ServerCertVerifier`] or [`ClientCertVerifier`].
macro_rules! provider_signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    };
}

/// Admits peers by the node's [`Admission`] rule, as client or as server, and counts refusals.
#[derive(Debug)]
pub(crate) struct PeerVerifier {
    admission: Admission,
    provider: Arc<CryptoProvider>,
    refused: Arc<watch::Sender<u64>>,
}

impl PeerVerifier {
    /// A verifier applying `admission` that adds one to `refused` for each certificate it refuses.
    pub(crate) fn new(
        admission: Admission,
        provider: Arc<CryptoProvider>,
        refused: Arc<watch::Sender<u64>>,
    ) -> PeerVerifier {
        PeerVerifier { admission, provider, refused }
    }

    fn admit(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let outcome = match admitted(end_entity, &self.admission) {
            Ok(true) => return Ok(()),
            Ok(false) => rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
            Err(_) => rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
        };
        self.refused.send_modify(|count| *count += 1);
        Err(outcome)
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.admit(end_entity).map(|()| ServerCertVerified::assertion())
    }

    provider_signature_methods!();
}

impl ClientCertVerifier for PeerVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// Optional at the TLS level because clients (ALPN `pangea-client/1`) present no certificate;
    /// the transport closes peer connections that arrive without one.
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.admit(end_entity).map(|()| ClientCertVerified::assertion())
    }

    provider_signature_methods!();
}

/// A client's view of a server: any well-formed certificate whose handshake signature verifies,
/// and, when `expected` is given, only the one whose node id it is.
#[derive(Debug)]
pub(crate) struct ServerIdVerifier {
    expected: Option<NodeId>,
    provider: Arc<CryptoProvider>,
}

impl ServerIdVerifier {
    /// A verifier accepting the server `expected` (or any server when `None`).
    pub(crate) fn new(expected: Option<NodeId>, provider: Arc<CryptoProvider>) -> ServerIdVerifier {
        ServerIdVerifier { expected, provider }
    }
}

impl ServerCertVerifier for ServerIdVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let id =
            node_id_of(end_entity).map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        match self.expected {
            Some(expected) if expected != id => {
                Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    provider_signature_methods!();
}

//! A node's TLS identity: its key pair, its self-signed certificate and the [`NodeId`] derived from
//! them, plus the [`Admission`] rule that decides which peers a node talks to.
//!
//! **Node id derivation.** A node's id is `NodeId::for_public_key(spki)` where `spki` is the DER
//! encoding of the certificate's whole `SubjectPublicKeyInfo` (algorithm identifier included), so
//! the id also commits to the key's algorithm. The key is ECDSA P-256 with SHA-256, which rustls'
//! ring provider signs and verifies.
//!
//! **Cluster-key proof.** Under [`Admission::ClusterKey`] the certificate carries
//! `keyed_blake3(cluster_key, spki)` as a DNS subject alternative name,
//! `<first 32 hex digits>.<last 32 hex digits>.proof.pangea` (a DNS label holds at most 63
//! characters, so the 64 digits are split in two). The proof is bound to the public key and the TLS
//! handshake proves possession of the matching private key, so copying a proof into another
//! certificate is useless.

use crate::hex;
use pangea_core::id::NodeId;
use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;

/// Suffix of the DNS name that carries a cluster-key proof.
const PROOF_NAME_SUFFIX: &str = "proof.pangea";

/// A secret shared by the nodes of one cluster; holding it is what admits a node (see the module
/// doc). Its `Debug` output hides the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey(pub [u8; 32]);

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

/// Which peers a node accepts on node-to-node connections (in both directions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Peers whose certificate carries a proof made with this key.
    ClusterKey(ClusterKey),
    /// Exactly the peers with these ids.
    Pinned(BTreeSet<NodeId>),
}

impl Admission {
    /// True when a peer whose certificate has this DER `SubjectPublicKeyInfo` and these DNS
    /// subject alternative names is admitted.
    #[must_use]
    pub fn admits<'a>(&self, spki: &[u8], mut dns_names: impl Iterator<Item = &'a str>) -> bool {
        match self {
            Admission::Pinned(ids) => ids.contains(&NodeId::for_public_key(spki)),
            Admission::ClusterKey(key) => {
                let expected = proof_name(key, spki);
                dns_names.any(|name| name.eq_ignore_ascii_case(&expected))
            }
        }
    }
}

/// The DNS name proving that the holder of `spki` was given `key`.
fn proof_name(key: &ClusterKey, spki: &[u8]) -> String {
    let proof = hex::encode(blake3::keyed_hash(&key.0, spki).as_bytes());
    format!("{}.{}.{PROOF_NAME_SUFFIX}", &proof[..32], &proof[32..])
}

/// Why an identity could not be made or loaded.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// Key generation or certificate signing failed.
    #[error("cannot generate the key pair or certificate: {0}")]
    Generate(String),
    /// The private key text is not a PEM PKCS#8 key this build can use.
    #[error("the private key is unreadable: {0}")]
    Key(String),
    /// The certificate text is not one PEM X.509 certificate.
    #[error("the certificate is unreadable: {0}")]
    Certificate(String),
    /// The private key does not belong to the certificate's public key.
    #[error("the private key does not match the certificate")]
    KeyMismatch,
}

/// A node's key pair and self-signed certificate.
pub struct Identity {
    certificate: CertificateDer<'static>,
    private_key: PrivatePkcs8KeyDer<'static>,
    node_id: NodeId,
}

impl Clone for Identity {
    fn clone(&self) -> Identity {
        Identity {
            certificate: self.certificate.clone(),
            private_key: self.private_key.clone_key(),
            node_id: self.node_id,
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").field("node_id", &self.node_id).finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh key pair (from the OS's randomness) and a self-signed certificate for it, carrying
    /// the cluster-key proof when `admission` is [`Admission::ClusterKey`].
    pub fn generate(admission: &Admission) -> Result<Identity, IdentityError> {
        let key_pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|error| IdentityError::Generate(error.to_string()))?;
        let spki = key_pair.subject_public_key_info();
        let mut names = vec!["node.pangea".to_owned()];
        if let Admission::ClusterKey(key) = admission {
            names.push(proof_name(key, &spki));
        }
        let params = CertificateParams::new(names).map_err(|error| IdentityError::Generate(error.to_string()))?;
        let certificate = params.self_signed(&key_pair).map_err(|error| IdentityError::Generate(error.to_string()))?;
        let identity = Identity {
            certificate: certificate.der().clone(),
            private_key: PrivatePkcs8KeyDer::from(key_pair.serialize_der()),
            node_id: NodeId::for_public_key(&spki),
        };
        debug_assert_eq!(node_id_of(&identity.certificate).ok(), Some(identity.node_id));
        Ok(identity)
    }

    /// Loads an identity from the PEM texts [`Identity::certificate_pem`] and
    /// [`Identity::private_key_pem`] wrote, checking that the key belongs to the certificate.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Identity, IdentityError> {
        let key_pair = KeyPair::from_pem(private_key_pem).map_err(|error| IdentityError::Key(error.to_string()))?;
        let certificate = pem_der(certificate_pem, "CERTIFICATE").map_err(IdentityError::Certificate)?;
        let certificate = CertificateDer::from(certificate);
        let spki = public_key_of(&certificate)?;
        if spki != key_pair.subject_public_key_info() {
            return Err(IdentityError::KeyMismatch);
        }
        Ok(Identity {
            certificate,
            private_key: PrivatePkcs8KeyDer::from(key_pair.serialize_der()),
            node_id: NodeId::for_public_key(&spki),
        })
    }

    /// The node's id (see the module doc for the derivation).
    #[must_use]
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The self-signed certificate, DER.
    #[must_use]
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// The private key as rustls takes it.
    #[must_use]
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.private_key.clone_key())
    }

    /// The certificate as PEM text.
    #[must_use]
    pub fn certificate_pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.certificate.to_vec()))
    }

    /// The PKCS#8 private key as PEM text (a secret: store it readable by the owner only).
    #[must_use]
    pub fn private_key_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PRIVATE KEY", self.private_key.secret_pkcs8_der().to_vec()))
    }

    /// True when this identity's certificate satisfies `admission` (a node's own certificate must,
    /// or its peers will refuse it).
    #[must_use]
    pub fn is_admitted_by(&self, admission: &Admission) -> bool {
        admitted(&self.certificate, admission).unwrap_or(false)
    }
}

/// The DER of the one PEM block labelled `label` in `text`.
fn pem_der(text: &str, label: &str) -> Result<Vec<u8>, String> {
    let block = pem::parse(text).map_err(|error| error.to_string())?;
    if block.tag() != label {
        return Err(format!("expected a {label} block, found {}", block.tag()));
    }
    Ok(block.into_contents())
}

/// The DER `SubjectPublicKeyInfo` of `certificate`: what node ids and proofs are computed from.
pub fn public_key_of(certificate: &CertificateDer<'_>) -> Result<Vec<u8>, IdentityError> {
    let parsed = webpki::EndEntityCert::try_from(certificate)
        .map_err(|error| IdentityError::Certificate(format!("{error:?}")))?;
    Ok(parsed.subject_public_key_info().as_ref().to_vec())
}

/// The id of the node holding `certificate`.
pub fn node_id_of(certificate: &CertificateDer<'_>) -> Result<NodeId, IdentityError> {
    Ok(NodeId::for_public_key(&public_key_of(certificate)?))
}

/// Whether `certificate` satisfies `admission` (what the TLS verifiers ask of a peer's certificate,
/// bytes from outside).
///
/// # Errors
/// A certificate that does not parse.
pub fn admitted(certificate: &CertificateDer<'_>, admission: &Admission) -> Result<bool, IdentityError> {
    let parsed = webpki::EndEntityCert::try_from(certificate)
        .map_err(|error| IdentityError::Certificate(format!("{error:?}")))?;
    let spki = parsed.subject_public_key_info();
    Ok(admission.admits(spki.as_ref(), parsed.valid_dns_names()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(byte: u8) -> Admission {
        Admission::ClusterKey(ClusterKey([byte; 32]))
    }

    #[test]
    fn generated_identity_round_trips_through_pem() {
        let identity = Identity::generate(&cluster(1)).unwrap();
        let loaded = Identity::from_pem(&identity.certificate_pem(), &identity.private_key_pem()).unwrap();
        assert_eq!(loaded.node_id(), identity.node_id());
        assert_eq!(node_id_of(loaded.certificate()).unwrap(), identity.node_id());
    }

    #[test]
    fn key_of_another_identity_is_refused() {
        let first = Identity::generate(&cluster(1)).unwrap();
        let second = Identity::generate(&cluster(1)).unwrap();
        assert!(matches!(
            Identity::from_pem(&first.certificate_pem(), &second.private_key_pem()),
            Err(IdentityError::KeyMismatch)
        ));
        assert!(Identity::from_pem("garbage", &first.private_key_pem()).is_err());
        assert!(Identity::from_pem(&first.certificate_pem(), "garbage").is_err());
    }

    #[test]
    fn cluster_key_proof_admits_only_the_same_key() {
        let identity = Identity::generate(&cluster(1)).unwrap();
        assert!(identity.is_admitted_by(&cluster(1)));
        assert!(!identity.is_admitted_by(&cluster(2)));
    }

    #[test]
    fn pinned_admission_admits_listed_ids_only() {
        let identity = Identity::generate(&Admission::Pinned(BTreeSet::new())).unwrap();
        assert!(!identity.is_admitted_by(&Admission::Pinned(BTreeSet::new())));
        assert!(identity.is_admitted_by(&Admission::Pinned(BTreeSet::from([identity.node_id()]))));
        assert!(!identity.is_admitted_by(&cluster(1)));
    }
}

//! TLS for the one port that serves every endpoint: rustls with the aws-lc-rs provider,
//! offering HTTP/2 (gRPC) and HTTP/1.1 (SOAP, the mailbox UI) by ALPN.
//!
//! Clients may present a certificate. The handshake proves the client holds its key; whether
//! the certificate is trusted is decided by the channel that relies on it (the gRPC channel
//! validates the path to the sender trust anchors for every call and answers with the error
//! table's row and an audit entry), never by the handshake. A channel that does not look at
//! the client certificate (SOAP signs each message) is unaffected by it.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::UnixTime;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {message}", path.display())]
    File {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls.key is not the key of tls.cert (they do not match)")]
    KeyMismatch,
}

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key.
/// Clients are asked for an optional certificate, with `client_ca_subjects` (DER names) as
/// hints.
pub fn server_config(
    cert_chain: &Path,
    key: &Path,
    client_ca_subjects: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let file_error = |path: &Path, e: &dyn std::fmt::Display| TlsError::File {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(cert_chain)
        .map_err(|e| file_error(cert_chain, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert_chain, &e))?;
    if certs.is_empty() {
        return Err(file_error(cert_chain, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(ProofOfPossession {
            algorithms: provider.signature_verification_algorithms,
            hints: client_ca_subjects
                .into_iter()
                .map(DistinguishedName::from)
                .collect(),
        }))
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch,
            other => TlsError::Rustls(other),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts an optional client certificate whose key signed the handshake, leaving the
/// decision to trust it to the channel (see the module documentation).
#[derive(Debug)]
struct ProofOfPossession {
    algorithms: WebPkiSupportedAlgorithms,
    hints: Vec<DistinguishedName>,
}

impl ClientCertVerifier for ProofOfPossession {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Trust is the channel's decision, made on every request that relies on it.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

//! The TSA's signing key and certificate.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use der::asn1::{IntRef, ObjectIdentifier};
use der::{Decode, Encode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::Certificate;

use crate::asn1::oid;
use crate::issue::{
    general_name_directory, issuer_and_serial_der, signing_certificate_v2_attribute,
};

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("the TSA certificate cannot be parsed: {0}")]
    Certificate(der::Error),
    #[error("the TSA private key is not a PKCS#8 ECDSA P-256 key")]
    Key,
    #[error("the TSA private key does not match the certificate's public key")]
    KeyMismatch,
    #[error("the TSA certificate is unfit: {0}")]
    Unfit(EkuProblem),
    #[error("encoding the signer identity failed: {0}")]
    Encoding(der::Error),
}

/// Signing failed (a key in an HSM that went away, say).
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// What the token needs to say about its signer, encoded once when the signer is loaded.
#[derive(Clone, Debug)]
pub struct SignerIdentity {
    cert_der: Vec<u8>,
    issuer_and_serial: Vec<u8>,
    signing_certificate_attribute: Vec<u8>,
    tsa_general_name: Vec<u8>,
    certificate_set: Vec<u8>,
}

impl SignerIdentity {
    /// Checks the certificate is fit for time-stamping (RFC 3161 §2.3: the only extended key
    /// usage is id-kp-timeStamping, and that extension is critical) and encodes the identity.
    /// `chain` are the CA certificates to include next to it when a request asks for
    /// certificates.
    pub fn new(cert_der: &[u8], chain: &[Vec<u8>]) -> Result<Self, CredentialError> {
        let cert = Certificate::from_der(cert_der).map_err(CredentialError::Certificate)?;
        check_time_stamping_eku(&cert).map_err(CredentialError::Unfit)?;
        Self::encode(&cert, cert_der, chain)
    }

    /// Encodes the identity without checking the certificate's fitness (tests build tokens
    /// that verifiers must refuse with this).
    pub(crate) fn encode(
        cert: &Certificate,
        cert_der: &[u8],
        chain: &[Vec<u8>],
    ) -> Result<Self, CredentialError> {
        let tbs = &cert.tbs_certificate;
        let issuer = tbs.issuer.to_der().map_err(CredentialError::Encoding)?;
        let subject = tbs.subject.to_der().map_err(CredentialError::Encoding)?;
        let serial =
            IntRef::new(tbs.serial_number.as_bytes()).map_err(CredentialError::Encoding)?;
        let mut certs: Vec<&[u8]> = std::iter::once(cert_der)
            .chain(chain.iter().map(Vec::as_slice))
            .collect();
        certs.sort_unstable();
        certs.dedup();
        Ok(SignerIdentity {
            cert_der: cert_der.to_vec(),
            issuer_and_serial: issuer_and_serial_der(&issuer, serial)
                .map_err(CredentialError::Encoding)?,
            signing_certificate_attribute: signing_certificate_v2_attribute(
                cert_der, &issuer, serial,
            )
            .map_err(CredentialError::Encoding)?,
            tsa_general_name: general_name_directory(&subject)
                .map_err(CredentialError::Encoding)?,
            certificate_set: certs.concat(),
        })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// DER `IssuerAndSerialNumber` of the certificate (the SignerInfo's sid).
    pub fn issuer_and_serial(&self) -> &[u8] {
        &self.issuer_and_serial
    }

    /// DER `Attribute` signingCertificateV2 naming the certificate.
    pub fn signing_certificate_attribute(&self) -> &[u8] {
        &self.signing_certificate_attribute
    }

    /// DER `GeneralName` directoryName of the certificate's subject.
    pub fn tsa_general_name(&self) -> &[u8] {
        &self.tsa_general_name
    }

    /// The content of the DER SET OF certificates (the certificate and its chain, sorted).
    pub fn certificate_set(&self) -> &[u8] {
        &self.certificate_set
    }
}

/// Signs time-stamp tokens. Implementations sign with ECDSA P-256 and SHA-256, and return the
/// DER `ECDSA-Sig-Value`.
pub trait TimeStampSigner: Send + Sync {
    fn identity(&self) -> &SignerIdentity;
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A software ECDSA P-256 key (aws-lc-rs).
pub struct EcdsaP256Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    identity: SignerIdentity,
}

impl std::fmt::Debug for EcdsaP256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaP256Signer")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl EcdsaP256Signer {
    /// A signer from a PKCS#8 key, its certificate and the CA chain (DER). Refuses a key that
    /// does not match the certificate, and a certificate unfit for time-stamping.
    pub fn new(
        key_pkcs8_der: &[u8],
        cert_der: &[u8],
        chain: &[Vec<u8>],
    ) -> Result<Self, CredentialError> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key_pkcs8_der)
            .map_err(|_| CredentialError::Key)?;
        let cert = Certificate::from_der(cert_der).map_err(CredentialError::Certificate)?;
        let cert_key = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        if key.public_key().as_ref() != cert_key {
            return Err(CredentialError::KeyMismatch);
        }
        Ok(EcdsaP256Signer {
            key,
            rng: SystemRandom::new(),
            identity: SignerIdentity::new(cert_der, chain)?,
        })
    }

    /// Loads PEM files: the certificate, the PKCS#8 key, and optionally CA certificates.
    pub fn from_pem_files(
        cert: &Path,
        key: &Path,
        chain: Option<&Path>,
    ) -> Result<Self, CredentialError> {
        let cert_der = read_pem_certificates(cert)?
            .into_iter()
            .next()
            .ok_or_else(|| file_error(cert, "no certificate in the file"))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
        let PrivateKeyDer::Pkcs8(key_der) = key_der else {
            return Err(file_error(
                key,
                "the key is not in PKCS#8 form (BEGIN PRIVATE KEY)",
            ));
        };
        let chain = match chain {
            Some(path) => read_pem_certificates(path)?,
            None => Vec::new(),
        };
        Self::new(key_der.secret_pkcs8_der(), &cert_der, &chain)
    }
}

impl TimeStampSigner for EcdsaP256Signer {
    fn identity(&self) -> &SignerIdentity {
        &self.identity
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| SignError("ECDSA signing failed".into()))
    }
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> CredentialError {
    CredentialError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Every certificate in a PEM file, as DER.
pub fn read_pem_certificates(path: &Path) -> Result<Vec<Vec<u8>>, CredentialError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// Why a certificate may not sign time-stamp tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EkuProblem {
    #[error("it has no extended key usage extension (id-kp-timeStamping is required)")]
    Missing,
    #[error("its extended key usage extension is not critical (RFC 3161 §2.3)")]
    NotCritical,
    #[error("its extended key usage is not exactly id-kp-timeStamping (RFC 3161 §2.3)")]
    NotTimeStampingOnly,
    #[error("its extended key usage extension is malformed or repeated")]
    Malformed,
}

/// RFC 3161 §2.3: exactly one extended key usage extension, critical, whose only purpose is
/// id-kp-timeStamping.
pub fn check_time_stamping_eku(cert: &Certificate) -> Result<(), EkuProblem> {
    let mut ekus = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == oid::EXTENDED_KEY_USAGE);
    let eku = ekus.next().ok_or(EkuProblem::Missing)?;
    if ekus.next().is_some() {
        return Err(EkuProblem::Malformed);
    }
    if !eku.critical {
        return Err(EkuProblem::NotCritical);
    }
    let purposes = Vec::<ObjectIdentifier>::from_der(eku.extn_value.as_bytes())
        .map_err(|_| EkuProblem::Malformed)?;
    if purposes != [oid::KP_TIME_STAMPING] {
        return Err(EkuProblem::NotTimeStampingOnly);
    }
    Ok(())
}

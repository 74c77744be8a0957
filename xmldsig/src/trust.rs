//! Is a signer's certificate trusted? It must chain to a configured trust anchor, every
//! certificate valid at the signing time (not today), allow digital signatures, and not be
//! self-signed (even when it is itself configured as an anchor).

use std::time::{SystemTime, UNIX_EPOCH};

use der::Decode;
use der::asn1::ObjectIdentifier;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_cert::Certificate;

const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TrustError {
    #[error("the certificate cannot be parsed: {0}")]
    Malformed(String),
    #[error("the signer's certificate is self-signed")]
    SelfSigned,
    #[error("the signer's certificate does not allow digital signatures (key usage)")]
    KeyUsage,
    #[error("the signer's certificate does not chain to a trust anchor at the signing time: {0}")]
    Chain(webpki::Error),
}

/// What the signer's extended key usage must allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A sender application: clientAuth, when the certificate restricts its usage.
    SenderApplication,
    /// Any purpose (a document seal, a proof signer).
    Any,
}

/// Trust anchors and certificates that may complete a path.
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<CertificateDer<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
}

struct AnyPurpose;

impl ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, _: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

impl TrustAnchors {
    pub fn new(anchors: impl IntoIterator<Item = Vec<u8>>) -> Self {
        TrustAnchors {
            anchors: anchors.into_iter().map(CertificateDer::from).collect(),
            intermediates: Vec::new(),
        }
    }

    pub fn with_intermediates(mut self, certs: impl IntoIterator<Item = Vec<u8>>) -> Self {
        self.intermediates
            .extend(certs.into_iter().map(CertificateDer::from));
        self
    }

    /// Validates `signer` (DER) at `at`, with `extra` certificates from the message helping to
    /// build the path.
    pub fn validate(
        &self,
        signer: &[u8],
        extra: &[Vec<u8>],
        at: SystemTime,
        purpose: Purpose,
    ) -> Result<(), TrustError> {
        let cert =
            Certificate::from_der(signer).map_err(|e| TrustError::Malformed(e.to_string()))?;
        if cert.tbs_certificate.issuer == cert.tbs_certificate.subject {
            return Err(TrustError::SelfSigned);
        }
        if let Some(ku) = cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == OID_KEY_USAGE)
        {
            // KeyUsage ::= BIT STRING; digitalSignature is bit 0, nonRepudiation bit 1.
            let bits = der::asn1::BitString::from_der(ku.extn_value.as_bytes())
                .map_err(|e| TrustError::Malformed(e.to_string()))?;
            let first = bits.raw_bytes().first().copied().unwrap_or(0);
            if first & 0b1100_0000 == 0 {
                return Err(TrustError::KeyUsage);
            }
        }
        let anchors = self
            .anchors
            .iter()
            .map(webpki::anchor_from_trusted_cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(TrustError::Chain)?;
        let intermediates: Vec<CertificateDer<'_>> = self
            .intermediates
            .iter()
            .cloned()
            .chain(extra.iter().map(|c| CertificateDer::from(c.as_slice())))
            .collect();
        let ee_der = CertificateDer::from(signer);
        let ee = webpki::EndEntityCert::try_from(&ee_der).map_err(TrustError::Chain)?;
        let time = UnixTime::since_unix_epoch(at.duration_since(UNIX_EPOCH).unwrap_or_default());
        let result = match purpose {
            Purpose::SenderApplication => ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                time,
                webpki::KeyUsage::client_auth(),
                None,
                None,
            ),
            Purpose::Any => ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                time,
                AnyPurpose,
                None,
                None,
            ),
        };
        result.map(|_| ()).map_err(TrustError::Chain)
    }
}

//! Is a signer's certificate trusted? It must chain to a configured trust anchor, every
//! certificate valid at the signing time (not today), allow digital signatures, and not be
//! self-signed (even when it is itself configured as an anchor).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;

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
///
/// Successful validations are remembered per (signer, extra certificates, purpose) with the
/// window in which every certificate of the verified path is valid: a later signature by the
/// same signer, at a time inside that window, needs no new path validation (the anchors and
/// intermediates of a `TrustAnchors` never change). Failures are never remembered.
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<CertificateDer<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    validated: Arc<Mutex<HashMap<[u8; 32], ValidityWindow>>>,
}

/// From when until when every certificate of a verified path is valid.
type ValidityWindow = (SystemTime, SystemTime);

/// How many validations are remembered; the cache starts afresh when full.
const VALIDATED_CAPACITY: usize = 10_000;

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
            validated: Arc::default(),
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
        let mut key = digest::Context::new(&digest::SHA256);
        key.update(&[purpose as u8]);
        for cert in std::iter::once(signer).chain(extra.iter().map(Vec::as_slice)) {
            key.update(&(cert.len() as u64).to_be_bytes());
            key.update(cert);
        }
        let mut cache_key = [0u8; 32];
        cache_key.copy_from_slice(key.finish().as_ref());
        let cached = self
            .validated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
            .copied();
        if cached.is_some_and(|(from, until)| from <= at && at <= until) {
            return Ok(());
        }
        let window = self.validate_path(signer, extra, at, purpose)?;
        let mut validated = self.validated.lock().unwrap_or_else(|p| p.into_inner());
        if validated.len() >= VALIDATED_CAPACITY {
            validated.clear();
        }
        validated.insert(cache_key, window);
        Ok(())
    }

    /// Full validation; returns the window in which every certificate of the path is valid.
    fn validate_path(
        &self,
        signer: &[u8],
        extra: &[Vec<u8>],
        at: SystemTime,
        purpose: Purpose,
    ) -> Result<ValidityWindow, TrustError> {
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
        let path = result.map_err(TrustError::Chain)?;
        let mut from = UNIX_EPOCH;
        let mut until = UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 4);
        let anchor_der = self.anchors.iter().find(|a| {
            webpki::anchor_from_trusted_cert(a).is_ok_and(|t| t.subject == path.anchor().subject)
        });
        let path_certs = std::iter::once(signer.to_vec())
            .chain(path.intermediate_certificates().map(|c| c.der().to_vec()))
            .chain(anchor_der.map(|a| a.to_vec()));
        for der in path_certs {
            let cert =
                Certificate::from_der(&der).map_err(|e| TrustError::Malformed(e.to_string()))?;
            let validity = &cert.tbs_certificate.validity;
            from = from.max(validity.not_before.to_system_time());
            until = until.min(validity.not_after.to_system_time());
        }
        Ok((from, until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile};

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    #[test]
    fn a_remembered_validation_never_widens_what_is_accepted() {
        // A fixed time: the chain is validated at the time given, never at the clock's.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR).expect("root");
        let seal = root
            .issue(&LeafSpec::new(
                "Seal",
                Profile::Seal,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("seal");
        let trust = TrustAnchors::new([root.cert_der().to_vec()]);
        trust
            .validate(seal.cert_der(), &[], now, Purpose::Any)
            .expect("valid");
        trust
            .validate(seal.cert_der(), &[], now, Purpose::Any)
            .expect("remembered");
        // Outside the certificate's validity: validated again, and refused.
        let later = now + 2 * YEAR;
        assert!(matches!(
            trust.validate(seal.cert_der(), &[], later, Purpose::Any),
            Err(TrustError::Chain(_))
        ));
        // Another purpose is another question: a time-stamping certificate is accepted for any
        // purpose, and still refused as a sender application once that acceptance is cached.
        let tsu = root
            .issue(&LeafSpec::new(
                "TSU",
                Profile::TimeStamping { eku_critical: true },
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("tsu");
        trust
            .validate(tsu.cert_der(), &[], now, Purpose::Any)
            .expect("any purpose");
        assert!(matches!(
            trust.validate(tsu.cert_der(), &[], now, Purpose::SenderApplication),
            Err(TrustError::Chain(_))
        ));
        // A refusal is never remembered as an acceptance, nor the reverse.
        let stranger = Authority::root("Stranger", now - YEAR, now + YEAR).expect("root");
        let other = stranger
            .issue(&LeafSpec::new(
                "Other",
                Profile::Seal,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("other");
        for _ in 0..2 {
            assert!(
                trust
                    .validate(other.cert_der(), &[], now, Purpose::Any)
                    .is_err()
            );
        }
    }
}

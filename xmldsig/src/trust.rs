//! Is a signer's certificate trusted? It must chain to a configured trust anchor, every
//! certificate valid at the signing time (not today), allow digital signatures, not be
//! self-signed (even when it is itself configured as an anchor), and, once certificate
//! revocation lists are given ([`TrustAnchors::set_crls`]), neither it nor its issuing CAs be
//! revoked: a certificate whose status no current CRL gives is refused, and so is every
//! certificate once the CRLs are past their nextUpdate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;

use der::Decode;
use der::asn1::ObjectIdentifier;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{
    CertRevocationList, ExpirationPolicy, ExtendedKeyUsageValidator, KeyPurposeIdIter,
    OwnedCertRevocationList, RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};
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
    #[error("the signer's certificate or an issuing CA is revoked")]
    Revoked,
    #[error("the revocation status of the signer's certificate cannot be established: {0}")]
    RevocationUnknown(webpki::Error),
    #[error("a certificate revocation list cannot be read: {0}")]
    Crl(String),
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
    /// The certificate revocation lists in force, shared by the clones (they are replaced as
    /// the operator publishes new ones); `None`: revocation is not checked.
    crls: Arc<RwLock<Option<Crls>>>,
    /// Counts the CRLs given: a validation made under earlier CRLs is not remembered.
    crl_generation: Arc<AtomicU64>,
}

/// The CRLs in force, and the earliest of their nextUpdate: a validation is remembered no
/// longer than that.
#[derive(Clone, Debug)]
struct Crls {
    lists: Arc<[CertRevocationList<'static>]>,
    next_update: SystemTime,
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
            crls: Arc::default(),
            crl_generation: Arc::default(),
        }
    }

    /// From now on, every path is checked against these CRLs (DER), each certificate of it
    /// but the anchor: revoked, or not covered by a CRL of its issuer, or with every CRL of
    /// its issuer past its nextUpdate at the signing time, it is refused. Replaces the
    /// CRLs given before, and forgets every validation remembered under them. An empty list
    /// refuses every path (nothing can be shown unrevoked).
    pub fn set_crls(&self, crls: &[Vec<u8>]) -> Result<(), TrustError> {
        let mut next_update = UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 4);
        let parsed = crls
            .iter()
            .map(|der| {
                let list = x509_cert::crl::CertificateList::from_der(der)
                    .map_err(|e| TrustError::Crl(e.to_string()))?;
                let until = list
                    .tbs_cert_list
                    .next_update
                    .ok_or_else(|| TrustError::Crl("a CRL without nextUpdate".into()))?;
                next_update = next_update.min(until.to_system_time());
                OwnedCertRevocationList::from_der(der)
                    .map(CertRevocationList::from)
                    .map_err(|e| TrustError::Crl(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        *self.crls.write().unwrap_or_else(|p| p.into_inner()) = Some(Crls {
            lists: parsed.into(),
            next_update,
        });
        // Counted before the remembered validations are forgotten: one made under the old
        // CRLs and remembered after this is refused by the count (see `validate`).
        self.crl_generation.fetch_add(1, Ordering::SeqCst);
        self.validated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    /// Whether paths are checked for revocation.
    pub fn checks_revocation(&self) -> bool {
        self.crls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
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
        let generation = self.crl_generation.load(Ordering::SeqCst);
        let window = self.validate_path(signer, extra, at, purpose)?;
        let mut validated = self.validated.lock().unwrap_or_else(|p| p.into_inner());
        // Not remembered when new CRLs came meanwhile: they may revoke this signer.
        if self.crl_generation.load(Ordering::SeqCst) == generation {
            if validated.len() >= VALIDATED_CAPACITY {
                validated.clear();
            }
            validated.insert(cache_key, window);
        }
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
        let crls = self.crls.read().unwrap_or_else(|p| p.into_inner()).clone();
        let crl_refs: Vec<&CertRevocationList<'static>> = crls
            .as_ref()
            .map(|c| c.lists.iter().collect())
            .unwrap_or_default();
        let revocation = match &crls {
            None => None,
            // Fail closed: no CRL can vouch for anything.
            Some(_) if crl_refs.is_empty() => {
                return Err(TrustError::RevocationUnknown(
                    webpki::Error::UnknownRevocationStatus,
                ));
            }
            Some(_) => Some(
                RevocationOptionsBuilder::new(&crl_refs)
                    .map_err(|_| {
                        TrustError::RevocationUnknown(webpki::Error::UnknownRevocationStatus)
                    })?
                    .with_depth(RevocationCheckDepth::Chain)
                    .with_status_policy(UnknownStatusPolicy::Deny)
                    .with_expiration_policy(ExpirationPolicy::Enforce)
                    .build(),
            ),
        };
        let result = match purpose {
            Purpose::SenderApplication => ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                time,
                webpki::KeyUsage::client_auth(),
                revocation,
                None,
            ),
            Purpose::Any => ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                time,
                AnyPurpose,
                revocation,
                None,
            ),
        };
        let path = result.map_err(|e| match e {
            webpki::Error::CertRevoked => TrustError::Revoked,
            webpki::Error::UnknownRevocationStatus
            | webpki::Error::CrlExpired { .. }
            | webpki::Error::InvalidCrlSignatureForPublicKey
            | webpki::Error::UnsupportedCrlSignatureAlgorithmContext(_)
            | webpki::Error::IssuerNotCrlSigner => TrustError::RevocationUnknown(e),
            e => TrustError::Chain(e),
        })?;
        let mut from = UNIX_EPOCH;
        // Not remembered past the CRLs' nextUpdate: then the status must be shown again.
        let mut until = crls.as_ref().map_or(
            UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 4),
            |c| c.next_update,
        );
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

    /// The content octets of a certificate's serial number.
    fn serial(cert_der: &[u8]) -> Vec<u8> {
        Certificate::from_der(cert_der)
            .expect("certificate")
            .tbs_certificate
            .serial_number
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn a_revoked_or_unvouched_signer_is_refused_once_crls_are_given() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR).expect("root");
        let ca = root
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca");
        let sender = |name: &str| {
            ca.issue(&LeafSpec::new(
                name,
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("sender")
        };
        let (good, stolen) = (sender("Good"), sender("Stolen"));
        let trust = TrustAnchors::new([root.cert_der().to_vec()])
            .with_intermediates([ca.cert_der().to_vec()]);
        let check = |cert: &[u8], at| trust.validate(cert, &[], at, Purpose::SenderApplication);
        // Before any CRL: not checked (and remembered as valid).
        check(stolen.cert_der(), now).expect("no revocation data yet");
        assert!(!trust.checks_revocation());
        // What the thief wanted: keep sending with the stolen key after the revocation.
        let crl = ca
            .crl(
                &[serial(stolen.cert_der())],
                now,
                now + Duration::from_secs(7 * 86_400),
                1,
            )
            .expect("crl");
        let root_crl = root
            .crl(&[], now, now + Duration::from_secs(7 * 86_400), 1)
            .expect("root crl");
        trust
            .set_crls(&[crl.clone(), root_crl.clone()])
            .expect("crls");
        assert!(trust.checks_revocation());
        assert_eq!(check(stolen.cert_der(), now), Err(TrustError::Revoked));
        check(good.cert_der(), now).expect("not revoked");
        // The issuing CA's own status must be known too: without the root's CRL, refused.
        trust.set_crls(std::slice::from_ref(&crl)).expect("crls");
        assert!(matches!(
            check(good.cert_der(), now),
            Err(TrustError::RevocationUnknown(_))
        ));
        // CRLs past their nextUpdate vouch for nothing, remembered validations included.
        trust.set_crls(&[crl, root_crl]).expect("crls");
        check(good.cert_der(), now).expect("valid");
        let stale = now + Duration::from_secs(8 * 86_400);
        assert!(matches!(
            check(good.cert_der(), stale),
            Err(TrustError::RevocationUnknown(_))
        ));
        // No CRL at all, once revocation is checked: nothing can be shown unrevoked.
        trust.set_crls(&[]).expect("none");
        assert!(check(good.cert_der(), now).is_err());
        // A CRL that is not one is an error, not a silent pass.
        assert!(matches!(
            trust.set_crls(&[b"not a crl".to_vec()]),
            Err(TrustError::Crl(_))
        ));
    }
}

//! Is a signer's certificate trusted? It must chain to a configured trust anchor, every
//! certificate valid at the signing time (not today), allow digital signatures, not be
//! self-signed (even when it is itself configured as an anchor), and, once certificate
//! revocation lists are given ([`TrustAnchors::set_crls`]), neither it nor its issuing CAs be
//! revoked: a certificate whose status no current CRL gives is refused, and so is every
//! certificate once the CRLs are past their nextUpdate. Once a [`StatusChecker`] is given
//! ([`TrustAnchors::set_status_checker`], OCSP in the service), the signer's certificate must
//! also be shown unrevoked by it: a certificate must pass every configured source.

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

#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum TrustError {
    #[error("the certificate cannot be parsed: {0}")]
    Malformed(String),
    #[error("the signer's certificate is self-signed")]
    SelfSigned,
    #[error("the signer's certificate does not allow digital signatures (key usage)")]
    KeyUsage,
    #[error("the signer's certificate does not chain to a trust anchor at the signing time: {0}")]
    Chain(webpki::Error),
    #[error("the signer's certificate or an issuing CA is revoked{0}")]
    Revoked(RevokedBy),
    #[error("the revocation status of the signer's certificate cannot be established: {0}")]
    RevocationUnknown(UnknownStatus),
    #[error("a certificate revocation list cannot be read: {0}")]
    Crl(String),
}

/// Who said a certificate is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokedBy {
    /// A certificate revocation list.
    Crl,
    /// An OCSP responder, and since when.
    Ocsp { since: SystemTime },
}

impl std::fmt::Display for RevokedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevokedBy::Crl => write!(f, " (CRL)"),
            RevokedBy::Ocsp { since } => write!(
                f,
                " (OCSP responder: since {})",
                sealpost_model::time::format_date_time(*since)
            ),
        }
    }
}

/// Why no source could show a certificate unrevoked.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum UnknownStatus {
    #[error("CRL: {0}")]
    Crl(webpki::Error),
    #[error("OCSP: {0}")]
    Ocsp(String),
}

/// A source of revocation status beyond the CRLs (OCSP in the service), asked about the
/// signer's certificate once its path is valid. It may do I/O: it runs on the caller's thread
/// and must not block an async runtime's worker without saying so to the runtime.
pub trait StatusChecker: Send + Sync + std::fmt::Debug {
    /// Whether `cert` (DER), issued by `issuer` (DER), is shown unrevoked at `at`: `Ok` with
    /// the time until which that answer holds; `Revoked`, or `RevocationUnknown` when the
    /// status cannot be established.
    fn check(&self, cert: &[u8], issuer: &[u8], at: SystemTime) -> Result<SystemTime, TrustError>;
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
    /// Counts the CRLs (and status checkers) given: a validation made under earlier ones is
    /// not remembered.
    crl_generation: Arc<AtomicU64>,
    /// The source of status asked about every signer once its path is valid, shared by the
    /// clones; `None`: only the CRLs (if any) are checked.
    status: Arc<RwLock<Option<Arc<dyn StatusChecker>>>>,
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
            status: Arc::default(),
        }
    }

    /// From now on, every signer whose path is valid must also be shown unrevoked by
    /// `checker` (for this store and its clones); a validation is remembered no longer than
    /// the checker's answer holds. Forgets every validation remembered before.
    pub fn set_status_checker(&self, checker: Arc<dyn StatusChecker>) {
        *self.status.write().unwrap_or_else(|p| p.into_inner()) = Some(checker);
        self.forget_validations();
    }

    /// Counted before the remembered validations are forgotten: one made before and
    /// remembered after this is refused by the count (see `validate`).
    fn forget_validations(&self) {
        self.crl_generation.fetch_add(1, Ordering::SeqCst);
        self.validated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
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
        self.forget_validations();
        Ok(())
    }

    /// Whether paths are checked for revocation (CRLs or a status checker).
    pub fn checks_revocation(&self) -> bool {
        self.crls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
            || self
                .status
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
                return Err(TrustError::RevocationUnknown(UnknownStatus::Crl(
                    webpki::Error::UnknownRevocationStatus,
                )));
            }
            Some(_) => Some(
                RevocationOptionsBuilder::new(&crl_refs)
                    .map_err(|_| {
                        TrustError::RevocationUnknown(UnknownStatus::Crl(
                            webpki::Error::UnknownRevocationStatus,
                        ))
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
            webpki::Error::CertRevoked => TrustError::Revoked(RevokedBy::Crl),
            webpki::Error::UnknownRevocationStatus
            | webpki::Error::CrlExpired { .. }
            | webpki::Error::InvalidCrlSignatureForPublicKey
            | webpki::Error::UnsupportedCrlSignatureAlgorithmContext(_)
            | webpki::Error::IssuerNotCrlSigner => {
                TrustError::RevocationUnknown(UnknownStatus::Crl(e))
            }
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
        // Every other source of status, about the signer (issued by the first intermediate of
        // the path, or by the anchor).
        let checker = self
            .status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(checker) = checker {
            let issuer = path
                .intermediate_certificates()
                .next()
                .map(|c| c.der().to_vec())
                .or_else(|| anchor_der.map(|a| a.to_vec()))
                .ok_or_else(|| {
                    TrustError::RevocationUnknown(UnknownStatus::Ocsp(
                        "the signer's issuer is not at hand".into(),
                    ))
                })?;
            until = until.min(checker.check(signer, &issuer, at)?);
        }
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
        assert_eq!(
            check(stolen.cert_der(), now),
            Err(TrustError::Revoked(RevokedBy::Crl))
        );
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

    /// A status source that answers as told, counting the questions.
    #[derive(Debug)]
    struct Told {
        answer: Mutex<Result<SystemTime, TrustError>>,
        asked: AtomicU64,
    }

    impl StatusChecker for Told {
        fn check(&self, _: &[u8], issuer: &[u8], _: SystemTime) -> Result<SystemTime, TrustError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            // The issuer handed over is the signer's issuing CA.
            let issuer = Certificate::from_der(issuer).expect("issuer");
            assert!(
                issuer
                    .tbs_certificate
                    .subject
                    .to_string()
                    .starts_with("CN=Issuing,")
            );
            self.answer.lock().expect("lock").clone()
        }
    }

    #[test]
    fn a_signer_must_pass_every_source_and_is_remembered_only_as_long_as_its_status_holds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR).expect("root");
        let ca = root
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca");
        let sender = ca
            .issue(&LeafSpec::new(
                "Sender",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("sender");
        let trust = TrustAnchors::new([root.cert_der().to_vec()])
            .with_intermediates([ca.cert_der().to_vec()]);
        let check = |at| trust.validate(sender.cert_der(), &[], at, Purpose::SenderApplication);
        // Remembered before any status source: forgotten when one is given.
        check(now).expect("valid");
        let minute = Duration::from_secs(60);
        let told = Arc::new(Told {
            answer: Mutex::new(Ok(now + minute)),
            asked: AtomicU64::new(0),
        });
        trust
            .clone()
            .set_status_checker(Arc::clone(&told) as Arc<dyn StatusChecker>);
        assert!(trust.checks_revocation());
        check(now).expect("shown unrevoked");
        check(now + Duration::from_secs(30)).expect("remembered");
        assert_eq!(told.asked.load(Ordering::SeqCst), 1);
        // Past the answer's validity: asked again, and refused when it says revoked.
        let since = now;
        *told.answer.lock().expect("lock") = Err(TrustError::Revoked(RevokedBy::Ocsp { since }));
        assert_eq!(
            check(now + 2 * minute),
            Err(TrustError::Revoked(RevokedBy::Ocsp { since }))
        );
        // Status unknown: refused, and never remembered.
        *told.answer.lock().expect("lock") = Err(TrustError::RevocationUnknown(
            UnknownStatus::Ocsp("the responder is unreachable".into()),
        ));
        for _ in 0..2 {
            assert!(matches!(
                check(now + 2 * minute),
                Err(TrustError::RevocationUnknown(UnknownStatus::Ocsp(_)))
            ));
        }
        assert_eq!(told.asked.load(Ordering::SeqCst), 4);
        // With CRLs too: a signer the status source vouches for, but a CRL revokes, is refused.
        *told.answer.lock().expect("lock") = Ok(now + YEAR);
        let day = Duration::from_secs(86_400);
        let crl = ca
            .crl(&[serial(sender.cert_der())], now, now + day, 1)
            .expect("crl");
        let root_crl = root.crl(&[], now, now + day, 1).expect("root crl");
        trust.set_crls(&[crl, root_crl.clone()]).expect("crls");
        assert_eq!(check(now), Err(TrustError::Revoked(RevokedBy::Crl)));
        let clean = ca.crl(&[], now, now + day, 2).expect("crl");
        trust.set_crls(&[clean, root_crl]).expect("crls");
        check(now).expect("every source agrees");
    }
}

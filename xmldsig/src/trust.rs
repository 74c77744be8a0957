//! Is a signer's certificate trusted? It must chain to a configured trust anchor, every
//! certificate valid at the signing time (not today), allow digital signatures, not be
//! self-signed (even when it is itself configured as an anchor), and, once certificate
//! revocation lists are given ([`TrustAnchors::set_crls`]), neither it nor its issuing CAs be
//! revoked: a certificate whose status no current CRL gives is refused, and so is every
//! certificate once the CRLs are past their nextUpdate. Once a [`StatusChecker`] is given
//! ([`TrustAnchors::set_status_checker`], OCSP in the service), the signer's certificate must
//! also be shown unrevoked by it, and once a source of the CRLs the certificates' distribution
//! points publish is given ([`TrustAnchors::set_crl_distribution_points`]), by those CRLs.
//!
//! The rule, for each certificate of the path below the trust anchor (the signer and its
//! issuing CAs): every source that speaks for it must show it unrevoked, and at least one
//! must speak for it. The CRL files speak for every one (once given, a certificate whose
//! issuer has no current CRL among them is refused); the distribution points for those that
//! name one (`http://`); the status checker for the signer, and for an issuing CA when it
//! says it can (OCSP: the CA names a responder). A certificate no source speaks for is
//! refused, never waved through.

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

use crate::published_crl::CrlDistributionPoints;

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
    /// No CRL of a distribution point the certificate names could be had.
    #[error("CRL distribution point: {0}")]
    DistributionPoint(String),
    /// No configured source speaks for a certificate of the path.
    #[error("{0}")]
    Uncovered(String),
}

/// A source of revocation status beyond the CRLs (OCSP in the service), asked about the
/// signer's certificate once its path is valid. It may do I/O: it runs on the caller's thread
/// and must not block an async runtime's worker without saying so to the runtime.
pub trait StatusChecker: Send + Sync + std::fmt::Debug {
    /// Whether `cert` (DER), issued by `issuer` (DER), is shown unrevoked at `at`: `Ok` with
    /// the time until which that answer holds; `Revoked`, or `RevocationUnknown` when the
    /// status cannot be established.
    fn check(&self, cert: &[u8], issuer: &[u8], at: SystemTime) -> Result<SystemTime, TrustError>;

    /// Whether it is also asked about `ca`, an issuing CA of a signer's path (DER): a source
    /// that can only speak for end-entity certificates says no (the default), and the CA must
    /// then be covered by a CRL.
    fn speaks_for_ca(&self, ca: &[u8]) -> bool {
        let _ = ca;
        false
    }
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
    validated: Arc<Mutex<HashMap<[u8; 32], Remembered>>>,
    /// The certificate revocation lists in force, shared by the clones (they are replaced as
    /// the operator publishes new ones); `None`: revocation is not checked.
    crls: Arc<RwLock<Option<Crls>>>,
    /// Counts the CRLs (and status checkers) given: a validation made under earlier ones is
    /// not remembered.
    crl_generation: Arc<AtomicU64>,
    /// The source of status asked about every signer once its path is valid, shared by the
    /// clones; `None`: only the CRLs (if any) are checked.
    status: Arc<RwLock<Option<Arc<dyn StatusChecker>>>>,
    /// The CRLs of the distribution points the certificates name, shared by the clones;
    /// `None`: not read.
    published: Arc<RwLock<Option<Arc<dyn CrlDistributionPoints>>>>,
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

/// A remembered validation: its window, and the generation of the distribution points' CRLs
/// it was made under (a new CRL fetched makes it be made again).
type Remembered = (ValidityWindow, u64);

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
            published: Arc::default(),
        }
    }

    /// From now on, every certificate of a path that names a CRL distribution point
    /// (`http://`) must also be shown unrevoked by the CRL `source` gives for it (for this
    /// store and its clones). Forgets every validation remembered before.
    pub fn set_crl_distribution_points(&self, source: Arc<dyn CrlDistributionPoints>) {
        *self.published.write().unwrap_or_else(|p| p.into_inner()) = Some(source);
        self.forget_validations();
    }

    fn published(&self) -> Option<Arc<dyn CrlDistributionPoints>> {
        self.published
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
            || self.published().is_some()
    }

    /// The same anchors and intermediates, without revocation checking and sharing nothing
    /// with this store: to ask whether a certificate chains at all.
    pub fn without_revocation(&self) -> TrustAnchors {
        TrustAnchors::new(self.anchors.iter().map(|a| a.to_vec()))
            .with_intermediates(self.intermediates.iter().map(|c| c.to_vec()))
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
        let published_generation = self.published().map_or(0, |p| p.generation());
        if cached.is_some_and(|((from, until), made_under)| {
            from <= at && at <= until && made_under == published_generation
        }) {
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
            validated.insert(cache_key, (window, published_generation));
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
        let verify = |revocation: Option<webpki::RevocationOptions<'_>>| match purpose {
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
        let path = verify(revocation).map_err(|e| match e {
            webpki::Error::CertRevoked => TrustError::Revoked(RevokedBy::Crl),
            e if is_crl_error(&e) => TrustError::RevocationUnknown(UnknownStatus::Crl(e)),
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
        // The certificates below the anchor, the signer first, and the issuer of each.
        let below: Vec<Vec<u8>> = std::iter::once(signer.to_vec())
            .chain(path.intermediate_certificates().map(|c| c.der().to_vec()))
            .collect();
        let issuers: Vec<Option<&[u8]>> = below[1..]
            .iter()
            .map(|c| Some(c.as_slice()))
            .chain(std::iter::once(anchor_der.map(|a| a.as_ref())))
            .collect();
        let parsed = below
            .iter()
            .map(|der| Certificate::from_der(der).map_err(|e| TrustError::Malformed(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        // Which certificates a source spoke for: the CRL files, once given, for every one.
        let mut covered = vec![crls.is_some(); below.len()];

        // The CRLs of the distribution points the certificates name, checked by webpki on the
        // same path. Unknown status is allowed there only for the certificates that name none
        // (the other sources must speak for those).
        let published = self.published();
        if let Some(source) = &published {
            let mut fetched = Vec::new();
            for (i, cert) in parsed.iter().enumerate() {
                let issuer = issuers[i]
                    .map(Certificate::from_der)
                    .transpose()
                    .map_err(|e| TrustError::Malformed(e.to_string()))?
                    .ok_or_else(|| {
                        TrustError::RevocationUnknown(UnknownStatus::DistributionPoint(
                            "the certificate's issuer is not at hand".into(),
                        ))
                    })?;
                if let Some(crl) = source.crl_for(cert, &issuer, at)? {
                    crl.speaks_for(cert, i > 0).map_err(|why| {
                        TrustError::RevocationUnknown(UnknownStatus::DistributionPoint(why))
                    })?;
                    until = until.min(crl.next_update);
                    covered[i] = true;
                    fetched.push(crl);
                }
            }
            if !fetched.is_empty() {
                let lists: Vec<&CertRevocationList<'static>> =
                    fetched.iter().map(|c| &c.list).collect();
                let options = RevocationOptionsBuilder::new(&lists)
                    .map_err(|_| {
                        TrustError::RevocationUnknown(UnknownStatus::Crl(
                            webpki::Error::UnknownRevocationStatus,
                        ))
                    })?
                    .with_depth(RevocationCheckDepth::Chain)
                    .with_status_policy(UnknownStatusPolicy::Allow)
                    .with_expiration_policy(ExpirationPolicy::Enforce)
                    .build();
                let urls = || {
                    fetched
                        .iter()
                        .map(|c| c.url.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let again = verify(Some(options)).map_err(|e| match e {
                    webpki::Error::CertRevoked => TrustError::Revoked(RevokedBy::Crl),
                    e if is_crl_error(&e) => TrustError::RevocationUnknown(
                        UnknownStatus::DistributionPoint(format!("the CRLs of {}: {e}", urls())),
                    ),
                    e => TrustError::Chain(e),
                })?;
                // The CRLs were fetched for the certificates of the first path: another path
                // would not be covered by them.
                if again
                    .intermediate_certificates()
                    .map(|c| c.der())
                    .ne(path.intermediate_certificates().map(|c| c.der()))
                {
                    return Err(TrustError::RevocationUnknown(
                        UnknownStatus::DistributionPoint(
                            "the path changed while its CRLs were checked".into(),
                        ),
                    ));
                }
            }
        }

        // Every other source of status: about the signer, and about each issuing CA it can
        // speak for, each with its issuer.
        let checker = self
            .status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(checker) = &checker {
            for (i, cert) in below.iter().enumerate() {
                if i > 0 && !checker.speaks_for_ca(cert) {
                    continue;
                }
                let issuer = issuers[i].ok_or_else(|| {
                    TrustError::RevocationUnknown(UnknownStatus::Ocsp(
                        "the certificate's issuer is not at hand".into(),
                    ))
                })?;
                until = until.min(checker.check(cert, issuer, at)?);
                covered[i] = true;
            }
        }
        let checked = crls.is_some() || checker.is_some() || published.is_some();
        if checked && let Some(i) = covered.iter().position(|c| !c) {
            let what = if i == 0 { "signer's" } else { "issuing CA" };
            return Err(TrustError::RevocationUnknown(UnknownStatus::Uncovered(
                format!(
                    "no configured source speaks for the {what} certificate {}: no CRL file covers it, and it names no CRL distribution point or OCSP responder that is read",
                    parsed[i].tbs_certificate.subject
                ),
            )));
        }

        let path_certs = below.into_iter().chain(anchor_der.map(|a| a.to_vec()));
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

/// Whether webpki's error is about the revocation status (a CRL), not the path.
fn is_crl_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::UnknownRevocationStatus
            | webpki::Error::CrlExpired { .. }
            | webpki::Error::InvalidCrlSignatureForPublicKey
            | webpki::Error::UnsupportedCrlSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_)
            | webpki::Error::IssuerNotCrlSigner
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::published_crl::PublishedCrl;
    use sealpost_pki::{Authority, Credential, KeyAlgorithm, LeafSpec, Profile, Published};

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

    /// A status source that answers as told, counting the questions; it speaks for the
    /// issuing CAs too when `for_cas`, answering `ca_answer` about them.
    #[derive(Debug)]
    struct Told {
        answer: Mutex<Result<SystemTime, TrustError>>,
        asked: AtomicU64,
        for_cas: bool,
        ca_answer: Mutex<Result<SystemTime, TrustError>>,
    }

    impl Told {
        fn new(answer: Result<SystemTime, TrustError>, for_cas: bool) -> Self {
            Told {
                ca_answer: Mutex::new(answer.clone()),
                answer: Mutex::new(answer),
                asked: AtomicU64::new(0),
                for_cas,
            }
        }
    }

    fn common_name(der: &[u8]) -> String {
        Certificate::from_der(der)
            .expect("certificate")
            .tbs_certificate
            .subject
            .to_string()
    }

    impl StatusChecker for Told {
        fn check(
            &self,
            cert: &[u8],
            issuer: &[u8],
            _: SystemTime,
        ) -> Result<SystemTime, TrustError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            // The issuer handed over is the certificate's own: the issuing CA for the
            // signer, the root for the issuing CA.
            if common_name(cert).starts_with("CN=Issuing,") {
                assert!(common_name(issuer).starts_with("CN=Root,"));
                return self.ca_answer.lock().expect("lock").clone();
            }
            assert!(common_name(issuer).starts_with("CN=Issuing,"));
            self.answer.lock().expect("lock").clone()
        }

        fn speaks_for_ca(&self, _: &[u8]) -> bool {
            self.for_cas
        }
    }

    /// A root, its issuing CA and a sender of that CA at a fixed time, and the senders'
    /// trust store (the root, the CA as intermediate).
    fn sender_pki() -> (SystemTime, Authority, Authority, Credential, TrustAnchors) {
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
        (now, root, ca, sender, trust)
    }

    #[test]
    fn a_signer_must_pass_every_source_and_is_remembered_only_as_long_as_its_status_holds() {
        let (now, root, ca, sender, trust) = sender_pki();
        let check = |at| trust.validate(sender.cert_der(), &[], at, Purpose::SenderApplication);
        // Remembered before any status source: forgotten when one is given.
        check(now).expect("valid");
        let minute = Duration::from_secs(60);
        // A source that speaks for the signer only: the issuing CA is covered by nothing.
        trust.set_status_checker(Arc::new(Told::new(Ok(now + minute), false)));
        assert!(trust.checks_revocation());
        match check(now) {
            Err(TrustError::RevocationUnknown(UnknownStatus::Uncovered(why))) => {
                assert!(why.contains("issuing CA certificate CN=Issuing"), "{why}")
            }
            other => panic!("an uncovered CA let through: {other:?}"),
        }
        let told = Arc::new(Told::new(Ok(now + minute), false));
        trust
            .clone()
            .set_status_checker(Arc::clone(&told) as Arc<dyn StatusChecker>);
        // The root's CRL covers the issuing CA; a CRL of the issuing CA must then be there too
        // (the files speak for every certificate).
        let day = Duration::from_secs(86_400);
        let root_crl = root.crl(&[], now, now + YEAR, 1).expect("root crl");
        let ca_crl = ca.crl(&[], now, now + YEAR, 1).expect("crl");
        trust.set_crls(&[root_crl.clone(), ca_crl]).expect("crls");
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
        let crl = ca
            .crl(&[serial(sender.cert_der())], now, now + day, 1)
            .expect("crl");
        trust.set_crls(&[crl, root_crl.clone()]).expect("crls");
        assert_eq!(check(now), Err(TrustError::Revoked(RevokedBy::Crl)));
        let clean = ca.crl(&[], now, now + day, 2).expect("crl");
        trust.set_crls(&[clean, root_crl]).expect("crls");
        check(now).expect("every source agrees");
    }

    #[test]
    fn an_issuing_ca_is_asked_about_when_the_source_speaks_for_it_and_refused_when_revoked() {
        let (now, _, _, sender, trust) = sender_pki();
        let told = Arc::new(Told::new(Ok(now + YEAR), true));
        trust.set_status_checker(Arc::clone(&told) as Arc<dyn StatusChecker>);
        trust
            .validate(sender.cert_der(), &[], now, Purpose::SenderApplication)
            .expect("both shown unrevoked");
        assert_eq!(
            told.asked.load(Ordering::SeqCst),
            2,
            "the signer and its CA"
        );
        // The CA revoked at its issuer's responder: its leaves are refused.
        let since = now;
        *told.ca_answer.lock().expect("lock") = Err(TrustError::Revoked(RevokedBy::Ocsp { since }));
        trust.forget_validations();
        assert_eq!(
            trust.validate(sender.cert_der(), &[], now, Purpose::SenderApplication),
            Err(TrustError::Revoked(RevokedBy::Ocsp { since }))
        );
    }

    /// Distribution points whose CRLs are given, each served at an address.
    #[derive(Debug, Default)]
    struct Served {
        crls: Mutex<HashMap<String, Arc<PublishedCrl>>>,
        generation: AtomicU64,
        /// The addresses asked for.
        asked: Mutex<Vec<String>>,
    }

    impl Served {
        fn publish(&self, url: &str, der: Vec<u8>) {
            let crl = PublishedCrl::parse(url, der).expect("crl");
            self.crls
                .lock()
                .expect("lock")
                .insert(url.to_owned(), Arc::new(crl));
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl CrlDistributionPoints for Served {
        fn crl_for(
            &self,
            cert: &Certificate,
            _: &Certificate,
            _: SystemTime,
        ) -> Result<Option<Arc<PublishedCrl>>, TrustError> {
            let Some(url) = crate::published_crl::crl_urls(cert).into_iter().next() else {
                return Ok(None);
            };
            self.asked.lock().expect("lock").push(url.clone());
            self.crls
                .lock()
                .expect("lock")
                .get(&url)
                .cloned()
                .map(Some)
                .ok_or_else(|| {
                    TrustError::RevocationUnknown(UnknownStatus::DistributionPoint(format!(
                        "{url} cannot be reached"
                    )))
                })
        }

        fn generation(&self) -> u64 {
            self.generation.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn a_certificate_of_no_trusted_ca_never_makes_the_service_fetch_its_distribution_point() {
        // What the attacker wanted: make the service fetch an address of its choosing (a
        // host inside the operator's network) by presenting a certificate naming it.
        let (now, _, _, _, trust) = sender_pki();
        let served = Arc::new(Served::default());
        trust.set_crl_distribution_points(Arc::clone(&served) as Arc<dyn CrlDistributionPoints>);
        let stranger = Authority::root("Root", now - YEAR, now + 10 * YEAR)
            .expect("root")
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca")
            .publishing(Published::under("http://10.0.0.1/internal"));
        let forged = stranger
            .issue(&LeafSpec::new(
                "Sender",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("forged");
        assert!(
            trust
                .validate(
                    forged.cert_der(),
                    &[stranger.cert_der().to_vec()],
                    now,
                    Purpose::SenderApplication
                )
                .is_err()
        );
        assert!(
            served.asked.lock().expect("lock").is_empty(),
            "fetched for an untrusted chain"
        );
    }

    #[test]
    fn the_crls_of_the_distribution_points_revoke_the_signer_or_its_ca_and_must_be_had() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (root_url, ca_url) = (
            "http://pki.example/root-ca.crl",
            "http://pki.example/issuing-ca.crl",
        );
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR)
            .expect("root")
            .publishing(Published::root_under("http://pki.example"));
        let ca = root
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca")
            .publishing(Published::under("http://pki.example"));
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
        let check = || trust.validate(sender.cert_der(), &[], now, Purpose::SenderApplication);
        let served = Arc::new(Served::default());
        trust.set_crl_distribution_points(Arc::clone(&served) as Arc<dyn CrlDistributionPoints>);
        assert!(trust.checks_revocation());
        // Nothing published yet: not let through.
        assert!(matches!(
            check(),
            Err(TrustError::RevocationUnknown(
                UnknownStatus::DistributionPoint(_)
            ))
        ));
        let week = Duration::from_secs(7 * 86_400);
        served.publish(root_url, root.crl(&[], now, now + week, 1).expect("crl"));
        served.publish(ca_url, ca.crl(&[], now, now + week, 1).expect("crl"));
        check().expect("both shown unrevoked");
        // A new CRL at the issuing CA's address revokes the signer: the validation remembered
        // under the old one is made again.
        served.publish(
            ca_url,
            ca.crl(&[serial(sender.cert_der())], now, now + week, 2)
                .expect("crl"),
        );
        assert_eq!(check(), Err(TrustError::Revoked(RevokedBy::Crl)));
        // The issuing CA revoked in the root's CRL: its leaves are refused.
        served.publish(ca_url, ca.crl(&[], now, now + week, 3).expect("crl"));
        check().expect("unrevoked again");
        served.publish(
            root_url,
            root.crl(&[serial(ca.cert_der())], now, now + week, 2)
                .expect("crl"),
        );
        assert_eq!(check(), Err(TrustError::Revoked(RevokedBy::Crl)));
        served.publish(root_url, root.crl(&[], now, now + week, 3).expect("crl"));
        // A list signed by another key under the issuing CA's name: not believed.
        let impostor = Authority::root("Issuing", now - YEAR, now + YEAR).expect("impostor");
        served.publish(ca_url, impostor.crl(&[], now, now + week, 4).expect("crl"));
        assert!(matches!(
            check(),
            Err(TrustError::RevocationUnknown(
                UnknownStatus::DistributionPoint(_)
            ))
        ));
        // The root's list served at the issuing CA's address: about another issuer.
        served.publish(ca_url, root.crl(&[], now, now + week, 4).expect("crl"));
        assert!(matches!(
            check(),
            Err(TrustError::RevocationUnknown(
                UnknownStatus::DistributionPoint(_)
            ))
        ));
        // With CRL files too, every source must agree: clean files, a revoking distribution
        // point, refused; and the reverse.
        served.publish(
            ca_url,
            ca.crl(&[serial(sender.cert_der())], now, now + week, 5)
                .expect("crl"),
        );
        let clean = [
            ca.crl(&[], now, now + week, 5).expect("crl"),
            root.crl(&[], now, now + week, 5).expect("crl"),
        ];
        trust.set_crls(&clean).expect("crls");
        assert_eq!(check(), Err(TrustError::Revoked(RevokedBy::Crl)));
        served.publish(ca_url, ca.crl(&[], now, now + week, 6).expect("crl"));
        check().expect("every source agrees");
        trust
            .set_crls(&[
                ca.crl(&[serial(sender.cert_der())], now, now + week, 7)
                    .expect("crl"),
                root.crl(&[], now, now + week, 7).expect("crl"),
            ])
            .expect("crls");
        assert_eq!(check(), Err(TrustError::Revoked(RevokedBy::Crl)));
    }
}

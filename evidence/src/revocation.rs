//! Whether a certificate was revoked at a given time, decided offline from the validation data
//! an evidence carries (its CRLs and OCSP responses), years later.
//!
//! A piece of data speaks for a time `at` when (the default of ETSI EN 319 102-1 §5.2.5, the
//! freshness being nextUpdate − thisUpdate):
//! - it was issued at or after `at` (a later "good" means not revoked then: revocation is
//!   never undone), or
//! - `at` lies between its thisUpdate and its nextUpdate, or, without a nextUpdate, within
//!   [`crate::verify::TIME_TOLERANCE`] after its thisUpdate;
//! - and it was issued while the certificate was still valid (a CA drops expired certificates
//!   from its CRLs, so a later absence means nothing).
//!
//! Each CRL must be the issuer's (its signature under the issuer's key, the issuer's name), a
//! complete CRL (no delta, no partition, no unknown critical extension); each OCSP response
//! must be signed by the issuer or a responder it delegated ([`ocsp::verify_archived_response`]).
//! Data that is not is ignored: it decides nothing.
//!
//! Any data saying the certificate was revoked at or before `at` wins: [`Standing::Revoked`];
//! then data saying it was revoked after `at` ([`Standing::RevokedAfter`]).

use std::time::SystemTime;

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use sealpost_xmldsig::dsig::PublicKey;
use sealpost_xmldsig::ocsp::{self, Status, verify_archived_response};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

use crate::verify::TIME_TOLERANCE;

/// The validation data of an evidence, decoded.
#[derive(Clone, Debug, Default)]
pub(crate) struct Values {
    pub(crate) certificates: Vec<Vec<u8>>,
    /// The CRLs that read as DER (one that does not decides nothing), with their signed part.
    crls: Vec<(CertificateList, Vec<u8>)>,
    pub(crate) ocsp_responses: Vec<Vec<u8>>,
    /// The signatures a verifier already checked (shared across the evidences it verifies).
    pub(crate) memo: SignatureMemo,
    any_crl: bool,
}

/// Signatures (of CRLs, of certificates by their issuers) that verified, remembered by the
/// SHA-256 of key, message and signature: an auditor's sweep over many evidences carrying the
/// same CRLs and chains checks each once. Only successes are remembered; at most
/// [`SignatureMemo::CAPACITY`], then it starts over.
#[derive(Clone, Debug, Default)]
pub(crate) struct SignatureMemo(
    std::sync::Arc<std::sync::Mutex<std::collections::HashSet<[u8; 32]>>>,
);

impl SignatureMemo {
    const CAPACITY: usize = 10_000;

    /// Whether `signature` over `message` verifies under `signer`'s key with `algorithm`.
    fn verifies(
        &self,
        signer: &Certificate,
        algorithm: sealpost_xmldsig::dsig::SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let spki = signer
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap_or_default();
        let mut key = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in [spki.as_slice(), message, signature] {
            key.update(&(part.len() as u64).to_be_bytes());
            key.update(part);
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(key.finish().as_ref());
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(&id) {
            return true;
        }
        let ok = PublicKey::from_parsed_certificate(signer)
            .is_ok_and(|k| k.verify_asn1(algorithm, message, signature).is_ok());
        if ok {
            if seen.len() >= Self::CAPACITY {
                seen.clear();
            }
            seen.insert(id);
        }
        ok
    }
}

impl Values {
    /// Values that remember their signatures in `memo`.
    pub(crate) fn with_memo(memo: SignatureMemo) -> Self {
        Values {
            memo,
            ..Values::default()
        }
    }

    /// No revocation data at all (a CRL that does not read counts: it was there).
    pub(crate) fn is_empty(&self) -> bool {
        !self.any_crl && self.ocsp_responses.is_empty()
    }

    /// A CRL of the evidence, read once for every certificate it may speak for.
    pub(crate) fn add_crl(&mut self, der: &[u8]) {
        self.any_crl = true;
        if let Ok(list) = CertificateList::from_der(der)
            && let Ok(tbs) = list.tbs_cert_list.to_der()
        {
            self.crls.push((list, tbs));
        }
    }
}

/// What the data says of a certificate at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Not revoked then: so says `source`, issued at `issued`.
    Good { issued: SystemTime, source: String },
    /// Revoked, but after the time.
    RevokedAfter(SystemTime),
    /// Revoked at or before the time.
    Revoked(SystemTime),
    /// Nothing in the data decides it.
    Unknown,
}

const DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
const ISSUING_DISTRIBUTION_POINT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.28");
/// The extensions of a complete CRL a reader may meet: CRL number, authority key identifier.
const KNOWN_CRL_EXTENSIONS: [ObjectIdentifier; 2] = [
    ObjectIdentifier::new_unwrap("2.5.29.20"),
    ObjectIdentifier::new_unwrap("2.5.29.35"),
];

/// Whether data issued at `this_update`, current until `next_update`, speaks for `at` about a
/// certificate valid until `not_after` (the module's rule).
fn speaks_for(
    this_update: SystemTime,
    next_update: Option<SystemTime>,
    at: SystemTime,
    not_after: SystemTime,
) -> bool {
    if this_update > not_after {
        return false;
    }
    let until = next_update.unwrap_or(this_update + TIME_TOLERANCE);
    this_update >= at || at <= until
}

/// What the data says of `cert_der`, issued by `issuer_der`, at `at`.
pub(crate) fn standing(
    cert_der: &[u8],
    issuer_der: &[u8],
    at: SystemTime,
    values: &Values,
) -> Standing {
    let (Ok(cert), Ok(issuer)) = (
        Certificate::from_der(cert_der),
        Certificate::from_der(issuer_der),
    ) else {
        return Standing::Unknown;
    };
    let not_after = cert.tbs_certificate.validity.not_after.to_system_time();
    let mut found = Vec::new();
    for response in &values.ocsp_responses {
        let Ok(answer) = verify_archived_response(response, cert_der, issuer_der) else {
            continue;
        };
        match answer.status {
            Status::Revoked { since } if since <= at => found.push(Standing::Revoked(since)),
            Status::Revoked { since } => found.push(Standing::RevokedAfter(since)),
            Status::Good if speaks_for(answer.this_update, answer.next_update, at, not_after) => {
                found.push(Standing::Good {
                    issued: answer.this_update,
                    source: "an OCSP response".into(),
                });
            }
            Status::Good | Status::Unknown => {}
        }
    }
    for crl in &values.crls {
        match crl_standing(crl, &cert, &issuer, at, not_after, &values.memo) {
            Some(s) => found.push(s),
            None => continue,
        }
    }
    // Revoked before wins; then revoked after (not revoked then either, and a court wants
    // to know); then good; else unknown.
    let rank = |s: &Standing| match s {
        Standing::Revoked(_) => 0,
        Standing::RevokedAfter(_) => 1,
        Standing::Good { .. } => 2,
        Standing::Unknown => 3,
    };
    found
        .into_iter()
        .min_by_key(rank)
        .unwrap_or(Standing::Unknown)
}

/// What one CRL says, when it is the issuer's complete CRL.
fn crl_standing(
    (crl, tbs_der): &(CertificateList, Vec<u8>),
    cert: &Certificate,
    issuer: &Certificate,
    at: SystemTime,
    not_after: SystemTime,
    memo: &SignatureMemo,
) -> Option<Standing> {
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != issuer.tbs_certificate.subject || cert.tbs_certificate.issuer != tbs.issuer {
        return None;
    }
    // A complete CRL: no delta, no partition, nothing critical it does not know.
    for e in tbs.crl_extensions.iter().flatten() {
        if e.extn_id == DELTA_CRL_INDICATOR || e.extn_id == ISSUING_DISTRIBUTION_POINT {
            return None;
        }
        if e.critical && !KNOWN_CRL_EXTENSIONS.contains(&e.extn_id) {
            return None;
        }
    }
    let algorithm = ocsp::signature_algorithm(&crl.signature_algorithm).ok()?;
    if !memo.verifies(issuer, algorithm, tbs_der, crl.signature.as_bytes()?) {
        return None;
    }
    let this_update = tbs.this_update.to_system_time();
    let next_update = tbs.next_update.map(|t| t.to_system_time());
    let serial = &cert.tbs_certificate.serial_number;
    if let Some(entry) = tbs
        .revoked_certificates
        .iter()
        .flatten()
        .find(|r| r.serial_number == *serial)
    {
        let since = entry.revocation_date.to_system_time();
        return Some(if since <= at {
            Standing::Revoked(since)
        } else {
            Standing::RevokedAfter(since)
        });
    }
    speaks_for(this_update, next_update, at, not_after).then(|| Standing::Good {
        issued: this_update,
        source: "a CRL".into(),
    })
}

/// The issuer of `cert_der` among `candidates`: the certificate named as its issuer whose key
/// verifies its signature.
pub(crate) fn issuer_of<'c>(
    cert_der: &[u8],
    candidates: &[&'c [u8]],
    memo: &SignatureMemo,
) -> Option<&'c [u8]> {
    let cert = Certificate::from_der(cert_der).ok()?;
    let tbs = cert.tbs_certificate.to_der().ok()?;
    let algorithm = ocsp::signature_algorithm(&cert.signature_algorithm).ok()?;
    let signature = cert.signature.as_bytes()?;
    candidates.iter().copied().find(|c| {
        Certificate::from_der(c).is_ok_and(|issuer| {
            issuer.tbs_certificate.subject == cert.tbs_certificate.issuer
                && memo.verifies(&issuer, algorithm, &tbs, signature)
        })
    })
}

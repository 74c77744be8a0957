//! Verifying time-stamp tokens, offline, with the token's own time as the validation time.
//!
//! The steps, in order (each failure names its step):
//! 1. The token is a CMS SignedData (version 3) with TSTInfo content (version 1) and exactly one
//!    SignerInfo, whose version fits its identifier and whose digest algorithm is listed.
//! 2. The message imprint is SHA-256, SHA-384 or SHA-512 and equals the expected digest; the
//!    nonce and policy equal the request's when the request had them.
//! 3. The signer's certificate is found (in the token or among the supplied certificates) by
//!    the SignerInfo's identifier.
//! 4. The signed attributes hold contentType id-ct-TSTInfo and a messageDigest equal to the
//!    digest of the TSTInfo.
//! 5. The signing-certificate attribute (ESSCertIDv2, or ESSCertID v1) names that certificate,
//!    by hash and, when present, by issuer and serial number.
//! 6. The signature over the signed attributes verifies with the certificate's key.
//! 7. The certificate's only extended key usage is id-kp-timeStamping, critical; it is not
//!    self-signed.
//! 8. The certificate chains to one of the trust anchors, every certificate of the path valid at
//!    genTime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lc_rs::{digest, signature};
use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode, Tag, TagNumber, Tagged};
use rustls_pki_types::{CertificateDer, UnixTime};
use spki::AlgorithmIdentifierRef;
use x509_cert::Certificate;

use crate::asn1::{
    Attribute, ContentInfo, IssuerAndSerialNumber, IssuerSerial, SignedData, SignerInfo,
    SigningCertificate, SigningCertificateV2, TimeStampReq, TimeStampResp, TstInfo, element_tlvs,
    oid, status,
};
use crate::issue::{ACCEPTED_HASH_ALGORITHMS, FailureInfo, general_names_directory};
use crate::signer::{EkuProblem, check_time_stamping_eku};

/// id-kp-timeStamping, the OID's content octets (what webpki matches on).
const KP_TIME_STAMPING_VALUE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// The overall result class of a failed verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The token is proven wrong: tampered, mismatched, signed by an unfit certificate.
    Invalid,
    /// The token cannot be judged with what was given (unknown root, missing certificate,
    /// unsupported algorithm).
    Indeterminate,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("step 1: the token is malformed: {0}")]
    Malformed(String),
    #[error("step 1: the TSA refused the request ({}): {text}", failure.map_or("no failure info", FailureInfo::name))]
    Rejected {
        failure: Option<FailureInfo>,
        text: String,
    },
    #[error("step 2: the message imprint uses {0}, which is not accepted")]
    ImprintAlgorithm(ObjectIdentifier),
    #[error("step 2: the message imprint does not match the expected digest")]
    ImprintMismatch,
    #[error("step 2: the nonce does not match the request's")]
    NonceMismatch,
    #[error("step 2: the policy {found} is not the requested {requested}")]
    PolicyMismatch {
        requested: ObjectIdentifier,
        found: ObjectIdentifier,
    },
    #[error("step 3: the signer's certificate is neither in the token nor among the supplied ones")]
    SignerCertificateNotFound,
    #[error("step 3: the request asked for the TSA certificate, and the token does not include it")]
    CertificateNotReturned,
    #[error("step 4: {0}")]
    SignedAttributes(&'static str),
    #[error("step 4: the messageDigest attribute does not match the TSTInfo")]
    MessageDigestMismatch,
    #[error("step 5: {0}")]
    SigningCertificate(&'static str),
    #[error("step 6: unsupported or weak signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("step 6: the signature does not verify")]
    BadSignature,
    #[error("step 7: the signer's certificate is unfit for time-stamping: {0}")]
    UnfitCertificate(EkuProblem),
    #[error("step 7: the signer's certificate is self-signed")]
    SelfSigned,
    #[error("step 8: the signer's certificate does not chain to a trust anchor at genTime: {0}")]
    Chain(webpki::Error),
}

impl VerifyError {
    pub fn verdict(&self) -> Verdict {
        match self {
            VerifyError::SignerCertificateNotFound | VerifyError::UnsupportedAlgorithm(_) => {
                Verdict::Indeterminate
            }
            // No chain to the given anchors could be built (ETSI EN 319 102-1:
            // NO_CERTIFICATE_CHAIN_FOUND): an issuer nobody named, or an anchor with the
            // right name and another key. Not proof of forgery: another root may be the one.
            VerifyError::Chain(
                webpki::Error::UnknownIssuer
                | webpki::Error::InvalidSignatureForPublicKey
                | webpki::Error::UnsupportedSignatureAlgorithmContext(_)
                | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_),
            ) => Verdict::Indeterminate,
            _ => Verdict::Invalid,
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Malformed(e.to_string())
}

/// What the token must say: the imprint, and the nonce and policy when the request had them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub hash_algorithm: ObjectIdentifier,
    pub digest: Vec<u8>,
    /// The nonce INTEGER's content octets.
    pub nonce: Option<Vec<u8>>,
    pub policy: Option<ObjectIdentifier>,
    /// Whether the request asked for the TSA certificate.
    pub cert_req: bool,
}

impl Expected {
    /// A token over this digest, whatever its nonce and policy.
    pub fn digest(hash_algorithm: ObjectIdentifier, digest: &[u8]) -> Self {
        Expected {
            hash_algorithm,
            digest: digest.to_vec(),
            nonce: None,
            policy: None,
            cert_req: false,
        }
    }

    /// A token over these bytes hashed with SHA-256.
    pub fn sha256_of(data: &[u8]) -> Self {
        Self::digest(oid::SHA256, digest::digest(&digest::SHA256, data).as_ref())
    }

    /// What a token answering this request must say.
    pub fn from_request(request_der: &[u8]) -> Result<Self, VerifyError> {
        let req = TimeStampReq::from_der(request_der).map_err(malformed)?;
        Ok(Expected {
            hash_algorithm: req.message_imprint.hash_algorithm.oid,
            digest: req.message_imprint.hashed_message.as_bytes().to_vec(),
            nonce: req.nonce.map(|n| n.as_bytes().to_vec()),
            policy: req.req_policy,
            cert_req: req.cert_req,
        })
    }
}

/// Trust anchors, and other certificates that may help build a path (never trusted by
/// themselves).
///
/// Successful path validations are remembered per (signer, candidate certificates) with the
/// window in which every certificate of the path is valid: another token from the same TSA
/// certificate, with a genTime inside that window, needs no new path validation. The anchors
/// and certificates of a `TrustStore` never change once it is shared (`with_certificates`
/// takes it by value and starts a new memory). Failures are never remembered.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    anchors: Vec<CertificateDer<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    validated: Arc<Mutex<HashMap<[u8; 32], ValidatedPath>>>,
}

/// A verified path (signer first, anchor last) and from when until when all of it is valid.
#[derive(Clone, Debug)]
struct ValidatedPath {
    path: Vec<Vec<u8>>,
    from: SystemTime,
    until: SystemTime,
}

/// How many validations are remembered; the memory starts afresh when full.
const VALIDATED_CAPACITY: usize = 10_000;

impl TrustStore {
    pub fn new(anchors: impl IntoIterator<Item = Vec<u8>>) -> Self {
        TrustStore {
            anchors: anchors.into_iter().map(CertificateDer::from).collect(),
            intermediates: Vec::new(),
            validated: Arc::default(),
        }
    }

    /// Certificates that may be used to find the signer or build the path, such as the TSA
    /// certificate when the token does not carry it.
    pub fn with_certificates(mut self, certs: impl IntoIterator<Item = Vec<u8>>) -> Self {
        self.intermediates
            .extend(certs.into_iter().map(CertificateDer::from));
        self.validated = Arc::default();
        self
    }

    fn remembered(&self, key: &[u8; 32], at: SystemTime) -> Option<Vec<Vec<u8>>> {
        let validated = self.validated.lock().unwrap_or_else(|p| p.into_inner());
        validated
            .get(key)
            .filter(|v| v.from <= at && at <= v.until)
            .map(|v| v.path.clone())
    }

    fn remember(&self, key: [u8; 32], path: &[Vec<u8>]) {
        let mut from = SystemTime::UNIX_EPOCH;
        let mut until = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 4);
        for der in path {
            let Ok(cert) = Certificate::from_der(der) else {
                return;
            };
            let validity = &cert.tbs_certificate.validity;
            from = from.max(validity.not_before.to_system_time());
            until = until.min(validity.not_after.to_system_time());
        }
        let mut validated = self.validated.lock().unwrap_or_else(|p| p.into_inner());
        if validated.len() >= VALIDATED_CAPACITY {
            validated.clear();
        }
        validated.insert(
            key,
            ValidatedPath {
                path: path.to_vec(),
                from,
                until,
            },
        );
    }
}

/// What a path validation depends on besides the time: the signer and the certificates
/// offered to complete its path.
fn path_key(signer: &[u8], candidates: &[&[u8]]) -> [u8; 32] {
    let mut key = digest::Context::new(&digest::SHA256);
    for cert in std::iter::once(signer).chain(candidates.iter().copied()) {
        key.update(&(cert.len() as u64).to_be_bytes());
        key.update(cert);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(key.finish().as_ref());
    out
}

/// A token that verified, and what it says.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    pub gen_time: SystemTime,
    pub accuracy: Option<Duration>,
    /// The serial number's INTEGER content octets.
    pub serial: Vec<u8>,
    pub policy: ObjectIdentifier,
    pub hash_algorithm: ObjectIdentifier,
    pub digest: Vec<u8>,
    pub nonce: Option<Vec<u8>>,
    /// The signer's certificate, then the rest of the verified path up to and including the
    /// trust anchor.
    pub path: Vec<Vec<u8>>,
    /// The signer's subject, as an RFC 4514 string.
    pub signer: String,
}

/// Verifies a `TimeStampResp` answering `request_der`: status granted, and the token valid for
/// the request (imprint, nonce, policy, and the certificate when it was asked for).
pub fn verify_response(
    response_der: &[u8],
    request_der: &[u8],
    trust: &TrustStore,
) -> Result<VerifiedToken, VerifyError> {
    let expected = Expected::from_request(request_der)?;
    let token = granted_token(response_der)?;
    verify_token(token, &expected, trust)
}

/// The token of a granted response; a rejection is an error that carries the TSA's reason.
pub fn granted_token(response_der: &[u8]) -> Result<&[u8], VerifyError> {
    let resp = TimeStampResp::from_der(response_der).map_err(malformed)?;
    let granted = matches!(
        resp.status.status,
        status::GRANTED | status::GRANTED_WITH_MODS
    );
    match resp.time_stamp_token {
        // The token is the response SEQUENCE's second element: its bytes, as received.
        Some(_) if granted => AnyRef::from_der(response_der)
            .map_err(malformed)
            .and_then(|seq| {
                element_tlvs(seq.value())
                    .nth(1)
                    .ok_or_else(|| malformed("no token"))?
                    .map_err(malformed)
            }),
        _ => Err(VerifyError::Rejected {
            failure: resp
                .status
                .fail_info
                .as_ref()
                .and_then(FailureInfo::from_bit_string),
            text: resp
                .status
                .status_string
                .unwrap_or_default()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

/// What a token says of itself, read without verifying it: the certificates it carries, its
/// signer's certificate among them (when it carries it), the hash of its message imprint, its
/// time and accuracy.
/// For scheduling and for gathering validation data only: nothing read here is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnverifiedToken {
    pub certificates: Vec<Vec<u8>>,
    pub signer: Option<Vec<u8>>,
    pub hash_algorithm: ObjectIdentifier,
    pub gen_time: SystemTime,
    pub accuracy: Option<Duration>,
}

/// The parts of a token read whole (step 1 of [`verify_token`]): a SignedData carrying a
/// version 1 TSTInfo (its DER too: what the signature's message digest is over) and exactly
/// one SignerInfo.
struct TokenParts<'a> {
    signed_data: SignedData<'a>,
    tst_der: &'a [u8],
    tst: TstInfo<'a>,
    signer_info: SignerInfo<'a>,
}

fn token_parts(token_der: &[u8]) -> Result<TokenParts<'_>, VerifyError> {
    let content_info = ContentInfo::from_der(token_der).map_err(malformed)?;
    if content_info.content_type != oid::SIGNED_DATA {
        return Err(malformed("the content is not SignedData"));
    }
    let signed_data: SignedData<'_> = content_info.content.decode_as().map_err(malformed)?;
    if signed_data.encap_content_info.e_content_type != oid::CT_TST_INFO {
        return Err(malformed("the encapsulated content is not a TSTInfo"));
    }
    let tst_der = signed_data
        .encap_content_info
        .e_content
        .ok_or_else(|| malformed("the TSTInfo is detached"))?
        .as_bytes();
    let tst = TstInfo::from_der(tst_der).map_err(malformed)?;
    if tst.version != 1 {
        return Err(malformed(format!("TSTInfo version {}", tst.version)));
    }
    let mut signer_infos = signed_data.signer_infos.elements();
    let signer_info: SignerInfo<'_> = signer_infos
        .next()
        .ok_or_else(|| malformed("no SignerInfo"))?
        .and_then(|any| any.decode_as())
        .map_err(malformed)?;
    if signer_infos.next().is_some() {
        return Err(malformed("more than one SignerInfo"));
    }
    Ok(TokenParts {
        signed_data,
        tst_der,
        tst,
        signer_info,
    })
}

/// The certificates a token carries.
fn token_certificates<'a>(signed_data: &SignedData<'a>) -> Result<Vec<&'a [u8]>, VerifyError> {
    match &signed_data.certificates {
        Some(set) => set
            .element_bytes()
            .collect::<Result<_, _>>()
            .map_err(malformed),
        None => Ok(Vec::new()),
    }
}

/// Reads a token (a DER CMS ContentInfo) as [`UnverifiedToken`].
pub fn read_unverified(token_der: &[u8]) -> Result<UnverifiedToken, VerifyError> {
    let TokenParts {
        signed_data,
        tst,
        signer_info,
        ..
    } = token_parts(token_der)?;
    let certificates = token_certificates(&signed_data)?;
    let signer = find_signer(&signer_info.sid, &certificates)
        .ok()
        .map(|(der, _)| der.to_vec());
    Ok(UnverifiedToken {
        certificates: certificates.iter().map(|c| c.to_vec()).collect(),
        signer,
        hash_algorithm: tst.message_imprint.hash_algorithm.oid,
        gen_time: tst.gen_time.to_system_time(),
        accuracy: tst.accuracy.map(|a| a.to_duration()),
    })
}

/// Verifies a time-stamp token (a DER CMS ContentInfo) against what it must say and the trust
/// store, with genTime as the validation time.
pub fn verify_token(
    token_der: &[u8],
    expected: &Expected,
    trust: &TrustStore,
) -> Result<VerifiedToken, VerifyError> {
    // Step 1: structure.
    let TokenParts {
        signed_data,
        tst_der,
        tst,
        signer_info,
    } = token_parts(token_der)?;
    // The fields outside the signature must be exactly what RFC 5652 prescribes, so that no
    // byte of a valid token can change without the token failing.
    if signed_data.version != 3 {
        return Err(malformed(format!(
            "SignedData version {} (3 is required for TSTInfo content)",
            signed_data.version
        )));
    }
    let sid_is_key_identifier = signer_info.sid.tag() != Tag::Sequence;
    if signer_info.version != if sid_is_key_identifier { 3 } else { 1 } {
        return Err(malformed(format!(
            "SignerInfo version {} does not match its identifier",
            signer_info.version
        )));
    }
    let digest_algorithms: Vec<AlgorithmIdentifierRef<'_>> = signed_data
        .digest_algorithms
        .elements()
        .map(|a| a.and_then(|any| any.decode_as()))
        .collect::<Result<_, _>>()
        .map_err(malformed)?;
    if !digest_algorithms
        .iter()
        .any(|a| a.oid == signer_info.digest_algorithm.oid)
    {
        return Err(malformed(
            "the SignerInfo's digest algorithm is not among the SignedData's digestAlgorithms",
        ));
    }

    // Step 2: what the token says against what was asked.
    let imprint = &tst.message_imprint;
    let imprint_alg = imprint.hash_algorithm.oid;
    if !ACCEPTED_HASH_ALGORITHMS
        .iter()
        .any(|(o, _)| *o == imprint_alg)
    {
        return Err(VerifyError::ImprintAlgorithm(imprint_alg));
    }
    if imprint_alg != expected.hash_algorithm
        || imprint.hashed_message.as_bytes() != expected.digest.as_slice()
    {
        return Err(VerifyError::ImprintMismatch);
    }
    if let Some(nonce) = &expected.nonce
        && tst.nonce.map(|n| n.as_bytes()) != Some(nonce.as_slice())
    {
        return Err(VerifyError::NonceMismatch);
    }
    if let Some(requested) = expected.policy
        && tst.policy != requested
    {
        return Err(VerifyError::PolicyMismatch {
            requested,
            found: tst.policy,
        });
    }

    // Step 3: the signer's certificate.
    let token_certs = token_certificates(&signed_data)?;
    let candidates: Vec<&[u8]> = token_certs
        .iter()
        .copied()
        .chain(trust.intermediates.iter().map(|c| c.as_ref()))
        .collect();
    let (signer_der, signer_cert) = find_signer(&signer_info.sid, &candidates)?;
    if expected.cert_req && !token_certs.contains(&signer_der) {
        return Err(VerifyError::CertificateNotReturned);
    }

    // Step 4: signed attributes.
    let signed_attrs = signer_info
        .signed_attrs
        .ok_or(VerifyError::SignedAttributes(
            "the SignerInfo has no signed attributes",
        ))?;
    let attrs: Vec<Attribute<'_>> = signed_attrs
        .elements()
        .map(|a| a.and_then(|any| any.decode_as()))
        .collect::<Result<_, _>>()
        .map_err(malformed)?;
    let single_value = |oid: ObjectIdentifier| -> Result<Option<AnyRef<'_>>, VerifyError> {
        let mut found = attrs.iter().filter(|a| a.attr_type == oid);
        let Some(attr) = found.next() else {
            return Ok(None);
        };
        let mut values = attr.attr_values.elements();
        match (found.next(), values.next(), values.next()) {
            (None, Some(Ok(value)), None) => Ok(Some(value)),
            _ => Err(VerifyError::SignedAttributes(
                "a signed attribute is repeated or does not have exactly one value",
            )),
        }
    };
    let content_type = single_value(oid::CONTENT_TYPE)?
        .ok_or(VerifyError::SignedAttributes("no contentType attribute"))?;
    if content_type.decode_as::<ObjectIdentifier>().ok() != Some(oid::CT_TST_INFO) {
        return Err(VerifyError::SignedAttributes(
            "the contentType attribute is not id-ct-TSTInfo",
        ));
    }
    let message_digest = single_value(oid::MESSAGE_DIGEST)?
        .ok_or(VerifyError::SignedAttributes("no messageDigest attribute"))?
        .decode_as::<OctetStringRef<'_>>()
        .map_err(malformed)?;
    let digest_alg = digest_algorithm(signer_info.digest_algorithm.oid)?;
    if digest::digest(digest_alg, tst_der).as_ref() != message_digest.as_bytes() {
        return Err(VerifyError::MessageDigestMismatch);
    }

    // Step 5: the signing-certificate attribute names this certificate.
    let issuer_der = signer_cert
        .tbs_certificate
        .issuer
        .to_der()
        .map_err(malformed)?;
    let serial = signer_cert.tbs_certificate.serial_number.as_bytes();
    let issuer_general_names = general_names_directory(&issuer_der).map_err(malformed)?;
    let names_signer = |hash_alg: &'static digest::Algorithm,
                        hash: &[u8],
                        issuer_serial: &Option<IssuerSerial<'_>>|
     -> Result<(), VerifyError> {
        if digest::digest(hash_alg, signer_der).as_ref() != hash {
            return Err(VerifyError::SigningCertificate(
                "the signing-certificate attribute names another certificate",
            ));
        }
        if let Some(is) = issuer_serial
            && (is.issuer.to_der().map_err(malformed)? != issuer_general_names
                || is.serial_number.as_bytes() != serial)
        {
            return Err(VerifyError::SigningCertificate(
                "the signing-certificate attribute's issuer and serial are not the signer's",
            ));
        }
        Ok(())
    };
    if let Some(v2) = single_value(oid::SIGNING_CERTIFICATE_V2)? {
        let v2: SigningCertificateV2<'_> = v2.decode_as().map_err(malformed)?;
        let first = v2.certs.first().ok_or(VerifyError::SigningCertificate(
            "the signingCertificateV2 attribute is empty",
        ))?;
        let hash_alg = match &first.hash_algorithm {
            None => &digest::SHA256,
            Some(alg) => digest_algorithm(alg.oid)?,
        };
        names_signer(hash_alg, first.cert_hash.as_bytes(), &first.issuer_serial)?;
    } else if let Some(v1) = single_value(oid::SIGNING_CERTIFICATE)? {
        // ESSCertID identifies the certificate by SHA-1 (RFC 2634); still accepted for
        // identification, as RFC 5816 allows.
        let v1: SigningCertificate<'_> = v1.decode_as().map_err(malformed)?;
        let first = v1.certs.first().ok_or(VerifyError::SigningCertificate(
            "the signingCertificate attribute is empty",
        ))?;
        names_signer(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            first.cert_hash.as_bytes(),
            &first.issuer_serial,
        )?;
    } else {
        return Err(VerifyError::SigningCertificate(
            "no signing-certificate attribute (RFC 3161 requires one)",
        ));
    }

    // Step 6: the signature over the signed attributes as received.
    let algorithm = signature_algorithm(
        &signer_info.signature_algorithm,
        signer_info.digest_algorithm.oid,
        &signer_cert,
    )?;
    let public_key = signer_cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let signed_bytes = signed_attrs.to_set_der().map_err(malformed)?;
    signature::UnparsedPublicKey::new(algorithm, public_key)
        .verify(&signed_bytes, signer_info.signature.as_bytes())
        .map_err(|_| VerifyError::BadSignature)?;

    // Step 7: fit for time-stamping, not self-signed.
    check_time_stamping_eku(&signer_cert).map_err(VerifyError::UnfitCertificate)?;
    if signer_cert.tbs_certificate.issuer == signer_cert.tbs_certificate.subject {
        return Err(VerifyError::SelfSigned);
    }

    // Step 8: the chain, at genTime. The signer's own extended key usage was checked strictly
    // in step 7; CA certificates that restrict their extended key usage must allow
    // timeStamping.
    let gen_time = tst.gen_time.to_system_time();
    let key = path_key(signer_der, &candidates);
    let path_ders = match trust.remembered(&key, gen_time) {
        Some(path) => path,
        None => {
            let path = validate_path(signer_der, &candidates, tst.gen_time.unix_duration(), trust)?;
            trust.remember(key, &path);
            path
        }
    };

    Ok(VerifiedToken {
        gen_time,
        accuracy: tst.accuracy.map(|a| a.to_duration()),
        serial: tst.serial_number.as_bytes().to_vec(),
        policy: tst.policy,
        hash_algorithm: imprint_alg,
        digest: imprint.hashed_message.as_bytes().to_vec(),
        nonce: tst.nonce.map(|n| n.as_bytes().to_vec()),
        path: path_ders,
        signer: signer_cert.tbs_certificate.subject.to_string(),
    })
}

/// Step 8's path validation with webpki; the path, signer first and anchor last.
fn validate_path(
    signer_der: &[u8],
    candidates: &[&[u8]],
    at: Duration,
    trust: &TrustStore,
) -> Result<Vec<Vec<u8>>, VerifyError> {
    let anchors = trust
        .anchors
        .iter()
        .map(webpki::anchor_from_trusted_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(VerifyError::Chain)?;
    let intermediates: Vec<CertificateDer<'_>> = candidates
        .iter()
        .filter(|c| **c != signer_der)
        .map(|c| CertificateDer::from(*c))
        .collect();
    let signer_cert_der = CertificateDer::from(signer_der);
    let end_entity =
        webpki::EndEntityCert::try_from(&signer_cert_der).map_err(VerifyError::Chain)?;
    let path = end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            UnixTime::since_unix_epoch(at),
            webpki::KeyUsage::required_if_present(KP_TIME_STAMPING_VALUE),
            None,
            None,
        )
        .map_err(VerifyError::Chain)?;
    Ok(std::iter::once(signer_der.to_vec())
        .chain(path.intermediate_certificates().map(|c| c.der().to_vec()))
        .chain(trust.anchors.iter().find_map(|a| {
            let anchor = webpki::anchor_from_trusted_cert(a).ok()?;
            (anchor.subject == path.anchor().subject).then(|| a.to_vec())
        }))
        .collect())
}

fn find_signer<'c>(
    sid: &AnyRef<'_>,
    candidates: &[&'c [u8]],
) -> Result<(&'c [u8], Certificate), VerifyError> {
    let ski_tag = Tag::ContextSpecific {
        constructed: false,
        number: TagNumber::N0,
    };
    // Either (issuer Name DER, serial) or the subject key identifier.
    let by_issuer_serial = if sid.tag() == Tag::Sequence {
        let is = sid
            .decode_as::<IssuerAndSerialNumber<'_>>()
            .map_err(malformed)?;
        Some((
            is.issuer.to_der().map_err(malformed)?,
            is.serial_number.as_bytes(),
        ))
    } else if sid.tag() == ski_tag {
        None
    } else {
        return Err(malformed("unknown SignerIdentifier"));
    };
    for der in candidates {
        let Ok(cert) = Certificate::from_der(der) else {
            continue;
        };
        let tbs = &cert.tbs_certificate;
        let matches = match &by_issuer_serial {
            Some((issuer, serial)) => {
                tbs.serial_number.as_bytes() == *serial
                    && tbs.issuer.to_der().is_ok_and(|i| i == *issuer)
            }
            None => tbs.extensions.iter().flatten().any(|e| {
                e.extn_id == oid::SUBJECT_KEY_IDENTIFIER
                    && OctetStringRef::from_der(e.extn_value.as_bytes())
                        .is_ok_and(|ski| ski.as_bytes() == sid.value())
            }),
        };
        if matches {
            return Ok((der, cert));
        }
    }
    Err(VerifyError::SignerCertificateNotFound)
}

fn digest_algorithm(alg: ObjectIdentifier) -> Result<&'static digest::Algorithm, VerifyError> {
    match alg {
        oid::SHA256 => Ok(&digest::SHA256),
        oid::SHA384 => Ok(&digest::SHA384),
        oid::SHA512 => Ok(&digest::SHA512),
        other => Err(VerifyError::UnsupportedAlgorithm(format!("digest {other}"))),
    }
}

fn signature_algorithm(
    sig_alg: &AlgorithmIdentifierRef<'_>,
    digest_alg: ObjectIdentifier,
    cert: &Certificate,
) -> Result<&'static dyn signature::VerificationAlgorithm, VerifyError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let unsupported = || {
        VerifyError::UnsupportedAlgorithm(format!(
            "{} with digest {digest_alg} and key {}",
            sig_alg.oid, spki.algorithm.oid
        ))
    };
    // The hash named by the signature algorithm, or by the digest algorithm when the
    // signature algorithm names only the key type.
    let hash = match sig_alg.oid {
        oid::ECDSA_WITH_SHA256 | oid::SHA256_WITH_RSA => oid::SHA256,
        oid::ECDSA_WITH_SHA384 | oid::SHA384_WITH_RSA => oid::SHA384,
        oid::ECDSA_WITH_SHA512 | oid::SHA512_WITH_RSA => oid::SHA512,
        oid::EC_PUBLIC_KEY | oid::RSA_ENCRYPTION => digest_alg,
        _ => return Err(unsupported()),
    };
    let is_ecdsa = matches!(
        sig_alg.oid,
        oid::ECDSA_WITH_SHA256
            | oid::ECDSA_WITH_SHA384
            | oid::ECDSA_WITH_SHA512
            | oid::EC_PUBLIC_KEY
    );
    if is_ecdsa {
        if spki.algorithm.oid != oid::EC_PUBLIC_KEY {
            return Err(unsupported());
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match (curve, hash) {
            (Some(oid::SECP256R1), oid::SHA256) => Ok(&signature::ECDSA_P256_SHA256_ASN1),
            (Some(oid::SECP256R1), oid::SHA384) => Ok(&signature::ECDSA_P256_SHA384_ASN1),
            (Some(oid::SECP384R1), oid::SHA256) => Ok(&signature::ECDSA_P384_SHA256_ASN1),
            (Some(oid::SECP384R1), oid::SHA384) => Ok(&signature::ECDSA_P384_SHA384_ASN1),
            _ => Err(unsupported()),
        };
    }
    if spki.algorithm.oid != oid::RSA_ENCRYPTION {
        return Err(unsupported());
    }
    match hash {
        oid::SHA256 => Ok(&signature::RSA_PKCS1_2048_8192_SHA256),
        oid::SHA384 => Ok(&signature::RSA_PKCS1_2048_8192_SHA384),
        oid::SHA512 => Ok(&signature::RSA_PKCS1_2048_8192_SHA512),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{SignError, SignerIdentity, TimeStampSigner};
    use crate::{HashAlgorithm, IssuePolicy, RequestSpec, issue};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile};

    /// Signs with a certificate the TSA itself would refuse to load.
    struct UnfitSigner {
        key: EcdsaKeyPair,
        identity: SignerIdentity,
    }

    impl TimeStampSigner for UnfitSigner {
        fn identity(&self) -> &SignerIdentity {
            &self.identity
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(self
                .key
                .sign(&SystemRandom::new(), message)
                .map_err(|_| SignError("sign".into()))?
                .as_ref()
                .to_vec())
        }
    }

    #[test]
    fn a_token_signed_under_a_non_critical_or_missing_eku_is_invalid() {
        // A fixed time: tokens are verified at their own genTime.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let year = Duration::from_secs(365 * 86_400);
        let root = Authority::root("Root", now - year, now + year).expect("root");
        for (profile, problem) in [
            (
                Profile::TimeStamping {
                    eku_critical: false,
                },
                EkuProblem::NotCritical,
            ),
            (Profile::NoPurpose, EkuProblem::Missing),
            (Profile::Seal, EkuProblem::NotCritical),
        ] {
            let cred = root
                .issue(&LeafSpec::new(
                    "Unfit",
                    profile,
                    KeyAlgorithm::EcdsaP256,
                    now,
                    year,
                ))
                .expect("cert");
            let cert = Certificate::from_der(cred.cert_der()).expect("parse");
            let signer = UnfitSigner {
                key: EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    &cred.key_pkcs8_der(),
                )
                .expect("key"),
                identity: SignerIdentity::encode(&cert, cred.cert_der(), &[]).expect("identity"),
            };
            let req = RequestSpec::new(HashAlgorithm::Sha256, vec![7; 32])
                .to_der()
                .expect("request");
            let issued = issue(&req, now, 1, &signer, &IssuePolicy::default());
            let trust = TrustStore::new([root.cert_der().to_vec()]);
            let err = verify_response(&issued.response, &req, &trust).expect_err("unfit");
            assert!(
                matches!(err, VerifyError::UnfitCertificate(p) if p == problem),
                "{err}"
            );
        }
    }

    #[test]
    fn a_remembered_path_never_widens_what_is_accepted() {
        // A fixed time: tokens are verified at their own genTime.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let year = Duration::from_secs(365 * 86_400);
        let root = Authority::root("Root", now - year, now + 10 * year).expect("root");
        let tsu = root
            .issue(&LeafSpec::new(
                "TSU",
                Profile::TimeStamping { eku_critical: true },
                KeyAlgorithm::EcdsaP256,
                now,
                year,
            ))
            .expect("tsu");
        let signer =
            crate::EcdsaP256Signer::new(&tsu.key_pkcs8_der(), tsu.cert_der(), &[]).expect("signer");
        let req = RequestSpec::new(HashAlgorithm::Sha256, vec![7; 32])
            .to_der()
            .expect("request");
        let trust = TrustStore::new([root.cert_der().to_vec()]);
        for serial in 1..3 {
            let issued = issue(&req, now, serial, &signer, &IssuePolicy::default());
            verify_response(&issued.response, &req, &trust).expect("valid, then remembered");
        }
        // The same signer and path, with a genTime after the TSA certificate expired: the
        // remembered validation does not cover it.
        let late = issue(&req, now + 2 * year, 3, &signer, &IssuePolicy::default());
        assert!(matches!(
            verify_response(&late.response, &req, &trust),
            Err(VerifyError::Chain(_))
        ));
        // Under another root, the same token is not trusted, whatever another store remembers.
        let other = Authority::root("Other", now - year, now + year).expect("root");
        let issued = issue(&req, now, 4, &signer, &IssuePolicy::default());
        assert!(
            verify_response(
                &issued.response,
                &req,
                &TrustStore::new([other.cert_der().to_vec()])
            )
            .is_err()
        );
    }
}

//! OCSP (RFC 6960), the pure part: the request for one certificate's status (with a fresh
//! nonce), and the verification of the responder's answer. No I/O: the caller posts the
//! request's DER to the responder (see [`responder_url`]) and hands back the answer with the
//! time to judge it at.
//!
//! An answer is believed only when, in this order:
//! 1. it is a successful `id-pkix-ocsp-basic` response, read whole as DER;
//! 2. it is signed by the certificate's issuing CA itself, or by a delegated responder whose
//!    certificate (in the response) the same CA issued directly, valid at the time, with the
//!    extended key usage id-kp-OCSPSigning; the signer is the one the ResponderID names;
//! 3. it carries the nonce of the request (unless the policy lets a responder leave it out;
//!    a different nonce is always refused: a replayed answer);
//! 4. one of its responses is about this certificate (CertID by SHA-1 or SHA-256, whichever
//!    the responder used);
//! 5. that response is current: thisUpdate not after the time (give or take the clock skew),
//!    nextUpdate not before it, or, without a nextUpdate, thisUpdate at most `max_age` ago.
//!
//! Then the status is the response's: good, revoked (since when) or unknown. The delegated
//! responder's own revocation status is not checked (RFC 6960 §4.2.2.2.1: a CA marks such a
//! certificate with id-pkix-ocsp-nocheck and keeps it short-lived).

pub mod asn1;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use aws_lc_rs::{digest, rand};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::dsig::{PublicKey, SignatureAlgorithm};
use asn1::{
    BasicOcspResponse, CertId, CertStatus, OID_AD_OCSP, OID_OCSP_BASIC, OID_OCSP_NONCE, OID_PE_AIA,
    OID_SHA1, OID_SHA256, OcspResponse, Request, ResponderId, ResponseData, ResponseStatus,
    TbsRequest,
};

/// The media types of RFC 6960 Appendix A.
pub const REQUEST_CONTENT_TYPE: &str = "application/ocsp-request";
pub const RESPONSE_CONTENT_TYPE: &str = "application/ocsp-response";

/// The nonce's length (RFC 8954: 1 to 32 octets; 16 is what OpenSSL sends).
const NONCE_LEN: usize = 16;

/// DER of the id-kp-OCSPSigning key purpose's value, for webpki.
const EKU_OCSP_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OcspError {
    #[error("a certificate cannot be read: {0}")]
    Certificate(String),
    #[error("the request cannot be made: {0}")]
    Request(String),
    #[error("the response is not DER OCSP: {0}")]
    Malformed(String),
    #[error("the responder refused the request ({0:?})")]
    Status(ResponseStatus),
    #[error("the response is of type {0}, not a basic OCSP response")]
    NotBasic(ObjectIdentifier),
    #[error("the response is not signed by the issuing CA or a responder it delegated: {0}")]
    Responder(String),
    #[error("the response's signature does not verify")]
    Signature,
    #[error("the response does not carry the request's nonce")]
    NonceMissing,
    #[error("the response carries another nonce than the request's: a replayed answer")]
    NonceMismatch,
    #[error("the response says nothing about this certificate")]
    NotAboutTheCertificate,
    #[error("the response's thisUpdate is in the future")]
    NotYetValid,
    #[error("the response is stale: valid until {until:?}, judged at {at:?}")]
    Stale { until: SystemTime, at: SystemTime },
}

fn malformed(e: impl std::fmt::Display) -> OcspError {
    OcspError::Malformed(e.to_string())
}

/// Which hash names the issuer in a CertID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertIdHash {
    /// What `openssl ocsp` and RFC 5019 responders expect.
    Sha1,
    Sha256,
}

impl CertIdHash {
    fn of_oid(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            OID_SHA1 => Some(CertIdHash::Sha1),
            OID_SHA256 => Some(CertIdHash::Sha256),
            _ => None,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            CertIdHash::Sha1 => OID_SHA1,
            CertIdHash::Sha256 => OID_SHA256,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            CertIdHash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            CertIdHash::Sha256 => &digest::SHA256,
        };
        digest::digest(algorithm, data).as_ref().to_vec()
    }
}

/// How an answer is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsePolicy {
    /// How long a response without nextUpdate is current after its thisUpdate.
    pub max_age: Duration,
    /// How far the responder's clock may be ahead of ours.
    pub clock_skew: Duration,
    /// Refuse an answer that leaves the nonce out (a different nonce is always refused).
    pub require_nonce: bool,
}

impl Default for ResponsePolicy {
    fn default() -> Self {
        ResponsePolicy {
            max_age: Duration::from_secs(300),
            clock_skew: Duration::from_secs(60),
            require_nonce: true,
        }
    }
}

/// What the responder says about the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Good,
    Revoked {
        since: SystemTime,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// A verified answer about one certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedStatus {
    pub status: Status,
    pub this_update: SystemTime,
    /// nextUpdate, or thisUpdate + `max_age` when the responder gave none.
    pub valid_until: SystemTime,
}

impl VerifiedStatus {
    /// Whether the answer speaks for `at` (a remembered answer is judged again at each use).
    pub fn is_current_at(&self, at: SystemTime, clock_skew: Duration) -> bool {
        self.this_update <= at + clock_skew && at <= self.valid_until
    }
}

/// What a signed response says about one certificate, read from validation data a
/// signature carries (an answer somebody else asked for, years ago: no nonce to match, and no
/// "now" to judge it at; the reader decides which time it speaks for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchivedStatus {
    pub status: Status,
    pub this_update: SystemTime,
    pub next_update: Option<SystemTime>,
    pub produced_at: SystemTime,
}

/// A response, checked as far as the response itself goes.
struct SignedResponse {
    nonce: Option<Vec<u8>>,
    status: ArchivedStatus,
}

/// Verifies an archived `OCSPResponse` about `cert_der`, issued by `issuer_der`: steps 1, 2
/// and 4 of the module's list, the delegated responder judged at the response's producedAt.
pub fn verify_archived_response(
    response_der: &[u8],
    cert_der: &[u8],
    issuer_der: &[u8],
) -> Result<ArchivedStatus, OcspError> {
    StatusRequest::about(cert_der, issuer_der, CertIdHash::Sha1, Vec::new())?
        .signed_response(response_der, |produced_at| produced_at)
        .map(|signed| signed.status)
}

/// A request for the status of one certificate, and what its answer must match.
#[derive(Clone, Debug)]
pub struct StatusRequest {
    der: Vec<u8>,
    /// The nonce extension's value as sent (the DER OCTET STRING inside extnValue).
    nonce: Vec<u8>,
    issuer_der: Vec<u8>,
    issuer: Certificate,
    serial: Vec<u8>,
}

impl StatusRequest {
    /// A request for `cert_der`'s status, issued by `issuer_der`, its CertID hashed with
    /// `hash`, with a fresh random nonce.
    pub fn new(cert_der: &[u8], issuer_der: &[u8], hash: CertIdHash) -> Result<Self, OcspError> {
        let mut random = [0u8; NONCE_LEN];
        rand::fill(&mut random).map_err(|_| OcspError::Request("no randomness".into()))?;
        let nonce = OctetString::new(random.to_vec())
            .and_then(|o| o.to_der())
            .map_err(|e| OcspError::Request(e.to_string()))?;
        Self::about(cert_der, issuer_der, hash, nonce)
    }

    /// A request about `cert_der` with this nonce (empty: none asked for).
    fn about(
        cert_der: &[u8],
        issuer_der: &[u8],
        hash: CertIdHash,
        nonce: Vec<u8>,
    ) -> Result<Self, OcspError> {
        let cert =
            Certificate::from_der(cert_der).map_err(|e| OcspError::Certificate(e.to_string()))?;
        let issuer =
            Certificate::from_der(issuer_der).map_err(|e| OcspError::Certificate(e.to_string()))?;
        if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
            return Err(OcspError::Certificate(
                "the issuer given is not the certificate's issuer".into(),
            ));
        }
        let cert_id = cert_id(&issuer, &cert.tbs_certificate.serial_number, hash)?;
        let request = asn1::OcspRequest {
            tbs_request: TbsRequest {
                request_list: vec![Request { req_cert: cert_id }],
                request_extensions: (!nonce.is_empty())
                    .then(|| {
                        OctetString::new(nonce.clone()).map(|extn_value| {
                            vec![Extension {
                                extn_id: OID_OCSP_NONCE,
                                critical: false,
                                extn_value,
                            }]
                        })
                    })
                    .transpose()
                    .map_err(|e| OcspError::Request(e.to_string()))?,
            },
        };
        Ok(StatusRequest {
            der: request
                .to_der()
                .map_err(|e| OcspError::Request(e.to_string()))?,
            nonce,
            issuer_der: issuer_der.to_vec(),
            serial: cert.tbs_certificate.serial_number.as_bytes().to_vec(),
            issuer,
        })
    }

    /// The DER `OCSPRequest`, to post as `application/ocsp-request`.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Verifies `response_der` (an `OCSPResponse`) as the answer to this request, at `at`.
    pub fn verify_response(
        &self,
        response_der: &[u8],
        at: SystemTime,
        policy: &ResponsePolicy,
    ) -> Result<VerifiedStatus, OcspError> {
        // 1, 2 and 4: a basic response, signed by the CA or its delegate, about this certificate.
        let signed = self.signed_response(response_der, |_| at)?;
        // 3. The nonce sent.
        match signed.nonce {
            Some(nonce) if nonce == self.nonce => {}
            Some(_) => return Err(OcspError::NonceMismatch),
            None if policy.require_nonce => return Err(OcspError::NonceMissing),
            None => {}
        }
        // 5. Current.
        let this_update = signed.status.this_update;
        if this_update > at + policy.clock_skew {
            return Err(OcspError::NotYetValid);
        }
        let valid_until = signed
            .status
            .next_update
            .unwrap_or(this_update + policy.max_age);
        if at > valid_until {
            return Err(OcspError::Stale {
                until: valid_until,
                at,
            });
        }
        Ok(VerifiedStatus {
            status: signed.status.status,
            this_update,
            valid_until,
        })
    }

    /// Steps 1, 2 and 4 of the module's list: the response read whole, its signature by the
    /// CA or a responder it delegated (valid at the time `responder_at` gives for the
    /// response's producedAt), and the single response about this certificate.
    fn signed_response(
        &self,
        response_der: &[u8],
        responder_at: impl FnOnce(SystemTime) -> SystemTime,
    ) -> Result<SignedResponse, OcspError> {
        // 1. A successful basic response.
        let response = OcspResponse::from_der(response_der).map_err(malformed)?;
        if response.response_status != ResponseStatus::Successful {
            return Err(OcspError::Status(response.response_status));
        }
        let bytes = response
            .response_bytes
            .ok_or_else(|| malformed("a successful response without responseBytes"))?;
        if bytes.response_type != OID_OCSP_BASIC {
            return Err(OcspError::NotBasic(bytes.response_type));
        }
        let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(malformed)?;
        let tbs = basic.tbs_response_data.to_der().map_err(malformed)?;
        let data = ResponseData::from_der(&tbs).map_err(malformed)?;
        if data.version.is_some_and(|v| v != 0) {
            return Err(malformed("an OCSP response version other than v1"));
        }
        // 2. Signed by the CA or a responder it delegated, the one the ResponderID names.
        let produced_at = data.produced_at.to_system_time();
        let signer = self.signer(
            &data.responder_id,
            basic.certs.as_deref(),
            responder_at(produced_at),
        )?;
        let algorithm = signature_algorithm(&basic.signature_algorithm)?;
        let signature = basic
            .signature
            .as_bytes()
            .ok_or_else(|| malformed("a signature with unused bits"))?;
        signer
            .verify_asn1(algorithm, &tbs, signature)
            .map_err(|_| OcspError::Signature)?;
        // 4. About this certificate.
        let single = data
            .responses
            .iter()
            .find(|r| self.is_about(&r.cert_id))
            .ok_or(OcspError::NotAboutTheCertificate)?;
        let status = match &single.cert_status {
            CertStatus::Good(_) => Status::Good,
            CertStatus::Revoked(info) => Status::Revoked {
                since: info.revocation_time.to_system_time(),
            },
            CertStatus::Unknown(_) => Status::Unknown,
        };
        Ok(SignedResponse {
            nonce: data
                .response_extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == OID_OCSP_NONCE)
                .map(|e| e.extn_value.as_bytes().to_vec()),
            status: ArchivedStatus {
                status,
                this_update: single.this_update.to_system_time(),
                next_update: single.next_update.map(|n| n.to_system_time()),
                produced_at,
            },
        })
    }

    /// Whether a response's CertID names this request's certificate, in whichever of the
    /// accepted hashes the responder used.
    fn is_about(&self, id: &CertId) -> bool {
        let Some(hash) = CertIdHash::of_oid(id.hash_algorithm.oid) else {
            return false;
        };
        // Absent or NULL parameters only.
        if id
            .hash_algorithm
            .parameters
            .as_ref()
            .is_some_and(|p| der::Tagged::tag(p) != der::Tag::Null)
        {
            return false;
        }
        id.serial_number.as_bytes() == self.serial.as_slice()
            && id.issuer_name_hash.as_bytes() == hash.digest(&name_der(&self.issuer)).as_slice()
            && id.issuer_key_hash.as_bytes() == hash.digest(key_bits(&self.issuer)).as_slice()
    }

    /// The key that must have signed the response: the CA's own, when the ResponderID names
    /// the CA; else that of the certificate in the response that the ResponderID names, which
    /// must be a responder the CA delegated.
    fn signer(
        &self,
        responder: &ResponderId,
        certs: Option<&[der::Any]>,
        at: SystemTime,
    ) -> Result<PublicKey, OcspError> {
        if names(responder, &self.issuer) {
            return PublicKey::from_parsed_certificate(&self.issuer)
                .map_err(|e| OcspError::Responder(e.to_string()));
        }
        for any in certs.unwrap_or_default() {
            let der = any.to_der().map_err(malformed)?;
            let cert = Certificate::from_der(&der).map_err(malformed)?;
            if !names(responder, &cert) {
                continue;
            }
            self.check_delegated(&der, at)?;
            return PublicKey::from_parsed_certificate(&cert)
                .map_err(|e| OcspError::Responder(e.to_string()));
        }
        Err(OcspError::Responder(
            "the ResponderID names neither the CA nor a certificate of the response".into(),
        ))
    }

    /// A delegated responder: issued directly by the CA (its signature verifies under the
    /// CA's key), valid at `at`, with the key purpose id-kp-OCSPSigning.
    fn check_delegated(&self, responder_der: &[u8], at: SystemTime) -> Result<(), OcspError> {
        let ca = CertificateDer::from(self.issuer_der.as_slice());
        let anchor = webpki::anchor_from_trusted_cert(&ca)
            .map_err(|e| OcspError::Responder(e.to_string()))?;
        let responder = CertificateDer::from(responder_der);
        let ee = webpki::EndEntityCert::try_from(&responder)
            .map_err(|e| OcspError::Responder(e.to_string()))?;
        let time = UnixTime::since_unix_epoch(
            at.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            time,
            webpki::KeyUsage::required(EKU_OCSP_SIGNING),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| OcspError::Responder(format!("delegated responder: {e}")))
    }
}

/// The CertID of a certificate of `issuer` with this serial.
fn cert_id(
    issuer: &Certificate,
    serial: &x509_cert::serial_number::SerialNumber,
    hash: CertIdHash,
) -> Result<CertId, OcspError> {
    let octets =
        |bytes: Vec<u8>| OctetString::new(bytes).map_err(|e| OcspError::Request(e.to_string()));
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: hash.oid(),
            parameters: Some(der::Any::from(der::asn1::Null)),
        },
        issuer_name_hash: octets(hash.digest(&name_der(issuer)))?,
        issuer_key_hash: octets(hash.digest(key_bits(issuer)))?,
        serial_number: serial.clone(),
    })
}

/// The DER of a certificate's subject.
fn name_der(cert: &Certificate) -> Vec<u8> {
    cert.tbs_certificate.subject.to_der().unwrap_or_default()
}

/// The subjectPublicKey BIT STRING's content, without the unused-bits octet.
fn key_bits(cert: &Certificate) -> &[u8] {
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
}

/// Whether the ResponderID names `cert` (by subject, or by the SHA-1 of its key).
fn names(responder: &ResponderId, cert: &Certificate) -> bool {
    match responder {
        ResponderId::ByName(name) => *name == cert.tbs_certificate.subject,
        ResponderId::ByKey(hash) => hash.as_bytes() == CertIdHash::Sha1.digest(key_bits(cert)),
    }
}

/// The signature algorithms a responder (or a CA signing a CRL) may use (no SHA-1).
pub fn signature_algorithm(id: &AlgorithmIdentifierOwned) -> Result<SignatureAlgorithm, OcspError> {
    const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
    const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
    Ok(match id.oid {
        ECDSA_SHA256 => SignatureAlgorithm::EcdsaSha256,
        ECDSA_SHA384 => SignatureAlgorithm::EcdsaSha384,
        RSA_SHA256 => SignatureAlgorithm::RsaSha256,
        RSA_SHA384 => SignatureAlgorithm::RsaSha384,
        RSA_SHA512 => SignatureAlgorithm::RsaSha512,
        other => {
            return Err(OcspError::Responder(format!(
                "signature algorithm {other} not accepted"
            )));
        }
    })
}

/// The first `http://` OCSP responder the certificate's Authority Information Access names.
pub fn responder_url(cert_der: &[u8]) -> Option<String> {
    let cert = Certificate::from_der(cert_der).ok()?;
    let aia = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == OID_PE_AIA)?;
    let aia = AuthorityInfoAccessSyntax::from_der(aia.extn_value.as_bytes()).ok()?;
    aia.0
        .into_iter()
        .find_map(|access| match access.access_location {
            GeneralName::UniformResourceIdentifier(uri)
                if access.access_method == OID_AD_OCSP && uri.as_str().starts_with("http://") =>
            {
                Some(uri.as_str().to_owned())
            }
            _ => None,
        })
}

//! The verifier against answers made here, each as a responder (honest, careless or hostile)
//! would make it.

use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use der::asn1::{BitString, GeneralizedTime, Null, OctetString};
use der::{Decode, Encode};
use sealpost_pki::{Authority, Credential, KeyAlgorithm, LeafSpec, Profile, Published};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::asn1::{
    self, BasicOcspResponse, CertId, CertStatus, OID_OCSP_BASIC, OID_OCSP_NONCE, OcspResponse,
    ResponderId, ResponseBytes, ResponseData, ResponseStatus, RevokedInfo, SingleResponse,
};
use super::*;

const YEAR: Duration = Duration::from_secs(365 * 86_400);
const HOUR: Duration = Duration::from_secs(3600);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

struct Pki {
    ca: Authority,
    sender: Credential,
    other_sender: Credential,
    responder: Credential,
    /// Issued by the CA, but for TLS clients, not for OCSP.
    without_eku: Credential,
    /// An OCSP responder of another CA.
    foreign: Credential,
}

fn pki() -> Pki {
    let root = Authority::root("Root", now() - YEAR, now() + 10 * YEAR).expect("root");
    let ca = root
        .issue_ca("Issuing", now() - YEAR, now() + 5 * YEAR)
        .expect("ca")
        .publishing(Published::under("http://127.0.0.1:9999"));
    let leaf = |ca: &Authority, name: &str, profile| {
        ca.issue(&LeafSpec::new(
            name,
            profile,
            KeyAlgorithm::EcdsaP256,
            now(),
            YEAR,
        ))
        .expect("leaf")
    };
    let stranger = root
        .issue_ca("Stranger", now() - YEAR, now() + 5 * YEAR)
        .expect("ca");
    Pki {
        sender: leaf(&ca, "Sender", Profile::Sender),
        other_sender: leaf(&ca, "Other sender", Profile::Sender),
        responder: leaf(&ca, "Responder", Profile::OcspResponder),
        without_eku: leaf(&ca, "Not a responder", Profile::Sender),
        foreign: leaf(&stranger, "Foreign responder", Profile::OcspResponder),
        ca,
    }
}

/// Which nonce the answer carries.
#[derive(Clone, Copy)]
enum Nonce<'a> {
    Echo(&'a StatusRequest),
    Omit,
}

/// An answer as a responder makes it.
struct Answer<'a> {
    cert_id: CertId,
    status: CertStatus,
    this_update: SystemTime,
    next_update: Option<SystemTime>,
    nonce: Nonce<'a>,
    responder_id: ResponderId,
    certs: Vec<&'a [u8]>,
    /// PKCS#8 of the P-256 key that signs.
    key: Vec<u8>,
}

impl<'a> Answer<'a> {
    /// Good, current for an hour, signed by the CA itself, naming it by name.
    fn good(request: &'a StatusRequest, pki: &Pki) -> Self {
        let asked = asn1::OcspRequest::from_der(request.der()).expect("request");
        Answer {
            cert_id: asked.tbs_request.request_list[0].req_cert.clone(),
            status: CertStatus::Good(Null),
            this_update: now() - Duration::from_secs(10),
            next_update: Some(now() + HOUR),
            nonce: Nonce::Echo(request),
            responder_id: ResponderId::ByName(subject(pki.ca.cert_der())),
            certs: Vec::new(),
            key: pki.ca.key_pkcs8_der(),
        }
    }

    /// Signed by a delegated responder named by its key, its certificate in the answer.
    fn by(mut self, responder: &'a Credential) -> Self {
        let cert = Certificate::from_der(responder.cert_der()).expect("cert");
        self.responder_id = ResponderId::ByKey(
            OctetString::new(CertIdHash::Sha1.digest(key_bits(&cert))).expect("octets"),
        );
        self.certs = vec![responder.cert_der()];
        self.key = responder.key_pkcs8_der();
        self
    }

    fn der(&self) -> Vec<u8> {
        let time = |t: SystemTime| GeneralizedTime::from_system_time(t).expect("time");
        let extensions = match self.nonce {
            Nonce::Echo(request) => Some(vec![Extension {
                extn_id: OID_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(request.nonce.clone()).expect("nonce"),
            }]),
            Nonce::Omit => None,
        };
        let data = ResponseData {
            version: None,
            responder_id: self.responder_id.clone(),
            produced_at: time(now()),
            responses: vec![SingleResponse {
                cert_id: self.cert_id.clone(),
                cert_status: self.status.clone(),
                this_update: time(self.this_update),
                next_update: self.next_update.map(time),
                single_extensions: None,
            }],
            response_extensions: extensions,
        };
        let tbs = data.to_der().expect("tbs");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.key).expect("key");
        let signature = key.sign(&SystemRandom::new(), &tbs).expect("sign");
        let certs = (!self.certs.is_empty()).then(|| {
            self.certs
                .iter()
                .map(|c| der::Any::from_der(c).expect("cert"))
                .collect()
        });
        let basic = BasicOcspResponse {
            tbs_response_data: der::Any::from_der(&tbs).expect("tbs"),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
                parameters: None,
            },
            signature: BitString::from_bytes(signature.as_ref()).expect("bits"),
            certs,
        };
        OcspResponse {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: OID_OCSP_BASIC,
                response: OctetString::new(basic.to_der().expect("basic")).expect("octets"),
            }),
        }
        .to_der()
        .expect("response")
    }
}

fn subject(cert_der: &[u8]) -> x509_cert::name::Name {
    Certificate::from_der(cert_der)
        .expect("cert")
        .tbs_certificate
        .subject
}

fn request(pki: &Pki, hash: CertIdHash) -> StatusRequest {
    StatusRequest::new(pki.sender.cert_der(), pki.ca.cert_der(), hash).expect("request")
}

fn verify(request: &StatusRequest, answer: &[u8]) -> Result<VerifiedStatus, OcspError> {
    request.verify_response(answer, now(), &ResponsePolicy::default())
}

#[test]
fn a_good_answer_of_the_ca_or_its_delegated_responder_is_believed_with_either_cert_id_hash() {
    let pki = pki();
    for hash in [CertIdHash::Sha1, CertIdHash::Sha256] {
        let request = request(&pki, hash);
        let verified = verify(&request, &Answer::good(&request, &pki).der()).expect("by the CA");
        assert_eq!(verified.status, Status::Good);
        assert_eq!(verified.valid_until, now() + HOUR);
        let verified = verify(
            &request,
            &Answer::good(&request, &pki).by(&pki.responder).der(),
        )
        .expect("by the delegated responder");
        assert_eq!(verified.status, Status::Good);
    }
}

#[test]
fn an_answer_signed_by_anyone_but_the_ca_or_its_responder_is_refused() {
    let pki = pki();
    let request = request(&pki, CertIdHash::Sha1);
    // Names the CA, signed by the responder's key.
    let mut forged = Answer::good(&request, &pki);
    forged.key = pki.responder.key_pkcs8_der();
    assert_eq!(verify(&request, &forged.der()), Err(OcspError::Signature));
    // Names the responder and carries its certificate, signed by another key.
    let mut forged = Answer::good(&request, &pki).by(&pki.responder);
    forged.key = pki.other_sender.key_pkcs8_der();
    assert_eq!(verify(&request, &forged.der()), Err(OcspError::Signature));
    // Names a responder whose certificate is not in the answer.
    let mut unnamed = Answer::good(&request, &pki).by(&pki.responder);
    unnamed.certs.clear();
    assert!(matches!(
        verify(&request, &unnamed.der()),
        Err(OcspError::Responder(_))
    ));
}

#[test]
fn a_responder_without_the_ocsp_signing_purpose_or_of_another_ca_is_refused() {
    let pki = pki();
    let request = request(&pki, CertIdHash::Sha1);
    for impostor in [&pki.without_eku, &pki.foreign] {
        let answer = Answer::good(&request, &pki).by(impostor).der();
        let err = verify(&request, &answer).expect_err("an impostor's answer");
        assert!(matches!(err, OcspError::Responder(_)), "{err}");
    }
}

#[test]
fn an_answer_about_another_certificate_is_refused() {
    let pki = pki();
    let request = request(&pki, CertIdHash::Sha1);
    let other = StatusRequest::new(
        pki.other_sender.cert_der(),
        pki.ca.cert_der(),
        CertIdHash::Sha1,
    )
    .expect("request");
    let mut answer = Answer::good(&request, &pki);
    answer.cert_id = asn1::OcspRequest::from_der(other.der())
        .expect("request")
        .tbs_request
        .request_list[0]
        .req_cert
        .clone();
    assert_eq!(
        verify(&request, &answer.der()),
        Err(OcspError::NotAboutTheCertificate)
    );
    // The right serial under another issuer's key hash.
    let mut answer = Answer::good(&request, &pki);
    answer.cert_id.issuer_key_hash = OctetString::new(vec![0u8; 20]).expect("octets");
    assert_eq!(
        verify(&request, &answer.der()),
        Err(OcspError::NotAboutTheCertificate)
    );
}

#[test]
fn a_replayed_answer_to_an_earlier_request_is_refused_and_so_is_one_without_nonce() {
    let pki = pki();
    let earlier = request(&pki, CertIdHash::Sha1);
    // A good answer captured before the revocation, replayed to the next request.
    let captured = Answer::good(&earlier, &pki).by(&pki.responder).der();
    verify(&earlier, &captured).expect("the answer to its own request");
    let later = request(&pki, CertIdHash::Sha1);
    assert_eq!(verify(&later, &captured), Err(OcspError::NonceMismatch));
    let mut without = Answer::good(&later, &pki);
    without.nonce = Nonce::Omit;
    let without = without.der();
    assert_eq!(verify(&later, &without), Err(OcspError::NonceMissing));
    // Unless the operator accepts responders that leave it out (never a different one).
    let lax = ResponsePolicy {
        require_nonce: false,
        ..ResponsePolicy::default()
    };
    later
        .verify_response(&without, now(), &lax)
        .expect("accepted without nonce");
    assert_eq!(
        later.verify_response(&captured, now(), &lax),
        Err(OcspError::NonceMismatch)
    );
}

#[test]
fn a_stale_or_future_answer_is_refused() {
    let pki = pki();
    let request = request(&pki, CertIdHash::Sha1);
    let mut expired = Answer::good(&request, &pki);
    expired.this_update = now() - 2 * HOUR;
    expired.next_update = Some(now() - Duration::from_secs(1));
    assert!(matches!(
        verify(&request, &expired.der()),
        Err(OcspError::Stale { .. })
    ));
    // Without nextUpdate: current for max_age after thisUpdate, then stale.
    let mut open = Answer::good(&request, &pki);
    open.next_update = None;
    open.this_update = now() - Duration::from_secs(100);
    let open = open.der();
    let verified = verify(&request, &open).expect("within max_age");
    assert_eq!(
        verified.valid_until,
        now() - Duration::from_secs(100) + ResponsePolicy::default().max_age
    );
    assert!(matches!(
        request.verify_response(
            &open,
            now() + Duration::from_secs(201),
            &ResponsePolicy::default()
        ),
        Err(OcspError::Stale { .. })
    ));
    let mut future = Answer::good(&request, &pki);
    future.this_update = now() + Duration::from_secs(120);
    assert_eq!(verify(&request, &future.der()), Err(OcspError::NotYetValid));
    // A remembered answer is judged again at each use.
    assert!(verified.is_current_at(now(), Duration::from_secs(60)));
    assert!(!verified.is_current_at(now() + Duration::from_secs(201), Duration::from_secs(60)));
}

#[test]
fn revoked_and_unknown_are_what_the_responder_says() {
    let pki = pki();
    let request = request(&pki, CertIdHash::Sha256);
    let since = now() - Duration::from_secs(3600);
    let mut revoked = Answer::good(&request, &pki).by(&pki.responder);
    revoked.status = CertStatus::Revoked(RevokedInfo {
        revocation_time: GeneralizedTime::from_system_time(since).expect("time"),
        revocation_reason: None,
    });
    assert_eq!(
        verify(&request, &revoked.der()).expect("verified").status,
        Status::Revoked { since }
    );
    let mut unknown = Answer::good(&request, &pki);
    unknown.status = CertStatus::Unknown(Null);
    assert_eq!(
        verify(&request, &unknown.der()).expect("verified").status,
        Status::Unknown
    );
}

#[test]
fn malformed_or_unsuccessful_answers_are_refused() {
    let pki = pki();
    let request = request(&pki, CertIdHash::Sha1);
    let good = Answer::good(&request, &pki).der();
    for bad in [
        Vec::new(),
        b"not DER at all".to_vec(),
        good[..good.len() - 1].to_vec(),
        [good.as_slice(), &[0u8]].concat(),
    ] {
        assert!(
            matches!(verify(&request, &bad), Err(OcspError::Malformed(_))),
            "{bad:?}"
        );
    }
    // One flipped octet anywhere in the signed data: never a good answer.
    for i in (0..good.len()).step_by(7) {
        let mut flipped = good.clone();
        flipped[i] ^= 0x01;
        assert!(verify(&request, &flipped).is_err(), "octet {i} flipped");
    }
    let try_later = OcspResponse {
        response_status: ResponseStatus::TryLater,
        response_bytes: None,
    }
    .to_der()
    .expect("der");
    assert_eq!(
        verify(&request, &try_later),
        Err(OcspError::Status(ResponseStatus::TryLater))
    );
}

#[test]
fn the_responder_is_found_in_the_certificate_and_the_issuer_must_be_its_own() {
    let pki = pki();
    assert_eq!(
        responder_url(pki.sender.cert_der()).as_deref(),
        Some("http://127.0.0.1:9999/")
    );
    // The responder's own certificate names none; a CA certificate neither.
    assert_eq!(responder_url(pki.responder.cert_der()), None);
    assert_eq!(responder_url(pki.ca.cert_der()), None);
    assert!(matches!(
        StatusRequest::new(pki.foreign.cert_der(), pki.ca.cert_der(), CertIdHash::Sha1),
        Err(OcspError::Certificate(_))
    ));
}

#[test]
fn an_archived_answer_is_believed_years_later_only_as_its_responder_signed_it() {
    let pki = pki();
    let request = request(&pki, CertIdHash::Sha1);
    let sender = pki.sender.cert_der();
    let ca = pki.ca.cert_der();
    // Years later, whoever asked: no nonce to match, no "now" to be current at; the
    // delegated responder judged when it answered.
    let answer = Answer::good(&request, &pki).by(&pki.responder).der();
    let archived = verify_archived_response(&answer, sender, ca).expect("archived answer");
    assert_eq!(archived.status, Status::Good);
    assert_eq!(archived.next_update, Some(now() + HOUR));
    assert_eq!(archived.produced_at, now());
    let mut without_nonce = Answer::good(&request, &pki);
    without_nonce.nonce = Nonce::Omit;
    assert!(verify_archived_response(&without_nonce.der(), sender, ca).is_ok());
    // About another certificate, under another CA, or by an impostor: refused.
    assert_eq!(
        verify_archived_response(&answer, pki.other_sender.cert_der(), ca),
        Err(OcspError::NotAboutTheCertificate)
    );
    assert!(matches!(
        verify_archived_response(&answer, sender, pki.sender.cert_der()),
        Err(OcspError::Certificate(_))
    ));
    for impostor in [&pki.without_eku, &pki.foreign] {
        let forged = Answer::good(&request, &pki).by(impostor).der();
        assert!(matches!(
            verify_archived_response(&forged, sender, ca),
            Err(OcspError::Responder(_))
        ));
    }
    let mut forged = Answer::good(&request, &pki);
    forged.key = pki.responder.key_pkcs8_der();
    assert_eq!(
        verify_archived_response(&forged.der(), sender, ca),
        Err(OcspError::Signature)
    );
}

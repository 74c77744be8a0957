//! issue() and verify() together: what a relying party can count on, and what the TSA refuses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
use sealpost_tsa::asn1::{TimeStampResp, oid};
use sealpost_tsa::issue::{issue_sha256_token, reject};
use sealpost_tsa::verify::granted_token;
use sealpost_tsa::{
    EcdsaP256Signer, Expected, FailureInfo, HashAlgorithm, IssuePolicy, Outcome, RequestSpec,
    TrustStore, Verdict, VerifyError, issue, verify_response, verify_token,
};

const YEAR: Duration = Duration::from_secs(365 * 86_400);

struct Pki {
    root: Authority,
    issuing: Authority,
    signer: EcdsaP256Signer,
    tsa_cert: Vec<u8>,
    /// Inside the TSA certificate's validity.
    now: SystemTime,
}

fn pki() -> Pki {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000); // 2026-11-18
    let root = Authority::root("Test Root", now - YEAR, now + 10 * YEAR).expect("root");
    let issuing = root
        .issue_ca("Test Issuing CA", now - YEAR, now + 5 * YEAR)
        .expect("issuing");
    let tsa = issuing
        .issue(&LeafSpec::new(
            "Test TSA",
            Profile::TimeStamping { eku_critical: true },
            KeyAlgorithm::EcdsaP256,
            now,
            YEAR,
        ))
        .expect("tsa");
    let signer = EcdsaP256Signer::new(
        &tsa.key_pkcs8_der(),
        tsa.cert_der(),
        &[issuing.cert_der().to_vec()],
    )
    .expect("signer");
    Pki {
        tsa_cert: tsa.cert_der().to_vec(),
        root,
        issuing,
        signer,
        now,
    }
}

impl Pki {
    fn trust(&self) -> TrustStore {
        TrustStore::new([self.root.cert_der().to_vec()])
    }
}

fn request(digest_of: &[u8]) -> RequestSpec {
    RequestSpec::new(
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha256.digest(digest_of),
    )
}

fn rejection(response: &[u8]) -> FailureInfo {
    match granted_token(response) {
        Err(VerifyError::Rejected {
            failure: Some(f), ..
        }) => f,
        other => panic!("expected a rejection with failure info, got {other:?}"),
    }
}

#[test]
fn a_granted_token_says_what_was_asked_and_verifies() {
    let pki = pki();
    let spec = RequestSpec {
        nonce: Some(vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]),
        ..request(b"registered letter")
    };
    let req = spec.to_der().expect("request");
    let issued = issue(
        &req,
        pki.now,
        0xabcdef,
        &pki.signer,
        &IssuePolicy::default(),
    );
    assert!(matches!(
        issued.outcome,
        Outcome::Granted {
            serial: 0xabcdef,
            ..
        }
    ));
    let token = verify_response(&issued.response, &req, &pki.trust()).expect("verifies");
    // INTEGER content: a leading zero keeps 0xab.. positive.
    assert_eq!(token.serial, vec![0x00, 0xab, 0xcd, 0xef]);
    assert_eq!(token.nonce.as_deref(), spec.nonce.as_deref());
    assert_eq!(token.digest, spec.digest);
    assert_eq!(token.policy, oid::ETSI_BASELINE_TS_POLICY);
    assert_eq!(token.accuracy, Some(Duration::from_secs(1)));
    assert_eq!(
        token.gen_time,
        UNIX_EPOCH + Duration::from_secs(pki.now.duration_since(UNIX_EPOCH).expect("t").as_secs())
    );
    assert_eq!(token.signer, "CN=Test TSA,O=Sealpost Development,C=BE");
    // The verified path: TSA, issuing CA, root.
    assert_eq!(
        token.path,
        vec![
            pki.tsa_cert.clone(),
            pki.issuing.cert_der().to_vec(),
            pki.root.cert_der().to_vec()
        ]
    );
}

#[test]
fn a_token_issued_as_a_function_is_the_token_its_request_would_get() {
    let pki = pki();
    let digest = HashAlgorithm::Sha256.digest(b"registered letter");
    let sha256: [u8; 32] = digest.clone().try_into().expect("32 bytes");
    let policy = IssuePolicy::default();
    let called = issue_sha256_token(&sha256, pki.now, 42, &pki.signer, &policy).expect("token");
    let asked = RequestSpec {
        nonce: None,
        ..request(b"registered letter")
    };
    let req = asked.to_der().expect("request");
    let answered = granted_token(&issue(&req, pki.now, 42, &pki.signer, &policy).response)
        .expect("granted")
        .to_vec();
    let expected = Expected {
        nonce: None,
        policy: None,
        cert_req: true,
        ..Expected::digest(oid::SHA256, &digest)
    };
    let from_call = verify_token(&called, &expected, &pki.trust()).expect("verifies");
    let from_wire = verify_token(&answered, &expected, &pki.trust()).expect("verifies");
    // Everything but the (randomised) ECDSA signature value is the same: the TSTInfo it
    // signs, its serial and time, the certificate path.
    let fields = |t: &sealpost_tsa::verify::VerifiedToken| {
        (
            t.gen_time,
            t.accuracy,
            t.serial.clone(),
            t.policy,
            t.hash_algorithm,
            t.digest.clone(),
            t.nonce.clone(),
            t.path.clone(),
            t.signer.clone(),
        )
    };
    assert_eq!(fields(&from_call), fields(&from_wire));
    assert_eq!(from_call.serial, vec![42]);
    assert!(
        called.len().abs_diff(answered.len()) <= 3,
        "only the signature differs"
    );
    // A clock that cannot be encoded is refused as a request would be.
    let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
    let refused = issue_sha256_token(&sha256, far, 43, &pki.signer, &policy).expect_err("refused");
    assert_eq!(refused.0, FailureInfo::TimeNotAvailable);
}

#[test]
fn gen_time_is_truncated_to_the_second_and_serials_above_64_bits_encode() {
    let pki = pki();
    let req = request(b"x").to_der().expect("request");
    let now = pki.now + Duration::from_millis(999);
    let serial = (1_795_000_000u128 << 64) | 7;
    let issued = issue(&req, now, serial, &pki.signer, &IssuePolicy::default());
    let token = verify_response(&issued.response, &req, &pki.trust()).expect("verifies");
    assert_eq!(token.gen_time, pki.now);
    assert_eq!(token.serial.len(), 12);
    assert_eq!(token.serial.last(), Some(&7));
}

#[test]
fn the_certificate_is_included_only_when_asked() {
    let pki = pki();
    let without = RequestSpec {
        cert_req: false,
        ..request(b"doc")
    };
    let req = without.to_der().expect("request");
    let issued = issue(&req, pki.now, 1, &pki.signer, &IssuePolicy::default());
    let token = granted_token(&issued.response).expect("granted");
    assert!(
        !token.windows(pki.tsa_cert.len()).any(|w| w == pki.tsa_cert),
        "certificate included without certReq"
    );
    // Without the certificate a verifier cannot find the signer: indeterminate, not valid.
    let err = verify_response(&issued.response, &req, &pki.trust()).expect_err("no signer");
    assert!(matches!(err, VerifyError::SignerCertificateNotFound));
    assert_eq!(err.verdict(), Verdict::Indeterminate);
    // With the TSA and CA certificates supplied separately, it verifies.
    let trust = pki
        .trust()
        .with_certificates([pki.tsa_cert.clone(), pki.issuing.cert_der().to_vec()]);
    verify_response(&issued.response, &req, &trust).expect("verifies with supplied certificates");

    let with = request(b"doc").to_der().expect("request");
    let issued = issue(&with, pki.now, 2, &pki.signer, &IssuePolicy::default());
    let token = granted_token(&issued.response).expect("granted");
    assert!(token.windows(pki.tsa_cert.len()).any(|w| w == pki.tsa_cert));
}

#[test]
fn each_bad_request_gets_its_failure_info() {
    let pki = pki();
    let policy = IssuePolicy {
        accepted_policies: vec![ObjectIdentifier::new_unwrap("1.2.3.4.5")],
        ..IssuePolicy::default()
    };
    let spec = request(b"doc");
    let with = |f: &dyn Fn(&mut RequestSpec)| {
        let mut s = spec.clone();
        f(&mut s);
        s.to_der().expect("request")
    };
    let cases: Vec<(&str, Vec<u8>, FailureInfo)> = vec![
        (
            "SHA-1 imprint",
            with(&|s| {
                s.hash_algorithm = oid::SHA1;
                s.digest = vec![0; 20];
            }),
            FailureInfo::BadAlg,
        ),
        (
            "MD5 imprint",
            with(&|s| {
                s.hash_algorithm = oid::MD5;
                s.digest = vec![0; 16];
            }),
            FailureInfo::BadAlg,
        ),
        (
            "unknown algorithm",
            with(&|s| s.hash_algorithm = ObjectIdentifier::new_unwrap("1.2.3.4.5.6")),
            FailureInfo::BadAlg,
        ),
        (
            "digest of the wrong length",
            with(&|s| s.digest = vec![0; 31]),
            FailureInfo::BadDataFormat,
        ),
        (
            "policy not offered",
            with(&|s| s.policy = Some(ObjectIdentifier::new_unwrap("1.2.3.4.6"))),
            FailureInfo::UnacceptedPolicy,
        ),
        ("empty body", Vec::new(), FailureInfo::BadDataFormat),
        (
            "random bytes",
            b"\x8f\x13not a request at all".to_vec(),
            FailureInfo::BadDataFormat,
        ),
        (
            "huge length",
            vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01],
            FailureInfo::BadDataFormat,
        ),
    ];
    for (what, req, expected) in cases {
        let issued = issue(&req, pki.now, 1, &pki.signer, &policy);
        assert_eq!(rejection(&issued.response), expected, "{what}");
        assert!(matches!(issued.outcome, Outcome::Rejected { failure, .. } if failure == expected));
    }

    // Truncated at every length, and with trailing bytes: never granted, never a panic.
    let good = spec.to_der().expect("request");
    for len in 0..good.len() {
        let issued = issue(&good[..len], pki.now, 1, &pki.signer, &policy);
        assert_eq!(
            rejection(&issued.response),
            FailureInfo::BadDataFormat,
            "truncated at {len}"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    let issued = issue(&trailing, pki.now, 1, &pki.signer, &policy);
    assert_eq!(rejection(&issued.response), FailureInfo::BadDataFormat);

    // Version 2: the request is well-formed but unsupported.
    let mut v2 = good.clone();
    let version_at = v2
        .windows(3)
        .position(|w| w == [0x02, 0x01, 0x01])
        .expect("version");
    v2[version_at + 2] = 2;
    let issued = issue(&v2, pki.now, 1, &pki.signer, &policy);
    assert_eq!(rejection(&issued.response), FailureInfo::BadRequest);

    // An accepted non-default policy is granted and carried in the token.
    let req = with(&|s| s.policy = Some(ObjectIdentifier::new_unwrap("1.2.3.4.5")));
    let issued = issue(&req, pki.now, 1, &pki.signer, &policy);
    let token = verify_response(&issued.response, &req, &pki.trust()).expect("granted");
    assert_eq!(token.policy, ObjectIdentifier::new_unwrap("1.2.3.4.5"));
}

#[test]
fn a_request_with_extensions_is_refused() {
    let pki = pki();
    let good = request(b"doc").to_der().expect("request");
    // Append [0] { Extension { 1.2.3.4, OCTET STRING { 00 } } } inside the request SEQUENCE.
    let ext = [
        0xa0, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x04, 0x01, 0x00,
    ];
    let mut body = good[2..].to_vec();
    body.extend_from_slice(&ext);
    let mut req = vec![0x30, u8::try_from(body.len()).expect("short")];
    req.extend(body);
    let issued = issue(&req, pki.now, 1, &pki.signer, &IssuePolicy::default());
    assert_eq!(
        rejection(&issued.response),
        FailureInfo::UnacceptedExtension,
        "{:?}",
        issued.outcome
    );
}

#[test]
fn rejections_are_well_formed_responses() {
    let issued = reject(FailureInfo::TimeNotAvailable, "clock");
    let resp = TimeStampResp::from_der(&issued.response).expect("DER");
    assert_eq!(resp.status.status, 2);
    assert!(resp.time_stamp_token.is_none());
    assert_eq!(rejection(&issued.response), FailureInfo::TimeNotAvailable);
    // timeNotAvailable is bit 14: 15 bits, one unused.
    let bits = resp.status.fail_info.expect("failInfo");
    assert_eq!(bits.unused_bits(), 1);
    assert_eq!(bits.raw_bytes(), [0x00, 0x02]);
}

#[test]
fn verification_refuses_what_the_request_did_not_ask() {
    let pki = pki();
    let spec = request(b"the letter");
    let req = spec.to_der().expect("request");
    let issued = issue(&req, pki.now, 1, &pki.signer, &IssuePolicy::default());
    let token = granted_token(&issued.response).expect("granted");
    let trust = pki.trust();

    let other_doc = Expected::sha256_of(b"another letter");
    assert!(matches!(
        verify_token(token, &other_doc, &trust),
        Err(VerifyError::ImprintMismatch)
    ));
    let mut other_nonce = Expected::from_request(&req).expect("expected");
    other_nonce.nonce = Some(vec![0x42]);
    assert!(matches!(
        verify_token(token, &other_nonce, &trust),
        Err(VerifyError::NonceMismatch)
    ));
    let mut other_policy = Expected::from_request(&req).expect("expected");
    other_policy.policy = Some(ObjectIdentifier::new_unwrap("1.2.3.4"));
    assert!(matches!(
        verify_token(token, &other_policy, &trust),
        Err(VerifyError::PolicyMismatch { .. })
    ));
    // Same content, no nonce expected: fine.
    verify_token(token, &Expected::sha256_of(b"the letter"), &trust).expect("data matches");
}

#[test]
fn every_tampered_byte_of_the_token_is_caught() {
    let pki = pki();
    let req = request(b"tamper").to_der().expect("request");
    let issued = issue(&req, pki.now, 1, &pki.signer, &IssuePolicy::default());
    let token = granted_token(&issued.response).expect("granted").to_vec();
    let expected = Expected::from_request(&req).expect("expected");
    let trust = pki.trust();
    verify_token(&token, &expected, &trust).expect("untouched token verifies");
    // Flip one bit in each byte in turn: no single change leaves a valid token.
    for i in 0..token.len() {
        let mut t = token.clone();
        t[i] ^= 0x01;
        assert!(
            verify_token(&t, &expected, &trust).is_err(),
            "a flipped bit at offset {i} of {} still verifies",
            token.len()
        );
    }
}

#[test]
fn a_token_from_another_root_is_indeterminate_and_outside_validity_invalid() {
    let pki = pki();
    let req = request(b"doc").to_der().expect("request");
    let issued = issue(&req, pki.now, 1, &pki.signer, &IssuePolicy::default());
    let stranger = Authority::root("Stranger", pki.now - YEAR, pki.now + YEAR).expect("root");
    let err = verify_response(
        &issued.response,
        &req,
        &TrustStore::new([stranger.cert_der().to_vec()]),
    )
    .expect_err("unknown root");
    assert_eq!(err.verdict(), Verdict::Indeterminate, "{err}");

    // Issued two years on: the TSA certificate had expired at genTime.
    let late = issue(
        &req,
        pki.now + 2 * YEAR,
        2,
        &pki.signer,
        &IssuePolicy::default(),
    );
    let err = verify_response(&late.response, &req, &pki.trust()).expect_err("expired");
    assert!(
        matches!(err, VerifyError::Chain(webpki::Error::CertExpired { .. })),
        "{err}"
    );
    assert_eq!(err.verdict(), Verdict::Invalid);
}

#[test]
fn a_self_signed_tsa_is_refused_even_when_trusted() {
    let pki = pki();
    let rogue = rogue_self_signed(&LeafSpec::new(
        "Rogue TSA",
        Profile::TimeStamping { eku_critical: true },
        KeyAlgorithm::EcdsaP256,
        pki.now,
        YEAR,
    ))
    .expect("rogue");
    let signer =
        EcdsaP256Signer::new(&rogue.key_pkcs8_der(), rogue.cert_der(), &[]).expect("signer");
    let req = request(b"doc").to_der().expect("request");
    let issued = issue(&req, pki.now, 1, &signer, &IssuePolicy::default());
    let err = verify_response(
        &issued.response,
        &req,
        &TrustStore::new([rogue.cert_der().to_vec()]),
    )
    .expect_err("self-signed");
    assert!(matches!(err, VerifyError::SelfSigned), "{err}");
}

#[test]
fn a_signer_whose_certificate_is_unfit_cannot_be_loaded() {
    let pki = pki();
    for profile in [
        Profile::TimeStamping {
            eku_critical: false,
        },
        Profile::Seal,
        Profile::NoPurpose,
    ] {
        let cred = pki
            .issuing
            .issue(&LeafSpec::new(
                "Not a TSA",
                profile,
                KeyAlgorithm::EcdsaP256,
                pki.now,
                YEAR,
            ))
            .expect("cert");
        assert!(EcdsaP256Signer::new(&cred.key_pkcs8_der(), cred.cert_der(), &[]).is_err());
    }
    // A key that is not the certificate's.
    let other = pki
        .issuing
        .issue(&LeafSpec::new(
            "Other",
            Profile::TimeStamping { eku_critical: true },
            KeyAlgorithm::EcdsaP256,
            pki.now,
            YEAR,
        ))
        .expect("cert");
    assert!(EcdsaP256Signer::new(&other.key_pkcs8_der(), &pki.tsa_cert, &[]).is_err());
}

#[test]
fn the_response_is_der() {
    let pki = pki();
    let req = request(b"doc").to_der().expect("request");
    let issued = issue(&req, pki.now, 1, &pki.signer, &IssuePolicy::default());
    let resp = TimeStampResp::from_der(&issued.response).expect("parses");
    assert_eq!(resp.to_der().expect("re-encodes"), issued.response);
}

//! The WS-Security samples of ../shared/interop-samples (made by WSS4J, npm soap and by hand
//! from signed envelopes; see its README), each accepted or refused as the README says, and
//! refused for the right reason. Their Timestamps expired long ago: the clock is injected.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sealpost_xmldsig::dsig::{DsigError, IdPolicy};
use sealpost_xmldsig::trust::{TrustAnchors, TrustError};
use sealpost_xmldsig::wss::{
    FailureKind, KnownCertificates, WssError, WssPolicy, parse_date_time, verify_envelope,
};
use sealpost_xmldsig::{Limits, parse};

fn samples() -> PathBuf {
    sealpost_pki::interop_samples_dir()
}

fn pem(name: &str) -> Vec<u8> {
    CertificateDer::from_pem_file(samples().join("pki").join(name))
        .expect("certificate")
        .to_vec()
}

/// The moment just after the envelope's Timestamp was created.
fn just_after_creation(xml: &str) -> SystemTime {
    let start = xml.find("Created>").expect("a Created element") + "Created>".len();
    let end = start + xml[start..].find('<').expect("end");
    parse_date_time(&xml[start..end]).expect("date") + Duration::from_secs(1)
}

fn verify(name: &str, policy: WssPolicy) -> Result<String, WssError> {
    let xml = std::fs::read_to_string(samples().join(name)).expect("sample");
    let doc = parse(&xml, &Limits::default()).expect("well-formed");
    let known = KnownCertificates::new([pem("sender-rsa.pem"), pem("sender-ec.pem")]);
    let trust = TrustAnchors::new([pem("ca.pem")]);
    verify_envelope(&doc, just_after_creation(&xml), &policy, &known, &trust).map(|v| {
        // What the caller gets is the Body itself: hand back its first payload element.
        v.body
            .first_element_child()
            .map(|e| e.tag_name().name().to_owned())
            .unwrap_or_default()
    })
}

#[test]
fn envelopes_from_real_clients_are_accepted() {
    for name in [
        "wss4j-rsa-sha256-bst.xml",
        "wss4j-ec-sha256-bst-soap12.xml",
        "wss4j-rsa-sha256-ski.xml",
        "node-soap-rsa-sha256-wsuid.xml",
        "node-soap-ec-sha256-soap12.xml",
    ] {
        let payload = verify(name, WssPolicy::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!payload.is_empty(), "{name}: empty Body");
    }
}

#[test]
fn a_plain_id_is_accepted_only_when_the_policy_allows_it() {
    let name = "node-soap-rsa-defaults.xml";
    let err = verify(name, WssPolicy::default()).expect_err("plain Id refused by default");
    assert!(
        matches!(err, WssError::Signature(DsigError::DanglingReference(_))),
        "{err}"
    );
    let lax = WssPolicy {
        ids: IdPolicy {
            allow_plain_id: true,
        },
        ..WssPolicy::default()
    };
    verify(name, lax).expect("accepted with allow_plain_id");
}

#[test]
fn hostile_and_broken_envelopes_are_refused_for_the_right_reason() {
    let check = |name: &str, expected: &dyn Fn(&WssError) -> bool| {
        let err = verify(name, WssPolicy::default()).expect_err(name);
        assert!(expected(&err), "{name}: refused, but for {err:?}");
        err
    };
    check("negative-wss-tampered-body.xml", &|e| {
        matches!(e, WssError::Signature(DsigError::DigestMismatch(_)))
    });
    check("negative-wss-tampered-timestamp.xml", &|e| {
        matches!(e, WssError::Signature(DsigError::DigestMismatch(_)))
    });
    let untrusted = check("negative-wss-untrusted-signer.xml", &|e| {
        matches!(e, WssError::Untrusted(TrustError::SelfSigned))
    });
    assert_eq!(untrusted.kind(), FailureKind::FailedAuthentication);
    check("negative-wss-body-not-signed.xml", &|e| {
        matches!(e, WssError::BodyNotSigned)
    });
    // The signed Body moved into a header, a new one in its place: the signature is valid,
    // only "is the Body we process the one signed" catches it.
    check("negative-wss-xsw-wrapped-body.xml", &|e| {
        matches!(e, WssError::BodyNotSigned)
    });
    check("negative-wss-xsw-duplicate-id.xml", &|e| {
        matches!(e, WssError::Signature(DsigError::DuplicateId(_)))
    });
    // Broken client output: the token reference sits in the Signature, outside KeyInfo.
    check(
        "node-soap-withtoken-rsa.xml",
        &|e| matches!(e, WssError::Signature(DsigError::Malformed(m)) if m.contains("unexpected element")),
    );
}

#[test]
fn an_expired_message_is_refused_as_expired() {
    let xml = std::fs::read_to_string(samples().join("wss4j-rsa-sha256-bst.xml")).expect("sample");
    let doc = parse(&xml, &Limits::default()).expect("parse");
    let known = KnownCertificates::default();
    let trust = TrustAnchors::new([pem("ca.pem")]);
    let a_day_later = just_after_creation(&xml) + Duration::from_secs(86_400);
    let err = verify_envelope(&doc, a_day_later, &WssPolicy::default(), &known, &trust)
        .expect_err("expired");
    assert!(matches!(err, WssError::Expired(_)), "{err}");
    assert_eq!(err.kind(), FailureKind::MessageExpired);
    // And one from a day in the future.
    let a_day_before = just_after_creation(&xml) - Duration::from_secs(86_400);
    let err = verify_envelope(&doc, a_day_before, &WssPolicy::default(), &known, &trust)
        .expect_err("future");
    assert!(matches!(err, WssError::FromTheFuture(_)), "{err}");
}

#[test]
fn a_signer_unknown_to_the_registry_cannot_be_found_by_key_identifier() {
    let xml = std::fs::read_to_string(samples().join("wss4j-rsa-sha256-ski.xml")).expect("sample");
    let doc = parse(&xml, &Limits::default()).expect("parse");
    let known = KnownCertificates::new([pem("sender-ec.pem")]);
    let trust = TrustAnchors::new([pem("ca.pem")]);
    let err = verify_envelope(
        &doc,
        just_after_creation(&xml),
        &WssPolicy::default(),
        &known,
        &trust,
    )
    .expect_err("unknown");
    assert!(matches!(err, WssError::KeyReference(_)), "{err}");
}

mod proofs {
    use super::*;
    use sealpost_xmldsig::document::{DocumentError, verify_enveloped};
    use sealpost_xmldsig::dsig::AlgorithmPolicy;

    /// When the samples were made (their certificates valid): a proof carries no time of its
    /// own, so the time of a WS-Security sample made alongside it.
    fn samples_made() -> SystemTime {
        let wss =
            std::fs::read_to_string(samples().join("wss4j-rsa-sha256-bst.xml")).expect("sample");
        just_after_creation(&wss)
    }

    fn verify_proof(name: &str) -> Result<String, DocumentError> {
        let xml = std::fs::read_to_string(samples().join(name)).expect("sample");
        let doc = parse(&xml, &Limits::default()).expect("parse");
        let trust = TrustAnchors::new([pem("ca.pem")]);
        verify_enveloped(&doc, AlgorithmPolicy::default(), &trust, samples_made())
            .map(|v| v.signer.len().to_string())
    }

    #[test]
    fn xmlsec1_proofs_verify() {
        for name in ["proof-xmlsec1-ec.xml", "proof-xmlsec1-rsa.xml"] {
            verify_proof(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn tampered_and_rogue_proofs_are_refused() {
        let err = verify_proof("negative-proof-tampered.xml").expect_err("tampered");
        assert!(
            matches!(err, DocumentError::Signature(DsigError::DigestMismatch(_))),
            "{err}"
        );
        let err = verify_proof("negative-proof-rogue-x509.xml").expect_err("rogue certificate");
        assert!(
            matches!(err, DocumentError::Untrusted(TrustError::SelfSigned)),
            "{err}"
        );
        // xmlsec1 accepts this one unless told `--enabled-key-data x509`: a bare key is never
        // trusted here.
        let err = verify_proof("negative-proof-rogue-keyvalue.xml").expect_err("bare key");
        assert!(matches!(err, DocumentError::NoCertificate), "{err}");
    }
}

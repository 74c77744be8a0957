//! Any bytes as a document holding SAML assertions (2.0 or 1.1), as a SOAP envelope carrying
//! one in its Security header, and as a browser login's samlp:Response (what `POST /saml/acs`
//! reads): the assertion and response readers never panic and never accept
//! (no input here can carry a signature by the identity provider key made at start).
//!
//! Then, so that what is read after the signature (times, conditions, subject, confirmation,
//! statements) is reached too, each assertion that stands on its own is signed with that key
//! as its provider would sign it, and verified again: never a panic, and what verifies is
//! what was signed (its ID, and the SHA-256 of its canonical form).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealpost_evidence::model::Sha256;
use sealpost_pki::{KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{AlgorithmPolicy, IdIndex, IdPolicy};
use sealpost_xmldsig::saml::{
    IdentityProvider, SamlPolicy, SamlTrust, is_assertion, verify_assertion, verify_response,
};
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{KnownCertificates, WssPolicy, verify_envelope_with};
use sealpost_xmldsig::wss_sign::sign_assertion;
use sealpost_xmldsig::{Limits, parse};

mod common;

const NOW: u64 = 1_795_000_000;
/// The issuer and audience an input must name to get past the first checks.
const IDP: &str = "https://idp.fuzz.example/saml";
const AUDIENCE: &str = "urn:sealpost:fuzz";

struct Idp {
    trust: SamlTrust,
    signer: DocumentSigner,
}

/// One identity provider whose certificate (and key) is made once per process.
fn idp() -> &'static Idp {
    static IDP_FIXTURE: OnceLock<Idp> = OnceLock::new();
    IDP_FIXTURE.get_or_init(|| {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let idp = rogue_self_signed(&LeafSpec::new(
            "Fuzz identity provider",
            Profile::NoPurpose,
            KeyAlgorithm::EcdsaP256,
            now,
            Duration::from_secs(86_400),
        ))
        .expect("idp certificate");
        Idp {
            trust: SamlTrust {
                policy: SamlPolicy {
                    algorithms: AlgorithmPolicy::default(),
                    audience: AUDIENCE.into(),
                    max_clock_skew: Duration::from_secs(300),
                    max_age: Duration::from_secs(3600),
                },
                providers: vec![
                    IdentityProvider::new(IDP, &[idp.cert_der().to_vec()]).expect("provider"),
                ],
            },
            signer: DocumentSigner::new(&idp.key_pkcs8_der(), vec![idp.cert_der().to_vec()])
                .expect("signer"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse(text, &Limits::default()) else {
        return;
    };
    let idp = idp();
    let trust = &idp.trust;
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    if let Ok(ids) = IdIndex::build(&doc, IdPolicy::default()) {
        for node in doc.descendants().filter(is_assertion) {
            assert!(
                verify_assertion(node, &doc, &ids, now, &trust.policy, &trust.providers).is_err()
            );
        }
    }
    // A browser login's response, for the request it names (whatever it names).
    let request = doc.root_element().attribute("InResponseTo").unwrap_or("_fuzz");
    assert!(
        verify_response(
            &doc,
            now,
            &trust.policy,
            &trust.providers[0],
            "https://sealpost.fuzz/saml/acs",
            request,
        )
        .is_err()
    );
    let anchors = TrustAnchors::new([common::fixture_root()]);
    assert!(
        verify_envelope_with(
            &doc,
            now,
            &WssPolicy::default(),
            &KnownCertificates::default(),
            &anchors,
            trust,
        )
        .is_err()
    );

    // Signed by the provider: each assertion's own text (one that needs its ancestors'
    // namespace declarations does not parse alone, and is skipped).
    for node in doc.descendants().filter(is_assertion).take(4) {
        let Ok(signed) = sign_assertion(&text[node.range()], &idp.signer) else {
            continue;
        };
        let Ok(signed_doc) = parse(&signed, &Limits::default()) else {
            continue;
        };
        let Ok(ids) = IdIndex::build(&signed_doc, IdPolicy::default()) else {
            continue;
        };
        let root = signed_doc.root_element();
        if let Ok(verified) = verify_assertion(
            root,
            &signed_doc,
            &ids,
            now,
            &trust.policy,
            &trust.providers,
        ) {
            let id = root
                .attribute("ID")
                .or_else(|| root.attribute("AssertionID"));
            assert_eq!(Some(verified.id.as_str()), id);
            assert_eq!(verified.issuer, IDP);
            assert_eq!(Sha256::of(&verified.canonical).0, verified.canonical_sha256);
        }
    }
});

//! Envelopes we sign, then attack: what a sender relies on (a valid envelope verifies, and the
//! Body handed back is the one signed) and what an attacker tries (tampering, wrapping,
//! comment and whitespace tricks, namespace redefinition, a second Body, a Timestamp moved out
//! of the Security header, a swapped token, XXE, billion laughs, deep nesting, a
//! signature value rewritten to pass as another request).

use std::time::{Duration, SystemTime};

use sealpost_pki::{Authority, Credential, KeyAlgorithm, LeafSpec, Profile};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{DsigError, base64_decode, base64_encode};
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{
    KnownCertificates, SoapVersion, VerifiedEnvelope, WssError, WssPolicy, verify_envelope,
};
use sealpost_xmldsig::wss_sign::sign_envelope;
use sealpost_xmldsig::{Limits, XmlError, parse};

const YEAR: Duration = Duration::from_secs(365 * 86_400);
const TTL: Duration = Duration::from_secs(300);

struct Fixture {
    trust: TrustAnchors,
    signer: DocumentSigner,
    other: Credential,
    now: SystemTime,
}

fn fixture(key: KeyAlgorithm) -> Fixture {
    // A fixed time: signing and verifying both take it as a parameter.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let root = Authority::root("Root", now - YEAR, now + YEAR).expect("root");
    let issuing = root
        .issue_ca("Issuing", now - YEAR, now + YEAR)
        .expect("ca");
    let sender = issuing
        .issue(&LeafSpec::new("Sender", Profile::Sender, key, now, YEAR))
        .expect("sender");
    let other = issuing
        .issue(&LeafSpec::new(
            "Other sender",
            Profile::Sender,
            KeyAlgorithm::EcdsaP256,
            now,
            YEAR,
        ))
        .expect("other");
    Fixture {
        trust: TrustAnchors::new([root.cert_der().to_vec()])
            .with_intermediates([issuing.cert_der().to_vec()]),
        signer: DocumentSigner::new(&sender.key_pkcs8_der(), vec![sender.cert_der().to_vec()])
            .expect("signer"),
        other,
        now,
    }
}

const SOAP11: &str = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Header/><soapenv:Body><sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:test\"><sp:Recipient>nrn:85073003328</sp:Recipient><sp:Subject>Tax assessment 2026</sp:Subject></sp:SubmitRegisteredMail></soapenv:Body></soapenv:Envelope>";
const SOAP12: &str = "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\">\n  <env:Body>\n    <sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:test\"><sp:Recipient>cbe:0203201340</sp:Recipient></sp:SubmitRegisteredMail>\n  </env:Body>\n</env:Envelope>";

impl Fixture {
    fn signed(&self, envelope: &str) -> String {
        sign_envelope(envelope, &self.signer, self.now, TTL).expect("sign")
    }

    fn check<'a, 'i>(
        &self,
        doc: &'a roxmltree::Document<'i>,
    ) -> Result<VerifiedEnvelope<'a, 'i>, WssError> {
        verify_envelope(
            doc,
            self.now + Duration::from_secs(1),
            &WssPolicy::default(),
            &KnownCertificates::default(),
            &self.trust,
        )
    }

    fn verify(&self, xml: &str) -> Result<String, WssError> {
        let doc = parse(xml, &Limits::default()).map_err(|e| WssError::NotSoap(e.to_string()))?;
        self.check(&doc).map(|v| {
            v.body
                .descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
                .collect()
        })
    }
}

#[test]
fn envelopes_we_sign_verify_and_hand_back_their_body() {
    for key in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let f = fixture(key);
        for (envelope, version) in [(SOAP11, SoapVersion::Soap11), (SOAP12, SoapVersion::Soap12)] {
            let signed = f.signed(envelope);
            let doc = parse(&signed, &Limits::default()).expect("parse");
            let verified = f.check(&doc).expect("verifies");
            assert_eq!(verified.soap_version, version);
            assert_eq!(verified.signer, f.signer.certificates()[0]);
            assert_eq!(verified.body.tag_name().name(), "Body");
            assert_eq!(verified.signed.len(), 2);
        }
    }
}

#[test]
fn tampering_anywhere_signed_is_caught() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    for (from, to) in [
        ("nrn:85073003328", "nrn:85073003329"),
        ("Tax assessment 2026", "Tax  assessment 2026"),
        ("<wsu:Expires>", "<wsu:Expires>2"),
    ] {
        let tampered = signed.replacen(from, to, 1);
        assert_ne!(tampered, signed);
        let err = f.verify(&tampered).expect_err(from);
        assert!(
            matches!(
                err,
                WssError::Signature(DsigError::DigestMismatch(_)) | WssError::Timestamp(_)
            ),
            "{from}: {err}"
        );
    }
}

#[test]
fn comments_and_insignificant_whitespace_are_not_signed_and_change_nothing() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    let original = f.verify(&signed).expect("verifies");
    // A comment splitting a text node: still valid (comments are outside the signed node-set),
    // and the text the caller reads is the text that was signed.
    let commented = signed.replacen("nrn:8507", "nrn:8507<!-- injected -->", 1);
    assert_eq!(
        f.verify(&commented).expect("comments are not signed"),
        original
    );
    // Whitespace between attributes is canonicalized away; whitespace in content is not.
    let spaced = signed.replacen(
        "<sp:SubmitRegisteredMail xmlns:sp",
        "<sp:SubmitRegisteredMail   xmlns:sp",
        1,
    );
    assert_eq!(f.verify(&spaced).expect("attribute whitespace"), original);
    let content = signed.replacen("<sp:Subject>", "<sp:Subject> ", 1);
    assert!(f.verify(&content).is_err());
}

#[test]
fn redefining_a_namespace_breaks_the_signature() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    let redefined = signed.replacen(
        "xmlns:sp=\"urn:sealpost:test\"",
        "xmlns:sp=\"urn:attacker\"",
        1,
    );
    assert!(matches!(
        f.verify(&redefined),
        Err(WssError::Signature(DsigError::DigestMismatch(_)))
    ));
}

#[test]
fn wrapping_attacks_are_refused() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    let body_start = signed.find("<soapenv:Body").expect("body");
    let body_end = signed.find("</soapenv:Envelope>").expect("end");
    let signed_body = &signed[body_start..body_end];
    let evil_body = "<soapenv:Body><sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:test\"><sp:Recipient>nrn:00000000097</sp:Recipient></sp:SubmitRegisteredMail></soapenv:Body>";

    // The signed Body moved into a header element, an unsigned one in its place.
    let wrapped = format!(
        "{}<Wrapper xmlns=\"urn:evil\">{signed_body}</Wrapper></soapenv:Header>{evil_body}</soapenv:Envelope>",
        &signed[..signed.find("</soapenv:Header>").expect("header end")]
    );
    assert!(
        matches!(f.verify(&wrapped), Err(WssError::BodyNotSigned)),
        "{:?}",
        f.verify(&wrapped)
    );

    // The attacker's Body reuses the signed Id: duplicate Ids are refused outright.
    let evil_with_id = evil_body.replacen(
        "<soapenv:Body>",
        "<soapenv:Body xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\" wsu:Id=\"id-body\">",
        1,
    );
    let duplicated = format!(
        "{}<Wrapper xmlns=\"urn:evil\">{signed_body}</Wrapper></soapenv:Header>{evil_with_id}</soapenv:Envelope>",
        &signed[..signed.find("</soapenv:Header>").expect("header end")]
    );
    assert!(matches!(
        f.verify(&duplicated),
        Err(WssError::Signature(DsigError::DuplicateId(_)))
    ));

    // A second Body after the signed one.
    let two_bodies = signed.replacen(
        "</soapenv:Envelope>",
        &format!("{evil_body}</soapenv:Envelope>"),
        1,
    );
    assert!(matches!(f.verify(&two_bodies), Err(WssError::NotSoap(_))));
}

#[test]
fn a_timestamp_moved_out_of_the_security_header_is_refused() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    let ts_start = signed.find("<wsu:Timestamp").expect("ts");
    let ts_end = signed.find("</wsu:Timestamp>").expect("ts end") + "</wsu:Timestamp>".len();
    let timestamp = &signed[ts_start..ts_end];
    let moved = signed
        .replacen(timestamp, "", 1)
        .replacen("</soapenv:Header>", &format!("{}</soapenv:Header>", timestamp.replacen("<wsu:Timestamp", "<wsu:Timestamp xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\"", 1)), 1);
    assert!(
        matches!(
            f.verify(&moved),
            Err(WssError::Cardinality("wsu:Timestamp"))
        ),
        "{:?}",
        f.verify(&moved)
    );
}

#[test]
fn a_token_swapped_for_another_senders_certificate_is_refused() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    let ours = base64_encode(&f.signer.certificates()[0]);
    let theirs = base64_encode(f.other.cert_der());
    let swapped = signed.replacen(&ours, &theirs, 1);
    assert!(matches!(
        f.verify(&swapped),
        Err(WssError::Signature(DsigError::BadSignature))
    ));
}

#[test]
fn xxe_billion_laughs_and_deep_nesting_never_reach_verification() {
    for xml in [
        "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>&x;</soapenv:Body></soapenv:Envelope>",
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]><lolz>&lol2;</lolz>",
    ] {
        assert_eq!(
            parse(xml, &Limits::default()).map(|_| ()),
            Err(XmlError::Doctype)
        );
    }
    let deep = format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>{}{}</soapenv:Body></soapenv:Envelope>",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    assert_eq!(
        parse(&deep, &Limits::default()).map(|_| ()),
        Err(XmlError::TooDeep(64))
    );
}

/// The order n of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// An XML-DSig ECDSA P-256 value r || s rewritten as r || (n - s): as valid, other bytes.
fn high_s(value: &[u8]) -> Vec<u8> {
    let (r, s) = value.split_at(32);
    let mut out = r.to_vec();
    let mut borrow = 0i16;
    let mut flipped = [0u8; 32];
    for i in (0..32).rev() {
        let mut d = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        flipped[i] = u8::try_from(d).expect("a byte");
    }
    out.extend_from_slice(&flipped);
    out
}

fn signature_value(xml: &str) -> &str {
    let start = xml.find("<ds:SignatureValue>").expect("SignatureValue") + 19;
    let end = start + xml[start..].find("</ds:SignatureValue>").expect("end");
    &xml[start..end]
}

#[test]
fn an_ecdsa_signature_rewritten_to_high_s_names_the_same_signed_content() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    let value = signature_value(&signed);
    let rewritten = signed.replacen(
        value,
        &base64_encode(&high_s(&base64_decode(value).expect("base64"))),
        1,
    );
    assert_ne!(rewritten, signed);
    let (doc, doc_rewritten) = (
        parse(&signed, &Limits::default()).expect("parse"),
        parse(&rewritten, &Limits::default()).expect("parse"),
    );
    let first = f.check(&doc).expect("verifies");
    // Still a valid signature: only a check keyed on what was signed sees the same request.
    let again = f.check(&doc_rewritten).expect("(r, n - s) verifies too");
    assert_eq!(first.signed_info_sha256, again.signed_info_sha256);
    // The same content signed anew (another Created) is another request.
    let later =
        sign_envelope(SOAP11, &f.signer, f.now + Duration::from_secs(1), TTL).expect("sign");
    let doc_later = parse(&later, &Limits::default()).expect("parse");
    assert_ne!(
        f.check(&doc_later).expect("verifies").signed_info_sha256,
        first.signed_info_sha256
    );
}

#[test]
fn a_comment_inside_a_signed_value_of_the_security_header_is_refused_not_skipped() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let signed = f.signed(SOAP11);
    // Comments are outside the signed node-set: the signature still verifies, so only the
    // reader can tell the value was split.
    let created = signed.find("<wsu:Created>").expect("Created") + 13;
    let mut split_time = signed.clone();
    split_time.insert_str(created + 4, "<!---->");
    assert!(matches!(f.verify(&split_time), Err(WssError::Timestamp(_))));
    let token = signed.find("EncodingType").expect("token");
    let token = token + signed[token..].find('>').expect("token text") + 1;
    let mut split_token = signed.clone();
    split_token.insert_str(token + 8, "<!-- -->");
    assert!(matches!(
        f.verify(&split_token),
        Err(WssError::KeyReference(_))
    ));
}

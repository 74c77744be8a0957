//! SAML assertions in WS-Security headers (SAML Token Profile 1.1): what an agency relies on
//! (an assertion of its identity provider, bound to its application's signature, is read
//! exactly as signed) and what an attacker tries: an unsigned, tampered or wrapped assertion,
//! a comment inside the NameID, an assertion out of its time or for another audience, from a
//! provider nobody configured, for another key, with the bearer method, or not covered by the
//! message's signature.

use std::time::{Duration, SystemTime};

use sealpost_pki::{Authority, Credential, KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{AlgorithmPolicy, DsigError, base64_encode};
use sealpost_xmldsig::saml::{
    Confirmation, IdentityProvider, SamlError, SamlPolicy, SamlTrust, SamlVersion,
};
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{KnownCertificates, WssError, WssPolicy, verify_envelope_with};
use sealpost_xmldsig::wss_sign::{
    SamlBinding, format_date_time, sign_assertion, sign_envelope, sign_envelope_with_assertion,
};
use sealpost_xmldsig::{Limits, parse};

const YEAR: Duration = Duration::from_secs(365 * 86_400);
const TTL: Duration = Duration::from_secs(300);
const IDP: &str = "https://idp.agency-a.example/saml";
const AUDIENCE: &str = "urn:sealpost:test";
const ENVELOPE: &str = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><sp:GetMessageStatus xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>m-1</sp:MessageId></sp:GetMessageStatus></soapenv:Body></soapenv:Envelope>";

struct Fixture {
    trust: TrustAnchors,
    sender: Credential,
    other: Credential,
    idp: DocumentSigner,
    rogue_idp: DocumentSigner,
    saml: SamlTrust,
    now: SystemTime,
}

fn signer(c: &Credential) -> DocumentSigner {
    DocumentSigner::new(&c.key_pkcs8_der(), vec![c.cert_der().to_vec()]).expect("signer")
}

fn fixture() -> Fixture {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let root = Authority::root("Root", now - YEAR, now + YEAR).expect("root");
    let issuing = root
        .issue_ca("Issuing", now - YEAR, now + YEAR)
        .expect("ca");
    let leaf = |name: &str| {
        issuing
            .issue(&LeafSpec::new(
                name,
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now - YEAR / 2,
                YEAR,
            ))
            .expect("sender")
    };
    let idp_spec = |name: &str| {
        LeafSpec::new(
            name,
            Profile::NoPurpose,
            KeyAlgorithm::Rsa2048,
            now - YEAR / 2,
            YEAR,
        )
    };
    let idp = rogue_self_signed(&idp_spec("Identity provider")).expect("idp");
    let rogue = rogue_self_signed(&idp_spec("Identity provider")).expect("rogue idp");
    Fixture {
        trust: TrustAnchors::new([root.cert_der().to_vec()])
            .with_intermediates([issuing.cert_der().to_vec()]),
        sender: leaf("Agency A application"),
        other: leaf("Agency B application"),
        saml: SamlTrust {
            policy: SamlPolicy {
                algorithms: AlgorithmPolicy::default(),
                audience: AUDIENCE.into(),
                max_clock_skew: Duration::from_secs(60),
                max_age: Duration::from_secs(3600),
            },
            providers: vec![
                IdentityProvider::new(IDP, &[idp.cert_der().to_vec()]).expect("provider"),
            ],
        },
        idp: signer(&idp),
        rogue_idp: signer(&rogue),
        now,
    }
}

/// What an assertion says, to vary one thing at a time.
#[derive(Clone)]
struct Claims {
    id: &'static str,
    issuer: &'static str,
    issued: SystemTime,
    not_before: SystemTime,
    not_on_or_after: SystemTime,
    audience: &'static str,
    name_id: String,
    method: &'static str,
    /// The holder's certificate (holder-of-key).
    holder: Option<Vec<u8>>,
    pagm: &'static str,
}

impl Fixture {
    fn claims(&self, holder: Option<&Credential>) -> Claims {
        Claims {
            id: "_a1b2c3",
            issuer: IDP,
            issued: self.now - Duration::from_secs(10),
            not_before: self.now - Duration::from_secs(60),
            not_on_or_after: self.now + Duration::from_secs(300),
            audience: AUDIENCE,
            name_id: "85073003328".into(),
            method: if holder.is_some() {
                "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
            } else {
                "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"
            },
            holder: holder.map(|c| c.cert_der().to_vec()),
            pagm: "tax-officer",
        }
    }

    fn verify(
        &self,
        envelope: &str,
    ) -> Result<sealpost_xmldsig::saml::VerifiedAssertion, WssError> {
        let doc = parse(envelope, &Limits::default()).expect("parse");
        verify_envelope_with(
            &doc,
            self.now,
            &WssPolicy::default(),
            &KnownCertificates::default(),
            &self.trust,
            &self.saml,
        )
        .map(|v| v.assertion.expect("the assertion"))
    }

    /// The envelope of `sender`, carrying `assertion`.
    fn envelope(&self, sender: &Credential, assertion: &str, binding: SamlBinding) -> String {
        sign_envelope_with_assertion(
            ENVELOPE,
            &signer(sender),
            self.now - Duration::from_secs(1),
            TTL,
            assertion,
            binding,
        )
        .expect("sign the envelope")
    }
}

fn saml2(c: &Claims) -> String {
    let confirmation_data = match &c.holder {
        Some(cert) => format!(
            "<saml:SubjectConfirmationData xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"saml:KeyInfoConfirmationDataType\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></saml:SubjectConfirmationData>",
            base64_encode(cert)
        ),
        None => String::new(),
    };
    format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{issued}\"><saml:Issuer>{issuer}</saml:Issuer><saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">{name}</saml:NameID><saml:SubjectConfirmation Method=\"{method}\">{confirmation_data}</saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{na}\"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant=\"{issued}\"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name=\"urn:sealpost:interops:organisation\"><saml:AttributeValue>agency-a</saml:AttributeValue></saml:Attribute><saml:Attribute Name=\"urn:sealpost:interops:pagm\"><saml:AttributeValue>{pagm}</saml:AttributeValue><saml:AttributeValue>reader</saml:AttributeValue></saml:Attribute><saml:Attribute Name=\"urn:sealpost:interops:authentication-level\"><saml:AttributeValue>3</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>",
        id = c.id,
        issued = format_date_time(c.issued),
        issuer = c.issuer,
        name = c.name_id,
        method = c.method,
        nb = format_date_time(c.not_before),
        na = format_date_time(c.not_on_or_after),
        audience = c.audience,
        pagm = c.pagm,
    )
}

fn saml11(c: &Claims) -> String {
    let (method, key_info) = match &c.holder {
        Some(cert) => (
            "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key",
            format!(
                "<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
                base64_encode(cert)
            ),
        ),
        None => (
            "urn:oasis:names:tc:SAML:1.0:cm:sender-vouches",
            String::new(),
        ),
    };
    let subject = format!(
        "<saml:Subject><saml:NameIdentifier>{}</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>{method}</saml:ConfirmationMethod>{key_info}</saml:SubjectConfirmation></saml:Subject>",
        c.name_id
    );
    format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" MajorVersion=\"1\" MinorVersion=\"1\" AssertionID=\"{id}\" Issuer=\"{issuer}\" IssueInstant=\"{issued}\"><saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{na}\"><saml:AudienceRestrictionCondition><saml:Audience>{audience}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions><saml:AuthenticationStatement AuthenticationMethod=\"urn:ietf:rfc:2246\" AuthenticationInstant=\"{issued}\">{subject}</saml:AuthenticationStatement><saml:AttributeStatement>{subject}<saml:Attribute AttributeName=\"urn:sealpost:interops:pagm\" AttributeNamespace=\"urn:sealpost:interops\"><saml:AttributeValue>{pagm}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>",
        id = c.id,
        issuer = c.issuer,
        issued = format_date_time(c.issued),
        nb = format_date_time(c.not_before),
        na = format_date_time(c.not_on_or_after),
        audience = c.audience,
        pagm = c.pagm,
    )
}

fn signed(xml: &str, by: &DocumentSigner) -> String {
    sign_assertion(xml, by).expect("sign the assertion")
}

#[test]
fn a_holder_of_key_assertion_is_read_as_its_provider_signed_it() {
    let f = fixture();
    let assertion = signed(&saml2(&f.claims(Some(&f.sender))), &f.idp);
    let read = f
        .verify(&f.envelope(&f.sender, &assertion, SamlBinding::HolderOfKey))
        .expect("accepted");
    assert_eq!(read.version, SamlVersion::V2_0);
    assert_eq!(read.issuer, IDP);
    assert_eq!(read.id, "_a1b2c3");
    assert_eq!(read.subject, "85073003328");
    assert_eq!(
        read.values("urn:sealpost:interops:pagm"),
        ["tax-officer", "reader"]
    );
    assert_eq!(
        read.values("urn:sealpost:interops:authentication-level"),
        ["3"]
    );
    assert_eq!(
        read.authentication_context.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:ac:classes:X509")
    );
    assert!(matches!(
        read.confirmation,
        Confirmation::HolderOfKey { .. }
    ));
    // The archived form verifies on its own.
    let text = String::from_utf8(read.canonical.clone()).expect("utf-8");
    assert!(text.starts_with("<saml:Assertion") && text.contains("SignatureValue"));
}

#[test]
fn a_sender_vouches_assertion_travels_with_the_applications_certificate() {
    let f = fixture();
    let assertion = signed(&saml2(&f.claims(None)), &f.idp);
    let read = f
        .verify(&f.envelope(&f.sender, &assertion, SamlBinding::SenderVouches))
        .expect("accepted");
    assert_eq!(read.confirmation, Confirmation::SenderVouches);
}

#[test]
fn saml_1_1_assertions_of_older_clients_are_read_too() {
    let f = fixture();
    for holder in [Some(&f.sender), None] {
        let assertion = signed(&saml11(&f.claims(holder)), &f.idp);
        let binding = if holder.is_some() {
            SamlBinding::HolderOfKey
        } else {
            SamlBinding::SenderVouches
        };
        let read = f
            .verify(&f.envelope(&f.sender, &assertion, binding))
            .expect("accepted");
        assert_eq!(read.version, SamlVersion::V1_1);
        assert_eq!(read.subject, "85073003328");
        assert_eq!(read.values("urn:sealpost:interops:pagm"), ["tax-officer"]);
    }
}

fn refused(f: &Fixture, assertion: &str, binding: SamlBinding) -> WssError {
    f.verify(&f.envelope(&f.sender, assertion, binding))
        .expect_err("refused")
}

#[test]
fn an_unsigned_or_tampered_assertion_is_refused() {
    let f = fixture();
    let claims = f.claims(None);
    let e = refused(&f, &saml2(&claims), SamlBinding::SenderVouches);
    assert!(
        matches!(e, WssError::Assertion(SamlError::NotSigned)),
        "{e}"
    );
    // The agent's rights raised after the provider signed (the envelope signed afterwards).
    let raised = signed(&saml2(&claims), &f.idp).replace(">reader<", ">director<");
    let e = refused(&f, &raised, SamlBinding::SenderVouches);
    assert!(
        matches!(
            e,
            WssError::Assertion(SamlError::Signature(DsigError::DigestMismatch(_)))
        ),
        "{e}"
    );
}

#[test]
fn an_assertion_signed_by_anyone_but_its_configured_provider_is_refused() {
    let f = fixture();
    let claims = f.claims(None);
    // The provider's name, signed by another key (whose certificate it carries).
    let e = refused(
        &f,
        &signed(&saml2(&claims), &f.rogue_idp),
        SamlBinding::SenderVouches,
    );
    assert!(
        matches!(
            e,
            WssError::Assertion(SamlError::Signature(DsigError::BadSignature))
        ),
        "{e}"
    );
    let stranger = Claims {
        issuer: "https://idp.elsewhere.example",
        ..claims
    };
    let e = refused(
        &f,
        &signed(&saml2(&stranger), &f.rogue_idp),
        SamlBinding::SenderVouches,
    );
    assert!(
        matches!(e, WssError::Assertion(SamlError::UntrustedIssuer(_))),
        "{e}"
    );
}

#[test]
fn signature_wrapping_around_a_genuine_assertion_is_refused() {
    let f = fixture();
    let genuine = signed(&saml2(&f.claims(None)), &f.idp);
    let evil_claims = Claims {
        id: "_evil",
        name_id: "00000000097".into(),
        pagm: "director",
        ..f.claims(None)
    };
    let evil = saml2(&evil_claims);
    // 1. The genuine assertion hidden in the evil one's Advice, its signature moved up.
    let signature_start = genuine.find("<ds:Signature").expect("signature");
    let signature_end = genuine.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let signature = &genuine[signature_start..signature_end];
    let genuine_unsigned = format!(
        "{}{}",
        &genuine[..signature_start],
        &genuine[signature_end..]
    );
    let issuer_end = evil.find("</saml:Issuer>").expect("issuer") + "</saml:Issuer>".len();
    let wrapped = format!(
        "{}{signature}{}",
        &evil[..issuer_end],
        evil[issuer_end..].replace(
            "</saml:Assertion>",
            &format!("<saml:Advice>{genuine_unsigned}</saml:Advice></saml:Assertion>")
        )
    );
    let e = refused(&f, &wrapped, SamlBinding::SenderVouches);
    assert!(
        matches!(e, WssError::Assertion(SamlError::NotSigned)),
        "{e}"
    );
    // 2. The evil assertion takes the genuine one's ID, the genuine one wrapped inside it.
    let same_id = wrapped.replace("ID=\"_evil\"", "ID=\"_a1b2c3\"");
    let e = refused(&f, &same_id, SamlBinding::SenderVouches);
    assert!(
        matches!(e, WssError::Signature(DsigError::DuplicateId(_))),
        "{e}"
    );
    // 3. The genuine assertion whole inside the evil one's Advice.
    let nested = evil.replace(
        "</saml:Assertion>",
        &format!("<saml:Advice>{genuine}</saml:Advice></saml:Assertion>"),
    );
    let e = refused(&f, &nested, SamlBinding::SenderVouches);
    assert!(
        matches!(e, WssError::Assertion(SamlError::NotSigned)),
        "{e}"
    );
}

#[test]
fn a_comment_inside_the_name_id_is_refused_not_skipped() {
    let f = fixture();
    // Exclusive C14N drops comments: the provider's signature still verifies over
    // "85073003328", while a first-text-node reader would read "850".
    let assertion =
        signed(&saml2(&f.claims(None)), &f.idp).replace(">85073003328<", ">850<!-- -->73003328<");
    let e = refused(&f, &assertion, SamlBinding::SenderVouches);
    assert!(
        matches!(e, WssError::Assertion(SamlError::Malformed(ref m)) if m.contains("comment")),
        "{e}"
    );
}

#[test]
fn an_assertion_out_of_its_time_or_for_another_audience_is_refused() {
    let f = fixture();
    let base = f.claims(None);
    let hour = Duration::from_secs(3600);
    let cases = [
        Claims {
            not_on_or_after: f.now - hour,
            ..base.clone()
        },
        Claims {
            not_before: f.now + hour,
            ..base.clone()
        },
        Claims {
            issued: f.now + hour,
            ..base.clone()
        },
        // Issued long ago, however long its provider let it live.
        Claims {
            issued: f.now - 3 * hour,
            not_before: f.now - 3 * hour,
            not_on_or_after: f.now + hour,
            ..base.clone()
        },
    ];
    for claims in cases {
        let e = refused(
            &f,
            &signed(&saml2(&claims), &f.idp),
            SamlBinding::SenderVouches,
        );
        assert!(
            matches!(
                e,
                WssError::Assertion(SamlError::Expired(_) | SamlError::NotYetValid(_))
            ),
            "{e}"
        );
    }
    let elsewhere = Claims {
        audience: "urn:another:provider",
        ..base
    };
    let e = refused(
        &f,
        &signed(&saml2(&elsewhere), &f.idp),
        SamlBinding::SenderVouches,
    );
    assert!(matches!(e, WssError::Assertion(SamlError::Audience)), "{e}");
}

#[test]
fn a_holder_of_key_assertion_for_another_key_is_refused() {
    let f = fixture();
    // The assertion names agency B's application; agency A's signs the message.
    let theirs = signed(&saml2(&f.claims(Some(&f.other))), &f.idp);
    let e = refused(&f, &theirs, SamlBinding::HolderOfKey);
    assert!(
        matches!(e, WssError::Signature(DsigError::BadSignature)),
        "{e}"
    );
    let e = refused(&f, &theirs, SamlBinding::SenderVouches);
    assert!(matches!(e, WssError::NotTheHolder), "{e}");
}

#[test]
fn the_bearer_method_does_not_bind_an_assertion_to_a_message() {
    let f = fixture();
    let bearer = Claims {
        method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
        ..f.claims(None)
    };
    let e = refused(
        &f,
        &signed(&saml2(&bearer), &f.idp),
        SamlBinding::SenderVouches,
    );
    assert!(
        matches!(e, WssError::Assertion(SamlError::Confirmation(_))),
        "{e}"
    );
}

#[test]
fn an_assertion_the_message_signature_does_not_cover_is_refused() {
    let f = fixture();
    let assertion = signed(&saml2(&f.claims(None)), &f.idp);
    // Signed without it, then slipped into the Security header.
    let envelope = sign_envelope(
        ENVELOPE,
        &signer(&f.sender),
        f.now - Duration::from_secs(1),
        TTL,
    )
    .expect("sign");
    let at = envelope.find("<wsu:Timestamp").expect("timestamp");
    let slipped = format!("{}{assertion}{}", &envelope[..at], &envelope[at..]);
    let e = f.verify(&slipped).expect_err("refused");
    assert!(matches!(e, WssError::AssertionNotSigned), "{e}");
}

#[test]
fn without_a_configured_provider_every_assertion_is_refused() {
    let f = fixture();
    let assertion = signed(&saml2(&f.claims(None)), &f.idp);
    let envelope = f.envelope(&f.sender, &assertion, SamlBinding::SenderVouches);
    let doc = parse(&envelope, &Limits::default()).expect("parse");
    let e = sealpost_xmldsig::wss::verify_envelope(
        &doc,
        f.now,
        &WssPolicy::default(),
        &KnownCertificates::default(),
        &f.trust,
    )
    .expect_err("refused");
    assert!(
        matches!(e, WssError::Assertion(SamlError::UntrustedIssuer(_))),
        "{e}"
    );
}

const ACS: &str = "https://sealpost.example/saml/acs";

/// A browser login's Response to request `_req1`, its assertion a bearer one for `recipient`
/// answering `answers`, signed by `by`.
fn response(
    f: &Fixture,
    recipient: &str,
    answers: &str,
    by: &DocumentSigner,
    status: &str,
) -> String {
    let claims = Claims {
        method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
        ..f.claims(None)
    };
    let assertion = saml2(&claims).replace(
        "</saml:SubjectConfirmation>",
        &format!(
            "<saml:SubjectConfirmationData Recipient=\"{recipient}\" InResponseTo=\"{answers}\" NotOnOrAfter=\"{}\"/></saml:SubjectConfirmation>",
            format_date_time(f.now + Duration::from_secs(300))
        ),
    );
    format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_resp\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{ACS}\" InResponseTo=\"_req1\"><samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>{}</samlp:Response>",
        format_date_time(f.now),
        signed(&assertion, by)
    )
}

fn check_response(
    f: &Fixture,
    xml: &str,
) -> Result<sealpost_xmldsig::saml::VerifiedAssertion, SamlError> {
    let doc = parse(xml, &Limits::default()).expect("parse");
    sealpost_xmldsig::saml::verify_response(
        &doc,
        f.now,
        &f.saml.policy,
        &f.saml.providers[0],
        ACS,
        "_req1",
    )
}

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

#[test]
fn a_browser_login_response_is_accepted_for_our_request_at_our_address_only() {
    let f = fixture();
    let read = check_response(&f, &response(&f, ACS, "_req1", &f.idp, SUCCESS)).expect("accepted");
    assert_eq!(read.confirmation, Confirmation::Bearer);
    assert_eq!(read.subject, "85073003328");
    for (what, xml) in [
        (
            "for another address",
            response(
                &f,
                "https://elsewhere.example/acs",
                "_req1",
                &f.idp,
                SUCCESS,
            ),
        ),
        (
            "answering another request",
            response(&f, ACS, "_req0", &f.idp, SUCCESS),
        ),
        (
            "signed by another key",
            response(&f, ACS, "_req1", &f.rogue_idp, SUCCESS),
        ),
        (
            "a failure status",
            response(
                &f,
                ACS,
                "_req1",
                &f.idp,
                "urn:oasis:names:tc:SAML:2.0:status:Responder",
            ),
        ),
        (
            "the Response's own fields for another request",
            response(&f, ACS, "_req1", &f.idp, SUCCESS)
                .replace("InResponseTo=\"_req1\">", "InResponseTo=\"_req2\">"),
        ),
    ] {
        assert!(check_response(&f, &xml).is_err(), "{what}");
    }
    // A second assertion beside the signed one.
    let two = response(&f, ACS, "_req1", &f.idp, SUCCESS);
    let at = two.find("<saml:Assertion").expect("assertion");
    let doubled = format!(
        "{}{}{}",
        &two[..at],
        saml2(&f.claims(None)).replace("_a1b2c3", "_a2"),
        &two[at..]
    );
    assert!(check_response(&f, &doubled).is_err(), "two assertions");
    // A holder-of-key assertion is not a browser login.
    let hok = signed(&saml2(&f.claims(Some(&f.sender))), &f.idp);
    let xml = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" Version=\"2.0\" Destination=\"{ACS}\" InResponseTo=\"_req1\"><samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status>{hok}</samlp:Response>"
    );
    assert!(matches!(
        check_response(&f, &xml),
        Err(SamlError::Confirmation(_))
    ));
}

#[test]
fn a_bearer_assertion_is_never_a_message_token() {
    let f = fixture();
    let xml = response(&f, ACS, "_req1", &f.idp, SUCCESS);
    let start = xml.find("<saml:Assertion").expect("start");
    let end = xml.rfind("</samlp:Response>").expect("end");
    let e = refused(&f, &xml[start..end], SamlBinding::SenderVouches);
    assert!(
        matches!(e, WssError::Assertion(SamlError::Confirmation(_))),
        "{e}"
    );
}

//! The SOAP channel: a letter accepted with a proof only its sender gets back, SOAP 1.2,
//! idempotency, and every row of the error table a SOAP request reaches.

use std::time::Duration;

use sealpost_interop::{
    CITIZEN, COMPANY, NS_SOAP11, NS_SOAP12, dev_signer, expect_fault_code as code, https_raw,
    require_tool, run, signed_soap, system_now, text, xml_text as field,
};
use sealpost_pki::{KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
use sealpost_xmldsig::document::DocumentSigner;

use super::{
    INACTIVE, Letter, MAX_DOCUMENT_BYTES, NOBODY, as_sender, court_verifies, evidence_of, fields,
    fixture, post, rejected,
};

#[test]
fn a_letter_is_accepted_with_a_proof_only_its_sender_gets_back() {
    let f = fixture();
    let letter = Letter::new("accept-1", CITIZEN);
    let r = as_sender(&f, "sender-a", &letter.body());
    let body = text(&r.body);
    assert_eq!(r.status, 200, "{body}");
    let message_id = field(&body, "MessageId").expect("message id");
    let evidence = evidence_of(&field(&body, "Evidence").expect("evidence"));
    assert!(
        evidence.contains("Event/SubmissionAcceptance"),
        "{evidence}"
    );
    let (code_, report) = court_verifies(&f, &evidence, Some(&letter.document));
    assert_eq!(code_, 0, "{report}");
    assert!(report.contains("handed document \"avis.pdf\""), "{report}");

    // The sender gets the acceptance and the consignment back.
    let get = format!(
        "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
    );
    let r = as_sender(&f, "sender-a", &get);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let evidences: Vec<String> = fields(&text(&r.body), "Evidence")
        .iter()
        .map(|e| evidence_of(e))
        .collect();
    assert_eq!(evidences.len(), 2);
    assert_eq!(evidences[0], evidence);
    assert!(evidences[1].contains("Event/ContentConsignment"));
    assert_eq!(court_verifies(&f, &evidences[1], None).0, 0);
    // Both name the letter by the id submit returned, and the sender's reference apart.
    for e in &evidences {
        assert!(
            e.contains(&format!("<ev:MessageId>{message_id}</ev:MessageId>")),
            "{e}"
        );
        assert!(
            e.contains(&format!(
                "<ev:SenderReference>REF-{}</ev:SenderReference>",
                letter.key
            )),
            "{e}"
        );
    }

    // Another valid sender gets exactly what a message that does not exist gets.
    let other = as_sender(&f, "sender-b", &get);
    let missing = as_sender(
        &f,
        "sender-b",
        "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>urn:uuid:00000000-0000-7000-8000-000000000000</sp:MessageId></sp:GetEvidence>",
    );
    assert_eq!(code(&other), "SEALPOST-REQ-003");
    assert_eq!(
        (other.status, code(&other)),
        (missing.status, code(&missing))
    );

    let status = as_sender(
        &f,
        "sender-a",
        &format!(
            "<sp:GetMessageStatus xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetMessageStatus>"
        ),
    );
    assert_eq!(
        field(&text(&status.body), "Status").as_deref(),
        Some("Delivered")
    );
    assert_eq!(
        field(&text(&status.body), "Evidences").as_deref(),
        Some("2")
    );
}

#[test]
fn soap_1_2_and_an_rsa_sender_work_alike() {
    let f = fixture();
    let letter = Letter::new("soap12-1", CITIZEN);
    let r = post(
        &f,
        &signed_soap(
            NS_SOAP12,
            &letter.body(),
            &dev_signer(&f.pki, "sender-b"),
            system_now(),
        ),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/soap+xml"))
    );
    let evidence = evidence_of(&field(&text(&r.body), "Evidence").expect("evidence"));
    assert_eq!(court_verifies(&f, &evidence, Some(&letter.document)).0, 0);
}

#[test]
fn the_same_key_returns_the_original_proof_and_other_content_is_a_duplicate() {
    let f = fixture();
    let letter = Letter::new("idem-1", COMPANY);
    let first = as_sender(&f, "sender-a", &letter.body());
    let again = as_sender(&f, "sender-a", &letter.body());
    assert_eq!(first.status, 200, "{}", text(&first.body));
    assert_eq!(again.status, 200, "{}", text(&again.body));
    assert_eq!(
        field(&text(&first.body), "Evidence"),
        field(&text(&again.body), "Evidence")
    );
    assert_eq!(
        field(&text(&first.body), "MessageId"),
        field(&text(&again.body), "MessageId")
    );
    let mut other = Letter::new("idem-1", COMPANY);
    other.document = b"another letter".to_vec();
    let dup = as_sender(&f, "sender-a", &other.body());
    assert_eq!((dup.status, code(&dup)), (500, "SEALPOST-REQ-004".into()));
    assert!(text(&dup.body).contains("sealpost:DuplicateSubmission"));
}

#[test]
fn authentication_failures_are_refused_with_their_rows() {
    let f = fixture();
    let letter = Letter::new("auth-1", CITIZEN);
    // A body changed after signing.
    let tampered = signed_soap(
        NS_SOAP11,
        &letter.body(),
        &dev_signer(&f.pki, "sender-a"),
        system_now(),
    )
    .replace("REF-auth-1", "REF-auth-X");
    let r = post(&f, &tampered);
    assert_eq!(code(&r), "SEALPOST-AUTH-001");
    assert!(text(&r.body).contains("wsse:FailedCheck"));
    // No signature at all.
    let r = post(
        &f,
        &format!(
            "<env:Envelope xmlns:env=\"{NS_SOAP11}\"><env:Body>{}</env:Body></env:Envelope>",
            letter.body()
        ),
    );
    assert_eq!(code(&r), "SEALPOST-AUTH-001");
    // A self-signed certificate, never trusted.
    let rogue = rogue_self_signed(&LeafSpec::new(
        "Rogue Agency",
        Profile::Sender,
        KeyAlgorithm::EcdsaP256,
        system_now() - Duration::from_secs(60),
        Duration::from_secs(86_400),
    ))
    .expect("rogue");
    let rogue_signer = DocumentSigner::new(&rogue.key_pkcs8_der(), vec![rogue.cert_der().to_vec()])
        .expect("signer");
    let r = post(
        &f,
        &signed_soap(NS_SOAP11, &letter.body(), &rogue_signer, system_now()),
    );
    assert_eq!(code(&r), "SEALPOST-AUTH-002");
    assert!(text(&r.body).contains("wsse:FailedAuthentication"));
    // Expired, and replayed.
    let old = signed_soap(
        NS_SOAP11,
        &letter.body(),
        &dev_signer(&f.pki, "sender-a"),
        system_now() - Duration::from_secs(7200),
    );
    assert_eq!(code(&post(&f, &old)), "SEALPOST-AUTH-003");
    let once = signed_soap(
        NS_SOAP11,
        &Letter::new("replay-1", CITIZEN).body(),
        &dev_signer(&f.pki, "sender-a"),
        system_now(),
    );
    assert_eq!(post(&f, &once).status, 200);
    let replayed = post(&f, &once);
    assert_eq!(code(&replayed), "SEALPOST-AUTH-003");
    assert!(text(&replayed.body).contains("wsu:MessageExpired"));
}

#[test]
fn refusals_after_authentication_come_with_a_sealed_rejection() {
    let f = fixture();
    // Not in the sender's registered message types; and to a kind of recipient it may not reach.
    let mut letter = Letter::new("authz-1", CITIZEN);
    letter.message_type = "payment-notice";
    rejected(
        &f,
        &as_sender(&f, "sender-a", &letter.body()),
        "SEALPOST-AUTHZ-001",
        "sealpost:NotAuthorized",
    );
    rejected(
        &f,
        &as_sender(&f, "sender-b", &Letter::new("authz-2", COMPANY).body()),
        "SEALPOST-AUTHZ-001",
        "sealpost:NotAuthorized",
    );
    // The declared hash is not the document's.
    let mut letter = Letter::new("hash-1", CITIZEN);
    letter.declared = Some("00".repeat(32));
    rejected(
        &f,
        &as_sender(&f, "sender-a", &letter.body()),
        "SEALPOST-REQ-001",
        "sealpost:InvalidRequest",
    );
    // Bad check digits; not an identifier at all.
    let r = as_sender(
        &f,
        "sender-a",
        &Letter::new("id-1", "nrn:85073003329").body(),
    );
    rejected(&f, &r, "SEALPOST-REQ-001", "sealpost:InvalidRequest");
    let r = as_sender(&f, "sender-a", &Letter::new("id-2", "somebody").body());
    rejected(&f, &r, "SEALPOST-REQ-001", "sealpost:InvalidRequest");
    // No mailbox, and an inactive one.
    rejected(
        &f,
        &as_sender(&f, "sender-a", &Letter::new("nobody-1", NOBODY).body()),
        "SEALPOST-REQ-002",
        "sealpost:RecipientUnknown",
    );
    rejected(
        &f,
        &as_sender(&f, "sender-a", &Letter::new("inactive-1", INACTIVE).body()),
        "SEALPOST-REQ-002",
        "sealpost:RecipientUnknown",
    );
    // A document over the configured limit.
    let mut big = Letter::new("big-1", CITIZEN);
    big.document = vec![b'x'; MAX_DOCUMENT_BYTES + 1];
    let r = as_sender(&f, "sender-a", &big.body());
    assert_eq!(r.status, 413);
    rejected(&f, &r, "SEALPOST-REQ-005", "sealpost:TooLarge");
    // A submission without its documents.
    let partial = Letter::new("partial-1", CITIZEN).body();
    let partial = &partial[..partial.find("<sp:Document>").expect("document")];
    let r = as_sender(
        &f,
        "sender-a",
        &format!("{partial}</sp:SubmitRegisteredMail>"),
    );
    rejected(&f, &r, "SEALPOST-REQ-001", "sealpost:InvalidRequest");
}

#[test]
fn malformed_and_oversized_requests_are_refused_before_anything_is_read() {
    let f = fixture();
    let r = https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        "POST /soap HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 999999999999",
        b"",
    );
    assert_eq!((r.status, code(&r)), (413, "SEALPOST-REQ-005".into()));
    let r = post(&f, "<not-soap/>");
    assert_eq!(code(&r), "SEALPOST-REQ-001");
    let r = post(
        &f,
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
    );
    assert_eq!(code(&r), "SEALPOST-REQ-001");
    let wsdl = https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        "GET /soap?wsdl HTTP/1.1",
        b"",
    );
    assert_eq!(wsdl.status, 200);
    assert!(text(&wsdl.body).contains(&format!("https://{}/soap", f.server.addr)));
    // The security policy names both token profiles (X.509, SAML).
    for token in ["WssX509V3Token", "WssSamlV20Token11"] {
        assert!(
            text(&wsdl.body).contains(token),
            "the WSDL names no {token}"
        );
    }
    // Over HTTP/2 the host asked for is the :authority: the WSDL names it too.
    require_tool("curl", &["--version"]);
    let asked = format!("localhost:{}", f.server.addr.port());
    let out = run(std::process::Command::new("curl")
        .args(["--http2", "--silent", "--show-error", "--fail", "--cacert"])
        .arg(f.pki.join("root-ca.pem"))
        .args(["--write-out", "\n%{http_version}"])
        .arg(format!("https://{asked}/soap?wsdl")));
    let body = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(body.ends_with("\n2"), "not HTTP/2: {body}");
    assert!(body.contains(&format!("https://{asked}/soap")), "{body}");
}

//! The service end to end: the real `sealpost` binary, administered with `sealpost admin`,
//! answering WS-Security signed SOAP requests over HTTPS. Every row of the error table is
//! reached; proofs verify with `sealpost-verify`; the audit log verifies afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sealpost_interop::{
    CITIZEN, COMPANY, HttpResponse, NS_SOAP11, NS_SOAP12, Server, binary, dev_pki, dev_signer,
    dev_tls_identity, drop_postgres_database, expect_fault_code as code, https_raw, post_soap,
    postgres_database, python, require_tool, run, sealpost_command, sha256_hex, signed_soap,
    system_now, text, trusted_list, workspace_root, xml_text as field,
};
use sealpost_pki::{KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};

const INACTIVE: &str = "nrn:00012556777";
/// Valid check digits, but no mailbox.
const NOBODY: &str = "cbe:0417497106";
const MAX_DOCUMENT_BYTES: usize = 200_000;

struct Fixture {
    pki: PathBuf,
    data: PathBuf,
    server: Server,
}

/// `sealpost` with the fixture's settings.
fn sealpost(pki: &Path, data: &Path) -> Command {
    let mut cmd = sealpost_command(pki, data);
    cmd.env(
        "SEALPOST_LIMITS_MAX_DOCUMENT_BYTES",
        MAX_DOCUMENT_BYTES.to_string(),
    )
    .env("SEALPOST_AUDIT_SEAL_INTERVAL_S", "1");
    cmd
}

fn admin(pki: &Path, data: &Path, args: &[&str]) -> String {
    sealpost_interop::admin(sealpost(pki, data), args)
}

/// A fresh service with its own PKI, store, registry and directory; stopped when dropped.
fn fixture() -> Fixture {
    {
        let pki = dev_pki("service");
        let data = pki.with_file_name("var");
        let a = pki.join("sender-a.pem");
        let b = pki.join("sender-b.pem");
        let (a, b) = (a.to_str().expect("path"), b.to_str().expect("path"));
        admin(
            &pki,
            &data,
            &[
                "sender",
                "set",
                "--id",
                "agency-a",
                "--name",
                "Agency A",
                "--cert",
                a,
                "--types",
                "tax-assessment",
            ],
        );
        admin(
            &pki,
            &data,
            &[
                "sender",
                "set",
                "--id",
                "agency-b",
                "--name",
                "Agency B",
                "--cert",
                b,
                "--types",
                "tax-assessment,payment-notice",
                "--recipients",
                "citizen",
            ],
        );
        let directory = data.join("mailboxes.csv");
        std::fs::write(
            &directory,
            format!("{CITIZEN},Jan Peeters\n{COMPANY},Example NV\n{INACTIVE},Old,inactive\n"),
        )
        .expect("csv");
        admin(
            &pki,
            &data,
            &["mailbox", "import", directory.to_str().expect("path")],
        );
        let mut cmd = sealpost(&pki, &data);
        cmd.arg("serve");
        Fixture {
            server: Server::start(cmd),
            pki,
            data,
        }
    }
}

struct Letter<'a> {
    key: String,
    recipient: &'a str,
    message_type: &'a str,
    document: Vec<u8>,
    declared: Option<String>,
}

impl<'a> Letter<'a> {
    fn new(key: &str, recipient: &'a str) -> Self {
        Letter {
            key: key.into(),
            recipient,
            message_type: "tax-assessment",
            document: format!("%PDF-1.7 letter {key}").into_bytes(),
            declared: None,
        }
    }

    fn body(&self) -> String {
        format!(
            "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{}</sp:IdempotencyKey><sp:Recipient>{}</sp:Recipient><sp:MessageType>{}</sp:MessageType><sp:Subject>Avis d'imposition 2026</sp:Subject><sp:SenderReference>REF-{}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail>",
            self.key,
            self.recipient,
            self.message_type,
            self.key,
            self.declared
                .clone()
                .unwrap_or_else(|| sha256_hex(&self.document)),
            base64_encode(&self.document)
        )
    }
}

fn post(f: &Fixture, envelope: &str) -> HttpResponse {
    post_soap(f.server.addr, &f.pki.join("root-ca.pem"), envelope)
}

fn as_sender(f: &Fixture, who: &str, body: &str) -> HttpResponse {
    post(
        f,
        &signed_soap(NS_SOAP11, body, &dev_signer(&f.pki, who), system_now()),
    )
}

fn fields(xml: &str, name: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).expect("xml");
    doc.descendants()
        .filter(|n| n.tag_name().name() == name)
        .filter_map(|n| n.text().map(str::to_owned))
        .collect()
}

fn evidence_of(xml_b64: &str) -> String {
    String::from_utf8(base64_decode(xml_b64).expect("base64")).expect("utf-8")
}

/// `sealpost-verify`'s exit code and output on an evidence.
fn court_verifies(f: &Fixture, evidence: &str, document: Option<&[u8]>) -> (i32, String) {
    sealpost_interop::court_verifies(&f.pki, &f.data.with_file_name("court"), evidence, document)
}

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

/// A refusal after authentication carries a sealed SubmissionRejection a court can verify.
fn rejected(f: &Fixture, r: &HttpResponse, expected_code: &str, subcode: &str) {
    let body = text(&r.body);
    assert_eq!(code(r), expected_code, "{body}");
    assert!(body.contains(subcode), "{body}");
    let evidence = evidence_of(&field(&body, "Evidence").expect("rejection evidence"));
    assert!(evidence.contains("Event/SubmissionRejection"), "{evidence}");
    assert!(evidence.contains(expected_code), "{evidence}");
    let (exit, report) = court_verifies(f, &evidence, None);
    assert_eq!(exit, 0, "{report}");
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
}

#[test]
fn the_service_publishes_the_provider_identity_its_proofs_verify_against() {
    let f = fixture();
    let r = https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        "GET /provider/trusted-list.xml HTTP/1.1",
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    // What the service serves is what `sealpost pki trusted-list` wrote for a court.
    let published = std::fs::read_to_string(trusted_list(&f.pki)).expect("trusted list");
    assert_eq!(text(&r.body), published);
    let seal = std::fs::read_to_string(f.pki.join("seal.pem")).expect("seal");
    let seal_b64: String = seal.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(published.contains(&seal_b64), "{published}");
}

#[test]
fn metrics_count_submissions_by_outcome() {
    let f = fixture();
    assert_eq!(
        as_sender(&f, "sender-a", &Letter::new("metrics-1", CITIZEN).body()).status,
        200
    );
    let r = https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        "GET /metrics HTTP/1.1",
        b"",
    );
    let body = text(&r.body);
    assert_eq!(r.status, 200);
    assert!(
        body.contains(
            "sealpost_requests_total{operation=\"SubmitRegisteredMail\",outcome=\"accepted\"}"
        ),
        "{body}"
    );
    assert!(
        body.contains("sealpost_submit_duration_seconds_count"),
        "{body}"
    );
    assert!(
        body.contains("sealpost_tsa_duration_seconds_count"),
        "{body}"
    );
}

#[test]
fn every_request_is_in_the_audit_log_and_the_chain_verifies() {
    let f = fixture();
    let letter = Letter::new("audit-1", CITIZEN);
    let accepted = as_sender(&f, "sender-a", &letter.body());
    assert_eq!(accepted.status, 200);
    let message_id = field(&text(&accepted.body), "MessageId").expect("id");
    let tampered = signed_soap(
        NS_SOAP11,
        &Letter::new("audit-2", CITIZEN).body(),
        &dev_signer(&f.pki, "sender-a"),
        system_now(),
    )
    .replace("REF-audit-2", "REF-audit-X");
    assert_eq!(code(&post(&f, &tampered)), "SEALPOST-AUTH-001");
    let get = format!(
        "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
    );
    assert_eq!(as_sender(&f, "sender-b", &get).status, 500);

    // The store belongs to the service while it runs; the administrator stops it first.
    let Fixture { pki, data, server } = f;
    drop(server);
    assert!(admin(&pki, &data, &["audit", "seal"]).contains("audit head 3 sealed"));
    let verified = admin(&pki, &data, &["audit", "verify"]);
    assert!(
        verified.contains("audit log valid: 3 entries")
            && verified.contains("1 sealed heads verified"),
        "{verified}"
    );
    let export = data.join("audit.jsonl");
    admin(
        &pki,
        &data,
        &[
            "audit",
            "export",
            "--from",
            "2000-01-01T00:00:00Z",
            "--out",
            export.to_str().expect("path"),
        ],
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&export)
        .expect("export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["outcome"], "accepted");
    assert_eq!(lines[0]["message_id"], message_id.as_str());
    assert_eq!(lines[1]["code"], "SEALPOST-AUTH-001");
    // The refused request is kept as it was received, signature and all.
    let request =
        base64_decode(lines[1]["request_base64"].as_str().expect("request")).expect("b64");
    assert_eq!(text(&request), tampered);
    assert_eq!(lines[2]["code"], "SEALPOST-REQ-003");
    assert_eq!(lines[2]["prev_hash"], lines[1]["hash"]);
}

/// Runs a third-party SOAP client (tests/interop/soap) as `sender`; its JSON line and exit code.
fn client(
    f: &Fixture,
    program: &str,
    sender: &str,
    soap: &str,
    args: &[&str],
) -> (i32, serde_json::Value) {
    let dir = workspace_root().join("tests/interop/soap");
    let mut cmd = if program == "zeep" {
        let mut c = Command::new(python());
        c.arg(dir.join("zeep_client.py"));
        c
    } else {
        Command::new(dir.join("wss4j-client.sh"))
    };
    cmd.arg("--url")
        .arg(format!("https://{}/soap", f.server.addr))
        .arg("--ca")
        .arg(f.pki.join("root-ca.pem"))
        .arg("--cert")
        .arg(f.pki.join(format!("{sender}.pem")))
        .arg("--key")
        .arg(f.pki.join(format!("{sender}.key")))
        .args(["--soap", soap])
        .args(args);
    let out = run(&mut cmd);
    let line = text(&out.stdout);
    let json = serde_json::from_str(line.trim())
        .unwrap_or_else(|_| panic!("{program}: no JSON ({line}); stderr: {}", text(&out.stderr)));
    (out.status.code().unwrap_or(-1), json)
}

/// xmlsec1 verifies the seal of an evidence file, trusting only the development root.
fn xmlsec1_accepts(f: &Fixture, evidence: &Path) {
    let out = run(Command::new("xmlsec1")
        .args(["--verify", "--enabled-key-data", "x509", "--trusted-pem"])
        .arg(f.pki.join("root-ca.pem"))
        .arg("--untrusted-pem")
        .arg(f.pki.join("issuing-ca.pem"))
        .args([
            "--id-attr:Id",
            "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        ])
        .arg(evidence));
    assert!(out.status.success(), "xmlsec1: {}", text(&out.stderr));
}

/// A letter through a real client: its proof verifies with sealpost-verify and xmlsec1; the
/// sender gets its evidences back, the other sender does not.
fn letter_through(program: &str, sender: &str, other: &str, soap: &str) {
    require_tool("xmlsec1", &["--version"]);
    let f = fixture();
    let dir = f.data.with_file_name(format!("{program}-{soap}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, format!("%PDF-1.7 {program} letter")).expect("write");
    let evidence = dir.join("evidence.xml");
    let key = format!("{program}-{soap}-1");
    let (exit, json) = client(
        &f,
        program,
        sender,
        soap,
        &[
            "submit",
            "--recipient",
            CITIZEN,
            "--type",
            "tax-assessment",
            "--subject",
            "Avis d'imposition",
            "--reference",
            "REF-42",
            "--key-idempotency",
            &key,
            "--document",
            document.to_str().expect("path"),
            "--out",
            evidence.to_str().expect("path"),
        ],
    );
    assert_eq!(exit, 0, "{json}");
    let message_id = json["message_id"].as_str().expect("message id").to_owned();
    let sealed = std::fs::read_to_string(&evidence).expect("evidence");
    let (exit, report) = court_verifies(&f, &sealed, Some(&std::fs::read(&document).expect("doc")));
    assert_eq!(exit, 0, "{report}");
    xmlsec1_accepts(&f, &evidence);

    let out_dir = dir.join("evidences");
    let (exit, json) = client(
        &f,
        program,
        sender,
        soap,
        &[
            "get-evidence",
            "--message-id",
            &message_id,
            "--out-dir",
            out_dir.to_str().expect("path"),
        ],
    );
    assert_eq!(exit, 0, "{json}");
    assert_eq!(
        json["evidences"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );
    let (exit, json) = client(
        &f,
        program,
        other,
        soap,
        &[
            "get-evidence",
            "--message-id",
            &message_id,
            "--out-dir",
            out_dir.to_str().expect("path"),
        ],
    );
    assert_eq!(
        (exit, json["code"].as_str()),
        (3, Some("SEALPOST-REQ-003")),
        "{json}"
    );
    let (exit, json) = client(
        &f,
        program,
        sender,
        soap,
        &["status", "--message-id", &message_id],
    );
    assert_eq!(
        (exit, json["status"].as_str()),
        (0, Some("Delivered")),
        "{json}"
    );
}

#[test]
fn a_zeep_client_sends_a_letter_over_soap_1_1() {
    letter_through("zeep", "sender-b", "sender-a", "1.1");
}

#[test]
fn a_zeep_client_with_an_ec_key_sends_a_letter_over_soap_1_2() {
    letter_through("zeep", "sender-a", "sender-b", "1.2");
}

#[test]
fn a_wss4j_client_sends_a_letter() {
    require_tool("javac", &["-version"]);
    letter_through("wss4j", "sender-a", "sender-b", "1.1");
    letter_through("wss4j", "sender-b", "sender-a", "1.2");
}

// The gRPC channel: sealpost.v1.RegisteredMail with mutual TLS and a signed manifest, driven
// by a real grpcio client (tests/interop/grpc).

/// Runs the grpcio client against the fixture's server with `credentials` (certificate chain,
/// key), or none; its exit code and JSON line.
fn grpc_client(
    f: &Fixture,
    credentials: Option<(&Path, &Path)>,
    args: &[&str],
) -> (i32, serde_json::Value) {
    sealpost_interop::grpc_client(f.server.addr, &f.pki.join("root-ca.pem"), credentials, args)
}

fn grpc_submit(
    f: &Fixture,
    sender: &str,
    key: &str,
    document: &Path,
    evidence: &Path,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let (cert, tls_key) = dev_tls_identity(&f.pki, sender);
    let mut args = vec![
        "submit",
        "--recipient",
        CITIZEN,
        "--type",
        "tax-assessment",
        "--subject",
        "Avis d'imposition",
        "--reference",
        "REF-GRPC",
        "--key-idempotency",
        key,
        "--document",
        document.to_str().expect("path"),
        "--out",
        evidence.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    grpc_client(f, Some((&cert, &tls_key)), &args)
}

#[test]
fn a_grpcio_client_sends_a_letter_with_a_signed_manifest() {
    require_tool("xmlsec1", &["--version"]);
    let f = fixture();
    let dir = f.data.with_file_name("grpc");
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, "%PDF-1.7 gRPC letter").expect("write");
    for (sender, other) in [("sender-a", "sender-b"), ("sender-b", "sender-a")] {
        let evidence = dir.join(format!("evidence-{sender}.xml"));
        let (exit, json) = grpc_submit(
            &f,
            sender,
            &format!("grpc-{sender}"),
            &document,
            &evidence,
            &[],
        );
        assert_eq!(exit, 0, "{json}");
        let message_id = json["message_id"].as_str().expect("message id").to_owned();
        let sealed = std::fs::read_to_string(&evidence).expect("evidence");
        assert!(sealed.contains("Event/SubmissionAcceptance"), "{sealed}");
        let (exit, report) =
            court_verifies(&f, &sealed, Some(&std::fs::read(&document).expect("doc")));
        assert_eq!(exit, 0, "{report}");
        xmlsec1_accepts(&f, &evidence);

        let out_dir = dir.join(format!("evidences-{sender}"));
        let get = [
            "get-evidence",
            "--message-id",
            &message_id,
            "--out-dir",
            out_dir.to_str().expect("path"),
        ];
        let (cert, key) = dev_tls_identity(&f.pki, sender);
        let (exit, json) = grpc_client(&f, Some((&cert, &key)), &get);
        assert_eq!(exit, 0, "{json}");
        assert_eq!(json["evidences"].as_array().map(Vec::len), Some(2));
        let (cert, key) = dev_tls_identity(&f.pki, other);
        let (exit, json) = grpc_client(&f, Some((&cert, &key)), &get);
        assert_eq!(
            (exit, json["status"].as_str(), json["code"].as_str()),
            (3, Some("NOT_FOUND"), Some("SEALPOST-REQ-003")),
            "{json}"
        );
        let (cert, key) = dev_tls_identity(&f.pki, sender);
        let (exit, json) = grpc_client(
            &f,
            Some((&cert, &key)),
            &["status", "--message-id", &message_id],
        );
        assert_eq!(
            (exit, json["status"].as_str(), json["evidences"].as_u64()),
            (0, Some("Delivered"), Some(2)),
            "{json}"
        );
    }
}

#[test]
fn grpc_callers_without_a_trusted_certificate_or_a_valid_manifest_are_refused() {
    let f = fixture();
    let dir = f.data.with_file_name("grpc-refused");
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, "%PDF-1.7 gRPC letter").expect("write");
    let evidence = dir.join("evidence.xml");
    let refused = |(exit, json): (i32, serde_json::Value), status: &str, code: &str| {
        assert_eq!(
            (exit, json["status"].as_str(), json["code"].as_str()),
            (3, Some(status), Some(code)),
            "{json}"
        );
        assert!(
            json["correlation_id"]
                .as_str()
                .is_some_and(|c| c.starts_with("urn:uuid:")),
            "{json}"
        );
    };
    // No client certificate.
    refused(
        grpc_client(&f, None, &["status", "--message-id", "urn:uuid:x"]),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-001",
    );
    // A manifest signed with another key than the connection's, or changed after signing.
    let other_key = f.pki.join("sender-b.key");
    refused(
        grpc_submit(
            &f,
            "sender-a",
            "g-1",
            &document,
            &evidence,
            &["--sign-with", other_key.to_str().expect("path")],
        ),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-001",
    );
    refused(
        grpc_submit(&f, "sender-a", "g-2", &document, &evidence, &["--tamper"]),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-001",
    );
    // A self-signed client certificate, never trusted.
    let rogue = rogue_self_signed(&LeafSpec::new(
        "Rogue Agency",
        Profile::Sender,
        KeyAlgorithm::EcdsaP256,
        system_now() - Duration::from_secs(60),
        Duration::from_secs(86_400),
    ))
    .expect("rogue");
    let (rogue_cert, rogue_key) = (dir.join("rogue.pem"), dir.join("rogue.key"));
    std::fs::write(&rogue_cert, rogue.cert_pem()).expect("write");
    std::fs::write(&rogue_key, rogue.key_pem()).expect("write");
    refused(
        grpc_client(
            &f,
            Some((&rogue_cert, &rogue_key)),
            &["status", "--message-id", "urn:uuid:x"],
        ),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-002",
    );
    // Signed two hours ago; and the same signed manifest twice.
    let old = (system_now() - Duration::from_secs(7200))
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    refused(
        grpc_submit(
            &f,
            "sender-a",
            "g-3",
            &document,
            &evidence,
            &["--signed-at", &old],
        ),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-003",
    );
    let now = system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    let once = ["--signed-at", now.as_str()];
    assert_eq!(
        grpc_submit(&f, "sender-a", "g-4", &document, &evidence, &once).0,
        0
    );
    refused(
        grpc_submit(&f, "sender-a", "g-4", &document, &evidence, &once),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-003",
    );

    // After authentication: a wrong declared digest is rejected with a sealed
    // SubmissionRejection, served by GetEvidence under the message id of the trailers.
    let (exit, json) = grpc_submit(
        &f,
        "sender-a",
        "g-5",
        &document,
        &evidence,
        &["--declared-sha256", &"00".repeat(32)],
    );
    refused((exit, json.clone()), "INVALID_ARGUMENT", "SEALPOST-REQ-001");
    let message_id = json["message_id"].as_str().expect("message id trailer");
    let out_dir = dir.join("rejection");
    let (cert, key) = dev_tls_identity(&f.pki, "sender-a");
    let (exit, json) = grpc_client(
        &f,
        Some((&cert, &key)),
        &[
            "get-evidence",
            "--message-id",
            message_id,
            "--out-dir",
            out_dir.to_str().expect("path"),
        ],
    );
    assert_eq!(exit, 0, "{json}");
    let rejection = std::fs::read_to_string(out_dir.join("evidence-1.xml")).expect("evidence");
    assert!(
        rejection.contains("Event/SubmissionRejection"),
        "{rejection}"
    );
    assert!(rejection.contains("SEALPOST-REQ-001"), "{rejection}");
    assert_eq!(court_verifies(&f, &rejection, None).0, 0);
}

#[test]
fn senders_declared_in_the_configuration_file_may_send_and_an_untrusted_one_stops_the_start() {
    let pki = dev_pki("config-registry");
    let data = pki.with_file_name("var");
    admin(
        &pki,
        &data,
        &["mailbox", "add", CITIZEN, "--name", "Jan Peeters"],
    );
    let config = pki.with_file_name("sealpost.toml");
    let registry = |cert: &Path| {
        format!(
            "[[senders.registry]]\nid = \"agency-a\"\nname = \"Agency A\"\ncertificates = [{:?}]\nmessage_types = [\"tax-assessment\"]\nrecipients = [\"citizen\"]\n",
            cert.display().to_string()
        )
    };
    std::fs::write(&config, registry(&pki.join("sender-a.pem"))).expect("config");
    let mut cmd = sealpost(&pki, &data);
    cmd.arg("serve").arg("--config").arg(&config);
    let f = Fixture {
        server: Server::start(cmd),
        pki: pki.clone(),
        data: data.clone(),
    };
    let r = as_sender(&f, "sender-a", &Letter::new("config-1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    // Not declared: sender-b is unknown.
    let r = as_sender(&f, "sender-b", &Letter::new("config-2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002");
    drop(f);

    // A self-signed certificate in the registry: the service refuses to start, and says why.
    let rogue = rogue_self_signed(&LeafSpec::new(
        "Rogue Agency",
        Profile::Sender,
        KeyAlgorithm::EcdsaP256,
        system_now() - Duration::from_secs(60),
        Duration::from_secs(86_400),
    ))
    .expect("rogue");
    let rogue_pem = pki.with_file_name("rogue.pem");
    std::fs::write(&rogue_pem, rogue.cert_pem()).expect("write");
    std::fs::write(&config, registry(&rogue_pem)).expect("config");
    let mut cmd = Command::new("timeout");
    cmd.arg("30").arg(binary("sealpost"));
    let serve = sealpost(&pki, &data);
    for (k, v) in serve.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = run(cmd.arg("serve").arg("--config").arg(&config));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("agency-a") && stderr.contains("self-signed"),
        "{stderr}"
    );
}

#[test]
fn the_service_runs_on_postgresql_and_is_administered_while_it_runs() {
    require_tool("psql", &["--version"]);
    let url = postgres_database("service");
    let pki = dev_pki("postgres-service");
    let data = pki.with_file_name("var");
    let on_postgres = |mut cmd: Command| {
        cmd.env("SEALPOST_STORE_BACKEND", "postgres")
            .env("SEALPOST_STORE_POSTGRES_URL", &url);
        cmd
    };
    let admin = |args: &[&str]| sealpost_interop::admin(on_postgres(sealpost(&pki, &data)), args);
    let cert = pki.join("sender-a.pem");
    admin(&[
        "sender",
        "set",
        "--id",
        "agency-a",
        "--name",
        "Agency A",
        "--cert",
        cert.to_str().expect("path"),
        "--types",
        "tax-assessment",
    ]);
    let mut serve = on_postgres(sealpost(&pki, &data));
    serve.arg("serve");
    let f = Fixture {
        server: Server::start(serve),
        pki: pki.clone(),
        data: data.clone(),
    };
    // No mailbox yet: refused; added while the service runs: delivered.
    let r = as_sender(&f, "sender-a", &Letter::new("pg-1", CITIZEN).body());
    rejected(&f, &r, "SEALPOST-REQ-002", "sealpost:RecipientUnknown");
    admin(&["mailbox", "add", CITIZEN, "--name", "Jan Peeters"]);
    let letter = Letter::new("pg-2", CITIZEN);
    let r = as_sender(&f, "sender-a", &letter.body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let message_id = field(&text(&r.body), "MessageId").expect("message id");
    let evidence = evidence_of(&field(&text(&r.body), "Evidence").expect("evidence"));
    assert_eq!(court_verifies(&f, &evidence, Some(&letter.document)).0, 0);
    let get = format!(
        "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
    );
    let r = as_sender(&f, "sender-a", &get);
    assert_eq!(fields(&text(&r.body), "Evidence").len(), 2);
    // The same key again: the original proof.
    let again = as_sender(&f, "sender-a", &letter.body());
    assert_eq!(
        field(&text(&again.body), "Evidence"),
        field(&text(&r.body), "Evidence")
    );
    // The audit chain verifies while the service is running.
    let report = admin(&["audit", "verify"]);
    assert!(report.contains("audit log valid: 4 entries"), "{report}");
    drop(f);
    drop_postgres_database(&url);
}

//! MTOM/XOP on the SOAP channel end to end: the real `sealpost` binary receives letters whose
//! documents travel as binary parts of a `multipart/related` body, referred to from the signed
//! envelope by `xop:Include`. The signature covers the envelope in base64 form (the form the
//! server reconstitutes before verifying); the proof names the attachment's SHA-256 and
//! verifies with `sealpost-verify`; hostile packages are refused with the error table's rows;
//! a real third-party client (npm `soap`) sends a signed MTOM letter.

use std::path::{Path, PathBuf};
use std::process::Command;

use sealpost_interop::{
    CITIZEN, HttpResponse, NS_SOAP11, NS_SOAP12, Server, dev_pki, dev_signer,
    expect_fault_code as code, export_entries, https_raw, require_tool, run, sealpost_command,
    sha256_hex, signed_soap, system_now, text, workspace_root, xml_text as field,
};
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};

const NS_XOP: &str = "http://www.w3.org/2004/08/xop/include";
const BOUNDARY: &str = "uuid:6b1a5c0e-mtom-test";
/// The largest request the fixture's server accepts: a package may be under it while the
/// envelope with its attachments inline (4/3 larger) is over it.
const MAX_REQUEST_BYTES: usize = 96 * 1024;
/// A document that is not text: CR, LF, dashes, a would-be boundary, bytes that are not UTF-8.
const PDF: &[u8] = b"%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n--uuid:6b1a5c0e-mtom-tes\r\n\x00\xff\xfe binary letter\n--\r\n%%EOF";

struct Fixture {
    pki: PathBuf,
    data: PathBuf,
    server: Server,
}

fn sealpost(pki: &Path, data: &Path) -> Command {
    let mut cmd = sealpost_command(pki, data);
    // A document must fit in a request (checked at start).
    cmd.env(
        "SEALPOST_LIMITS_MAX_REQUEST_BYTES",
        MAX_REQUEST_BYTES.to_string(),
    )
    .env(
        "SEALPOST_LIMITS_MAX_DOCUMENT_BYTES",
        MAX_REQUEST_BYTES.to_string(),
    );
    cmd
}

fn admin(pki: &Path, data: &Path, args: &[&str]) -> String {
    sealpost_interop::admin(sealpost(pki, data), args)
}

/// A service with sender-a (EC) and sender-b (RSA, for npm soap, which has no ECDSA) allowed
/// to send tax assessments, and one citizen mailbox; stopped when dropped.
fn fixture() -> Fixture {
    let pki = dev_pki("mtom");
    let data = pki.with_file_name("var");
    for (id, cert) in [("agency-a", "sender-a.pem"), ("agency-b", "sender-b.pem")] {
        let cert = pki.join(cert);
        admin(
            &pki,
            &data,
            &[
                "sender",
                "set",
                "--id",
                id,
                "--name",
                id,
                "--cert",
                cert.to_str().expect("path"),
                "--types",
                "tax-assessment",
            ],
        );
    }
    let directory = data.join("mailboxes.csv");
    std::fs::write(&directory, format!("{CITIZEN},Jan Peeters\n")).expect("csv");
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

/// SubmitRegisteredMail with one document per entry of `documents`, inline as base64.
fn letter(key: &str, documents: &[&[u8]]) -> String {
    let documents: String = documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "<sp:Document><sp:Id>d{}</sp:Id><sp:Name>avis-{}.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document>",
                i + 1,
                i + 1,
                sha256_hex(d),
                base64_encode(d)
            )
        })
        .collect();
    format!(
        "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{key}</sp:IdempotencyKey><sp:Recipient>{CITIZEN}</sp:Recipient><sp:MessageType>tax-assessment</sp:MessageType><sp:Subject>Avis d'imposition 2026</sp:Subject><sp:SenderReference>REF-{key}</sp:SenderReference>{documents}</sp:SubmitRegisteredMail>"
    )
}

/// The envelope around `body`, signed by sender-a now, documents in base64 form.
fn signed(f: &Fixture, ns: &str, body: &str) -> String {
    signed_soap(ns, body, &dev_signer(&f.pki, "sender-a"), system_now())
}

/// XOP optimisation: each `<sp:Content>` holding the base64 of `document` gets an
/// `xop:Include` of `href` in its place.
fn optimise(envelope: &str, document: &[u8], href: &str) -> String {
    let inline = format!("<sp:Content>{}</sp:Content>", base64_encode(document));
    assert!(envelope.contains(&inline), "no inline document");
    envelope.replace(
        &inline,
        &format!("<sp:Content><xop:Include xmlns:xop=\"{NS_XOP}\" href=\"{href}\"/></sp:Content>"),
    )
}

/// A `multipart/related` XOP package: its Content-Type and body. The root is `root` (SOAP 1.1
/// or 1.2 from its namespace); each attachment is a Content-ID (with brackets) and octets.
fn package(root: &str, attachments: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let soap_type = if root.contains(NS_SOAP12) {
        "application/soap+xml"
    } else {
        "text/xml"
    };
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"{soap_type}\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root.message@sealpost.test>\r\n\r\n{root}\r\n"
    )
    .into_bytes();
    for (id, octets) in attachments {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {id}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(octets);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let content_type = format!(
        "multipart/related; type=\"application/xop+xml\"; boundary=\"{BOUNDARY}\"; start=\"<root.message@sealpost.test>\"; start-info=\"{soap_type}\""
    );
    (content_type, body)
}

fn post(f: &Fixture, content_type: &str, body: &[u8]) -> HttpResponse {
    https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        &format!(
            "POST /soap HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}",
            body.len()
        ),
        body,
    )
}

/// The SHA-256 the evidence names for each of its documents.
fn evidence_digests(evidence: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(evidence).expect("evidence xml");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "Document")
        .filter(|n| {
            n.parent()
                .is_some_and(|p| p.tag_name().name() == "Documents")
        })
        .filter_map(|n| {
            n.children()
                .find(|c| c.tag_name().name() == "Sha256")
                .and_then(|c| c.text().map(str::to_owned))
        })
        .collect()
}

/// `sealpost-verify`'s exit code and output on an evidence with its document.
fn court_verifies(f: &Fixture, evidence: &str, document: &[u8]) -> (i32, String) {
    sealpost_interop::court_verifies(
        &f.pki,
        &f.data.with_file_name("court"),
        evidence,
        Some(document),
    )
}

/// The acceptance in an answer, checked: SubmissionAcceptance naming the attachment's SHA-256,
/// verified by `sealpost-verify` with the attachment as the document.
fn accepted_with_proof(f: &Fixture, r: &HttpResponse, attachment: &[u8]) {
    let body = text(&r.body);
    assert_eq!(r.status, 200, "{body}");
    let evidence = String::from_utf8(
        base64_decode(&field(&body, "Evidence").expect("evidence")).expect("base64"),
    )
    .expect("utf-8");
    assert!(
        evidence.contains("Event/SubmissionAcceptance"),
        "{evidence}"
    );
    assert_eq!(evidence_digests(&evidence), vec![sha256_hex(attachment)]);
    let (exit, report) = court_verifies(f, &evidence, attachment);
    assert_eq!(exit, 0, "{report}");
    assert!(report.contains("handed document \"avis"), "{report}");
}

#[test]
fn a_letter_whose_document_is_an_mtom_attachment_is_accepted_over_soap_1_1_and_1_2() {
    let f = fixture();
    for (ns, key, response_type) in [
        (NS_SOAP11, "mtom-11", "text/xml"),
        (NS_SOAP12, "mtom-12", "application/soap+xml"),
    ] {
        let envelope = signed(&f, ns, &letter(key, &[PDF]));
        let optimised = optimise(&envelope, PDF, "cid:avis-1%40sealpost.test");
        assert!(!optimised.contains(&base64_encode(PDF)));
        let (content_type, body) = package(&optimised, &[("<avis-1@sealpost.test>", PDF)]);
        let r = post(&f, &content_type, &body);
        accepted_with_proof(&f, &r, PDF);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with(response_type)),
            "{:?}",
            r.header("content-type")
        );
    }
}

#[test]
fn hostile_packages_are_refused_and_the_audit_keeps_them_as_received() {
    let f = fixture();
    let attachment = ("<avis-1@sealpost.test>", PDF);
    let optimised = |key: &str| {
        optimise(
            &signed(&f, NS_SOAP11, &letter(key, &[PDF])),
            PDF,
            "cid:avis-1@sealpost.test",
        )
    };

    // The attachment changed after signing: the reconstituted envelope is not what was signed.
    let mut changed = PDF.to_vec();
    changed[0] = b'!';
    let (content_type, tampered) = package(&optimised("hostile-1"), &[(attachment.0, &changed)]);
    let r = post(&f, &content_type, &tampered);
    assert_eq!((r.status, code(&r)), (500, "SEALPOST-AUTH-001".into()));

    // The package itself breaks the rules.
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        {
            let (ct, body) = package(&optimised("hostile-2"), &[("<other@sealpost.test>", PDF)]);
            ("an Include to a missing cid", ct, body)
        },
        {
            let both = signed(&f, NS_SOAP11, &letter("hostile-3", &[PDF, PDF]));
            let (ct, body) = package(
                &optimise(&both, PDF, "cid:avis-1@sealpost.test"),
                &[attachment],
            );
            ("a part referred to twice", ct, body)
        },
        {
            let (ct, body) = package(
                &optimised("hostile-4"),
                &[attachment, ("<extra@sealpost.test>", b"extra")],
            );
            ("a part never referred to", ct, body)
        },
        {
            let (ct, body) = package(&optimised("hostile-5"), &[attachment]);
            let without = ct.replace(&format!("; boundary=\"{BOUNDARY}\""), "");
            assert_ne!(without, ct);
            ("no boundary", without, body)
        },
        {
            let (ct, mut body) = package(&optimised("hostile-6"), &[attachment]);
            let binary = b"Content-Transfer-Encoding: binary";
            let at = find(&body, binary).expect("header");
            body.splice(
                at..at + binary.len(),
                b"Content-Transfer-Encoding: base64".iter().copied(),
            );
            ("a base64 root part", ct, body)
        },
    ];
    for (what, content_type, body) in &cases {
        let r = post(&f, content_type, body);
        assert_eq!(
            (r.status, code(&r)),
            (500, "SEALPOST-REQ-001".into()),
            "{what}: {}",
            text(&r.body)
        );
    }

    // Before the envelope is read, the fault's SOAP version is the one start-info announces.
    let (content_type, body) = package(
        &optimise(
            &signed(&f, NS_SOAP12, &letter("hostile-7", &[PDF])),
            PDF,
            "cid:nowhere@sealpost.test",
        ),
        &[attachment],
    );
    let r = post(&f, &content_type, &body);
    assert_eq!((r.status, code(&r)), (400, "SEALPOST-REQ-001".into()));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/soap+xml"))
    );

    // Under the request limit as a package, over it with the attachment inline.
    let big = vec![0x5au8; MAX_REQUEST_BYTES * 4 / 5];
    let (content_type, body) = package(
        &optimise(
            &signed(&f, NS_SOAP11, &letter("hostile-8", &[&big])),
            &big,
            "cid:avis-1@sealpost.test",
        ),
        &[("<avis-1@sealpost.test>", &big)],
    );
    assert!(body.len() < MAX_REQUEST_BYTES);
    let r = post(&f, &content_type, &body);
    assert_eq!((r.status, code(&r)), (413, "SEALPOST-REQ-005".into()));

    // The audit log holds each request as it was received: the multipart body.
    let Fixture { pki, data, server } = f;
    drop(server);
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
    let lines: Vec<serde_json::Value> = export_entries(&export)
        .into_iter()
        // The requests: not the administration that set the fixture up.
        .filter(|l| l["channel"] != "admin")
        .collect();
    assert_eq!(lines.len(), 2 + cases.len() + 1, "{lines:?}");
    assert_eq!(lines[0]["code"], "SEALPOST-AUTH-001");
    let request =
        base64_decode(lines[0]["request_base64"].as_str().expect("request")).expect("base64");
    assert_eq!(request, tampered);
    for (line, (_, _, body)) in lines[1..].iter().zip(&cases) {
        assert_eq!(line["code"], "SEALPOST-REQ-001");
        let request =
            base64_decode(line["request_base64"].as_str().expect("request")).expect("base64");
        assert_eq!(&request, body);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The npm `soap` client signs the envelope (WSSecurityCert, documents inline), optimises it in
/// its `postProcess` hook and sends it with its own MTOM packaging (`forceMTOM`, `attachments`).
#[test]
fn an_npm_soap_client_sends_a_letter_as_mtom() {
    require_tool("node", &["--version"]);
    let client = workspace_root().join("tests/interop/soap/node_soap_mtom_client.js");
    assert!(
        workspace_root()
            .join("tests/interop/wss/node_modules/soap")
            .exists(),
        "npm soap is missing: run `make deps`"
    );
    let f = fixture();
    let dir = f.data.with_file_name("node-soap");
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, PDF).expect("write");
    for soap in ["1.1", "1.2"] {
        let evidence = dir.join(format!("evidence-{soap}.xml"));
        let out = run(Command::new("node")
            .arg(&client)
            .arg("--url")
            .arg(format!("https://{}/soap", f.server.addr))
            .arg("--ca")
            .arg(f.pki.join("root-ca.pem"))
            .arg("--cert")
            .arg(f.pki.join("sender-b.pem"))
            .arg("--key")
            .arg(f.pki.join("sender-b.key"))
            .args(["--soap", soap, "submit", "--recipient", CITIZEN])
            .args(["--type", "tax-assessment", "--subject", "Avis d'imposition"])
            .args(["--reference", "REF-npm", "--key-idempotency"])
            .arg(format!("npm-mtom-{soap}"))
            .arg("--document")
            .arg(&document)
            .arg("--out")
            .arg(&evidence));
        let line = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{line}; stderr: {}",
            text(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_str(line.trim()).expect("json");
        assert!(
            json["content_type"]
                .as_str()
                .is_some_and(|c| c.starts_with("multipart/related; type=\"application/xop+xml\"")),
            "{json}"
        );
        let sealed = std::fs::read_to_string(&evidence).expect("evidence");
        assert_eq!(evidence_digests(&sealed), vec![sha256_hex(PDF)]);
        let (exit, report) = court_verifies(&f, &sealed, PDF);
        assert_eq!(exit, 0, "{report}");
    }
}

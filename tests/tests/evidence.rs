//! Sealed evidence checked the way a court would: `sealpost-verify` (exit codes, report,
//! JSON, batch), and with tools nobody here wrote: xmlsec1 and Apache Santuario verify the
//! seal, `openssl ts -verify` the time-stamp tokens extracted from it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sealpost_evidence::model::{
    Document, Event, Evidence, Issuer, Recipient, Sender, hex, new_evidence_id,
};
use sealpost_evidence::seal::{Sealer, Timestamper};
use sealpost_interop::{binary, dev_pki, require_tool, run, text, workspace_root};
use sealpost_tsa::authority::{TimeStampAuthority, TsaSettings};
use sealpost_tsa::clock::ClockKind;
use sealpost_xmldsig::document::DocumentSigner;

const LETTER: &[u8] = b"%PDF-1.7 Avis de paiement - Betalingsbericht 2026";

struct Sealed {
    pki: PathBuf,
    dir: PathBuf,
    evidence: PathBuf,
    letter: PathBuf,
    xml: String,
}

fn der(path: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(path)
        .expect("certificate")
        .to_vec()
}

fn sealed(name: &str) -> Sealed {
    let pki = dev_pki(name);
    let dir = pki.parent().expect("scratch").to_owned();
    let tsa = TimeStampAuthority::from_settings(&TsaSettings {
        cert: pki.join("tsa.pem"),
        key: pki.join("tsa.key"),
        chain: Some(pki.join("issuing-ca.pem")),
        serial_state: dir.join("tsa-serial"),
        clock: ClockKind::Unchecked,
        policy: der::asn1::ObjectIdentifier::new_unwrap("0.4.0.2023.1.1"),
        accepted_policies: Vec::new(),
        accuracy: Duration::from_secs(1),
    })
    .expect("tsa");
    let PrivateKeyDer::Pkcs8(key) =
        PrivateKeyDer::from_pem_file(pki.join("seal.key")).expect("key")
    else {
        panic!("PKCS#8")
    };
    let signer = DocumentSigner::new(
        key.secret_pkcs8_der(),
        vec![der(&pki.join("seal.pem")), der(&pki.join("issuing-ca.pem"))],
    )
    .expect("seal signer");
    let sha: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, LETTER)
        .as_ref()
        .try_into()
        .expect("32");
    let now = SystemTime::now();
    let evidence = Evidence {
        id: new_evidence_id(now),
        event: Event::SubmissionAcceptance,
        event_time: now,
        issuer: Issuer {
            name: "Sealpost (development)".into(),
            policy_id: "urn:oid:0.4.0.2023.1.1".into(),
        },
        sender: Sender {
            subject: "CN=Sender A (development),O=Development Agency A,C=BE".into(),
            registry_id: "agency-a".into(),
            authentication: "WS-Security X.509 signature".into(),
        },
        recipient: Recipient {
            id: "cbe:0203201340".into(),
            delegate: None,
            mandate: None,
        },
        submission_time: now,
        message_id: "PAY-2026-7".into(),
        subject: Some("Avis de paiement".into()),
        documents: vec![Document {
            id: "d1".into(),
            name: "avis.pdf".into(),
            size: LETTER.len() as u64,
            sha256: sha,
            time_stamp_token: tsa.timestamp(&sha).expect("token"),
        }],
        reason: None,
        follows_from: None,
    };
    let xml = Sealer::new(signer)
        .expect("sealer")
        .seal(&evidence, &tsa, now)
        .expect("seal");
    let path = dir.join("evidence.xml");
    std::fs::write(&path, &xml).expect("write");
    let letter = dir.join("avis.pdf");
    std::fs::write(&letter, LETTER).expect("write");
    Sealed {
        pki,
        dir,
        evidence: path,
        letter,
        xml,
    }
}

fn verify_cli(args: &[&Path], extra: &[&str]) -> (i32, String) {
    let out = run(Command::new(binary("sealpost-verify"))
        .args(args)
        .args(extra));
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn sealpost_verify_reports_steps_verdicts_and_exit_codes() {
    let s = sealed("verify-cli");
    let root = s.pki.join("root-ca.pem");
    let trust = ["--trust", root.to_str().expect("path")];
    let (code, out) = verify_cli(
        &[&s.evidence],
        &[
            trust[0],
            trust[1],
            "--document",
            s.letter.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    for expected in [
        "1 [ok  ]",
        "7 [ok  ]",
        "Result: VALID",
        "handed document avis.pdf",
        "a remis le document avis.pdf",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }
    let (code, out) = verify_cli(&[&s.evidence], &[trust[0], trust[1], "--json"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("\"verdict\":\"valid\"") && out.contains("\"proves_fr\""),
        "{out}"
    );

    // Tampered: invalid, exit 1.
    let tampered = s.dir.join("tampered.xml");
    std::fs::write(&tampered, s.xml.replace("cbe:0203201340", "cbe:0203201341")).expect("write");
    let (code, out) = verify_cli(&[&tampered], &trust);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("2 [FAIL]") && out.contains("proves nothing"),
        "{out}"
    );
    // Another root: indeterminate, exit 2.
    let other = dev_pki("verify-cli-other");
    let (code, out) = verify_cli(
        &[&s.evidence],
        &["--trust", other.join("root-ca.pem").to_str().expect("path")],
    );
    assert_eq!(code, 2, "{out}");
    // Bad usage: 64.
    assert_eq!(verify_cli(&[&s.evidence], &[]).0, 64);
    assert_eq!(
        verify_cli(&[&s.evidence], &["--trust", "/nonexistent.pem"]).0,
        64
    );
    // An auditor's sweep: one line each, the worst verdict as exit code.
    let sweep = s.dir.join("sweep");
    std::fs::create_dir_all(&sweep).expect("dir");
    std::fs::copy(&s.evidence, sweep.join("a.xml")).expect("copy");
    std::fs::copy(&tampered, sweep.join("b.xml")).expect("copy");
    let (code, out) = verify_cli(&[&sweep], &trust);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("VALID") && lines[1].starts_with("INVALID"),
        "{out}"
    );
}

#[test]
fn the_seal_verifies_with_xmlsec1_and_santuario() {
    require_tool("xmlsec1", &["--version"]);
    require_tool("javac", &["-version"]);
    let s = sealed("evidence-xmlsec1");
    let out = run(Command::new("xmlsec1")
        .args(["--verify", "--enabled-key-data", "x509", "--trusted-pem"])
        .arg(s.pki.join("root-ca.pem"))
        .arg("--untrusted-pem")
        .arg(s.pki.join("issuing-ca.pem"))
        .args([
            "--id-attr:Id",
            "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        ])
        .arg(&s.evidence));
    assert!(out.status.success(), "xmlsec1: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("SignedInfo References (ok/all): 2/2"),
        "{}",
        text(&out.stderr)
    );

    let classes = s.dir.join("classes");
    let cp = "/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar";
    let out = run(Command::new("javac")
        .args(["-cp", cp, "-d"])
        .arg(&classes)
        .arg(workspace_root().join("tests/interop/santuario/SantuarioVerify.java")));
    assert!(out.status.success(), "javac: {}", text(&out.stderr));
    let out = run(Command::new("java")
        .args([
            "-cp",
            &format!("{}:{cp}", classes.display()),
            "SantuarioVerify",
        ])
        .arg(&s.evidence)
        .arg(s.pki.join("root-ca.pem"))
        .arg(s.pki.join("issuing-ca.pem")));
    assert!(
        out.status.success() && text(&out.stdout).starts_with("OK"),
        "Santuario: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The text of the first element named `name` (prefix included).
fn element_text<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).expect(name) + open.len();
    let end = start + xml[start..].find('<').expect("end");
    &xml[start..end]
}

#[test]
fn the_time_stamp_tokens_verify_with_openssl_ts() {
    require_tool("openssl", &["version"]);
    let s = sealed("evidence-openssl");
    let root = s.pki.join("root-ca.pem").display().to_string();
    let chain = s.pki.join("tsa-chain.pem").display().to_string();
    let ts_verify = |token_b64: &str, digest_hex: &str| {
        let token = sealpost_xmldsig::dsig::base64_decode(token_b64).expect("base64");
        let file = s.dir.join("token.der");
        std::fs::write(&file, token).expect("write");
        let out = run(Command::new("openssl").args([
            "ts",
            "-verify",
            "-token_in",
            "-in",
            file.to_str().expect("path"),
            "-digest",
            digest_hex,
            "-CAfile",
            &root,
            "-untrusted",
            &chain,
        ]));
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    };
    // The document's token, over the SHA-256 the evidence states.
    let sha = element_text(&s.xml, "ev:Sha256");
    assert_eq!(
        sha,
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, LETTER).as_ref())
    );
    let out = ts_verify(element_text(&s.xml, "ev:TimeStampToken"), sha);
    assert!(out.contains("Verification: OK"), "{out}");
    // The signature time-stamp, over the canonical ds:SignatureValue, which a court writes out
    // by hand: <ds:SignatureValue xmlns:ds="...">VALUE</ds:SignatureValue>.
    let canonical = format!(
        "<ds:SignatureValue xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{}</ds:SignatureValue>",
        element_text(&s.xml, "ds:SignatureValue")
    );
    let digest =
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref());
    let out = ts_verify(element_text(&s.xml, "xades:EncapsulatedTimeStamp"), &digest);
    assert!(out.contains("Verification: OK"), "{out}");
    // Against another digest, openssl refuses it.
    let out = ts_verify(
        element_text(&s.xml, "xades:EncapsulatedTimeStamp"),
        &"00".repeat(32),
    );
    assert!(out.contains("Verification: FAILED"), "{out}");
}

#[test]
fn every_evidence_validates_against_the_published_schema() {
    require_tool("xmllint", &["--version"]);
    let schema = workspace_root().join("proto/evidence.xsd");
    let s = sealed("evidence-xsd");
    let validate = |path: &Path| {
        let out = run(Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&schema)
            .arg(path));
        (out.status.success(), text(&out.stderr))
    };
    let (ok, err) = validate(&s.evidence);
    assert!(ok, "xmllint: {err}");
    // And the schema refuses what the model forbids: an unknown event, a bad recipient.
    for (from, to) in [
        ("Event/SubmissionAcceptance", "Event/Unknown"),
        ("cbe:0203201340", "cbe:12"),
    ] {
        let bad = s.dir.join("bad.xml");
        std::fs::write(&bad, s.xml.replacen(from, to, 1)).expect("write");
        assert!(!validate(&bad).0, "{to} accepted by the schema");
    }
}

//! Third-party SOAP clients (zeep, WSS4J; tests/interop/soap) send a letter and get its
//! proofs back; the proofs verify with sealpost-verify and xmlsec1.

use std::process::Command;

use sealpost_interop::{CITIZEN, python, require_tool, run, text, workspace_root};

use super::{Fixture, court_verifies, fixture, xmlsec1_accepts};

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

//! OCSP: a real `openssl ocsp` responder answers for the development PKI's issuing CA from its
//! `index.txt`, signing as the PKI's delegated responder; the service asks it about every
//! sender, over SOAP and gRPC. Revoked in the index: refused as an untrusted or revoked signer,
//! nothing committed. No answer: refused too (fail closed), never let through.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sealpost_interop::{
    CITIZEN, OcspResponder, audit_log, binary, dev_pki_with, free_port, issue_dev_crls, letters,
    require_tool, run, text,
};

use super::grpc::grpc_submit;
use super::{Fixture, Letter, as_sender, code, fixture_on};

/// A development PKI whose leaves name an OCSP responder on a free port, and that port.
fn pki_naming_a_responder(name: &str) -> (std::path::PathBuf, u16) {
    require_tool("openssl", &["version"]);
    let port = free_port();
    let pki = dev_pki_with(
        name,
        &["--revocation-url", &format!("http://127.0.0.1:{port}")],
    );
    (pki, port)
}

/// The service checking OCSP (answers without nextUpdate current for 1 s, so that a
/// revocation is seen at the first request after that), with `extra` settings.
fn serving_with_ocsp(pki: std::path::PathBuf, extra: &[(&str, &str)]) -> Fixture {
    let mut settings = vec![
        ("SEALPOST_REVOCATION_OCSP", "true"),
        ("SEALPOST_REVOCATION_OCSP_MAX_AGE_S", "1"),
    ];
    settings.extend_from_slice(extra);
    fixture_on(pki, &settings)
}

/// The refusals of the audit log (the service stopped) whose detail names OCSP.
fn ocsp_refusals(pki: &Path, data: &Path) -> Vec<serde_json::Value> {
    audit_log(pki, data, &[])
        .into_iter()
        .filter(|e| e["outcome"] == "refused")
        .filter(|e| e["detail"].as_str().is_some_and(|d| d.contains("OCSP")))
        .collect()
}

#[test]
fn a_sender_revoked_at_the_ocsp_responder_is_refused_over_soap_and_grpc_though_no_crl_revokes_it() {
    let (pki, port) = pki_naming_a_responder("ocsp-revoked");
    let mut responder = OcspResponder::start(&pki, port);
    // CRLs too, which revoke nobody: every configured source must vouch for a sender.
    let out = run(Command::new(binary("sealpost")).args([
        "pki",
        "crl",
        "--dir",
        &pki.display().to_string(),
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let crls = format!(
        "{},{}",
        pki.join("issuing-ca.crl.pem").display(),
        pki.join("root-ca.crl.pem").display()
    );
    let f = serving_with_ocsp(pki, &[("SEALPOST_REVOCATION_CRLS", &crls)]);
    let dir = f.data.with_file_name("grpc");
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, "%PDF-1.7 OCSP letter").expect("write");
    let evidence = dir.join("evidence.xml");
    let r = as_sender(&f, "sender-a", &Letter::new("ocsp-1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let (exit, json) = grpc_submit(&f, "sender-a", "ocsp-g1", &document, &evidence, &[]);
    assert_eq!(exit, 0, "{json}");

    // What the holder of a stolen key wanted: keep sending after the CA revoked it (at its
    // responder, before its next CRL).
    responder.revoke("sender-a");
    std::thread::sleep(Duration::from_millis(1500));
    let r = as_sender(&f, "sender-a", &Letter::new("ocsp-2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    let (exit, json) = grpc_submit(&f, "sender-a", "ocsp-g2", &document, &evidence, &[]);
    assert_ne!(exit, 0, "{json}");
    assert_eq!(
        (json["status"].as_str(), json["code"].as_str()),
        (Some("UNAUTHENTICATED"), Some("SEALPOST-AUTH-002")),
        "{json}"
    );
    // Others still send.
    let r = as_sender(&f, "sender-b", &Letter::new("ocsp-3", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));

    let Fixture { pki, data, server } = f;
    drop(server);
    let audit = audit_log(&pki, &data, &[]);
    assert_eq!(
        letters(&audit).len(),
        3,
        "the three accepted letters, no more"
    );
    let refusals = ocsp_refusals(&pki, &data);
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    for refusal in &refusals {
        assert_eq!(refusal["code"], "SEALPOST-AUTH-002", "{refusal}");
        let detail = refusal["detail"].as_str().expect("detail");
        assert!(detail.contains("revoked"), "the audit says why: {detail}");
    }
}

#[test]
fn with_the_ocsp_responder_unreachable_no_sender_is_let_through() {
    // The responder named by the configuration, not the certificates' (which name the default
    // port): the override is what is asked.
    let (pki, _nobody_there) = pki_naming_a_responder("ocsp-unreachable");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let mut responder = OcspResponder::start(&pki, port);
    // The issuing CA names no responder: the root's CRL must speak for it, and with CRL files
    // the issuing CA's own list for its senders too.
    issue_dev_crls(&pki, &[]);
    let crls = format!(
        "{},{}",
        pki.join("issuing-ca.crl.pem").display(),
        pki.join("root-ca.crl.pem").display()
    );
    let f = serving_with_ocsp(
        pki,
        &[
            ("SEALPOST_REVOCATION_OCSP_RESPONDER", &url),
            ("SEALPOST_REVOCATION_CRLS", &crls),
        ],
    );
    let r = as_sender(&f, "sender-b", &Letter::new("ocsp-u1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));

    responder.stop();
    std::thread::sleep(Duration::from_millis(1500));
    let r = as_sender(&f, "sender-b", &Letter::new("ocsp-u2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));

    let Fixture { pki, data, server } = f;
    drop(server);
    assert_eq!(letters(&audit_log(&pki, &data, &[])).len(), 1);
    let refusals = ocsp_refusals(&pki, &data);
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let detail = refusals[0]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("cannot be established") && detail.contains(&url),
        "the audit says why: {detail}"
    );
}

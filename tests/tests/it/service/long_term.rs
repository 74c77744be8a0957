//! Long-term evidences: the service seals XAdES B-LT (the revocation values of the seal's
//! and the time-stamping unit's chains after the signature time-stamp), and its archive job
//! adds B-LTA archive time-stamps. Checked with tools nobody here wrote: `openssl ocsp
//! -respin` accepts each embedded OCSP answer from the real `openssl ocsp` responder,
//! `openssl crl` each embedded CRL, xmlsec1 the seal, and an archive token's imprint
//! recomputed by `tests/interop/long_term/archive_imprint.py` (lxml) is what `openssl ts
//! -verify` accepts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sealpost_interop::{
    CITIZEN, OcspResponder, audit_log, dev_pki_with, free_port, letters, python, require_tool, run,
    system_now, text, workspace_root, xml_text as field,
};
use sealpost_xmldsig::dsig::base64_decode;
use sealpost_xmldsig::wss_sign::format_date_time;

use super::remote_tsa::{court as court_with, served_trusted_list, tsa};
use super::{
    Fixture, Letter, as_sender, code, court_verifies, evidence_of, fields, fixture, fixture_on,
    sealpost, xmlsec1_accepts,
};

/// A development PKI whose leaves name an OCSP responder on a free port, and that port.
fn pki_naming_a_responder(name: &str) -> (PathBuf, u16) {
    require_tool("openssl", &["version"]);
    let port = free_port();
    let pki = dev_pki_with(
        name,
        &["--revocation-url", &format!("http://127.0.0.1:{port}")],
    );
    (pki, port)
}

/// Submits a letter as `sender-a`; its message id and its proof of dispatch.
fn submit(f: &Fixture, key: &str) -> (String, String) {
    let r = as_sender(f, "sender-a", &Letter::new(key, CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let body = text(&r.body);
    (
        field(&body, "MessageId").expect("message id"),
        evidence_of(&field(&body, "Evidence").expect("evidence")),
    )
}

/// The evidences GetEvidence serves for `message_id`, oldest first.
fn get_evidences(f: &Fixture, message_id: &str) -> Vec<String> {
    let r = as_sender(
        f,
        "sender-a",
        &format!(
            "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
        ),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    fields(&text(&r.body), "Evidence")
        .iter()
        .map(|e| evidence_of(e))
        .collect()
}

/// The DER of each `name` element (base64) of an evidence.
fn encapsulated(xml: &str, name: &str) -> Vec<Vec<u8>> {
    fields(xml, name)
        .iter()
        .map(|b64| base64_decode(&b64.split_whitespace().collect::<String>()).expect("base64"))
        .collect()
}

/// `contents` written to a file under the fixture's scratch folder.
fn written(f: &Fixture, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let dir = f.data.with_file_name("long-term");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

/// Whether `openssl ocsp -respin` verifies `response` (DER) against the development root
/// and finds `cert` good in it.
fn openssl_finds_good(pki: &Path, response: &Path, cert: &str) -> bool {
    let out = run(Command::new("openssl")
        .args(["ocsp", "-respin"])
        .arg(response)
        .arg("-CAfile")
        .arg(pki.join("root-ca.pem"))
        .arg("-issuer")
        .arg(pki.join("issuing-ca.pem"))
        .arg("-verify_other")
        .arg(pki.join("issuing-ca.pem"))
        .arg("-cert")
        .arg(pki.join(cert))
        .arg("-no_nonce"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    out.status.success()
        && stderr.contains("Response verify OK")
        && stdout.contains(&format!("{}: good", pki.join(cert).display()))
}

#[test]
fn a_proof_of_dispatch_is_b_lt_with_the_ocsp_answers_and_crls_openssl_accepts() {
    require_tool("xmlsec1", &["--version"]);
    let (pki, port) = pki_naming_a_responder("long-term-ocsp");
    let _responder = OcspResponder::start(&pki, port);
    let f = fixture_on(pki, &[("SEALPOST_REVOCATION_OCSP", "true")]);
    let (message_id, proof) = submit(&f, "lt-1");
    let served = get_evidences(&f, &message_id);
    assert_eq!(
        served[0], proof,
        "GetEvidence serves the proof as it was given"
    );
    for evidence in &served {
        assert!(evidence.contains("<xades:RevocationValues>"), "{evidence}");
        assert!(evidence.contains("<xades:CertificateValues>"), "{evidence}");
    }

    // The seal's and the time-stamping unit's certificates, each shown good by the
    // responder they name, in an answer OpenSSL verifies.
    let responses = encapsulated(&proof, "EncapsulatedOCSPValue");
    assert_eq!(
        responses.len(),
        2,
        "one answer for the seal, one for the unit"
    );
    let mut covered = Vec::new();
    for (i, der) in responses.iter().enumerate() {
        let path = written(&f, &format!("ocsp-{i}.der"), der);
        for cert in ["seal.pem", "tsa.pem"] {
            if openssl_finds_good(&f.pki, &path, cert) {
                covered.push(cert);
            }
        }
    }
    covered.sort_unstable();
    assert_eq!(covered, ["seal.pem", "tsa.pem"]);

    // The issuing CA, which names no responder: the root's CRL, which OpenSSL verifies.
    let crls = encapsulated(&proof, "EncapsulatedCRLValue");
    assert_eq!(crls.len(), 1, "the root's CRL");
    let crl = written(&f, "root.crl", &crls[0]);
    let out = run(Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-in"])
        .arg(&crl)
        .arg("-CAfile")
        .arg(f.pki.join("root-ca.pem")));
    assert!(
        out.status.success() && text(&out.stderr).contains("verify OK"),
        "openssl crl: {}",
        text(&out.stderr)
    );

    // The seal itself is untouched by what follows it, and the court's verifier decides
    // the revocation from what the proof carries.
    xmlsec1_accepts(&f, &written(&f, "proof.xml", &proof));
    let (exit, report) = court_verifies(&f, &proof, None);
    assert_eq!(exit, 0, "the court's verifier: {report}");
}

#[test]
fn without_ocsp_the_crls_of_both_cas_are_embedded_and_openssl_verifies_them() {
    let f = fixture();
    let (_, proof) = submit(&f, "lt-crl");
    assert!(encapsulated(&proof, "EncapsulatedOCSPValue").is_empty());
    let crls = encapsulated(&proof, "EncapsulatedCRLValue");
    assert_eq!(crls.len(), 2, "the issuing CA's and the root's");
    let chain = f.pki.join("ca-chain.pem");
    for (i, der) in crls.iter().enumerate() {
        let path = written(&f, &format!("crl-{i}.der"), der);
        let out = run(Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-in"])
            .arg(&path)
            .arg("-CAfile")
            .arg(&chain));
        assert!(
            out.status.success() && text(&out.stderr).contains("verify OK"),
            "openssl crl: {}",
            text(&out.stderr)
        );
    }
}

/// `sealpost admin evidence archive --due-at DATE` on the fixture's store: its exit status
/// and its output (standard output, then standard error).
fn archive_round(f: &Fixture, due_at: &str) -> (bool, String) {
    let out =
        run(sealpost(&f.pki, &f.data).args(["admin", "evidence", "archive", "--due-at", due_at]));
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// Ten years from now, when every development certificate has expired.
fn ten_years_ahead() -> String {
    format_date_time(system_now() + Duration::from_secs(3650 * 86_400))
}

/// The fixture's service restarted with a new time-stamping unit of the development issuing
/// CA, valid twenty years (`tsa-long.pem`), the previous one published still
/// (`tsa.previous_units`).
fn with_a_long_lived_unit(f: Fixture) -> Fixture {
    let pki = stopped_with_a_long_lived_unit(f);
    let (cert, key, previous) = (
        pki.join("tsa-long.pem"),
        pki.join("tsa-long.key"),
        pki.join("tsa.pem"),
    );
    fixture_on(
        pki.clone(),
        &[
            ("SEALPOST_TSA_CERT", cert.to_str().expect("path")),
            ("SEALPOST_TSA_KEY", key.to_str().expect("path")),
            (
                "SEALPOST_TSA_PREVIOUS_UNITS",
                previous.to_str().expect("path"),
            ),
        ],
    )
}

/// The fixture's service stopped, and a time-stamping unit of the development issuing CA
/// valid twenty years made: `tsa-long.pem` and `tsa-long.key` in its PKI, returned.
fn stopped_with_a_long_lived_unit(f: Fixture) -> PathBuf {
    let Fixture {
        pki,
        data: _,
        server,
    } = f;
    drop(server);
    let key = std::fs::read_to_string(pki.join("issuing-ca.key")).expect("CA key");
    let ca = sealpost_pki::Authority::load_dev(
        sealpost_pki::DEV_ISSUING_CA,
        &sealpost_interop::cert_der(&pki.join("issuing-ca.pem")),
        &key,
    )
    .expect("issuing CA");
    let unit = ca
        .issue(&sealpost_pki::LeafSpec::new(
            "Sealpost Development Time-Stamping Unit 2",
            sealpost_pki::Profile::TimeStamping { eku_critical: true },
            sealpost_pki::KeyAlgorithm::EcdsaP256,
            system_now() - Duration::from_secs(60),
            Duration::from_secs(20 * 365 * 86_400),
        ))
        .expect("unit");
    std::fs::write(pki.join("tsa-long.pem"), unit.cert_pem()).expect("cert");
    std::fs::write(pki.join("tsa-long.key"), unit.key_pem()).expect("key");
    pki
}

/// The audit entries of the archive job.
fn archive_entries(f: &Fixture) -> Vec<serde_json::Value> {
    audit_log(&f.pki, &f.data, &[])
        .into_iter()
        .filter(|e| e["operation"] == "EvidenceArchive")
        .collect()
}

#[test]
fn an_archive_round_ten_years_ahead_adds_an_archive_time_stamp_openssl_accepts_and_keeps_the_sealed_bytes()
 {
    require_tool("xmlsec1", &["--version"]);
    let f = fixture();
    let (message_id, proof) = submit(&f, "lt-archive");
    // Nothing is due today: the development certificates are valid for years.
    let (ok, out) = archive_round(&f, &format_date_time(system_now()));
    assert!(ok, "{out}");
    assert!(out.contains("\"archived\":0"), "{out}");
    assert_eq!(get_evidences(&f, &message_id)[0], proof);

    // Ten years ahead both proofs are due, but the only unit expires as soon as their
    // time-stamps: an archive time-stamp of it would renew nothing, so none is made.
    let (ok, out) = archive_round(&f, &ten_years_ahead());
    assert!(!ok, "{out}");
    assert!(
        out.contains("\"archived\":0") && out.contains("no configured unit lasts longer"),
        "{out}"
    );
    assert_eq!(get_evidences(&f, &message_id)[0], proof);

    // The operator replaces the unit by one valid twenty years, the previous one still
    // published: the round renews both proofs with it.
    let f = with_a_long_lived_unit(f);
    let (ok, out) = archive_round(&f, &ten_years_ahead());
    assert!(ok, "{out}");
    assert!(
        out.contains("\"archived\":2") && out.contains("\"failed\":0"),
        "{out}"
    );
    let served = get_evidences(&f, &message_id);
    let archived = &served[0];
    assert_ne!(archived, &proof);
    assert_eq!(archived.matches("<xades141:ArchiveTimeStamp").count(), 1);
    assert!(
        archived.contains("<xades141:TimeStampValidationData"),
        "{archived}"
    );
    // Every byte of the proof as sealed is in the archived form, in place: the properties
    // are inserted before the end of the unsigned signature properties, nothing else moves.
    let end = "</xades:UnsignedSignatureProperties>";
    let at = proof.rfind(end).expect("unsigned properties");
    assert!(archived.starts_with(&proof[..at]) && archived.ends_with(&proof[at..]));
    xmlsec1_accepts(&f, &written(&f, "archived.xml", archived));
    // The trusted list the service now serves names both units.
    let (exit, report) = court_with(&f, archived, &served_trusted_list(&f));
    assert_eq!(exit, 0, "the court's verifier: {report}");

    // The archive token's imprint, recomputed by a script nobody here wrote the
    // canonicalization of, is what the token is over.
    let dir = f.data.with_file_name("archive-imprint");
    let out = run(Command::new(python())
        .arg(workspace_root().join("tests/interop/long_term/archive_imprint.py"))
        .arg(written(&f, "archived-for-script.xml", archived))
        .arg(&dir));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let (n, imprint) = line.trim().split_once(' ').expect("N HEX");
    assert_eq!(n, "1");
    let verify = |digest: &str| {
        run(Command::new("openssl")
            .args(["ts", "-verify", "-token_in", "-digest", digest, "-in"])
            .arg(dir.join("archive-1.tst"))
            .arg("-CAfile")
            .arg(f.pki.join("root-ca.pem"))
            .arg("-untrusted")
            .arg(f.pki.join("issuing-ca.pem")))
    };
    let out = verify(imprint);
    assert!(
        out.status.success() && text(&out.stdout).contains("Verification: OK"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // And over that digest only.
    let wrong = format!("{:0>64}", "1");
    assert!(!verify(&wrong).status.success());

    // The audit log names each archiving: the evidence, its letter, why, and when.
    let entries = archive_entries(&f);
    let archiving: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .is_some_and(|d| d.contains(" archived (due: "))
        })
        .collect();
    assert_eq!(archiving.len(), 2, "{entries:?}");
    let acceptance_id = field(&proof, "EvidenceId").expect("evidence id");
    let detail = archiving
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .find(|d| d.contains(&acceptance_id))
        .expect("the acceptance's archiving");
    assert!(
        detail.contains(&message_id)
            && detail.contains("certificate expires on")
            && detail.contains("archive time-stamp of "),
        "{detail}"
    );
}

#[test]
fn with_the_tsa_unreachable_an_archive_round_fails_cleanly_and_the_stored_form_is_unchanged() {
    // Sealed by the embedded unit; then the operator archives with a remote TSA of a unit
    // valid twenty years, which is down.
    let pki = sealpost_interop::dev_pki("long-term-tsa-down");
    let f = fixture_on(pki.clone(), &[]);
    let (message_id, proof) = submit(&f, "lt-down");
    let pki = stopped_with_a_long_lived_unit(f);
    let remote = tsa(&pki, "tsa-long", "tsa-archive");
    let (url, units, previous) = (
        format!("http://{}/tsa", remote.addr),
        pki.join("tsa-long.pem"),
        pki.join("tsa.pem"),
    );
    let f = fixture_on(
        pki.clone(),
        &[
            ("SEALPOST_TSA_REMOTE", url.as_str()),
            ("SEALPOST_TSA_REMOTE_UNITS", units.to_str().expect("path")),
            ("SEALPOST_TSA_REMOTE_TIMEOUT_MS", "2000"),
            (
                "SEALPOST_TSA_PREVIOUS_UNITS",
                previous.to_str().expect("path"),
            ),
        ],
    );
    drop(remote);

    let (ok, out) = archive_round(&f, &ten_years_ahead());
    assert!(
        !ok,
        "an archive round without a TSA does not succeed: {out}"
    );
    assert!(
        out.contains("\"archived\":0") && out.contains("\"failed\":2"),
        "{out}"
    );
    assert!(
        out.contains("time-stamp"),
        "the operator is told why: {out}"
    );
    let served = get_evidences(&f, &message_id);
    assert_eq!(served[0], proof, "the stored form is unchanged");
    assert!(!served[1].contains("ArchiveTimeStamp"));
    let failures: Vec<serde_json::Value> = archive_entries(&f)
        .into_iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("not archived"))
        })
        .collect();
    assert_eq!(failures.len(), 2, "each failure is audited: {failures:?}");
}

#[test]
fn a_seal_certificate_revoked_at_the_responder_makes_letters_unavailable_with_nothing_committed() {
    let (pki, port) = pki_naming_a_responder("long-term-seal-revoked");
    let mut responder = OcspResponder::start(&pki, port);
    // Answers without nextUpdate are current for 1 s: the revocation is seen at once.
    let f = fixture_on(
        pki,
        &[
            ("SEALPOST_REVOCATION_OCSP", "true"),
            ("SEALPOST_REVOCATION_OCSP_MAX_AGE_S", "1"),
        ],
    );
    submit(&f, "lt-before");
    responder.revoke("seal");
    std::thread::sleep(Duration::from_millis(1500));
    let r = as_sender(&f, "sender-a", &Letter::new("lt-after", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-SRV-001", "{}", text(&r.body));
    assert_eq!(field(&text(&r.body), "MessageId"), None);
    let Fixture { pki, data, server } = f;
    drop(server);
    let audit = audit_log(&pki, &data, &[]);
    assert_eq!(
        letters(&audit).len(),
        1,
        "only the letter before the revocation"
    );
}

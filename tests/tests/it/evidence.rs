//! Sealed evidence checked the way a court would: `sealpost-verify` (exit codes, report,
//! JSON, batch), and with tools nobody here wrote: xmlsec1 and Apache Santuario verify the
//! seal, `openssl ts -verify` the time-stamp tokens extracted from it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use sealpost_evidence::long_term::{ValidationData, ValidationSource, add_archive_timestamp};
use sealpost_evidence::model::{
    Document, Event, Evidence, Issuer, Recipient, Sender, hex, new_evidence_id,
};
use sealpost_evidence::seal::{SealError, Sealer, Timestamper};
use sealpost_interop::{
    binary, cert_der, dev_pki, python, require_tool, run, system_now, text, trusted_list,
    workspace_root,
};
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
    model: Evidence,
    tsa: TimeStampAuthority,
}

/// The sealer of the development PKI's credential `name` (`seal`, or a forger's key).
pub(crate) fn sealer_of(pki: &Path, name: &str) -> Sealer {
    let PrivateKeyDer::Pkcs8(key) =
        PrivateKeyDer::from_pem_file(pki.join(format!("{name}.key"))).expect("key")
    else {
        panic!("PKCS#8")
    };
    let signer = DocumentSigner::new(
        key.secret_pkcs8_der(),
        vec![
            cert_der(&pki.join(format!("{name}.pem"))),
            cert_der(&pki.join("issuing-ca.pem")),
        ],
    )
    .expect("signer");
    Sealer::new(signer)
        .expect("sealer")
        .with_validation_source(std::sync::Arc::new(DevCrls(pki.to_owned())))
}

/// The development CAs' CRLs (`sealpost pki crl`), as the operator's revocation services give
/// them: each evidence sealed carries them (XAdES B-LT).
struct DevCrls(PathBuf);

impl ValidationSource for DevCrls {
    fn validation_data(&self, _: &[Vec<Vec<u8>>]) -> Result<ValidationData, SealError> {
        let pki = &self.0;
        if !pki.join("issuing-ca.crl.pem").exists() {
            let out = run(Command::new(binary("sealpost"))
                .args(["pki", "crl", "--dir"])
                .arg(pki));
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let crl = |name: &str| {
            let pem = std::fs::read_to_string(pki.join(name)).expect("CRL");
            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            sealpost_xmldsig::dsig::base64_decode(&b64).expect("CRL base64")
        };
        Ok(ValidationData {
            certificates: vec![cert_der(&pki.join("issuing-ca.pem"))],
            crls: vec![crl("issuing-ca.crl.pem"), crl("root-ca.crl.pem")],
            ocsp_responses: Vec::new(),
        })
    }
}

/// The development PKI's time-stamping unit, in process (its serial numbers kept in `dir`).
pub(crate) fn tsa_of(pki: &Path, dir: &Path) -> TimeStampAuthority {
    TimeStampAuthority::from_settings(&TsaSettings {
        cert: pki.join("tsa.pem"),
        key: pki.join("tsa.key"),
        chain: Some(pki.join("issuing-ca.pem")),
        serial_state: dir.join("tsa-serial"),
        node: 0,
        clock: ClockKind::Unchecked,
        policy: der::asn1::ObjectIdentifier::new_unwrap("0.4.0.2023.1.1"),
        accepted_policies: Vec::new(),
        accuracy: Duration::from_secs(1),
    })
    .expect("tsa")
}

fn sealed(name: &str) -> Sealed {
    let pki = dev_pki(name);
    let dir = pki.parent().expect("scratch").to_owned();
    let tsa = tsa_of(&pki, &dir);
    let sha: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, LETTER)
        .as_ref()
        .try_into()
        .expect("32");
    let now = system_now();
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
            agent: None,
        },
        recipient: Recipient {
            id: "cbe:0203201340".into(),
            delegate: None,
            mandate: None,
            authentication: None,
        },
        submission_time: now,
        message_id: new_evidence_id(now),
        sender_reference: "PAY-2026-7".into(),
        subject: Some("Avis de paiement".into()),
        documents: vec![Document {
            id: "d1".into(),
            name: "avis.pdf".into(),
            size: LETTER.len() as u64,
            sha256: sealpost_evidence::model::Sha256(sha),
            time_stamp_token: Some(tsa.timestamp(&sha).expect("token")),
        }],
        reason: None,
        follows_from: None,
    };
    let xml = sealer_of(&pki, "seal")
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
        model: evidence,
        tsa,
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
    let list = trusted_list(&s.pki);
    let trust = [
        "--trust",
        root.to_str().expect("path"),
        "--provider",
        list.to_str().expect("path"),
    ];
    let (code, out) = verify_cli(
        &[&s.evidence],
        &[
            trust[0],
            trust[1],
            trust[2],
            trust[3],
            "--document",
            s.letter.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let seal_sha256 = sealpost_evidence::provider::fingerprint(&cert_der(&s.pki.join("seal.pem")));
    for expected in [
        "1 [ok  ]",
        "4 [ok  ]",
        "8 [ok  ]",
        "9 [ok  ]",
        &format!(
            "sealed by CN=Sealpost Development Evidence Seal,O=Sealpost Development,C=BE (SHA-256 {seal_sha256})"
        ),
        "Result: VALID",
        "handed document \"avis.pdf\"",
        "a remis le document \"avis.pdf\"",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }
    let (code, out) = verify_cli(&[&s.evidence], &[&trust[..], &["--json"]].concat());
    assert_eq!(code, 0);
    assert!(
        out.contains("\"verdict\":\"valid\"") && out.contains("\"proves_fr\""),
        "{out}"
    );
    assert!(
        out.contains(&format!("\"sealed_by\":{{\"sha256\":\"{seal_sha256}\",\"subject\":\"CN=Sealpost Development Evidence Seal,O=Sealpost Development,C=BE\"}}")),
        "{out}"
    );
    // Without the provider's identity, who sealed is not decided: indeterminate, exit 2.
    let (code, out) = verify_cli(&[&s.evidence], &trust[..2]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("4 [??  ]"), "{out}");

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
        &[
            "--trust",
            other.join("root-ca.pem").to_str().expect("path"),
            trust[2],
            trust[3],
        ],
    );
    assert_eq!(code, 2, "{out}");
    // Checked against another provider's published identity: invalid, exit 1.
    let (code, out) = verify_cli(
        &[&s.evidence],
        &[
            trust[0],
            trust[1],
            "--provider",
            trusted_list(&other).to_str().expect("path"),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("4 [FAIL]"), "{out}");
    // A trusted list that is not one: bad usage.
    assert_eq!(
        verify_cli(
            &[&s.evidence],
            &[
                trust[0],
                trust[1],
                "--provider",
                root.to_str().expect("path")
            ]
        )
        .0,
        64
    );
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
fn the_seal_verifies_with_xmlsec1_santuario_and_signxml_as_sealed_b_lt_and_archived_b_lta() {
    require_tool("xmlsec1", &["--version"]);
    require_tool("javac", &["-version"]);
    let s = sealed("evidence-xmlsec1");
    // The same evidence archived (B-LTA): its seal is the same, and so is every verdict.
    let archived = add_archive_timestamp(&s.xml, &s.tsa, &DevCrls(s.pki.clone())).expect("archive");
    assert!(archived.contains("<xades141:ArchiveTimeStamp"));
    let archived_path = s.dir.join("archived.xml");
    std::fs::write(&archived_path, &archived).expect("write");

    let classes = s.dir.join("classes");
    let cp = "/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar";
    let out = run(Command::new("javac")
        .args(["-cp", cp, "-d"])
        .arg(&classes)
        .arg(workspace_root().join("tests/interop/santuario/SantuarioVerify.java")));
    assert!(out.status.success(), "javac: {}", text(&out.stderr));
    let python = python();
    for evidence in [&s.evidence, &archived_path] {
        let out = run(Command::new("xmlsec1")
            .args(["--verify", "--enabled-key-data", "x509", "--trusted-pem"])
            .arg(s.pki.join("root-ca.pem"))
            .arg("--untrusted-pem")
            .arg(s.pki.join("issuing-ca.pem"))
            .args([
                "--id-attr:Id",
                "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
            ])
            .arg(evidence));
        assert!(out.status.success(), "xmlsec1: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("SignedInfo References (ok/all): 2/2"),
            "{}",
            text(&out.stderr)
        );
        let out = run(Command::new("java")
            .args([
                "-cp",
                &format!("{}:{cp}", classes.display()),
                "SantuarioVerify",
            ])
            .arg(evidence)
            .arg(s.pki.join("root-ca.pem"))
            .arg(s.pki.join("issuing-ca.pem")));
        assert!(
            out.status.success() && text(&out.stdout).starts_with("OK"),
            "Santuario: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        // signxml's XAdES verifier, pinned to the published seal certificate.
        let out = run(Command::new(&python)
            .arg(workspace_root().join("tests/interop/long_term/xades_verify.py"))
            .arg(evidence)
            .arg(s.pki.join("seal.pem")));
        assert!(
            out.status.success(),
            "signxml: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // A forger's seal (a sender's key) is refused by signxml pinned to the published one.
    let forged = sealer_of(&s.pki, "sender-a")
        .seal(&s.model, &s.tsa, system_now())
        .expect("seal");
    let forged_path = s.dir.join("forged.xml");
    std::fs::write(&forged_path, forged).expect("write");
    let out = run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/long_term/xades_verify.py"))
        .arg(&forged_path)
        .arg(s.pki.join("seal.pem")));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
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

/// The README's recipe for a court with standard tools only
/// (`tests/interop/court/verify-by-hand.sh`): exit code and output.
fn court_by_hand(s: &Sealed, evidence: &Path) -> (i32, String) {
    let out = run(Command::new("bash")
        .arg(workspace_root().join("tests/interop/court/verify-by-hand.sh"))
        .arg(evidence)
        .arg(s.pki.join("root-ca.pem"))
        .arg(trusted_list(&s.pki))
        .arg(&s.letter));
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn the_court_recipe_with_standard_tools_accepts_the_genuine_and_refuses_forgeries() {
    require_tool("xmlsec1", &["--version"]);
    require_tool("xmllint", &["--version"]);
    require_tool("openssl", &["version"]);
    let s = sealed("evidence-by-hand");
    let (code, out) = court_by_hand(&s, &s.evidence);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("VALID (by hand)\n"), "{out}");
    let now = system_now();
    // A letter never sent, sealed with a sender agency's key (a certificate under the same
    // root) and time-stamped by the genuine unit: xmlsec1 with the root alone says OK, the
    // published seal key says no.
    for forger in ["sender-a", "tls", "tsa"] {
        let forged = sealer_of(&s.pki, forger)
            .seal(&s.model, &s.tsa, now)
            .expect("seal");
        let path = s.dir.join(format!("forged-{forger}.xml"));
        std::fs::write(&path, forged).expect("write");
        let (code, out) = court_by_hand(&s, &path);
        assert_eq!(code, 1, "{forger}: {out}");
        assert!(
            out.contains("FAIL: the seal is not made with the provider's published seal key"),
            "{forger}: {out}"
        );
    }
    // Backdated a month under the genuine seal: the times disagree.
    let mut backdated = s.model.clone();
    backdated.event_time = now - Duration::from_secs(30 * 86_400);
    backdated.submission_time = backdated.event_time;
    let path = s.dir.join("backdated.xml");
    std::fs::write(
        &path,
        sealer_of(&s.pki, "seal")
            .seal(&backdated, &s.tsa, now)
            .expect("seal"),
    )
    .expect("write");
    let (code, out) = court_by_hand(&s, &path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL: the time-stamp of document"), "{out}");
    // Another document's digest slipped into the seal, where the signature does not cover it:
    // read from nowhere, refused.
    let other = s.dir.join("other.pdf");
    std::fs::write(&other, b"another letter").expect("write");
    let injected = s.xml.replacen(
        "</ds:Signature>",
        &format!(
            "<ds:Object><ev:Sha256>{}</ev:Sha256></ds:Object></ds:Signature>",
            hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"another letter").as_ref())
        ),
        1,
    );
    let path = s.dir.join("injected.xml");
    std::fs::write(&path, injected).expect("write");
    let out = run(Command::new("bash")
        .arg(workspace_root().join("tests/interop/court/verify-by-hand.sh"))
        .arg(&path)
        .arg(s.pki.join("root-ca.pem"))
        .arg(trusted_list(&s.pki))
        .arg(&other));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("FAIL: the seal holds more than a Sealpost seal does"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_evidence_time_stamps_verify_with_python_rfc3161_client() {
    let python = python();
    require_tool(
        python.to_str().expect("path"),
        &["-c", "import rfc3161_client"],
    );
    let s = sealed("evidence-rfc3161-client");
    let out = run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/court/rfc3161_client_evidence.py"))
        .arg(&s.evidence)
        .arg(s.pki.join("root-ca.pem"))
        .arg(s.pki.join("issuing-ca.pem"))
        .arg(&s.letter));
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "rfc3161-client:\n{report}");
    assert_eq!(report.matches("ok   ").count(), 4, "{report}");
}

#[test]
fn the_archive_time_stamps_verify_with_python_rfc3161_client_over_the_imprint_lxml_recomputes() {
    let python = python();
    require_tool(
        python.to_str().expect("path"),
        &["-c", "import rfc3161_client, lxml"],
    );
    let s = sealed("evidence-archive-rfc3161-client");
    // Archived twice: two archive time-stamps, the second over the first.
    let crls = DevCrls(s.pki.clone());
    let once = add_archive_timestamp(&s.xml, &s.tsa, &crls).expect("archive");
    let twice = add_archive_timestamp(&once, &s.tsa, &crls).expect("archive");
    let archived = s.dir.join("archived-twice.xml");
    std::fs::write(&archived, &twice).expect("write");
    let tokens = s.dir.join("archive-tokens");
    let imprints = run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/long_term/archive_imprint.py"))
        .arg(&archived)
        .arg(&tokens));
    assert!(imprints.status.success(), "{}", text(&imprints.stderr));
    assert_eq!(text(&imprints.stdout).lines().count(), 2);
    let mut check = Command::new(&python);
    check
        .arg(workspace_root().join("tests/interop/long_term/rfc3161_client_archive.py"))
        .arg(&tokens)
        .arg(s.pki.join("root-ca.pem"))
        .arg(s.pki.join("issuing-ca.pem"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = check.spawn().expect("python");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &imprints.stdout)
        .expect("imprints");
    let out = child.wait_with_output().expect("rfc3161-client");
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "rfc3161-client:\n{report}");
    assert_eq!(report.matches("ok   ").count(), 4, "{report}");
}

#[test]
fn the_court_verifies_as_on_a_date_with_at() {
    let s = sealed("evidence-at");
    let verify_at = |at: &str| {
        let out =
            run(sealpost_interop::court_verify_command(&s.pki, &s.evidence).args(["--at", at]));
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let year = sealpost_xmldsig::wss_sign::format_date_time(system_now())[..4]
        .parse::<u32>()
        .expect("year");
    // Next year: the time-stamp's certificate (five years) still proves when it was sealed.
    let (code, out, _) = verify_at(&format!("{}-06-01", year + 1));
    assert_eq!(code, Some(0), "{out}");
    // In twenty years, never archived: the proof lapsed with that certificate, undecided.
    let (code, out, _) = verify_at(&format!("{}-06-01T12:00:00Z", year + 20));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("11 [") && out.contains("expired"), "{out}");
    // Not a date: bad usage.
    let (code, _, err) = verify_at("next year");
    assert_eq!(code, Some(64), "{err}");
}

#[test]
fn a_trusted_list_after_a_key_change_names_the_previous_seal_too_and_only_a_seal() {
    let pki = dev_pki("trusted-list-previous");
    let earlier = dev_pki("trusted-list-earlier");
    let list = pki.join("rolled-over.xml");
    let write = |previous: &Path| {
        run(
            sealpost_interop::sealpost_command(&pki, &pki.join("unused-store"))
                .args(["pki", "trusted-list", "--out"])
                .arg(&list)
                .arg("--previous-seal")
                .arg(previous),
        )
    };
    let out = write(&earlier.join("seal.pem"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let provider = sealpost_evidence::provider::Provider::from_trusted_list(
        &std::fs::read(&list).expect("list"),
    )
    .expect("a trusted list");
    assert_eq!(
        provider.seal_certificates,
        vec![
            cert_der(&pki.join("seal.pem")),
            cert_der(&earlier.join("seal.pem"))
        ]
    );
    // A certificate without the seal profile is never published as a seal.
    let out = write(&pki.join("sender-a.pem"));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("extended key usage"),
        "{}",
        text(&out.stderr)
    );
}

/// The first line of the report that says the result.
fn result_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("Result: "))
        .unwrap_or_else(|| panic!("no result line:\n{out}"))
}

#[test]
fn sealpost_verify_says_why_in_plain_words_and_keeps_the_technical_cause() {
    let s = sealed("verify-plain");
    let root = s.pki.join("root-ca.pem");
    let list = trusted_list(&s.pki);
    let trust = [
        "--trust",
        root.to_str().expect("path"),
        "--provider",
        list.to_str().expect("path"),
    ];
    // Sealed by a sender agency's certificate under the same root.
    let forged = s.dir.join("forged.xml");
    std::fs::write(
        &forged,
        sealer_of(&s.pki, "sender-a")
            .seal(&s.model, &s.tsa, system_now())
            .expect("seal"),
    )
    .expect("write");
    let (code, out) = verify_cli(&[&forged], &trust);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        result_line(&out),
        "Result: INVALID: this seal is not Sealpost's: Sealpost does not publish the certificate that made it.",
        "{out}"
    );
    // The technical cause is still there, after the plain words, and in the JSON.
    assert!(
        out.contains("technical detail: sealed by CN=Sender A"),
        "{out}"
    );
    let (_, json) = verify_cli(&[&forged], &[&trust[..], &["--json"]].concat());
    let json: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    assert_eq!(json["verdict"], "invalid");
    assert_eq!(json["steps"][3]["outcome"], "failed");
    assert!(
        json["steps"][3]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("CN=Sender A")),
        "{json}"
    );
    assert!(
        json["finding"]
            .as_str()
            .is_some_and(|f| f.starts_with("this seal is not Sealpost's")),
        "{json}"
    );

    // Changed after sealing.
    let tampered = s.dir.join("tampered.xml");
    std::fs::write(&tampered, s.xml.replace("cbe:0203201340", "cbe:0203201341")).expect("write");
    let (code, out) = verify_cli(&[&tampered], &trust);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        result_line(&out),
        "Result: INVALID: the evidence was changed after it was sealed: the seal does not match its content.",
        "{out}"
    );
    // Not an evidence as Sealpost writes it: the plain words name no schema file.
    let broken = s.dir.join("broken.xml");
    std::fs::write(
        &broken,
        s.xml.replacen("<ev:Subject>", "<ev:Subject><!-- -->", 1),
    )
    .expect("write");
    let (code, out) = verify_cli(&[&broken], &trust);
    assert_eq!(code, 1, "{out}");
    assert!(
        result_line(&out).starts_with("Result: INVALID: this file is not a Sealpost evidence"),
        "{out}"
    );
    assert!(!out.contains("proto/evidence.xsd"), "{out}");
    // Another document than the one sent.
    let other = s.dir.join("other.pdf");
    std::fs::write(&other, b"another letter").expect("write");
    let (code, out) = verify_cli(
        &[&s.evidence],
        &[&trust[..], &["--document", other.to_str().expect("path")]].concat(),
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        result_line(&out),
        "Result: INVALID: this document is not the one that was sent.",
        "{out}"
    );
    // The wrong root: not "forged", and said so.
    let elsewhere = dev_pki("verify-plain-other");
    let (code, out) = verify_cli(
        &[&s.evidence],
        &[
            "--trust",
            elsewhere.join("root-ca.pem").to_str().expect("path"),
            trust[2],
            trust[3],
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        result_line(&out).starts_with("Result: INDETERMINATE: "),
        "{out}"
    );
    assert!(
        !result_line(&out).contains("InvalidSignatureForPublicKey")
            && !result_line(&out).contains("UnknownIssuer"),
        "{out}"
    );
    // An auditor's sweep says the plain words too.
    let sweep = s.dir.join("sweep");
    std::fs::create_dir_all(&sweep).expect("dir");
    std::fs::copy(&forged, sweep.join("forged.xml")).expect("copy");
    let (_, out) = verify_cli(&[&sweep], &trust);
    assert!(out.contains("this seal is not Sealpost's"), "{out}");
}

#[test]
fn sealpost_verify_exits_only_with_the_documented_codes() {
    let s = sealed("verify-exit-codes");
    let root = s.pki.join("root-ca.pem");
    let list = trusted_list(&s.pki);
    let (root, list) = (root.to_str().expect("path"), list.to_str().expect("path"));
    let tampered = s.dir.join("tampered.xml");
    std::fs::write(&tampered, s.xml.replace("cbe:0203201340", "cbe:0203201341")).expect("write");
    let missing = s.dir.join("missing.xml");
    for (files, extra, code, what) in [
        (
            vec![&s.evidence],
            vec!["--trust", root, "--provider", list],
            0,
            "valid",
        ),
        (
            vec![&tampered],
            vec!["--trust", root, "--provider", list],
            1,
            "invalid",
        ),
        (vec![&s.evidence], vec!["--trust", root], 2, "indeterminate"),
        (vec![], vec!["--help"], 0, "help"),
        (vec![], vec!["--version"], 0, "version"),
        (vec![&s.evidence], vec![], 64, "no --trust"),
        (
            vec![&s.evidence],
            vec!["--trust", root, "--frobnicate"],
            64,
            "an unknown option",
        ),
        (
            vec![&missing],
            vec!["--trust", root, "--provider", list],
            64,
            "an evidence that is not there",
        ),
        (
            vec![&s.evidence],
            vec!["--trust", list],
            64,
            "a root that is no certificate",
        ),
    ] {
        let files: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let (got, out) = verify_cli(&files, &extra);
        assert_eq!(got, code, "{what}: {out}");
        if what == "help" {
            assert!(
                out.contains("Exit codes: 0 valid, 1 invalid, 2 indeterminate, 64 bad usage"),
                "{out}"
            );
        }
    }
}

#[test]
fn sealpost_verify_piped_into_head_ends_quietly_with_the_verdict() {
    require_tool("bash", &["--version"]);
    let s = sealed("verify-head");
    // A sweep whose report is far larger than a pipe holds, the one invalid evidence last:
    // `head -1` has gone long before it is reached.
    let sweep = s.dir.join("sweep");
    std::fs::create_dir_all(&sweep).expect("dir");
    for i in 0..150 {
        std::fs::copy(&s.evidence, sweep.join(format!("a{i:03}.xml"))).expect("copy");
    }
    std::fs::write(
        sweep.join("z.xml"),
        s.xml.replace("cbe:0203201340", "cbe:0203201341"),
    )
    .expect("write");
    let verify = format!(
        "{} --trust {} --provider {}",
        binary("sealpost-verify").display(),
        s.pki.join("root-ca.pem").display(),
        trusted_list(&s.pki).display()
    );
    for (args, code) in [
        (format!("{} --json", sweep.display()), 1),
        (format!("{} --json", s.evidence.display()), 0),
        (s.evidence.display().to_string(), 0),
        (
            format!(
                "{} --document {}",
                s.evidence.display(),
                sweep.join("z.xml").display()
            ),
            1,
        ),
        ("--help".to_owned(), 0),
    ] {
        let out = run(Command::new("bash")
            .args(["-c", "set -o pipefail; $0 $1 | head -1"])
            .arg(&verify)
            .arg(&args));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args}: {stderr}");
        assert_eq!(text(&out.stdout).lines().count(), 1, "{args}");
    }
}

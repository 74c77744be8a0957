//! The README's procedure for the clerk of a court, run as written: its shell blocks are taken
//! from README.md (each after its `<!-- court-procedure: ... -->` marker) and run with bash in
//! a folder holding only the three files a court is told to get: the evidence, the root, and
//! the trusted list the real service publishes. Genuine evidences of letters of one and two
//! documents are VALID; forgeries are not.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sealpost_interop::{
    CITIZEN, SoapService, https_raw, require_tool, run, samples_dir, scratch_dir, sha256_hex,
    submission_body, system_now, text, xml_text,
};
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};

use crate::evidence::{sealer_of, tsa_of};

const CHECKS: &str = "court-procedure: the checks";
const DOCUMENT: &str = "court-procedure: the document";

/// The shell block that follows `<!-- MARKER` in README.md; the marker must be there once.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(sealpost_interop::workspace_root().join("README.md"))
        .expect("README.md");
    let open = format!("<!-- {marker}");
    assert_eq!(readme.matches(&open).count(), 1, "{open} in README.md");
    let after = &readme[readme.find(&open).expect("marker")..];
    let start = after
        .find("\n```sh\n")
        .expect("a ```sh block after the marker")
        + "\n```sh\n".len();
    let end = after[start..].find("\n```").expect("the end of the block");
    after[start..start + end + 1].to_owned()
}

/// A clerk's folder: the evidence, the root and the trusted list, nothing else (and the
/// document the court holds, when given).
fn clerk_folder(name: &str, pki: &Path, list: &[u8], evidence: &[u8]) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::copy(pki.join("root-ca.pem"), dir.join("root-ca.pem")).expect("root");
    std::fs::write(dir.join("trusted-list.xml"), list).expect("list");
    std::fs::write(dir.join("evidence.xml"), evidence).expect("evidence");
    dir
}

/// Runs the README's checks (then its document check, when the folder holds `letter.pdf`)
/// in `dir`, in a time zone far from UTC; `at` is the date a court may choose (`AT`).
fn run_procedure(dir: &Path, at: Option<&str>) -> (i32, String) {
    let mut script = readme_block(CHECKS);
    if dir.join("letter.pdf").exists() {
        script.push_str(&readme_block(DOCUMENT));
    }
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_remove("AT")
        .env("TZ", "Pacific/Kiritimati");
    if let Some(at) = at {
        cmd.env("AT", at);
    }
    let out = run(&mut cmd);
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

fn assert_valid(dir: &Path, what: &str) -> String {
    let (code, out) = run_procedure(dir, None);
    assert_eq!(code, 0, "{what}:\n{out}");
    assert!(!out.contains("FAIL"), "{what}:\n{out}");
    assert!(out.contains("VALID: every check holds"), "{what}:\n{out}");
    out
}

fn assert_refused(dir: &Path, what: &str, reason: &str) {
    let (code, out) = run_procedure(dir, None);
    assert_ne!(code, 0, "{what}:\n{out}");
    assert!(!out.contains("VALID: every check holds"), "{what}:\n{out}");
    assert!(out.contains(&format!("FAIL: {reason}")), "{what}:\n{out}");
}

/// A SubmitRegisteredMail body of several documents.
fn letter_of(key: &str, documents: &[(&str, &[u8])]) -> String {
    let docs: String = documents
        .iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            format!(
                "<sp:Document><sp:Id>d{}</sp:Id><sp:Name>{name}</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document>",
                i + 1,
                sha256_hex(bytes),
                base64_encode(bytes)
            )
        })
        .collect();
    format!(
        "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{key}</sp:IdempotencyKey><sp:Recipient>{CITIZEN}</sp:Recipient><sp:MessageType>tax-assessment</sp:MessageType><sp:Subject>Avis</sp:Subject><sp:SenderReference>REF-{key}</sp:SenderReference>{docs}</sp:SubmitRegisteredMail>"
    )
}

/// Sends `body` as agency A; the sealed SubmissionAcceptance it gets back.
fn accepted(service: &SoapService, body: &str) -> Vec<u8> {
    let r = service.send("sender-a", body);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    base64_decode(&xml_text(&text(&r.body), "Evidence").expect("evidence")).expect("base64")
}

#[test]
fn the_readme_court_procedure_run_as_written_accepts_real_letters_and_refuses_forgeries() {
    for tool in ["xmllint", "xmlsec1"] {
        require_tool(tool, &["--version"]);
    }
    require_tool("openssl", &["version"]);
    let service = SoapService::start("court-readme", CITIZEN);
    let pki = &service.pki;
    // The provider's identity as the service publishes it.
    let r = https_raw(
        service.server.addr,
        &pki.join("root-ca.pem"),
        "GET /provider/trusted-list.xml HTTP/1.1",
        b"",
    );
    assert_eq!(r.status, 200);
    let list = r.body;

    let first: &[u8] = b"%PDF-1.7 Avis d'imposition 2026, page 1";
    let second: &[u8] = b"%PDF-1.7 Annexe: calcul detaille";
    let two = accepted(
        &service,
        &letter_of("court-two", &[("avis.pdf", first), ("annexe.pdf", second)]),
    );
    let two_text = text(&two);
    assert_eq!(two_text.matches("<ev:TimeStampToken>").count(), 2);
    let one = accepted(&service, &submission_body("court-one", CITIZEN, first));

    // Genuine: VALID with the three files, each document's time-stamp checked.
    let dir = clerk_folder("court-readme-two", pki, &list, &two);
    let out = assert_valid(&dir, "two documents");
    for sha in [sha256_hex(first), sha256_hex(second)] {
        assert!(
            out.contains(&format!("({sha}): time-stamped at the submission")),
            "{out}"
        );
    }
    assert_valid(
        &clerk_folder("court-readme-one", pki, &list, &one),
        "one document",
    );

    // Each document the court holds is one the evidence names; another is not.
    for (i, document) in [first, second].into_iter().enumerate() {
        std::fs::write(dir.join("letter.pdf"), document).expect("write");
        let out = assert_valid(&dir, &format!("document {i}"));
        assert!(
            out.contains("ok: letter.pdf is a document of this evidence"),
            "{out}"
        );
    }
    std::fs::write(dir.join("letter.pdf"), b"%PDF-1.7 another letter").expect("write");
    let (code, out) = run_procedure(&dir, None);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL: this document is not the one that was sent"),
        "{out}"
    );
    std::fs::remove_file(dir.join("letter.pdf")).expect("remove");

    // At a date the court chooses: judged six years on, when the seal and time-stamping
    // certificates (five years) have expired, the same evidence is not proven.
    let later = system_now() + Duration::from_secs(6 * 365 * 86_400);
    let later = sealpost_xmldsig::wss_sign::format_date_time(later)
        .replace('T', " ")
        .replace('Z', "");
    let (code, out) = run_procedure(&dir, Some(&later));
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(&format!("certificates judged at {later} UTC")),
        "{out}"
    );
    assert!(
        out.contains("FAIL: the time-stamp does not match the seal"),
        "{out}"
    );
    assert!(
        out.contains("FAIL: the seal's certificate does not chain to the root"),
        "{out}"
    );

    // A document's SHA-256 changed: the seal no longer covers the evidence.
    let forged = two_text.replacen(&sha256_hex(second), &sha256_hex(b"another annex"), 1);
    assert_ne!(forged, two_text);
    let hash = clerk_folder("court-readme-hash", pki, &list, forged.as_bytes());
    assert_refused(
        &hash,
        "a document hash changed",
        "this seal is not the provider's",
    );
    assert_refused(
        &hash,
        "a document hash changed",
        "the time-stamp of document 2 does not match it",
    );
    // The same letter sealed anew by other certificates under the same root (a sender agency,
    // the TLS server, the time-stamping unit), time-stamped by the genuine unit.
    let unsealed = &two_text[..two_text.find("<ds:Signature").expect("signature")];
    let unsealed = format!("{unsealed}</ev:Evidence>");
    let tsa = tsa_of(pki, &dir);
    for forger in ["sender-a", "tls", "tsa"] {
        let forged = sealer_of(pki, forger)
            .seal_xml(&unsealed, &tsa, system_now())
            .expect("seal");
        assert_refused(
            &clerk_folder(
                &format!("court-readme-{forger}"),
                pki,
                &list,
                forged.as_bytes(),
            ),
            forger,
            "this seal is not the provider's",
        );
    }
    // The genuine seal over the same letter, re-made: still VALID (the forgeries above fail
    // for their seal, not for being re-made).
    let resealed = sealer_of(pki, "seal")
        .seal_xml(&unsealed, &tsa, system_now())
        .expect("seal");
    assert_valid(
        &clerk_folder("court-readme-resealed", pki, &list, resealed.as_bytes()),
        "re-sealed by the provider's seal",
    );
    // Signed XML made by third-party tools, signed by a rogue key or edited.
    for sample in [
        "negative-proof-tampered.xml",
        "negative-proof-rogue-x509.xml",
        "negative-proof-rogue-keyvalue.xml",
    ] {
        let bytes = std::fs::read(samples_dir().join(sample)).expect("sample");
        let (code, out) = run_procedure(
            &clerk_folder("court-readme-sample", pki, &list, &bytes),
            None,
        );
        assert_ne!(code, 0, "{sample}:\n{out}");
        assert!(out.contains("NOT PROVEN"), "{sample}:\n{out}");
    }
}

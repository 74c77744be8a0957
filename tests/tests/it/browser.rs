//! The mailbox web UI in a real browser: `tests/browser/mailbox.mjs` drives Debian's headless
//! Chromium (npm playwright-core) against the real binary; Chromium trusts the development
//! root through a throwaway NSS database. This test sets up the service, sends the letters, runs
//! the script, and checks what the browser brought back: the document's bytes, a
//! ContentHandover evidence that `sealpost-verify` accepts, PNG screenshots in
//! `target/screenshots/` for a person to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use sealpost_interop::{
    CITIZEN, COMPANY, FIRST_PASSWORD, NEW_PASSWORD, NS_SOAP11, Server, TOTP_SECRET,
    court_verify_command, dev_pki, dev_signer, post_soap, require_tool, run, sealpost_command,
    sha256_hex, signed_soap, system_now, text, workspace_root, xml_text,
};
use sealpost_xmldsig::dsig::base64_encode;

fn admin(pki: &Path, data: &Path, args: &[&str]) {
    sealpost_interop::admin(sealpost_command(pki, data), args);
}

/// sender-a sends tax assessments and payment notices; Jan reads his own mailbox; Marie holds
/// a mandate for the company's tax assessments only; Bea manages the company's mandates; Piet
/// switches languages; Lena is there to be locked out.
fn fixture() -> (PathBuf, Server) {
    let pki = dev_pki("browser");
    let data = pki.with_file_name("var");
    let cert = pki.join("sender-a.pem");
    let cert = cert.to_str().expect("path");
    admin(
        &pki,
        &data,
        &[
            "sender",
            "set",
            "--id",
            "agency-a",
            "--name",
            "SPF Finances",
            "--cert",
            cert,
            "--types",
            "tax-assessment,payment-notice",
        ],
    );
    admin(&pki, &data, &["mailbox", "add", CITIZEN, "--name", "Jan"]);
    admin(
        &pki,
        &data,
        &["mailbox", "add", COMPANY, "--name", "Example NV"],
    );
    for (login, name, extra) in [
        ("jan", "Jan Peeters", vec!["--nrn", CITIZEN]),
        ("marie", "Marie Dubois", vec![]),
        ("lena", "Lena Maes", vec![]),
        ("bea", "Bea Janssens", vec!["--manages", COMPANY]),
        ("piet", "Piet Claes", vec![]),
    ] {
        let mut args = vec!["person", "add", "--login", login, "--name", name];
        args.extend(["--password", FIRST_PASSWORD, "--totp-secret", TOTP_SECRET]);
        args.extend(extra);
        admin(&pki, &data, &args);
    }
    admin(
        &pki,
        &data,
        &[
            "mandate",
            "grant",
            "--company",
            COMPANY,
            "--person",
            "marie",
            "--types",
            "tax-assessment",
        ],
    );
    let mut serve = sealpost_command(&pki, &data);
    serve.arg("serve");
    let server = Server::start(serve);
    (pki, server)
}

/// A letter from sender-a over SOAP with `document`: the server's answer.
fn submit(
    pki: &Path,
    server: &Server,
    key: &str,
    to: &str,
    kind: &str,
    subject: &str,
    document: &[u8],
) -> sealpost_interop::HttpResponse {
    let body = format!(
        "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{key}</sp:IdempotencyKey><sp:Recipient>{to}</sp:Recipient><sp:MessageType>{kind}</sp:MessageType><sp:Subject>{subject}</sp:Subject><sp:SenderReference>REF-{key}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail>",
        sha256_hex(document),
        base64_encode(document)
    );
    let signed = signed_soap(NS_SOAP11, &body, &dev_signer(pki, "sender-a"), system_now());
    post_soap(server.addr, &pki.join("root-ca.pem"), &signed)
}

/// A letter from sender-a over SOAP with `document`, accepted: its message id.
fn send(
    pki: &Path,
    server: &Server,
    key: &str,
    to: &str,
    kind: &str,
    subject: &str,
    document: &[u8],
) -> String {
    let r = submit(pki, server, key, to, kind, subject, document);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    xml_text(&text(&r.body), "MessageId").expect("a MessageId")
}

/// A PNG file's width and height (from its IHDR chunk), failing unless it is a PNG.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    (be(16), be(20))
}

#[test]
fn a_browser_logs_in_reads_a_letter_downloads_its_proof_and_sees_only_what_it_may_in_three_languages_accessibly()
 {
    require_tool("node", &["--version"]);
    let root = workspace_root();
    let script_dir = root.join("tests/browser");
    assert!(
        script_dir.join("node_modules/playwright-core").is_dir(),
        "{}/node_modules is missing: run `make deps` (npm ci in tests/browser)",
        script_dir.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run `make deps` (Debian package chromium)"
    );
    assert!(
        Path::new("/usr/bin/certutil").exists(),
        "/usr/bin/certutil is missing: run `make deps` (Debian package libnss3-tools)"
    );

    let (pki, server) = fixture();
    // A binary document: the download must give back every byte.
    let mut document = b"%PDF-1.7\n% Avis 2026\n".to_vec();
    document.extend(0..=255u8);
    let to_jan = send(
        &pki,
        &server,
        "k1",
        CITIZEN,
        "tax-assessment",
        "Avis 2026",
        &document,
    );
    let company_tax = send(
        &pki,
        &server,
        "k2",
        COMPANY,
        "tax-assessment",
        "Avis société",
        b"%PDF-1.7 company tax",
    );
    let company_payment = send(
        &pki,
        &server,
        "k3",
        COMPANY,
        "payment-notice",
        "Rappel de paiement",
        b"%PDF-1.7 company payment",
    );

    let out_dir = pki.with_file_name("browser");
    let shots = root.join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("target/screenshots");
    let started = std::time::Instant::now();
    let out = run(Command::new("node")
        .arg(script_dir.join("mailbox.mjs"))
        .arg("--base-url")
        .arg(format!("https://{}", server.addr))
        .arg("--ca")
        .arg(pki.join("root-ca.pem"))
        .arg("--out")
        .arg(&out_dir)
        .arg("--screenshots")
        .arg(&shots)
        .args(["--totp-secret", TOTP_SECRET, "--new-password", NEW_PASSWORD])
        .args(["--citizen", "jan", "--citizen-password", FIRST_PASSWORD])
        .args([
            "--mandatary",
            "marie",
            "--mandatary-password",
            FIRST_PASSWORD,
        ])
        .args(["--lockout", "lena", "--company", COMPANY])
        .args(["--manager", "bea", "--manager-password", FIRST_PASSWORD])
        .args(["--switcher", "piet", "--switcher-password", FIRST_PASSWORD])
        .args(["--letter", &to_jan, "--mandated-letter", &company_tax])
        .args(["--unmandated-letter", &company_payment]));
    eprintln!(
        "mailbox.mjs took {:.1} s\n{}",
        started.elapsed().as_secs_f64(),
        text(&out.stderr)
    );
    assert!(
        out.status.success(),
        "mailbox.mjs failed ({}): {}\n{}",
        out.status,
        text(&out.stderr),
        text(&out.stdout)
    );
    let stdout = text(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a JSON line on stdout"),
    )
    .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    eprintln!("mailbox.mjs found: {report}");
    let path = |key: &str| -> PathBuf {
        PathBuf::from(
            report[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key} in {report}")),
        )
    };

    // The document's bytes, exactly as sent.
    let downloaded = std::fs::read(path("document")).expect("downloaded document");
    assert_eq!(downloaded, document, "the downloaded document differs");

    // The ContentHandover evidence: sealed, verifiable offline, naming the person.
    let evidence = path("evidence");
    let xml = std::fs::read_to_string(&evidence).expect("downloaded evidence");
    assert!(xml.contains("Event/ContentHandover"), "{xml}");
    assert!(xml.contains("Jan Peeters (jan)"), "{xml}");
    // The sender's reference and the document's fingerprint tie it to this letter.
    assert!(xml.contains("<ev:SenderReference>REF-k1<"), "{xml}");
    assert!(xml.contains(&sha256_hex(&document)), "{xml}");
    let verify = run(&mut court_verify_command(&pki, &evidence));
    assert!(
        verify.status.success(),
        "sealpost-verify refused the downloaded evidence: {}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    // And it refuses the evidence once altered: the check above can fail.
    let forged = out_dir.join("forged-handover.xml");
    std::fs::write(&forged, xml.replace("Jan Peeters", "Jan Peeterz")).expect("write");
    let refused = run(&mut court_verify_command(&pki, &forged));
    assert!(!refused.status.success(), "a forged evidence was accepted");

    // What the browser saw.
    assert_eq!(report["lockout_status"], 401, "{report}");
    assert_eq!(report["foreign_letter_status"], 404, "{report}");
    assert_eq!(report["unmandated_letter_status"], 404, "{report}");
    assert_eq!(report["mandated_letter_listed"], true, "{report}");
    assert_eq!(report["unmandated_letter_listed"], false, "{report}");

    // Jan refused electronic delivery in the browser: the next letter is refused with a
    // sealed rejection that says so, and none is delivered.
    assert_eq!(report["delivery_refusal_status"], 200, "{report}");
    let r = submit(
        &pki,
        &server,
        "k4",
        CITIZEN,
        "tax-assessment",
        "Avis 2027",
        b"%PDF-1.7 after",
    );
    assert_eq!(r.status, 500, "{}", text(&r.body));
    assert!(
        text(&r.body).contains("SEALPOST-REQ-007"),
        "{}",
        text(&r.body)
    );

    // Every page the browser visited passed axe-core (WCAG 2.1 A and AA) and the landmark and
    // keyboard checks: the login and its error, TOTP, password change, inbox (desktop, phone,
    // Dutch), letter (desktop, phone), delivery, mandates, help, logged out, 404.
    let audits = report["audits"].as_object().expect("audits");
    for page in [
        "login-en",
        "login-error",
        "totp",
        "password",
        "inbox",
        "inbox-phone",
        "letter",
        "letter-phone",
        "delivery",
        "mandates",
        "help",
        "logged-out",
        "not-found",
        "login-nl",
        "inbox-nl",
    ] {
        assert_eq!(
            audits.get(page).map(|a| &a["violations"]),
            Some(&serde_json::json!(0)),
            "{page} was not audited: {report}"
        );
    }
    assert_eq!(report["error_times_shown"], 1, "{report}");
    assert_eq!(report["logged_out_fr"], "Vous êtes déconnecté", "{report}");

    // Screenshots: PNGs under target/screenshots; the phone one as wide as the phone.
    let more: Vec<String> = report["screenshots"]
        .as_array()
        .expect("screenshots")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert!(
        more.iter().any(|s| s.ends_with("-phone.png")) && more.len() >= 8,
        "{more:?}"
    );
    for shot in &more {
        let (w, h) = png_size(Path::new(shot));
        assert!(w >= 300 && h >= 300, "{shot}: {w}x{h}");
    }
    for key in ["inbox_screenshot", "letter_screenshot", "phone_screenshot"] {
        let shot = path(key);
        assert!(
            shot.starts_with(&shots),
            "{} not in {}",
            shot.display(),
            shots.display()
        );
        let (w, h) = png_size(&shot);
        assert!(w >= 300 && h >= 300, "{}: {w}x{h}", shot.display());
    }
    let (w, h) = png_size(&path("phone_screenshot"));
    let scale = report["phone_scale"].as_u64().expect("phone_scale");
    assert_eq!(u64::from(w), 390 * scale, "the inbox is wider than a phone");
    assert!(u64::from(h) >= 844 * scale, "{w}x{h}");
}

//! The audit export a court verifies offline: the real service takes some requests, the
//! operator seals the log and exports it (`sealpost admin audit seal`, `audit export`), and
//! `sealpost-verify --audit-export` finds it valid against the root and the provider's
//! trusted list, indeterminate without the trusted list, and invalid once one entry is edited.

use std::path::{Path, PathBuf};
use std::process::Command;

use sealpost_interop::{
    CITIZEN, Setting, SoapService, binary, drop_postgres_database, postgres_database, python,
    require_tool, run, sealpost_with, submission_body, text, trusted_list, workspace_root,
};

/// A mailbox number with valid check digits and no mailbox: the letter is refused.
const NOBODY: &str = "cbe:0417497106";

/// `sealpost-verify --audit-export EXPORT --trust ROOT [--provider TRUSTED-LIST] [ARGS]`: its
/// exit code and standard output.
fn court(pki: &Path, export: &Path, provider: bool, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(binary("sealpost-verify"));
    cmd.arg("--audit-export")
        .arg(export)
        .arg("--trust")
        .arg(pki.join("root-ca.pem"));
    if provider {
        cmd.arg("--provider").arg(trusted_list(pki));
    }
    let out = run(cmd.args(args));
    (out.status.code().unwrap_or(-1), text(&out.stdout))
}

/// `tests/interop/court/audit-export-by-hand.py`: the same checks with Python's standard
/// library and openssl, written from docs/audit-export.md; exit code and output.
fn by_hand(pki: &Path, export: &Path) -> (i32, String) {
    require_tool("openssl", &["version"]);
    let out = run(Command::new(python())
        .arg(workspace_root().join("tests/interop/court/audit-export-by-hand.py"))
        .arg(export)
        .arg(pki.join("root-ca.pem"))
        .arg(pki.join("issuing-ca.pem"))
        .arg(trusted_list(pki)));
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout) + &text(&out.stderr),
    )
}

/// A service on `settings` takes two letters and a refused one, then stops; the log is sealed
/// and exported. The service's PKI and the export.
fn sealed_export(name: &str, settings: &[Setting<'_>]) -> (PathBuf, PathBuf) {
    let service = SoapService::start_with(name, CITIZEN, &["sender-a"], settings);
    for (key, recipient) in [
        ("audit-1", CITIZEN),
        ("audit-2", CITIZEN),
        ("audit-3", NOBODY),
    ] {
        let r = service.send(
            "sender-a",
            &submission_body(key, recipient, b"%PDF-1.7 avis"),
        );
        let expected = if recipient == NOBODY { 500 } else { 200 };
        assert_eq!(r.status, expected, "{}", text(&r.body));
    }
    let SoapService { pki, data, server } = service;
    drop(server);
    let admin = |args: &[&str]| sealpost_interop::admin(sealpost_with(&pki, &data, settings), args);
    assert!(admin(&["audit", "seal"]).contains("sealed"));
    let export = data.with_file_name("audit-export.jsonl");
    admin(&["audit", "export", "--out", export.to_str().expect("path")]);
    (pki, export)
}

/// The export with the detail of its first refused entry changed; that entry's line.
fn with_an_edited_detail(export: &Path) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(export).expect("export");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let (n, mut entry) = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                i,
                serde_json::from_str::<serde_json::Value>(l).expect("json"),
            )
        })
        .find(|(_, v)| v["outcome"] == "refused")
        .expect("a refused request");
    assert!(!entry["detail"].as_str().expect("detail").is_empty());
    entry["detail"] = "nothing went wrong".into();
    lines[n] = entry.to_string();
    let edited = export.with_file_name("audit-export-edited.jsonl");
    std::fs::write(
        &edited,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .expect("write");
    (edited, n + 1)
}

#[test]
fn a_court_verifies_an_audit_export_offline_and_an_edited_entry_is_invalid() {
    let (pki, export) = sealed_export("audit-export", &[]);
    let lines = std::fs::read_to_string(&export).expect("export");
    // Header, the fixture's two changes, three requests, one seal (the head), trailer.
    assert_eq!(lines.lines().count(), 1 + 5 + 1 + 1, "{lines}");
    assert!(lines.starts_with("{\"format\":\"sealpost-audit-export-1\","));

    let (code, report) = court(&pki, &export, true, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("Result: VALID"), "{report}");
    assert!(
        report.contains("The 5 entries 1 to 5 of the audit log of "),
        "{report}"
    );
    let (code, json) = court(&pki, &export, true, &["--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(json.trim()).expect("JSON report");
    assert_eq!(json["verdict"], "valid");
    assert_eq!(json["seals"][0]["seq"], 5);

    let (code, report) = by_hand(&pki, &export);
    assert_eq!(
        (code, report.trim_end().ends_with("VALID")),
        (0, true),
        "{report}"
    );

    // Without the provider's identity the seals are checked against the root only.
    let (code, report) = court(&pki, &export, false, &[]);
    assert_eq!(code, 2, "{report}");
    assert!(
        report.contains("Result: INDETERMINATE")
            && report.contains("checked against the trusted roots only"),
        "{report}"
    );

    let (edited, line) = with_an_edited_detail(&export);
    let (code, report) = court(&pki, &edited, true, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("Result: INVALID"), "{report}");
    assert!(
        report.contains(&format!(
            "First failing line: {line} (step 2): entry {}: its hash is not the SHA-256 of its canonical encoding",
            line - 1
        )),
        "{report}"
    );
    let (code, report) = by_hand(&pki, &edited);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!("FAIL: line {line}: entry {}: its hash", line - 1)),
        "{report}"
    );
}

#[test]
fn an_audit_export_from_postgresql_verifies_offline() {
    let url = postgres_database("audit_export");
    let settings = [
        ("SEALPOST_STORE_BACKEND", "postgres"),
        ("SEALPOST_STORE_POSTGRES_URL", url.as_str()),
    ];
    let (pki, export) = sealed_export("audit-export-pg", &settings);
    let (code, report) = court(&pki, &export, true, &[]);
    assert_eq!(code, 0, "{report}");
    let (edited, _) = with_an_edited_detail(&export);
    assert_eq!(court(&pki, &edited, true, &[]).0, 1);
    drop_postgres_database(&url);
}

#[test]
fn the_audit_log_of_a_busy_service_exported_while_it_runs_verifies_offline() {
    // The notices of arrival are sent after the export (they would be entries after the
    // seal, and make the export indeterminate).
    let quiet = [("SEALPOST_MAILBOX_NOTIFY_INTERVAL_S", "3600")];
    let service = SoapService::start_with("audit-busy", CITIZEN, &["sender-a"], &quiet);
    // Letters accepted and refused, mixed (a refused one holds its request too).
    for n in 0..1000 {
        let (recipient, expected) = if n % 5 == 4 {
            (NOBODY, 500)
        } else {
            (CITIZEN, 200)
        };
        let key = format!("busy-{n}");
        let r = service.send(
            "sender-a",
            &submission_body(&key, recipient, format!("%PDF-1.7 {key}").as_bytes()),
        );
        assert_eq!(r.status, expected, "{key}: {}", text(&r.body));
    }
    // While it runs: a change of the directory, the head sealed, the log exported.
    let admin = |args: &[&str]| {
        sealpost_interop::admin(sealpost_with(&service.pki, &service.data, &[]), args)
    };
    admin(&["mailbox", "add", "cbe:0203201340", "--name", "Example NV"]);
    let sealed = admin(&["audit", "seal"]);
    assert!(
        sealed.contains("sealed") || sealed.contains("nothing to seal"),
        "{sealed}"
    );
    let export = service.data.with_file_name("audit-busy.jsonl");
    admin(&["audit", "export", "--out", export.to_str().expect("path")]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&export)
        .expect("export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .filter(|l: &serde_json::Value| l.get("prev_hash").is_some())
        .collect();
    let count = |operation: &str| lines.iter().filter(|l| l["operation"] == operation).count();
    // The fixture's sender, the 1,000 requests and the directory's changes.
    assert_eq!(count("SubmitRegisteredMail"), 1000);
    assert_eq!(count("MailboxAdd"), 2);
    let entries = lines.len();

    let (code, report) = court(&service.pki, &export, true, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains(&format!(
            "The {entries} entries 1 to {entries} of the audit log"
        )),
        "{report}"
    );
    let (code, report) = by_hand(&service.pki, &export);
    assert_eq!(code, 0, "{report}");
    // One entry among them edited: the court finds which.
    let (edited, line) = with_an_edited_detail(&export);
    let (code, report) = court(&service.pki, &edited, true, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!("First failing line: {line} (step 2)")),
        "{report}"
    );
}

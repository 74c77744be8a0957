//! OpenID Connect logins to the mailbox end to end (issue 13): panva's oidc-provider
//! (`tests/oidc/provider.mjs`, a certified OpenID Provider) on the loopback, Sealpost with
//! `[[oidc.providers]]` pointing at it, Chromium logging a citizen in with the provider's own
//! form. The handover names the login, a court verifies it; a replayed answer, an error answer
//! and a wrong state are refused and traced; a letter type that needs more than the
//! provider's level stays closed.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use sealpost_interop::{CITIZEN, dev_pki, require_tool, run, text, xml_text as field};

use super::{Fixture, Letter, admin, as_sender, court_verifies, fixture_on};

const CLIENT_ID: &str = "sealpost-mailbox";
const ACR: &str = "urn:sealpost:test:substantial";

/// The OpenID Provider; stopped when dropped.
struct Provider {
    child: Child,
    /// Its standard output, kept open while it runs.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn provider(scratch: &Path, redirect_uri: &str) -> Provider {
    let root = sealpost_interop::workspace_root();
    assert!(
        root.join("tests/oidc/node_modules/oidc-provider").is_dir(),
        "tests/oidc/node_modules is missing: run `make deps`"
    );
    let accounts = scratch.join("accounts.json");
    std::fs::write(
        &accounts,
        serde_json::json!([
            {"username": "jan.oidc", "password": "oidc password 1",
             "sub": CITIZEN.trim_start_matches("nrn:"), "claims": {"acr": ACR}},
            {"username": "agent.a", "password": "agent password 1", "sub": "agent-0042",
             "claims": {"acr": ACR, "urn:sealpost:interops:organisation": "agency-a",
                        "urn:sealpost:interops:pagm": ["tax-officer"]}},
            {"username": "agent.b", "password": "agent password 2", "sub": "agent-0099",
             "claims": {"acr": ACR, "urn:sealpost:interops:organisation": "agency-b",
                        "urn:sealpost:interops:pagm": ["tax-officer"]}}
        ])
        .to_string(),
    )
    .expect("accounts");
    let mut child = Command::new("node")
        .arg(root.join("tests/oidc/provider.mjs"))
        .args(["--client-id", CLIENT_ID])
        .arg("--client-secret-file")
        .arg(scratch.join("client-secret"))
        .args(["--redirect-uri", redirect_uri])
        .arg("--accounts")
        .arg(&accounts)
        // Sealpost takes ES256 as well as RS256 (the default of openidconnect).
        .args(["--id-token-alg", "ES256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node tests/oidc/provider.mjs");
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    stdout
        .read_line(&mut line)
        .expect("the provider's first line");
    let ready: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("the provider's JSON line {line:?}: {e}"));
    Provider {
        child,
        _stdout: stdout,
        issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
    }
}

fn message_id(f: &Fixture, sender: &str, letter: &Letter<'_>) -> String {
    let r = as_sender(f, sender, &letter.body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    field(&text(&r.body), "MessageId").expect("message id")
}

#[test]
fn a_citizen_logs_in_through_an_openid_provider_in_a_real_browser() {
    require_tool("node", &["--version"]);
    let root = sealpost_interop::workspace_root();
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "tests/browser/node_modules is missing: run `make deps`"
    );
    let pki = dev_pki("oidc");
    let scratch = pki.with_file_name("oidc");
    std::fs::create_dir_all(&scratch).expect("scratch");
    std::fs::write(scratch.join("client-secret"), "a client secret 1\n").expect("secret");
    let port = sealpost_interop::free_port();
    let redirect = format!("https://127.0.0.1:{port}/oidc/callback");
    let op = provider(&scratch, &redirect);
    let config = scratch.join("sealpost.toml");
    std::fs::write(
        &config,
        format!(
            "[[oidc.providers]]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{}\"\nredirect_url = \"{redirect}\"\nscopes = [\"openid\", \"agency\"]\ncitizens = true\nacr_levels = {{ \"{ACR}\" = 3 }}\n\n\
             # Tax assessments open after a login of level 3, payment notices of level 4.\n\
             [mailbox.opening_levels]\n\"tax-assessment\" = 3\n\"payment-notice\" = 4\n",
            op.issuer,
            scratch.join("client-secret").display()
        ),
    )
    .expect("config");
    let listen = format!("127.0.0.1:{port}");
    let f = fixture_on(
        pki,
        &[
            ("SEALPOST_CONFIG", config.to_str().expect("path")),
            ("SEALPOST_LISTEN", &listen),
        ],
    );
    admin(
        &f.pki,
        &f.data,
        &[
            "person",
            "add",
            "--login",
            "jan",
            "--name",
            "Jan Peeters",
            "--nrn",
            CITIZEN,
            "--password",
            sealpost_interop::FIRST_PASSWORD,
            "--totp-secret",
            sealpost_interop::TOTP_SECRET,
        ],
    );
    let letter = message_id(&f, "sender-a", &Letter::new("oidc-1", CITIZEN));
    let strong = message_id(
        &f,
        "sender-b",
        &Letter {
            message_type: "payment-notice",
            ..Letter::new("oidc-2", CITIZEN)
        },
    );

    // Agency A's agents sign in to its pages through the same provider.
    let cert = f.pki.join("sender-a.pem");
    admin(
        &f.pki,
        &f.data,
        &[
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
            "--identity-provider",
            &op.issuer,
        ],
    );

    let out = scratch.join("browser");
    std::fs::create_dir_all(&out).expect("out");
    let screenshots = root.join("target/screenshots/oidc");
    let ran = run(Command::new("node")
        .arg(root.join("tests/browser/oidc_login.mjs"))
        .args(["--base-url", &format!("https://127.0.0.1:{port}")])
        .args(["--ca", f.pki.join("root-ca.pem").to_str().expect("path")])
        .args(["--out", out.to_str().expect("path")])
        .args(["--screenshots", screenshots.to_str().expect("path")])
        .args(["--user", "jan.oidc", "--password", "oidc password 1"])
        .args(["--letter", &letter, "--strong-letter", &strong])
        .args([
            "--agent-user",
            "agent.a",
            "--agent-password",
            "agent password 1",
        ])
        .args(["--sender", "agency-a", "--agency-letter", &letter])
        .args([
            "--outsider-user",
            "agent.b",
            "--outsider-password",
            "agent password 2",
        ]));
    assert!(
        ran.status.success(),
        "oidc_login.mjs: {}\n{}",
        text(&ran.stderr),
        text(&ran.stdout)
    );
    let report: serde_json::Value =
        serde_json::from_str(text(&ran.stdout).trim().lines().last().expect("a line"))
            .expect("json");
    assert_eq!(report["inbox"], true, "{report}");
    assert_eq!(report["letter_status"], 200, "{report}");
    assert_eq!(
        report["strong_letter_status"], 403,
        "a letter that needs level 4 stays closed to a level 3 login: {report}"
    );
    for key in ["replay_status", "error_status", "wrong_state_status"] {
        let status = report[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {report}"));
        assert!(status >= 400, "{key} is refused: {report}");
    }
    assert_eq!(report["replay_set_session"], false, "{report}");
    assert_eq!(report["agency_listing"], true, "{report}");
    // An agent of agency B, vouched for by the same provider, is not let into agency A's pages.
    assert_eq!(report["outsider_status"], 403, "{report}");
    assert_eq!(report["outsider_agency_status"], 401, "{report}");
    let theirs = std::fs::read_to_string(out.join("agency-evidence.xml")).expect("agency evidence");
    assert!(theirs.contains(&letter), "{theirs}");
    let (exit, said) = court_verifies(&f, &theirs, None);
    assert_eq!(exit, 0, "{said}");

    // The handover names how Jan logged in, and a court verifies it.
    let handover = std::fs::read_to_string(out.join("handover.xml")).expect("handover");
    assert!(handover.contains("Event/ContentHandover"), "{handover}");
    assert!(
        handover.contains(&format!(
            "<ev:Authentication>OpenID Connect by {}, acr {ACR} (level 3)</ev:Authentication>",
            op.issuer
        )),
        "{handover}"
    );
    let (exit, said) = court_verifies(&f, &handover, None);
    assert_eq!(exit, 0, "{said}");
    assert!(said.contains("logged in by OpenID Connect"), "{said}");

    // Each step is in the audit log.
    let log = scratch.join("audit.jsonl");
    admin(
        &f.pki,
        &f.data,
        &[
            "audit",
            "export",
            "--from",
            "2000-01-01T00:00:00Z",
            "--out",
            log.to_str().expect("path"),
        ],
    );
    let entries = sealpost_interop::export_entries(&log);
    let has = |operation: &str, outcome: &str, fragment: &str| {
        entries.iter().any(|e| {
            e["operation"] == operation
                && e["outcome"] == outcome
                && (e["detail"].as_str().unwrap_or("").contains(fragment)
                    || e["identity"].as_str().unwrap_or("").contains(fragment))
        })
    };
    assert!(has("mailbox login", "accepted", "jan"), "the login");
    assert!(
        has(
            "AgencyLogin",
            "accepted",
            "agent agent-0042 of agency-a (PAGM tax-officer; level 3;"
        ),
        "the agent's sign-in"
    );
    assert!(
        has("AgencyEvidenceRead", "accepted", "agent-0042"),
        "the agent's read"
    );
    assert!(
        has(
            "AgencyLogin",
            "refused",
            "acts for \"agency-b\", not for agency-a"
        ),
        "the outsider's refusal"
    );
    assert!(
        has("OpenLetter", "accepted", "logged in by OpenID Connect"),
        "the opening"
    );
    assert!(
        has("open letter", "refused", "needs a login of level 4"),
        "the letter that needs more"
    );
    assert!(
        has("OidcLogin", "refused", "not a login under way"),
        "the replay and the wrong state"
    );
    assert!(
        has(
            "OidcLogin",
            "refused",
            "the provider answered error \"access_denied\""
        ),
        "the error answer"
    );
}

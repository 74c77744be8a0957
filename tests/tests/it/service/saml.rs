//! The identification vector end to end (issue 13): an agency's agent, authenticated by the
//! agency's identity provider, sends a letter through the agency's application. The
//! assertion is issued and signed by real SAML software (pysaml2 for SAML 2.0, OpenSAML's
//! samlsign for SAML 1.1), the envelope signed by a python-xmlsec client; the proof names the
//! agent, a court verifies it, the administrator finds the agent's requests and the vector of
//! each. And the attacks, each refused with its row: an unsigned, tampered or wrapped
//! assertion, a comment inside the NameID, an expired or future assertion, the wrong
//! audience, an untrusted issuer, a holder-of-key assertion for another key, an agent without
//! the PAGM profile or the level a letter needs, a replayed assertion, an assertion the
//! message's signature does not cover, an agency's request without its agent.

use std::path::{Path, PathBuf};
use std::process::Command;

use sealpost_interop::{
    CITIZEN, HttpResponse, NS_SOAP11, Server, dev_pki, dev_signer, expect_fault_code as code,
    post_soap, python, require_tool, run, signed_soap, system_now, text, xml_text as field,
};

use super::{Letter, evidence_of, sealpost};

const IDP: &str = "https://idp.agency-a.example/saml";
const AUDIENCE: &str = "urn:sealpost:test";
const AGENT: &str = "85073003328";

struct Saml {
    pki: PathBuf,
    data: PathBuf,
    config: PathBuf,
    scratch: PathBuf,
    server: Server,
}

fn openssl_identity(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, cert) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pem")),
    );
    let out = run(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        key.to_str().expect("path"),
        "-out",
        cert.to_str().expect("path"),
    ]));
    assert!(out.status.success(), "openssl: {}", text(&out.stderr));
    (key, cert)
}

/// The service with agency A as an INTEROPS sender (its identity provider IDP; PAGM
/// `tax-officer` may send tax assessments to citizens, at level 3 or more) and agency B as a
/// plain one; the identity provider's key and a rogue one.
fn saml_service(name: &str) -> Saml {
    saml_service_with(name, None, &|_| String::new(), "")
}

/// [`saml_service`] listening on `listen` (when given), with `provider_lines(scratch)` added
/// to the identity provider's table (once its key is in `scratch`) and `more` to the file.
fn saml_service_with(
    name: &str,
    listen: Option<u16>,
    provider_lines: &dyn Fn(&Path) -> String,
    more: &str,
) -> Saml {
    require_tool("xmlsec1", &["--version"]);
    // OpenSAML's samlsign answers every probe with status 255: found on the PATH is enough.
    let found = run(Command::new("sh").args(["-c", "command -v samlsign"]));
    assert!(
        found.status.success(),
        "samlsign (opensaml-tools) is required for this test: run `make deps`"
    );
    let pki = dev_pki(name);
    let data = pki.with_file_name("var");
    let scratch = pki.with_file_name("saml");
    std::fs::create_dir_all(&scratch).expect("scratch");
    openssl_identity(&scratch, "idp");
    openssl_identity(&scratch, "rogue-idp");
    let config = scratch.join("sealpost.toml");
    std::fs::write(
        &config,
        format!(
            "[saml]\naudience = \"{AUDIENCE}\"\n{}\n[[saml.identity_providers]]\nentity_id = \"{IDP}\"\ncertificates = [\"{}\"]\n{}\n{more}",
            listen
                .map(|port| format!("acs_url = \"https://127.0.0.1:{port}/saml/acs\""))
                .unwrap_or_default(),
            scratch.join("idp.pem").display(),
            provider_lines(&scratch)
        ),
    )
    .expect("config");
    let with_config = || {
        let mut cmd = sealpost(&pki, &data);
        cmd.env("SEALPOST_CONFIG", &config);
        if let Some(port) = listen {
            cmd.env("SEALPOST_LISTEN", format!("127.0.0.1:{port}"));
        }
        cmd
    };
    let cert = |n: &str| pki.join(format!("sender-{n}.pem")).display().to_string();
    sealpost_interop::admin(
        with_config(),
        &[
            "sender",
            "set",
            "--id",
            "agency-a",
            "--name",
            "Agency A",
            "--cert",
            &cert("a"),
            "--types",
            "tax-assessment,information",
            "--identity-provider",
            IDP,
            "--pagm",
            "tax-officer=tax-assessment@citizen",
            "--pagm",
            "clerk=information",
            "--minimum-level",
            "tax-assessment=3",
        ],
    );
    sealpost_interop::admin(
        with_config(),
        &[
            "sender",
            "set",
            "--id",
            "agency-b",
            "--name",
            "Agency B",
            "--cert",
            &cert("b"),
            "--types",
            "tax-assessment",
        ],
    );
    let directory = data.join("mailboxes.csv");
    std::fs::write(&directory, format!("{CITIZEN},Jan Peeters\n")).expect("csv");
    sealpost_interop::admin(
        with_config(),
        &["mailbox", "import", directory.to_str().expect("path")],
    );
    let mut cmd = with_config();
    cmd.arg("serve");
    Saml {
        server: Server::start(cmd),
        pki,
        data,
        config,
        scratch,
    }
}

/// What the identity provider is asked to say; `Default` is a good assertion for agent
/// AGENT, tax officer at level 3, vouched for by agency A's application.
struct Ask<'a> {
    saml11: bool,
    holder_of_key: Option<&'a str>,
    idp: &'a str,
    issuer: &'a str,
    audience: &'a str,
    pagm: &'a [&'a str],
    level: &'a str,
    organisation: &'a str,
    extra: &'a [&'a str],
}

impl Default for Ask<'_> {
    fn default() -> Self {
        Ask {
            saml11: false,
            holder_of_key: None,
            idp: "idp",
            issuer: IDP,
            audience: AUDIENCE,
            pagm: &["tax-officer"],
            level: "3",
            organisation: "agency-a",
            extra: &[],
        }
    }
}

impl Saml {
    /// An assertion made and signed by pysaml2 (SAML 2.0) or samlsign (SAML 1.1).
    fn assertion(&self, name: &str, ask: &Ask<'_>) -> PathBuf {
        let out = self.scratch.join(format!("{name}.assertion.xml"));
        let s = |p: &Path| p.to_str().expect("path").to_owned();
        let mut args = vec![
            s(&sealpost_interop::workspace_root().join("tests/interop/saml/issue_assertion.py")),
            "--idp-key".into(),
            s(&self.scratch.join(format!("{}.key", ask.idp))),
            "--idp-cert".into(),
            s(&self.scratch.join(format!("{}.pem", ask.idp))),
            "--issuer".into(),
            ask.issuer.into(),
            "--audience".into(),
            ask.audience.into(),
            "--name-id".into(),
            AGENT.into(),
            "--attribute".into(),
            format!("urn:sealpost:interops:authentication-level={}", ask.level),
            "--out".into(),
            s(&out),
        ];
        if !ask.organisation.is_empty() {
            args.extend([
                "--attribute".into(),
                format!("urn:sealpost:interops:organisation={}", ask.organisation),
            ]);
        }
        for p in ask.pagm {
            args.extend([
                "--attribute".into(),
                format!("urn:sealpost:interops:pagm={p}"),
            ]);
        }
        match ask.holder_of_key {
            Some(holder) => args.extend([
                "--confirmation".into(),
                "holder-of-key".into(),
                "--hok-cert".into(),
                s(&self.pki.join(format!("{holder}.pem"))),
            ]),
            None => args.extend(["--confirmation".into(), "sender-vouches".into()]),
        }
        if ask.saml11 {
            args.push("--saml11".into());
        }
        args.extend(ask.extra.iter().map(|a| (*a).to_owned()));
        let made = run(Command::new(python()).args(&args));
        assert!(
            made.status.success(),
            "issue_assertion.py: {}",
            text(&made.stderr)
        );
        out
    }

    /// The request `body`, carrying `assertion`, signed by `sender`'s application with
    /// python-xmlsec.
    fn envelope(
        &self,
        name: &str,
        assertion: &Path,
        body: &str,
        sender: &str,
        extra: &[&str],
    ) -> String {
        let body_file = self.scratch.join(format!("{name}.body.xml"));
        std::fs::write(&body_file, body).expect("body");
        let out = self.scratch.join(format!("{name}.envelope.xml"));
        let s = |p: &Path| p.to_str().expect("path").to_owned();
        let mut args = vec![
            s(&sealpost_interop::workspace_root().join("tests/interop/saml/wss_saml_envelope.py")),
            "--assertion".into(),
            s(assertion),
            "--body".into(),
            s(&body_file),
            "--key".into(),
            s(&self.pki.join(format!("{sender}.key"))),
            "--cert".into(),
            s(&self.pki.join(format!("{sender}.pem"))),
            "--no-selfcheck".into(),
            "--out".into(),
            s(&out),
        ];
        if !extra.contains(&"--mode") {
            args.extend(["--mode".into(), "sender-vouches".into()]);
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let made = run(Command::new(python()).args(&args));
        assert!(
            made.status.success(),
            "wss_saml_envelope.py: {}",
            text(&made.stderr)
        );
        std::fs::read_to_string(out).expect("envelope")
    }

    fn post(&self, envelope: &str) -> HttpResponse {
        post_soap(self.server.addr, &self.pki.join("root-ca.pem"), envelope)
    }

    fn admin(&self, args: &[&str]) -> String {
        let mut cmd = sealpost(&self.pki, &self.data);
        cmd.env("SEALPOST_CONFIG", &self.config);
        sealpost_interop::admin(cmd, args)
    }

    /// Sends letter `key` with `ask`'s assertion (written as it was made, or as `edit` makes
    /// it), signed by sender-a's application.
    fn send(
        &self,
        key: &str,
        ask: &Ask<'_>,
        edit: impl Fn(String) -> String,
        extra: &[&str],
    ) -> HttpResponse {
        let made = self.assertion(key, ask);
        let edited = edit(std::fs::read_to_string(&made).expect("assertion"));
        std::fs::write(&made, edited).expect("assertion");
        let envelope = self.envelope(
            key,
            &made,
            &Letter::new(key, CITIZEN).body(),
            "sender-a",
            extra,
        );
        self.post(&envelope)
    }
}

fn as_is(a: String) -> String {
    a
}

#[test]
fn an_agent_sends_a_letter_through_the_agency_application_and_the_proof_names_them() {
    let s = saml_service("saml-accepted");
    let mut letters = Vec::new();
    for (key, ask, mode) in [
        ("sv-2", Ask::default(), "sender-vouches"),
        (
            "hok-2",
            Ask {
                holder_of_key: Some("sender-a"),
                ..Ask::default()
            },
            "holder-of-key",
        ),
        (
            "hok-11",
            Ask {
                saml11: true,
                holder_of_key: Some("sender-a"),
                ..Ask::default()
            },
            "holder-of-key",
        ),
        (
            "sv-11",
            Ask {
                saml11: true,
                ..Ask::default()
            },
            "sender-vouches",
        ),
    ] {
        let r = s.send(key, &ask, as_is, &["--mode", mode]);
        let body = text(&r.body);
        assert_eq!(r.status, 200, "{key}: {body}");
        let evidence = evidence_of(&field(&body, "Evidence").expect("evidence"));
        assert!(
            evidence.contains(&format!(
                "<ev:Agent><ev:Id>{AGENT}</ev:Id><ev:IdentityProvider>{IDP}</ev:IdentityProvider>"
            )),
            "{evidence}"
        );
        assert!(
            evidence.contains("<ev:Profile>tax-officer</ev:Profile>"),
            "{evidence}"
        );
        assert!(
            evidence.contains("<ev:AuthenticationLevel>3</ev:AuthenticationLevel>"),
            "{evidence}"
        );
        let (exit, report) = sealpost_interop::court_verifies(
            &s.pki,
            &s.data.with_file_name("court"),
            &evidence,
            None,
        );
        assert_eq!(exit, 0, "{report}");
        assert!(report.contains(&format!("agent {AGENT}")), "{report}");
        letters.push(field(&body, "MessageId").expect("message id"));
    }

    // Which requests did the agent make, under which PAGM; which vector came with each.
    let listed = s.admin(&["vector", "list", "--agent", AGENT]);
    let lines: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 4, "{listed}");
    for (line, message) in lines.iter().zip(&letters) {
        assert_eq!(line["message_id"], message.as_str());
        assert_eq!(line["outcome"], "accepted");
        assert_eq!(line["pagm"][0], "tax-officer");
    }
    let none_before = s.admin(&[
        "vector",
        "list",
        "--agent",
        AGENT,
        "--to",
        "2000-01-01T00:00:00Z",
    ]);
    assert!(none_before.trim().is_empty(), "{none_before}");
    let shown: serde_json::Value =
        serde_json::from_str(s.admin(&["vector", "show", &letters[0]]).trim()).expect("json");
    let assertion = shown["assertion"].as_str().expect("assertion");
    assert!(
        assertion.contains(AGENT) && assertion.contains("SignatureValue"),
        "{assertion}"
    );
    // The archived assertion verifies on its own with a standard tool.
    let archived = s.scratch.join("archived.xml");
    std::fs::write(&archived, assertion).expect("write");
    let checked = run(Command::new("xmlsec1").args([
        "--verify",
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        "--pubkey-cert-pem",
        s.scratch.join("idp.pem").to_str().expect("path"),
        archived.to_str().expect("path"),
    ]));
    assert!(
        checked.status.success(),
        "xmlsec1: {}",
        text(&checked.stderr)
    );
}

#[test]
fn hostile_assertions_are_refused_each_with_its_row() {
    let s = saml_service("saml-hostile");
    let strip_signature = |a: String| {
        let start = a.find("<ns1:Signature").expect("signature");
        let end = a.find("</ns1:Signature>").expect("end") + "</ns1:Signature>".len();
        format!("{}{}", &a[..start], &a[end..])
    };
    // What each attack tries, the row it gets, and why (as the audit log says).
    type Attack = Box<dyn Fn(&Saml) -> HttpResponse>;
    let cases: Vec<(&str, Attack, &str, &str)> = vec![
        (
            "unsigned",
            Box::new(move |s: &Saml| s.send("unsigned", &Ask::default(), strip_signature, &[])),
            "SEALPOST-AUTH-001",
            "not signed by its issuer",
        ),
        (
            "tampered: a profile added after signing",
            Box::new(|s: &Saml| {
                s.send(
                    "tampered",
                    &Ask::default(),
                    |a| a.replacen(">tax-officer<", ">director<", 1),
                    &[],
                )
            }),
            "SEALPOST-AUTH-001",
            "does not match",
        ),
        (
            "a comment inside the NameID",
            Box::new(|s: &Saml| {
                s.send(
                    "comment",
                    &Ask::default(),
                    |a| a.replacen(&format!(">{AGENT}<"), ">850<!---->73003328<", 1),
                    &[],
                )
            }),
            "SEALPOST-AUTH-001",
            "NameID holds a comment",
        ),
        (
            "expired",
            Box::new(|s: &Saml| {
                s.send(
                    "expired",
                    &Ask {
                        extra: &[
                            "--not-before-offset",
                            "-7200",
                            "--issue-instant-offset",
                            "-7200",
                            "--lifetime",
                            "-3600",
                        ],
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-003",
            "the assertion expired",
        ),
        (
            "issued in the future",
            Box::new(|s: &Saml| {
                s.send(
                    "future",
                    &Ask {
                        extra: &[
                            "--not-before-offset",
                            "3600",
                            "--issue-instant-offset",
                            "3600",
                            "--lifetime",
                            "7200",
                        ],
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-003",
            "not valid before",
        ),
        (
            "for another audience",
            Box::new(|s: &Saml| {
                s.send(
                    "audience",
                    &Ask {
                        audience: "urn:another:provider",
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-002",
            "another audience",
        ),
        (
            "the provider's name, another key",
            Box::new(|s: &Saml| {
                s.send(
                    "rogue-key",
                    &Ask {
                        idp: "rogue-idp",
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-001",
            "the assertion's signature: the signature value does not verify",
        ),
        (
            "an issuer nobody configured",
            Box::new(|s: &Saml| {
                s.send(
                    "rogue-issuer",
                    &Ask {
                        idp: "rogue-idp",
                        issuer: "https://idp.rogue.example",
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-002",
            "is not a configured identity provider",
        ),
        (
            "holder-of-key for another application's key",
            Box::new(|s: &Saml| {
                s.send(
                    "hok-other",
                    &Ask {
                        holder_of_key: Some("sender-b"),
                        ..Ask::default()
                    },
                    as_is,
                    &["--mode", "holder-of-key"],
                )
            }),
            "SEALPOST-AUTH-001",
            "the signature: the signature value does not verify",
        ),
        (
            "holder-of-key for another key, with the signer's token",
            Box::new(|s: &Saml| {
                s.send(
                    "hok-other-bst",
                    &Ask {
                        holder_of_key: Some("sender-b"),
                        ..Ask::default()
                    },
                    as_is,
                    &["--mode", "sender-vouches"],
                )
            }),
            "SEALPOST-AUTH-002",
            "not signed by the key the holder-of-key assertion names",
        ),
        (
            "the bearer method",
            Box::new(|s: &Saml| {
                s.send(
                    "bearer",
                    &Ask {
                        extra: &["--confirmation", "bearer"],
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-002",
            "does not bind the assertion to the message",
        ),
        (
            "not covered by the message's signature",
            Box::new(|s: &Saml| {
                s.send(
                    "uncovered",
                    &Ask::default(),
                    as_is,
                    &["--no-assertion-reference"],
                )
            }),
            "SEALPOST-AUTH-001",
            "not covered by the message's signature",
        ),
        (
            "an agent of another organisation",
            Box::new(|s: &Saml| {
                s.send(
                    "other-org",
                    &Ask {
                        organisation: "agency-b",
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-002",
            "acts for \"agency-b\", not for sender agency-a",
        ),
        (
            "an agent of no stated organisation",
            Box::new(|s: &Saml| {
                s.send(
                    "no-org",
                    &Ask {
                        organisation: "",
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-002",
            "does not say which organisation",
        ),
        (
            "two authentication levels",
            Box::new(|s: &Saml| {
                s.send(
                    "two-levels",
                    &Ask {
                        extra: &[
                            "--attribute",
                            "urn:sealpost:interops:authentication-level=5",
                        ],
                        ..Ask::default()
                    },
                    as_is,
                    &[],
                )
            }),
            "SEALPOST-AUTH-002",
            "more than once",
        ),
    ];
    let mut reasons = Vec::new();
    for (what, attack, expected, reason) in cases {
        let r = attack(&s);
        assert_eq!(code(&r), expected, "{what}: {}", text(&r.body));
        assert!(
            field(&text(&r.body), "Evidence").is_none(),
            "{what}: no proof for an unauthenticated request"
        );
        reasons.push((what, reason));
    }
    let log = s.scratch.join("audit.jsonl");
    s.admin(&[
        "audit",
        "export",
        "--from",
        "2000-01-01T00:00:00Z",
        "--out",
        log.to_str().expect("path"),
    ]);
    let refused: Vec<String> = sealpost_interop::export_entries(&log)
        .iter()
        .filter(|e| e["channel"] == "soap")
        .map(|e| e["detail"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(refused.len(), reasons.len(), "{refused:#?}");
    for ((what, reason), detail) in reasons.iter().zip(&refused) {
        assert!(detail.contains(reason), "{what}: refused as {detail:?}");
    }

    // Signature wrapping: the genuine assertion hidden in an evil one that names a director.
    let genuine =
        std::fs::read_to_string(s.assertion("xsw-genuine", &Ask::default())).expect("read");
    let evil =
        genuine
            .replacen(" ID=\"", " ID=\"evil-", 1)
            .replacen(">tax-officer<", ">director<", 1);
    let wrapped = s.scratch.join("xsw.assertion.xml");
    let close = evil.rfind("</ns0:Assertion>").expect("end");
    std::fs::write(
        &wrapped,
        format!(
            "{}<ns0:Advice>{genuine}</ns0:Advice></ns0:Assertion>",
            &evil[..close]
        ),
    )
    .expect("write");
    let r = s.post(&s.envelope(
        "xsw",
        &wrapped,
        &Letter::new("xsw", CITIZEN).body(),
        "sender-a",
        &[],
    ));
    assert_eq!(code(&r), "SEALPOST-AUTH-001", "wrapped: {}", text(&r.body));

    // Authenticated, but not authorized: refused with a sealed rejection naming the agent.
    for (key, ask) in [
        (
            "reader",
            Ask {
                pagm: &["reader"],
                ..Ask::default()
            },
        ),
        (
            "low-level",
            Ask {
                level: "2",
                ..Ask::default()
            },
        ),
    ] {
        let r = s.send(key, &ask, as_is, &[]);
        let evidence = rejected_by(&s, &r);
        assert!(
            evidence.contains(&format!("<ev:Id>{AGENT}</ev:Id>")),
            "{evidence}"
        );
    }

    // The same assertion in a second, newly signed request.
    let once = s.assertion("once", &Ask::default());
    let first = s.envelope(
        "once-1",
        &once,
        &Letter::new("once-1", CITIZEN).body(),
        "sender-a",
        &[],
    );
    assert_eq!(s.post(&first).status, 200);
    let second = s.envelope(
        "once-2",
        &once,
        &Letter::new("once-2", CITIZEN).body(),
        "sender-a",
        &[],
    );
    assert_eq!(
        code(&s.post(&second)),
        "SEALPOST-AUTH-003",
        "a replayed assertion"
    );

    // Agency A's application without its agent's vector; agency B (no provider) with one.
    let bare = signed_soap(
        NS_SOAP11,
        &Letter::new("bare", CITIZEN).body(),
        &dev_signer(&s.pki, "sender-a"),
        system_now(),
    );
    assert_eq!(
        code(&s.post(&bare)),
        "SEALPOST-AUTH-002",
        "a request without its agent"
    );
    let assertion = s.assertion("b-vector", &Ask::default());
    let b = s.envelope(
        "b-vector",
        &assertion,
        &Letter::new("b-vector", CITIZEN).body(),
        "sender-b",
        &[],
    );
    assert_eq!(
        code(&s.post(&b)),
        "SEALPOST-AUTH-002",
        "a vector for a sender without a provider"
    );
}

/// A refusal with a sealed SubmissionRejection a court verifies (NotAuthorized); the
/// evidence.
fn rejected_by(s: &Saml, r: &HttpResponse) -> String {
    let body = text(&r.body);
    assert_eq!(code(r), "SEALPOST-AUTHZ-001", "{body}");
    let evidence = evidence_of(&field(&body, "Evidence").expect("rejection evidence"));
    let (exit, report) =
        sealpost_interop::court_verifies(&s.pki, &s.data.with_file_name("court"), &evidence, None);
    assert_eq!(exit, 0, "{report}");
    evidence
}

/// The identity provider of the browser logins: pysaml2's IdP (`idp_server.py`) as IDP, with
/// a citizen and an agent of agency A; stopped when dropped.
struct BrowserIdp {
    child: std::process::Child,
    sso_url: String,
}

impl Drop for BrowserIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browser_idp(scratch: &Path, acs_url: &str) -> BrowserIdp {
    use std::io::BufRead;
    let users = scratch.join("idp-users.json");
    std::fs::write(
        &users,
        serde_json::json!([
            {"username": "jan.eid", "password": "eid password 1", "name_id": "85073003328",
             "attributes": {"urn:sealpost:interops:authentication-level": ["3"]}},
            {"username": "agent.a", "password": "agent password 1", "name_id": "agent-0042",
             "attributes": {"urn:sealpost:interops:organisation": ["agency-a"],
                            "urn:sealpost:interops:pagm": ["tax-officer"],
                            "urn:sealpost:interops:authentication-level": ["3"]}}
        ])
        .to_string(),
    )
    .expect("users");
    let s = |p: &Path| p.to_str().expect("path").to_owned();
    let mut child = Command::new(python())
        .args([
            s(&sealpost_interop::workspace_root().join("tests/interop/saml/idp_server.py")),
            "--port".into(),
            "0".into(),
            "--idp-key".into(),
            s(&scratch.join("idp.key")),
            "--idp-cert".into(),
            s(&scratch.join("idp.pem")),
            "--entity-id".into(),
            IDP.into(),
            "--sp-entity-id".into(),
            AUDIENCE.into(),
            "--sp-acs-url".into(),
            acs_url.into(),
            "--users".into(),
            s(&users),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("idp_server.py");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the IdP's first line");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("the IdP's JSON line");
    BrowserIdp {
        child,
        sso_url: ready["sso_url"].as_str().expect("sso_url").to_owned(),
    }
}

/// The service with the pysaml2 browser IdP as IDP, its single sign-on service in the
/// provider's table with `provider_lines` (what else the table says), and `more` in the file.
fn browser_service(name: &str, provider_lines: &str, more: &str) -> (Saml, BrowserIdp) {
    let port = sealpost_interop::free_port();
    let acs = format!("https://127.0.0.1:{port}/saml/acs");
    let idp = std::cell::RefCell::new(None);
    let s = saml_service_with(
        name,
        Some(port),
        &|scratch| {
            let started = browser_idp(scratch, &acs);
            let lines = format!("sso_url = \"{}\"\n{provider_lines}", started.sso_url);
            *idp.borrow_mut() = Some(started);
            lines
        },
        more,
    );
    let idp = idp.into_inner().expect("the IdP");
    (s, idp)
}

#[test]
fn a_citizen_and_an_agent_log_in_through_their_identity_provider_in_a_real_browser() {
    require_tool("node", &["--version"]);
    let root = sealpost_interop::workspace_root();
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "tests/browser/node_modules is missing: run `make deps`"
    );
    // Tax assessments open only after a login of level 3 (the provider states 3; a
    // password and TOTP code count as 2).
    let (s, _idp) = browser_service(
        "saml-browser",
        "citizens = true\n",
        "[mailbox.opening_levels]\n\"tax-assessment\" = 3\n",
    );
    let port = s.server.addr.port();
    s.admin(&[
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
    ]);
    // Agency A's agent sends Jan a letter (the assertion in the envelope, as above).
    let r = s.send("browser-1", &Ask::default(), as_is, &[]);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let letter = field(&text(&r.body), "MessageId").expect("message id");

    let out = s.scratch.join("browser");
    std::fs::create_dir_all(&out).expect("out");
    let screenshots = root.join("target/screenshots/saml");
    let ran = run(Command::new("node")
        .arg(root.join("tests/browser/saml_login.mjs"))
        .args(["--base-url", &format!("https://127.0.0.1:{port}")])
        .args(["--ca", s.pki.join("root-ca.pem").to_str().expect("path")])
        .args(["--out", out.to_str().expect("path")])
        .args(["--screenshots", screenshots.to_str().expect("path")])
        .args([
            "--citizen-user",
            "jan.eid",
            "--citizen-password",
            "eid password 1",
        ])
        .args(["--letter", &letter])
        .args([
            "--agent-user",
            "agent.a",
            "--agent-password",
            "agent password 1",
        ])
        .args(["--sender", "agency-a", "--agency-letter", &letter]));
    assert!(
        ran.status.success(),
        "saml_login.mjs: {}\n{}",
        text(&ran.stderr),
        text(&ran.stdout)
    );
    let report: serde_json::Value =
        serde_json::from_str(text(&ran.stdout).trim().lines().last().expect("a line"))
            .expect("json");
    assert_eq!(report["citizen_inbox"], true, "{report}");
    assert_eq!(report["agency_listing"], true, "{report}");
    let replay = report["replay_status"].as_u64().expect("replay status");
    assert!(replay >= 400, "a replayed response is refused: {report}");

    // The handover names how Jan logged in, and a court verifies it.
    let handover = std::fs::read_to_string(out.join("handover.xml")).expect("handover");
    assert!(handover.contains("Event/ContentHandover"), "{handover}");
    assert!(
        handover.contains(&format!("<ev:Authentication>SAML 2.0 Web SSO by {IDP}"))
            && handover.contains("(level 3)</ev:Authentication>"),
        "{handover}"
    );
    let court = s.data.with_file_name("court");
    let (exit, said) = sealpost_interop::court_verifies(&s.pki, &court, &handover, None);
    assert_eq!(exit, 0, "{said}");
    assert!(said.contains("logged in by SAML 2.0 Web SSO"), "{said}");
    // The agent fetched one of the organisation's own proofs.
    let theirs = std::fs::read_to_string(out.join("agency-evidence.xml")).expect("agency evidence");
    assert!(theirs.contains(&letter), "{theirs}");
    let (exit, said) = sealpost_interop::court_verifies(&s.pki, &court, &theirs, None);
    assert_eq!(exit, 0, "{said}");

    // Each step is in the audit log: the logins, the reads, the refused replay.
    let log = s.scratch.join("browser-audit.jsonl");
    s.admin(&[
        "audit",
        "export",
        "--from",
        "2000-01-01T00:00:00Z",
        "--out",
        log.to_str().expect("path"),
    ]);
    let entries = sealpost_interop::export_entries(&log);
    let has = |operation: &str, outcome: &str, fragment: &str| {
        entries.iter().any(|e| {
            e["operation"] == operation
                && e["outcome"] == outcome
                && (e["detail"].as_str().unwrap_or("").contains(fragment)
                    || e["identity"].as_str().unwrap_or("").contains(fragment))
        })
    };
    assert!(
        has("mailbox login", "accepted", "jan"),
        "the citizen's login"
    );
    assert!(
        has("OpenLetter", "accepted", "logged in by SAML 2.0 Web SSO"),
        "the opening"
    );
    assert!(
        has("AgencyLogin", "accepted", "agent agent-0042 of agency-a"),
        "the agent's login"
    );
    assert!(
        has("AgencyEvidenceRead", "accepted", "agent-0042"),
        "the agent's read"
    );
    assert!(
        has("SamlLogin", "refused", "not a login under way"),
        "the replay"
    );
}

/// The value of the hidden field `name` in an HTML form.
fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(html[at..].split('"').next()?.to_owned())
}

#[test]
fn an_authn_request_by_the_http_post_binding_is_what_the_identity_provider_takes() {
    let (s, idp) = browser_service(
        "saml-post-binding",
        "sso_binding = \"post\"\ncitizens = true\n",
        "",
    );
    let acs = format!("https://127.0.0.1:{}/saml/acs", s.server.addr.port());
    let page = sealpost_interop::https_raw(
        s.server.addr,
        &s.pki.join("root-ca.pem"),
        "GET /mailbox/login/saml HTTP/1.1",
        b"",
    );
    assert_eq!(page.status, 200, "{}", text(&page.body));
    let html = text(&page.body);
    assert!(
        html.contains(&format!("action=\"{}\"", idp.sso_url)),
        "{html}"
    );
    // The page may post to the identity provider, and to nowhere else.
    let origin = idp.sso_url.trim_end_matches("/sso");
    let policy = page.header("content-security-policy").expect("a policy");
    assert!(
        policy.contains(&format!("form-action 'self' {origin}")),
        "{policy}"
    );
    assert!(
        page.headers.iter().any(|(n, v)| n == "set-cookie"
            && v.starts_with("__Host-sealpost_sso=")
            && v.contains("SameSite=None")),
        "the binding cookie"
    );
    let request = hidden(&html, "SAMLRequest").expect("SAMLRequest");
    let xml = String::from_utf8(sealpost_xmldsig::dsig::base64_decode(&request).expect("base64"))
        .expect("utf-8");
    assert!(
        xml.contains(&format!("AssertionConsumerServiceURL=\"{acs}\"")),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<saml:Issuer>{AUDIENCE}</saml:Issuer>")),
        "{xml}"
    );
    // pysaml2 parses it and asks the person to log in.
    let relay = hidden(&html, "RelayState").expect("RelayState");
    let form = format!(
        "SAMLRequest={}&RelayState={}",
        request
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D"),
        relay
    );
    let addr: std::net::SocketAddr = idp
        .sso_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host")
        .parse()
        .expect("address");
    let answer = sealpost_interop::http_raw(
        addr,
        &format!(
            "POST /sso HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}",
            form.len()
        ),
        form.as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    assert!(
        text(&answer.body).contains("User name"),
        "{}",
        text(&answer.body)
    );
}

/// A form value, percent-encoded for `application/x-www-form-urlencoded`.
fn form_value(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// HTML's escaping of an attribute value, undone (what pysaml2's IdP writes in its forms).
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Starts a citizen's login at Sealpost and completes it at the IdP over plain HTTP (no
/// browser): the binding cookie Sealpost set, and the SAMLResponse the IdP would have the
/// browser post.
fn login_at_idp(s: &Saml) -> (String, String) {
    login_at_idp_as(s, "/mailbox/login/saml", "jan.eid", "eid password 1")
}

/// [`login_at_idp`] from `start` (Sealpost's redirects followed to the IdP), as `user`.
fn login_at_idp_as(s: &Saml, start: &str, user: &str, password: &str) -> (String, String) {
    let mut started = sealpost_interop::https_raw(
        s.server.addr,
        &s.pki.join("root-ca.pem"),
        &format!("GET {start} HTTP/1.1"),
        b"",
    );
    // `/agency/login/{sender}` names the protocol first.
    while started.status == 303
        && started
            .header("location")
            .is_some_and(|l| l.starts_with('/'))
    {
        let next = started.header("location").expect("location").to_owned();
        started = sealpost_interop::https_raw(
            s.server.addr,
            &s.pki.join("root-ca.pem"),
            &format!("GET {next} HTTP/1.1"),
            b"",
        );
    }
    assert_eq!(started.status, 303, "{}", text(&started.body));
    let binding = started
        .headers
        .iter()
        .find_map(|(n, v)| {
            (n == "set-cookie" && v.starts_with("__Host-sealpost_sso="))
                .then(|| v.split(';').next().unwrap_or("").to_owned())
        })
        .expect("the binding cookie");
    let location = started.header("location").expect("location").to_owned();
    let addr: std::net::SocketAddr = location
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host")
        .parse()
        .expect("address");
    let path = &location[location.find("/sso").expect("the SSO path")..];
    let form = sealpost_interop::http_raw(addr, &format!("GET {path} HTTP/1.1"), b"");
    assert_eq!(form.status, 200, "{}", text(&form.body));
    let pending = hidden(&text(&form.body), "pending").expect("the IdP's pending login");
    let body = format!(
        "pending={}&username={}&password={}",
        form_value(&pending),
        form_value(user),
        form_value(password)
    );
    let answer = sealpost_interop::http_raw(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}",
            body.len()
        ),
        body.as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    let response = unescape(&hidden(&text(&answer.body), "SAMLResponse").expect("SAMLResponse"));
    (binding, response)
}

fn post_acs(s: &Saml, cookie: Option<&str>, response: &str) -> HttpResponse {
    let body = format!("SAMLResponse={}", form_value(response));
    sealpost_interop::https_raw(
        s.server.addr,
        &s.pki.join("root-ca.pem"),
        &format!(
            "POST /saml/acs HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}{}",
            body.len(),
            cookie
                .map(|c| format!("\r\nCookie: {c}"))
                .unwrap_or_default()
        ),
        body.as_bytes(),
    )
}

#[test]
fn a_login_response_posted_by_another_browser_or_twice_or_altered_logs_nobody_in() {
    let (s, _idp) = browser_service("saml-acs-attacks", "citizens = true\n", "");
    s.admin(&[
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
    ]);
    let session = |r: &HttpResponse| {
        r.headers.iter().any(|(n, v)| {
            n == "set-cookie"
                && v.starts_with("__Host-sealpost_session=")
                && !v.contains("Max-Age=0")
        })
    };
    // The attacker's own login, posted into a victim's browser (login CSRF): no binding
    // cookie there. The login under way is spent, and its answer no longer logs anyone in.
    let (binding, response) = login_at_idp(&s);
    let r = post_acs(&s, None, &response);
    assert_eq!(r.status, 403, "{}", text(&r.body));
    assert!(!session(&r));
    let r = post_acs(&s, Some(&binding), &response);
    assert_eq!(r.status, 403, "a spent login: {}", text(&r.body));
    assert!(!session(&r));
    // Another browser's binding cookie.
    let (_, response) = login_at_idp(&s);
    let (other, _) = login_at_idp(&s);
    let r = post_acs(&s, Some(&other), &response);
    assert_eq!(r.status, 403, "{}", text(&r.body));
    // An altered response: the national number changed after the IdP signed it.
    let (binding, response) = login_at_idp(&s);
    let xml = String::from_utf8(sealpost_xmldsig::dsig::base64_decode(&response).expect("base64"))
        .expect("utf-8");
    let changed = xml.replacen(">85073003328<", ">00012556777<", 1);
    assert_ne!(changed, xml, "the NameID is in the response");
    let altered = sealpost_xmldsig::dsig::base64_encode(changed.as_bytes());
    let r = post_acs(&s, Some(&binding), &altered);
    assert_eq!(r.status, 403, "{}", text(&r.body));
    assert!(!session(&r));
    // The genuine one, in its own browser, once: logged in.
    let (binding, response) = login_at_idp(&s);
    let r = post_acs(&s, Some(&binding), &response);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    assert!(session(&r), "a session for Jan");
    let r = post_acs(&s, Some(&binding), &response);
    assert_eq!(r.status, 403, "the same answer twice: {}", text(&r.body));
    // Garbage is refused the same way, without a session.
    for garbage in ["%%%", "PHNhbWxwOlJlc3BvbnNlLz4=", ""] {
        let r = post_acs(&s, Some(&binding), garbage);
        assert!(r.status >= 400 && !session(&r), "{garbage:?}: {}", r.status);
    }
    let log = s.scratch.join("acs-audit.jsonl");
    s.admin(&[
        "audit",
        "export",
        "--from",
        "2000-01-01T00:00:00Z",
        "--out",
        log.to_str().expect("path"),
    ]);
    let refused: Vec<String> = sealpost_interop::export_entries(&log)
        .iter()
        .filter(|e| e["operation"] == "SamlLogin" && e["outcome"] == "refused")
        .map(|e| e["detail"].as_str().unwrap_or("").to_owned())
        .collect();
    for reason in [
        "posted by another browser",
        "not a login under way",
        "does not match",
    ] {
        assert!(
            refused.iter().any(|d| d.contains(reason)),
            "{reason}: {refused:#?}"
        );
    }
}

#[test]
fn an_agent_reads_their_own_organisations_evidences_and_no_one_elses() {
    let (s, _idp) = browser_service("saml-agency-reads", "", "");
    // A letter of each agency: agency A's by its agent, agency B's by its application.
    let r = s.send("own-1", &Ask::default(), as_is, &[]);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let own = field(
        &evidence_of(&field(&text(&r.body), "Evidence").expect("evidence")),
        "EvidenceId",
    )
    .expect("evidence id");
    let theirs = s.post(&signed_soap(
        NS_SOAP11,
        &Letter::new("theirs-1", CITIZEN).body(),
        &dev_signer(&s.pki, "sender-b"),
        system_now(),
    ));
    assert_eq!(theirs.status, 200, "{}", text(&theirs.body));
    let theirs = field(
        &evidence_of(&field(&text(&theirs.body), "Evidence").expect("evidence")),
        "EvidenceId",
    )
    .expect("evidence id");
    // Agency A's agent signs in to its pages.
    let (binding, response) =
        login_at_idp_as(&s, "/agency/login/agency-a", "agent.a", "agent password 1");
    let signed_in = post_acs(&s, Some(&binding), &response);
    assert_eq!(signed_in.status, 200, "{}", text(&signed_in.body));
    let agency = signed_in
        .headers
        .iter()
        .find_map(|(n, v)| {
            (n == "set-cookie" && v.starts_with("__Host-sealpost_agency="))
                .then(|| v.split(';').next().unwrap_or("").to_owned())
        })
        .expect("an agency session");
    let get = |path: &str, cookie: Option<&str>| {
        sealpost_interop::https_raw(
            s.server.addr,
            &s.pki.join("root-ca.pem"),
            &format!(
                "GET {path} HTTP/1.1{}",
                cookie
                    .map(|c| format!("\r\nCookie: {c}"))
                    .unwrap_or_default()
            ),
            b"",
        )
    };
    let listing = get("/agency/", Some(&agency));
    assert_eq!(listing.status, 200);
    assert!(
        text(&listing.body).contains(&own),
        "its own letter is listed"
    );
    assert!(!text(&listing.body).contains(&theirs), "agency B's is not");
    let path = |id: &str| format!("/agency/evidence/{}", form_value(id));
    let r = get(&path(&own), Some(&agency));
    assert_eq!(r.status, 200);
    assert!(
        text(&r.body).contains("SubmissionAcceptance"),
        "{}",
        text(&r.body)
    );
    // Agency B's evidence by its id, or any evidence without a session: nothing.
    let r = get(&path(&theirs), Some(&agency));
    assert_eq!(r.status, 404, "{}", text(&r.body));
    assert!(
        !text(&r.body).contains("Evidence"),
        "nothing of it is shown"
    );
    assert_eq!(get(&path(&own), None).status, 401);
    assert_eq!(
        get("/agency/", Some("__Host-sealpost_agency=forged")).status,
        401
    );

    // Every read is traced under the agent; the refused one too. And the administrator's
    // readings of the vectors are traced as well.
    s.admin(&["vector", "list", "--agent", AGENT]);
    let log = s.scratch.join("agency-audit.jsonl");
    s.admin(&[
        "audit",
        "export",
        "--from",
        "2000-01-01T00:00:00Z",
        "--out",
        log.to_str().expect("path"),
    ]);
    let entries = sealpost_interop::export_entries(&log);
    let has = |operation: &str, outcome: &str, fragment: &str| {
        entries.iter().any(|e| {
            e["operation"] == operation
                && e["outcome"] == outcome
                && e["detail"].as_str().unwrap_or("").contains(fragment)
        })
    };
    assert!(has(
        "AgencyEvidenceList",
        "accepted",
        "the evidences of agency-a listed"
    ));
    assert!(has("AgencyEvidenceRead", "accepted", &own));
    assert!(has(
        "AgencyEvidenceRead",
        "refused",
        &format!("evidence {theirs}: none of agency-a")
    ));
    assert!(has(
        "VectorList",
        "accepted",
        &format!("the requests of agent {AGENT} listed")
    ));
}

/// Writes the identity provider's signing certificate and key (`idp.pem`, `idp.key` in
/// `scratch`, and the certificate as `idp.pem` in `pki`, for `sealpost pki crl --revoke`),
/// valid from `not_before` to `not_after`: issued by the development issuing CA, or
/// self-signed.
fn idp_certificate(
    pki: &Path,
    scratch: &Path,
    issued: bool,
    not_before: std::time::SystemTime,
    not_after: std::time::SystemTime,
) {
    use sealpost_pki::{Authority, DEV_ISSUING_CA, KeyAlgorithm, LeafSpec, Profile};
    let spec = LeafSpec {
        not_before,
        not_after,
        ..LeafSpec::new(
            "Agency A identity provider",
            Profile::NoPurpose,
            KeyAlgorithm::Rsa2048,
            not_before,
            not_after.duration_since(not_before).expect("dates"),
        )
    };
    let credential = if issued {
        let key = std::fs::read_to_string(pki.join("issuing-ca.key")).expect("CA key");
        Authority::load_dev(
            DEV_ISSUING_CA,
            &sealpost_interop::cert_der(&pki.join("issuing-ca.pem")),
            &key,
        )
        .expect("issuing CA")
        .issue(&spec)
        .expect("issued")
    } else {
        sealpost_pki::rogue_self_signed(&spec).expect("self-signed")
    };
    for dir in [scratch, pki] {
        std::fs::write(dir.join("idp.pem"), credential.cert_pem()).expect("certificate");
    }
    std::fs::write(scratch.join("idp.key"), credential.key_pem()).expect("key");
}

/// The refusals of the audit log (the service stopped), with their code and detail.
fn refusals(s: Saml) -> Vec<(String, String)> {
    let Saml {
        pki, data, server, ..
    } = s;
    drop(server);
    sealpost_interop::audit_log(&pki, &data, &[])
        .into_iter()
        .filter(|e| e["outcome"] == "refused")
        .map(|e| {
            (
                e["code"].as_str().unwrap_or_default().to_owned(),
                e["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_identity_provider_certificate_its_ca_revoked_no_longer_vouches_for_an_agent() {
    let day = std::time::Duration::from_secs(86_400);
    let now = system_now();
    // The provider signs with a certificate of the sender CA; the CRL files cover it.
    let s = saml_service_with(
        "saml-idp-revoked",
        None,
        &|scratch| {
            let pki = scratch.with_file_name("pki");
            idp_certificate(&pki, scratch, true, now - day, now + 30 * day);
            sealpost_interop::issue_dev_crls(&pki, &[]);
            format!(
                "\n[revocation]\ncrls = [\"{}\", \"{}\"]\nrefresh_s = 1\n",
                pki.join("issuing-ca.crl.pem").display(),
                pki.join("root-ca.crl.pem").display()
            )
        },
        "",
    );
    let r = s.send("idp-good", &Ask::default(), as_is, &[]);
    assert_eq!(r.status, 200, "{}", text(&r.body));

    // The provider's key leaked; its CA revokes the certificate. Assertions it signs no
    // longer make anyone an agent of agency A.
    sealpost_interop::issue_dev_crls(&s.pki, &["idp"]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let r = s.send("idp-revoked", &Ask::default(), as_is, &[]);
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    let refused = refusals(s);
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (code, detail) = &refused[0];
    assert_eq!(code, "SEALPOST-AUTH-002");
    assert!(
        detail.contains("identity provider's certificate") && detail.contains("revoked"),
        "the audit says why: {detail}"
    );
}

#[test]
fn an_expired_identity_provider_certificate_vouches_for_nobody() {
    let day = std::time::Duration::from_secs(86_400);
    let now = system_now();
    // Self-signed (pinned, as metadata publishes it), expired yesterday.
    let s = saml_service_with(
        "saml-idp-expired",
        None,
        &|scratch| {
            let pki = scratch.with_file_name("pki");
            idp_certificate(&pki, scratch, false, now - 400 * day, now - day);
            String::new()
        },
        "",
    );
    let r = s.send("idp-expired", &Ask::default(), as_is, &[]);
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    let refused = refusals(s);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].1.contains("identity provider's certificate")
            && refused[0].1.contains("expired at"),
        "the audit says why: {:?}",
        refused[0]
    );
}

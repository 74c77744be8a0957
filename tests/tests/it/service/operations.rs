//! Running the service: senders declared in the configuration file, PostgreSQL administered
//! while the service runs, the audit log sealed, verified and exported, metrics, and the
//! provider identity it publishes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sealpost_interop::{
    CITIZEN, NS_SOAP11, Server, Setting, SoapService, binary, dev_pki, dev_signer,
    drop_postgres_database, expect_fault_code as code, export_entries, https_raw,
    https_raw_in_halves, postgres_database, require_tool, run, sealpost_with, signed_soap,
    submission_body, system_now, text, trusted_list, xml_text as field,
};
use sealpost_pki::{KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
use sealpost_xmldsig::dsig::base64_decode;

use super::{
    Fixture, Letter, admin, as_sender, court_verifies, evidence_of, fields, fixture, fixture_on,
    post, rejected, sealpost,
};

#[test]
fn the_service_publishes_the_provider_identity_its_proofs_verify_against() {
    let f = fixture();
    let r = https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        "GET /provider/trusted-list.xml HTTP/1.1",
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    // What the service serves is what `sealpost pki trusted-list` wrote for a court.
    let published = std::fs::read_to_string(trusted_list(&f.pki)).expect("trusted list");
    assert_eq!(text(&r.body), published);
    let seal = std::fs::read_to_string(f.pki.join("seal.pem")).expect("seal");
    let seal_b64: String = seal.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(published.contains(&seal_b64), "{published}");
}

#[test]
fn metrics_count_submissions_by_outcome() {
    let f = fixture();
    assert_eq!(
        as_sender(&f, "sender-a", &Letter::new("metrics-1", CITIZEN).body()).status,
        200
    );
    let r = https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        "GET /metrics HTTP/1.1",
        b"",
    );
    let body = text(&r.body);
    assert_eq!(r.status, 200);
    assert!(
        body.contains(
            "sealpost_requests_total{operation=\"SubmitRegisteredMail\",outcome=\"accepted\"}"
        ),
        "{body}"
    );
    assert!(
        body.contains("sealpost_submit_duration_seconds_count"),
        "{body}"
    );
    assert!(
        body.contains("sealpost_tsa_duration_seconds_count"),
        "{body}"
    );
}

#[test]
fn every_request_is_in_the_audit_log_and_the_chain_verifies() {
    let f = fixture();
    let letter = Letter::new("audit-1", CITIZEN);
    let accepted = as_sender(&f, "sender-a", &letter.body());
    assert_eq!(accepted.status, 200);
    let message_id = field(&text(&accepted.body), "MessageId").expect("id");
    let tampered = signed_soap(
        NS_SOAP11,
        &Letter::new("audit-2", CITIZEN).body(),
        &dev_signer(&f.pki, "sender-a"),
        system_now(),
    )
    .replace("REF-audit-2", "REF-audit-X");
    assert_eq!(code(&post(&f, &tampered)), "SEALPOST-AUTH-001");
    let get = format!(
        "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
    );
    assert_eq!(as_sender(&f, "sender-b", &get).status, 500);

    // Stopped, so that the periodic seal (every second here) does not seal the head first.
    let Fixture { pki, data, server } = f;
    drop(server);
    // The fixture's administration (two senders set, the directory imported), then the
    // three requests.
    assert!(admin(&pki, &data, &["audit", "seal"]).contains("audit head 6 sealed"));
    let verified = admin(&pki, &data, &["audit", "verify"]);
    assert!(
        verified.contains("audit log valid: 6 entries")
            && verified.contains("1 sealed heads verified"),
        "{verified}"
    );
    // The sender's own signed request of the accepted letter, as received, for a court.
    let kept = data.join("request.xml");
    admin(
        &pki,
        &data,
        &[
            "message",
            "request",
            "--id",
            &message_id,
            "--out",
            kept.to_str().expect("path"),
        ],
    );
    let kept = std::fs::read_to_string(&kept).expect("request");
    assert!(
        kept.contains("SignatureValue") && kept.contains("REF-audit-1"),
        "{kept}"
    );
    let export = data.join("audit.jsonl");
    admin(
        &pki,
        &data,
        &[
            "audit",
            "export",
            "--from",
            "2000-01-01T00:00:00Z",
            "--out",
            export.to_str().expect("path"),
        ],
    );
    let lines = export_entries(&export);
    assert_eq!(lines.len(), 8);
    // Reading the traces (verifying them) and the kept request are themselves traced, last.
    assert_eq!(lines[6]["operation"], "AuditVerify");
    assert_eq!(lines[7]["operation"], "MessageRequestRead");
    let administration: Vec<&str> = lines[..3]
        .iter()
        .map(|l| {
            assert_eq!(l["channel"], "admin");
            l["operation"].as_str().expect("operation")
        })
        .collect();
    assert_eq!(administration, ["SenderSet", "SenderSet", "MailboxImport"]);
    let lines = &lines[3..6];
    assert_eq!(lines[0]["outcome"], "accepted");
    assert_eq!(lines[0]["message_id"], message_id.as_str());
    assert_eq!(lines[1]["code"], "SEALPOST-AUTH-001");
    // The refused request is kept as it was received, signature and all.
    let request =
        base64_decode(lines[1]["request_base64"].as_str().expect("request")).expect("b64");
    assert_eq!(text(&request), tampered);
    assert_eq!(lines[2]["code"], "SEALPOST-REQ-003");
    assert_eq!(lines[2]["prev_hash"], lines[1]["hash"]);
}

#[test]
fn senders_declared_in_the_configuration_file_may_send_and_an_untrusted_one_stops_the_start() {
    let pki = dev_pki("config-registry");
    let data = pki.with_file_name("var");
    admin(
        &pki,
        &data,
        &["mailbox", "add", CITIZEN, "--name", "Jan Peeters"],
    );
    let config = pki.with_file_name("sealpost.toml");
    let registry = |cert: &Path| {
        format!(
            "[[senders.registry]]\nid = \"agency-a\"\nname = \"Agency A\"\ncertificates = [{:?}]\nmessage_types = [\"tax-assessment\"]\nrecipients = [\"citizen\"]\n",
            cert.display().to_string()
        )
    };
    std::fs::write(&config, registry(&pki.join("sender-a.pem"))).expect("config");
    let mut cmd = sealpost(&pki, &data);
    cmd.arg("serve").arg("--config").arg(&config);
    let f = Fixture {
        server: Server::start(cmd),
        pki: pki.clone(),
        data: data.clone(),
    };
    let r = as_sender(&f, "sender-a", &Letter::new("config-1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    // Not declared: sender-b is unknown.
    let r = as_sender(&f, "sender-b", &Letter::new("config-2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002");
    drop(f);
    // Registered with its audit entry, once: a start with the same registry writes nothing.
    let mut cmd = sealpost(&pki, &data);
    cmd.arg("serve").arg("--config").arg(&config);
    drop(Server::start(cmd));
    let export = data.with_file_name("config-audit.jsonl");
    admin(
        &pki,
        &data,
        &["audit", "export", "--out", export.to_str().expect("path")],
    );
    let from_configuration: Vec<_> = export_entries(&export)
        .into_iter()
        .filter(|l| l["identity"] == "the configuration (senders.registry)")
        .collect();
    assert_eq!(from_configuration.len(), 1, "{from_configuration:?}");
    assert_eq!(from_configuration[0]["operation"], "SenderSet");

    // A self-signed certificate in the registry: the service refuses to start, and says why.
    let rogue = rogue_self_signed(&LeafSpec::new(
        "Rogue Agency",
        Profile::Sender,
        KeyAlgorithm::EcdsaP256,
        system_now() - Duration::from_secs(60),
        Duration::from_secs(86_400),
    ))
    .expect("rogue");
    let rogue_pem = pki.with_file_name("rogue.pem");
    std::fs::write(&rogue_pem, rogue.cert_pem()).expect("write");
    std::fs::write(&config, registry(&rogue_pem)).expect("config");
    let mut cmd = Command::new("timeout");
    cmd.arg("30").arg(binary("sealpost"));
    let serve = sealpost(&pki, &data);
    for (k, v) in serve.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = run(cmd.arg("serve").arg("--config").arg(&config));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("agency-a") && stderr.contains("self-signed"),
        "{stderr}"
    );
}

#[test]
fn the_service_runs_on_postgresql_and_is_administered_while_it_runs() {
    require_tool("psql", &["--version"]);
    let url = postgres_database("service");
    let pki = dev_pki("postgres-service");
    let data = pki.with_file_name("var");
    let on_postgres = |mut cmd: Command| {
        cmd.env("SEALPOST_STORE_BACKEND", "postgres")
            .env("SEALPOST_STORE_POSTGRES_URL", &url);
        cmd
    };
    let admin = |args: &[&str]| sealpost_interop::admin(on_postgres(sealpost(&pki, &data)), args);
    let cert = pki.join("sender-a.pem");
    admin(&[
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
    ]);
    let mut serve = on_postgres(sealpost(&pki, &data));
    serve.arg("serve");
    let f = Fixture {
        server: Server::start(serve),
        pki: pki.clone(),
        data: data.clone(),
    };
    // No mailbox yet: refused; added while the service runs: delivered.
    let r = as_sender(&f, "sender-a", &Letter::new("pg-1", CITIZEN).body());
    rejected(&f, &r, "SEALPOST-REQ-002", "sealpost:RecipientUnknown");
    admin(&["mailbox", "add", CITIZEN, "--name", "Jan Peeters"]);
    let letter = Letter::new("pg-2", CITIZEN);
    let r = as_sender(&f, "sender-a", &letter.body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let message_id = field(&text(&r.body), "MessageId").expect("message id");
    let evidence = evidence_of(&field(&text(&r.body), "Evidence").expect("evidence"));
    assert_eq!(court_verifies(&f, &evidence, Some(&letter.document)).0, 0);
    let get = format!(
        "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
    );
    let r = as_sender(&f, "sender-a", &get);
    assert_eq!(fields(&text(&r.body), "Evidence").len(), 2);
    // The same key again: the original proof.
    let again = as_sender(&f, "sender-a", &letter.body());
    assert_eq!(
        field(&text(&again.body), "Evidence"),
        field(&text(&r.body), "Evidence")
    );
    // The audit chain verifies while the service is running.
    let report = admin(&["audit", "verify"]);
    // The sender set, the refusal, the mailbox added while the service ran, the letter,
    // the GetEvidence and the replayed key: one chain written by two processes.
    assert!(report.contains("audit log valid: 6 entries"), "{report}");
    drop(f);
    drop_postgres_database(&url);
}

#[test]
fn an_auditor_reads_the_audit_log_from_the_running_service_and_a_court_verifies_it() {
    let Fixture { pki, data, server } = fixture();
    drop(server);
    let mut serve = sealpost(&pki, &data);
    serve
        .env("SEALPOST_AUDIT_AUDITORS", pki.join("sender-b.pem"))
        .arg("serve");
    let f = Fixture {
        server: Server::start(serve),
        pki: pki.clone(),
        data: data.clone(),
    };
    assert_eq!(
        as_sender(&f, "sender-a", &Letter::new("audited-1", CITIZEN).body()).status,
        200
    );
    // The audit head is sealed every second: wait for a seal over the letter's entry, and
    // export up to it.
    std::thread::sleep(Duration::from_millis(2500));
    let to = sealpost_xmldsig::wss_sign::format_date_time(system_now() - Duration::from_secs(2));
    let export = |who: Option<&str>| {
        let (cert, key) = who
            .map(|w| (pki.join(format!("{w}.pem")), pki.join(format!("{w}.key"))))
            .unzip();
        sealpost_interop::https_raw_as(
            f.server.addr,
            &pki.join("root-ca.pem"),
            cert.as_deref().zip(key.as_deref()),
            &format!("GET /audit/export?to={to} HTTP/1.1"),
            b"",
        )
    };
    // What a curious sender (or anyone) wanted: the traces. Refused, each with its row.
    let anonymous = export(None);
    assert_eq!(
        (anonymous.status, anonymous.header("sealpost-code")),
        (401, Some("SEALPOST-AUTH-002"))
    );
    let sender = export(Some("sender-a"));
    assert_eq!(
        (sender.status, sender.header("sealpost-code")),
        (403, Some("SEALPOST-AUTHZ-001"))
    );
    // The auditor gets the export, streamed from the running service; a court verifies it.
    let granted = export(Some("sender-b"));
    assert_eq!(granted.status, 200, "{}", text(&granted.body));
    let file = data.join("audited.jsonl");
    std::fs::write(&file, &granted.body).expect("write");
    let out = run(Command::new(binary("sealpost-verify"))
        .arg("--audit-export")
        .arg(&file)
        .arg("--trust")
        .arg(pki.join("root-ca.pem"))
        .arg("--provider")
        .arg(trusted_list(&pki)));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // Every access is traced, the refused ones too.
    drop(f);
    let all = data.join("all.jsonl");
    admin(
        &pki,
        &data,
        &["audit", "export", "--out", all.to_str().expect("path")],
    );
    let lines = std::fs::read_to_string(&all).expect("export");
    // The three requests above (the admin export is traced once written, after its own file).
    assert_eq!(
        lines.matches("\"operation\":\"AuditExport\"").count(),
        3,
        "{lines}"
    );
    assert!(lines.contains("not an auditor"), "{lines}");
}

#[test]
fn a_legal_hold_keeps_the_traces_of_an_incident_past_their_retention_until_released() {
    let f = fixture();
    assert_eq!(
        as_sender(&f, "sender-a", &Letter::new("held-1", CITIZEN).body()).status,
        200
    );
    let Fixture { pki, data, server } = f;
    drop(server);
    // Traces are kept two seconds.
    let admin = |args: &[&str]| {
        let mut cmd = sealpost(&pki, &data);
        cmd.env("SEALPOST_RETENTION_TRACES_S", "2");
        sealpost_interop::admin(cmd, args)
    };
    let hold: serde_json::Value = serde_json::from_str(
        admin(&[
            "audit",
            "hold",
            "--from-seq",
            "2",
            "--reason",
            "incident 42",
        ])
        .trim(),
    )
    .expect("the hold");
    assert_eq!(hold["from_seq"], 2);
    std::thread::sleep(Duration::from_secs(3));
    let report: serde_json::Value =
        serde_json::from_str(admin(&["retention"]).trim()).expect("report");
    assert_eq!(report["purged_through"], 1, "only what precedes the hold");
    let verified = admin(&["audit", "verify"]);
    assert!(verified.contains("audit log valid"), "{verified}");
    // Released: the traces follow their retention again.
    admin(&["audit", "release", "--id", hold["id"].as_str().expect("id")]);
    std::thread::sleep(Duration::from_secs(3));
    let report: serde_json::Value =
        serde_json::from_str(admin(&["retention"]).trim()).expect("report");
    assert!(
        report["purged_through"].as_u64().is_some_and(|n| n >= 5),
        "{report}"
    );
    let holds = admin(&["audit", "holds"]);
    assert!(
        !holds.contains("\"released_at\":null") && holds.contains("incident 42"),
        "{holds}"
    );
}

#[test]
fn a_key_that_is_not_its_certificates_stops_the_start() {
    let pki = dev_pki("mismatched-keys");
    let data = pki.with_file_name("var");
    // Each key swapped for another key of the same PKI (the same algorithm, a valid file).
    for (setting, other_key, named) in [
        ("SEALPOST_SEAL_KEY", "sender-a.key", "seal"),
        ("SEALPOST_TSA_KEY", "sender-a.key", "TSA"),
        ("SEALPOST_TLS_KEY", "sender-a.key", "TLS"),
    ] {
        let mut cmd = Command::new("timeout");
        cmd.arg("30").arg(binary("sealpost"));
        let serve = sealpost(&pki, &data);
        for (k, v) in serve.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd.env(setting, pki.join(other_key));
        let out = run(cmd.arg("serve"));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{setting}: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ") && !stderr.contains("listening"),
            "{setting}: {stderr}"
        );
        assert!(
            stderr.to_lowercase().contains("match") || stderr.contains("inconsistent"),
            "{setting} ({named}): {stderr}"
        );
    }
}

/// Letters half sent by several senders at once when the service is told to stop (SIGTERM,
/// or SIGINT): each is received, registered and answered, then the service exits cleanly, and
/// each is there after a restart.
fn a_stop_lets_the_letters_in_flight_finish(name: &str, signal: &str, settings: &[Setting<'_>]) {
    const IN_FLIGHT: usize = 6;
    let mut service = SoapService::start_with(name, CITIZEN, &["sender-a"], settings);
    let envelopes: Vec<String> = (0..IN_FLIGHT)
        .map(|i| {
            signed_soap(
                NS_SOAP11,
                &submission_body(
                    &format!("in-flight-{i}"),
                    CITIZEN,
                    format!("%PDF-1.7 letter {i} in flight").as_bytes(),
                ),
                &dev_signer(&service.pki, "sender-a"),
                system_now(),
            )
        })
        .collect();
    let (addr, root) = (service.server.addr, service.pki.join("root-ca.pem"));
    // Every sender half way through its request; then the signal sent.
    let (half_sent, signalled) = (
        std::sync::Barrier::new(IN_FLIGHT + 1),
        std::sync::Barrier::new(IN_FLIGHT + 1),
    );
    let answers: Vec<_> = std::thread::scope(|s| {
        let senders: Vec<_> = envelopes
            .iter()
            .map(|envelope| {
                let (root, half_sent, signalled) = (&root, &half_sent, &signalled);
                s.spawn(move || {
                    https_raw_in_halves(
                        addr,
                        root,
                        None,
                        &format!(
                            "POST /soap HTTP/1.1\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}",
                            envelope.len()
                        ),
                        envelope.as_bytes(),
                        || {
                            half_sent.wait();
                            signalled.wait();
                        },
                    )
                })
            })
            .collect();
        // Told to stop while each request is half received (its headers read, the
        // connection past its handshake); the rest follows at once.
        half_sent.wait();
        std::thread::sleep(Duration::from_millis(300));
        let pid = service.server.pid().to_string();
        let sent = Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        signalled.wait();
        senders
            .into_iter()
            .map(|h| h.join().expect("sender"))
            .collect()
    });
    let message_ids: Vec<String> = answers
        .iter()
        .map(|answer| {
            assert_eq!(answer.status, 200, "{}", text(&answer.body));
            field(&text(&answer.body), "MessageId").expect("id")
        })
        .collect();
    let (code, log) = service.server.wait_for_exit(&format!("SIG{signal}"));
    let log = log.join("\n");
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains(&format!("SIG{signal}: stopping"))
            && log.contains("every request in flight was answered"),
        "{log}"
    );
    assert!(
        !log.contains("panicked") && !log.contains("runtime"),
        "{log}"
    );
    // What it answered is what it kept.
    let service = service.restart(settings);
    for message_id in message_ids {
        let status = service.send(
            "sender-a",
            &format!(
                "<sp:GetMessageStatus xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetMessageStatus>"
            ),
        );
        assert_eq!(status.status, 200, "{}", text(&status.body));
    }
}

#[test]
fn sigterm_lets_the_letters_in_flight_finish_on_the_embedded_store() {
    a_stop_lets_the_letters_in_flight_finish("stop-redb", "TERM", &[]);
}

#[test]
fn sigint_lets_the_letters_in_flight_finish_on_postgresql() {
    let url = postgres_database("stop");
    let settings = [
        ("SEALPOST_STORE_BACKEND", "postgres"),
        ("SEALPOST_STORE_POSTGRES_URL", url.as_str()),
    ];
    a_stop_lets_the_letters_in_flight_finish("stop-pg", "INT", &settings);
    drop_postgres_database(&url);
}

/// `psql` on the server of a database URL made by `postgres_database`.
fn psql_server(url: &str, sql: &str) {
    let (server, _) = url.rsplit_once(" dbname=").expect("url");
    let out = run(Command::new("psql")
        .arg(format!("{server} dbname=postgres"))
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql]));
    assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
}

#[test]
fn readiness_says_when_the_store_cannot_write_and_when_it_can_again() {
    let url = postgres_database("ready");
    let database = url.rsplit_once(" dbname=").expect("url").1.to_owned();
    let settings = [
        ("SEALPOST_STORE_BACKEND", "postgres"),
        ("SEALPOST_STORE_POSTGRES_URL", url.as_str()),
    ];
    let service = SoapService::start_with("ready", CITIZEN, &["sender-a"], &settings);
    let get = |path: &str| {
        https_raw(
            service.server.addr,
            &service.pki.join("root-ca.pem"),
            &format!("GET {path} HTTP/1.1"),
            b"",
        )
    };
    let ready = get("/readyz");
    assert_eq!((ready.status, text(&ready.body)), (200, "ready\n".into()));
    // The database turns read-only (its sessions cut, so that every new one is).
    psql_server(
        &url,
        &format!("ALTER DATABASE {database} SET default_transaction_read_only = on"),
    );
    let cut = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    );
    psql_server(&url, &cut);
    let not_ready = (0..50)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(200));
            let r = get("/readyz");
            (r.status == 503).then_some(r)
        })
        .expect("not ready while the store cannot write");
    assert!(
        text(&not_ready.body).contains("store:"),
        "{}",
        text(&not_ready.body)
    );
    assert_eq!(not_ready.header("retry-after"), Some("5"));
    // Alive all the same.
    assert_eq!(get("/healthz").status, 200);
    // Writable again: ready again, and letters are taken.
    psql_server(
        &url,
        &format!("ALTER DATABASE {database} RESET default_transaction_read_only"),
    );
    psql_server(&url, &cut);
    (0..50)
        .find(|_| {
            std::thread::sleep(Duration::from_millis(200));
            get("/readyz").status == 200
        })
        .expect("ready again");
    let r = service.send(
        "sender-a",
        &submission_body("after-read-only", CITIZEN, b"%PDF-1.7 after"),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    drop(service);
    drop_postgres_database(&url);
}

/// A small filesystem of its own (tmpfs), unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(path).expect("mount point");
        let out = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path));
        assert!(out.status.success(), "mount: {}", text(&out.stderr));
        SmallDisk(path.to_owned())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = run(Command::new("umount").arg("-l").arg(&self.0));
    }
}

/// `filler` grown until the disk is full, then cut back to leave `room` bytes.
fn fill(filler: &Path, room: u64) {
    let mut file = std::fs::File::create(filler).expect("filler");
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
    while std::io::Write::write_all(&mut file, &[0u8]).is_ok() {}
    let len = file.metadata().expect("filler").len();
    file.set_len(len.saturating_sub(room)).expect("room");
    let _ = file.sync_all();
}

/// Sends each letter as sender-a: the message ids of those taken go to `taken`; every other
/// answer must be ServiceUnavailable. How many were refused.
fn send_all(f: &Fixture, letters: impl Iterator<Item = String>, taken: &mut Vec<String>) -> usize {
    let mut refused = 0;
    for letter in letters {
        let r = as_sender(f, "sender-a", &letter);
        if r.status == 200 {
            taken.push(field(&text(&r.body), "MessageId").expect("id"));
        } else {
            assert_eq!(code(&r), "SEALPOST-SRV-001", "{}", text(&r.body));
            refused += 1;
        }
    }
    refused
}

#[test]
fn a_full_disk_refuses_letters_without_breaking_those_it_took_and_recovers_once_freed() {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("uid");
    if uid != 0 {
        eprintln!("not root: no filesystem of its own can be mounted here");
        return;
    }
    let pki = dev_pki("disk-full");
    let _disk = SmallDisk::mount(&pki.with_file_name("var"), "24m");
    let f = fixture_on(pki, &[]);
    let filler = f.data.join("filler");
    let big = |n: usize| {
        let mut document = format!("%PDF-1.7 letter {n}\n").into_bytes();
        document.resize(96 * 1024, b'x');
        submission_body(&format!("full-{n}"), CITIZEN, &document)
    };
    let small = |n: usize| submission_body(&format!("tiny-{n}"), CITIZEN, b"%PDF-1.7 tiny");
    let mut taken = Vec::new();
    // The disk filled but for a megabyte: big letters are refused, then taken again once it
    // has room, without a restart.
    fill(&filler, 1024 * 1024);
    let refused = send_all(&f, (0..40).map(big), &mut taken);
    assert!(
        refused > 0,
        "the disk never filled ({} letters taken)",
        taken.len()
    );
    std::fs::remove_file(&filler).expect("free");
    assert_eq!(
        send_all(&f, (100..110).map(big), &mut taken),
        0,
        "refused with room again"
    );
    // Full to the last byte, small letters: the store's own writes fail too.
    fill(&filler, 0);
    assert!(
        send_all(&f, (0..30).map(small), &mut taken) > 0,
        "the full disk took every small letter"
    );
    std::fs::remove_file(&filler).expect("free");
    assert_eq!(
        send_all(&f, (200..210).map(small), &mut taken),
        0,
        "refused with room again"
    );
    // Every letter acknowledged is whole: its signed request reads back (checked against its
    // SHA-256), and the audit log verifies.
    let Fixture { pki, data, server } = f;
    drop(server);
    for id in &taken {
        let out = data.join("request.xml");
        admin(
            &pki,
            &data,
            &[
                "message",
                "request",
                "--id",
                id,
                "--out",
                out.to_str().expect("path"),
            ],
        );
    }
    let verified = admin(&pki, &data, &["audit", "verify"]);
    assert!(verified.contains("audit log valid"), "{verified}");
}

#[test]
fn large_requests_beyond_the_budget_are_turned_away_while_ordinary_letters_pass() {
    let settings = [
        ("SEALPOST_LIMITS_MAX_REQUEST_BYTES", "3145728"),
        ("SEALPOST_LIMITS_MAX_DOCUMENT_BYTES", "2097152"),
        ("SEALPOST_LIMITS_IN_FLIGHT_BYTES", "4194304"),
    ];
    let service = SoapService::start_with("admission", CITIZEN, &["sender-a"], &settings);
    let (addr, root) = (service.server.addr, service.pki.join("root-ca.pem"));
    let large = |key: &str| {
        let document = vec![b'%'; 1536 * 1024];
        signed_soap(
            NS_SOAP11,
            &submission_body(key, CITIZEN, &document),
            &dev_signer(&service.pki, "sender-a"),
            system_now(),
        )
    };
    let head = |envelope: &str| {
        format!(
            "POST /soap HTTP/1.1\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}",
            envelope.len()
        )
    };
    let (first, second) = (large("large-1"), large("large-2"));
    assert!(first.len() > 2 << 20 && first.len() < 3 << 20);
    let mut during = None;
    // While the first large letter is half sent, it holds its share of the budget (once the
    // service has read its first MiB: the metrics say).
    let answer = https_raw_in_halves(addr, &root, None, &head(&first), first.as_bytes(), || {
        let started = std::time::Instant::now();
        while sealpost_interop::metric(addr, &root, "sealpost_in_flight_budget_used_bytes")
            .expect("the budget gauge")
            < first.len() as f64
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the first letter never took its share"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let turned_away = https_raw(addr, &root, &head(&second), second.as_bytes());
        let ordinary = service.send(
            "sender-a",
            &submission_body("ordinary", CITIZEN, b"%PDF-1.7 ordinary"),
        );
        during = Some((turned_away, ordinary));
    });
    let (turned_away, ordinary) = during.expect("during");
    assert_eq!(turned_away.status, 503, "{}", text(&turned_away.body));
    assert_eq!(turned_away.header("retry-after"), Some("5"));
    assert!(text(&turned_away.body).contains("SEALPOST-SRV-001"));
    assert_eq!(ordinary.status, 200, "{}", text(&ordinary.body));
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    // Its share is given back: the second one passes now.
    let again = service.post(&second);
    assert_eq!(again.status, 200, "{}", text(&again.body));
    // Turned away: nothing of it was kept or recorded.
    let refused: Vec<_> = sealpost_interop::audit_log(&service.pki, &service.data, &settings)
        .into_iter()
        .filter(|l| l["outcome"] != "accepted")
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

/// Two nodes on one PostgreSQL database, the audit head sealed every second: the seal runs on
/// the node that holds its lease alone; a request one node took is a replay at the other; when
/// the sealing node dies (SIGKILL), the other takes the job once the lease has run out, and
/// the letters sent to it meanwhile get their seal.
#[test]
fn on_postgresql_a_periodic_job_runs_on_one_node_and_moves_when_that_node_dies() {
    let url = postgres_database("lease");
    let settings = [
        ("SEALPOST_STORE_BACKEND", "postgres"),
        ("SEALPOST_STORE_POSTGRES_URL", url.as_str()),
        ("SEALPOST_AUDIT_SEAL_INTERVAL_S", "1"),
    ];
    let first = SoapService::start_with("lease", CITIZEN, &["sender-a"], &settings);
    // The second node: the same PKI and database, a host (data directory) of its own.
    let mut serve = sealpost_with(&first.pki, &first.pki.with_file_name("var-b"), &settings);
    serve.arg("serve");
    let second = Server::start(serve);
    let root = first.pki.join("root-ca.pem");
    let send = |node: &Server, key: &str| {
        let envelope = signed_soap(
            NS_SOAP11,
            &submission_body(key, CITIZEN, b"%PDF-1.7 a letter"),
            &dev_signer(&first.pki, "sender-a"),
            system_now(),
        );
        let answer = sealpost_interop::post_soap(node.addr, &root, &envelope);
        assert_eq!(answer.status, 200, "{}", text(&answer.body));
    };
    let sealed = |node: &Server| {
        node.log()
            .iter()
            .filter(|l| l.contains("audit head sealed"))
            .count()
    };
    // Letters to both nodes for a few rounds: one node seals, the other never.
    for i in 0..8 {
        send(&first.server, &format!("a-{i}"));
        send(&second, &format!("b-{i}"));
        std::thread::sleep(Duration::from_millis(500));
    }
    let (by_first, by_second) = (sealed(&first.server), sealed(&second));
    assert!(
        (by_first > 0) != (by_second > 0),
        "one node alone seals: {by_first} and {by_second}"
    );
    // A signed request taken by one node is a replay at the other, and so is the same
    // content signed again (the other signature value of ECDSA).
    let envelope = signed_soap(
        NS_SOAP11,
        &submission_body("replayed", CITIZEN, b"%PDF-1.7 a letter"),
        &dev_signer(&first.pki, "sender-a"),
        system_now(),
    );
    let taken = sealpost_interop::post_soap(first.server.addr, &root, &envelope);
    assert_eq!(taken.status, 200, "{}", text(&taken.body));
    for replay in [envelope.clone(), sealpost_interop::with_high_s(&envelope)] {
        let refused = sealpost_interop::post_soap(second.addr, &root, &replay);
        assert_eq!(
            code(&refused),
            "SEALPOST-AUTH-003",
            "{}",
            text(&refused.body)
        );
    }
    // The node that seals dies; the other gets the job once its lease runs out.
    let (survivor, dead) = if by_first > 0 {
        (second, first.server)
    } else {
        (first.server, second)
    };
    drop(dead);
    let before = sealed(&survivor);
    let started = std::time::Instant::now();
    let mut n = 0;
    while sealed(&survivor) == before {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the surviving node never took the job"
        );
        send(&survivor, &format!("after-{n}"));
        n += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(survivor);
    drop_postgres_database(&url);
}

//! Remote TSAs (`tsa.remote`): two `sealpost-tsa` processes with a time-stamping unit of their
//! own time-stamp the evidences; killing one fails over to the other, killing both refuses
//! letters cleanly (ServiceUnavailable, nothing registered), and a TSA whose tokens are not
//! signed by a published unit is not believed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sealpost_interop::{
    CITIZEN, Server, binary, cert_der, dev_pki, expect_fault_code as code, https_raw, require_tool,
    run, submission_body, system_now, text, trusted_list, workspace_root, xml_text as field,
};
use sealpost_pki::{Authority, DEV_ISSUING_CA, KeyAlgorithm, LeafSpec, Profile};

use super::{Fixture, as_sender, evidence_of, fixture_on};

/// A time-stamping unit of the development issuing CA other than the embedded TSA's:
/// `remote-tsa.pem` and `remote-tsa.key` in `pki`.
pub(crate) fn remote_unit(pki: &Path) {
    let key = std::fs::read_to_string(pki.join("issuing-ca.key")).expect("CA key");
    let ca = Authority::load_dev(DEV_ISSUING_CA, &cert_der(&pki.join("issuing-ca.pem")), &key)
        .expect("issuing CA");
    let unit = ca
        .issue(&LeafSpec::new(
            "Remote Time-Stamping Unit",
            Profile::TimeStamping { eku_critical: true },
            KeyAlgorithm::EcdsaP256,
            system_now() - Duration::from_secs(60),
            Duration::from_secs(86_400),
        ))
        .expect("unit");
    std::fs::write(pki.join("remote-tsa.pem"), unit.cert_pem()).expect("cert");
    std::fs::write(pki.join("remote-tsa.key"), unit.key_pem()).expect("key");
}

/// `sealpost-tsa serve` with the unit `name` (`tsa` or `remote-tsa`) of `pki`.
pub(crate) fn tsa(pki: &Path, name: &str, state: &str) -> Server {
    let mut cmd = Command::new(binary("sealpost-tsa"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--clock", "unchecked"])
        .args(["--workers", "1"])
        .arg("--cert")
        .arg(pki.join(format!("{name}.pem")))
        .arg("--key")
        .arg(pki.join(format!("{name}.key")))
        .arg("--chain")
        .arg(pki.join("issuing-ca.pem"))
        .arg("--state-dir")
        .arg(pki.with_file_name(state));
    Server::start(cmd)
}

/// The fixture's service on `pki`, time-stamping with the TSAs at `urls` (their tokens
/// signed by the remote unit).
pub(crate) fn service(pki: &Path, urls: &[String]) -> Fixture {
    let remote = urls.join(",");
    let units = pki.join("remote-tsa.pem");
    let settings = [
        ("SEALPOST_TSA_REMOTE", remote.as_str()),
        ("SEALPOST_TSA_REMOTE_UNITS", units.to_str().expect("path")),
        ("SEALPOST_TSA_REMOTE_TIMEOUT_MS", "2000"),
    ];
    fixture_on(pki.to_owned(), &settings)
}

/// The published identity the running service serves, written to a file.
pub(crate) fn served_trusted_list(f: &Fixture) -> PathBuf {
    let r = https_raw(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        "GET /provider/trusted-list.xml HTTP/1.1",
        b"",
    );
    assert_eq!(r.status, 200);
    let path = f.data.with_file_name("served-trusted-list.xml");
    std::fs::write(&path, &r.body).expect("write");
    path
}

/// `sealpost-verify` on an evidence against the root and `provider`: its exit code.
pub(crate) fn court(f: &Fixture, evidence: &str, provider: &Path) -> (i32, String) {
    let file = f.data.with_file_name("remote-evidence.xml");
    std::fs::write(&file, evidence).expect("write");
    let out = run(Command::new(binary("sealpost-verify"))
        .arg(&file)
        .arg("--trust")
        .arg(f.pki.join("root-ca.pem"))
        .arg("--provider")
        .arg(provider));
    (out.status.code().unwrap_or(-1), text(&out.stdout))
}

#[test]
fn remote_tsas_time_stamp_the_evidences_fail_over_and_refuse_cleanly_when_none_answers() {
    let pki = dev_pki("remote-tsa");
    remote_unit(&pki);
    let (a, b) = (
        tsa(&pki, "remote-tsa", "tsa-a"),
        tsa(&pki, "remote-tsa", "tsa-b"),
    );
    let urls = [a.addr, b.addr].map(|addr| format!("http://{addr}/tsa"));
    let f = service(&pki, &urls);

    let r = as_sender(
        &f,
        "sender-a",
        &submission_body("remote-1", CITIZEN, b"%PDF-1.7 one"),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let evidence = evidence_of(&field(&text(&r.body), "Evidence").expect("evidence"));
    // The trusted list the service publishes names the remote unit: the evidence is VALID
    // against it, and not against a list naming the embedded TSA only.
    let served = served_trusted_list(&f);
    assert!(
        std::fs::read_to_string(&served).expect("list").contains(
            &std::fs::read_to_string(pki.join("remote-tsa.pem"))
                .expect("unit")
                .lines()
                .nth(1)
                .expect("base64")
                .to_owned()
        )
    );
    let (code_ok, report) = court(&f, &evidence, &served);
    assert_eq!(code_ok, 0, "{report}");
    let (code_embedded, report) = court(&f, &evidence, &trusted_list(&pki));
    assert_ne!(code_embedded, 0, "{report}");

    // One TSA gone: the other one answers.
    drop(a);
    let r = as_sender(
        &f,
        "sender-a",
        &submission_body("remote-2", CITIZEN, b"%PDF-1.7 two"),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let evidence = evidence_of(&field(&text(&r.body), "Evidence").expect("evidence"));
    assert_eq!(court(&f, &evidence, &served).0, 0);

    // Both gone: refused, nothing registered, and the node says it is not ready.
    drop(b);
    let r = as_sender(
        &f,
        "sender-a",
        &submission_body("remote-3", CITIZEN, b"%PDF-1.7 three"),
    );
    assert_eq!(code(&r), "SEALPOST-SRV-001", "{}", text(&r.body));
    assert_eq!(field(&text(&r.body), "MessageId"), None);
    let ready = https_raw(
        f.server.addr,
        &pki.join("root-ca.pem"),
        "GET /readyz HTTP/1.1",
        b"",
    );
    assert_eq!(ready.status, 503);
    assert!(text(&ready.body).contains("tsa:"), "{}", text(&ready.body));
    drop(f);

    // A TSA whose tokens are signed by a unit the trusted list does not name (the embedded
    // TSA's, under the same root) is not believed: refused, not sealed with its token.
    let other = tsa(&pki, "tsa", "tsa-other");
    let f = service(&pki, &[format!("http://{}/tsa", other.addr)]);
    let r = as_sender(
        &f,
        "sender-a",
        &submission_body("remote-4", CITIZEN, b"%PDF-1.7 four"),
    );
    assert_eq!(code(&r), "SEALPOST-SRV-001", "{}", text(&r.body));
}

/// `tests/interop/tsa/openssl_tsa.py`: `openssl ts -reply` behind a small HTTP server, with
/// the remote unit of `pki`.
fn openssl_tsa(pki: &Path) -> Server {
    require_tool("openssl", &["version"]);
    let mut cmd = Command::new("python3");
    cmd.arg(workspace_root().join("tests/interop/tsa/openssl_tsa.py"))
        .arg("--cert")
        .arg(pki.join("remote-tsa.pem"))
        .arg("--key")
        .arg(pki.join("remote-tsa.key"))
        .arg("--chain")
        .arg(pki.join("issuing-ca.pem"))
        .arg("--dir")
        .arg(pki.with_file_name("openssl-tsa"));
    Server::start(cmd)
}

#[test]
fn an_openssl_ts_reply_tsa_time_stamps_the_evidences_as_a_second_remote_tsa() {
    let pki = dev_pki("openssl-tsa");
    remote_unit(&pki);
    let first = tsa(&pki, "remote-tsa", "tsa-first");
    let openssl = openssl_tsa(&pki);
    let urls = [
        format!("http://{}/tsa", first.addr),
        format!("http://{}/", openssl.addr),
    ];
    let f = service(&pki, &urls);
    // The first one gone, openssl's tokens seal the evidence, and a court accepts them.
    drop(first);
    let r = as_sender(
        &f,
        "sender-a",
        &submission_body("openssl-1", CITIZEN, b"%PDF-1.7 ossl"),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let evidence = evidence_of(&field(&text(&r.body), "Evidence").expect("evidence"));
    let (code, report) = court(&f, &evidence, &served_trusted_list(&f));
    assert_eq!(code, 0, "{report}");
    // openssl issued them: its serial number moved on.
    let serial = std::fs::read_to_string(pki.with_file_name("openssl-tsa").join("serial"))
        .expect("openssl's serial");
    assert_ne!(serial.trim(), "01", "openssl issued no token");
}

/// The fixture's service on `pki`, its seals counter-stamped by the TSA at `url` (tokens
/// signed by the remote unit), with `more` settings.
fn counter_stamped_service(pki: &Path, url: &str) -> (Fixture, Vec<(&'static str, String)>) {
    let settings = vec![
        ("SEALPOST_TSA_COUNTER_STAMP", url.to_owned()),
        (
            "SEALPOST_TSA_COUNTER_STAMP_UNITS",
            pki.join("remote-tsa.pem")
                .to_str()
                .expect("path")
                .to_owned(),
        ),
        ("SEALPOST_TSA_REMOTE_TIMEOUT_MS", "2000".to_owned()),
    ];
    let borrowed: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (fixture_on(pki.to_owned(), &borrowed), settings)
}

#[test]
fn a_second_tsa_counter_stamps_the_seals_of_evidences_and_of_the_audit_head() {
    let pki = dev_pki("counter-stamp");
    remote_unit(&pki);
    let second = tsa(&pki, "remote-tsa", "tsa-second");
    let (f, settings) = counter_stamped_service(&pki, &format!("http://{}/tsa", second.addr));

    let r = as_sender(
        &f,
        "sender-a",
        &submission_body("counter-1", CITIZEN, b"%PDF-1.7 one"),
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let evidence = evidence_of(&field(&text(&r.body), "Evidence").expect("evidence"));
    assert_eq!(evidence.matches("<xades:SignatureTimeStamp>").count(), 2);
    // The served trusted list names both units: the court finds it VALID, counter-stamped.
    let served = served_trusted_list(&f);
    let (code_ok, report) = court(&f, &evidence, &served);
    assert_eq!(code_ok, 0, "{report}");
    assert!(report.contains("counter-stamped at"), "{report}");
    // A list naming the embedded unit only: the counter-stamp is not the provider's.
    assert_eq!(court(&f, &evidence, &trusted_list(&pki)).0, 1);

    // The audit head, sealed every second, is counter-stamped too: the export is of the
    // counter-stamped format, and the court verifies it.
    std::thread::sleep(Duration::from_millis(2500));
    let Fixture { pki, data, server } = f;
    drop(server);
    let export = data.with_file_name("counter-stamped-export.jsonl");
    let mut admin = super::sealpost(&pki, &data);
    admin.envs(settings.iter().map(|(k, v)| (*k, v.as_str())));
    sealpost_interop::admin(
        admin,
        &["audit", "export", "--out", export.to_str().expect("path")],
    );
    let lines = std::fs::read_to_string(&export).expect("export");
    assert!(
        lines.starts_with("{\"format\":\"sealpost-audit-export-2\","),
        "{lines}"
    );
    assert!(lines.contains("\"counter_token_base64\""), "{lines}");
    let out = run(Command::new(binary("sealpost-verify"))
        .arg("--audit-export")
        .arg(&export)
        .arg("--trust")
        .arg(pki.join("root-ca.pem"))
        .arg("--provider")
        .arg(&served));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // The second TSA gone: letters are refused, nothing registered.
    drop(second);
    let borrowed: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let f = fixture_on(pki.clone(), &borrowed);
    let r = as_sender(
        &f,
        "sender-a",
        &submission_body("counter-2", CITIZEN, b"%PDF-1.7 two"),
    );
    assert_eq!(code(&r), "SEALPOST-SRV-001", "{}", text(&r.body));
    assert_eq!(field(&text(&r.body), "MessageId"), None);
}

#[test]
fn killing_one_remote_tsa_under_load_fails_over_without_a_lost_or_refused_letter() {
    let pki = dev_pki("remote-tsa-load");
    remote_unit(&pki);
    let a = tsa(&pki, "remote-tsa", "tsa-load-a");
    let b = tsa(&pki, "remote-tsa", "tsa-load-b");
    let urls = [a.addr, b.addr].map(|addr| format!("http://{addr}/tsa"));
    let f = service(&pki, &urls);
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let mut a = Some(a);
    let answers: Vec<(String, u16, String)> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let (f, sent) = (&f, &sent);
                scope.spawn(move || {
                    (0..8)
                        .map(|n| {
                            let key = format!("load-{t}-{n}");
                            let r = as_sender(
                                f,
                                "sender-a",
                                &submission_body(&key, CITIZEN, key.as_bytes()),
                            );
                            sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            (key, r.status, text(&r.body))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // The first TSA killed while letters are on their way.
        while sent.load(std::sync::atomic::Ordering::SeqCst) < 6 {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(a.take());
        senders
            .into_iter()
            .flat_map(|s| s.join().expect("sender"))
            .collect()
    });
    assert_eq!(answers.len(), 32);
    for (key, status, body) in &answers {
        assert_eq!(*status, 200, "{key}: {body}");
        assert!(field(body, "MessageId").is_some(), "{key}: {body}");
    }
    // Every letter acknowledged is registered once, with a proof the court accepts.
    let served = served_trusted_list(&f);
    let (_, _, last) = answers.last().expect("an answer");
    let evidence = evidence_of(&field(last, "Evidence").expect("evidence"));
    assert_eq!(court(&f, &evidence, &served).0, 0);
    drop(b);
}

//! Replay, end to end, against the real `sealpost serve`: a signed request is accepted once,
//! whatever its signature value and across restarts, on both channels and both stores; and
//! `POST /tsa` on the service port is no public time-stamp oracle.

use std::time::UNIX_EPOCH;

use sealpost_interop::{
    CITIZEN, HttpResponse, NS_SOAP11, NS_SOAP12, Setting, SoapService, audit_log, dev_signer,
    dev_tls_identity, drop_postgres_database, fault_code, grpc_client, https_raw_as, letters,
    postgres_database, signed_soap, submission_body, system_now, text, with_high_s, xml_text,
};

/// `body` signed now by the development sender `sender`.
fn signed(f: &SoapService, ns: &str, sender: &str, body: &str) -> String {
    signed_soap(ns, body, &dev_signer(&f.pki, sender), system_now())
}

fn accepted(r: &HttpResponse) -> String {
    assert_eq!(r.status, 200, "{}", text(&r.body));
    xml_text(&text(&r.body), "MessageId").expect("a message id")
}

/// Refused as expired or replayed (wsu:MessageExpired), with no sealed rejection.
fn refused_as_replayed(r: &HttpResponse) {
    let body = text(&r.body);
    assert_eq!(
        fault_code(r).as_deref(),
        Some("SEALPOST-AUTH-003"),
        "{body}"
    );
    assert!(body.contains("wsu:MessageExpired"), "{body}");
    assert!(xml_text(&body, "Evidence").is_none(), "{body}");
}

/// The replays the audit log records: refused, AUTH-003, said to be replayed.
fn audited_replays(audit: &[serde_json::Value]) -> usize {
    audit
        .iter()
        .filter(|e| {
            e["code"] == "SEALPOST-AUTH-003"
                && e["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("replayed"))
        })
        .count()
}

/// Stops the service and reads its audit log (the embedded store is locked while it runs).
fn stopped_audit(f: SoapService) -> Vec<serde_json::Value> {
    let SoapService { pki, data, server } = f;
    drop(server);
    audit_log(&pki, &data, &[])
}

#[test]
fn the_same_signed_soap_request_sent_twice_is_refused_and_makes_one_letter() {
    let f = SoapService::start("replay-twice", CITIZEN);
    let envelope = signed(
        &f,
        NS_SOAP11,
        "sender-a",
        &submission_body("twice-1", CITIZEN, b"%PDF-1.7 twice"),
    );
    let message_id = accepted(&f.post(&envelope));
    refused_as_replayed(&f.post(&envelope));
    // A signed read is accepted once too.
    let get = signed(
        &f,
        NS_SOAP11,
        "sender-a",
        &format!(
            "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
        ),
    );
    assert_eq!(f.post(&get).status, 200);
    refused_as_replayed(&f.post(&get));
    let audit = stopped_audit(f);
    assert_eq!(letters(&audit).len(), 1);
    assert_eq!(audited_replays(&audit), 2);
}

#[test]
fn an_ecdsa_signature_rewritten_to_high_s_is_refused_as_a_replay_and_makes_one_letter() {
    let f = SoapService::start("replay-high-s", CITIZEN);
    let envelope = signed(
        &f,
        NS_SOAP11,
        "sender-a",
        &submission_body("high-s-1", CITIZEN, b"%PDF-1.7 high-s"),
    );
    accepted(&f.post(&envelope));
    let rewritten = with_high_s(&envelope);
    assert_ne!(rewritten, envelope);
    refused_as_replayed(&f.post(&rewritten));
    // The rewrite is a valid signature: sent first, it is the request accepted, and the
    // original becomes the replay.
    let other = signed(
        &f,
        NS_SOAP12,
        "sender-a",
        &submission_body("high-s-2", CITIZEN, b"%PDF-1.7 high-s, first"),
    );
    accepted(&f.post(&with_high_s(&other)));
    refused_as_replayed(&f.post(&other));
    let audit = stopped_audit(f);
    assert_eq!(letters(&audit).len(), 2);
    assert_eq!(audited_replays(&audit), 2);
}

/// A letter from each development sender (ECDSA and RSA), accepted; replayed after a restart
/// (with `settings` for every start): refused, and still one letter each.
fn replayed_after_a_restart(f: SoapService, settings: &[Setting<'_>]) -> SoapService {
    let ec = signed(
        &f,
        NS_SOAP11,
        "sender-a",
        &submission_body("restart-ec", CITIZEN, b"%PDF-1.7 EC"),
    );
    let rsa = signed(
        &f,
        NS_SOAP12,
        "sender-b",
        &submission_body("restart-rsa", CITIZEN, b"%PDF-1.7 RSA"),
    );
    accepted(&f.post(&ec));
    accepted(&f.post(&rsa));
    let f = f.restart(settings);
    refused_as_replayed(&f.post(&ec));
    refused_as_replayed(&f.post(&rsa));
    refused_as_replayed(&f.post(&with_high_s(&ec)));
    f
}

#[test]
fn a_request_replayed_after_a_restart_is_refused_and_makes_one_letter() {
    let f = SoapService::start_with("replay-restart", CITIZEN, &["sender-a", "sender-b"], &[]);
    let f = replayed_after_a_restart(f, &[]);
    let audit = stopped_audit(f);
    assert_eq!(letters(&audit).len(), 2);
    assert_eq!(audited_replays(&audit), 3);
}

#[test]
fn a_request_replayed_after_a_restart_on_postgresql_is_refused_and_makes_one_letter() {
    let url = postgres_database("replay");
    let settings = [
        ("SEALPOST_STORE_BACKEND", "postgres"),
        ("SEALPOST_STORE_POSTGRES_URL", url.as_str()),
    ];
    let f = SoapService::start_with(
        "replay-restart-pg",
        CITIZEN,
        &["sender-a", "sender-b"],
        &settings,
    );
    let f = replayed_after_a_restart(f, &settings);
    // Administered while it runs.
    let audit = audit_log(&f.pki, &f.data, &settings);
    assert_eq!(letters(&audit).len(), 2);
    assert_eq!(audited_replays(&audit), 3);
    drop(f);
    drop_postgres_database(&url);
}

#[test]
fn a_grpc_manifest_presented_again_is_refused_even_under_a_fresh_signature_and_after_a_restart() {
    let f = SoapService::start("replay-grpc", CITIZEN);
    let dir = f.data.with_file_name("grpc");
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, "%PDF-1.7 gRPC letter").expect("write");
    let evidence = dir.join("evidence.xml");
    let signed_at = system_now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    // The same manifest each time (same fields, same signed_at); the client signs it anew
    // with ECDSA each time, a random k making another signature value: the malleability a
    // high-S rewrite exploits, in general.
    let submit = |f: &SoapService| {
        let (cert, key) = dev_tls_identity(&f.pki, "sender-a");
        grpc_client(
            f.server.addr,
            &f.pki.join("root-ca.pem"),
            Some((&cert, &key)),
            &[
                "submit",
                "--recipient",
                CITIZEN,
                "--type",
                "tax-assessment",
                "--subject",
                "Avis d'imposition",
                "--reference",
                "REF-GRPC",
                "--key-idempotency",
                "grpc-replay-1",
                "--document",
                document.to_str().expect("path"),
                "--out",
                evidence.to_str().expect("path"),
                "--signed-at",
                &signed_at,
            ],
        )
    };
    let refused = |(exit, json): (i32, serde_json::Value)| {
        assert_eq!(
            (exit, json["status"].as_str(), json["code"].as_str()),
            (3, Some("UNAUTHENTICATED"), Some("SEALPOST-AUTH-003")),
            "{json}"
        );
    };
    let (exit, json) = submit(&f);
    assert_eq!(exit, 0, "{json}");
    refused(submit(&f));
    let f = f.restart(&[]);
    refused(submit(&f));
    let audit = stopped_audit(f);
    assert_eq!(letters(&audit).len(), 1);
    assert_eq!(audited_replays(&audit), 2);
}

/// Three queries at once, then one a minute.
const TSA_ON: [Setting<'static>; 3] = [
    ("SEALPOST_TSA_ENDPOINT", "senders"),
    ("SEALPOST_TSA_ENDPOINT_BURST", "3"),
    ("SEALPOST_TSA_ENDPOINT_RATE_PER_MINUTE", "1"),
];

/// A time-stamp query for `data` (SHA-256, with a nonce, the certificate asked for), DER.
fn query(data: &[u8]) -> Vec<u8> {
    sealpost_tsa::RequestSpec::new(
        sealpost_tsa::HashAlgorithm::Sha256,
        sealpost_tsa::HashAlgorithm::Sha256.digest(data),
    )
    .to_der()
    .expect("query")
}

/// POSTs `body` to `/tsa` over HTTPS, presenting the development `sender`'s certificate when
/// given.
fn post_tsa(f: &SoapService, sender: Option<&str>, body: &[u8]) -> HttpResponse {
    let identity = sender.map(|s| {
        (
            f.pki.join(format!("{s}-chain.pem")),
            f.pki.join(format!("{s}.key")),
        )
    });
    https_raw_as(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        identity.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
        &format!(
            "POST /tsa HTTP/1.1\r\nContent-Type: application/timestamp-query\r\nContent-Length: {}",
            body.len()
        ),
        body,
    )
}

#[test]
fn the_time_stamp_endpoint_of_the_service_port_is_off_by_default() {
    let f = SoapService::start("tsa-off", CITIZEN);
    for sender in [None, Some("sender-a")] {
        let r = post_tsa(&f, sender, &query(b"a letter"));
        assert_eq!(r.status, 404, "{}", text(&r.body));
        assert_ne!(
            r.header("content-type"),
            Some("application/timestamp-reply")
        );
    }
}

#[test]
fn the_time_stamp_endpoint_grants_registered_senders_within_their_rate_and_audits_each_token() {
    let f = SoapService::start_with("tsa-senders", CITIZEN, &["sender-a"], &TSA_ON);
    let code = |r: &HttpResponse| r.header("sealpost-code").map(str::to_owned);
    // No client certificate; a trusted one registered to no sender.
    let anonymous = post_tsa(&f, None, &query(b"a letter"));
    assert_eq!(
        (anonymous.status, code(&anonymous).as_deref()),
        (401, Some("SEALPOST-AUTH-001"))
    );
    let unregistered = post_tsa(&f, Some("sender-b"), &query(b"a letter"));
    assert_eq!(
        (unregistered.status, code(&unregistered).as_deref()),
        (401, Some("SEALPOST-AUTH-002"))
    );
    // A registered sender: what is not a time-stamp query is refused (and counts)...
    let (chain, key) = dev_tls_identity(&f.pki, "sender-a");
    let r = https_raw_as(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        Some((&chain, &key)),
        "POST /tsa HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5",
        b"hello",
    );
    assert_eq!(
        (r.status, code(&r).as_deref()),
        (400, Some("SEALPOST-REQ-001")),
        "{}",
        text(&r.body)
    );
    // ... then tokens that verify, up to its burst, and no more.
    let trust = sealpost_tsa::TrustStore::new([sealpost_tsa::signer::read_pem_certificates(
        &f.pki.join("root-ca.pem"),
    )
    .expect("root")
    .remove(0)])
    .with_certificates(
        sealpost_tsa::signer::read_pem_certificates(&f.pki.join("tsa-chain.pem")).expect("chain"),
    );
    for n in 0..2 {
        let q = query(format!("letter {n}").as_bytes());
        let r = post_tsa(&f, Some("sender-a"), &q);
        assert_eq!(r.status, 200, "{}", text(&r.body));
        assert_eq!(
            r.header("content-type"),
            Some("application/timestamp-reply")
        );
        sealpost_tsa::verify_response(&r.body, &q, &trust).expect("a token that verifies");
    }
    let over = post_tsa(&f, Some("sender-a"), &query(b"one too many"));
    assert_eq!(
        (over.status, code(&over).as_deref()),
        (429, Some("SEALPOST-REQ-006"))
    );

    let audit = stopped_audit(f);
    let stamps: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|e| e["operation"] == "TimeStamp")
        .collect();
    assert_eq!(stamps.len(), 6, "one entry per query: {stamps:?}");
    let granted: Vec<&&serde_json::Value> = stamps
        .iter()
        .filter(|e| e["outcome"] == "accepted")
        .collect();
    assert_eq!(granted.len(), 2);
    for e in &granted {
        assert_eq!(e["channel"], "tsa");
        assert!(
            e["identity"]
                .as_str()
                .is_some_and(|i| i.starts_with("agency-a")),
            "{e}"
        );
        assert!(
            e["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("granted token serial")),
            "{e}"
        );
    }
    let codes: Vec<&str> = stamps.iter().filter_map(|e| e["code"].as_str()).collect();
    for expected in [
        "SEALPOST-AUTH-001",
        "SEALPOST-AUTH-002",
        "SEALPOST-REQ-001",
        "SEALPOST-REQ-006",
    ] {
        assert!(codes.contains(&expected), "{expected}: {codes:?}");
    }
}

//! The gRPC channel: sealpost.v1.RegisteredMail with mutual TLS and a signed manifest, driven
//! by a real grpcio client (tests/interop/grpc).

use std::path::Path;
use std::time::Duration;

use sealpost_interop::{CITIZEN, dev_tls_identity, require_tool, system_now};
use sealpost_pki::{KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};

use super::{Fixture, court_verifies, fixture, xmlsec1_accepts};

/// Runs the grpcio client against the fixture's server with `credentials` (certificate chain,
/// key), or none; its exit code and JSON line.
pub(crate) fn grpc_client(
    f: &Fixture,
    credentials: Option<(&Path, &Path)>,
    args: &[&str],
) -> (i32, serde_json::Value) {
    sealpost_interop::grpc_client(f.server.addr, &f.pki.join("root-ca.pem"), credentials, args)
}

pub(crate) fn grpc_submit(
    f: &Fixture,
    sender: &str,
    key: &str,
    document: &Path,
    evidence: &Path,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let (cert, tls_key) = dev_tls_identity(&f.pki, sender);
    let mut args = vec![
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
        key,
        "--document",
        document.to_str().expect("path"),
        "--out",
        evidence.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    grpc_client(f, Some((&cert, &tls_key)), &args)
}

#[test]
fn a_grpcio_client_sends_a_letter_with_a_signed_manifest() {
    require_tool("xmlsec1", &["--version"]);
    let f = fixture();
    let dir = f.data.with_file_name("grpc");
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, "%PDF-1.7 gRPC letter").expect("write");
    for (sender, other) in [("sender-a", "sender-b"), ("sender-b", "sender-a")] {
        let evidence = dir.join(format!("evidence-{sender}.xml"));
        let (exit, json) = grpc_submit(
            &f,
            sender,
            &format!("grpc-{sender}"),
            &document,
            &evidence,
            &[],
        );
        assert_eq!(exit, 0, "{json}");
        let message_id = json["message_id"].as_str().expect("message id").to_owned();
        let sealed = std::fs::read_to_string(&evidence).expect("evidence");
        assert!(sealed.contains("Event/SubmissionAcceptance"), "{sealed}");
        let (exit, report) =
            court_verifies(&f, &sealed, Some(&std::fs::read(&document).expect("doc")));
        assert_eq!(exit, 0, "{report}");
        xmlsec1_accepts(&f, &evidence);

        let out_dir = dir.join(format!("evidences-{sender}"));
        let get = [
            "get-evidence",
            "--message-id",
            &message_id,
            "--out-dir",
            out_dir.to_str().expect("path"),
        ];
        let (cert, key) = dev_tls_identity(&f.pki, sender);
        let (exit, json) = grpc_client(&f, Some((&cert, &key)), &get);
        assert_eq!(exit, 0, "{json}");
        assert_eq!(json["evidences"].as_array().map(Vec::len), Some(2));
        let (cert, key) = dev_tls_identity(&f.pki, other);
        let (exit, json) = grpc_client(&f, Some((&cert, &key)), &get);
        assert_eq!(
            (exit, json["status"].as_str(), json["code"].as_str()),
            (3, Some("NOT_FOUND"), Some("SEALPOST-REQ-003")),
            "{json}"
        );
        let (cert, key) = dev_tls_identity(&f.pki, sender);
        let (exit, json) = grpc_client(
            &f,
            Some((&cert, &key)),
            &["status", "--message-id", &message_id],
        );
        assert_eq!(
            (exit, json["status"].as_str(), json["evidences"].as_u64()),
            (0, Some("Delivered"), Some(2)),
            "{json}"
        );
    }
}

#[test]
fn grpc_callers_without_a_trusted_certificate_or_a_valid_manifest_are_refused() {
    let f = fixture();
    let dir = f.data.with_file_name("grpc-refused");
    std::fs::create_dir_all(&dir).expect("dir");
    let document = dir.join("avis.pdf");
    std::fs::write(&document, "%PDF-1.7 gRPC letter").expect("write");
    let evidence = dir.join("evidence.xml");
    let refused = |(exit, json): (i32, serde_json::Value), status: &str, code: &str| {
        assert_eq!(
            (exit, json["status"].as_str(), json["code"].as_str()),
            (3, Some(status), Some(code)),
            "{json}"
        );
        assert!(
            json["correlation_id"]
                .as_str()
                .is_some_and(|c| c.starts_with("urn:uuid:")),
            "{json}"
        );
    };
    // No client certificate.
    refused(
        grpc_client(&f, None, &["status", "--message-id", "urn:uuid:x"]),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-001",
    );
    // A manifest signed with another key than the connection's, or changed after signing.
    let other_key = f.pki.join("sender-b.key");
    refused(
        grpc_submit(
            &f,
            "sender-a",
            "g-1",
            &document,
            &evidence,
            &["--sign-with", other_key.to_str().expect("path")],
        ),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-001",
    );
    refused(
        grpc_submit(&f, "sender-a", "g-2", &document, &evidence, &["--tamper"]),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-001",
    );
    // A self-signed client certificate, never trusted.
    let rogue = rogue_self_signed(&LeafSpec::new(
        "Rogue Agency",
        Profile::Sender,
        KeyAlgorithm::EcdsaP256,
        system_now() - Duration::from_secs(60),
        Duration::from_secs(86_400),
    ))
    .expect("rogue");
    let (rogue_cert, rogue_key) = (dir.join("rogue.pem"), dir.join("rogue.key"));
    std::fs::write(&rogue_cert, rogue.cert_pem()).expect("write");
    std::fs::write(&rogue_key, rogue.key_pem()).expect("write");
    refused(
        grpc_client(
            &f,
            Some((&rogue_cert, &rogue_key)),
            &["status", "--message-id", "urn:uuid:x"],
        ),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-002",
    );
    // Signed two hours ago; and the same signed manifest twice.
    let old = (system_now() - Duration::from_secs(7200))
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    refused(
        grpc_submit(
            &f,
            "sender-a",
            "g-3",
            &document,
            &evidence,
            &["--signed-at", &old],
        ),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-003",
    );
    let now = system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    let once = ["--signed-at", now.as_str()];
    assert_eq!(
        grpc_submit(&f, "sender-a", "g-4", &document, &evidence, &once).0,
        0
    );
    refused(
        grpc_submit(&f, "sender-a", "g-4", &document, &evidence, &once),
        "UNAUTHENTICATED",
        "SEALPOST-AUTH-003",
    );

    // After authentication: a wrong declared digest is rejected with a sealed
    // SubmissionRejection, served by GetEvidence under the message id of the trailers.
    let (exit, json) = grpc_submit(
        &f,
        "sender-a",
        "g-5",
        &document,
        &evidence,
        &["--declared-sha256", &"00".repeat(32)],
    );
    refused((exit, json.clone()), "INVALID_ARGUMENT", "SEALPOST-REQ-001");
    let message_id = json["message_id"].as_str().expect("message id trailer");
    let out_dir = dir.join("rejection");
    let (cert, key) = dev_tls_identity(&f.pki, "sender-a");
    let (exit, json) = grpc_client(
        &f,
        Some((&cert, &key)),
        &[
            "get-evidence",
            "--message-id",
            message_id,
            "--out-dir",
            out_dir.to_str().expect("path"),
        ],
    );
    assert_eq!(exit, 0, "{json}");
    let rejection = std::fs::read_to_string(out_dir.join("evidence-1.xml")).expect("evidence");
    assert!(
        rejection.contains("Event/SubmissionRejection"),
        "{rejection}"
    );
    assert!(rejection.contains("SEALPOST-REQ-001"), "{rejection}");
    assert_eq!(court_verifies(&f, &rejection, None).0, 0);
}

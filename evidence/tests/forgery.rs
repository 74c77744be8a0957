//! Forgery, as an attacker would try it: every holder of a certificate under the root a court
//! trusts (a sender agency, the TLS server, the time-stamping unit, the issuing CA) writes an
//! evidence of its own, seals it with its key and takes genuine time-stamps (what the public
//! `POST /tsa` once gave anyone). Each is INVALID because the seal is not the provider's; an
//! evidence whose times disagree with its time-stamps is INVALID even under the genuine seal.

mod common;

use std::time::Duration;

use common::{Fixture, LETTER, assert_invalid_at, first_failure, fixture, step, tsa_at};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use sealpost_evidence::model::{Event, Evidence};
use sealpost_evidence::provider::{Provider, check_seal_profile, fingerprint};
use sealpost_evidence::seal::Sealer;
use sealpost_evidence::verify::{Outcome, Policy, Verdict, verify_evidence};
use sealpost_pki::{Credential, KeyAlgorithm, LeafSpec, Profile};

const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// A SubmissionAcceptance for a letter never sent, in agency A's name.
fn letter_never_sent(f: &Fixture) -> Evidence {
    let mut evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    evidence.sender.registry_id = "agency-a".into();
    evidence.sender.subject = "CN=Sender A (development),O=Development Agency A,C=BE".into();
    evidence
}

/// "Jan Peeters opened it".
fn handover_never_made(f: &Fixture) -> Evidence {
    let mut evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    evidence.event = Event::ContentHandover;
    evidence.recipient.delegate = Some("Jan Peeters".into());
    evidence
}

/// A certificate the issuing CA makes for whoever holds its key (a forger with the CA key, or
/// the CA fooled): valid five years from the fixture's time.
fn issued(f: &Fixture, name: &str, profile: Profile) -> Credential {
    f.pki
        .issuing
        .issue(&LeafSpec::new(
            name,
            profile,
            KeyAlgorithm::EcdsaP256,
            f.now,
            5 * YEAR,
        ))
        .expect("certificate")
}

/// A forger's sealer with a credential of the development PKI, its chain the issuing CA.
fn forger(f: &Fixture, credential: &Credential) -> Sealer {
    Fixture::sealer(
        &credential.key_pkcs8_der(),
        vec![
            credential.cert_der().to_vec(),
            f.pki.issuing.cert_der().to_vec(),
        ],
    )
}

fn pkcs8_of_pem(pem: &str) -> Vec<u8> {
    match PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("key") {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        _ => panic!("not PKCS#8"),
    }
}

/// The forger's seal: everything but step 4 passes, which is what made the attack work.
fn assert_refused_as_not_the_providers_seal(f: &Fixture, forger: &Sealer, evidence: &Evidence) {
    let xml = forger.seal(evidence, &f.tsa, f.now).expect("seal");
    let report = f.verify(&xml, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    assert!(
        matches!(step(&report, 4), Outcome::Failed(d) if d.contains("not a seal certificate of Sealpost") || d.contains("none of the seal's certificates")),
        "{report:#?}"
    );
    assert!(report.proves_en.is_none());
    // The report names who really sealed, whenever the seal's certificate was established
    // (a CA certificate used as a seal is refused before that).
    match &report.sealed_by {
        Some(by) => {
            assert_eq!(by.sha256, fingerprint(&forger.certificates()[0]));
            assert_ne!(by.sha256, fingerprint(f.pki.seal.cert_der()));
        }
        None => assert!(
            !matches!(step(&report, 3), Outcome::Passed(_)),
            "a seal whose certificate chained must name its sealer: {report:#?}"
        ),
    }
}

#[test]
fn a_letter_never_sent_sealed_with_a_sender_agency_key_is_invalid() {
    let f = fixture();
    let (_, sender_b) = &f.pki.senders[1];
    let forger = forger(&f, sender_b);
    // Agency B posing as agency A; the chain, the seal and the time-stamps all verify.
    let xml = forger
        .seal(&letter_never_sent(&f), &f.tsa, f.now)
        .expect("seal");
    let report = f.verify(&xml, None);
    for n in [1, 2, 3, 5, 6, 7, 8] {
        assert!(
            matches!(step(&report, n), Outcome::Passed(_)),
            "step {n}: {report:#?}"
        );
    }
    assert_refused_as_not_the_providers_seal(&f, &forger, &letter_never_sent(&f));
    assert_refused_as_not_the_providers_seal(&f, &forger, &handover_never_made(&f));
}

#[test]
fn an_evidence_sealed_with_the_tls_server_key_is_invalid() {
    let f = fixture();
    let forger = forger(&f, &f.pki.tls);
    assert_refused_as_not_the_providers_seal(&f, &forger, &handover_never_made(&f));
}

#[test]
fn an_evidence_sealed_with_the_time_stamping_key_is_invalid() {
    let f = fixture();
    let forger = forger(&f, &f.pki.tsa);
    assert_refused_as_not_the_providers_seal(&f, &forger, &letter_never_sent(&f));
}

#[test]
fn an_evidence_sealed_with_the_issuing_ca_key_is_invalid() {
    let f = fixture();
    let forger = Fixture::sealer(
        &pkcs8_of_pem(&f.pki.issuing.key_pem()),
        vec![f.pki.issuing.cert_der().to_vec()],
    );
    assert_refused_as_not_the_providers_seal(&f, &forger, &letter_never_sent(&f));
}

#[test]
fn a_look_alike_seal_certificate_from_the_issuing_ca_is_not_the_providers() {
    let f = fixture();
    // Same name, same profile, same CA: only the published certificate is Sealpost's seal.
    let look_alike = issued(&f, "Sealpost Development Evidence Seal", Profile::Seal);
    assert_eq!(check_seal_profile(look_alike.cert_der()), Ok(()));
    let forger = forger(&f, &look_alike);
    assert_refused_as_not_the_providers_seal(&f, &forger, &letter_never_sent(&f));
}

#[test]
fn a_seal_time_stamped_by_an_unpublished_time_stamping_unit_is_invalid() {
    let f = fixture();
    // Another time-stamping certificate under the same CA (the TSA chain verifies).
    let other = issued(
        &f,
        "Another Time-Stamping Unit",
        Profile::TimeStamping { eku_critical: true },
    );
    let signer = sealpost_tsa::EcdsaP256Signer::new(
        &other.key_pkcs8_der(),
        other.cert_der(),
        &[f.pki.issuing.cert_der().to_vec()],
    )
    .expect("signer");
    let other_tsa = common::tsa_with(std::sync::Arc::new(signer), f.now);
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &other_tsa)]);
    let xml = f.seal.seal(&evidence, &other_tsa, f.now).expect("seal");
    let report = f.verify(&xml, None);
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    for n in [6, 7] {
        assert!(
            matches!(step(&report, n), Outcome::Failed(d) if d.contains("not a time-stamping unit of Sealpost")),
            "step {n}: {report:#?}"
        );
    }
}

#[test]
fn an_event_backdated_a_month_before_its_time_stamps_is_invalid() {
    let f = fixture();
    let mut evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    evidence.event_time = f.now - Duration::from_secs(30 * 86_400);
    evidence.submission_time = evidence.event_time;
    let xml = f.sealed(&evidence);
    let report = f.verify(&xml, None);
    assert_invalid_at(&report, 8);
}

#[test]
fn an_event_after_its_signature_time_stamp_is_invalid() {
    let f = fixture();
    let mut evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    evidence.event_time = f.now + Duration::from_secs(3600);
    let report = f.verify(&f.sealed(&evidence), None);
    assert_invalid_at(&report, 8);
}

#[test]
fn a_signing_time_far_from_the_signature_time_stamp_is_invalid() {
    let f = fixture();
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    let xml = f
        .seal
        .seal(&evidence, &f.tsa, f.now - Duration::from_secs(1800))
        .expect("seal");
    let report = f.verify(&xml, None);
    assert_invalid_at(&report, 8);
}

#[test]
fn a_document_time_stamp_not_at_the_submission_time_is_invalid() {
    let f = fixture();
    // Ten minutes before the submission (the TSA certificate is valid from an hour before).
    let earlier = tsa_at(&f.pki, f.now - Duration::from_secs(600));
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &earlier)]);
    let report = f.verify(&f.sealed(&evidence), None);
    assert_invalid_at(&report, 8);
}

#[test]
fn a_handover_days_after_submission_with_the_submission_tokens_is_valid() {
    let f = fixture();
    // The letter was submitted two days ago; its documents were time-stamped then.
    let submitted = f.now - Duration::from_secs(2 * 86_400);
    let pki_then = sealpost_pki::DevPki::generate(submitted).expect("pki");
    let f_then = common::fixture_with(pki_then, submitted);
    let document = f_then.document(LETTER, LETTER, &f_then.tsa);
    let mut evidence = f_then.evidence(vec![document]);
    evidence.event = Event::ContentHandover;
    evidence.recipient.delegate = Some("Jan Peeters".into());
    evidence.event_time = f.now;
    // Opened now, sealed and time-stamped now.
    let now_tsa = tsa_at(&f_then.pki, f.now);
    let xml = f_then.seal.seal(&evidence, &now_tsa, f.now).expect("seal");
    let report = verify_evidence(xml.as_bytes(), &f_then.policy(), Some(LETTER), f.now);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
}

#[test]
fn a_comment_slipped_into_a_sealed_value_makes_it_invalid() {
    let f = fixture();
    let xml = f.genuine();
    for (from, to) in [
        ("<ev:Subject>Avis", "<ev:Subject>Avis<!---->"),
        ("<ev:SenderReference>TAX", "<ev:SenderReference>TAX<?x y?>"),
        ("<ev:Id>nrn:", "<ev:Id><!---->nrn:"),
    ] {
        let altered = xml.replacen(from, to, 1);
        assert_ne!(altered, xml, "{from}");
        let report = f.verify(&altered, None);
        assert_eq!(
            (report.verdict, first_failure(&report)),
            (Verdict::Invalid, 1),
            "{from}: {report:#?}"
        );
    }
}

#[test]
fn without_the_providers_identity_no_evidence_is_valid() {
    let f = fixture();
    let xml = f.genuine();
    let policy = Policy {
        provider: None,
        ..f.policy()
    };
    let report = verify_evidence(xml.as_bytes(), &policy, None, f.now);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(matches!(step(&report, 4), Outcome::Indeterminate(_)));
    // The genuine evidence is valid under the provider's identity, and says who sealed it.
    let report = f.verify(&xml, None);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    let by = report.sealed_by.expect("sealed by");
    assert_eq!(by.sha256, fingerprint(f.pki.seal.cert_der()));
    assert!(by.subject.contains("Sealpost Development Evidence Seal"));
}

#[test]
fn the_trusted_list_reads_back_and_a_hostile_one_is_refused() {
    let f = fixture();
    let provider = f.provider();
    let list = provider.to_trusted_list();
    assert_eq!(
        Provider::from_trusted_list(list.as_bytes()).expect("list"),
        provider
    );
    // The list names each certificate's fingerprint for a reader.
    assert!(list.contains(&fingerprint(f.pki.seal.cert_der())));
    let without_tsa = list.replacen(
        "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST",
        "http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q",
        1,
    );
    assert!(Provider::from_trusted_list(without_tsa.as_bytes()).is_err());
    let commented = list.replacen("<tl:X509Certificate>", "<tl:X509Certificate><!---->", 1);
    assert!(Provider::from_trusted_list(commented.as_bytes()).is_err());
    assert!(Provider::from_trusted_list(b"<x/>").is_err());
    // A subject a comment could not hold as it is still makes a list that reads back.
    let dashes = issued(&f, "Seal --- of -- Sealpost-", Profile::Seal);
    let odd = Provider {
        seal_certificates: vec![dashes.cert_der().to_vec()],
        ..f.provider()
    };
    assert_eq!(
        Provider::from_trusted_list(odd.to_trusted_list().as_bytes()).expect("list"),
        odd
    );
}

#[test]
fn only_the_seal_certificate_has_the_seal_profile() {
    let f = fixture();
    assert_eq!(check_seal_profile(f.pki.seal.cert_der()), Ok(()));
    let no_purpose = issued(&f, "Sealpost Development Evidence Seal", Profile::NoPurpose);
    for (name, der) in [
        ("tsa", f.pki.tsa.cert_der()),
        ("tls", f.pki.tls.cert_der()),
        ("sender", f.pki.senders[0].1.cert_der()),
        ("issuing CA", f.pki.issuing.cert_der()),
        ("root", f.pki.root.cert_der()),
        ("no purpose", no_purpose.cert_der()),
    ] {
        assert!(check_seal_profile(der).is_err(), "{name}");
    }
}

#[test]
fn content_slipped_into_the_seal_where_it_is_not_signed_is_invalid() {
    let f = fixture();
    let xml = f.genuine();
    let end = "</ds:Signature>";
    for (what, inserted) in [
        (
            "a document digest in a second ds:Object",
            format!(
                "<ds:Object><ev:Sha256 xmlns:ev=\"urn:sealpost:evidence:1\">{}</ev:Sha256></ds:Object>",
                "ab".repeat(32)
            ),
        ),
        (
            "an earlier SigningTime in a second ds:Object",
            "<ds:Object><xades:SigningTime xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\">2020-01-01T00:00:00Z</xades:SigningTime></ds:Object>".to_owned(),
        ),
    ] {
        let altered = xml.replacen(end, &format!("{inserted}{end}"), 1);
        let report = f.verify(&altered, None);
        assert_eq!(
            (report.verdict, first_failure(&report)),
            (Verdict::Invalid, 2),
            "{what}: {report:#?}"
        );
    }
    // A look-alike evidence field inside KeyInfo.
    let altered = xml.replacen(
        "</ds:X509Data>",
        "</ds:X509Data><ev:EventTime xmlns:ev=\"urn:sealpost:evidence:1\">2020-01-01T00:00:00Z</ev:EventTime>",
        1,
    );
    assert_eq!(first_failure(&f.verify(&altered, None)), 2);
}

#[test]
fn a_name_that_mimics_the_statement_is_shown_for_what_it_is() {
    let f = fixture();
    let mut document = f.document(LETTER, LETTER, &f.tsa);
    document.name = format!(
        "x.pdf (SHA-256 {}) to Sealpost at 2026-01-15 09:00:00 UTC.\ninvoice\u{202e}fdp.exe",
        "aa".repeat(32)
    );
    let report = f.verify(&f.sealed(&f.evidence(vec![document])), None);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    let en = report.proves_en.expect("statement");
    assert!(!en.contains('\n') && !en.contains('\u{202e}'), "{en}");
    assert!(
        en.contains("\\u{000A}invoice\\u{202E}fdp.exe\" (SHA-256 "),
        "{en}"
    );
}

#[test]
fn only_a_rejection_names_documents_without_time_stamps() {
    let f = fixture();
    let mut document = f.document(LETTER, LETTER, &f.tsa);
    document.time_stamp_token = None;
    let mut rejection = f.evidence(vec![document.clone()]);
    rejection.event = Event::SubmissionRejection;
    rejection.reason = Some("SEALPOST-REQ-002: the recipient has no mailbox".into());
    let report = f.verify(&f.sealed(&rejection), Some(LETTER));
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    assert!(matches!(step(&report, 7), Outcome::NotApplicable(_)));
    let acceptance = f.evidence(vec![document]);
    let report = f.verify(&f.sealed(&acceptance), None);
    assert_invalid_at(&report, 7);
}

#[test]
fn an_evidence_of_another_format_version_is_indeterminate_not_forged() {
    let f = fixture();
    let xml = f.genuine();
    let older = xml.replacen(" Version=\"2\"", " Version=\"1\"", 1);
    let report = f.verify(&older, None);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(matches!(step(&report, 1), Outcome::Indeterminate(_)));
}

#[test]
fn an_evidence_naming_the_agent_is_version_3_and_cannot_pass_as_version_2() {
    let f = fixture();
    let mut evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    evidence.sender.agent = Some(sealpost_evidence::model::Agent {
        id: "85073003328".into(),
        identity_provider: "https://idp.agency-a.example".into(),
        assertion_id: "_a1".into(),
        assertion_sha256: sealpost_evidence::model::Sha256::of(b"the assertion"),
        authentication_level: Some("3".into()),
        profiles: vec!["tax-officer".into()],
    });
    let sealed = f.sealed(&evidence);
    assert!(sealed.contains("Version=\"3\""), "{sealed}");
    let report = f.verify(&sealed, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    let said = report.proves_en.clone().unwrap_or_default();
    assert!(
        said.contains("agent 85073003328, vouched for by https://idp.agency-a.example"),
        "{said}"
    );
    // Resealed as version 2 (by the provider itself): what version 2 cannot hold is refused.
    let as_v2 = evidence
        .to_xml()
        .replacen("Version=\"3\"", "Version=\"2\"", 1);
    let resealed = f.seal.seal_xml(&as_v2, &f.tsa, f.now).expect("seal");
    assert_ne!(f.verify(&resealed, Some(LETTER)).verdict, Verdict::Valid);
}

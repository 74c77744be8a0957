//! Sealing and the court's verification: a sealed evidence verifies and says what it proves;
//! every kind of tampering is refused at the step that names it.

mod common;

use std::time::Duration;

use aws_lc_rs::digest;
use common::{LETTER, assert_invalid_at, first_failure, fixture, step, tsa_at};
use sealpost_evidence::verify::{Outcome, Policy, Verdict, verify_evidence};
use sealpost_pki::DevPki;

#[test]
fn a_sealed_evidence_verifies_and_says_what_it_proves() {
    let f = fixture();
    let doc = f.document(LETTER, LETTER, &f.tsa);
    let evidence = f.evidence(vec![doc]);
    let xml = f.sealed(&evidence);
    let report = f.verify(&xml, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    let en = report.proves_en.as_deref().expect("statement");
    assert!(en.starts_with("CN=Sender B (development),O=Development Agency B,C=BE handed document \"avis-2026.pdf\" (SHA-256 "), "{en}");
    assert!(en.contains("to Sealpost for nrn:85073003328 at "), "{en}");
    assert!(
        report
            .proves_fr
            .as_deref()
            .expect("fr")
            .contains("a remis le document \"avis-2026.pdf\"")
    );
    // The evidence reads back as it was written.
    let parsed = roxmltree::Document::parse(&xml).expect("parse");
    assert_eq!(
        sealpost_evidence::model::read(parsed.root_element()).expect("model"),
        evidence
    );
    // Without the document, step 9 does not apply; with another one, it fails.
    assert_eq!(f.verify(&xml, None).verdict, Verdict::Valid);
    let other = f.verify(&xml, Some(b"another file"));
    assert_eq!(
        (other.verdict, first_failure(&other)),
        (Verdict::Invalid, 9)
    );
}

#[test]
fn every_field_changed_breaks_the_seal_at_step_2() {
    let f = fixture();
    let xml = f.genuine();
    let sha = &sealpost_evidence::model::hex(digest::digest(&digest::SHA256, LETTER).as_ref());
    for (from, to) in [
        ("nrn:85073003328", "nrn:85073003329"),
        ("TAX-2026-000042", "TAX-2026-000043"),
        ("avis-2026.pdf", "avis-2025.pdf"),
        (sha.as_str(), &sha.replacen('a', "b", 1)),
        ("SubmissionAcceptance", "SubmissionRejection"),
        ("agency-b", "agency-a"),
        ("&amp; rappel", "&amp; rappeI"),
    ] {
        let tampered = xml.replacen(from, to, 1);
        assert_ne!(tampered, xml, "{from} not found");
        let report = f.verify(&tampered, None);
        assert_eq!(report.verdict, Verdict::Invalid, "{from}");
        assert!(
            matches!(step(&report, 2), Outcome::Failed(_)),
            "{from}: {report:#?}"
        );
        assert!(report.proves_en.is_none());
    }
    // The signing time in the signed properties.
    let tampered = xml.replacen("<xades:SigningTime>", "<xades:SigningTime>1", 1);
    assert_eq!(first_failure(&f.verify(&tampered, None)), 2);
    // A reference removed from SignedInfo.
    let start = xml.find("<ds:Reference Type=").expect("second reference");
    let end = start + xml[start..].find("</ds:Reference>").expect("end") + "</ds:Reference>".len();
    let removed = format!("{}{}", &xml[..start], &xml[end..]);
    assert_eq!(first_failure(&f.verify(&removed, None)), 2);
}

#[test]
fn a_swapped_certificate_is_refused() {
    let f = fixture();
    let xml = f.genuine();
    let seal_b64 = sealpost_xmldsig::dsig::base64_encode(f.pki.seal.cert_der());
    let tsa_b64 = sealpost_xmldsig::dsig::base64_encode(f.pki.tsa.cert_der());
    let swapped = xml.replacen(&seal_b64, &tsa_b64, 1);
    assert_eq!(first_failure(&f.verify(&swapped, None)), 2);
}

#[test]
fn a_token_from_another_document_fails_step_7() {
    let f = fixture();
    // Sealed correctly, but the document's token covers other content.
    let xml = f.sealed(&f.evidence(vec![f.document(LETTER, b"another document", &f.tsa)]));
    let report = f.verify(&xml, None);
    assert_invalid_at(&report, 7);
    assert!(matches!(step(&report, 2), Outcome::Passed(_)));
}

#[test]
fn a_token_outside_the_tsa_certificate_validity_fails_step_7() {
    let f = fixture();
    let ten_years_on = tsa_at(&f.pki, f.now + Duration::from_secs(10 * 365 * 86_400));
    let xml = f.sealed(&f.evidence(vec![f.document(LETTER, LETTER, &ten_years_on)]));
    let report = f.verify(&xml, None);
    assert_invalid_at(&report, 7);
}

#[test]
fn a_seal_time_stamped_after_the_seal_certificate_expired_fails_step_3() {
    let f = fixture();
    let late = tsa_at(&f.pki, f.now + Duration::from_secs(6 * 365 * 86_400));
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    // The TSA certificate is valid 5 years, the seal too: 6 years on, both have expired.
    let xml = f.seal.seal(&evidence, &late, f.now).expect("seal");
    let report = f.verify(&xml, None);
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    assert!(
        matches!(step(&report, 6), Outcome::Failed(_)),
        "{report:#?}"
    );
}

#[test]
fn an_unknown_root_is_indeterminate() {
    let f = fixture();
    let xml = f.genuine();
    let stranger = DevPki::generate(f.now).expect("pki");
    let policy = Policy {
        anchors: vec![stranger.root.cert_der().to_vec()],
        ..f.policy()
    };
    let report = verify_evidence(xml.as_bytes(), &policy, None, f.now);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(matches!(step(&report, 3), Outcome::Indeterminate(_)));
}

#[test]
fn the_shared_proof_samples_are_signatures_but_not_evidence() {
    let samples = sealpost_pki::interop_samples_dir();
    // A proof carries no time of its own: verify at the time the samples were made (a
    // WS-Security sample made alongside them says when), when their certificates were valid.
    let wss = std::fs::read_to_string(samples.join("wss4j-rsa-sha256-bst.xml")).expect("sample");
    let created = wss.find("Created>").expect("Created") + "Created>".len();
    let end = created + wss[created..].find('<').expect("end of Created");
    let samples_made = sealpost_xmldsig::wss::parse_date_time(&wss[created..end]).expect("date");
    let root = rustls_pki_types::pem::PemObject::from_pem_file(samples.join("pki/ca.pem"))
        .map(|c: rustls_pki_types::CertificateDer<'_>| c.to_vec())
        .expect("root");
    for name in ["proof-xmlsec1-ec.xml", "proof-xmlsec1-rsa.xml"] {
        let report = verify_evidence(
            &std::fs::read(samples.join(name)).expect("read"),
            &Policy {
                anchors: vec![root.clone()],
                provider: None,
            },
            None,
            samples_made,
        );
        assert_eq!(report.verdict, Verdict::Indeterminate, "{name}");
        assert!(
            matches!(step(&report, 1), Outcome::Indeterminate(d) if d.contains("not a Sealpost evidence"))
        );
        assert!(
            matches!(step(&report, 2), Outcome::Passed(_)),
            "{name}: {report:#?}"
        );
    }
    for name in [
        "negative-proof-tampered.xml",
        "negative-proof-rogue-x509.xml",
        "negative-proof-rogue-keyvalue.xml",
    ] {
        let report = verify_evidence(
            &std::fs::read(samples.join(name)).expect("read"),
            &Policy {
                anchors: vec![root.clone()],
                provider: None,
            },
            None,
            samples_made,
        );
        assert_eq!(report.verdict, Verdict::Invalid, "{name}: {report:#?}");
    }
}

#[test]
fn an_evidence_given_as_xml_text_seals_the_same_way() {
    let f = fixture();
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    // Written by hand: indented, attributes in another order, an empty element self-closed.
    let xml = evidence
        .to_xml()
        .replacen("<ev:Issuer>", "\n  <ev:Issuer >", 1)
        .replacen(
            "<ev:Evidence xmlns:ev",
            "<ev:Evidence Version=\"2\" xmlns:ev",
            1,
        )
        .replacen(" Version=\"2\">", ">", 1);
    let sealed = f.seal.seal_xml(&xml, &f.tsa, f.now).expect("seal");
    let report = f.verify(&sealed, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
}

#[test]
fn evidence_text_is_written_in_canonical_form_and_read_back_unchanged() {
    let f = fixture();
    let mut evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    evidence.subject = Some("a & b < c > d \"e\" 'f'\r\ng\th é 𝄞".into());
    evidence.recipient.delegate = Some("nrn:85073003328".into());
    evidence.recipient.mandate = Some("mandate <1>".into());
    evidence.reason = Some("line one\rline two".into());
    let xml = evidence.to_xml();
    let doc = roxmltree::Document::parse(&xml).expect("parse");
    let canonical = sealpost_xmldsig::c14n::canonicalize(
        doc.root(),
        &sealpost_xmldsig::c14n::Canonicalization::exclusive(),
        None,
    );
    assert_eq!(
        String::from_utf8(canonical).expect("utf-8"),
        xml.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .trim_end()
    );
    assert_eq!(
        sealpost_evidence::model::read(doc.root_element()).expect("model"),
        evidence
    );
    let sealed = f.sealed(&evidence);
    assert_eq!(f.verify(&sealed, None).verdict, Verdict::Valid);
}

#[test]
fn text_xml_cannot_carry_is_refused_before_sealing() {
    let f = fixture();
    let mut evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    evidence.subject = Some("bell \u{7}".into());
    let err = f.seal.seal(&evidence, &f.tsa, f.now).expect_err("refused");
    assert!(err.to_string().contains("Subject"), "{err}");
}

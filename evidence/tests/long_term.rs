//! Long-term evidence, years later: what the evidence carries and the trust anchors alone
//! decide whether it still proves what it says. The clock moves with the TSA's injected clock
//! and the verification date (`--at`).

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{
    Fixture, GivenData, LETTER, crls_at, fixture, fixture_sealing_with, serial_of, step, tsa_with,
};
use sealpost_evidence::long_term::{
    ArchiveDue, ArchivePolicy, ValidationData, add_archive_timestamp, archive_due,
};
use sealpost_evidence::provider::Provider;
use sealpost_evidence::verify::{Outcome, Policy, Report, Verdict, verify_evidence};
use sealpost_pki::{Authority, Credential, DevPki, KeyAlgorithm, LeafSpec, Profile};
use sealpost_tsa::EcdsaP256Signer;
use sealpost_tsa::authority::TimeStampAuthority;

const DAY: Duration = Duration::from_secs(86_400);
const YEAR: Duration = Duration::from_secs(365 * 86_400);

fn passed(o: &Outcome) -> bool {
    matches!(o, Outcome::Passed(_))
}

/// The provider's later time-stamping unit: a CA the root issues in `at`, valid twenty years,
/// and its unit, valid sixteen.
struct LaterUnit {
    ca: Authority,
    unit: Credential,
}

fn later_unit(pki: &DevPki, at: SystemTime) -> LaterUnit {
    let ca = pki
        .root
        .issue_ca("Sealpost Archive CA", at, at + 20 * YEAR)
        .expect("ca");
    let unit = ca
        .issue(&LeafSpec::new(
            "Sealpost Archive Time-Stamping Unit",
            Profile::TimeStamping { eku_critical: true },
            KeyAlgorithm::EcdsaP256,
            at,
            16 * YEAR,
        ))
        .expect("unit");
    LaterUnit { ca, unit }
}

impl LaterUnit {
    fn tsa(&self, at: SystemTime) -> TimeStampAuthority {
        let signer = EcdsaP256Signer::new(
            &self.unit.key_pkcs8_der(),
            self.unit.cert_der(),
            &[self.ca.cert_der().to_vec()],
        )
        .expect("signer");
        tsa_with(Arc::new(signer), at)
    }

    /// Everything the archiver needs on `at`: the development CAs' CRLs (the issuing CA's
    /// revoking `revoked` as of `at`) and this unit's CA's.
    fn data(&self, pki: &DevPki, at: SystemTime, revoked: &[Vec<u8>]) -> ValidationData {
        let mut data = crls_at(pki, at, revoked);
        data.certificates.push(self.ca.cert_der().to_vec());
        data.crls
            .push(self.ca.crl(&[], at, at + 30 * DAY, 1).expect("crl"));
        data
    }
}

/// The court's policy: the root, and the provider publishing both units.
fn policy_with(f: &Fixture, later: &LaterUnit) -> Policy {
    Policy {
        anchors: f.anchors(),
        provider: Some(Provider {
            tsa_certificates: vec![
                f.pki.tsa.cert_der().to_vec(),
                later.unit.cert_der().to_vec(),
            ],
            ..f.provider()
        }),
    }
}

fn verify_at(xml: &str, policy: &Policy, at: SystemTime) -> Report {
    verify_evidence(xml.as_bytes(), policy, Some(LETTER), at)
}

/// The genuine evidence of `f`, archived in `archived` by the later unit with the data of
/// that day (the seal certificate revoked `revoked_at`, if given, before the archiving).
fn archived(f: &Fixture, later: &LaterUnit, archived: SystemTime, seal_revoked: bool) -> String {
    let revoked = if seal_revoked {
        vec![serial_of(f.pki.seal.cert_der())]
    } else {
        Vec::new()
    };
    add_archive_timestamp(
        &f.genuine(),
        &later.tsa(archived),
        &GivenData(Ok(later.data(&f.pki, archived, &revoked))),
    )
    .expect("archive")
}

#[test]
fn a_long_term_evidence_carries_its_revocation_data_and_is_valid() {
    let f = fixture();
    let xml = f.genuine();
    assert!(
        xml.contains("<xades:RevocationValues><xades:CRLValues>"),
        "{xml}"
    );
    let report = f.verify(&xml, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    assert!(
        passed(step(&report, 10)) && passed(step(&report, 11)),
        "{report:#?}"
    );
}

#[test]
fn without_revocation_data_the_seal_is_not_decided() {
    let f = fixture();
    // What an attacker who strips the unsigned revocation data gets, and what a B-T seal is.
    let xml = f.genuine();
    let start = xml.find("<xades:CertificateValues>").expect("values");
    let end =
        xml.find("</xades:RevocationValues>").expect("values") + "</xades:RevocationValues>".len();
    let stripped = format!("{}{}", &xml[..start], &xml[end..]);
    let report = f.verify(&stripped, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(
        matches!(step(&report, 10), Outcome::Indeterminate(_)),
        "{report:#?}"
    );
}

#[test]
fn a_seal_revoked_before_its_time_stamp_is_invalid() {
    let f0 = fixture();
    // The CA had revoked the seal certificate a day before it sealed, and says so in its CRL.
    let data = crls_at(&f0.pki, f0.now - DAY, &[serial_of(f0.pki.seal.cert_der())]);
    let f = fixture_sealing_with(f0.pki, f0.now, Ok(data));
    let report = f.verify(&f.genuine(), Some(LETTER));
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    let Outcome::Failed(why) = step(&report, 10) else {
        panic!("{report:#?}")
    };
    assert!(why.contains("the seal certificate was revoked"), "{why}");
}

#[test]
fn data_that_does_not_speak_for_the_seal_time_decides_nothing() {
    let f0 = fixture();
    // CRLs that expired the day before the seal: nobody knows what happened since.
    let data = crls_at(&f0.pki, f0.now - 31 * DAY, &[]);
    let f = fixture_sealing_with(f0.pki, f0.now, Ok(data));
    let report = f.verify(&f.genuine(), Some(LETTER));
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(
        matches!(step(&report, 10), Outcome::Indeterminate(_)),
        "{report:#?}"
    );
}

#[test]
fn a_crl_of_another_ca_or_a_forged_one_decides_nothing() {
    let f0 = fixture();
    let stranger = DevPki::generate(f0.now).expect("pki");
    // The stranger's CAs have the same names as the provider's: only their keys differ.
    let data = crls_at(&stranger, f0.now, &[]);
    let f = fixture_sealing_with(f0.pki, f0.now, Ok(data));
    let report = f.verify(&f.genuine(), Some(LETTER));
    assert!(
        matches!(step(&report, 10), Outcome::Indeterminate(_)),
        "{report:#?}"
    );
    assert_eq!(report.verdict, Verdict::Indeterminate);
}

#[test]
fn when_the_revocation_services_cannot_answer_nothing_is_sealed() {
    let f0 = fixture();
    let f = fixture_sealing_with(
        f0.pki,
        f0.now,
        Err("the OCSP responder is unreachable".into()),
    );
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    let refused = f
        .seal
        .seal(&evidence, &f.tsa, f.now)
        .expect_err("sealed without data");
    assert!(refused.to_string().contains("unreachable"), "{refused}");
}

#[test]
fn in_2040_an_archived_evidence_whose_seal_was_revoked_later_is_valid() {
    let f = fixture();
    let in_2027 = f.now + 4 * YEAR;
    let later = later_unit(&f.pki, in_2027 - DAY);
    // The seal certificate was revoked in 2027, years after it sealed; the evidence was
    // archived that year, before the first unit's certificate expired (2028).
    let xml = archived(&f, &later, in_2027, true);
    assert!(xml.contains("<xades141:ArchiveTimeStamp"), "{xml}");
    let in_2040 = f.now + 17 * YEAR;
    let report = verify_at(&xml, &policy_with(&f, &later), in_2040);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    let Outcome::Passed(revocation) = step(&report, 10) else {
        panic!("{report:#?}")
    };
    assert!(
        revocation.contains("the seal certificate was revoked later"),
        "{revocation}"
    );
    assert!(report.proves_en.is_some());
}

#[test]
fn in_2040_an_evidence_never_archived_is_indeterminate() {
    let f = fixture();
    let in_2040 = f.now + 17 * YEAR;
    let report = verify_at(&f.genuine(), &f.policy(), in_2040);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    let Outcome::Indeterminate(why) = step(&report, 11) else {
        panic!("{report:#?}")
    };
    assert!(why.contains("expired"), "{why}");
    // The same evidence is valid while its time-stamp's certificate holds.
    let report = verify_at(&f.genuine(), &f.policy(), f.now + YEAR);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
}

#[test]
fn an_archive_time_stamp_made_after_the_first_expired_renews_nothing() {
    let f = fixture();
    // 2029: the first unit's certificate expired in 2028.
    let in_2029 = f.now + 6 * YEAR;
    let later = later_unit(&f.pki, in_2029 - DAY);
    let xml = archived(&f, &later, in_2029, false);
    let report = verify_at(&xml, &policy_with(&f, &later), f.now + 10 * YEAR);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    let Outcome::Indeterminate(why) = step(&report, 11) else {
        panic!("{report:#?}")
    };
    assert!(why.contains("before the archive time-stamp"), "{why}");
}

#[test]
fn what_an_archive_time_stamp_covers_cannot_be_changed() {
    let f = fixture();
    let in_2027 = f.now + 4 * YEAR;
    let later = later_unit(&f.pki, in_2027 - DAY);
    let xml = archived(&f, &later, in_2027, false);
    let policy = policy_with(&f, &later);
    assert_eq!(verify_at(&xml, &policy, in_2027).verdict, Verdict::Valid);
    // The validation data gathered in 2027 (covered by the archive time-stamp) swapped for
    // other, equally genuine data of that day: the archive time-stamp no longer matches.
    let tsvd_start = xml.find("<xades141:TimeStampValidationData").expect("data");
    let tsvd_end = xml
        .find("</xades141:TimeStampValidationData>")
        .expect("data");
    let other = later.data(&f.pki, in_2027 - DAY, &[]);
    let swapped = format!(
        "{}<xades141:TimeStampValidationData xmlns:xades141=\"http://uri.etsi.org/01903/v1.4.1#\"><xades:CertificateValues>{}</xades:CertificateValues></xades141:TimeStampValidationData>{}",
        &xml[..tsvd_start],
        other
            .certificates
            .iter()
            .map(|c| format!(
                "<xades:EncapsulatedX509Certificate>{}</xades:EncapsulatedX509Certificate>",
                sealpost_xmldsig::dsig::base64_encode(c)
            ))
            .collect::<String>(),
        &xml[tsvd_end + "</xades141:TimeStampValidationData>".len()..]
    );
    let report = verify_at(&swapped, &policy, in_2027);
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    assert!(
        matches!(step(&report, 11), Outcome::Failed(_)),
        "{report:#?}"
    );
}

#[test]
fn an_archive_time_stamp_from_a_unit_the_provider_does_not_publish_is_invalid() {
    let f = fixture();
    let in_2027 = f.now + 4 * YEAR;
    let later = later_unit(&f.pki, in_2027 - DAY);
    let xml = archived(&f, &later, in_2027, false);
    // The court's trusted list names only the first unit.
    let report = verify_at(&xml, &f.policy(), in_2027);
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    assert!(
        matches!(step(&report, 11), Outcome::Failed(_)),
        "{report:#?}"
    );
}

#[test]
fn anything_but_the_long_term_properties_in_their_order_is_refused() {
    let f = fixture();
    let xml = f.genuine();
    // RevocationValues moved before CertificateValues.
    let certs_start = xml.find("<xades:CertificateValues>").expect("values");
    let certs_end = xml.find("</xades:CertificateValues>").expect("values")
        + "</xades:CertificateValues>".len();
    let revs_end =
        xml.find("</xades:RevocationValues>").expect("values") + "</xades:RevocationValues>".len();
    let moved = format!(
        "{}{}{}{}",
        &xml[..certs_start],
        &xml[certs_end..revs_end],
        &xml[certs_start..certs_end],
        &xml[revs_end..]
    );
    let report = f.verify(&moved, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    // Another element slipped among them.
    let slipped = xml.replacen(
        "<xades:RevocationValues>",
        "<xades:RevocationValues><xades:OtherValues/>",
        1,
    );
    assert_eq!(f.verify(&slipped, Some(LETTER)).verdict, Verdict::Invalid);
}

#[test]
fn an_evidence_is_due_for_archiving_before_its_last_time_stamp_expires() {
    let f = fixture();
    let policy = ArchivePolicy::default();
    let xml = f.genuine();
    // The unit's certificate (five years) is far from expiry now, within a year of it in 2027.
    assert_eq!(archive_due(&xml, f.now, &policy).expect("read"), None);
    let due = archive_due(&xml, f.now + 4 * YEAR + 30 * DAY, &policy).expect("read");
    assert!(
        matches!(due, Some(ArchiveDue::CertificateExpires(_))),
        "{due:?}"
    );
    // Once archived by the later unit, it is not due again until that one nears its end.
    let in_2027 = f.now + 4 * YEAR;
    let later = later_unit(&f.pki, in_2027 - DAY);
    let xml = archived(&f, &later, in_2027, false);
    assert_eq!(
        archive_due(&xml, in_2027 + YEAR, &policy).expect("read"),
        None
    );
    // A sunset of the digest algorithm its last time-stamp uses makes it due.
    let sunset = ArchivePolicy {
        sunsets: vec![(sealpost_tsa::asn1::oid::SHA256, in_2027 + 2 * YEAR)],
        ..policy
    };
    let due = archive_due(&xml, in_2027 + YEAR + DAY, &sunset).expect("read");
    assert!(
        matches!(due, Some(ArchiveDue::AlgorithmSunset(..))),
        "{due:?}"
    );
}

#[test]
fn archiving_twice_chains_the_archive_time_stamps() {
    let f = fixture();
    let in_2027 = f.now + 4 * YEAR;
    let later = later_unit(&f.pki, in_2027 - DAY);
    let once = archived(&f, &later, in_2027, false);
    let in_2035 = f.now + 12 * YEAR;
    let twice = add_archive_timestamp(
        &once,
        &later.tsa(in_2035),
        &GivenData(Ok(later.data(&f.pki, in_2035, &[]))),
    )
    .expect("archive");
    assert_eq!(twice.matches("<xades141:ArchiveTimeStamp").count(), 2);
    let report = verify_at(&twice, &policy_with(&f, &later), f.now + 15 * YEAR);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    let Outcome::Passed(detail) = step(&report, 11) else {
        panic!("{report:#?}")
    };
    assert!(detail.contains("2 archive time-stamp(s)"), "{detail}");
}

/// The fixture's sealer, counter-stamped by `second`, a TSA of `unit`.
fn counter_stamped(
    f: &Fixture,
    unit: &LaterUnit,
    second: TimeStampAuthority,
) -> sealpost_evidence::seal::Sealer {
    let data = unit.data(&f.pki, f.now - Duration::from_secs(3600), &[]);
    Fixture::sealer(
        &f.pki.seal.key_pkcs8_der(),
        vec![
            f.pki.seal.cert_der().to_vec(),
            f.pki.issuing.cert_der().to_vec(),
        ],
    )
    .with_validation_source(Arc::new(GivenData(Ok(data))))
    .with_second_timestamper(Arc::new(second))
}

#[test]
fn a_seal_counter_stamped_by_a_second_tsa_is_valid_when_the_clocks_agree() {
    let f = fixture();
    let second = later_unit(&f.pki, f.now - DAY);
    let sealer = counter_stamped(&f, &second, second.tsa(f.now + Duration::from_secs(20)));
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    let xml = sealer.seal(&evidence, &f.tsa, f.now).expect("seal");
    assert_eq!(xml.matches("<xades:SignatureTimeStamp>").count(), 2);
    let report = verify_at(&xml, &policy_with(&f, &second), f.now);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    let Outcome::Passed(detail) = step(&report, 6) else {
        panic!("{report:#?}")
    };
    assert!(detail.contains("counter-stamped"), "{detail}");
    // The second unit is not the provider's: the counter-stamp is refused.
    let report = verify_at(&xml, &f.policy(), f.now);
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    assert!(
        matches!(step(&report, 6), Outcome::Failed(_)),
        "{report:#?}"
    );
}

#[test]
fn a_second_tsa_whose_clock_is_wrong_stops_the_seal() {
    let f = fixture();
    let second = later_unit(&f.pki, f.now - DAY);
    let sealer = counter_stamped(&f, &second, second.tsa(f.now + Duration::from_secs(600)));
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &f.tsa)]);
    let refused = sealer.seal(&evidence, &f.tsa, f.now).expect_err("sealed");
    assert!(
        refused.to_string().contains("one of the clocks is wrong"),
        "{refused}"
    );
}

#[test]
fn a_counter_stamp_that_disagrees_with_the_seal_time_is_invalid() {
    let f = fixture();
    let second = later_unit(&f.pki, f.now - DAY);
    let xml = f.genuine();
    // An attacker adds a counter-stamp, genuine but ten minutes later, over the same value.
    let value = {
        let doc = roxmltree::Document::parse(&xml).expect("xml");
        let node = doc
            .descendants()
            .find(|n| n.tag_name().name() == "SignatureValue")
            .expect("value");
        sealpost_xmldsig::c14n::canonicalize(
            node,
            &sealpost_xmldsig::c14n::Canonicalization::exclusive(),
            None,
        )
    };
    let imprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &value);
    let token = sealpost_evidence::seal::Timestamper::timestamp(
        &second.tsa(f.now + Duration::from_secs(600)),
        imprint.as_ref(),
    )
    .expect("token");
    let first_end = xml.find("</xades:SignatureTimeStamp>").expect("stamp")
        + "</xades:SignatureTimeStamp>".len();
    let forged = format!(
        "{}<xades:SignatureTimeStamp><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:CanonicalizationMethod><xades:EncapsulatedTimeStamp>{}</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp>{}",
        &xml[..first_end],
        sealpost_xmldsig::dsig::base64_encode(&token),
        &xml[first_end..]
    );
    let report = verify_at(
        &forged,
        &policy_with(&f, &second),
        f.now + Duration::from_secs(600),
    );
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    let Outcome::Failed(why) = step(&report, 8) else {
        panic!("{report:#?}")
    };
    assert!(why.contains("one of the clocks is wrong"), "{why}");
}

#[test]
fn an_evidence_archived_by_its_own_unit_at_once_is_valid() {
    let f = fixture();
    let data = crls_at(&f.pki, f.now - Duration::from_secs(3600), &[]);
    let xml = add_archive_timestamp(&f.genuine(), &f.tsa, &GivenData(Ok(data))).expect("archive");
    // The same unit: its validation data once, before the archive time-stamp.
    assert_eq!(xml.matches("<xades141:TimeStampValidationData").count(), 1);
    let report = f.verify(&xml, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
}

/// A source that remembers the chains it was asked about (leaf first).
struct Asked(std::sync::Mutex<Vec<Vec<u8>>>, ValidationData);

impl sealpost_evidence::long_term::ValidationSource for Asked {
    fn validation_data(
        &self,
        chains: &[Vec<Vec<u8>>],
    ) -> Result<ValidationData, sealpost_evidence::seal::SealError> {
        let mut asked = self.0.lock().expect("lock");
        asked.extend(chains.iter().filter_map(|c| c.first().cloned()));
        Ok(self.1.clone())
    }
}

#[test]
fn the_units_of_the_documents_time_stamps_are_asked_about_too() {
    let f = fixture();
    let other = later_unit(&f.pki, f.now - DAY);
    let asked = Arc::new(Asked(
        std::sync::Mutex::default(),
        other.data(&f.pki, f.now - DAY, &[]),
    ));
    let sealer = Fixture::sealer(
        &f.pki.seal.key_pkcs8_der(),
        vec![
            f.pki.seal.cert_der().to_vec(),
            f.pki.issuing.cert_der().to_vec(),
        ],
    )
    .with_validation_source(asked.clone());
    // The document was time-stamped by another unit than the one stamping the seal.
    let evidence = f.evidence(vec![f.document(LETTER, LETTER, &other.tsa(f.now))]);
    let xml = sealer.seal(&evidence, &f.tsa, f.now).expect("seal");
    let leaves = asked.0.lock().expect("lock").clone();
    assert!(
        leaves.contains(&other.unit.cert_der().to_vec()),
        "not asked about the document's unit"
    );
    assert!(leaves.contains(&f.pki.tsa.cert_der().to_vec()));
    let report = verify_at(&xml, &policy_with(&f, &other), f.now);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
}

#[test]
fn a_last_unit_revoked_before_the_date_of_verification_proves_nothing_on_it() {
    let f = fixture();
    let in_2027 = f.now + 4 * YEAR;
    let later = later_unit(&f.pki, in_2027 - DAY);
    let xml = archived(&f, &later, in_2027, false);
    // Its CA revoked the archiving unit in 2030, and says so in a CRL the evidence carries.
    let in_2030 = f.now + 7 * YEAR;
    let revoking = later
        .ca
        .crl(
            &[serial_of(later.unit.cert_der())],
            in_2030,
            in_2030 + 30 * DAY,
            2,
        )
        .expect("crl");
    let end = xml
        .rfind("</xades:UnsignedSignatureProperties>")
        .expect("end");
    let carried = format!(
        "{}<xades141:TimeStampValidationData xmlns:xades141=\"http://uri.etsi.org/01903/v1.4.1#\"><xades:RevocationValues><xades:CRLValues><xades:EncapsulatedCRLValue>{}</xades:EncapsulatedCRLValue></xades:CRLValues></xades:RevocationValues></xades141:TimeStampValidationData>{}",
        &xml[..end],
        sealpost_xmldsig::dsig::base64_encode(&revoking),
        &xml[end..]
    );
    let policy = policy_with(&f, &later);
    // Before the revocation it still proves; after it, not any more.
    assert_eq!(
        verify_at(&carried, &policy, f.now + 6 * YEAR).verdict,
        Verdict::Valid
    );
    let report = verify_at(&carried, &policy, f.now + 8 * YEAR);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    let Outcome::Indeterminate(why) = step(&report, 11) else {
        panic!("{report:#?}")
    };
    assert!(why.contains("was revoked on"), "{why}");
}

#[test]
fn validation_data_that_does_not_read_is_an_alteration_of_the_seal_not_a_revocation() {
    let f = fixture();
    let xml = f.genuine().replacen(
        "<xades:EncapsulatedCRLValue>",
        "<xades:EncapsulatedCRLValue>*",
        1,
    );
    let report = f.verify(&xml, Some(LETTER));
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    assert!(
        matches!(step(&report, 2), Outcome::Failed(_)),
        "{report:#?}"
    );
    assert!(
        matches!(step(&report, 10), Outcome::Indeterminate(_)),
        "{report:#?}"
    );
}

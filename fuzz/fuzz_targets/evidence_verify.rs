//! The court's verifier under attack, on a long-term evidence (B-LT, archived once: B-LTA).
//! Two kinds of input:
//! - any bytes as an evidence: verification never panics and never says VALID (nothing here
//!   can carry a seal by the fixture's key);
//! - an edit of a genuine sealed evidence (delete some bytes at an offset, insert others):
//!   verification never panics, and if it still says VALID, the evidence it read says exactly
//!   what the genuine one said (an edit that only the canonical form cannot see, such as
//!   attribute order or whitespace between elements, may pass; an edit of what it proves may
//!   not).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealpost_evidence::model::{
    Document, Event, Evidence, Issuer, Recipient, Sender, new_evidence_id,
};
use sealpost_evidence::provider::Provider;
use sealpost_evidence::long_term::{ValidationData, ValidationSource, add_archive_timestamp};
use sealpost_evidence::seal::{SealError, Sealer};
use sealpost_evidence::verify::{EvidenceVerifier, Policy, Verdict};
use sealpost_pki::DevPki;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::clock::{ClockError, ClockGuard, ClockReading, ClockSource};
use sealpost_tsa::serial::CounterSerials;
use sealpost_tsa::{EcdsaP256Signer, IssuePolicy};
use sealpost_xmldsig::document::DocumentSigner;

struct Genuine {
    verifier: EvidenceVerifier,
    /// When the court checks: the time the evidence was sealed.
    now: SystemTime,
    xml: String,
    evidence: Evidence,
}

/// The CAs' CRLs, as the operator's revocation services give them.
struct Crls(ValidationData);

impl ValidationSource for Crls {
    fn validation_data(&self, _: &[Vec<Vec<u8>>]) -> Result<ValidationData, SealError> {
        Ok(self.0.clone())
    }
}

struct FixedClock(SystemTime);

impl ClockSource for FixedClock {
    fn read(&self) -> Result<ClockReading, ClockError> {
        Ok(ClockReading {
            now: self.0,
            max_error: None,
        })
    }
}

fn genuine() -> &'static Genuine {
    static GENUINE: OnceLock<Genuine> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let pki = DevPki::generate(now).expect("pki");
        let signer = EcdsaP256Signer::new(
            &pki.tsa.key_pkcs8_der(),
            pki.tsa.cert_der(),
            &[pki.issuing.cert_der().to_vec()],
        )
        .expect("signer");
        let tsa = TimeStampAuthority::new(
            std::sync::Arc::new(signer),
            IssuePolicy::default(),
            Box::new(CounterSerials::starting_at(1)),
            ClockGuard::new(Box::new(FixedClock(now)), Duration::from_secs(1), UNIX_EPOCH),
        );
        let sealer = Sealer::new(
            DocumentSigner::new(
                &pki.seal.key_pkcs8_der(),
                vec![pki.seal.cert_der().to_vec(), pki.issuing.cert_der().to_vec()],
            )
            .expect("seal"),
        )
        .expect("sealer");
        let day = Duration::from_secs(86_400);
        let crls = std::sync::Arc::new(Crls(ValidationData {
            certificates: vec![pki.issuing.cert_der().to_vec()],
            crls: vec![
                pki.issuing.crl(&[], now - day, now + day, 1).expect("crl"),
                pki.root.crl(&[], now - day, now + day, 1).expect("crl"),
            ],
            ocsp_responses: Vec::new(),
        }));
        let sealer = sealer.with_validation_source(crls.clone());
        let sha = [7u8; 32];
        let evidence = Evidence {
            id: new_evidence_id(now),
            event: Event::ContentHandover,
            event_time: now,
            issuer: Issuer {
                name: "Sealpost".into(),
                policy_id: "urn:oid:0.4.0.2023.1.1".into(),
            },
            sender: Sender {
                subject: "CN=Sender A".into(),
                registry_id: "agency-a".into(),
                authentication: "WS-Security".into(),
            agent: None,
            },
            recipient: Recipient {
                id: "cbe:0203201340".into(),
                delegate: Some("Jan Peeters".into()),
                mandate: Some("mandate-1".into()),
            authentication: None,
            },
            submission_time: now,
            message_id: new_evidence_id(now),
            sender_reference: "REF-1".into(),
            subject: Some("pay 100 EUR".into()),
            documents: vec![Document {
                id: "d1".into(),
                name: "letter.pdf".into(),
                size: 1000,
                sha256: sealpost_evidence::model::Sha256(sha),
                time_stamp_token: Some(
                    sealpost_evidence::seal::Timestamper::timestamp(&tsa, &sha).expect("token"),
                ),
            }],
            reason: None,
            follows_from: None,
        };
        let xml = sealer.seal(&evidence, &tsa, now).expect("seal");
        let xml = add_archive_timestamp(&xml, &tsa, crls.as_ref()).expect("archive");
        let verifier = EvidenceVerifier::new(Policy {
            anchors: vec![pki.root.cert_der().to_vec()],
            provider: Some(Provider {
                name: "Sealpost".into(),
                seal_certificates: vec![pki.seal.cert_der().to_vec()],
                tsa_certificates: vec![pki.tsa.cert_der().to_vec()],
            }),
        });
        assert_eq!(verifier.verify(xml.as_bytes(), None, now).verdict, Verdict::Valid);
        Genuine {
            verifier,
            now,
            xml,
            evidence,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let g = genuine();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let report = g.verifier.verify(rest, None, g.now);
        assert_ne!(report.verdict, Verdict::Valid, "arbitrary bytes verified");
        return;
    }
    // An edit: offset (2 bytes), how many bytes to delete (1 byte), then the bytes to insert.
    let [a, b, delete, insert @ ..] = rest else {
        return;
    };
    let original = g.xml.as_bytes();
    let at = usize::from(u16::from_be_bytes([*a, *b])) % (original.len() + 1);
    let end = (at + usize::from(*delete)).min(original.len());
    let edited = [&original[..at], insert, &original[end..]].concat();
    let report = g.verifier.verify(&edited, None, g.now);
    if report.verdict == Verdict::Valid {
        let text = std::str::from_utf8(&edited).expect("a valid evidence is UTF-8");
        let doc = roxmltree::Document::parse(text).expect("a valid evidence parses");
        let read = sealpost_evidence::model::read(doc.root_element()).expect("a valid evidence reads");
        assert_eq!(read, g.evidence, "an edited evidence verified and says something else");
    }
});

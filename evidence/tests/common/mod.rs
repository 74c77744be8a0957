//! The fixture of the evidence tests: a development PKI, its TSA at a chosen time, its seal,
//! and the provider identity a court is given.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use sealpost_evidence::long_term::{ValidationData, ValidationSource};
use sealpost_evidence::model::{
    Document, Event, Evidence, Issuer, Recipient, Sender, new_evidence_id,
};
use sealpost_evidence::provider::Provider;
use sealpost_evidence::seal::{SealError, Sealer, Timestamper};
use sealpost_evidence::verify::{Outcome, Policy, Report, verify_evidence};
use sealpost_pki::DevPki;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::clock::{ClockError, ClockGuard, ClockReading, ClockSource};
use sealpost_tsa::serial::CounterSerials;
use sealpost_tsa::{EcdsaP256Signer, IssuePolicy};
use sealpost_xmldsig::document::DocumentSigner;

/// A clock that reads a fixed time: a TSA "in the past" or "in the future".
struct FixedClock(SystemTime);

impl ClockSource for FixedClock {
    fn read(&self) -> Result<ClockReading, ClockError> {
        Ok(ClockReading {
            now: self.0,
            max_error: None,
        })
    }
}

/// The operator's revocation services as a sealer sees them: whatever CRLs and certificates
/// it is given, or a refusal.
pub struct GivenData(pub Result<ValidationData, String>);

impl ValidationSource for GivenData {
    fn validation_data(&self, _chains: &[Vec<Vec<u8>>]) -> Result<ValidationData, SealError> {
        self.0.clone().map_err(SealError::Signing)
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// The complete CRLs of the development PKI's two CAs issued at `at`, current for 30 days,
/// the issuing CA's revoking `revoked` (serial numbers, INTEGER content octets) as of `at`.
pub fn crls_at(pki: &DevPki, at: SystemTime, revoked: &[Vec<u8>]) -> ValidationData {
    ValidationData {
        certificates: vec![pki.issuing.cert_der().to_vec()],
        crls: vec![
            pki.issuing.crl(revoked, at, at + 30 * DAY, 1).expect("crl"),
            pki.root.crl(&[], at, at + 30 * DAY, 1).expect("crl"),
        ],
        ocsp_responses: Vec::new(),
    }
}

/// The serial number of a certificate (INTEGER content octets).
pub fn serial_of(cert_der: &[u8]) -> Vec<u8> {
    use der::Decode;
    x509_cert::Certificate::from_der(cert_der)
        .expect("certificate")
        .tbs_certificate
        .serial_number
        .as_bytes()
        .to_vec()
}

pub struct Fixture {
    pub pki: DevPki,
    pub tsa: TimeStampAuthority,
    pub seal: Sealer,
    pub now: SystemTime,
}

pub fn tsa_at(pki: &DevPki, now: SystemTime) -> TimeStampAuthority {
    let signer = EcdsaP256Signer::new(
        &pki.tsa.key_pkcs8_der(),
        pki.tsa.cert_der(),
        &[pki.issuing.cert_der().to_vec()],
    )
    .expect("tsa signer");
    tsa_with(Arc::new(signer), now)
}

/// A TSA with this signer whose clock reads `now`.
pub fn tsa_with(signer: Arc<EcdsaP256Signer>, now: SystemTime) -> TimeStampAuthority {
    TimeStampAuthority::new(
        signer,
        IssuePolicy::default(),
        Box::new(CounterSerials::starting_at(1)),
        ClockGuard::new(
            Box::new(FixedClock(now)),
            Duration::from_secs(1),
            UNIX_EPOCH,
        ),
    )
}

pub fn fixture() -> Fixture {
    // A fixed time (whole seconds): the TSA's clock reads it, the court verifies at it.
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    fixture_with(DevPki::generate(now).expect("pki"), now)
}

/// The fixture of `pki` at `now` (whole seconds): it seals B-LT, with the CAs' CRLs of an
/// hour before.
pub fn fixture_with(pki: DevPki, now: SystemTime) -> Fixture {
    let data = crls_at(&pki, now - Duration::from_secs(3600), &[]);
    fixture_sealing_with(pki, now, Ok(data))
}

/// The fixture of `pki` at `now`, its sealer given this validation data (`Err`: the
/// revocation services refuse).
pub fn fixture_sealing_with(
    pki: DevPki,
    now: SystemTime,
    data: Result<ValidationData, String>,
) -> Fixture {
    let seal = Sealer::new(
        DocumentSigner::new(
            &pki.seal.key_pkcs8_der(),
            vec![
                pki.seal.cert_der().to_vec(),
                pki.issuing.cert_der().to_vec(),
            ],
        )
        .expect("seal"),
    )
    .expect("sealer")
    .with_validation_source(Arc::new(GivenData(data)));
    Fixture {
        tsa: tsa_at(&pki, now),
        pki,
        seal,
        now,
    }
}

pub const LETTER: &[u8] = b"%PDF-1.7 Avis d'imposition 2026";

impl Fixture {
    pub fn anchors(&self) -> Vec<Vec<u8>> {
        vec![self.pki.root.cert_der().to_vec()]
    }

    pub fn document(&self, content: &[u8], token_over: &[u8], tsa: &dyn Timestamper) -> Document {
        let sha: [u8; 32] = digest::digest(&digest::SHA256, content)
            .as_ref()
            .try_into()
            .expect("32");
        let token_digest = digest::digest(&digest::SHA256, token_over);
        Document {
            id: "doc-1".into(),
            name: "avis-2026.pdf".into(),
            size: content.len() as u64,
            sha256: sealpost_evidence::model::Sha256(sha),
            time_stamp_token: Some(tsa.timestamp(token_digest.as_ref()).expect("token")),
        }
    }

    pub fn evidence(&self, documents: Vec<Document>) -> Evidence {
        Evidence {
            id: new_evidence_id(self.now),
            event: Event::SubmissionAcceptance,
            event_time: self.now,
            issuer: Issuer {
                name: "Sealpost (development)".into(),
                policy_id: "urn:oid:0.4.0.2023.1.1".into(),
            },
            sender: Sender {
                subject: "CN=Sender B (development),O=Development Agency B,C=BE".into(),
                registry_id: "agency-b".into(),
                authentication: "WS-Security X.509 signature".into(),
                agent: None,
            },
            recipient: Recipient {
                id: "nrn:85073003328".into(),
                delegate: None,
                mandate: None,
                authentication: None,
            },
            submission_time: self.now,
            message_id: new_evidence_id(self.now),
            sender_reference: "TAX-2026-000042".into(),
            subject: Some("Avis d'imposition & rappel <2026>".into()),
            documents,
            reason: None,
            follows_from: None,
        }
    }

    /// A genuine sealed evidence: a SubmissionAcceptance of [`LETTER`], time-stamped and sealed
    /// by the provider.
    pub fn genuine(&self) -> String {
        self.sealed(&self.evidence(vec![self.document(LETTER, LETTER, &self.tsa)]))
    }

    pub fn sealed(&self, evidence: &Evidence) -> String {
        self.seal.seal(evidence, &self.tsa, self.now).expect("seal")
    }

    /// The provider identity `sealpost pki trusted-list` publishes for this PKI.
    pub fn provider(&self) -> Provider {
        Provider {
            name: "Sealpost".into(),
            seal_certificates: vec![self.pki.seal.cert_der().to_vec()],
            tsa_certificates: vec![self.pki.tsa.cert_der().to_vec()],
        }
    }

    /// What a court is given: the root and the provider's identity.
    pub fn policy(&self) -> Policy {
        Policy {
            anchors: self.anchors(),
            provider: Some(self.provider()),
        }
    }

    pub fn verify(&self, xml: &str, document: Option<&[u8]>) -> Report {
        verify_evidence(xml.as_bytes(), &self.policy(), document, self.now)
    }

    /// A sealer with another key and certificate chain (a forger's).
    pub fn sealer(key_pkcs8: &[u8], chain: Vec<Vec<u8>>) -> Sealer {
        Sealer::new(DocumentSigner::new(key_pkcs8, chain).expect("signer")).expect("sealer")
    }
}

pub fn step(report: &Report, n: u8) -> &Outcome {
    &report.steps[usize::from(n - 1)].outcome
}

pub fn first_failure(report: &Report) -> u8 {
    report
        .steps
        .iter()
        .find(|s| matches!(s.outcome, Outcome::Failed(_)))
        .map_or(0, |s| s.number)
}

/// The report says INVALID, and step `n` is the first that failed.
#[track_caller]
pub fn assert_invalid_at(report: &Report, n: u8) {
    assert_eq!(
        (report.verdict, first_failure(report)),
        (sealpost_evidence::verify::Verdict::Invalid, n),
        "{report:#?}"
    );
}

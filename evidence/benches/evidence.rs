//! `make bench` for evidence, one core (the Makefile pins it): evidences sealed per second with
//! the in-process TSA (two signatures: the seal and its time-stamp) and verified per second
//! (the full court procedure), next to raw ECDSA P-256 sign and verify in the same run.
//!
//! Goals (issue #4): sealing at 25% or more of raw signing, verifying at 25% or more of raw
//! verification. Sealed B-LT (with the CAs' CRLs, given at once: what the service's validation
//! source does from its cache), next to B-T; verified as sealed and archived once (B-LTA).

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use sealpost_evidence::long_term::{ValidationData, ValidationSource, add_archive_timestamp};
use sealpost_evidence::model::{
    Document, Event, Evidence, Issuer, Recipient, Sender, new_evidence_id,
};
use sealpost_evidence::provider::Provider;
use sealpost_evidence::seal::{SealError, Sealer, Timestamper};
use sealpost_evidence::verify::{EvidenceVerifier, Policy, Verdict};
use sealpost_pki::DevPki;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::clock::{ClockGuard, ClockSource, UncheckedSystemClock};
use sealpost_tsa::serial::CounterSerials;
use sealpost_tsa::{EcdsaP256Signer, IssuePolicy};
use sealpost_xmldsig::document::DocumentSigner;

const MEASURE: Duration = Duration::from_secs(3);

/// The CAs' CRLs, given at once (the service's validation source answers from its cache).
struct GivenCrls(ValidationData);

impl ValidationSource for GivenCrls {
    fn validation_data(&self, _: &[Vec<Vec<u8>>]) -> Result<ValidationData, SealError> {
        Ok(self.0.clone())
    }
}

fn rate(mut op: impl FnMut()) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        op();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < MEASURE {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let mut lines = String::new();
    let mut report = |line: String| {
        println!("{line}");
        lines.push_str(&line);
        lines.push('\n');
    };
    report(format!(
        "sealpost-evidence benchmark: one core, {MEASURE:?} per figure"
    ));
    // The time of the TSA's clock below: the certificates and the evidence are made at it.
    let now = UncheckedSystemClock.read().expect("the system clock").now;
    let pki = DevPki::generate(now).expect("pki");
    let tsa_signer = EcdsaP256Signer::new(
        &pki.tsa.key_pkcs8_der(),
        pki.tsa.cert_der(),
        &[pki.issuing.cert_der().to_vec()],
    )
    .expect("tsa");
    let tsa = TimeStampAuthority::new(
        Arc::new(tsa_signer),
        IssuePolicy::default(),
        Box::new(CounterSerials::starting_at(1)),
        ClockGuard::new(
            Box::new(UncheckedSystemClock),
            Duration::from_secs(1),
            UNIX_EPOCH,
        ),
    );
    // The operator's seal: B-T, and B-LT with the CAs' CRLs.
    let seal = || {
        Sealer::new(
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
    };
    let day = Duration::from_secs(86_400);
    let crls = Arc::new(GivenCrls(ValidationData {
        certificates: vec![pki.issuing.cert_der().to_vec()],
        crls: vec![
            pki.issuing.crl(&[], now - day, now + day, 1).expect("crl"),
            pki.root.crl(&[], now - day, now + day, 1).expect("crl"),
        ],
        ocsp_responses: Vec::new(),
    }));
    let sealer_b_t = seal();
    let sealer = seal().with_validation_source(crls.clone());
    let sha = [7u8; 32];
    let evidence = Evidence {
        id: new_evidence_id(now),
        event: Event::SubmissionAcceptance,
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
            id: "nrn:85073003328".into(),
            delegate: None,
            mandate: None,
            authentication: None,
        },
        submission_time: now,
        message_id: new_evidence_id(now),
        sender_reference: "M-1".into(),
        subject: Some("Letter".into()),
        documents: vec![Document {
            id: "d1".into(),
            name: "letter.pdf".into(),
            size: 1000,
            sha256: sealpost_evidence::model::Sha256(sha),
            time_stamp_token: Some(tsa.timestamp(&sha).expect("token")),
        }],
        reason: None,
        follows_from: None,
    };

    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pki.seal.key_pkcs8_der())
        .expect("key");
    let rng = SystemRandom::new();
    let message = [0x5au8; 400];
    let raw_sign = rate(|| {
        std::hint::black_box(key.sign(&rng, &message).expect("sign"));
    });
    report(format!(
        "raw ECDSA P-256 sign                {raw_sign:>9.0} /s"
    ));
    let sealing_b_t = rate(|| {
        std::hint::black_box(sealer_b_t.seal(&evidence, &tsa, now).expect("seal"));
    });
    report(format!(
        "evidences sealed B-T                {sealing_b_t:>9.0} /s   {:.2} x raw sign",
        sealing_b_t / raw_sign
    ));
    let sealing = rate(|| {
        std::hint::black_box(sealer.seal(&evidence, &tsa, now).expect("seal"));
    });
    let ratio = sealing / raw_sign;
    report(format!(
        "evidences sealed B-LT (in-process TSA) {sealing:>6.0} /s   {ratio:.2} x raw sign   {:.2} x B-T   (goal >= 0.25: {})",
        sealing / sealing_b_t,
        if ratio >= 0.25 { "meets" } else { "MISSES" }
    ));

    let signature = key.sign(&rng, &message).expect("sign");
    let public =
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref().to_vec());
    let raw_verify = rate(|| public.verify(&message, signature.as_ref()).expect("verify"));
    report(format!(
        "raw ECDSA P-256 verify              {raw_verify:>9.0} /s"
    ));
    let sealed = sealer.seal(&evidence, &tsa, now).expect("seal");
    let archived = add_archive_timestamp(&sealed, &tsa, crls.as_ref()).expect("archive");
    // The court verifies after the TSA (on the system clock) sealed and archived.
    let verified_at = UncheckedSystemClock.read().expect("the system clock").now;
    let verifier = EvidenceVerifier::new(Policy {
        anchors: vec![pki.root.cert_der().to_vec()],
        provider: Some(Provider {
            name: "Sealpost".into(),
            seal_certificates: vec![pki.seal.cert_der().to_vec()],
            tsa_certificates: vec![pki.tsa.cert_der().to_vec()],
        }),
    });
    let verifying = rate(|| {
        let r = verifier.verify(sealed.as_bytes(), None, verified_at);
        assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    });
    let ratio = verifying / raw_verify;
    report(format!(
        "evidences verified B-LT (11 steps)  {verifying:>9.0} /s   {ratio:.2} x raw verify (goal >= 0.25: {})",
        if ratio >= 0.25 { "meets" } else { "MISSES" }
    ));
    let verifying_lta = rate(|| {
        let r = verifier.verify(archived.as_bytes(), None, verified_at);
        assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
    });
    report(format!(
        "evidences verified B-LTA (archived once) {verifying_lta:>4.0} /s   {:.2} x raw verify   {:.2} x B-LT",
        verifying_lta / raw_verify,
        verifying_lta / verifying
    ));
    let out = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("evidence.txt"), lines);
}

//! `make bench` for sealpost-xmldsig, one core (the Makefile pins it):
//! - WS-Security envelopes verified per second, 4 KiB envelopes, RSA-2048 and ECDSA P-256:
//!   our parse + signature + references, next to libxmlsec1 doing the same in a loop in one
//!   process (python-xmlsec), and our full verify_envelope (with the certificate chain);
//! - the cost of an identification vector: the same envelope with a SAML 2.0 sender-vouches
//!   assertion (signed by an RSA-2048 identity provider), as a ratio of the plain one;
//! - MiB/s verifying an envelope with a 10 MiB base64 Body, next to raw SHA-256 over 10 MiB;
//! - the peak memory that verification allocates for the large envelope, as a multiple of it.
//!
//! Goals (issue #3): at least 3x libxmlsec1 on small envelopes; large bodies at 50% or more of
//! raw SHA-256; memory for the large body at most 3x its size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::digest;
use sealpost_pki::{Credential, DevPki};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{AlgorithmPolicy, IdIndex, IdPolicy, NS_DSIG, PublicKey, Signature};
use sealpost_xmldsig::saml::{IdentityProvider, SamlPolicy, SamlTrust};
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{KnownCertificates, WssPolicy, verify_envelope, verify_envelope_with};
use sealpost_xmldsig::wss_sign::{
    SamlBinding, format_date_time, sign_assertion, sign_envelope, sign_envelope_with_assertion,
};
use sealpost_xmldsig::{Limits, parse};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MEASURE: Duration = Duration::from_secs(3);

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

fn report(lines: &mut String, line: String) {
    println!("{line}");
    lines.push_str(&line);
    lines.push('\n');
}

fn envelope(payload: &str) -> String {
    format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Header/><soapenv:Body><sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:test\"><sp:Recipient>nrn:85073003328</sp:Recipient><sp:Document>{payload}</sp:Document></sp:SubmitRegisteredMail></soapenv:Body></soapenv:Envelope>"
    )
}

fn signer(cred: &Credential) -> DocumentSigner {
    DocumentSigner::new(&cred.key_pkcs8_der(), vec![cred.cert_der().to_vec()]).expect("signer")
}

/// Parse, then verify the signature value and the references: what libxmlsec1 does.
fn verify_signature_only(xml: &str, key: &PublicKey) {
    let doc = parse(xml, &Limits::default()).expect("parse");
    let node = doc
        .descendants()
        .find(|n| n.tag_name().name() == "Signature" && n.tag_name().namespace() == Some(NS_DSIG))
        .expect("signature");
    let signature = Signature::parse(node, AlgorithmPolicy::default()).expect("signature");
    signature.verify_value(key).expect("value");
    let ids = IdIndex::build(&doc, IdPolicy::default()).expect("ids");
    signature.verify_references(&doc, &ids).expect("references");
}

fn main() {
    let mut lines = String::new();
    report(
        &mut lines,
        format!("sealpost-xmldsig benchmark: one core, {MEASURE:?} per figure"),
    );
    // The bench's one "now", given to the certificates, the signing and the verification.
    #[allow(
        clippy::disallowed_methods,
        reason = "a benchmark decides its own now, once"
    )]
    let now = SystemTime::now();
    let pki = DevPki::generate(now).expect("pki");
    let trust = TrustAnchors::new([pki.root.cert_der().to_vec()])
        .with_intermediates([pki.issuing.cert_der().to_vec()]);
    let dir = std::env::temp_dir().join(format!("sealpost-xmldsig-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python3");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/xmlsec_loop.py");

    // Small envelopes: about 4 KiB once signed.
    let small_payload = "QUJD".repeat(460);
    for (name, cred) in [
        ("RSA-2048", &pki.senders[1].1),
        ("ECDSA P-256", &pki.senders[0].1),
    ] {
        let signed = sign_envelope(
            &envelope(&small_payload),
            &signer(cred),
            now,
            Duration::from_secs(300),
        )
        .expect("sign");
        let key = PublicKey::from_certificate(cred.cert_der()).expect("key");
        let ours = rate(|| verify_signature_only(&signed, &key));
        let file = dir.join("small.xml");
        std::fs::write(&file, &signed).expect("write");
        let pem = dir.join("signer.pem");
        std::fs::write(&pem, cred.cert_pem()).expect("pem");
        let out = Command::new(&python)
            .arg(&script)
            .arg(&file)
            .arg(&pem)
            .arg(MEASURE.as_secs().to_string())
            .output()
            .expect("python (make deps creates tests/.venv)");
        let theirs: f64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| {
                panic!(
                    "python-xmlsec loop failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        let ratio = ours / theirs;
        report(
            &mut lines,
            format!(
                "{name:<12} {} B envelope: ours {ours:>8.0}/s, libxmlsec1 {theirs:>8.0}/s: {ratio:.2} x (goal >= 3.00: {})",
                signed.len(),
                if ratio >= 3.0 { "meets" } else { "MISSES" }
            ),
        );
        let known = KnownCertificates::default();
        let full = rate(|| {
            let doc = parse(&signed, &Limits::default()).expect("parse");
            verify_envelope(
                &doc,
                now + Duration::from_secs(1),
                &WssPolicy::default(),
                &known,
                &trust,
            )
            .expect("valid");
        });
        report(
            &mut lines,
            format!("{name:<12} verify_envelope() with chain validation: {full:>8.0}/s"),
        );
    }

    // The same small envelope (ECDSA P-256 application) carrying an agent's assertion, signed
    // by an RSA-2048 identity provider: what the vector costs, as a ratio of the plain one.
    {
        let (app, idp) = (&pki.senders[0].1, &pki.senders[1].1);
        let audience = "urn:sealpost:bench";
        let assertion = format!(
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_bench\" Version=\"2.0\" IssueInstant=\"{t}\"><saml:Issuer>https://idp.bench</saml:Issuer><saml:Subject><saml:NameID>85073003328</saml:NameID><saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:sender-vouches\"/></saml:Subject><saml:Conditions NotBefore=\"{t}\" NotOnOrAfter=\"{e}\"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement><saml:Attribute Name=\"urn:sealpost:interops:pagm\"><saml:AttributeValue>tax-officer</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>",
            t = format_date_time(now),
            e = format_date_time(now + Duration::from_secs(300))
        );
        let assertion = sign_assertion(&assertion, &signer(idp)).expect("sign the assertion");
        let plain = sign_envelope(
            &envelope(&small_payload),
            &signer(app),
            now,
            Duration::from_secs(300),
        )
        .expect("sign");
        let with_vector = sign_envelope_with_assertion(
            &envelope(&small_payload),
            &signer(app),
            now,
            Duration::from_secs(300),
            &assertion,
            SamlBinding::SenderVouches,
        )
        .expect("sign");
        let identity = SamlTrust {
            policy: SamlPolicy {
                algorithms: AlgorithmPolicy::default(),
                audience: audience.into(),
                max_clock_skew: Duration::from_secs(300),
                max_age: Duration::from_secs(600),
            },
            providers: vec![
                IdentityProvider::new("https://idp.bench", &[idp.cert_der().to_vec()])
                    .expect("provider"),
            ],
        };
        let known = KnownCertificates::default();
        let at = now + Duration::from_secs(1);
        let check = |xml: &str| {
            let doc = parse(xml, &Limits::default()).expect("parse");
            verify_envelope_with(&doc, at, &WssPolicy::default(), &known, &trust, &identity)
                .expect("valid");
        };
        let base = rate(|| check(&plain));
        let vector = rate(|| check(&with_vector));
        report(
            &mut lines,
            format!(
                "ECDSA P-256  with a SAML 2.0 sender-vouches assertion ({} B): {vector:>8.0}/s, {:.2} x the plain envelope ({base:.0}/s)",
                with_vector.len(),
                vector / base
            ),
        );
    }

    // A 10 MiB base64 Body.
    let big_payload = "QUJD".repeat(10 * 1024 * 1024 / 4);
    let cred = &pki.senders[0].1;
    let signed = sign_envelope(
        &envelope(&big_payload),
        &signer(cred),
        now,
        Duration::from_secs(300),
    )
    .expect("sign");
    let mib = signed.len() as f64 / (1024.0 * 1024.0);
    let known = KnownCertificates::default();
    let verify_big = || {
        let doc = parse(&signed, &Limits::default()).expect("parse");
        verify_envelope(
            &doc,
            now + Duration::from_secs(1),
            &WssPolicy::default(),
            &known,
            &trust,
        )
        .expect("valid");
    };
    let start = Instant::now();
    let rounds = 10;
    for _ in 0..rounds {
        verify_big();
    }
    let ours = mib * f64::from(rounds) / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(digest::digest(&digest::SHA256, signed.as_bytes()));
    }
    let sha = mib * f64::from(rounds) / start.elapsed().as_secs_f64();
    report(
        &mut lines,
        format!(
            "{mib:.1} MiB envelope: verify {ours:>7.0} MiB/s, raw SHA-256 {sha:>7.0} MiB/s: {:.2} x (goal >= 0.50: {})",
            ours / sha,
            if ours / sha >= 0.5 { "meets" } else { "MISSES" }
        ),
    );
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    verify_big();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let factor = peak as f64 / signed.len() as f64;
    report(
        &mut lines,
        format!(
            "{mib:.1} MiB envelope: verification allocates at most {:.1} MiB: {factor:.2} x its size (goal <= 3.00: {})",
            peak as f64 / (1024.0 * 1024.0),
            if factor <= 3.0 { "meets" } else { "MISSES" }
        ),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("xmldsig.txt"), lines);
}

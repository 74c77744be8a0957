//! A TSA and its trust anchor, made once per fuzzing process.
#![allow(dead_code)] // each target uses part of it

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sealpost_pki::DevPki;
use sealpost_tsa::{EcdsaP256Signer, TrustStore};

pub struct Fixture {
    pub signer: EcdsaP256Signer,
    pub trust: TrustStore,
    pub now: SystemTime,
}

/// A trust anchor whose key nobody outside this process has.
pub fn fixture_root() -> Vec<u8> {
    static ROOT: OnceLock<Vec<u8>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        sealpost_pki::Authority::root("Fuzz Root", now, now + Duration::from_secs(86_400))
            .expect("root")
            .cert_der()
            .to_vec()
    })
    .clone()
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let pki = DevPki::generate(now).expect("pki");
        Fixture {
            signer: EcdsaP256Signer::new(
                &pki.tsa.key_pkcs8_der(),
                pki.tsa.cert_der(),
                &[pki.issuing.cert_der().to_vec()],
            )
            .expect("signer"),
            // With the TSA certificate, so that tokens issued without it verify too.
            trust: TrustStore::new([pki.root.cert_der().to_vec()])
                .with_certificates([pki.tsa.cert_der().to_vec(), pki.issuing.cert_der().to_vec()]),
            now,
        }
    })
}

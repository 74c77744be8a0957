//! Any bytes as the CRL a certificate's distribution point answered with (what the service's
//! fetcher reads from the network, `revocation.crl_distribution_points`): reading it never
//! panics, and it is never found signed by the development issuing CA (only that CA's key could
//! sign one), so it can never speak for that CA's certificates.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use der::Decode;
use libfuzzer_sys::fuzz_target;
use sealpost_pki::DevPki;
use sealpost_xmldsig::published_crl::PublishedCrl;
use x509_cert::Certificate;

fn issuer() -> &'static (Certificate, Certificate) {
    static ISSUER: OnceLock<(Certificate, Certificate)> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let pki = DevPki::generate(UNIX_EPOCH + Duration::from_secs(1_795_000_000)).expect("pki");
        let (_, sender) = &pki.senders[0];
        (
            Certificate::from_der(pki.issuing.cert_der()).expect("issuing CA"),
            Certificate::from_der(sender.cert_der()).expect("sender"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (issuer, sender) = issuer();
    if let Ok(crl) = PublishedCrl::parse("http://127.0.0.1:8889/issuing-ca.crl", data.to_vec()) {
        let _ = crl.issuer();
        let _ = crl.speaks_for(sender, false);
        assert!(crl.verify_signature(issuer).is_err(), "a CRL nobody here signed verified");
    }
});

//! Any bytes as an OCSP responder's answer to a request for a development sender's status,
//! and as an answer archived in an evidence (`verify_archived_response`, no nonce): the
//! verifier never panics and never finds a status (only the issuing CA or a responder it
//! delegated could have signed one, and the request's nonce is fresh).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealpost_pki::DevPki;
use sealpost_xmldsig::ocsp::{CertIdHash, ResponsePolicy, StatusRequest, verify_archived_response};

/// The request, and the sender's and the issuing CA's certificates.
fn request() -> &'static (StatusRequest, Vec<u8>, Vec<u8>) {
    static REQUEST: OnceLock<(StatusRequest, Vec<u8>, Vec<u8>)> = OnceLock::new();
    REQUEST.get_or_init(|| {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let pki = DevPki::generate(now).expect("pki");
        let (_, sender) = &pki.senders[0];
        (
            StatusRequest::new(sender.cert_der(), pki.issuing.cert_der(), CertIdHash::Sha1)
                .expect("request"),
            sender.cert_der().to_vec(),
            pki.issuing.cert_der().to_vec(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_000_100);
    let (request, sender, issuer) = request();
    assert!(
        request
            .verify_response(data, at, &ResponsePolicy::default())
            .is_err()
    );
    assert!(verify_archived_response(data, sender, issuer).is_err());
});

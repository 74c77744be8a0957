//! Any bytes as a signed SOAP envelope or signed document: verification never panics and
//! never accepts (no input here can carry a signature by a key the fixture trusts).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealpost_xmldsig::document::verify_enveloped;
use sealpost_xmldsig::dsig::AlgorithmPolicy;
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{KnownCertificates, WssPolicy, verify_envelope};
use sealpost_xmldsig::{Limits, parse};

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse(text, &Limits::default()) else {
        return;
    };
    let trust = TrustAnchors::new([common::fixture_root()]);
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    assert!(verify_envelope(&doc, now, &WssPolicy::default(), &KnownCertificates::default(), &trust).is_err());
    assert!(verify_enveloped(&doc, AlgorithmPolicy { allow_sha1: true }, &trust, now).is_err());
});

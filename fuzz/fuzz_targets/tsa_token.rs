//! Any bytes as a token or a response: verification never panics and never accepts them
//! (nothing but the fixture's TSA could have signed for its trust anchor).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_tsa::{Expected, verify_response, verify_token};

mod common;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let expected = Expected::sha256_of(b"fuzz");
    assert!(verify_token(data, &expected, &f.trust).is_err());
    let request = [0x30, 0x03, 0x02, 0x01, 0x01];
    assert!(verify_response(data, &request, &f.trust).is_err());
});

//! Any bytes as a TimeStampReq: issue() never panics, always answers a well-formed
//! TimeStampResp, and whatever it grants verifies against the request that produced it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_tsa::verify::granted_token;
use sealpost_tsa::{IssuePolicy, Outcome, VerifyError, issue, verify_response};

mod common;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let issued = issue(data, f.now, 1, &f.signer, &IssuePolicy::default());
    match issued.outcome {
        Outcome::Granted { .. } => {
            if let Err(e) = verify_response(&issued.response, data, &f.trust) {
                panic!("a granted token does not verify: {e}");
            }
        }
        Outcome::Rejected { failure, .. } => match granted_token(&issued.response) {
            Err(VerifyError::Rejected { failure: Some(read), .. }) => assert_eq!(read, failure),
            other => panic!("a rejection that does not read back: {other:?}"),
        },
    }
});

//! Any bytes as an audit export a court checks (`sealpost-verify --audit-export`): the strict
//! line reader and the nine steps never panic, and without a provider identity nothing is
//! ever VALID (who sealed cannot be decided).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_evidence::audit_export::AuditExportVerifier;
use sealpost_evidence::verify::{Policy, Verdict};

fuzz_target!(|data: &[u8]| {
    let verifier = AuditExportVerifier::new(Policy {
        anchors: Vec::new(),
        provider: None,
    });
    let report = verifier
        .verify(|| Ok(std::io::Cursor::new(data)))
        .expect("reading from memory does not fail");
    assert_ne!(report.verdict, Verdict::Valid, "valid without a provider");
});

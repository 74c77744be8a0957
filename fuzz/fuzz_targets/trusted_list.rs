//! Any bytes as a provider's trusted list (what a court passes to `sealpost-verify
//! --provider`): reading never panics, and a list that reads is written back and read again
//! as the same provider identity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_evidence::provider::Provider;

fuzz_target!(|data: &[u8]| {
    if let Ok(provider) = Provider::from_trusted_list(data) {
        let written = provider.to_trusted_list();
        let again = Provider::from_trusted_list(written.as_bytes()).expect("a written list reads");
        assert_eq!(again, provider, "a trusted list changed in a round trip");
    }
});

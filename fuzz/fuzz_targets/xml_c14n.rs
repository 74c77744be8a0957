//! Any bytes as XML: parsing under limits never panics; what parses canonicalizes (inclusive
//! and exclusive, with comments) into XML that parses again and canonicalizes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_xmldsig::c14n::{C14N_WITH_COMMENTS, Canonicalization, EXC_C14N_WITH_COMMENTS, canonicalize};
use sealpost_xmldsig::{Limits, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse(text, &Limits::default()) else {
        return;
    };
    for uri in [C14N_WITH_COMMENTS, EXC_C14N_WITH_COMMENTS] {
        let method = Canonicalization::from_uri(uri, Some("#default a")).expect("method");
        let once = canonicalize(doc.root(), &method, None);
        let once_text = String::from_utf8(once.clone()).expect("canonical XML is UTF-8");
        let again_doc = parse(&once_text, &Limits::default()).expect("canonical XML parses");
        let twice = canonicalize(again_doc.root(), &method, None);
        assert_eq!(once, twice, "canonicalization is not idempotent");
        // Every element subtree canonicalizes without panicking.
        for node in doc.descendants().filter(roxmltree::Node::is_element) {
            canonicalize(node, &method, None);
        }
    }
});

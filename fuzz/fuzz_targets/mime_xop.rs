//! Any bytes as an MTOM/XOP request: the Content-Type is one of a few that real clients send
//! (chosen by the first byte), or the input's first line. Reading the MIME body and the XOP
//! package never panics; every part lies between two delimiters and holds none; what is
//! reconstituted is no larger than the limit, parses as XML under the same limits and holds
//! no XOP element any more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost::adapters::mime::{MediaType, parse_multipart};
use sealpost::adapters::xop::{NS_XOP, announced_version, is_multipart_related, read_package};
use sealpost_xmldsig::{Limits, parse};

/// What Sealpost's own client, CXF, Axis2 and a client without `start` send.
const CONTENT_TYPES: [&str; 4] = [
    "multipart/related; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost; start=\"<root@sealpost.test>\"; start-info=\"text/xml\"",
    "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:4b3c1d2e-0000-4000-8000-000000000000\"; start=\"<root.message@cxf.apache.org>\"; start-info=\"text/xml\"",
    "multipart/related; boundary=MIMEBoundary_urn_uuid_1; type=\"application/xop+xml\"; start=\"<0.urn:uuid:2@apache.org>\"; start-info=\"application/soap+xml\"; action=\"urn:sealpost:v1:Submit\"",
    "multipart/related; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (content_type, body) = match CONTENT_TYPES.get(usize::from(selector) % 5) {
        Some(content_type) => (*content_type, rest),
        None => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let Ok(line) = std::str::from_utf8(&rest[..end]) else {
                return;
            };
            (line, rest.get(end + 1..).unwrap_or_default())
        }
    };
    is_multipart_related(content_type);
    announced_version(content_type);
    if let Some(boundary) = MediaType::parse(content_type)
        .ok()
        .and_then(|m| m.parameter("boundary").map(str::to_owned))
        && let Ok(parts) = parse_multipart(body, &boundary)
    {
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        for part in &parts {
            assert!(
                !part.body.windows(delimiter.len()).any(|w| w == delimiter),
                "a part holds a delimiter"
            );
        }
    }
    let Ok(package) = read_package(content_type, body) else {
        return;
    };
    package.version();
    // Small enough that the size limit is reached, as large as what is read.
    let limits = Limits {
        max_bytes: 64 * 1024,
        ..Limits::default()
    };
    let Ok(envelope) = package.reconstitute(&limits) else {
        return;
    };
    assert!(
        envelope.len() <= limits.max_bytes,
        "the envelope is too large"
    );
    let doc = parse(&envelope, &limits).expect("a reconstituted envelope parses");
    assert!(
        doc.descendants()
            .all(|n| n.tag_name().namespace() != Some(NS_XOP)),
        "an XOP element is left"
    );
});

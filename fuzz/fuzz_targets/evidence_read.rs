//! The evidence reader under attack. Two kinds of input:
//! - any bytes as an evidence (mode byte even);
//! - an edit of an evidence this target writes (mode byte odd): delete some bytes at an offset,
//!   insert others.
//!
//! Reading never panics, and every evidence read is written back by `to_xml` into a document
//! that reads as the same evidence (a round trip).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealpost_evidence::model::{
    Document, Event, Evidence, Issuer, Recipient, Sender, new_evidence_id, read,
};
use sealpost_xmldsig::{Limits, parse};

/// An evidence with every optional field and two documents (one without a time-stamp token),
/// written once (and read back).
fn written() -> &'static str {
    static XML: OnceLock<String> = OnceLock::new();
    XML.get_or_init(|| {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let document = |id: &str, byte: u8, token: bool| Document {
            id: id.into(),
            name: format!("letter <{id}> & \"annex\".pdf"),
            size: 1000,
            sha256: sealpost_evidence::model::Sha256([byte; 32]),
            time_stamp_token: token.then(|| vec![byte; 40]),
        };
        let evidence = Evidence {
            id: new_evidence_id(now),
            event: Event::ContentHandover,
            event_time: now,
            issuer: Issuer {
                name: "Sealpost".into(),
                policy_id: "urn:oid:0.4.0.2023.1.1".into(),
            },
            sender: Sender {
                subject: "CN=Sender A,O=Agency".into(),
                registry_id: "agency-a".into(),
                authentication: "WS-Security".into(),
            agent: None,
            },
            recipient: Recipient {
                id: "cbe:0203201340".into(),
                delegate: Some("Jan Peeters".into()),
                mandate: Some("mandate-1".into()),
            authentication: None,
            },
            submission_time: now - Duration::from_secs(3600),
            message_id: new_evidence_id(now),
            sender_reference: "REF-1".into(),
            subject: Some("pay 100 EUR".into()),
            documents: vec![document("d1", 7, true), document("d2", 0xa5, false)],
            reason: Some("none".into()),
            follows_from: Some(new_evidence_id(now)),
        };
        let xml = evidence.to_xml();
        assert_eq!(
            read_text(&xml),
            Some(evidence),
            "the written evidence reads"
        );
        xml
    })
}

fn read_text(text: &str) -> Option<Evidence> {
    let doc = parse(text, &Limits::default()).ok()?;
    read(doc.root_element()).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let edited;
    let input = if mode % 2 == 0 {
        rest
    } else {
        // An edit: offset (2 bytes), how many bytes to delete (1 byte), then the bytes to insert.
        let [a, b, delete, insert @ ..] = rest else {
            return;
        };
        let original = written().as_bytes();
        let at = usize::from(u16::from_be_bytes([*a, *b])) % (original.len() + 1);
        let end = (at + usize::from(*delete)).min(original.len());
        edited = [&original[..at], insert, &original[end..]].concat();
        &edited
    };
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Some(evidence) = read_text(text) else {
        return;
    };
    let again = evidence.to_xml();
    assert_eq!(
        read_text(&again).as_ref(),
        Some(&evidence),
        "an evidence read does not survive writing and reading again:\n{again}"
    );
});

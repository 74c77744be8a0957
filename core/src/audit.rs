//! The audit log's hash chain: each entry holds the hash of the previous one, and its own hash
//! covers its sequence number, that previous hash, the record and the SHA-256 of the signed
//! request. Changing, removing or reordering any entry breaks every hash after it.

use aws_lc_rs::digest;

use super::records::{AuditEntry, AuditRecord};

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub use sealpost_model::hex;

/// The bytes of a hex string (either case); `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// Chains `record` after the entry whose hash is `prev_hash`.
pub fn chain(seq: u64, prev_hash: &str, record: AuditRecord) -> AuditEntry {
    let request_sha256 = match &record.request_sha256 {
        Some(known) => known.hex(),
        None => sha256_hex(&record.request),
    };
    let mut entry = AuditEntry {
        seq,
        prev_hash: prev_hash.to_owned(),
        record,
        request_sha256,
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry);
    entry
}

/// The domain tag that begins every entry's canonical encoding (and names its version).
pub const ENCODING_TAG: &[u8] = b"sealpost-audit-entry-1";

/// The canonical encoding an entry's hash is taken over, which a court can re-derive from an
/// exported entry with any tool: the tag [`ENCODING_TAG`], then each field in this order, each
/// as an 8-byte big-endian length followed by its UTF-8 bytes: seq (decimal), prev_hash,
/// time (decimal Unix seconds), correlation_id, channel (`soap`, `grpc`, `admin`, `mailbox`,
/// `tsa`), operation, identity, outcome, code, kind (the error kind's name), detail,
/// message_id, request_sha256 (hex). An absent optional field (code, kind, message_id) is the
/// length 2^64 - 1 with no bytes, so it differs from an empty one.
pub fn canonical_encoding(entry: &AuditEntry) -> Vec<u8> {
    let r = &entry.record;
    let mut out = Vec::with_capacity(512 + r.detail.len());
    out.extend_from_slice(ENCODING_TAG);
    let mut field = |value: Option<&str>| match value {
        Some(text) => {
            out.extend_from_slice(&(text.len() as u64).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        None => out.extend_from_slice(&u64::MAX.to_be_bytes()),
    };
    field(Some(&entry.seq.to_string()));
    field(Some(&entry.prev_hash));
    field(Some(&r.time.to_string()));
    field(Some(&r.correlation_id));
    field(Some(r.channel.name()));
    field(Some(&r.operation));
    field(Some(&r.identity));
    field(Some(&r.outcome));
    field(r.code.as_deref());
    field(r.kind.map(|k| k.name()));
    field(Some(&r.detail));
    field(r.message_id.as_deref());
    field(Some(&entry.request_sha256));
    out
}

/// The hash an entry must carry: SHA-256 of its [`canonical_encoding`] (every field but the
/// hash; the request is named by its digest).
pub fn entry_hash(entry: &AuditEntry) -> String {
    sha256_hex(&canonical_encoding(entry))
}

/// A break in the chain.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("entry {seq}: expected sequence number {expected}")]
    Sequence { seq: u64, expected: u64 },
    #[error("entry {0}: its previous hash is not the hash of the entry before it")]
    Link(u64),
    #[error("entry {0}: its hash does not match its content")]
    Hash(u64),
    #[error("entry {0}: the stored request is not the one the entry names")]
    Request(u64),
}

/// Checks entries in order, from the start of the log; `request` gives each stored request.
pub fn verify_chain(
    entries: impl IntoIterator<Item = (AuditEntry, Vec<u8>)>,
) -> Result<(u64, String), ChainError> {
    verify_chain_from((0, GENESIS.to_owned()), entries)
}

/// Checks entries that follow `anchor` (the sequence number and hash of the last entry
/// purged, or `(0, GENESIS)`); the last sequence number and hash.
pub fn verify_chain_from(
    anchor: (u64, String),
    entries: impl IntoIterator<Item = (AuditEntry, Vec<u8>)>,
) -> Result<(u64, String), ChainError> {
    let (start, mut prev) = anchor;
    let mut expected_seq = start + 1;
    for (entry, request) in entries {
        if entry.seq != expected_seq {
            return Err(ChainError::Sequence {
                seq: entry.seq,
                expected: expected_seq,
            });
        }
        if entry.prev_hash != prev {
            return Err(ChainError::Link(entry.seq));
        }
        if entry_hash(&entry) != entry.hash {
            return Err(ChainError::Hash(entry.seq));
        }
        if sha256_hex(&request) != entry.request_sha256 {
            return Err(ChainError::Request(entry.seq));
        }
        prev = entry.hash.clone();
        expected_seq += 1;
    }
    Ok((expected_seq - 1, prev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::records::Channel;
    use std::sync::Arc;

    #[test]
    fn the_canonical_encoding_is_the_documented_one() {
        let mut r = record(1);
        r.code = Some("SEALPOST-REQ-001".into());
        r.kind = Some(ErrorKind::InvalidRequest);
        let e = chain(7, GENESIS, r);
        let field = |t: &str| [&(t.len() as u64).to_be_bytes()[..], t.as_bytes()].concat();
        let mut expected = ENCODING_TAG.to_vec();
        for t in [
            "7",
            GENESIS,
            "1700000001",
            "c1",
            "soap",
            "SubmitRegisteredMail",
            "agency-a",
            "accepted",
            "SEALPOST-REQ-001",
            "InvalidRequest",
            "",
        ] {
            expected.extend(field(t));
        }
        expected.extend(u64::MAX.to_be_bytes());
        expected.extend(field(&sha256_hex(b"<request 1/>")));
        assert_eq!(canonical_encoding(&e), expected);
        assert_eq!(e.hash, sha256_hex(&expected));
        // An absent message id is not an empty one.
        let mut empty = e.clone();
        empty.record.message_id = Some(String::new());
        assert_ne!(entry_hash(&empty), e.hash);
    }

    fn record(n: u64) -> AuditRecord {
        AuditRecord {
            time: 1_700_000_000 + n,
            correlation_id: format!("c{n}"),
            channel: Channel::Soap,
            operation: "SubmitRegisteredMail".into(),
            identity: "agency-a".into(),
            outcome: "accepted".into(),
            code: None,
            kind: None,
            detail: String::new(),
            message_id: None,
            request: Arc::new(format!("<request {n}/>").into_bytes()),
            request_sha256: None,
        }
    }

    #[test]
    fn a_chain_purged_up_to_an_anchor_verifies_from_it_and_only_from_it() {
        let mut entries = Vec::new();
        let mut prev = GENESIS.to_owned();
        for n in 1..=5 {
            let e = chain(n, &prev, record(n));
            prev = e.hash.clone();
            let request = e.record.request.as_ref().clone();
            entries.push((e, request));
        }
        let anchor = (2, entries[1].0.hash.clone());
        let rest = entries[2..].to_vec();
        assert_eq!(
            verify_chain_from(anchor.clone(), rest.clone()).map(|(n, _)| n),
            Ok(5)
        );
        assert_eq!(
            verify_chain_from((2, GENESIS.to_owned()), rest.clone()),
            Err(ChainError::Link(3))
        );
        assert_eq!(
            verify_chain(rest),
            Err(ChainError::Sequence {
                seq: 3,
                expected: 1
            })
        );
    }

    #[test]
    fn any_change_breaks_the_chain_at_the_entry_changed() {
        let mut entries = Vec::new();
        let mut prev = GENESIS.to_owned();
        for n in 1..=4 {
            let e = chain(n, &prev, record(n));
            prev = e.hash.clone();
            let request = e.record.request.as_ref().clone();
            entries.push((e, request));
        }
        assert_eq!(verify_chain(entries.clone()).map(|(n, _)| n), Ok(4));

        let mut edited = entries.clone();
        edited[1].0.record.outcome = "refused".into();
        assert_eq!(verify_chain(edited), Err(ChainError::Hash(2)));

        let mut swapped_request = entries.clone();
        swapped_request[2].1 = b"<another/>".to_vec();
        assert_eq!(verify_chain(swapped_request), Err(ChainError::Request(3)));

        let mut removed = entries.clone();
        removed.remove(1);
        assert!(matches!(
            verify_chain(removed),
            Err(ChainError::Sequence { seq: 3, .. })
        ));

        // Re-hashing an edited entry does not help: the next one no longer links to it.
        let mut rehashed = entries;
        rehashed[0].0.record.identity = "agency-b".into();
        rehashed[0].0.hash = entry_hash(&rehashed[0].0);
        assert_eq!(verify_chain(rehashed), Err(ChainError::Link(2)));
    }
}

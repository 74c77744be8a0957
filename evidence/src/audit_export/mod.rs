//! The audit export a third party verifies offline: `sealpost-audit-export-1`, JSON Lines
//! (docs/audit-export.md).
//!
//! 1. a header: the format, the provider, when it was exported, the range of sequence numbers
//!    and the anchor the chain continues from (the entry just before the first one exported);
//! 2. one line per entry, in sequence order, contiguous: the stored entry and its signed
//!    request in base64;
//! 3. one line per seal of the log's head within the range: the RFC 3161 token over that
//!    entry's hash;
//! 4. a trailer: how many entries, and the head (the last one), so that a cut file is seen.
//!
//! [`ExportWriter`] writes it and refuses to write anything else (a gap, an entry out of the
//! range, a seal out of order, a file without its trailer); [`verify`] is the court's check.

use std::io::Write;
use std::time::SystemTime;

use sealpost_core::records::{AuditEntry, AuditSeal};
use serde::{Deserialize, Serialize};

mod strict_json;
pub mod verify;

pub use verify::{AuditExportVerifier, AuditReport, LineFailure, VerifiedSeal};

/// The format's name and version, the header's `format`.
pub const FORMAT: &str = "sealpost-audit-export-1";
/// The same format, its seals counter-stamped by a second TSA (`counter_token_base64`).
pub const FORMAT_COUNTER_STAMPED: &str = "sealpost-audit-export-2";

/// The first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// The provider's name (`seal.issuer_name`, the trusted list's `tl:TSPName`).
    pub provider: String,
    /// xsd:dateTime, UTC: when the export was written (the exporter's statement, not sealed).
    pub exported_at: String,
    /// The first entry exported: `anchor.seq + 1`.
    pub from_seq: u64,
    /// The last entry exported (`from_seq - 1` when the export holds none).
    pub to_seq: u64,
    /// The entry the first exported one links to: the last one purged, or (0, the genesis
    /// hash) when nothing was, or the entry before the first exported one. `null` only when
    /// an exporter cannot name it (Sealpost always does); the first link is then not checked.
    pub anchor: Option<Anchor>,
}

/// An entry named by its sequence number and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: u64,
    /// Hex SHA-256, lower case.
    pub hash: String,
}

/// An entry line: the stored entry, and its signed request as received.
#[derive(Serialize)]
struct EntryLine<'a> {
    #[serde(flatten)]
    entry: &'a AuditEntry,
    /// Standard base64 (RFC 4648, with padding, no line breaks).
    request_base64: String,
}

/// The fields of an entry line, in the order they are written.
pub const ENTRY_FIELDS: [&str; 15] = [
    "seq",
    "prev_hash",
    "time",
    "correlation_id",
    "channel",
    "operation",
    "identity",
    "outcome",
    "code",
    "kind",
    "detail",
    "message_id",
    "request_sha256",
    "hash",
    "request_base64",
];

/// A seal line: `{"seal":{...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealLine {
    pub seal: Seal,
}

/// A seal of the log's head, as stored (`AuditSeal`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The entry sealed.
    pub seq: u64,
    /// Its hash, which the token's message imprint is (SHA-256).
    pub hash: String,
    /// The RFC 3161 TimeStampToken (DER), standard base64.
    pub token_base64: String,
    /// Unix seconds, the service's statement (the token's genTime is what counts).
    pub sealed_at: u64,
    /// [`FORMAT_COUNTER_STAMPED`] only: a second, independent TSA's token over the same hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_token_base64: Option<String>,
}

/// The last line: `{"end":{...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndLine {
    pub end: End,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    /// How many entry lines.
    pub entries: u64,
    /// The last entry's sequence number and hash (the anchor's when there is no entry).
    pub head_seq: u64,
    pub head_hash: String,
}

/// Standard base64 with padding, no line breaks.
pub(crate) fn base64(bytes: &[u8]) -> String {
    <base64ct::Base64 as base64ct::Encoding>::encode_string(bytes)
}

/// Standard base64, read strictly: padding as written, no whitespace, no other alphabet.
pub(crate) fn unbase64(text: &str) -> Option<Vec<u8>> {
    <base64ct::Base64 as base64ct::Encoding>::decode_vec(text).ok()
}

/// Why an export could not be written as the format requires.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the export: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the export ends at entry {to_seq}, before its anchor {anchor}")]
    Range { anchor: u64, to_seq: u64 },
    #[error(
        "entry {seq} where entry {expected} must come: the exported entries must be contiguous (was the log purged meanwhile?)"
    )]
    NotContiguous { seq: u64, expected: u64 },
    #[error("entry {seq} is after the seals, or past the export's last entry {to_seq}")]
    PastEnd { seq: u64, to_seq: u64 },
    #[error(
        "the seal of entry {seq}: seals come after every entry, in sequence order, within the entries exported (and a counter-stamped seal only in an export started counter-stamped)"
    )]
    Seal { seq: u64 },
    #[error("the export stops after entry {written}, before its last entry {to_seq}")]
    Short { written: u64, to_seq: u64 },
}

/// Writes one export, line by line, holding only the head it has reached: memory does not
/// grow with the log.
#[derive(Debug)]
pub struct ExportWriter<W: Write> {
    out: W,
    to_seq: u64,
    from_seq: u64,
    /// The last entry written (the anchor before the first).
    head: Anchor,
    entries: u64,
    last_seal: Option<u64>,
    /// Of [`FORMAT_COUNTER_STAMPED`]: its seals may carry a counter-stamp.
    counter_stamped: bool,
}

impl<W: Write> ExportWriter<W> {
    /// Writes the header of an export of the entries after `anchor` up to `to_seq`.
    pub fn start(
        out: W,
        provider: &str,
        exported_at: SystemTime,
        anchor: Anchor,
        to_seq: u64,
    ) -> Result<Self, ExportError> {
        Self::start_as(out, FORMAT, provider, exported_at, anchor, to_seq)
    }

    /// [`ExportWriter::start`], for seals counter-stamped by a second TSA: the export is of
    /// [`FORMAT_COUNTER_STAMPED`] (a seal without a counter-stamp is still written as it is).
    pub fn start_counter_stamped(
        out: W,
        provider: &str,
        exported_at: SystemTime,
        anchor: Anchor,
        to_seq: u64,
    ) -> Result<Self, ExportError> {
        Self::start_as(
            out,
            FORMAT_COUNTER_STAMPED,
            provider,
            exported_at,
            anchor,
            to_seq,
        )
    }

    fn start_as(
        mut out: W,
        format: &str,
        provider: &str,
        exported_at: SystemTime,
        anchor: Anchor,
        to_seq: u64,
    ) -> Result<Self, ExportError> {
        if to_seq < anchor.seq {
            return Err(ExportError::Range {
                anchor: anchor.seq,
                to_seq,
            });
        }
        let header = Header {
            format: format.to_owned(),
            provider: provider.to_owned(),
            exported_at: sealpost_model::format_date_time(exported_at),
            from_seq: anchor.seq + 1,
            to_seq,
            anchor: Some(anchor.clone()),
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(ExportWriter {
            out,
            to_seq,
            from_seq: header.from_seq,
            head: anchor,
            entries: 0,
            last_seal: None,
            counter_stamped: format == FORMAT_COUNTER_STAMPED,
        })
    }

    /// The next entry, with its stored request.
    pub fn entry(&mut self, entry: &AuditEntry, request: &[u8]) -> Result<(), ExportError> {
        if entry.seq > self.to_seq || self.last_seal.is_some() {
            return Err(ExportError::PastEnd {
                seq: entry.seq,
                to_seq: self.to_seq,
            });
        }
        if entry.seq != self.head.seq + 1 {
            return Err(ExportError::NotContiguous {
                seq: entry.seq,
                expected: self.head.seq + 1,
            });
        }
        serde_json::to_writer(
            &mut self.out,
            &EntryLine {
                entry,
                request_base64: base64(request),
            },
        )?;
        self.out.write_all(b"\n")?;
        self.head = Anchor {
            seq: entry.seq,
            hash: entry.hash.clone(),
        };
        self.entries += 1;
        Ok(())
    }

    /// The next seal, once every entry is written; in sequence order.
    pub fn seal(&mut self, seal: &AuditSeal) -> Result<(), ExportError> {
        if self.head.seq != self.to_seq {
            return Err(ExportError::Short {
                written: self.head.seq,
                to_seq: self.to_seq,
            });
        }
        if seal.seq < self.from_seq
            || seal.seq > self.to_seq
            || self.last_seal.is_some_and(|last| seal.seq <= last)
            || (seal.counter_token.is_some() && !self.counter_stamped)
        {
            return Err(ExportError::Seal { seq: seal.seq });
        }
        serde_json::to_writer(
            &mut self.out,
            &SealLine {
                seal: Seal {
                    seq: seal.seq,
                    hash: seal.hash.clone(),
                    token_base64: seal.token.clone(),
                    sealed_at: seal.sealed_at,
                    counter_token_base64: seal.counter_token.clone(),
                },
            },
        )?;
        self.out.write_all(b"\n")?;
        self.last_seal = Some(seal.seq);
        Ok(())
    }

    /// Writes the trailer and flushes; the output and what the trailer says.
    pub fn finish(mut self) -> Result<(W, End), ExportError> {
        if self.head.seq != self.to_seq {
            return Err(ExportError::Short {
                written: self.head.seq,
                to_seq: self.to_seq,
            });
        }
        let end = End {
            entries: self.entries,
            head_seq: self.head.seq,
            head_hash: self.head.hash,
        };
        serde_json::to_writer(&mut self.out, &EndLine { end: end.clone() })?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok((self.out, end))
    }
}

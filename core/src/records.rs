//! What the service stores: senders, mailboxes, messages, evidences, audit entries.

use std::sync::Arc;

use sealpost_model::Sha256;
use serde::{Deserialize, Serialize};

use super::error::ErrorKind;
use super::ids::RecipientKind;

/// A sender organisation in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRegistration {
    /// The registry identity, e.g. `agency-a`.
    pub id: String,
    pub name: String,
    /// SHA-256 (hex) of each certificate that authenticates as this sender.
    pub certificates: Vec<String>,
    /// The message types it may send.
    pub message_types: Vec<String>,
    /// The kinds of recipient it may send to.
    pub recipient_kinds: Vec<RecipientKind>,
    pub active: bool,
    /// The identity providers (entity ids) that vouch for its agents. When there is any,
    /// every request of this sender carries an identification vector of one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_providers: Vec<String>,
    /// What each PAGM profile lets an agent send (a request with a vector needs a profile of
    /// the agent's that grants its message type to its kind of recipient).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pagm: Vec<PagmGrant>,
    /// The least authentication level of the agent a message type needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minimum_levels: Vec<MinimumLevel>,
}

/// What a PAGM profile (the client organisation's access-management profile) lets its
/// holders send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagmGrant {
    pub profile: String,
    pub message_types: Vec<String>,
    pub recipient_kinds: Vec<RecipientKind>,
}

/// The least authentication level (as the identity provider states it, a number) an agent
/// needs to send a message type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumLevel {
    pub message_type: String,
    pub level: u8,
}

/// A mailbox of the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// `nrn:…` or `cbe:…`.
    pub id: String,
    pub display_name: String,
    pub active: bool,
    /// Unix seconds.
    pub created_at: u64,
    /// Since when (Unix seconds) its owner refuses electronic delivery: letters for it are
    /// refused with RecipientRefused and a sealed rejection saying so, and senders use paper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_at: Option<u64>,
}

/// One read of a letter, in its access journal: the recipient (or the company's
/// mandataries) see who read what of it, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRecord {
    pub message_id: String,
    /// Unix seconds.
    pub at: u64,
    /// The person, as the audit log names them (and the mandate they read under).
    pub who: String,
    /// What they read: "the letter", "document 0", "evidence 2".
    pub what: String,
}

/// The state of a delivered message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageState {
    Delivered,
    Opened,
}

impl MessageState {
    pub fn name(self) -> &'static str {
        match self {
            MessageState::Delivered => "Delivered",
            MessageState::Opened => "Opened",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMeta {
    /// The sender's document id.
    pub id: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// Hex in the stored record.
    pub sha256: Sha256,
    /// The RFC 3161 token (DER) over the document's SHA-256, issued when the letter was
    /// submitted: every evidence of the message carries this one, so each document token
    /// agrees with the evidence's SubmissionTime. Hex in the stored record.
    #[serde(with = "hex_bytes")]
    pub time_stamp_token: Vec<u8>,
}

/// Bytes as a hex string in the stored JSON.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::audit::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::audit::unhex(&text).ok_or_else(|| D::Error::custom("not hex"))
    }
}

/// An accepted message, delivered into a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Sealpost's message id (UUIDv7 URN).
    pub id: String,
    pub sender_id: String,
    pub recipient: String,
    pub message_type: String,
    pub subject: String,
    pub sender_reference: String,
    pub documents: Vec<DocumentMeta>,
    /// Unix seconds.
    pub submitted_at: u64,
    pub state: MessageState,
    pub idempotency_key: String,
    /// The subject of the certificate the sender authenticated with, and how (repeated in
    /// later evidences of the message).
    #[serde(default)]
    pub sender_subject: String,
    #[serde(default)]
    pub sender_authentication: String,
    /// The acceptance evidence, which later evidences follow from.
    #[serde(default)]
    pub acceptance_id: String,
    /// The agent who acted for the sender (from the submission's identification vector),
    /// repeated in later evidences of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_agent: Option<sealpost_model::Agent>,
}

/// The identification vector that came with a request, archived beside its audit entry
/// (`RecordKind::Vector`, by the request's correlation id): which agent made which request,
/// under which PAGM profiles, and the SAML assertion that said so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorRecord {
    pub correlation_id: String,
    /// Unix seconds.
    pub time: u64,
    pub operation: String,
    /// The audit entry's identity, outcome and code, and the message it concerns.
    pub identity: String,
    pub outcome: String,
    pub code: Option<String>,
    pub message_id: Option<String>,
    pub agent: sealpost_model::Agent,
    pub organisation: Option<String>,
    pub authentication_context: Option<String>,
    /// The token in words ("SAML 2.0 holder-of-key").
    pub token: String,
    /// The assertion in Exclusive C14N (UTF-8 XML), its signature included.
    pub assertion: String,
}

/// A sealed evidence, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub id: String,
    pub message_id: String,
    /// The ETSI event name, e.g. `SubmissionAcceptance`.
    pub event: String,
    /// Who may have it back: the sender that submitted the message.
    pub sender_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The sealed evidence document, byte for byte, as first sealed: never changed.
    pub xml: String,
    /// Its current form once archived (XAdES B-LTA: the sealed document with archive
    /// time-stamps appended, its sealed bytes unchanged), which the stores keep apart (an
    /// [`ArchivedEvidence`] record, `RecordKind::EvidenceArchive`) and fill in on reading;
    /// `None`: never archived.
    #[serde(default, skip_serializing)]
    pub archived: Option<String>,
}

impl EvidenceRecord {
    /// The evidence as it is served (every route that hands one out): its archived form
    /// when there is one, else as sealed.
    pub fn current(&self) -> &str {
        self.archived.as_deref().unwrap_or(&self.xml)
    }

    /// [`EvidenceRecord::current`], owned.
    pub fn into_current(self) -> String {
        self.archived.unwrap_or(self.xml)
    }
}

/// The current form of an archived evidence (`RecordKind::EvidenceArchive`, keyed by the
/// evidence's id): replaced at each new archive time-stamp, with the audit entry that says so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedEvidence {
    /// The evidence with its archive time-stamps.
    pub xml: String,
    /// Unix seconds: when the last archive time-stamp was added.
    pub archived_at: u64,
}

/// A recipient to tell that a letter arrived: written in the commit that delivers it (the
/// outbox), so a notice exists exactly when the letter does; removed once told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Time-ordered (UUIDv7), so the oldest are told first.
    pub id: String,
    /// The mailbox delivered into (`nrn:…` or `cbe:…`).
    pub mailbox: String,
    pub message_id: String,
    /// The sender organisation's registry id.
    pub sender_id: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// What an idempotency key was used for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Hex SHA-256 of the submission's content (see `core::content_hash`).
    pub content_hash: String,
    pub message_id: String,
    /// The evidence returned for it (SubmissionAcceptance).
    pub evidence_id: String,
}

/// The channel a request came by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Soap,
    Grpc,
    Admin,
    /// The mailbox web UI (logins, openings, mandates).
    Mailbox,
    /// `POST /tsa` on the service port, for registered senders.
    Tsa,
}

impl Channel {
    /// Its name in stored records and in the audit entry's canonical encoding.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Soap => "soap",
            Channel::Grpc => "grpc",
            Channel::Admin => "admin",
            Channel::Mailbox => "mailbox",
            Channel::Tsa => "tsa",
        }
    }
}

/// One request, as the audit log records it (before it is chained).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unix seconds.
    pub time: u64,
    pub correlation_id: String,
    pub channel: Channel,
    pub operation: String,
    /// The authenticated identity (registry id and certificate subject), or what was claimed.
    pub identity: String,
    /// `accepted` or `refused`.
    pub outcome: String,
    /// The error table's code when refused.
    pub code: Option<String>,
    pub kind: Option<ErrorKind>,
    /// What went wrong, in full (never sent to the caller).
    pub detail: String,
    pub message_id: Option<String>,
    /// The request as received, signature included.
    #[serde(skip)]
    pub request: Arc<Vec<u8>>,
    /// Its SHA-256 when already known (computed where the request is handled, so the store's
    /// single writer does not hash it again); `None`: computed when chained.
    #[serde(skip)]
    pub request_sha256: Option<Sha256>,
}

/// An entry of the hash-chained audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    #[serde(flatten)]
    pub record: AuditRecord,
    /// Hex SHA-256 of the signed request as received.
    pub request_sha256: String,
    /// Hex SHA-256 over this entry's chained form (see `audit::entry_hash`).
    pub hash: String,
}

/// A periodic seal of the audit log's head: an RFC 3161 token over the head entry's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSeal {
    pub seq: u64,
    pub hash: String,
    /// DER, base64 in JSON.
    pub token: String,
    pub sealed_at: u64,
    /// The counter-stamp of a second, independent TSA over the same hash (DER, base64), when
    /// the operator has one (`tsa.counter_stamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_token: Option<String>,
}

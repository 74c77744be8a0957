//! A request as the channels give it to the core, and the answers they get back.

use std::sync::Arc;
use std::time::SystemTime;

use sealpost_model::Sha256;

use crate::error::ErrorKind;
use crate::ports::SeenRequest;
use crate::records::{Channel, MessageState};

/// One request, as received.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub correlation_id: String,
    pub channel: Channel,
    pub operation: &'static str,
    /// The request as received, signature included (kept in the audit log).
    pub request: Arc<Vec<u8>>,
    /// Set once by the channel when it has verified the request's signature: the request's
    /// mark, committed with its audit entry; the same mark twice is a replay.
    pub seen: Option<SeenRequest>,
}

/// A certificate whose signature over the request, and whose path to a trust anchor, the
/// channel's adapter has verified.
#[derive(Clone, Debug)]
pub struct VerifiedSigner {
    pub certificate_sha256: Sha256,
    /// RFC 4514.
    pub subject: String,
    /// How it was authenticated, in words, for the evidence.
    pub authentication: String,
}

/// A document as submitted, hashed by the adapter as it was decoded.
#[derive(Clone, Debug)]
pub struct SubmittedDocument {
    pub id: String,
    pub name: String,
    pub media_type: String,
    /// The hex SHA-256 the sender declared.
    pub declared_sha256: String,
    pub sha256: Sha256,
    /// Shared, not copied, with what is committed.
    pub content: Arc<Vec<u8>>,
}

#[derive(Clone, Debug, Default)]
pub struct Submission {
    pub idempotency_key: String,
    pub recipient: String,
    pub message_type: String,
    pub subject: String,
    pub sender_reference: String,
    pub documents: Vec<SubmittedDocument>,
}

/// The answer to an accepted submission: the proof of dispatch.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub message_id: String,
    pub evidence: String,
    /// True when this is the answer to an earlier submission with the same key.
    pub replayed: bool,
}

/// A refusal: the row of the error table, and the sealed SubmissionRejection if there is one.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub kind: ErrorKind,
    pub correlation_id: String,
    /// The sealed SubmissionRejection.
    pub evidence: Option<String>,
    /// The message id the rejection is filed under (GetEvidence serves it again).
    pub message_id: Option<String>,
}

/// The state of a message, for its sender.
#[derive(Clone, Debug)]
pub struct MessageStatus {
    pub message_id: String,
    pub state: MessageState,
    pub recipient: String,
    pub submitted_at: SystemTime,
    pub evidences: usize,
}

/// Limits on what one submission may carry.
#[derive(Clone, Copy, Debug)]
pub struct SubmissionLimits {
    pub max_documents: usize,
    pub max_document_bytes: u64,
}

impl Default for SubmissionLimits {
    fn default() -> Self {
        SubmissionLimits {
            max_documents: 16,
            max_document_bytes: 100 * 1024 * 1024,
        }
    }
}

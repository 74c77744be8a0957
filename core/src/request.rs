//! A request as the channels give it to the core, and the answers they get back.

use std::sync::Arc;
use std::time::SystemTime;

use sealpost_model::{Agent, Sha256};

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
    /// Set by the channel when the request carried an identification vector it verified (a
    /// SAML assertion bound to the request's signature): archived with the request's audit
    /// entry, and used once (a second request with the same assertion is a replay).
    pub vector: Option<Arc<IdentificationVector>>,
}

impl RequestContext {
    /// The marks the request's commit writes (and a replay is found by): its signed content,
    /// and the assertion of its identification vector.
    pub fn marks(&self) -> Vec<SeenRequest> {
        let mut marks: Vec<SeenRequest> = self.seen.into_iter().collect();
        if let (Some(seen), Some(vector)) = (&self.seen, &self.vector) {
            marks.push(SeenRequest {
                signed_sha256: vector.mark(),
                seen_at: seen.seen_at,
                until: crate::unix(vector.presentable_until).max(seen.seen_at),
            });
        }
        marks
    }
}

/// The identification vector (INTEROPS): the natural person behind a sender organisation's
/// request, as the organisation's identity provider vouched in a signed SAML assertion that
/// the channel verified (the provider's signature, the conditions, the binding to the
/// request's signer). Every value comes from the signed assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentificationVector {
    /// The agent, as the evidences name them.
    pub agent: Agent,
    /// The organisation the provider says the agent acts for, if it says.
    pub organisation: Option<String>,
    /// How the provider authenticated the agent (AuthnContextClassRef), if it says.
    pub authentication_context: Option<String>,
    /// The assertion's version and confirmation method, in words ("SAML 2.0 holder-of-key").
    pub token: String,
    /// Until when the assertion could be presented at all (its mark is kept until then).
    pub presentable_until: SystemTime,
    /// The assertion in Exclusive C14N, its signature included: archived with the request.
    pub assertion: Arc<Vec<u8>>,
}

impl IdentificationVector {
    /// The assertion's mark: its issuer and ID (an assertion is used for one request).
    pub fn mark(&self) -> Sha256 {
        let mut named = b"sealpost-saml-assertion\0".to_vec();
        for part in [&self.agent.identity_provider, &self.agent.assertion_id] {
            named.extend_from_slice(&(part.len() as u64).to_be_bytes());
            named.extend_from_slice(part.as_bytes());
        }
        Sha256::of(&named)
    }

    /// The authentication level as a number, when the provider stated one.
    pub fn level(&self) -> Option<u8> {
        self.agent
            .authentication_level
            .as_deref()
            .and_then(|l| l.trim().parse().ok())
    }

    /// How the audit log names the agent.
    pub fn in_words(&self) -> String {
        format!(
            "agent {} (PAGM {}; level {}; {} assertion {} of {})",
            self.agent.id,
            if self.agent.profiles.is_empty() {
                "none".to_owned()
            } else {
                self.agent.profiles.join(", ")
            },
            self.agent
                .authentication_level
                .as_deref()
                .unwrap_or("not stated"),
            self.token,
            self.agent.assertion_id,
            self.agent.identity_provider,
        )
    }
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

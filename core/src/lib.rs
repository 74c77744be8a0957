//! The pure pipeline of the service: checks, decisions, evidence contents. It sees ports
//! (traits) and no runtime, web, database or XML crate; the adapters implement the ports.
//!
//! A submission, once its signature is verified by the channel's adapter:
//! 1. authenticate: the signer's certificate is registered to an active sender;
//! 2. validate: the request is well formed (recipient identifier, declared digests);
//! 3. authorize: the sender may send this message type to this kind of recipient;
//! 4. check: each document's SHA-256 equals the digest the sender declared;
//! 5. idempotency: a known key with the same content returns the original evidence;
//! 6. route: the recipient has an active mailbox;
//! 7. timestamp each document digest, seal SubmissionAcceptance and ContentConsignment;
//! 8. commit documents, message, mailbox entry, evidences and the audit entry in one
//!    transaction. Nothing reaches the caller before that commit is durable.
//!
//! A refused request gets its audit entry and, once the sender is authenticated, a sealed
//! SubmissionRejection evidence. If the audit entry cannot be written, the answer is
//! ServiceUnavailable.
//!
//! Replay: a signed request is named by what its signature covers ([`SeenRequest`]); the
//! channel puts that mark in the [`RequestContext`]. The mark is written in the same commit as
//! the request's audit entry (except when the answer is ServiceUnavailable: nothing is
//! accepted then, and a retry must work), and the store refuses that commit atomically when it
//! already holds the same mark unexpired (`Committed::Replayed`). Either way, and when a
//! cheap read finds the mark before any work, the answer is `Service::refuse_replay`'s:
//! Expired ("replayed"), audited, no evidence. So the same signed content never makes two
//! letters, whatever its signature value, also across a restart.

pub mod audit;
pub mod error;
pub mod ids;
pub mod records;
pub mod time_stamping;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use sealpost_model::{
    Document, Event, Evidence, Issuer, Recipient, Sender, UNIDENTIFIED_RECIPIENT, new_evidence_id,
};

pub use error::ErrorKind;
use ids::RecipientId;
use records::{
    AuditRecord, Channel, DocumentMeta, EvidenceRecord, IdempotencyRecord, Mailbox, MessageRecord,
    MessageState, SenderRegistration,
};

/// The time, injected.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the clock every other part is given"
    )]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Time-stamps digests and seals evidences.
pub trait Notary: Send + Sync {
    /// An RFC 3161 token over a SHA-256 digest.
    fn timestamp(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, String>;
    /// The sealed evidence document.
    fn seal(&self, evidence: &Evidence) -> Result<String, String>;
    /// The evidence issuer (name and policy).
    fn issuer(&self) -> Issuer;
}

/// Why the store did not do what was asked. Every kind leaves nothing half-written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// It cannot be reached or cannot write now (I/O, a lost connection, a full disk): the
    /// same request may succeed later.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The request contradicts what is stored (a record to replace that is not there, a
    /// certificate registered to another sender).
    #[error("the store refused a conflicting change: {0}")]
    Conflict(String),
    /// What is stored is not what was written (a digest that differs, a record that does not
    /// decode, a store of another format): an operator must look.
    #[error("the store holds corrupt or foreign data: {0}")]
    Corrupt(String),
}

/// Everything one request writes, in one transaction.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub audit: Option<AuditRecord>,
    pub message: Option<MessageRecord>,
    /// A message already stored whose record is replaced (its state changed).
    pub message_update: Option<MessageRecord>,
    /// The documents' SHA-256 and content, in the message's order.
    pub documents: Vec<([u8; 32], Arc<Vec<u8>>)>,
    pub evidences: Vec<EvidenceRecord>,
    /// (sender id, key, record): refused if the key is taken.
    pub idempotency: Option<(String, String, IdempotencyRecord)>,
    /// The mark of the signed request this commit answers: the whole commit is refused
    /// (`Committed::Replayed`, nothing written) when the store holds the same mark unexpired
    /// at `seen_at`; otherwise it is written with the rest, kept until `until`. Marks expired
    /// by then may be forgotten in the same transaction (a bounded number per commit).
    pub seen: Option<SeenRequest>,
}

/// What a commit did.
#[derive(Debug, PartialEq, Eq)]
pub enum Committed {
    /// Durable.
    Done,
    /// Nothing written: the idempotency key was taken meanwhile; here is what it holds.
    KeyTaken(IdempotencyRecord),
    /// Nothing written: the same signed request was received before (its mark is unexpired).
    Replayed,
}

/// A signed request as its channel verified it: the SHA-256 of exactly what its signature
/// covers (SOAP: the canonical SignedInfo, which holds the digests of the Body and the
/// Timestamp; gRPC: the signed manifest bytes), when it was received, and until when it could
/// be presented at all (its Expires, or its signing time plus the maximum age, plus the
/// allowed clock skew), in Unix seconds. Another valid signature value over the same content
/// (an ECDSA (r, n - s), a fresh randomised signature) is the same request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    pub signed_sha256: [u8; 32],
    pub seen_at: u64,
    pub until: u64,
}

impl SeenRequest {
    pub fn new(signed_sha256: [u8; 32], seen_at: SystemTime, until: SystemTime) -> Self {
        SeenRequest {
            signed_sha256,
            seen_at: unix(seen_at),
            until: unix(until),
        }
    }

    /// The mark of a request signed over `signed` (the bytes its signature covers).
    pub fn of_signed_bytes(signed: &[u8], seen_at: SystemTime, until: SystemTime) -> Self {
        Self::new(sha256(signed), seen_at, until)
    }
}

/// The durable state.
pub trait Store: Send + Sync {
    fn sender_by_certificate(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<SenderRegistration>, StoreError>;
    fn mailbox(&self, id: &str) -> Result<Option<Mailbox>, StoreError>;
    fn idempotency(
        &self,
        sender_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;
    fn evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StoreError>;
    fn evidences_of(&self, message_id: &str) -> Result<Vec<EvidenceRecord>, StoreError>;
    /// Whether the store holds the mark of the same signed content as `request`, unexpired
    /// at `request.seen_at` (a cheap read before any work; the commit decides).
    fn seen(&self, request: &SeenRequest) -> Result<bool, StoreError>;
    /// All of it or nothing, durable when it returns `Ok`.
    fn commit(&self, commit: Commit) -> Result<Committed, StoreError>;
}

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
    pub certificate_sha256: [u8; 32],
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
    pub sha256: [u8; 32],
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

/// The service's pipeline over its ports.
pub struct Service {
    store: Arc<dyn Store>,
    notary: Arc<dyn Notary>,
    clock: Arc<dyn Clock>,
    limits: SubmissionLimits,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// SHA-256 over what a submission asks for: two submissions with the same key are the same
/// submission when this is equal.
pub fn content_hash(s: &Submission) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(bytes);
    };
    for text in [
        &s.recipient,
        &s.message_type,
        &s.subject,
        &s.sender_reference,
    ] {
        field(text.as_bytes());
    }
    for d in &s.documents {
        field(d.id.as_bytes());
        field(d.name.as_bytes());
        field(d.media_type.as_bytes());
        field(&d.sha256);
    }
    audit::hex(ctx.finish().as_ref())
}

/// A text field of a letter, as its evidences will repeat it: at most 256 characters (and at
/// least one besides white space when `required`), none that XML cannot carry, and none that
/// could mislead a reader of the evidence (a control or bidirectional formatting character,
/// [`sealpost_model::is_deceptive_char`]). Checked before anything is time-stamped or sealed.
fn letter_field(what: &str, text: &str, required: bool) -> Result<(), Refused> {
    if (required && text.trim().is_empty()) || text.chars().count() > 256 {
        let least = if required { 1 } else { 0 };
        return Err(refused(
            ErrorKind::InvalidRequest,
            format!("{what} must hold {least} to 256 characters"),
        ));
    }
    if text
        .chars()
        .any(|c| sealpost_model::is_deceptive_char(c) || !sealpost_model::is_xml_char(c))
    {
        return Err(refused(
            ErrorKind::InvalidRequest,
            format!("{what} holds a control, bidirectional formatting or non-XML character"),
        ));
    }
    Ok(())
}

/// A refusal in the making: the kind, and the detail for the log and the audit entry.
struct Refused {
    kind: ErrorKind,
    detail: String,
    /// The store found the request's mark: answered by [`Service::refuse_replay`] (no
    /// evidence).
    replayed: bool,
}

fn refused(kind: ErrorKind, detail: impl Into<String>) -> Refused {
    Refused {
        kind,
        detail: detail.into(),
        replayed: false,
    }
}

/// The commit found the request's mark.
fn replayed() -> Refused {
    Refused {
        kind: ErrorKind::Expired,
        detail: "replayed".into(),
        replayed: true,
    }
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        notary: Arc<dyn Notary>,
        clock: Arc<dyn Clock>,
        limits: SubmissionLimits,
    ) -> Self {
        Service {
            store,
            notary,
            clock,
            limits,
        }
    }

    pub fn limits(&self) -> SubmissionLimits {
        self.limits
    }

    /// The time, from the injected clock (for the adapters' correlation ids and checks).
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn audit_record(
        &self,
        ctx: &RequestContext,
        identity: &str,
        outcome: Result<(), &Refused>,
        message_id: Option<&str>,
    ) -> AuditRecord {
        let (outcome, code, kind, detail) = match outcome {
            Ok(()) => ("accepted", None, None, String::new()),
            Err(r) => (
                "refused",
                Some(r.kind.row().code.to_owned()),
                Some(r.kind),
                r.detail.clone(),
            ),
        };
        AuditRecord {
            time: unix(self.clock.now()),
            correlation_id: ctx.correlation_id.clone(),
            channel: ctx.channel,
            operation: ctx.operation.to_owned(),
            identity: identity.to_owned(),
            outcome: outcome.to_owned(),
            code,
            kind,
            detail,
            message_id: message_id.map(str::to_owned),
            request: Arc::clone(&ctx.request),
            request_sha256: Some(sha256(&ctx.request)),
        }
    }

    /// Records a request refused before its sender was authenticated (a bad signature, an
    /// untrusted certificate, a malformed envelope) and returns the refusal to send.
    pub fn refuse_unauthenticated(
        &self,
        ctx: &RequestContext,
        claimed_identity: &str,
        kind: ErrorKind,
        detail: &str,
    ) -> Refusal {
        let refusal = refused(kind, detail);
        let audit = self.audit_record(ctx, claimed_identity, Err(&refusal), None);
        self.commit_refusal(ctx, audit, Vec::new(), kind)
    }

    /// Writes a refusal's audit entry (and evidence); if that fails, the refusal becomes
    /// ServiceUnavailable. The request's mark goes with it, unless the refusal is
    /// ServiceUnavailable (then a retry must work).
    fn commit_refusal(
        &self,
        ctx: &RequestContext,
        audit: AuditRecord,
        evidences: Vec<EvidenceRecord>,
        kind: ErrorKind,
    ) -> Refusal {
        let evidence = evidences.first().map(|e| e.xml.clone());
        let message_id = evidences.first().map(|e| e.message_id.clone());
        let identity = audit.identity.clone();
        let commit = Commit {
            audit: Some(audit),
            evidences,
            ..Commit::default()
        };
        match self.commit_request(ctx, commit, kind != ErrorKind::ServiceUnavailable) {
            Ok(Committed::Replayed) => self.refuse_replay(ctx, &identity),
            Ok(_) => Refusal {
                kind,
                correlation_id: ctx.correlation_id.clone(),
                evidence,
                message_id,
            },
            Err(e) => {
                tracing::error!(correlation_id = %ctx.correlation_id, error = %e, "the audit entry of a refusal cannot be written");
                self.unavailable(ctx)
            }
        }
    }

    fn unavailable(&self, ctx: &RequestContext) -> Refusal {
        Refusal {
            kind: ErrorKind::ServiceUnavailable,
            correlation_id: ctx.correlation_id.clone(),
            evidence: None,
            message_id: None,
        }
    }

    /// The one commit of a request: `commit`, with the request's mark when `marked` (every
    /// answer but ServiceUnavailable).
    fn commit_request(
        &self,
        ctx: &RequestContext,
        mut commit: Commit,
        marked: bool,
    ) -> Result<Committed, StoreError> {
        commit.seen = if marked { ctx.seen } else { None };
        self.store.commit(commit)
    }

    /// The cheap read before any work: a request whose mark the store already holds gets
    /// [`Service::refuse_replay`]'s answer at once.
    fn check_replay(&self, ctx: &RequestContext, identity: &str) -> Result<(), Refusal> {
        let Some(seen) = &ctx.seen else {
            return Ok(());
        };
        match self.store.seen(seen) {
            Ok(false) => Ok(()),
            Ok(true) => Err(self.refuse_replay(ctx, identity)),
            Err(e) => {
                let r = refused(ErrorKind::ServiceUnavailable, e.to_string());
                let audit = self.audit_record(ctx, identity, Err(&r), None);
                Err(self.commit_refusal(ctx, audit, Vec::new(), r.kind))
            }
        }
    }

    /// The answer to a replayed request (its mark is in the store, found before any work or
    /// by the commit): Expired, with its audit entry (without the mark, which is there
    /// already) and no evidence.
    fn refuse_replay(&self, ctx: &RequestContext, identity: &str) -> Refusal {
        let signed = ctx
            .seen
            .map(|s| audit::hex(&s.signed_sha256))
            .unwrap_or_default();
        let r = refused(
            ErrorKind::Expired,
            format!("replayed: the signed content {signed} was already received"),
        );
        tracing::info!(correlation_id = %ctx.correlation_id, detail = %r.detail, "request refused");
        let audit = self.audit_record(ctx, identity, Err(&r), None);
        match self.commit_request(
            ctx,
            Commit {
                audit: Some(audit),
                ..Commit::default()
            },
            false,
        ) {
            Ok(_) => Refusal {
                kind: r.kind,
                correlation_id: ctx.correlation_id.clone(),
                evidence: None,
                message_id: None,
            },
            Err(e) => {
                tracing::error!(correlation_id = %ctx.correlation_id, error = %e, "the audit entry of a refusal cannot be written");
                self.unavailable(ctx)
            }
        }
    }

    /// Step 1: the registered, active sender of this certificate.
    fn authenticate(&self, signer: &VerifiedSigner) -> Result<SenderRegistration, Refused> {
        let fingerprint = audit::hex(&signer.certificate_sha256);
        match self.store.sender_by_certificate(&fingerprint) {
            Ok(Some(sender)) if sender.active => Ok(sender),
            Ok(Some(sender)) => Err(refused(
                ErrorKind::UntrustedSigner,
                format!("sender {} is inactive", sender.id),
            )),
            Ok(None) => Err(refused(
                ErrorKind::UntrustedSigner,
                format!(
                    "certificate {fingerprint} ({}) is not registered to a sender",
                    signer.subject
                ),
            )),
            Err(e) => Err(refused(ErrorKind::ServiceUnavailable, e.to_string())),
        }
    }

    /// Step 1 for a request that ends here when it fails: the refusal, audited.
    fn authenticated(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
    ) -> Result<SenderRegistration, Refusal> {
        self.authenticate(signer).map_err(|r| {
            let audit = self.audit_record(ctx, &signer.subject, Err(&r), None);
            self.commit_refusal(ctx, audit, Vec::new(), r.kind)
        })
    }

    fn identity(sender: &SenderRegistration, signer: &VerifiedSigner) -> String {
        format!("{} ({})", sender.id, signer.subject)
    }

    /// Submits a letter. `signer` has been verified by the adapter.
    pub fn submit(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        submission: Submission,
    ) -> Result<Accepted, Refusal> {
        self.check_replay(ctx, &signer.subject)?;
        let sender = self.authenticated(ctx, signer)?;
        let identity = Self::identity(&sender, signer);
        let now = self.clock.now();
        match self.accept(ctx, signer, &sender, &identity, &submission, now) {
            Ok(accepted) => Ok(accepted),
            Err(r) if r.replayed => Err(self.refuse_replay(ctx, &identity)),
            Err(r) if r.kind == ErrorKind::ServiceUnavailable => {
                tracing::error!(correlation_id = %ctx.correlation_id, detail = %r.detail, "submission failed");
                let audit = self.audit_record(ctx, &identity, Err(&r), None);
                Err(self.commit_refusal(ctx, audit, Vec::new(), r.kind))
            }
            Err(r) => Err(self.reject(ctx, signer, &sender, &identity, &submission, &r, now)),
        }
    }

    /// Refuses a submission whose sender the adapter authenticated but whose request it could
    /// not read in full (a document over the size limit, a malformed operation): the refusal
    /// comes with a sealed SubmissionRejection, as the core's own refusals do. `known` holds
    /// what was read (empty fields otherwise; the recipient then shows as unidentified).
    pub fn refuse_submission(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        known: &Submission,
        kind: ErrorKind,
        detail: &str,
    ) -> Refusal {
        if let Err(refusal) = self.check_replay(ctx, &signer.subject) {
            return refusal;
        }
        let sender = match self.authenticated(ctx, signer) {
            Ok(s) => s,
            Err(refusal) => return refusal,
        };
        let identity = Self::identity(&sender, signer);
        let r = refused(kind, detail);
        self.reject(ctx, signer, &sender, &identity, known, &r, self.clock.now())
    }

    /// Seals the SubmissionRejection for `r` and commits it with the audit entry.
    #[allow(clippy::too_many_arguments)]
    fn reject(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        sender: &SenderRegistration,
        identity: &str,
        submission: &Submission,
        r: &Refused,
        now: SystemTime,
    ) -> Refusal {
        tracing::info!(correlation_id = %ctx.correlation_id, code = r.kind.row().code, detail = %r.detail, "submission refused");
        let message_id = new_evidence_id(now);
        let rejection = self.rejection(signer, sender, submission, &message_id, r, now);
        let audit = self.audit_record(ctx, identity, Err(r), Some(&message_id));
        match rejection {
            Ok(evidence) => self.commit_refusal(ctx, audit, vec![evidence], r.kind),
            Err(e) => {
                let failed = refused(
                    ErrorKind::ServiceUnavailable,
                    format!("{}; sealing the rejection failed: {e}", r.detail),
                );
                let audit = self.audit_record(ctx, identity, Err(&failed), None);
                self.commit_refusal(ctx, audit, Vec::new(), failed.kind)
            }
        }
    }

    /// Steps 2 to 8.
    fn accept(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        sender: &SenderRegistration,
        identity: &str,
        submission: &Submission,
        now: SystemTime,
    ) -> Result<Accepted, Refused> {
        // 2. The request.
        let recipient = RecipientId::parse(&submission.recipient)
            .map_err(|e| refused(ErrorKind::InvalidRequest, e.to_string()))?;
        for (what, text) in [
            ("IdempotencyKey", &submission.idempotency_key),
            ("MessageType", &submission.message_type),
            ("Subject", &submission.subject),
            ("SenderReference", &submission.sender_reference),
        ] {
            letter_field(what, text, true)?;
        }
        if submission.documents.is_empty() {
            return Err(refused(ErrorKind::InvalidRequest, "no document"));
        }
        if submission.documents.len() > self.limits.max_documents {
            return Err(refused(
                ErrorKind::TooLarge,
                format!("{} documents", submission.documents.len()),
            ));
        }
        for d in &submission.documents {
            if d.content.len() as u64 > self.limits.max_document_bytes {
                return Err(refused(
                    ErrorKind::TooLarge,
                    format!("document {} has {} bytes", d.id, d.content.len()),
                ));
            }
            letter_field("Document/Id", &d.id, true)?;
            letter_field("Document/Name", &d.name, true)?;
            letter_field("Document/MediaType", &d.media_type, false)?;
        }

        // 3. The sender registry.
        if !sender
            .message_types
            .iter()
            .any(|t| t == &submission.message_type)
        {
            return Err(refused(
                ErrorKind::NotAuthorized,
                format!(
                    "{} may not send message type {:?}",
                    sender.id, submission.message_type
                ),
            ));
        }
        if !sender.recipient_kinds.contains(&recipient.kind()) {
            return Err(refused(
                ErrorKind::NotAuthorized,
                format!(
                    "{} may not send to a {}",
                    sender.id,
                    recipient.kind().name()
                ),
            ));
        }

        // 4. The declared digests.
        for d in &submission.documents {
            if !d
                .declared_sha256
                .eq_ignore_ascii_case(&audit::hex(&d.sha256))
            {
                return Err(refused(
                    ErrorKind::InvalidRequest,
                    format!(
                        "document {}: declared SHA-256 {} but received {}",
                        d.id,
                        d.declared_sha256,
                        audit::hex(&d.sha256)
                    ),
                ));
            }
        }

        // 5. Idempotency.
        let content = content_hash(submission);
        let unavailable = |e: StoreError| refused(ErrorKind::ServiceUnavailable, e.to_string());
        if let Some(known) = self
            .store
            .idempotency(&sender.id, &submission.idempotency_key)
            .map_err(unavailable)?
        {
            return self.replay(ctx, identity, &content, known);
        }

        // 6. The recipient's mailbox.
        match self
            .store
            .mailbox(recipient.as_str())
            .map_err(unavailable)?
        {
            Some(m) if m.active => {}
            Some(_) => {
                return Err(refused(
                    ErrorKind::RecipientUnknown,
                    format!("the mailbox of {recipient} is inactive"),
                ));
            }
            None => {
                return Err(refused(
                    ErrorKind::RecipientUnknown,
                    format!("{recipient} has no mailbox"),
                ));
            }
        }

        // 7. Time-stamps and seals.
        let message_id = new_evidence_id(now);
        let documents = self.evidence_documents(submission)?;
        let acceptance = self.evidence(
            Event::SubmissionAcceptance,
            &message_id,
            signer,
            sender,
            submission,
            &documents,
            now,
            None,
            None,
        );
        let consignment = self.evidence(
            Event::ContentConsignment,
            &message_id,
            signer,
            sender,
            submission,
            &documents,
            now,
            None,
            Some(acceptance.id.clone()),
        );
        let seal = |e: &Evidence| {
            self.notary
                .seal(e)
                .map_err(|e| refused(ErrorKind::ServiceUnavailable, format!("sealing: {e}")))
        };
        let acceptance_xml = seal(&acceptance)?;
        let consignment_xml = seal(&consignment)?;

        // 8. One transaction.
        let record = |e: &Evidence, xml: String| EvidenceRecord {
            id: e.id.clone(),
            message_id: message_id.clone(),
            event: e.event.name().to_owned(),
            sender_id: sender.id.clone(),
            created_at: unix(now),
            xml,
        };
        let message = MessageRecord {
            id: message_id.clone(),
            sender_id: sender.id.clone(),
            recipient: recipient.to_string(),
            message_type: submission.message_type.clone(),
            subject: submission.subject.clone(),
            sender_reference: submission.sender_reference.clone(),
            documents: submission
                .documents
                .iter()
                .zip(&documents)
                .map(|(d, stamped)| DocumentMeta {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    media_type: d.media_type.clone(),
                    size: d.content.len() as u64,
                    sha256: audit::hex(&d.sha256),
                    time_stamp_token: stamped.time_stamp_token.clone().unwrap_or_default(),
                })
                .collect(),
            submitted_at: unix(now),
            state: MessageState::Delivered,
            idempotency_key: submission.idempotency_key.clone(),
            sender_subject: signer.subject.clone(),
            sender_authentication: signer.authentication.clone(),
            acceptance_id: acceptance.id.clone(),
        };
        let commit = Commit {
            audit: Some(self.audit_record(ctx, identity, Ok(()), Some(&message_id))),
            message: Some(message),
            documents: submission
                .documents
                .iter()
                .map(|d| (d.sha256, Arc::clone(&d.content)))
                .collect(),
            evidences: vec![
                record(&acceptance, acceptance_xml.clone()),
                record(&consignment, consignment_xml),
            ],
            idempotency: Some((
                sender.id.clone(),
                submission.idempotency_key.clone(),
                IdempotencyRecord {
                    content_hash: content.clone(),
                    message_id: message_id.clone(),
                    evidence_id: acceptance.id.clone(),
                },
            )),
            message_update: None,
            seen: None,
        };
        match self
            .commit_request(ctx, commit, true)
            .map_err(unavailable)?
        {
            Committed::Done => Ok(Accepted {
                message_id,
                evidence: acceptance_xml,
                replayed: false,
            }),
            Committed::KeyTaken(known) => self.replay(ctx, identity, &content, known),
            Committed::Replayed => Err(replayed()),
        }
    }

    /// The answer to a submission whose idempotency key is known.
    fn replay(
        &self,
        ctx: &RequestContext,
        identity: &str,
        content: &str,
        known: IdempotencyRecord,
    ) -> Result<Accepted, Refused> {
        if known.content_hash != content {
            return Err(refused(
                ErrorKind::DuplicateSubmission,
                format!(
                    "the idempotency key was used for message {}",
                    known.message_id
                ),
            ));
        }
        let unavailable = |e: StoreError| refused(ErrorKind::ServiceUnavailable, e.to_string());
        let evidence = self
            .store
            .evidence(&known.evidence_id)
            .map_err(unavailable)?
            .ok_or_else(|| {
                refused(
                    ErrorKind::ServiceUnavailable,
                    format!(
                        "evidence {} of an idempotency key is missing",
                        known.evidence_id
                    ),
                )
            })?;
        let commit = Commit {
            audit: Some(self.audit_record(ctx, identity, Ok(()), Some(&known.message_id))),
            ..Commit::default()
        };
        if self
            .commit_request(ctx, commit, true)
            .map_err(unavailable)?
            == Committed::Replayed
        {
            return Err(replayed());
        }
        Ok(Accepted {
            message_id: known.message_id,
            evidence: evidence.xml,
            replayed: true,
        })
    }

    fn evidence_documents(&self, submission: &Submission) -> Result<Vec<Document>, Refused> {
        submission
            .documents
            .iter()
            .map(|d| {
                Ok(Document {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    size: d.content.len() as u64,
                    sha256: d.sha256,
                    time_stamp_token: Some(self.notary.timestamp(&d.sha256).map_err(|e| {
                        refused(ErrorKind::ServiceUnavailable, format!("time-stamping: {e}"))
                    })?),
                })
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn evidence(
        &self,
        event: Event,
        message_id: &str,
        signer: &VerifiedSigner,
        sender: &SenderRegistration,
        submission: &Submission,
        documents: &[Document],
        now: SystemTime,
        reason: Option<String>,
        follows_from: Option<String>,
    ) -> Evidence {
        Evidence {
            id: new_evidence_id(now),
            event,
            event_time: now,
            issuer: self.notary.issuer(),
            sender: Sender {
                subject: signer.subject.clone(),
                registry_id: sender.id.clone(),
                authentication: signer.authentication.clone(),
            },
            recipient: Recipient {
                id: submission.recipient.clone(),
                delegate: None,
                mandate: None,
            },
            submission_time: now,
            message_id: message_id.to_owned(),
            sender_reference: submission.sender_reference.clone(),
            subject: Some(submission.subject.clone()),
            documents: documents.to_vec(),
            reason,
            follows_from,
        }
    }

    /// The sealed SubmissionRejection for an authenticated sender's refused submission.
    fn rejection(
        &self,
        signer: &VerifiedSigner,
        sender: &SenderRegistration,
        submission: &Submission,
        message_id: &str,
        r: &Refused,
        now: SystemTime,
    ) -> Result<EvidenceRecord, String> {
        // The evidence repeats what was received; text it cannot carry is left out.
        let mut shown = submission.clone();
        if matches!(
            RecipientId::parse(&shown.recipient),
            Err(ids::IdError::Shape)
        ) {
            shown.recipient = UNIDENTIFIED_RECIPIENT.into();
        }
        // Named, not time-stamped: a refused request gets no time-stamp of the provider's.
        let documents: Vec<Document> = shown
            .documents
            .iter()
            .map(|d| Document {
                id: d.id.clone(),
                name: d.name.clone(),
                size: d.content.len() as u64,
                sha256: d.sha256,
                time_stamp_token: None,
            })
            .collect();
        let reason = format!("{}: {}", r.kind.row().code, r.kind.row().message);
        let mut evidence = self.evidence(
            Event::SubmissionRejection,
            message_id,
            signer,
            sender,
            &shown,
            &documents,
            now,
            Some(reason),
            None,
        );
        if evidence.check_characters().is_err() {
            evidence.subject = None;
            evidence.sender_reference = "(not representable)".into();
            for d in &mut evidence.documents {
                d.name = "(not representable)".into();
            }
        }
        let xml = self.notary.seal(&evidence)?;
        Ok(EvidenceRecord {
            id: evidence.id.clone(),
            message_id: message_id.to_owned(),
            event: evidence.event.name().to_owned(),
            sender_id: sender.id.clone(),
            created_at: unix(now),
            xml,
        })
    }

    /// The message of `message_id` if `signer` is its sender; otherwise the same refusal as
    /// for a message that does not exist.
    fn own_message(
        &self,
        signer: &VerifiedSigner,
        message_id: &str,
    ) -> Result<(SenderRegistration, MessageRecord), Refused> {
        let sender = self.authenticate(signer)?;
        match self.store.message(message_id) {
            Ok(Some(m)) if m.sender_id == sender.id => Ok((sender, m)),
            Ok(Some(m)) => Err(refused(
                ErrorKind::MessageUnknown,
                format!(
                    "{} asked for message {message_id} of {}",
                    sender.id, m.sender_id
                ),
            )),
            // A refused submission has its rejection evidence but no message.
            Ok(None) => Err(refused(
                ErrorKind::MessageUnknown,
                format!("no delivered message {message_id}"),
            )),
            Err(e) => Err(refused(ErrorKind::ServiceUnavailable, e.to_string())),
        }
    }

    /// Answers a read request, recording it in the audit log first.
    fn answer<T>(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        message_id: &str,
        result: Result<(SenderRegistration, T), Refused>,
    ) -> Result<T, Refusal> {
        let (identity, outcome) = match &result {
            Ok((sender, _)) => (Self::identity(sender, signer), Ok(())),
            Err(r) => (signer.subject.clone(), Err(r)),
        };
        let audit = self.audit_record(ctx, &identity, outcome, Some(message_id));
        match result {
            Ok((_, value)) => {
                let commit = Commit {
                    audit: Some(audit),
                    ..Commit::default()
                };
                match self.commit_request(ctx, commit, true) {
                    Ok(Committed::Replayed) => Err(self.refuse_replay(ctx, &identity)),
                    Ok(_) => Ok(value),
                    Err(e) => {
                        tracing::error!(correlation_id = %ctx.correlation_id, error = %e, "the audit entry cannot be written");
                        Err(self.unavailable(ctx))
                    }
                }
            }
            Err(r) => Err(self.commit_refusal(ctx, audit, Vec::new(), r.kind)),
        }
    }

    /// Writes the audit entry of an action outside submissions (a mailbox login, a mandate
    /// granted): `identity` names the natural person, `ctx.operation` the action.
    pub fn record_action(
        &self,
        ctx: &RequestContext,
        identity: &str,
        ok: bool,
        detail: &str,
    ) -> Result<(), Refusal> {
        let failure = (!ok).then(|| refused(ErrorKind::NotAuthorized, detail));
        let mut audit =
            self.audit_record(ctx, identity, failure.as_ref().map_or(Ok(()), Err), None);
        if ok {
            audit.detail = detail.to_owned();
        }
        let commit = Commit {
            audit: Some(audit),
            ..Commit::default()
        };
        match self.commit_request(ctx, commit, true) {
            Ok(Committed::Replayed) => Err(self.refuse_replay(ctx, identity)),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(correlation_id = %ctx.correlation_id, error = %e, "the audit entry cannot be written");
                Err(self.unavailable(ctx))
            }
        }
    }

    /// Records that `person` (and the `mandate` they act under, for a company mailbox) opened
    /// message `message_id`: the first opening is sealed as a ContentHandover evidence naming
    /// them, filed with the message (the sender gets it through GetEvidence) and in the same
    /// commit the message becomes Opened. Later openings change nothing: `Ok(None)`.
    pub fn hand_over(
        &self,
        ctx: &RequestContext,
        message_id: &str,
        person: &str,
        mandate: Option<&str>,
    ) -> Result<Option<String>, Refusal> {
        let identity = match mandate {
            Some(m) => format!("{person} (mandate {m})"),
            None => person.to_owned(),
        };
        let now = self.clock.now();
        let result = (|| -> Result<Option<(MessageRecord, EvidenceRecord)>, Refused> {
            let unavailable = |e: StoreError| refused(ErrorKind::ServiceUnavailable, e.to_string());
            let message = self
                .store
                .message(message_id)
                .map_err(unavailable)?
                .ok_or_else(|| {
                    refused(
                        ErrorKind::MessageUnknown,
                        format!("no message {message_id}"),
                    )
                })?;
            if message.state == MessageState::Opened {
                return Ok(None);
            }
            // Each document with the token it was time-stamped with at submission: every
            // evidence of the message carries the same one, agreeing with its SubmissionTime.
            let documents = message
                .documents
                .iter()
                .map(|d| {
                    let sha256: [u8; 32] = audit::unhex(&d.sha256)
                        .and_then(|v| v.try_into().ok())
                        .ok_or_else(|| {
                            refused(
                                ErrorKind::ServiceUnavailable,
                                "a stored digest is not SHA-256",
                            )
                        })?;
                    if d.time_stamp_token.is_empty() {
                        return Err(refused(
                            ErrorKind::ServiceUnavailable,
                            format!("document {} has no submission time-stamp", d.id),
                        ));
                    }
                    Ok(Document {
                        id: d.id.clone(),
                        name: d.name.clone(),
                        size: d.size,
                        sha256,
                        time_stamp_token: Some(d.time_stamp_token.clone()),
                    })
                })
                .collect::<Result<Vec<_>, Refused>>()?;
            let evidence = Evidence {
                id: new_evidence_id(now),
                event: Event::ContentHandover,
                event_time: now,
                issuer: self.notary.issuer(),
                sender: Sender {
                    subject: message.sender_subject.clone(),
                    registry_id: message.sender_id.clone(),
                    authentication: message.sender_authentication.clone(),
                },
                recipient: Recipient {
                    id: message.recipient.clone(),
                    delegate: Some(person.to_owned()),
                    mandate: mandate.map(str::to_owned),
                },
                submission_time: UNIX_EPOCH + std::time::Duration::from_secs(message.submitted_at),
                message_id: message.id.clone(),
                sender_reference: message.sender_reference.clone(),
                subject: Some(message.subject.clone()),
                documents,
                reason: None,
                follows_from: (!message.acceptance_id.is_empty())
                    .then(|| message.acceptance_id.clone()),
            };
            evidence
                .check_characters()
                .map_err(|e| refused(ErrorKind::InvalidRequest, e.to_string()))?;
            let xml = self
                .notary
                .seal(&evidence)
                .map_err(|e| refused(ErrorKind::ServiceUnavailable, format!("sealing: {e}")))?;
            let record = EvidenceRecord {
                id: evidence.id.clone(),
                message_id: message.id.clone(),
                event: evidence.event.name().to_owned(),
                sender_id: message.sender_id.clone(),
                created_at: unix(now),
                xml,
            };
            Ok(Some((message, record)))
        })();
        match result {
            Ok(None) => Ok(None),
            Ok(Some((mut message, record))) => {
                message.state = MessageState::Opened;
                let xml = record.xml.clone();
                let commit = Commit {
                    audit: Some(self.audit_record(ctx, &identity, Ok(()), Some(message_id))),
                    message_update: Some(message),
                    evidences: vec![record],
                    ..Commit::default()
                };
                match self.commit_request(ctx, commit, true) {
                    Ok(Committed::Replayed) => Err(self.refuse_replay(ctx, &identity)),
                    Ok(_) => Ok(Some(xml)),
                    Err(e) => {
                        let r = refused(ErrorKind::ServiceUnavailable, e.to_string());
                        let audit = self.audit_record(ctx, &identity, Err(&r), Some(message_id));
                        Err(self.commit_refusal(ctx, audit, Vec::new(), r.kind))
                    }
                }
            }
            Err(r) => {
                let audit = self.audit_record(ctx, &identity, Err(&r), Some(message_id));
                Err(self.commit_refusal(ctx, audit, Vec::new(), r.kind))
            }
        }
    }

    /// Every evidence of a message, oldest first, for its sender only. A rejected
    /// submission's SubmissionRejection is served too.
    pub fn get_evidence(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        message_id: &str,
    ) -> Result<Vec<String>, Refusal> {
        self.check_replay(ctx, &signer.subject)?;
        let result = self.authenticate(signer).and_then(|sender| {
            let evidences = self
                .store
                .evidences_of(message_id)
                .map_err(|e| refused(ErrorKind::ServiceUnavailable, e.to_string()))?;
            if evidences.is_empty() || evidences.iter().any(|e| e.sender_id != sender.id) {
                return Err(refused(
                    ErrorKind::MessageUnknown,
                    format!(
                        "{} asked for the evidences of {message_id}: none of its own",
                        sender.id
                    ),
                ));
            }
            Ok((sender, evidences.into_iter().map(|e| e.xml).collect()))
        });
        self.answer(ctx, signer, message_id, result)
    }

    /// The state of a delivered message, for its sender only.
    pub fn message_status(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        message_id: &str,
    ) -> Result<MessageStatus, Refusal> {
        self.check_replay(ctx, &signer.subject)?;
        let result = self
            .own_message(signer, message_id)
            .and_then(|(sender, m)| {
                let evidences = self
                    .store
                    .evidences_of(message_id)
                    .map_err(|e| refused(ErrorKind::ServiceUnavailable, e.to_string()))?
                    .len();
                Ok((
                    sender,
                    MessageStatus {
                        message_id: m.id,
                        state: m.state,
                        recipient: m.recipient,
                        submitted_at: UNIX_EPOCH + std::time::Duration::from_secs(m.submitted_at),
                        evidences,
                    },
                ))
            });
        self.answer(ctx, signer, message_id, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// One commit made to fail: before it persisted (nothing written, as a full disk), or
    /// after (everything written, the acknowledgement lost, as a connection that drops while
    /// the database commits).
    #[derive(Clone, Copy, Debug)]
    struct Fault {
        /// How many commits succeed first.
        after_commits: usize,
        persisted: bool,
    }

    /// An in-memory store that can be made to fail, as a full disk or a lost database would:
    /// every operation (`failing`), or one chosen commit (`fault`).
    #[derive(Default)]
    struct MemoryStore {
        failing: AtomicBool,
        fault: Mutex<Option<Fault>>,
        /// The cheap read misses every mark (a replay racing the first delivery): only the
        /// commit can tell.
        blind_reads: AtomicBool,
        senders: Mutex<HashMap<String, SenderRegistration>>,
        mailboxes: Mutex<HashMap<String, Mailbox>>,
        commits: Mutex<Vec<Commit>>,
    }

    impl MemoryStore {
        fn check(&self) -> Result<(), StoreError> {
            if self.failing.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("disk full".into()))
            } else {
                Ok(())
            }
        }

        fn holds_mark(commits: &[Commit], request: &SeenRequest) -> bool {
            commits
                .iter()
                .filter_map(|c| c.seen)
                .any(|m| m.signed_sha256 == request.signed_sha256 && m.until >= request.seen_at)
        }
    }

    impl Store for MemoryStore {
        fn sender_by_certificate(
            &self,
            fp: &str,
        ) -> Result<Option<SenderRegistration>, StoreError> {
            Ok(self.senders.lock().expect("lock").get(fp).cloned())
        }
        fn mailbox(&self, id: &str) -> Result<Option<Mailbox>, StoreError> {
            self.check()?;
            Ok(self.mailboxes.lock().expect("lock").get(id).cloned())
        }
        fn idempotency(
            &self,
            sender: &str,
            key: &str,
        ) -> Result<Option<IdempotencyRecord>, StoreError> {
            self.check()?;
            Ok(self.commits.lock().expect("lock").iter().find_map(|c| {
                c.idempotency
                    .as_ref()
                    .filter(|(s, k, _)| s == sender && k == key)
                    .map(|(_, _, r)| r.clone())
            }))
        }
        fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
            Ok(self
                .commits
                .lock()
                .expect("lock")
                .iter()
                .rev()
                .find_map(|c| {
                    c.message_update
                        .as_ref()
                        .or(c.message.as_ref())
                        .filter(|m| m.id == id)
                        .cloned()
                }))
        }
        fn evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StoreError> {
            Ok(self
                .commits
                .lock()
                .expect("lock")
                .iter()
                .flat_map(|c| c.evidences.iter())
                .find(|e| e.id == id)
                .cloned())
        }
        fn evidences_of(&self, message_id: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
            Ok(self
                .commits
                .lock()
                .expect("lock")
                .iter()
                .flat_map(|c| c.evidences.iter())
                .filter(|e| e.message_id == message_id)
                .cloned()
                .collect())
        }
        fn seen(&self, request: &SeenRequest) -> Result<bool, StoreError> {
            self.check()?;
            Ok(!self.blind_reads.load(Ordering::SeqCst)
                && Self::holds_mark(&self.commits.lock().expect("lock"), request))
        }
        fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
            self.check()?;
            let mut commits = self.commits.lock().expect("lock");
            if let Some(seen) = &commit.seen
                && Self::holds_mark(&commits, seen)
            {
                return Ok(Committed::Replayed);
            }
            let mut fault = self.fault.lock().expect("lock");
            match fault.as_mut() {
                Some(f) if f.after_commits > 0 => f.after_commits -= 1,
                Some(f) => {
                    let persisted = f.persisted;
                    *fault = None;
                    if persisted {
                        commits.push(commit);
                        return Err(StoreError::Unavailable(
                            "the acknowledgement of the commit was lost".into(),
                        ));
                    }
                    return Err(StoreError::Unavailable("the commit failed".into()));
                }
                None => {}
            }
            commits.push(commit);
            Ok(Committed::Done)
        }
    }

    /// Tokens and seals that are recognisable stand-ins: the core only carries them. Each
    /// token is new (the digest, then a count of tokens issued).
    #[derive(Default)]
    struct FakeNotary {
        issued: AtomicUsize,
    }

    impl Notary for FakeNotary {
        fn timestamp(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, String> {
            let n = self.issued.fetch_add(1, Ordering::SeqCst) as u64;
            let mut token = sha256.to_vec();
            token.extend_from_slice(&n.to_be_bytes());
            Ok(token)
        }
        fn seal(&self, evidence: &Evidence) -> Result<String, String> {
            Ok(evidence.to_xml())
        }
        fn issuer(&self) -> Issuer {
            Issuer {
                name: "Sealpost (test)".into(),
                policy_id: "urn:oid:0.4.0.2023.1.1".into(),
            }
        }
    }

    struct FixedClock;

    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)
        }
    }

    fn setup() -> (Arc<MemoryStore>, Service, VerifiedSigner) {
        let store = Arc::new(MemoryStore::default());
        let signer = VerifiedSigner {
            certificate_sha256: [1; 32],
            subject: "CN=Agency A".into(),
            authentication: "test".into(),
        };
        store.senders.lock().expect("lock").insert(
            audit::hex(&[1; 32]),
            SenderRegistration {
                id: "agency-a".into(),
                name: "Agency A".into(),
                certificates: vec![audit::hex(&[1; 32])],
                message_types: vec!["tax-assessment".into()],
                recipient_kinds: vec![ids::RecipientKind::Citizen],
                active: true,
            },
        );
        store.mailboxes.lock().expect("lock").insert(
            "nrn:85073003328".into(),
            Mailbox {
                id: "nrn:85073003328".into(),
                display_name: "Jan".into(),
                active: true,
                created_at: 0,
            },
        );
        let service = Service::new(
            Arc::clone(&store) as Arc<dyn Store>,
            Arc::new(FakeNotary::default()),
            Arc::new(FixedClock),
            SubmissionLimits::default(),
        );
        (store, service, signer)
    }

    fn ctx() -> RequestContext {
        RequestContext {
            correlation_id: "c-1".into(),
            channel: Channel::Soap,
            operation: "SubmitRegisteredMail",
            request: Arc::new(b"<signed request/>".to_vec()),
            seen: None,
        }
    }

    /// A signed request's context, with its mark.
    fn signed_ctx(signed: &[u8]) -> RequestContext {
        let now = FixedClock.now();
        RequestContext {
            seen: Some(SeenRequest::of_signed_bytes(
                signed,
                now,
                now + std::time::Duration::from_secs(1200),
            )),
            ..ctx()
        }
    }

    /// The `ev:TimeStampToken`s of an evidence, in order.
    fn tokens(xml: &str) -> Vec<String> {
        xml.split("<ev:TimeStampToken>")
            .skip(1)
            .filter_map(|rest| rest.split('<').next())
            .map(str::to_owned)
            .collect()
    }

    fn letters(store: &MemoryStore) -> usize {
        store
            .commits
            .lock()
            .expect("lock")
            .iter()
            .filter(|c| c.message.is_some())
            .count()
    }

    fn submission(key: &str, content: &[u8]) -> Submission {
        let sha: [u8; 32] = digest::digest(&digest::SHA256, content)
            .as_ref()
            .try_into()
            .expect("32");
        Submission {
            idempotency_key: key.into(),
            recipient: "nrn:85073003328".into(),
            message_type: "tax-assessment".into(),
            subject: "Avis".into(),
            sender_reference: "REF-1".into(),
            documents: vec![SubmittedDocument {
                id: "d1".into(),
                name: "avis.pdf".into(),
                media_type: "application/pdf".into(),
                declared_sha256: audit::hex(&sha),
                sha256: sha,
                content: Arc::new(content.to_vec()),
            }],
        }
    }

    #[test]
    fn an_acceptance_commits_everything_in_one_transaction() {
        let (store, service, signer) = setup();
        let accepted = service
            .submit(&ctx(), &signer, submission("k1", b"letter"))
            .expect("accepted");
        let commits = store.commits.lock().expect("lock");
        let [commit] = commits.as_slice() else {
            panic!("one commit, not {}", commits.len())
        };
        assert!(commit.message.is_some());
        assert_eq!(
            commit.documents,
            vec![(sha256(b"letter"), Arc::new(b"letter".to_vec()))]
        );
        assert_eq!(commit.evidences.len(), 2);
        assert_eq!(commit.evidences[0].xml, accepted.evidence);
        let audit = commit.audit.as_ref().expect("audit entry");
        assert_eq!(audit.outcome, "accepted");
        assert_eq!(audit.request.as_slice(), b"<signed request/>");
        assert_eq!(audit.identity, "agency-a (CN=Agency A)");
    }

    #[test]
    fn the_same_signed_request_twice_is_refused_as_replayed_and_makes_one_letter() {
        let (store, service, signer) = setup();
        let ctx = signed_ctx(b"<SignedInfo>letter</SignedInfo>");
        service
            .submit(&ctx, &signer, submission("k1", b"letter"))
            .expect("accepted");
        let refusal = service
            .submit(&ctx, &signer, submission("k1", b"letter"))
            .expect_err("replayed");
        assert_eq!(refusal.kind, ErrorKind::Expired);
        assert!(
            refusal.evidence.is_none(),
            "no rejection is sealed for a replay"
        );
        assert_eq!(letters(&store), 1);
        let commits = store.commits.lock().expect("lock");
        let [first, second] = commits.as_slice() else {
            panic!("two commits, not {}", commits.len())
        };
        assert_eq!(first.seen, ctx.seen, "the mark goes with the letter");
        assert_eq!(second.seen, None, "the refusal is audited without the mark");
        let audit = second.audit.as_ref().expect("audit");
        assert_eq!(audit.code.as_deref(), Some("SEALPOST-AUTH-003"));
        assert!(audit.detail.contains("replayed"), "{}", audit.detail);
    }

    #[test]
    fn a_replay_only_the_commit_sees_is_refused_all_the_same() {
        let (store, service, signer) = setup();
        let ctx = signed_ctx(b"<SignedInfo>raced</SignedInfo>");
        service
            .submit(&ctx, &signer, submission("k1", b"letter"))
            .expect("accepted");
        store.blind_reads.store(true, Ordering::SeqCst);
        // Even under another idempotency key (which would be a second letter).
        let refusal = service
            .submit(&ctx, &signer, submission("k2", b"letter"))
            .expect_err("replayed");
        assert_eq!(refusal.kind, ErrorKind::Expired);
        assert!(refusal.evidence.is_none());
        assert_eq!(letters(&store), 1);
        // A replayed read (GetEvidence) is refused the same way.
        let get = signed_ctx(b"<SignedInfo>get</SignedInfo>");
        let _ = service.get_evidence(&get, &signer, "urn:uuid:x");
        let again = service
            .get_evidence(&get, &signer, "urn:uuid:x")
            .expect_err("replayed");
        assert_eq!(again.kind, ErrorKind::Expired);
    }

    #[test]
    fn an_unavailable_answer_marks_nothing_and_a_retry_is_accepted() {
        let (store, service, signer) = setup();
        let ctx = signed_ctx(b"<SignedInfo>retried</SignedInfo>");
        store.failing.store(true, Ordering::SeqCst);
        let refusal = service
            .submit(&ctx, &signer, submission("k1", b"letter"))
            .expect_err("unavailable");
        assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
        store.failing.store(false, Ordering::SeqCst);
        service
            .submit(&ctx, &signer, submission("k1", b"letter"))
            .expect("the retry of the same signed request");
        assert_eq!(letters(&store), 1);
    }

    #[test]
    fn a_refused_request_is_marked_too_and_not_sealed_again_when_replayed() {
        let (store, service, signer) = setup();
        let ctx = signed_ctx(b"<SignedInfo>bad digest</SignedInfo>");
        let mut bad = submission("k1", b"letter");
        bad.documents[0].declared_sha256 = "00".repeat(32);
        let first = service
            .submit(&ctx, &signer, bad.clone())
            .expect_err("refused");
        assert_eq!(first.kind, ErrorKind::InvalidRequest);
        assert!(first.evidence.is_some());
        let again = service.submit(&ctx, &signer, bad).expect_err("replayed");
        assert_eq!(again.kind, ErrorKind::Expired);
        assert!(again.evidence.is_none());
        let sealed: usize = store
            .commits
            .lock()
            .expect("lock")
            .iter()
            .map(|c| c.evidences.len())
            .sum();
        assert_eq!(sealed, 1, "one SubmissionRejection");
    }

    #[test]
    fn the_handover_carries_the_documents_submission_time_stamps() {
        let (store, service, signer) = setup();
        let accepted = service
            .submit(&ctx(), &signer, submission("k1", b"letter"))
            .expect("accepted");
        let stored = store
            .message(&accepted.message_id)
            .expect("read")
            .expect("message");
        assert!(!stored.documents[0].time_stamp_token.is_empty());
        let handover = service
            .hand_over(&ctx(), &accepted.message_id, "Jan Peeters", None)
            .expect("recorded")
            .expect("first opening");
        let at_submission = tokens(&accepted.evidence);
        assert_eq!(at_submission.len(), 1);
        assert_eq!(tokens(&handover), at_submission);
    }

    #[test]
    fn time_stamps_go_to_registered_senders_within_their_rate_and_each_is_audited() {
        use time_stamping::{RateLimit, TimeStampReply};
        let (store, service, signer) = setup();
        let limit = RateLimit::new(60, 1);
        let issue = |_: &[u8]| TimeStampReply {
            response: b"TimeStampResp".to_vec(),
            outcome: Ok("granted token serial 1".into()),
        };
        let ctx = RequestContext {
            channel: Channel::Tsa,
            operation: "TimeStamp",
            ..ctx()
        };
        let token = service
            .time_stamp(&ctx, &signer, &limit, Ok(b"query"), issue)
            .expect("granted");
        assert_eq!(token, b"TimeStampResp");
        let over = service
            .time_stamp(&ctx, &signer, &limit, Ok(b"query"), issue)
            .expect_err("over the rate");
        assert_eq!(over.kind, ErrorKind::RateLimited);
        let mut stranger = signer.clone();
        stranger.certificate_sha256 = [2; 32];
        let unknown = service
            .time_stamp(&ctx, &stranger, &limit, Ok(b"query"), issue)
            .expect_err("not a registered sender");
        assert_eq!(unknown.kind, ErrorKind::UntrustedSigner);
        {
            let commits = store.commits.lock().expect("lock");
            let audits: Vec<(&str, Option<&str>, &str)> = commits
                .iter()
                .filter_map(|c| c.audit.as_ref())
                .map(|a| (a.outcome.as_str(), a.code.as_deref(), a.detail.as_str()))
                .collect();
            assert_eq!(audits.len(), 3);
            assert_eq!(audits[0], ("accepted", None, "granted token serial 1"));
            assert_eq!(audits[1].1, Some("SEALPOST-REQ-006"));
            assert_eq!(audits[2].1, Some("SEALPOST-AUTH-002"));
        }
        // No audit entry, no token.
        store.failing.store(true, Ordering::SeqCst);
        let refusal = service
            .time_stamp(&ctx, &signer, &RateLimit::new(60, 5), Ok(b"query"), issue)
            .expect_err("unavailable");
        assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    }

    #[test]
    fn the_first_opening_is_sealed_naming_the_person_and_later_ones_change_nothing() {
        let (store, service, signer) = setup();
        let accepted = service
            .submit(&ctx(), &signer, submission("k1", b"letter"))
            .expect("accepted");
        let handover = service
            .hand_over(
                &ctx(),
                &accepted.message_id,
                "Marie Dubois",
                Some("urn:uuid:mandate-1"),
            )
            .expect("recorded")
            .expect("first opening");
        assert!(handover.contains("Event/ContentHandover"), "{handover}");
        assert!(handover.contains("Marie Dubois") && handover.contains("urn:uuid:mandate-1"));
        {
            let commits = store.commits.lock().expect("lock");
            let last = commits.last().expect("commit");
            assert_eq!(
                last.message_update.as_ref().map(|m| m.state),
                Some(MessageState::Opened)
            );
            assert_eq!(last.evidences.len(), 1);
            assert_eq!(
                last.audit.as_ref().map(|a| a.identity.as_str()),
                Some("Marie Dubois (mandate urn:uuid:mandate-1)")
            );
        }
        let again = service
            .hand_over(&ctx(), &accepted.message_id, "Jan Peeters", None)
            .expect("recorded");
        assert_eq!(again, None);
        assert_eq!(store.commits.lock().expect("lock").len(), 2);
        let unknown = service
            .hand_over(&ctx(), "urn:uuid:none", "Jan Peeters", None)
            .expect_err("no such message");
        assert_eq!(unknown.kind, ErrorKind::MessageUnknown);
    }

    #[test]
    fn when_the_audit_log_cannot_be_written_nothing_is_accepted() {
        let (store, service, signer) = setup();
        store.failing.store(true, Ordering::SeqCst);
        let refusal = service
            .submit(&ctx(), &signer, submission("k1", b"letter"))
            .expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
        assert!(refusal.evidence.is_none());
        // A refusal that would have been InvalidRequest is unavailable too: it cannot be
        // recorded.
        let mut bad = submission("k2", b"letter");
        bad.documents[0].declared_sha256 = "00".repeat(32);
        let refusal = service.submit(&ctx(), &signer, bad).expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
        assert!(store.commits.lock().expect("lock").is_empty());
        // Reads are refused as well.
        let refusal = service
            .get_evidence(&ctx(), &signer, "urn:uuid:x")
            .expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    }

    fn fail_next_commit(store: &MemoryStore, persisted: bool) {
        *store.fault.lock().expect("lock") = Some(Fault {
            after_commits: 0,
            persisted,
        });
    }

    #[test]
    fn a_commit_that_fails_before_it_persists_gives_no_proof_and_a_retry_makes_one_letter() {
        let (store, service, signer) = setup();
        let ctx = signed_ctx(b"<SignedInfo>failed commit</SignedInfo>");
        fail_next_commit(&store, false);
        let refusal = service
            .submit(&ctx, &signer, submission("k1", b"letter"))
            .expect_err("unavailable");
        assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
        assert!(refusal.evidence.is_none() && refusal.message_id.is_none());
        assert_eq!(letters(&store), 0);
        // The refusal is audited, without the request's mark: the same request is retried.
        let commits = store.commits.lock().expect("lock").clone();
        let [audited] = commits.as_slice() else {
            panic!("one commit: the refusal's audit entry")
        };
        assert!(audited.seen.is_none() && audited.evidences.is_empty());
        let accepted = service
            .submit(&ctx, &signer, submission("k1", b"letter"))
            .expect("the retry");
        assert!(!accepted.replayed);
        assert_eq!(letters(&store), 1);
    }

    #[test]
    fn a_commit_whose_acknowledgement_is_lost_never_becomes_a_second_letter() {
        let (store, service, signer) = setup();
        let first = signed_ctx(b"<SignedInfo>lost ack</SignedInfo>");
        fail_next_commit(&store, true);
        let refusal = service
            .submit(&first, &signer, submission("k1", b"letter"))
            .expect_err("unavailable");
        assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
        assert!(refusal.evidence.is_none());
        // The letter was written all the same (the store cannot tell its caller).
        assert_eq!(letters(&store), 1);
        // The same signed request again is a replay; signed anew with the same key, it gets
        // the original proof back: one letter, whatever the sender retries.
        let again = service
            .submit(&first, &signer, submission("k1", b"letter"))
            .expect_err("replayed");
        assert_eq!(again.kind, ErrorKind::Expired);
        let resent = service
            .submit(
                &signed_ctx(b"<SignedInfo>lost ack, signed anew</SignedInfo>"),
                &signer,
                submission("k1", b"letter"),
            )
            .expect("the original proof");
        assert!(resent.replayed);
        assert_eq!(letters(&store), 1);
        let stored = store.commits.lock().expect("lock").clone();
        let message = stored
            .iter()
            .find_map(|c| c.message.clone())
            .expect("letter");
        assert_eq!(resent.message_id, message.id);
    }

    #[test]
    fn a_refused_submission_gets_no_time_stamp_of_the_providers() {
        let (store, service, signer) = setup();
        let mut unknown = submission("k1", b"letter");
        unknown.recipient = "nrn:85073003329".into();
        let refusal = service
            .submit(&ctx(), &signer, unknown)
            .expect_err("refused");
        let rejection = refusal.evidence.expect("a rejection");
        assert!(rejection.contains("<ev:Sha256>"), "{rejection}");
        assert!(!rejection.contains("TimeStampToken"), "{rejection}");
        assert_eq!(letters(&store), 0);
    }

    #[test]
    fn a_field_that_could_mislead_a_reader_is_refused_before_anything_is_sealed() {
        for (field, text) in [
            ("Document/Name", "a.pdf\nSealpost says"),
            ("Document/Name", "invoice\u{202e}fdp.exe"),
            ("Subject", "pay \u{7}now"),
            ("Document/Name", &"n".repeat(257)),
        ] {
            let (store, service, signer) = setup();
            let mut letter = submission("k1", b"letter");
            match field {
                "Subject" => letter.subject = text.into(),
                _ => letter.documents[0].name = text.into(),
            }
            let refusal = service
                .submit(&ctx(), &signer, letter)
                .expect_err("refused");
            assert_eq!(refusal.kind, ErrorKind::InvalidRequest, "{text:?}");
            assert!(
                !refusal
                    .evidence
                    .unwrap_or_default()
                    .contains("TimeStampToken"),
                "{text:?}"
            );
            assert_eq!(letters(&store), 0);
            let commits = store.commits.lock().expect("lock");
            let detail = &commits[0].audit.as_ref().expect("audit").detail;
            assert!(detail.contains(field), "{detail}");
        }
    }

    #[test]
    fn a_refused_request_leaves_only_its_audit_entry_and_its_rejection() {
        let (store, service, signer) = setup();
        let mut bad = submission("k1", b"letter");
        bad.documents[0].declared_sha256 = "00".repeat(32);
        let refusal = service.submit(&ctx(), &signer, bad).expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::InvalidRequest);
        let commits = store.commits.lock().expect("lock");
        let [commit] = commits.as_slice() else {
            panic!("one commit")
        };
        assert!(commit.message.is_none() && commit.documents.is_empty());
        assert!(commit.idempotency.is_none());
        assert_eq!(commit.evidences.len(), 1);
        assert_eq!(commit.evidences[0].event, "SubmissionRejection");
        assert_eq!(
            refusal.evidence.as_deref(),
            Some(commit.evidences[0].xml.as_str())
        );
        let audit = commit.audit.as_ref().expect("audit");
        assert_eq!(audit.code.as_deref(), Some("SEALPOST-REQ-001"));
        assert!(
            audit.detail.contains("declared SHA-256"),
            "{}",
            audit.detail
        );
    }

    #[test]
    fn an_unregistered_certificate_is_refused_without_evidence() {
        let (store, service, mut signer) = setup();
        signer.certificate_sha256 = [2; 32];
        let refusal = service
            .submit(&ctx(), &signer, submission("k1", b"letter"))
            .expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::UntrustedSigner);
        assert!(refusal.evidence.is_none());
        assert_eq!(store.commits.lock().expect("lock").len(), 1);
    }
}

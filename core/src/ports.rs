//! The core's ports, one per capability, each with the errors it can give. The adapters (the
//! `sealpost` crate) implement them: the embedded TSA and the operator's seal, the redb and
//! PostgreSQL stores, the system clock.
//!
//! A store is the four store capabilities together ([`Store`]): the sender [`Registry`], the
//! [`Directory`] of mailboxes, the [`Messages`] with their evidences, and the [`Ledger`], the
//! one place anything is written: a [`Commit`] holds a request's audit entry (it cannot be
//! built without one) and everything the request changes, in one transaction.

use std::sync::Arc;
use std::time::SystemTime;

use sealpost_model::{Evidence, Issuer, Sha256};

use crate::records::{
    AuditRecord, EvidenceRecord, IdempotencyRecord, Mailbox, MessageRecord, MessageState, Notice,
    ReadRecord, SenderRegistration, VectorRecord,
};
use crate::unix;

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

/// A port that cannot do its work now (the TSA's clock is not trusted, the seal's key cannot
/// be reached): the request is answered ServiceUnavailable and nothing of it is committed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// RFC 3161 time-stamps from the provider's time-stamping unit.
pub trait Timestamper: Send + Sync {
    /// A token (DER ContentInfo) over a SHA-256 digest.
    fn timestamp(&self, sha256: &Sha256) -> Result<Vec<u8>, Unavailable>;
}

/// The provider's evidence seal.
pub trait Sealer: Send + Sync {
    /// The sealed evidence document.
    fn seal(&self, evidence: &Evidence) -> Result<String, Unavailable>;
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

/// The kinds of record the core writes for the mailbox and administration without reading
/// them: their encoding is their owner's (the mailbox's people and mandates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A natural person who logs in to the mailbox, by login.
    Person,
    /// A person's certificate (SHA-256, hex) → their login.
    PersonCertificate,
    /// A mandate to read a company's mailbox, by id.
    Mandate,
    /// A legal hold on the audit log's traces, by id (the retention job's).
    LegalHold,
    /// The identification vector that came with a request, by the request's correlation id
    /// (`Commit::vector`, written by the stores as JSON of `records::VectorRecord`).
    Vector,
    /// The current form of an archived evidence, by the evidence's id (JSON of
    /// `records::ArchivedEvidence`): the stores read it with the evidence
    /// (`EvidenceRecord::archived`) and delete it with it.
    EvidenceArchive,
}

impl RecordKind {
    /// The name the stores file it under.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Person => "person",
            RecordKind::PersonCertificate => "person_certificate",
            RecordKind::Mandate => "mandate",
            RecordKind::LegalHold => "legal_hold",
            RecordKind::Vector => "vector",
            RecordKind::EvidenceArchive => "evidence_archive",
        }
    }
}

/// One record written (`Some`) or deleted (`None`) by a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordWrite {
    pub kind: RecordKind,
    pub key: String,
    pub value: Option<Vec<u8>>,
    /// Written only if the record still holds exactly these bytes (as read before the
    /// change was decided); otherwise the whole commit is refused (`Committed::Changed`).
    /// `None`: whatever it holds.
    pub expected: Option<Vec<u8>>,
}

/// A message already stored whose record is replaced, if it is still in state `from`
/// (otherwise the whole commit is refused, `Committed::Changed`): two first openings at once
/// seal one handover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageUpdate {
    pub record: MessageRecord,
    pub from: MessageState,
}

/// Everything one request writes, in one transaction, its audit entry first.
#[derive(Clone, Debug)]
pub struct Commit {
    pub audit: AuditRecord,
    pub message: Option<MessageRecord>,
    /// A message already stored whose record is replaced (its state changed).
    pub message_update: Option<MessageUpdate>,
    /// The documents' SHA-256 and content, in the message's order.
    pub documents: Vec<(Sha256, Arc<Vec<u8>>)>,
    pub evidences: Vec<EvidenceRecord>,
    /// (sender id, key, record): refused if the key is taken.
    pub idempotency: Option<(String, String, IdempotencyRecord)>,
    /// Senders of the registry written (added, changed, deactivated), with the index of
    /// their certificates; a certificate registered to another sender is a Conflict.
    pub senders: Vec<SenderRegistration>,
    /// Mailboxes of the directory written (created, renamed, deactivated).
    pub mailboxes: Vec<Mailbox>,
    /// Records of the mailbox's people and mandates written or deleted.
    pub records: Vec<RecordWrite>,
    /// A read of a letter, for its access journal.
    pub read: Option<ReadRecord>,
    /// Notices to send (the outbox): the recipients of a letter delivered by this commit.
    pub notices: Vec<Notice>,
    /// Notices sent, removed from the outbox.
    pub notices_sent: Vec<String>,
    /// The marks of the signed request this commit answers (its signed content, and the
    /// assertion of its identification vector): the whole commit is refused
    /// (`Committed::Replayed`, nothing written) when the store holds any of them unexpired
    /// at `seen_at`; otherwise they are written with the rest, each kept until its `until`.
    /// Marks expired by then may be forgotten in the same transaction (a bounded number per
    /// commit).
    pub seen: Vec<SeenRequest>,
    /// The identification vector that came with the request, archived with its audit entry.
    pub vector: Option<VectorRecord>,
}

impl Commit {
    /// A commit of `audit` alone; the request's other writes are added to its fields.
    pub fn of(audit: AuditRecord) -> Self {
        Commit {
            audit,
            message: None,
            message_update: None,
            documents: Vec::new(),
            evidences: Vec::new(),
            idempotency: None,
            senders: Vec::new(),
            mailboxes: Vec::new(),
            records: Vec::new(),
            read: None,
            notices: Vec::new(),
            notices_sent: Vec::new(),
            seen: Vec::new(),
            vector: None,
        }
    }
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
    /// Nothing written: a message or record the commit expected in a given state changed
    /// meanwhile (another request got there first); decide again on what is stored now.
    Changed,
}

/// A signed request as its channel verified it: the SHA-256 of exactly what its signature
/// covers (SOAP: the canonical SignedInfo, which holds the digests of the Body and the
/// Timestamp; gRPC: the signed manifest bytes), when it was received, and until when it could
/// be presented at all (its Expires, or its signing time plus the maximum age, plus the
/// allowed clock skew), in Unix seconds. Another valid signature value over the same content
/// (an ECDSA (r, n - s), a fresh randomised signature) is the same request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    pub signed_sha256: Sha256,
    pub seen_at: u64,
    pub until: u64,
}

impl SeenRequest {
    pub fn new(signed_sha256: Sha256, seen_at: SystemTime, until: SystemTime) -> Self {
        SeenRequest {
            signed_sha256,
            seen_at: unix(seen_at),
            until: unix(until),
        }
    }

    /// The mark of a request signed over `signed` (the bytes its signature covers).
    pub fn of_signed_bytes(signed: &[u8], seen_at: SystemTime, until: SystemTime) -> Self {
        Self::new(Sha256::of(signed), seen_at, until)
    }
}

/// The sender registry.
pub trait Registry: Send + Sync {
    /// The sender a certificate (SHA-256, hex) is registered to.
    fn sender_by_certificate(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<SenderRegistration>, StoreError>;
}

/// The directory of mailboxes.
pub trait Directory: Send + Sync {
    /// The mailbox of a recipient (`nrn:…`, `cbe:…`).
    fn mailbox(&self, id: &str) -> Result<Option<Mailbox>, StoreError>;
}

/// The delivered messages, their evidences and the senders' idempotency keys.
pub trait Messages: Send + Sync {
    fn idempotency(
        &self,
        sender_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;
    fn evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StoreError>;
    /// A message's evidences, oldest first.
    fn evidences_of(&self, message_id: &str) -> Result<Vec<EvidenceRecord>, StoreError>;
    /// A letter's access journal, oldest first.
    fn reads_of(&self, message_id: &str) -> Result<Vec<ReadRecord>, StoreError>;
    /// The content of a message's document (by its index in the message).
    fn document(&self, message_id: &str, index: u32) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Where requests are written: the audit log with what each request changed, and the marks
/// of the signed requests received.
pub trait Ledger: Send + Sync {
    /// Whether the store holds the mark of the same signed content as `request`, unexpired
    /// at `request.seen_at` (a cheap read before any work; the commit decides).
    fn seen(&self, request: &SeenRequest) -> Result<bool, StoreError>;
    /// All of it or nothing, durable when it returns `Ok`.
    fn commit(&self, commit: Commit) -> Result<Committed, StoreError>;
}

/// The notices waiting to be sent.
pub trait Outbox: Send + Sync {
    /// The oldest `limit` notices not sent yet.
    fn pending_notices(&self, limit: usize) -> Result<Vec<Notice>, StoreError>;
}

/// Tells a letter's recipients that it arrived, by a channel outside the mailbox (mail, SMS,
/// a government app): the people who read that mailbox, each at their contact address.
pub trait Notifier: Send + Sync {
    /// How many people were told; an error when the notice must be tried again.
    fn tell(&self, notice: &Notice) -> Result<usize, Unavailable>;
}

/// The durable state: every store capability of one database.
pub trait Store: Registry + Directory + Messages + Ledger {}

impl<T: Registry + Directory + Messages + Ledger + ?Sized> Store for T {}

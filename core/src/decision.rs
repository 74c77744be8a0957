//! The audit rule, in a type: every request ends with exactly one audit entry committed with
//! everything it changed, or its answer is ServiceUnavailable.
//!
//! A use case decides a [`Decision`]: its answer and the [`Commit`] that makes it durable,
//! which holds the request's audit entry (a `Commit` cannot be built without one).
//! [`Service::conclude`] is the only way a decision becomes an answer and the only caller of
//! [`crate::ports::Ledger::commit`]: the answer is given once the commit is durable; a
//! replayed request (its mark found by the commit) is answered by [`Service::refuse_replay`];
//! a commit that fails is answered ServiceUnavailable, with no evidence.

use std::sync::Arc;

use crate::error::ErrorKind;
use crate::ports::{Clock, Commit, Committed, Ledger, RecordWrite, StoreError};
use crate::records::{AuditRecord, IdempotencyRecord, Mailbox, SenderRegistration, VectorRecord};
use crate::request::{IdentificationVector, Refusal, RequestContext, VerifiedSigner};
use sealpost_model::Sha256;

use crate::{Service, unix};

/// A refusal in the making: the kind, and the detail for the log and the audit entry.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) kind: ErrorKind,
    pub(crate) detail: String,
}

pub(crate) fn refused(kind: ErrorKind, detail: impl Into<String>) -> Refused {
    Refused {
        kind,
        detail: detail.into(),
    }
}

/// A store that could not answer: the request is answered ServiceUnavailable.
pub(crate) fn store_unavailable(e: StoreError) -> Refused {
    refused(ErrorKind::ServiceUnavailable, e.to_string())
}

/// How a request ends: its answer, and the one commit (its audit entry and every write) that
/// must be durable before the answer is given.
#[derive(Debug)]
pub(crate) struct Decision<T> {
    pub(crate) answer: Result<T, Refused>,
    pub(crate) commit: Commit,
    /// Whether the commit carries the request's mark (every answer but ServiceUnavailable,
    /// and but the refusal of a replay, whose mark is there already).
    marked: bool,
}

/// What [`Recorder::conclude_keyed`] found: the answer, or that the commit's premise no
/// longer holds and nothing was written (the idempotency key was taken meanwhile; a message
/// or record it expected in a given state changed): the caller decides again.
pub(crate) enum Concluded<T> {
    Answer(T),
    KeyTaken(IdempotencyRecord),
    Changed,
}

/// Whether a change was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Done,
    /// Nothing written: a record it expected to hold what was read changed meanwhile (two
    /// requests raced); read again and decide again.
    Changed,
}

/// The changes an action outside the channels makes (a mailbox login that counts a failed
/// attempt, a mandate granted, an account deleted by retention), committed with its audit
/// entry.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub records: Vec<RecordWrite>,
    pub senders: Vec<SenderRegistration>,
    pub mailboxes: Vec<Mailbox>,
    /// Notices sent, removed from the outbox.
    pub notices_sent: Vec<String>,
}

/// The audit rule's keeper: it builds each request's audit entry and commits every
/// decision. It needs only the ledger and the clock, so administration uses it without the
/// rest of the service.
pub struct Recorder {
    ledger: Arc<dyn Ledger>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    pub fn new(ledger: Arc<dyn Ledger>, clock: Arc<dyn Clock>) -> Self {
        Recorder { ledger, clock }
    }

    /// The audit entry of a request answered `outcome`.
    pub(crate) fn audit_record(
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
            request_sha256: Some(Sha256::of(&ctx.request)),
        }
    }

    /// The decision to answer `answer`, audited under `identity` (and `message_id`); its
    /// commit holds the audit entry and nothing else yet.
    pub(crate) fn decide<T>(
        &self,
        ctx: &RequestContext,
        identity: &str,
        message_id: Option<&str>,
        answer: Result<T, Refused>,
    ) -> Decision<T> {
        let audit = self.audit_record(ctx, identity, answer.as_ref().map(|_| ()), message_id);
        let marked = !matches!(&answer, Err(r) if r.kind == ErrorKind::ServiceUnavailable);
        Decision {
            answer,
            commit: Commit::of(audit),
            marked,
        }
    }

    /// Commits `decision` and gives its answer (see the module's documentation).
    pub(crate) fn conclude<T>(
        &self,
        ctx: &RequestContext,
        decision: Decision<T>,
    ) -> Result<T, Refusal> {
        match self.conclude_keyed(ctx, decision)? {
            Concluded::Answer(value) => Ok(value),
            Concluded::KeyTaken(_) | Concluded::Changed => {
                // Only a commit that claims a key or expects a state can find it taken or
                // changed; those are concluded with `conclude_keyed`.
                tracing::error!(correlation_id = %ctx.correlation_id, "the store refused a commit for a premise it does not hold");
                Err(self.unavailable(ctx))
            }
        }
    }

    /// [`Recorder::conclude`], for a commit that claims an idempotency key or expects a
    /// stored state: the key taken or the state changed meanwhile is the caller's to answer
    /// (nothing was written).
    pub(crate) fn conclude_keyed<T>(
        &self,
        ctx: &RequestContext,
        decision: Decision<T>,
    ) -> Result<Concluded<T>, Refusal> {
        let Decision {
            answer,
            mut commit,
            marked,
        } = decision;
        if marked {
            commit.seen = ctx.marks();
            commit.vector = ctx.vector.as_ref().map(|v| VectorRecord {
                correlation_id: ctx.correlation_id.clone(),
                time: commit.audit.time,
                operation: commit.audit.operation.clone(),
                identity: commit.audit.identity.clone(),
                outcome: commit.audit.outcome.clone(),
                code: commit.audit.code.clone(),
                message_id: commit.audit.message_id.clone(),
                agent: v.agent.clone(),
                organisation: v.organisation.clone(),
                authentication_context: v.authentication_context.clone(),
                token: v.token.clone(),
                assertion: String::from_utf8_lossy(&v.assertion).into_owned(),
            });
        }
        let identity = commit.audit.identity.clone();
        let message_id = commit.audit.message_id.clone();
        let evidence = commit
            .evidences
            .first()
            .map(|e| (e.xml.clone(), e.message_id.clone()));
        match self.ledger.commit(commit) {
            Ok(Committed::Done) => match answer {
                Ok(value) => Ok(Concluded::Answer(value)),
                Err(r) => {
                    let (evidence, message_id) = evidence.unzip();
                    Err(Refusal {
                        kind: r.kind,
                        correlation_id: ctx.correlation_id.clone(),
                        evidence,
                        message_id,
                    })
                }
            },
            Ok(Committed::KeyTaken(known)) => Ok(Concluded::KeyTaken(known)),
            Ok(Committed::Changed) => Ok(Concluded::Changed),
            Ok(Committed::Replayed) if marked => Err(self.refuse_replay(ctx, &identity)),
            Ok(Committed::Replayed) => {
                tracing::error!(correlation_id = %ctx.correlation_id, "the store reported a replay for a commit without a mark");
                Err(self.unavailable(ctx))
            }
            Err(e) => {
                tracing::error!(correlation_id = %ctx.correlation_id, error = %e, "a request's commit failed");
                let failed = matches!(&answer, Err(r) if r.kind == ErrorKind::ServiceUnavailable);
                if !failed {
                    // Once, unmarked, so that a retry works: the audit log says what happened.
                    let r = store_unavailable(e);
                    let audit = self.audit_record(ctx, &identity, Err(&r), message_id.as_deref());
                    if let Err(e) = self.ledger.commit(Commit::of(audit)) {
                        tracing::error!(correlation_id = %ctx.correlation_id, error = %e, "the audit entry of an unavailable answer cannot be written either");
                    }
                }
                Err(self.unavailable(ctx))
            }
        }
    }

    /// The answer when nothing could be committed.
    pub(crate) fn unavailable(&self, ctx: &RequestContext) -> Refusal {
        Refusal {
            kind: ErrorKind::ServiceUnavailable,
            correlation_id: ctx.correlation_id.clone(),
            evidence: None,
            message_id: None,
        }
    }

    /// A refusal without evidence, concluded.
    pub(crate) fn refuse(&self, ctx: &RequestContext, identity: &str, r: Refused) -> Refusal {
        let decision = self.decide::<()>(ctx, identity, None, Err(r));
        match self.conclude(ctx, decision) {
            Ok(()) => self.unavailable(ctx),
            Err(refusal) => refusal,
        }
    }

    /// The cheap read before any work: a request whose mark the store already holds gets
    /// [`Service::refuse_replay`]'s answer at once.
    pub(crate) fn check_replay(&self, ctx: &RequestContext, identity: &str) -> Result<(), Refusal> {
        for mark in ctx.marks() {
            match self.ledger.seen(&mark) {
                Ok(false) => {}
                Ok(true) => return Err(self.refuse_replay(ctx, identity)),
                Err(e) => return Err(self.refuse(ctx, identity, store_unavailable(e))),
            }
        }
        Ok(())
    }

    /// The answer to a replayed request (its mark is in the store, found before any work or
    /// by the commit): Expired, with its audit entry (without the mark, which is there
    /// already) and no evidence.
    pub(crate) fn refuse_replay(&self, ctx: &RequestContext, identity: &str) -> Refusal {
        let signed = ctx.seen.map(|s| s.signed_sha256.hex()).unwrap_or_default();
        let r = refused(
            ErrorKind::Expired,
            match &ctx.vector {
                Some(v) => format!(
                    "replayed: the signed content {signed}, or the assertion {} of {}, was already received",
                    v.agent.assertion_id, v.agent.identity_provider
                ),
                None => format!("replayed: the signed content {signed} was already received"),
            },
        );
        tracing::info!(correlation_id = %ctx.correlation_id, detail = %r.detail, "request refused");
        let mut decision = self.decide::<()>(ctx, identity, None, Err(r));
        decision.marked = false;
        match self.conclude(ctx, decision) {
            Ok(()) => self.unavailable(ctx),
            Err(refusal) => refusal,
        }
    }

    /// Writes the audit entry of an action outside the channels (a mailbox login, a mandate
    /// granted, a retention run's deletion) and, in the same commit, what it changed:
    /// `identity` names the natural person or the operator, `ctx.operation` the action. A
    /// failed action (`ok` false) is audited as refused (NotAuthorized) with its changes
    /// (a failed login counts the attempt). A change that expected a record to hold what was
    /// read is not written, nor its audit entry, if the record changed meanwhile:
    /// `Written::Changed`.
    pub fn record_change(
        &self,
        ctx: &RequestContext,
        identity: &str,
        ok: bool,
        detail: &str,
        changes: Changes,
    ) -> Result<Written, Refusal> {
        let answer = if ok {
            Ok(())
        } else {
            Err(refused(ErrorKind::NotAuthorized, detail))
        };
        let mut decision = self.decide(ctx, identity, None, answer);
        if ok {
            decision.commit.audit.detail = detail.to_owned();
        }
        decision.commit.records = changes.records;
        decision.commit.senders = changes.senders;
        decision.commit.mailboxes = changes.mailboxes;
        decision.commit.notices_sent = changes.notices_sent;
        match self.conclude_keyed(ctx, decision) {
            Ok(Concluded::Answer(())) => Ok(Written::Done),
            Ok(Concluded::Changed) => Ok(Written::Changed),
            Ok(Concluded::KeyTaken(_)) => Err(self.unavailable(ctx)),
            // A failed action's refusal is its outcome, durable: recorded, not an error.
            Err(refusal) if !ok && refusal.kind == ErrorKind::NotAuthorized => Ok(Written::Done),
            Err(refusal) => Err(refusal),
        }
    }

    /// The audit entry of an action outside the channels, without changes.
    pub fn record_action(
        &self,
        ctx: &RequestContext,
        identity: &str,
        ok: bool,
        detail: &str,
    ) -> Result<(), Refusal> {
        self.record_change(ctx, identity, ok, detail, Changes::default())
            .map(|_| ())
    }
}

impl Service {
    /// Records a request refused before its sender was authenticated (a bad signature, an
    /// untrusted certificate, a malformed envelope) and returns the refusal to send.
    pub fn refuse_unauthenticated(
        &self,
        ctx: &RequestContext,
        claimed_identity: &str,
        kind: ErrorKind,
        detail: &str,
    ) -> Refusal {
        self.recorder
            .refuse(ctx, claimed_identity, refused(kind, detail))
    }

    /// The registered, active sender of this certificate, with the identification vector the
    /// registry requires of it: one from an identity provider the sender is registered with
    /// when it has any (its agents act through it), none otherwise; and the vector names this
    /// organisation as the one its agent acts for.
    pub(crate) fn authenticate(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
    ) -> Result<SenderRegistration, Refused> {
        let fingerprint = signer.certificate_sha256.hex();
        match self.registry.sender_by_certificate(&fingerprint) {
            Ok(Some(sender)) if sender.active => {
                Self::vector_for(&sender, ctx.vector.as_deref())?;
                Ok(sender)
            }
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
            Err(e) => Err(store_unavailable(e)),
        }
    }

    /// Whether `vector` is what the registry requires of `sender` (see
    /// [`Service::authenticate`]).
    fn vector_for(
        sender: &SenderRegistration,
        vector: Option<&IdentificationVector>,
    ) -> Result<(), Refused> {
        match vector {
            None if sender.identity_providers.is_empty() => Ok(()),
            None => Err(refused(
                ErrorKind::UntrustedSigner,
                format!(
                    "sender {} acts through its agents: a request needs their identification vector (a SAML assertion of {})",
                    sender.id,
                    sender.identity_providers.join(", ")
                ),
            )),
            Some(v)
                if !sender
                    .identity_providers
                    .contains(&v.agent.identity_provider) =>
            {
                Err(refused(
                    ErrorKind::UntrustedSigner,
                    format!(
                        "sender {} is not registered with the identity provider {}",
                        sender.id, v.agent.identity_provider
                    ),
                ))
            }
            // An identity provider may serve several organisations: the vector must say
            // which one the agent acts for, and it must be this one.
            Some(v) if v.organisation.as_deref() != Some(sender.id.as_str()) => Err(refused(
                ErrorKind::UntrustedSigner,
                match &v.organisation {
                    Some(o) => format!(
                        "the vector's agent acts for {o:?}, not for sender {}",
                        sender.id
                    ),
                    None => format!(
                        "the vector does not say which organisation its agent acts for (sender {})",
                        sender.id
                    ),
                },
            )),
            Some(_) => Ok(()),
        }
    }

    /// [`Service::authenticate`] for a request that ends here when it fails: the refusal,
    /// concluded.
    pub(crate) fn authenticated(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
    ) -> Result<SenderRegistration, Refusal> {
        self.authenticate(ctx, signer)
            .map_err(|r| self.recorder.refuse(ctx, &Self::claimed(ctx, signer), r))
    }

    /// How the audit log names a signer not (or not yet) authenticated as a sender: its
    /// certificate's subject, and the agent its vector names.
    pub(crate) fn claimed(ctx: &RequestContext, signer: &VerifiedSigner) -> String {
        match &ctx.vector {
            Some(v) => format!("{} for {}", signer.subject, v.in_words()),
            None => signer.subject.clone(),
        }
    }

    /// How the audit log names an authenticated sender, and the agent who acted for it.
    pub(crate) fn identity(
        ctx: &RequestContext,
        sender: &SenderRegistration,
        signer: &VerifiedSigner,
    ) -> String {
        match &ctx.vector {
            Some(v) => format!("{} ({}) for {}", sender.id, signer.subject, v.in_words()),
            None => format!("{} ({})", sender.id, signer.subject),
        }
    }
}

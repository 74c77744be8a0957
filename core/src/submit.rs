//! Submitting a letter: the checks in their order, the proof of dispatch, and the sealed
//! SubmissionRejection of a refused submission.

use std::sync::Arc;
use std::time::SystemTime;

use aws_lc_rs::digest;
use sealpost_model::{
    Document, Event, Evidence, Recipient, Sender, UNIDENTIFIED_RECIPIENT, new_evidence_id,
};

use crate::decision::{Concluded, Refused, refused, store_unavailable};
use crate::error::ErrorKind;
use crate::ids::{self, RecipientId, RecipientKind};
use crate::records::{
    DocumentMeta, EvidenceRecord, IdempotencyRecord, MessageRecord, MessageState, Notice,
    SenderRegistration,
};
use crate::request::{
    Accepted, IdentificationVector, Refusal, RequestContext, Submission, VerifiedSigner,
};
use crate::{Service, audit, unix};

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
        field(d.sha256.as_bytes());
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

/// One submission by an authenticated sender, as it goes through the steps.
struct Submitting<'a> {
    ctx: &'a RequestContext,
    signer: &'a VerifiedSigner,
    sender: &'a SenderRegistration,
    /// How the audit log names the sender.
    identity: String,
    submission: &'a Submission,
    now: SystemTime,
}

/// What the checks found a submission to be.
enum Checked {
    /// A letter to deliver: its message, sealed evidences and everything its commit writes.
    New(Box<NewLetter>),
    /// The idempotency key is known: the answer is the original proof, or a duplicate.
    Known(IdempotencyRecord),
}

struct NewLetter {
    message: MessageRecord,
    evidences: Vec<EvidenceRecord>,
    acceptance_xml: String,
    idempotency: IdempotencyRecord,
}

impl Service {
    /// Submits a letter. `signer` has been verified by the adapter.
    pub fn submit(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        submission: Submission,
    ) -> Result<Accepted, Refusal> {
        self.recorder
            .check_replay(ctx, &Self::claimed(ctx, signer))?;
        let sender = self.authenticated(ctx, signer)?;
        let s = Submitting {
            ctx,
            signer,
            sender: &sender,
            identity: Self::identity(ctx, &sender, signer),
            submission: &submission,
            now: self.clock.now(),
        };
        let content = content_hash(&submission);
        match self.check(&s, &content) {
            Ok(Checked::New(letter)) => self.deliver(&s, &content, *letter),
            Ok(Checked::Known(known)) => self.answer_again(&s, &content, known),
            Err(r) => Err(self.reject(&s, r)),
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
        if let Err(refusal) = self.recorder.check_replay(ctx, &Self::claimed(ctx, signer)) {
            return refusal;
        }
        let sender = match self.authenticated(ctx, signer) {
            Ok(s) => s,
            Err(refusal) => return refusal,
        };
        let s = Submitting {
            ctx,
            signer,
            sender: &sender,
            identity: Self::identity(ctx, &sender, signer),
            submission: known,
            now: self.clock.now(),
        };
        self.reject(&s, refused(kind, detail))
    }

    /// Commits a new letter: its answer is its SubmissionAcceptance, once durable.
    fn deliver(
        &self,
        s: &Submitting<'_>,
        content: &str,
        letter: NewLetter,
    ) -> Result<Accepted, Refusal> {
        let NewLetter {
            message,
            evidences,
            acceptance_xml,
            idempotency,
        } = letter;
        let accepted = Accepted {
            message_id: message.id.clone(),
            evidence: acceptance_xml,
            replayed: false,
        };
        let mut decision =
            self.recorder
                .decide(s.ctx, &s.identity, Some(&message.id), Ok(accepted));
        let commit = &mut decision.commit;
        commit.documents = s
            .submission
            .documents
            .iter()
            .map(|d| (d.sha256, Arc::clone(&d.content)))
            .collect();
        commit.idempotency = Some((
            s.sender.id.clone(),
            s.submission.idempotency_key.clone(),
            idempotency,
        ));
        // The recipients are told once the letter is there, from the outbox it is written in.
        commit.notices = vec![Notice {
            id: new_evidence_id(s.now),
            mailbox: message.recipient.clone(),
            message_id: message.id.clone(),
            sender_id: s.sender.id.clone(),
            created_at: unix(s.now),
        }];
        commit.message = Some(message);
        commit.evidences = evidences;
        match self.recorder.conclude_keyed(s.ctx, decision)? {
            Concluded::Answer(accepted) => Ok(accepted),
            Concluded::KeyTaken(known) => self.answer_again(s, content, known),
            // A new letter expects nothing stored.
            Concluded::Changed => Err(self.recorder.unavailable(s.ctx)),
        }
    }

    /// The answer to a submission whose idempotency key is known: the original proof for the
    /// same content, a sealed DuplicateSubmission rejection for other content.
    fn answer_again(
        &self,
        s: &Submitting<'_>,
        content: &str,
        known: IdempotencyRecord,
    ) -> Result<Accepted, Refusal> {
        if known.content_hash != content {
            return Err(self.reject(
                s,
                refused(
                    ErrorKind::DuplicateSubmission,
                    format!(
                        "the idempotency key was used for message {}",
                        known.message_id
                    ),
                ),
            ));
        }
        let evidence = self
            .messages
            .evidence(&known.evidence_id)
            .map_err(store_unavailable)
            .and_then(|e| {
                e.ok_or_else(|| {
                    refused(
                        ErrorKind::ServiceUnavailable,
                        format!(
                            "evidence {} of an idempotency key is missing",
                            known.evidence_id
                        ),
                    )
                })
            })
            .map(|e| Accepted {
                message_id: known.message_id.clone(),
                evidence: e.into_current(),
                replayed: true,
            });
        let decision = self
            .recorder
            .decide(s.ctx, &s.identity, Some(&known.message_id), evidence);
        self.recorder.conclude(s.ctx, decision)
    }

    /// Steps 2 to 7: the request, the registry, the digests, the idempotency key, the
    /// recipient's mailbox; then the time-stamps and seals.
    fn check(&self, s: &Submitting<'_>, content: &str) -> Result<Checked, Refused> {
        let submission = s.submission;
        let sender = s.sender;
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

        // 3b. The agent's rights: a PAGM profile that grants this message type to this kind of
        // recipient, and the authentication level the message type needs.
        self.agent_may_send(
            sender,
            s.ctx.vector.as_deref(),
            &submission.message_type,
            recipient.kind(),
        )?;

        // 4. The declared digests.
        for d in &submission.documents {
            let received = d.sha256.hex();
            if !d.declared_sha256.eq_ignore_ascii_case(&received) {
                return Err(refused(
                    ErrorKind::InvalidRequest,
                    format!(
                        "document {}: declared SHA-256 {} but received {received}",
                        d.id, d.declared_sha256,
                    ),
                ));
            }
        }

        // 5. Idempotency.
        if let Some(known) = self
            .messages
            .idempotency(&sender.id, &submission.idempotency_key)
            .map_err(store_unavailable)?
        {
            return Ok(Checked::Known(known));
        }

        // 6. The recipient's mailbox.
        match self
            .directory
            .mailbox(recipient.as_str())
            .map_err(store_unavailable)?
        {
            Some(m) if m.active && m.refused_at.is_some() => {
                return Err(refused(
                    ErrorKind::RecipientRefused,
                    format!("{recipient} refuses electronic delivery"),
                ));
            }
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
        let now = s.now;
        let message_id = new_evidence_id(now);
        let documents = self.time_stamped_documents(submission)?;
        let acceptance = self.evidence(
            s,
            Event::SubmissionAcceptance,
            &message_id,
            submission,
            &documents,
        );
        let consignment = Evidence {
            follows_from: Some(acceptance.id.clone()),
            ..self.evidence(
                s,
                Event::ContentConsignment,
                &message_id,
                submission,
                &documents,
            )
        };
        let acceptance_xml = self.seal(&acceptance)?;
        let consignment_xml = self.seal(&consignment)?;
        let record = |e: &Evidence, xml: String| EvidenceRecord {
            id: e.id.clone(),
            message_id: message_id.clone(),
            event: e.event.name().to_owned(),
            sender_id: sender.id.clone(),
            created_at: unix(now),
            xml,
            archived: None,
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
                    sha256: d.sha256,
                    time_stamp_token: stamped.time_stamp_token.clone().unwrap_or_default(),
                })
                .collect(),
            submitted_at: unix(now),
            state: MessageState::Delivered,
            idempotency_key: submission.idempotency_key.clone(),
            sender_subject: s.signer.subject.clone(),
            sender_authentication: s.signer.authentication.clone(),
            acceptance_id: acceptance.id.clone(),
            sender_agent: s.ctx.vector.as_ref().map(|v| v.agent.clone()),
        };
        Ok(Checked::New(Box::new(NewLetter {
            evidences: vec![
                record(&acceptance, acceptance_xml.clone()),
                record(&consignment, consignment_xml),
            ],
            idempotency: IdempotencyRecord {
                content_hash: content.to_owned(),
                message_id,
                evidence_id: acceptance.id.clone(),
            },
            message,
            acceptance_xml,
        })))
    }

    /// Whether the agent behind a request may send `message_type` to a `kind` of recipient
    /// for `sender`: with a vector, one of the agent's PAGM profiles must grant it; a message
    /// type with a least authentication level needs a vector that states at least that.
    fn agent_may_send(
        &self,
        sender: &SenderRegistration,
        vector: Option<&IdentificationVector>,
        message_type: &str,
        kind: RecipientKind,
    ) -> Result<(), Refused> {
        if let Some(v) = vector {
            let granted = sender.pagm.iter().any(|g| {
                v.agent.profiles.contains(&g.profile)
                    && g.message_types.iter().any(|t| t == message_type)
                    && g.recipient_kinds.contains(&kind)
            });
            if !granted {
                return Err(refused(
                    ErrorKind::NotAuthorized,
                    format!(
                        "agent {} of {} holds no PAGM profile that grants {message_type:?} to a {} (they hold: {})",
                        v.agent.id,
                        sender.id,
                        kind.name(),
                        if v.agent.profiles.is_empty() {
                            "none".to_owned()
                        } else {
                            v.agent.profiles.join(", ")
                        }
                    ),
                ));
            }
        }
        if let Some(least) = sender
            .minimum_levels
            .iter()
            .find(|m| m.message_type == message_type)
        {
            let stated = vector.and_then(IdentificationVector::level);
            if stated.is_none_or(|l| l < least.level) {
                return Err(refused(
                    ErrorKind::NotAuthorized,
                    format!(
                        "{message_type:?} needs an agent authenticated at level {} or more; the request's vector states {}",
                        least.level,
                        vector
                            .and_then(|v| v.agent.authentication_level.as_deref())
                            .unwrap_or("none")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The evidence's documents, each time-stamped by the provider's TSA.
    fn time_stamped_documents(&self, submission: &Submission) -> Result<Vec<Document>, Refused> {
        submission
            .documents
            .iter()
            .map(|d| {
                Ok(Document {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    size: d.content.len() as u64,
                    sha256: d.sha256,
                    time_stamp_token: Some(self.timestamper.timestamp(&d.sha256).map_err(|e| {
                        refused(ErrorKind::ServiceUnavailable, format!("time-stamping: {e}"))
                    })?),
                })
            })
            .collect()
    }

    /// The sealed evidence document.
    pub(crate) fn seal(&self, evidence: &Evidence) -> Result<String, Refused> {
        self.sealer
            .seal(evidence)
            .map_err(|e| refused(ErrorKind::ServiceUnavailable, format!("sealing: {e}")))
    }

    /// An evidence of `event` about `submission` (what `s` submitted, or what of it an
    /// evidence can show), without a reason or a predecessor.
    fn evidence(
        &self,
        s: &Submitting<'_>,
        event: Event,
        message_id: &str,
        submission: &Submission,
        documents: &[Document],
    ) -> Evidence {
        Evidence {
            id: new_evidence_id(s.now),
            event,
            event_time: s.now,
            issuer: self.sealer.issuer(),
            sender: Sender {
                subject: s.signer.subject.clone(),
                registry_id: s.sender.id.clone(),
                authentication: s.signer.authentication.clone(),
                agent: s.ctx.vector.as_ref().map(|v| v.agent.clone()),
            },
            recipient: Recipient {
                id: submission.recipient.clone(),
                delegate: None,
                mandate: None,
                authentication: None,
            },
            submission_time: s.now,
            message_id: message_id.to_owned(),
            sender_reference: submission.sender_reference.clone(),
            subject: Some(submission.subject.clone()),
            documents: documents.to_vec(),
            reason: None,
            follows_from: None,
        }
    }

    /// The refusal of an authenticated sender's submission: with a sealed
    /// SubmissionRejection, or, when the service could not do its part (a store, the TSA
    /// or the seal unavailable), ServiceUnavailable without one.
    fn reject(&self, s: &Submitting<'_>, r: Refused) -> Refusal {
        if r.kind == ErrorKind::ServiceUnavailable {
            tracing::error!(correlation_id = %s.ctx.correlation_id, detail = %r.detail, "submission failed");
            return self.recorder.refuse(s.ctx, &s.identity, r);
        }
        tracing::info!(correlation_id = %s.ctx.correlation_id, code = r.kind.row().code, detail = %r.detail, "submission refused");
        let message_id = new_evidence_id(s.now);
        match self.rejection(s, &message_id, &r) {
            Ok(evidence) => {
                let mut decision =
                    self.recorder
                        .decide::<()>(s.ctx, &s.identity, Some(&message_id), Err(r));
                decision.commit.evidences = vec![evidence];
                match self.recorder.conclude(s.ctx, decision) {
                    Ok(()) => self.recorder.unavailable(s.ctx),
                    Err(refusal) => refusal,
                }
            }
            Err(e) => {
                let failed = refused(
                    ErrorKind::ServiceUnavailable,
                    format!("{}; sealing the rejection failed: {}", r.detail, e.detail),
                );
                self.recorder.refuse(s.ctx, &s.identity, failed)
            }
        }
    }

    /// The sealed SubmissionRejection for an authenticated sender's refused submission.
    fn rejection(
        &self,
        s: &Submitting<'_>,
        message_id: &str,
        r: &Refused,
    ) -> Result<EvidenceRecord, Refused> {
        // The evidence repeats what was received; text it cannot carry is left out.
        let mut shown = s.submission.clone();
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
            s,
            Event::SubmissionRejection,
            message_id,
            &shown,
            &documents,
        );
        evidence.reason = Some(reason);
        if evidence.check_characters().is_err() {
            evidence.subject = None;
            evidence.sender_reference = "(not representable)".into();
            for d in &mut evidence.documents {
                d.name = "(not representable)".into();
            }
        }
        let xml = self.seal(&evidence)?;
        Ok(EvidenceRecord {
            id: evidence.id.clone(),
            message_id: message_id.to_owned(),
            event: evidence.event.name().to_owned(),
            sender_id: s.sender.id.clone(),
            created_at: unix(s.now),
            xml,
            archived: None,
        })
    }
}

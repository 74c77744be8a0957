//! A letter read: every access to it (its page, a document, an evidence; by its owner or a
//! mandatary) is this one use case. The first seals the ContentHandover naming who opened it,
//! exactly once even when two openings race; each one is traced, and nothing of the letter is
//! handed out before its trace is durable.

use std::time::{Duration, UNIX_EPOCH};

use sealpost_model::{Document, Event, Evidence, Recipient, Sender, new_evidence_id};

use crate::decision::{Concluded, Refused, refused, store_unavailable};
use crate::error::ErrorKind;
use crate::ports::MessageUpdate;
use crate::records::{EvidenceRecord, MessageRecord, MessageState, ReadRecord};
use crate::request::{Refusal, RequestContext};
use crate::{Service, unix};

/// Who reads a letter: the natural person, the mandate they act under (company mailboxes),
/// and how they logged in (the first opening's handover states all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reader<'a> {
    pub person: &'a str,
    pub mandate: Option<&'a str>,
    pub authentication: Option<&'a str>,
}

/// What of a letter is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterPart {
    /// Its page: what it is, its documents and evidences listed.
    Page,
    /// The content of its document of this index.
    Document(usize),
    /// Its evidence of this index (oldest first).
    Evidence(usize),
}

impl LetterPart {
    fn describe(self) -> String {
        match self {
            LetterPart::Page => "the letter".into(),
            LetterPart::Document(n) => format!("document {n}"),
            LetterPart::Evidence(n) => format!("evidence {n}"),
        }
    }
}

/// What a read hands out, once its trace is durable.
#[derive(Clone, Debug)]
pub struct LetterRead {
    pub message: MessageRecord,
    /// Every evidence of the letter, oldest first, the handover of this opening included.
    pub evidences: Vec<EvidenceRecord>,
    /// The document's content, for [`LetterPart::Document`].
    pub document: Option<Vec<u8>>,
    /// The letter's access journal, oldest first, this read included.
    pub reads: Vec<ReadRecord>,
}

/// How many times an opening is decided again when another one got there first.
const RACES: usize = 3;

impl Service {
    /// `person` (under `mandate`, for a company's mailbox) reads `part` of message
    /// `message_id`; whether they may is the mailbox's decision, made before. The first read
    /// of any part seals a ContentHandover naming them (the sender gets it through
    /// GetEvidence) and, in the same commit, the message becomes Opened, if it still was
    /// Delivered: of two first openings at once, one seals and the other is traced as a later
    /// one. Every read has its audit entry; what it reads is handed out only after.
    pub fn read_letter(
        &self,
        ctx: &RequestContext,
        message_id: &str,
        reader: &Reader<'_>,
        part: LetterPart,
    ) -> Result<LetterRead, Refusal> {
        let Reader {
            person,
            mandate,
            authentication,
        } = *reader;
        let identity = match mandate {
            Some(m) => format!("{person} (mandate {m})"),
            None => person.to_owned(),
        };
        for _ in 0..RACES {
            let (answer, handover) = match self.prepare_read(message_id, reader, part) {
                Ok((message, handover, document)) => (Ok((message, document)), handover),
                Err(r) => (Err(r), None),
            };
            let mut decision = self
                .recorder
                .decide(ctx, &identity, Some(message_id), answer);
            decision.commit.audit.detail = match &decision.answer {
                Ok(_) => format!(
                    "{} read {}{}{}",
                    identity,
                    part.describe(),
                    authentication
                        .map(|a| format!(" (logged in by {a})"))
                        .unwrap_or_default(),
                    if handover.is_some() {
                        ", first opening: handover sealed"
                    } else {
                        ""
                    }
                ),
                Err(_) => std::mem::take(&mut decision.commit.audit.detail),
            };
            if decision.answer.is_ok() {
                decision.commit.read = Some(ReadRecord {
                    message_id: message_id.to_owned(),
                    at: unix(self.clock.now()),
                    who: identity.clone(),
                    what: part.describe(),
                });
            }
            if let Some((message, record)) = handover {
                decision.commit.message_update = Some(MessageUpdate {
                    record: MessageRecord {
                        state: MessageState::Opened,
                        ..message
                    },
                    from: MessageState::Delivered,
                });
                decision.commit.evidences = vec![record];
            }
            match self.recorder.conclude_keyed(ctx, decision)? {
                Concluded::Answer((message, document)) => {
                    // Read after the commit, so the lists hold this opening's handover and
                    // this read.
                    let lists = self
                        .messages
                        .evidences_of(message_id)
                        .and_then(|evidences| Ok((evidences, self.messages.reads_of(message_id)?)));
                    return match lists {
                        Ok((evidences, reads)) => Ok(LetterRead {
                            message,
                            evidences,
                            document,
                            reads,
                        }),
                        Err(e) => {
                            tracing::error!(correlation_id = %ctx.correlation_id, error = %e, "the evidences of a letter read cannot be listed");
                            Err(self.recorder.unavailable(ctx))
                        }
                    };
                }
                // Opened meanwhile by someone else: decided again, as a later opening.
                Concluded::Changed => continue,
                Concluded::KeyTaken(_) => return Err(self.recorder.unavailable(ctx)),
            }
        }
        tracing::error!(correlation_id = %ctx.correlation_id, "a letter's opening lost every race");
        Err(self.recorder.unavailable(ctx))
    }

    /// The message, its sealed handover if this is its first opening, and the document's
    /// content if one is read; a part that does not exist is MessageUnknown, as a letter that
    /// does not exist.
    #[allow(clippy::type_complexity)]
    fn prepare_read(
        &self,
        message_id: &str,
        reader: &Reader<'_>,
        part: LetterPart,
    ) -> Result<
        (
            MessageRecord,
            Option<(MessageRecord, EvidenceRecord)>,
            Option<Vec<u8>>,
        ),
        Refused,
    > {
        let message = self
            .messages
            .message(message_id)
            .map_err(store_unavailable)?
            .ok_or_else(|| {
                refused(
                    ErrorKind::MessageUnknown,
                    format!("no message {message_id}"),
                )
            })?;
        let missing = || {
            refused(
                ErrorKind::MessageUnknown,
                format!("message {message_id} has no {}", part.describe()),
            )
        };
        let document = match part {
            LetterPart::Document(n) => {
                let index = u32::try_from(n).map_err(|_| missing())?;
                if n >= message.documents.len() {
                    return Err(missing());
                }
                Some(
                    self.messages
                        .document(message_id, index)
                        .map_err(store_unavailable)?
                        .ok_or_else(|| {
                            refused(
                                ErrorKind::ServiceUnavailable,
                                format!("document {n} of message {message_id} is missing"),
                            )
                        })?,
                )
            }
            LetterPart::Evidence(n) => {
                let count = self
                    .messages
                    .evidences_of(message_id)
                    .map_err(store_unavailable)?
                    .len();
                // The first opening's handover is the next one.
                let with_handover = count + usize::from(message.state == MessageState::Delivered);
                if n >= with_handover {
                    return Err(missing());
                }
                None
            }
            LetterPart::Page => None,
        };
        let handover = match message.state {
            MessageState::Opened => None,
            MessageState::Delivered => Some((message.clone(), self.handover(&message, reader)?)),
        };
        Ok((message, handover, document))
    }

    /// The sealed ContentHandover of `message`'s first opening by `person`.
    fn handover(
        &self,
        message: &MessageRecord,
        reader: &Reader<'_>,
    ) -> Result<EvidenceRecord, Refused> {
        let now = self.clock.now();
        // Each document with the token it was time-stamped with at submission: every
        // evidence of the message carries the same one, agreeing with its SubmissionTime.
        let documents = message
            .documents
            .iter()
            .map(|d| {
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
                    sha256: d.sha256,
                    time_stamp_token: Some(d.time_stamp_token.clone()),
                })
            })
            .collect::<Result<Vec<_>, Refused>>()?;
        let evidence = Evidence {
            id: new_evidence_id(now),
            event: Event::ContentHandover,
            event_time: now,
            issuer: self.sealer.issuer(),
            sender: Sender {
                subject: message.sender_subject.clone(),
                registry_id: message.sender_id.clone(),
                authentication: message.sender_authentication.clone(),
                agent: message.sender_agent.clone(),
            },
            recipient: Recipient {
                id: message.recipient.clone(),
                delegate: Some(reader.person.to_owned()),
                mandate: reader.mandate.map(str::to_owned),
                authentication: reader.authentication.map(str::to_owned),
            },
            submission_time: UNIX_EPOCH + Duration::from_secs(message.submitted_at),
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
        let xml = self.seal(&evidence)?;
        Ok(EvidenceRecord {
            id: evidence.id.clone(),
            message_id: message.id.clone(),
            event: evidence.event.name().to_owned(),
            sender_id: message.sender_id.clone(),
            created_at: unix(now),
            xml,
            archived: None,
        })
    }
}

//! A letter opened: the first opening is sealed as a ContentHandover naming who opened it.

use std::time::{Duration, UNIX_EPOCH};

use sealpost_model::{Document, Event, Evidence, Recipient, Sender, new_evidence_id};

use crate::decision::{Refused, refused, store_unavailable};
use crate::error::ErrorKind;
use crate::records::{EvidenceRecord, MessageRecord, MessageState};
use crate::request::{Refusal, RequestContext};
use crate::{Service, unix};

impl Service {
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
        let (answer, writes) = match self.handover(message_id, person, mandate) {
            Ok(Some((message, record))) => (Ok(Some(record.xml.clone())), Some((message, record))),
            Ok(None) => (Ok(None), None),
            Err(r) => (Err(r), None),
        };
        let mut decision = self
            .recorder
            .decide(ctx, &identity, Some(message_id), answer);
        if let Some((mut message, record)) = writes {
            message.state = MessageState::Opened;
            decision.commit.message_update = Some(message);
            decision.commit.evidences = vec![record];
        }
        self.recorder.conclude(ctx, decision)
    }

    /// The opened message and its sealed ContentHandover, or `None` if it was opened before.
    fn handover(
        &self,
        message_id: &str,
        person: &str,
        mandate: Option<&str>,
    ) -> Result<Option<(MessageRecord, EvidenceRecord)>, Refused> {
        let now = self.clock.now();
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
        if message.state == MessageState::Opened {
            return Ok(None);
        }
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
            },
            recipient: Recipient {
                id: message.recipient.clone(),
                delegate: Some(person.to_owned()),
                mandate: mandate.map(str::to_owned),
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
        let record = EvidenceRecord {
            id: evidence.id.clone(),
            message_id: message.id.clone(),
            event: evidence.event.name().to_owned(),
            sender_id: message.sender_id.clone(),
            created_at: unix(now),
            xml,
        };
        Ok(Some((message, record)))
    }
}

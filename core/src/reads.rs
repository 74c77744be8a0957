//! What a sender reads back: the evidences and the state of its own messages, and of no one
//! else's (another sender's message is refused as if it did not exist).

use std::time::{Duration, UNIX_EPOCH};

use crate::Service;
use crate::decision::{Refused, refused, store_unavailable};
use crate::error::ErrorKind;
use crate::records::{EvidenceRecord, MessageRecord, SenderRegistration};
use crate::request::{MessageStatus, Refusal, RequestContext, VerifiedSigner};

impl Service {
    /// Every evidence of a message, oldest first, for its sender only. A rejected
    /// submission's SubmissionRejection is served too.
    pub fn get_evidence(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        message_id: &str,
    ) -> Result<Vec<String>, Refusal> {
        self.recorder
            .check_replay(ctx, &Self::claimed(ctx, signer))?;
        let result = self.authenticate(ctx, signer).and_then(|sender| {
            let evidences = self
                .messages
                .evidences_of(message_id)
                .map_err(store_unavailable)?;
            if evidences.is_empty() || evidences.iter().any(|e| e.sender_id != sender.id) {
                return Err(refused(
                    ErrorKind::MessageUnknown,
                    format!(
                        "{} asked for the evidences of {message_id}: none of its own",
                        sender.id
                    ),
                ));
            }
            Ok((
                sender,
                evidences
                    .into_iter()
                    .map(EvidenceRecord::into_current)
                    .collect(),
            ))
        });
        self.answer_read(ctx, signer, message_id, result)
    }

    /// The state of a delivered message, for its sender only.
    pub fn message_status(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        message_id: &str,
    ) -> Result<MessageStatus, Refusal> {
        self.recorder
            .check_replay(ctx, &Self::claimed(ctx, signer))?;
        let result = self
            .own_message(ctx, signer, message_id)
            .and_then(|(sender, m)| {
                let evidences = self
                    .messages
                    .evidences_of(message_id)
                    .map_err(store_unavailable)?
                    .len();
                Ok((
                    sender,
                    MessageStatus {
                        message_id: m.id,
                        state: m.state,
                        recipient: m.recipient,
                        submitted_at: UNIX_EPOCH + Duration::from_secs(m.submitted_at),
                        evidences,
                    },
                ))
            });
        self.answer_read(ctx, signer, message_id, result)
    }

    /// The message of `message_id` if `signer` is its sender; otherwise the same refusal as
    /// for a message that does not exist.
    fn own_message(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        message_id: &str,
    ) -> Result<(SenderRegistration, MessageRecord), Refused> {
        let sender = self.authenticate(ctx, signer)?;
        match self.messages.message(message_id) {
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
            Err(e) => Err(store_unavailable(e)),
        }
    }

    /// Answers a read, audited under the sender once authenticated.
    fn answer_read<T>(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        message_id: &str,
        result: Result<(SenderRegistration, T), Refused>,
    ) -> Result<T, Refusal> {
        let (identity, answer) = match result {
            Ok((sender, value)) => (Self::identity(ctx, &sender, signer), Ok(value)),
            Err(r) => (Self::claimed(ctx, signer), Err(r)),
        };
        let decision = self
            .recorder
            .decide(ctx, &identity, Some(message_id), answer);
        self.recorder.conclude(ctx, decision)
    }
}

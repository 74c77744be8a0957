//! Telling recipients that a letter arrived: the delivery's commit writes a notice in the
//! outbox (so a notice exists exactly when the letter does, and a crash between the two
//! loses neither); this use case sends what waits there through the [`Notifier`] and
//! removes each notice sent, with its audit entry. A notice that cannot be sent now stays
//! and is tried again.

use std::sync::Arc;

use sealpost_model::new_evidence_id;

use crate::Service;
use crate::decision::Changes;
use crate::ports::{Notifier, Outbox};
use crate::records::Channel;
use crate::request::RequestContext;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Notices sent (and removed).
    pub sent: usize,
    /// Notices left for the next pass.
    pub deferred: usize,
}

impl Service {
    /// Sends up to `limit` waiting notices.
    pub fn send_notices(
        &self,
        outbox: &dyn Outbox,
        notifier: &dyn Notifier,
        limit: usize,
    ) -> Result<Sent, crate::ports::StoreError> {
        let mut done = Sent::default();
        for notice in outbox.pending_notices(limit)? {
            let ctx = RequestContext {
                correlation_id: new_evidence_id(self.now()),
                channel: Channel::Mailbox,
                operation: "NotifyRecipient",
                request: Arc::new(
                    format!("notice {} of {}", notice.id, notice.message_id).into_bytes(),
                ),
                seen: None,
                vector: None,
            };
            match notifier.tell(&notice) {
                Ok(told) => {
                    let changes = Changes {
                        notices_sent: vec![notice.id.clone()],
                        ..Changes::default()
                    };
                    let detail = format!(
                        "the recipients of {} in {} told: {told} people",
                        notice.message_id, notice.mailbox
                    );
                    match self.recorder.record_change(
                        &ctx,
                        "sealpost notifier",
                        true,
                        &detail,
                        changes,
                    ) {
                        Ok(_) => done.sent += 1,
                        Err(r) => {
                            tracing::error!(notice = %notice.id, code = r.kind.row().code, "a notice sent cannot be recorded: it will be sent again");
                            done.deferred += 1;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(notice = %notice.id, error = %e, "a notice cannot be sent now: tried again later");
                    done.deferred += 1;
                }
            }
        }
        Ok(done)
    }
}

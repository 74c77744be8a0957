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
mod decision;
pub mod error;
pub mod ids;
mod notify;
pub mod ports;
mod reading;
mod reads;
pub mod records;
pub mod request;
mod submit;
pub mod time_stamping;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use decision::{Changes, Recorder, Written};
pub use error::ErrorKind;
pub use notify::Sent;
pub use ports::{
    Clock, Commit, Committed, Directory, Ledger, MessageUpdate, Messages, Notifier, Outbox,
    RecordKind, RecordWrite, Registry, Sealer, SeenRequest, Store, StoreError, SystemClock,
    Timestamper, Unavailable,
};
pub use reading::{LetterPart, LetterRead, Reader};
pub use request::{
    Accepted, IdentificationVector, MessageStatus, Refusal, RequestContext, Submission,
    SubmissionLimits, SubmittedDocument, VerifiedSigner,
};
pub use submit::content_hash;

/// The service's use cases over its ports.
pub struct Service {
    registry: Arc<dyn Registry>,
    directory: Arc<dyn Directory>,
    messages: Arc<dyn Messages>,
    recorder: Recorder,
    timestamper: Arc<dyn Timestamper>,
    sealer: Arc<dyn Sealer>,
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

/// The ports a [`Service`] works over, one per capability.
pub struct Ports {
    pub registry: Arc<dyn Registry>,
    pub directory: Arc<dyn Directory>,
    pub messages: Arc<dyn Messages>,
    pub ledger: Arc<dyn Ledger>,
    pub timestamper: Arc<dyn Timestamper>,
    pub sealer: Arc<dyn Sealer>,
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    /// The four store capabilities from one store.
    pub fn of_store(
        store: Arc<dyn Store>,
        timestamper: Arc<dyn Timestamper>,
        sealer: Arc<dyn Sealer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Ports {
            registry: Arc::clone(&store) as Arc<dyn Registry>,
            directory: Arc::clone(&store) as Arc<dyn Directory>,
            messages: Arc::clone(&store) as Arc<dyn Messages>,
            ledger: store,
            timestamper,
            sealer,
            clock,
        }
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Service {
    pub fn new(ports: Ports, limits: SubmissionLimits) -> Self {
        Service {
            registry: ports.registry,
            directory: ports.directory,
            messages: ports.messages,
            recorder: Recorder::new(ports.ledger, Arc::clone(&ports.clock)),
            timestamper: ports.timestamper,
            sealer: ports.sealer,
            clock: ports.clock,
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

    /// The keeper of the audit rule, for actions outside the channels
    /// ([`Recorder::record_change`]).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

#[cfg(test)]
mod tests;

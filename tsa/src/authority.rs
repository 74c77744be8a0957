//! The time-stamp authority as a service: [`crate::issue()`] with a guarded clock, durable
//! serial numbers and a signer.

use std::sync::Arc;

use crate::clock::{ClockGuard, ClockSource};
use crate::issue::{FailureInfo, IssuePolicy, Issued, Outcome, issue, reject};
use crate::serial::SerialSource;
use crate::signer::TimeStampSigner;

/// Answers time-stamp requests.
pub struct TimeStampAuthority {
    signer: Arc<dyn TimeStampSigner>,
    policy: IssuePolicy,
    serials: Box<dyn SerialSource>,
    clock: ClockGuard<Box<dyn ClockSource>>,
}

impl std::fmt::Debug for TimeStampAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeStampAuthority")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl TimeStampAuthority {
    /// `clock` must state the same accuracy as `policy`.
    pub fn new(
        signer: Arc<dyn TimeStampSigner>,
        policy: IssuePolicy,
        serials: Box<dyn SerialSource>,
        clock: ClockGuard<Box<dyn ClockSource>>,
    ) -> Self {
        TimeStampAuthority {
            signer,
            policy,
            serials,
            clock,
        }
    }

    pub fn policy(&self) -> &IssuePolicy {
        &self.policy
    }

    pub fn signer(&self) -> &Arc<dyn TimeStampSigner> {
        &self.signer
    }

    /// Answers one DER `TimeStampReq` with a DER `TimeStampResp`. While the clock is not
    /// trusted, every request is rejected with `timeNotAvailable` and the reason is logged.
    pub fn respond(&self, request_der: &[u8]) -> Issued {
        let now = match self.clock.now() {
            Ok(now) => now,
            Err(e) => {
                tracing::error!(error = %e, "refusing to time-stamp: the clock is not trusted");
                return reject(
                    FailureInfo::TimeNotAvailable,
                    "the time source of this TSA is not trusted at the moment",
                );
            }
        };
        let issued = issue(
            request_der,
            now,
            self.serials.next_serial(),
            self.signer.as_ref(),
            &self.policy,
        );
        match &issued.outcome {
            Outcome::Granted { serial, .. } => {
                tracing::debug!(serial = %format!("{serial:x}"), "granted")
            }
            Outcome::Rejected { failure, reason } => {
                tracing::info!(failure = failure.name(), reason = %reason, "rejected")
            }
        }
        issued
    }
}

//! The time-stamp authority as a service: [`crate::issue()`] with a guarded clock, durable
//! serial numbers and a signer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use der::asn1::ObjectIdentifier;

use crate::clock::{ClockGuard, ClockKind, ClockSource};
use crate::issue::{FailureInfo, IssuePolicy, Issued, Outcome, issue, issue_sha256_token, reject};
use crate::serial::{DurableSerials, SerialError, SerialSource};
use crate::signer::{CredentialError, EcdsaP256Signer, TimeStampSigner};

/// How to set up a TSA from files, as both `sealpost-tsa serve` and `sealpost serve` do.
#[derive(Clone, Debug)]
pub struct TsaSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub chain: Option<PathBuf>,
    /// The serial-number state file (see [`DurableSerials`]).
    pub serial_state: PathBuf,
    /// This node's number in its cluster (0 alone): part of every serial.
    pub node: u32,
    pub clock: ClockKind,
    pub policy: ObjectIdentifier,
    pub accepted_policies: Vec<ObjectIdentifier>,
    pub accuracy: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the TSA credentials: {0}")]
    Credentials(#[from] CredentialError),
    #[error("the TSA serial-number state: {0}")]
    Serials(#[from] SerialError),
    #[error("the TSA accuracy must be at least one second (genTime has whole seconds)")]
    Accuracy,
}

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

    /// Loads the credentials, opens the serial state and guards the chosen clock.
    pub fn from_settings(settings: &TsaSettings) -> Result<Self, SetupError> {
        if settings.accuracy < Duration::from_secs(1) {
            return Err(SetupError::Accuracy);
        }
        let signer = EcdsaP256Signer::from_pem_files(
            &settings.cert,
            &settings.key,
            settings.chain.as_deref(),
        )?;
        // This run's start, from the system clock even before it is synchronised: it only ever
        // serves as a floor for serial epochs and for the next run's clock guard.
        let serials = DurableSerials::open_for_node(
            &settings.serial_state,
            crate::clock::system_time(),
            settings.node,
        )?;
        if settings.clock == ClockKind::Unchecked {
            tracing::warn!(
                "TSA clock synchronisation is NOT checked (clock = unchecked): development only"
            );
        }
        let clock = ClockGuard::new(
            settings.clock.source(),
            settings.accuracy,
            serials.previous_start(),
        );
        Ok(Self::new(
            Arc::new(signer),
            IssuePolicy {
                default_policy: settings.policy,
                accepted_policies: settings.accepted_policies.clone(),
                accuracy: settings.accuracy,
                include_tsa_name: true,
            },
            Box::new(serials),
            clock,
        ))
    }

    pub fn policy(&self) -> &IssuePolicy {
        &self.policy
    }

    pub fn signer(&self) -> &Arc<dyn TimeStampSigner> {
        &self.signer
    }

    /// A token over a SHA-256 digest for the service's own use, issued as a function call
    /// ([`issue_sha256_token`]): the same clock guard and serial numbers as [`Self::respond`],
    /// without a request to write or a response to read.
    pub fn sha256_token(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, (FailureInfo, String)> {
        let now = self.clock.now().map_err(|e| {
            tracing::error!(error = %e, "refusing to time-stamp: the clock is not trusted");
            (
                FailureInfo::TimeNotAvailable,
                "the time source of this TSA is not trusted at the moment".to_owned(),
            )
        })?;
        let serial = self.serials.next_serial();
        let token = issue_sha256_token(sha256, now, serial, self.signer.as_ref(), &self.policy)?;
        tracing::debug!(serial = %format!("{serial:x}"), "granted");
        Ok(token)
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

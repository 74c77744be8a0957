//! The core's Timestamper and Sealer ports over the embedded TSA and the operator's seal.

use std::sync::Arc;
use std::time::Instant;

use sealpost_evidence::model::{Evidence, Issuer, Sha256};
use sealpost_evidence::seal::{Sealer, Timestamper as TokenSource};

use super::metrics::Metrics;
use crate::core::{self, Clock, Unavailable};

/// Seals with `sealer`, time-stamps with `tsa` (the in-process TSA, or remote ones).
pub struct EmbeddedNotary {
    pub sealer: Sealer,
    pub tsa: Arc<dyn TokenSource + Send + Sync>,
    pub clock: Arc<dyn Clock>,
    pub issuer: Issuer,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for EmbeddedNotary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedNotary")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// The TSA, timed for the metrics.
struct TimedTsa<'a>(&'a dyn TokenSource, &'a Metrics);

impl TokenSource for TimedTsa<'_> {
    fn timestamp(&self, sha256: &[u8]) -> Result<Vec<u8>, sealpost_evidence::seal::SealError> {
        let start = Instant::now();
        let token = self.0.timestamp(sha256);
        self.1.tsa_seconds.observe(start.elapsed());
        token
    }
}

impl core::Timestamper for EmbeddedNotary {
    fn timestamp(&self, sha256: &Sha256) -> Result<Vec<u8>, Unavailable> {
        TimedTsa(self.tsa.as_ref(), &self.metrics)
            .timestamp(sha256.as_bytes())
            .map_err(|e| Unavailable(e.to_string()))
    }
}

impl core::Sealer for EmbeddedNotary {
    fn seal(&self, evidence: &Evidence) -> Result<String, Unavailable> {
        self.sealer
            .seal(
                evidence,
                &TimedTsa(self.tsa.as_ref(), &self.metrics),
                self.clock.now(),
            )
            .map_err(|e| Unavailable(e.to_string()))
    }

    fn issuer(&self) -> Issuer {
        self.issuer.clone()
    }
}

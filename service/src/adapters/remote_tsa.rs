//! Remote RFC 3161 TSAs (`tsa.remote`) instead of the embedded one, for the evidences'
//! time-stamps and the audit log's seals: a qualified TSA in production.
//!
//! Each token is checked before it is used, and a TSA whose token fails is passed over for the
//! next one (failover, starting from the one that answered last):
//! - it answers this request (digest, nonce) and verifies against `tsa.remote_trust_anchors`;
//! - it is signed by one of the units of `tsa.remote_units`, the certificates the provider's
//!   trusted list publishes (so that a court can tell Sealpost's time-stamps from others');
//! - its genTime is within `tsa.remote_max_skew_s` (and the token's accuracy) of this host's
//!   clock: a TSA whose clock went wrong is not believed.
//!
//! When no TSA gives such a token the time-stamp is unavailable, and the submission is
//! refused with ServiceUnavailable: never a token with a bad time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sealpost_evidence::seal::{SealError, Timestamper};
use sealpost_tsa::TrustStore;
use sealpost_tsa::client::TsaClient;
use sealpost_tsa::request::{HashAlgorithm, RequestSpec};

use crate::core::Clock;

/// The remote TSAs, in the order given.
pub struct RemoteTsas {
    tsas: Vec<(String, TsaClient)>,
    trust: TrustStore,
    /// The units' certificates (DER): a token must be signed by one of them.
    units: Vec<Vec<u8>>,
    max_skew: Duration,
    clock: Arc<dyn Clock>,
    /// The TSA that answered last: asked first.
    preferred: AtomicUsize,
}

impl std::fmt::Debug for RemoteTsas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTsas")
            .field(
                "tsas",
                &self.tsas.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl RemoteTsas {
    /// Refuses a URL that is not `http://`, and an empty list of units.
    pub fn new(
        urls: &[String],
        timeout: Duration,
        trust: TrustStore,
        units: Vec<Vec<u8>>,
        max_skew: Duration,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<RemoteTsas> {
        anyhow::ensure!(!units.is_empty(), "tsa.remote_units: no certificate");
        let tsas = urls
            .iter()
            .map(|url| {
                TsaClient::new(url, timeout)
                    .map(|client| (url.clone(), client))
                    .map_err(|e| anyhow::anyhow!("tsa.remote: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!tsas.is_empty(), "tsa.remote: no TSA");
        Ok(RemoteTsas {
            tsas,
            trust,
            units,
            max_skew,
            clock,
            preferred: AtomicUsize::new(0),
        })
    }

    /// One TSA's token for `spec`, checked; why not, otherwise.
    fn ask(&self, client: &TsaClient, spec: &RequestSpec) -> Result<Vec<u8>, String> {
        let stamp = super::blocking::wait_for(client.timestamp(spec, &self.trust))?
            .map_err(|e| e.to_string())?;
        let signer = stamp
            .verified
            .path
            .first()
            .ok_or("the token names no signer")?;
        if !self.units.contains(signer) {
            return Err(format!(
                "signed by {}, not by a unit of tsa.remote_units",
                stamp.verified.signer
            ));
        }
        let now = self.clock.now();
        let apart = match stamp.verified.gen_time.duration_since(now) {
            Ok(ahead) => ahead,
            Err(behind) => behind.duration(),
        };
        let tolerated = self.max_skew + stamp.verified.accuracy.unwrap_or_default();
        if apart > tolerated {
            return Err(format!(
                "its time is {} s from this host's clock (at most {} s): not believed",
                apart.as_secs(),
                tolerated.as_secs()
            ));
        }
        Ok(stamp.token)
    }
}

impl Timestamper for RemoteTsas {
    fn timestamp(&self, sha256: &[u8]) -> Result<Vec<u8>, SealError> {
        let spec = RequestSpec::new(HashAlgorithm::Sha256, sha256.to_vec());
        let first = self.preferred.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for k in 0..self.tsas.len() {
            let i = (first + k) % self.tsas.len();
            let (url, client) = &self.tsas[i];
            match self.ask(client, &spec) {
                Ok(token) => {
                    if k > 0 {
                        tracing::warn!(tsa = %url, "time-stamps now come from this TSA (failover)");
                    }
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(token);
                }
                Err(why) => {
                    tracing::warn!(tsa = %url, why = %why, "a remote TSA gave no good token");
                    failures.push(format!("{url}: {why}"));
                }
            }
        }
        Err(SealError::Timestamp(format!(
            "no remote TSA gave a good token ({})",
            failures.join("; ")
        )))
    }
}

//! `GET /healthz` (liveness: the process answers) and `GET /readyz` (readiness: it can take a
//! letter now): the store takes a durable write (the audit log lives in it) and the TSA that
//! time-stamps the evidences (embedded or remote) gives a good token. A load balancer sends letters only to a ready node; a node that is live
//! but not ready is left alone to recover (a disk freed, a database back).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use sealpost_evidence::seal::Timestamper;
use tokio::sync::Mutex;

use super::store::Backend;

/// A readiness answer is reused this long: probing writes, and must not be a lever for load.
const REUSED: Duration = Duration::from_secs(1);

/// Ready, or every part that cannot do its work now.
type Verdict = Result<(), Vec<String>>;

/// What readiness checks, and its last answer.
pub struct Readiness {
    pub store: Arc<dyn Backend>,
    pub tsa: Arc<dyn Timestamper + Send + Sync>,
    last: Mutex<Option<(Instant, Verdict)>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness").finish_non_exhaustive()
    }
}

impl Readiness {
    pub fn new(store: Arc<dyn Backend>, tsa: Arc<dyn Timestamper + Send + Sync>) -> Readiness {
        Readiness {
            store,
            tsa,
            last: Mutex::new(None),
        }
    }

    /// Every part that cannot do its work now, said plainly; empty: ready.
    fn probe(&self) -> Verdict {
        let mut problems = Vec::new();
        #[allow(
            clippy::disallowed_methods,
            reason = "the probe's value is never read: any time will do"
        )]
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Err(e) = self.store.probe_write(now) {
            problems.push(format!("store: {e}"));
        }
        if let Err(e) = self.tsa.timestamp(&[0u8; 32]) {
            problems.push(format!("tsa: {e}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    async fn answer(self: Arc<Self>) -> Response {
        let mut last = self.last.lock().await;
        let fresh = last
            .as_ref()
            .filter(|(at, _)| at.elapsed() < REUSED)
            .map(|(_, r)| r.clone());
        let result = match fresh {
            Some(r) => r,
            None => {
                let probing = Arc::clone(&self);
                let r = tokio::task::spawn_blocking(move || probing.probe())
                    .await
                    .unwrap_or_else(|e| Err(vec![format!("the probe failed: {e}")]));
                *last = Some((Instant::now(), r.clone()));
                r
            }
        };
        match result {
            Ok(()) => (StatusCode::OK, "ready\n").into_response(),
            Err(problems) => {
                tracing::warn!(problems = %problems.join("; "), "not ready");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "5")],
                    format!("not ready\n{}\n", problems.join("\n")),
                )
                    .into_response()
            }
        }
    }
}

/// `GET /readyz`.
pub fn readiness(readiness: Arc<Readiness>) -> MethodRouter {
    get(move || Arc::clone(&readiness).answer())
}

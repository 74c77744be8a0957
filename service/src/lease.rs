//! The cluster's periodic jobs (the audit seal, retention, archiving, the notices) run on one
//! node at a time: before each round, a node asks the store for the job's lease
//! (`Backend::hold_lease`), held for three rounds and renewed at each. When the node that holds
//! it dies, its lease runs out and the next node to ask takes the job.
//!
//! A lease makes a second run rare, not impossible: a node stalled past its lease (a long
//! pause, a partition) may finish a round another node has begun. Each job's writes are
//! conditional already (an archived form replaces only the form it was made from, a head is
//! sealed once, a notice leaves the outbox once sent), so such a round repeats work without
//! doubling a record. On the embedded store one process alone opens the store, and always
//! holds every lease.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::adapters::store::Backend;

/// A lease lasts this many rounds.
const ROUNDS: u32 = 3;

/// This process among the nodes: its host and its data directory. No two processes run on
/// one data directory at once (the embedded TSA locks its serial state there), and a node
/// that restarts is the same holder: it renews its own leases at once instead of waiting for
/// them to run out.
pub fn node_name(data_dir: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    format!("{host}:{}", dir.display())
}

/// One job's lease, as one node asks for it.
#[derive(Clone)]
pub struct JobLease {
    store: Arc<dyn Backend>,
    job: &'static str,
    node: Arc<str>,
    lasts: Duration,
}

impl std::fmt::Debug for JobLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLease")
            .field("job", &self.job)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl JobLease {
    /// The lease of `job`, run every `interval`, for `node`.
    pub fn new(store: Arc<dyn Backend>, job: &'static str, node: &str, interval: Duration) -> Self {
        JobLease {
            store,
            job,
            node: node.into(),
            lasts: interval * ROUNDS,
        }
    }

    /// Whether this node may run a round of the job now: it holds the lease (taken or
    /// renewed). A store that cannot answer says no: no round runs unleased.
    pub fn held(&self, now: SystemTime) -> bool {
        let at = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match self
            .store
            .hold_lease(self.job, &self.node, at, at + self.lasts.as_secs())
        {
            Ok(true) => true,
            Ok(false) => {
                tracing::debug!(
                    job = self.job,
                    "another node holds the job's lease: no round here"
                );
                false
            }
            Err(e) => {
                tracing::warn!(job = self.job, error = %e, "the job's lease cannot be asked for: no round");
                false
            }
        }
    }
}

/// Runs `round` every `interval` on a blocking thread, while this node holds the job's lease,
/// until the process ends; each round's outcome is `report`ed, and a failed round logged.
/// `now` is the time a round runs at; the first round comes at once when `at_start`, else one
/// interval after the start. The one loop of every periodic job.
pub async fn every_round<T, E>(
    lease: JobLease,
    interval: Duration,
    at_start: bool,
    now: impl Fn() -> SystemTime + Send + Sync + 'static,
    round: impl Fn(SystemTime) -> Result<T, E> + Send + Sync + 'static,
    report: impl Fn(T),
) where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let job = lease.job;
    let (now, round) = (Arc::new(now), Arc::new(round));
    let mut ticks = tokio::time::interval(interval);
    if !at_start {
        // The first tick is immediate.
        ticks.tick().await;
    }
    loop {
        ticks.tick().await;
        let (lease, now, round) = (lease.clone(), Arc::clone(&now), Arc::clone(&round));
        let outcome = tokio::task::spawn_blocking(move || {
            let at = now();
            if !lease.held(at) {
                return Ok(None);
            }
            round(at).map(Some)
        })
        .await;
        match outcome {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(done))) => report(done),
            Ok(Err(e)) => tracing::error!(job, error = %e, "a round of the job failed"),
            Err(e) => tracing::error!(job, error = %e, "a round of the job did not finish"),
        }
    }
}

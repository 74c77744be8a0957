//! Time-stamps for registered senders (`POST /tsa` on the service port, when
//! `tsa.endpoint = "senders"`). The caller is a sender application: the adapter validated its
//! TLS client certificate's path to the sender trust anchors; here it must be registered to an
//! active sender, and within that sender's rate. Every query has its audit entry, granted or
//! not, and a token is handed out only once that entry is durable.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::Service;
use crate::decision::refused;
use crate::error::ErrorKind;
use crate::request::{Refusal, RequestContext, VerifiedSigner};

/// What the TSA answered one query.
#[derive(Clone, Debug)]
pub struct TimeStampReply {
    /// The DER `TimeStampResp`, a token or a rejection (RFC 3161 sends both with HTTP 200).
    pub response: Vec<u8>,
    /// A token granted: what it is (serial number, genTime), for the audit entry; or a
    /// rejection: the row it is audited under, and why.
    pub outcome: Result<String, (ErrorKind, String)>,
}

/// A token bucket per sender: up to `burst` queries at once, refilled at `per_minute`.
#[derive(Debug)]
pub struct RateLimit {
    per_minute: u32,
    burst: u32,
    /// Sender id → tokens left and when they were counted.
    buckets: Mutex<HashMap<String, (f64, SystemTime)>>,
}

impl RateLimit {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimit {
            per_minute,
            burst,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token from `sender`'s bucket at `now`; `false` when it is empty.
    pub fn take(&self, sender: &str, now: SystemTime) -> bool {
        let full = f64::from(self.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.entry(sender.to_owned()).or_insert((full, now));
        // A clock set back refills nothing.
        let elapsed = now.duration_since(*at).unwrap_or_default().as_secs_f64();
        *tokens = (*tokens + elapsed * f64::from(self.per_minute) / 60.0).min(full);
        *at = (*at).max(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }
}

impl Service {
    /// Answers one time-stamp query by `signer`, whose certificate path the adapter
    /// validated: `query` is the DER `TimeStampReq`, or why the request is not one (the row
    /// and the detail); `issue` asks the TSA. The answer is the `TimeStampResp` to send.
    pub fn time_stamp(
        &self,
        ctx: &RequestContext,
        signer: &VerifiedSigner,
        limit: &RateLimit,
        query: Result<&[u8], (ErrorKind, String)>,
        issue: impl FnOnce(&[u8]) -> TimeStampReply,
    ) -> Result<Vec<u8>, Refusal> {
        let sender = self.authenticated(ctx, signer)?;
        let identity = Self::identity(ctx, &sender, signer);
        let asked = if limit.take(&sender.id, self.clock.now()) {
            query.map_err(|(kind, detail)| refused(kind, detail))
        } else {
            Err(refused(
                ErrorKind::RateLimited,
                format!(
                    "{} is over its rate of {} time-stamps a minute",
                    sender.id,
                    limit.per_minute()
                ),
            ))
        };
        let query = match asked {
            Ok(query) => query,
            Err(r) => return Err(self.recorder.refuse(ctx, &identity, r)),
        };
        let reply = issue(query);
        let audit = match &reply.outcome {
            Ok(granted) => {
                let mut audit = self.recorder.audit_record(ctx, &identity, Ok(()), None);
                audit.detail = granted.clone();
                audit
            }
            Err((kind, detail)) => {
                let r = refused(*kind, format!("the TSA rejected the query: {detail}"));
                self.recorder.audit_record(ctx, &identity, Err(&r), None)
            }
        };
        // A rejection is an answer too (RFC 3161 sends it as a response), audited as refused;
        // neither is handed out before its audit entry is durable.
        let mut decision = self
            .recorder
            .decide(ctx, &identity, None, Ok(reply.response));
        decision.commit.audit = audit;
        self.recorder.conclude(ctx, decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_sender_over_its_rate_is_refused_until_its_bucket_refills() {
        let limit = RateLimit::new(60, 2);
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(limit.take("agency-a", t0));
        assert!(limit.take("agency-a", t0));
        assert!(!limit.take("agency-a", t0), "the burst is spent");
        // Another sender has its own bucket.
        assert!(limit.take("agency-b", t0));
        // One a second comes back; never more than the burst.
        assert!(limit.take("agency-a", t0 + Duration::from_secs(1)));
        assert!(!limit.take("agency-a", t0 + Duration::from_secs(1)));
        let much_later = t0 + Duration::from_secs(3600);
        assert!(limit.take("agency-a", much_later));
        assert!(limit.take("agency-a", much_later));
        assert!(!limit.take("agency-a", much_later));
        // A clock set back refills nothing.
        assert!(!limit.take("agency-a", t0));
    }
}

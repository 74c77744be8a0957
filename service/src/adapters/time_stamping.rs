//! `POST /tsa` on the service port, for registered senders only (`tsa.endpoint = "senders"`;
//! with the default `"off"` the route does not exist: 404). RFC 3161 over HTTP as the
//! standalone `sealpost-tsa` speaks it (`application/timestamp-query` in,
//! `application/timestamp-reply` out, a rejection still a `TimeStampResp` with HTTP 200), but
//! the caller must present a sender certificate in the TLS handshake: its path to the sender
//! trust anchors is validated on every request, as the gRPC channel does; the core checks that
//! it is registered to an active sender, applies that sender's rate and writes the audit entry
//! of every query before a token is handed out.
//!
//! Refusals are rows of the error table, with headers `sealpost-code` and
//! `sealpost-correlation-id`: 401 (no client certificate: SEALPOST-AUTH-001; untrusted or
//! unregistered: SEALPOST-AUTH-002), 429 (over the rate: SEALPOST-REQ-006), 400 (not a
//! time-stamp query: SEALPOST-REQ-001), 413 (over 16 KiB: SEALPOST-REQ-005), 503 (the audit log
//! cannot be written: SEALPOST-SRV-001).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use sealpost_evidence::model::new_evidence_id;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::issue::{FailureInfo, Issued, Outcome};
use sealpost_tsa::server::{MAX_REQUEST_BYTES, QUERY_CONTENT_TYPE, REPLY_CONTENT_TYPE};
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss_sign::format_date_time;

use super::admission::BodyRefused;
use super::grpc::{CODE_TRAILER, CORRELATION_TRAILER, sender_client};
use super::http::PeerCertificates;
use super::metrics::Metrics;
use crate::core::records::Channel;
use crate::core::time_stamping::{RateLimit, TimeStampReply};
use crate::core::{Clock, ErrorKind, Refusal, RequestContext, Service};

const OPERATION: &str = "TimeStamp";

/// What the endpoint needs.
pub struct TsaEndpoint {
    pub service: Arc<Service>,
    pub tsa: Arc<TimeStampAuthority>,
    /// The sender trust anchors (the same as the gRPC channel's).
    pub trust: TrustAnchors,
    pub limit: RateLimit,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for TsaEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsaEndpoint")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// `POST /tsa`.
pub fn endpoint(endpoint: Arc<TsaEndpoint>) -> MethodRouter {
    post(handle)
        // The handler enforces its own, smaller limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(endpoint)
}

/// `/tsa` while `tsa.endpoint` is off: 404, as for a path that does not exist.
pub async fn off() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        "not found: the time-stamp endpoint is off (tsa.endpoint)\n",
    )
        .into_response()
}

async fn handle(State(endpoint): State<Arc<TsaEndpoint>>, request: Request) -> Response {
    let peer = request.extensions().get::<PeerCertificates>().cloned();
    let (parts, body) = request.into_parts();
    let is_query = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case(QUERY_CONTENT_TYPE));
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Refused on the declared length before reading; the body is read only up to the limit.
    let query = if declared.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        Err((
            ErrorKind::TooLarge,
            format!("a time-stamp query has at most {MAX_REQUEST_BYTES} bytes"),
        ))
    } else {
        match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
            Ok(bytes) if is_query => Ok(Vec::from(bytes)),
            Ok(_) => Err((
                ErrorKind::InvalidRequest,
                format!("expected Content-Type: {QUERY_CONTENT_TYPE}"),
            )),
            Err(e) => match BodyRefused::find(&e) {
                // Cut by admission (too slow, or no budget left): its answer, nothing audited.
                Some(refused) => return refused.response(false),
                // Over the limit (or the connection failed while it was read).
                None => Err((
                    ErrorKind::TooLarge,
                    format!("the body was not read within {MAX_REQUEST_BYTES} bytes: {e}"),
                )),
            },
        }
    };
    let worker = Arc::clone(&endpoint);
    // Validating the certificate, the audit commit and signing block.
    match tokio::task::spawn_blocking(move || worker.answer(peer.as_ref(), query)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "the time-stamp worker failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

impl TsaEndpoint {
    fn answer(
        &self,
        peer: Option<&PeerCertificates>,
        query: Result<Vec<u8>, (ErrorKind, String)>,
    ) -> Response {
        let now = self.clock.now();
        let (request, problem) = match query {
            Ok(bytes) => (bytes, None),
            Err(problem) => (Vec::new(), Some(problem)),
        };
        let ctx = RequestContext {
            correlation_id: new_evidence_id(self.clock.now()),
            channel: Channel::Tsa,
            operation: OPERATION,
            // The query as received, for the audit log: taken over, not copied.
            request: Arc::new(request),
            seen: None,
            vector: None,
        };
        let query = match problem {
            None => Ok(ctx.request.as_slice()),
            Some(problem) => Err(problem),
        };
        let result = match sender_client(
            &self.trust,
            peer,
            now,
            "TLS client certificate (time-stamp endpoint)",
        ) {
            Err(r) => {
                tracing::info!(correlation_id = %ctx.correlation_id, code = r.kind.row().code, detail = %r.detail, "time-stamp query refused");
                Err(self
                    .service
                    .refuse_unauthenticated(&ctx, &r.identity, r.kind, &r.detail))
            }
            Ok((signer, _)) => self
                .service
                .time_stamp(&ctx, &signer, &self.limit, query, |der| {
                    reply(self.tsa.respond(der))
                }),
        };
        match result {
            Ok(response) => {
                self.metrics.count(OPERATION, "accepted");
                (
                    [
                        (header::CONTENT_TYPE, REPLY_CONTENT_TYPE),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    response,
                )
                    .into_response()
            }
            Err(refusal) => {
                self.metrics.count(OPERATION, refusal.kind.row().code);
                refused(&refusal)
            }
        }
    }
}

/// The TSA's answer as the core audits it.
fn reply(issued: Issued) -> TimeStampReply {
    let outcome = match issued.outcome {
        Outcome::Granted { serial, gen_time } => Ok(format!(
            "granted token serial {serial:x}, genTime {}",
            format_date_time(gen_time)
        )),
        Outcome::Rejected { failure, reason } => {
            let kind = match failure {
                FailureInfo::TimeNotAvailable | FailureInfo::SystemFailure => {
                    ErrorKind::ServiceUnavailable
                }
                _ => ErrorKind::InvalidRequest,
            };
            Err((kind, format!("{}: {reason}", failure.name())))
        }
    };
    TimeStampReply {
        response: issued.response,
        outcome,
    }
}

/// The plain HTTP answer for the row of `refusal` (this endpoint's and the auditors').
pub(super) fn refused(refusal: &Refusal) -> Response {
    let row = refusal.kind.row();
    let status = StatusCode::from_u16(row.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, format!("{}: {}\n", row.code, row.message)).into_response();
    let headers = response.headers_mut();
    headers.insert(CODE_TRAILER, HeaderValue::from_static(row.code));
    if let Ok(id) = HeaderValue::from_str(&refusal.correlation_id) {
        headers.insert(CORRELATION_TRAILER, id);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

//! Admission: the large requests read at once are bounded by their declared sizes
//! (`limits.in_flight_bytes`). A request over 1 MiB whose `Content-Length` does not fit in
//! what is left is turned away before a byte of its body is kept: 503 with
//! `Retry-After` (gRPC: UNAVAILABLE), SEALPOST-SRV-001 (its body is read and dropped, not
//! kept, so that the client hears the answer). Smaller requests always pass, so the
//! senders of ordinary letters are served while a crowd of large ones waits its turn.
//!
//! A body without a declared length (HTTP/2 without `Content-Length`, chunked HTTP/1.1) is
//! not counted here; each is still bounded by `limits.max_request_bytes`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

/// Requests up to this size are always admitted.
pub const SMALL_BYTES: u64 = 1 << 20;

/// How long the body of a request turned away is read (and dropped) before the answer.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The budget, in KiB.
#[derive(Debug)]
pub struct Admission {
    budget: Arc<Semaphore>,
    kib: u32,
}

impl Admission {
    pub fn new(in_flight_bytes: u64) -> Admission {
        let kib = u32::try_from(in_flight_bytes.div_ceil(1024)).unwrap_or(u32::MAX >> 3);
        Admission {
            budget: Arc::new(Semaphore::new(kib as usize)),
            kib,
        }
    }
}

/// The middleware: a large request holds its share of the budget until it is answered.
pub async fn admit(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(size) = declared.filter(|&n| n > SMALL_BYTES) else {
        return next.run(request).await;
    };
    // A size beyond the whole budget takes all of it (the channel refuses it as too large).
    let kib = u32::try_from(size.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .min(admission.kib);
    match Arc::clone(&admission.budget).try_acquire_many_owned(kib) {
        Ok(share) => {
            let response = next.run(request).await;
            drop(share);
            response
        }
        Err(_) => {
            let answer = busy(&request);
            // Read and drop the body (nothing kept, for at most DRAIN): an HTTP/1.1 client that
            // sends all of it before reading then hears the answer instead of a reset.
            let mut body = request.into_body();
            let _ = tokio::time::timeout(DRAIN, async {
                while let Some(Ok(_)) = body.frame().await {}
            })
            .await;
            answer
        }
    }
}

/// 503, or gRPC's UNAVAILABLE, with Retry-After: the request was not read.
fn busy(request: &Request) -> Response {
    tracing::info!(
        path = %request.uri().path(),
        "a large request is turned away: the large requests in flight fill limits.in_flight_bytes"
    );
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/grpc"));
    let message = "SEALPOST-SRV-001: the service is reading as many large requests as it may; retry in a few seconds";
    let mut response = if grpc {
        let mut r = StatusCode::OK.into_response();
        let headers = r.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        headers.insert("grpc-message", HeaderValue::from_static("SEALPOST-SRV-001"));
        r
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{message}\n")).into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

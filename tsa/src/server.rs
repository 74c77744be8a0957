//! RFC 3161 over HTTP (RFC 3161 §3.4): `POST` with `Content-Type: application/timestamp-query`,
//! answered with `application/timestamp-reply`. A request the TSA refuses still gets a
//! `TimeStampResp` (status rejection) with HTTP 200, as the protocol wants; HTTP errors are for
//! what is not a time-stamp request at all: another method (405), another content type (415), a
//! body over [`MAX_REQUEST_BYTES`] (413).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::authority::TimeStampAuthority;

/// Requests larger than this are refused with 413. A TimeStampReq with a SHA-512 imprint, a
/// nonce and a policy is under 200 bytes; 16 KiB leaves room for extensions.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

pub use crate::{QUERY_CONTENT_TYPE, REPLY_CONTENT_TYPE};

/// The TSA endpoint alone, to mount under a path of the caller's choice.
pub fn endpoint(authority: Arc<TimeStampAuthority>) -> axum::routing::MethodRouter {
    post(timestamp)
        // The handler enforces its own, smaller limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(authority)
}

/// The standalone TSA's routes: `POST /` and `POST /tsa`, and `GET /healthz`.
pub fn router(authority: Arc<TimeStampAuthority>) -> Router {
    Router::new()
        .route("/", endpoint(authority.clone()))
        .route("/tsa", endpoint(authority))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: POST time-stamp queries to /tsa\n",
            )
        })
}

async fn timestamp(State(authority): State<Arc<TimeStampAuthority>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !content_type.is_some_and(|ct| ct.eq_ignore_ascii_case(QUERY_CONTENT_TYPE)) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected Content-Type: {QUERY_CONTENT_TYPE}\n"),
        )
            .into_response();
    }
    // Refuse on the declared length, before reading (and before `100 Continue`).
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_REQUEST_BYTES as u64) {
        return too_large();
    }
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            let over_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over_limit {
                return too_large();
            }
            return (
                StatusCode::BAD_REQUEST,
                "the request body could not be read\n",
            )
                .into_response();
        }
    };
    let issued = authority.respond(&body);
    (
        [
            (header::CONTENT_TYPE, REPLY_CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        issued.response,
    )
        .into_response()
}

fn too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("a time-stamp query has at most {MAX_REQUEST_BYTES} bytes\n"),
    )
        .into_response()
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Request and response are one segment each: never wait for Nagle.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

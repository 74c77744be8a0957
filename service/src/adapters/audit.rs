//! `GET /audit/export` for auditors: the audit log as a `sealpost-audit-export-1` file
//! (docs/audit-export.md), streamed from the running service (on either store, without
//! stopping it). Only to the people named in `audit.auditors`: their client certificate,
//! presented in the TLS handshake, must chain to the mailbox trust anchors (never
//! self-signed, not revoked) and be one of theirs. Every access, granted or not, is in the
//! audit log before anything is sent; `?from=` and `?to=` (RFC 3339) select a window.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use der::Decode;
use sealpost_evidence::model::{Sha256, new_evidence_id};
use sealpost_xmldsig::trust::{Purpose, TrustAnchors};
use sealpost_xmldsig::wss::parse_date_time;
use serde::Deserialize;

use super::http::PeerCertificates;
use super::store::Backend;
use super::time_stamping::refused;
use crate::audit_export::{Window, export};
use crate::core::records::Channel;
use crate::core::{ErrorKind, Refusal, RequestContext, Service};

const OPERATION: &str = "AuditExport";

/// The auditors' endpoint.
pub struct AuditEndpoint {
    pub people_trust: TrustAnchors,
    /// SHA-256 of each auditor's certificate.
    pub auditors: HashSet<Sha256>,
    pub store: Arc<dyn Backend>,
    pub service: Arc<Service>,
    /// The provider's name, for the export's header.
    pub provider: String,
}

impl std::fmt::Debug for AuditEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditEndpoint")
            .field("auditors", &self.auditors.len())
            .finish_non_exhaustive()
    }
}

pub fn endpoint(endpoint: Arc<AuditEndpoint>) -> MethodRouter {
    get(handle).with_state(endpoint)
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn handle(
    State(endpoint): State<Arc<AuditEndpoint>>,
    Query(query): Query<ExportQuery>,
    request: Request,
) -> Response {
    let peer = request.extensions().get::<PeerCertificates>().cloned();
    let worker = Arc::clone(&endpoint);
    let granted = tokio::task::spawn_blocking(move || worker.authorize(peer.as_ref(), &query))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the audit export worker failed");
            Err(refusal(ErrorKind::ServiceUnavailable, String::new()))
        });
    let window = match granted {
        Ok(window) => window,
        Err(r) => return refused(&r),
    };
    // Streamed: a blocking task writes the export page by page into the body; a failure
    // midway ends the body with an error, and the export's missing trailer says it is cut.
    let (mut sender, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(8);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let out = ChannelWriter {
            sender: &mut sender,
            runtime: &runtime,
        };
        let now = endpoint.service.now();
        if let Err(e) = export(
            endpoint.store.as_ref(),
            window,
            &endpoint.provider,
            now,
            std::io::BufWriter::with_capacity(64 << 10, out),
        ) {
            tracing::error!(error = %e, "the audit export failed midway");
            sender.abort(std::io::Error::other(e.to_string()));
        }
    });
    (
        [
            (header::CONTENT_TYPE, "application/jsonl"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::new(body),
    )
        .into_response()
}

/// Writes into the response body from a blocking task.
struct ChannelWriter<'a> {
    sender: &'a mut http_body_util::channel::Sender<Bytes, std::io::Error>,
    runtime: &'a tokio::runtime::Handle,
}

impl std::io::Write for ChannelWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.runtime
            .block_on(self.sender.send_data(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::other("the auditor hung up"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn refusal(kind: ErrorKind, correlation_id: String) -> Refusal {
    Refusal {
        kind,
        correlation_id,
        evidence: None,
        message_id: None,
    }
}

impl AuditEndpoint {
    /// Whether the caller is an auditor, with the access audited either way; the window.
    fn authorize(
        &self,
        peer: Option<&PeerCertificates>,
        query: &ExportQuery,
    ) -> Result<Window, Refusal> {
        let ctx = RequestContext {
            correlation_id: new_evidence_id(self.service.now()),
            channel: Channel::Admin,
            operation: OPERATION,
            request: Arc::new(
                format!(
                    "GET /audit/export from={} to={}",
                    query.from.as_deref().unwrap_or("-"),
                    query.to.as_deref().unwrap_or("-")
                )
                .into_bytes(),
            ),
            seen: None,
            vector: None,
        };
        let refuse = |who: &str, kind, detail: &str| {
            tracing::info!(correlation_id = %ctx.correlation_id, detail, "audit export refused");
            self.service.refuse_unauthenticated(&ctx, who, kind, detail)
        };
        let Some((leaf, rest)) = peer.and_then(|PeerCertificates(chain)| chain.split_first())
        else {
            return Err(refuse(
                "unauthenticated",
                ErrorKind::UntrustedSigner,
                "no client certificate",
            ));
        };
        let subject = x509_cert::Certificate::from_der(leaf)
            .map(|c| c.tbs_certificate.subject.to_string())
            .unwrap_or_else(|_| "(unreadable certificate)".into());
        if let Err(e) =
            self.people_trust
                .validate(leaf, rest, self.service.now(), Purpose::SenderApplication)
        {
            return Err(refuse(
                &subject,
                ErrorKind::UntrustedSigner,
                &format!("client certificate: {e}"),
            ));
        }
        if !self.auditors.contains(&Sha256::of(leaf)) {
            return Err(refuse(
                &subject,
                ErrorKind::NotAuthorized,
                "not an auditor (audit.auditors)",
            ));
        }
        let bound = |t: &Option<String>| -> Result<Option<u64>, String> {
            t.as_deref()
                .map(|text| {
                    parse_date_time(text)
                        .map(|t| {
                            t.duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| d.as_secs())
                        })
                        .map_err(|e| format!("{text:?}: {e}"))
                })
                .transpose()
        };
        let window = match (bound(&query.from), bound(&query.to)) {
            (Ok(from), Ok(to)) => Window { from, to },
            (Err(e), _) | (_, Err(e)) => {
                return Err(refuse(&subject, ErrorKind::InvalidRequest, &e));
            }
        };
        // Granted: traced before a byte of the log is sent.
        self.service.recorder().record_action(
            &ctx,
            &format!("auditor {subject}"),
            true,
            "audit log exported",
        )?;
        Ok(window)
    }
}

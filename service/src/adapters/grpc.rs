//! The gRPC channel: `sealpost.v1.RegisteredMail` (proto/sealpost.proto) over HTTP/2 on the
//! one port.
//!
//! Every call is authenticated by the client certificate of the TLS connection, whose path to
//! the sender trust anchors is validated on each call (the handshake only proves the client
//! holds the key). A submission also carries a Manifest signed with that certificate's key:
//! the adapter checks the signature and the Manifest's age, marks the request with the
//! SHA-256 of the signed Manifest bytes (not the signature value: ECDSA values are malleable,
//! and randomised), then hands the core the same typed submission the SOAP channel does; the
//! core refuses a Manifest already received. The audit log
//! keeps the signed Manifest, its signature and the client certificates (an
//! `AuditedRequest`). Refusals are gRPC statuses with the error table's code; the detail goes
//! to the log and the audit entry only.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use der::Decode;
use prost::Message;
use sealpost_evidence::model::{Sha256, new_evidence_id};
use sealpost_proto::v1::registered_mail_server::{RegisteredMail, RegisteredMailServer};
use sealpost_proto::v1::{
    AuditedRequest, DocumentContent, GetEvidenceRequest, GetEvidenceResponse,
    GetMessageStatusRequest, GetMessageStatusResponse, Manifest, SubmitRegisteredMailRequest,
    SubmitRegisteredMailResponse,
};
use sealpost_xmldsig::dsig::PublicKey;
use sealpost_xmldsig::trust::{Purpose, TrustAnchors};
use sealpost_xmldsig::wss::WssPolicy;
use sealpost_xmldsig::wss_sign::format_date_time;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status};
use x509_cert::Certificate;

use super::http::PeerCertificates;
use super::metrics::Metrics;
use crate::core::records::Channel;
use crate::core::{
    Clock, ErrorKind, Refusal, RequestContext, SeenRequest, Service, Submission, SubmittedDocument,
    VerifiedSigner,
};

/// The trailers a refusal carries besides the status.
pub const CODE_TRAILER: &str = "sealpost-code";
pub const CORRELATION_TRAILER: &str = "sealpost-correlation-id";
/// The message id a SubmissionRejection is filed under: GetEvidence serves it.
pub const MESSAGE_ID_TRAILER: &str = "sealpost-message-id";

/// What the gRPC channel needs.
pub struct GrpcChannel {
    pub service: Arc<Service>,
    pub trust: TrustAnchors,
    /// The clock skew and maximum age a Manifest's `signed_at` is held to.
    pub policy: WssPolicy,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The largest request accepted, in bytes.
    pub max_request_bytes: usize,
}

impl std::fmt::Debug for GrpcChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcChannel")
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

/// The tonic service for the channel, ready to be routed.
pub fn endpoint(channel: Arc<GrpcChannel>) -> RegisteredMailServer<Endpoint> {
    let limit = channel.max_request_bytes;
    RegisteredMailServer::new(Endpoint(channel))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(usize::MAX)
}

/// The channel as a tonic service.
#[derive(Clone, Debug)]
pub struct Endpoint(Arc<GrpcChannel>);

/// A call as the channel sees it before the core: who is calling and what was received.
struct Call {
    ctx: RequestContext,
    peer: Option<PeerCertificates>,
}

impl Call {
    fn new<T>(
        request: &Request<T>,
        operation: &'static str,
        audited: AuditedRequest,
        now: SystemTime,
    ) -> Call {
        let peer = request.extensions().get::<PeerCertificates>().cloned();
        let mut audited = audited;
        audited.method = format!("/sealpost.v1.RegisteredMail/{operation}");
        audited.client_certificates = peer
            .as_ref()
            .map(|p| p.0.as_ref().clone())
            .unwrap_or_default();
        Call {
            ctx: RequestContext {
                correlation_id: new_evidence_id(now),
                channel: Channel::Grpc,
                operation,
                request: Arc::new(audited.encode_to_vec()),
                seen: None,
                vector: None,
            },
            peer,
        }
    }
}

impl GrpcChannel {
    fn refuse(
        &self,
        ctx: &RequestContext,
        identity: &str,
        kind: ErrorKind,
        detail: &str,
    ) -> Status {
        tracing::info!(correlation_id = %ctx.correlation_id, code = kind.row().code, detail, "gRPC request refused");
        let refusal = self
            .service
            .refuse_unauthenticated(ctx, identity, kind, detail);
        self.metrics.count(ctx.operation, refusal.kind.row().code);
        status(&refusal)
    }

    /// The caller: its client certificate, validated now against the sender trust anchors.
    fn authenticate(
        &self,
        call: &Call,
        now: SystemTime,
        how: &str,
    ) -> Result<(VerifiedSigner, Vec<u8>), Status> {
        sender_client(&self.trust, call.peer.as_ref(), now, how)
            .map_err(|r| self.refuse(&call.ctx, &r.identity, r.kind, &r.detail))
    }

    fn submit(
        &self,
        call: &Call,
        request: SubmitRegisteredMailRequest,
    ) -> Result<SubmitRegisteredMailResponse, Status> {
        let now = self.clock.now();
        let (signer, leaf) = self.authenticate(
            call,
            now,
            "TLS client certificate and signed manifest (gRPC)",
        )?;
        let subject = signer.subject.as_str();
        let ctx = &call.ctx;
        // The manifest's signature, by the key of the certificate that opened the connection.
        let checked = PublicKey::from_certificate(&leaf).and_then(|key| {
            key.verify_asn1(
                key.implied_algorithm(),
                &request.manifest,
                &request.signature,
            )
        });
        if let Err(e) = checked {
            return Err(self.refuse(
                ctx,
                subject,
                ErrorKind::BadSignature,
                &format!("the manifest signature: {e}"),
            ));
        }
        let manifest = match Manifest::decode(request.manifest.as_slice()) {
            Ok(m) => m,
            Err(e) => {
                return Err(self.refuse(
                    ctx,
                    subject,
                    ErrorKind::InvalidRequest,
                    &format!("the manifest: {e}"),
                ));
            }
        };
        let until = match self.fresh_until(manifest.signed_at, now) {
            Ok(until) => until,
            Err(detail) => return Err(self.refuse(ctx, subject, ErrorKind::Expired, &detail)),
        };
        // Named by the signed manifest, not the signature value (ECDSA values are malleable).
        let marked = RequestContext {
            seen: Some(SeenRequest::of_signed_bytes(&request.manifest, now, until)),
            ..call.ctx.clone()
        };
        let ctx = &marked;
        let submission = match read_submission(manifest, request.documents) {
            Ok(s) => s,
            Err(unread) => {
                let (detail, known) = *unread;
                tracing::info!(correlation_id = %ctx.correlation_id, detail, "gRPC submission refused");
                let refusal = self.service.refuse_submission(
                    ctx,
                    &signer,
                    &known,
                    ErrorKind::InvalidRequest,
                    &detail,
                );
                self.metrics.count(ctx.operation, refusal.kind.row().code);
                return Err(status(&refusal));
            }
        };
        self.answer(
            ctx,
            self.service
                .submit(ctx, &signer, submission)
                .map(|accepted| SubmitRegisteredMailResponse {
                    message_id: accepted.message_id,
                    evidence: accepted.evidence.into_bytes(),
                }),
        )
    }

    /// Until when a manifest signed at `signed_at` (Unix seconds) may be presented; an error
    /// if that is already past or it was signed in the future.
    fn fresh_until(&self, signed_at: i64, now: SystemTime) -> Result<SystemTime, String> {
        let signed = u64::try_from(signed_at)
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            .map_err(|_| format!("the manifest's signed_at {signed_at} is before 1970"))?;
        let skew = self.policy.max_clock_skew;
        if signed > now + skew {
            return Err(format!(
                "the manifest was signed at {}, in the future",
                format_date_time(signed)
            ));
        }
        let until = signed + self.policy.max_age + skew;
        if until < now {
            return Err(format!(
                "the manifest was signed at {}, too long ago",
                format_date_time(signed)
            ));
        }
        Ok(until)
    }

    fn get_evidence(&self, call: &Call, message_id: &str) -> Result<GetEvidenceResponse, Status> {
        let (signer, _) =
            self.authenticate(call, self.clock.now(), "TLS client certificate (gRPC)")?;
        self.answer(
            &call.ctx,
            self.service
                .get_evidence(&call.ctx, &signer, message_id)
                .map(|list| GetEvidenceResponse {
                    evidences: list.into_iter().map(String::into_bytes).collect(),
                }),
        )
    }

    fn message_status(
        &self,
        call: &Call,
        message_id: &str,
    ) -> Result<GetMessageStatusResponse, Status> {
        let (signer, _) =
            self.authenticate(call, self.clock.now(), "TLS client certificate (gRPC)")?;
        self.answer(
            &call.ctx,
            self.service
                .message_status(&call.ctx, &signer, message_id)
                .map(|s| GetMessageStatusResponse {
                    message_id: s.message_id,
                    state: s.state.name().to_owned(),
                    recipient: s.recipient,
                    submitted_at: format_date_time(s.submitted_at),
                    evidences: u32::try_from(s.evidences).unwrap_or(u32::MAX),
                }),
        )
    }

    fn answer<T>(&self, ctx: &RequestContext, result: Result<T, Refusal>) -> Result<T, Status> {
        match result {
            Ok(value) => {
                self.metrics.count(ctx.operation, "accepted");
                Ok(value)
            }
            Err(refusal) => {
                self.metrics.count(ctx.operation, refusal.kind.row().code);
                Err(status(&refusal))
            }
        }
    }
}

/// Why a TLS client is not a sender application: the identity to audit, the row, the detail.
#[derive(Debug)]
pub struct ClientRefused {
    pub identity: String,
    pub kind: ErrorKind,
    pub detail: String,
}

/// The sender application behind a TLS connection: its client certificate (the leaf, as
/// presented with its chain), validated at `now` against the sender trust anchors `trust`.
/// Whether it is registered to an active sender is the core's question. The one rule for
/// every endpoint that takes sender certificates over mutual TLS (gRPC, `POST /tsa`).
pub fn sender_client(
    trust: &TrustAnchors,
    peer: Option<&PeerCertificates>,
    now: SystemTime,
    how: &str,
) -> Result<(VerifiedSigner, Vec<u8>), ClientRefused> {
    let Some((leaf, rest)) = peer.and_then(|PeerCertificates(chain)| chain.split_first()) else {
        return Err(ClientRefused {
            identity: "unauthenticated".into(),
            kind: ErrorKind::BadSignature,
            detail: "no client certificate was presented".into(),
        });
    };
    let subject = Certificate::from_der(leaf)
        .map(|c| c.tbs_certificate.subject.to_string())
        .unwrap_or_else(|_| "(unreadable certificate)".into());
    if let Err(e) = trust.validate(leaf, rest, now, Purpose::SenderApplication) {
        return Err(ClientRefused {
            identity: subject,
            kind: ErrorKind::UntrustedSigner,
            detail: format!("client certificate: {e}"),
        });
    }
    Ok((
        VerifiedSigner {
            certificate_sha256: Sha256::of(leaf),
            subject,
            authentication: how.to_owned(),
        },
        leaf.clone(),
    ))
}

/// The core's submission from a verified manifest and the documents' contents, which must
/// come in the manifest's order with its ids. Each content is hashed here; the core compares
/// the digests with the declared ones. A refusal comes with the manifest's fields.
fn read_submission(
    manifest: Manifest,
    contents: Vec<DocumentContent>,
) -> Result<Submission, Box<(String, Submission)>> {
    let mut submission = Submission {
        idempotency_key: manifest.idempotency_key,
        recipient: manifest.recipient,
        message_type: manifest.message_type,
        subject: manifest.subject,
        sender_reference: manifest.sender_reference,
        documents: Vec::new(),
    };
    if manifest.documents.len() != contents.len() {
        let detail = format!(
            "the manifest lists {} documents, the request carries {}",
            manifest.documents.len(),
            contents.len()
        );
        return Err(Box::new((detail, submission)));
    }
    let documents = manifest
        .documents
        .into_iter()
        .zip(contents)
        .map(|(declared, content)| {
            if declared.id != content.id {
                return Err(format!(
                    "document {:?} comes where the manifest lists {:?}",
                    content.id, declared.id
                ));
            }
            Ok(SubmittedDocument {
                id: declared.id,
                name: declared.name,
                media_type: declared.media_type,
                declared_sha256: declared.sha256,
                sha256: Sha256::of(&content.content),
                content: Arc::new(content.content),
            })
        })
        .collect::<Result<Vec<_>, String>>();
    match documents {
        Ok(documents) => {
            submission.documents = documents;
            Ok(submission)
        }
        Err(detail) => Err(Box::new((detail, submission))),
    }
}

/// The status for the row of `refusal`, with its stable code, correlation id and (for a
/// sealed SubmissionRejection) message id as trailers.
pub fn status(refusal: &Refusal) -> Status {
    let row = refusal.kind.row();
    let mut trailers = MetadataMap::new();
    trailers.insert(CODE_TRAILER, MetadataValue::from_static(row.code));
    for (name, value) in [
        (CORRELATION_TRAILER, Some(&refusal.correlation_id)),
        (MESSAGE_ID_TRAILER, refusal.message_id.as_ref()),
    ] {
        if let Some(Ok(value)) = value.map(|v| v.parse()) {
            trailers.insert(name, value);
        }
    }
    Status::with_metadata(Code::from_i32(row.grpc as i32), row.message, trailers)
}

/// Runs `work` off the async threads (verification, sealing and the durable commit block).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<Response<T>, Status> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map(Response::new),
        Err(e) => {
            tracing::error!(error = %e, "the gRPC worker failed");
            Err(Status::internal("internal error"))
        }
    }
}

#[tonic::async_trait]
impl RegisteredMail for Endpoint {
    async fn submit_registered_mail(
        &self,
        request: Request<SubmitRegisteredMailRequest>,
    ) -> Result<Response<SubmitRegisteredMailResponse>, Status> {
        let started = Instant::now();
        let audited = {
            let m = request.get_ref();
            AuditedRequest {
                request: SubmitRegisteredMailRequest {
                    manifest: m.manifest.clone(),
                    signature: m.signature.clone(),
                    // The contents are stored with the message; their digests are signed.
                    documents: m
                        .documents
                        .iter()
                        .map(|d| DocumentContent {
                            id: d.id.clone(),
                            content: Vec::new(),
                        })
                        .collect(),
                }
                .encode_to_vec(),
                ..AuditedRequest::default()
            }
        };
        let call = Call::new(
            &request,
            "SubmitRegisteredMail",
            audited,
            self.0.clock.now(),
        );
        let channel = Arc::clone(&self.0);
        let answer = blocking(move || channel.submit(&call, request.into_inner())).await;
        self.0.metrics.submit_seconds.observe(started.elapsed());
        answer
    }

    async fn get_evidence(
        &self,
        request: Request<GetEvidenceRequest>,
    ) -> Result<Response<GetEvidenceResponse>, Status> {
        let audited = AuditedRequest {
            request: request.get_ref().encode_to_vec(),
            ..AuditedRequest::default()
        };
        let call = Call::new(&request, "GetEvidence", audited, self.0.clock.now());
        let channel = Arc::clone(&self.0);
        let message_id = request.into_inner().message_id;
        blocking(move || channel.get_evidence(&call, &message_id)).await
    }

    async fn get_message_status(
        &self,
        request: Request<GetMessageStatusRequest>,
    ) -> Result<Response<GetMessageStatusResponse>, Status> {
        let audited = AuditedRequest {
            request: request.get_ref().encode_to_vec(),
            ..AuditedRequest::default()
        };
        let call = Call::new(&request, "GetMessageStatus", audited, self.0.clock.now());
        let channel = Arc::clone(&self.0);
        let message_id = request.into_inner().message_id;
        blocking(move || channel.message_status(&call, &message_id)).await
    }
}

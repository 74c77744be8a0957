//! The SOAP channel: `POST /soap` (SOAP 1.1 and 1.2, WS-Security X.509 signatures) and
//! `GET /soap?wsdl`. It verifies the envelope with xmldsig, reads the operation from the Body
//! node the signature covers (never from an Id looked up again), and hands the core typed
//! requests. Faults carry the error table's row only; the detail goes to the log and audit.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use roxmltree::Node;
use sealpost_evidence::model::{Sha256, new_evidence_id};
use sealpost_xmldsig::dsig::{NS_WSU, base64_decode, base64_encode};
use sealpost_xmldsig::saml::{SamlTrust, VerifiedAssertion};
use sealpost_xmldsig::signed_text::signed_text;
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{
    FailureKind, KnownCertificates, NS_SOAP11, NS_SOAP12, NS_WSSE, SoapVersion, WssPolicy,
    verify_envelope_with,
};
use sealpost_xmldsig::wss_sign::format_date_time;
use sealpost_xmldsig::{Limits, parse};

use super::admission::BodyRefused;
use super::metrics::Metrics;
use super::xop::{self, XopError};
use crate::config::IdentityProviderEntry;
use crate::core::error::Party;
use crate::core::records::Channel;
use crate::core::{
    Clock, ErrorKind, IdentificationVector, Refusal, RequestContext, SeenRequest, Service,
    Submission, SubmittedDocument, VerifiedSigner,
};
use sealpost_evidence::model::Agent;

pub const NS_SEALPOST: &str = "urn:sealpost:v1";
const WSDL: &str = include_str!("../../../proto/sealpost.wsdl");

/// What the SOAP channel needs.
pub struct SoapChannel {
    pub service: Arc<Service>,
    pub trust: TrustAnchors,
    pub known: KnownCertificates,
    pub policy: WssPolicy,
    /// The identity providers whose assertions (identification vectors) are accepted in the
    /// Security header, and the names of the vector's attributes in each one's assertions.
    pub identity: SamlTrust,
    pub providers: Vec<IdentityProviderEntry>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The largest request accepted, in bytes (documents are base64 in it, or binary MTOM/XOP
    /// parts; the envelope with those parts inline may be no larger either).
    pub max_request_bytes: usize,
}

impl std::fmt::Debug for SoapChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoapChannel")
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

/// `GET /soap?wsdl` and `POST /soap`.
pub fn endpoint(channel: Arc<SoapChannel>) -> MethodRouter {
    get(wsdl).post(handle).with_state(channel)
}

async fn wsdl(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    // The host asked for: HTTP/2's :authority (in the URI), else HTTP/1.1's Host header.
    let host = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1:8443");
    let text = WSDL.replace(
        "https://127.0.0.1:8443/soap",
        &format!("https://{host}/soap"),
    );
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], text).into_response()
}

/// The SOAP version a request's Content-Type announces (for faults before the envelope is
/// read): for MTOM/XOP, the `start-info` of `multipart/related`.
fn version_of(content_type: Option<&str>) -> SoapVersion {
    match content_type {
        Some(ct) if xop::is_multipart_related(ct) => xop::announced_version(ct),
        Some(ct) if ct.trim_start().starts_with("application/soap+xml") => SoapVersion::Soap12,
        _ => SoapVersion::Soap11,
    }
}

async fn handle(State(channel): State<Arc<SoapChannel>>, request: Request) -> Response {
    let started = Instant::now();
    let correlation_id = new_evidence_id(channel.clock.now());
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let version = version_of(content_type.as_deref());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // The body, unless it is too large to read; the answer is computed off the async threads
    // (verification, sealing and the durable commit all block).
    let body = if declared.is_some_and(|n| n > channel.max_request_bytes) {
        Err(format!(
            "the request declares {} bytes",
            declared.unwrap_or(0)
        ))
    } else {
        match axum::body::to_bytes(request.into_body(), channel.max_request_bytes).await {
            Ok(bytes) => Ok(bytes),
            // Cut by admission (too slow, or no budget left): its answer, nothing audited.
            Err(e) => match BodyRefused::find(&e) {
                Some(refused) => return refused.response(false),
                None => Err(format!("the request body: {e}")),
            },
        }
    };
    let worker = Arc::clone(&channel);
    let answer = tokio::task::spawn_blocking(move || {
        let (request, too_large) = match body {
            Ok(bytes) => (Vec::from(bytes), None),
            Err(what) => (Vec::new(), Some(what)),
        };
        let ctx = RequestContext {
            correlation_id,
            channel: Channel::Soap,
            operation: "SOAP",
            // The collected body is one buffer of its own: taken over, not copied.
            request: Arc::new(request),
            seen: None,
            vector: None,
        };
        match too_large {
            None => process(&worker, ctx, version, content_type.as_deref()),
            Some(what) => {
                let refusal = worker.service.refuse_unauthenticated(
                    &ctx,
                    "unauthenticated",
                    ErrorKind::TooLarge,
                    &what,
                );
                worker.metrics.count("SOAP", refusal.kind.row().code);
                ("SOAP", fault(version, &refusal))
            }
        }
    })
    .await;
    match answer {
        Ok((operation, response)) => {
            if operation == "SubmitRegisteredMail" {
                channel.metrics.submit_seconds.observe(started.elapsed());
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "the SOAP worker failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The identification vector an assertion carries, its attributes read under the names its
/// identity provider uses (`[[saml.identity_providers]]`).
/// An attribute that names one thing (the organisation, the level) and states two is refused,
/// never read as its first value.
fn identification_vector(
    channel: &SoapChannel,
    a: &VerifiedAssertion,
) -> Result<IdentificationVector, String> {
    let names = channel.providers.iter().find(|p| p.entity_id == a.issuer);
    let values = |name: Option<&String>| name.map_or(&[][..], |n| a.values(n));
    let single = |name: Option<&String>| match values(name) {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(format!(
            "the assertion {} states {} more than once",
            a.id,
            name.map_or("an attribute", String::as_str)
        )),
    };
    let policy = &channel.identity.policy;
    Ok(IdentificationVector {
        agent: Agent {
            id: a.subject.clone(),
            identity_provider: a.issuer.clone(),
            assertion_id: a.id.clone(),
            assertion_sha256: Sha256(a.canonical_sha256),
            authentication_level: single(names.map(|n| &n.level_attribute))?,
            profiles: values(names.map(|n| &n.pagm_attribute)).to_vec(),
        },
        organisation: single(names.map(|n| &n.organisation_attribute))?,
        authentication_context: a.authentication_context.clone(),
        token: format!("{} {}", a.version.name(), a.confirmation.name()),
        presentable_until: a.not_on_or_after.min(a.issue_instant + policy.max_age)
            + policy.max_clock_skew,
        assertion: Arc::new(a.canonical.clone()),
    })
}

fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

/// Verifies the envelope and runs the operation; returns the operation's name and the answer.
/// An MTOM/XOP request (`multipart/related`) is first reconstituted into the envelope it was
/// optimised from; the audit keeps the request as received (`ctx.request`).
fn process(
    channel: &SoapChannel,
    mut ctx: RequestContext,
    mut announced: SoapVersion,
    content_type: Option<&str>,
) -> (&'static str, Response) {
    let refuse = |ctx: &RequestContext, version, identity: &str, kind, detail: &str| {
        tracing::info!(correlation_id = %ctx.correlation_id, code = ErrorKind::row(kind).code, detail, "SOAP request refused");
        let refusal = channel
            .service
            .refuse_unauthenticated(ctx, identity, kind, detail);
        channel
            .metrics
            .count(ctx.operation, refusal.kind.row().code);
        fault(version, &refusal)
    };
    let request = Arc::clone(&ctx.request);
    let limits = Limits {
        max_bytes: channel.max_request_bytes,
        ..Limits::default()
    };
    let refuse_xop = |ctx: &RequestContext, version, e: XopError| {
        let kind = match e {
            XopError::Invalid(_) => ErrorKind::InvalidRequest,
            XopError::TooLarge(_) => ErrorKind::TooLarge,
        };
        refuse(ctx, version, "unauthenticated", kind, &e.to_string())
    };
    let reconstituted;
    let text = match content_type.filter(|ct| xop::is_multipart_related(ct)) {
        Some(ct) => {
            let package = match xop::read_package(ct, &request) {
                Ok(p) => p,
                Err(e) => return ("SOAP", refuse_xop(&ctx, announced, e)),
            };
            announced = package.version();
            reconstituted = match package.reconstitute(&limits) {
                Ok(envelope) => envelope,
                Err(e) => return ("SOAP", refuse_xop(&ctx, announced, e)),
            };
            reconstituted.as_str()
        }
        None => match std::str::from_utf8(&request) {
            Ok(text) => text,
            Err(_) => {
                let r = refuse(
                    &ctx,
                    announced,
                    "unauthenticated",
                    ErrorKind::InvalidRequest,
                    "the request is not UTF-8",
                );
                return ("SOAP", r);
            }
        },
    };
    let doc = match parse(text, &limits) {
        Ok(d) => d,
        Err(e) => {
            let r = refuse(
                &ctx,
                announced,
                "unauthenticated",
                ErrorKind::InvalidRequest,
                &e.to_string(),
            );
            return ("SOAP", r);
        }
    };
    let version = match doc.root_element().tag_name().namespace() {
        Some(NS_SOAP12) => SoapVersion::Soap12,
        _ => SoapVersion::Soap11,
    };
    let now = channel.clock.now();
    let verified = match verify_envelope_with(
        &doc,
        now,
        &channel.policy,
        &channel.known,
        &channel.trust,
        &channel.identity,
    ) {
        Ok(v) => v,
        Err(e) => {
            let kind = match e.kind() {
                FailureKind::FailedCheck => ErrorKind::BadSignature,
                FailureKind::FailedAuthentication => ErrorKind::UntrustedSigner,
                FailureKind::MessageExpired => ErrorKind::Expired,
                FailureKind::InvalidRequest => ErrorKind::InvalidRequest,
            };
            let r = refuse(&ctx, version, "unauthenticated", kind, &e.to_string());
            return ("SOAP", r);
        }
    };
    // The request is acceptable until its Expires or its maximum age, whichever comes first
    // (verify_envelope refuses it after either), give or take the clock skew.
    let oldest = verified.created + channel.policy.max_age;
    let until = verified.expires.map_or(oldest, |e| e.min(oldest)) + channel.policy.max_clock_skew;
    let subject = verified.signer_subject.clone();
    // The request's mark, named by what was signed: the core refuses it as replayed when the
    // store already holds it.
    ctx.seen = Some(SeenRequest::new(
        Sha256(verified.signed_info_sha256),
        now,
        until,
    ));
    ctx.vector = match verified
        .assertion
        .as_ref()
        .map(|a| identification_vector(channel, a))
    {
        Some(Ok(vector)) => Some(Arc::new(vector)),
        Some(Err(detail)) => {
            let r = refuse(&ctx, version, &subject, ErrorKind::UntrustedSigner, &detail);
            return ("SOAP", r);
        }
        None => None,
    };
    let signer = VerifiedSigner {
        certificate_sha256: Sha256(verified.signer_sha256),
        subject: subject.clone(),
        authentication: format!(
            "WS-Security X.509 signature{} (SOAP {})",
            match &ctx.vector {
                Some(v) => format!(" with a {} assertion", v.token),
                None => String::new(),
            },
            match version {
                SoapVersion::Soap11 => "1.1",
                SoapVersion::Soap12 => "1.2",
            }
        ),
    };

    // The operation: the one element of the signed Body.
    let mut payload = verified.body.children().filter(Node::is_element);
    let operation = match (payload.next(), payload.next()) {
        (Some(op), None) if op.tag_name().namespace() == Some(NS_SEALPOST) => op,
        _ => {
            let r = refuse(
                &ctx,
                version,
                &subject,
                ErrorKind::InvalidRequest,
                "the Body must hold one Sealpost operation",
            );
            return ("SOAP", r);
        }
    };
    let name = match operation.tag_name().name() {
        "SubmitRegisteredMail" => "SubmitRegisteredMail",
        "GetEvidence" => "GetEvidence",
        "GetMessageStatus" => "GetMessageStatus",
        other => {
            let r = refuse(
                &ctx,
                version,
                &subject,
                ErrorKind::InvalidRequest,
                &format!("unknown operation {other}"),
            );
            return ("SOAP", r);
        }
    };
    ctx.operation = name;
    let result = match name {
        "SubmitRegisteredMail" => {
            match read_submission(operation, channel.service.limits().max_document_bytes) {
                Ok(submission) => {
                    channel
                        .service
                        .submit(&ctx, &signer, submission)
                        .map(|accepted| {
                            element(
                                "SubmitRegisteredMailResponse",
                                &format!(
                                    "<sp:MessageId>{}</sp:MessageId><sp:Evidence>{}</sp:Evidence>",
                                    escape(&accepted.message_id),
                                    base64_encode(accepted.evidence.as_bytes())
                                ),
                            )
                        })
                }
                Err(unread) => {
                    let (kind, detail, known) = *unread;
                    tracing::info!(correlation_id = %ctx.correlation_id, code = kind.row().code, detail, "SOAP submission refused");
                    let refusal = channel
                        .service
                        .refuse_submission(&ctx, &signer, &known, kind, &detail);
                    channel.metrics.count(name, refusal.kind.row().code);
                    return (name, fault(version, &refusal));
                }
            }
        }
        _ => {
            let message_id = match fields(operation, &["MessageId"]) {
                Ok(v) => v
                    .into_iter()
                    .next()
                    .map(Cow::into_owned)
                    .unwrap_or_default(),
                Err(detail) => {
                    let r = refuse(&ctx, version, &subject, ErrorKind::InvalidRequest, &detail);
                    return (name, r);
                }
            };
            if name == "GetEvidence" {
                channel
                    .service
                    .get_evidence(&ctx, &signer, &message_id)
                    .map(|list| {
                        let inner: String = list
                            .iter()
                            .map(|xml| {
                                format!(
                                    "<sp:Evidence>{}</sp:Evidence>",
                                    base64_encode(xml.as_bytes())
                                )
                            })
                            .collect();
                        element("GetEvidenceResponse", &inner)
                    })
            } else {
                channel
                    .service
                    .message_status(&ctx, &signer, &message_id)
                    .map(|s| {
                        element(
                            "GetMessageStatusResponse",
                            &format!(
                                "<sp:MessageId>{}</sp:MessageId><sp:Status>{}</sp:Status><sp:Recipient>{}</sp:Recipient><sp:SubmittedAt>{}</sp:SubmittedAt><sp:Evidences>{}</sp:Evidences>",
                                escape(&s.message_id),
                                s.state.name(),
                                escape(&s.recipient),
                                format_date_time(s.submitted_at),
                                s.evidences
                            ),
                        )
                    })
            }
        }
    };
    let response = match result {
        Ok(body) => {
            channel.metrics.count(name, "accepted");
            envelope(version, StatusCode::OK, &body)
        }
        Err(refusal) => {
            channel.metrics.count(name, refusal.kind.row().code);
            fault(version, &refusal)
        }
    };
    (name, response)
}

/// The signed text of each named child element, in this order and nothing else (a comment,
/// processing instruction or element inside a value is refused); borrowed from the parsed
/// request when the value is one text node (a document's base64 is not copied).
fn fields<'a>(node: Node<'a, '_>, names: &[&str]) -> Result<Vec<Cow<'a, str>>, String> {
    let children: Vec<Node<'a, '_>> = node.children().filter(Node::is_element).collect();
    if children.len() != names.len() {
        return Err(format!(
            "{} must hold {}",
            node.tag_name().name(),
            names.join(", ")
        ));
    }
    children
        .iter()
        .zip(names)
        .map(|(child, name)| {
            if !is(child, NS_SEALPOST, name) {
                return Err(format!("expected {name} in {}", node.tag_name().name()));
            }
            signed_text(*child).map_err(|e| format!("{}/{e}", node.tag_name().name()))
        })
        .collect()
}

/// Reads SubmitRegisteredMail; each document is decoded and hashed once. A refusal comes with
/// what was read before it (the fields, without documents), for the SubmissionRejection.
fn read_submission(
    node: Node<'_, '_>,
    max_document_bytes: u64,
) -> Result<Submission, Box<(ErrorKind, String, Submission)>> {
    let children: Vec<Node<'_, '_>> = node.children().filter(Node::is_element).collect();
    let heads = [
        "IdempotencyKey",
        "Recipient",
        "MessageType",
        "Subject",
        "SenderReference",
    ];
    let mut texts = Vec::new();
    let mut unreadable = None;
    for (child, name) in children.iter().zip(heads) {
        if !is(child, NS_SEALPOST, name) {
            break;
        }
        match signed_text(*child) {
            Ok(text) => texts.push(text.into_owned()),
            Err(e) => {
                unreadable = Some(format!("SubmitRegisteredMail/{e}"));
                break;
            }
        }
    }
    let complete = texts.len() == heads.len();
    texts.resize(heads.len(), String::new());
    let [
        idempotency_key,
        recipient,
        message_type,
        subject,
        sender_reference,
    ] = <[String; 5]>::try_from(texts).unwrap_or_default();
    let mut submission = Submission {
        idempotency_key,
        recipient,
        message_type,
        subject,
        sender_reference,
        documents: Vec::new(),
    };
    let refuse = |kind, what: String, mut known: Submission| {
        known.documents.clear();
        Err(Box::new((kind, what, known)))
    };
    if let Some(what) = unreadable {
        return refuse(ErrorKind::InvalidRequest, what, submission);
    }
    if !complete {
        return refuse(
            ErrorKind::InvalidRequest,
            format!("SubmitRegisteredMail must begin with {}", heads.join(", ")),
            submission,
        );
    }
    if children.len() == heads.len() {
        return refuse(ErrorKind::InvalidRequest, "no Document".into(), submission);
    }
    for child in &children[heads.len()..] {
        if !is(child, NS_SEALPOST, "Document") {
            return refuse(
                ErrorKind::InvalidRequest,
                "expected Document".into(),
                submission,
            );
        }
        let f = match fields(*child, &["Id", "Name", "MediaType", "Sha256", "Content"]) {
            Ok(f) => f,
            Err(what) => return refuse(ErrorKind::InvalidRequest, what, submission),
        };
        let Ok([id, name, media_type, declared, content]) = <[Cow<'_, str>; 5]>::try_from(f) else {
            return refuse(ErrorKind::InvalidRequest, "Document".into(), submission);
        };
        // Base64 is 4/3 of the content: refuse a document too large before decoding it.
        if content.len() as u64 / 4 * 3 > max_document_bytes + 3 {
            let what = format!("document {id} is too large");
            return refuse(ErrorKind::TooLarge, what, submission);
        }
        if declared.len() != 64 || !declared.bytes().all(|b| b.is_ascii_hexdigit()) {
            let what = format!("document {id}: Sha256 is not 64 hex digits");
            return refuse(ErrorKind::InvalidRequest, what, submission);
        }
        let Ok(bytes) = base64_decode(&content) else {
            let what = format!("document {id}: Content is not base64");
            return refuse(ErrorKind::InvalidRequest, what, submission);
        };
        submission.documents.push(SubmittedDocument {
            id: id.into_owned(),
            name: name.into_owned(),
            media_type: media_type.into_owned(),
            declared_sha256: declared.into_owned(),
            sha256: Sha256::of(&bytes),
            content: Arc::new(bytes),
        });
    }
    Ok(submission)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn element(name: &str, inner: &str) -> String {
    format!("<sp:{name} xmlns:sp=\"{NS_SEALPOST}\">{inner}</sp:{name}>")
}

fn envelope(version: SoapVersion, status: StatusCode, body: &str) -> Response {
    let (ns, content_type) = match version {
        SoapVersion::Soap11 => (NS_SOAP11, "text/xml; charset=utf-8"),
        SoapVersion::Soap12 => (NS_SOAP12, "application/soap+xml; charset=utf-8"),
    };
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope xmlns:env=\"{ns}\"><env:Body>{body}</env:Body></env:Envelope>"
    );
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A SOAP fault for the row of `refusal`. HTTP status as the SOAP bindings require (WS-I
/// Basic Profile: 500 for SOAP 1.1 faults; SOAP 1.2: 400 for Sender faults, 500 for Receiver
/// faults), except 413 for a request too large to be read.
pub fn fault(version: SoapVersion, refusal: &Refusal) -> Response {
    let row = refusal.kind.row();
    let (prefix, local) = row.subcode;
    let subcode_ns = match prefix {
        "wsse" => NS_WSSE,
        "wsu" => NS_WSU,
        _ => NS_SEALPOST,
    };
    let detail = format!(
        "<sp:Fault xmlns:sp=\"{NS_SEALPOST}\"><sp:Code>{}</sp:Code><sp:CorrelationId>{}</sp:CorrelationId>{}</sp:Fault>",
        row.code,
        escape(&refusal.correlation_id),
        refusal
            .evidence
            .as_ref()
            .map(|e| format!("<sp:Evidence>{}</sp:Evidence>", base64_encode(e.as_bytes())))
            .unwrap_or_default()
    );
    let body = match version {
        SoapVersion::Soap11 => format!(
            "<env:Fault><faultcode xmlns:{prefix}=\"{subcode_ns}\">{prefix}:{local}</faultcode><faultstring>{}</faultstring><detail>{detail}</detail></env:Fault>",
            row.message
        ),
        SoapVersion::Soap12 => format!(
            "<env:Fault><env:Code><env:Value>env:{}</env:Value><env:Subcode><env:Value xmlns:{prefix}=\"{subcode_ns}\">{prefix}:{local}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">{}</env:Text></env:Reason><env:Detail>{detail}</env:Detail></env:Fault>",
            match row.party {
                Party::Sender => "Sender",
                Party::Receiver => "Receiver",
            },
            row.message
        ),
    };
    let status = if refusal.kind == ErrorKind::TooLarge {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        match (version, row.party) {
            (SoapVersion::Soap12, Party::Sender) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    };
    envelope(version, status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [&str; 10] = [
        "IdempotencyKey",
        "Recipient",
        "MessageType",
        "Subject",
        "SenderReference",
        "Id",
        "Name",
        "MediaType",
        "Sha256",
        "Content",
    ];

    fn letter() -> String {
        let values = [
            "key-1",
            "nrn:85073003328",
            "tax-assessment",
            "pay 100 EUR - CANCELLED",
            "REF-1",
            "d1",
            "avis.pdf",
            "application/pdf",
            &"ab".repeat(32),
            "JVBERi0xLjc=",
        ];
        let mut fields: Vec<String> = FIELDS
            .iter()
            .zip(values)
            .map(|(name, value)| format!("<sp:{name}>{value}</sp:{name}>"))
            .collect();
        let document = fields.split_off(5).concat();
        format!(
            "<sp:SubmitRegisteredMail xmlns:sp=\"{NS_SEALPOST}\">{}<sp:Document>{document}</sp:Document></sp:SubmitRegisteredMail>",
            fields.concat()
        )
    }

    fn read(xml: &str) -> Result<Submission, Box<(ErrorKind, String, Submission)>> {
        let doc = parse(xml, &Limits::default()).expect("well formed");
        read_submission(doc.root_element(), 1 << 20)
    }

    #[test]
    fn a_comment_or_processing_instruction_inside_any_field_refuses_the_submission() {
        let submission = read(&letter()).expect("the letter reads");
        assert_eq!(submission.subject, "pay 100 EUR - CANCELLED");
        for name in FIELDS {
            for (insert, what) in [
                ("<!---->", "holds a comment"),
                ("<?x y?>", "holds a processing instruction"),
            ] {
                let open = format!("<sp:{name}>");
                let hostile = letter().replacen(&open, &format!("{open}x{insert}"), 1);
                let (kind, detail, known) = *read(&hostile).expect_err(name);
                assert_eq!(kind, ErrorKind::InvalidRequest, "{name}");
                assert!(detail.contains(&format!("{name} {what}")), "{detail}");
                // What the rejection shows was read in full or not at all.
                assert!(
                    [known.idempotency_key, known.subject]
                        .iter()
                        .all(|t| t != "x"),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn a_document_in_one_text_node_is_read_in_place_and_cdata_in_full() {
        let xml = letter();
        let doc = parse(&xml, &Limits::default()).expect("well formed");
        let document = doc
            .descendants()
            .find(|n| is(n, NS_SEALPOST, "Document"))
            .expect("document");
        let names = ["Id", "Name", "MediaType", "Sha256", "Content"];
        let values = fields(document, &names).expect("fields");
        assert!(matches!(&values[4], Cow::Borrowed("JVBERi0xLjc=")));

        let split = letter().replace("JVBERi0x", "JVBE<![CDATA[Ri0x]]>");
        let doc = parse(&split, &Limits::default()).expect("well formed");
        let document = doc
            .descendants()
            .find(|n| is(n, NS_SEALPOST, "Document"))
            .expect("document");
        let values = fields(document, &names).expect("fields");
        assert_eq!(values[4], "JVBERi0xLjc=");
    }
}

//! The offline verification of an evidence, as a court runs it: numbered steps, each reported;
//! no network, no database, no server. A step that cannot be decided makes the result
//! indeterminate, never valid.

use std::time::SystemTime;

use aws_lc_rs::digest;
use roxmltree::Node;
use sealpost_tsa::asn1::oid;
use sealpost_tsa::{Expected, TrustStore, Verdict as TokenVerdict, verify_token};
use sealpost_xmldsig::c14n::{Canonicalization, canonicalize};
use sealpost_xmldsig::document::{DocumentError, verify_enveloped};
use sealpost_xmldsig::dsig::{AlgorithmPolicy, NS_DSIG, base64_decode};
use sealpost_xmldsig::trust::{TrustAnchors, TrustError};
use sealpost_xmldsig::wss_sign::format_date_time;
use sealpost_xmldsig::{Limits, parse};
use serde::Serialize;

use crate::model::{Event, Evidence, hex};
use crate::seal::NS_XADES;

/// The overall result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    Indeterminate,
}

impl Verdict {
    /// The exit code of `sealpost-verify`.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Indeterminate => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    Passed(String),
    Failed(String),
    Indeterminate(String),
    #[serde(rename = "not applicable")]
    NotApplicable(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub number: u8,
    pub check: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What verification found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub steps: Vec<Step>,
    /// What the evidence proves, in plain words (only when valid).
    pub proves_en: Option<String>,
    pub proves_fr: Option<String>,
    pub evidence_id: Option<String>,
    pub event: Option<String>,
    /// When the seal was time-stamped (the signature time-stamp's genTime).
    pub sealed_at: Option<String>,
}

const CHECKS: [&str; 7] = [
    "the XML is well formed and is a Sealpost evidence (structure and values of proto/evidence.xsd)",
    "the seal (XML signature) covers the whole evidence",
    "the seal certificate chains to the trusted root at the time of the signature time-stamp",
    "SigningCertificateV2 names the seal certificate",
    "the signature time-stamp covers the SignatureValue and chains to the trusted root",
    "each document time-stamp is valid and covers the document's SHA-256",
    "the given document's SHA-256 is a document digest of the evidence",
];

/// Verifies `xml` against the trust anchors (DER); `document` is the file a court holds.
/// To verify many evidences, keep one [`EvidenceVerifier`].
pub fn verify_evidence(xml: &[u8], anchors: &[Vec<u8>], document: Option<&[u8]>) -> Report {
    EvidenceVerifier::new(anchors).verify(xml, document)
}

/// The verification procedure under fixed trust anchors. It remembers the certificate paths
/// it has validated (the seal's, the TSA's) with the window in which they hold, so an
/// auditor's sweep over many evidences validates each path once; every signature and every
/// time is still checked for each evidence.
#[derive(Clone, Debug)]
pub struct EvidenceVerifier {
    trust_store: TrustStore,
    trust_anchors: TrustAnchors,
}

impl EvidenceVerifier {
    /// `anchors`: the trusted roots, DER.
    pub fn new(anchors: &[Vec<u8>]) -> Self {
        EvidenceVerifier {
            trust_store: TrustStore::new(anchors.iter().cloned()),
            trust_anchors: TrustAnchors::new(anchors.iter().cloned()),
        }
    }

    /// Verifies `xml`; `document` is the file a court holds.
    pub fn verify(&self, xml: &[u8], document: Option<&[u8]>) -> Report {
        verify_with(xml, &self.trust_store, &self.trust_anchors, document)
    }
}

fn verify_with(
    xml: &[u8],
    trust_store: &TrustStore,
    trust_anchors: &TrustAnchors,
    document: Option<&[u8]>,
) -> Report {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; CHECKS.len()];
    let mut report = Report {
        verdict: Verdict::Indeterminate,
        steps: Vec::new(),
        proves_en: None,
        proves_fr: None,
        evidence_id: None,
        event: None,
        sealed_at: None,
    };
    let finish = |mut report: Report, outcomes: Vec<Option<Outcome>>| {
        report.steps = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| Step {
                number: u8::try_from(i + 1).unwrap_or(0),
                check: CHECKS[i],
                outcome: o.unwrap_or_else(|| Outcome::Indeterminate("not evaluated".into())),
            })
            .collect();
        let failed = report
            .steps
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed(_)));
        let undecided = report
            .steps
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Indeterminate(_)));
        report.verdict = if failed {
            Verdict::Invalid
        } else if undecided {
            Verdict::Indeterminate
        } else {
            Verdict::Valid
        };
        if report.verdict != Verdict::Valid {
            report.proves_en = None;
            report.proves_fr = None;
        }
        report
    };

    // Step 1.
    let text = match std::str::from_utf8(xml) {
        Ok(t) => t,
        Err(_) => {
            outcomes[0] = Some(Outcome::Failed("the file is not UTF-8 XML".into()));
            return finish(report, outcomes);
        }
    };
    let doc = match parse(text, &Limits::default()) {
        Ok(d) => d,
        Err(e) => {
            outcomes[0] = Some(Outcome::Failed(e.to_string()));
            return finish(report, outcomes);
        }
    };
    let evidence = match Evidence::from_element(doc.root_element()) {
        Ok(ev) => {
            outcomes[0] = Some(Outcome::Passed(format!("{} {}", ev.event.name(), ev.id)));
            report.evidence_id = Some(ev.id.clone());
            report.event = Some(ev.event.uri());
            Some(ev)
        }
        Err(e) => {
            outcomes[0] = Some(Outcome::Indeterminate(format!(
                "not a Sealpost evidence: {e}"
            )));
            None
        }
    };

    // Step 5 first: the signature time-stamp gives the time the seal is judged at.
    let signature_value = doc.descendants().find(|n| is(n, NS_DSIG, "SignatureValue"));
    let sealed_at = match (evidence.as_ref(), signature_value) {
        (None, _) => {
            outcomes[4] = Some(Outcome::NotApplicable("not a Sealpost evidence".into()));
            None
        }
        (Some(_), None) => {
            outcomes[4] = Some(Outcome::Failed("the evidence is not sealed".into()));
            None
        }
        (Some(_), Some(value)) => match signature_timestamp(&doc, value, trust_store) {
            Ok(t) => {
                outcomes[4] = Some(Outcome::Passed(format!(
                    "time-stamped at {} UTC",
                    format_date_time(t)
                )));
                Some(t)
            }
            Err(o) => {
                outcomes[4] = Some(o);
                None
            }
        },
    };
    report.sealed_at = sealed_at.map(format_date_time);

    // Steps 2 and 3: the seal and its certificate, at the time-stamp's time.
    let at = sealed_at.unwrap_or_else(SystemTime::now);
    let mut signer = None;
    match verify_enveloped(&doc, AlgorithmPolicy::default(), trust_anchors, at) {
        Ok(verified) => {
            outcomes[1] = Some(Outcome::Passed(
                "the signature and both references verify".into(),
            ));
            outcomes[2] = Some(if sealed_at.is_some() || evidence.is_none() {
                Outcome::Passed(format!("at {} UTC", format_date_time(at)))
            } else {
                Outcome::Indeterminate("no trusted time to judge the certificate at".into())
            });
            signer = Some(verified);
        }
        Err(DocumentError::Untrusted(e)) => {
            outcomes[1] = Some(Outcome::Passed("the signature verifies".into()));
            outcomes[2] = Some(match e {
                // No chain to the given root (ETSI EN 319 102-1 NO_CERTIFICATE_CHAIN_FOUND).
                TrustError::Chain(
                    webpki::Error::UnknownIssuer | webpki::Error::InvalidSignatureForPublicKey,
                ) => Outcome::Indeterminate(
                    "the seal certificate does not chain to the given root".into(),
                ),
                other => Outcome::Failed(other.to_string()),
            });
        }
        Err(e) => {
            outcomes[1] = Some(Outcome::Failed(e.to_string()));
            outcomes[2] = Some(Outcome::Indeterminate("the seal did not verify".into()));
        }
    }

    let Some(evidence) = evidence else {
        for outcome in &mut outcomes[3..] {
            *outcome = Some(Outcome::NotApplicable("not a Sealpost evidence".into()));
        }
        return finish(report, outcomes);
    };

    // Step 4.
    outcomes[3] = Some(match &signer {
        Some(verified) => {
            signing_certificate_v2(&doc, &verified.signer, &verified.signed_object_ids)
        }
        None => Outcome::Indeterminate("the seal did not verify".into()),
    });

    // Step 6.
    let mut token_problems = Vec::new();
    for d in &evidence.documents {
        let expected = Expected::digest(oid::SHA256, &d.sha256);
        if let Err(e) = verify_token(&d.time_stamp_token, &expected, trust_store) {
            token_problems.push((d.name.clone(), e));
        }
    }
    outcomes[5] = Some(if evidence.documents.is_empty() {
        Outcome::NotApplicable("the evidence names no document".into())
    } else if let Some((name, e)) = token_problems
        .iter()
        .find(|(_, e)| e.verdict() == TokenVerdict::Invalid)
    {
        Outcome::Failed(format!("{name}: {e}"))
    } else if let Some((name, e)) = token_problems.first() {
        Outcome::Indeterminate(format!("{name}: {e}"))
    } else {
        Outcome::Passed(format!("{} token(s)", evidence.documents.len()))
    });

    // Step 7.
    outcomes[6] = Some(match document {
        None => Outcome::NotApplicable("no document given (--document)".into()),
        Some(bytes) => {
            let sha = digest::digest(&digest::SHA256, bytes);
            match evidence.documents.iter().find(|d| d.sha256 == sha.as_ref()) {
                Some(d) => {
                    Outcome::Passed(format!("it is {} (SHA-256 {})", d.name, hex(&d.sha256)))
                }
                None => Outcome::Failed(format!(
                    "its SHA-256 {} is not in the evidence",
                    hex(sha.as_ref())
                )),
            }
        }
    });

    let (en, fr) = statements(&evidence);
    report.proves_en = Some(en);
    report.proves_fr = Some(fr);
    finish(report, outcomes)
}

fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

/// Step 5: the SignatureTimeStamp over the canonical SignatureValue; its genTime.
fn signature_timestamp(
    doc: &roxmltree::Document<'_>,
    value: Node<'_, '_>,
    trust: &TrustStore,
) -> Result<SystemTime, Outcome> {
    let stamps: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| is(n, NS_XADES, "SignatureTimeStamp"))
        .collect();
    let [stamp] = stamps.as_slice() else {
        return Err(Outcome::Failed(format!(
            "{} signature time-stamps (one is required)",
            stamps.len()
        )));
    };
    let method = stamp
        .children()
        .find(|n| is(n, NS_DSIG, "CanonicalizationMethod"))
        .and_then(|n| n.attribute("Algorithm"))
        .and_then(|uri| Canonicalization::from_uri(uri, None))
        .ok_or_else(|| {
            Outcome::Failed("the time-stamp's canonicalization method is missing or unknown".into())
        })?;
    let token = stamp
        .children()
        .find(|n| is(n, NS_XADES, "EncapsulatedTimeStamp"))
        .and_then(|n| n.text())
        .ok_or_else(|| Outcome::Failed("no EncapsulatedTimeStamp".into()))
        .and_then(|t| {
            base64_decode(t).map_err(|_| Outcome::Failed("the token is not base64".into()))
        })?;
    let imprint = digest::digest(&digest::SHA256, &canonicalize(value, &method, None));
    match verify_token(
        &token,
        &Expected::digest(oid::SHA256, imprint.as_ref()),
        trust,
    ) {
        Ok(t) => Ok(t.gen_time),
        Err(e) if e.verdict() == TokenVerdict::Indeterminate => {
            Err(Outcome::Indeterminate(e.to_string()))
        }
        Err(e) => Err(Outcome::Failed(e.to_string())),
    }
}

/// Step 4: the signed SigningCertificateV2 names the certificate that verified the seal.
fn signing_certificate_v2(
    doc: &roxmltree::Document<'_>,
    signer: &[u8],
    signed_ids: &[String],
) -> Outcome {
    let Some(properties) = doc
        .descendants()
        .find(|n| is(n, NS_XADES, "SignedProperties"))
    else {
        return Outcome::Failed("no SignedProperties".into());
    };
    if !properties
        .attribute("Id")
        .is_some_and(|id| signed_ids.iter().any(|s| s == id))
    {
        return Outcome::Failed("the SignedProperties are not covered by the seal".into());
    }
    let certs: Vec<Node<'_, '_>> = properties
        .descendants()
        .filter(|n| is(n, NS_XADES, "Cert"))
        .collect();
    let [cert] = certs.as_slice() else {
        return Outcome::Failed("SigningCertificateV2 must name exactly one certificate".into());
    };
    let digest_value = cert
        .descendants()
        .find(|n| is(n, NS_DSIG, "DigestValue"))
        .and_then(|n| n.text())
        .and_then(|t| base64_decode(t).ok());
    let method = cert
        .descendants()
        .find(|n| is(n, NS_DSIG, "DigestMethod"))
        .and_then(|n| n.attribute("Algorithm"));
    if method != Some("http://www.w3.org/2001/04/xmlenc#sha256")
        || digest_value.as_deref() != Some(digest::digest(&digest::SHA256, signer).as_ref())
    {
        return Outcome::Failed("CertDigest is not the SHA-256 of the seal certificate".into());
    }
    Outcome::Passed("CertDigest matches the seal certificate".into())
}

/// What the evidence proves, in English and in French.
fn statements(ev: &Evidence) -> (String, String) {
    let docs = if ev.documents.is_empty() {
        "no document".to_owned()
    } else {
        ev.documents
            .iter()
            .map(|d| format!("{} (SHA-256 {})", d.name, hex(&d.sha256)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (s, r) = (&ev.sender.subject, &ev.recipient.id);
    let at = format_date_time(ev.event_time)
        .replace('T', " ")
        .replace('Z', "");
    let reason = ev.reason.as_deref().unwrap_or("no reason given");
    let delegate = ev.recipient.delegate.as_deref().unwrap_or(r);
    let mandate_en = ev
        .recipient
        .mandate
        .as_ref()
        .map(|m| format!(" under mandate {m}"))
        .unwrap_or_default();
    let mandate_fr = ev
        .recipient
        .mandate
        .as_ref()
        .map(|m| format!(" en vertu du mandat {m}"))
        .unwrap_or_default();
    match ev.event {
        Event::SubmissionAcceptance => (
            format!("{s} handed document {docs} to Sealpost for {r} at {at} UTC."),
            format!("{s} a remis le document {docs} à Sealpost pour {r} le {at} UTC."),
        ),
        Event::SubmissionRejection => (
            format!(
                "Sealpost refused the document {docs} that {s} submitted for {r} at {at} UTC: {reason}."
            ),
            format!(
                "Sealpost a refusé le document {docs} que {s} a soumis pour {r} le {at} UTC : {reason}."
            ),
        ),
        Event::ContentConsignment => (
            format!(
                "Sealpost deposited the document {docs} from {s} into the mailbox of {r} at {at} UTC."
            ),
            format!(
                "Sealpost a déposé le document {docs} de {s} dans la boîte aux lettres de {r} le {at} UTC."
            ),
        ),
        Event::ContentConsignmentFailure => (
            format!(
                "Sealpost could not deposit the document {docs} from {s} into the mailbox of {r} at {at} UTC: {reason}."
            ),
            format!(
                "Sealpost n'a pas pu déposer le document {docs} de {s} dans la boîte aux lettres de {r} le {at} UTC : {reason}."
            ),
        ),
        Event::ContentHandover => (
            format!(
                "{delegate}{mandate_en} opened the document {docs} from {s} in the mailbox of {r} at {at} UTC."
            ),
            format!(
                "{delegate}{mandate_fr} a ouvert le document {docs} de {s} dans la boîte aux lettres de {r} le {at} UTC."
            ),
        ),
    }
}

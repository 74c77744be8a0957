//! The offline verification of an evidence, as a court runs it: numbered steps, each reported;
//! no network, no database, no server. A step that cannot be decided makes the result
//! indeterminate, never valid.

use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use der::Decode;
use roxmltree::Node;
use sealpost_tsa::asn1::oid;
use sealpost_tsa::verify::VerifiedToken;
use sealpost_tsa::{Expected, TrustStore, Verdict as TokenVerdict, verify_token};
use sealpost_xmldsig::c14n::{Canonicalization, canonicalize};
use sealpost_xmldsig::document::{DocumentError, VerifiedDocument, verify_enveloped};
use sealpost_xmldsig::dsig::{AlgorithmPolicy, NS_DSIG, base64_decode};
use sealpost_xmldsig::signed_text::signed_text;
use sealpost_xmldsig::trust::{TrustAnchors, TrustError};
use sealpost_xmldsig::wss::parse_date_time;
use sealpost_xmldsig::wss_sign::format_date_time;
use sealpost_xmldsig::{Limits, parse};
use serde::Serialize;
use x509_cert::Certificate;

use crate::long_term::NS_XADES141;
use crate::long_term::archive_imprint;
use crate::model::{Event, Evidence, hex};
use crate::provider::{CertificateName, Provider, check_seal_profile};
use crate::revocation::{SignatureMemo, Standing, Values, issuer_of, standing};
use crate::seal::{NS_XADES, stamps_agree};

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
    /// The outcome; its detail is the technical cause (the words of the libraries and
    /// standards that decided it), for an expert.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// What a failed or undecided step means, in plain words for the people who read the
    /// verdict (a clerk, a judge, a recipient); none when the step held or did not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain: Option<String>,
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
    /// The certificate whose key made the seal (when the seal verified).
    pub sealed_by: Option<CertificateName>,
    /// The provider whose identity the evidence was checked against.
    pub provider: Option<String>,
    /// Why the evidence is not valid, in plain words: those of the first failed step (or,
    /// when none failed, of the first undecided one); none when valid.
    pub finding: Option<String>,
}

const CHECKS: [&str; 11] = [
    "the file is a complete Sealpost evidence, every value in its place",
    "the seal (XML signature) covers the whole evidence",
    "the seal certificate chains to the trusted root at the time of the signature time-stamp",
    "the seal is the provider's: a published seal certificate, with the evidence seal profile",
    "SigningCertificateV2 names the seal certificate",
    "the signature time-stamp covers the SignatureValue and comes from the provider's time-stamping unit",
    "each document time-stamp covers the document's SHA-256 and comes from the provider's time-stamping unit",
    "the times the evidence states agree with its time-stamps",
    "the given document's SHA-256 is a document digest of the evidence",
    "the seal's and the time-stamps' certificates were not revoked when they were used (the revocation data the evidence carries)",
    "the time-stamps still prove their time on the date of verification (each one's certificate valid until the next archive time-stamp, the last one's on that date)",
];

/// How long before its signature time-stamp an event may have happened (the time Sealpost
/// takes to build, seal and time-stamp an evidence), and how far a document time-stamp may be
/// from the submission time, beyond the time-stamps' stated accuracy.
pub const TIME_TOLERANCE: Duration = Duration::from_secs(300);
/// The evidence writes its times in whole seconds: an event time stands for its whole second.
const SECOND: Duration = Duration::from_secs(1);

/// What a court trusts: the roots, and the provider whose seal it expects.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The trusted roots, DER.
    pub anchors: Vec<Vec<u8>>,
    /// The provider's published identity. Without it, who sealed cannot be decided and no
    /// evidence is valid.
    pub provider: Option<Provider>,
}

/// Verifies `xml` under `policy`; `document` is the file a court holds, `now` the time it
/// verifies at (see [`EvidenceVerifier::verify`]).
/// To verify many evidences, keep one [`EvidenceVerifier`].
pub fn verify_evidence(
    xml: &[u8],
    policy: &Policy,
    document: Option<&[u8]>,
    now: SystemTime,
) -> Report {
    EvidenceVerifier::new(policy.clone()).verify(xml, document, now)
}

/// The verification procedure under a fixed policy. It remembers the certificate paths
/// it has validated (the seal's, the TSA's) with the window in which they hold, so an
/// auditor's sweep over many evidences validates each path once; every signature and every
/// time is still checked for each evidence.
#[derive(Clone, Debug)]
pub struct EvidenceVerifier {
    anchors: Vec<Vec<u8>>,
    /// The CRL and certificate signatures already checked (step 10).
    memo: SignatureMemo,
    trust_store: TrustStore,
    trust_anchors: TrustAnchors,
    provider: Option<Provider>,
    /// Whether each published seal certificate has the seal profile (checked once).
    seal_profiles: Vec<Result<(), String>>,
}

impl EvidenceVerifier {
    pub fn new(policy: Policy) -> Self {
        EvidenceVerifier {
            anchors: policy.anchors.clone(),
            memo: SignatureMemo::default(),
            trust_store: TrustStore::new(policy.anchors.iter().cloned()),
            trust_anchors: TrustAnchors::new(policy.anchors),
            seal_profiles: policy
                .provider
                .iter()
                .flat_map(|p| p.seal_certificates.iter())
                .map(|c| check_seal_profile(c))
                .collect(),
            provider: policy.provider,
        }
    }

    /// Verifies `xml`; `document` is the file a court holds. `now` is the time of the
    /// verification: the seal certificate is judged at it only when the evidence carries no
    /// trusted time (no signature time-stamp), which never makes an evidence valid.
    pub fn verify(&self, xml: &[u8], document: Option<&[u8]>, now: SystemTime) -> Report {
        verify_with(xml, self, document, now)
    }
}

/// Why a time-stamp step failed: the token does not cover what it must (or is broken), or
/// it is sound but from a unit the provider does not publish.
#[derive(Clone, Copy, Default)]
struct StampCause {
    signature_not_the_unit: bool,
    document_not_the_unit: bool,
    document_unstamped: bool,
}

/// What step `number`'s outcome means, in plain words (none when it held or did not apply).
fn plain_words(
    number: u8,
    outcome: &Outcome,
    provider: Option<&str>,
    cause: StampCause,
) -> Option<String> {
    let failed = match outcome {
        Outcome::Failed(_) => true,
        Outcome::Indeterminate(_) => false,
        Outcome::Passed(_) | Outcome::NotApplicable(_) => return None,
    };
    let provider = provider.unwrap_or("the provider");
    let words = match (number, failed) {
        (1, true) => "this file is not a Sealpost evidence as Sealpost writes it: it was altered, or made by someone else".into(),
        (1, false) => "this file is not a Sealpost evidence this verifier can read (another kind of document, or another version of the format)".into(),
        (2, true) => "the evidence was changed after it was sealed: the seal does not match its content".into(),
        (2, false) => "the seal could not be checked".into(),
        (3, true) => "the seal's certificate was not valid when the evidence was sealed".into(),
        (3, false) => "the seal's certificate does not lead to the root certificate given (--trust): check that it is the provider's root".into(),
        (4, true) => format!("this seal is not Sealpost's: {provider} does not publish the certificate that made it"),
        (4, false) => "who sealed it is not decided: give the provider's published identity (--provider trusted-list.xml)".into(),
        (5, _) => "the seal names another certificate than the one that made it".into(),
        (6, true) if cause.signature_not_the_unit => format!("the time-stamp on the seal is not from {provider}'s time-stamping unit"),
        (6, true) => "the time-stamp does not match the seal".into(),
        (6, false) => "the time-stamp on the seal could not be checked against the root certificate given".into(),
        (7, true) if cause.document_not_the_unit => format!("a document's time-stamp is not from {provider}'s time-stamping unit"),
        (7, true) if cause.document_unstamped => "a document of the evidence has no time-stamp".into(),
        (7, true) => "the time-stamp does not match the document it is for".into(),
        (7, false) => "a document's time-stamp could not be checked against the root certificate given".into(),
        (8, true) => "the dates in the evidence do not agree with its time-stamps (it may have been backdated)".into(),
        (8, false) => "the dates in the evidence could not be compared with a verified time-stamp".into(),
        (9, _) => "this document is not the one that was sent".into(),
        (10, true) => "a certificate of the seal or of its time-stamps was revoked before the evidence was sealed or stamped: the seal proves nothing".into(),
        (10, false) => "the evidence does not carry what is needed to decide whether the seal's certificate was revoked when it sealed (it is not a long-term evidence, or its revocation data is incomplete)".into(),
        (11, true) => "an archive time-stamp does not match the evidence it renews (it was altered after it was archived), or is not from the provider's time-stamping unit".into(),
        (11, false) => "on the date of verification, the time-stamps do not prove when the evidence was sealed: a time-stamp's certificate expired or was revoked before an archive time-stamp renewed it, or the date is before the seal".into(),
        _ => "this check could not be completed".into(),
    };
    Some(words)
}

fn finish(report: Report, outcomes: Vec<Option<Outcome>>) -> Report {
    finish_with(report, outcomes, StampCause::default())
}

fn finish_with(mut report: Report, outcomes: Vec<Option<Outcome>>, cause: StampCause) -> Report {
    let provider = report.provider.clone();
    report.steps = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let number = u8::try_from(i + 1).unwrap_or(0);
            let outcome = o.unwrap_or_else(|| Outcome::Indeterminate("not evaluated".into()));
            Step {
                number,
                check: CHECKS[i],
                plain: plain_words(number, &outcome, provider.as_deref(), cause),
                outcome,
            }
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
    report.finding = report
        .steps
        .iter()
        .find(|s| matches!(s.outcome, Outcome::Failed(_)))
        .or_else(|| {
            report
                .steps
                .iter()
                .find(|s| matches!(s.outcome, Outcome::Indeterminate(_)))
        })
        .and_then(|s| s.plain.clone());
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
}

fn verify_with(
    xml: &[u8],
    verifier: &EvidenceVerifier,
    document: Option<&[u8]>,
    now: SystemTime,
) -> Report {
    let (trust_store, trust_anchors) = (&verifier.trust_store, &verifier.trust_anchors);
    let provider = verifier.provider.as_ref();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; CHECKS.len()];
    let mut report = Report {
        verdict: Verdict::Indeterminate,
        steps: Vec::new(),
        proves_en: None,
        proves_fr: None,
        evidence_id: None,
        event: None,
        sealed_at: None,
        sealed_by: None,
        provider: provider.map(|p| p.name.clone()),
        finding: None,
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
    let evidence = match crate::model::read(doc.root_element()) {
        Ok(ev) => {
            outcomes[0] = Some(Outcome::Passed(format!("{} {}", ev.event.name(), ev.id)));
            report.evidence_id = Some(ev.id.clone());
            report.event = Some(ev.event.uri());
            Some(ev)
        }
        // A document that claims to be an evidence and breaks its schema is not a Sealpost
        // evidence altered harmlessly: a comment or a processing instruction inside a value,
        // an element added or moved are alterations (the seal's canonical form may not see
        // them). Another signed document is simply not an evidence.
        // Another version of the format is not decided here (a newer or older verifier
        // reads it): indeterminate, never "forged".
        Err(e)
            if is(&doc.root_element(), crate::model::NS, "Evidence")
                && !matches!(doc.root_element().attribute("Version"), Some("2" | "3")) =>
        {
            outcomes[0] = Some(Outcome::Indeterminate(format!(
                "evidence format version {:?} is not one this verifier reads (2, 3): {e}",
                doc.root_element().attribute("Version").unwrap_or("none")
            )));
            return finish(report, outcomes);
        }
        Err(e) if is(&doc.root_element(), crate::model::NS, "Evidence") => {
            outcomes[0] = Some(Outcome::Failed(format!("a malformed evidence: {e}")));
            return finish(report, outcomes);
        }
        Err(e) => {
            outcomes[0] = Some(Outcome::Indeterminate(format!(
                "not a Sealpost evidence: {e}"
            )));
            None
        }
    };

    // The seal's parts, each found at its one place: what lies elsewhere is not read.
    let xades = evidence.as_ref().map(|_| seal_parts(&doc));

    // Step 6 first: the signature time-stamp gives the time the seal is judged at.
    let mut counter_stamp: Option<VerifiedToken> = None;
    let signature_stamp = match &xades {
        None => {
            outcomes[5] = Some(Outcome::NotApplicable("not a Sealpost evidence".into()));
            None
        }
        Some(Err(e)) => {
            outcomes[5] = Some(Outcome::Failed(e.clone()));
            None
        }
        Some(Ok(parts)) => {
            match signature_timestamp(parts, parts.signature_time_stamp, trust_store) {
                Ok(token) => {
                    outcomes[5] = Some(from_provider_tsa(
                        provider,
                        &token,
                        format!("time-stamped at {} UTC", format_date_time(token.gen_time)),
                    ));
                    // The independent TSA's counter-stamp: as sound, and from a published unit.
                    if let Some(stamp) = parts.counter_stamp {
                        match signature_timestamp(parts, stamp, trust_store) {
                            Ok(counter) => {
                                let outcome = from_provider_tsa(
                                    provider,
                                    &counter,
                                    format!(
                                        "time-stamped at {} UTC, counter-stamped at {} UTC",
                                        format_date_time(token.gen_time),
                                        format_date_time(counter.gen_time)
                                    ),
                                );
                                if matches!(outcomes[5], Some(Outcome::Passed(_))) {
                                    outcomes[5] = Some(outcome.named("the counter-stamp"));
                                }
                                counter_stamp = Some(counter);
                            }
                            Err(o) => {
                                if !matches!(outcomes[5], Some(Outcome::Failed(_))) {
                                    outcomes[5] = Some(o.named("the counter-stamp"));
                                }
                            }
                        }
                    }
                    Some(token)
                }
                Err(o) => {
                    outcomes[5] = Some(o);
                    None
                }
            }
        }
    };
    let sealed_at = signature_stamp.as_ref().map(|t| t.gen_time);
    report.sealed_at = sealed_at.map(format_date_time);

    // Steps 2 and 3: the seal and its certificate, at the time-stamp's time.
    let at = sealed_at.unwrap_or(now);
    let mut signer = None;
    match verify_enveloped(&doc, AlgorithmPolicy::default(), trust_anchors, at) {
        Ok(verified) => {
            outcomes[1] = Some(match &xades {
                Some(Err(e)) => Outcome::Failed(e.clone()),
                _ => Outcome::Passed("the signature and both references verify".into()),
            });
            outcomes[2] = Some(if sealed_at.is_some() || evidence.is_none() {
                Outcome::Passed(format!("at {} UTC", format_date_time(at)))
            } else {
                Outcome::Indeterminate("no trusted time to judge the certificate at".into())
            });
            report.sealed_by = Some(CertificateName::of(&verified.signer));
            signer = Some(verified);
        }
        Err(DocumentError::Untrusted(e)) => {
            outcomes[1] = Some(match &xades {
                Some(Err(e)) => Outcome::Failed(e.clone()),
                _ => Outcome::Passed("the signature verifies".into()),
            });
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
            if outcome.is_none() {
                *outcome = Some(Outcome::NotApplicable("not a Sealpost evidence".into()));
            }
        }
        return finish(report, outcomes);
    };

    // Step 4.
    outcomes[3] = Some(provider_seal(
        &doc,
        verifier,
        signer.as_ref().zip(report.sealed_by.as_ref()),
    ));

    // Step 5.
    outcomes[4] = Some(match &signer {
        Some(verified) => match &xades {
            Some(Ok(parts)) => signing_certificate_v2(
                parts.signed_properties,
                &verified.signer,
                &verified.signed_object_ids,
            ),
            _ => Outcome::Failed("the seal is not a Sealpost XAdES signature".into()),
        },
        None => Outcome::Indeterminate("the seal did not verify".into()),
    });

    // Step 7.
    let mut document_stamps = Vec::new();
    let mut token_problems = Vec::new();
    let mut unstamped = Vec::new();
    for d in &evidence.documents {
        let Some(token_der) = &d.time_stamp_token else {
            unstamped.push(d.name.clone());
            continue;
        };
        let expected = Expected::digest(oid::SHA256, d.sha256.as_bytes());
        match verify_token(token_der, &expected, trust_store) {
            Ok(token) => document_stamps.push((d.name.clone(), token)),
            Err(e) => token_problems.push((d.name.clone(), e)),
        }
    }
    let rejection = evidence.event == Event::SubmissionRejection;
    outcomes[6] = Some(if evidence.documents.is_empty() {
        Outcome::NotApplicable("the evidence names no document".into())
    } else if let (Some(name), false) = (unstamped.first(), rejection) {
        Outcome::Failed(format!(
            "{}: no time-stamp (only a SubmissionRejection names documents without one)",
            shown(name)
        ))
    } else if document_stamps.is_empty() && token_problems.is_empty() {
        Outcome::NotApplicable(
            "a SubmissionRejection names the refused documents without time-stamping them".into(),
        )
    } else if let Some((name, e)) = token_problems
        .iter()
        .find(|(_, e)| e.verdict() == TokenVerdict::Invalid)
    {
        Outcome::Failed(format!("{name}: {e}"))
    } else if let Some((name, e)) = token_problems.first() {
        Outcome::Indeterminate(format!("{name}: {e}"))
    } else {
        document_stamps
            .iter()
            .map(|(name, token)| from_provider_tsa(provider, token, String::new()).named(name))
            .find(|o| !matches!(o, Outcome::Passed(_)))
            .unwrap_or_else(|| {
                Outcome::Passed(format!(
                    "{} token(s), by the provider's time-stamping unit",
                    document_stamps.len()
                ))
            })
    });

    // Step 8.
    outcomes[7] = Some(times_agree(
        xades.as_ref().and_then(|x| x.as_ref().ok()),
        &evidence,
        signature_stamp.as_ref(),
        counter_stamp.as_ref(),
        &document_stamps,
        signer.as_ref().map(|v| v.signer.as_slice()),
    ));

    // Step 9.
    outcomes[8] = Some(match document {
        None => Outcome::NotApplicable("no document given (--document)".into()),
        Some(bytes) => {
            let sha = digest::digest(&digest::SHA256, bytes);
            match evidence
                .documents
                .iter()
                .find(|d| d.sha256.as_bytes() == sha.as_ref())
            {
                Some(d) => Outcome::Passed(format!("it is {} (SHA-256 {})", d.name, d.sha256)),
                None => Outcome::Failed(format!(
                    "its SHA-256 {} is not in the evidence",
                    hex(sha.as_ref())
                )),
            }
        }
    });

    // Steps 10 and 11: the long-term checks, with what the evidence carries alone.
    let parts = xades.as_ref().and_then(|x| x.as_ref().ok());
    let values = parts
        .map(|p| read_validation_values(p, &verifier.memo))
        .transpose();
    let archive_stamps: Vec<Result<VerifiedToken, Outcome>> = parts
        .map(|p| {
            p.archive_time_stamps
                .iter()
                .map(|stamp| archive_token(&doc, p, *stamp, trust_store, provider))
                .collect()
        })
        .unwrap_or_default();
    match values {
        // Validation data that does not read is in the seal's structure, where nothing the
        // seal does not cover may be other than Sealpost writes it (step 2); it decides
        // nothing of revocation or time.
        Err(e) => {
            if matches!(outcomes[1], Some(Outcome::Passed(_))) {
                outcomes[1] = Some(Outcome::Failed(format!(
                    "the seal's validation data does not read: {e}"
                )));
            }
            outcomes[9] = Some(Outcome::Indeterminate(e.clone()));
            outcomes[10] = Some(Outcome::Indeterminate(e));
        }
        Ok(values) => {
            let values = values.unwrap_or_default();
            outcomes[9] = Some(not_revoked_when_used(
                &values,
                &verifier.anchors,
                signer.as_ref(),
                signature_stamp.as_ref(),
                counter_stamp.as_ref(),
                &document_stamps,
                &archive_stamps,
            ));
            outcomes[10] = Some(time_still_proven(
                &values,
                &verifier.anchors,
                signature_stamp.as_ref(),
                &archive_stamps,
                now,
            ));
        }
    }

    let cause = StampCause {
        signature_not_the_unit: signature_stamp.is_some()
            && matches!(outcomes[5], Some(Outcome::Failed(_))),
        document_unstamped: !rejection && !unstamped.is_empty(),
        document_not_the_unit: unstamped.is_empty()
            && token_problems.is_empty()
            && matches!(outcomes[6], Some(Outcome::Failed(_))),
    };
    let (en, fr) = statements(&evidence);
    report.proves_en = Some(en);
    report.proves_fr = Some(fr);
    finish_with(report, outcomes, cause)
}

impl Outcome {
    /// The same outcome, its detail prefixed with what it is about.
    fn named(self, name: &str) -> Outcome {
        match self {
            Outcome::Passed(d) => Outcome::Passed(d),
            Outcome::Failed(d) => Outcome::Failed(format!("{name}: {d}")),
            Outcome::Indeterminate(d) => Outcome::Indeterminate(format!("{name}: {d}")),
            Outcome::NotApplicable(d) => Outcome::NotApplicable(d),
        }
    }
}

/// A verified time-stamp token is the provider's when its signer is a published
/// time-stamping unit certificate.
fn from_provider_tsa(
    provider: Option<&Provider>,
    token: &VerifiedToken,
    passed: String,
) -> Outcome {
    let Some(provider) = provider else {
        return Outcome::Indeterminate(
            "no provider identity given: the time-stamping unit is not decided".into(),
        );
    };
    match token.path.first() {
        Some(tsa) if provider.is_tsa(tsa) => Outcome::Passed(passed),
        Some(tsa) => {
            let named = CertificateName::of(tsa);
            Outcome::Failed(format!(
                "time-stamped by {} (SHA-256 {}), not a time-stamping unit of {}",
                named.subject, named.sha256, provider.name
            ))
        }
        None => Outcome::Failed("the time-stamp names no signer".into()),
    }
}

/// Step 4: the certificate that verified the seal is one the provider publishes as its
/// evidence seal, and has the seal profile.
fn provider_seal(
    doc: &roxmltree::Document<'_>,
    verifier: &EvidenceVerifier,
    verified: Option<(&VerifiedDocument, &CertificateName)>,
) -> Outcome {
    let Some(provider) = verifier.provider.as_ref() else {
        return Outcome::Indeterminate(
            "no provider identity given (--provider): who sealed is not decided".into(),
        );
    };
    let Some(verified) = verified else {
        // The seal did not verify or did not chain: if none of its certificates is the
        // provider's, it is not the provider's seal whatever else holds.
        let key_info_certificates: Vec<Vec<u8>> = doc
            .descendants()
            .filter(|n| is(n, NS_DSIG, "X509Certificate"))
            .filter_map(|n| signed_text(n).ok().and_then(|t| base64_decode(&t).ok()))
            .collect();
        return if key_info_certificates.iter().any(|c| provider.is_seal(c)) {
            Outcome::Indeterminate("the seal did not verify".into())
        } else {
            Outcome::Failed(format!(
                "none of the seal's certificates is a seal certificate of {}",
                provider.name
            ))
        };
    };
    let (verified, named) = verified;
    let Some(listed) = provider
        .seal_certificates
        .iter()
        .position(|c| *c == verified.signer)
    else {
        return Outcome::Failed(format!(
            "sealed by {} (SHA-256 {}), which is not a seal certificate of {}",
            named.subject, named.sha256, provider.name
        ));
    };
    match &verifier.seal_profiles[listed] {
        Ok(()) => Outcome::Passed(format!(
            "sealed by {} of {} (SHA-256 {})",
            named.subject, provider.name, named.sha256
        )),
        Err(e) => Outcome::Failed(e.clone()),
    }
}

/// Step 8: every time the evidence states agrees with its time-stamps. With T the signature
/// time-stamp's genTime and its accuracy a, and the tolerance [`TIME_TOLERANCE`]:
/// - EventTime and the XAdES SigningTime lie in [T - tolerance - a, T + a] (an evidence is
///   sealed when its event happens: never before it, never long after);
/// - SubmissionTime is not after EventTime, and for a submission's own evidences
///   (SubmissionAcceptance, SubmissionRejection) within the tolerance of it;
/// - each document time-stamp is at SubmissionTime (within the tolerance and its accuracy),
///   and not after the signature time-stamp;
/// - EventTime lies within the seal certificate's validity.
fn times_agree(
    parts: Option<&SealParts<'_, '_>>,
    evidence: &Evidence,
    signature_stamp: Option<&VerifiedToken>,
    counter_stamp: Option<&VerifiedToken>,
    document_stamps: &[(String, VerifiedToken)],
    seal_certificate: Option<&[u8]>,
) -> Outcome {
    let (Some(stamp), Some(parts)) = (signature_stamp, parts) else {
        return Outcome::Indeterminate("no verified signature time-stamp to compare with".into());
    };
    let t = stamp.gen_time;
    let a = stamp.accuracy.unwrap_or_default();
    let show = |time: SystemTime| format_date_time(time);
    let within_seal = |name: &str, time: SystemTime| -> Result<(), String> {
        // A time written in whole seconds stands for its whole second.
        if time > t + a {
            return Err(format!(
                "{name} {} is after the signature time-stamp {}",
                show(time),
                show(t)
            ));
        }
        if time + SECOND + TIME_TOLERANCE + a < t {
            return Err(format!(
                "{name} {} is more than {} s before the signature time-stamp {}",
                show(time),
                TIME_TOLERANCE.as_secs(),
                show(t)
            ));
        }
        Ok(())
    };
    let check = || -> Result<(), String> {
        if let Some(counter) = counter_stamp {
            stamps_agree(
                (stamp.gen_time, stamp.accuracy),
                (counter.gen_time, counter.accuracy),
            )?;
        }
        within_seal("EventTime", evidence.event_time)?;
        let signing_time = signed_text(parts.signing_time)
            .map_err(|_| "SigningTime is not text")
            .and_then(|t| parse_date_time(&t).map_err(|_| "SigningTime is not a date-time"))?;
        within_seal("SigningTime", signing_time)?;
        if evidence.submission_time > evidence.event_time {
            return Err(format!(
                "SubmissionTime {} is after EventTime {}",
                show(evidence.submission_time),
                show(evidence.event_time)
            ));
        }
        let at_submission = matches!(
            evidence.event,
            Event::SubmissionAcceptance | Event::SubmissionRejection
        );
        if at_submission && evidence.submission_time + TIME_TOLERANCE < evidence.event_time {
            return Err(format!(
                "SubmissionTime {} is more than {} s before EventTime {} of a {}",
                show(evidence.submission_time),
                TIME_TOLERANCE.as_secs(),
                show(evidence.event_time),
                evidence.event.name()
            ));
        }
        for (name, token) in document_stamps {
            let d = token.gen_time;
            let da = token.accuracy.unwrap_or_default();
            if d + SECOND + TIME_TOLERANCE + da < evidence.submission_time
                || d > evidence.submission_time + SECOND + TIME_TOLERANCE + da
            {
                return Err(format!(
                    "the time-stamp of {name} ({}) is not at SubmissionTime {}",
                    show(d),
                    show(evidence.submission_time)
                ));
            }
            if d > t + a + da {
                return Err(format!(
                    "the time-stamp of {name} ({}) is after the signature time-stamp {}",
                    show(d),
                    show(t)
                ));
            }
        }
        if let Some(cert) = seal_certificate {
            let cert = Certificate::from_der(cert).map_err(|e| e.to_string())?;
            let validity = &cert.tbs_certificate.validity;
            let (from, until) = (
                validity.not_before.to_system_time(),
                validity.not_after.to_system_time(),
            );
            if evidence.event_time + SECOND <= from || evidence.event_time > until {
                return Err(format!(
                    "EventTime {} is outside the seal certificate's validity ({} to {})",
                    show(evidence.event_time),
                    show(from),
                    show(until)
                ));
            }
        }
        Ok(())
    };
    match check() {
        Ok(()) => Outcome::Passed(format!(
            "EventTime {}, SubmissionTime {}, signature time-stamp {} (tolerance {} s)",
            show(evidence.event_time),
            show(evidence.submission_time),
            show(t),
            TIME_TOLERANCE.as_secs()
        )),
        Err(e) => Outcome::Failed(e),
    }
}

fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

/// The parts of a Sealpost seal, each at its one place in the enveloped ds:Signature (the
/// last child of the evidence): SignedInfo, SignatureValue, KeyInfo with X509Data
/// certificates only, and one ds:Object holding one xades:QualifyingProperties (targeting the
/// signature) with the SignedProperties (SigningTime, SigningCertificateV2) and the
/// UnsignedProperties: one SignatureTimeStamp, then the long-term properties in their order
/// ([`crate::long_term`]): optional CertificateValues and RevocationValues, then any number of
/// ArchiveTimeStamp, each optionally preceded or followed by TimeStampValidationData.
/// Anything else inside the signature (a second Object, a look-alike evidence field, another
/// time-stamp) is refused: the enveloped signature does not cover it, so nothing may be read
/// from there.
pub(crate) struct SealParts<'a, 'i> {
    pub(crate) signature: Node<'a, 'i>,
    pub(crate) signed_info: Node<'a, 'i>,
    pub(crate) signature_value: Node<'a, 'i>,
    pub(crate) key_info: Node<'a, 'i>,
    pub(crate) signed_properties: Node<'a, 'i>,
    pub(crate) signing_time: Node<'a, 'i>,
    pub(crate) signature_time_stamp: Node<'a, 'i>,
    /// A second SignatureTimeStamp, by an independent TSA, when the provider has one.
    pub(crate) counter_stamp: Option<Node<'a, 'i>>,
    pub(crate) unsigned: Node<'a, 'i>,
    /// CertificateValues and RevocationValues elements, wherever they are (B-LT's, and those
    /// of each TimeStampValidationData).
    pub(crate) validation_values: Vec<Node<'a, 'i>>,
    /// The ArchiveTimeStamp elements, in order.
    pub(crate) archive_time_stamps: Vec<Node<'a, 'i>>,
}

impl SealParts<'_, '_> {
    /// The token of the last time-stamp (the last archive time-stamp, or the signature
    /// time-stamp), unverified.
    pub(crate) fn last_time_stamp_token(&self) -> Result<Vec<u8>, String> {
        let stamp = self
            .archive_time_stamps
            .last()
            .copied()
            .unwrap_or(self.signature_time_stamp);
        encapsulated_token(stamp).map_err(|o| match o {
            Outcome::Failed(d) | Outcome::Indeterminate(d) => d,
            Outcome::Passed(d) | Outcome::NotApplicable(d) => d,
        })
    }
}

pub(crate) fn seal_parts<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
) -> Result<SealParts<'a, 'i>, String> {
    let bad = |what: &str| format!("the seal is not a Sealpost XAdES signature: {what}");
    let elements = |n: Node<'a, 'i>| n.children().filter(Node::is_element).collect::<Vec<_>>();
    let only = |n: Node<'a, 'i>, names: &[(&str, &str)]| -> Result<Vec<Node<'a, 'i>>, String> {
        let children = elements(n);
        let fits = children.len() == names.len()
            && children
                .iter()
                .zip(names)
                .all(|(c, (ns, name))| is(c, ns, name));
        if fits {
            Ok(children)
        } else {
            Err(bad(&format!(
                "{} must hold {}",
                n.tag_name().name(),
                names.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let signature = elements(doc.root_element())
        .last()
        .copied()
        .filter(|n| is(n, NS_DSIG, "Signature"))
        .ok_or_else(|| bad("no ds:Signature at the end of the evidence"))?;
    let parts = only(
        signature,
        &[
            (NS_DSIG, "SignedInfo"),
            (NS_DSIG, "SignatureValue"),
            (NS_DSIG, "KeyInfo"),
            (NS_DSIG, "Object"),
        ],
    )?;
    let x509_data = only(parts[2], &[(NS_DSIG, "X509Data")])?;
    let certificates = elements(x509_data[0]);
    if certificates.is_empty()
        || !certificates
            .iter()
            .all(|c| is(c, NS_DSIG, "X509Certificate") && elements(*c).is_empty())
    {
        return Err(bad("X509Data must hold X509Certificate elements only"));
    }
    let qualifying = only(parts[3], &[(NS_XADES, "QualifyingProperties")])?[0];
    let target = signature.attribute("Id").map(|id| format!("#{id}"));
    if target.is_none() || qualifying.attribute("Target") != target.as_deref() {
        return Err(bad("the QualifyingProperties do not target the signature"));
    }
    let properties = only(
        qualifying,
        &[
            (NS_XADES, "SignedProperties"),
            (NS_XADES, "UnsignedProperties"),
        ],
    )?;
    let signed = only(properties[0], &[(NS_XADES, "SignedSignatureProperties")])?[0];
    let signed = only(
        signed,
        &[
            (NS_XADES, "SigningTime"),
            (NS_XADES, "SigningCertificateV2"),
        ],
    )?;
    let unsigned = only(properties[1], &[(NS_XADES, "UnsignedSignatureProperties")])?[0];
    let time_stamp = |stamp: Node<'a, 'i>| {
        only(
            stamp,
            &[
                (NS_DSIG, "CanonicalizationMethod"),
                (NS_XADES, "EncapsulatedTimeStamp"),
            ],
        )
    };
    // Each Encapsulated* value holds text only.
    let values = |n: Node<'a, 'i>, name: &str| -> Result<(), String> {
        let children = elements(n);
        if children.is_empty()
            || !children
                .iter()
                .all(|c| is(c, NS_XADES, name) && elements(*c).is_empty())
        {
            return Err(bad(&format!(
                "{} must hold {name} elements only",
                n.tag_name().name()
            )));
        }
        Ok(())
    };
    let certificate_values = |n: Node<'a, 'i>| values(n, "EncapsulatedX509Certificate");
    let revocation_values = |n: Node<'a, 'i>| -> Result<(), String> {
        let children = elements(n);
        let names: Vec<&str> = children.iter().map(|c| c.tag_name().name()).collect();
        if !matches!(
            names.as_slice(),
            ["CRLValues"] | ["OCSPValues"] | ["CRLValues", "OCSPValues"]
        ) || !children
            .iter()
            .all(|c| c.tag_name().namespace() == Some(NS_XADES))
        {
            return Err(bad("RevocationValues must hold CRLValues, then OCSPValues"));
        }
        for c in children {
            match c.tag_name().name() {
                "CRLValues" => values(c, "EncapsulatedCRLValue")?,
                _ => values(c, "EncapsulatedOCSPValue")?,
            }
        }
        Ok(())
    };
    let children = elements(unsigned);
    let (first, rest) = children
        .split_first()
        .filter(|(first, _)| is(first, NS_XADES, "SignatureTimeStamp"))
        .ok_or_else(|| bad("UnsignedSignatureProperties must begin with SignatureTimeStamp"))?;
    time_stamp(*first)?;
    let mut rest = rest.iter().copied().peekable();
    let counter_stamp = rest.next_if(|n| is(n, NS_XADES, "SignatureTimeStamp"));
    if let Some(n) = counter_stamp {
        time_stamp(n)?;
    }
    let mut validation_values = Vec::new();
    if let Some(n) = rest.next_if(|n| is(n, NS_XADES, "CertificateValues")) {
        certificate_values(n)?;
        validation_values.push(n);
    }
    if let Some(n) = rest.next_if(|n| is(n, NS_XADES, "RevocationValues")) {
        revocation_values(n)?;
        validation_values.push(n);
    }
    let mut archive_time_stamps = Vec::new();
    for n in rest {
        if is(&n, NS_XADES141, "ArchiveTimeStamp") {
            time_stamp(n)?;
            archive_time_stamps.push(n);
        } else if is(&n, NS_XADES141, "TimeStampValidationData") {
            let inner = elements(n);
            let names: Vec<&str> = inner.iter().map(|c| c.tag_name().name()).collect();
            if !matches!(
                names.as_slice(),
                ["CertificateValues"]
                    | ["RevocationValues"]
                    | ["CertificateValues", "RevocationValues"]
            ) || !inner
                .iter()
                .all(|c| c.tag_name().namespace() == Some(NS_XADES))
            {
                return Err(bad(
                    "TimeStampValidationData must hold CertificateValues, then RevocationValues",
                ));
            }
            for c in inner {
                match c.tag_name().name() {
                    "CertificateValues" => certificate_values(c)?,
                    _ => revocation_values(c)?,
                }
                validation_values.push(c);
            }
        } else {
            return Err(bad(&format!(
                "UnsignedSignatureProperties holds an unexpected {}",
                n.tag_name().name()
            )));
        }
    }
    Ok(SealParts {
        signature,
        signed_info: parts[0],
        signature_value: parts[1],
        key_info: parts[2],
        signed_properties: properties[0],
        signing_time: signed[0],
        signature_time_stamp: *first,
        counter_stamp,
        unsigned,
        validation_values,
        archive_time_stamps,
    })
}

/// The DER token of a SignatureTimeStamp or ArchiveTimeStamp element.
fn encapsulated_token(stamp: Node<'_, '_>) -> Result<Vec<u8>, Outcome> {
    stamp
        .children()
        .find(|n| is(n, NS_XADES, "EncapsulatedTimeStamp"))
        .ok_or_else(|| Outcome::Failed("no EncapsulatedTimeStamp".into()))
        .and_then(|n| {
            signed_text(n)
                .map_err(|e| Outcome::Failed(e.to_string()))
                .and_then(|t| {
                    base64_decode(&t).map_err(|_| Outcome::Failed("the token is not base64".into()))
                })
        })
}

/// The canonicalization method a time-stamp element names.
fn stamp_method(stamp: Node<'_, '_>) -> Result<Canonicalization, Outcome> {
    stamp
        .children()
        .find(|n| is(n, NS_DSIG, "CanonicalizationMethod"))
        .and_then(|n| n.attribute("Algorithm"))
        .and_then(|uri| Canonicalization::from_uri(uri, None))
        .ok_or_else(|| {
            Outcome::Failed("the time-stamp's canonicalization method is missing or unknown".into())
        })
}

/// Step 6: a SignatureTimeStamp over the canonical SignatureValue; its genTime.
fn signature_timestamp(
    parts: &SealParts<'_, '_>,
    stamp: Node<'_, '_>,
    trust: &TrustStore,
) -> Result<VerifiedToken, Outcome> {
    let value = parts.signature_value;
    let method = stamp_method(stamp)?;
    let token = encapsulated_token(stamp)?;
    let imprint = digest::digest(&digest::SHA256, &canonicalize(value, &method, None));
    checked_token(&token, imprint.as_ref(), trust)
}

/// A time-stamp token verified for a SHA-256 imprint, the failure an outcome.
fn checked_token(
    token: &[u8],
    imprint: &[u8],
    trust: &TrustStore,
) -> Result<VerifiedToken, Outcome> {
    match verify_token(token, &Expected::digest(oid::SHA256, imprint), trust) {
        Ok(t) => Ok(t),
        Err(e) if e.verdict() == TokenVerdict::Indeterminate => {
            Err(Outcome::Indeterminate(e.to_string()))
        }
        Err(e) => Err(Outcome::Failed(e.to_string())),
    }
}

/// Step 5: the signed SigningCertificateV2 names the certificate that verified the seal.
fn signing_certificate_v2(
    properties: Node<'_, '_>,
    signer: &[u8],
    signed_ids: &[String],
) -> Outcome {
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
        .and_then(|n| signed_text(n).ok())
        .and_then(|t| base64_decode(&t).ok());
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

/// A value as the statement shows it: a control character or a bidirectional formatting
/// character (which could start a new line or reorder what a reader sees, making a value look
/// like the statement's own words) is written as `\u{...}`.
pub(crate) fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if sealpost_model::is_deceptive_char(c) {
                format!("\\u{{{:04X}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What the evidence proves, in English and in French. Every value from the evidence is
/// [`shown`], and names are quoted.
fn statements(ev: &Evidence) -> (String, String) {
    let docs = if ev.documents.is_empty() {
        "no document".to_owned()
    } else {
        ev.documents
            .iter()
            .map(|d| format!("\"{}\" (SHA-256 {})", shown(&d.name), d.sha256))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let r = &shown(&ev.recipient.id);
    // The sender, and the agent who acted for it when its identity provider vouched for one.
    let (s, sf) = match &ev.sender.agent {
        Some(a) => (
            &format!(
                "{} (agent {}, vouched for by {})",
                shown(&ev.sender.subject),
                shown(&a.id),
                shown(&a.identity_provider)
            ),
            &format!(
                "{} (agent {}, attesté par {})",
                shown(&ev.sender.subject),
                shown(&a.id),
                shown(&a.identity_provider)
            ),
        ),
        None => (&shown(&ev.sender.subject), &shown(&ev.sender.subject)),
    };
    let at = format_date_time(ev.event_time)
        .replace('T', " ")
        .replace('Z', "");
    let reason = &ev.reason.as_deref().map_or("no reason given".into(), shown);
    let delegate = &ev.recipient.delegate.as_deref().map_or(r.clone(), shown);
    let mandate_en = ev
        .recipient
        .mandate
        .as_ref()
        .map(|m| format!(" under mandate {}", shown(m)))
        .unwrap_or_default();
    let mandate_fr = ev
        .recipient
        .mandate
        .as_ref()
        .map(|m| format!(" en vertu du mandat {}", shown(m)))
        .unwrap_or_default();
    let login_en = ev
        .recipient
        .authentication
        .as_ref()
        .map(|a| format!(" (logged in by {})", shown(a)))
        .unwrap_or_default();
    let login_fr = ev
        .recipient
        .authentication
        .as_ref()
        .map(|a| format!(" (connexion : {})", shown(a)))
        .unwrap_or_default();
    match ev.event {
        Event::SubmissionAcceptance => (
            format!("{s} handed document {docs} to Sealpost for {r} at {at} UTC."),
            format!("{sf} a remis le document {docs} à Sealpost pour {r} le {at} UTC."),
        ),
        Event::SubmissionRejection => (
            format!(
                "Sealpost refused the document {docs} that {s} submitted for {r} at {at} UTC: {reason}."
            ),
            format!(
                "Sealpost a refusé le document {docs} que {sf} a soumis pour {r} le {at} UTC : {reason}."
            ),
        ),
        Event::ContentConsignment => (
            format!(
                "Sealpost deposited the document {docs} from {s} into the mailbox of {r} at {at} UTC."
            ),
            format!(
                "Sealpost a déposé le document {docs} de {sf} dans la boîte aux lettres de {r} le {at} UTC."
            ),
        ),
        Event::ContentConsignmentFailure => (
            format!(
                "Sealpost could not deposit the document {docs} from {s} into the mailbox of {r} at {at} UTC: {reason}."
            ),
            format!(
                "Sealpost n'a pas pu déposer le document {docs} de {sf} dans la boîte aux lettres de {r} le {at} UTC : {reason}."
            ),
        ),
        Event::ContentHandover => (
            format!(
                "{delegate}{login_en}{mandate_en} opened the document {docs} from {s} in the mailbox of {r} at {at} UTC."
            ),
            format!(
                "{delegate}{login_fr}{mandate_fr} a ouvert le document {docs} de {sf} dans la boîte aux lettres de {r} le {at} UTC."
            ),
        ),
    }
}

/// The validation data of the evidence, decoded: B-LT's values and each
/// TimeStampValidationData's (the data's own signatures make it what it is, wherever it lies).
fn read_validation_values(
    parts: &SealParts<'_, '_>,
    memo: &SignatureMemo,
) -> Result<Values, String> {
    let mut values = Values::with_memo(memo.clone());
    for group in &parts.validation_values {
        for value in group
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name().starts_with("Encapsulated"))
        {
            let der = signed_text(value)
                .ok()
                .and_then(|t| base64_decode(&t).ok())
                .ok_or_else(|| format!("{} is not base64 text", value.tag_name().name()))?;
            match value.tag_name().name() {
                "EncapsulatedX509Certificate" => values.certificates.push(der),
                "EncapsulatedCRLValue" => values.add_crl(&der),
                _ => values.ocsp_responses.push(der),
            }
        }
    }
    Ok(values)
}

/// An archive time-stamp, verified over everything before it, from the provider's unit.
fn archive_token(
    doc: &roxmltree::Document<'_>,
    parts: &SealParts<'_, '_>,
    stamp: Node<'_, '_>,
    trust: &TrustStore,
    provider: Option<&Provider>,
) -> Result<VerifiedToken, Outcome> {
    let method = stamp_method(stamp)?;
    let token = encapsulated_token(stamp)?;
    let imprint =
        archive_imprint(doc, parts, Some(stamp.id()), &method).map_err(Outcome::Failed)?;
    let verified = checked_token(&token, &imprint, trust)?;
    match from_provider_tsa(provider, &verified, String::new()) {
        Outcome::Passed(_) => Ok(verified),
        other => Err(other),
    }
}

/// What the data says of each certificate of `path` (leaf first, ending at a trust anchor or
/// with its last certificate issued by one) at `at`; `what` names the path in the outcome.
fn path_standing(
    path: &[Vec<u8>],
    anchors: &[Vec<u8>],
    values: &Values,
    at: SystemTime,
    what: &str,
    found: &mut Vec<(String, Standing)>,
) {
    let candidates: Vec<&[u8]> = path
        .iter()
        .chain(values.certificates.iter())
        .chain(anchors.iter())
        .map(Vec::as_slice)
        .collect();
    let mut cert: &[u8] = match path.first() {
        Some(c) => c,
        None => return,
    };
    for depth in 0..8 {
        if anchors.iter().any(|a| a.as_slice() == cert) {
            return;
        }
        let name = if depth == 0 {
            what.to_owned()
        } else {
            format!("{what}'s issuing CA {}", CertificateName::of(cert).subject)
        };
        let Some(issuer) = issuer_of(cert, &candidates, &values.memo) else {
            found.push((name, Standing::Unknown));
            return;
        };
        found.push((name, standing(cert, issuer, at, values)));
        cert = issuer;
    }
    found.push((what.to_owned(), Standing::Unknown));
}

/// Step 10: no certificate the seal or a time-stamp relied on was revoked when it was used:
/// the seal's chain and the signature time-stamp's at the signature time-stamp's time, each
/// document time-stamp's and archive time-stamp's chain at its own time.
fn not_revoked_when_used(
    values: &Values,
    anchors: &[Vec<u8>],
    seal: Option<&VerifiedDocument>,
    signature_stamp: Option<&VerifiedToken>,
    counter_stamp: Option<&VerifiedToken>,
    document_stamps: &[(String, VerifiedToken)],
    archive_stamps: &[Result<VerifiedToken, Outcome>],
) -> Outcome {
    if values.is_empty() {
        return Outcome::Indeterminate(
            "the evidence carries no revocation data (XAdES baseline B-T, not B-LT)".into(),
        );
    }
    let (Some(seal), Some(stamp)) = (seal, signature_stamp) else {
        return Outcome::Indeterminate(
            "no verified seal and signature time-stamp to check the revocation of".into(),
        );
    };
    let mut found = Vec::new();
    let mut seal_path = vec![seal.signer.clone()];
    seal_path.extend(seal.certificates.iter().cloned());
    path_standing(
        &seal_path,
        anchors,
        values,
        stamp.gen_time,
        "the seal certificate",
        &mut found,
    );
    path_standing(
        &stamp.path,
        anchors,
        values,
        stamp.gen_time,
        "the signature time-stamp's unit",
        &mut found,
    );
    if let Some(counter) = counter_stamp {
        path_standing(
            &counter.path,
            anchors,
            values,
            counter.gen_time,
            "the counter-stamp's unit",
            &mut found,
        );
    }
    for (name, token) in document_stamps {
        path_standing(
            &token.path,
            anchors,
            values,
            token.gen_time,
            &format!("the time-stamp unit of {}", shown(name)),
            &mut found,
        );
    }
    for (i, token) in archive_stamps.iter().enumerate() {
        if let Ok(token) = token {
            path_standing(
                &token.path,
                anchors,
                values,
                token.gen_time,
                &format!("archive time-stamp {}'s unit", i + 1),
                &mut found,
            );
        }
    }
    let show = |t: SystemTime| format_date_time(t);
    if let Some((name, Standing::Revoked(since))) = found
        .iter()
        .find(|(_, s)| matches!(s, Standing::Revoked(_)))
    {
        return Outcome::Failed(format!(
            "{name} was revoked on {}, before it was used",
            show(*since)
        ));
    }
    if let Some((name, _)) = found.iter().find(|(_, s)| *s == Standing::Unknown) {
        return Outcome::Indeterminate(format!(
            "no revocation data in the evidence decides whether {name} was revoked when it was used"
        ));
    }
    let later: Vec<String> = found
        .iter()
        .filter_map(|(name, s)| match s {
            Standing::RevokedAfter(since) => {
                Some(format!("{name} was revoked later, on {}", show(*since)))
            }
            _ => None,
        })
        .collect();
    let mut detail = format!(
        "{} certificate(s) not revoked when used (seal time-stamped {})",
        found.len(),
        show(stamp.gen_time)
    );
    if let Some((_, Standing::Good { issued, source })) = found.first() {
        detail.push_str(&format!(
            "; the seal certificate by {source} of {}",
            show(*issued)
        ));
    }
    if !later.is_empty() {
        detail.push_str(&format!("; {}", later.join("; ")));
    }
    Outcome::Passed(detail)
}

/// Step 11: on the date of verification `at`, the time-stamps still prove when the evidence
/// was sealed: each time-stamp's unit certificate was valid, and not revoked, when the next
/// archive time-stamp renewed it, and the last one's is valid at `at`.
fn time_still_proven(
    values: &Values,
    anchors: &[Vec<u8>],
    signature_stamp: Option<&VerifiedToken>,
    archive_stamps: &[Result<VerifiedToken, Outcome>],
    at: SystemTime,
) -> Outcome {
    let show = |t: SystemTime| format_date_time(t);
    let Some(first) = signature_stamp else {
        return Outcome::Indeterminate("no verified signature time-stamp".into());
    };
    if let Some(Err(o)) = archive_stamps
        .iter()
        .find(|r| matches!(r, Err(Outcome::Failed(_))))
    {
        return o.clone().named("an archive time-stamp");
    }
    if let Some(Err(o)) = archive_stamps.iter().find(|r| r.is_err()) {
        return o.clone().named("an archive time-stamp");
    }
    if at < first.gen_time {
        return Outcome::Indeterminate(format!(
            "the date of verification {} is before the evidence was sealed ({})",
            show(at),
            show(first.gen_time)
        ));
    }
    // The stamps in force on the date: the signature time-stamp, then each archive one made
    // by then.
    let mut chain = vec![first];
    for token in archive_stamps.iter().flatten() {
        if token.gen_time < chain.last().map_or(first.gen_time, |t| t.gen_time) {
            return Outcome::Failed(format!(
                "archive time-stamp of {} is earlier than the time-stamp it renews",
                show(token.gen_time)
            ));
        }
        if token.gen_time <= at {
            chain.push(token);
        }
    }
    let not_after = |t: &VerifiedToken| {
        t.path
            .first()
            .and_then(|c| Certificate::from_der(c).ok())
            .map(|c| c.tbs_certificate.validity.not_after.to_system_time())
    };
    for pair in chain.windows(2) {
        let (stamp, renewal) = (pair[0], pair[1]);
        let Some(until) = not_after(stamp) else {
            return Outcome::Indeterminate("a time-stamp's certificate cannot be read".into());
        };
        if until < renewal.gen_time {
            return Outcome::Indeterminate(format!(
                "the time-stamp of {} lost its proof on {}, when its certificate expired, before the archive time-stamp of {} renewed it",
                show(stamp.gen_time),
                show(until),
                show(renewal.gen_time)
            ));
        }
        let mut found = Vec::new();
        path_standing(
            &stamp.path,
            anchors,
            values,
            renewal.gen_time,
            "its unit",
            &mut found,
        );
        // The unit itself (its issuing CAs were checked when it was used, step 10).
        let unit = found
            .first()
            .map(|(_, s)| s.clone())
            .unwrap_or(Standing::Unknown);
        match unit {
            Standing::Good { .. } | Standing::RevokedAfter(_) => {}
            Standing::Revoked(since) => {
                return Outcome::Indeterminate(format!(
                    "the unit of the time-stamp of {} was revoked on {}, before the archive time-stamp of {} renewed it",
                    show(stamp.gen_time),
                    show(since),
                    show(renewal.gen_time)
                ));
            }
            Standing::Unknown => {
                return Outcome::Indeterminate(format!(
                    "no revocation data shows the unit of the time-stamp of {} not revoked when the archive time-stamp of {} renewed it",
                    show(stamp.gen_time),
                    show(renewal.gen_time)
                ));
            }
        }
    }
    let last = chain.last().copied().unwrap_or(first);
    let Some(until) = not_after(last) else {
        return Outcome::Indeterminate("a time-stamp's certificate cannot be read".into());
    };
    if until < at {
        return Outcome::Indeterminate(format!(
            "the last time-stamp (of {}) lost its proof on {}, when its certificate expired, and no archive time-stamp renews it",
            show(last.gen_time),
            show(until)
        ));
    }
    // Revoked by the date, as the evidence's own data shows, and not renewed since.
    let mut found = Vec::new();
    path_standing(&last.path, anchors, values, at, "its unit", &mut found);
    if let Some((_, Standing::Revoked(since))) = found.first() {
        return Outcome::Indeterminate(format!(
            "the unit of the last time-stamp (of {}) was revoked on {}, before the date of verification, and no archive time-stamp renews it",
            show(last.gen_time),
            show(*since)
        ));
    }
    Outcome::Passed(if chain.len() == 1 {
        format!(
            "on {}: the signature time-stamp's certificate is valid until {}",
            show(at),
            show(until)
        )
    } else {
        format!(
            "on {}: {} archive time-stamp(s), the last of {}, its certificate valid until {}",
            show(at),
            chain.len() - 1,
            show(last.gen_time),
            show(until)
        )
    })
}

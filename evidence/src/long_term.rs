//! Long-term evidence: XAdES baseline B-LT and B-LTA (ETSI EN 319 132-1 §5.5, EN 319 132-2
//! §6.3 and §6.4).
//!
//! - **B-LT**, from the moment an evidence is sealed: after its SignatureTimeStamp, the
//!   unsigned `xades:CertificateValues` (the time-stamping unit's certificates the seal's
//!   KeyInfo does not carry) and `xades:RevocationValues` (CRLs, then OCSP responses) that
//!   show the seal's and the signature time-stamp's certificates not revoked when it was
//!   sealed. A court then needs nothing but the trust anchors, years later.
//! - **B-LTA**, over time: each `xades141:ArchiveTimeStamp` time-stamps everything the
//!   evidence holds before it (below), so that the previous time-stamps keep proving their
//!   time after their certificate expires or their algorithm weakens. Before each one, a
//!   `xades141:TimeStampValidationData` carries the validation data of the previous
//!   time-stamp's unit, gathered while that unit's certificate is still valid.
//!
//! The sealed bytes never change: every addition is an unsigned property, appended at the end
//! of `xades:UnsignedSignatureProperties`, where the seal's enveloped-signature transform
//! leaves it out.
//!
//! The archive time-stamp's message imprint is the SHA-256 of, concatenated in this order
//! (EN 319 132-1 §5.5.2.2, the 1.4.1 form, every part in Exclusive C14N, the algorithm the
//! ArchiveTimeStamp's `ds:CanonicalizationMethod` names):
//! 1. the octets of each `ds:Reference` of SignedInfo, in order, as the seal digested them
//!    (the evidence without its signature; the SignedProperties);
//! 2. `ds:SignedInfo`, `ds:SignatureValue`, `ds:KeyInfo`;
//! 3. each child element of `xades:UnsignedSignatureProperties` that precedes the archive
//!    time-stamp, in order;
//! 4. (the signature has no `ds:Object` but the QualifyingProperties' own, so nothing).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use der::Decode;
use der::asn1::ObjectIdentifier;
use roxmltree::{Node, NodeId};
use sealpost_tsa::asn1::oid;
use sealpost_tsa::verify::read_unverified;
use sealpost_xmldsig::c14n::{Canonicalization, EXC_C14N, canonicalize};
use sealpost_xmldsig::dsig::{AlgorithmPolicy, IdIndex, IdPolicy, Signature, base64_encode};
use sealpost_xmldsig::{Limits, parse};
use x509_cert::Certificate;

use crate::seal::{SealError, Timestamper};
use crate::verify::{SealParts, seal_parts};

/// The namespace of XAdES 1.4.1 (ArchiveTimeStamp, TimeStampValidationData).
pub const NS_XADES141: &str = "http://uri.etsi.org/01903/v1.4.1#";

/// What a verifier needs besides the trust anchors to validate certificate chains years
/// later: certificates, CRLs and OCSP responses (each DER).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationData {
    pub certificates: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
    pub ocsp_responses: Vec<Vec<u8>>,
}

impl ValidationData {
    fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.crls.is_empty() && self.ocsp_responses.is_empty()
    }

    /// `xades:CertificateValues` then `xades:RevocationValues`, each only when it has content.
    fn to_xml(&self) -> String {
        let mut xml = String::new();
        if !self.certificates.is_empty() {
            xml.push_str("<xades:CertificateValues>");
            for c in &self.certificates {
                xml.push_str(&format!(
                    "<xades:EncapsulatedX509Certificate>{}</xades:EncapsulatedX509Certificate>",
                    base64_encode(c)
                ));
            }
            xml.push_str("</xades:CertificateValues>");
        }
        if !self.crls.is_empty() || !self.ocsp_responses.is_empty() {
            xml.push_str("<xades:RevocationValues>");
            if !self.crls.is_empty() {
                xml.push_str("<xades:CRLValues>");
                for c in &self.crls {
                    xml.push_str(&format!(
                        "<xades:EncapsulatedCRLValue>{}</xades:EncapsulatedCRLValue>",
                        base64_encode(c)
                    ));
                }
                xml.push_str("</xades:CRLValues>");
            }
            if !self.ocsp_responses.is_empty() {
                xml.push_str("<xades:OCSPValues>");
                for o in &self.ocsp_responses {
                    xml.push_str(&format!(
                        "<xades:EncapsulatedOCSPValue>{}</xades:EncapsulatedOCSPValue>",
                        base64_encode(o)
                    ));
                }
                xml.push_str("</xades:OCSPValues>");
            }
            xml.push_str("</xades:RevocationValues>");
        }
        xml
    }
}

/// Where the validation data comes from: the operator's revocation services (OCSP responders,
/// CRLs), asked now.
pub trait ValidationSource: Send + Sync {
    /// Data showing each certificate of each chain (leaf first, as far as the caller knows
    /// the chain; the source completes it up to a trust anchor) not revoked now: for each
    /// certificate but the anchor, an OCSP response or a CRL of its issuer, and the
    /// certificates a verifier needs to check them. An error when any status cannot be
    /// established, or is revoked: nothing is then sealed or archived with partial data.
    fn validation_data(&self, chains: &[Vec<Vec<u8>>]) -> Result<ValidationData, SealError>;
}

/// The B-LT properties of a freshly sealed evidence: the time-stamping units' certificates
/// (those of the signature time-stamps and the documents' tokens not already in
/// `seal_chain`), then the revocation values of all chains.
pub(crate) fn long_term_properties(
    source: &dyn ValidationSource,
    seal_chain: &[Vec<u8>],
    tokens: &[Vec<u8>],
    document_tokens: &[Vec<u8>],
) -> Result<String, SealError> {
    let mut tsa_chains: Vec<Vec<Vec<u8>>> = Vec::new();
    for token in tokens.iter().chain(document_tokens) {
        let chain = token_chain(token)?;
        if !tsa_chains.contains(&chain) {
            tsa_chains.push(chain);
        }
    }
    let mut chains = vec![seal_chain.to_vec()];
    chains.extend(tsa_chains.iter().cloned());
    let mut data = source.validation_data(&chains)?;
    let mut certificates: Vec<Vec<u8>> = Vec::new();
    for c in tsa_chains
        .into_iter()
        .flatten()
        .chain(std::mem::take(&mut data.certificates))
    {
        if !seal_chain.contains(&c) && !certificates.contains(&c) {
            certificates.push(c);
        }
    }
    data.certificates = certificates;
    Ok(data.to_xml())
}

/// A token's certificates, its signer first (as far as the token carries them).
fn token_chain(token: &[u8]) -> Result<Vec<Vec<u8>>, SealError> {
    let read = read_unverified(token).map_err(|e| SealError::Timestamp(e.to_string()))?;
    let signer = read
        .signer
        .ok_or_else(|| SealError::Timestamp("the token does not carry its signer".into()))?;
    let mut chain = vec![signer.clone()];
    chain.extend(read.certificates.into_iter().filter(|c| *c != signer));
    Ok(chain)
}

/// The SHA-256 message imprint of an archive time-stamp placed before `before` (a child of
/// UnsignedSignatureProperties; `None`: at the end), as the module documentation says.
pub(crate) fn archive_imprint(
    doc: &roxmltree::Document<'_>,
    parts: &SealParts<'_, '_>,
    before: Option<NodeId>,
    method: &Canonicalization,
) -> Result<Vec<u8>, String> {
    let signature =
        Signature::parse(parts.signature, AlgorithmPolicy::default()).map_err(|e| e.to_string())?;
    let ids = IdIndex::build(
        doc,
        IdPolicy {
            allow_plain_id: true,
        },
    )
    .map_err(|e| e.to_string())?;
    let mut hash = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for octets in signature
        .reference_octets(doc, &ids)
        .map_err(|e| e.to_string())?
    {
        hash.update(&octets);
    }
    for node in [parts.signed_info, parts.signature_value, parts.key_info] {
        hash.update(&canonicalize(node, method, None));
    }
    for node in parts
        .unsigned
        .children()
        .filter(Node::is_element)
        .take_while(|n| Some(n.id()) != before)
    {
        hash.update(&canonicalize(node, method, None));
    }
    Ok(hash.finish().as_ref().to_vec())
}

/// Adds an archive time-stamp to a sealed evidence (B-T, B-LT or B-LTA already): first the
/// validation data of its last time-stamp's unit (`source`, asked now), then an
/// `xades141:ArchiveTimeStamp` from `tsa` over everything before it, then, when another unit
/// than the previous one made it, that unit's validation data. The evidence read must be
/// a Sealpost seal (the structure the verifier reads); the result is the same document with
/// these two properties appended, its sealed bytes unchanged.
pub fn add_archive_timestamp(
    evidence_xml: &str,
    tsa: &dyn Timestamper,
    source: &dyn ValidationSource,
) -> Result<String, SealError> {
    let bad = |e: String| SealError::Evidence(e);
    // 1. The validation data of the last time-stamp's unit.
    let previous_chain = {
        let doc = parse(evidence_xml, &Limits::default())?;
        let parts = seal_parts(&doc).map_err(bad)?;
        token_chain(&parts.last_time_stamp_token().map_err(bad)?)?
    };
    let with_data = {
        let doc = parse(evidence_xml, &Limits::default())?;
        let parts = seal_parts(&doc).map_err(bad)?;
        let data = source.validation_data(std::slice::from_ref(&previous_chain))?;
        if data.is_empty() {
            evidence_xml.to_owned()
        } else {
            insert_at_end(
                evidence_xml,
                parts.unsigned,
                &validation_data_element(&data),
            )?
        }
    };
    // 2. The archive time-stamp over all of it.
    let doc = parse(&with_data, &Limits::default())?;
    let parts = seal_parts(&doc).map_err(bad)?;
    let imprint =
        archive_imprint(&doc, &parts, None, &Canonicalization::exclusive()).map_err(bad)?;
    let token = tsa.timestamp(&imprint)?;
    let stamped = insert_at_end(
        &with_data,
        parts.unsigned,
        &format!(
            "<xades141:ArchiveTimeStamp xmlns:xades141=\"{NS_XADES141}\"><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod><xades:EncapsulatedTimeStamp>{}</xades:EncapsulatedTimeStamp></xades141:ArchiveTimeStamp>",
            base64_encode(&token)
        ),
    )?;
    // 3. A unit other than the previous one's: its own validation data, after its stamp.
    let chain = token_chain(&token)?;
    if previous_chain.first() == chain.first() {
        return Ok(stamped);
    }
    let data = source.validation_data(&[chain])?;
    let doc = parse(&stamped, &Limits::default())?;
    let parts = seal_parts(&doc).map_err(bad)?;
    insert_at_end(&stamped, parts.unsigned, &validation_data_element(&data))
}

/// A `xades141:TimeStampValidationData` holding `data`.
fn validation_data_element(data: &ValidationData) -> String {
    format!(
        "<xades141:TimeStampValidationData xmlns:xades141=\"{NS_XADES141}\">{}</xades141:TimeStampValidationData>",
        data.to_xml()
    )
}

/// `xml` with `addition` inserted before the end tag of `element`.
fn insert_at_end(xml: &str, element: Node<'_, '_>, addition: &str) -> Result<String, SealError> {
    let range = element.range();
    let end_tag = xml[range.clone()]
        .rfind("</")
        .map(|i| range.start + i)
        .ok_or_else(|| SealError::Evidence("UnsignedSignatureProperties has no end tag".into()))?;
    let mut out = String::with_capacity(xml.len() + addition.len());
    out.push_str(&xml[..end_tag]);
    out.push_str(addition);
    out.push_str(&xml[end_tag..]);
    Ok(out)
}

/// When an evidence is archived again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivePolicy {
    /// Re-stamp this long before the last time-stamp's certificate expires.
    pub renew_before: Duration,
    /// Digest algorithms (of a time-stamp's message imprint) no longer trusted from a date
    /// on: re-stamp with a stronger one `renew_before` that date.
    pub sunsets: Vec<(ObjectIdentifier, SystemTime)>,
}

impl Default for ArchivePolicy {
    fn default() -> Self {
        ArchivePolicy {
            renew_before: Duration::from_secs(365 * 86_400),
            sunsets: Vec::new(),
        }
    }
}

/// Why an evidence is due for a new archive time-stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveDue {
    /// The last time-stamp's certificate expires then.
    CertificateExpires(SystemTime),
    /// The last time-stamp's digest algorithm is no longer trusted from then on.
    AlgorithmSunset(ObjectIdentifier, SystemTime),
}

impl std::fmt::Display for ArchiveDue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = sealpost_xmldsig::wss_sign::format_date_time;
        match self {
            ArchiveDue::CertificateExpires(at) => write!(
                f,
                "the last time-stamp's certificate expires on {}",
                show(*at)
            ),
            ArchiveDue::AlgorithmSunset(alg, at) => write!(
                f,
                "the last time-stamp's digest algorithm {alg} is no longer trusted from {}",
                show(*at)
            ),
        }
    }
}

/// Whether `evidence_xml` needs a new archive time-stamp at `now` under `policy`, and why.
/// Read from the evidence itself (its last time-stamp, unverified: this only schedules work).
pub fn archive_due(
    evidence_xml: &str,
    now: SystemTime,
    policy: &ArchivePolicy,
) -> Result<Option<ArchiveDue>, SealError> {
    let doc = parse(evidence_xml, &Limits::default())?;
    let parts = seal_parts(&doc).map_err(SealError::Evidence)?;
    let token = parts.last_time_stamp_token().map_err(SealError::Evidence)?;
    let read = read_unverified(&token).map_err(|e| SealError::Timestamp(e.to_string()))?;
    let signer = read.signer.ok_or_else(|| {
        SealError::Timestamp("the last time-stamp does not carry its signer".into())
    })?;
    let not_after = Certificate::from_der(&signer)
        .map_err(|e| SealError::Timestamp(e.to_string()))?
        .tbs_certificate
        .validity
        .not_after
        .to_system_time();
    let horizon = now + policy.renew_before;
    if let Some((alg, at)) = policy
        .sunsets
        .iter()
        .find(|(alg, at)| *alg == read.hash_algorithm && *at <= horizon)
    {
        return Ok(Some(ArchiveDue::AlgorithmSunset(*alg, *at)));
    }
    if not_after <= horizon {
        return Ok(Some(ArchiveDue::CertificateExpires(not_after)));
    }
    Ok(None)
}

/// The digest algorithms an [`ArchivePolicy`] sunset may name, by name.
pub fn digest_algorithm_named(name: &str) -> Option<ObjectIdentifier> {
    match name {
        "sha256" | "SHA-256" => Some(oid::SHA256),
        "sha384" | "SHA-384" => Some(oid::SHA384),
        "sha512" | "SHA-512" => Some(oid::SHA512),
        _ => None,
    }
}

/// A sealer's source of validation data, shared.
pub type SharedValidationSource = Arc<dyn ValidationSource>;

//! Sealing an evidence: an enveloped XAdES baseline B-T signature (ETSI EN 319 132-1).
//!
//! - ds:Signature, Exclusive C14N, ECDSA P-256 (or RSA) with SHA-256, KeyInfo with the seal
//!   certificate and its chain;
//! - two references: the whole evidence (`URI=""`, enveloped-signature), and the XAdES
//!   SignedProperties: SigningTime, SigningCertificateV2 (SHA-256 of the seal certificate and
//!   its IssuerSerialV2);
//! - the unsigned SignatureTimeStamp: an RFC 3161 token over the SHA-256 of the canonical
//!   ds:SignatureValue element.

use std::time::SystemTime;

use der::asn1::IntRef;
use der::{Decode, Encode};
use sealpost_tsa::asn1::IssuerSerial;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::issue::general_names_directory;
use sealpost_tsa::verify::granted_token;
use sealpost_tsa::{HashAlgorithm, RequestSpec};
use sealpost_xmldsig::c14n::{Canonicalization, EXC_C14N, canonicalize};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{DigestAlgorithm, ENVELOPED_SIGNATURE, NS_DSIG, base64_encode};
use sealpost_xmldsig::wss_sign::format_date_time;
use sealpost_xmldsig::{Limits, parse};
use x509_cert::Certificate;

pub const NS_XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
pub const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the evidence: {0}")]
    Xml(#[from] sealpost_xmldsig::XmlError),
    #[error("signing: {0}")]
    Signing(String),
    #[error("time-stamping: {0}")]
    Timestamp(String),
}

/// Gets RFC 3161 tokens: the in-process TSA, or a remote one.
pub trait Timestamper {
    /// A token (DER ContentInfo) over a SHA-256 digest, carrying the TSA certificate.
    fn timestamp(&self, sha256: &[u8]) -> Result<Vec<u8>, SealError>;
}

impl Timestamper for TimeStampAuthority {
    fn timestamp(&self, sha256: &[u8]) -> Result<Vec<u8>, SealError> {
        let request = RequestSpec::new(HashAlgorithm::Sha256, sha256.to_vec())
            .to_der()
            .map_err(|e| SealError::Timestamp(e.to_string()))?;
        let issued = self.respond(&request);
        granted_token(&issued.response)
            .map(<[u8]>::to_vec)
            .map_err(|e| SealError::Timestamp(e.to_string()))
    }
}

/// `IssuerSerial` of a certificate, DER (XAdES IssuerSerialV2).
fn issuer_serial(cert_der: &[u8]) -> Result<Vec<u8>, SealError> {
    let bad = |e: der::Error| SealError::Signing(e.to_string());
    let cert = Certificate::from_der(cert_der).map_err(bad)?;
    let issuer = cert.tbs_certificate.issuer.to_der().map_err(bad)?;
    let names = general_names_directory(&issuer).map_err(bad)?;
    IssuerSerial {
        issuer: der::asn1::AnyRef::try_from(names.as_slice()).map_err(bad)?,
        serial_number: IntRef::new(cert.tbs_certificate.serial_number.as_bytes()).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

/// Seals `evidence_xml` (an unsigned evidence document) with `signer`, time-stamping the
/// signature with `tsa`. `signing_time` goes into SigningTime.
pub fn seal(
    evidence_xml: &str,
    signer: &DocumentSigner,
    tsa: &dyn Timestamper,
    signing_time: SystemTime,
) -> Result<String, SealError> {
    let fail = |what: &str| SealError::Signing(what.to_owned());
    let exclusive = Canonicalization::exclusive();
    let doc = parse(evidence_xml, &Limits::default())?;
    let root = doc.root_element();
    let evidence_id = root
        .children()
        .find(|c| c.tag_name().name() == "EvidenceId")
        .and_then(|c| c.text())
        .unwrap_or("evidence");
    let suffix: String = evidence_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let signature_id = format!("sig-{suffix}");
    let properties_id = format!("xades-{suffix}");
    let seal_cert = signer
        .certificates()
        .first()
        .ok_or_else(|| fail("no seal certificate"))?;

    // 1. The SignedProperties, and the digests of both references.
    let signed_properties = format!(
        "<xades:SignedProperties Id=\"{properties_id}\"><xades:SignedSignatureProperties><xades:SigningTime>{}</xades:SigningTime><xades:SigningCertificateV2><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></xades:CertDigest><xades:IssuerSerialV2>{}</xades:IssuerSerialV2></xades:Cert></xades:SigningCertificateV2></xades:SignedSignatureProperties></xades:SignedProperties>",
        format_date_time(signing_time),
        DigestAlgorithm::Sha256.uri(),
        base64_encode(&DigestAlgorithm::Sha256.digest(seal_cert)),
        base64_encode(&issuer_serial(seal_cert)?),
    );
    let properties_context = format!(
        "<ds:Signature xmlns:ds=\"{NS_DSIG}\"><ds:Object><xades:QualifyingProperties xmlns:xades=\"{NS_XADES}\" Target=\"#{signature_id}\">{signed_properties}</xades:QualifyingProperties></ds:Object></ds:Signature>"
    );
    let properties_doc = parse(&properties_context, &Limits::default())?;
    let properties_node = properties_doc
        .descendants()
        .find(|n| n.tag_name().name() == "SignedProperties")
        .ok_or_else(|| fail("SignedProperties"))?;
    let properties_digest =
        DigestAlgorithm::Sha256.digest(&canonicalize(properties_node, &exclusive, None));
    // With the signature not there yet, the evidence's canonical form is what the
    // enveloped-signature transform gives once it is.
    let evidence_digest =
        DigestAlgorithm::Sha256.digest(&canonicalize(doc.root(), &exclusive, None));

    // 2. SignedInfo, signed.
    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{}\"/><ds:Reference URI=\"\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"/><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{sha256}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference><ds:Reference Type=\"{SIGNED_PROPERTIES_TYPE}\" URI=\"#{properties_id}\"><ds:Transforms><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{sha256}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        signer.method().uri(),
        base64_encode(&evidence_digest),
        base64_encode(&properties_digest),
        sha256 = DigestAlgorithm::Sha256.uri(),
    );
    let value = signer
        .sign_signed_info(&signed_info)
        .map_err(|e| SealError::Signing(e.to_string()))?;
    let signature_value = format!("<ds:SignatureValue>{value}</ds:SignatureValue>");

    // 3. The signature time-stamp, over the canonical ds:SignatureValue element.
    let value_context =
        format!("<ds:Signature xmlns:ds=\"{NS_DSIG}\">{signature_value}</ds:Signature>");
    let value_doc = parse(&value_context, &Limits::default())?;
    let value_node = value_doc
        .root_element()
        .first_element_child()
        .ok_or_else(|| fail("SignatureValue"))?;
    let token = tsa
        .timestamp(&DigestAlgorithm::Sha256.digest(&canonicalize(value_node, &exclusive, None)))?;

    // 4. The whole signature, appended to the evidence.
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{NS_DSIG}\" Id=\"{signature_id}\">{signed_info}{signature_value}{key_info}<ds:Object><xades:QualifyingProperties xmlns:xades=\"{NS_XADES}\" Target=\"#{signature_id}\">{signed_properties}<xades:UnsignedProperties><xades:UnsignedSignatureProperties><xades:SignatureTimeStamp><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><xades:EncapsulatedTimeStamp>{}</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp></xades:UnsignedSignatureProperties></xades:UnsignedProperties></xades:QualifyingProperties></ds:Object></ds:Signature>",
        base64_encode(&token),
        key_info = signer.key_info(),
    );
    let end = root.range().end;
    let end_tag = evidence_xml[..end]
        .rfind("</")
        .ok_or_else(|| fail("the evidence has no end tag"))?;
    Ok(format!(
        "{}{signature}{}",
        &evidence_xml[..end_tag],
        &evidence_xml[end_tag..]
    ))
}

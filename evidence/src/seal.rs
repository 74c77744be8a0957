//! Sealing an evidence: an enveloped XAdES baseline B-T signature (ETSI EN 319 132-1).
//!
//! - ds:Signature, Exclusive C14N, ECDSA P-256 (or RSA) with SHA-256, KeyInfo with the seal
//!   certificate and its chain;
//! - two references: the whole evidence (`URI=""`, enveloped-signature), and the XAdES
//!   SignedProperties: SigningTime, SigningCertificateV2 (SHA-256 of the seal certificate and
//!   its IssuerSerialV2);
//! - the unsigned SignatureTimeStamp: an RFC 3161 token over the SHA-256 of the canonical
//!   ds:SignatureValue element;
//! - with a [`ValidationSource`] ([`Sealer::with_validation_source`]), baseline B-LT: the
//!   validation data of the seal's and the time-stamp's chains after the time-stamp
//!   ([`crate::long_term`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use der::asn1::IntRef;
use der::{Decode, Encode};
use sealpost_tsa::asn1::IssuerSerial;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::issue::general_names_directory;
use sealpost_tsa::verify::read_unverified;
use sealpost_xmldsig::c14n::{Canonicalization, EXC_C14N, canonicalize};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{DigestAlgorithm, ENVELOPED_SIGNATURE, NS_DSIG, base64_encode};
use sealpost_xmldsig::wss_sign::format_date_time;
use sealpost_xmldsig::{Limits, parse};

use crate::long_term::{SharedValidationSource, ValidationSource, long_term_properties};
use crate::model::Evidence;
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
    #[error("the evidence cannot be written as XML: {0}")]
    Evidence(String),
}

/// Gets RFC 3161 tokens: the in-process TSA, or a remote one.
pub trait Timestamper {
    /// A token (DER ContentInfo) over a SHA-256 digest, carrying the TSA certificate.
    fn timestamp(&self, sha256: &[u8]) -> Result<Vec<u8>, SealError>;
}

impl Timestamper for TimeStampAuthority {
    fn timestamp(&self, sha256: &[u8]) -> Result<Vec<u8>, SealError> {
        let digest: &[u8; 32] = sha256.try_into().map_err(|_| {
            SealError::Timestamp(format!("{} bytes is not a SHA-256", sha256.len()))
        })?;
        self.sha256_token(digest).map_err(|(failure, reason)| {
            SealError::Timestamp(format!("{}: {reason}", failure.name()))
        })
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

/// The operator's seal: a [`DocumentSigner`] and what every signature of it repeats (the
/// certificate's digest and IssuerSerialV2, KeyInfo), computed once.
#[derive(Debug)]
pub struct Sealer {
    signer: DocumentSigner,
    certificate_digest: String,
    issuer_serial: String,
    key_info: String,
    /// B-LT: where the validation data comes from; none: B-T.
    validation: Option<SharedValidationSource>,
    /// A second, independent TSA that counter-stamps each seal.
    second_tsa: Option<Arc<dyn Timestamper + Send + Sync>>,
}

/// How far apart the times of two time-stamps over the same seal may be, beyond their stated
/// accuracies: more, and one of the two clocks is wrong.
pub const COUNTER_STAMP_TOLERANCE: Duration = Duration::from_secs(60);

/// Whether two time-stamps of the same seal agree: their times (each with its accuracy)
/// within [`COUNTER_STAMP_TOLERANCE`].
pub fn stamps_agree(
    (first, first_accuracy): (SystemTime, Option<Duration>),
    (second, second_accuracy): (SystemTime, Option<Duration>),
) -> Result<(), String> {
    let apart = first
        .duration_since(second)
        .or_else(|_| second.duration_since(first))
        .unwrap_or_default();
    let allowed = COUNTER_STAMP_TOLERANCE
        + first_accuracy.unwrap_or_default()
        + second_accuracy.unwrap_or_default();
    if apart > allowed {
        return Err(format!(
            "two time-stamps of the same seal are {} s apart ({} and {}), more than the {} s allowed: one of the clocks is wrong",
            apart.as_secs(),
            format_date_time(first),
            format_date_time(second),
            allowed.as_secs()
        ));
    }
    Ok(())
}

impl std::fmt::Debug for dyn Timestamper + Send + Sync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timestamper")
    }
}

impl std::fmt::Debug for dyn ValidationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ValidationSource")
    }
}

impl Sealer {
    pub fn new(signer: DocumentSigner) -> Result<Self, SealError> {
        let seal_cert = signer
            .certificates()
            .first()
            .ok_or_else(|| SealError::Signing("no seal certificate".into()))?;
        Ok(Sealer {
            certificate_digest: base64_encode(&DigestAlgorithm::Sha256.digest(seal_cert)),
            issuer_serial: base64_encode(&issuer_serial(seal_cert)?),
            key_info: signer.key_info(),
            signer,
            validation: None,
            second_tsa: None,
        })
    }

    /// Counter-stamps every seal by `tsa`, a second and independent TSA: its token over the
    /// same SignatureValue, a second SignatureTimeStamp. When the two times disagree (see
    /// [`stamps_agree`]) or the second TSA does not answer, nothing is sealed.
    pub fn with_second_timestamper(mut self, tsa: Arc<dyn Timestamper + Send + Sync>) -> Self {
        self.second_tsa = Some(tsa);
        self
    }

    /// Seals baseline B-LT: each evidence carries, after its signature time-stamp, the
    /// validation data `source` gives for the seal's chain and the time-stamping unit's. When
    /// the source cannot give it, nothing is sealed.
    pub fn with_validation_source(mut self, source: SharedValidationSource) -> Self {
        self.validation = Some(source);
        self
    }

    /// Whether this sealer seals B-LT.
    pub fn is_long_term(&self) -> bool {
        self.validation.is_some()
    }

    /// The seal certificate, then its chain.
    pub fn certificates(&self) -> &[Vec<u8>] {
        self.signer.certificates()
    }

    /// Seals an evidence built by this crate. [`Evidence::to_xml`] writes the evidence element
    /// in its canonical form, so its digest needs no parse.
    pub fn seal(
        &self,
        evidence: &Evidence,
        tsa: &dyn Timestamper,
        signing_time: SystemTime,
    ) -> Result<String, SealError> {
        evidence.check_characters().map_err(SealError::Evidence)?;
        let xml = evidence.to_xml();
        let element = xml
            .find("<ev:Evidence")
            .and_then(|start| Some(start..xml.rfind("</ev:Evidence>")? + "</ev:Evidence>".len()))
            .ok_or_else(|| SealError::Signing("the evidence element".into()))?;
        let digest = DigestAlgorithm::Sha256.digest(xml[element.clone()].as_bytes());
        // The documents' time-stamps are the evidence's too: their units' validation data
        // goes with the seal's.
        let document_tokens: Vec<Vec<u8>> = evidence
            .documents
            .iter()
            .filter_map(|d| d.time_stamp_token.clone())
            .collect();
        self.append_signature(
            &xml,
            &evidence.id,
            &digest,
            tsa,
            signing_time,
            &document_tokens,
        )
    }

    /// Seals any evidence document given as XML text: parsed, and its digest taken over its
    /// exclusive canonical form.
    pub fn seal_xml(
        &self,
        evidence_xml: &str,
        tsa: &dyn Timestamper,
        signing_time: SystemTime,
    ) -> Result<String, SealError> {
        let doc = parse(evidence_xml, &Limits::default())?;
        let evidence_id = doc
            .root_element()
            .children()
            .find(|c| c.tag_name().name() == "EvidenceId")
            .and_then(|c| c.text())
            .unwrap_or("evidence");
        // With the signature not there yet, the evidence's canonical form is what the
        // enveloped-signature transform gives once it is.
        let digest = DigestAlgorithm::Sha256.digest(&canonicalize(
            doc.root(),
            &Canonicalization::exclusive(),
            None,
        ));
        self.append_signature(evidence_xml, evidence_id, &digest, tsa, signing_time, &[])
    }

    /// Signs, time-stamps the signature, and inserts it before the root element's end tag.
    ///
    /// SignedInfo, SignedProperties and SignatureValue are written directly in their exclusive
    /// canonical form (what a verifier computes from the document): that is what is signed,
    /// digested and time-stamped. In the document they appear without the namespace
    /// declarations their ds:Signature ancestor already makes.
    fn append_signature(
        &self,
        evidence_xml: &str,
        evidence_id: &str,
        evidence_digest: &[u8],
        tsa: &dyn Timestamper,
        signing_time: SystemTime,
        document_tokens: &[Vec<u8>],
    ) -> Result<String, SealError> {
        let suffix: String = evidence_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let signature_id = format!("sig-{suffix}");
        let properties_id = format!("xades-{suffix}");
        let sha256 = DigestAlgorithm::Sha256.uri();
        let ds_declaration = format!(" xmlns:ds=\"{NS_DSIG}\"");

        // 1. The SignedProperties and their digest.
        let signed_properties = |ds: &str, xades: &str| {
            format!(
                "<xades:SignedProperties{xades} Id=\"{properties_id}\"><xades:SignedSignatureProperties><xades:SigningTime>{}</xades:SigningTime><xades:SigningCertificateV2><xades:Cert><xades:CertDigest><ds:DigestMethod{ds} Algorithm=\"{sha256}\"></ds:DigestMethod><ds:DigestValue{ds}>{}</ds:DigestValue></xades:CertDigest><xades:IssuerSerialV2>{}</xades:IssuerSerialV2></xades:Cert></xades:SigningCertificateV2></xades:SignedSignatureProperties></xades:SignedProperties>",
                format_date_time(signing_time),
                self.certificate_digest,
                self.issuer_serial,
            )
        };
        let properties_digest = DigestAlgorithm::Sha256.digest(
            signed_properties(&ds_declaration, &format!(" xmlns:xades=\"{NS_XADES}\"")).as_bytes(),
        );

        // 2. SignedInfo, signed.
        let signed_info = |ds: &str| {
            format!(
                "<ds:SignedInfo{ds}><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod><ds:Reference URI=\"\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"></ds:Transform><ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{sha256}\"></ds:DigestMethod><ds:DigestValue>{}</ds:DigestValue></ds:Reference><ds:Reference Type=\"{SIGNED_PROPERTIES_TYPE}\" URI=\"#{properties_id}\"><ds:Transforms><ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{sha256}\"></ds:DigestMethod><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
                self.signer.method().uri(),
                base64_encode(evidence_digest),
                base64_encode(&properties_digest),
            )
        };
        let value = base64_encode(
            &self
                .signer
                .sign_bytes(signed_info(&ds_declaration).as_bytes())
                .map_err(|e| SealError::Signing(e.to_string()))?,
        );

        // 3. The signature time-stamp, over the canonical SignatureValue element, and the
        // second TSA's counter-stamp, which must agree with it.
        let imprint = DigestAlgorithm::Sha256.digest(
            format!("<ds:SignatureValue{ds_declaration}>{value}</ds:SignatureValue>").as_bytes(),
        );
        let mut tokens = vec![tsa.timestamp(&imprint)?];
        if let Some(second) = &self.second_tsa {
            let counter = second.timestamp(&imprint)?;
            let time = |token: &[u8]| {
                read_unverified(token)
                    .map(|t| (t.gen_time, t.accuracy))
                    .map_err(|e| SealError::Timestamp(e.to_string()))
            };
            stamps_agree(time(&tokens[0])?, time(&counter)?).map_err(SealError::Timestamp)?;
            tokens.push(counter);
        }
        let stamps: String = tokens
            .iter()
            .map(|token| {
                format!(
                    "<xades:SignatureTimeStamp><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod><xades:EncapsulatedTimeStamp>{}</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp>",
                    base64_encode(token)
                )
            })
            .collect();

        // 4. B-LT: the validation data of the chains, gathered now.
        let long_term = match &self.validation {
            Some(source) => long_term_properties(
                source.as_ref(),
                self.certificates(),
                &tokens,
                document_tokens,
            )?,
            None => String::new(),
        };

        // 5. The whole signature, inserted before the evidence's end tag.
        let signature = format!(
            "<ds:Signature xmlns:ds=\"{NS_DSIG}\" Id=\"{signature_id}\">{}<ds:SignatureValue>{value}</ds:SignatureValue>{}<ds:Object><xades:QualifyingProperties xmlns:xades=\"{NS_XADES}\" Target=\"#{signature_id}\">{}<xades:UnsignedProperties><xades:UnsignedSignatureProperties>{stamps}{long_term}</xades:UnsignedSignatureProperties></xades:UnsignedProperties></xades:QualifyingProperties></ds:Object></ds:Signature>",
            signed_info(""),
            self.key_info,
            signed_properties("", ""),
        );
        let end_tag = evidence_xml
            .trim_end()
            .rfind("</")
            .ok_or_else(|| SealError::Signing("the evidence has no end tag".into()))?;
        let mut sealed = String::with_capacity(evidence_xml.len() + signature.len());
        sealed.push_str(&evidence_xml[..end_tag]);
        sealed.push_str(&signature);
        sealed.push_str(&evidence_xml[end_tag..]);
        Ok(sealed)
    }
}

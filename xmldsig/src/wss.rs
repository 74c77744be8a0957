//! WS-Security (OASIS WSS 1.1, X.509 Certificate Token Profile) on SOAP 1.1 and 1.2 envelopes.
//!
//! [`verify_envelope`] answers "this Body and this Timestamp are covered by a valid signature by
//! this certificate", handing back the exact nodes: the caller processes `body`, never an
//! element it looks up again. An envelope whose Body or Timestamp is not among the signed nodes,
//! or in which two elements share an Id, is refused; so are the signature-wrapping attacks
//! built on either.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{DateTime, Decode};
use roxmltree::{Document, Node};
use x509_cert::Certificate;

use crate::dsig::{
    AlgorithmPolicy, DsigError, IdIndex, IdPolicy, NS_DSIG, NS_WSU, PublicKey, Signature,
    base64_decode,
};
use crate::saml::{
    self, Confirmation, KEY_IDENTIFIER_SAML2, KEY_IDENTIFIER_SAML11, SamlError, SamlTrust,
    SamlVersion, VerifiedAssertion,
};
use crate::signed_text::signed_text;
use crate::trust::{Purpose, TrustAnchors, TrustError};

pub const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const X509V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
pub const X509_SKI: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier";
pub const THUMBPRINT_SHA1: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1";
pub const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

const OID_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoapVersion {
    Soap11,
    Soap12,
}

/// What a verifier accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WssPolicy {
    pub algorithms: AlgorithmPolicy,
    pub ids: IdPolicy,
    /// Tolerated difference between the sender's clock and ours.
    pub max_clock_skew: Duration,
    /// How old a Timestamp's Created may be.
    pub max_age: Duration,
}

impl Default for WssPolicy {
    fn default() -> Self {
        WssPolicy {
            algorithms: AlgorithmPolicy::default(),
            ids: IdPolicy::default(),
            max_clock_skew: Duration::from_secs(300),
            max_age: Duration::from_secs(900),
        }
    }
}

/// The row of the error table a failure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad or missing signature: wsse:FailedCheck.
    FailedCheck,
    /// Untrusted signer: wsse:FailedAuthentication.
    FailedAuthentication,
    /// Expired or replayed message: wsu:MessageExpired.
    MessageExpired,
    /// The message is not a SOAP envelope we can process: invalid request.
    InvalidRequest,
}

#[derive(Debug, thiserror::Error)]
pub enum WssError {
    #[error("not a SOAP envelope: {0}")]
    NotSoap(String),
    #[error("the envelope has no (or more than one) wsse:Security header")]
    SecurityHeader,
    #[error("unsupported mustUnderstand value {0:?}")]
    MustUnderstand(String),
    #[error("the Security header holds an unsupported element {0}")]
    UnsupportedToken(String),
    #[error("the Security header must hold exactly one {0}")]
    Cardinality(&'static str),
    #[error("the Timestamp is malformed: {0}")]
    Timestamp(String),
    #[error("the message expired at {0:?}")]
    Expired(SystemTime),
    #[error("the message was created in the future ({0:?})")]
    FromTheFuture(SystemTime),
    #[error("the message is older than allowed (created {0:?})")]
    TooOld(SystemTime),
    #[error("the signature: {0}")]
    Signature(#[from] DsigError),
    #[error("the signer's key cannot be found: {0}")]
    KeyReference(String),
    #[error("the Body is not covered by the signature")]
    BodyNotSigned,
    #[error("the Timestamp is not covered by the signature")]
    TimestampNotSigned,
    #[error("the signer is not trusted: {0}")]
    Untrusted(#[from] TrustError),
    #[error("the SAML assertion: {0}")]
    Assertion(#[from] SamlError),
    #[error("the SAML assertion is not covered by the message's signature")]
    AssertionNotSigned,
    #[error("the message is not signed by the key the holder-of-key assertion names")]
    NotTheHolder,
}

impl WssError {
    pub fn kind(&self) -> FailureKind {
        match self {
            WssError::NotSoap(_) => FailureKind::InvalidRequest,
            WssError::Expired(_) | WssError::FromTheFuture(_) | WssError::TooOld(_) => {
                FailureKind::MessageExpired
            }
            WssError::Untrusted(_) | WssError::KeyReference(_) | WssError::NotTheHolder => {
                FailureKind::FailedAuthentication
            }
            WssError::Assertion(e) => match e {
                SamlError::Malformed(_) | SamlError::Signature(_) | SamlError::NotSigned => {
                    FailureKind::FailedCheck
                }
                SamlError::NotYetValid(_) | SamlError::Expired(_) => FailureKind::MessageExpired,
                SamlError::UntrustedIssuer(_)
                | SamlError::Audience
                | SamlError::UnknownCondition(_)
                | SamlError::Confirmation(_)
                | SamlError::Status(_)
                | SamlError::ProviderCertificate { .. } => FailureKind::FailedAuthentication,
            },
            _ => FailureKind::FailedCheck,
        }
    }
}

/// Certificates of registered senders, for references that do not carry the certificate
/// (KeyIdentifier, X509IssuerSerial).
/// Parsed once, when the registry is loaded, not at every request (a certificate that does
/// not parse could match no reference and is left out).
#[derive(Clone, Debug, Default)]
pub struct KnownCertificates {
    certs: Vec<(Vec<u8>, Certificate)>,
}

impl KnownCertificates {
    pub fn new(certs: impl IntoIterator<Item = Vec<u8>>) -> Self {
        KnownCertificates {
            certs: certs
                .into_iter()
                .filter_map(|der| Certificate::from_der(&der).ok().map(|cert| (der, cert)))
                .collect(),
        }
    }

    fn find(&self, matches: impl Fn(&[u8], &Certificate) -> bool) -> Option<Vec<u8>> {
        self.certs
            .iter()
            .find_map(|(der, cert)| matches(der, cert).then(|| der.clone()))
    }
}

/// A verified envelope: what was signed, and by whom.
#[derive(Debug)]
pub struct VerifiedEnvelope<'a, 'i> {
    pub soap_version: SoapVersion,
    /// The signer's certificate (DER), trusted at `created`.
    pub signer: Vec<u8>,
    /// Its subject (RFC 4514) and SHA-256, read from the one parse of it.
    pub signer_subject: String,
    pub signer_sha256: [u8; 32],
    /// The envelope's Body, which the signature covers.
    pub body: Node<'a, 'i>,
    /// The Security header's Timestamp, which the signature covers.
    pub timestamp: Node<'a, 'i>,
    pub created: SystemTime,
    pub expires: Option<SystemTime>,
    /// Every node a reference of the signature covers.
    pub signed: Vec<Node<'a, 'i>>,
    /// The SAML assertion of the Security header (the identification vector), verified and
    /// covered by the message's signature.
    pub assertion: Option<VerifiedAssertion>,
    /// SHA-256 of the canonical SignedInfo: exactly what the signature value signs (the
    /// digests of the Body and the Timestamp among it). It names the request: the same
    /// signed content under another valid signature value (an ECDSA (r, n - s), a fresh
    /// randomised signature by the same key) has the same one, so a replay check keyed on
    /// it is not fooled by malleable signature values.
    pub signed_info_sha256: [u8; 32],
}

fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// Verifies the WS-Security header of `doc` at `now` (a SAML assertion in it is refused).
pub fn verify_envelope<'a, 'i>(
    doc: &'a Document<'i>,
    now: SystemTime,
    policy: &WssPolicy,
    known: &KnownCertificates,
    trust: &TrustAnchors,
) -> Result<VerifiedEnvelope<'a, 'i>, WssError> {
    verify_envelope_with(doc, now, policy, known, trust, &SamlTrust::none())
}

/// Verifies the WS-Security header of `doc` at `now`, with at most one SAML assertion (SAML
/// Token Profile 1.1) from an identity provider of `identity`: it must be covered by the
/// message's signature, and a holder-of-key assertion must name the message's signer.
pub fn verify_envelope_with<'a, 'i>(
    doc: &'a Document<'i>,
    now: SystemTime,
    policy: &WssPolicy,
    known: &KnownCertificates,
    trust: &TrustAnchors,
    identity: &SamlTrust,
) -> Result<VerifiedEnvelope<'a, 'i>, WssError> {
    // The envelope: Header then Body, nothing else.
    let envelope = doc.root_element();
    let soap_version = match envelope.tag_name().namespace() {
        Some(NS_SOAP11) if envelope.tag_name().name() == "Envelope" => SoapVersion::Soap11,
        Some(NS_SOAP12) if envelope.tag_name().name() == "Envelope" => SoapVersion::Soap12,
        _ => {
            return Err(WssError::NotSoap(
                "the root is not a SOAP 1.1 or 1.2 Envelope".into(),
            ));
        }
    };
    let soap_ns = match soap_version {
        SoapVersion::Soap11 => NS_SOAP11,
        SoapVersion::Soap12 => NS_SOAP12,
    };
    let parts: Vec<Node<'a, 'i>> = elements(envelope).collect();
    let (header, body) = match parts.as_slice() {
        [h, b] if is(h, soap_ns, "Header") && is(b, soap_ns, "Body") => (*h, *b),
        // A well-formed envelope without a header: the signature is missing.
        [b] if is(b, soap_ns, "Body") => return Err(WssError::SecurityHeader),
        _ => {
            return Err(WssError::NotSoap(
                "expected exactly a Header then a Body".into(),
            ));
        }
    };

    // Exactly one Security header, addressed to us.
    let mut securities = elements(header).filter(|h| is(h, NS_WSSE, "Security"));
    let security = securities.next().ok_or(WssError::SecurityHeader)?;
    if securities.next().is_some() {
        return Err(WssError::SecurityHeader);
    }
    if security.attribute((soap_ns, "actor")).is_some()
        || security.attribute((soap_ns, "role")).is_some()
    {
        return Err(WssError::SecurityHeader);
    }
    if let Some(mu) = security.attribute((soap_ns, "mustUnderstand"))
        && !matches!(mu, "1" | "true" | "0" | "false")
    {
        return Err(WssError::MustUnderstand(mu.to_owned()));
    }

    // Its content: one Signature, one Timestamp, any BinarySecurityTokens, at most one
    // SAML assertion.
    let mut signature = None;
    let mut timestamp = None;
    let mut assertion_node = None;
    for child in elements(security) {
        if saml::is_assertion(&child) {
            if assertion_node.replace(child).is_some() {
                return Err(WssError::Cardinality("saml:Assertion"));
            }
        } else if is(&child, NS_DSIG, "Signature") {
            if signature.replace(child).is_some() {
                return Err(WssError::Cardinality("ds:Signature"));
            }
        } else if is(&child, NS_WSU, "Timestamp") {
            if timestamp.replace(child).is_some() {
                return Err(WssError::Cardinality("wsu:Timestamp"));
            }
        } else if !is(&child, NS_WSSE, "BinarySecurityToken") {
            return Err(WssError::UnsupportedToken(
                child.tag_name().name().to_owned(),
            ));
        }
    }
    let signature_node = signature.ok_or(WssError::Cardinality("ds:Signature"))?;
    let timestamp = timestamp.ok_or(WssError::Cardinality("wsu:Timestamp"))?;

    // The Timestamp, against our clock.
    let (created, expires) = parse_timestamp(timestamp)?;
    if created > now + policy.max_clock_skew {
        return Err(WssError::FromTheFuture(created));
    }
    if let Some(expires) = expires {
        if expires <= created {
            return Err(WssError::Timestamp("Expires is not after Created".into()));
        }
        if expires + policy.max_clock_skew < now {
            return Err(WssError::Expired(expires));
        }
    }
    if created + policy.max_age + policy.max_clock_skew < now {
        return Err(WssError::TooOld(created));
    }

    // The signature: its key, its value, its references.
    let signature = Signature::parse(signature_node, policy.algorithms)?;
    let ids = IdIndex::build(doc, policy.ids)?;
    // The assertion, on its own: its issuer's signature, its conditions, what it says.
    let assertion = assertion_node
        .map(|node| {
            saml::verify_assertion(node, doc, &ids, now, &identity.policy, &identity.providers)
        })
        .transpose()?;
    // Canonicalized once: verified, then named by its digest.
    let signed_info = signature.canonical_signed_info();
    let candidates = match holder_key_reference(&signature, assertion_node)? {
        true => match &assertion {
            Some(VerifiedAssertion {
                confirmation: Confirmation::HolderOfKey { certificates },
                ..
            }) => certificates.clone(),
            _ => return Err(WssError::NotTheHolder),
        },
        false => vec![resolve_key(&signature, security, &ids, known)?],
    };
    // The signer's certificate, parsed once for its key and its subject: the one (of the
    // holder's, when the assertion names several) whose key verifies the signature.
    let mut verified = None;
    for der in candidates {
        let certificate =
            Certificate::from_der(&der).map_err(|e| WssError::KeyReference(e.to_string()))?;
        let key = PublicKey::from_parsed_certificate(&certificate)
            .map_err(|e| WssError::KeyReference(e.to_string()))?;
        if key
            .verify(
                signature.method(),
                &signed_info,
                signature.signature_value(),
            )
            .is_ok()
        {
            verified = Some((der, certificate));
            break;
        }
    }
    let (signer, certificate) = verified.ok_or(DsigError::BadSignature)?;
    let mut signed_info_sha256 = [0u8; 32];
    signed_info_sha256.copy_from_slice(digest::digest(&digest::SHA256, &signed_info).as_ref());
    let signed = signature.verify_references(doc, &ids)?;
    if !signed.iter().any(|n| n.id() == body.id()) {
        return Err(WssError::BodyNotSigned);
    }
    if !signed.iter().any(|n| n.id() == timestamp.id()) {
        return Err(WssError::TimestampNotSigned);
    }
    if let Some(node) = assertion_node
        && !signed.iter().any(|n| n.id() == node.id())
    {
        return Err(WssError::AssertionNotSigned);
    }
    if let Some(VerifiedAssertion {
        confirmation: Confirmation::HolderOfKey { certificates },
        ..
    }) = &assertion
        && !certificates.contains(&signer)
    {
        return Err(WssError::NotTheHolder);
    }

    // The signer, at the signing time.
    trust.validate(&signer, &[], created, Purpose::SenderApplication)?;

    let mut signer_sha256 = [0u8; 32];
    signer_sha256.copy_from_slice(digest::digest(&digest::SHA256, &signer).as_ref());
    Ok(VerifiedEnvelope {
        soap_version,
        signer_subject: certificate.tbs_certificate.subject.to_string(),
        signer_sha256,
        signer,
        body,
        timestamp,
        created,
        expires,
        signed,
        assertion,
        signed_info_sha256,
    })
}

/// Whether the signature's key is designated by the assertion of this header (holder-of-key:
/// a SecurityTokenReference whose KeyIdentifier is the assertion's ID); false when the key
/// is designated otherwise. A KeyIdentifier naming another assertion is refused.
fn holder_key_reference(
    signature: &Signature<'_, '_>,
    assertion: Option<Node<'_, '_>>,
) -> Result<bool, WssError> {
    let key_error = |what: &str| WssError::KeyReference(what.to_owned());
    let Some(reference) = signature
        .key_info
        .and_then(|ki| elements(ki).next())
        .filter(|s| is(s, NS_WSSE, "SecurityTokenReference"))
        .and_then(|s| elements(s).next())
        .filter(|r| is(r, NS_WSSE, "KeyIdentifier"))
    else {
        return Ok(false);
    };
    let version = match reference.attribute("ValueType") {
        Some(KEY_IDENTIFIER_SAML2) => SamlVersion::V2_0,
        Some(KEY_IDENTIFIER_SAML11) => SamlVersion::V1_1,
        _ => return Ok(false),
    };
    let named = signed_text(reference).map_err(|e| key_error(&e.to_string()))?;
    let assertion =
        assertion.ok_or_else(|| key_error("the key names an assertion, but there is none"))?;
    let id = match version {
        SamlVersion::V2_0 => assertion.attribute("ID"),
        SamlVersion::V1_1 => assertion.attribute("AssertionID"),
    };
    if id != Some(named.trim()) {
        return Err(key_error(
            "the key names another assertion than the one of this header",
        ));
    }
    Ok(true)
}

/// The certificate a `ds:KeyInfo` / `wsse:SecurityTokenReference` designates.
fn resolve_key(
    signature: &Signature<'_, '_>,
    security: Node<'_, '_>,
    ids: &IdIndex<'_, '_>,
    known: &KnownCertificates,
) -> Result<Vec<u8>, WssError> {
    let key_error = |what: &str| WssError::KeyReference(what.to_owned());
    let key_info = signature.key_info.ok_or_else(|| key_error("no KeyInfo"))?;
    let mut refs = elements(key_info);
    let str_node = match (refs.next(), refs.next()) {
        (Some(s), None) if is(&s, NS_WSSE, "SecurityTokenReference") => s,
        _ => return Err(key_error("KeyInfo must hold one SecurityTokenReference")),
    };
    let mut inner = elements(str_node);
    let reference = match (inner.next(), inner.next()) {
        (Some(r), None) => r,
        _ => return Err(key_error("SecurityTokenReference must hold one reference")),
    };
    if is(&reference, NS_WSSE, "Reference") {
        let uri = reference.attribute("URI").unwrap_or("");
        let id = uri
            .strip_prefix('#')
            .ok_or_else(|| key_error("only same-document token references are supported"))?;
        let token = ids
            .get(id)
            .ok_or_else(|| key_error("the referenced token does not exist"))?;
        let in_this_header = token
            .parent_element()
            .is_some_and(|p| p.id() == security.id());
        if !is(&token, NS_WSSE, "BinarySecurityToken") || !in_this_header {
            return Err(key_error(
                "the reference does not point to a token of this Security header",
            ));
        }
        if token.attribute("ValueType") != Some(X509V3) {
            return Err(key_error("the token is not an X.509 v3 certificate"));
        }
        if token
            .attribute("EncodingType")
            .is_some_and(|e| e != BASE64_BINARY)
        {
            return Err(key_error("the token is not base64"));
        }
        let text = signed_text(token).map_err(|e| key_error(&e.to_string()))?;
        return base64_decode(&text).map_err(|_| key_error("the token is not base64"));
    }
    if is(&reference, NS_WSSE, "KeyIdentifier") {
        let text = signed_text(reference).map_err(|e| key_error(&e.to_string()))?;
        let value =
            base64_decode(&text).map_err(|_| key_error("the KeyIdentifier is not base64"))?;
        return match reference.attribute("ValueType") {
            Some(X509_SKI) => {
                known.find(|_, cert| subject_key_identifier(cert).as_deref() == Some(&value[..]))
            }
            Some(THUMBPRINT_SHA1) => known.find(|der, _| {
                digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref() == value.as_slice()
            }),
            _ => return Err(key_error("unsupported KeyIdentifier ValueType")),
        }
        .ok_or_else(|| key_error("no registered certificate matches the KeyIdentifier"));
    }
    if is(&reference, NS_DSIG, "X509Data") {
        let issuer_serial = elements(reference)
            .find(|n| is(n, NS_DSIG, "X509IssuerSerial"))
            .ok_or_else(|| key_error("X509Data without X509IssuerSerial"))?;
        let field = |name| match elements(issuer_serial).find(|n| is(n, NS_DSIG, name)) {
            Some(node) => signed_text(node)
                .map(|text| text.trim().to_owned())
                .map_err(|e| key_error(&e.to_string())),
            None => Ok(String::new()),
        };
        let (issuer, serial) = (
            normalize_dn(&field("X509IssuerName")?),
            field("X509SerialNumber")?,
        );
        return known
            .find(|_, cert| {
                decimal(cert.tbs_certificate.serial_number.as_bytes()) == serial
                    && normalize_dn(&cert.tbs_certificate.issuer.to_string()) == issuer
            })
            .ok_or_else(|| key_error("no registered certificate matches the issuer and serial"));
    }
    Err(key_error("unsupported token reference"))
}

fn subject_key_identifier(cert: &Certificate) -> Option<Vec<u8>> {
    let ext = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == OID_SUBJECT_KEY_IDENTIFIER)?;
    OctetString::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(|o| o.as_bytes().to_vec())
}

/// A distinguished name in a comparable form: RDNs in written order, attribute types
/// upper-cased, spaces around separators dropped.
fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            let (t, v) = rdn.split_once('=').unwrap_or(("", rdn));
            format!("{}={}", t.trim().to_ascii_uppercase(), v.trim())
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A big-endian unsigned integer in decimal.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0];
    for byte in bytes {
        let mut carry = u32::from(*byte);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
            *d = u8::try_from(v % 10).unwrap_or(0);
            carry = v / 10;
        }
        while carry > 0 {
            digits.push(u8::try_from(carry % 10).unwrap_or(0));
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

fn parse_timestamp(ts: Node<'_, '_>) -> Result<(SystemTime, Option<SystemTime>), WssError> {
    let mut created = None;
    let mut expires = None;
    for child in elements(ts) {
        let text = signed_text(child).map_err(|e| WssError::Timestamp(e.to_string()))?;
        let slot = if is(&child, NS_WSU, "Created") {
            &mut created
        } else if is(&child, NS_WSU, "Expires") {
            &mut expires
        } else {
            return Err(WssError::Timestamp(format!(
                "unexpected {}",
                child.tag_name().name()
            )));
        };
        if slot.replace(parse_date_time(text.trim())?).is_some() {
            return Err(WssError::Timestamp("a repeated field".into()));
        }
    }
    Ok((
        created.ok_or_else(|| WssError::Timestamp("no Created".into()))?,
        expires,
    ))
}

/// An xsd:dateTime with a time zone (`Z` or `±hh:mm`), fractional seconds allowed.
pub fn parse_date_time(text: &str) -> Result<SystemTime, WssError> {
    let bad = || WssError::Timestamp(format!("{text:?} is not an xsd:dateTime with a time zone"));
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| {
        text.get(r)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(bad)
    };
    let dt = DateTime::new(
        num(0..4)?,
        u8::try_from(num(5..7)?).map_err(|_| bad())?,
        u8::try_from(num(8..10)?).map_err(|_| bad())?,
        u8::try_from(num(11..13)?).map_err(|_| bad())?,
        u8::try_from(num(14..16)?).map_err(|_| bad())?,
        u8::try_from(num(17..19)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let mut rest = &text[19..];
    let mut nanos = 0u64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        for (i, c) in frac[..digits].bytes().take(9).enumerate() {
            nanos += u64::from(c - b'0') * 10u64.pow(8 - u32::try_from(i).unwrap_or(8));
        }
        rest = &frac[digits..];
    }
    let base = UNIX_EPOCH + dt.unix_duration() + Duration::from_nanos(nanos);
    match rest.as_bytes() {
        b"Z" => Ok(base),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digit = |c: &u8| {
                c.is_ascii_digit()
                    .then(|| u64::from(c - b'0'))
                    .ok_or_else(bad)
            };
            let offset = Duration::from_secs(
                (digit(h1)? * 10 + digit(h2)?) * 3600 + (digit(m1)? * 10 + digit(m2)?) * 60,
            );
            Ok(if *sign == b'+' {
                base - offset
            } else {
                base + offset
            })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_with_zones_and_fractions() {
        let t = |s| {
            parse_date_time(s)
                .expect(s)
                .duration_since(UNIX_EPOCH)
                .expect("after")
                .as_millis()
        };
        let base = t("2026-11-22T10:00:00Z");
        assert_eq!(base, 1_795_341_600_000);
        assert_eq!(t("2026-11-22T10:00:00.25Z") - base, 250);
        assert_eq!(t("2026-11-22T11:00:00+01:00"), base);
        assert_eq!(t("2026-11-22T09:30:00-00:30"), base);
        for bad in [
            "1970-01-01T00:00:01",
            "1970-01-01 00:00:01Z",
            "1970-13-01T00:00:01Z",
            "1970-01-01T00:00:01.Z",
            "x",
        ] {
            assert!(parse_date_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serial_numbers_in_decimal() {
        assert_eq!(decimal(&[0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 8]), "18446744073709551615");
    }
}

//! SAML assertions as identification vectors (OASIS WSS SAML Token Profile 1.1; SAML 2.0 and
//! SAML 1.1 assertions): [`verify_assertion`] answers "this assertion was issued and signed by
//! this configured identity provider, it is valid now for us, and it says this", reading every
//! value from the one node the provider's signature covers, with [`signed_text`].
//!
//! What is refused: an assertion without its own enveloped signature, or whose signature
//! covers another element than itself (signature wrapping), or is by a key the issuer's
//! configuration does not name (the certificate in its KeyInfo is never trusted); an issuer
//! that is not configured; an assertion outside its Conditions (NotBefore, NotOnOrAfter, the
//! audience), issued in the future or too long ago, with a condition we do not understand;
//! a subject that is not one NameID; the bearer confirmation method (an assertion in a
//! message must be bound to the message's signer: holder-of-key names the key, sender-vouches
//! is vouched for by the signing application); a value holding a comment or an element.

use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use der::Decode;
use roxmltree::{Document, Node};

use crate::c14n::{Canonicalization, canonicalize};
use crate::dsig::signed_base64;
use crate::dsig::{AlgorithmPolicy, DsigError, IdIndex, NS_DSIG, PublicKey, Signature};
use crate::signed_text::signed_text;
use crate::trust::{Purpose, TrustAnchors};
use crate::wss::parse_date_time;

pub const NS_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_SAML11: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

pub const CM_HOLDER_OF_KEY_2: &str = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
pub const CM_SENDER_VOUCHES_2: &str = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches";
pub const CM_BEARER_2: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const CM_HOLDER_OF_KEY_11: &str = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key";
pub const CM_SENDER_VOUCHES_11: &str = "urn:oasis:names:tc:SAML:1.0:cm:sender-vouches";

/// The KeyIdentifier value types that designate an assertion as the message signature's key
/// (holder-of-key): SAML 2.0 by its `ID`, SAML 1.1 by its `AssertionID`.
pub const KEY_IDENTIFIER_SAML2: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID";
pub const KEY_IDENTIFIER_SAML11: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID";

/// An identity provider the operator trusts to vouch for the agents of a sender organisation:
/// its entity id (the assertions' Issuer) and the certificates whose keys sign its assertions
/// (from its metadata; pinned). An assertion is accepted only while the certificate whose key
/// signed it is within its validity dates; a certificate issued by a CA the operator trusts
/// ([`IdentityProvider::checked`]) must also chain to it and not be revoked, at each
/// assertion.
#[derive(Clone, Debug)]
pub struct IdentityProvider {
    pub entity_id: String,
    keys: Vec<ProviderKey>,
}

/// One of a provider's certificates.
#[derive(Clone, Debug)]
struct ProviderKey {
    key: PublicKey,
    certificate: Vec<u8>,
    subject: String,
    not_before: SystemTime,
    not_after: SystemTime,
    /// The trust store its chain and revocation status are checked by; `None`: pinned only.
    issued_under: Option<TrustAnchors>,
}

impl ProviderKey {
    fn refused(&self, why: impl std::fmt::Display) -> SamlError {
        SamlError::ProviderCertificate {
            subject: self.subject.clone(),
            why: why.to_string(),
        }
    }

    /// Whether the certificate may vouch at `now`: within its dates, and, when it is issued
    /// under a trust store, trusted by it then (chain, revocation).
    fn dates_at(&self, now: SystemTime) -> Result<(), SamlError> {
        if now < self.not_before {
            return Err(self.refused(format!(
                "not valid before {}",
                sealpost_model::time::format_date_time(self.not_before)
            )));
        }
        if now > self.not_after {
            return Err(self.refused(format!(
                "expired at {}",
                sealpost_model::time::format_date_time(self.not_after)
            )));
        }
        Ok(())
    }

    fn trusted_at(&self, now: SystemTime) -> Result<(), SamlError> {
        match &self.issued_under {
            Some(trust) => trust
                .validate(&self.certificate, &[], now, Purpose::Any)
                .map_err(|e| self.refused(e)),
            None => Ok(()),
        }
    }
}

impl IdentityProvider {
    /// `certificates`: DER, pinned; a certificate whose key cannot be used is an error.
    pub fn new(entity_id: &str, certificates: &[Vec<u8>]) -> Result<Self, DsigError> {
        let pinned: Vec<(Vec<u8>, Option<TrustAnchors>)> =
            certificates.iter().map(|c| (c.clone(), None)).collect();
        Self::checked(entity_id, &pinned)
    }

    /// `certificates`: DER, each with the trust store that checks its chain and revocation
    /// status at each assertion (a certificate a trusted CA issued), or none (pinned: a
    /// self-signed certificate from the provider's metadata cannot be revoked).
    pub fn checked(
        entity_id: &str,
        certificates: &[(Vec<u8>, Option<TrustAnchors>)],
    ) -> Result<Self, DsigError> {
        Ok(IdentityProvider {
            entity_id: entity_id.to_owned(),
            keys: certificates
                .iter()
                .map(|(der, issued_under)| {
                    let cert = x509_cert::Certificate::from_der(der)
                        .map_err(|e| DsigError::Key(e.to_string()))?;
                    let validity = &cert.tbs_certificate.validity;
                    Ok(ProviderKey {
                        key: PublicKey::from_parsed_certificate(&cert)?,
                        certificate: der.clone(),
                        subject: cert.tbs_certificate.subject.to_string(),
                        not_before: validity.not_before.to_system_time(),
                        not_after: validity.not_after.to_system_time(),
                        issued_under: issued_under.clone(),
                    })
                })
                .collect::<Result<_, DsigError>>()?,
        })
    }
}

/// The identity providers whose assertions a channel accepts, and what their assertions must
/// satisfy. With no provider, every assertion is refused.
#[derive(Clone, Debug)]
pub struct SamlTrust {
    pub policy: SamlPolicy,
    pub providers: Vec<IdentityProvider>,
}

impl SamlTrust {
    /// No identity provider: assertions are refused.
    pub fn none() -> Self {
        SamlTrust {
            policy: SamlPolicy {
                algorithms: AlgorithmPolicy::default(),
                audience: String::new(),
                max_clock_skew: Duration::from_secs(300),
                max_age: Duration::from_secs(3600),
            },
            providers: Vec::new(),
        }
    }
}

/// What an assertion must satisfy besides its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlPolicy {
    pub algorithms: AlgorithmPolicy,
    /// Our name: an assertion must be restricted to this audience.
    pub audience: String,
    /// Tolerated difference between the provider's clock and ours.
    pub max_clock_skew: Duration,
    /// How long after its IssueInstant an assertion may be presented, whatever its
    /// NotOnOrAfter says (it bounds how long its mark must be kept against a replay).
    pub max_age: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamlVersion {
    V2_0,
    V1_1,
}

impl SamlVersion {
    pub fn name(self) -> &'static str {
        match self {
            SamlVersion::V2_0 => "SAML 2.0",
            SamlVersion::V1_1 => "SAML 1.1",
        }
    }
}

/// How the assertion is bound to the message that carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The message must be signed with the key of one of these certificates (DER).
    HolderOfKey { certificates: Vec<Vec<u8>> },
    /// The message's signer (a registered application) vouches for the subject.
    SenderVouches,
    /// Whoever presents it (a browser login's response, for the one request it answers, at
    /// the one address it names).
    Bearer,
}

impl Confirmation {
    pub fn name(&self) -> &'static str {
        match self {
            Confirmation::HolderOfKey { .. } => "holder-of-key",
            Confirmation::SenderVouches => "sender-vouches",
            Confirmation::Bearer => "bearer",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    #[error("the assertion is malformed: {0}")]
    Malformed(String),
    #[error("the assertion's signature: {0}")]
    Signature(#[from] DsigError),
    #[error("the assertion is not signed by its issuer (an enveloped signature over itself)")]
    NotSigned,
    #[error("the assertion's issuer {0:?} is not a configured identity provider")]
    UntrustedIssuer(String),
    #[error("the assertion is not valid before {}", sealpost_model::time::format_date_time(*.0))]
    NotYetValid(SystemTime),
    #[error("the assertion expired at {}", sealpost_model::time::format_date_time(*.0))]
    Expired(SystemTime),
    #[error("the assertion is for another audience")]
    Audience,
    #[error("the assertion holds a condition that is not understood: {0}")]
    UnknownCondition(String),
    #[error("the subject confirmation: {0}")]
    Confirmation(String),
    #[error("the identity provider answered {0}")]
    Status(String),
    /// The certificate whose key signed the assertion may not vouch now: outside its dates,
    /// or (issued by a trusted CA) revoked, its status unknown, or no longer chaining.
    #[error("the identity provider's certificate {subject} is refused: {why}")]
    ProviderCertificate { subject: String, why: String },
}

/// An assertion whose signature, issuer and conditions verified: what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub version: SamlVersion,
    /// Its `ID` (2.0) or `AssertionID` (1.1).
    pub id: String,
    pub issuer: String,
    pub issue_instant: SystemTime,
    pub not_on_or_after: SystemTime,
    /// The subject: NameID (2.0) or NameIdentifier (1.1), and its Format if given.
    pub subject: String,
    pub subject_format: Option<String>,
    pub confirmation: Confirmation,
    /// The AuthnContextClassRef (2.0) or AuthenticationMethod (1.1), if stated.
    pub authentication_context: Option<String>,
    pub authentication_instant: Option<SystemTime>,
    /// Each attribute's name (2.0 `Name`, 1.1 `AttributeName`) and values, in order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// The assertion in Exclusive C14N, its signature included: what is archived (it verifies
    /// on its own with standard tools).
    pub canonical: Vec<u8>,
    pub canonical_sha256: [u8; 32],
}

impl VerifiedAssertion {
    /// The one value of attribute `name`: `None` when it is absent or states several (an
    /// attribute that names one thing is never read as its first value).
    pub fn single(&self, name: &str) -> Option<&str> {
        match self.values(name) {
            [one] => Some(one.as_str()),
            _ => None,
        }
    }

    /// The values of attribute `name` (none when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

fn malformed(what: impl Into<String>) -> SamlError {
    SamlError::Malformed(what.into())
}

fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// The whole text of a signed element, trimmed.
fn text(node: Node<'_, '_>) -> Result<String, SamlError> {
    signed_text(node)
        .map(|t| t.trim().to_owned())
        .map_err(|e| malformed(e.to_string()))
}

fn time(value: &str) -> Result<SystemTime, SamlError> {
    parse_date_time(value.trim()).map_err(|e| malformed(e.to_string()))
}

fn required<'a>(node: Node<'a, '_>, attribute: &str) -> Result<&'a str, SamlError> {
    node.attribute(attribute)
        .ok_or_else(|| malformed(format!("{} has no {attribute}", node.tag_name().name())))
}

/// Whether `node` is a SAML assertion (2.0 or 1.1) we read.
pub fn is_assertion(node: &Node<'_, '_>) -> bool {
    is(node, NS_SAML2, "Assertion") || is(node, NS_SAML11, "Assertion")
}

/// Where an assertion is presented, which decides the confirmation methods it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presented<'a> {
    /// In a WS-Security header: holder-of-key or sender-vouches, bound to the message.
    InMessage,
    /// In a browser login's response: bearer, for this request at this address.
    ToBrowser {
        recipient: &'a str,
        in_response_to: &'a str,
    },
}

/// Verifies `assertion`, an element of `doc` (`ids` is the document's Id index, which refuses
/// duplicate identifiers), at `now`, as a WS-Security token (holder-of-key or sender-vouches).
pub fn verify_assertion<'a, 'i>(
    assertion: Node<'a, 'i>,
    doc: &'a Document<'i>,
    ids: &IdIndex<'a, 'i>,
    now: SystemTime,
    policy: &SamlPolicy,
    providers: &[IdentityProvider],
) -> Result<VerifiedAssertion, SamlError> {
    verify(
        assertion,
        doc,
        ids,
        now,
        policy,
        providers,
        Presented::InMessage,
    )
}

pub const NS_SAML2P: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Verifies a SAML 2.0 Web Browser SSO response (`doc`, a samlp:Response received by the
/// HTTP-POST binding at `acs_url`) to our AuthnRequest `request_id`, from `provider`: its
/// status, then its one assertion, signed by the provider, with a bearer confirmation for
/// this request at this address. What the Response itself says beyond that is not read.
pub fn verify_response(
    doc: &Document<'_>,
    now: SystemTime,
    policy: &SamlPolicy,
    provider: &IdentityProvider,
    acs_url: &str,
    request_id: &str,
) -> Result<VerifiedAssertion, SamlError> {
    let response = doc.root_element();
    if !is(&response, NS_SAML2P, "Response") || response.attribute("Version") != Some("2.0") {
        return Err(malformed("not a SAML 2.0 Response"));
    }
    if response
        .attribute("Destination")
        .is_some_and(|d| d != acs_url)
    {
        return Err(SamlError::Confirmation(
            "the response is addressed elsewhere".into(),
        ));
    }
    if response.attribute("InResponseTo") != Some(request_id) {
        return Err(SamlError::Confirmation(
            "the response answers another request".into(),
        ));
    }
    let status = elements(response)
        .find(|n| is(n, NS_SAML2P, "Status"))
        .and_then(|s| elements(s).find(|n| is(n, NS_SAML2P, "StatusCode")))
        .and_then(|c| c.attribute("Value"))
        .ok_or_else(|| malformed("the response has no status"))?;
    if status != STATUS_SUCCESS {
        return Err(SamlError::Status(status.to_owned()));
    }
    let assertions: Vec<Node<'_, '_>> = elements(response)
        .filter(|n| n.tag_name().name().ends_with("Assertion"))
        .collect();
    let [assertion] = assertions.as_slice() else {
        return Err(malformed("the response must hold exactly one assertion"));
    };
    if !is(assertion, NS_SAML2, "Assertion") {
        return Err(malformed("an encrypted or foreign assertion is not read"));
    }
    let ids = IdIndex::build(doc, crate::dsig::IdPolicy::default())?;
    verify(
        *assertion,
        doc,
        &ids,
        now,
        policy,
        std::slice::from_ref(provider),
        Presented::ToBrowser {
            recipient: acs_url,
            in_response_to: request_id,
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn verify<'a, 'i>(
    assertion: Node<'a, 'i>,
    doc: &'a Document<'i>,
    ids: &IdIndex<'a, 'i>,
    now: SystemTime,
    policy: &SamlPolicy,
    providers: &[IdentityProvider],
    presented: Presented<'_>,
) -> Result<VerifiedAssertion, SamlError> {
    let version = if is(&assertion, NS_SAML2, "Assertion") {
        if required(assertion, "Version")? != "2.0" {
            return Err(malformed("a SAML 2.0 assertion must say Version=\"2.0\""));
        }
        SamlVersion::V2_0
    } else if is(&assertion, NS_SAML11, "Assertion") {
        if required(assertion, "MajorVersion")? != "1"
            || required(assertion, "MinorVersion")? != "1"
        {
            return Err(malformed("a SAML 1.x assertion must be version 1.1"));
        }
        SamlVersion::V1_1
    } else {
        return Err(malformed("not a SAML 2.0 or 1.1 Assertion"));
    };
    let (id, issuer) = match version {
        SamlVersion::V2_0 => {
            let issuers: Vec<Node<'_, '_>> = elements(assertion)
                .filter(|n| is(n, NS_SAML2, "Issuer"))
                .collect();
            let [issuer] = issuers.as_slice() else {
                return Err(malformed("a SAML 2.0 assertion needs exactly one Issuer"));
            };
            if issuer
                .attribute("Format")
                .is_some_and(|f| f != "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
            {
                return Err(malformed("the Issuer must be an entity id"));
            }
            (required(assertion, "ID")?, text(*issuer)?)
        }
        SamlVersion::V1_1 => (
            required(assertion, "AssertionID")?,
            required(assertion, "Issuer")?.trim().to_owned(),
        ),
    };

    // The signature: the assertion's own, enveloped, over the assertion itself, by a key of
    // its configured issuer.
    let provider = providers
        .iter()
        .find(|p| p.entity_id == issuer)
        .ok_or_else(|| SamlError::UntrustedIssuer(issuer.clone()))?;
    let signatures: Vec<Node<'_, '_>> = elements(assertion)
        .filter(|n| is(n, NS_DSIG, "Signature"))
        .collect();
    let [signature_node] = signatures.as_slice() else {
        return Err(SamlError::NotSigned);
    };
    if assertion
        .descendants()
        .filter(|n| is(n, NS_DSIG, "Signature"))
        .count()
        != 1
    {
        return Err(malformed("a signature inside the assertion's content"));
    }
    let signature = Signature::parse(*signature_node, policy.algorithms)?;
    if signature.enveloped_reference_id() != Some(id) {
        return Err(SamlError::NotSigned);
    }
    // The first certificate whose key verifies and which is within its dates (a renewed
    // certificate may carry the same key as an expired one).
    let (mut signed_by, mut refusal) = (None, None);
    for key in &provider.keys {
        if signature.verify_value(&key.key).is_err() {
            continue;
        }
        match key.dates_at(now) {
            Ok(()) => {
                signed_by = Some(key);
                break;
            }
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    let signed_by = signed_by
        .ok_or_else(|| refusal.unwrap_or(SamlError::Signature(DsigError::BadSignature)))?;
    let covered = signature.verify_references(doc, ids)?;
    if covered.iter().map(Node::id).ne([assertion.id()]) {
        return Err(SamlError::NotSigned);
    }

    // Times, against our clock.
    let skew = policy.max_clock_skew;
    let issue_instant = time(required(assertion, "IssueInstant")?)?;
    if issue_instant > now + skew {
        return Err(SamlError::NotYetValid(issue_instant));
    }
    if issue_instant + policy.max_age + skew < now {
        return Err(SamlError::Expired(issue_instant + policy.max_age));
    }
    let not_on_or_after = conditions(assertion, version, now, policy)?;

    // What it says.
    let said = match (version, presented) {
        (SamlVersion::V2_0, _) => read_saml2(assertion, now, skew, presented)?,
        (SamlVersion::V1_1, Presented::InMessage) => read_saml11(assertion)?,
        (SamlVersion::V1_1, Presented::ToBrowser { .. }) => {
            return Err(malformed("a browser login takes SAML 2.0 only"));
        }
    };
    // Last, as it may ask the CA's revocation services: the certificate still trusted.
    signed_by.trusted_at(now)?;
    let canonical = canonicalize(assertion, &Canonicalization::exclusive(), None);
    let mut canonical_sha256 = [0u8; 32];
    canonical_sha256.copy_from_slice(digest::digest(&digest::SHA256, &canonical).as_ref());
    Ok(VerifiedAssertion {
        version,
        id: id.to_owned(),
        issuer,
        issue_instant,
        not_on_or_after,
        subject: said.subject,
        subject_format: said.subject_format,
        confirmation: said.confirmation,
        authentication_context: said.authentication_context,
        authentication_instant: said.authentication_instant,
        attributes: said.attributes,
        canonical,
        canonical_sha256,
    })
}

/// The Conditions: required, with a NotOnOrAfter and an audience restriction naming us;
/// returns NotOnOrAfter.
fn conditions(
    assertion: Node<'_, '_>,
    version: SamlVersion,
    now: SystemTime,
    policy: &SamlPolicy,
) -> Result<SystemTime, SamlError> {
    let ns = match version {
        SamlVersion::V2_0 => NS_SAML2,
        SamlVersion::V1_1 => NS_SAML11,
    };
    let all: Vec<Node<'_, '_>> = elements(assertion)
        .filter(|n| is(n, ns, "Conditions"))
        .collect();
    let [conditions] = all.as_slice() else {
        return Err(malformed("the assertion needs exactly one Conditions"));
    };
    let skew = policy.max_clock_skew;
    if let Some(not_before) = conditions.attribute("NotBefore") {
        let not_before = time(not_before)?;
        if not_before > now + skew {
            return Err(SamlError::NotYetValid(not_before));
        }
    }
    let not_on_or_after = time(
        conditions
            .attribute("NotOnOrAfter")
            .ok_or_else(|| malformed("the Conditions must state NotOnOrAfter"))?,
    )?;
    if not_on_or_after + skew <= now {
        return Err(SamlError::Expired(not_on_or_after));
    }
    let restriction = match version {
        SamlVersion::V2_0 => "AudienceRestriction",
        SamlVersion::V1_1 => "AudienceRestrictionCondition",
    };
    let mut restricted = false;
    for condition in elements(*conditions) {
        if is(&condition, ns, restriction) {
            // Every restriction must be met; each lists the audiences it allows.
            let mut ours = false;
            for audience in elements(condition) {
                if !is(&audience, ns, "Audience") {
                    return Err(malformed("an audience restriction holds something else"));
                }
                ours |= text(audience)? == policy.audience;
            }
            if !ours {
                return Err(SamlError::Audience);
            }
            restricted = true;
        } else if is(&condition, ns, "OneTimeUse") || is(&condition, ns, "DoNotCacheCondition") {
            // Every assertion is used once here.
        } else {
            return Err(SamlError::UnknownCondition(
                condition.tag_name().name().to_owned(),
            ));
        }
    }
    if !restricted {
        return Err(SamlError::Audience);
    }
    Ok(not_on_or_after)
}

/// What an assertion's statements say.
struct Said {
    subject: String,
    subject_format: Option<String>,
    confirmation: Confirmation,
    authentication_context: Option<String>,
    authentication_instant: Option<SystemTime>,
    attributes: Vec<(String, Vec<String>)>,
}

/// The certificates of a confirmation's `ds:KeyInfo` (X509Data/X509Certificate only: a bare
/// key value is not a certificate the registry can know).
fn key_info_certificates(key_info: Node<'_, '_>) -> Result<Vec<Vec<u8>>, SamlError> {
    let mut certificates = Vec::new();
    for data in elements(key_info) {
        if !is(&data, NS_DSIG, "X509Data") {
            return Err(SamlError::Confirmation(
                "the holder's key must be given as an X.509 certificate".into(),
            ));
        }
        for item in elements(data).filter(|n| is(n, NS_DSIG, "X509Certificate")) {
            certificates.push(signed_base64(item)?);
        }
    }
    if certificates.is_empty() {
        return Err(SamlError::Confirmation(
            "holder-of-key without a certificate".into(),
        ));
    }
    Ok(certificates)
}

fn read_saml2(
    assertion: Node<'_, '_>,
    now: SystemTime,
    skew: Duration,
    presented: Presented<'_>,
) -> Result<Said, SamlError> {
    let subjects: Vec<Node<'_, '_>> = elements(assertion)
        .filter(|n| is(n, NS_SAML2, "Subject"))
        .collect();
    let [subject] = subjects.as_slice() else {
        return Err(malformed("the assertion needs exactly one Subject"));
    };
    let mut name_id = None;
    let mut confirmation = None;
    for child in elements(*subject) {
        if is(&child, NS_SAML2, "NameID") {
            if name_id.replace(child).is_some() {
                return Err(malformed("the Subject holds two NameIDs"));
            }
        } else if is(&child, NS_SAML2, "SubjectConfirmation") {
            if confirmation.replace(child).is_some() {
                return Err(SamlError::Confirmation(
                    "exactly one SubjectConfirmation is accepted".into(),
                ));
            }
        } else {
            // BaseID, EncryptedID: not an identifier we can read.
            return Err(malformed(format!(
                "the Subject holds {}",
                child.tag_name().name()
            )));
        }
    }
    let name_id = name_id.ok_or_else(|| malformed("the Subject has no NameID"))?;
    let confirmation = confirmation
        .ok_or_else(|| SamlError::Confirmation("the Subject has no SubjectConfirmation".into()))?;
    let data: Vec<Node<'_, '_>> = elements(confirmation)
        .filter(|n| is(n, NS_SAML2, "SubjectConfirmationData"))
        .collect();
    if elements(confirmation).count() != data.len() {
        return Err(SamlError::Confirmation(
            "a SubjectConfirmation holds an identifier of its own".into(),
        ));
    }
    let data = match data.as_slice() {
        [] => None,
        [d] => Some(*d),
        _ => {
            return Err(SamlError::Confirmation(
                "two SubjectConfirmationData".into(),
            ));
        }
    };
    if let Some(d) = data {
        if let Some(nb) = d.attribute("NotBefore")
            && time(nb)? > now + skew
        {
            return Err(SamlError::NotYetValid(time(nb)?));
        }
        if let Some(na) = d.attribute("NotOnOrAfter")
            && time(na)? + skew <= now
        {
            return Err(SamlError::Expired(time(na)?));
        }
    }
    let confirmation = match (required(confirmation, "Method")?, presented) {
        (
            CM_BEARER_2,
            Presented::ToBrowser {
                recipient,
                in_response_to,
            },
        ) => {
            // For this request, at this address, until a time: nothing else makes a bearer
            // assertion safe to accept.
            let d = data.ok_or_else(|| {
                SamlError::Confirmation("bearer without SubjectConfirmationData".into())
            })?;
            if d.attribute("Recipient") != Some(recipient) {
                return Err(SamlError::Confirmation(
                    "the assertion is for another address".into(),
                ));
            }
            if d.attribute("InResponseTo") != Some(in_response_to) {
                return Err(SamlError::Confirmation(
                    "the assertion answers another request".into(),
                ));
            }
            if d.attribute("NotOnOrAfter").is_none() {
                return Err(SamlError::Confirmation(
                    "bearer without NotOnOrAfter".into(),
                ));
            }
            Confirmation::Bearer
        }
        (CM_HOLDER_OF_KEY_2, Presented::InMessage) => {
            let d = data.ok_or_else(|| {
                SamlError::Confirmation("holder-of-key without SubjectConfirmationData".into())
            })?;
            if d.attribute((NS_XSI, "type"))
                .is_some_and(|t| t.rsplit(':').next() != Some("KeyInfoConfirmationDataType"))
            {
                return Err(SamlError::Confirmation(
                    "holder-of-key data of another type".into(),
                ));
            }
            let key_infos: Vec<Node<'_, '_>> = elements(d).collect();
            if key_infos.is_empty() || !key_infos.iter().all(|k| is(k, NS_DSIG, "KeyInfo")) {
                return Err(SamlError::Confirmation(
                    "holder-of-key data must hold ds:KeyInfo only".into(),
                ));
            }
            let mut certificates = Vec::new();
            for key_info in key_infos {
                certificates.extend(key_info_certificates(key_info)?);
            }
            Confirmation::HolderOfKey { certificates }
        }
        (CM_SENDER_VOUCHES_2, Presented::InMessage) => Confirmation::SenderVouches,
        (other, _) => {
            return Err(SamlError::Confirmation(format!(
                "the method {other:?} does not bind the assertion to the message"
            )));
        }
    };

    let mut authentication_context = None;
    let mut authentication_instant = None;
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    let mut authn_statements = 0;
    for statement in elements(assertion) {
        if is(&statement, NS_SAML2, "AuthnStatement") {
            authn_statements += 1;
            if authn_statements > 1 {
                return Err(malformed("two AuthnStatements"));
            }
            authentication_instant = Some(time(required(statement, "AuthnInstant")?)?);
            let classes: Vec<Node<'_, '_>> = statement
                .descendants()
                .filter(|n| is(n, NS_SAML2, "AuthnContextClassRef"))
                .collect();
            authentication_context = match classes.as_slice() {
                [] => None,
                [class] => Some(text(*class)?),
                _ => return Err(malformed("two AuthnContextClassRefs")),
            };
        } else if is(&statement, NS_SAML2, "AttributeStatement") {
            for attribute in elements(statement) {
                if !is(&attribute, NS_SAML2, "Attribute") {
                    // An EncryptedAttribute is not read.
                    return Err(malformed(format!(
                        "an AttributeStatement holds {}",
                        attribute.tag_name().name()
                    )));
                }
                let values = elements(attribute)
                    .filter(|v| is(v, NS_SAML2, "AttributeValue"))
                    .map(text)
                    .collect::<Result<Vec<_>, _>>()?;
                add_attribute(&mut attributes, required(attribute, "Name")?, values)?;
            }
        } else if !(is(&statement, NS_SAML2, "Issuer")
            || is(&statement, NS_DSIG, "Signature")
            || is(&statement, NS_SAML2, "Subject")
            || is(&statement, NS_SAML2, "Conditions"))
        {
            // Advice, AuthzDecisionStatement, Statement: nothing we would read.
            return Err(malformed(format!(
                "the assertion holds {}",
                statement.tag_name().name()
            )));
        }
    }
    Ok(Said {
        subject: text(name_id)?,
        subject_format: name_id.attribute("Format").map(str::to_owned),
        confirmation,
        authentication_context,
        authentication_instant,
        attributes,
    })
}

fn add_attribute(
    attributes: &mut Vec<(String, Vec<String>)>,
    name: &str,
    values: Vec<String>,
) -> Result<(), SamlError> {
    if attributes.iter().any(|(n, _)| n == name) {
        return Err(malformed(format!("the attribute {name:?} is given twice")));
    }
    attributes.push((name.to_owned(), values));
    Ok(())
}

/// A SAML 1.1 statement's Subject: its NameIdentifier (text, Format) and confirmation.
fn subject11(statement: Node<'_, '_>) -> Result<(String, Option<String>, Confirmation), SamlError> {
    let subjects: Vec<Node<'_, '_>> = elements(statement)
        .filter(|n| is(n, NS_SAML11, "Subject"))
        .collect();
    let [subject] = subjects.as_slice() else {
        return Err(malformed("a statement needs exactly one Subject"));
    };
    let mut name = None;
    let mut confirmation = None;
    for child in elements(*subject) {
        if is(&child, NS_SAML11, "NameIdentifier") && name.is_none() {
            name = Some(child);
        } else if is(&child, NS_SAML11, "SubjectConfirmation") && confirmation.is_none() {
            confirmation = Some(child);
        } else {
            return Err(malformed(format!(
                "the Subject holds {}",
                child.tag_name().name()
            )));
        }
    }
    let name = name.ok_or_else(|| malformed("the Subject has no NameIdentifier"))?;
    let confirmation = confirmation
        .ok_or_else(|| SamlError::Confirmation("the Subject has no SubjectConfirmation".into()))?;
    let mut methods = Vec::new();
    let mut key_info = None;
    for child in elements(confirmation) {
        if is(&child, NS_SAML11, "ConfirmationMethod") {
            methods.push(text(child)?);
        } else if is(&child, NS_DSIG, "KeyInfo") && key_info.is_none() {
            key_info = Some(child);
        } else {
            return Err(SamlError::Confirmation(format!(
                "the SubjectConfirmation holds {}",
                child.tag_name().name()
            )));
        }
    }
    let confirmation = match methods.as_slice() {
        [m] if m == CM_HOLDER_OF_KEY_11 => Confirmation::HolderOfKey {
            certificates: key_info_certificates(key_info.ok_or_else(|| {
                SamlError::Confirmation("holder-of-key without ds:KeyInfo".into())
            })?)?,
        },
        [m] if m == CM_SENDER_VOUCHES_11 && key_info.is_none() => Confirmation::SenderVouches,
        [m] => {
            return Err(SamlError::Confirmation(format!(
                "the method {m:?} does not bind the assertion to the message"
            )));
        }
        _ => {
            return Err(SamlError::Confirmation(
                "exactly one ConfirmationMethod is accepted".into(),
            ));
        }
    };
    Ok((
        text(name)?,
        name.attribute("Format").map(str::to_owned),
        confirmation,
    ))
}

fn read_saml11(assertion: Node<'_, '_>) -> Result<Said, SamlError> {
    let mut subject: Option<(String, Option<String>, Confirmation)> = None;
    let mut authentication_context = None;
    let mut authentication_instant = None;
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    let mut authentication_statements = 0;
    for statement in elements(assertion) {
        let authentication = is(&statement, NS_SAML11, "AuthenticationStatement");
        let attribute = is(&statement, NS_SAML11, "AttributeStatement");
        if !(authentication || attribute) {
            if is(&statement, NS_SAML11, "Conditions") || is(&statement, NS_DSIG, "Signature") {
                continue;
            }
            return Err(malformed(format!(
                "the assertion holds {}",
                statement.tag_name().name()
            )));
        }
        // Every statement is about the same subject, confirmed the same way.
        let this = subject11(statement)?;
        match &subject {
            Some(first) if *first != this => {
                return Err(malformed("the statements are about different subjects"));
            }
            Some(_) => {}
            None => subject = Some(this),
        }
        if authentication {
            authentication_statements += 1;
            if authentication_statements > 1 {
                return Err(malformed("two AuthenticationStatements"));
            }
            authentication_context = Some(
                required(statement, "AuthenticationMethod")?
                    .trim()
                    .to_owned(),
            );
            authentication_instant = Some(time(required(statement, "AuthenticationInstant")?)?);
        } else {
            for a in elements(statement).filter(|n| !is(n, NS_SAML11, "Subject")) {
                if !is(&a, NS_SAML11, "Attribute") {
                    return Err(malformed(format!(
                        "an AttributeStatement holds {}",
                        a.tag_name().name()
                    )));
                }
                let values = elements(a)
                    .filter(|v| is(v, NS_SAML11, "AttributeValue"))
                    .map(text)
                    .collect::<Result<Vec<_>, _>>()?;
                add_attribute(&mut attributes, required(a, "AttributeName")?, values)?;
            }
        }
    }
    let (subject, subject_format, confirmation) =
        subject.ok_or_else(|| malformed("the assertion makes no statement about a subject"))?;
    Ok(Said {
        subject,
        subject_format,
        confirmation,
        authentication_context,
        authentication_instant,
        attributes,
    })
}

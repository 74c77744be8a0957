//! Signing SOAP envelopes with WS-Security as a sender application would: a
//! BinarySecurityToken with the certificate, a Timestamp, and a Signature (Exclusive C14N,
//! SHA-256) over the Body and the Timestamp.

use std::time::{Duration, SystemTime};

use crate::c14n::{Canonicalization, EXC_C14N, canonicalize};
use crate::document::{DocumentError, DocumentSigner};
use crate::dsig::{DigestAlgorithm, NS_DSIG, NS_WSU, base64_encode};
use crate::parse::{Limits, parse, start_tag};
use crate::wss::{BASE64_BINARY, NS_SOAP11, NS_SOAP12, NS_WSSE, X509V3};

const BODY_ID: &str = "id-body";
const TIMESTAMP_ID: &str = "id-timestamp";
const TOKEN_ID: &str = "id-token";

pub use sealpost_model::time::format_date_time;

/// A Timestamp's time, to the millisecond (as WSS4J writes it): what a sender signs names
/// the request, so two envelopes signed a moment apart must not say the same.
fn format_timestamp_time(t: SystemTime) -> String {
    let millis = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    let whole = format_date_time(t);
    format!("{}.{millis:03}Z", whole.trim_end_matches('Z'))
}

/// Signs `envelope` (a SOAP 1.1 or 1.2 Envelope with a Body, a Header optional, no
/// Security header yet): the Timestamp says `created` and `created + ttl`, to the
/// millisecond.
pub fn sign_envelope(
    envelope: &str,
    signer: &DocumentSigner,
    created: SystemTime,
    ttl: Duration,
) -> Result<String, DocumentError> {
    sign_envelope_with_limits(envelope, signer, created, ttl, &Limits::default())
}

/// [`sign_envelope`] with other parsing limits (an envelope over the default 32 MiB, say).
pub fn sign_envelope_with_limits(
    envelope: &str,
    signer: &DocumentSigner,
    created: SystemTime,
    ttl: Duration,
    limits: &Limits,
) -> Result<String, DocumentError> {
    sign(envelope, signer, created, ttl, limits, None)
}

/// How a SAML assertion in the Security header is bound to the message (SAML Token Profile
/// 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamlBinding {
    /// The message's key is designated by the assertion (a KeyIdentifier naming its ID); the
    /// assertion names the signer's certificate.
    HolderOfKey,
    /// The signer's certificate travels as a BinarySecurityToken; the signer vouches.
    SenderVouches,
}

/// [`sign_envelope`] with a signed SAML assertion (its XML, as its identity provider signed
/// it) in the Security header, covered by the message's signature like the Body and the
/// Timestamp.
pub fn sign_envelope_with_assertion(
    envelope: &str,
    signer: &DocumentSigner,
    created: SystemTime,
    ttl: Duration,
    assertion: &str,
    binding: SamlBinding,
) -> Result<String, DocumentError> {
    sign(
        envelope,
        signer,
        created,
        ttl,
        &Limits::default(),
        Some((assertion, binding)),
    )
}

/// Signs a SAML 2.0 or 1.1 assertion as its identity provider does: an enveloped signature
/// over the assertion by its ID (enveloped-signature and Exclusive C14N, SHA-256), after
/// the Issuer (2.0) or as the last child (1.1), with the signer's certificate in KeyInfo.
pub fn sign_assertion(assertion: &str, signer: &DocumentSigner) -> Result<String, DocumentError> {
    let bad = |what: &str| DocumentError::Signing(what.to_owned());
    let doc = parse(assertion, &Limits::default())?;
    let root = doc.root_element();
    let (id, insert_at) = match root.tag_name().namespace() {
        Some(crate::saml::NS_SAML2) => {
            let issuer = root
                .children()
                .find(|c| c.is_element() && c.tag_name().name() == "Issuer")
                .ok_or_else(|| bad("a SAML 2.0 assertion needs an Issuer"))?;
            (root.attribute("ID"), issuer.range().end)
        }
        Some(crate::saml::NS_SAML11) => (
            root.attribute("AssertionID"),
            assertion
                .rfind("</")
                .ok_or_else(|| bad("the assertion has no end tag"))?,
        ),
        _ => return Err(bad("not a SAML assertion")),
    };
    let id = id.ok_or_else(|| bad("the assertion has no ID"))?;
    let digest =
        DigestAlgorithm::Sha256.digest(&canonicalize(root, &Canonicalization::exclusive(), None));
    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"{}\"/><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        signer.method().uri(),
        crate::dsig::ENVELOPED_SIGNATURE,
        DigestAlgorithm::Sha256.uri(),
        base64_encode(&digest)
    );
    let value = signer.sign_signed_info(&signed_info)?;
    Ok(format!(
        "{}<ds:Signature xmlns:ds=\"{NS_DSIG}\">{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue>{}</ds:Signature>{}",
        &assertion[..insert_at],
        signer.key_info(),
        &assertion[insert_at..]
    ))
}

fn sign(
    envelope: &str,
    signer: &DocumentSigner,
    created: SystemTime,
    ttl: Duration,
    limits: &Limits,
    assertion: Option<(&str, SamlBinding)>,
) -> Result<String, DocumentError> {
    let bad = |what: &str| DocumentError::Signing(what.to_owned());
    let doc = parse(envelope, limits)?;
    let root = doc.root_element();
    let soap_ns = match root.tag_name().namespace() {
        Some(ns @ (NS_SOAP11 | NS_SOAP12)) => ns,
        _ => return Err(bad("not a SOAP envelope")),
    };
    let soap_prefix = root
        .lookup_prefix(soap_ns)
        .ok_or_else(|| bad("the SOAP namespace needs a prefix"))?;
    let child = |name: &str| {
        root.children().find(|c| {
            c.is_element()
                && c.tag_name().namespace() == Some(soap_ns)
                && c.tag_name().name() == name
        })
    };
    let body = child("Body").ok_or_else(|| bad("no Body"))?;
    let header = child("Header");

    // 1. The Body gets a wsu:Id; the Security header gets the token and the Timestamp.
    let body_tag = start_tag(body);
    let body_name_end = body.range().start
        + 1
        + body_tag[1..]
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .ok_or_else(|| bad("Body tag"))?;
    let certificate = signer
        .certificates()
        .first()
        .ok_or_else(|| bad("no certificate"))?;
    let token = match assertion {
        Some((_, SamlBinding::HolderOfKey)) => String::new(),
        _ => format!(
            "<wsse:BinarySecurityToken wsu:Id=\"{TOKEN_ID}\" ValueType=\"{X509V3}\" EncodingType=\"{BASE64_BINARY}\">{}</wsse:BinarySecurityToken>",
            base64_encode(certificate)
        ),
    };
    let security_open = format!(
        "<wsse:Security xmlns:wsse=\"{NS_WSSE}\" xmlns:wsu=\"{NS_WSU}\" {soap_prefix}:mustUnderstand=\"{}\">{token}{}<wsu:Timestamp wsu:Id=\"{TIMESTAMP_ID}\"><wsu:Created>{}</wsu:Created><wsu:Expires>{}</wsu:Expires></wsu:Timestamp>",
        if soap_ns == NS_SOAP11 { "1" } else { "true" },
        assertion.map_or("", |(xml, _)| xml),
        format_timestamp_time(created),
        format_timestamp_time(created + ttl),
    );
    let assemble = |signature: &str| -> String {
        let security = format!("{security_open}{signature}</wsse:Security>");
        let mut out = String::with_capacity(envelope.len() + security.len() + 256);
        match header {
            Some(h) if start_tag(h).ends_with("/>") => {
                out.push_str(&envelope[..h.range().start]);
                out.push_str(&format!(
                    "<{soap_prefix}:Header>{security}</{soap_prefix}:Header>"
                ));
                out.push_str(&envelope[h.range().end..body_name_end]);
            }
            Some(h) => {
                let header_tag_end = h.range().start + start_tag(h).len();
                out.push_str(&envelope[..header_tag_end]);
                out.push_str(&security);
                out.push_str(&envelope[header_tag_end..body_name_end]);
            }
            None => {
                out.push_str(&envelope[..body.range().start]);
                out.push_str(&format!(
                    "<{soap_prefix}:Header>{security}</{soap_prefix}:Header>"
                ));
                out.push_str(&envelope[body.range().start..body_name_end]);
            }
        }
        out.push_str(&format!(" xmlns:wsu=\"{NS_WSU}\" wsu:Id=\"{BODY_ID}\""));
        out.push_str(&envelope[body_name_end..]);
        out
    };

    // 2. Digest the Body and the Timestamp as they stand in the envelope.
    let unsigned = assemble("");
    // The envelope with its Security header (a few KiB more).
    let with_header = Limits {
        max_bytes: limits.max_bytes.saturating_add(64 * 1024),
        ..*limits
    };
    let unsigned_doc = parse(&unsigned, &with_header)?;
    let by_id = |id: &str| {
        unsigned_doc
            .descendants()
            .find(|n| {
                n.attribute((NS_WSU, "Id")) == Some(id)
                    || (crate::saml::is_assertion(n)
                        && (n.attribute("ID") == Some(id)
                            || n.attribute("AssertionID") == Some(id)))
            })
            .ok_or_else(|| bad("a signed element disappeared"))
    };
    // The assertion's identifier and version, read from the envelope it is now in.
    let saml = match assertion {
        Some((_, binding)) => {
            let node = unsigned_doc
                .descendants()
                .find(crate::saml::is_assertion)
                .ok_or_else(|| bad("the assertion is not an Assertion"))?;
            let version11 = node.tag_name().namespace() == Some(crate::saml::NS_SAML11);
            let id = node
                .attribute(if version11 { "AssertionID" } else { "ID" })
                .ok_or_else(|| bad("the assertion has no ID"))?
                .to_owned();
            Some((id, version11, binding))
        }
        None => None,
    };
    let exclusive = Canonicalization::exclusive();
    let reference = |id: &str| -> Result<String, DocumentError> {
        let digest = DigestAlgorithm::Sha256.digest(&canonicalize(by_id(id)?, &exclusive, None));
        Ok(format!(
            "<ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference>",
            DigestAlgorithm::Sha256.uri(),
            base64_encode(&digest)
        ))
    };
    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{}\"/>{}{}{}</ds:SignedInfo>",
        signer.method().uri(),
        reference(BODY_ID)?,
        reference(TIMESTAMP_ID)?,
        match &saml {
            Some((id, _, _)) => reference(id)?,
            None => String::new(),
        },
    );

    // 3. Sign SignedInfo.
    let value = signer.sign_signed_info(&signed_info)?;
    let key_reference = match &saml {
        Some((id, version11, SamlBinding::HolderOfKey)) => {
            let (token_type, value_type) = if *version11 {
                (
                    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1",
                    crate::saml::KEY_IDENTIFIER_SAML11,
                )
            } else {
                (
                    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0",
                    crate::saml::KEY_IDENTIFIER_SAML2,
                )
            };
            format!(
                "<wsse:SecurityTokenReference xmlns:wsse11=\"http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd\" wsse11:TokenType=\"{token_type}\"><wsse:KeyIdentifier ValueType=\"{value_type}\">{id}</wsse:KeyIdentifier></wsse:SecurityTokenReference>"
            )
        }
        _ => format!(
            "<wsse:SecurityTokenReference><wsse:Reference URI=\"#{TOKEN_ID}\" ValueType=\"{X509V3}\"/></wsse:SecurityTokenReference>"
        ),
    };
    Ok(assemble(&format!(
        "<ds:Signature xmlns:ds=\"{NS_DSIG}\">{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo>{key_reference}</ds:KeyInfo></ds:Signature>"
    )))
}

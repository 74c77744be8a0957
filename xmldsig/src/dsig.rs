//! XML-DSig 1.1 (the subset WS-I BSP and XAdES baseline need): a Signature's SignedInfo is
//! canonicalized and its SignatureValue verified; each Reference is dereferenced (a
//! same-document `#id`, or `""` for the whole document), transformed (enveloped-signature, C14N,
//! Exclusive C14N) and its digest compared. Verification returns the nodes that were signed.

use std::collections::HashMap;

use aws_lc_rs::{digest, signature};
use der::Decode;
use der::asn1::ObjectIdentifier;
use roxmltree::{Document, Node, NodeId};
use x509_cert::Certificate;

use crate::c14n::{Canonicalization, Output, canonicalize, canonicalize_into};
use crate::signed_text::signed_text;

pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const NS_WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsigError {
    #[error("the signature is malformed: {0}")]
    Malformed(String),
    #[error("algorithm not allowed: {0}")]
    Algorithm(String),
    #[error("two elements carry the Id {0:?}")]
    DuplicateId(String),
    #[error("reference {0:?} does not point to an element of this document")]
    DanglingReference(String),
    #[error("the digest of reference {0:?} does not match")]
    DigestMismatch(String),
    #[error("the signature value does not verify")]
    BadSignature,
    #[error("the signing key is unusable: {0}")]
    Key(String),
}

fn malformed(what: impl Into<String>) -> DsigError {
    DsigError::Malformed(what.into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2000/09/xmldsig#sha1" => DigestAlgorithm::Sha1,
            "http://www.w3.org/2001/04/xmlenc#sha256" => DigestAlgorithm::Sha256,
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => DigestAlgorithm::Sha384,
            "http://www.w3.org/2001/04/xmlenc#sha512" => DigestAlgorithm::Sha512,
            _ => return None,
        })
    }

    pub fn uri(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            DigestAlgorithm::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            DigestAlgorithm::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            DigestAlgorithm::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            DigestAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlgorithm::Sha256 => &digest::SHA256,
            DigestAlgorithm::Sha384 => &digest::SHA384,
            DigestAlgorithm::Sha512 => &digest::SHA512,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.algorithm(), data).as_ref().to_vec()
    }
}

/// Canonical octets hashed as they are produced, through a small buffer: a 10 MiB Body is
/// digested without ever being copied whole.
struct DigestOutput {
    context: digest::Context,
    buffer: Vec<u8>,
}

impl DigestOutput {
    const BUFFER: usize = 16 * 1024;

    fn new(algorithm: DigestAlgorithm) -> Self {
        DigestOutput {
            context: digest::Context::new(algorithm.algorithm()),
            buffer: Vec::with_capacity(Self::BUFFER),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.context.update(&self.buffer);
        self.context.finish().as_ref().to_vec()
    }
}

impl Output for DigestOutput {
    fn put(&mut self, bytes: &[u8]) {
        if self.buffer.len() + bytes.len() > Self::BUFFER {
            self.context.update(&self.buffer);
            self.buffer.clear();
        }
        if bytes.len() >= Self::BUFFER {
            self.context.update(bytes);
        } else {
            self.buffer.extend_from_slice(bytes);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RsaSha1,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

impl SignatureAlgorithm {
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => SignatureAlgorithm::RsaSha1,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => SignatureAlgorithm::RsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => SignatureAlgorithm::RsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => SignatureAlgorithm::RsaSha512,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => {
                SignatureAlgorithm::EcdsaSha256
            }
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => {
                SignatureAlgorithm::EcdsaSha384
            }
            _ => return None,
        })
    }

    pub fn uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            SignatureAlgorithm::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SignatureAlgorithm::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            SignatureAlgorithm::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            SignatureAlgorithm::EcdsaSha256 => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
            }
            SignatureAlgorithm::EcdsaSha384 => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
            }
        }
    }
}

/// Which algorithms a verifier accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AlgorithmPolicy {
    /// SHA-1 digests and RSA-SHA1 signatures (zeep signs with them unless told otherwise).
    pub allow_sha1: bool,
}

/// Which attributes name elements for same-document references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IdPolicy {
    /// A plain, unqualified `Id` attribute as well as `wsu:Id` (npm soap's default).
    pub allow_plain_id: bool,
}

/// The elements of a document by Id; a value carried twice is refused when the index is built.
#[derive(Debug)]
pub struct IdIndex<'a, 'i> {
    by_id: HashMap<&'a str, Node<'a, 'i>>,
}

impl<'a, 'i> IdIndex<'a, 'i> {
    pub fn build(doc: &'a Document<'i>, policy: IdPolicy) -> Result<Self, DsigError> {
        let mut by_id = HashMap::new();
        for node in doc.descendants().filter(Node::is_element) {
            for attr in node.attributes() {
                let is_id = match attr.namespace() {
                    Some(NS_WSU) => attr.name() == "Id",
                    // The identifiers the SAML schemas type xs:ID: a SAML 2.0 element's `ID`,
                    // a SAML 1.1 assertion's `AssertionID`.
                    None if attr.name() == "ID" => {
                        node.tag_name().namespace() == Some(crate::saml::NS_SAML2)
                    }
                    None if attr.name() == "AssertionID" => {
                        node.tag_name().namespace() == Some(crate::saml::NS_SAML11)
                    }
                    None => policy.allow_plain_id && attr.name() == "Id",
                    Some(_) => false,
                };
                if is_id && by_id.insert(attr.value(), node).is_some() {
                    return Err(DsigError::DuplicateId(attr.value().to_owned()));
                }
            }
        }
        Ok(IdIndex { by_id })
    }

    pub fn get(&self, id: &str) -> Option<Node<'a, 'i>> {
        self.by_id.get(id).copied()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Transform {
    Enveloped,
    Canonicalize(Canonicalization),
}

#[derive(Clone, Debug)]
struct Reference {
    uri: String,
    transforms: Vec<Transform>,
    digest: DigestAlgorithm,
    digest_value: Vec<u8>,
}

/// A parsed `ds:Signature`.
#[derive(Clone, Debug)]
pub struct Signature<'a, 'i> {
    pub node: Node<'a, 'i>,
    pub signed_info: Node<'a, 'i>,
    pub key_info: Option<Node<'a, 'i>>,
    c14n: Canonicalization,
    method: SignatureAlgorithm,
    value: Vec<u8>,
    references: Vec<Reference>,
}

fn is_dsig(node: &Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(NS_DSIG)
        && node.tag_name().name() == name
}

fn algorithm_attr<'a>(node: Node<'a, '_>) -> Result<&'a str, DsigError> {
    node.attribute("Algorithm")
        .ok_or_else(|| malformed(format!("{} has no Algorithm", node.tag_name().name())))
}

/// The PrefixList of an `ec:InclusiveNamespaces` child, if any.
fn prefix_list<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().namespace() == Some(NS_EXC_C14N))
        .and_then(|c| c.attribute("PrefixList"))
}

fn element_children<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, DsigError> {
    let mut out = Vec::new();
    for child in node.children() {
        if child.is_element() {
            out.push(child);
        } else if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
            return Err(malformed(format!("text inside {}", node.tag_name().name())));
        }
    }
    Ok(out)
}

/// What each byte is in base64 text: a sextet, XML whitespace, padding, or invalid.
const BASE64_TABLE: [u8; 256] = {
    let mut table = [BASE64_INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table[b' ' as usize] = BASE64_WHITESPACE;
    table[b'\t' as usize] = BASE64_WHITESPACE;
    table[b'\n' as usize] = BASE64_WHITESPACE;
    table[b'\r' as usize] = BASE64_WHITESPACE;
    table[b'=' as usize] = BASE64_PADDING;
    table
};
const BASE64_INVALID: u8 = 0xff;
const BASE64_WHITESPACE: u8 = 0xfe;
const BASE64_PADDING: u8 = 0xfd;

/// Decodes base64 content (XML Schema base64Binary), ignoring the XML whitespace in it. Strict:
/// padding only at the end and complete, unused trailing bits zero, nothing after the padding,
/// so each byte string has exactly one accepted encoding up to whitespace.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, DsigError> {
    let invalid = || malformed("invalid base64");
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let (mut quantum, mut sextets, mut padding) = (0u32, 0u8, 0u8);
    for &byte in text.as_bytes() {
        match BASE64_TABLE[usize::from(byte)] {
            BASE64_WHITESPACE => {}
            BASE64_PADDING => padding += 1,
            BASE64_INVALID => return Err(invalid()),
            _ if padding > 0 => return Err(invalid()),
            sextet => {
                quantum = quantum << 6 | u32::from(sextet);
                sextets += 1;
                if sextets == 4 {
                    out.extend_from_slice(&quantum.to_be_bytes()[1..]);
                    (quantum, sextets) = (0, 0);
                }
            }
        }
    }
    match (sextets, padding) {
        (0, 0) => {}
        (2, 2) if quantum & 0xf == 0 => out.push((quantum >> 4) as u8),
        (3, 1) if quantum & 0x3 == 0 => {
            out.extend_from_slice(&((quantum >> 2) as u16).to_be_bytes());
        }
        _ => return Err(invalid()),
    }
    Ok(out)
}

/// The base64 value of a signed element (DigestValue, SignatureValue, X509Certificate...),
/// its text read by [`signed_text`]: a comment or processing instruction inside it is refused,
/// never skipped.
pub fn signed_base64(element: Node<'_, '_>) -> Result<Vec<u8>, DsigError> {
    let text = signed_text(element).map_err(|e| malformed(e.to_string()))?;
    base64_decode(&text)
}

pub fn base64_encode(bytes: &[u8]) -> String {
    <base64ct::Base64 as base64ct::Encoding>::encode_string(bytes)
}

impl<'a, 'i> Signature<'a, 'i> {
    /// Parses a `ds:Signature` element, refusing anything outside the expected shape and any
    /// algorithm the policy does not allow.
    pub fn parse(node: Node<'a, 'i>, policy: AlgorithmPolicy) -> Result<Self, DsigError> {
        if !is_dsig(&node, "Signature") {
            return Err(malformed("not a ds:Signature"));
        }
        let children = element_children(node)?;
        let (signed_info, value_node, rest) = match children.as_slice() {
            [si, sv, rest @ ..] if is_dsig(si, "SignedInfo") && is_dsig(sv, "SignatureValue") => {
                (*si, *sv, rest)
            }
            _ => return Err(malformed("expected SignedInfo then SignatureValue")),
        };
        let key_info = match rest {
            [] => None,
            [ki, objects @ ..]
                if is_dsig(ki, "KeyInfo") && objects.iter().all(|o| is_dsig(o, "Object")) =>
            {
                Some(*ki)
            }
            objects if objects.iter().all(|o| is_dsig(o, "Object")) => None,
            _ => return Err(malformed("unexpected element in Signature")),
        };
        let si_children = element_children(signed_info)?;
        let (c14n_node, method_node, reference_nodes) = match si_children.as_slice() {
            [c, m, refs @ ..]
                if is_dsig(c, "CanonicalizationMethod")
                    && is_dsig(m, "SignatureMethod")
                    && !refs.is_empty()
                    && refs.iter().all(|r| is_dsig(r, "Reference")) =>
            {
                (*c, *m, refs)
            }
            _ => {
                return Err(malformed(
                    "SignedInfo must hold CanonicalizationMethod, SignatureMethod, Reference+",
                ));
            }
        };
        let c14n_uri = algorithm_attr(c14n_node)?;
        let c14n = Canonicalization::from_uri(c14n_uri, prefix_list(c14n_node))
            .ok_or_else(|| DsigError::Algorithm(c14n_uri.to_owned()))?;
        let method_uri = algorithm_attr(method_node)?;
        let method = SignatureAlgorithm::from_uri(method_uri)
            .filter(|m| policy.allow_sha1 || *m != SignatureAlgorithm::RsaSha1)
            .ok_or_else(|| DsigError::Algorithm(method_uri.to_owned()))?;
        if !element_children(method_node)?.is_empty() {
            return Err(malformed(
                "SignatureMethod parameters (HMAC output length) are not supported",
            ));
        }
        let references = reference_nodes
            .iter()
            .map(|r| parse_reference(*r, policy))
            .collect::<Result<_, _>>()?;
        Ok(Signature {
            node,
            signed_info,
            key_info,
            c14n,
            method,
            value: signed_base64(value_node)?,
            references,
        })
    }

    pub fn method(&self) -> SignatureAlgorithm {
        self.method
    }

    pub fn signature_value(&self) -> &[u8] {
        &self.value
    }

    /// The URI of the signature's one reference when it is an enveloped signature over an
    /// element: exactly one reference, `#id`, transformed by enveloped-signature then
    /// Exclusive C14N (what a SAML assertion's signature must be); `None` otherwise.
    pub fn enveloped_reference_id(&self) -> Option<&str> {
        let [reference] = self.references.as_slice() else {
            return None;
        };
        let exclusive = matches!(
            reference.transforms.as_slice(),
            [Transform::Enveloped, Transform::Canonicalize(c)] if c.exclusive
        );
        reference
            .uri
            .strip_prefix('#')
            .filter(|id| exclusive && !id.is_empty())
    }

    /// The canonical form of SignedInfo: what the signature value signs.
    pub fn canonical_signed_info(&self) -> Vec<u8> {
        canonicalize(self.signed_info, &self.c14n, None)
    }

    /// Verifies the signature value with `key`.
    pub fn verify_value(&self, key: &PublicKey) -> Result<(), DsigError> {
        key.verify(self.method, &self.canonical_signed_info(), &self.value)
    }

    /// Dereferences, transforms and digests every reference; returns the referenced nodes, in
    /// order (the document root for `URI=""`).
    pub fn verify_references(
        &self,
        doc: &'a Document<'i>,
        ids: &IdIndex<'a, 'i>,
    ) -> Result<Vec<Node<'a, 'i>>, DsigError> {
        let mut nodes = Vec::with_capacity(self.references.len());
        for reference in &self.references {
            let (node, method, exclude) = self.dereference(reference, doc, ids)?;
            let mut output = DigestOutput::new(reference.digest);
            canonicalize_into(node, &method, exclude, &mut output);
            if output.finish() != reference.digest_value {
                return Err(DsigError::DigestMismatch(reference.uri.clone()));
            }
            nodes.push(node);
        }
        Ok(nodes)
    }

    /// The octets each reference digests, in order (to compare with other implementations).
    pub fn reference_octets(
        &self,
        doc: &'a Document<'i>,
        ids: &IdIndex<'a, 'i>,
    ) -> Result<Vec<Vec<u8>>, DsigError> {
        self.references
            .iter()
            .map(|r| {
                self.dereference(r, doc, ids)
                    .map(|(node, method, exclude)| canonicalize(node, &method, exclude))
            })
            .collect()
    }

    /// The node a reference designates, and how its transforms turn it into octets.
    fn dereference(
        &self,
        reference: &Reference,
        doc: &'a Document<'i>,
        ids: &IdIndex<'a, 'i>,
    ) -> Result<(Node<'a, 'i>, Canonicalization, Option<NodeId>), DsigError> {
        let node = if reference.uri.is_empty() {
            doc.root()
        } else if let Some(id) = reference.uri.strip_prefix('#') {
            ids.get(id)
                .ok_or_else(|| DsigError::DanglingReference(reference.uri.clone()))?
        } else {
            return Err(DsigError::DanglingReference(reference.uri.clone()));
        };
        let mut exclude: Option<NodeId> = None;
        let mut method = None;
        for transform in &reference.transforms {
            match transform {
                Transform::Enveloped => exclude = Some(self.node.id()),
                Transform::Canonicalize(c) => method = Some(c.clone()),
            }
        }
        // Without a canonicalization transform, the node-set becomes octets by C14N 1.0; a
        // same-document reference never includes comments.
        Ok((
            node,
            method.unwrap_or_else(Canonicalization::inclusive),
            exclude,
        ))
    }
}

fn parse_reference(node: Node<'_, '_>, policy: AlgorithmPolicy) -> Result<Reference, DsigError> {
    let uri = node
        .attribute("URI")
        .ok_or_else(|| malformed("a Reference without URI"))?
        .to_owned();
    let children = element_children(node)?;
    let (transforms_node, rest) = match children.as_slice() {
        [t, rest @ ..] if is_dsig(t, "Transforms") => (Some(*t), rest),
        rest => (None, rest),
    };
    let (digest_method, digest_value) = match rest {
        [m, v] if is_dsig(m, "DigestMethod") && is_dsig(v, "DigestValue") => (*m, *v),
        _ => {
            return Err(malformed(
                "a Reference must hold Transforms?, DigestMethod, DigestValue",
            ));
        }
    };
    let mut transforms = Vec::new();
    if let Some(t) = transforms_node {
        for transform in element_children(t)? {
            if !is_dsig(&transform, "Transform") {
                return Err(malformed("unexpected element in Transforms"));
            }
            let uri = algorithm_attr(transform)?;
            transforms.push(if uri == ENVELOPED_SIGNATURE {
                Transform::Enveloped
            } else {
                Transform::Canonicalize(
                    Canonicalization::from_uri(uri, prefix_list(transform))
                        .ok_or_else(|| DsigError::Algorithm(uri.to_owned()))?,
                )
            });
        }
    }
    // At most an enveloped-signature transform followed by one canonicalization.
    let shape_ok = matches!(
        transforms.as_slice(),
        [] | [Transform::Enveloped]
            | [Transform::Canonicalize(_)]
            | [Transform::Enveloped, Transform::Canonicalize(_)]
    );
    if !shape_ok {
        return Err(DsigError::Algorithm("transform chain".into()));
    }
    let digest_uri = algorithm_attr(digest_method)?;
    let digest = DigestAlgorithm::from_uri(digest_uri)
        .filter(|d| policy.allow_sha1 || *d != DigestAlgorithm::Sha1)
        .ok_or_else(|| DsigError::Algorithm(digest_uri.to_owned()))?;
    Ok(Reference {
        uri,
        transforms,
        digest,
        digest_value: signed_base64(digest_value)?,
    })
}

/// How an ECDSA signature value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EcdsaEncoding {
    Fixed,
    Asn1,
}

/// A public key taken from an X.509 certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyKind,
    bytes: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
}

impl PublicKey {
    pub fn from_certificate(cert_der: &[u8]) -> Result<Self, DsigError> {
        let cert = Certificate::from_der(cert_der).map_err(|e| DsigError::Key(e.to_string()))?;
        Self::from_parsed_certificate(&cert)
    }

    /// The key of a certificate already parsed.
    pub fn from_parsed_certificate(cert: &Certificate) -> Result<Self, DsigError> {
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let kind = match spki.algorithm.oid {
            OID_RSA_ENCRYPTION => KeyKind::Rsa,
            OID_EC_PUBLIC_KEY => match spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            {
                Some(OID_SECP256R1) => KeyKind::P256,
                Some(OID_SECP384R1) => KeyKind::P384,
                other => return Err(DsigError::Key(format!("unsupported curve {other:?}"))),
            },
            other => return Err(DsigError::Key(format!("unsupported key type {other}"))),
        };
        Ok(PublicKey {
            kind,
            bytes: spki.subject_public_key.raw_bytes().to_vec(),
        })
    }

    /// The algorithm a signature by this key is checked with when nothing names one: RSA
    /// with SHA-256, ECDSA with its curve's hash.
    pub fn implied_algorithm(&self) -> SignatureAlgorithm {
        match self.kind {
            KeyKind::Rsa => SignatureAlgorithm::RsaSha256,
            KeyKind::P256 => SignatureAlgorithm::EcdsaSha256,
            KeyKind::P384 => SignatureAlgorithm::EcdsaSha384,
        }
    }

    /// Verifies an XML-DSig signature value (ECDSA as r || s, fixed width).
    pub fn verify(
        &self,
        method: SignatureAlgorithm,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), DsigError> {
        self.verify_encoded(method, message, sig, EcdsaEncoding::Fixed)
    }

    /// Verifies a signature as most libraries outside XML produce it: ECDSA as an ASN.1 DER
    /// `Ecdsa-Sig-Value` (RFC 3279), RSA as PKCS#1 v1.5.
    pub fn verify_asn1(
        &self,
        method: SignatureAlgorithm,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), DsigError> {
        self.verify_encoded(method, message, sig, EcdsaEncoding::Asn1)
    }

    fn verify_encoded(
        &self,
        method: SignatureAlgorithm,
        message: &[u8],
        sig: &[u8],
        encoding: EcdsaEncoding,
    ) -> Result<(), DsigError> {
        use EcdsaEncoding::{Asn1, Fixed};
        use SignatureAlgorithm as S;
        let alg: &'static dyn signature::VerificationAlgorithm = match (self.kind, method) {
            (KeyKind::Rsa, S::RsaSha1) => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            (KeyKind::Rsa, S::RsaSha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, S::RsaSha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, S::RsaSha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            // XML-DSig ECDSA values are r || s, fixed width (RFC 4050, XML-DSig 1.1).
            (KeyKind::P256, S::EcdsaSha256) if encoding == Fixed => {
                &signature::ECDSA_P256_SHA256_FIXED
            }
            (KeyKind::P384, S::EcdsaSha384) if encoding == Fixed => {
                &signature::ECDSA_P384_SHA384_FIXED
            }
            (KeyKind::P256, S::EcdsaSha256) if encoding == Asn1 => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            (KeyKind::P384, S::EcdsaSha384) if encoding == Asn1 => {
                &signature::ECDSA_P384_SHA384_ASN1
            }
            (kind, method) => {
                return Err(DsigError::Algorithm(format!(
                    "{method:?} with a {kind:?} key"
                )));
            }
        };
        signature::UnparsedPublicKey::new(alg, &self.bytes)
            .verify(message, sig)
            .map_err(|_| DsigError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_what_is_encoded_and_nothing_loose() {
        for len in 0..70usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let encoded = base64_encode(&bytes);
            assert_eq!(base64_decode(&encoded).expect("decode"), bytes);
            // XML line breaks and indentation anywhere.
            let wrapped: String = encoded
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    (if i % 5 == 4 { "\r\n\t " } else { "" })
                        .chars()
                        .chain(std::iter::once(c))
                })
                .collect();
            assert_eq!(base64_decode(&wrapped).expect("decode wrapped"), bytes);
        }
        for bad in [
            "QQ",
            "QQ=",
            "QQ===",
            "QR==",
            "QUI",
            "QUJ=",
            "QQ==QQ==",
            "Q===",
            "QUJD=",
            "QU=I",
            "QUJD\u{c}",
            "QUJD-_",
            "QUJD!",
        ] {
            assert!(base64_decode(bad).is_err(), "{bad:?} accepted");
        }
    }
}

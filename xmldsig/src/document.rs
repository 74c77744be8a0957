//! Enveloped signatures over a whole document (`Reference URI=""`, enveloped-signature, Exclusive
//! C14N), as Sealpost seals evidence and as a court checks it: the key comes only from an
//! X.509 certificate in KeyInfo that chains to a trust anchor; a bare KeyValue is never trusted.

use std::time::SystemTime;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use roxmltree::{Document, Node};

use crate::c14n::{Canonicalization, EXC_C14N, canonicalize};
use crate::dsig::{
    AlgorithmPolicy, DigestAlgorithm, DsigError, ENVELOPED_SIGNATURE, IdIndex, IdPolicy, NS_DSIG,
    PublicKey, Signature, SignatureAlgorithm, base64_encode, signed_base64,
};
use crate::parse::{Limits, XmlError, parse};
use crate::trust::{Purpose, TrustAnchors, TrustError};

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the document: {0}")]
    Xml(#[from] XmlError),
    #[error("the document must hold exactly one ds:Signature, a child of its root element")]
    SignatureCount,
    #[error(
        "the signature must have one reference, URI=\"\" with the enveloped-signature transform, covering the whole document"
    )]
    NotWholeDocument,
    #[error("the signature names no X.509 certificate (a bare key is never trusted)")]
    NoCertificate,
    #[error("the signature: {0}")]
    Signature(#[from] DsigError),
    #[error("the signer is not trusted: {0}")]
    Untrusted(#[from] TrustError),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A document whose enveloped signature verified.
#[derive(Clone, Debug)]
pub struct VerifiedDocument {
    /// The signer's certificate (DER).
    pub signer: Vec<u8>,
    /// The other certificates of KeyInfo.
    pub certificates: Vec<Vec<u8>>,
    /// The `Id`s of the elements of the signature's own ds:Object that the signature also
    /// covers (XAdES SignedProperties).
    pub signed_object_ids: Vec<String>,
}

/// Verifies the enveloped signature of `doc`, the signer trusted at `at`.
pub fn verify_enveloped(
    doc: &Document<'_>,
    policy: AlgorithmPolicy,
    trust: &TrustAnchors,
    at: SystemTime,
) -> Result<VerifiedDocument, DocumentError> {
    let root = doc.root_element();
    let signatures: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(NS_DSIG)
                && n.tag_name().name() == "Signature"
        })
        .collect();
    let [node] = signatures.as_slice() else {
        return Err(DocumentError::SignatureCount);
    };
    if node.parent_element().map(|p| p.id()) != Some(root.id()) {
        return Err(DocumentError::SignatureCount);
    }
    let signature = Signature::parse(*node, policy)?;
    let certificates: Vec<Vec<u8>> = signature
        .key_info
        .into_iter()
        .flat_map(|ki| ki.descendants())
        .filter(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(NS_DSIG)
                && n.tag_name().name() == "X509Certificate"
        })
        .map(signed_base64)
        .collect::<Result<_, _>>()?;
    if certificates.is_empty() {
        return Err(DocumentError::NoCertificate);
    }
    // The signer is the certificate whose key verifies SignedInfo.
    let signer = certificates
        .iter()
        .find(|c| PublicKey::from_certificate(c).is_ok_and(|k| signature.verify_value(&k).is_ok()))
        .cloned()
        .ok_or(DsigError::BadSignature)?;
    // XAdES names SignedProperties with a plain Id; duplicates are refused all the same.
    let ids = IdIndex::build(
        doc,
        IdPolicy {
            allow_plain_id: true,
        },
    )?;
    let covered = signature.verify_references(doc, &ids)?;
    if !covered.iter().any(|n| n.id() == doc.root().id()) {
        return Err(DocumentError::NotWholeDocument);
    }
    let mut signed_object_ids = Vec::new();
    for node in covered.iter().filter(|n| n.id() != doc.root().id()) {
        let in_own_object = node.ancestors().any(|a| {
            a.tag_name().namespace() == Some(NS_DSIG)
                && a.tag_name().name() == "Object"
                && a.parent_element().map(|p| p.id()) == Some(signature.node.id())
        });
        let id = node
            .attribute("Id")
            .or_else(|| node.attribute((crate::dsig::NS_WSU, "Id")));
        match (in_own_object, id) {
            (true, Some(id)) => signed_object_ids.push(id.to_owned()),
            _ => return Err(DocumentError::NotWholeDocument),
        }
    }
    let others: Vec<Vec<u8>> = certificates
        .iter()
        .filter(|c| **c != signer)
        .cloned()
        .collect();
    trust.validate(&signer, &others, at, Purpose::Any)?;
    Ok(VerifiedDocument {
        signer,
        certificates: others,
        signed_object_ids,
    })
}

/// A key that signs documents, with its certificate and chain.
pub struct DocumentSigner {
    key: SigningKey,
    certificates: Vec<Vec<u8>>,
    rng: SystemRandom,
}

enum SigningKey {
    EcdsaP256(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl std::fmt::Debug for DocumentSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentSigner").finish_non_exhaustive()
    }
}

impl DocumentSigner {
    /// `key_pkcs8`: an ECDSA P-256 or RSA key; `certificates`: its certificate first, then the
    /// chain to put in KeyInfo.
    pub fn new(key_pkcs8: &[u8], certificates: Vec<Vec<u8>>) -> Result<Self, DocumentError> {
        let key =
            if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key_pkcs8) {
                SigningKey::EcdsaP256(k)
            } else if let Ok(k) = RsaKeyPair::from_pkcs8(key_pkcs8) {
                SigningKey::Rsa(k)
            } else {
                return Err(DocumentError::Signing(
                    "the key is neither ECDSA P-256 nor RSA PKCS#8".into(),
                ));
            };
        let Some(first) = certificates.first() else {
            return Err(DocumentError::Signing("no certificate".into()));
        };
        // A key that is not the certificate's would sign what no verifier accepts.
        let certified = <x509_cert::Certificate as der::Decode>::from_der(first)
            .map_err(|e| DocumentError::Signing(format!("the certificate: {e}")))?;
        let public = match &key {
            SigningKey::EcdsaP256(k) => k.public_key().as_ref().to_vec(),
            SigningKey::Rsa(k) => k.public_key().as_ref().to_vec(),
        };
        if certified
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            != public.as_slice()
        {
            return Err(DocumentError::Signing(
                "the key is not the certificate's (they do not match)".into(),
            ));
        }
        Ok(DocumentSigner {
            key,
            certificates,
            rng: SystemRandom::new(),
        })
    }

    /// The certificate, then the chain.
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }

    /// The signature algorithm this key signs with.
    pub fn method(&self) -> SignatureAlgorithm {
        match self.key {
            SigningKey::EcdsaP256(_) => SignatureAlgorithm::EcdsaSha256,
            SigningKey::Rsa(_) => SignatureAlgorithm::RsaSha256,
        }
    }

    /// Signs `message` (a canonical SignedInfo) as an XML-DSig SignatureValue (ECDSA: r || s).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, DocumentError> {
        let failed = |_| DocumentError::Signing("the signing operation failed".into());
        match &self.key {
            SigningKey::EcdsaP256(k) => Ok(k
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            SigningKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(failed)?;
                Ok(sig)
            }
        }
    }

    /// Signs a `ds:SignedInfo` (XML text using the `ds` prefix, Exclusive C14N) and returns the
    /// base64 SignatureValue. The exclusive canonical form of SignedInfo depends only on what it
    /// uses, its own ds namespace, so it is computed in a minimal signature context.
    pub fn sign_signed_info(&self, signed_info: &str) -> Result<String, DocumentError> {
        let context = format!("<ds:Signature xmlns:ds=\"{NS_DSIG}\">{signed_info}</ds:Signature>");
        let doc = parse(&context, &Limits::default())?;
        let si = doc
            .root_element()
            .first_element_child()
            .ok_or_else(|| DocumentError::Signing("SignedInfo".into()))?;
        Ok(base64_encode(&self.sign_bytes(&canonicalize(
            si,
            &Canonicalization::exclusive(),
            None,
        ))?))
    }

    /// `ds:KeyInfo` with the certificate and its chain.
    pub fn key_info(&self) -> String {
        let certs: String = self
            .certificates
            .iter()
            .map(|c| {
                format!(
                    "<ds:X509Certificate>{}</ds:X509Certificate>",
                    base64_encode(c)
                )
            })
            .collect();
        format!("<ds:KeyInfo><ds:X509Data>{certs}</ds:X509Data></ds:KeyInfo>")
    }

    /// Appends an enveloped signature (SHA-256, Exclusive C14N) as the last child of the root
    /// element of `xml`, and returns the signed document.
    pub fn sign_enveloped(&self, xml: &str) -> Result<String, DocumentError> {
        let doc = parse(xml, &Limits::default())?;
        let root = doc.root_element();
        // With the signature not there yet, the document's canonical form is what the
        // enveloped-signature transform will give once it is.
        let digest = DigestAlgorithm::Sha256.digest(&canonicalize(
            doc.root(),
            &Canonicalization::exclusive(),
            None,
        ));
        let signed_info = format!(
            "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{}\"/><ds:Reference URI=\"\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE}\"/><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
            self.method().uri(),
            DigestAlgorithm::Sha256.uri(),
            base64_encode(&digest),
        );
        let signature = format!(
            "<ds:Signature xmlns:ds=\"{NS_DSIG}\">{signed_info}<ds:SignatureValue>{}</ds:SignatureValue>{}</ds:Signature>",
            self.sign_signed_info(&signed_info)?,
            self.key_info()
        );
        // Insert before the root's end tag (or open a self-closed root).
        let range = root.range();
        let element_text = &xml[range.clone()];
        let mut out = String::with_capacity(xml.len() + signature.len() + 16);
        if element_text.ends_with("/>") {
            let qname = element_text[1..]
                .split(|c: char| c.is_whitespace() || c == '/' || c == '>')
                .next()
                .unwrap_or("");
            out.push_str(&xml[..range.end - 2]);
            out.push('>');
            out.push_str(&signature);
            out.push_str(&format!("</{qname}>"));
        } else {
            let end_tag = element_text
                .rfind("</")
                .ok_or_else(|| DocumentError::Signing("no end tag".into()))?;
            out.push_str(&xml[..range.start + end_tag]);
            out.push_str(&signature);
            out.push_str(&xml[range.start + end_tag..range.end]);
        }
        out.push_str(&xml[range.end..]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
    use std::time::Duration;

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    /// The tests' time: certificates are made around it and signatures verified at it.
    fn a_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn setup(key: KeyAlgorithm) -> (Authority, DocumentSigner, TrustAnchors) {
        let now = a_time();
        let root = Authority::root("Root", now - YEAR, now + YEAR).expect("root");
        let issuing = root
            .issue_ca("Issuing", now - YEAR, now + YEAR)
            .expect("ca");
        let seal = issuing
            .issue(&LeafSpec::new("Seal", Profile::Seal, key, now, YEAR))
            .expect("seal");
        let signer = DocumentSigner::new(
            &seal.key_pkcs8_der(),
            vec![seal.cert_der().to_vec(), issuing.cert_der().to_vec()],
        )
        .expect("signer");
        let trust = TrustAnchors::new([root.cert_der().to_vec()]);
        (root, signer, trust)
    }

    fn verify(xml: &str, trust: &TrustAnchors) -> Result<VerifiedDocument, DocumentError> {
        let doc = parse(xml, &Limits::default())?;
        verify_enveloped(&doc, AlgorithmPolicy::default(), trust, a_time())
    }

    #[test]
    fn a_signed_document_verifies_and_every_change_is_caught() {
        for key in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
            let (_root, signer, trust) = setup(key);
            let xml = "<?xml version=\"1.0\"?>\n<e:Evidence xmlns:e=\"urn:e\" Id=\"x\">\n  <e:Recipient>nrn:85073003328</e:Recipient>\n  <e:Digest>abc</e:Digest>\n</e:Evidence>\n";
            let signed = signer.sign_enveloped(xml).expect("sign");
            verify(&signed, &trust).expect("verifies");
            for (from, to) in [
                ("85073003328", "85073003329"),
                ("<e:Digest>abc", "<e:Digest>abd"),
                ("Id=\"x\"", "Id=\"y\""),
            ] {
                let tampered = signed.replacen(from, to, 1);
                let err = verify(&tampered, &trust).expect_err("tampered");
                assert!(
                    matches!(err, DocumentError::Signature(DsigError::DigestMismatch(_))),
                    "{err}"
                );
            }
            // The signature value itself.
            let at = signed.find("<ds:SignatureValue>").expect("value") + 20;
            let mut bytes = signed.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let err = verify(&String::from_utf8(bytes).expect("utf-8"), &trust).expect_err("value");
            assert!(
                matches!(err, DocumentError::Signature(DsigError::BadSignature)),
                "{err}"
            );
        }
    }

    /// The canonical SignedInfo of a signed document: what its signature value covers.
    fn canonical_signed_info(xml: &str) -> Vec<u8> {
        let doc = parse(xml, &Limits::default()).expect("well formed");
        let si = doc
            .descendants()
            .find(|n| {
                n.tag_name().namespace() == Some(NS_DSIG) && n.tag_name().name() == "SignedInfo"
            })
            .expect("SignedInfo");
        canonicalize(si, &Canonicalization::exclusive(), None)
    }

    #[test]
    fn a_comment_or_processing_instruction_inside_a_signed_base64_value_fails_closed() {
        let (_root, signer, trust) = setup(KeyAlgorithm::EcdsaP256);
        let signed = signer
            .sign_enveloped("<e:Evidence xmlns:e=\"urn:e\"><e:Subject>pay</e:Subject></e:Evidence>")
            .expect("sign");
        verify(&signed, &trust).expect("verifies");
        let inside = |element: &str, at: usize, insert: &str| {
            let open = format!("<ds:{element}>");
            let start = signed.find(&open).expect(element) + open.len();
            let end = start + signed[start..].find("</").expect("end tag");
            let at = start.saturating_add(at).min(end);
            format!("{}{insert}{}", &signed[..at], &signed[at..])
        };
        for (element, at, insert, refused) in [
            // A comment after the value: the first text node is the whole value.
            (
                "DigestValue",
                usize::MAX,
                "<!--x-->",
                "DigestValue holds a comment",
            ),
            ("DigestValue", 8, "<!---->", "DigestValue holds a comment"),
            ("DigestValue", 0, "<!--x-->", "DigestValue holds a comment"),
            (
                "DigestValue",
                8,
                "<?pi x?>",
                "DigestValue holds a processing instruction",
            ),
            (
                "SignatureValue",
                usize::MAX,
                "<!--x-->",
                "SignatureValue holds a comment",
            ),
            (
                "X509Certificate",
                usize::MAX,
                "<!--x-->",
                "X509Certificate holds a comment",
            ),
        ] {
            let hostile = inside(element, at, insert);
            if element == "DigestValue" && insert.starts_with("<!--") {
                // Canonical XML drops the comment: the signature value still covers SignedInfo.
                assert_eq!(
                    canonical_signed_info(&hostile),
                    canonical_signed_info(&signed)
                );
            }
            match verify(&hostile, &trust) {
                Err(DocumentError::Signature(DsigError::Malformed(what))) => {
                    assert!(what.starts_with(refused), "{element}: {what}");
                }
                other => panic!("{element} with {insert} at {at}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused_before_it_signs_anything() {
        let now = a_time();
        let root = Authority::root("Root", now - YEAR, now + YEAR).expect("root");
        for key in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
            let spec = |name| LeafSpec::new(name, Profile::Seal, key, now, YEAR);
            let seal = root.issue(&spec("Seal")).expect("seal");
            let other = root.issue(&spec("Other")).expect("other");
            let err = DocumentSigner::new(&other.key_pkcs8_der(), vec![seal.cert_der().to_vec()])
                .expect_err("another key");
            assert!(err.to_string().contains("not the certificate's"), "{err}");
            DocumentSigner::new(&seal.key_pkcs8_der(), vec![seal.cert_der().to_vec()])
                .expect("its own key");
        }
    }

    #[test]
    fn a_self_closed_root_is_signed_too() {
        let (_root, signer, trust) = setup(KeyAlgorithm::EcdsaP256);
        let signed = signer
            .sign_enveloped("<a xmlns=\"urn:a\" b=\"c\"/>")
            .expect("sign");
        assert!(
            signed.starts_with("<a xmlns=\"urn:a\" b=\"c\"><ds:Signature"),
            "{signed}"
        );
        verify(&signed, &trust).expect("verifies");
    }

    #[test]
    fn a_self_signed_signer_is_refused_even_as_its_own_anchor() {
        let rogue = rogue_self_signed(&LeafSpec::new(
            "Rogue",
            Profile::Seal,
            KeyAlgorithm::EcdsaP256,
            a_time(),
            YEAR,
        ))
        .expect("rogue");
        let signer = DocumentSigner::new(&rogue.key_pkcs8_der(), vec![rogue.cert_der().to_vec()])
            .expect("signer");
        let signed = signer.sign_enveloped("<a/>").expect("sign");
        let trust = TrustAnchors::new([rogue.cert_der().to_vec()]);
        assert!(matches!(
            verify(&signed, &trust),
            Err(DocumentError::Untrusted(TrustError::SelfSigned))
        ));
    }

    #[test]
    fn a_signer_from_another_root_is_refused() {
        let (_root, signer, _trust) = setup(KeyAlgorithm::EcdsaP256);
        let (other_root, _, _) = setup(KeyAlgorithm::EcdsaP256);
        let signed = signer.sign_enveloped("<a/>").expect("sign");
        let err = verify(
            &signed,
            &TrustAnchors::new([other_root.cert_der().to_vec()]),
        )
        .expect_err("other root");
        assert!(
            matches!(err, DocumentError::Untrusted(TrustError::Chain(_))),
            "{err}"
        );
    }
}

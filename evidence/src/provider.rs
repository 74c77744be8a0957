//! Who may seal a Sealpost evidence: the provider's published identity, and the profile of a
//! seal certificate.
//!
//! A court trusts a provider, not a whole PKI. Any holder of a certificate under the same root
//! (a sender agency, the TLS server, the time-stamping unit) can sign an XML document and get
//! time-stamps; only the certificates the provider publishes as its evidence seal and its
//! time-stamping unit make a Sealpost evidence. The publication is a trusted list in the spirit
//! of ETSI TS 119 612 (namespace [`NS_TRUSTED_LIST`]): the provider, and for each of its
//! services the service type and the certificates that are its digital identity.
//!
//! ```xml
//! <tl:TrustServiceStatusList xmlns:tl="urn:sealpost:trusted-list:1" Version="1">
//!   <tl:TSPName>Sealpost</tl:TSPName>
//!   <tl:TSPService>
//!     <tl:ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q</tl:ServiceTypeIdentifier>
//!     <tl:ServiceName>Sealpost evidence seal</tl:ServiceName>
//!     <tl:X509Certificate>MIIB…</tl:X509Certificate>
//!   </tl:TSPService>
//!   <tl:TSPService>
//!     <tl:ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST</tl:ServiceTypeIdentifier>
//!     …
//! ```

use std::fmt::Write as _;

use aws_lc_rs::digest;
use der::Decode;
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};
use sealpost_xmldsig::signed_text::signed_text;
use sealpost_xmldsig::{Limits, parse};
use x509_cert::Certificate;

use crate::model::hex;

pub const NS_TRUSTED_LIST: &str = "urn:sealpost:trusted-list:1";
/// ETSI TS 119 612 service type: electronic registered delivery (the evidence seal).
pub const SERVICE_TYPE_SEAL: &str = "http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q";
/// ETSI TS 119 612 service type: time-stamping.
pub const SERVICE_TYPE_TSA: &str = "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST";

/// The key purpose of a Sealpost evidence seal certificate, in its extended key usage:
/// `2.25.92689082462782189420815959724531204195` (a UUID OID, ITU-T X.667), DER.
pub const SEAL_KEY_PURPOSE_OID_DER: [u8; 22] = [
    0x06, 0x14, 0x69, 0x81, 0x8b, 0xbb, 0xa2, 0xa5, 0xfd, 0xe5, 0xf2, 0x90, 0xe9, 0xa2, 0xf4, 0xae,
    0xab, 0xed, 0xaf, 0x95, 0x80, 0x63,
];
/// The same key purpose in dotted form (for openssl's output and the documentation).
pub const SEAL_KEY_PURPOSE_OID: &str = "2.25.92689082462782189420815959724531204195";

const OID_KEY_USAGE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXTENDED_KEY_USAGE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_BASIC_CONSTRAINTS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19");

/// A certificate as a court names it: its subject and its SHA-256 fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CertificateName {
    /// RFC 4514.
    pub subject: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
}

impl CertificateName {
    pub fn of(der: &[u8]) -> Self {
        CertificateName {
            subject: Certificate::from_der(der)
                .map(|c| c.tbs_certificate.subject.to_string())
                .unwrap_or_else(|_| "(unreadable certificate)".into()),
            sha256: fingerprint(der),
        }
    }
}

/// SHA-256 of a DER certificate, lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, der).as_ref())
}

/// The provider's published identity: the certificates of its evidence seal and of its
/// time-stamping unit(s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    /// DER.
    pub seal_certificates: Vec<Vec<u8>>,
    /// DER.
    pub tsa_certificates: Vec<Vec<u8>>,
}

impl Provider {
    /// Whether `der` is one of the provider's seal certificates (byte for byte).
    pub fn is_seal(&self, der: &[u8]) -> bool {
        self.seal_certificates.iter().any(|c| c == der)
    }

    /// Whether `der` is one of the provider's time-stamping unit certificates.
    pub fn is_tsa(&self, der: &[u8]) -> bool {
        self.tsa_certificates.iter().any(|c| c == der)
    }

    /// The trusted list (XML) that publishes this identity.
    pub fn to_trusted_list(&self) -> String {
        let mut x = String::with_capacity(4096);
        let _ = write!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tl:TrustServiceStatusList xmlns:tl=\"{NS_TRUSTED_LIST}\" Version=\"1\">\n  <tl:TSPName>{}</tl:TSPName>\n",
            escape(&self.name)
        );
        for (kind, name, certs) in [
            (SERVICE_TYPE_SEAL, "evidence seal", &self.seal_certificates),
            (
                SERVICE_TYPE_TSA,
                "time-stamping unit",
                &self.tsa_certificates,
            ),
        ] {
            let _ = write!(
                x,
                "  <tl:TSPService>\n    <tl:ServiceTypeIdentifier>{kind}</tl:ServiceTypeIdentifier>\n    <tl:ServiceName>{} {name}</tl:ServiceName>\n",
                escape(&self.name)
            );
            for cert in certs.iter() {
                let named = CertificateName::of(cert);
                let _ = write!(
                    x,
                    "    <!-- {} SHA-256 {} -->\n    <tl:X509Certificate>{}</tl:X509Certificate>\n",
                    comment_text(&escape(&named.subject)),
                    named.sha256,
                    base64_encode(cert)
                );
            }
            x.push_str("  </tl:TSPService>\n");
        }
        x.push_str("</tl:TrustServiceStatusList>\n");
        x
    }

    /// Reads a trusted list, strictly: the provider's name, then services of the two known
    /// types, each with at least one certificate; both services must be present.
    pub fn from_trusted_list(xml: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(xml).map_err(|_| "the trusted list is not UTF-8")?;
        let doc = parse(text, &Limits::default()).map_err(|e| e.to_string())?;
        let root = doc.root_element();
        if !is(root, "TrustServiceStatusList") || root.attribute("Version") != Some("1") {
            return Err("not a Sealpost trusted list (tl:TrustServiceStatusList Version 1)".into());
        }
        let elements: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        let Some((first, services)) = elements.split_first() else {
            return Err("the trusted list is empty".into());
        };
        if !is(*first, "TSPName") {
            return Err("the trusted list must begin with tl:TSPName".into());
        }
        let name = read_text(*first)?;
        let mut provider = Provider {
            name,
            seal_certificates: Vec::new(),
            tsa_certificates: Vec::new(),
        };
        for service in services {
            if !is(*service, "TSPService") {
                return Err("expected tl:TSPService".into());
            }
            let fields: Vec<_> = service.children().filter(|n| n.is_element()).collect();
            let [kind, service_name, certs @ ..] = fields.as_slice() else {
                return Err("a tl:TSPService needs a type, a name and certificates".into());
            };
            if !is(*kind, "ServiceTypeIdentifier") || !is(*service_name, "ServiceName") {
                return Err(
                    "a tl:TSPService begins with tl:ServiceTypeIdentifier, tl:ServiceName".into(),
                );
            }
            let target = match read_text(*kind)?.as_str() {
                SERVICE_TYPE_SEAL => &mut provider.seal_certificates,
                SERVICE_TYPE_TSA => &mut provider.tsa_certificates,
                other => return Err(format!("unknown service type {other}")),
            };
            if certs.is_empty() {
                return Err("a tl:TSPService without a certificate".into());
            }
            for cert in certs {
                if !is(*cert, "X509Certificate") {
                    return Err("expected tl:X509Certificate".into());
                }
                let der = base64_decode(read_text(*cert)?.trim())
                    .map_err(|_| "a tl:X509Certificate is not base64")?;
                Certificate::from_der(&der)
                    .map_err(|e| format!("a tl:X509Certificate is not a certificate: {e}"))?;
                target.push(der);
            }
        }
        if provider.seal_certificates.is_empty() || provider.tsa_certificates.is_empty() {
            return Err(
                "the trusted list must name the evidence seal and the time-stamping unit".into(),
            );
        }
        Ok(provider)
    }
}

fn is(node: roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(NS_TRUSTED_LIST)
        && node.tag_name().name() == name
}

fn read_text(node: roxmltree::Node<'_, '_>) -> Result<String, String> {
    signed_text(node)
        .map(|t| t.into_owned())
        .map_err(|e| format!("tl:{e}"))
}

/// Text a comment may hold: no `--` anywhere (XML 1.0 §2.5).
fn comment_text(text: &str) -> String {
    let mut text = text.to_owned();
    while text.contains("--") {
        text = text.replace("--", "- -");
    }
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The profile of an evidence seal certificate: an end-entity certificate (not a CA) whose key
/// usage allows signatures (digitalSignature or nonRepudiation) and not certificate signing,
/// and whose extended key usage names [`SEAL_KEY_PURPOSE_OID`]. The service refuses to start
/// with a seal certificate that fails it; the verifier refuses an evidence sealed by one.
pub fn check_seal_profile(der: &[u8]) -> Result<(), String> {
    let cert = Certificate::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
    let extensions = cert.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let find = |oid| extensions.iter().find(|e| e.extn_id == oid);
    if let Some(bc) = find(OID_BASIC_CONSTRAINTS) {
        let constraints =
            x509_cert::ext::pkix::BasicConstraints::from_der(bc.extn_value.as_bytes())
                .map_err(|e| format!("unreadable basic constraints: {e}"))?;
        if constraints.ca {
            return Err("the seal certificate is a CA certificate".into());
        }
    }
    let ku = find(OID_KEY_USAGE).ok_or("the seal certificate has no key usage")?;
    let bits = der::asn1::BitString::from_der(ku.extn_value.as_bytes())
        .map_err(|e| format!("unreadable key usage: {e}"))?;
    let first = bits.raw_bytes().first().copied().unwrap_or(0);
    // digitalSignature is bit 0, nonRepudiation bit 1, keyCertSign bit 5.
    if first & 0b1100_0000 == 0 {
        return Err("the seal certificate's key usage allows no signature".into());
    }
    if first & 0b0000_0100 != 0 {
        return Err("the seal certificate's key usage allows certificate signing".into());
    }
    let eku = find(OID_EXTENDED_KEY_USAGE).ok_or(
        "the seal certificate has no extended key usage (the Sealpost evidence seal purpose)",
    )?;
    // ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId: the purposes' DER, element by element.
    let purposes =
        der::asn1::SequenceOf::<der::asn1::AnyRef<'_>, 16>::from_der(eku.extn_value.as_bytes())
            .map_err(|e| format!("unreadable extended key usage: {e}"))?;
    let named = purposes.iter().any(|p| {
        der::Encode::to_der(p).is_ok_and(|bytes| bytes.as_slice() == SEAL_KEY_PURPOSE_OID_DER)
    });
    if !named {
        return Err(format!(
            "the seal certificate's extended key usage does not name the Sealpost evidence seal ({SEAL_KEY_PURPOSE_OID})"
        ));
    }
    Ok(())
}

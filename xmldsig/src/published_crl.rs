//! CRLs from the distribution points certificates name (RFC 5280 §4.2.1.13), the pure part:
//! which `http://` addresses a certificate names, a CRL fetched from one read and judged
//! ([`PublishedCrl`]), and the source of them a trust store asks ([`CrlDistributionPoints`],
//! the HTTP fetcher with its cache in the service). No I/O here.
//!
//! A fetched CRL is believed about a certificate only when it is that certificate's issuer's
//! (the same issuer name), and, when it has an IssuingDistributionPoint, only when that names
//! the address it was fetched from and its scope holds the certificate (only user or only CA
//! certificates). Its signature by the issuer, its nextUpdate and the serial number are then
//! checked by webpki with the path (see `trust`). A CRL that webpki does not take (a delta
//! CRL, an indirect one, one partitioned by reasons, an unknown critical extension) is not a
//! CRL at all here.

use std::sync::Arc;
use std::time::SystemTime;

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use webpki::{CertRevocationList, OwnedCertRevocationList};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::CrlDistributionPoints as DistributionPointsExtension;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

use crate::trust::TrustError;

/// `id-ce-cRLDistributionPoints`.
const OID_CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
/// `id-ce-issuingDistributionPoint`.
const OID_ISSUING_DISTRIBUTION_POINT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.28");

/// The `http://` URIs of the full names of `cert`'s CRL distribution points, in order; a
/// distribution point for some reasons only, or whose CRL another issuer signs (indirect), is
/// left out (webpki reads neither). Empty: the certificate names none we can fetch.
pub fn crl_urls(cert: &Certificate) -> Vec<String> {
    let Some(extension) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == OID_CRL_DISTRIBUTION_POINTS)
    else {
        return Vec::new();
    };
    let Ok(points) = DistributionPointsExtension::from_der(extension.extn_value.as_bytes()) else {
        return Vec::new();
    };
    points
        .0
        .into_iter()
        .filter(|dp| dp.reasons.is_none() && dp.crl_issuer.is_none())
        .filter_map(|dp| match dp.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.as_str().to_owned()),
            _ => None,
        })
        .filter(|uri| uri.starts_with("http://"))
        .collect()
}

/// A CRL as fetched from a distribution point, read (not yet verified against its issuer:
/// that is done with the path it is used for).
#[derive(Debug)]
pub struct PublishedCrl {
    /// Where it was fetched from.
    pub url: String,
    pub this_update: SystemTime,
    pub next_update: SystemTime,
    /// Its DER, as published.
    pub der: Vec<u8>,
    pub(crate) list: CertRevocationList<'static>,
    tbs: CertificateList,
}

impl PublishedCrl {
    /// Reads `der`, fetched from `url`: a CRL webpki takes, with a nextUpdate.
    pub fn parse(url: &str, der: Vec<u8>) -> Result<Self, TrustError> {
        let tbs = CertificateList::from_der(&der).map_err(|e| TrustError::Crl(e.to_string()))?;
        let next_update = tbs
            .tbs_cert_list
            .next_update
            .ok_or_else(|| TrustError::Crl("a CRL without nextUpdate".into()))?
            .to_system_time();
        let list = OwnedCertRevocationList::from_der(&der)
            .map(CertRevocationList::from)
            .map_err(|e| TrustError::Crl(e.to_string()))?;
        Ok(PublishedCrl {
            url: url.to_owned(),
            this_update: tbs.tbs_cert_list.this_update.to_system_time(),
            next_update,
            der,
            list,
            tbs,
        })
    }

    /// Whether `issuer`'s key signed it (what the service checks before keeping a CRL it
    /// fetched; the trust store checks it again with the path, through webpki).
    pub fn verify_signature(&self, issuer: &Certificate) -> Result<(), String> {
        let algorithm = crate::ocsp::signature_algorithm(&self.tbs.signature_algorithm)
            .map_err(|e| format!("the CRL at {}: {e}", self.url))?;
        let signature = self
            .tbs
            .signature
            .as_bytes()
            .ok_or_else(|| format!("the CRL at {}: a signature with unused bits", self.url))?;
        let tbs = self
            .tbs
            .tbs_cert_list
            .to_der()
            .map_err(|e| format!("the CRL at {}: {e}", self.url))?;
        crate::dsig::PublicKey::from_parsed_certificate(issuer)
            .and_then(|key| key.verify_asn1(algorithm, &tbs, signature))
            .map_err(|_| {
                format!(
                    "the CRL at {} is not signed by {}",
                    self.url, issuer.tbs_certificate.subject
                )
            })
    }

    /// Its issuer's name, as text (for logs).
    pub fn issuer(&self) -> String {
        self.tbs.tbs_cert_list.issuer.to_string()
    }

    /// Whether this CRL says something about `cert` (a CA certificate when `is_ca`): `Err`
    /// with why not.
    pub fn speaks_for(&self, cert: &Certificate, is_ca: bool) -> Result<(), String> {
        if self.tbs.tbs_cert_list.issuer != cert.tbs_certificate.issuer {
            return Err(format!(
                "the CRL at {} is {}'s, not the certificate's issuer {}",
                self.url, self.tbs.tbs_cert_list.issuer, cert.tbs_certificate.issuer
            ));
        }
        let Some(idp) = self
            .tbs
            .tbs_cert_list
            .crl_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == OID_ISSUING_DISTRIBUTION_POINT)
        else {
            return Ok(());
        };
        let idp = IssuingDistributionPoint::from_der(idp.extn_value.as_bytes()).map_err(|e| {
            format!(
                "the CRL at {}: its issuing distribution point: {e}",
                self.url
            )
        })?;
        let names_here = match &idp.distribution_point {
            Some(DistributionPointName::FullName(names)) => names.iter().any(|n| {
                matches!(n, GeneralName::UniformResourceIdentifier(uri) if uri.as_str() == self.url)
            }),
            _ => false,
        };
        if !names_here {
            return Err(format!(
                "the CRL at {} names another distribution point",
                self.url
            ));
        }
        if (idp.only_contains_user_certs && is_ca) || (idp.only_contains_ca_certs && !is_ca) {
            return Err(format!(
                "the CRL at {} does not cover {} certificates",
                self.url,
                if is_ca { "CA" } else { "end-entity" }
            ));
        }
        Ok(())
    }
}

/// Where a trust store gets the CRLs of the distribution points (the service fetches them
/// over HTTP and keeps them until their nextUpdate). It may do I/O on the caller's thread and
/// must not block an async runtime's worker without saying so to the runtime.
pub trait CrlDistributionPoints: Send + Sync + std::fmt::Debug {
    /// The CRL of one of `cert`'s distribution points (its `http://` ones, see [`crl_urls`])
    /// current at `at`: `Ok(None)` when it names none; `RevocationUnknown` when none of them
    /// gives one (unreachable, not a CRL, past its nextUpdate).
    /// `issuer` is the certificate that issued `cert` (on the path being validated): a CRL
    /// it did not sign is not kept.
    fn crl_for(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        at: SystemTime,
    ) -> Result<Option<Arc<PublishedCrl>>, TrustError>;

    /// Changes whenever a CRL it holds is replaced: a validation made before is made again.
    fn generation(&self) -> u64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile, Published};
    use std::time::Duration;

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    #[test]
    fn a_crl_speaks_only_for_the_certificates_of_its_issuer() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR).expect("root");
        let ca = root
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca")
            .publishing(Published::under("http://crl.example"));
        let leaf = ca
            .issue(&LeafSpec::new(
                "Leaf",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("leaf");
        let cert = Certificate::from_der(leaf.cert_der()).expect("cert");
        assert_eq!(crl_urls(&cert), ["http://crl.example/issuing-ca.crl"]);
        let day = Duration::from_secs(86_400);
        let url = "http://crl.example/issuing-ca.crl";
        let of_ca =
            PublishedCrl::parse(url, ca.crl(&[], now, now + day, 1).expect("crl")).expect("parsed");
        assert_eq!(of_ca.next_update, now + day);
        of_ca.speaks_for(&cert, false).expect("its issuer's");
        let ca_cert = Certificate::from_der(ca.cert_der()).expect("cert");
        of_ca.verify_signature(&ca_cert).expect("signed by the CA");
        // The root's CRL served at the leaf's address: not about the leaf.
        let of_root = PublishedCrl::parse(url, root.crl(&[], now, now + day, 1).expect("crl"))
            .expect("parsed");
        assert!(of_root.speaks_for(&cert, false).is_err());
        assert!(of_root.verify_signature(&ca_cert).is_err());
        // Not a CRL: refused when read.
        assert!(PublishedCrl::parse(url, b"<html>".to_vec()).is_err());
        // A root names no distribution point.
        let root_cert = Certificate::from_der(root.cert_der()).expect("cert");
        assert!(crl_urls(&root_cert).is_empty());
    }
}

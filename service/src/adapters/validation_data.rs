//! The validation data of the evidences (XAdES baseline B-LT and B-LTA): the
//! [`ValidationSource`] the seal and the archive job ask, over the service's own revocation
//! sources.
//!
//! For each chain it is given (leaf first), the source completes the path from the
//! certificates the service knows (the seal chain, the embedded TSA's certificate and chain,
//! the remote and counter-stamping units and their trust anchors, the sender CAs) up to a
//! self-signed certificate among them, each link checked by its signature and every
//! certificate valid now. Then, for each certificate but that anchor, in this order:
//! 1. with `revocation.ocsp`, when the certificate names a responder (or
//!    `revocation.ocsp_responder` is set): the responder's answer, verified and good
//!    (`OcspChecker::good_response`, which remembers verified answers until their
//!    nextUpdate, never past it);
//! 2. otherwise, or when no verified answer came (but never after one saying revoked): a CRL
//!    of its issuer among `revocation.crls` as last read: signed by the issuer, current
//!    (thisUpdate not ahead, nextUpdate not passed), complete (no critical extension such as
//!    a partial or delta scope), and not listing the certificate; without one there, with
//!    `revocation.crl_distribution_points`, the CRL its distribution point publishes (fetched
//!    and kept by the same fetcher the trust stores use, verified as its issuer's and current),
//!    not listing it.
//!
//! Fails closed: a chain that cannot be completed, a certificate revoked, or one whose status
//! neither source shows, and the whole answer is an error naming it; nothing is then sealed
//! or archived.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use der::asn1::{AnyRef, BitString, ObjectIdentifier};
use der::{Decode, Encode, Reader, SliceReader};
use sealpost_evidence::long_term::{ValidationData, ValidationSource};
use sealpost_evidence::seal::SealError;
use sealpost_xmldsig::dsig::{PublicKey, SignatureAlgorithm};
use sealpost_xmldsig::trust::TrustError;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::ocsp::OcspChecker;
use crate::core::Clock;
use sealpost_xmldsig::published_crl::CrlDistributionPoints;

/// How far a CRL's thisUpdate may be ahead of this host's clock.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The longest path completed (leaf, CAs, anchor).
const MAX_PATH: usize = 8;

/// The CRLs of `revocation.crls` as last read (DER), shared by the periodic reader and the
/// validation source.
#[derive(Debug, Default)]
pub struct LoadedCrls(RwLock<Arc<Vec<Vec<u8>>>>);

impl LoadedCrls {
    pub fn replace(&self, crls: Vec<Vec<u8>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(crls);
    }

    pub fn current(&self) -> Arc<Vec<Vec<u8>>> {
        Arc::clone(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The service's validation source.
pub struct ServiceValidationSource {
    /// Certificates that may complete a path; the self-signed ones end it.
    known: Vec<Vec<u8>>,
    ocsp: Option<Arc<OcspChecker>>,
    crls: Arc<LoadedCrls>,
    /// The CRLs the certificates' distribution points publish, when fetched
    /// (`revocation.crl_distribution_points`).
    distribution_points: Option<Arc<dyn CrlDistributionPoints>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ServiceValidationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceValidationSource")
            .field("known", &self.known.len())
            .field("ocsp", &self.ocsp.is_some())
            .finish_non_exhaustive()
    }
}

/// A certificate, parsed once.
struct Cert {
    der: Vec<u8>,
    parsed: Certificate,
}

impl Cert {
    fn parse(der: &[u8]) -> Result<Cert, String> {
        Ok(Cert {
            parsed: Certificate::from_der(der).map_err(|e| format!("a certificate: {e}"))?,
            der: der.to_vec(),
        })
    }

    fn subject(&self) -> String {
        self.parsed.tbs_certificate.subject.to_string()
    }

    fn self_issued(&self) -> bool {
        self.parsed.tbs_certificate.subject == self.parsed.tbs_certificate.issuer
    }

    /// Whether `issuer` signed this certificate.
    fn signed_by(&self, issuer: &Cert) -> bool {
        self.parsed.tbs_certificate.issuer == issuer.parsed.tbs_certificate.subject
            && verify_signed(
                &self.der,
                &self.parsed.signature_algorithm,
                &self.parsed.signature,
                issuer,
            )
            .is_ok()
    }
}

/// Verifies a signed ASN.1 structure (`SEQUENCE { tbs, algorithm, signature }`: a
/// certificate, a CRL) by `issuer`'s key.
fn verify_signed(
    der: &[u8],
    algorithm: &AlgorithmIdentifierOwned,
    signature: &BitString,
    issuer: &Cert,
) -> Result<(), String> {
    let method = signature_algorithm(algorithm.oid)?;
    let tbs = signed_part(der).map_err(|e| e.to_string())?;
    PublicKey::from_parsed_certificate(&issuer.parsed)
        .map_err(|e| e.to_string())?
        .verify_asn1(method, &tbs, signature.raw_bytes())
        .map_err(|e| format!("signature: {e}"))
}

/// The first element of a SEQUENCE, as encoded: what its signature covers.
fn signed_part(der: &[u8]) -> der::Result<Vec<u8>> {
    let outer = AnyRef::from_der(der)?;
    let mut reader = SliceReader::new(outer.value())?;
    let tbs: AnyRef<'_> = reader.decode()?;
    tbs.to_der()
}

/// The signature algorithms accepted on certificates and CRLs (no SHA-1).
fn signature_algorithm(oid: ObjectIdentifier) -> Result<SignatureAlgorithm, String> {
    const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
    const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
    Ok(match oid {
        ECDSA_SHA256 => SignatureAlgorithm::EcdsaSha256,
        ECDSA_SHA384 => SignatureAlgorithm::EcdsaSha384,
        RSA_SHA256 => SignatureAlgorithm::RsaSha256,
        RSA_SHA384 => SignatureAlgorithm::RsaSha384,
        RSA_SHA512 => SignatureAlgorithm::RsaSha512,
        other => return Err(format!("signature algorithm {other} not accepted")),
    })
}

fn failed(why: String) -> SealError {
    SealError::Signing(format!("validation data: {why}"))
}

/// How one certificate is shown unrevoked.
enum Proof {
    Ocsp(Arc<[u8]>),
    Crl(Vec<u8>),
}

impl ServiceValidationSource {
    /// `known`: the certificates (DER) paths are completed from; `ocsp`: the checker of
    /// `revocation.ocsp` when it is on; `crls`: those of `revocation.crls` as last read.
    pub fn new(
        known: Vec<Vec<u8>>,
        ocsp: Option<Arc<OcspChecker>>,
        crls: Arc<LoadedCrls>,
        distribution_points: Option<Arc<dyn CrlDistributionPoints>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ServiceValidationSource {
            known,
            ocsp,
            crls,
            distribution_points,
            clock,
        }
    }

    /// `chain` completed up to a self-signed certificate the service knows, each link's
    /// signature checked and every certificate valid at `now`.
    fn complete(&self, chain: &[Vec<u8>], now: SystemTime) -> Result<Vec<Cert>, String> {
        let given = chain
            .iter()
            .map(|c| Cert::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let known = self
            .known
            .iter()
            .map(|c| Cert::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pool = given.into_iter();
        let leaf = pool.next().ok_or("an empty chain")?;
        let pool: Vec<Cert> = pool.chain(known).collect();
        let mut path = vec![leaf];
        loop {
            let last = path.last().ok_or("an empty chain")?;
            let validity = &last.parsed.tbs_certificate.validity;
            if now < validity.not_before.to_system_time()
                || now > validity.not_after.to_system_time()
            {
                return Err(format!(
                    "the certificate {} is not valid now",
                    last.subject()
                ));
            }
            if last.self_issued() {
                if !self.known.contains(&last.der) || !last.signed_by(last) {
                    return Err(format!(
                        "the chain ends at {}, which is not a trust anchor of this service's configuration",
                        last.subject()
                    ));
                }
                return Ok(path);
            }
            if path.len() >= MAX_PATH {
                return Err(format!("the chain of {} is too long", path[0].subject()));
            }
            let issuer = pool.iter().find(|c| last.signed_by(c)).ok_or_else(|| {
                format!(
                    "the issuer of {} ({}) is not among the certificates this service knows (seal.cert, tsa.cert and tsa.chain, tsa.remote_units, tsa.counter_stamp_units and their trust anchors, senders.trust_anchors and senders.intermediates)",
                    last.subject(),
                    last.parsed.tbs_certificate.issuer
                )
            })?;
            path.push(Cert {
                der: issuer.der.clone(),
                parsed: issuer.parsed.clone(),
            });
        }
    }

    /// How `cert`, issued by `issuer`, is shown unrevoked at `now`.
    fn proof(&self, cert: &Cert, issuer: &Cert, now: SystemTime) -> Result<Proof, String> {
        let mut ocsp_failure = None;
        if let Some(ocsp) = self
            .ocsp
            .as_ref()
            .filter(|o| o.has_responder_for(&cert.der))
        {
            match ocsp.good_response(&cert.der, &issuer.der, now) {
                Ok((der, _until)) => return Ok(Proof::Ocsp(der)),
                Err(TrustError::Revoked(by)) => {
                    return Err(format!("the certificate {} is revoked{by}", cert.subject()));
                }
                Err(e) => ocsp_failure = Some(e.to_string()),
            }
        }
        match self.crl(cert, issuer, now)? {
            Some(crl) => Ok(Proof::Crl(crl)),
            None => Err(format!(
                "the revocation status of {} cannot be established: {}no current CRL of its issuer {} is in revocation.crls or at its distribution point",
                cert.subject(),
                ocsp_failure
                    .map(|f| format!("OCSP: {f}; "))
                    .unwrap_or_default(),
                issuer.subject()
            )),
        }
    }

    /// The current CRL of `issuer` (the latest issued, when several are), if `cert` is not
    /// on it; `None` when there is none; an error when it lists `cert`.
    fn crl(&self, cert: &Cert, issuer: &Cert, now: SystemTime) -> Result<Option<Vec<u8>>, String> {
        let mut best: Option<(SystemTime, &Vec<u8>, CertificateList)> = None;
        let crls = self.crls.current();
        for der in crls.iter() {
            let Ok(list) = CertificateList::from_der(der) else {
                continue;
            };
            let tbs = &list.tbs_cert_list;
            let this_update = tbs.this_update.to_system_time();
            let current = tbs.issuer == issuer.parsed.tbs_certificate.subject
                && this_update <= now + CLOCK_SKEW
                && tbs.next_update.is_some_and(|n| now < n.to_system_time())
                && is_complete(&list)
                && verify_signed(der, &list.signature_algorithm, &list.signature, issuer).is_ok();
            if current && best.as_ref().is_none_or(|(t, _, _)| *t < this_update) {
                best = Some((this_update, der, list));
            }
        }
        let (der, list) = match best {
            Some((_, der, list)) => (der.clone(), list),
            // Else the CRL the certificate's distribution point publishes (verified as its
            // issuer's and current by the fetcher), if it names one.
            None => match &self.distribution_points {
                Some(points) => match points.crl_for(&cert.parsed, &issuer.parsed, now) {
                    Ok(Some(published)) => {
                        let list = CertificateList::from_der(&published.der).map_err(|e| {
                            format!("the CRL at {} does not read: {e}", published.url)
                        })?;
                        if !is_complete(&list) {
                            return Err(format!(
                                "the CRL at {} is partitioned, a delta or has a critical extension: a court's verifier would not use it",
                                published.url
                            ));
                        }
                        (published.der.clone(), list)
                    }
                    Ok(None) => return Ok(None),
                    Err(e) => return Err(format!("{}: {e}", cert.subject())),
                },
                None => return Ok(None),
            },
        };
        let serial = &cert.parsed.tbs_certificate.serial_number;
        if list
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| r.serial_number == *serial)
        {
            return Err(format!(
                "the certificate {} is revoked (CRL of {})",
                cert.subject(),
                issuer.subject()
            ));
        }
        Ok(Some(der))
    }
}

/// A complete CRL, as a court's verifier reads one (`sealpost_evidence`'s step 10): no
/// critical extension, no issuing distribution point (a partition), no delta indicator.
fn is_complete(list: &CertificateList) -> bool {
    const DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
    const ISSUING_DISTRIBUTION_POINT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.28");
    !list.tbs_cert_list.crl_extensions.iter().flatten().any(|e| {
        e.critical || e.extn_id == DELTA_CRL_INDICATOR || e.extn_id == ISSUING_DISTRIBUTION_POINT
    })
}

impl ValidationSource for ServiceValidationSource {
    fn validation_data(&self, chains: &[Vec<Vec<u8>>]) -> Result<ValidationData, SealError> {
        let now = self.clock.now();
        let mut data = ValidationData::default();
        for chain in chains {
            let path = self.complete(chain, now).map_err(failed)?;
            for pair in path.windows(2) {
                let (cert, issuer) = (&pair[0], &pair[1]);
                if !data.certificates.contains(&cert.der) {
                    data.certificates.push(cert.der.clone());
                }
                match self.proof(cert, issuer, now).map_err(failed)? {
                    Proof::Ocsp(der) => {
                        if !data.ocsp_responses.iter().any(|o| o[..] == der[..]) {
                            data.ocsp_responses.push(der.to_vec());
                        }
                    }
                    Proof::Crl(der) => {
                        if !data.crls.contains(&der) {
                            data.crls.push(der);
                        }
                    }
                }
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile};

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    struct At(SystemTime);

    impl Clock for At {
        fn now(&self) -> SystemTime {
            self.0
        }
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn serial(cert: &[u8]) -> Vec<u8> {
        Certificate::from_der(cert)
            .expect("cert")
            .tbs_certificate
            .serial_number
            .as_bytes()
            .to_vec()
    }

    /// `ca`'s CRL issued half a day before `now()`, valid a day, revoking `revoked`.
    fn crl(ca: &Authority, revoked: &[&[u8]]) -> Vec<u8> {
        let day = Duration::from_secs(86_400);
        let serials: Vec<Vec<u8>> = revoked.iter().map(|c| serial(c)).collect();
        ca.crl(&serials, now() - day / 2, now() + day / 2, 1)
            .expect("crl")
    }

    /// A root, an issuing CA and a leaf of it.
    fn pki() -> (Authority, Authority, Vec<u8>) {
        let root = Authority::root("Root", now() - YEAR, now() + 10 * YEAR).expect("root");
        let ca = root
            .issue_ca("Issuing", now() - YEAR, now() + 5 * YEAR)
            .expect("ca");
        let leaf = ca
            .issue(&LeafSpec::new(
                "Seal",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now() - Duration::from_secs(60),
                YEAR,
            ))
            .expect("leaf");
        (root, ca, leaf.cert_der().to_vec())
    }

    fn source(known: Vec<Vec<u8>>, crls: Vec<Vec<u8>>, at: SystemTime) -> ServiceValidationSource {
        let loaded = Arc::new(LoadedCrls::default());
        loaded.replace(crls);
        ServiceValidationSource::new(known, None, loaded, None, Arc::new(At(at)))
    }

    /// Distribution points that publish these CRLs, whatever the certificate names.
    #[derive(Debug)]
    struct Published(Vec<Vec<u8>>);

    impl CrlDistributionPoints for Published {
        fn crl_for(
            &self,
            cert: &Certificate,
            _issuer: &Certificate,
            _at: SystemTime,
        ) -> Result<Option<Arc<sealpost_xmldsig::published_crl::PublishedCrl>>, TrustError>
        {
            self.0
                .iter()
                .find(|der| {
                    CertificateList::from_der(der)
                        .is_ok_and(|l| l.tbs_cert_list.issuer == cert.tbs_certificate.issuer)
                })
                .map(|der| {
                    sealpost_xmldsig::published_crl::PublishedCrl::parse(
                        "http://crl.example/ca.crl",
                        der.clone(),
                    )
                    .map(Arc::new)
                })
                .transpose()
        }

        fn generation(&self) -> u64 {
            0
        }
    }

    #[test]
    fn without_crl_files_the_distribution_points_crls_show_the_chain_unrevoked() {
        let (root, ca, leaf) = pki();
        let known = vec![ca.cert_der().to_vec(), root.cert_der().to_vec()];
        let published = |crls: Vec<Vec<u8>>| {
            ServiceValidationSource::new(
                known.clone(),
                None,
                Arc::new(LoadedCrls::default()),
                Some(Arc::new(Published(crls))),
                Arc::new(At(now())),
            )
        };
        let crls = vec![crl(&ca, &[]), crl(&root, &[])];
        let data = published(crls.clone())
            .validation_data(&[vec![leaf.clone()]])
            .expect("validation data");
        assert_eq!(data.crls, crls);
        // The CRL published there revokes the leaf: nothing.
        refused(
            published(vec![crl(&ca, &[&leaf]), crl(&root, &[])])
                .validation_data(&[vec![leaf.clone()]]),
            "is revoked",
        );
    }

    fn refused(result: Result<ValidationData, SealError>, why: &str) {
        match result {
            Err(SealError::Signing(detail)) => assert!(detail.contains(why), "{detail}"),
            other => panic!("not refused ({why}): {other:?}"),
        }
    }

    #[test]
    fn each_certificate_but_the_anchor_is_shown_unrevoked_by_its_issuers_crl() {
        let (root, ca, leaf) = pki();
        let crls = vec![crl(&ca, &[]), crl(&root, &[])];
        let known = vec![ca.cert_der().to_vec(), root.cert_der().to_vec()];
        let data = source(known, crls.clone(), now())
            .validation_data(&[vec![leaf.clone()]])
            .expect("validation data");
        assert_eq!(data.certificates, vec![leaf, ca.cert_der().to_vec()]);
        assert_eq!(data.crls, crls);
        assert!(data.ocsp_responses.is_empty());
    }

    #[test]
    fn a_revoked_certificate_a_stale_or_missing_crl_or_an_unknown_issuer_gives_nothing() {
        let (root, ca, leaf) = pki();
        let day = Duration::from_secs(86_400);
        let root_crl = crl(&root, &[]);
        let known = vec![ca.cert_der().to_vec(), root.cert_der().to_vec()];
        let revoking = crl(&ca, &[&leaf]);
        refused(
            source(known.clone(), vec![revoking, root_crl.clone()], now())
                .validation_data(&[vec![leaf.clone()]]),
            "is revoked",
        );
        // Past its nextUpdate.
        let fresh = crl(&ca, &[]);
        refused(
            source(
                known.clone(),
                vec![fresh.clone(), root_crl.clone()],
                now() + day,
            )
            .validation_data(&[vec![leaf.clone()]]),
            "no current CRL",
        );
        // The issuing CA's own status: no CRL of the root.
        refused(
            source(known.clone(), vec![fresh.clone()], now())
                .validation_data(&[vec![leaf.clone()]]),
            "CN=Issuing",
        );
        // A CRL by another CA of the same name does not count.
        let other_root = Authority::root("Root", now() - YEAR, now() + YEAR).expect("root");
        let impostor = crl(
            &other_root
                .issue_ca("Issuing", now() - YEAR, now() + YEAR)
                .expect("ca"),
            &[],
        );
        refused(
            source(known.clone(), vec![impostor, root_crl.clone()], now())
                .validation_data(&[vec![leaf.clone()]]),
            "no current CRL",
        );
        // No path to a known anchor.
        refused(
            source(vec![root.cert_der().to_vec()], vec![fresh, root_crl], now())
                .validation_data(&[vec![leaf]]),
            "is not among the certificates",
        );
    }
}

//! OCSP over HTTP: the [`StatusChecker`] the sender and mailbox trust stores ask about every
//! signer when `revocation.ocsp` is on. It posts an `application/ocsp-request` to the
//! responder the certificate names (Authority Information Access) or to
//! `revocation.ocsp_responder`, verifies the answer (`sealpost_xmldsig::ocsp`), and remembers
//! verified answers per (issuer, serial) until their nextUpdate (or the maximum age), a bounded
//! number of them, with their DER: the evidences' validation data embeds a verified good
//! answer as the responder signed it ([`OcspChecker::good_response`]).
//!
//! The trust stores are asked from synchronous code on the request path. The exchange runs
//! on the service's runtime: a worker thread of the multi-threaded runtime hands its other
//! tasks over (`tokio::task::block_in_place`) while it waits, at most `revocation.ocsp_timeout_ms`;
//! outside a multi-threaded runtime (start-up, administration, tests) a thread of its own
//! with a small runtime makes the exchange.
//!
//! Fails closed: no responder, no answer in time, an answer that does not verify, or status
//! unknown, and the certificate is refused (`RevocationUnknown`); revoked, refused as
//! revoked. Only verified good and revoked answers are remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use der::Decode;
use hyper::{Method, Uri};
use sealpost_xmldsig::ocsp::{
    self, CertIdHash, REQUEST_CONTENT_TYPE, RESPONSE_CONTENT_TYPE, ResponsePolicy, Status,
    StatusRequest, VerifiedStatus,
};
use sealpost_xmldsig::trust::{RevokedBy, StatusChecker, TrustError, UnknownStatus};

use super::revocation_http::{Exchange, FetchError, RevocationHttp, http_uri};

/// Answers larger than this are refused (a signed answer with its responder's certificate is
/// a few KiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How many verified answers are remembered; the memory starts afresh when full.
const REMEMBERED: usize = 10_000;

/// How the checker is set up (from `revocation.*`).
#[derive(Clone, Debug)]
pub struct OcspSettings {
    /// Asked instead of the responder the certificate names.
    pub responder: Option<String>,
    pub timeout: Duration,
    pub policy: ResponsePolicy,
}

/// Whose status an answer gives: (SHA-256 of the issuer's certificate, serial number).
type AnswerKey = ([u8; 32], Vec<u8>);

/// The OCSP client with its memory of answers.
#[derive(Debug)]
pub struct OcspChecker {
    responder: Option<Uri>,
    policy: ResponsePolicy,
    http: RevocationHttp,
    remembered: Mutex<HashMap<AnswerKey, Answer>>,
}

/// A verified answer and its DER `OCSPResponse`, as the responder sent it.
#[derive(Clone, Debug)]
struct Answer {
    status: VerifiedStatus,
    der: Arc<[u8]>,
}

fn unknown(why: impl std::fmt::Display) -> TrustError {
    TrustError::RevocationUnknown(UnknownStatus::Ocsp(why.to_string()))
}

impl OcspChecker {
    /// Refuses a `responder` that is not an `http://` URL.
    pub fn new(settings: &OcspSettings) -> anyhow::Result<Self> {
        let responder = match &settings.responder {
            Some(url) => {
                Some(http_uri(url).map_err(|e| anyhow::anyhow!("revocation.ocsp_responder: {e}"))?)
            }
            None => None,
        };
        Ok(OcspChecker {
            responder,
            policy: settings.policy,
            http: RevocationHttp::new(settings.timeout),
            remembered: Mutex::default(),
        })
    }

    /// Posts the request; the DER answer, unverified (the one HTTP exchange of the
    /// revocation clients, from synchronous code, never blocking a runtime worker
    /// unannounced).
    fn exchange(&self, url: Uri, request_der: Vec<u8>) -> Result<Vec<u8>, FetchError> {
        self.http.exchange_blocking(Exchange {
            method: Method::POST,
            uri: url,
            body: Some((request_der, REQUEST_CONTENT_TYPE)),
            answer_type: Some(RESPONSE_CONTENT_TYPE),
            max_bytes: MAX_RESPONSE_BYTES,
        })
    }

    fn verdict(status: &VerifiedStatus) -> Result<SystemTime, TrustError> {
        match status.status {
            Status::Good => Ok(status.valid_until),
            Status::Revoked { since } => Err(TrustError::Revoked(RevokedBy::Ocsp { since })),
            Status::Unknown => Err(unknown("the responder does not know the certificate")),
        }
    }
}

impl OcspChecker {
    /// A verified answer about `cert` (issued by `issuer`) current at `at`: remembered, or
    /// asked for now (and remembered unless it says unknown).
    fn answer(&self, cert: &[u8], issuer: &[u8], at: SystemTime) -> Result<Answer, TrustError> {
        let serial = x509_cert::Certificate::from_der(cert)
            .map_err(|e| TrustError::Malformed(e.to_string()))?
            .tbs_certificate
            .serial_number
            .as_bytes()
            .to_vec();
        let mut issuer_sha256 = [0u8; 32];
        issuer_sha256.copy_from_slice(digest::digest(&digest::SHA256, issuer).as_ref());
        let key = (issuer_sha256, serial);
        let remembered = self
            .remembered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(answer) =
            remembered.filter(|a| a.status.is_current_at(at, self.policy.clock_skew))
        {
            return Ok(answer);
        }
        let url = match &self.responder {
            Some(uri) => uri.clone(),
            None => {
                let named = ocsp::responder_url(cert).ok_or_else(|| {
                    unknown("the certificate names no OCSP responder and revocation.ocsp_responder is not set")
                })?;
                http_uri(&named).map_err(unknown)?
            }
        };
        let request = StatusRequest::new(cert, issuer, CertIdHash::Sha1).map_err(unknown)?;
        let der = self
            .exchange(url.clone(), request.der().to_vec())
            .map_err(unknown)?;
        let status = request
            .verify_response(&der, at, &self.policy)
            .map_err(|e| unknown(format!("the answer of {url}: {e}")))?;
        let answer = Answer {
            status,
            der: der.into(),
        };
        if status.status != Status::Unknown {
            let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            if remembered.len() >= REMEMBERED {
                remembered.clear();
            }
            remembered.insert(key, answer.clone());
        }
        Ok(answer)
    }

    /// Whether the certificate names a responder this checker would ask (or one is set for
    /// every certificate).
    pub fn has_responder_for(&self, cert: &[u8]) -> bool {
        self.responder.is_some() || ocsp::responder_url(cert).is_some()
    }

    /// A verified answer saying `cert` (issued by `issuer`) is good at `at`, as the DER
    /// `OCSPResponse` the responder signed, and until when it holds (its nextUpdate, or its
    /// thisUpdate plus `revocation.ocsp_max_age_s`): what an evidence embeds. Revoked,
    /// unknown or no verified answer: the error says which.
    pub fn good_response(
        &self,
        cert: &[u8],
        issuer: &[u8],
        at: SystemTime,
    ) -> Result<(Arc<[u8]>, SystemTime), TrustError> {
        let answer = self.answer(cert, issuer, at)?;
        Self::verdict(&answer.status).map(|until| (answer.der, until))
    }
}

impl StatusChecker for OcspChecker {
    fn check(&self, cert: &[u8], issuer: &[u8], at: SystemTime) -> Result<SystemTime, TrustError> {
        Self::verdict(&self.answer(cert, issuer, at)?.status)
    }

    /// An issuing CA is asked about when it names a responder (Authority Information Access);
    /// one that names none must be covered by a CRL.
    fn speaks_for_ca(&self, ca: &[u8]) -> bool {
        ocsp::responder_url(ca).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile, Published};

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    /// A sender of an issuing CA whose leaves name `responder`, and the CA.
    fn sender(responder: &str) -> (Vec<u8>, Vec<u8>) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR).expect("root");
        let ca = root
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca")
            .publishing(Published::under(responder));
        let sender = ca
            .issue(&LeafSpec::new(
                "Sender",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("sender");
        (sender.cert_der().to_vec(), ca.cert_der().to_vec())
    }

    fn checker(responder: Option<String>) -> OcspChecker {
        OcspChecker::new(&OcspSettings {
            responder,
            timeout: Duration::from_millis(300),
            policy: ResponsePolicy::default(),
        })
        .expect("checker")
    }

    fn refused_as_unknown(result: Result<SystemTime, TrustError>, why: &str) {
        match result {
            Err(TrustError::RevocationUnknown(UnknownStatus::Ocsp(detail))) => {
                assert!(detail.contains(why), "{detail}")
            }
            other => panic!("not refused as unknown: {other:?}"),
        }
    }

    #[test]
    fn an_unreachable_or_silent_responder_refuses_the_certificate_from_any_thread() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        let (cert, issuer) = sender(&url);
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let checker = checker(None);
        // Outside any runtime (start-up, administration).
        refused_as_unknown(checker.check(&cert, &issuer, at), "cannot be reached");
        // On a current-thread runtime, where block_in_place would panic.
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        current.block_on(async {
            refused_as_unknown(checker.check(&cert, &issuer, at), "cannot be reached");
        });
        // On a worker of the service's multi-threaded runtime.
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let checker = Arc::new(checker);
        let (c, i) = (cert.clone(), issuer.clone());
        let on_worker = Arc::clone(&checker);
        let result = multi
            .block_on(async move { tokio::spawn(async move { on_worker.check(&c, &i, at) }).await })
            .expect("task");
        refused_as_unknown(result, "cannot be reached");
        // A responder that accepts and never answers: refused once the timeout is over.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let silent_url = format!("http://{}/", silent.local_addr().expect("addr"));
        refused_as_unknown(
            OcspChecker::new(&OcspSettings {
                responder: Some(silent_url),
                timeout: Duration::from_millis(300),
                policy: ResponsePolicy::default(),
            })
            .expect("checker")
            .check(&cert, &issuer, at),
            "did not answer within",
        );
        drop(silent);
    }

    #[test]
    fn a_certificate_naming_no_responder_is_refused_without_an_override() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR).expect("root");
        let ca = root
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca");
        let bare = ca
            .issue(&LeafSpec::new(
                "Bare",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("leaf");
        refused_as_unknown(
            checker(None).check(bare.cert_der(), ca.cert_der(), now),
            "names no OCSP responder",
        );
        assert!(
            OcspChecker::new(&OcspSettings {
                responder: Some("https://ocsp.example/".into()),
                timeout: Duration::from_secs(1),
                policy: ResponsePolicy::default(),
            })
            .is_err(),
            "only http:// responders"
        );
    }
}

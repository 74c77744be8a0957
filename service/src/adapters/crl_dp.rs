//! CRLs from the distribution points the certificates name (`revocation.crl_distribution_points`):
//! the [`CrlDistributionPoints`] the sender and mailbox trust stores ask about each certificate
//! of a path (the signer, its issuing CAs) once the path is valid.
//!
//! Which CRLs: those of the `http://` distribution points of the certificates presented, as
//! they are checked. The first request that needs one fetches it (the path is valid by then,
//! so only the CAs the operator trusts decide which addresses are fetched); from then on it is
//! kept and fetched again in the background ([`DistributionPointCrls::refresh_periodically`])
//! once half the time from its fetching to its nextUpdate has passed, or
//! `revocation.crl_fetch_interval_s`, whichever comes first. A CRL is kept only when it reads,
//! its issuer (the issuer of the certificate that named it) signed it, and it is not older
//! than the one held (a replayed list would hide a revocation). One held past its nextUpdate
//! is fetched again on demand.
//!
//! Fails closed: a certificate none of whose distribution points gives a current CRL is
//! refused (`RevocationUnknown`), whatever the reason (unreachable, too slow, larger than
//! [`MAX_CRL_BYTES`], not a CRL, not signed by the issuer, expired). After a failed attempt an
//! address is not tried again for [`RETRY_AFTER`]: requests meanwhile are refused at once, with
//! the reason of the last attempt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use hyper::Method;
use sealpost_xmldsig::published_crl::{CrlDistributionPoints, PublishedCrl, crl_urls};
use sealpost_xmldsig::trust::{TrustError, UnknownStatus};
use x509_cert::Certificate;

use super::revocation_http::{Exchange, RevocationHttp, http_uri};
use crate::core::Clock;

/// CRLs larger than this are refused (a CA with many revocations publishes a few MiB).
pub const MAX_CRL_BYTES: usize = 16 << 20;

/// How long an address whose fetch failed is left alone.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// How many addresses are held at most.
const HELD: usize = 1_000;

/// How the fetcher is set up (from `revocation.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlFetchSettings {
    /// One fetch, connection included.
    pub timeout: Duration,
    /// A held CRL is fetched again at least this often.
    pub fetch_interval: Duration,
}

/// What is held for one address.
struct Held {
    crl: Option<Arc<PublishedCrl>>,
    /// The CA that signs what is published there (DER), which a new CRL must be signed by.
    issuer: Vec<u8>,
    fetched_at: SystemTime,
    /// The last failed attempt, when and why.
    failure: Option<(SystemTime, String)>,
}

/// The fetcher with the CRLs it holds.
pub struct DistributionPointCrls {
    http: RevocationHttp,
    fetch_interval: Duration,
    clock: Arc<dyn Clock>,
    held: Mutex<HashMap<String, Held>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for DistributionPointCrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributionPointCrls")
            .field("fetch_interval", &self.fetch_interval)
            .finish_non_exhaustive()
    }
}

fn unknown(why: String) -> TrustError {
    TrustError::RevocationUnknown(UnknownStatus::DistributionPoint(why))
}

impl DistributionPointCrls {
    pub fn new(settings: &CrlFetchSettings, clock: Arc<dyn Clock>) -> Self {
        DistributionPointCrls {
            http: RevocationHttp::new(settings.timeout),
            fetch_interval: settings.fetch_interval,
            clock,
            held: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exchange that fetches `url`.
    fn get(url: &str) -> Result<Exchange, String> {
        Ok(Exchange {
            method: Method::GET,
            uri: http_uri(url).map_err(|e| e.to_string())?,
            body: None,
            // Servers say application/pkix-crl, application/octet-stream or nothing: the
            // CRL's signature, not its label, is what is believed.
            answer_type: None,
            max_bytes: MAX_CRL_BYTES,
        })
    }

    /// A CRL fetched from `url`, read and signed by `issuer`.
    fn read(url: &str, der: Vec<u8>, issuer: &[u8]) -> Result<PublishedCrl, String> {
        let crl = PublishedCrl::parse(url, der).map_err(|e| format!("{url}: {e}"))?;
        let issuer = Certificate::from_der(issuer).map_err(|e| e.to_string())?;
        crl.verify_signature(&issuer)?;
        Ok(crl)
    }

    /// Keeps what a fetch of `url` gave (a CRL of `issuer`, or why not) at `now`; the CRL held
    /// for it afterwards.
    fn keep(
        &self,
        url: &str,
        issuer: &[u8],
        fetched: Result<PublishedCrl, String>,
        now: SystemTime,
    ) -> Result<Arc<PublishedCrl>, String> {
        let mut held = self.held();
        if !held.contains_key(url) && held.len() >= HELD {
            held.retain(|_, h| h.crl.as_ref().is_some_and(|c| c.next_update > now));
        }
        let room = held.contains_key(url) || held.len() < HELD;
        let entry = match held.get_mut(url) {
            Some(entry) => entry,
            None if room => held.entry(url.to_owned()).or_insert(Held {
                crl: None,
                issuer: issuer.to_vec(),
                fetched_at: now,
                failure: None,
            }),
            None => return fetched.map(Arc::new),
        };
        let crl = match fetched {
            Ok(crl) => crl,
            Err(why) => {
                entry.failure = Some((now, why.clone()));
                return Err(why);
            }
        };
        if let Some(old) = &entry.crl {
            // Never an older list instead of the one held: a replay would hide a revocation.
            if crl.this_update < old.this_update {
                let why = format!(
                    "{url}: the CRL published there (thisUpdate {}) is older than the one held (thisUpdate {}): not taken",
                    sealpost_model::time::format_date_time(crl.this_update),
                    sealpost_model::time::format_date_time(old.this_update)
                );
                entry.failure = Some((now, why.clone()));
                return Err(why);
            }
            if old.der != crl.der {
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
        let crl = Arc::new(crl);
        entry.crl = Some(Arc::clone(&crl));
        entry.issuer = issuer.to_vec();
        entry.fetched_at = now;
        entry.failure = None;
        Ok(crl)
    }

    /// The addresses whose CRL is due to be fetched again at `now`, with their issuer.
    fn due(&self, now: SystemTime) -> Vec<(String, Vec<u8>)> {
        self.held()
            .iter()
            .filter(|(_, h)| {
                let Some(crl) = &h.crl else { return false };
                let half_way = crl
                    .next_update
                    .duration_since(h.fetched_at)
                    .unwrap_or_default()
                    / 2;
                let recently_failed = h
                    .failure
                    .as_ref()
                    .is_some_and(|(when, _)| now < *when + RETRY_AFTER);
                !recently_failed && now >= h.fetched_at + half_way.min(self.fetch_interval)
            })
            .map(|(url, h)| (url.clone(), h.issuer.clone()))
            .collect()
    }

    /// Fetches again every held CRL that is due; how many were fetched, and the failures.
    pub async fn refresh(&self) -> (usize, Vec<String>) {
        let now = self.clock.now();
        let mut failures = Vec::new();
        let due = self.due(now);
        for (url, issuer) in &due {
            let fetched = match Self::get(url) {
                Ok(exchange) => match self.http.exchange(exchange).await {
                    Ok(der) => Self::read(url, der, issuer),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e),
            };
            if let Err(why) = self.keep(url, issuer, fetched, now) {
                failures.push(why);
            }
        }
        (due.len() - failures.len(), failures)
    }

    /// Fetches the due CRLs again every `every`, until the process ends.
    pub async fn refresh_periodically(self: Arc<Self>, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let (fetched, failures) = self.refresh().await;
            if fetched > 0 {
                tracing::debug!(
                    crls = fetched,
                    "CRLs fetched again from their distribution points"
                );
            }
            for why in failures {
                tracing::error!(error = %why, "a CRL cannot be fetched again: the one held stays, until its nextUpdate");
            }
        }
    }
}

impl CrlDistributionPoints for DistributionPointCrls {
    fn crl_for(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        at: SystemTime,
    ) -> Result<Option<Arc<PublishedCrl>>, TrustError> {
        let urls = crl_urls(cert);
        if urls.is_empty() {
            return Ok(None);
        }
        let issuer_der = issuer.to_der().map_err(|e| unknown(e.to_string()))?;
        let now = self.clock.now();
        let mut why = Vec::new();
        for url in &urls {
            let (current, recent_failure) = {
                let held = self.held();
                let entry = held.get(url);
                (
                    entry
                        .and_then(|h| h.crl.clone())
                        .filter(|c| c.next_update > at),
                    entry
                        .and_then(|h| h.failure.clone())
                        .filter(|(when, _)| now < *when + RETRY_AFTER),
                )
            };
            if let Some(crl) = current {
                return Ok(Some(crl));
            }
            if let Some((_, failure)) = recent_failure {
                why.push(format!(
                    "{failure} (tried again after {}s)",
                    RETRY_AFTER.as_secs()
                ));
                continue;
            }
            let fetched = Self::get(url).and_then(|exchange| {
                let der = self
                    .http
                    .exchange_blocking(exchange)
                    .map_err(|e| e.to_string())?;
                Self::read(url, der, &issuer_der)
            });
            match self.keep(url, &issuer_der, fetched, now) {
                Ok(crl) if crl.next_update > at => return Ok(Some(crl)),
                Ok(crl) => why.push(format!(
                    "{url}: the CRL published there expired at {}",
                    sealpost_model::time::format_date_time(crl.next_update)
                )),
                Err(e) => why.push(e),
            }
        }
        Err(unknown(format!(
            "no current CRL for {}: {}",
            cert.tbs_certificate.subject,
            why.join("; ")
        )))
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_pki::{Authority, Credential, KeyAlgorithm, LeafSpec, Profile, Published};
    use std::io::{Read, Write};

    const YEAR: Duration = Duration::from_secs(365 * 86_400);
    const DAY: Duration = Duration::from_secs(86_400);

    /// A clock the test moves.
    struct Moved(Mutex<SystemTime>);

    impl Clock for Moved {
        fn now(&self) -> SystemTime {
            *self.0.lock().expect("clock")
        }
    }

    /// Serves whatever `body` holds at every path, counting the requests.
    struct Publisher {
        url: String,
        body: Arc<Mutex<Vec<u8>>>,
        served: Arc<AtomicU64>,
    }

    fn publisher() -> Publisher {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let body: Arc<Mutex<Vec<u8>>> = Arc::default();
        let served: Arc<AtomicU64> = Arc::default();
        let (b, s) = (Arc::clone(&body), Arc::clone(&served));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                s.fetch_add(1, Ordering::SeqCst);
                let body = b.lock().expect("body").clone();
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = stream.write_all(&body);
            }
        });
        Publisher { url, body, served }
    }

    fn serial(der: &[u8]) -> Vec<u8> {
        Certificate::from_der(der)
            .expect("cert")
            .tbs_certificate
            .serial_number
            .as_bytes()
            .to_vec()
    }

    struct Pki {
        ca: Authority,
        ca_cert: Certificate,
        leaf: Credential,
        leaf_cert: Certificate,
    }

    fn pki(base: &str, now: SystemTime) -> Pki {
        let root = Authority::root("Root", now - YEAR, now + 10 * YEAR).expect("root");
        let ca = root
            .issue_ca("Issuing", now - YEAR, now + 5 * YEAR)
            .expect("ca")
            .publishing(Published::under(base));
        let leaf = ca
            .issue(&LeafSpec::new(
                "Leaf",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                YEAR,
            ))
            .expect("leaf");
        Pki {
            ca_cert: Certificate::from_der(ca.cert_der()).expect("ca"),
            leaf_cert: Certificate::from_der(leaf.cert_der()).expect("leaf"),
            ca,
            leaf,
        }
    }

    #[test]
    fn a_crl_is_fetched_once_kept_until_due_and_never_replaced_by_an_older_one() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let server = publisher();
        let p = pki(&server.url, now);
        let first = p.ca.crl(&[], now, now + 7 * DAY, 1).expect("crl");
        *server.body.lock().expect("body") = first.clone();
        let clock = Arc::new(Moved(Mutex::new(now)));
        let crls = DistributionPointCrls::new(
            &CrlFetchSettings {
                timeout: Duration::from_secs(2),
                fetch_interval: Duration::from_secs(3600),
            },
            Arc::clone(&clock) as Arc<dyn Clock>,
        );
        let got = crls
            .crl_for(&p.leaf_cert, &p.ca_cert, now)
            .expect("fetched")
            .expect("a CRL");
        assert_eq!(got.der, first);
        crls.crl_for(&p.leaf_cert, &p.ca_cert, now)
            .expect("held")
            .expect("a CRL");
        assert_eq!(server.served.load(Ordering::SeqCst), 1, "fetched once");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        assert_eq!(runtime.block_on(crls.refresh()).0, 0, "not due yet");

        // An hour later (the interval): fetched again in the background; a new list with the
        // leaf revoked replaces the held one, and validations made before are made again.
        let later = now + Duration::from_secs(3600);
        *clock.0.lock().expect("clock") = later;
        let revoking =
            p.ca.crl(&[serial(p.leaf.cert_der())], later, later + 7 * DAY, 2)
                .expect("crl");
        *server.body.lock().expect("body") = revoking.clone();
        let generation = crls.generation();
        assert_eq!(runtime.block_on(crls.refresh()), (1, Vec::new()));
        assert_ne!(crls.generation(), generation);
        let got = crls
            .crl_for(&p.leaf_cert, &p.ca_cert, later)
            .expect("held")
            .expect("a CRL");
        assert_eq!(got.der, revoking);

        // What a thief on the network would serve: the older list, from before the
        // revocation. Not taken.
        *clock.0.lock().expect("clock") = later + Duration::from_secs(3600);
        *server.body.lock().expect("body") = first;
        let (fetched, failures) = runtime.block_on(crls.refresh());
        assert_eq!(fetched, 0);
        assert!(
            failures[0].contains("older than the one held"),
            "{failures:?}"
        );
        let got = crls
            .crl_for(&p.leaf_cert, &p.ca_cert, later)
            .expect("held")
            .expect("a CRL");
        assert_eq!(got.der, revoking);
    }

    #[test]
    fn no_current_crl_refuses_and_the_address_is_left_alone_for_a_while() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let server = publisher();
        let p = pki(&server.url, now);
        let clock = Arc::new(Moved(Mutex::new(now)));
        let crls = DistributionPointCrls::new(
            &CrlFetchSettings {
                timeout: Duration::from_secs(2),
                fetch_interval: Duration::from_secs(3600),
            },
            Arc::clone(&clock) as Arc<dyn Clock>,
        );
        let refused = |at, why: &str| match crls.crl_for(&p.leaf_cert, &p.ca_cert, at) {
            Err(TrustError::RevocationUnknown(UnknownStatus::DistributionPoint(detail))) => {
                assert!(detail.contains(why), "{detail}")
            }
            other => panic!("not refused: {other:?}"),
        };
        // Not a CRL.
        *server.body.lock().expect("body") = b"<html>moved</html>".to_vec();
        refused(now, "/issuing-ca.crl");
        // Within the retry delay: refused at once, without asking.
        refused(now, "tried again after");
        assert_eq!(server.served.load(Ordering::SeqCst), 1);
        // Signed by another CA than the issuer.
        let stranger = Authority::root("Stranger", now - YEAR, now + YEAR).expect("root");
        *server.body.lock().expect("body") = stranger.crl(&[], now, now + DAY, 1).expect("crl");
        let after = now + RETRY_AFTER;
        *clock.0.lock().expect("clock") = after;
        refused(after, "is not signed by");
        // The issuer's, but expired at the time of the signature judged.
        *clock.0.lock().expect("clock") = after + RETRY_AFTER;
        *server.body.lock().expect("body") = p.ca.crl(&[], now, now + DAY, 1).expect("crl");
        refused(now + 2 * DAY, "expired at");
        // Nobody there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let nobody = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        let q = pki(&nobody, now);
        match crls.crl_for(&q.leaf_cert, &q.ca_cert, now) {
            Err(TrustError::RevocationUnknown(UnknownStatus::DistributionPoint(detail))) => {
                assert!(detail.contains("cannot be reached"), "{detail}")
            }
            other => panic!("not refused: {other:?}"),
        }
        // A certificate naming no distribution point: nothing to say.
        assert!(
            crls.crl_for(&p.ca_cert, &p.ca_cert, now)
                .expect("none")
                .is_none()
        );
    }
}

//! The HTTP server and the client the service uses for a remote TSA, in one process: a token
//! fetched and verified, a TSA whose clock is not trusted refusing, and the client's errors.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::post;
use sealpost_pki::DevPki;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::client::{ClientError, TsaClient};
use sealpost_tsa::clock::{
    ClockError, ClockGuard, ClockReading, ClockSource, UncheckedSystemClock,
};
use sealpost_tsa::serial::CounterSerials;
use sealpost_tsa::{
    EcdsaP256Signer, FailureInfo, HashAlgorithm, IssuePolicy, RequestSpec, TrustStore, VerifyError,
    server,
};
use tokio::net::TcpListener;

/// A clock source whose kernel says it is not synchronised.
struct Unsynchronised;

impl ClockSource for Unsynchronised {
    fn read(&self) -> Result<ClockReading, ClockError> {
        Err(ClockError::Unsynchronised { status: 0x40 })
    }
}

struct Fixture {
    pki: DevPki,
}

/// The time the servers' UncheckedSystemClock reads, for certificates valid when they sign.
fn system_now() -> SystemTime {
    UncheckedSystemClock.read().expect("the system clock").now
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            pki: DevPki::generate(system_now()).expect("pki"),
        }
    }

    fn authority(&self, clock: Box<dyn ClockSource>) -> Arc<TimeStampAuthority> {
        let signer = EcdsaP256Signer::new(
            &self.pki.tsa.key_pkcs8_der(),
            self.pki.tsa.cert_der(),
            &[self.pki.issuing.cert_der().to_vec()],
        )
        .expect("signer");
        Arc::new(TimeStampAuthority::new(
            Arc::new(signer),
            IssuePolicy::default(),
            Box::new(CounterSerials::starting_at(1)),
            ClockGuard::new(clock, Duration::from_secs(1), UNIX_EPOCH),
        ))
    }

    fn trust(&self) -> TrustStore {
        TrustStore::new([self.pki.root.cert_der().to_vec()])
    }
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(listener, router, std::future::pending()));
    format!("http://{addr}/tsa")
}

fn spec() -> RequestSpec {
    RequestSpec::new(
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha256.digest(b"letter"),
    )
}

#[tokio::test]
async fn the_client_fetches_and_verifies_a_token() {
    let f = Fixture::new();
    let url = serve(server::router(f.authority(Box::new(UncheckedSystemClock)))).await;
    let client = TsaClient::new(&url, Duration::from_secs(5)).expect("client");
    let first = client
        .timestamp(&spec(), &f.trust())
        .await
        .expect("timestamp");
    let second = client
        .timestamp(&spec(), &f.trust())
        .await
        .expect("timestamp");
    assert_eq!(first.verified.digest, spec().digest);
    assert_ne!(
        first.verified.serial, second.verified.serial,
        "serials repeat"
    );
    // The stored token verifies on its own later.
    let expected = sealpost_tsa::Expected::sha256_of(b"letter");
    sealpost_tsa::verify_token(&first.token, &expected, &f.trust()).expect("stored token");
}

#[tokio::test]
async fn a_tsa_whose_clock_is_not_trusted_refuses_with_time_not_available() {
    let f = Fixture::new();
    let url = serve(server::router(f.authority(Box::new(Unsynchronised)))).await;
    let client = TsaClient::new(&url, Duration::from_secs(5)).expect("client");
    let err = client
        .timestamp(&spec(), &f.trust())
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            ClientError::Verify(VerifyError::Rejected {
                failure: Some(FailureInfo::TimeNotAvailable),
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn the_client_reports_what_went_wrong() {
    let f = Fixture::new();
    assert!(matches!(
        TsaClient::new("https://tsa.example/", Duration::from_secs(1)),
        Err(ClientError::Url(_))
    ));
    assert!(matches!(
        TsaClient::new("not a url", Duration::from_secs(1)),
        Err(ClientError::Url(_))
    ));

    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let client =
        TsaClient::new(&format!("http://{addr}/tsa"), Duration::from_secs(2)).expect("client");
    assert!(matches!(
        client.timestamp(&spec(), &f.trust()).await,
        Err(ClientError::Transport(_))
    ));

    // A server that never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let client =
        TsaClient::new(&format!("http://{addr}/tsa"), Duration::from_millis(300)).expect("client");
    assert!(matches!(
        client.timestamp(&spec(), &f.trust()).await,
        Err(ClientError::Timeout(_))
    ));

    // Something that is not a TSA.
    let url = serve(Router::new().route("/tsa", post(|| async { "hello" }))).await;
    let client = TsaClient::new(&url, Duration::from_secs(2)).expect("client");
    assert!(matches!(
        client.timestamp(&spec(), &f.trust()).await,
        Err(ClientError::ContentType(_))
    ));

    // A TSA under another root: the answer does not verify.
    let url = serve(server::router(f.authority(Box::new(UncheckedSystemClock)))).await;
    let client = TsaClient::new(&url, Duration::from_secs(2)).expect("client");
    let stranger = DevPki::generate(system_now()).expect("pki");
    let err = client
        .timestamp(
            &spec(),
            &TrustStore::new([stranger.root.cert_der().to_vec()]),
        )
        .await
        .expect_err("untrusted");
    assert!(
        matches!(err, ClientError::Verify(VerifyError::Chain(_))),
        "{err}"
    );
}

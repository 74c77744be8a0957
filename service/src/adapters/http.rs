//! The HTTPS listener and the routes of the one port.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The certificates the client presented in the TLS handshake (DER, its own first), proven
/// only in that the client holds the first one's key: trusting them is up to the channel.
/// Every request of a connection carries them as an extension; without one, none was
/// presented.
#[derive(Clone, Debug)]
pub struct PeerCertificates(pub Arc<Vec<Vec<u8>>>);

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/1.1 client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// HTTP/2: a ping after this long without a frame, and the connection closed when it is not
/// answered within `PING_TIMEOUT`.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// HTTP/2 streams one connection may have open at once.
const MAX_STREAMS: u32 = 128;

/// Accepts TLS connections on `listener` and serves `router` over HTTP/1.1 or HTTP/2 until
/// `shutdown` completes; then stops accepting, lets every connection finish the request it
/// is on (HTTP/2 clients get a GOAWAY, HTTP/1.1 connections close after their response) for
/// at most `grace`, and returns.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    // One clone per connection, from its handshake on: the connections still open.
    let open = Arc::new(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        let open = Arc::clone(&open);
        tokio::spawn(async move {
            let _open = open;
            let tls_stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let presented = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .filter(|certs| !certs.is_empty())
                .map(|certs| {
                    PeerCertificates(Arc::new(certs.iter().map(|c| c.to_vec()).collect()))
                });
            let service = TowerToHyperService::new(match presented {
                Some(peer) => router.layer(axum::Extension(peer)),
                None => router,
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // A client that does not send its request's headers in time is cut (slowloris);
            // an HTTP/2 connection that stops answering pings is closed.
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(PING_INTERVAL))
                .keep_alive_timeout(PING_TIMEOUT)
                .max_concurrent_streams(MAX_STREAMS);
            let connection = builder.serve_connection(TokioIo::new(tls_stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_s = grace.as_secs(),
        "shutting down: no new connection; the requests in flight finish"
    );
    let drained = async {
        graceful.shutdown().await;
        while Arc::strong_count(&open) > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    match tokio::time::timeout(grace, drained).await {
        Ok(()) => tracing::info!("every request in flight was answered"),
        Err(_) => tracing::warn!(
            connections = Arc::strong_count(&open) - 1,
            "the grace period ended with connections still open: they are cut"
        ),
    }
}

//! The HTTPS listener and the routes of the one port.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// The certificates the client presented in the TLS handshake (DER, its own first), proven
/// only in that the client holds the first one's key: trusting them is up to the channel.
/// Every request of a connection carries them as an extension; without one, none was
/// presented.
#[derive(Clone, Debug)]
pub struct PeerCertificates(pub Arc<Vec<Vec<u8>>>);

/// The connections the listener keeps, and how long each may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open at once, from the TCP accept on; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Open at once from one address (0: no limit, for a service behind a load balancer
    /// whose connections all come from its address).
    pub max_connections_per_peer: usize,
    /// To complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// HTTP/1.1: to send a request's headers, also the wait for the next request on a
    /// kept-alive connection (slowloris).
    pub header_timeout: Duration,
    /// With no request in flight, HTTP/1.1 or HTTP/2, a connection is closed after this long.
    pub idle_timeout: Duration,
}

/// HTTP/2: a ping after this long without a frame, and the connection closed when it is not
/// answered within `PING_TIMEOUT`.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Once the service stops, a connection with nothing in flight for this long is closed.
const STOP_QUIET: Duration = Duration::from_secs(1);
/// How long a connection asked to close for want of activity may take to do so.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// HTTP/2 streams one connection may have open at once.
const MAX_STREAMS: u32 = 128;

/// The connections open from each address.
#[derive(Debug, Default)]
struct Peers(Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One connection of an address, counted until dropped.
struct PeerSlot(Arc<Peers>, std::net::IpAddr);

impl Peers {
    /// A slot for one more connection from `ip`, unless it has `most` open (0: no limit).
    fn admit(self: &Arc<Self>, ip: std::net::IpAddr, most: usize) -> Option<PeerSlot> {
        if most == 0 {
            return Some(PeerSlot(Arc::clone(self), ip));
        }
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(PeerSlot(Arc::clone(self), ip))
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// The requests of one connection in flight, and when the last one ended.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    last_end: Mutex<Instant>,
}

/// One request in flight on its connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_end.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An answer's body, its request in flight until it is sent.
struct Answering {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Answering {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_end: Mutex::new(Instant::now()),
        })
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }

    /// Completes once the connection has had no request in flight for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let busy = self.in_flight.load(Ordering::SeqCst) > 0;
            let quiet_since = *self.last_end.lock().unwrap_or_else(|p| p.into_inner());
            if !busy && quiet_since.elapsed() >= timeout {
                return;
            }
            let wait = if busy {
                timeout
            } else {
                timeout.saturating_sub(quiet_since.elapsed())
            };
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

/// Files the service keeps open besides its connections: the store, its segments, the logs,
/// the listeners, the outgoing exchanges.
const OTHER_FILES: u64 = 256;

impl ConnectionLimits {
    /// These limits, fitted to the open-file limit of the process: the soft limit raised to
    /// the hard one if `max_connections` needs it, and `max_connections` lowered (with a
    /// warning) if even the hard limit leaves too little, so that a crowd of connections
    /// never takes the files the store needs.
    pub fn fitted_to_open_files(mut self) -> ConnectionLimits {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let wanted = self.max_connections as u64 + OTHER_FILES;
        let mut limit = getrlimit(Resource::Nofile);
        let soft = limit.current.unwrap_or(u64::MAX);
        if soft < wanted {
            let raised = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
            limit.current = Some(raised);
            match setrlimit(Resource::Nofile, limit) {
                Ok(()) => tracing::info!(from = soft, to = raised, "open-file limit raised"),
                Err(e) => tracing::warn!(error = %e, "the open-file limit could not be raised"),
            }
        }
        let open_files = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        if open_files < wanted {
            let fitted = usize::try_from(open_files.saturating_sub(OTHER_FILES))
                .unwrap_or(usize::MAX)
                .max(1);
            tracing::warn!(
                configured = self.max_connections,
                open_files,
                fitted,
                "limits.max_connections lowered to what the open-file limit allows"
            );
            self.max_connections = fitted;
        }
        self
    }
}

/// Accepts TLS connections on `listener` and serves `router` over HTTP/1.1 or HTTP/2 until
/// `shutdown` completes; then stops accepting, lets every connection finish the request it
/// is on (HTTP/2 clients get a GOAWAY, HTTP/1.1 connections close after their response) for
/// at most `grace`, and returns. Each connection is held to `limits`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    limits: ConnectionLimits,
) {
    let acceptor = TlsAcceptor::from(tls);
    let (stopping, stop) = tokio::sync::watch::channel(false);
    // One permit per connection, from its accept on: the connections still open.
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let peers = Arc::new(Peers::default());
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
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, max = limits.max_connections, "limits.max_connections reached: a connection is closed at once");
            drop(stream);
            continue;
        };
        let Some(peer_slot) = peers.admit(peer.ip(), limits.max_connections_per_peer) else {
            tracing::debug!(%peer, max = limits.max_connections_per_peer, "limits.max_connections_per_peer reached: a connection is closed at once");
            drop(stream);
            continue;
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _slots = (slot, peer_slot);
            let tls_stream =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await
                {
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
            let routes = TowerToHyperService::new(match presented {
                Some(peer) => router.layer(axum::Extension(peer)),
                None => router,
            });
            let activity = Activity::new();
            let counted = Arc::clone(&activity);
            let service = hyper::service::service_fn(move |request| {
                let in_flight = counted.begin();
                let answer = hyper::service::Service::call(&routes, request);
                async move {
                    // In flight until its answer is sent whole (or dropped).
                    answer.await.map(|response| {
                        response.map(|body| Answering {
                            body,
                            _in_flight: in_flight,
                        })
                    })
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // A client that does not send its request's headers in time is cut (slowloris);
            // an HTTP/2 connection that stops answering pings is closed.
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(PING_INTERVAL))
                .keep_alive_timeout(PING_TIMEOUT)
                .max_concurrent_streams(MAX_STREAMS);
            let connection = builder.serve_connection(TokioIo::new(tls_stream), service);
            tokio::pin!(connection);
            // Served until it ends. When the service stops, it is asked to close (its requests
            // in flight are answered first). A connection with nothing in flight, neither a
            // request nor an answer being sent, is asked to close when it has been so for
            // `idle_timeout`, or for `STOP_QUIET` once the service stops (time for a request
            // whose headers were arriving to be taken); it is dropped if it has not closed
            // within `CLOSE_WAIT` of being asked (a client that never reads its GOAWAY).
            let mut closing = false;
            let ended = loop {
                let quiet = if closing {
                    STOP_QUIET
                } else {
                    limits.idle_timeout
                };
                tokio::select! {
                    biased;
                    ended = connection.as_mut() => break ended,
                    () = async { drop(stop.wait_for(|stopping| *stopping).await) }, if !closing => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = activity.idle_for(quiet) => {
                        tracing::debug!(%peer, "a connection with nothing in flight is closed");
                        connection.as_mut().graceful_shutdown();
                        break tokio::time::timeout(CLOSE_WAIT, connection.as_mut())
                            .await
                            .unwrap_or(Ok(()));
                    }
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_s = grace.as_secs(),
        "shutting down: no new connection; the requests in flight finish"
    );
    let _ = stopping.send(true);
    let open = || limits.max_connections - slots.available_permits();
    let drained = async {
        while open() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    match tokio::time::timeout(grace, drained).await {
        Ok(()) => tracing::info!("every request in flight was answered"),
        Err(_) => tracing::warn!(
            connections = open(),
            "the grace period ended with connections still open: they are cut"
        ),
    }
}

//! Admission: what the requests read at once may hold, and how slowly they may come.
//!
//! - **The large requests read at once are bounded by their sizes** (`limits.in_flight_bytes`).
//!   Once a request's first MiB has come, it takes its share: its whole `Content-Length`, or,
//!   when it declared none (HTTP/2 without `Content-Length`, chunked HTTP/1.1), what has come,
//!   a MiB at a time. When the budget has not enough left, the rest of its body is read and
//!   dropped (for at most 10 s, so that the client hears the answer) and it is answered 503
//!   with `Retry-After` (gRPC: UNAVAILABLE), SEALPOST-SRV-001. The first MiB of every request
//!   is held to a budget of its own, as large, so the senders of ordinary letters are served
//!   while a crowd of large ones waits its turn, and a flood of small requests (or of HTTP/2
//!   streams) cannot hold more than it either.
//! - **A body must keep coming** (`limits.body_grace_s`, `limits.body_min_bytes_per_s`): after
//!   the grace, it must have arrived at the minimum rate on average, or it is cut
//!   (SEALPOST-REQ-008; gRPC: DEADLINE_EXCEEDED), and whatever it held is given back; nor
//!   may it fall silent for longer than the grace, whatever came before. A body
//!   that holds a share of the budget must come at `limits.large_body_min_bytes_per_s` from
//!   when it took it: a slow client cannot sit on the budget (a crowd of connections that
//!   declare 130 MiB and send a byte a second holds none of it).
//!
//! Both answers are the transport's: no audit entry is written for them (an overload is
//! answered cheaply).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Bytes, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Requests up to this size are always admitted.
pub const SMALL_BYTES: u64 = 1 << 20;

/// How long the body of a request turned away is read (and dropped) before the answer.
const DRAIN: Duration = Duration::from_secs(10);

/// A body without a declared length takes its share of the budget in steps of this many KiB.
const STEP_KIB: u32 = 1024;
/// ... and of the small requests' budget, in steps of this many.
const SMALL_STEP_KIB: u32 = 64;

/// How slowly a request's body may arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPace {
    /// Before the minimum rate applies.
    pub grace: Duration,
    /// The least average rate after the grace.
    pub min_bytes_per_s: u64,
    /// Once a body holds a share of the in-flight budget (past its first MiB): the least
    /// average rate from then on, after the grace. What an attacker pays to hold the budget.
    pub large_min_bytes_per_s: u64,
}

/// The budget, in KiB, and the pace bodies must keep.
#[derive(Debug)]
pub struct Admission {
    budget: Arc<Semaphore>,
    /// The small requests' (up to 1 MiB) budget, as large: what they hold as they come.
    small: Arc<Semaphore>,
    kib: u32,
    pace: BodyPace,
    /// Bodies cut: [for want of budget, too slow].
    cut: Arc<[AtomicU64; 2]>,
}

impl Admission {
    pub fn new(in_flight_bytes: u64, pace: BodyPace) -> Admission {
        let kib = u32::try_from(in_flight_bytes.div_ceil(1024)).unwrap_or(u32::MAX >> 3);
        Admission {
            budget: Arc::new(Semaphore::new(kib as usize)),
            small: Arc::new(Semaphore::new(kib as usize)),
            kib,
            pace,
            cut: Arc::default(),
        }
    }

    /// The budget's gauges and the bodies cut, in Prometheus text.
    pub fn render(&self) -> String {
        let used = |budget: &Semaphore| {
            u64::from(self.kib).saturating_sub(budget.available_permits() as u64) * 1024
        };
        format!(
            "# HELP sealpost_in_flight_budget_bytes limits.in_flight_bytes: what the large requests read at once may hold.\n# TYPE sealpost_in_flight_budget_bytes gauge\nsealpost_in_flight_budget_bytes {}\n# HELP sealpost_in_flight_budget_used_bytes What the large requests being read hold of it now.\n# TYPE sealpost_in_flight_budget_used_bytes gauge\nsealpost_in_flight_budget_used_bytes {}\n# HELP sealpost_in_flight_small_budget_used_bytes What the requests being read hold of the small requests' budget (their first MiB; as large as limits.in_flight_bytes).\n# TYPE sealpost_in_flight_small_budget_used_bytes gauge\nsealpost_in_flight_small_budget_used_bytes {}\n# HELP sealpost_request_bodies_cut_total Request bodies cut while read, by why (busy: no budget left; too_slow: below the pace).\n# TYPE sealpost_request_bodies_cut_total counter\nsealpost_request_bodies_cut_total{{why=\"busy\"}} {}\nsealpost_request_bodies_cut_total{{why=\"too_slow\"}} {}\n",
            u64::from(self.kib) * 1024,
            used(&self.budget),
            used(&self.small),
            self.cut[0].load(Ordering::Relaxed),
            self.cut[1].load(Ordering::Relaxed),
        )
    }
}

/// Why a request's body was cut while it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyRefused {
    #[error(
        "SEALPOST-SRV-001: the service is reading as many large requests as it may; retry in a few seconds"
    )]
    Busy,
    #[error(
        "SEALPOST-REQ-008: the request body arrived more slowly than limits.body_min_bytes_per_s"
    )]
    TooSlow,
}

impl BodyRefused {
    /// The refusal in `error` or in its causes: how a channel that read a body tells a cut
    /// body from a broken one.
    pub fn find(error: &(dyn std::error::Error + 'static)) -> Option<BodyRefused> {
        let mut at = Some(error);
        while let Some(e) = at {
            if let Some(refused) = e.downcast_ref::<BodyRefused>() {
                return Some(*refused);
            }
            at = e.source();
        }
        None
    }

    /// The answer: 503 with Retry-After, or 408; gRPC's UNAVAILABLE or DEADLINE_EXCEEDED.
    pub fn response(self, grpc: bool) -> Response {
        if grpc {
            return self.status().into_http::<Body>();
        }
        match self {
            BodyRefused::Busy => busy_response(false),
            BodyRefused::TooSlow => {
                let mut r = (StatusCode::REQUEST_TIMEOUT, format!("{self}\n")).into_response();
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
        }
    }

    fn status(self) -> tonic::Status {
        match self {
            BodyRefused::Busy => tonic::Status::unavailable(self.to_string()),
            BodyRefused::TooSlow => tonic::Status::deadline_exceeded(self.to_string()),
        }
    }
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/grpc"))
}

/// The middleware: a large request holds its share of the budget until it is answered; every
/// body is read at its pace.
pub async fn admit(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let grpc = is_grpc(&request);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // What the body took of the budget as it came, held until the answer.
    let taken = Arc::new(Mutex::new(Vec::new()));
    // Why the body was cut, if it was: whatever the route answered then, the answer is the
    // cut's (one answer for every route, the mailbox's forms included).
    let cut_for = Arc::new(Mutex::new(None));
    let (parts, body) = request.into_parts();
    let metered = Metered {
        inner: body,
        pace: admission.pace,
        started: Instant::now(),
        received: 0,
        deadline: None,
        budget: Some(Taking {
            budget: Arc::clone(&admission.budget),
            small: Arc::clone(&admission.small),
            most_kib: admission.kib,
            declared,
            taken_kib: 0,
            small_taken_kib: 0,
            taken: Arc::clone(&taken),
        }),
        sharing_since: None,
        last_came: None,
        cut: Arc::clone(&admission.cut),
        grpc,
        draining: None,
        refused: false,
        cut_for: Arc::clone(&cut_for),
    };
    let response = next
        .run(Request::from_parts(parts, Body::new(metered)))
        .await;
    drop(taken);
    let cut = *cut_for.lock().unwrap_or_else(|p| p.into_inner());
    match cut {
        Some(why) => why.response(grpc),
        None => response,
    }
}

/// What a body takes of the budgets as it comes: its first MiB from the small requests',
/// then its share of the large requests'.
#[derive(Debug)]
struct Taking {
    budget: Arc<Semaphore>,
    small: Arc<Semaphore>,
    most_kib: u32,
    /// Its `Content-Length`: the whole share at once. None: a MiB at a time as it comes.
    declared: Option<u64>,
    taken_kib: u32,
    small_taken_kib: u32,
    taken: Arc<Mutex<Vec<OwnedSemaphorePermit>>>,
}

impl Taking {
    /// `kib` of `budget`, held until the answer; Busy when it has not that much left.
    fn take(&self, budget: &Arc<Semaphore>, kib: u32) -> Result<(), BodyRefused> {
        let permit = Arc::clone(budget)
            .try_acquire_many_owned(kib)
            .map_err(|_| BodyRefused::Busy)?;
        self.taken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(permit);
        Ok(())
    }

    /// Takes what `received` bytes need: the first MiB from the small requests' budget (what
    /// has come, in steps of SMALL_STEP_KIB); past it, the
    /// declared size (all of the budget at most: the channel refuses a size beyond it as
    /// too large), or what has come, in steps of STEP_KIB.
    fn cover(&mut self, received: u64) -> Result<(), BodyRefused> {
        let small_kib = (SMALL_BYTES / 1024) as u32;
        // As it comes, whatever it declared: a crowd that declares much and sends little
        // holds little.
        let small_needed = (received.min(SMALL_BYTES).div_ceil(1024) as u32)
            .next_multiple_of(SMALL_STEP_KIB)
            .min(small_kib);
        if self.small_taken_kib < small_needed {
            let step = small_needed - self.small_taken_kib;
            self.take(&self.small, step)?;
            self.small_taken_kib += step;
        }
        if received <= SMALL_BYTES {
            return Ok(());
        }
        let needed = match self.declared {
            Some(size) => size.div_ceil(1024),
            None => (received - SMALL_BYTES).div_ceil(1024),
        };
        while u64::from(self.taken_kib) < needed && self.taken_kib < self.most_kib {
            let wanted = u32::try_from(needed - u64::from(self.taken_kib)).unwrap_or(u32::MAX);
            let step = match self.declared {
                Some(_) => wanted,
                None => STEP_KIB,
            }
            .min(self.most_kib - self.taken_kib);
            self.take(&self.budget, step)?;
            self.taken_kib += step;
        }
        Ok(())
    }
}

/// A request body read at its pace, taking its share of the budget when it declared none.
struct Metered {
    inner: Body,
    pace: BodyPace,
    started: Instant,
    received: u64,
    /// By when more must have come, set while the body is waited for.
    deadline: Option<Pin<Box<Sleep>>>,
    budget: Option<Taking>,
    /// Where a cut is counted.
    cut: Arc<[AtomicU64; 2]>,
    /// When it first took a share of the budget, and what had come by then: from then on it
    /// must come at the large pace.
    sharing_since: Option<(Instant, u64)>,
    /// When the last bytes came.
    last_came: Option<Instant>,
    grpc: bool,
    /// Turned away for want of budget: the rest is read and dropped until it ends (for at
    /// most DRAIN), so that the client hears the answer, and then it is cut.
    draining: Option<Pin<Box<Sleep>>>,
    /// Cut: it ends.
    refused: bool,
    /// Where why it was cut is said to the middleware.
    cut_for: Arc<Mutex<Option<BodyRefused>>>,
}

impl Metered {
    /// When what has come would be too slow, were nothing more to come.
    ///
    /// Two rules, the stricter deciding: the average since it started (or since it took its
    /// share, at the large pace), and never a silence longer than the grace, however much
    /// came before (no burst buys a stall).
    fn due(&self) -> Instant {
        let average = self.due_on_average();
        self.last_came
            .map_or(average, |last| average.min(last + self.pace.grace))
    }

    fn due_on_average(&self) -> Instant {
        let (since, counted, rate) = match self.sharing_since {
            None => (self.started, self.received, self.pace.min_bytes_per_s),
            Some((since, then)) => (since, self.received - then, self.pace.large_min_bytes_per_s),
        };
        let earned = Duration::try_from_secs_f64(counted as f64 / rate.max(1) as f64)
            .unwrap_or(Duration::from_secs(u32::MAX.into()));
        since + self.pace.grace + earned
    }

    fn refuse(&mut self, why: BodyRefused) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.refused = true;
        *self.cut_for.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        let counter = match why {
            BodyRefused::Busy => &self.cut[0],
            BodyRefused::TooSlow => &self.cut[1],
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::info!(received = self.received, "{why}");
        let error: BoxError = if self.grpc {
            Box::new(why.status())
        } else {
            Box::new(why)
        };
        Poll::Ready(Some(Err(error)))
    }
}

impl hyper::body::Body for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.refused {
            return Poll::Ready(None);
        }
        if let Some(drain) = this.draining.as_mut() {
            loop {
                match Pin::new(&mut this.inner).poll_frame(cx) {
                    Poll::Ready(Some(Ok(_))) => {}
                    Poll::Ready(_) => return this.refuse(BodyRefused::Busy),
                    Poll::Pending => {
                        return match drain.as_mut().poll(cx) {
                            Poll::Ready(()) => this.refuse(BodyRefused::Busy),
                            Poll::Pending => Poll::Pending,
                        };
                    }
                }
            }
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    this.last_came = Some(Instant::now());
                    let received = this.received;
                    if let Some(Err(_)) = this.budget.as_mut().map(|b| b.cover(received)) {
                        tracing::info!(
                            received,
                            "a large request is turned away: the large requests in flight fill limits.in_flight_bytes"
                        );
                        // What it took stays taken until it is answered: the channel still
                        // holds what came before; the rest is dropped.
                        this.budget = None;
                        this.draining = Some(Box::pin(tokio::time::sleep(DRAIN)));
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    if this.sharing_since.is_none()
                        && this.budget.as_ref().is_some_and(|b| b.taken_kib > 0)
                    {
                        this.sharing_since = Some((Instant::now(), received));
                    }
                    let due = this.due();
                    if let Some(deadline) = this.deadline.as_mut() {
                        deadline.as_mut().reset(due);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let due = this.due();
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => this.refuse(BodyRefused::TooSlow),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.refused || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// 503, or gRPC's UNAVAILABLE, with Retry-After: the request was not read.
fn busy_response(grpc: bool) -> Response {
    let message = BodyRefused::Busy.to_string();
    let mut response = if grpc {
        let mut r = StatusCode::OK.into_response();
        let headers = r.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        headers.insert("grpc-message", HeaderValue::from_static("SEALPOST-SRV-001"));
        r
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{message}\n")).into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

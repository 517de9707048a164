//! The relay's HTTP side: HTTP/1.1 on the hyper stack the binary already
//! has. Every answer is JSON.
//!
//! What a caller who holds nothing can make the relay do is bounded, in
//! this order ([`Limits`]):
//!
//! 1. `GET /healthz` is answered at once: it takes no slot and waits for
//!    nothing, so a flood never makes the relay look dead.
//! 2. The request head must arrive within [`Limits::header_timeout`].
//! 3. Every other request is *admitted* first: at most
//!    [`Limits::in_flight`] at once in all (more get 503 at once) and at
//!    most [`Limits::per_client`] from one address (more get 429 at once),
//!    both with `Retry-After`.
//! 4. Its body is read without holding a handling slot, within
//!    [`Limits::body_timeout`] and under the route's size cap (64 KiB for
//!    `/dispatch`, GitHub's 25 MB for `/webhook`). A webhook without a
//!    signature header is refused before its body is read; a signed one
//!    takes its bytes from one budget shared by every webhook being read
//!    ([`Limits::webhook_memory`]; none left: 503 at once), and its HMAC is
//!    computed as the body streams.
//! 5. Only a request whose body has arrived takes one of the
//!    [`Limits::concurrency`] handling slots, waiting at most
//!    [`Limits::queue_timeout`] (then 503).
//!
//! A slow or hostile client thus holds at most its own address's
//! admissions, never a handling slot, and unsigned webhook bodies never
//! hold more than the budget in memory. On SIGTERM (or Ctrl-C) the relay
//! stops accepting, lets the requests in flight finish within
//! [`Limits::grace`], then returns.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::subject::MAX_DISPATCH_BODY;
use super::webhook::{Delivery, MAX_WEBHOOK_BODY};
use super::{Answer, Relay};

/// The relay's resource limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// Requests handled at once (their bodies arrived).
    pub concurrency: usize,
    /// How long an admitted request with its body waits for a handling
    /// slot.
    pub queue_timeout: Duration,
    /// Requests admitted at once, all clients together (reading, waiting
    /// or handled).
    pub in_flight: usize,
    /// Requests admitted at once from one client address.
    pub per_client: usize,
    /// Bytes of webhook bodies held at once, all requests together.
    pub webhook_memory: usize,
    /// How long requests in flight may take to finish after SIGTERM.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            concurrency: 64,
            queue_timeout: Duration::from_secs(10),
            in_flight: 1024,
            per_client: 32,
            webhook_memory: 64 * 1024 * 1024,
            grace: Duration::from_secs(25),
        }
    }
}

/// One handled request, for the command's log: no body, no token.
#[derive(Debug, Clone)]
pub struct Handled {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The refusal's code, or what was dispatched.
    pub what: String,
    pub millis: u128,
}

type Log = Arc<dyn Fn(&Handled) + Send + Sync>;

/// The budget unit of [`Gates::memory`]: permits count KiB.
const KIB: usize = 1024;

/// What the limits are counted in, shared by every connection.
struct Gates {
    handling: Arc<Semaphore>,
    /// Webhook deliveries still being handled after their answer.
    background: Arc<Background>,
    admitted: Arc<Semaphore>,
    clients: Mutex<HashMap<IpAddr, usize>>,
    memory: Arc<Semaphore>,
    limits: Limits,
}

impl Gates {
    fn new(limits: Limits) -> Gates {
        let kib = (limits.webhook_memory / KIB).clamp(1, Semaphore::MAX_PERMITS);
        Gates {
            handling: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            background: Arc::new(Background::default()),
            admitted: Arc::new(Semaphore::new(limits.in_flight.max(1))),
            clients: Mutex::new(HashMap::new()),
            memory: Arc::new(Semaphore::new(kib)),
            limits,
        }
    }

    /// Admits a request of `ip`, or the refusal (never waits).
    fn admit(self: &Arc<Gates>, ip: IpAddr) -> Result<Admission, Answer> {
        let Ok(permit) = self.admitted.clone().try_acquire_owned() else {
            return Err(Answer::busy(
                503,
                "busy",
                "the relay has as many requests in flight as it may; try again",
                1,
            ));
        };
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let n = clients.entry(ip).or_insert(0);
        if *n >= self.limits.per_client.max(1) {
            return Err(Answer::busy(
                429,
                "too_many_requests",
                format!(
                    "this address has {} requests in flight, the most one client may have; try again",
                    self.limits.per_client
                ),
                1,
            ));
        }
        *n += 1;
        Ok(Admission {
            gates: self.clone(),
            ip,
            _permit: permit,
        })
    }

    /// `GET /healthz`: alive, and how loaded (requests admitted, being
    /// handled, webhook KiB held).
    fn health(&self, queued: usize) -> Answer {
        let used = |sem: &Semaphore, of: usize| of.saturating_sub(sem.available_permits());
        let kib = (self.limits.webhook_memory / KIB).clamp(1, Semaphore::MAX_PERMITS);
        Answer::ok(
            200,
            json!({
                "ok": true,
                "in_flight": used(&self.admitted, self.limits.in_flight.max(1)),
                "handling": used(&self.handling, self.limits.concurrency.max(1)),
                "webhook_kib": used(&self.memory, kib),
                "queued": queued,
            }),
        )
    }

    /// `bytes` of the webhook memory budget (in KiB), or 503 at once.
    fn memory(&self, bytes: usize) -> Result<OwnedSemaphorePermit, Answer> {
        let kib = u32::try_from(bytes.div_ceil(KIB).max(1)).unwrap_or(u32::MAX);
        self.memory.clone().try_acquire_many_owned(kib).map_err(|_| {
            Answer::busy(
                503,
                "busy",
                "the relay is reading as many webhook bytes as it may hold; GitHub's delivery can be redelivered",
                5,
            )
        })
    }
}

/// An admitted request: its place among all and among its client's.
struct Admission {
    gates: Arc<Gates>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut clients = self.gates.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = clients.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

/// Serves until `shutdown` completes, then lets requests in flight finish
/// within [`Limits::grace`].
pub async fn serve(
    relay: Arc<Relay>,
    listener: TcpListener,
    limits: Limits,
    log: Log,
    shutdown: impl Future<Output = ()>,
) {
    let grace = limits.grace;
    let gates = Arc::new(Gates::new(limits));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shutdown.as_mut() => break,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of file descriptors and the like: wait, do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (relay, gates, log) = (relay.clone(), gates.clone(), log.clone());
        let header_timeout = gates.limits.header_timeout;
        let svc = service_fn(move |req| {
            let (relay, gates, log) = (relay.clone(), gates.clone(), log.clone());
            async move { Ok::<_, Infallible>(handle(&relay, &gates, &log, peer, req).await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(64 * 1024)
            .serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    let started = tokio::time::Instant::now();
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    let left = grace.saturating_sub(started.elapsed());
    let _ = tokio::time::timeout(left, gates.background.idle()).await;
}

/// Completes on SIGTERM or SIGINT.
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Connections the kernel may queue before the relay accepts them (the
/// kernel caps it at `net.core.somaxconn`): a burst of dispatches waits in
/// the queue rather than being dropped.
const BACKLOG: u32 = 4096;

/// Binds `addr` (port 0: any free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

async fn handle(
    relay: &Arc<Relay>,
    gates: &Arc<Gates>,
    log: &Log,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let answer = match Route::of(&method, &path) {
        Route::Healthz => gates.health(relay.queue.queued()),
        Route::Refused(a) => a,
        route => match gates.admit(peer.ip()) {
            Ok(_admission) => admitted(relay, gates, log, route, req).await,
            Err(a) => a,
        },
    };
    log(&Handled {
        method,
        path: path.chars().take(100).collect(),
        status: answer.status,
        what: summary(&answer),
        millis: start.elapsed().as_millis(),
    });
    respond(answer)
}

/// What a request asks for, from its method and path alone.
enum Route {
    Healthz,
    Dispatch,
    Webhook,
    Schema,
    Refused(Answer),
}

impl Route {
    fn of(method: &str, path: &str) -> Route {
        match (method, path) {
            ("GET", "/healthz") => Route::Healthz,
            ("POST", "/dispatch") => Route::Dispatch,
            ("POST", "/webhook") => Route::Webhook,
            ("GET", "/schema") => Route::Schema,
            (_, "/healthz" | "/dispatch" | "/webhook" | "/schema") => Route::Refused(
                Answer::refuse(405, "method_not_allowed", "wrong method for this path"),
            ),
            _ => Route::Refused(Answer::refuse(
                404,
                "not_found",
                "the relay serves /dispatch, /webhook, /schema and /healthz",
            )),
        }
    }
}

/// An admitted request: its body read, then handled in a slot.
async fn admitted(
    relay: &Arc<Relay>,
    gates: &Arc<Gates>,
    log: &Log,
    route: Route,
    req: Request<Incoming>,
) -> Answer {
    match route {
        Route::Dispatch => {
            let body = match read_body(req, MAX_DISPATCH_BODY, &gates.limits, |_| Ok(())).await {
                Ok((_, body)) => body,
                Err(a) => return a,
            };
            in_slot(gates, relay.handle_dispatch(&body)).await
        }
        Route::Webhook => webhook(relay, gates, log, req).await,
        Route::Schema => match bearer(&req) {
            Some(t) => in_slot(gates, relay.handle_schema(&t)).await,
            None => Answer::refuse(
                401,
                "no_token",
                "send the run's OIDC token as `Authorization: Bearer <token>`",
            ),
        },
        Route::Healthz | Route::Refused(_) => Answer::refuse(500, "internal", "not routed"),
    }
}

/// Runs `work` in a handling slot, waiting at most the queue timeout.
async fn in_slot(gates: &Gates, work: impl Future<Output = Answer>) -> Answer {
    match tokio::time::timeout(gates.limits.queue_timeout, gates.handling.acquire()).await {
        Ok(Ok(_slot)) => work.await,
        _ => Answer::busy(
            503,
            "busy",
            "the relay is handling as many requests as it may; try again",
            2,
        ),
    }
}

/// `POST /webhook`: the signature header checked before the body is read,
/// the body read within the memory budget with its HMAC as it streams.
async fn webhook(
    relay: &Arc<Relay>,
    gates: &Arc<Gates>,
    log: &Log,
    req: Request<Incoming>,
) -> Answer {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (signature, event, id) = (
        header("x-hub-signature-256"),
        header("x-github-event"),
        header("x-github-delivery"),
    );
    let mut check = match relay.signature_check(signature.as_deref()) {
        Ok(c) => c,
        Err(a) => return a,
    };
    let mut held: Option<OwnedSemaphorePermit> = None;
    if let Some(n) = declared_length(&req) {
        match gates.memory(n.min(MAX_WEBHOOK_BODY as u64) as usize) {
            Ok(p) => held = Some(p),
            Err(a) => return a,
        }
    }
    let reserved_upfront = held.is_some();
    let on_chunk = |chunk: &[u8]| -> Result<(), Answer> {
        check.update(chunk);
        if !reserved_upfront {
            let p = gates.memory(chunk.len())?;
            match held.as_mut() {
                Some(h) => h.merge(p),
                None => held = Some(p),
            }
        }
        Ok(())
    };
    let body = match read_body(req, MAX_WEBHOOK_BODY, &gates.limits, on_chunk).await {
        Ok((_, body)) => body,
        Err(a) => return a,
    };
    if !check.verify() {
        return Answer::refuse(
            401,
            "bad_signature",
            "X-Hub-Signature-256 does not match the body under the webhook secret",
        );
    }
    let signed = Signed {
        relay: relay.clone(),
        gates: gates.clone(),
        log: log.clone(),
        event,
        id,
        body,
        _held: held,
    };
    signed.answer_within(WEBHOOK_ANSWER).await
}

/// How long GitHub's delivery waits for its answer here: GitHub fails a
/// delivery after 10 s; the relay answers within this of the signature
/// check and goes on with the delivery if it takes longer.
pub const WEBHOOK_ANSWER: Duration = Duration::from_secs(1);
/// How long a delivery already answered 202 is retried when GitHub or
/// the relay is busy.
const WEBHOOK_RETRY_FOR: Duration = Duration::from_secs(10 * 60);

/// A delivery whose signature was checked, with what it holds (its
/// share of the webhook memory budget) until it has been handled.
struct Signed {
    relay: Arc<Relay>,
    gates: Arc<Gates>,
    log: Log,
    event: Option<String>,
    id: Option<String>,
    body: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

impl Signed {
    /// Handles the delivery in a task of its own: its answer when that
    /// comes within `wait`, else 202 (accepted), and the task goes on,
    /// trying again while the answer is a busy one, for
    /// [`WEBHOOK_RETRY_FOR`]. A delivery answered with a failure in time is
    /// GitHub's to mark failed (and the relay's sweep to redeliver).
    async fn answer_within(self, wait: Duration) -> Answer {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let background = self.gates.background.clone();
        background.enter();
        tokio::spawn(async move {
            let first = self.attempt().await;
            if let Err(first) = tx.send(first) {
                let last = self.retry(first).await;
                (self.log)(&Handled {
                    method: "POST".into(),
                    path: "/webhook (after its 202)".into(),
                    status: last.status,
                    what: summary(&last),
                    millis: 0,
                });
            }
            drop(self);
            background.leave();
        });
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Answer::refuse(500, "internal", "the delivery's handler stopped"),
            Err(_) => Answer::ok(
                202,
                json!({ "accepted": "the delivery is being handled; the relay tries again while GitHub or the relay is busy" }),
            ),
        }
    }

    async fn attempt(&self) -> Answer {
        let delivery = Delivery {
            event: self.event.as_deref(),
            id: self.id.as_deref(),
        };
        in_slot(
            &self.gates,
            self.relay.handle_signed_webhook(&delivery, &self.body),
        )
        .await
    }

    async fn retry(&self, mut answer: Answer) -> Answer {
        let until = tokio::time::Instant::now() + WEBHOOK_RETRY_FOR;
        while answer.status >= 500 {
            let wait = answer.body["retry_after"]
                .as_u64()
                .unwrap_or(5)
                .clamp(1, 600);
            let wait = Duration::from_secs(wait);
            if tokio::time::Instant::now() + wait > until {
                break;
            }
            tokio::time::sleep(wait).await;
            answer = self.attempt().await;
        }
        answer
    }
}

/// Tasks still running after their request was answered, for the grace
/// period after SIGTERM.
#[derive(Default)]
struct Background {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Background {
    fn enter(&self) {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn leave(&self) {
        if self.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Completes when no task is running.
    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

fn bearer(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_string)
}

fn declared_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// What an answer says in a log line: what was dispatched, or its code.
pub fn summary(a: &Answer) -> String {
    if let Some(d) = a.body.get("dispatched") {
        return format!(
            "dispatched {} {} {}",
            d["event_type"].as_str().unwrap_or(""),
            d["customer"].as_str().unwrap_or(""),
            d["sha"]
                .as_str()
                .map(crate::dispatch::short_sha)
                .unwrap_or_default()
        );
    }
    a.body
        .get("error")
        .or_else(|| a.body.get("ignored"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

fn respond(a: Answer) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&a.body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::builder()
        .status(a.status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    if let Some(secs) = a.body.get("retry_after").and_then(|v| v.as_u64()) {
        r = r.header("retry-after", secs.to_string());
    }
    r.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"{}"))))
}

/// The body, at most `max` bytes, within the body timeout; `on_chunk`
/// sees each piece as it arrives and may refuse it.
async fn read_body(
    req: Request<Incoming>,
    max: usize,
    limits: &Limits,
    mut on_chunk: impl FnMut(&[u8]) -> Result<(), Answer>,
) -> Result<(http::request::Parts, Bytes), Answer> {
    let too_large = || {
        Answer::refuse(
            413,
            "too_large",
            format!("the body is larger than {max} bytes"),
        )
    };
    if declared_length(&req).is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let (parts, mut body) = req.into_parts();
    let read = async {
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|_| Answer::refuse(400, "bad_body", "the body could not be read"))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if buf.len() + data.len() > max {
                return Err(too_large());
            }
            on_chunk(&data)?;
            buf.extend_from_slice(&data);
        }
        Ok(buf.freeze())
    };
    match tokio::time::timeout(limits.body_timeout, read).await {
        Err(_) => Err(Answer::refuse(
            408,
            "timeout",
            "the body did not arrive in time",
        )),
        Ok(Err(a)) => Err(a),
        Ok(Ok(b)) => Ok((parts, b)),
    }
}

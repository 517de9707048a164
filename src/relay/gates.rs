//! The relay's gates and handlers' shared parts: its limits, the
//! per-client admission, handling slots, the webhook memory budget, the
//! total body deadline, the answers as HTTP, and a webhook delivery's
//! handling (answered within a second of its signature check). `serve`
//! accepts connections and `routes` says which path does what.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

pub(super) type Log = Arc<dyn Fn(&Handled) + Send + Sync>;

/// The client's address, put on each request by the connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(pub SocketAddr);

/// The budget unit of [`Gates::memory`]: permits count KiB.
const KIB: usize = 1024;

/// What the limits are counted in, shared by every connection (the
/// in-flight cap of all clients is tower's, in `routes`).
pub(super) struct Gates {
    handling: Arc<Semaphore>,
    /// Webhook deliveries still being handled after their answer.
    background: Arc<Background>,
    clients: Mutex<HashMap<IpAddr, usize>>,
    memory: Arc<Semaphore>,
    pub(super) limits: Limits,
}

impl Gates {
    pub(super) fn new(limits: Limits) -> Gates {
        let kib = (limits.webhook_memory / KIB).clamp(1, Semaphore::MAX_PERMITS);
        Gates {
            handling: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            background: Arc::new(Background::default()),
            clients: Mutex::new(HashMap::new()),
            memory: Arc::new(Semaphore::new(kib)),
            limits,
        }
    }

    /// Admits a request of `ip` among its address's, or the refusal
    /// (never waits).
    pub(super) fn admit(self: &Arc<Gates>, ip: IpAddr) -> Result<Admission, Answer> {
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
        })
    }

    /// `GET /healthz`: alive, and how loaded (requests admitted, being
    /// handled, webhook KiB held).
    /// `sweeps`: the recovery sweeps finished so far.
    pub(super) fn health(&self, queued: usize, sweeps: u64) -> Answer {
        let used = |sem: &Semaphore, of: usize| of.saturating_sub(sem.available_permits());
        let kib = (self.limits.webhook_memory / KIB).clamp(1, Semaphore::MAX_PERMITS);
        let in_flight: usize = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum();
        Answer::ok(
            200,
            json!({
                "ok": true,
                "in_flight": in_flight,
                "handling": used(&self.handling, self.limits.concurrency.max(1)),
                "webhook_kib": used(&self.memory, kib),
                "queued": queued,
                "sweeps": sweeps,
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

/// An admitted request: its place among its client's.
pub(super) struct Admission {
    gates: Arc<Gates>,
    ip: IpAddr,
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

impl Gates {
    /// Completes when no webhook delivery is still being handled after
    /// its answer.
    pub(super) async fn idle(&self) {
        self.background.idle().await
    }

    /// Runs `work` in a handling slot, waiting at most the queue timeout.
    pub(super) async fn in_slot(&self, work: impl Future<Output = Answer>) -> Answer {
        match tokio::time::timeout(self.limits.queue_timeout, self.handling.acquire()).await {
            Ok(Ok(_slot)) => work.await,
            _ => Answer::busy(
                503,
                "busy",
                "the relay is handling as many requests as it may; try again",
                2,
            ),
        }
    }
}

/// `POST /webhook`: the signature header checked before the body is read,
/// the body read within the memory budget with its HMAC as it streams.
pub(super) async fn webhook(
    relay: &Arc<Relay>,
    gates: &Arc<Gates>,
    log: &Log,
    req: Request,
) -> Answer {
    let [signature, event, id] = headers(
        &req,
        ["x-hub-signature-256", "x-github-event", "x-github-delivery"],
    );
    let declared = declared_length(&req);
    let mut check = match relay.signature_check(signature.as_deref()) {
        Ok(c) => c,
        Err(a) => return a,
    };
    let mut held: Option<OwnedSemaphorePermit> = None;
    if let Some(n) = declared {
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
        Ok(body) => body,
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
        self.gates
            .in_slot(self.relay.handle_signed_webhook(&delivery, &self.body))
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

/// The values of `names` (read apart from any await: the body is not
/// `Sync`, so nothing may borrow the request across one).
fn headers<const N: usize>(req: &Request, names: [&str; N]) -> [Option<String>; N] {
    names.map(|name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })
}

fn declared_length(req: &Request) -> Option<u64> {
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

/// The HTTP answer of `a`: its JSON, never cached, with `Retry-After`
/// when it says when to try again.
pub(super) fn respond(a: Answer) -> Response {
    let body = serde_json::to_vec(&a.body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = http::Response::builder()
        .status(a.status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    if let Some(secs) = a.body.get("retry_after").and_then(|v| v.as_u64()) {
        r = r.header("retry-after", secs.to_string());
    }
    r.body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::from("{}")))
}

/// The body, at most `max` bytes, within the body timeout; `on_chunk`
/// sees each piece as it arrives and may refuse it.
pub(super) async fn read_body(
    req: Request,
    max: usize,
    limits: &Limits,
    mut on_chunk: impl FnMut(&[u8]) -> Result<(), Answer>,
) -> Result<Bytes, Answer> {
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
    let mut body = req.into_body();
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
        Ok(Ok(b)) => Ok(b),
    }
}

//! The relay's HTTP side: HTTP/1.1 on the hyper stack the binary already
//! has. Every answer is JSON. Limits: the request head must arrive within
//! [`Limits::header_timeout`], the body within [`Limits::body_timeout`] and
//! under the route's size cap (64 KiB for `/dispatch`, GitHub's 25 MB for
//! `/webhook`); at most [`Limits::concurrency`] requests are handled at once,
//! others wait up to [`Limits::queue_timeout`] and then get 503.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::subject::MAX_DISPATCH_BODY;
use super::webhook::{Delivery, MAX_WEBHOOK_BODY};
use super::{Answer, Relay};

/// The relay's resource limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub concurrency: usize,
    pub queue_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            concurrency: 64,
            queue_timeout: Duration::from_secs(10),
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

/// Serves until the process ends.
pub async fn serve(relay: Arc<Relay>, listener: TcpListener, limits: Limits, log: Log) {
    let permits = Arc::new(Semaphore::new(limits.concurrency.max(1)));
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            // Out of file descriptors and the like: wait, do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (relay, permits, limits, log) =
            (relay.clone(), permits.clone(), limits.clone(), log.clone());
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let (relay, permits, limits, log) =
                    (relay.clone(), permits.clone(), limits.clone(), log.clone());
                async move { Ok::<_, Infallible>(handle(&relay, &permits, &limits, &log, req).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
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
    relay: &Relay,
    permits: &Semaphore,
    limits: &Limits,
    log: &Log,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let answer = match tokio::time::timeout(limits.queue_timeout, permits.acquire()).await {
        Ok(Ok(_permit)) => route(relay, limits, req).await,
        _ => Answer::refuse(
            503,
            "busy",
            "the relay is handling as many requests as it may; try again",
        ),
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

fn summary(a: &Answer) -> String {
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
    Response::builder()
        .status(a.status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"{}"))))
}

async fn route(relay: &Relay, limits: &Limits, req: Request<Incoming>) -> Answer {
    let method = req.method().clone();
    match (method.as_str(), req.uri().path()) {
        ("GET", "/healthz") => Answer::ok(200, json!({ "ok": true })),
        ("POST", "/dispatch") => match read_body(req, MAX_DISPATCH_BODY, limits).await {
            Ok((_, body)) => relay.handle_dispatch(&body).await,
            Err(a) => a,
        },
        ("POST", "/webhook") => match read_body(req, MAX_WEBHOOK_BODY, limits).await {
            Ok((parts, body)) => {
                let h = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
                let delivery = Delivery {
                    signature: h("x-hub-signature-256"),
                    event: h("x-github-event"),
                    id: h("x-github-delivery"),
                };
                relay.handle_webhook(&delivery, &body).await
            }
            Err(a) => a,
        },
        ("GET", "/schema") => {
            let token = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::to_string);
            match token {
                Some(t) => relay.handle_schema(&t).await,
                None => Answer::refuse(
                    401,
                    "no_token",
                    "send the run's OIDC token as `Authorization: Bearer <token>`",
                ),
            }
        }
        (_, "/healthz" | "/dispatch" | "/webhook" | "/schema") => {
            Answer::refuse(405, "method_not_allowed", "wrong method for this path")
        }
        _ => Answer::refuse(
            404,
            "not_found",
            "the relay serves /dispatch, /webhook, /schema and /healthz",
        ),
    }
}

/// The body, at most `max` bytes, within the body timeout.
async fn read_body(
    req: Request<Incoming>,
    max: usize,
    limits: &Limits,
) -> Result<(http::request::Parts, Bytes), Answer> {
    let too_large = || {
        Answer::refuse(
            413,
            "too_large",
            format!("the body is larger than {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(limits.body_timeout, Limited::new(body, max).collect()).await {
        Err(_) => Err(Answer::refuse(
            408,
            "timeout",
            "the body did not arrive in time",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(Answer::refuse(
            400,
            "bad_body",
            "the body could not be read",
        )),
        Ok(Ok(c)) => Ok((parts, c.to_bytes())),
    }
}

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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use super::gates::{Gates, Log, Peer};
use super::routes::{router, Ctx};
use super::Relay;

pub use super::gates::{summary, Handled, Limits, WEBHOOK_ANSWER};

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
    let header_timeout = limits.header_timeout;
    let gates = Arc::new(Gates::new(limits));
    let routes = router(Ctx {
        relay,
        gates: gates.clone(),
        log,
    });
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
        let routes = routes.clone();
        let svc = service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(Peer(peer));
            routes.clone().oneshot(req.map(Body::new))
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
    let _ = tokio::time::timeout(left, gates.idle()).await;
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

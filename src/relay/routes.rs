//! The relay's routes on axum: which path does what, the 404/405 answers,
//! the log line of every request, and the two admission gates in front
//! of every route but `/healthz` — the in-flight cap of all clients
//! together (tower's global concurrency limit behind a load shedder, so a
//! request over the cap is answered 503 at once instead of queued) and
//! the per-client cap ([`Gates::admit`]). What axum and tower do not
//! offer stays in `serve`: the *total* body deadline (tower-http's body
//! timeout restarts on every frame, so a client sending a byte a second
//! would never meet it), the webhook memory budget with the HMAC computed
//! as the body streams, and handling slots taken only once a body has
//! arrived.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::gates::{read_body, respond, summary, webhook, Gates, Handled, Log, Peer};
use super::subject::MAX_DISPATCH_BODY;
use super::{Answer, Relay};

/// What every handler shares.
#[derive(Clone)]
pub(super) struct Ctx {
    pub relay: Arc<Relay>,
    pub gates: Arc<Gates>,
    pub log: Log,
}

/// The relay's router: `/healthz` outside the admission gates, the other
/// routes behind them, every answer logged.
pub(super) fn router(ctx: Ctx) -> Router {
    let in_flight = ctx.gates.limits.in_flight.max(1);
    let shed = tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(
            |_: tower::BoxError| async {
                respond(Answer::busy(
                    503,
                    "busy",
                    "the relay has as many requests in flight as it may; try again",
                    1,
                ))
            },
        ))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(in_flight));
    let admitted = Router::new()
        .route("/dispatch", post(dispatch))
        .route("/webhook", post(webhook_route))
        .route("/schema", get(schema))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), per_client))
        .route_layer(shed);
    Router::new()
        .route("/healthz", get(health))
        .merge(admitted)
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(ctx.clone(), logged))
        .with_state(ctx)
}

/// Every request's log line: method, path, status, what was done.
async fn logged(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let path: String = req.uri().path().chars().take(100).collect();
    let answer = next.run(req).await;
    let what = answer
        .extensions()
        .get::<Said>()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    (ctx.log)(&Handled {
        method,
        path,
        status: answer.status().as_u16(),
        what,
        millis: start.elapsed().as_millis(),
    });
    answer
}

/// What an answer said, for its log line (set by [`answer`]).
#[derive(Clone)]
struct Said(String);

/// The HTTP answer of `a`, carrying its log summary.
fn answer(a: Answer) -> Response {
    let said = Said(summary(&a));
    let mut r = respond(a);
    r.extensions_mut().insert(said);
    r
}

/// At most [`super::serve::Limits::per_client`] requests of one address
/// at once (more: 429 at once), held until the answer.
async fn per_client(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<Peer>()
        .map(|p| p.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    match ctx.gates.admit(ip) {
        Ok(admission) => {
            let r = next.run(req).await;
            drop(admission);
            r
        }
        Err(a) => answer(a),
    }
}

/// `GET /healthz`: alive and how loaded; never queued.
async fn health(State(ctx): State<Ctx>) -> Response {
    let sweeps = ctx.relay.sweeps.load(std::sync::atomic::Ordering::SeqCst);
    answer(ctx.gates.health(ctx.relay.queue.queued(), sweeps))
}

/// `POST /dispatch`: the body read within its cap and deadline, then
/// handled in a slot.
async fn dispatch(State(ctx): State<Ctx>, req: Request) -> Response {
    let body = match read_body(req, MAX_DISPATCH_BODY, &ctx.gates.limits, |_| Ok(())).await {
        Ok(body) => body,
        Err(a) => return answer(a),
    };
    answer(ctx.gates.in_slot(ctx.relay.handle_dispatch(&body)).await)
}

/// `POST /webhook` (see [`webhook`]).
async fn webhook_route(State(ctx): State<Ctx>, req: Request) -> Response {
    answer(webhook(&ctx.relay, &ctx.gates, &ctx.log, req).await)
}

/// `GET /schema`: the bearer's OIDC token checked, then the schema.
async fn schema(State(ctx): State<Ctx>, req: Request) -> Response {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_string);
    answer(match token {
        Some(t) => ctx.gates.in_slot(ctx.relay.handle_schema(&t)).await,
        None => Answer::refuse(
            401,
            "no_token",
            "send the run's OIDC token as `Authorization: Bearer <token>`",
        ),
    })
}

async fn not_found() -> Response {
    answer(Answer::refuse(
        404,
        "not_found",
        "the relay serves /dispatch, /webhook, /schema and /healthz",
    ))
}

async fn wrong_method() -> Response {
    answer(Answer::refuse(
        405,
        "method_not_allowed",
        "wrong method for this path",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_carries_its_log_summary_and_retry_after() {
        let r = answer(Answer::busy(503, "busy", "try again", 2));
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        assert_eq!(
            r.extensions().get::<Said>().map(|s| s.0.as_str()),
            Some("busy")
        );
    }
}

//! The scheduler ([`crate::github::budget`]) as a layer: each request
//! waits for one of the client's concurrent slots and for a slot within
//! GitHub's primary and secondary limits, and holds the concurrent slot
//! until its answer's body is dropped (read to the end or given up). A
//! wait past the client's patience is not waited: the request fails with
//! [`GitHubError::Deferred`] without being sent. An unscheduled client
//! (`FLEETFORM_GITHUB_SCHEDULER=off`, measurements only) passes requests
//! through.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::github::budget::{self, Ledger, Patience, Slot};
use crate::github::error::GitHubError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The API path a request is for (as the client names it in errors),
/// put on the request by the client.
#[derive(Clone, Debug)]
pub(in crate::github) struct ApiPath(pub String);

tokio::task_local! {
    /// The path of a call of octocrab's typed API, whose requests the
    /// client does not build, as the client names it (without a GHES
    /// root's `/api/v3`).
    pub(in crate::github) static TYPED_PATH: String;
}

impl ApiPath {
    /// The path a request is named by: its [`ApiPath`], its typed call's
    /// [`TYPED_PATH`], or else its URL's path.
    pub(in crate::github) fn of(extensions: &http::Extensions, uri: &http::Uri) -> String {
        extensions
            .get::<ApiPath>()
            .map(|p| p.0.clone())
            .or_else(|| TYPED_PATH.try_with(String::clone).ok())
            .unwrap_or_else(|| uri.path().to_string())
    }
}

/// A request the scheduler did not send, and why.
#[derive(Debug)]
pub(in crate::github) struct Refused(pub GitHubError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refused {}

/// The scheduler's state, shared with the client (which reads the ledger
/// and the queue).
#[derive(Clone)]
pub(in crate::github) struct ScheduleLayer {
    pub ledger: Arc<Mutex<Ledger>>,
    pub slots: Arc<Semaphore>,
    /// Requests waiting for one of the `slots`.
    pub queued: Arc<AtomicUsize>,
    pub patience: Patience,
    /// Requests pass through without waiting.
    pub unscheduled: bool,
}

impl<S> tower::Layer<S> for ScheduleLayer {
    type Service = Schedule<S>;

    fn layer(&self, inner: S) -> Schedule<S> {
        Schedule {
            inner,
            state: self.clone(),
        }
    }
}

/// The service of [`ScheduleLayer`].
#[derive(Clone)]
pub(in crate::github) struct Schedule<S> {
    inner: S,
    state: ScheduleLayer,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ScheduleLayer {
    /// Waits for a concurrent slot and a slot within the limits; the
    /// permit holds the concurrent one.
    async fn wait(
        &self,
        method: &'static str,
        path: &str,
        write: bool,
    ) -> Result<OwnedSemaphorePermit, GitHubError> {
        let permit = {
            let _queued = budget::Queued::enter(&self.queued);
            self.slots.clone().acquire_owned().await
        }
        .map_err(|_| GitHubError::Setup("the client's request slots are closed".into()))?;
        loop {
            let slot = lock(&self.ledger).reserve(write, budget::now_ms());
            let Slot::Wait { ms, what } = slot else {
                return Ok(permit);
            };
            self.patience.check((method, path), what, ms)?;
            tracing::debug!(method, path, wait_ms = ms, what, "scheduled");
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

impl<S, B, R> tower::Service<http::Request<B>> for Schedule<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = http::Response<Held<R>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The ready service goes into the future; a clone stays for the
        // next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let permit = if state.unscheduled {
                None
            } else {
                let method = method_name(request.method());
                let path = ApiPath::of(request.extensions(), request.uri());
                let write = request.method() != http::Method::GET;
                Some(
                    state
                        .wait(method, &path, write)
                        .await
                        .map_err(|e| -> BoxError { Box::new(Refused(e)) })?,
                )
            };
            let response = inner.call(request).await.map_err(Into::into)?;
            Ok(response.map(|body| Held {
                body,
                _permit: permit,
            }))
        })
    }
}

fn method_name(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        _ => "request",
    }
}

/// An answer's body that holds its request's concurrent slot until it is
/// dropped.
#[derive(Debug)]
pub(in crate::github) struct Held<B> {
    body: B,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for Held<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::budget::Limits;
    use http_body_util::Full;
    use std::convert::Infallible;
    use std::sync::atomic::Ordering;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    fn layer(limits: Limits, max_wait: Duration) -> ScheduleLayer {
        ScheduleLayer {
            ledger: Arc::new(Mutex::new(Ledger::new(limits))),
            slots: Arc::new(Semaphore::new(limits.concurrency)),
            queued: Arc::default(),
            patience: Patience::new(max_wait),
            unscheduled: false,
        }
    }

    /// Answers every request at once, with an empty body.
    #[derive(Clone)]
    struct Answers;

    impl tower::Service<http::Request<()>> for Answers {
        type Response = http::Response<Full<bytes::Bytes>>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(Full::default())))
        }
    }

    fn post(path: &str) -> http::Request<()> {
        let mut r = http::Request::post("https://api.github.com/x")
            .body(())
            .unwrap();
        r.extensions_mut().insert(ApiPath(path.into()));
        r
    }

    #[tokio::test]
    async fn a_body_holds_its_slot_and_the_next_request_queues_until_it_is_dropped() {
        let one = Limits {
            concurrency: 1,
            ..Limits::default()
        };
        let state = layer(one, Duration::from_secs(60));
        let mut svc = state.clone().layer(Answers);
        let first = svc.ready().await.unwrap().call(post("/a")).await.unwrap();
        let second = tokio::spawn(svc.clone().oneshot(post("/b")));
        while state.queued.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!second.is_finished());
        drop(first);
        second.await.unwrap().unwrap();
        assert_eq!(state.queued.load(Ordering::SeqCst), 0);
        assert_eq!(lock(&state.ledger).writes_sent, 2);
    }

    #[tokio::test]
    async fn a_wait_past_the_patience_is_refused_as_deferred_and_not_sent() {
        let one_write = Limits {
            writes_per_minute: 1,
            ..Limits::default()
        };
        let mut svc = layer(one_write, Duration::ZERO).layer(Answers);
        svc.ready().await.unwrap().call(post("/a")).await.unwrap();
        let e = svc
            .ready()
            .await
            .unwrap()
            .call(post("/b"))
            .await
            .unwrap_err();
        let refused = e.downcast::<Refused>().unwrap();
        assert!(
            matches!(&refused.0, GitHubError::Deferred { method: "POST", path, .. } if path == "/b"),
            "{refused}"
        );
    }

    /// A request of octocrab's typed API (no [`ApiPath`]) under a GHES
    /// root is named by its call's path, as the client's own requests are,
    /// not by its URL's `/api/v3/...`.
    #[tokio::test]
    async fn a_typed_request_is_named_by_its_calls_path() {
        let one_write = Limits {
            writes_per_minute: 1,
            ..Limits::default()
        };
        let mut svc = layer(one_write, Duration::ZERO).layer(Answers);
        svc.ready().await.unwrap().call(post("/a")).await.unwrap();
        let typed =
            http::Request::post("https://ghe.example/api/v3/app/installations/1/access_tokens")
                .body(())
                .unwrap();
        let call = svc.ready().await.unwrap().call(typed);
        let e = TYPED_PATH
            .scope("/app/installations/1/access_tokens".into(), call)
            .await
            .unwrap_err();
        let refused = e.downcast::<Refused>().unwrap();
        assert!(
            matches!(&refused.0, GitHubError::Deferred { path, .. } if path == "/app/installations/1/access_tokens"),
            "{refused}"
        );
    }
}

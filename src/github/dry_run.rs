//! `--dry-run`: reads are sent (they change nothing); every write is kept
//! as a [`PlannedRequest`] and answered `204 No Content` at once, without
//! being scheduled, counted or sent. Outside the scheduler, so a withheld
//! write takes none of the hour's budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Either, Full};
use serde::Serialize;
use serde_json::Value;

use super::budget::ApiPath;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A write that `--dry-run` did not send.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRequest {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

/// The writes withheld so far, in order.
pub(in crate::github) type Withheld = Arc<Mutex<Vec<PlannedRequest>>>;

/// Withholds every write into `withheld` when `on` (else passes every
/// request through: the layer is in every client's stack, so that both
/// have one answer type).
#[derive(Clone)]
pub(in crate::github) struct DryRunLayer {
    withheld: Withheld,
    on: bool,
}

impl DryRunLayer {
    pub(in crate::github) fn new(withheld: Withheld, on: bool) -> Self {
        DryRunLayer { withheld, on }
    }
}

impl<S> tower::Layer<S> for DryRunLayer {
    type Service = DryRun<S>;

    fn layer(&self, inner: S) -> DryRun<S> {
        DryRun {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`DryRunLayer`].
#[derive(Clone)]
pub(in crate::github) struct DryRun<S> {
    inner: S,
    layer: DryRunLayer,
}

type Answer<R> = http::Response<Either<R, Full<Bytes>>>;

impl<S, B, R> tower::Service<http::Request<B>> for DryRun<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Answer<R>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Answer<R>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if !self.layer.on || request.method() == http::Method::GET {
            let answer = self.inner.call(request);
            return Box::pin(async move {
                let answer = answer.await.map_err(Into::into)?;
                Ok(answer.map(Either::Left))
            });
        }
        let withheld = self.layer.withheld.clone();
        Box::pin(async move {
            let planned = planned(request).await?;
            withheld
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(planned);
            let mut answer = http::Response::new(Either::Right(Full::default()));
            *answer.status_mut() = http::StatusCode::NO_CONTENT;
            Ok(answer)
        })
    }
}

/// The write as planned: its method, API path and JSON body.
async fn planned<B>(request: http::Request<B>) -> Result<PlannedRequest, BoxError>
where
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.map_err(Into::into)?.to_bytes();
    let method = match parts.method {
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        _ => "request",
    };
    let path = ApiPath::of(&parts.extensions, &parts.uri);
    let body = (!bytes.is_empty())
        .then(|| serde_json::from_slice(&bytes))
        .transpose()?;
    Ok(PlannedRequest { method, path, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::{Layer as _, Service as _, ServiceExt as _};

    #[tokio::test]
    async fn writes_are_kept_and_answered_without_being_sent_reads_are_sent() {
        let sent = Arc::new(AtomicUsize::new(0));
        let inner = {
            let sent = sent.clone();
            tower::service_fn(move |_: http::Request<Full<Bytes>>| {
                sent.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(http::Response::new(Full::<Bytes>::from("[]"))) }
            })
        };
        let withheld = Withheld::default();
        let mut svc = DryRunLayer::new(withheld.clone(), true).layer(inner);
        let read = http::Request::get("https://api.github.com/repos/o/r/issues")
            .body(Full::default())
            .unwrap();
        let answer = svc.ready().await.unwrap().call(read).await.unwrap();
        assert_eq!(answer.status(), 200);
        let mut write = http::Request::patch("https://api.github.com/api/v3/repos/o/r/issues/1")
            .body(Full::from(r#"{"state":"closed"}"#))
            .unwrap();
        write
            .extensions_mut()
            .insert(ApiPath("/repos/o/r/issues/1".into()));
        let answer = svc.ready().await.unwrap().call(write).await.unwrap();
        assert_eq!(answer.status(), 204);
        let delete = http::Request::delete("https://api.github.com/x")
            .body(Full::default())
            .unwrap();
        svc.ready().await.unwrap().call(delete).await.unwrap();
        assert_eq!(sent.load(Ordering::SeqCst), 1, "only the read is sent");
        let withheld = withheld.lock().unwrap().clone();
        assert_eq!(withheld.len(), 2);
        assert_eq!(withheld[0].method, "PATCH");
        assert_eq!(withheld[0].path, "/repos/o/r/issues/1");
        assert_eq!(
            withheld[0].body,
            Some(serde_json::json!({"state": "closed"}))
        );
        assert_eq!(
            (withheld[1].method, withheld[1].body.clone()),
            ("DELETE", None)
        );
    }
}

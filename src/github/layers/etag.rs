//! The ETag cache ([`EtagCache`]) as a layer: a GET of a client given the
//! cache sends the ETag of its URL's last answer as `If-None-Match`, and
//! GitHub's 304 Not Modified (which does not count against the primary
//! rate limit) is answered with the kept body, as a 200 with the 304's
//! own headers and the kept `Link`. A 200 with an `ETag` and a JSON body
//! is kept for the next run. A 304 for a URL whose body is not kept (it
//! cannot happen unless the cache file changed under the run) is sent once
//! more without the ETag. A request that carries its own `If-None-Match`
//! (`poll`'s, which keeps its ETags in its state file) is passed through,
//! as is every request of a client without a cache.
//!
//! Below the retries: each attempt is one conditional request. Above the
//! read (`read`): the body it keeps is whole.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use tower::ServiceExt as _;

use super::read::{Read, ReadBody};
use crate::github::etags::EtagCache;
use crate::github::retry::Headers;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The cache (if the client has one) and the count of 304s it answered.
#[derive(Clone, Debug)]
pub(in crate::github) struct EtagLayer {
    cache: Option<Arc<EtagCache>>,
    not_modified: Arc<AtomicUsize>,
}

impl EtagLayer {
    pub(in crate::github) fn new(
        cache: Option<Arc<EtagCache>>,
        not_modified: Arc<AtomicUsize>,
    ) -> Self {
        EtagLayer {
            cache,
            not_modified,
        }
    }
}

impl<S> tower::Layer<S> for EtagLayer {
    type Service = Etag<S>;

    fn layer(&self, inner: S) -> Etag<S> {
        Etag {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`EtagLayer`].
#[derive(Clone)]
pub(in crate::github) struct Etag<S> {
    inner: S,
    layer: EtagLayer,
}

type Answer = http::Response<ReadBody>;

impl<S, Q> tower::Service<http::Request<Q>> for Etag<S>
where
    S: tower::Service<http::Request<Q>, Response = Answer> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    Q: Default + Send + 'static,
{
    type Response = Answer;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<Q>) -> Self::Future {
        let cache = match &self.layer.cache {
            Some(cache)
                if request.method() == http::Method::GET
                    && !request.headers().contains_key(http::header::IF_NONE_MATCH) =>
            {
                cache.clone()
            }
            _ => {
                let answer = self.inner.call(request);
                return Box::pin(async move { answer.await.map_err(Into::into) });
            }
        };
        let url = request.uri().to_string();
        let etag = cache.etag(&url);
        // The same GET without `If-None-Match` (added below), if needed.
        let again = etag.as_ref().map(|_| super::again(&request, Q::default()));
        if let Some(v) = etag
            .as_deref()
            .and_then(|e| http::HeaderValue::from_str(e).ok())
        {
            request.headers_mut().insert(http::header::IF_NONE_MATCH, v);
        }
        // The ready service answers this request; a clone stays for the
        // next call (and for sending this one again).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let not_modified = self.layer.not_modified.clone();
        Box::pin(async move {
            let answer = inner.call(request).await.map_err(Into::into)?;
            match (answer.status().as_u16(), again) {
                (304, Some(again)) => {
                    not_modified.fetch_add(1, Ordering::SeqCst);
                    match cache.not_modified(&url) {
                        Some((body, link)) => Ok(from_cache(answer, &body, link)),
                        None => inner
                            .ready()
                            .await
                            .map_err(Into::into)?
                            .call(again)
                            .await
                            .map_err(Into::into),
                    }
                }
                (200..=299, _) => {
                    keep(&cache, &url, &answer);
                    Ok(answer)
                }
                _ => Ok(answer),
            }
        })
    }
}

/// A 304 answered with the kept body and `Link`, as a 200 with the 304's
/// other headers (the rate limit's among them).
fn from_cache(answer: Answer, body: &serde_json::Value, link: Option<String>) -> Answer {
    let (mut parts, _) = answer.into_parts();
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    parts.status = http::StatusCode::OK;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.remove(http::header::LINK);
    if let Some(v) = link.and_then(|l| http::HeaderValue::from_str(&l).ok()) {
        parts.headers.insert(http::header::LINK, v);
    }
    parts.extensions.insert(Read(bytes.clone()));
    http::Response::from_parts(parts, Full::new(bytes))
}

/// Keeps a 2xx answer with an `ETag` and a JSON body for the next run.
fn keep(cache: &EtagCache, url: &str, answer: &Answer) {
    let headers = Headers::of(answer.headers());
    let (Some(etag), Some(Read(bytes))) = (&headers.etag, answer.extensions().get::<Read>()) else {
        return;
    };
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(bytes) {
        cache.keep(url, etag, &body, headers.link.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;
    use std::convert::Infallible;
    use std::sync::Mutex;
    use tower::Layer as _;

    /// An answer: status, `ETag`, body.
    type Canned = (u16, Option<&'static str>, &'static str);

    /// Answers with the queued (status, etag, body) in turn, and keeps
    /// each request's `If-None-Match`.
    #[derive(Clone, Default)]
    struct GitHub {
        answers: Arc<Mutex<Vec<Canned>>>,
        seen: Arc<Mutex<Vec<Option<String>>>>,
    }

    impl tower::Service<http::Request<()>> for GitHub {
        type Response = Answer;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Answer, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<()>) -> Self::Future {
            let inm = request
                .headers()
                .get(http::header::IF_NONE_MATCH)
                .map(|v| v.to_str().unwrap().to_string());
            self.seen.lock().unwrap().push(inm);
            let (status, etag, body) = self.answers.lock().unwrap().remove(0);
            let mut answer = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *answer.status_mut() = http::StatusCode::from_u16(status).unwrap();
            if let Some(e) = etag {
                answer.headers_mut().insert("etag", e.parse().unwrap());
            }
            answer
                .extensions_mut()
                .insert(Read(Bytes::from_static(body.as_bytes())));
            std::future::ready(Ok(answer))
        }
    }

    fn get() -> http::Request<()> {
        http::Request::get("https://api.github.com/repos/o/r")
            .body(())
            .unwrap()
    }

    async fn body(answer: Answer) -> String {
        let bytes = answer.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_kept_etag_is_sent_and_its_304_answered_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(EtagCache::open(
            &dir.path().join("etags.json"),
            "test",
            None,
        ));
        let github = GitHub::default();
        *github.answers.lock().unwrap() = vec![
            (200, Some("\"v1\""), "{\"a\":1}"),
            (304, None, ""),
            (200, Some("\"v2\""), "{\"a\":2}"),
        ];
        let count = Arc::new(AtomicUsize::new(0));
        let svc = EtagLayer::new(Some(cache), count.clone()).layer(github.clone());
        let first = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(body(first).await, "{\"a\":1}");
        let second = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(second.status(), 200);
        assert_eq!(body(second).await, "{\"a\":1}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let third = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(body(third).await, "{\"a\":2}");
        assert_eq!(
            *github.seen.lock().unwrap(),
            [None, Some("\"v1\"".to_string()), Some("\"v1\"".to_string())]
        );
    }

    #[tokio::test]
    async fn writes_and_clients_without_a_cache_are_passed_through() {
        let github = GitHub::default();
        *github.answers.lock().unwrap() = vec![(304, None, "")];
        let svc = EtagLayer::new(None, Arc::default()).layer(github.clone());
        let answer = svc.oneshot(get()).await.unwrap();
        assert_eq!(answer.status(), 304, "no cache: the 304 is the caller's");
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(EtagCache::open(
            &dir.path().join("etags.json"),
            "test",
            None,
        ));
        *github.answers.lock().unwrap() = vec![(200, Some("\"w\""), "{}"), (200, None, "{}")];
        let svc = EtagLayer::new(Some(cache), Arc::default()).layer(github.clone());
        let post = http::Request::post("https://api.github.com/repos/o/r")
            .body(())
            .unwrap();
        svc.clone().oneshot(post).await.unwrap();
        svc.oneshot(get()).await.unwrap();
        assert_eq!(*github.seen.lock().unwrap(), [None, None, None]);
    }
}

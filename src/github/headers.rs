//! The headers every request carries: exactly one `Accept:
//! application/vnd.github+json`, one `X-GitHub-Api-Version`, the
//! `fleetform/<version>` `User-Agent` (GitHub refuses a request without
//! one) and, for a client with a credential, `Authorization: Bearer …`
//! marked sensitive. They come first, in that order, before the request's
//! own (`If-None-Match`, `Content-Type`), which never replace them. The
//! token is read at each request from the client's [`Bearer`], so an
//! installation token renewed before it expires (`renewal`) is the one
//! the next request carries.

use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use http::HeaderMap;

/// The media type every request asks for.
pub const MEDIA_TYPE: &str = "application/vnd.github+json";
/// The REST API version every request pins.
pub const API_VERSION: &str = "2022-11-28";
/// The `User-Agent` every request sends (GitHub requires one).
pub const AGENT: &str = concat!("fleetform/", env!("CARGO_PKG_VERSION"));

/// A client's `Authorization: Bearer <token>` value, marked sensitive
/// (`None` for an anonymous client); shared by the client, its clones and
/// its octocrab client's [`HeadersLayer`], so a renewed token replaces the
/// old one for every request sent after.
#[derive(Clone, Default)]
pub(in crate::github) struct Bearer(Arc<RwLock<Option<HeaderValue>>>);

impl Bearer {
    pub(in crate::github) fn new(value: Option<HeaderValue>) -> Self {
        Bearer(Arc::new(RwLock::new(value)))
    }

    /// The value the next request carries.
    pub(in crate::github) fn current(&self) -> Option<HeaderValue> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the value for every request sent from now on.
    pub(in crate::github) fn replace(&self, value: HeaderValue) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(value);
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.current().is_some() {
            "Bearer(hidden)"
        } else {
            "Bearer(none)"
        })
    }
}

/// Puts the documented headers and the token on every request.
#[derive(Clone, Debug)]
pub(in crate::github) struct HeadersLayer {
    auth: Bearer,
}

impl HeadersLayer {
    pub(in crate::github) fn new(auth: Bearer) -> Self {
        HeadersLayer { auth }
    }
}

impl<S> tower::Layer<S> for HeadersLayer {
    type Service = Headers<S>;

    fn layer(&self, inner: S) -> Headers<S> {
        Headers {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service of [`HeadersLayer`].
#[derive(Clone)]
pub(in crate::github) struct Headers<S> {
    inner: S,
    auth: Bearer,
}

impl<S, B> tower::Service<http::Request<B>> for Headers<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> S::Future {
        let own = std::mem::take(request.headers_mut());
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static(MEDIA_TYPE));
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        if let Some(auth) = self.auth.current() {
            headers.insert(AUTHORIZATION, auth);
        }
        append_missing(headers, own);
        self.inner.call(request)
    }
}

/// `own`'s headers after `headers`, except those `headers` already has.
fn append_missing(headers: &mut HeaderMap, own: HeaderMap) {
    let mut name = None;
    for (k, v) in own {
        // `None` repeats the last name (a header sent more than once).
        if let Some(k) = k {
            name = Some(k);
        }
        let Some(k) = &name else { continue };
        if [ACCEPT, USER_AGENT, AUTHORIZATION].contains(k) || k == "x-github-api-version" {
            continue;
        }
        headers.append(k.clone(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    async fn sent_headers(auth: Option<HeaderValue>, request: http::Request<()>) -> Vec<String> {
        let echo = tower::service_fn(|r: http::Request<()>| async move {
            Ok::<_, Infallible>(
                r.headers()
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
                    .collect::<Vec<_>>(),
            )
        });
        let mut svc = HeadersLayer::new(Bearer::new(auth)).layer(echo);
        svc.ready().await.unwrap().call(request).await.unwrap()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn the_documented_headers_come_first_once_then_the_requests_own() {
        let mut auth = HeaderValue::from_static("Bearer t0k3n");
        auth.set_sensitive(true);
        let request = http::Request::builder()
            .header("if-none-match", "\"abc\"")
            .header(ACCEPT, "text/html")
            .header("content-type", "application/json")
            .body(())
            .unwrap();
        let sent = rt().block_on(sent_headers(Some(auth), request));
        assert_eq!(
            sent,
            [
                "accept: application/vnd.github+json".to_string(),
                "x-github-api-version: 2022-11-28".into(),
                format!("user-agent: fleetform/{}", env!("CARGO_PKG_VERSION")),
                "authorization: Bearer t0k3n".into(),
                "if-none-match: \"abc\"".into(),
                "content-type: application/json".into(),
            ]
        );
    }

    #[test]
    fn an_anonymous_client_sends_no_authorization_and_the_layer_hides_the_token() {
        let request = http::Request::builder()
            .header(AUTHORIZATION, "Bearer smuggled")
            .body(())
            .unwrap();
        let sent = rt().block_on(sent_headers(None, request));
        assert!(
            !sent.iter().any(|h| h.starts_with("authorization")),
            "{sent:?}"
        );
        let layer = HeadersLayer::new(Bearer::new(Some(HeaderValue::from_static("Bearer t0k3n"))));
        assert!(!format!("{layer:?}").contains("t0k3n"));
    }

    /// A token replaced in the client's `Bearer` is the one the next
    /// request through an already built layer carries.
    #[test]
    fn a_replaced_token_is_sent_from_the_next_request_on() {
        let bearer = Bearer::new(Some(HeaderValue::from_static("Bearer first")));
        let echo = tower::service_fn(|r: http::Request<()>| async move {
            Ok::<_, Infallible>(r.headers().get(AUTHORIZATION).cloned())
        });
        let mut svc = HeadersLayer::new(bearer.clone()).layer(echo);
        let rt = rt();
        let mut send = || {
            rt.block_on(async {
                let request = http::Request::builder().body(()).unwrap();
                svc.ready().await.unwrap().call(request).await.unwrap()
            })
        };
        assert_eq!(send().unwrap(), "Bearer first");
        bearer.replace(HeaderValue::from_static("Bearer second"));
        assert_eq!(send().unwrap(), "Bearer second");
        assert_eq!(format!("{bearer:?}"), "Bearer(hidden)");
    }
}

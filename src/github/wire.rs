//! The wire side of one request: the HTTP method, the request with its
//! own headers (`If-None-Match`, `Content-Type`; the ones every request
//! carries are the `headers` layer's), the answer's head and body
//! each within the client's timeout, and the texts made of an answer.
//! Split from `client`, which decides what an answer means; this file
//! imports no other of the folder but `error` and `transport` (the
//! request goes out through the credential's octocrab client, raw:
//! `Octocrab::execute`, so the status and headers stay visible).

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use octocrab::OctoBody;
use serde_json::Value;

use std::time::Duration;

use super::budget::{ApiPath, Refused};
use super::error::GitHubError;

/// A decoded response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    /// The `Link` header as sent (several joined with `, `).
    pub link: Option<String>,
    /// The `ETag` header, for a later conditional request.
    pub etag: Option<String>,
}

/// Why [`NetService`] got no answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum TransportError {
    /// The request's body could not be read (octocrab's bodies are in
    /// memory: this does not happen in practice).
    #[error("cannot read the request's body: {0}")]
    Body(String),
    /// The HTTP client's error, whose causes say whether a connection was
    /// made.
    #[error("{}", crate::net::error_text(.0))]
    Http(#[source] hyper_util::client::legacy::Error),
}

/// An answer's body as octocrab hands it on (streamed as it arrives).
pub(super) type AnswerBody = BoxBody<Bytes, octocrab::Error>;

/// The connection side of a client: `net`'s HTTP client and the token
/// its octocrab client is built with (at the first request, once the
/// client's settings are final: its layers depend on them), and the
/// timeout.
pub(super) struct Wire {
    pub http: crate::net::Client,
    /// `Authorization: Bearer <token>`, marked sensitive.
    pub auth: super::headers::Bearer,
    pub crab: std::sync::OnceLock<octocrab::Octocrab>,
    /// How long an answer's head, and each part of its body, may take.
    pub timeout: Duration,
}

#[derive(Clone, Copy)]
pub(super) enum Method {
    Get,
    Post,
    /// A POST that creates something people see twice if it is made twice
    /// (an issue, a comment, a deployment): after a 5xx it is not sent
    /// again blindly, as GitHub may have made it before failing to answer.
    Create,
    Patch,
    Put,
    Delete,
}

impl Method {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post | Method::Create => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// The client's method for an HTTP method (a POST is not taken for a
    /// create); any other is a GET's (a read).
    pub(super) fn of(method: &http::Method) -> Method {
        match *method {
            http::Method::POST => Method::Post,
            http::Method::PATCH => Method::Patch,
            http::Method::PUT => Method::Put,
            http::Method::DELETE => Method::Delete,
            _ => Method::Get,
        }
    }

    pub(super) fn http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post | Method::Create => http::Method::POST,
            Method::Patch => http::Method::PATCH,
            Method::Put => http::Method::PUT,
            Method::Delete => http::Method::DELETE,
        }
    }
}

impl Wire {
    /// The request with the body as JSON; the headers every request
    /// carries are the `headers` layer's.
    pub(super) fn request(
        &self,
        method: Method,
        url: &str,
        path: &str,
        body: Option<&Value>,
        if_none_match: Option<&str>,
    ) -> Result<http::Request<OctoBody>, GitHubError> {
        let mut builder = http::Request::builder()
            .method(method.http())
            .uri(url)
            .extension(ApiPath(path.to_string()));
        if let Some(v) = if_none_match.and_then(|e| http::HeaderValue::from_str(e).ok()) {
            builder = builder.header(http::header::IF_NONE_MATCH, v);
        }
        let bytes = match body {
            Some(b) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(b).unwrap_or_default())
            }
            None => Bytes::new(),
        };
        builder.body(OctoBody::from(bytes)).map_err(|e| {
            GitHubError::Setup(format!(
                "{} {path}: cannot build the request: {e}",
                method.as_str()
            ))
        })
    }

    /// An error of octocrab's typed API in the client's words: GitHub's
    /// answer (its status and message), what the scheduler would not
    /// send, or what got no answer.
    pub(super) fn octocrab_error(
        &self,
        method: Method,
        path: &str,
        e: octocrab::Error,
    ) -> GitHubError {
        let (method, path) = (method.as_str(), path.to_string());
        match e {
            octocrab::Error::GitHub { source, .. } => GitHubError::Status {
                method,
                path,
                status: source.status_code.as_u16(),
                message: source.message,
            },
            octocrab::Error::Service { source, .. } => match source.downcast::<Refused>() {
                Ok(refused) => refused.0,
                Err(source) => GitHubError::Network {
                    method,
                    path,
                    message: Unanswered::of(&*source, self.timeout).message,
                },
            },
            octocrab::Error::Serde { source, .. } => GitHubError::BadJson {
                method,
                path,
                message: source.to_string(),
            },
            octocrab::Error::Json { source, .. } => GitHubError::BadJson {
                method,
                path,
                message: source.to_string(),
            },
            e => GitHubError::Network {
                method,
                path,
                message: crate::net::error_text(&e),
            },
        }
    }

    /// The answer's head within the timeout (the timeout layer's); the
    /// inner `Err` holds what failed, the outer one what the scheduler
    /// would not send.
    pub(super) async fn exchange(
        &self,
        crab: &octocrab::Octocrab,
        request: http::Request<OctoBody>,
    ) -> Result<Result<http::Response<AnswerBody>, Unanswered>, GitHubError> {
        match crab.execute(request).await {
            Ok(r) => Ok(Ok(r)),
            Err(octocrab::Error::Service { source, .. }) => match source.downcast::<Refused>() {
                Ok(refused) => Err(refused.0),
                Err(source) => Ok(Err(Unanswered::of(&*source, self.timeout))),
            },
            Err(e) => Ok(Err(Unanswered::of(&e, self.timeout))),
        }
    }
}

/// A request that got no answer: why, whether it may have reached the
/// server (the connection was made), and whether trying again can help.
pub(super) struct Unanswered {
    pub message: String,
    pub sent: bool,
    pub permanent: bool,
}

impl Unanswered {
    /// What octocrab's error says: the HTTP client's failure when it is
    /// one (made no connection, or failed after), else octocrab's own (its
    /// service gone: no request went out, and none will).
    pub(super) fn of(e: &(dyn std::error::Error + 'static), timeout: Duration) -> Unanswered {
        if cause::<tower::timeout::error::Elapsed>(e).is_some() {
            return Unanswered {
                message: format!("no answer within {} s", timeout.as_secs()),
                sent: true,
                permanent: false,
            };
        }
        match cause::<TransportError>(e) {
            Some(TransportError::Http(h)) => Unanswered {
                message: crate::net::error_text(h),
                sent: !h.is_connect(),
                permanent: crate::net::connect_error(h)
                    .is_some_and(crate::net::ConnectError::is_permanent),
            },
            Some(t @ TransportError::Body(_)) => Unanswered {
                message: t.to_string(),
                sent: false,
                permanent: true,
            },
            None => Unanswered {
                message: crate::net::error_text(e),
                sent: false,
                permanent: true,
            },
        }
    }
}

pub(super) fn message_of(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| truncate_chars(text.trim(), 200))
}

pub fn truncate_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The first of `e`'s causes that is a `T` (octocrab wraps its layers'
/// errors in its `Service` error).
pub(super) fn cause<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(found) = c.downcast_ref::<T>() {
            return Some(found);
        }
        cause = c.source();
    }
    None
}

/// A copy of `request` with `body`: its method, URI, version, headers and
/// extensions (an `http::Request` cannot be cloned), for a request sent
/// again (a retry, a conditional GET sent without its condition).
pub(super) fn again<Q, B>(request: &http::Request<Q>, body: B) -> http::Request<B> {
    let mut again = http::Request::new(body);
    *again.method_mut() = request.method().clone();
    *again.uri_mut() = request.uri().clone();
    *again.version_mut() = request.version();
    *again.headers_mut() = request.headers().clone();
    *again.extensions_mut() = request.extensions().clone();
    again
}

//! The octocrab client of one credential, over the shared HTTP client of
//! `net` (its connector: proxies, the trusted roots,
//! `FLEETFORM_GITHUB_CA_FILE`).
//!
//! Built with `OctocrabBuilder::new_empty().with_service(..)` and the
//! project's tower layers (`layers`) added with `with_layer`: octocrab
//! brings no HTTP client, no TLS, and none of its own retry, timeout or
//! redirect layers (its default features are off), so every request goes
//! out through [`NetService`] as built by `wire` and the layers (the
//! documented headers, the token, the `fleetform/<version>` User-Agent),
//! and the
//! answer's status, headers and streamed body come back as sent, which the
//! client reads within its own timeout.
//!
//! Authentication is `AuthState::None`: the token is a header the
//! `headers` layer puts on every request. GitHub App authentication (the JWT, the installation
//! token, its expiry) stays in `app`, not octocrab's `jwt` feature: that
//! feature cannot restrict an installation token's permissions (fleetform
//! asks for each command's own), and it brings jsonwebtoken 10 with a
//! second crypto backend (aws-lc-rs or RustCrypto's rsa) besides the one
//! the binary already links.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use octocrab::OctoBody;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use super::error::GitHubError;
use super::layers::count::CountLayer;
use super::layers::dry_run::DryRunLayer;
use super::layers::headers::HeadersLayer;
use super::layers::schedule::ScheduleLayer;
use super::layers::write_log::WriteLogLayer;

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

/// The tower service octocrab sends through: `net`'s HTTP client.
#[derive(Clone)]
pub(super) struct NetService(crate::net::Client);

impl tower::Service<http::Request<OctoBody>> for NetService {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = TransportError;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<OctoBody>) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|e| TransportError::Body(e.to_string()))?
                .to_bytes();
            let request = http::Request::from_parts(parts, Full::<Bytes>::new(bytes));
            client.request(request).await.map_err(TransportError::Http)
        })
    }
}

/// What a client's layers are built with: its token, its counts and, for
/// a scheduled client that keeps its writes, the write log.
pub(super) struct Layers {
    /// `Bearer <token>`, sensitive; `None` for an anonymous client.
    pub auth: Option<http::HeaderValue>,
    pub sent: Arc<AtomicUsize>,
    pub answered: Arc<AtomicUsize>,
    pub write_log: Option<WriteLogLayer>,
    pub schedule: ScheduleLayer,
    pub dry_run: DryRunLayer,
    /// How long an answer's head may take.
    pub timeout: std::time::Duration,
}

/// The octocrab client of one credential over `http`, its layers from
/// the outside in: `headers`, `dry_run`, `schedule`, tower's timeout on the answer's
/// head, `write_log` (if any), `count`, then `net`.
/// Its service runs on the runtime the caller is on (octocrab spawns it
/// there).
pub(super) fn octocrab_over(
    http: crate::net::Client,
    layers: Layers,
) -> Result<octocrab::Octocrab, GitHubError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(GitHubError::Setup(
            "the GitHub client must be built on its runtime".into(),
        ));
    }
    octocrab::OctocrabBuilder::new_empty()
        .with_service(NetService(http))
        .with_layer(&CountLayer::new(layers.sent, layers.answered))
        .with_layer(&tower::util::option_layer(layers.write_log))
        .with_layer(&tower::timeout::TimeoutLayer::new(layers.timeout))
        .with_layer(&layers.schedule)
        .with_layer(&layers.dry_run)
        .with_layer(&HeadersLayer::new(layers.auth))
        .with_auth(octocrab::AuthState::None)
        .build()
        .map_err(|e| GitHubError::Setup(format!("cannot build the GitHub client: {e}")))
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

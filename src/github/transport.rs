//! The octocrab client of one credential, over the shared HTTP client of
//! `net` (its connector: proxies, the trusted roots,
//! `FLEETFORM_GITHUB_CA_FILE`).
//!
//! Built with `OctocrabBuilder::new_empty().with_service(..)` and the
//! project's tower layers (each in the file of its concept, below) added
//! with `with_layer`: octocrab
//! brings no HTTP client, no TLS, and none of its own retry, timeout or
//! redirect layers (its default features are off); the retries are
//! tower's `Retry` with the client's policy (`retry`), the ETag cache and
//! the body's read are layers of their own. Every request goes out through
//! [`NetService`], whether the client built it (`wire`, sent raw with
//! `Octocrab::execute`, so the status and headers stay visible) or
//! octocrab's typed API did (its relative path put under the API root by
//! octocrab's `BaseUriLayer`).
//!
//! Authentication is `AuthState::None`: the token is a header the
//! `headers` layer puts on every request, read from the client's `Bearer`
//! at each request. The App's JWT is signed by `jsonwebtoken` in `app`,
//! its installation token is asked for with octocrab's typed
//! `create_installation_access_token`, restricted to the command's
//! repository and permissions, and renewed before it expires
//! (`renewal`). octocrab's own App authentication is not used, for two
//! reasons: its `AppAuth` takes a numeric App id only, while GitHub
//! recommends the client id (`Iv…`) as the JWT's issuer and fleetform
//! accepts both (upstream: XAMPPRocky/octocrab#776, open); and the tokens
//! its installation client mints and renews (`installation_builder`) are
//! scoped to repositories but never to permissions (its request body has
//! `repositories` and `repository_ids` only), so they carry every
//! permission the App was granted, where fleetform asks for each
//! command's own.
//!
//! # The layers
//!
//! The tower layers of a credential's octocrab client
//! (`OctocrabBuilder::with_layer`), each one concern with its own tests,
//! around `net`'s HTTP client, innermost last:
//!
//! - octocrab's `BaseUriLayer`: the API root for octocrab's typed API,
//!   whose paths are relative (the client's own requests are absolute).
//! - `headers`: the headers GitHub documents on every request (`Accept`,
//!   `X-GitHub-Api-Version`, the `fleetform/<version>` `User-Agent`) and
//!   the credential's token.
//! - tower's `Retry` with the client's policy (`github::retry`'s
//!   `Retrying`): GitHub's retry order within the client's bounds; each
//!   attempt goes through every layer below, so each is scheduled, counted
//!   and logged as a request of its own.
//! - `etags`: the ETag cache of a client given one (a 304 answered from
//!   it).
//! - `read`: the answer's body read whole, each part within the client's
//!   timeout, for the retry policy and the cache to decide on.
//! - `dry_run`: `--dry-run`'s withheld writes ([`super::PlannedRequest`]),
//!   answered without being scheduled, counted or sent.
//! - `budget`: the scheduler: a slot under the concurrency
//!   cap, held until the answer's body is dropped, and a slot within
//!   GitHub's limits, or `Deferred` past the client's patience.
//! - tower's `TimeoutLayer`: the answer's head within the client's
//!   timeout.
//! - `write_log`: the hour's writes kept as each write goes out (a
//!   scheduled client with `keep_writes_in` only).
//! - `count`: every request sent, by every client of the process (what
//!   `-v` reports), and the ones this client sent and got an answer to.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::OctoBody;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use super::budget::ScheduleLayer;
use super::count::CountLayer;
use super::dry_run::DryRunLayer;
use super::error::GitHubError;
use super::etags::EtagLayer;
use super::headers::HeadersLayer;
use super::read::ReadLayer;
use super::retry::Retrying;
use super::wire::TransportError;
use super::write_log::WriteLogLayer;

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
    pub auth: super::headers::Bearer,
    pub sent: Arc<AtomicUsize>,
    pub answered: Arc<AtomicUsize>,
    pub write_log: Option<WriteLogLayer>,
    pub schedule: ScheduleLayer,
    pub dry_run: DryRunLayer,
    /// How long an answer's head, and each part of its body, may take.
    pub timeout: std::time::Duration,
    /// The API root, which octocrab's typed API's paths are under.
    pub base: http::Uri,
    pub etag: EtagLayer,
    pub retry: Retrying,
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
        .with_layer(&ReadLayer::new(layers.timeout))
        .with_layer(&layers.etag)
        .with_layer(&tower::retry::RetryLayer::new(layers.retry))
        .with_layer(&HeadersLayer::new(layers.auth))
        .with_layer(&BaseUriLayer::new(layers.base))
        .with_auth(octocrab::AuthState::None)
        .build()
        .map_err(|e| GitHubError::Setup(format!("cannot build the GitHub client: {e}")))
}

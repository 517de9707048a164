//! The client: one octocrab client per credential over the shared
//! connector of `net` (proxies, the trusted roots,
//! `FLEETFORM_GITHUB_CA_FILE`; `transport`, whose layers put on the
//! documented headers, schedule, time and count each request), and around
//! every request retries with backoff within a budget, rate limits,
//! `--dry-run`'s withheld writes, the ETag cache, and pagination that
//! follows `Link: rel="next"` only under the API root. The request as
//! sent and the answer as read are in `wire`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use super::budget::{self, Ledger, Limits};
use super::budget::{ScheduleLayer, TYPED_PATH};
pub use super::dry_run::PlannedRequest;
use super::dry_run::{DryRunLayer, Withheld};
use super::error::{GitHubError, Token};
use super::etags::EtagCache;
use super::etags::EtagLayer;
use super::headers::Bearer;
pub use super::headers::{API_VERSION, MEDIA_TYPE as ACCEPT};
use super::renewal::Renewal;
use super::retry::{RetryPolicy, Retrying, Tries};
use super::root::{self, ApiRoot, DEFAULT_API_ROOT};
pub use super::wire::truncate_chars;
pub(super) use super::wire::Method;
pub use super::wire::Response;
use super::wire::Wire;
use super::write_log::WriteLogLayer;

/// Pages read of one list at most (100 items each).
pub const MAX_PAGES: usize = 50;

/// The variable naming an extra CA bundle trusted for GitHub only (GitHub
/// Enterprise Server with a private CA).
pub const CA_FILE_VAR: &str = "FLEETFORM_GITHUB_CA_FILE";

/// The single-threaded runtime the GitHub client runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, GitHubError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| GitHubError::Setup(format!("cannot start the async runtime: {e}")))
}

/// The client.
pub struct GitHub {
    /// The HTTP client, the token and the timeout.
    wire: Wire,
    root: ApiRoot,
    retry: RetryPolicy,
    /// Requests sent, counted by the `count` layer.
    requests: Arc<AtomicUsize>,
    /// Requests GitHub answered (with any status), counted by the `count`
    /// layer.
    answered: Arc<AtomicUsize>,
    pub dry_run: bool,
    /// Writes withheld by `--dry-run` (the `dry_run` layer's).
    withheld: Withheld,
    /// The last `GitHub-Authentication-Token-Expiration` header GitHub
    /// sent (tokens with an expiry get it on every answer).
    token_expiration: Arc<Mutex<Option<String>>>,
    /// Whether a connection that could not be made (refused, no route, a
    /// name that does not resolve, the connect timeout) is retried.
    retry_unconnected: bool,
    /// The scheduler's bookkeeping for this credential
    /// ([`budget`]), and its concurrency cap.
    ledger: Arc<Mutex<Ledger>>,
    slots: Arc<tokio::sync::Semaphore>,
    /// Requests waiting for one of the `slots` ([`GitHub::queued_for_a_slot`]).
    queued: Arc<AtomicUsize>,
    /// How long a wait may be, and the deadline no wait may end past.
    patience: budget::Patience,
    /// ETags kept between runs ([`EtagCache`]), and the 304s answered.
    etags: Option<Arc<EtagCache>>,
    /// Where the hour's writes are kept after each write ([`GitHub::keep_writes_in`]).
    write_log: Option<std::path::PathBuf>,
    not_modified: Arc<AtomicUsize>,
    /// `FLEETFORM_GITHUB_SCHEDULER=off` (measurements only): requests are
    /// sent without waiting for a slot, as a client without the scheduler
    /// (nor its concurrency cap).
    unscheduled: bool,
    /// The installation token's renewal, for a client made for an App's
    /// installation ([`super::renewal`]).
    renewal: Option<Arc<Renewal>>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_root", &self.root.as_str())
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl GitHub {
    /// `api_url` as in `GITHUB_API_URL` (default `https://api.github.com`),
    /// checked first: a bad one is [`GitHubError::ApiRoot`].
    /// The client lives on `rt`.
    pub fn new(
        rt: &tokio::runtime::Runtime,
        net: &crate::net::Settings,
        api_url: &str,
        token: Option<&Token>,
        dry_run: bool,
    ) -> Result<Self, GitHubError> {
        let root = ApiRoot::parse(api_url)?;
        GitHub::with_root(rt, net, root, token, dry_run)
    }

    /// A client for a checked API root.
    pub fn with_root(
        rt: &tokio::runtime::Runtime,
        net: &crate::net::Settings,
        root: ApiRoot,
        token: Option<&Token>,
        dry_run: bool,
    ) -> Result<Self, GitHubError> {
        let _guard = rt.enter();
        GitHub::in_runtime(net, root, token, dry_run)
    }

    /// A client built on the runtime the caller runs on (a long-running
    /// service builds clients from inside its tasks), connecting with
    /// `net`'s proxies and roots.
    pub fn in_runtime(
        net: &crate::net::Settings,
        root: ApiRoot,
        token: Option<&Token>,
        dry_run: bool,
    ) -> Result<Self, GitHubError> {
        let timeout = root::http_timeout()?;
        let retry = RetryPolicy::from_env()?;
        let limits = Limits::from_env()?;
        if let Some(t) = token.filter(|t| !t.is_sendable()) {
            return Err(GitHubError::BadToken(t.name()));
        }
        let auth = token.map(bearer_value).transpose()?;
        let extra = std::env::var_os(CA_FILE_VAR)
            .filter(|v| !v.is_empty())
            .map(|p| crate::net::ExtraCa {
                setting: CA_FILE_VAR,
                path: p.into(),
            });
        let http = net.client(extra.as_ref(), Some(CA_FILE_VAR))?;
        Ok(GitHub {
            wire: Wire {
                http,
                auth: Bearer::new(auth),
                crab: std::sync::OnceLock::new(),
                timeout,
            },
            root,
            retry,
            requests: Arc::default(),
            answered: Arc::default(),
            dry_run,
            withheld: Withheld::default(),
            token_expiration: Arc::default(),
            retry_unconnected: true,
            ledger: Arc::new(Mutex::new(Ledger::new(limits))),
            slots: Arc::new(tokio::sync::Semaphore::new(limits.concurrency)),
            queued: Arc::default(),
            patience: budget::Patience::new(retry.max_wait),
            etags: None,
            write_log: None,
            not_modified: Arc::default(),
            unscheduled: std::env::var_os("FLEETFORM_GITHUB_SCHEDULER").is_some_and(|v| v == "off"),
            renewal: None,
        })
    }

    /// Renews this client's token with `renewal` whenever it is due, at
    /// least as long before it expires as one request of this client may
    /// take (its attempts, each within the timeout, and its waits).
    pub(super) fn renewing(mut self, renewal: Renewal) -> Self {
        let longest = self.timeout_secs() * u64::from(self.retry.max_attempts)
            + self.retry.max_wait.as_secs()
            + self.patience.max_wait.as_secs();
        self.renewal = Some(Arc::new(renewal.with_margin(longest)));
        self
    }

    fn timeout_secs(&self) -> u64 {
        self.wire.timeout.as_secs().max(1)
    }

    /// A new token, if this client renews its own and it is due: it is
    /// the client's before any request goes on.
    async fn renew_if_due(&self) -> Result<(), GitHubError> {
        let Some(renewal) = &self.renewal else {
            return Ok(());
        };
        renewal
            .renew_if_due(|token| {
                self.wire.auth.replace(bearer_value(token)?);
                tracing::debug!("installation token renewed");
                Ok(())
            })
            .await
    }

    /// This client does not retry a connection that could not be made: it
    /// fails at once with [`GitHubError::NoConnection`]. For a command that
    /// asks first whether GitHub can be reached at all (`doctor`), where
    /// waiting out the retries of a refused connection only delays saying
    /// so; answers GitHub gives (429, 5xx) are retried as always.
    pub fn without_connect_retries(mut self) -> Self {
        self.retry_unconnected = false;
        self
    }

    /// No request of this client waits for a slot or a retry past
    /// `deadline`: it fails with [`GitHubError::Deferred`] instead.
    pub fn with_deadline(mut self, deadline: std::time::SystemTime) -> Self {
        let ms = deadline.duration_since(std::time::UNIX_EPOCH);
        self.patience.deadline = Some(ms.map_or(0, |d| d.as_millis() as u64));
        self
    }

    /// Waits for GitHub's limits at most `wait` at a time (a service whose
    /// caller is waiting): a longer wait fails with
    /// [`GitHubError::Deferred`] at once, saying how long.
    pub fn with_max_wait(mut self, wait: Duration) -> Self {
        self.patience.max_wait = wait;
        self
    }

    /// Schedules against `limits` instead of the ones from the environment
    /// ([`Limits::from_env`]); `None`: unscheduled, as with
    /// `FLEETFORM_GITHUB_SCHEDULER=off` (tests, measurements).
    pub fn with_limits(mut self, limits: Option<Limits>) -> Self {
        self.unscheduled = limits.is_none();
        if let Some(limits) = limits {
            self.ledger = Arc::new(Mutex::new(Ledger::new(limits)));
            self.slots = Arc::new(tokio::sync::Semaphore::new(limits.concurrency));
        }
        self
    }

    /// How many requests wait for a slot under the concurrency cap now
    /// (what a test waits on to know the cap holds them back).
    pub fn queued_for_a_slot(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Schedules as if this client had sent what `earlier` sent (its
    /// minute's points, its hour's writes, the primary limit and any hold
    /// GitHub asked for): a new client for the same credential (an App's
    /// JWT renewed) carries on within the same limits.
    pub fn with_budget_of(self, earlier: &GitHub) -> Self {
        *lock(&self.ledger) = lock(&earlier.ledger).clone();
        self
    }

    /// Schedules within `ledger`, shared with whoever else books in it
    /// (the relay's App-wide ledger: its installation tokens' mints and its
    /// redelivery sweeps count against one minute's points, as GitHub
    /// counts an App's requests). Set before the client's first request.
    pub fn scheduled_in(mut self, ledger: Arc<Mutex<Ledger>>) -> Self {
        self.ledger = ledger;
        self
    }

    /// Schedules within `other`'s budget from now on, shared: one ledger
    /// (the minute's points, the hour's writes, GitHub's holds) and one
    /// concurrency cap for both. The customer repos' clients of one job
    /// ([`super::CustomerRepos`]) are one budget, as one token's were. Set
    /// before the client's first request.
    pub fn sharing_budget_of(mut self, other: &GitHub) -> Self {
        self.ledger = other.ledger.clone();
        self.slots = other.slots.clone();
        self.queued = other.queued.clone();
        self.unscheduled = other.unscheduled;
        self
    }

    /// Keeps the hour's writes at `path` ([`super::write_log`]) as each
    /// write gets its slot, so a run stopped half-way (its job's timeout, a
    /// cancel) still hands the next run every write it made. The caller
    /// writes it once more at the end, where a failure is reported.
    pub fn keep_writes_in(mut self, path: &std::path::Path) -> Self {
        self.write_log = Some(path.to_path_buf());
        self
    }

    /// Every GET sends the ETag `cache` keeps for its URL, and a 304 is
    /// answered from it ([`EtagCache`]).
    pub fn with_etag_cache(mut self, cache: Arc<EtagCache>) -> Self {
        self.etags = Some(cache);
        self
    }

    /// Requests GitHub answered 304 Not Modified (not counted against the
    /// primary rate limit).
    pub fn not_modified_count(&self) -> usize {
        self.not_modified.load(Ordering::SeqCst)
    }

    /// Writes this client sent.
    pub fn write_count(&self) -> u64 {
        lock(&self.ledger).writes_sent
    }

    /// The times (epoch ms) of the writes of the last hour, to count in
    /// a later run ([`GitHub::count_earlier_writes`]).
    pub fn writes_of_the_hour(&self) -> Vec<u64> {
        lock(&self.ledger).writes_of_the_hour(budget::now_ms())
    }

    /// Counts an earlier run's writes against this hour's budget.
    pub fn count_earlier_writes(&self, times: Vec<u64>) {
        lock(&self.ledger).add_earlier_writes(times, budget::now_ms());
    }

    /// How long until `n` content writes in a row could all have been sent
    /// within GitHub's limits as this client counts them (the hour's and
    /// the minute's writes, the minute's points, a hold GitHub asked for):
    /// what a caller at the `n`-th place of a queue of writes may be told
    /// to wait. Nothing is booked.
    pub fn wait_for_writes(&self, n: usize) -> std::time::Duration {
        let ms = lock(&self.ledger).time_for_writes(n, budget::now_ms());
        std::time::Duration::from_millis(ms)
    }

    /// How long a content write sent now would wait for GitHub's limits,
    /// and which limit holds it; `None` when it would go at once. Nothing
    /// is booked: a loop that would rather come back later than hold its
    /// turn asks first.
    pub fn write_wait(&self) -> Option<(std::time::Duration, &'static str)> {
        let mut peek = lock(&self.ledger).clone();
        match peek.reserve(true, budget::now_ms()) {
            budget::Slot::Go => None,
            budget::Slot::Wait { ms, what } => Some((std::time::Duration::from_millis(ms), what)),
        }
    }

    /// `GITHUB_API_URL` or the public API, unchecked ([`GitHub::new`]
    /// checks it; [`ApiRoot::from_env`] checks it on its own). A value that
    /// is not UTF-8 keeps U+FFFD in place of the bad bytes, which the check
    /// refuses.
    pub fn api_url_from_env() -> String {
        std::env::var_os("GITHUB_API_URL")
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_ROOT.into())
    }

    /// GitHub's web address: `GITHUB_SERVER_URL` (set on every runner),
    /// else the API's (`https://api.github.com` is `https://github.com`, a
    /// GHES `<host>/api/v3` is `<host>`; another serves both).
    pub fn web_url_from_env() -> String {
        if let Some(s) = std::env::var("GITHUB_SERVER_URL")
            .ok()
            .filter(|s| !s.trim().is_empty())
        {
            return s.trim_end_matches('/').to_string();
        }
        let api = Self::api_url_from_env();
        let api = api.trim_end_matches('/');
        if api == "https://api.github.com" {
            return "https://github.com".into();
        }
        api.strip_suffix("/api/v3").unwrap_or(api).to_string()
    }

    /// The checked API root.
    pub fn api_root(&self) -> &ApiRoot {
        &self.root
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// How many requests GitHub answered (any status): 0 when it could not
    /// be reached at all.
    pub fn answered_count(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// The token's expiry as GitHub last stated it (the
    /// `GitHub-Authentication-Token-Expiration` header, e.g. `2026-12-01
    /// 10:00:00 UTC`), unparsed; `None` when no answer carried it (a token
    /// without an expiry, an installation token, or no request yet).
    pub fn token_expiration(&self) -> Option<String> {
        lock(&self.token_expiration).clone()
    }

    /// Writes withheld by `--dry-run`, in order.
    pub fn withheld(&self) -> Vec<PlannedRequest> {
        lock(&self.withheld).clone()
    }

    /// Sends one request to `path` under the API root, retrying within
    /// the bounds (the `Retrying` policy of the client's `Retry` layer); a
    /// GET of a client with an ETag cache is conditional (its `etag` layer).
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, GitHubError> {
        self.send_if(method, path, body, None).await
    }

    /// A GET that sends `If-None-Match: etag`: `None` when GitHub answers
    /// 304 Not Modified (which does not count against the primary rate
    /// limit), else the response with its new `ETag`.
    pub(super) async fn get_if_changed(
        &self,
        path: &str,
        etag: Option<&str>,
    ) -> Result<Option<Response>, GitHubError> {
        let r = self.send_if(Method::Get, path, None, etag).await?;
        Ok((r.status != 304).then_some(r))
    }

    /// A call of octocrab's typed API (`call`, given this client's
    /// octocrab) through the same layers as [`GitHub::send`]: its
    /// retries are decided alike, and an error is the policy's
    /// ([`GitHubError::GaveUp`], `Deferred`, ...), else octocrab's in
    /// the client's words. `method` and `path` name the request in
    /// errors and in the log.
    pub(super) async fn typed<T, F>(
        &self,
        method: Method,
        path: &str,
        call: impl FnOnce(octocrab::Octocrab) -> F,
    ) -> Result<T, GitHubError>
    where
        F: std::future::Future<Output = octocrab::Result<T>>,
    {
        self.renew_if_due().await?;
        tracing::debug!(method = method.as_str(), path, attempt = 1, "request");
        let tries = Tries::new(method, path);
        let typed = tries.scope(call(self.crab()?.clone()));
        let answer = TYPED_PATH.scope(path.to_string(), typed).await;
        match (answer, tries.outcome()) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(self.wire.octocrab_error(method, path, e)),
        }
    }

    async fn send_if(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_none_match: Option<&str>,
    ) -> Result<Response, GitHubError> {
        self.renew_if_due().await?;
        let url = self.root.url_for(path);
        tracing::debug!(method = method.as_str(), path, attempt = 1, "request");
        let tries = Tries::new(method, path);
        let mut request = self.wire.request(method, &url, path, body, if_none_match)?;
        request.extensions_mut().insert(tries.clone());
        let sent = self.wire.exchange(self.crab()?, request).await;
        if let Some(outcome) = tries.outcome() {
            return outcome;
        }
        match sent? {
            Err(e) => Err(GitHubError::Network {
                method: method.as_str(),
                path: path.to_string(),
                message: e.message,
            }),
            Ok(_) => Err(GitHubError::Setup(format!(
                "{} {path}: an answer the retry policy did not see",
                method.as_str()
            ))),
        }
    }

    /// The octocrab client, built at the first request with the layers
    /// this client's settings call for ([`super::transport`]).
    fn crab(&self) -> Result<&octocrab::Octocrab, GitHubError> {
        if let Some(crab) = self.wire.crab.get() {
            return Ok(crab);
        }
        let ledger = self.ledger.clone();
        let write_log = self
            .write_log
            .clone()
            .filter(|_| !self.unscheduled)
            .map(|path| {
                let hour = move || lock(&ledger).writes_of_the_hour(budget::now_ms());
                WriteLogLayer::new(path, Arc::new(hour))
            });
        let layers = super::transport::Layers {
            auth: self.wire.auth.clone(),
            sent: self.requests.clone(),
            answered: self.answered.clone(),
            write_log,
            schedule: ScheduleLayer {
                ledger: self.ledger.clone(),
                slots: self.slots.clone(),
                queued: self.queued.clone(),
                patience: self.patience,
                unscheduled: self.unscheduled,
            },
            timeout: self.wire.timeout,
            dry_run: DryRunLayer::new(self.withheld.clone(), self.dry_run),
            base: self
                .root
                .as_str()
                .parse()
                .map_err(|e| GitHubError::Setup(format!("the API root is not a URI: {e}")))?,
            etag: EtagLayer::new(self.etags.clone(), self.not_modified.clone()),
            retry: Retrying {
                bounds: self.retry,
                patience: self.patience,
                ledger: self.ledger.clone(),
                token_expiration: self.token_expiration.clone(),
                retry_unconnected: self.retry_unconnected,
                not_modified: self.not_modified.clone(),
                timeout: self.wire.timeout,
            },
        };
        let crab = super::transport::octocrab_over(self.wire.http.clone(), layers)?;
        Ok(self.wire.crab.get_or_init(|| crab))
    }
}

/// `Bearer <token>`, marked sensitive; a token no header can carry is
/// [`GitHubError::BadToken`], naming where it came from.
fn bearer_value(token: &Token) -> Result<http::HeaderValue, GitHubError> {
    let mut v = http::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| GitHubError::BadToken(token.name()))?;
    v.set_sensitive(true);
    Ok(v)
}

//! GitHub REST client on octocrab.
//!
//! - API root from `GITHUB_API_URL` (GitHub Enterprise Server works, path
//!   prefix included), checked before the client is built
//!   ([`ApiRoot`]); token from `FLEETFORM_TOKEN` or `GITHUB_TOKEN`.
//! - Every request sends `Accept: application/vnd.github+json` and
//!   `X-GitHub-Api-Version: 2022-11-28`, as GitHub documents.
//! - Requests go through octocrab's raw methods so fleetform sees status and
//!   headers: retries with backoff on 5xx, connection errors and rate limits
//!   (403/429 with `Retry-After` or `x-ratelimit-reset`), bounded in count
//!   and total wait; each retry is logged at debug level without the token.
//! - What GitHub answers is checked before it is used or shown
//!   (`answers`): commit shas, branch names, URLs, base64 contents; and
//!   `Link: rel="next"` (`links`), which is followed only under the API
//!   root.
//! - Every request is counted; the count is reported with `--verbose` and in
//!   JSON output.
//! - `--dry-run`: reads are sent (they change nothing), every write is
//!   printed instead of sent.

mod answers;
mod links;
mod root;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use octocrab::Octocrab;
use serde::Serialize;
use serde_json::Value;

pub use crate::util::text::shown;
pub use root::{ApiRoot, ApiRootError, SettingError, DEFAULT_API_ROOT};

/// The media type every request asks for.
pub const ACCEPT: &str = "application/vnd.github+json";
/// The REST API version every request pins.
pub const API_VERSION: &str = "2022-11-28";
/// Pages read of one list at most (100 items each).
pub const MAX_PAGES: usize = 50;

/// The single-threaded runtime the GitHub client runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, GitHubError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| GitHubError::Setup(format!("cannot start the async runtime: {e}")))
}

/// A token that never shows itself in Debug or Display.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(s: String) -> Option<Token> {
        let s = s.trim().to_string();
        (!s.is_empty()).then_some(Token(s))
    }

    /// `FLEETFORM_TOKEN`, else `GITHUB_TOKEN`.
    pub fn from_env() -> Option<Token> {
        ["FLEETFORM_TOKEN", "GITHUB_TOKEN"]
            .iter()
            .find_map(|k| std::env::var(k).ok().and_then(Token::new))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Only visible ASCII can go into an `Authorization` header (GitHub's
    /// tokens are letters, digits and `_`).
    fn is_sendable(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("{method} {path}: GitHub answered {status}: {message}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{method} {path}: gave up after {attempts} attempts over {waited:?}: {last}")]
    GaveUp {
        method: &'static str,
        path: String,
        attempts: u32,
        waited: Duration,
        last: String,
    },
    #[error("{method} {path}: the response is not valid JSON: {message}")]
    BadJson {
        method: &'static str,
        path: String,
        message: String,
    },
    /// A contents answer whose `content` does not decode.
    #[error("{method} {path}: `{file}` is not valid base64: {message}")]
    BadBase64 {
        method: &'static str,
        path: String,
        file: String,
        message: String,
    },
    /// A field of an answer that fails its check (a sha that is not 40 hex,
    /// a branch name git would refuse, …); the value itself is not shown.
    #[error("{method} {path}: GitHub answered an unusable `{field}`: it {problem}")]
    BadValue {
        method: &'static str,
        path: String,
        field: &'static str,
        problem: String,
    },
    #[error("{method} {path}: the next-page link `{link}` {problem}; the list cannot be read completely, so nothing was decided from it")]
    BadNextLink {
        method: &'static str,
        path: String,
        link: String,
        problem: String,
    },
    #[error("GET {path}: the list has more than {pages} pages; fleetform reads at most {pages} and does not act on an incomplete list")]
    TooManyPages { path: String, pages: usize },
    /// A later page of a list failed: the list is incomplete.
    #[error("{source} (page {page} of a list; nothing was decided from the incomplete list)")]
    Page {
        page: usize,
        source: Box<GitHubError>,
    },
    #[error("{method} {path}: no answer ({message}); the request may have taken effect, so it is not sent again blindly")]
    Unanswered {
        method: &'static str,
        path: String,
        message: String,
    },
    #[error(transparent)]
    ApiRoot(#[from] ApiRootError),
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error("the token (FLEETFORM_TOKEN or GITHUB_TOKEN) contains spaces, line breaks or other characters no token has; set it again from the secret")]
    BadToken,
    #[error("cannot set up the GitHub client: {0}")]
    Setup(String),
}

impl GitHubError {
    /// The HTTP status GitHub answered, for a request that was answered
    /// with an error. `None` for everything else, including a failed later
    /// page of a list (that the first page was found says the resource
    /// exists).
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A bad setting (API root, token, numeric setting) rather than a
    /// failure of GitHub or the network.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            GitHubError::ApiRoot(_) | GitHubError::Setting(_) | GitHubError::BadToken
        )
    }
}

/// Bad settings are usage errors (exit 2); everything else failed (exit 1).
impl From<GitHubError> for crate::error::Error {
    fn from(e: GitHubError) -> Self {
        if e.is_usage() {
            crate::error::Error::Usage(e.to_string())
        } else {
            crate::error::Error::Failed(e.to_string())
        }
    }
}

/// Retry bounds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, first one included.
    pub max_attempts: u32,
    /// First backoff; doubles each retry.
    pub base: Duration,
    /// Total time spent waiting before giving up.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(1000),
            max_wait: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// Defaults, changed by `FLEETFORM_RETRY_BASE_MS` (0–60,000),
    /// `FLEETFORM_RETRY_MAX_WAIT_SECS` (0–3,600) and
    /// `FLEETFORM_RETRY_ATTEMPTS` (1–10); a value out of range or not a
    /// number is an error.
    pub fn from_env() -> Result<Self, SettingError> {
        let mut p = RetryPolicy::default();
        if let Some(ms) = root::env_number("FLEETFORM_RETRY_BASE_MS", 0..=60_000)? {
            p.base = Duration::from_millis(ms);
        }
        if let Some(s) = root::env_number("FLEETFORM_RETRY_MAX_WAIT_SECS", 0..=3600)? {
            p.max_wait = Duration::from_secs(s);
        }
        if let Some(n) = root::env_number("FLEETFORM_RETRY_ATTEMPTS", 1..=10)? {
            p.max_attempts = u32::try_from(n).unwrap_or(10);
        }
        Ok(p)
    }
}

/// A write that `--dry-run` did not send.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRequest {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

/// The client.
pub struct GitHub {
    octo: Octocrab,
    root: ApiRoot,
    retry: RetryPolicy,
    requests: AtomicUsize,
    pub dry_run: bool,
    withheld: Mutex<Vec<PlannedRequest>>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_root", &self.root.as_str())
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// A decoded response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    /// The `Link` header as sent (several joined with `, `).
    pub link: Option<String>,
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    fn http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Patch => http::Method::PATCH,
            Method::Put => http::Method::PUT,
            Method::Delete => http::Method::DELETE,
        }
    }
}

/// What one attempt of a request came to.
enum Attempt {
    Done(Response),
    /// Wait this long and try again; `give_up` is the error to report
    /// instead of [`GitHubError::GaveUp`] when the budget is spent.
    Retry {
        wait: Duration,
        reason: String,
        give_up: Option<GitHubError>,
    },
}

impl Attempt {
    fn retry(wait: Duration, reason: String) -> Attempt {
        Attempt::Retry {
            wait,
            reason,
            give_up: None,
        }
    }
}

/// The response headers the client acts on.
struct Headers {
    retry_after: Option<u64>,
    remaining: Option<String>,
    reset: Option<u64>,
    link: Option<String>,
}

impl Headers {
    fn of(headers: &http::HeaderMap) -> Headers {
        let text = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let links: Vec<String> = headers
            .get_all(http::header::LINK)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        Headers {
            retry_after: text("retry-after").and_then(|v| v.trim().parse::<u64>().ok()),
            remaining: text("x-ratelimit-remaining"),
            reset: text("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok()),
            link: (!links.is_empty()).then(|| links.join(", ")),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Percent-encodes one path segment (GitHub paths: owner, repo, file path
/// pieces, refs).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A repo path prefix `/repos/{owner}/{name}`.
pub fn repo_path(repo: &str) -> String {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    format!("/repos/{}/{}", seg(owner), seg(name))
}

/// A file path, each segment encoded, slashes kept.
fn file_path(p: &str) -> String {
    p.split('/').map(seg).collect::<Vec<_>>().join("/")
}

fn bad_value(
    method: &'static str,
    path: &str,
    field: &'static str,
    problem: impl Into<String>,
) -> GitHubError {
    GitHubError::BadValue {
        method,
        path: path.to_string(),
        field,
        problem: problem.into(),
    }
}

/// A string field that must be present.
fn required_str<'a>(
    body: &'a Value,
    pointer: &str,
    path: &str,
    field: &'static str,
) -> Result<&'a str, GitHubError> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| GitHubError::BadJson {
            method: "GET",
            path: path.to_string(),
            message: format!("no `{field}` in the answer"),
        })
}

/// A commit or blob sha from an answer, checked.
fn checked_sha(
    body: &Value,
    pointer: &str,
    path: &str,
    field: &'static str,
) -> Result<String, GitHubError> {
    let sha = required_str(body, pointer, path, field)?;
    answers::check_sha(sha).map_err(|p| bad_value("GET", path, field, p))?;
    Ok(sha.to_string())
}

/// A branch name from an answer, checked.
fn checked_branch(
    body: &Value,
    pointer: &str,
    path: &str,
    field: &'static str,
) -> Result<String, GitHubError> {
    let name = required_str(body, pointer, path, field)?;
    answers::check_branch(name).map_err(|p| bad_value("GET", path, field, p))?;
    Ok(name.to_string())
}

impl GitHub {
    /// `api_url` as in `GITHUB_API_URL` (default `https://api.github.com`),
    /// checked first: a bad one is [`GitHubError::ApiRoot`].
    /// The client lives on `rt` (octocrab needs a runtime to be built).
    pub fn new(
        rt: &tokio::runtime::Runtime,
        api_url: &str,
        token: Option<&Token>,
        dry_run: bool,
    ) -> Result<Self, GitHubError> {
        let root = ApiRoot::parse(api_url)?;
        GitHub::with_root(rt, root, token, dry_run)
    }

    /// A client for a checked API root.
    pub fn with_root(
        rt: &tokio::runtime::Runtime,
        root: ApiRoot,
        token: Option<&Token>,
        dry_run: bool,
    ) -> Result<Self, GitHubError> {
        let timeout = root::http_timeout()?;
        let retry = RetryPolicy::from_env()?;
        if token.is_some_and(|t| !t.is_sendable()) {
            return Err(GitHubError::BadToken);
        }
        let _guard = rt.enter();
        let mut b = Octocrab::builder()
            .base_uri(root.as_str())
            .map_err(|e| GitHubError::Setup(format!("API root `{}`: {e}", root.as_str())))?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(timeout))
            .set_write_timeout(Some(timeout));
        if let Some(t) = token {
            b = b.personal_token(t.expose().to_string());
        }
        let octo = b.build().map_err(|e| GitHubError::Setup(e.to_string()))?;
        Ok(GitHub {
            octo,
            root,
            retry,
            requests: AtomicUsize::new(0),
            dry_run,
            withheld: Mutex::new(Vec::new()),
        })
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

    /// The checked API root.
    pub fn api_root(&self) -> &ApiRoot {
        &self.root
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Writes withheld by `--dry-run`, in order.
    pub fn withheld(&self) -> Vec<PlannedRequest> {
        lock(&self.withheld).clone()
    }

    /// Sends one request to `path` under the API root, retrying within
    /// the budget.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, GitHubError> {
        if self.dry_run && !matches!(method, Method::Get) {
            lock(&self.withheld).push(PlannedRequest {
                method: method.as_str(),
                path: path.to_string(),
                body: body.cloned(),
            });
            return Ok(Response {
                status: 0,
                body: Value::Null,
                link: None,
            });
        }
        let started = Instant::now();
        let url = self.root.url_for(path);
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(method = method.as_str(), path, attempt, "request");
            let (wait, reason, give_up) =
                match self.attempt(method, &url, path, body, attempt).await? {
                    Attempt::Done(response) => {
                        tracing::debug!(
                            method = method.as_str(),
                            path,
                            status = response.status,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "response"
                        );
                        return Ok(response);
                    }
                    Attempt::Retry {
                        wait,
                        reason,
                        give_up,
                    } => (wait, reason, give_up),
                };
            if let Err(e) = self.check_budget(method, path, attempt, waited, wait, reason.clone()) {
                return Err(give_up.unwrap_or(e));
            }
            tracing::debug!(
                method = method.as_str(),
                path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                reason = %reason,
                "retrying"
            );
            tokio::time::sleep(wait).await;
            waited = waited.saturating_add(wait);
        }
    }

    /// The request with the headers GitHub documents: exactly one
    /// `Accept` and one `X-GitHub-Api-Version`, whatever octocrab adds.
    fn request(
        &self,
        method: Method,
        url: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<http::Request<octocrab::OctoBody>, GitHubError> {
        let builder = http::Request::builder().method(method.http()).uri(url);
        let mut request = self.octo.build_request(builder, body).map_err(|e| {
            GitHubError::Setup(format!(
                "{} {path}: cannot build the request: {e}",
                method.as_str()
            ))
        })?;
        let headers = request.headers_mut();
        headers.insert(http::header::ACCEPT, http::HeaderValue::from_static(ACCEPT));
        headers.insert(
            http::HeaderName::from_static("x-github-api-version"),
            http::HeaderValue::from_static(API_VERSION),
        );
        Ok(request)
    }

    /// One try: send, read, and decide.
    async fn attempt(
        &self,
        method: Method,
        url: &str,
        path: &str,
        body: Option<&Value>,
        attempt: u32,
    ) -> Result<Attempt, GitHubError> {
        let request = self.request(method, url, path, body)?;
        let response = match self.octo.execute(request).await {
            // A POST that may have reached GitHub is not repeated here:
            // the caller checks whether it took effect.
            Err(e) if matches!(method, Method::Post) && request_was_sent(&e) => {
                return Err(GitHubError::Unanswered {
                    method: method.as_str(),
                    path: path.to_string(),
                    message: e.to_string(),
                })
            }
            Err(e) => {
                return Ok(Attempt::retry(
                    self.backoff(attempt),
                    format!("connection error: {e}"),
                ))
            }
            Ok(r) => r,
        };
        let status = response.status().as_u16();
        let headers = Headers::of(response.headers());
        match self.octo.body_to_string(response).await {
            Ok(text) => self.decide(method, path, status, headers, &text, attempt),
            Err(e) => Ok(Attempt::retry(
                self.backoff(attempt),
                format!("reading the body: {e}"),
            )),
        }
    }

    /// Done, an error, or a retry after how long.
    fn decide(
        &self,
        method: Method,
        path: &str,
        status: u16,
        headers: Headers,
        text: &str,
        attempt: u32,
    ) -> Result<Attempt, GitHubError> {
        let rate_limited = (status == 403 || status == 429)
            && (headers.retry_after.is_some()
                || headers.remaining.as_deref() == Some("0")
                || status == 429
                || text.contains("rate limit"));
        if status >= 500 || rate_limited {
            let wait = if let Some(s) = headers.retry_after {
                Duration::from_secs(s)
            } else if let (Some(reset), Some("0")) = (headers.reset, headers.remaining.as_deref()) {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                Duration::from_secs(reset.saturating_sub(now).max(1))
            } else {
                self.backoff(attempt)
            };
            return Ok(Attempt::retry(
                wait,
                format!("HTTP {status}: {}", message_of(text)),
            ));
        }
        if !(200..300).contains(&status) {
            return Err(GitHubError::Status {
                method: method.as_str(),
                path: path.to_string(),
                status,
                message: message_of(text),
            });
        }
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    let bad = GitHubError::BadJson {
                        method: method.as_str(),
                        path: path.to_string(),
                        message: e.to_string(),
                    };
                    // A garbled body is treated like a transient server
                    // fault for reads.
                    if !matches!(method, Method::Get) {
                        return Err(bad);
                    }
                    return Ok(Attempt::Retry {
                        wait: self.backoff(attempt),
                        reason: format!("malformed JSON: {e}"),
                        give_up: Some(bad),
                    });
                }
            }
        };
        Ok(Attempt::Done(Response {
            status,
            body,
            link: headers.link,
        }))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(6))
    }

    fn check_budget(
        &self,
        method: Method,
        path: &str,
        attempt: u32,
        waited: Duration,
        next_wait: Duration,
        last: String,
    ) -> Result<(), GitHubError> {
        if attempt >= self.retry.max_attempts
            || waited.saturating_add(next_wait) > self.retry.max_wait
        {
            return Err(GitHubError::GaveUp {
                method: method.as_str(),
                path: path.to_string(),
                attempts: attempt,
                waited,
                last,
            });
        }
        Ok(())
    }

    /// Every item of a list, page by page, following `Link: rel="next"`
    /// only under the API root; at most [`MAX_PAGES`] pages. An answer
    /// that is not a list, a next link that cannot be followed, a failed
    /// later page or too many pages is an error: no caller acts on an
    /// incomplete list.
    async fn paginate(
        &self,
        first: String,
        mut each: impl FnMut(Value),
    ) -> Result<(), GitHubError> {
        let mut next = Some(first.clone());
        let mut page = 0usize;
        while let Some(path) = next.take() {
            page += 1;
            if page > MAX_PAGES {
                return Err(GitHubError::TooManyPages {
                    path: first,
                    pages: MAX_PAGES,
                });
            }
            let r = self
                .send(Method::Get, &path, None)
                .await
                .map_err(|e| match page {
                    1 => e,
                    _ => GitHubError::Page {
                        page,
                        source: Box::new(e),
                    },
                })?;
            let Value::Array(items) = r.body else {
                return Err(GitHubError::BadJson {
                    method: "GET",
                    path,
                    message: "the answer is not a list".into(),
                });
            };
            items.into_iter().for_each(&mut each);
            next = links::next_page(r.link.as_deref(), &self.root.url_for(&path), &self.root)
                .map_err(|e| GitHubError::BadNextLink {
                    method: "GET",
                    path: path.clone(),
                    link: e.link,
                    problem: e.problem,
                })?;
        }
        Ok(())
    }

    // -- typed operations -------------------------------------------------

    /// A file's bytes at `reference` (branch, tag or sha); `None` if absent.
    pub async fn get_file(
        &self,
        repo: &str,
        path: &str,
        reference: Option<&str>,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        Ok(self
            .get_file_with_sha(repo, path, reference)
            .await?
            .map(|(bytes, _)| bytes))
    }

    /// `POST /repos/{repo}/dispatches`.
    pub async fn dispatch(
        &self,
        repo: &str,
        event_type: &str,
        client_payload: &Value,
    ) -> Result<(), GitHubError> {
        let body =
            serde_json::json!({ "event_type": event_type, "client_payload": client_payload });
        self.send(
            Method::Post,
            &format!("{}/dispatches", repo_path(repo)),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// `POST /repos/{repo}/statuses/{sha}`.
    pub async fn set_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitHubError> {
        let mut body = serde_json::json!({
            "state": status.state,
            "context": status.context,
            "description": truncate_chars(&status.description, 140),
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = Value::String(url.clone());
        }
        let path = format!("{}/statuses/{}", repo_path(repo), seg(sha));
        match self.send(Method::Post, &path, Some(&body)).await {
            Err(GitHubError::Unanswered { .. }) => {
                // Did it land? Then once is enough.
                let combined = self.combined_status(repo, sha).await?;
                let landed = combined
                    .get("statuses")
                    .and_then(Value::as_array)
                    .is_some_and(|all| {
                        all.iter().any(|s| {
                            s.get("context") == body.get("context")
                                && s.get("state") == body.get("state")
                                && s.get("description") == body.get("description")
                        })
                    });
                if landed {
                    return Ok(());
                }
                self.send(Method::Post, &path, Some(&body))
                    .await
                    .map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    /// `GET /repos/{repo}/commits/{sha}/status` (combined).
    pub async fn combined_status(&self, repo: &str, sha: &str) -> Result<Value, GitHubError> {
        let r = self
            .send(
                Method::Get,
                &format!("{}/commits/{}/status", repo_path(repo), seg(sha)),
                None,
            )
            .await?;
        Ok(r.body)
    }

    /// Every comment on an issue or PR, following pagination (an error
    /// when the list cannot be read completely).
    pub async fn list_comments(
        &self,
        repo: &str,
        issue: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let mut out = Vec::new();
        let first = format!("{}/issues/{issue}/comments?per_page=100", repo_path(repo));
        self.paginate(first, |c| {
            if let (Some(id), Some(body)) = (
                c.get("id").and_then(Value::as_u64),
                c.get("body").and_then(Value::as_str),
            ) {
                out.push(IssueComment {
                    id,
                    body: body.to_string(),
                });
            }
        })
        .await?;
        Ok(out)
    }

    pub async fn create_comment(
        &self,
        repo: &str,
        issue: u64,
        body: &str,
    ) -> Result<Option<u64>, GitHubError> {
        let r = self
            .send(
                Method::Post,
                &format!("{}/issues/{issue}/comments", repo_path(repo)),
                Some(&serde_json::json!({ "body": body })),
            )
            .await?;
        Ok(r.body.get("id").and_then(Value::as_u64))
    }

    /// Raw PATCH (octocrab's `update_comment` sends POST).
    pub async fn update_comment(&self, repo: &str, id: u64, body: &str) -> Result<(), GitHubError> {
        self.send(
            Method::Patch,
            &format!("{}/issues/comments/{id}", repo_path(repo)),
            Some(&serde_json::json!({ "body": body })),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_comment(&self, repo: &str, id: u64) -> Result<(), GitHubError> {
        match self
            .send(
                Method::Delete,
                &format!("{}/issues/comments/{id}", repo_path(repo)),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The default branch and its head commit, both checked.
    pub async fn default_branch_head(&self, repo: &str) -> Result<(String, String), GitHubError> {
        let p = repo_path(repo);
        let r = self.send(Method::Get, &p, None).await?;
        let branch = checked_branch(&r.body, "/default_branch", &p, "default_branch")?;
        let p = format!("{}/git/ref/heads/{}", repo_path(repo), file_path(&branch));
        let r = self.send(Method::Get, &p, None).await?;
        let sha = checked_sha(&r.body, "/object/sha", &p, "object.sha")?;
        Ok((branch, sha))
    }

    /// The deployment reviews of a workflow run, oldest first
    /// (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals`, 1
    /// request; the token needs `actions: read`). An answer that is not a
    /// list, or an entry without a state or a reviewer, is an error: an
    /// approval is never assumed.
    pub async fn run_reviews(
        &self,
        repo: &str,
        run_id: u64,
    ) -> Result<Vec<crate::policy::approval::RunReview>, GitHubError> {
        let p = format!("{}/actions/runs/{run_id}/approvals", repo_path(repo));
        let r = self.send(Method::Get, &p, None).await?;
        let items = r
            .body
            .as_array()
            .ok_or_else(|| bad_value("GET", &p, "reviews", "is not a list"))?;
        items
            .iter()
            .map(|item| {
                let state = required_str(item, "/state", &p, "state")?.to_string();
                let login = required_str(item, "/user/login", &p, "user.login")?.to_string();
                let environments = item
                    .get("environments")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad_value("GET", &p, "environments", "is not a list"))?
                    .iter()
                    .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect();
                Ok(crate::policy::approval::RunReview {
                    state,
                    login,
                    environments,
                })
            })
            .collect()
    }

    /// Open issues with `label`, following pagination.
    pub async fn list_open_issues(
        &self,
        repo: &str,
        label: &str,
    ) -> Result<Vec<Issue>, GitHubError> {
        let mut out = Vec::new();
        let first = format!(
            "{}/issues?state=open&labels={}&per_page=100",
            repo_path(repo),
            seg(label)
        );
        self.paginate(first, |i| {
            if i.get("pull_request").is_some() {
                return;
            }
            if let Some(number) = i.get("number").and_then(Value::as_u64) {
                out.push(Issue {
                    number,
                    body: i
                        .get("body")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        })
        .await?;
        Ok(out)
    }

    pub async fn create_issue(
        &self,
        repo: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<Option<u64>, GitHubError> {
        let r = self
            .send(
                Method::Post,
                &format!("{}/issues", repo_path(repo)),
                Some(&serde_json::json!({ "title": title, "body": body, "labels": labels })),
            )
            .await?;
        Ok(r.body.get("number").and_then(Value::as_u64))
    }

    /// PATCH an issue: body and/or state.
    pub async fn update_issue(
        &self,
        repo: &str,
        number: u64,
        body: Option<&str>,
        state: Option<&str>,
    ) -> Result<(), GitHubError> {
        let mut patch = serde_json::Map::new();
        if let Some(b) = body {
            patch.insert("body".into(), Value::String(b.into()));
        }
        if let Some(s) = state {
            patch.insert("state".into(), Value::String(s.into()));
        }
        self.send(
            Method::Patch,
            &format!("{}/issues/{number}", repo_path(repo)),
            Some(&Value::Object(patch)),
        )
        .await
        .map(|_| ())
    }

    /// What policy gates need from a pull request: labels and description
    /// (1 request) and, when `reviews`, approving reviewers (1 more).
    pub async fn pull_facts(
        &self,
        repo: &str,
        number: u64,
        reviews: bool,
    ) -> Result<crate::policy::PullFacts, GitHubError> {
        let r = self
            .send(
                Method::Get,
                &format!("{}/pulls/{number}", repo_path(repo)),
                None,
            )
            .await?;
        let labels = r
            .body
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let body = r
            .body
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let waiver_reason = body.lines().find_map(|l| {
            l.trim()
                .strip_prefix("fleetform-waiver:")
                .map(|r| truncate_chars(r.trim(), 300))
                .filter(|r| !r.is_empty())
        });
        let author = r
            .body
            .pointer("/user/login")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut approvals = Vec::new();
        if reviews {
            // The latest review of each reviewer counts: every page is
            // read, so a later "changes requested" is never missed.
            let mut latest: std::collections::BTreeMap<String, String> =
                std::collections::BTreeMap::new();
            let first = format!("{}/pulls/{number}/reviews?per_page=100", repo_path(repo));
            self.paginate(first, |rv| {
                if let (Some(user), Some(state)) = (
                    rv.pointer("/user/login").and_then(Value::as_str),
                    rv.get("state").and_then(Value::as_str),
                ) {
                    if state != "COMMENTED" {
                        latest.insert(user.to_string(), state.to_string());
                    }
                }
            })
            .await?;
            approvals = latest
                .into_iter()
                .filter(|(u, s)| s == "APPROVED" && Some(u) != author.as_ref())
                .map(|(u, _)| u)
                .collect();
        }
        Ok(crate::policy::PullFacts {
            number,
            labels,
            approvals,
            author,
            waiver_reason,
        })
    }

    /// A file's bytes and blob sha (checked) at `reference`; `None` if
    /// absent.
    pub async fn get_file_with_sha(
        &self,
        repo: &str,
        path: &str,
        reference: Option<&str>,
    ) -> Result<Option<(Vec<u8>, String)>, GitHubError> {
        let mut p = format!("{}/contents/{}", repo_path(repo), file_path(path));
        if let Some(r) = reference {
            p.push_str(&format!("?ref={}", seg(r)));
        }
        match self.send(Method::Get, &p, None).await {
            Ok(r) => file_of(&r.body, &p, path).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The repo's default branch (checked) and whether it is archived.
    pub async fn repo_info(&self, repo: &str) -> Result<(String, bool), GitHubError> {
        let p = repo_path(repo);
        let r = self.send(Method::Get, &p, None).await?;
        let branch = checked_branch(&r.body, "/default_branch", &p, "default_branch")?;
        let archived = r
            .body
            .get("archived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok((branch, archived))
    }

    /// The commit a branch points at (checked), `None` when it does not
    /// exist.
    pub async fn branch_sha(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        let p = format!("{}/git/ref/heads/{}", repo_path(repo), file_path(branch));
        match self.send(Method::Get, &p, None).await {
            Ok(r) => checked_sha(&r.body, "/object/sha", &p, "object.sha").map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_branch(
        &self,
        repo: &str,
        branch: &str,
        sha: &str,
    ) -> Result<(), GitHubError> {
        self.send(
            Method::Post,
            &format!("{}/git/refs", repo_path(repo)),
            Some(&serde_json::json!({ "ref": format!("refs/heads/{branch}"), "sha": sha })),
        )
        .await
        .map(|_| ())
    }

    /// Creates or updates one file on a branch (one commit).
    pub async fn put_file(
        &self,
        repo: &str,
        path: &str,
        branch: &str,
        content: &[u8],
        message: &str,
        blob_sha: Option<&str>,
    ) -> Result<(), GitHubError> {
        let mut body = serde_json::json!({
            "message": message,
            "content": answers::encode_content(content),
            "branch": branch,
        });
        if let Some(sha) = blob_sha {
            body["sha"] = Value::String(sha.to_string());
        }
        self.send(
            Method::Put,
            &format!("{}/contents/{}", repo_path(repo), file_path(path)),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// Open PRs from `owner:branch`: (number, html_url).
    pub async fn open_pulls_from(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Vec<(u64, String)>, GitHubError> {
        let owner = repo.split_once('/').map_or(repo, |(o, _)| o);
        let p = format!(
            "{}/pulls?state=open&head={}&per_page=100",
            repo_path(repo),
            seg(&format!("{owner}:{branch}"))
        );
        let r = self.send(Method::Get, &p, None).await?;
        let Value::Array(pulls) = r.body else {
            return Err(GitHubError::BadJson {
                method: "GET",
                path: p,
                message: "the answer is not a list".into(),
            });
        };
        pulls.iter().map(|pr| pull_ref(pr, "GET", &p)).collect()
    }

    pub async fn create_pull(
        &self,
        repo: &str,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<(u64, String), GitHubError> {
        let p = format!("{}/pulls", repo_path(repo));
        let r = self
            .send(
                Method::Post,
                &p,
                Some(&serde_json::json!({ "title": title, "head": head, "base": base, "body": body })),
            )
            .await?;
        if self.dry_run {
            return Ok((0, String::new()));
        }
        pull_ref(&r.body, "POST", &p)
    }

    /// The sticky comment: find ours by `marker`, update it, or create it.
    /// Duplicates (left by runs that raced between listing and creating)
    /// are deleted, keeping the oldest, the next time the comment is
    /// written. The workflows' `concurrency` group per customer ×
    /// environment keeps runs for one comment from racing at all. Cost: 2
    /// requests (list, then create or update), plus 1 per extra page of
    /// comments and 1 per duplicate removed.
    pub async fn upsert_sticky_comment(
        &self,
        repo: &str,
        issue: u64,
        marker: &str,
        body: &str,
    ) -> Result<Option<u64>, GitHubError> {
        let existing: Vec<u64> = self
            .list_comments(repo, issue)
            .await?
            .into_iter()
            .filter(|c| c.body.starts_with(marker))
            .map(|c| c.id)
            .collect();
        if let Some(first) = existing.iter().min().copied() {
            self.update_comment(repo, first, body).await?;
            for dup in existing.iter().filter(|id| **id != first) {
                self.delete_comment(repo, *dup).await?;
            }
            return Ok(Some(first));
        }
        match self.create_comment(repo, issue, body).await {
            Err(GitHubError::Unanswered { .. }) => {
                // The comment may exist now: look before posting again.
                let now: Option<u64> = self
                    .list_comments(repo, issue)
                    .await?
                    .into_iter()
                    .filter(|c| c.body.starts_with(marker))
                    .map(|c| c.id)
                    .min();
                match now {
                    Some(id) => {
                        self.update_comment(repo, id, body).await?;
                        Ok(Some(id))
                    }
                    // It may still land: posting again could leave two.
                    // The next run finds it (or posts it) and updates it.
                    None => {
                        tracing::warn!(repo, issue, "the comment may not have been posted; the next run will post or update it");
                        Ok(None)
                    }
                }
            }
            other => other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct IssueComment {
    pub id: u64,
    pub body: String,
}

/// False when the request failed before reaching the server (the
/// connection could not be made), so repeating it cannot duplicate it.
fn request_was_sent(e: &octocrab::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        let text = err.to_string();
        if text.contains("(Connect)") || text.contains("Connection refused") {
            return false;
        }
        source = err.source();
    }
    true
}

/// A commit status to set.
#[derive(Debug, Clone, Serialize)]
pub struct CommitStatus {
    pub state: &'static str,
    pub context: String,
    pub description: String,
    pub target_url: Option<String>,
}

fn message_of(text: &str) -> String {
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

/// Bytes and blob sha of a contents answer for `file` (requested at
/// `path`): a file with base64 content and a 40-hex sha, or an error that
/// says which of these it is not.
fn file_of(body: &Value, path: &str, file: &str) -> Result<(Vec<u8>, String), GitHubError> {
    let not = |message: String| GitHubError::BadJson {
        method: "GET",
        path: path.to_string(),
        message,
    };
    if body
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "file")
    {
        return Err(not(format!("`{file}` is not a file")));
    }
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| not(format!("`{file}` is not a file")))?;
    match body.get("encoding").and_then(Value::as_str) {
        None | Some("base64") => {}
        Some(other) => {
            return Err(not(format!(
                "`{file}` comes with the encoding `{}`, not base64 (the contents API gives no content for files over 1 MB)",
                shown(other)
            )))
        }
    }
    let sha = checked_sha(body, "/sha", path, "sha")?;
    let bytes = answers::decode_content(content).map_err(|e| GitHubError::BadBase64 {
        method: "GET",
        path: path.to_string(),
        file: file.to_string(),
        message: e.to_string(),
    })?;
    Ok((bytes, sha))
}

/// `(number, html_url)` of a pull request in an answer, both checked.
fn pull_ref(pr: &Value, method: &'static str, path: &str) -> Result<(u64, String), GitHubError> {
    let number = pr
        .get("number")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_value(method, path, "number", "is not a positive number"))?;
    let url = pr
        .get("html_url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_value(method, path, "html_url", "is missing"))?;
    answers::check_web_url(url).map_err(|p| bad_value(method, path, "html_url", p))?;
    Ok((number, url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_tokens() {
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(repo_path("acme/infra.repo"), "/repos/acme/infra.repo");
        assert_eq!(
            format!("{:?}", Token::new("ghp_secret".into()).unwrap()),
            "Token(***)"
        );
        assert!(Token::new("ghp_abc123_XYZ".into()).unwrap().is_sendable());
        for bad in ["a\nb", "a b", "a\u{1}b", "tök"] {
            assert!(!Token::new(bad.into()).unwrap().is_sendable(), "{bad:?}");
        }
    }

    #[test]
    fn contents_answers_are_checked() {
        let sha = "a".repeat(40);
        let ok = serde_json::json!({"type": "file", "encoding": "base64", "content": "aGVs\nbG8=\n", "sha": sha});
        assert_eq!(
            file_of(&ok, "/p", "f.yml").unwrap(),
            (b"hello".to_vec(), sha.clone())
        );
        let e = file_of(
            &serde_json::json!({"type": "file", "content": "{not base64}", "sha": sha}),
            "/p",
            "infra/v.yml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`infra/v.yml` is not valid base64"), "{e}");
        assert!(!e.contains("JSON"), "{e}");
        let e = file_of(
            &serde_json::json!({"type": "file", "encoding": "none", "content": "", "sha": sha}),
            "/p",
            "big",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("encoding `none`"), "{e}");
        let e = file_of(
            &serde_json::json!({"type": "file", "content": "", "sha": "x\ny"}),
            "/p",
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unusable `sha`") && !e.contains("x\ny"), "{e}");
        let e = file_of(&serde_json::json!([]), "/p", "dir")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`dir` is not a file"), "{e}");
    }

    #[test]
    fn pull_answers_are_checked() {
        let good = serde_json::json!({"number": 3, "html_url": "https://github.com/a/b/pull/3"});
        assert_eq!(pull_ref(&good, "POST", "/p").unwrap().0, 3);
        for bad in [
            serde_json::json!({"html_url": "https://github.com/a/b/pull/3"}),
            serde_json::json!({"number": 0, "html_url": "https://github.com/a/b/pull/3"}),
            serde_json::json!({"number": 3}),
            serde_json::json!({"number": 3, "html_url": "https://x/\n# hi"}),
        ] {
            assert!(pull_ref(&bad, "POST", "/p").is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_errors_are_usage_errors() {
        let e: crate::error::Error = GitHubError::BadToken.into();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        let e: crate::error::Error =
            GitHubError::from(ApiRoot::parse("ftp://h").unwrap_err()).into();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        let e: crate::error::Error = GitHubError::TooManyPages {
            path: "/x".into(),
            pages: 50,
        }
        .into();
        assert_eq!(e.exit_code(), crate::error::EXIT_FAILED);
    }
}

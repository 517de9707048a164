//! A stateful fake of GitHub's REST API for integration tests.
//!
//! [`FakeGitHub::start`] listens on `127.0.0.1` (random port) in background
//! threads. Point the code under test at [`FakeGitHub::api_url`] (for
//! fleetform: the `GITHUB_API_URL` environment variable), seed repositories,
//! branches, files and pull requests, run it, then inspect what it did.
//!
//! Every request is checked against GitHub's OpenAPI description (the
//! operations in `tests/fixtures/github/openapi-ops.json`): method and path
//! template, path and query parameters, and the JSON body against the
//! operation's `requestBody` schema. Anything that does not match, an unknown
//! route, or a missing/wrong token is a [`Violation`]: it is answered with an
//! error status and makes the test fail in [`FakeGitHub::assert_clean`], or
//! when the fake is dropped (unless the thread is already panicking). Tests
//! that provoke violations on purpose drain them with
//! [`FakeGitHub::take_violations`].
//!
//! One documented GitHub leniency is kept: `POST` is accepted on `PATCH`
//! endpoints (octocrab's `update_comment` sends `POST`).
//!
//! Every request must also carry the headers GitHub documents for its REST
//! API: an `Accept` naming a GitHub media type (`application/vnd.github+json`)
//! and exactly one `X-GitHub-Api-Version` naming a supported version
//! ([`API_VERSIONS`]). GitHub itself serves requests without them (with
//! its defaults), so the fake answers them too but records a violation; an
//! unsupported version is answered 400, as GitHub does. Turn the check off
//! with [`FakeGitHub::check_api_headers`] for clients that do not send them.
//!
//! The fake also checks its own JSON answers against the documented response
//! schemas, and reports a mismatch as a violation starting with
//! `fake GitHub bug:`.
//!
//! ```ignore
//! let gh = FakeGitHub::start();
//! gh.add_repo("acme/app");
//! let sha = gh.commit("acme/app", "main", &[("fleetform.yaml", "customer: acme\n")]);
//! Command::cargo_bin("fleetform")?
//!     .env("GITHUB_API_URL", gh.api_url())
//!     .env("GITHUB_TOKEN", gh.token())
//!     .assert()
//!     .success();
//! assert_eq!(gh.combined_state("acme/app", &sha), "success");
//! gh.assert_clean();
//! ```
//!
//! Modelled: repositories (archived, forks), branches and commits (full file
//! snapshots; SHAs are 40 hex digits but not Git's), contents, refs, commit
//! statuses, issues and pull requests sharing one number sequence per
//! repository, issue comments, reviews, repository dispatches, check runs,
//! merge-upstream, Actions secrets, Apps' webhook deliveries really sent
//! to a URL and their redeliveries (`hooks`), and the settings `fleetform doctor`
//! reads (environments with reviewers, branch policies and secrets,
//! rulesets, default workflow permissions, renamed repositories, the
//! token-expiry header, see `settings`; collaborators, organisations'
//! base permissions and Pages sites, see `access`). Lists paginate with
//! GitHub's `Link` header. Faults ([`Fault`]) can be queued to test
//! retries.

mod access;
mod apps;
mod comment_commands;
pub(crate) mod git_objects;
mod handlers;
mod hooks;
pub(crate) mod http;
mod inspect;
mod limits;
mod manifest;
mod manifest_web;
mod permissions;
mod render;
mod render_actions;
mod render_git;
mod request;
mod runner_view;
mod seed;
mod settings;
mod settings_write;
mod spec;
mod state;
mod util;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use self::http::{HttpRequest, HttpResponse, Reply, Server};
pub use self::limits::Limits;
use self::request::{header_token, serve};
use self::spec::{spec, Route};
use self::state::{QueuedFault, State};

// Used by the tests that seed settings, not by every test binary.
#[allow(unused_imports)]
pub use self::hooks::HookAttempt;
#[allow(unused_imports)]
pub use self::settings::{BranchPolicy, Environment, Ruleset};
pub use self::settings_write::SecretScanning;
pub use self::util::now_rfc3339;

/// `at` as GitHub writes a time (RFC 3339, UTC, whole seconds).
pub fn rfc3339_at(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    util::rfc3339(secs)
}

/// The REST API versions GitHub supports (`X-GitHub-Api-Version`).
pub const API_VERSIONS: &[&str] = &["2022-11-28"];

/// A deployment (Deployments API) and its statuses, as posted to the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    pub git_ref: String,
    pub environment: String,
    pub description: Option<String>,
    pub creator: String,
    pub created_at: String,
    /// The `payload` posted (`{}` when none).
    pub payload: serde_json::Value,
    /// `production_environment` (default: the environment is `production`).
    pub production: bool,
    /// (state, description, log_url), oldest first.
    pub statuses: Vec<(String, Option<String>, Option<String>)>,
}

/// A commit status as posted to the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: u64,
    /// Full commit SHA the status is attached to.
    pub sha: String,
    /// `error`, `failure`, `pending` or `success`.
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    /// Login of the user who posted it (the bot login for API requests).
    pub creator: String,
    pub created_at: String,
}

/// An issue or pull request comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    /// Login of the author (the bot login for API requests).
    pub user: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A pull request review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: u64,
    pub user: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`.
    pub state: String,
    pub body: String,
    /// Head commit of the pull request when the review was submitted.
    pub commit_id: String,
    pub submitted_at: String,
}

/// An issue (pull requests are issues too; see `is_pull_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub user: String,
    pub is_pull_request: bool,
}

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed` (merged pull requests are closed).
    pub state: String,
    /// `owner/name` of the repository holding the head branch.
    pub head_repo: String,
    /// Head branch name.
    pub head: String,
    /// Base branch name.
    pub base: String,
    pub head_sha: String,
    pub draft: bool,
    pub merged: bool,
    pub labels: Vec<String>,
    pub user: String,
    pub reviews: Vec<Review>,
}

/// An Actions secret as stored (still encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub encrypted_value: String,
    pub key_id: String,
}

/// One request received by the fake.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    /// Raw path (still percent-encoded) with the API prefix removed.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Status answered; 0 when the connection was reset instead.
    pub status: u16,
    /// Request body as text (lossy UTF-8).
    pub body: String,
    /// Lower-case header names with their values.
    pub headers: Vec<(String, String)>,
    /// `operationId` the request was routed to, if any.
    pub operation: Option<String>,
    /// The injected fault that hit this request, e.g. `status 502`,
    /// `reset`, `delay 200ms`, `malformed-json`.
    pub fault: Option<String>,
}

/// A request that GitHub's API description (or GitHub) would not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub method: String,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.path, self.message)
    }
}

/// Something to do to a request instead of (or before) answering it.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, headers and body.
    Status {
        code: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Close the connection with a TCP reset, without answering.
    Reset,
    /// Wait, then answer normally.
    Delay(Duration),
    /// Take the request (its effect happens, as GitHub's does), then hold
    /// the answer this long: a caller killed meanwhile never learns that
    /// GitHub took it.
    AnswerLate(Duration),
    /// Answer 200 with a truncated JSON body.
    MalformedJson,
}

impl Fault {
    /// `code` with GitHub's JSON error body.
    pub fn status(code: u16) -> Fault {
        Fault::Status {
            code,
            headers: Vec::new(),
            body: render::error(http::reason(code), code).to_string(),
        }
    }

    /// 500 Internal Server Error.
    pub fn server_error() -> Fault {
        Fault::status(500)
    }

    /// 502 Bad Gateway, with the plain body GitHub's proxies send.
    pub fn bad_gateway() -> Fault {
        Fault::Status {
            code: 502,
            headers: vec![("content-type".into(), "text/html".into())],
            body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
        }
    }

    /// 403 secondary rate limit with `Retry-After`.
    pub fn secondary_rate_limit(retry_after_secs: u64) -> Fault {
        Fault::Status {
            code: 403,
            headers: vec![("retry-after".into(), retry_after_secs.to_string())],
            body: json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE:0000.",
                "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "403",
            })
            .to_string(),
        }
    }

    /// 429 Too Many Requests with `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64) -> Fault {
        Fault::Status {
            code: 429,
            headers: vec![("retry-after".into(), retry_after_secs.to_string())],
            body: render::error("Too Many Requests", 429).to_string(),
        }
    }

    /// 403 primary rate limit exhausted: `x-ratelimit-remaining: 0` and
    /// `x-ratelimit-reset` at `reset_epoch_secs`.
    pub fn rate_limit_exhausted(reset_epoch_secs: u64) -> Fault {
        Fault::Status {
            code: 403,
            headers: vec![
                ("x-ratelimit-limit".into(), "5000".into()),
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-reset".into(), reset_epoch_secs.to_string()),
                ("x-ratelimit-used".into(), "5000".into()),
                ("x-ratelimit-resource".into(), "core".into()),
            ],
            body: json!({
                "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE:0000.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403",
            })
            .to_string(),
        }
    }

    /// Set a response header of a [`Fault::Status`] (replacing one with the
    /// same name).
    pub fn header(mut self, name: &str, value: &str) -> Fault {
        match &mut self {
            Fault::Status { headers, .. } => {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                headers.push((name.to_ascii_lowercase(), value.to_string()));
            }
            other => panic!("fake GitHub: header() applies to Fault::Status, not {other:?}"),
        }
        self
    }

    /// Set the response body of a [`Fault::Status`].
    pub fn body(mut self, text: &str) -> Fault {
        match &mut self {
            Fault::Status { body, .. } => *body = text.to_string(),
            other => panic!("fake GitHub: body() applies to Fault::Status, not {other:?}"),
        }
        self
    }

    /// Hit the next `n` matching requests (a burst).
    pub fn times(self, n: usize) -> Injection {
        Injection::from(self).times(n)
    }

    /// Hit only requests with this method (`""` for any) whose path, API
    /// prefix removed, contains `path_contains`.
    pub fn on(self, method: &str, path_contains: &str) -> Injection {
        Injection::from(self).on(method, path_contains)
    }

    fn label(&self) -> String {
        match self {
            Fault::Status { code, .. } => format!("status {code}"),
            Fault::Reset => "reset".into(),
            Fault::Delay(d) => format!("delay {}ms", d.as_millis()),
            Fault::AnswerLate(d) => format!("answered {}ms late", d.as_millis()),
            Fault::MalformedJson => "malformed-json".into(),
        }
    }
}

/// A fault with how many requests it hits and which ones; built with
/// [`Fault::times`] and [`Fault::on`], or from a plain [`Fault`] (once, any
/// request).
#[derive(Debug, Clone)]
pub struct Injection {
    fault: Fault,
    times: usize,
    method: Option<String>,
    path_contains: String,
}

impl Injection {
    pub fn times(mut self, n: usize) -> Injection {
        self.times = n;
        self
    }

    pub fn on(mut self, method: &str, path_contains: &str) -> Injection {
        self.method = (!method.is_empty()).then(|| method.to_ascii_uppercase());
        self.path_contains = path_contains.to_string();
        self
    }
}

impl From<Fault> for Injection {
    fn from(fault: Fault) -> Injection {
        Injection {
            fault,
            times: 1,
            method: None,
            path_contains: String::new(),
        }
    }
}

struct Inner {
    state: Mutex<State>,
    /// API prefix such as `/api/v3`, or empty.
    prefix: String,
    shutdown: Arc<AtomicBool>,
    /// Requests in flight per token, when enforced ([`limits::Concurrency`]).
    concurrency: Mutex<Option<limits::Concurrency>>,
}

/// The fake server. Dropping it stops the server and fails the test if there
/// are unreported violations.
pub struct FakeGitHub {
    inner: Arc<Inner>,
    server: Option<Server>,
    token: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeGitHub {
    /// Start a server whose API lives at the root, like api.github.com.
    pub fn start() -> FakeGitHub {
        FakeGitHub::start_with_prefix("")
    }

    /// Start a server whose API lives under `prefix`, like GitHub Enterprise
    /// Server's `/api/v3`. Requests outside the prefix are violations.
    pub fn start_with_prefix(prefix: &str) -> FakeGitHub {
        let trimmed = prefix.trim_matches('/');
        let prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        let shutdown = Arc::new(AtomicBool::new(false));
        let inner = Arc::new(Inner {
            state: Mutex::new(State::new(String::new(), String::new())),
            prefix,
            shutdown: shutdown.clone(),
            concurrency: Mutex::new(None),
        });
        let handler_inner = inner.clone();
        let handler: Arc<http::Handler> = Arc::new(move |req| {
            let reply = limits::serve_in_flight(&handler_inner, req);
            hooks::send_queued(&handler_inner);
            reply
        });
        let server = Server::start(handler, shutdown).expect("fake GitHub: cannot listen");
        let token = {
            let mut st = lock(&inner.state);
            st.web_url = format!("http://{}", server.addr());
            st.api_url = format!("{}{}", st.web_url, inner.prefix);
            st.token.clone()
        };
        FakeGitHub {
            inner,
            server: Some(server),
            token,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Base URL of the API, e.g. `http://127.0.0.1:41234` or
    /// `http://127.0.0.1:41234/api/v3`; no trailing slash.
    pub fn api_url(&self) -> String {
        self.state().api_url.clone()
    }

    /// Answers as if served at `web_url` (e.g. `https://localhost:<port>`
    /// through a TLS front): the API URL and every link it writes start
    /// there.
    pub fn serve_as(&self, web_url: &str) {
        let prefix = self.inner.prefix.clone();
        let mut st = self.state();
        st.web_url = web_url.trim_end_matches('/').to_string();
        st.api_url = format!("{}{prefix}", st.web_url);
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("server running").addr()
    }

    /// The token requests must carry (`Authorization: Bearer <token>` or
    /// `token <token>`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Change the expected token.
    pub fn set_token(&mut self, token: impl Into<String>) {
        self.token = token.into();
        self.state().token = self.token.clone();
    }

    /// Serve requests that carry no `Authorization` header instead of
    /// answering 401 (a wrong token is still refused).
    pub fn allow_anonymous(&self) {
        self.state().allow_anonymous = true;
    }

    /// Also accept `token`, but only for requests to `repos` (`owner/name`,
    /// under `/repos/<owner>/<name>/`), the way a fine-grained token covers
    /// the repos it was granted. A request with it anywhere else is answered
    /// 403 and recorded as a violation. [`RequestRecord::token`] tells
    /// which token each request carried.
    pub fn add_scoped_token(&self, token: &str, repos: &[&str]) {
        self.state().scoped_tokens.push((
            token.to_string(),
            repos.iter().map(|r| state::repo_key(r)).collect(),
        ));
    }

    /// Login of the user the token belongs to: author of comments, issues,
    /// pull requests and statuses created through the API. Default
    /// `fleetform-bot`; a login ending in `[bot]` is rendered as a Bot.
    pub fn set_bot_login(&self, login: &str) {
        let mut st = self.state();
        st.bot_login = login.to_string();
        st.user_id(login);
    }

    pub fn bot_login(&self) -> String {
        self.state().bot_login.clone()
    }

    /// Default page size of `issues/list-comments` (GitHub: 30).
    pub fn set_comment_page_size(&self, n: usize) {
        self.state().comment_page_size = n.max(1);
    }

    /// Default page size of the other list endpoints (GitHub: 30).
    pub fn set_page_size(&self, n: usize) {
        self.state().page_size = n.max(1);
    }

    /// Largest `per_page` honoured (GitHub: 100). Lower it to force clients
    /// that ask for big pages to paginate.
    pub fn set_max_page_size(&self, n: usize) {
        self.state().max_page_size = n.max(1);
    }

    /// Check the fake's own JSON answers against the documented response
    /// schemas (on by default).
    pub fn check_responses(&self, enabled: bool) {
        self.state().check_responses = enabled;
    }

    /// Require `Accept` (a GitHub media type) and `X-GitHub-Api-Version`
    /// on every request (on by default): a request without them is a
    /// violation.
    pub fn check_api_headers(&self, enabled: bool) {
        self.state().check_api_headers = enabled;
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        // Stop serving first, so no request is in flight.
        drop(self.server.take());
        if std::thread::panicking() {
            return;
        }
        let violations = self.violations();
        if !violations.is_empty() {
            panic!("{}", describe(&violations));
        }
    }
}

fn describe(violations: &[Violation]) -> String {
    let mut text = format!(
        "fake GitHub saw {} request(s) that GitHub would not accept:",
        violations.len()
    );
    for v in violations {
        text.push_str(&format!("\n  - {v}"));
    }
    text
}

fn issue_mut<'a>(st: &'a mut State, repo: &str, number: u64) -> &'a mut state::IssueRec {
    st.seeded(repo)
        .issues
        .get_mut(&number)
        .unwrap_or_else(|| panic!("fake GitHub: {repo}#{number} does not exist"))
}

fn to_issue(rec: &state::IssueRec) -> Issue {
    Issue {
        number: rec.number,
        title: rec.title.clone(),
        body: rec.body.clone(),
        state: rec.state.clone(),
        labels: rec.labels.clone(),
        assignees: rec.assignees.clone(),
        user: rec.user.clone(),
        is_pull_request: rec.pull.is_some(),
    }
}

fn to_pull(st: &State, rec: &state::IssueRec) -> Pull {
    let pull = rec.pull.as_ref().expect("a pull request");
    Pull {
        number: rec.number,
        title: rec.title.clone(),
        body: rec.body.clone(),
        state: rec.state.clone(),
        head_repo: pull.head_repo.clone(),
        head: pull.head_ref.clone(),
        base: pull.base_ref.clone(),
        head_sha: render::pull_head_sha(st, rec),
        draft: pull.draft,
        merged: pull.merged_at.is_some(),
        labels: rec.labels.clone(),
        user: rec.user.clone(),
        reviews: pull.reviews.clone(),
    }
}

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
//! merge-upstream, Actions secrets, and the settings `fleetform doctor`
//! reads (environments with reviewers, branch policies and secrets,
//! rulesets, default workflow permissions, renamed repositories, the
//! token-expiry header, see `settings`; collaborators, organisations'
//! base permissions and Pages sites, see `access`). Lists paginate with
//! GitHub's `Link` header. Faults ([`Fault`]) can be queued to test
//! retries.

mod access;
mod apps;
mod comment_commands;
mod handlers;
mod handlers_issues;
mod handlers_repo;
pub(crate) mod http;
mod limits;
mod render;
mod render_git;
mod settings;
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
use self::spec::{spec, Route};
use self::state::{QueuedFault, State};

// Used by the tests that seed settings, not by every test binary.
#[allow(unused_imports)]
pub use self::settings::{BranchPolicy, Environment, Ruleset};

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
        let handler: Arc<http::Handler> =
            Arc::new(move |req| limits::serve_in_flight(&handler_inner, req));
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

    // ----- seeding -----

    /// Add a repository (`owner/name`) with a `main` branch holding an empty
    /// initial commit. Repositories that were never added answer 404.
    pub fn add_repo(&self, full_name: &str) {
        self.state().add_repo(full_name, None);
    }

    /// Add `full_name` as a fork of `upstream` (which must exist), starting
    /// with the same branches.
    pub fn add_fork(&self, full_name: &str, upstream: &str) {
        let mut st = self.state();
        st.seeded(upstream);
        st.add_repo(full_name, Some(upstream.to_string()));
    }

    /// Remove a repository: requests for it answer 404 from now on.
    pub fn remove_repo(&self, full_name: &str) {
        self.state().repos.remove(&state::repo_key(full_name));
    }

    pub fn set_archived(&self, repo: &str, archived: bool) {
        self.state().seeded(repo).archived = archived;
    }

    pub fn set_private(&self, repo: &str, private: bool) {
        self.state().seeded(repo).private = private;
    }

    /// Make an existing branch the default branch.
    pub fn set_default_branch(&self, repo: &str, branch: &str) {
        let mut st = self.state();
        let r = st.seeded(repo);
        assert!(
            r.branch(branch).is_some(),
            "fake GitHub: {repo} has no branch {branch}"
        );
        r.default_branch = branch.to_string();
    }

    /// Commit `files` (path, content) on `branch`, creating the branch from
    /// the default branch if needed. The new snapshot is the parent's files
    /// plus these. Returns the new commit SHA.
    pub fn commit(&self, repo: &str, branch: &str, files: &[(&str, &str)]) -> String {
        let changes: Vec<(String, Option<Vec<u8>>)> = files
            .iter()
            .map(|(p, c)| (p.to_string(), Some(c.as_bytes().to_vec())))
            .collect();
        let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        self.commit_changes(
            repo,
            branch,
            &changes,
            &format!("Update {}", paths.join(", ")),
        )
    }

    /// Commit the removal of `paths` on `branch`. Returns the new commit SHA.
    pub fn remove_files(&self, repo: &str, branch: &str, paths: &[&str]) -> String {
        let changes: Vec<(String, Option<Vec<u8>>)> =
            paths.iter().map(|p| (p.to_string(), None)).collect();
        self.commit_changes(
            repo,
            branch,
            &changes,
            &format!("Remove {}", paths.join(", ")),
        )
    }

    fn commit_changes(
        &self,
        repo: &str,
        branch: &str,
        changes: &[(String, Option<Vec<u8>>)],
        message: &str,
    ) -> String {
        let mut st = self.state();
        let r = st.seeded(repo);
        let parent = match r.branch(branch) {
            Some(sha) => sha.clone(),
            None => r
                .branch(&r.default_branch.clone())
                .cloned()
                .expect("default branch exists"),
        };
        let sha = st.create_commit(Some(&parent), changes, message);
        let r = st.seeded(repo);
        r.refs.insert(format!("refs/heads/{branch}"), sha.clone());
        r.pushed_at = util::now_rfc3339();
        sha
    }

    /// Create `branch` at `from` (a branch, tag or SHA). Returns its SHA.
    pub fn create_branch(&self, repo: &str, branch: &str, from: &str) -> String {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let sha = st
            .resolve(&r, from)
            .unwrap_or_else(|| panic!("fake GitHub: {repo} has no ref {from}"));
        st.seeded(repo)
            .refs
            .insert(format!("refs/heads/{branch}"), sha.clone());
        sha
    }

    /// Delete a branch.
    pub fn delete_branch(&self, repo: &str, branch: &str) {
        self.state()
            .seeded(repo)
            .refs
            .remove(&format!("refs/heads/{branch}"));
    }

    /// Current head SHA of a branch.
    pub fn branch_head(&self, repo: &str, branch: &str) -> Option<String> {
        self.state().repo(repo)?.branch(branch).cloned()
    }

    /// Open a pull request from `head` to `base` (branches of `repo`, which
    /// must exist), authored by `octocat`. Returns its number.
    pub fn open_pr(&self, repo: &str, head: &str, base: &str, title: &str) -> u64 {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let head_sha = r
            .branch(head)
            .cloned()
            .unwrap_or_else(|| panic!("fake GitHub: {repo} has no branch {head}"));
        assert!(
            r.branch(base).is_some(),
            "fake GitHub: {repo} has no branch {base}"
        );
        let pull = state::PullRec {
            id: st.next_id(),
            head_repo: r.full_name(),
            head_ref: head.to_string(),
            head_sha,
            base_ref: base.to_string(),
            draft: false,
            merged_at: None,
            merge_commit_sha: None,
            maintainer_can_modify: true,
            reviews: Vec::new(),
        };
        st.new_issue(repo, title, None, "octocat", Some(pull))
    }

    /// Open an issue authored by `octocat`. Returns its number.
    pub fn open_issue(&self, repo: &str, title: &str, body: &str) -> u64 {
        self.state()
            .new_issue(repo, title, Some(body.to_string()), "octocat", None)
    }

    /// Close an issue or pull request (without merging).
    pub fn close(&self, repo: &str, number: u64) {
        let mut st = self.state();
        let rec = issue_mut(&mut st, repo, number);
        rec.state = "closed".into();
        rec.closed_at = Some(util::now_rfc3339());
    }

    /// Merge a pull request with a merge commit on its base branch. Returns
    /// the merge commit SHA. Panics on conflicts.
    pub fn merge_pr(&self, repo: &str, number: u64) -> String {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let rec = r
            .issues
            .get(&number)
            .filter(|i| i.pull.is_some())
            .unwrap_or_else(|| panic!("fake GitHub: {repo}#{number} is not a pull request"));
        let pull = rec.pull.clone().expect("a pull request");
        let head = render::pull_head_sha(&st, rec);
        let base = r
            .branch(&pull.base_ref)
            .cloned()
            .expect("base branch exists");
        let files = st
            .merge_files(&base, &head)
            .unwrap_or_else(|c| panic!("fake GitHub: merge conflicts in {c:?}"));
        let message = format!("Merge pull request #{number} from {}", pull.head_ref);
        let sha = st.insert_commit(vec![base, head.clone()], files, &message);
        let now = util::now_rfc3339();
        let r = st.seeded(repo);
        r.refs
            .insert(format!("refs/heads/{}", pull.base_ref), sha.clone());
        let rec = r.issues.get_mut(&number).expect("checked above");
        rec.state = "closed".into();
        rec.closed_at = Some(now.clone());
        let p = rec.pull.as_mut().expect("checked above");
        p.head_sha = head;
        p.merged_at = Some(now);
        p.merge_commit_sha = Some(sha.clone());
        sha
    }

    /// Marks a pull request merged as `sha`, a commit made outside the fake
    /// (e.g. the manager's local repository in a test): GitHub then lists
    /// it among the pull requests of that commit.
    pub fn merged_as(&self, repo: &str, number: u64, sha: &str) {
        let mut st = self.state();
        let rec = st
            .seeded(repo)
            .issues
            .get_mut(&number)
            .filter(|i| i.pull.is_some())
            .unwrap_or_else(|| panic!("fake GitHub: {repo}#{number} is not a pull request"));
        rec.state = "closed".into();
        rec.closed_at = Some(util::now_rfc3339());
        let p = rec.pull.as_mut().expect("checked above");
        p.merged_at = Some(util::now_rfc3339());
        p.merge_commit_sha = Some(sha.to_string());
    }

    /// Add a label to an issue or pull request.
    pub fn add_label(&self, repo: &str, number: u64, label: &str) {
        let mut st = self.state();
        st.label_id(repo, label);
        let rec = issue_mut(&mut st, repo, number);
        if !rec.labels.iter().any(|l| l == label) {
            rec.labels.push(label.to_string());
        }
    }

    pub fn remove_label(&self, repo: &str, number: u64, label: &str) {
        let mut st = self.state();
        issue_mut(&mut st, repo, number)
            .labels
            .retain(|l| l != label);
    }

    /// Record a review (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, ...)
    /// on the pull request's current head. Returns the review id.
    pub fn add_review(&self, repo: &str, pr: u64, user: &str, state: &str) -> u64 {
        handlers::add_review(&mut self.state(), repo, pr, user, state, "")
    }

    /// Register a GitHub App with the public half of `pem` (a PKCS#1 RSA
    /// private key).
    pub fn register_app(&self, app_id: u64, pem: &str) {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
            .expect("PEM body");
        let pair = ring::signature::RsaKeyPair::from_der(&der).expect("an RSA key");
        use ring::signature::KeyPair as _;
        self.state().apps.push(apps::App {
            id: app_id,
            public_key: pair.public_key().as_ref().to_vec(),
        });
    }

    /// Install App `app_id` on `account` for `repos`; the installation id.
    /// GitHub's numeric id of `repo` (kept by a rename; a repo removed and
    /// added again gets a new one).
    pub fn repo_id(&self, repo: &str) -> u64 {
        self.state()
            .repo(repo)
            .unwrap_or_else(|| panic!("fake GitHub: repository {repo} was not added"))
            .id
    }

    /// The test merge commit GitHub reports for an open pull request (what
    /// a `pull_request` run's `GITHUB_SHA` is).
    pub fn set_merge_commit(&self, repo: &str, number: u64, sha: &str) {
        let mut st = self.state();
        let rec = issue_mut(&mut st, repo, number);
        rec.pull.as_mut().expect("a pull request").merge_commit_sha = Some(sha.to_string());
    }

    /// Takes `repo` out of every App installation (the customer
    /// uninstalled the App, or removed the repo from its installation).
    pub fn uninstall_from(&self, repo: &str) {
        let key = state::repo_key(repo);
        for inst in &mut self.state().installations {
            inst.repos.retain(|r| state::repo_key(r) != key);
        }
    }

    /// The App's slug: its installation tokens act as `<slug>[bot]`.
    pub fn set_app_slug(&self, app_id: u64, slug: &str) {
        self.state().app_slugs.insert(app_id, slug.to_string());
    }

    pub fn install_app(&self, app_id: u64, account: &str, repos: &[&str]) -> u64 {
        let mut st = self.state();
        let id = st.next_id();
        st.installations.push(apps::Installation {
            id,
            app_id,
            account: account.to_string(),
            repos: repos.iter().map(|r| r.to_string()).collect(),
        });
        id
    }

    /// The installation tokens minted so far.
    pub fn minted_tokens(&self) -> Vec<apps::MintedToken> {
        self.state().minted.clone()
    }

    /// A review with a body (e.g. one that quotes an approval command).
    pub fn add_review_with_body(
        &self,
        repo: &str,
        pr: u64,
        user: &str,
        state: &str,
        body: &str,
    ) -> u64 {
        handlers::add_review(&mut self.state(), repo, pr, user, state, body)
    }

    /// `login` is a member of `org/team` (`active`, or `pending` for an
    /// invitation not yet accepted).
    pub fn add_team_member(&self, org: &str, team: &str, login: &str, member_state: &str) {
        self.state()
            .teams
            .entry(format!("{org}/{team}").to_ascii_lowercase())
            .or_default()
            .push((login.to_string(), member_state.to_string()));
    }

    /// Someone with write access edits comment `id` later (its
    /// `updated_at` moves a second past its `created_at`).
    pub fn edit_comment(&self, repo: &str, id: u64, body: &str) {
        let mut st = self.state();
        let c = st
            .seeded(repo)
            .comments
            .iter_mut()
            .find(|c| c.id == id)
            .expect("fake GitHub: no such comment");
        c.body = body.to_string();
        let t = util::parse_rfc3339(&c.created_at).expect("created_at") + 1;
        c.updated_at = util::rfc3339(t);
    }

    /// Add a comment by `user` (e.g. an earlier comment the tool should
    /// update). Returns the comment id.
    pub fn add_comment(&self, repo: &str, number: u64, user: &str, body: &str) -> u64 {
        let mut st = self.state();
        issue_mut(&mut st, repo, number);
        handlers::add_comment(&mut st, repo, number, user, body)
    }

    /// Seed a commit status (posted by `octocat`) on a commit SHA or ref.
    pub fn add_status(&self, repo: &str, sha: &str, state: &str, context: &str) {
        let mut st = self.state();
        let r = st.seeded(repo).clone();
        let sha = st.resolve(&r, sha).unwrap_or_else(|| sha.to_string());
        let id = st.next_id();
        let creator = "octocat".to_string();
        st.user_id(&creator);
        st.seeded(repo).statuses.push(Status {
            id,
            sha,
            state: state.to_string(),
            context: context.to_string(),
            description: None,
            target_url: None,
            creator,
            created_at: util::now_rfc3339(),
        });
    }

    /// Replace the Actions secrets public key of a repository (e.g. with one
    /// whose private key the test holds, to decrypt secrets).
    pub fn set_public_key(&self, repo: &str, key_id: &str, key_base64: &str) {
        self.state().seeded(repo).public_key = (key_id.to_string(), key_base64.to_string());
    }

    /// The Actions secrets public key: (key_id, base64 key).
    pub fn public_key(&self, repo: &str) -> (String, String) {
        self.state().seeded(repo).public_key.clone()
    }

    /// A reviewer answers a run's deployment to `environment` (`approved`
    /// or `rejected`), as `actions/get-reviews-for-run` then lists it.
    pub fn review_run(&self, repo: &str, run_id: u64, environment: &str, login: &str, state: &str) {
        let mut st = self.state();
        st.user_id(login);
        st.seeded(repo)
            .run_reviews
            .entry(run_id)
            .or_default()
            .push(state::RunReview {
                environment: environment.to_string(),
                state: state.to_string(),
                login: login.to_string(),
                comment: String::new(),
                at: util::now_rfc3339(),
            });
    }

    // ----- inspection -----

    /// Statuses posted for a commit (SHA or ref), oldest first.
    /// The latest status of `context` on a commit.
    pub fn status_of(&self, repo: &str, sha: &str, context: &str) -> Option<Status> {
        self.statuses(repo, sha)
            .into_iter()
            .rev()
            .find(|s| s.context == context)
    }

    /// The deployments of `repo`, oldest first.
    pub fn deployments(&self, repo: &str) -> Vec<Deployment> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.deployments.clone())
            .unwrap_or_default()
    }

    pub fn statuses(&self, repo: &str, sha: &str) -> Vec<Status> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return Vec::new();
        };
        let sha = st.resolve(r, sha).unwrap_or_else(|| sha.to_string());
        r.statuses
            .iter()
            .filter(|s| s.sha == sha)
            .cloned()
            .collect()
    }

    /// The combined state GitHub would report: `failure`, `pending` or
    /// `success` (pending when there are no statuses).
    pub fn combined_state(&self, repo: &str, sha: &str) -> String {
        let latest = {
            let st = self.state();
            let Some(r) = st.repo(repo) else {
                return "pending".into();
            };
            let sha = st.resolve(r, sha).unwrap_or_else(|| sha.to_string());
            render::latest_statuses(r, &sha)
                .iter()
                .map(|s| s.state.clone())
                .collect::<Vec<_>>()
        };
        let states: Vec<&str> = latest.iter().map(String::as_str).collect();
        render::combine(&states).to_string()
    }

    /// Comments on an issue or pull request, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        let st = self.state();
        st.repo(repo)
            .map(|r| {
                r.comments
                    .iter()
                    .filter(|c| c.issue_number == number)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Bodies of the repository dispatch requests (`event_type`,
    /// `client_payload`), in order.
    pub fn dispatches(&self, repo: &str) -> Vec<Value> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.dispatches.clone())
            .unwrap_or_default()
    }

    /// Bodies of the `checks/create` requests, in order.
    pub fn check_runs(&self, repo: &str) -> Vec<Value> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.check_runs.clone())
            .unwrap_or_default()
    }

    /// Actions secrets, by name.
    pub fn secrets(&self, repo: &str) -> Vec<Secret> {
        let st = self.state();
        st.repo(repo)
            .map(|r| {
                r.secrets
                    .iter()
                    .map(|(name, s)| Secret {
                        name: name.clone(),
                        encrypted_value: s.encrypted_value.clone(),
                        key_id: s.key_id.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Issues (not pull requests), by number.
    pub fn issues(&self, repo: &str) -> Vec<Issue> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return Vec::new();
        };
        r.issues
            .values()
            .filter(|i| i.pull.is_none())
            .map(to_issue)
            .collect()
    }

    /// An issue or pull request (as an issue) by number.
    pub fn issue(&self, repo: &str, number: u64) -> Option<Issue> {
        let st = self.state();
        st.repo(repo)?.issues.get(&number).map(to_issue)
    }

    /// Pull requests, by number.
    pub fn pulls(&self, repo: &str) -> Vec<Pull> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return Vec::new();
        };
        r.issues
            .values()
            .filter(|i| i.pull.is_some())
            .map(|i| to_pull(&st, i))
            .collect()
    }

    pub fn pull(&self, repo: &str, number: u64) -> Option<Pull> {
        let st = self.state();
        let rec = st.repo(repo)?.issues.get(&number)?;
        rec.pull.as_ref().map(|_| to_pull(&st, rec))
    }

    /// Content of `path` at a branch, tag or commit SHA, if it exists.
    pub fn file_at(&self, repo: &str, reference: &str, path: &str) -> Option<String> {
        let st = self.state();
        let r = st.repo(repo)?;
        let sha = st.resolve(r, reference)?;
        let bytes = st.commits.get(&sha)?.files.get(path.trim_matches('/'))?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    /// All files at a branch, tag or commit SHA.
    pub fn files_at(&self, repo: &str, reference: &str) -> BTreeMap<String, String> {
        let st = self.state();
        let Some(r) = st.repo(repo) else {
            return BTreeMap::new();
        };
        st.resolve(r, reference)
            .and_then(|sha| st.commits.get(&sha))
            .map(|c| {
                c.files
                    .iter()
                    .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every request received since the start or the last
    /// [`reset_counters`](Self::reset_counters), in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state().requests.clone()
    }

    /// How many requests were answered 304 Not Modified.
    pub fn not_modified_count(&self) -> usize {
        self.state().not_modified
    }

    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// Requests counted against the primary rate limit so far (what
    /// `x-ratelimit-used` says; a 304 is not counted).
    pub fn rate_limit_used(&self) -> u64 {
        self.state().rate_limit_used
    }

    /// Requests other than `GET` (faulted ones included).
    pub fn write_count(&self) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    }

    /// Enforce GitHub's secondary limits (scaled down as a test needs)
    /// from now on: a request over one is answered 403 with `retry-after`.
    pub fn enforce_limits(&self, limits: Limits) {
        self.state().limits = Some(limits::Enforcer::new(limits));
    }

    /// Enforce the primary limit per token: `limit` requests per `window`
    /// ([`limits::Primary`]).
    pub fn enforce_primary_limit(&self, limit: u64, window: std::time::Duration) {
        self.state().primary = Some(limits::Primary::new(limit, window));
    }

    /// Enforce GitHub's concurrency limit per token: at most `limit`
    /// requests in flight, each held `hold` (or until
    /// [`FakeGitHub::release_held`]); one over it is answered 403 with
    /// `retry-after: retry_after` ([`limits::Concurrency`]).
    pub fn enforce_concurrency(&self, limit: usize, hold: Duration, retry_after: u64) {
        *lock(&self.inner.concurrency) = Some(limits::Concurrency::new(limit, hold, retry_after));
    }

    /// Concurrency-limit answers given, the most requests of one token
    /// seen in flight together, and the requests in flight now.
    pub fn concurrency(&self) -> (usize, usize, usize) {
        lock(&self.inner.concurrency)
            .as_ref()
            .map_or((0, 0, 0), |c| (c.answers, c.most, c.in_flight()))
    }

    /// Answer the requests held by [`FakeGitHub::enforce_concurrency`] now,
    /// and hold none from now on.
    pub fn release_held(&self) {
        if let Some(c) = lock(&self.inner.concurrency).as_mut() {
            c.released = true;
        }
    }

    /// Primary-limit answers given (403, remaining 0).
    pub fn primary_limit_answers(&self) -> usize {
        self.state().primary.as_ref().map_or(0, |p| p.answers)
    }

    /// Requests answered with a secondary-limit 403 by
    /// [`FakeGitHub::enforce_limits`].
    pub fn limit_answers(&self) -> usize {
        self.state().limits.as_ref().map_or(0, |l| l.answers)
    }

    /// Forget the request log (violations are kept).
    pub fn reset_counters(&self) {
        self.state().requests.clear();
    }

    pub fn violations(&self) -> Vec<Violation> {
        self.state().violations.clone()
    }

    /// Return and forget the violations (for tests that provoke them).
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.state().violations)
    }

    /// Panic, listing them, if there were violations.
    pub fn assert_clean(&self) {
        let violations = self.violations();
        if !violations.is_empty() {
            panic!("{}", describe(&violations));
        }
    }

    // ----- faults -----

    /// Queue a fault: `gh.inject(Fault::status(502).times(2))` makes the
    /// next two requests fail with 502. Faults are consumed in order, one
    /// per matching request (see [`Fault::on`]). Requests the fake rejects
    /// as violations consume none; faulted requests are still logged, with
    /// [`RequestRecord::fault`] set.
    pub fn inject(&self, injection: impl Into<Injection>) {
        let injection = injection.into();
        let mut st = self.state();
        for _ in 0..injection.times {
            st.faults.push_back(QueuedFault {
                method: injection.method.clone(),
                path_contains: injection.path_contains.clone(),
                fault: injection.fault.clone(),
            });
        }
    }

    /// Same as `inject(fault.on(method, path_contains))`.
    pub fn inject_matching(&self, method: &str, path_contains: &str, fault: Fault) {
        self.inject(fault.on(method, path_contains));
    }

    /// Faults not consumed yet.
    pub fn pending_faults(&self) -> usize {
        self.state().faults.len()
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
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

// ----- request pipeline -----

/// The answer being built for one request.
struct Outcome {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    reset: bool,
}

impl Outcome {
    fn json(status: u16, body: &Value) -> Outcome {
        Outcome {
            status,
            headers: Vec::new(),
            body: Some(body.to_string().into_bytes()),
            reset: false,
        }
    }

    fn error(status: u16, message: &str) -> Outcome {
        Outcome::json(status, &render::error(message, status))
    }
}

/// Serves `req`; `over_concurrency` (its retry-after) when it arrived with
/// its token's concurrent requests at the limit.
fn serve(inner: &Inner, req: HttpRequest, over_concurrency: Option<u64>) -> Reply {
    let query = util::parse_query(&req.query);
    let path = match req.path.strip_prefix(inner.prefix.as_str()) {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => String::new(),
    };
    let mut record = RequestRecord {
        method: req.method.clone(),
        path: if path.is_empty() {
            req.path.clone()
        } else {
            path.clone()
        },
        query: req.query.clone(),
        status: 0,
        body: String::from_utf8_lossy(&req.body).into_owned(),
        headers: req.headers.clone(),
        operation: None,
        fault: None,
    };
    let mut st = lock(&inner.state);
    st.rate_limit_used += 1;
    let mut problems: Vec<String> = Vec::new();
    let outcome = 'outcome: {
        if path.is_empty() {
            problems.push(format!("request outside the API prefix {:?}", inner.prefix));
            break 'outcome Outcome::error(404, "Not Found");
        }
        st.current_app = None;
        if let Some(jwt) = req
            .header("authorization")
            .and_then(header_token)
            .filter(|t| t.starts_with("eyJ"))
        {
            match apps::verify_jwt(&st, jwt) {
                Ok(_) if !apps::jwt_may_call(&path) => {
                    problems.push(format!("an App's JWT was used for {path}; it may only call the App's endpoints (use an installation token)"));
                    break 'outcome Outcome::error(401, "A JSON web token could not be decoded");
                }
                Ok(app) => st.current_app = Some(app),
                Err(why) => {
                    problems.push(format!("bad App JWT: {why}"));
                    break 'outcome Outcome::error(401, "A JSON web token could not be decoded");
                }
            }
        }
        let jwt_ok = st.current_app.is_some();
        st.current_sender =
            apps::sender_of(&st, req.header("authorization").and_then(header_token));
        match check_scoped_token(&st, req.header("authorization"), &path, &mut problems) {
            _ if jwt_ok => {}
            Some(Ok(())) => {}
            Some(Err(outcome)) => break 'outcome outcome,
            None => {
                if let Some(outcome) = check_auth(&st, req.header("authorization"), &mut problems) {
                    break 'outcome outcome;
                }
            }
        }
        if st.check_api_headers {
            if let Some(outcome) = check_api_headers(&req.headers, &mut problems) {
                break 'outcome outcome;
            }
        }
        let spec = spec();
        let (op, params) = match spec.route(&req.method, &path) {
            Route::Found { op, params } => (op, params),
            Route::WrongMethod { allowed } => {
                problems.push(format!(
                    "no {} operation on this path in GitHub's API (allowed: {})",
                    req.method,
                    allowed.join(", ")
                ));
                break 'outcome Outcome::error(404, "Not Found");
            }
            Route::NotFound => {
                problems.push("no such route in the fake's GitHub API description".into());
                break 'outcome Outcome::error(404, "Not Found");
            }
        };
        record.operation = Some(op.id.clone());
        let param_problems = op.check_path_params(&params);
        if !param_problems.is_empty() {
            problems.extend(param_problems);
            break 'outcome Outcome::error(404, "Not Found");
        }
        let query_problems = op.check_query(&query);
        let body = op.check_body(spec, &req.body);
        problems.extend(query_problems.iter().cloned());
        problems.extend(body.violations);
        if let Some((status, message)) = body.reject {
            break 'outcome Outcome::error(status, &message);
        }
        if !query_problems.is_empty() {
            break 'outcome Outcome::error(
                422,
                &format!("Invalid request.\n\n{}", query_problems.join("\n")),
            );
        }

        if let Some(wait) = over_concurrency {
            record.fault = Some(format!(
                "secondary rate limit (concurrency), retry-after {wait}"
            ));
            let Fault::Status { headers, body, .. } = Fault::secondary_rate_limit(wait) else {
                unreachable!("a status fault")
            };
            break 'outcome Outcome {
                status: 403,
                headers,
                body: Some(body.into_bytes()),
                reset: false,
            };
        }
        let token = record.token().unwrap_or_default().to_string();
        if let Some(Err(reset)) = st.primary.as_mut().map(|p| p.take(&token)) {
            record.fault = Some("primary rate limit".into());
            let Fault::Status {
                mut headers, body, ..
            } = Fault::rate_limit_exhausted(reset)
            else {
                unreachable!("a status fault")
            };
            headers.retain(|(n, _)| n != "x-ratelimit-limit");
            headers.extend(
                st.primary
                    .as_mut()
                    .map(|p| p.headers(&token))
                    .into_iter()
                    .flatten()
                    .take(1),
            );
            break 'outcome Outcome {
                status: 403,
                headers,
                body: Some(body.into_bytes()),
                reset: false,
            };
        }
        if let Some(wait) = st.limits.as_mut().and_then(|l| l.check(&req.method)) {
            record.fault = Some(format!("secondary rate limit, retry-after {wait}"));
            let Fault::Status { headers, body, .. } = Fault::secondary_rate_limit(wait) else {
                unreachable!("a status fault")
            };
            break 'outcome Outcome {
                status: 403,
                headers,
                body: Some(body.into_bytes()),
                reset: false,
            };
        }
        if let Some(fault) = take_fault(&mut st, &req.method, &path) {
            record.fault = Some(fault.label());
            match fault {
                Fault::Status {
                    code,
                    headers,
                    body,
                } => {
                    break 'outcome Outcome {
                        status: code,
                        headers,
                        body: Some(body.into_bytes()),
                        reset: false,
                    };
                }
                Fault::Reset => {
                    break 'outcome Outcome {
                        status: 0,
                        headers: Vec::new(),
                        body: None,
                        reset: true,
                    };
                }
                Fault::MalformedJson => {
                    break 'outcome Outcome {
                        status: 200,
                        headers: Vec::new(),
                        body: Some(br#"{"id": 1, "message": "trunc"#.to_vec()),
                        reset: false,
                    };
                }
                Fault::Delay(duration) => {
                    drop(st);
                    sleep_unless_shutdown(duration, &inner.shutdown);
                    st = lock(&inner.state);
                }
            }
        }

        let ctx = handlers::Ctx {
            op: &op.id,
            method: &req.method,
            path: &path,
            params: &params,
            query: &query,
            body: body.value.as_ref(),
            accept: req.header("accept"),
        };
        // A bug in a handler must not take the server down: answer 500.
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handlers::handle(&mut st, &ctx)
        }));
        let answer = match handled {
            Ok(answer) => answer,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                problems.push(format!(
                    "fake GitHub bug: {} handler panicked: {what}",
                    op.id
                ));
                break 'outcome Outcome::error(500, "fake GitHub handler panicked");
            }
        };
        problems.extend(answer.violation);
        if st.check_responses {
            if let Some(value) = &answer.body {
                for e in op.check_response(spec, answer.status, value) {
                    problems.push(format!(
                        "fake GitHub bug: {} answer {} does not match the response schema: {e}",
                        op.id, answer.status
                    ));
                }
            }
        }
        let mut headers = answer.headers;
        let body = match answer.raw {
            Some((content_type, bytes)) => {
                headers.push(("content-type".to_string(), content_type));
                Some(bytes)
            }
            None => answer.body.map(|b| b.to_string().into_bytes()),
        };
        // Conditional requests, as GitHub serves them: every 200 GET
        // carries an ETag; `If-None-Match` with it is answered 304 with no
        // body, which does not count against the primary rate limit.
        if req.method == "GET" && answer.status == 200 {
            if let Some(b) = &body {
                use sha2::Digest as _;
                let etag = format!("\"{}\"", &hex::encode(sha2::Sha256::digest(b))[..32]);
                headers.push(("etag".to_string(), etag.clone()));
                if req.header("if-none-match") == Some(etag.as_str()) {
                    st.not_modified += 1;
                    if let (Some(p), Some(t)) = (st.primary.as_mut(), record.token()) {
                        p.give_back(t);
                    }
                    st.rate_limit_used = st.rate_limit_used.saturating_sub(1);
                    break 'outcome Outcome {
                        status: 304,
                        headers,
                        body: None,
                        reset: false,
                    };
                }
            }
        }
        Outcome {
            status: answer.status,
            headers,
            body,
            reset: false,
        }
    };

    let target = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    for message in problems {
        st.violations.push(Violation {
            method: req.method.clone(),
            path: target.clone(),
            message,
        });
    }
    record.status = outcome.status;
    st.requests.push(record.clone());
    if outcome.reset {
        return Reply::Reset;
    }
    let mut headers = vec![
        ("server".to_string(), "fake-github".to_string()),
        (
            "x-github-request-id".to_string(),
            format!("FAKE:{:04X}", st.rate_limit_used),
        ),
    ];
    if record.fault.is_none() {
        headers.extend([
            (
                "x-github-api-version-selected".to_string(),
                "2022-11-28".to_string(),
            ),
            (
                "x-github-media-type".to_string(),
                "github.v3; format=json".to_string(),
            ),
            ("x-ratelimit-limit".to_string(), "5000".to_string()),
            (
                "x-ratelimit-remaining".to_string(),
                st.rate_limit_remaining().to_string(),
            ),
            (
                "x-ratelimit-reset".to_string(),
                st.rate_limit_reset().to_string(),
            ),
            (
                "x-ratelimit-used".to_string(),
                st.rate_limit_used.to_string(),
            ),
            ("x-ratelimit-resource".to_string(), "core".to_string()),
        ]);
        // With the primary limit enforced, the token's own bucket.
        let token = record.token().unwrap_or_default().to_string();
        if let Some(per_token) = st.primary.as_mut().map(|p| p.headers(&token)) {
            headers.retain(|(n, _)| !per_token.iter().any(|(m, _)| m == n));
            headers.extend(per_token);
        }
    }
    let has_type = outcome
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if outcome.body.is_some() && !has_type {
        headers.push((
            "content-type".to_string(),
            "application/json; charset=utf-8".to_string(),
        ));
    }
    if let Some(expiry) = &st.token_expiration {
        headers.push((
            "github-authentication-token-expiration".to_string(),
            expiry.clone(),
        ));
    }
    headers.extend(outcome.headers);
    Reply::Send(HttpResponse {
        status: outcome.status,
        headers,
        body: outcome.body.unwrap_or_default(),
    })
}

/// `None` when the header carries none of the scoped tokens
/// ([`FakeGitHub::add_scoped_token`]); `Some(Ok)` when it carries one that
/// covers `path`; `Some(Err)` (403) when it carries one that does not.
fn check_scoped_token(
    st: &State,
    header: Option<&str>,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<Result<(), Outcome>> {
    let token = header_token(header?)?;
    let (_, repos) = st.scoped_tokens.iter().find(|(t, _)| t == token)?;
    let target = path
        .strip_prefix("/repos/")
        .and_then(|rest| {
            let mut parts = rest.splitn(3, '/');
            Some(format!("{}/{}", parts.next()?, parts.next()?))
        })
        .map(|r| state::repo_key(&r));
    if target.as_ref().is_some_and(|t| repos.contains(t)) {
        return Some(Ok(()));
    }
    problems.push(format!(
        "a token scoped to {repos:?} was used for {path}, which it does not cover"
    ));
    Some(Err(Outcome::error(
        403,
        "Resource not accessible by personal access token",
    )))
}

/// The token of an `Authorization: Bearer|token <token>` header.
fn header_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
}

impl RequestRecord {
    /// The token this request carried, if any.
    pub fn token(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .and_then(|(_, v)| header_token(v))
    }
}

/// `None` when the request may proceed.
fn check_auth(st: &State, header: Option<&str>, problems: &mut Vec<String>) -> Option<Outcome> {
    let Some(value) = header else {
        if st.allow_anonymous {
            return None;
        }
        problems.push("request without an Authorization header".into());
        return Some(Outcome::error(401, "Requires authentication"));
    };
    let (scheme, token) = value.trim().split_once(' ').unwrap_or(("", value));
    let scheme_ok = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    if scheme_ok && token.trim() == st.token {
        return None;
    }
    problems.push(format!(
        "Authorization header is not `Bearer <token>` or `token <token>` with the expected token (got scheme {scheme:?})"
    ));
    Some(Outcome::error(401, "Bad credentials"))
}

/// The headers GitHub documents for every REST request. `None` when the
/// request may proceed (possibly with violations recorded).
fn check_api_headers(headers: &[(String, String)], problems: &mut Vec<String>) -> Option<Outcome> {
    let all = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let accept = all("accept");
    let github_type = |v: &&str| {
        v.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or_default().trim();
            media.starts_with("application/vnd.github") || media == "application/json"
        })
    };
    if !accept.iter().any(github_type) {
        problems.push(format!(
            "request without an Accept header naming a GitHub media type (got {accept:?}); GitHub documents `Accept: application/vnd.github+json`"
        ));
    }
    let versions = all("x-github-api-version");
    match versions.as_slice() {
        [] => problems.push(format!(
            "request without X-GitHub-Api-Version; GitHub documents `X-GitHub-Api-Version: {}`",
            API_VERSIONS[0]
        )),
        [one] if API_VERSIONS.contains(&one.trim()) => {}
        [one] => {
            problems.push(format!(
                "X-GitHub-Api-Version {one:?} is not a supported version"
            ));
            return Some(Outcome::error(
                400,
                &format!("API version '{}' is not supported.", one.trim()),
            ));
        }
        many => problems.push(format!(
            "X-GitHub-Api-Version sent {} times ({many:?}); send it once",
            many.len()
        )),
    }
    None
}

fn take_fault(st: &mut State, method: &str, path: &str) -> Option<Fault> {
    let index = st.faults.iter().position(|f| {
        f.method.as_deref().is_none_or(|m| m == method) && path.contains(&f.path_contains)
    })?;
    st.faults.remove(index).map(|f| f.fault)
}

fn sleep_unless_shutdown(duration: Duration, shutdown: &AtomicBool) {
    let end = Instant::now() + duration;
    while !shutdown.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

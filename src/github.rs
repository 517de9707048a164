//! GitHub REST client on octocrab.
//!
//! - API root from `GITHUB_API_URL` (GitHub Enterprise Server works, path
//!   prefix included), token from `FLEETFORM_TOKEN` or `GITHUB_TOKEN`.
//! - Requests go through octocrab's raw methods so fleetform sees status and
//!   headers: retries with backoff on 5xx, connection errors and rate limits
//!   (403/429 with `Retry-After` or `x-ratelimit-reset`), bounded in count
//!   and total wait; each retry is logged at debug level without the token.
//! - Every request is counted; the count is reported with `--verbose` and in
//!   JSON output.
//! - `--dry-run`: reads are sent (they change nothing), every write is
//!   printed instead of sent.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use octocrab::Octocrab;
use serde::Serialize;
use serde_json::Value;

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
    #[error("{method} {path}: no answer ({message}); the request may have taken effect, so it is not sent again blindly")]
    Unanswered {
        method: &'static str,
        path: String,
        message: String,
    },
    #[error("cannot set up the GitHub client: {0}")]
    Setup(String),
}

impl GitHubError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            _ => None,
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
    /// Defaults, tightened by `FLEETFORM_RETRY_BASE_MS`,
    /// `FLEETFORM_RETRY_MAX_WAIT_SECS` and `FLEETFORM_RETRY_ATTEMPTS`.
    pub fn from_env() -> Self {
        let mut p = RetryPolicy::default();
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        if let Some(ms) = num("FLEETFORM_RETRY_BASE_MS") {
            p.base = Duration::from_millis(ms);
        }
        if let Some(s) = num("FLEETFORM_RETRY_MAX_WAIT_SECS") {
            p.max_wait = Duration::from_secs(s);
        }
        if let Some(n) = num("FLEETFORM_RETRY_ATTEMPTS") {
            p.max_attempts = n.clamp(1, 10) as u32;
        }
        p
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
    api_url: String,
    retry: RetryPolicy,
    requests: AtomicUsize,
    pub dry_run: bool,
    withheld: Mutex<Vec<PlannedRequest>>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.api_url)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// A decoded response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    pub link_next: Option<String>,
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

impl GitHub {
    /// `api_url` as in `GITHUB_API_URL` (default `https://api.github.com`).
    /// The client lives on `rt` (octocrab needs a runtime to be built).
    pub fn new(
        rt: &tokio::runtime::Runtime,
        api_url: &str,
        token: Option<&Token>,
        dry_run: bool,
    ) -> Result<Self, GitHubError> {
        let _guard = rt.enter();
        let api_url = api_url.trim_end_matches('/').to_string();
        let timeout = std::env::var("FLEETFORM_HTTP_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(30);
        let mut b = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| GitHubError::Setup(format!("invalid API URL `{api_url}`: {e}")))?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(timeout)))
            .set_write_timeout(Some(Duration::from_secs(timeout)));
        if let Some(t) = token {
            b = b.personal_token(t.expose().to_string());
        }
        let octo = b.build().map_err(|e| GitHubError::Setup(e.to_string()))?;
        Ok(GitHub {
            octo,
            api_url,
            retry: RetryPolicy::from_env(),
            requests: AtomicUsize::new(0),
            dry_run,
            withheld: Mutex::new(Vec::new()),
        })
    }

    /// `GITHUB_API_URL` or the public API.
    pub fn api_url_from_env() -> String {
        std::env::var("GITHUB_API_URL")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "https://api.github.com".into())
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Writes withheld by `--dry-run`, in order.
    pub fn withheld(&self) -> Vec<PlannedRequest> {
        self.withheld.lock().expect("not poisoned").clone()
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, GitHubError> {
        if self.dry_run && !matches!(method, Method::Get) {
            self.withheld
                .lock()
                .expect("not poisoned")
                .push(PlannedRequest {
                    method: method.as_str(),
                    path: path.to_string(),
                    body: body.cloned(),
                });
            return Ok(Response {
                status: 0,
                body: Value::Null,
                link_next: None,
            });
        }
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(method = method.as_str(), path, attempt, "request");
            let result = match method {
                Method::Get => self.octo._get(path).await,
                Method::Post => self.octo._post(path, body).await,
                Method::Patch => self.octo._patch(path, body).await,
                Method::Put => self.octo._put(path, body).await,
                Method::Delete => self.octo._delete(path, body).await,
            };
            // Decide: done, or wait this long and retry.
            let (retry_after, last): (Option<Duration>, String) = match result {
                // A POST that may have reached GitHub is not repeated here:
                // the caller checks whether it took effect.
                Err(e) if matches!(method, Method::Post) && request_was_sent(&e) => {
                    return Err(GitHubError::Unanswered {
                        method: method.as_str(),
                        path: path.to_string(),
                        message: e.to_string(),
                    })
                }
                Err(e) => (
                    Some(self.backoff(attempt)),
                    format!("connection error: {e}"),
                ),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let header = |k: &str| {
                        resp.headers()
                            .get(k)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let retry_header =
                        header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
                    let remaining = header("x-ratelimit-remaining");
                    let reset =
                        header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok());
                    let link_next = header("link").and_then(|l| parse_link_next(&l));
                    let text = match self.octo.body_to_string(resp).await {
                        Ok(t) => t,
                        Err(e) => {
                            let wait = self.backoff(attempt);
                            self.check_budget(
                                method,
                                path,
                                attempt,
                                waited,
                                wait,
                                format!("reading the body: {e}"),
                            )?;
                            tokio::time::sleep(wait).await;
                            waited += wait;
                            continue;
                        }
                    };
                    let rate_limited = (status == 403 || status == 429)
                        && (retry_header.is_some()
                            || remaining.as_deref() == Some("0")
                            || status == 429
                            || text.contains("rate limit"));
                    if status >= 500 || rate_limited {
                        let wait = if let Some(s) = retry_header {
                            Duration::from_secs(s)
                        } else if let (Some(reset), Some("0")) = (reset, remaining.as_deref()) {
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_secs())
                                .unwrap_or(0);
                            Duration::from_secs(reset.saturating_sub(now).max(1))
                        } else {
                            self.backoff(attempt)
                        };
                        (Some(wait), format!("HTTP {status}: {}", message_of(&text)))
                    } else if (200..300).contains(&status) {
                        let body = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            match serde_json::from_str(&text) {
                                Ok(v) => v,
                                Err(e) => {
                                    // A garbled body is treated like a
                                    // transient server fault for reads.
                                    if matches!(method, Method::Get) {
                                        let wait = self.backoff(attempt);
                                        self.check_budget(
                                            method,
                                            path,
                                            attempt,
                                            waited,
                                            wait,
                                            format!("malformed JSON: {e}"),
                                        )
                                        .map_err(|_| {
                                            GitHubError::BadJson {
                                                method: method.as_str(),
                                                path: path.to_string(),
                                                message: e.to_string(),
                                            }
                                        })?;
                                        tracing::debug!(path, "malformed JSON, retrying");
                                        tokio::time::sleep(wait).await;
                                        waited += wait;
                                        continue;
                                    }
                                    return Err(GitHubError::BadJson {
                                        method: method.as_str(),
                                        path: path.to_string(),
                                        message: e.to_string(),
                                    });
                                }
                            }
                        };
                        tracing::debug!(
                            method = method.as_str(),
                            path,
                            status,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "response"
                        );
                        return Ok(Response {
                            status,
                            body,
                            link_next,
                        });
                    } else {
                        return Err(GitHubError::Status {
                            method: method.as_str(),
                            path: path.to_string(),
                            status,
                            message: message_of(&text),
                        });
                    }
                }
            };
            let wait = retry_after.expect("only retries reach here");
            self.check_budget(method, path, attempt, waited, wait, last.clone())?;
            tracing::debug!(
                method = method.as_str(),
                path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                reason = %last,
                "retrying"
            );
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry.base.saturating_mul(1 << (attempt - 1).min(6))
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
        if attempt >= self.retry.max_attempts || waited + next_wait > self.retry.max_wait {
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

    /// Every comment on an issue or PR, following pagination.
    pub async fn list_comments(
        &self,
        repo: &str,
        issue: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let mut out = Vec::new();
        let mut next = Some(format!(
            "{}/issues/{issue}/comments?per_page=100",
            repo_path(repo)
        ));
        let mut pages = 0;
        while let Some(p) = next.take() {
            pages += 1;
            if pages > 50 {
                break; // 5,000 comments: enough; never loop forever
            }
            let r = self.send(Method::Get, &p, None).await?;
            let items = r.body.as_array().cloned().unwrap_or_default();
            for c in items {
                if let (Some(id), Some(body)) = (
                    c.get("id").and_then(Value::as_u64),
                    c.get("body").and_then(Value::as_str),
                ) {
                    out.push(IssueComment {
                        id,
                        body: body.to_string(),
                    });
                }
            }
            next = r.link_next.map(|u| self.relative(&u));
        }
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

    /// The default branch and its head commit.
    pub async fn default_branch_head(&self, repo: &str) -> Result<(String, String), GitHubError> {
        let r = self.send(Method::Get, &repo_path(repo), None).await?;
        let branch = r
            .body
            .get("default_branch")
            .and_then(Value::as_str)
            .ok_or_else(|| GitHubError::BadJson {
                method: "GET",
                path: repo_path(repo),
                message: "no default_branch".into(),
            })?
            .to_string();
        let p = format!("{}/git/ref/heads/{}", repo_path(repo), file_path(&branch));
        let r = self.send(Method::Get, &p, None).await?;
        let sha = r
            .body
            .pointer("/object/sha")
            .and_then(Value::as_str)
            .ok_or_else(|| GitHubError::BadJson {
                method: "GET",
                path: p,
                message: "no object.sha".into(),
            })?
            .to_string();
        Ok((branch, sha))
    }

    /// Open issues with `label`, following pagination.
    pub async fn list_open_issues(
        &self,
        repo: &str,
        label: &str,
    ) -> Result<Vec<Issue>, GitHubError> {
        let mut out = Vec::new();
        let mut next = Some(format!(
            "{}/issues?state=open&labels={}&per_page=100",
            repo_path(repo),
            seg(label)
        ));
        let mut pages = 0;
        while let Some(p) = next.take() {
            pages += 1;
            if pages > 50 {
                break;
            }
            let r = self.send(Method::Get, &p, None).await?;
            for i in r.body.as_array().cloned().unwrap_or_default() {
                if i.get("pull_request").is_some() {
                    continue;
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
            }
            next = r.link_next.map(|u| self.relative(&u));
        }
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
            let r = self
                .send(
                    Method::Get,
                    &format!("{}/pulls/{number}/reviews?per_page=100", repo_path(repo)),
                    None,
                )
                .await?;
            // The latest review of each reviewer counts.
            let mut latest: std::collections::BTreeMap<String, String> =
                std::collections::BTreeMap::new();
            for rv in r.body.as_array().cloned().unwrap_or_default() {
                if let (Some(user), Some(state)) = (
                    rv.pointer("/user/login").and_then(Value::as_str),
                    rv.get("state").and_then(Value::as_str),
                ) {
                    if state != "COMMENTED" {
                        latest.insert(user.to_string(), state.to_string());
                    }
                }
            }
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

    /// A file's bytes and blob sha at `reference`; `None` if absent.
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
            Ok(r) => {
                let content = r
                    .body
                    .get("content")
                    .and_then(Value::as_str)
                    .ok_or_else(|| GitHubError::BadJson {
                        method: "GET",
                        path: p.clone(),
                        message: format!("`{path}` is not a file"),
                    })?;
                let sha = r
                    .body
                    .get("sha")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let cleaned: String = content.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64_decode(&cleaned).ok_or_else(|| GitHubError::BadJson {
                    method: "GET",
                    path: p.clone(),
                    message: "file content is not valid base64".into(),
                })?;
                Ok(Some((bytes, sha)))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The repo's default branch and whether it is archived.
    pub async fn repo_info(&self, repo: &str) -> Result<(String, bool), GitHubError> {
        let r = self.send(Method::Get, &repo_path(repo), None).await?;
        let branch = r
            .body
            .get("default_branch")
            .and_then(Value::as_str)
            .unwrap_or("main")
            .to_string();
        let archived = r
            .body
            .get("archived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok((branch, archived))
    }

    /// The commit a branch points at, `None` when it does not exist.
    pub async fn branch_sha(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        let p = format!("{}/git/ref/heads/{}", repo_path(repo), file_path(branch));
        match self.send(Method::Get, &p, None).await {
            Ok(r) => Ok(r
                .body
                .pointer("/object/sha")
                .and_then(Value::as_str)
                .map(str::to_string)),
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
            "content": base64_encode(content),
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
        Ok(r.body
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|pr| {
                Some((
                    pr.get("number")?.as_u64()?,
                    pr.get("html_url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ))
            })
            .collect())
    }

    pub async fn create_pull(
        &self,
        repo: &str,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<(u64, String), GitHubError> {
        let r = self
            .send(
                Method::Post,
                &format!("{}/pulls", repo_path(repo)),
                Some(&serde_json::json!({ "title": title, "head": head, "base": base, "body": body })),
            )
            .await?;
        Ok((
            r.body
                .get("number")
                .and_then(Value::as_u64)
                .unwrap_or_default(),
            r.body
                .get("html_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ))
    }

    /// Turns an absolute `Link` URL into a path under the API root.
    fn relative(&self, url: &str) -> String {
        url.strip_prefix(&self.api_url)
            .map(str::to_string)
            .unwrap_or_else(|| {
                // Same host, other prefix: keep path and query.
                match url
                    .find("://")
                    .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
                {
                    Some(k) => url[k..].to_string(),
                    None => url.to_string(),
                }
            })
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

/// `<url>; rel="next"` from a Link header.
fn parse_link_next(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, rest) = part.split_once(';')?;
        rest.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Standard base64 (GitHub's contents encoding).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let bytes = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
        if chunk.len() == 1 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aA==").unwrap(), b"h");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("a$==").is_none());
        for s in [&b""[..], b"h", b"he", b"hel", b"hello, world\n"] {
            assert_eq!(base64_decode(&base64_encode(s)).unwrap(), s);
        }
    }

    #[test]
    fn links_and_segments() {
        assert_eq!(
            parse_link_next(
                r#"<https://x/repos/a/b/issues/1/comments?page=2>; rel="next", <https://x/...?page=5>; rel="last""#
            ),
            Some("https://x/repos/a/b/issues/1/comments?page=2".into())
        );
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(repo_path("acme/infra.repo"), "/repos/acme/infra.repo");
        assert_eq!(
            format!("{:?}", Token::new("ghp_secret".into()).unwrap()),
            "Token(***)"
        );
    }
}

//! What the client retries: the bounds ([`RetryPolicy`], from the
//! environment), the wait before a retry (the backoff, or what GitHub's
//! answer asks for) and the answer's headers that decide it (rate
//! limits, `Retry-After`) and what the client keeps (`Link`, `ETag`, the
//! token's expiry).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use octocrab::OctoBody;
use serde_json::Value;

use super::budget::Refused;
use super::budget::{self, Ledger, Patience};
use super::error::GitHubError;
use super::read::{Read, ReadBody, Unread};
use super::root::{self, SettingError};
use super::wire::{cause, message_of, truncate_chars, Method, Response, Unanswered};

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

    /// The wait before the `attempt`th retry of a failure without a
    /// limit answer: the base, doubling up to 64 times it.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1 << attempt.saturating_sub(1).min(6))
    }

    /// How long to wait before trying again, in GitHub's documented order:
    /// `retry-after`; else, with no requests left, until
    /// `x-ratelimit-reset`; else, for a limit answer, at least a minute,
    /// doubling while the limit answers go on; else (5xx) the backoff.
    pub(super) fn wait_before_retry(
        &self,
        headers: &Headers,
        rate_limited: bool,
        attempt: u32,
    ) -> Duration {
        if let Some(s) = headers.retry_after {
            return Duration::from_secs(s);
        }
        if let (Some(reset), Some("0")) = (headers.reset, headers.remaining.as_deref()) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            return Duration::from_secs(reset.saturating_sub(now).max(1));
        }
        if rate_limited {
            return super::budget::secondary_wait(attempt);
        }
        self.backoff(attempt)
    }
}

/// The response headers the client acts on.
pub(super) struct Headers {
    pub retry_after: Option<u64>,
    pub remaining: Option<String>,
    pub reset: Option<u64>,
    pub link: Option<String>,
    pub token_expiration: Option<String>,
    pub etag: Option<String>,
}

impl Headers {
    pub fn of(headers: &http::HeaderMap) -> Headers {
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
            token_expiration: text("github-authentication-token-expiration"),
            etag: text("etag").filter(|e| e.len() <= 200),
        }
    }
}

tokio::task_local! {
    /// The tries of a call of octocrab's typed API, whose requests the
    /// client does not build: the policy takes them from here
    /// ([`Tries::scope`]).
    static TYPED: Tries;
}

/// One request's tries, shared by the retry policy (on the request's
/// extensions, cloned with it for each attempt) and the client, which
/// takes the outcome when the policy is done.
#[derive(Clone)]
pub(super) struct Tries(Arc<Mutex<Try>>);

struct Try {
    method: Method,
    path: String,
    /// Attempts answered or failed so far.
    attempts: u32,
    waited: Duration,
    started: Instant,
    outcome: Option<Result<Response, GitHubError>>,
}

impl Tries {
    pub(super) fn new(method: Method, path: &str) -> Tries {
        Tries(Arc::new(Mutex::new(Try {
            method,
            path: path.to_string(),
            attempts: 0,
            waited: Duration::ZERO,
            started: Instant::now(),
            outcome: None,
        })))
    }

    /// Runs `call` (a call of octocrab's typed API) with these tries:
    /// the policy decides on its answers as on the client's own requests.
    pub(super) async fn scope<F: Future>(&self, call: F) -> F::Output {
        TYPED.scope(self.clone(), call).await
    }

    /// What the policy decided, once: `None` when the request was not
    /// sent (the scheduler refused it; the error says why) or the policy
    /// never saw it.
    pub(super) fn outcome(&self) -> Option<Result<Response, GitHubError>> {
        lock(&self.0).outcome.take()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one attempt came to.
enum Verdict {
    Done(Response),
    Fail(GitHubError),
    /// Wait this long and try again; `give_up` is the error to report
    /// instead of [`GitHubError::GaveUp`] when the bounds are spent.
    Retry {
        wait: Duration,
        reason: String,
        give_up: Option<GitHubError>,
    },
    /// Not sent (the scheduler's `Refused`): the error is the caller's.
    NotSent,
}

impl Verdict {
    fn retry(wait: Duration, reason: String) -> Verdict {
        Verdict::Retry {
            wait,
            reason,
            give_up: None,
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The client's retry policy for tower's `Retry` layer, in GitHub's
/// documented order: a limit answer (403 or 429 that says so) waits as
/// GitHub asks and is held in the scheduler; a 5xx, a connection error, a
/// body that broke off and a read whose JSON is garbled are retried with
/// backoff; within the bounds ([`RetryPolicy`]) and the client's patience.
/// A POST that may have reached GitHub is not sent again (the caller
/// checks whether it took effect), nor a create after a 5xx.
#[derive(Clone)]
pub(super) struct Retrying {
    pub bounds: RetryPolicy,
    pub patience: Patience,
    /// The scheduler's ledger: each answer's limits, and GitHub's holds.
    pub ledger: Arc<Mutex<Ledger>>,
    /// Where the token's expiry goes, as GitHub last stated it.
    pub token_expiration: Arc<Mutex<Option<String>>>,
    /// Whether a connection that could not be made is retried.
    pub retry_unconnected: bool,
    /// 304s seen (a request that carried its own `If-None-Match`).
    pub not_modified: Arc<AtomicUsize>,
    /// How long an answer's head may take (for the error's words).
    pub timeout: Duration,
}

impl tower::retry::Policy<http::Request<OctoBody>, http::Response<ReadBody>, BoxError>
    for Retrying
{
    type Future = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn retry(
        &mut self,
        request: &mut http::Request<OctoBody>,
        result: &mut Result<http::Response<ReadBody>, BoxError>,
    ) -> Option<Self::Future> {
        // A request of octocrab's typed API comes without the client's
        // `Tries`: the ones its caller scoped, or its own; kept on the
        // request the retries are cloned from.
        let tries = match request.extensions().get::<Tries>() {
            Some(tries) => tries.clone(),
            None => {
                let tries = TYPED.try_with(Tries::clone).unwrap_or_else(|_| {
                    Tries::new(Method::of(request.method()), request.uri().path())
                });
                request.extensions_mut().insert(tries.clone());
                tries
            }
        };
        let mut t = lock(&tries.0);
        t.attempts += 1;
        let verdict = match result {
            Ok(answer) => self.judge(&t, answer),
            Err(e) => self.judge_error(&t, &**e),
        };
        let (wait, reason, give_up) = match verdict {
            Verdict::NotSent => return None,
            Verdict::Done(response) => {
                tracing::debug!(
                    method = t.method.as_str(),
                    path = t.path,
                    status = response.status,
                    elapsed_ms = t.started.elapsed().as_millis() as u64,
                    "response"
                );
                t.outcome = Some(Ok(response));
                return None;
            }
            Verdict::Fail(e) => {
                t.outcome = Some(Err(e));
                return None;
            }
            Verdict::Retry {
                wait,
                reason,
                give_up,
            } => (wait, reason, give_up),
        };
        if let Err(e) = self.within_bounds(&t, wait, reason.clone()) {
            t.outcome = Some(Err(give_up.unwrap_or(e)));
            return None;
        }
        let request_id = (t.method.as_str(), t.path.as_str());
        if let Err(e) = self
            .patience
            .check(request_id, "a retry", wait.as_millis() as u64)
        {
            t.outcome = Some(Err(e));
            return None;
        }
        tracing::debug!(
            method = t.method.as_str(),
            path = t.path,
            attempt = t.attempts,
            wait_ms = wait.as_millis() as u64,
            reason = %reason,
            "retrying"
        );
        t.waited = t.waited.saturating_add(wait);
        let (method, path, attempt) = (t.method.as_str(), t.path.clone(), t.attempts + 1);
        Some(Box::pin(async move {
            tokio::time::sleep(wait).await;
            tracing::debug!(method, path, attempt, "request");
        }))
    }

    fn clone_request(
        &mut self,
        request: &http::Request<OctoBody>,
    ) -> Option<http::Request<OctoBody>> {
        // octocrab's bodies built from bytes keep a copy for this; a GET's
        // is empty.
        let body = request.body().try_clone().unwrap_or_else(OctoBody::empty);
        Some(super::wire::again(request, body))
    }
}

impl Retrying {
    /// An answer: done, an error, or a retry after how long.
    fn judge(&self, t: &Try, answer: &http::Response<ReadBody>) -> Verdict {
        let headers = Headers::of(answer.headers());
        lock(&self.ledger).answered(headers.remaining.as_deref(), headers.reset);
        if let Some(expiry) = &headers.token_expiration {
            *lock(&self.token_expiration) = Some(expiry.clone());
        }
        let bytes = answer
            .extensions()
            .get::<Read>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        match std::str::from_utf8(&bytes) {
            Ok(text) => self.decide(t, answer.status().as_u16(), headers, text),
            Err(_) => Verdict::retry(
                self.bounds.backoff(t.attempts),
                "reading the body: the body is not UTF-8".into(),
            ),
        }
    }

    /// What GitHub answered, read: done, an error, or a retry.
    fn decide(&self, t: &Try, status: u16, headers: Headers, text: &str) -> Verdict {
        let (method, path) = (t.method, &t.path);
        let rate_limited = (status == 403 || status == 429)
            && (headers.retry_after.is_some()
                || headers.remaining.as_deref() == Some("0")
                || status == 429
                || text.contains("rate limit"));
        if status >= 500 && matches!(method, Method::Create) {
            return Verdict::Fail(GitHubError::Unanswered {
                method: method.as_str(),
                path: path.clone(),
                message: format!("GitHub answered {status}: {}", message_of(text)),
            });
        }
        if status >= 500 || rate_limited {
            let wait = self
                .bounds
                .wait_before_retry(&headers, rate_limited, t.attempts);
            if !rate_limited {
                return Verdict::retry(wait, format!("HTTP {status}: {}", message_of(text)));
            }
            lock(&self.ledger).hold(budget::now_ms(), wait);
            // A limit answer's wait past what this run may wait is "not
            // sent" (a later run may), not a failure.
            return Verdict::Retry {
                wait,
                reason: format!("HTTP {status}: {}", message_of(text)),
                give_up: Some(GitHubError::Deferred {
                    method: method.as_str(),
                    path: path.clone(),
                    limit: "GitHub's limit answer",
                    wait,
                }),
            };
        }
        if status == 304 {
            self.not_modified.fetch_add(1, Ordering::SeqCst);
            return Verdict::Done(Response {
                status,
                body: Value::Null,
                link: None,
                etag: headers.etag,
            });
        }
        if !(200..300).contains(&status) {
            return Verdict::Fail(GitHubError::Status {
                method: method.as_str(),
                path: path.clone(),
                status,
                message: message_of(text),
            });
        }
        self.parsed(t, status, headers, text)
    }

    /// A 2xx answer's JSON; a garbled one is retried for reads, as a
    /// transient server fault, and an error for writes.
    fn parsed(&self, t: &Try, status: u16, headers: Headers, text: &str) -> Verdict {
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    let bad = GitHubError::BadJson {
                        method: t.method.as_str(),
                        path: t.path.clone(),
                        message: e.to_string(),
                    };
                    if !matches!(t.method, Method::Get) {
                        return Verdict::Fail(bad);
                    }
                    return Verdict::Retry {
                        wait: self.bounds.backoff(t.attempts),
                        reason: format!("malformed JSON: {e}"),
                        give_up: Some(bad),
                    };
                }
            }
        };
        Verdict::Done(Response {
            status,
            body,
            link: headers.link,
            etag: headers.etag,
        })
    }

    /// No answer: why, and whether trying again can help.
    fn judge_error(&self, t: &Try, e: &(dyn std::error::Error + Send + Sync + 'static)) -> Verdict {
        if cause::<Refused>(e).is_some() {
            return Verdict::NotSent;
        }
        if let Some(unread) = cause::<Unread>(e) {
            return Verdict::retry(
                self.bounds.backoff(t.attempts),
                format!("reading the body: {unread}"),
            );
        }
        let (method, path) = (t.method.as_str(), t.path.clone());
        let e = Unanswered::of(e, self.timeout);
        if e.permanent {
            // A connection that cannot be made for a reason trying again
            // will not change (a refused certificate, a proxy wanting
            // credentials) is reported at once.
            return Verdict::Fail(GitHubError::Network {
                method,
                path,
                message: e.message,
            });
        }
        if matches!(t.method, Method::Post | Method::Create) && e.sent {
            // A POST that may have reached GitHub is not repeated here:
            // the caller checks whether it took effect.
            return Verdict::Fail(GitHubError::Unanswered {
                method,
                path,
                message: e.message,
            });
        }
        if !self.retry_unconnected && !e.sent {
            return Verdict::Fail(GitHubError::NoConnection {
                method,
                path,
                message: truncate_chars(&e.message, 200),
            });
        }
        Verdict::retry(
            self.bounds.backoff(t.attempts),
            format!("connection error: {}", e.message),
        )
    }

    /// Whether another wait of `next` is within the bounds, after the
    /// attempts made and the waits waited.
    fn within_bounds(&self, t: &Try, next: Duration, last: String) -> Result<(), GitHubError> {
        if t.attempts >= self.bounds.max_attempts
            || t.waited.saturating_add(next) > self.bounds.max_wait
        {
            return Err(GitHubError::GaveUp {
                method: t.method.as_str(),
                path: t.path.clone(),
                attempts: t.attempts,
                waited: t.waited,
                last,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::budget::Limits;
    use http_body_util::Full;
    use tower::{Layer as _, ServiceExt as _};

    /// An answer: status, headers, body.
    type Canned = (u16, Vec<(&'static str, &'static str)>, &'static str);

    /// Answers with the queued (status, headers, body) in turn, counting
    /// the requests.
    #[derive(Clone, Default)]
    struct GitHub {
        answers: Arc<Mutex<Vec<Canned>>>,
        calls: Arc<AtomicUsize>,
    }

    impl tower::Service<http::Request<OctoBody>> for GitHub {
        type Response = http::Response<ReadBody>;
        type Error = BoxError;
        type Future = std::future::Ready<Result<Self::Response, BoxError>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), BoxError>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<OctoBody>) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let (status, headers, body) = lock(&self.answers).remove(0);
            let bytes = bytes::Bytes::from_static(body.as_bytes());
            let mut answer = http::Response::new(Full::new(bytes.clone()));
            *answer.status_mut() = http::StatusCode::from_u16(status).unwrap();
            for (k, v) in headers {
                answer.headers_mut().insert(k, v.parse().unwrap());
            }
            answer.extensions_mut().insert(Read(bytes));
            std::future::ready(Ok(answer))
        }
    }

    fn policy(max_wait: Duration) -> Retrying {
        Retrying {
            bounds: RetryPolicy {
                max_attempts: 3,
                base: Duration::ZERO,
                max_wait,
            },
            patience: Patience::new(max_wait),
            ledger: Arc::new(Mutex::new(Ledger::new(Limits::default()))),
            token_expiration: Arc::default(),
            retry_unconnected: true,
            not_modified: Arc::default(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Sends one request through the policy; the outcome and the requests
    /// GitHub got.
    async fn send(
        method: Method,
        policy: Retrying,
        answers: Vec<Canned>,
    ) -> (Result<Response, GitHubError>, usize) {
        let github = GitHub::default();
        *lock(&github.answers) = answers;
        let tries = Tries::new(method, "/repos/o/r");
        let mut request = http::Request::new(OctoBody::from("{}"));
        *request.method_mut() = method.http();
        request.extensions_mut().insert(tries.clone());
        let svc = tower::retry::RetryLayer::new(policy).layer(github.clone());
        svc.oneshot(request).await.unwrap();
        let outcome = tries.outcome().expect("the policy decided");
        (outcome, github.calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_5xx_is_retried_and_the_answer_after_it_is_the_outcome() {
        let (outcome, calls) = send(
            Method::Get,
            policy(Duration::from_secs(60)),
            vec![
                (502, vec![], "bad gateway"),
                (200, vec![("etag", "\"e\"")], "{\"a\":1}"),
            ],
        )
        .await;
        let response = outcome.unwrap();
        assert_eq!((response.status, calls), (200, 2));
        assert_eq!(response.body, serde_json::json!({"a": 1}));
        assert_eq!(response.etag.as_deref(), Some("\"e\""));
    }

    #[tokio::test]
    async fn a_create_is_not_sent_again_after_a_5xx() {
        let (outcome, calls) = send(
            Method::Create,
            policy(Duration::from_secs(60)),
            vec![(500, vec![], "{\"message\":\"oops\"}")],
        )
        .await;
        assert!(
            matches!(outcome, Err(GitHubError::Unanswered { .. })),
            "{outcome:?}"
        );
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn a_limit_answer_longer_than_the_patience_is_deferred_and_held() {
        let p = policy(Duration::from_secs(5));
        let ledger = p.ledger.clone();
        let (outcome, calls) = send(
            Method::Post,
            p,
            vec![(
                403,
                vec![("retry-after", "60")],
                "{\"message\":\"secondary rate limit\"}",
            )],
        )
        .await;
        assert!(
            matches!(&outcome, Err(GitHubError::Deferred { wait, .. }) if wait.as_secs() == 60),
            "{outcome:?}"
        );
        assert_eq!(calls, 1);
        assert!(matches!(
            lock(&ledger).reserve(true, budget::now_ms()),
            budget::Slot::Wait { .. }
        ));
    }

    #[tokio::test]
    async fn a_garbled_read_is_retried_within_the_bounds_then_reported_as_bad_json() {
        let garbled = || (200, vec![], "{\"a\":");
        let (outcome, calls) = send(
            Method::Get,
            policy(Duration::from_secs(60)),
            vec![garbled(), garbled(), garbled()],
        )
        .await;
        assert!(
            matches!(outcome, Err(GitHubError::BadJson { .. })),
            "{outcome:?}"
        );
        assert_eq!(calls, 3, "max_attempts");
    }

    #[tokio::test]
    async fn a_client_error_is_reported_at_once_with_githubs_message() {
        let (outcome, calls) = send(
            Method::Get,
            policy(Duration::from_secs(60)),
            vec![(404, vec![], "{\"message\":\"Not Found\"}")],
        )
        .await;
        let Err(GitHubError::Status {
            status, message, ..
        }) = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!((status, message.as_str(), calls), (404, "Not Found", 1));
    }
}

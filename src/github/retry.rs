//! What the client retries: the bounds ([`RetryPolicy`], from the
//! environment), the wait before a retry (the backoff, or what GitHub's
//! answer asks for) and the answer's headers that decide it (rate
//! limits, `Retry-After`) and what the client keeps (`Link`, `ETag`, the
//! token's expiry).

use std::time::Duration;

use super::root::{self, SettingError};

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

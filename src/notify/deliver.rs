//! Posting to one target: `https` (plain `http` only to a loopback
//! address, for tests and local relays), a timeout per attempt, and a
//! budget of failed attempts the target has for the whole command, shared
//! by every notice sent to it. Connection errors, timeouts, 429 and 5xx
//! are tried again after a backoff (a `Retry-After` in seconds is honoured
//! up to a cap) while the budget lasts; any other status is not, and costs
//! one attempt. Once the budget is spent the target gets nothing more in
//! that command.
//!
//! The request is sent by the shared client of `net` (proxies and the
//! trusted roots, as every other request); the caller owns the runtime
//! (see `queue`). No error ever holds the URL: a connection that cannot
//! be made for a lasting reason (a refused certificate, a proxy wanting
//! credentials) is said without the host.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

/// How hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    /// Failed attempts a target may have in one command, whatever the
    /// number of notices it is sent.
    pub tries: u32,
    /// The wait before a notice's second attempt; doubled for each next one.
    pub backoff: Duration,
    /// The most one attempt may take.
    pub timeout: Duration,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
}

/// The longest an attempt may take, and the default.
pub const MAX_TIMEOUT_MS: u64 = 10_000;

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            tries: 3,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_millis(MAX_TIMEOUT_MS),
            retry_after_cap: Duration::from_secs(10),
        }
    }
}

/// Why a notification was not delivered (never with the URL: it is a
/// secret).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DeliveryError {
    #[error("the URL is not a valid absolute URL; check the variable's value")]
    BadUrl,
    #[error("the URL is not https (plain http is only allowed to a loopback address); use the https URL of the webhook")]
    NotHttps,
    #[error(
        "the receiver answered {status} after {}",
        crate::util::text::count(tries, "attempt", "attempts")
    )]
    Status { status: u16, tries: u32 },
    #[error(
        "no answer after {} (connection failed or timed out); check the receiver and the network",
        crate::util::text::count(tries, "attempt", "attempts")
    )]
    Unreachable { tries: u32 },
    /// A connection that cannot be made for a lasting reason; the reason
    /// never names the host.
    #[error("no connection: {0}")]
    Refused(String),
    /// A proxy or CA setting that cannot be used.
    #[error("{0}")]
    Network(String),
    #[error("not sent: the target failed all {0} attempts it has in one command")]
    Spent(u32),
    #[error("not sent: the deadline for this command's notifications passed")]
    Stopped,
    #[error("cannot start the HTTP client")]
    Client,
}

/// Checks the URL: https, or http to a loopback address.
fn check_url(url: &str) -> Result<(), DeliveryError> {
    let u = url::Url::parse(url).map_err(|_| DeliveryError::BadUrl)?;
    match (u.scheme(), u.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() => Ok(()),
        ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => Ok(()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
        (_, None) => Err(DeliveryError::BadUrl),
        _ => Err(DeliveryError::NotHttps),
    }
}

/// One attempt's outcome.
enum Tried {
    Done,
    /// Worth another attempt, after at least this long.
    Again(Option<Duration>, Option<u16>),
    Refused(u16),
}

/// One target (one webhook URL) for one command: its client and what is
/// left of its budget.
pub struct Target {
    url: String,
    client: crate::net::Client,
    attempts: Attempts,
    left: u32,
}

impl Target {
    /// A target for `url` (checked: https or loopback http). Call inside
    /// the runtime that will post.
    pub fn new(
        url: &str,
        attempts: &Attempts,
        net: &crate::net::Settings,
    ) -> Result<Target, DeliveryError> {
        check_url(url)?;
        let client = net
            .client(None, None)
            .map_err(|e| DeliveryError::Network(e.to_string()))?;
        Ok(Target {
            url: url.to_string(),
            client,
            attempts: attempts.clone(),
            left: attempts.tries.max(1),
        })
    }

    /// True once the target has failed every attempt it had.
    pub fn spent(&self) -> bool {
        self.left == 0
    }

    /// Posts `body` as JSON, trying again while the budget lasts; stops
    /// before the next attempt once `stop` is set.
    pub async fn post(&mut self, body: Bytes, stop: &AtomicBool) -> Result<(), DeliveryError> {
        let a = self.attempts.clone();
        let mut wait = a.backoff;
        let mut last_status = None;
        let mut n = 0;
        loop {
            if self.left == 0 {
                return Err(match (n, last_status) {
                    (0, _) => DeliveryError::Spent(a.tries.max(1)),
                    (_, Some(status)) => DeliveryError::Status { status, tries: n },
                    (_, None) => DeliveryError::Unreachable { tries: n },
                });
            }
            if stop.load(Ordering::SeqCst) {
                return Err(DeliveryError::Stopped);
            }
            n += 1;
            let tried = self.attempt(body.clone()).await?;
            match tried {
                Tried::Done => return Ok(()),
                Tried::Refused(status) => {
                    self.left -= 1;
                    return Err(DeliveryError::Status { status, tries: n });
                }
                Tried::Again(after, status) => {
                    self.left -= 1;
                    last_status = status;
                    if self.left > 0 {
                        let pause = after.map_or(wait, |d| d.min(a.retry_after_cap).max(wait));
                        tokio::time::sleep(pause).await;
                        wait = wait.saturating_mul(2);
                    }
                }
            }
        }
    }

    async fn attempt(&self, body: Bytes) -> Result<Tried, DeliveryError> {
        let req = http::Request::builder()
            .method("POST")
            .uri(self.url.as_str())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("fleetform/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|_| DeliveryError::BadUrl)?;
        Ok(
            match tokio::time::timeout(self.attempts.timeout, self.client.request(req)).await {
                Ok(Ok(resp)) => judge(&resp),
                Ok(Err(e)) => match crate::net::connect_error(&e).filter(|c| c.is_permanent()) {
                    Some(c) => return Err(DeliveryError::Refused(c.reason())),
                    None => Tried::Again(None, None),
                },
                Err(_) => Tried::Again(None, None),
            },
        )
    }
}

/// 2xx delivered; 429 and 5xx worth another attempt (with `Retry-After`);
/// any other status refused.
fn judge<B>(resp: &http::Response<B>) -> Tried {
    let status = resp.status();
    if status.is_success() {
        return Tried::Done;
    }
    if status.as_u16() == 429 || status.is_server_error() {
        let after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Tried::Again(after, Some(status.as_u16()));
    }
    Tried::Refused(status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert_eq!(check_url("https://hooks.slack.com/services/x"), Ok(()));
        assert_eq!(check_url("http://127.0.0.1:8080/x"), Ok(()));
        assert_eq!(check_url("http://[::1]:8080/x"), Ok(()));
        assert_eq!(check_url("http://localhost/x"), Ok(()));
        assert_eq!(
            check_url("http://hooks.example.com/x"),
            Err(DeliveryError::NotHttps)
        );
        assert_eq!(check_url("ftp://127.0.0.1/x"), Err(DeliveryError::NotHttps));
        assert_eq!(check_url("not a url"), Err(DeliveryError::BadUrl));
        assert_eq!(check_url(""), Err(DeliveryError::BadUrl));
    }
}

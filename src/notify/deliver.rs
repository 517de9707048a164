//! One notification posted: `https` (plain `http` only to a loopback
//! address, for tests and local relays), a timeout per attempt, and a
//! bounded number of attempts with backoff on connection errors, timeouts,
//! 429 and 5xx (a `Retry-After` in seconds is honoured up to a cap).
//!
//! The request is sent by the HTTP client fleetform already has (hyper
//! with rustls, as the records store sends S3 requests) on a thread of its
//! own with a small runtime, so it can be called from synchronous code and
//! from inside another runtime. No error ever holds the URL.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How hard to try.
#[derive(Debug, Clone)]
pub struct Attempts {
    pub tries: u32,
    /// The wait before the second attempt; doubled for each next one.
    pub backoff: Duration,
    /// The most one attempt may take.
    pub timeout: Duration,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            tries: 3,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            retry_after_cap: Duration::from_secs(10),
        }
    }
}

/// Why a notification was not delivered (never with the URL: it is a
/// secret).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeliveryError {
    #[error("the URL is not a valid absolute URL; check the variable's value")]
    BadUrl,
    #[error("the URL is not https (plain http is only allowed to a loopback address); use the https URL of the webhook")]
    NotHttps,
    #[error("the receiver answered {status} after {tries} attempt(s)")]
    Status { status: u16, tries: u32 },
    #[error("no answer after {tries} attempt(s) (connection failed or timed out); check the receiver and the network")]
    Unreachable { tries: u32 },
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

/// Posts `body` as JSON to `url`.
pub fn post(url: &str, body: &[u8], attempts: &Attempts) -> Result<(), DeliveryError> {
    check_url(url)?;
    let (url, body, attempts) = (
        url.to_string(),
        Bytes::from(body.to_vec()),
        attempts.clone(),
    );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| DeliveryError::Client)?;
        rt.block_on(post_with_retries(&url, body, &attempts))
    })
    .join()
    .map_err(|_| DeliveryError::Client)?
}

async fn post_with_retries(url: &str, body: Bytes, a: &Attempts) -> Result<(), DeliveryError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let tries = a.tries.max(1);
    let mut wait = a.backoff;
    let mut last_status = None;
    for n in 1..=tries {
        let req = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("fleetform/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body.clone()))
            .map_err(|_| DeliveryError::BadUrl)?;
        let tried = match tokio::time::timeout(a.timeout, client.request(req)).await {
            Ok(Ok(resp)) => judge(&resp),
            _ => Tried::Again(None, None),
        };
        match tried {
            Tried::Done => return Ok(()),
            Tried::Refused(status) => return Err(DeliveryError::Status { status, tries: n }),
            Tried::Again(after, status) => {
                last_status = status;
                if n < tries {
                    let pause = after.map_or(wait, |d| d.min(a.retry_after_cap).max(wait));
                    tokio::time::sleep(pause).await;
                    wait *= 2;
                }
            }
        }
    }
    Err(match last_status {
        Some(status) => DeliveryError::Status { status, tries },
        None => DeliveryError::Unreachable { tries },
    })
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

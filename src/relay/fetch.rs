//! The relay's own outbound reads (the OIDC issuer's keys) and the
//! customer's calls to the relay: one request with a timeout and a cap on
//! what is read, over the shared client of `net` (proxies, the trusted
//! roots). https, or http to a loopback host only.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

/// Why a GET gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the address is not https:// (or http:// to a loopback host)")]
    BadUrl,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the connection failed")]
    Connect,
    /// No connection for a lasting reason (a refused certificate, a proxy
    /// wanting credentials), or network settings that cannot be used.
    #[error("{0}")]
    Network(String),
    #[error("the server answered {0}")]
    Status(u16),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

/// The body of `GET url`, at most `max` bytes, within `timeout` in all;
/// any answer but 200 is an error.
pub async fn get_bounded(
    net: &crate::net::Settings,
    url: &str,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, FetchError> {
    match send(Request::get(net, url), max, timeout).await? {
        (200, body) => Ok(body),
        (status, _) => Err(FetchError::Status(status)),
    }
}

/// A request [`send`] makes: method, address, bearer token, JSON body.
pub struct Request<'a> {
    /// The proxies and roots it connects with.
    pub net: &'a crate::net::Settings,
    pub method: &'static str,
    pub url: &'a str,
    /// `Authorization: <scheme> <token>`; never logged.
    pub auth: Option<(&'static str, &'a str)>,
    pub json: Option<Vec<u8>>,
}

impl<'a> Request<'a> {
    pub fn get(net: &'a crate::net::Settings, url: &'a str) -> Request<'a> {
        Request {
            net,
            method: "GET",
            url,
            auth: None,
            json: None,
        }
    }
}

/// Sends `r` and returns the status and body (at most `max` bytes),
/// within `timeout` in all.
pub async fn send(
    r: Request<'_>,
    max: usize,
    timeout: Duration,
) -> Result<(u16, Bytes), FetchError> {
    if !crate::config::is_web_url(r.url) {
        return Err(FetchError::BadUrl);
    }
    let client = r
        .net
        .client(None, None)
        .map_err(|e| FetchError::Network(e.to_string()))?;
    let mut b = http::Request::builder()
        .method(r.method)
        .uri(r.url)
        .header("accept", "application/json")
        .header(
            "user-agent",
            concat!("fleetform/", env!("CARGO_PKG_VERSION")),
        );
    if let Some((scheme, token)) = r.auth {
        b = b.header("authorization", format!("{scheme} {token}"));
    }
    if r.json.is_some() {
        b = b.header("content-type", "application/json");
    }
    let req = b
        .body(Full::new(Bytes::from(r.json.unwrap_or_default())))
        .map_err(|_| FetchError::BadUrl)?;
    let read = async {
        let resp = client.request(req).await.map_err(|e| {
            match crate::net::connect_error(&e).filter(|c| c.is_permanent()) {
                Some(c) => FetchError::Network(c.to_string()),
                None => FetchError::Connect,
            }
        })?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), max)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge(max)
                } else {
                    FetchError::Connect
                }
            })?;
        Ok((status, body))
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
}

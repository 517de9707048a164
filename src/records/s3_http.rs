//! How requests reach the bucket: the shared client of `net` (proxies, the
//! trusted roots and `records: ca_file:`), on a thread of its own with a small runtime,
//! so records can be used from synchronous code and from inside another
//! runtime; one client per operation, its connections reused.
//!
//! **Retries.** S3 documents 500 `InternalError` and 503 `SlowDown` as
//! answers to retry; so are the other 5xx, 429 (S3-compatible stores) and
//! 400 `RequestTimeout`, and a request that got no answer (no connection,
//! a connection closed mid-answer, no answer within [`TIMEOUT`]). Each is
//! sent again after an exponential backoff with jitter (half of the
//! ceiling fixed, half random: [`backoff`]), at most [`ATTEMPTS`] attempts
//! within [`PATIENCE`] in all; a `Retry-After` is not followed, so nothing
//! the endpoint says makes a request wait longer. Whether an earlier
//! attempt may have been carried out is kept ([`Sent::retried`]): a
//! create-only put that then answers 412 reads the object back.
//!
//! **Bounds.** Every body read into memory has a limit: the caller's for a
//! successful answer (checked on `Content-Length` before reading, and again
//! while the body streams in, so a missing or lying length stops at the
//! same place), [`MAX_ERROR_BODY`] for an error answer, which is cut there.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};

/// Attempts of one request, the first included.
pub const ATTEMPTS: u32 = 6;
/// The longest one request may take with its retries: no attempt starts
/// (and no backoff begins) that would end later.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// The longest one attempt may take, answer and body.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The backoff ceiling after the first failed attempt; it doubles after
/// each further one, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How much of an error answer is read (its code and message come first).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The HTTP client.
pub type Http = crate::net::Client;

/// The setting that names the records endpoint's own CA bundle.
pub const CA_SETTING: &str = "`records: ca_file:` in fleetform.yml";

/// One request to send: method, signed URL, extra headers, body.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: http::Method,
    pub url: url::Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// An answer with its (bounded) body.
#[derive(Debug)]
pub struct Answer {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// A tag of S3's XML error body (`Code`, `Message`).
    fn tag(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.body);
        text.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|s| s.split(&format!("</{name}>")).next())
            .map(crate::util::text::shown)
    }

    /// S3's status, error code and message, without the request ids.
    pub fn describe(&self) -> String {
        match (self.tag("Code"), self.tag("Message")) {
            (Some(c), Some(m)) => format!("S3 answered {}: {c}: {m}", self.status),
            (Some(c), None) => format!("S3 answered {}: {c}", self.status),
            _ => format!("S3 answered {}", self.status),
        }
    }

    /// Whether S3 asks to send the request again.
    fn transient(&self) -> bool {
        matches!(self.status.as_u16(), 429 | 500 | 502 | 503 | 504)
            || (self.status == http::StatusCode::BAD_REQUEST
                && self.tag("Code").as_deref() == Some("RequestTimeout"))
    }
}

/// Why an attempt has no answer to show.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No answer: no connection, the connection closed, too slow.
    #[error("{0}")]
    NoAnswer(String),
    /// No connection, for a reason trying again will not change (a
    /// refused certificate, a proxy that wants credentials): not retried.
    #[error("{0}")]
    Refused(String),
    /// A successful answer's body is over the caller's limit.
    #[error("the answer is larger than {limit} bytes{}", announced.map(|n| format!(" (it announced {n} bytes)")).unwrap_or_default())]
    TooLarge {
        limit: usize,
        announced: Option<u64>,
    },
    /// The request could not be built (never sent).
    #[error("cannot build the request: {0}")]
    Invalid(String),
}

/// A request and its retries, ended.
#[derive(Debug)]
pub struct Sent {
    /// The last attempt's answer.
    pub answer: Result<Answer, Failure>,
    pub attempts: u32,
    /// Whether an attempt before the last failed in a way that S3 may
    /// have carried out (a 5xx, an answer lost).
    pub retried: bool,
    pub took: Duration,
}

impl Sent {
    /// ` (6 attempts in 4.1 s)` after a retried request, else nothing.
    pub fn note(&self) -> String {
        if self.attempts > 1 {
            format!(
                " ({} attempts in {:.1} s)",
                self.attempts,
                self.took.as_secs_f64()
            )
        } else {
            String::new()
        }
    }
}

/// A runtime for one thread's requests.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the S3 client: {e}"))
}

/// A client with `net`'s settings, trusting `ca_file` too, if set.
pub fn client(
    net: &crate::net::Settings,
    ca_file: Option<&std::path::Path>,
) -> Result<Http, String> {
    let extra = ca_file.map(|p| crate::net::ExtraCa {
        setting: CA_SETTING,
        path: p.to_path_buf(),
    });
    net.client(extra.as_ref(), Some(CA_SETTING))
        .map_err(|e| e.to_string())
}

/// Runs `work` with a client (`net`'s settings, trusting `ca_file` too) on a thread of its
/// own and waits for it.
pub fn run<T, F, Fut>(
    net: crate::net::Settings,
    ca_file: Option<std::path::PathBuf>,
    work: F,
) -> Result<T, String>
where
    F: FnOnce(Http) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let http = client(&net, ca_file.as_deref())?;
        Ok(runtime()?.block_on(work(http)))
    })
    .join()
    .map_err(|_| "the S3 client stopped".to_string())?
}

/// Sends `req`, again after a transient failure (module docs); a
/// successful answer's body may hold at most `limit` bytes.
pub async fn send(http: &Http, req: &Request, limit: usize) -> Sent {
    let start = Instant::now();
    let mut attempts = 0;
    let mut retried = false;
    loop {
        attempts += 1;
        let left = PATIENCE.saturating_sub(start.elapsed());
        let answer = once(http, req, limit, TIMEOUT.min(left)).await;
        let again = match &answer {
            Ok(a) => a.transient(),
            Err(f) => matches!(f, Failure::NoAnswer(_)),
        };
        let wait = backoff(attempts);
        if !again || attempts >= ATTEMPTS || start.elapsed() + wait >= PATIENCE {
            return Sent {
                answer,
                attempts,
                retried,
                took: start.elapsed(),
            };
        }
        tracing::debug!(
            "S3 {} attempt {attempts} failed, again in {} ms",
            req.method,
            wait.as_millis()
        );
        retried = true;
        tokio::time::sleep(wait).await;
    }
}

/// The wait after failed attempt number `attempt` (1 = the first):
/// between half the ceiling and the ceiling, which starts at
/// [`FIRST_BACKOFF`] and doubles, up to [`MAX_BACKOFF`].
fn backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let half = u64::try_from(ceiling.as_millis() / 2).unwrap_or(u64::MAX);
    let jitter = getrandom::u64().unwrap_or(0) % (half + 1);
    Duration::from_millis(half + jitter)
}

/// One attempt, within `timeout`.
async fn once(
    http: &Http,
    req: &Request,
    limit: usize,
    timeout: Duration,
) -> Result<Answer, Failure> {
    let mut builder = http::Request::builder()
        .method(req.method.clone())
        .uri(req.url.as_str())
        .header("content-length", req.body.len());
    for (k, v) in &req.headers {
        builder = builder.header(*k, v);
    }
    let request = builder
        .body(Full::new(req.body.clone()))
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    let exchange = async {
        let resp = http.request(request).await.map_err(|e| {
            let text = crate::net::error_text(&e);
            match crate::net::connect_error(&e).is_some_and(|c| c.is_permanent()) {
                true => Failure::Refused(text),
                false => Failure::NoAnswer(text),
            }
        })?;
        let (parts, body) = resp.into_parts();
        let body = if parts.status.is_success() {
            read_capped(body, limit, &parts.headers).await?
        } else {
            read_cut(body, MAX_ERROR_BODY).await
        };
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Failure::NoAnswer(format!("no answer within {} s", timeout.as_secs())))?
}

/// The body, or [`Failure::TooLarge`] as soon as it announces or brings
/// more than `limit` bytes.
async fn read_capped(
    mut body: hyper::body::Incoming,
    limit: usize,
    headers: &http::HeaderMap,
) -> Result<Bytes, Failure> {
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = |announced| Failure::TooLarge { limit, announced };
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large(announced));
    }
    let mut buf = Vec::with_capacity(announced.map_or(0, |n| n as usize).min(1 << 20));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::NoAnswer(crate::net::error_text(&e)))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large(announced));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// At most `limit` bytes of the body; the rest is not read.
async fn read_cut(mut body: hyper::body::Incoming, limit: usize) -> Bytes {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit - buf.len();
                    buf.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waits double from 100-200 ms up to 2.5-5 s, never beyond, and
    /// the retries of one request fit well inside its patience.
    #[test]
    fn backoff_doubles_with_jitter_and_is_bounded() {
        for _ in 0..50 {
            let waits: Vec<Duration> = (1..=10).map(backoff).collect();
            assert!(waits[0] >= Duration::from_millis(100) && waits[0] <= FIRST_BACKOFF);
            assert!(waits[1] >= Duration::from_millis(200) && waits[1] <= 2 * FIRST_BACKOFF);
            for w in &waits {
                assert!(*w <= MAX_BACKOFF, "{w:?}");
            }
            assert!(waits[9] >= MAX_BACKOFF / 2);
            let all: Duration = waits[..(ATTEMPTS - 1) as usize].iter().sum();
            assert!(all < PATIENCE / 4, "{all:?}");
        }
    }

    #[test]
    fn transient_answers_are_s3s_retryable_ones() {
        let answer = |status: u16, body: &str| Answer {
            status: http::StatusCode::from_u16(status).unwrap(),
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        };
        let slow = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        assert!(answer(503, slow).transient());
        assert!(answer(500, "<Error><Code>InternalError</Code></Error>").transient());
        assert!(answer(400, "<Error><Code>RequestTimeout</Code></Error>").transient());
        assert!(!answer(400, "<Error><Code>InvalidArgument</Code></Error>").transient());
        for status in [403, 404, 409, 412] {
            assert!(!answer(status, "").transient(), "{status}");
        }
        assert_eq!(
            answer(503, slow).describe(),
            "S3 answered 503 Service Unavailable: SlowDown: Please reduce your request rate."
        );
    }
}

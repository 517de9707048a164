//! Records in an S3-compatible bucket: `rusty-s3` signs each request
//! (SigV4 with the credentials in `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, as
//! `aws-actions/configure-aws-credentials` exports them), the HTTP client
//! fleetform already has for GitHub (hyper with rustls) sends it.
//!
//! Every put is conditional (`If-None-Match: *`: S3 answers 412 when the
//! key exists, so nothing is ever overwritten) and carries `Content-MD5`,
//! which a bucket with Object Lock and a default retention requires.
//!
//! Calls run on a thread of their own with a small runtime, so records
//! can be written from synchronous code and from inside another runtime.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use md5::Digest as _;
use rusty_s3::{actions::ListObjectsV2, Bucket as S3Bucket, Credentials, S3Action, UrlStyle};

use super::RecordsError;

/// How long a signed request stays valid: it is sent at once.
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// The most a record (or a list page) may take to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Settings {
    pub bucket: String,
    pub region: String,
    /// Without a trailing `/`.
    pub prefix: String,
    pub endpoint: Option<String>,
    pub path_style: bool,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    settings: Settings,
}

/// One request to send: method, signed URL, extra headers, body.
struct Call {
    method: http::Method,
    url: url::Url,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Bucket {
    pub fn new(settings: Settings) -> Bucket {
        Bucket { settings }
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.settings.bucket, self.settings.prefix)
    }

    fn full(&self, key: &str) -> String {
        if self.settings.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.settings.prefix)
        }
    }

    fn err(what: &'static str, key: &str, reason: impl std::fmt::Display) -> RecordsError {
        RecordsError::Io {
            what,
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    /// The bucket and the credentials from the environment.
    fn open(&self, what: &'static str, key: &str) -> Result<(S3Bucket, Credentials), RecordsError> {
        let s = &self.settings;
        let endpoint = s
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", s.region));
        let endpoint = url::Url::parse(&endpoint).map_err(|e| Self::err(what, key, e))?;
        let style = if s.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = S3Bucket::new(endpoint, style, s.bucket.clone(), s.region.clone())
            .map_err(|e| Self::err(what, key, e))?;
        let creds = Credentials::from_env().ok_or_else(|| {
            Self::err(
                what,
                key,
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), e.g. with aws-actions/configure-aws-credentials",
            )
        })?;
        Ok((bucket, creds))
    }

    pub fn create(&self, key: &str, bytes: &[u8]) -> Result<(), RecordsError> {
        let (bucket, creds) = self.open("writing", key)?;
        let object = self.full(key);
        let action = bucket.put_object(Some(&creds), &object);
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes));
        let call = Call {
            method: http::Method::PUT,
            url: action.sign(SIGNED_FOR),
            headers: vec![("if-none-match", "*".into()), ("content-md5", md5)],
            body: Bytes::copy_from_slice(bytes),
        };
        match send(call) {
            Ok((status, _)) if status.is_success() => Ok(()),
            // 412: the key exists; 409: a concurrent conditional put won.
            Ok((status, _)) if status == 412 || status == 409 => Err(RecordsError::Exists {
                key: key.to_string(),
            }),
            Ok((status, body)) => Err(Self::err("writing", key, s3_error(status, &body))),
            Err(e) => Err(Self::err("writing", key, e)),
        }
    }

    pub fn list(&self, prefix: &str) -> Result<Vec<String>, RecordsError> {
        let (bucket, creds) = self.open("listing", prefix)?;
        let full = self.full(prefix);
        let base = self.full("");
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = bucket.list_objects_v2(Some(&creds));
            action.with_prefix(full.as_str());
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let call = Call {
                method: http::Method::GET,
                url: action.sign(SIGNED_FOR),
                headers: Vec::new(),
                body: Bytes::new(),
            };
            let (status, body) = send(call).map_err(|e| Self::err("listing", prefix, e))?;
            if !status.is_success() {
                return Err(Self::err("listing", prefix, s3_error(status, &body)));
            }
            let text = String::from_utf8_lossy(&body);
            let page = ListObjectsV2::parse_response(&text)
                .map_err(|e| Self::err("listing", prefix, e))?;
            keys.extend(
                page.contents
                    .into_iter()
                    .map(|o| o.key.strip_prefix(&base).unwrap_or(&o.key).to_string()),
            );
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(keys),
            }
        }
    }

    pub fn read(&self, key: &str) -> Result<Vec<u8>, RecordsError> {
        let (bucket, creds) = self.open("reading", key)?;
        let object = self.full(key);
        let action = bucket.get_object(Some(&creds), &object);
        let call = Call {
            method: http::Method::GET,
            url: action.sign(SIGNED_FOR),
            headers: Vec::new(),
            body: Bytes::new(),
        };
        match send(call) {
            Ok((status, body)) if status.is_success() => Ok(body.to_vec()),
            Ok((status, body)) => Err(Self::err("reading", key, s3_error(status, &body))),
            Err(e) => Err(Self::err("reading", key, e)),
        }
    }
}

/// S3's error code and message, without the request ids.
fn s3_error(status: http::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| {
        text.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|s| s.split(&format!("</{name}>")).next())
            .map(str::to_string)
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("S3 answered {status}: {c}: {m}"),
        _ => format!("S3 answered {status}"),
    }
}

/// Sends one request on a thread with its own runtime; the status and body.
fn send(call: Call) -> Result<(http::StatusCode, Bytes), String> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_webpki_roots()
                .https_or_http()
                .enable_http1()
                .build();
            let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
            let mut req = http::Request::builder()
                .method(call.method)
                .uri(call.url.as_str())
                .header("content-length", call.body.len());
            for (k, v) in &call.headers {
                req = req.header(*k, v);
            }
            let req = req.body(Full::new(call.body)).map_err(|e| e.to_string())?;
            let answer = tokio::time::timeout(TIMEOUT, async {
                let resp = client.request(req).await.map_err(|e| e.to_string())?;
                let status = resp.status();
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                Ok::<_, String>((status, body))
            })
            .await;
            answer.map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))?
        })
    })
    .join()
    .map_err(|_| "the S3 client stopped".to_string())?
}

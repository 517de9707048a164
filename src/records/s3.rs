//! Records in an S3-compatible bucket: `rusty-s3` signs each request
//! (SigV4 with the records' own credential, [`OWN_CREDENTIAL`], when it is
//! set, else `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN`, as `aws-actions/configure-aws-credentials` exports
//! them; a job that holds a customer's cloud role must use the records'
//! own, see [`Settings::own_credential`]), [`super::s3_http`]
//! sends it, retries it on S3's transient answers and bounds what it reads.
//!
//! Every put is conditional (`If-None-Match: *`: S3 answers 412 when the
//! key exists, so nothing is ever overwritten) and carries `Content-MD5`,
//! which a bucket with Object Lock and a default retention requires, and a
//! random write id as metadata ([`WRITE_ID`]). When a put is retried after
//! an attempt S3 may have carried out (a 500, an answer lost) and the retry
//! answers 412, the object is read back: the same bytes under the same
//! write id are this put's own (success); anything else is another
//! writer's (exists). Bytes alone could not tell: two rollout ticks in the
//! same second write the same event.
//!
//! Reads are bounded: a record by [`super::MAX_RECORD`], a list page by
//! [`MAX_LIST_PAGE`], a listing by [`MAX_PAGES`] pages and [`MAX_KEYS`]
//! keys, and a continuation token S3 gave before ends it with an error.
//! Many records are read [`READ_AHEAD`] at a time, in order
//! ([`Bucket::read_each`]).

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use md5::Digest as _;
use rusty_s3::{actions::ListObjectsV2, Bucket as S3Bucket, Credentials, S3Action, UrlStyle};

use super::s3_http::{self, Failure, Http, Request, Sent, MAX_ERROR_BODY};
use super::{RecordsError, MAX_RECORD};

/// How long a signed request stays valid: it is sent at once, and its
/// retries end within [`s3_http::PATIENCE`].
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// The metadata header with a put's random write id.
const WRITE_ID: &str = "x-amz-meta-fleetform-write";
/// The largest list page read: S3 answers at most 1,000 keys of at most
/// 1,024 bytes (about 1.5 MB of XML).
const MAX_LIST_PAGE: usize = 8 * 1024 * 1024;
/// The most pages and keys one listing reads.
pub const MAX_PAGES: usize = 2_000;
pub const MAX_KEYS: usize = 1_000_000;
/// Records read at once by [`Bucket::read_each`].
pub const READ_AHEAD: usize = 16;

#[derive(Debug, Clone)]
pub struct Settings {
    pub bucket: String,
    pub region: String,
    /// Without a trailing `/`.
    pub prefix: String,
    pub endpoint: Option<String>,
    pub path_style: bool,
    /// An extra CA bundle trusted for the endpoint (`records: ca_file:`).
    pub ca_file: Option<std::path::PathBuf>,
    /// The proxies and roots the client connects with.
    pub net: crate::net::Settings,
    /// The job holds a customer's cloud role (`identity:` in a dispatched
    /// plan or apply, or drift): records are written only with their own
    /// credential ([`OWN_CREDENTIAL`]), never with the `AWS_*` one, which
    /// is the customer's and must not reach the provider's bucket.
    pub own_credential: bool,
}

/// The records' own credential: the access key id, secret key and session
/// token, e.g. the outputs of a `configure-aws-credentials` step of the
/// records role with `output-credentials: true`
/// (`workflows/manager-deploy.yml`). `FLEETFORM_*`, so no child sees them.
pub const OWN_CREDENTIAL: [&str; 3] = [
    "FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID",
    "FLEETFORM_RECORDS_AWS_SECRET_ACCESS_KEY",
    "FLEETFORM_RECORDS_AWS_SESSION_TOKEN",
];

/// The credential to sign with: the records' own when its key id is set,
/// else (unless `own` is required) the `AWS_*` one. `Err` says what to set.
pub fn pick_credentials(
    own: bool,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, String> {
    let var = |k: &str| var(k).filter(|v| !v.is_empty());
    let [key, secret, token] = OWN_CREDENTIAL;
    if let Some(id) = var(key) {
        let secret = var(secret).ok_or_else(|| format!("{key} is set without {secret}"))?;
        return Ok(match var(token) {
            Some(t) => Credentials::new_with_token(id, secret, t),
            None => Credentials::new(id, secret),
        });
    }
    if own {
        return Err(format!(
            "this job holds a customer's cloud role (identity:), which never writes the records: set {key} and {secret} (and {token}) to the records' own credential, e.g. from a configure-aws-credentials step of the records role with output-credentials: true, as workflows/manager-deploy.yml does"
        ));
    }
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(match var("AWS_SESSION_TOKEN") {
            Some(t) => Credentials::new_with_token(id, secret, t),
            None => Credentials::new(id, secret),
        }),
        _ => Err(format!(
            "no AWS credentials: set {key} and {secret} (the records' own), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), e.g. with aws-actions/configure-aws-credentials"
        )),
    }
}

#[derive(Debug, Clone)]
pub struct Bucket {
    settings: Settings,
    /// The client of the `*_async` operations, made at the first and
    /// reused (its connections too) by every later one: they run on the
    /// caller's runtime, which the connections belong to.
    shared: Shared,
}

/// [`Bucket::shared`]: one client, made once.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::OnceLock<Result<Http, String>>>);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

/// The bucket with the credentials: signs requests for keys under the
/// prefix.
#[derive(Clone)]
struct Signer {
    bucket: S3Bucket,
    creds: Credentials,
    prefix: String,
}

impl Signer {
    fn object(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn get(&self, key: &str) -> Request {
        let object = self.object(key);
        Request {
            method: http::Method::GET,
            url: self
                .bucket
                .get_object(Some(&self.creds), &object)
                .sign(SIGNED_FOR),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    fn put(&self, key: &str, bytes: &Bytes, write_id: &str) -> Request {
        let object = self.object(key);
        let mut action = self.bucket.put_object(Some(&self.creds), &object);
        // S3 refuses `x-amz-*` headers a presigned URL does not sign.
        action.headers_mut().insert(WRITE_ID, write_id);
        let md5 = content_md5(bytes);
        Request {
            method: http::Method::PUT,
            url: action.sign(SIGNED_FOR),
            headers: vec![
                ("if-none-match", "*".into()),
                ("content-md5", md5),
                (WRITE_ID, write_id.to_string()),
            ],
            body: bytes.clone(),
        }
    }

    /// A HEAD (`delete` false) or a DELETE of `key` (of its version
    /// `version`, when the bucket keeps versions).
    fn head_or_delete(&self, key: &str, delete: bool, version: Option<&str>) -> Request {
        let object = self.object(key);
        let (method, url) = match delete {
            false => (
                http::Method::HEAD,
                self.bucket
                    .head_object(Some(&self.creds), &object)
                    .sign(SIGNED_FOR),
            ),
            true => {
                let mut a = self.bucket.delete_object(Some(&self.creds), &object);
                if let Some(v) = version {
                    a.query_mut().insert("versionId", v);
                }
                (http::Method::DELETE, a.sign(SIGNED_FOR))
            }
        };
        Request {
            method,
            url,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    fn list(&self, full_prefix: &str, after: Option<&str>, token: Option<&str>) -> Request {
        let mut action = self.bucket.list_objects_v2(Some(&self.creds));
        action.with_prefix(full_prefix);
        if let Some(a) = after {
            action.with_start_after(a);
        }
        if let Some(t) = token {
            action.with_continuation_token(t);
        }
        Request {
            method: http::Method::GET,
            url: action.sign(SIGNED_FOR),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

/// The `Content-MD5` header of `bytes` (base64 of their MD5), with which
/// S3 refuses a body changed on the way.
pub(super) fn content_md5(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

pub(super) fn io(what: &'static str, key: &str, reason: impl std::fmt::Display) -> RecordsError {
    RecordsError::Io {
        what,
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// The error of a request that ended without the answer hoped for.
pub(super) fn failed(what: &'static str, key: &str, sent: &Sent) -> RecordsError {
    let reason = match &sent.answer {
        Ok(a) => a.describe(),
        Err(f) => f.to_string(),
    };
    io(what, key, format!("{reason}{}", sent.note()))
}

impl Bucket {
    pub fn new(settings: Settings) -> Bucket {
        Bucket {
            settings,
            shared: Shared::default(),
        }
    }

    /// The client the `*_async` operations share.
    fn shared_http(&self, what: &'static str, key: &str) -> Result<Http, RecordsError> {
        let made = self
            .shared
            .0
            .get_or_init(|| s3_http::client(&self.settings.net, self.settings.ca_file.as_deref()));
        made.clone().map_err(|e| io(what, key, e))
    }

    /// [`Bucket::create`] on the caller's runtime (no thread of its own).
    pub async fn create_async(&self, key: &str, bytes: &[u8]) -> Result<(), RecordsError> {
        let signer = self.open("writing", key)?;
        let http = self.shared_http("writing", key)?;
        create(&http, &signer, key, Bytes::copy_from_slice(bytes)).await
    }

    /// [`Bucket::list`] on the caller's runtime.
    pub async fn list_async(&self, prefix: &str) -> Result<Vec<String>, RecordsError> {
        let signer = self.open("listing", prefix)?;
        let http = self.shared_http("listing", prefix)?;
        list(&http, &signer, prefix).await
    }

    /// [`Bucket::read`] on the caller's runtime.
    pub async fn read_async(&self, key: &str) -> Result<Vec<u8>, RecordsError> {
        let signer = self.open("reading", key)?;
        let http = self.shared_http("reading", key)?;
        get(&http, &signer, key).await
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.settings.bucket, self.settings.prefix)
    }

    /// The bucket and the credentials from the environment.
    fn open(&self, what: &'static str, key: &str) -> Result<Signer, RecordsError> {
        let s = &self.settings;
        let endpoint = s
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", s.region));
        let endpoint = url::Url::parse(&endpoint).map_err(|e| io(what, key, e))?;
        let style = if s.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = S3Bucket::new(endpoint, style, s.bucket.clone(), s.region.clone())
            .map_err(|e| io(what, key, e))?;
        let creds = pick_credentials(s.own_credential, |k| std::env::var(k).ok())
            .map_err(|e| io(what, key, e))?;
        Ok(Signer {
            bucket,
            creds,
            prefix: s.prefix.clone(),
        })
    }

    pub fn create(&self, key: &str, bytes: &[u8]) -> Result<(), RecordsError> {
        let signer = self.open("writing", key)?;
        let (owned, bytes) = (key.to_string(), Bytes::copy_from_slice(bytes));
        let (net, ca) = (self.settings.net.clone(), self.settings.ca_file.clone());
        s3_http::run(net, ca, move |http| async move {
            create(&http, &signer, &owned, bytes).await
        })
        .map_err(|e| io("writing", key, e))?
    }

    pub fn list(&self, prefix: &str) -> Result<Vec<String>, RecordsError> {
        let signer = self.open("listing", prefix)?;
        let owned = prefix.to_string();
        let (net, ca) = (self.settings.net.clone(), self.settings.ca_file.clone());
        s3_http::run(net, ca, move |http| async move {
            list(&http, &signer, &owned).await
        })
        .map_err(|e| io("listing", prefix, e))?
    }

    /// The keys under `prefix` that sort after `after`.
    pub fn list_after(&self, prefix: &str, after: &str) -> Result<Vec<String>, RecordsError> {
        let signer = self.open("listing", prefix)?;
        let (owned, after) = (prefix.to_string(), after.to_string());
        let (net, ca) = (self.settings.net.clone(), self.settings.ca_file.clone());
        s3_http::run(net, ca, move |http| async move {
            list_after(&http, &signer, &owned, Some(&after)).await
        })
        .map_err(|e| io("listing", prefix, e))?
    }

    pub fn read(&self, key: &str) -> Result<Vec<u8>, RecordsError> {
        let signer = self.open("reading", key)?;
        let owned = key.to_string();
        let (net, ca) = (self.settings.net.clone(), self.settings.ca_file.clone());
        s3_http::run(net, ca, move |http| async move {
            get(&http, &signer, &owned).await
        })
        .map_err(|e| io("reading", key, e))?
    }

    /// The current version of `key` and what Object Lock holds it by
    /// (S3 answers a HEAD with them: `x-amz-version-id`,
    /// `x-amz-object-lock-mode`, `-retain-until-date`, `-legal-hold`).
    pub fn held(&self, key: &str) -> Result<super::delete::Held, RecordsError> {
        let signer = self.open("reading the lock of", key)?;
        let owned = key.to_string();
        let (net, ca) = (self.settings.net.clone(), self.settings.ca_file.clone());
        s3_http::run(net, ca, move |http| async move {
            let sent = s3_http::send(
                &http,
                &signer.head_or_delete(&owned, false, None),
                MAX_RECORD,
            )
            .await;
            match &sent.answer {
                Ok(a) if a.status.is_success() => {
                    let h = |n: &str| {
                        a.headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    Ok(super::delete::Held {
                        version: h("x-amz-version-id").filter(|v| v != "null"),
                        mode: h("x-amz-object-lock-mode"),
                        until: h("x-amz-object-lock-retain-until-date"),
                        legal_hold: h("x-amz-object-lock-legal-hold").as_deref() == Some("ON"),
                    })
                }
                _ => Err(failed("reading the lock of", &owned, &sent)),
            }
        })
        .map_err(|e| io("reading the lock of", key, e))?
    }

    /// Deletes `key` (its version `version`: gone, not hidden behind a
    /// delete marker).
    pub fn delete(&self, key: &str, version: Option<&str>) -> Result<(), RecordsError> {
        let signer = self.open("deleting", key)?;
        let (owned, version) = (key.to_string(), version.map(str::to_string));
        let (net, ca) = (self.settings.net.clone(), self.settings.ca_file.clone());
        s3_http::run(net, ca, move |http| async move {
            let req = signer.head_or_delete(&owned, true, version.as_deref());
            let sent = s3_http::send(&http, &req, MAX_ERROR_BODY).await;
            match &sent.answer {
                Ok(a) if a.status.is_success() || a.status == 404 => Ok(()),
                _ => Err(failed("deleting", &owned, &sent)),
            }
        })
        .map_err(|e| io("deleting", key, e))?
    }

    /// Reads `keys`, [`READ_AHEAD`] at a time, and hands each record to
    /// `each` in the order of `keys`; stops at the first error, a read's
    /// (the first in that order) or `each`'s. At most `READ_AHEAD` + 3
    /// records are in memory at once: those in flight, one being handed
    /// over, one waiting in the channel and the one `each` has.
    pub fn read_each(
        &self,
        keys: &[String],
        mut each: impl FnMut(&str, Vec<u8>) -> Result<(), RecordsError>,
    ) -> Result<(), RecordsError> {
        let Some(first) = keys.first() else {
            return Ok(());
        };
        let signer = self.open("reading", first)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let owned = keys.to_vec();
        // Not joined: dropping `rx` on an early return ends it at its next
        // record.
        let (net, ca) = (self.settings.net.clone(), self.settings.ca_file.clone());
        std::thread::spawn(move || {
            match s3_http::runtime().and_then(|rt| Ok((rt, s3_http::client(&net, ca.as_deref())?)))
            {
                Ok((rt, http)) => rt.block_on(read_ahead(http, signer, owned, tx)),
                Err(e) => {
                    let _ = tx.send(Err(io("reading", &owned[0], e)));
                }
            }
        });
        for key in keys {
            match rx.recv() {
                Ok(Ok(bytes)) => each(key, bytes)?,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io("reading", key, "the S3 client stopped")),
            }
        }
        Ok(())
    }
}

/// A random write id: 128 bits, hex.
fn write_id() -> Result<String, String> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| format!("no randomness for the write id: {e}"))?;
    Ok(crate::util::fs::hex(&id))
}

async fn create(http: &Http, signer: &Signer, key: &str, bytes: Bytes) -> Result<(), RecordsError> {
    let id = write_id().map_err(|e| io("writing", key, e))?;
    let sent = s3_http::send(http, &signer.put(key, &bytes, &id), MAX_ERROR_BODY).await;
    match &sent.answer {
        Ok(a) if a.status.is_success() => Ok(()),
        // 412: the key exists; 409: a concurrent conditional put won. After
        // an attempt S3 may have carried out, the object may be this put's.
        Ok(a) if a.status == 412 || a.status == 409 => {
            if sent.retried {
                read_back(http, signer, key, &bytes, &id).await
            } else {
                Err(RecordsError::Exists {
                    key: key.to_string(),
                })
            }
        }
        _ => Err(failed("writing", key, &sent)),
    }
}

/// Whether the object at `key` is the one this put (`id`) wrote.
async fn read_back(
    http: &Http,
    signer: &Signer,
    key: &str,
    bytes: &[u8],
    id: &str,
) -> Result<(), RecordsError> {
    let exists = || RecordsError::Exists {
        key: key.to_string(),
    };
    // A larger object is not this put's: read no more than its size.
    let sent = s3_http::send(http, &signer.get(key), bytes.len()).await;
    match &sent.answer {
        Ok(a) if a.status.is_success() => {
            let own = a.headers.get(WRITE_ID).and_then(|v| v.to_str().ok()) == Some(id);
            if own && a.body == bytes {
                Ok(())
            } else {
                Err(exists())
            }
        }
        Ok(a) if a.status == 404 => Err(exists()),
        Err(Failure::TooLarge { .. }) => Err(exists()),
        _ => {
            let e = failed("reading back", key, &sent);
            Err(io(
                "writing",
                key,
                format!("S3 refused a retried put as the key exists, and whether this put wrote it is unknown: {e}"),
            ))
        }
    }
}

async fn get(http: &Http, signer: &Signer, key: &str) -> Result<Vec<u8>, RecordsError> {
    let sent = s3_http::send(http, &signer.get(key), MAX_RECORD).await;
    match sent.answer {
        Ok(a) if a.status.is_success() => Ok(a.body.to_vec()),
        Err(Failure::TooLarge { announced, .. }) => Err(io(
            "reading",
            key,
            format!(
                "the object is larger than a record may be ({} MiB{}); fleetform never writes one that large: check what wrote it and the bucket's endpoint",
                MAX_RECORD >> 20,
                announced
                    .map(|n| format!(", S3 announced {n} bytes"))
                    .unwrap_or_default()
            ),
        )),
        _ => Err(failed("reading", key, &sent)),
    }
}

async fn list(http: &Http, signer: &Signer, prefix: &str) -> Result<Vec<String>, RecordsError> {
    list_after(http, signer, prefix, None).await
}

/// The keys under `prefix` that sort after `after` (S3's `start-after`).
async fn list_after(
    http: &Http,
    signer: &Signer,
    prefix: &str,
    after: Option<&str>,
) -> Result<Vec<String>, RecordsError> {
    let full = signer.object(prefix);
    let after = after.map(|a| signer.object(a));
    let base = signer.object("");
    let mut keys = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut token: Option<String> = None;
    for page in 1..=MAX_PAGES {
        let request = signer.list(&full, after.as_deref(), token.as_deref());
        let sent = s3_http::send(http, &request, MAX_LIST_PAGE).await;
        let body = match &sent.answer {
            Ok(a) if a.status.is_success() => &a.body,
            _ => return Err(failed("listing", prefix, &sent)),
        };
        let text = String::from_utf8_lossy(body);
        let parsed = ListObjectsV2::parse_response(&text)
            .map_err(|e| io("listing", prefix, format!("page {page}: {e}")))?;
        keys.extend(
            parsed
                .contents
                .into_iter()
                .map(|o| o.key.strip_prefix(&base).unwrap_or(&o.key).to_string()),
        );
        if keys.len() > MAX_KEYS {
            return Err(io(
                "listing",
                prefix,
                format!("more than {MAX_KEYS} records; fleetform reads at most that many at once: keep older records under another prefix"),
            ));
        }
        let Some(next) = parsed.next_continuation_token else {
            return Ok(keys);
        };
        if !seen.insert(next.clone()) {
            return Err(io(
                "listing",
                prefix,
                format!("S3 answered page {page} with a continuation token it gave before; following it would never end"),
            ));
        }
        token = Some(next);
    }
    Err(io(
        "listing",
        prefix,
        format!("S3 was still answering \"more\" after {MAX_PAGES} pages; fleetform reads at most that many in one listing"),
    ))
}

/// Reads `keys` with up to [`READ_AHEAD`] requests at once and sends each
/// result down `tx` in the order of `keys`, ending after the first error
/// or when the receiver is gone. (`tx.send` blocks this runtime while the
/// receiver is busy; the requests in flight wait, nothing is lost.)
async fn read_ahead(
    http: Http,
    signer: Signer,
    keys: Vec<String>,
    tx: SyncSender<Result<Vec<u8>, RecordsError>>,
) {
    let start = |key: String| {
        let (http, signer) = (http.clone(), signer.clone());
        let task = tokio::spawn({
            let key = key.clone();
            async move { get(&http, &signer, &key).await }
        });
        (key, task)
    };
    let mut keys = keys.into_iter();
    let mut window: VecDeque<_> = keys.by_ref().take(READ_AHEAD).map(start).collect();
    while let Some((key, task)) = window.pop_front() {
        let result = task
            .await
            .unwrap_or_else(|e| Err(io("reading", &key, format!("the S3 client stopped: {e}"))));
        if let Some(next) = keys.next() {
            window.push_back(start(next));
        }
        let end = result.is_err();
        if tx.send(result).is_err() || end {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const CUSTOMER: [(&str, &str); 3] = [
        ("AWS_ACCESS_KEY_ID", "customer-id"),
        ("AWS_SECRET_ACCESS_KEY", "customer-secret"),
        ("AWS_SESSION_TOKEN", "customer-token"),
    ];

    /// A job holding a customer's role never signs a record with it.
    #[test]
    fn a_customer_role_never_writes_the_records() {
        let e = pick_credentials(true, env(&CUSTOMER)).unwrap_err();
        assert!(e.contains("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID"), "{e}");
        assert!(!e.contains("customer-"), "{e}");
        let mut both = CUSTOMER.to_vec();
        both.extend([
            ("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID", "records-id"),
            ("FLEETFORM_RECORDS_AWS_SECRET_ACCESS_KEY", "records-secret"),
            ("FLEETFORM_RECORDS_AWS_SESSION_TOKEN", "records-token"),
        ]);
        for own in [true, false] {
            let c = pick_credentials(own, env(&both)).unwrap();
            assert_eq!(
                (c.key(), c.secret(), c.token()),
                ("records-id", "records-secret", Some("records-token"))
            );
        }
    }

    #[test]
    fn without_a_customer_role_the_job_credential_serves() {
        let c = pick_credentials(false, env(&CUSTOMER)).unwrap();
        assert_eq!(c.key(), "customer-id");
        let e = pick_credentials(false, env(&[])).unwrap_err();
        assert!(e.starts_with("no AWS credentials"), "{e}");
        let half = [("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID", "records-id")];
        let e = pick_credentials(false, env(&half)).unwrap_err();
        assert!(
            e.contains("without FLEETFORM_RECORDS_AWS_SECRET_ACCESS_KEY"),
            "{e}"
        );
    }
}

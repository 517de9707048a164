//! ETags kept between runs, for the commands that run on a schedule
//! (`drift --etag-cache FILE`, `doctor --etag-cache FILE`, `sync
//! --etag-cache FILE`; `poll` keeps its two reads' ETags in its state
//! file). Every GET of a client given the cache sends the ETag of the
//! URL's last 200 answer as `If-None-Match`; GitHub answers 304 Not
//! Modified when nothing changed, which does not count against the primary
//! rate limit, and the body is taken from the cache.
//!
//! The file holds what GitHub answered to reads, by URL, and nothing of
//! the requests (no token, no header): `{"v": 1, "entries": {URL: {"etag",
//! "body", "link"}}}`. With the manager's artifact secret
//! (`FLEETFORM_ARTIFACT_KEY`) it is sealed: `FFETAG1\n`, a 12-byte random
//! nonce, then that JSON encrypted with ChaCha20-Poly1305 under a key
//! derived from the secret with HKDF-SHA256 (salt
//! `fleetform-etag-cache-v1`, info the command: never a plan bundle's key)
//! and the command as associated data (`etag-cache/drift`), so one
//! command's file is not taken for another's. A sealed file that does not
//! open (another key or command, changed, truncated, or a clear file from
//! before) is read as empty, with a note: a run never trusts a body it
//! did not seal itself. Without the secret the file is kept in clear, as
//! before, and the command notes that once.
//!
//! It is written atomically (a temporary file renamed over it, which
//! replaces a symlink rather than writing through it) and keeps only the
//! URLs the run read, so it stays the size of one run's reads. A file that
//! is missing, a symlink, over [`MAX_BYTES`] or not such a file is read as
//! empty: the run then reads everything again. Two clients of one command
//! (e.g. drift's files and issues tokens) share one cache: a 304 is only
//! given to a token that may read the URL.
//!
//! # As a layer
//!
//! The ETag cache ([`EtagCache`]) as a layer: a GET of a client given the
//! cache sends the ETag of its URL's last answer as `If-None-Match`, and
//! GitHub's 304 Not Modified (which does not count against the primary
//! rate limit) is answered with the kept body, as a 200 with the 304's
//! own headers and the kept `Link`. A 200 with an `ETag` and a JSON body
//! is kept for the next run. A 304 for a URL whose body is not kept (it
//! cannot happen unless the cache file changed under the run) is sent once
//! more without the ETag. A request that carries its own `If-None-Match`
//! (`poll`'s, which keeps its ETags in its state file) is passed through,
//! as is every request of a client without a cache.
//!
//! Below the retries: each attempt is one conditional request. Above the
//! read (`read`): the body it keeps is whole.

use super::read::{Read, ReadBody};
use crate::dispatch::seal::{self, ArtifactKey, SealError, Unopened};
use crate::github::retry::Headers;
use crate::util::fs::FsError;
use bytes::Bytes;
use http_body_util::Full;
use ring::aead::LessSafeKey;
use serde_json::{json, Map, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use tower::ServiceExt as _;

/// The first bytes of a sealed cache file.
const MAGIC: &[u8] = b"FFETAG1\n";

/// The largest cache file read.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// One command's ETag cache.
pub struct EtagCache {
    path: PathBuf,
    /// The key and associated data it is sealed with; `None`: kept in clear.
    seal: Option<(LessSafeKey, Vec<u8>)>,
    /// What to tell about the file read (shown once, with the save).
    notes: Vec<String>,
    inner: Mutex<Entries>,
}

impl std::fmt::Debug for EtagCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtagCache")
            .field("path", &self.path)
            .field("sealed", &self.seal.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Entries {
    /// What the earlier run kept, by URL.
    earlier: Map<String, Value>,
    /// What this run read (kept for the next).
    now: Map<String, Value>,
}

impl EtagCache {
    /// `command`'s cache at `path`, sealed with `FLEETFORM_ARTIFACT_KEY`
    /// when it is set. A key shorter than 32 characters is an error (a
    /// cache meant to be sealed is never kept in clear).
    pub fn load(path: &Path, command: &str) -> Result<EtagCache, SealError> {
        let key = match ArtifactKey::from_env() {
            Ok(key) => Some(key),
            Err(SealError::NoKey) => None,
            Err(e) => return Err(e),
        };
        Ok(EtagCache::open(path, command, key.as_ref()))
    }

    /// `command`'s cache at `path`, sealed with `key` if given; see the
    /// module docs for what is read as empty.
    pub fn open(path: &Path, command: &str, key: Option<&ArtifactKey>) -> EtagCache {
        let shown = crate::config::display_path(path).display().to_string();
        let seal = key.map(|k| {
            let key = k.derive(b"fleetform-etag-cache-v1", &[command.as_bytes()]);
            (key, format!("etag-cache/{command}").into_bytes())
        });
        let mut notes = Vec::new();
        let bytes = std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.is_file() && m.len() <= MAX_BYTES)
            .and_then(|_| crate::util::fs::read_input(path).ok());
        let plain = match (&seal, bytes) {
            (_, None) => None,
            (None, Some(b)) => Some(b),
            (Some((key, aad)), Some(b)) => match seal::open_bytes(key, MAGIC, aad, &b) {
                Ok(plain) => Some(plain),
                Err(why) => {
                    notes.push(unopened_note(&shown, command, &why));
                    None
                }
            },
        };
        if seal.is_none() {
            notes.push(format!(
                "the ETag cache {shown} is kept unsealed (the URLs and bodies of GitHub's answers in clear): set FLEETFORM_ARTIFACT_KEY (the manager's artifact secret, at least 32 random characters) to seal it"
            ));
        }
        let earlier = plain
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|v| v.get("v") == Some(&json!(1)))
            .and_then(|mut v| match v.get_mut("entries").map(Value::take) {
                Some(Value::Object(m)) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        EtagCache {
            path: path.to_path_buf(),
            seal,
            notes,
            inner: Mutex::new(Entries {
                earlier,
                now: Map::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ETag to send for `url`, if an answer of it is kept.
    pub(super) fn etag(&self, url: &str) -> Option<String> {
        let e = self.lock();
        let entry = e.now.get(url).or_else(|| e.earlier.get(url))?;
        entry.get("etag")?.as_str().map(str::to_string)
    }

    /// The kept body and `Link` of `url` (GitHub said 304), kept for the
    /// next run too.
    pub(super) fn not_modified(&self, url: &str) -> Option<(Value, Option<String>)> {
        let mut e = self.lock();
        let entry = match e.now.get(url) {
            Some(v) => v.clone(),
            None => e.earlier.get(url)?.clone(),
        };
        let link = entry
            .get("link")
            .and_then(Value::as_str)
            .map(str::to_string);
        let body = entry.get("body").cloned().unwrap_or(Value::Null);
        e.now.insert(url.to_string(), entry);
        Some((body, link))
    }

    /// Keeps a 200 answer of `url`.
    pub(super) fn keep(&self, url: &str, etag: &str, body: &Value, link: Option<&str>) {
        let entry = json!({ "etag": etag, "body": body, "link": link });
        self.lock().now.insert(url.to_string(), entry);
    }

    /// Writes what this run read (sealed when there is a key), atomically.
    pub fn save(&self) -> Result<(), SaveError> {
        let entries = std::mem::take(&mut self.lock().now);
        let bytes = serde_json::to_vec(&json!({ "v": 1, "entries": entries })).unwrap_or_default();
        let bytes = match &self.seal {
            Some((key, aad)) => seal::seal_bytes(key, MAGIC, aad, bytes)?,
            None => bytes,
        };
        if bytes.len() as u64 > MAX_BYTES {
            return Err(SaveError::TooLarge(bytes.len()));
        }
        Ok(crate::util::fs::write_atomic(&self.path, &bytes)?)
    }

    /// The notes to show once: what was read (a file that did not open,
    /// or kept unsealed), then [`EtagCache::save`]'s failure (the next run
    /// then reads everything again).
    pub fn save_or_note(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if let Err(e) = self.save() {
            notes.push(format!(
                "the ETag cache was not kept ({e}); the next run reads everything again"
            ));
        }
        notes
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Why the cache was not kept.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Larger than a run reads back ([`MAX_BYTES`]): not written, so the
    /// next run is not handed a file it would read as empty.
    #[error("{0} bytes, over the {MAX_BYTES}-byte limit a run reads back")]
    TooLarge(usize),
}

fn unopened_note(shown: &str, command: &str, why: &Unopened) -> String {
    let what = match why {
        Unopened::NotSealed => "is not sealed (kept in clear before, or not a cache)",
        Unopened::Forged => "does not open with FLEETFORM_ARTIFACT_KEY (sealed with another key or for another command, or changed)",
    };
    format!("the ETag cache {shown} {what}: read as empty, so `{command}` reads everything again and keeps a sealed one")
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The cache (if the client has one) and the count of 304s it answered.
#[derive(Clone, Debug)]
pub(in crate::github) struct EtagLayer {
    cache: Option<Arc<EtagCache>>,
    not_modified: Arc<AtomicUsize>,
}

impl EtagLayer {
    pub(in crate::github) fn new(
        cache: Option<Arc<EtagCache>>,
        not_modified: Arc<AtomicUsize>,
    ) -> Self {
        EtagLayer {
            cache,
            not_modified,
        }
    }
}

impl<S> tower::Layer<S> for EtagLayer {
    type Service = Etag<S>;

    fn layer(&self, inner: S) -> Etag<S> {
        Etag {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`EtagLayer`].
#[derive(Clone)]
pub(in crate::github) struct Etag<S> {
    inner: S,
    layer: EtagLayer,
}

type Answer = http::Response<ReadBody>;

impl<S, Q> tower::Service<http::Request<Q>> for Etag<S>
where
    S: tower::Service<http::Request<Q>, Response = Answer> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    Q: Default + Send + 'static,
{
    type Response = Answer;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<Q>) -> Self::Future {
        let cache = match &self.layer.cache {
            Some(cache)
                if request.method() == http::Method::GET
                    && !request.headers().contains_key(http::header::IF_NONE_MATCH) =>
            {
                cache.clone()
            }
            _ => {
                let answer = self.inner.call(request);
                return Box::pin(async move { answer.await.map_err(Into::into) });
            }
        };
        let url = request.uri().to_string();
        let etag = cache.etag(&url);
        // The same GET without `If-None-Match` (added below), if needed.
        let again = etag
            .as_ref()
            .map(|_| super::wire::again(&request, Q::default()));
        if let Some(v) = etag
            .as_deref()
            .and_then(|e| http::HeaderValue::from_str(e).ok())
        {
            request.headers_mut().insert(http::header::IF_NONE_MATCH, v);
        }
        // The ready service answers this request; a clone stays for the
        // next call (and for sending this one again).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let not_modified = self.layer.not_modified.clone();
        Box::pin(async move {
            let answer = inner.call(request).await.map_err(Into::into)?;
            match (answer.status().as_u16(), again) {
                (304, Some(again)) => {
                    not_modified.fetch_add(1, Ordering::SeqCst);
                    match cache.not_modified(&url) {
                        Some((body, link)) => Ok(from_cache(answer, &body, link)),
                        None => inner
                            .ready()
                            .await
                            .map_err(Into::into)?
                            .call(again)
                            .await
                            .map_err(Into::into),
                    }
                }
                (200..=299, _) => {
                    keep(&cache, &url, &answer);
                    Ok(answer)
                }
                _ => Ok(answer),
            }
        })
    }
}

/// A 304 answered with the kept body and `Link`, as a 200 with the 304's
/// other headers (the rate limit's among them).
fn from_cache(answer: Answer, body: &serde_json::Value, link: Option<String>) -> Answer {
    let (mut parts, _) = answer.into_parts();
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    parts.status = http::StatusCode::OK;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.remove(http::header::LINK);
    if let Some(v) = link.and_then(|l| http::HeaderValue::from_str(&l).ok()) {
        parts.headers.insert(http::header::LINK, v);
    }
    parts.extensions.insert(Read(bytes.clone()));
    http::Response::from_parts(parts, Full::new(bytes))
}

/// Keeps a 2xx answer with an `ETag` and a JSON body for the next run.
fn keep(cache: &EtagCache, url: &str, answer: &Answer) {
    let headers = Headers::of(answer.headers());
    let (Some(etag), Some(Read(bytes))) = (&headers.etag, answer.extensions().get::<Read>()) else {
        return;
    };
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(bytes) {
        cache.keep(url, etag, &body, headers.link.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_the_run_read_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etags.json");
        let c = EtagCache::open(&path, "drift", None);
        assert_eq!(c.etag("u1"), None);
        c.keep("u1", "\"a\"", &json!([1]), Some("<n>; rel=\"next\""));
        c.keep("u2", "\"b\"", &json!({}), None);
        c.save().unwrap();

        let c = EtagCache::open(&path, "drift", None);
        assert_eq!(c.etag("u1").as_deref(), Some("\"a\""));
        let (body, link) = c.not_modified("u1").unwrap();
        assert_eq!(body, json!([1]));
        assert_eq!(link.as_deref(), Some("<n>; rel=\"next\""));
        c.save().unwrap();
        // u2 was not read by the second run: gone.
        let c = EtagCache::open(&path, "drift", None);
        assert!(c.etag("u1").is_some());
        assert_eq!(c.etag("u2"), None);
    }

    #[test]
    fn a_symlink_or_a_bad_file_is_read_as_empty_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, r#"{"v":1,"entries":{"u":{"etag":"x"}}}"#).unwrap();
        let path = dir.path().join("etags.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let c = EtagCache::open(&path, "drift", None);
        assert_eq!(c.etag("u"), None);
        c.keep("v", "\"e\"", &json!(1), None);
        c.save().unwrap();
        // Not written through the link.
        assert!(std::fs::read_to_string(&target).unwrap().contains("\"u\""));
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());

        std::fs::write(&path, "not json").unwrap();
        assert_eq!(EtagCache::open(&path, "drift", None).etag("v"), None);
    }

    fn key(s: &str) -> ArtifactKey {
        ArtifactKey::new(format!("{s}-test-key-0123456789abcdefghijklmnop").as_bytes()).unwrap()
    }

    /// A sealed drift cache at `path` holding one read of a customer's file.
    fn sealed(path: &Path, k: &ArtifactKey) -> Vec<u8> {
        let c = EtagCache::open(path, "drift", Some(k));
        c.keep(
            URL,
            "\"etag-1\"",
            &json!({"content": "max_instances: 7"}),
            None,
        );
        assert_eq!(c.save_or_note(), Vec::<String>::new());
        std::fs::read(path).unwrap()
    }

    const URL: &str = "https://api.github.com/repos/acme-corp/acme-infra/contents/variables.yml";

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn a_sealed_cache_round_trips_and_holds_nothing_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etags.json");
        let k = key("k");
        let bytes = sealed(&path, &k);
        assert!(
            EtagCache::open(&dir.path().join("none"), "drift", Some(&k))
                .save_or_note()
                .is_empty(),
            "no note for a missing file"
        );
        assert!(bytes.starts_with(MAGIC));
        for clear in [
            "acme-corp",
            "acme-infra",
            "max_instances",
            "etag-1",
            "entries",
        ] {
            assert!(!contains(&bytes, clear), "{clear} in clear");
        }
        let c = EtagCache::open(&path, "drift", Some(&k));
        assert_eq!(c.etag(URL).as_deref(), Some("\"etag-1\""));
        let (body, _) = c.not_modified(URL).unwrap();
        assert_eq!(body["content"], "max_instances: 7");
        assert!(c.save_or_note().is_empty());
        // Sealed anew with a fresh nonce, still readable.
        let again = std::fs::read(&path).unwrap();
        assert_ne!(again, bytes);
        assert!(EtagCache::open(&path, "drift", Some(&k))
            .etag(URL)
            .is_some());
    }

    #[test]
    fn a_cache_that_does_not_open_is_read_as_empty_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etags.json");
        let k = key("k");
        let good = sealed(&path, &k);
        let mut flipped = good.clone();
        let mid = good.len() / 2;
        flipped[mid] ^= 1;
        let clear = format!(r#"{{"v":1,"entries":{{"{URL}":{{"etag":"\"x\"","body":1}}}}}}"#);
        let cases: [(&str, Vec<u8>, ArtifactKey, &str); 5] = [
            ("another key", good.clone(), key("x"), "drift"),
            ("another command", good.clone(), k.clone(), "doctor"),
            ("a flipped byte", flipped, k.clone(), "drift"),
            (
                "truncated",
                good[..good.len() - 1].to_vec(),
                k.clone(),
                "drift",
            ),
            (
                "a clear file from before",
                clear.into_bytes(),
                k.clone(),
                "drift",
            ),
        ];
        for (what, bytes, kk, command) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let c = EtagCache::open(&path, command, Some(&kk));
            assert_eq!(c.etag(URL), None, "{what}: not trusted");
            assert!(c.not_modified(URL).is_none(), "{what}");
            let notes = c.save_or_note();
            assert_eq!(notes.len(), 1, "{what}: {notes:?}");
            assert!(notes[0].contains("read as empty"), "{what}: {notes:?}");
            assert!(!notes[0].contains(&"k".repeat(32)), "{what}: no key");
        }
        // The right key still opens what the good one wrote over.
        std::fs::write(&path, &good).unwrap();
        assert!(EtagCache::open(&path, "drift", Some(&k))
            .etag(URL)
            .is_some());
        // A file shorter than its nonce.
        std::fs::write(&path, b"FFETAG1\nshort").unwrap();
        assert_eq!(EtagCache::open(&path, "drift", Some(&k)).etag(URL), None);
    }

    #[test]
    fn without_a_key_the_cache_is_kept_in_clear_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etags.json");
        let c = EtagCache::open(&path, "sync", None);
        c.keep(URL, "\"a\"", &json!(1), None);
        let notes = c.save_or_note();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("unsealed"), "{notes:?}");
        assert!(notes[0].contains("FLEETFORM_ARTIFACT_KEY"), "{notes:?}");
        assert!(contains(&std::fs::read(&path).unwrap(), "acme-infra"));
        // A sealed file is not read without the key.
        std::fs::remove_file(&path).unwrap();
        sealed(&path, &key("k"));
        assert_eq!(EtagCache::open(&path, "drift", None).etag(URL), None);
    }

    use http_body_util::BodyExt as _;
    use std::convert::Infallible;
    use std::sync::Mutex;
    use tower::Layer as _;

    /// An answer: status, `ETag`, body.
    type Canned = (u16, Option<&'static str>, &'static str);

    /// Answers with the queued (status, etag, body) in turn, and keeps
    /// each request's `If-None-Match`.
    #[derive(Clone, Default)]
    struct GitHub {
        answers: Arc<Mutex<Vec<Canned>>>,
        seen: Arc<Mutex<Vec<Option<String>>>>,
    }

    impl tower::Service<http::Request<()>> for GitHub {
        type Response = Answer;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Answer, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<()>) -> Self::Future {
            let inm = request
                .headers()
                .get(http::header::IF_NONE_MATCH)
                .map(|v| v.to_str().unwrap().to_string());
            self.seen.lock().unwrap().push(inm);
            let (status, etag, body) = self.answers.lock().unwrap().remove(0);
            let mut answer = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *answer.status_mut() = http::StatusCode::from_u16(status).unwrap();
            if let Some(e) = etag {
                answer.headers_mut().insert("etag", e.parse().unwrap());
            }
            answer
                .extensions_mut()
                .insert(Read(Bytes::from_static(body.as_bytes())));
            std::future::ready(Ok(answer))
        }
    }

    fn get() -> http::Request<()> {
        http::Request::get("https://api.github.com/repos/o/r")
            .body(())
            .unwrap()
    }

    async fn body(answer: Answer) -> String {
        let bytes = answer.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_kept_etag_is_sent_and_its_304_answered_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(EtagCache::open(
            &dir.path().join("etags.json"),
            "test",
            None,
        ));
        let github = GitHub::default();
        *github.answers.lock().unwrap() = vec![
            (200, Some("\"v1\""), "{\"a\":1}"),
            (304, None, ""),
            (200, Some("\"v2\""), "{\"a\":2}"),
        ];
        let count = Arc::new(AtomicUsize::new(0));
        let svc = EtagLayer::new(Some(cache), count.clone()).layer(github.clone());
        let first = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(body(first).await, "{\"a\":1}");
        let second = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(second.status(), 200);
        assert_eq!(body(second).await, "{\"a\":1}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let third = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(body(third).await, "{\"a\":2}");
        assert_eq!(
            *github.seen.lock().unwrap(),
            [None, Some("\"v1\"".to_string()), Some("\"v1\"".to_string())]
        );
    }

    #[tokio::test]
    async fn writes_and_clients_without_a_cache_are_passed_through() {
        let github = GitHub::default();
        *github.answers.lock().unwrap() = vec![(304, None, "")];
        let svc = EtagLayer::new(None, Arc::default()).layer(github.clone());
        let answer = svc.oneshot(get()).await.unwrap();
        assert_eq!(answer.status(), 304, "no cache: the 304 is the caller's");
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(EtagCache::open(
            &dir.path().join("etags.json"),
            "test",
            None,
        ));
        *github.answers.lock().unwrap() = vec![(200, Some("\"w\""), "{}"), (200, None, "{}")];
        let svc = EtagLayer::new(Some(cache), Arc::default()).layer(github.clone());
        let post = http::Request::post("https://api.github.com/repos/o/r")
            .body(())
            .unwrap();
        svc.clone().oneshot(post).await.unwrap();
        svc.oneshot(get()).await.unwrap();
        assert_eq!(*github.seen.lock().unwrap(), [None, None, None]);
    }
}

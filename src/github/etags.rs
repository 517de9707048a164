//! ETags kept between runs, for the commands that run on a schedule
//! (`drift --etag-cache FILE`, `doctor --etag-cache FILE`; `poll` keeps
//! its two reads' ETags in its state file). Every GET of a client given
//! the cache sends the ETag of the URL's last 200 answer as
//! `If-None-Match`; GitHub answers 304 Not Modified when nothing changed,
//! which does not count against the primary rate limit, and the body is
//! taken from the cache.
//!
//! The file holds what GitHub answered to reads, by URL, and nothing of
//! the requests (no token, no header): `{"v": 1, "entries": {URL: {"etag",
//! "body", "link"}}}`. It is written atomically (a temporary file renamed
//! over it, which replaces a symlink rather than writing through it) and
//! keeps only the URLs the run read, so it stays the size of one run's
//! reads. A file that is missing, a symlink, over [`MAX_BYTES`] or not
//! such a file is read as empty: the run then reads everything again.
//! Two clients of one command (e.g. drift's files and issues tokens) share
//! one cache: a 304 is only given to a token that may read the URL.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::util::fs::FsError;

/// The largest cache file read.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// One command's ETag cache.
#[derive(Debug)]
pub struct EtagCache {
    path: PathBuf,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// What the earlier run kept, by URL.
    earlier: Map<String, Value>,
    /// What this run read (kept for the next).
    now: Map<String, Value>,
}

impl EtagCache {
    /// The cache at `path`; see the module docs for what is read as empty.
    pub fn load(path: &Path) -> EtagCache {
        let earlier = std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.is_file() && m.len() <= MAX_BYTES)
            .and_then(|_| std::fs::read(path).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|v| v.get("v") == Some(&json!(1)))
            .and_then(|mut v| match v.get_mut("entries").map(Value::take) {
                Some(Value::Object(m)) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        EtagCache {
            path: path.to_path_buf(),
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

    /// Writes what this run read, atomically.
    pub fn save(&self) -> Result<(), FsError> {
        let entries = std::mem::take(&mut self.lock().now);
        let bytes = serde_json::to_vec(&json!({ "v": 1, "entries": entries })).unwrap_or_default();
        crate::util::fs::write_atomic(&self.path, &bytes)
    }

    /// [`EtagCache::save`], a failure as the note to show (the next run
    /// then reads everything again).
    pub fn save_or_note(&self) -> Option<String> {
        self.save().err().map(|e| {
            format!("the ETag cache was not kept ({e}); the next run reads everything again")
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_the_run_read_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etags.json");
        let c = EtagCache::load(&path);
        assert_eq!(c.etag("u1"), None);
        c.keep("u1", "\"a\"", &json!([1]), Some("<n>; rel=\"next\""));
        c.keep("u2", "\"b\"", &json!({}), None);
        c.save().unwrap();

        let c = EtagCache::load(&path);
        assert_eq!(c.etag("u1").as_deref(), Some("\"a\""));
        let (body, link) = c.not_modified("u1").unwrap();
        assert_eq!(body, json!([1]));
        assert_eq!(link.as_deref(), Some("<n>; rel=\"next\""));
        c.save().unwrap();
        // u2 was not read by the second run: gone.
        let c = EtagCache::load(&path);
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
        let c = EtagCache::load(&path);
        assert_eq!(c.etag("u"), None);
        c.keep("v", "\"e\"", &json!(1), None);
        c.save().unwrap();
        // Not written through the link.
        assert!(std::fs::read_to_string(&target).unwrap().contains("\"u\""));
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());

        std::fs::write(&path, "not json").unwrap();
        assert_eq!(EtagCache::load(&path).etag("v"), None);
    }
}

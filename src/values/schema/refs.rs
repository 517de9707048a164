//! `$ref`s to other files: resolved inside the manager repo only, never
//! fetched from the network.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The largest schema file read through a `$ref`.
const LIMIT: u64 = 4 * 1024 * 1024;

/// Resolves `file:` URIs below `root`, as every manager path is read (no
/// `..`, no symlinked folder); refuses every other scheme.
#[derive(Debug, Clone, Default)]
pub struct ManagerFiles {
    /// The manager repo (or the folder of a schema given on its own);
    /// `None` when the schema came from elsewhere and has no files beside it.
    pub root: Option<PathBuf>,
    /// The folder of the root schema's own `$id` (`https://x/schema/`)
    /// and the folder its file is in: a schema published under an `$id`
    /// refers to its siblings relative to it, and they are beside it here.
    pub published: Option<(String, PathBuf)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefError {
    #[error("fleetform never fetches schemas from the network (a run must not depend on, or be steered by, a server outside the manager repo); copy `{0}` into the manager repo and refer to it by relative path")]
    Remote(String),
    #[error("`{0}` is outside the manager repo; schemas may only refer to files inside it")]
    Outside(String),
    #[error(
        "this schema was not read from the manager repo, so `{0}` cannot be resolved beside it"
    )]
    NoRoot(String),
    #[error("`{file}`: {reason}")]
    Read { file: String, reason: String },
}

/// `file:///a/b%20c.json#x` → `/a/b c.json`.
pub fn file_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.split(['#', '?']).next().unwrap_or(rest);
    let mut out = Vec::with_capacity(rest.len());
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// `file://` URI of an absolute path, percent-encoding what a URI cannot hold.
pub fn file_uri(path: &Path) -> String {
    let mut s = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

impl ManagerFiles {
    /// The local file `uri` names: a `file:` URI, or a sibling of the
    /// root schema's published `$id`.
    fn local(&self, uri: &str) -> Option<PathBuf> {
        if let Some(p) = file_path(uri) {
            return Some(p);
        }
        let (id_dir, dir) = self.published.as_ref()?;
        let rest = uri.split(['#', '?']).next().unwrap_or(uri);
        let (origin, id_path) = split_origin(id_dir)?;
        let (uri_origin, uri_path) = split_origin(rest)?;
        if origin != uri_origin {
            return None;
        }
        // The path from the `$id`'s folder to `uri`, applied to the
        // schema's folder: `../x.json` stays `..` for the containment check.
        let from: Vec<&str> = id_path.split('/').filter(|s| !s.is_empty()).collect();
        let to: Vec<&str> = uri_path.split('/').filter(|s| !s.is_empty()).collect();
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        let mut path = dir.clone();
        for _ in common..from.len() {
            path.pop();
        }
        for part in &to[common..] {
            if *part == ".." || *part == "." {
                return None;
            }
            path.push(part);
        }
        Some(path)
    }

    /// The file `uri` names: its path as shown, its bytes and its JSON.
    pub fn read(&self, uri: &str) -> Result<(PathBuf, Vec<u8>, Value), RefError> {
        let Some(path) = self.local(uri) else {
            return Err(RefError::Remote(uri.to_string()));
        };
        let Some(root) = &self.root else {
            return Err(RefError::NoRoot(uri.to_string()));
        };
        let shown = crate::config::display_path(&path).display().to_string();
        let outside = || RefError::Outside(shown.clone());
        // As every manager path: links followed, the result inside the
        // canonical manager root.
        let rel = path.strip_prefix(root).map_err(|_| outside())?;
        let read_err = |reason: String| RefError::Read {
            file: shown.clone(),
            reason,
        };
        let full = match crate::util::path::resolve_under(root, rel) {
            Ok(crate::util::path::Resolved::Inside(full)) => full,
            Ok(crate::util::path::Resolved::Outside { .. }) => return Err(outside()),
            Ok(crate::util::path::Resolved::Broken { reason, .. }) => return Err(read_err(reason)),
            Err(e) => return Err(read_err(e.to_string())),
        };
        let bytes = crate::util::fs::read_bounded(&full, LIMIT)
            .map_err(|e| read_err(e.reason.to_string()))?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok((PathBuf::from(shown), bytes, value)),
            Err(e) => Err(RefError::Read {
                file: shown,
                reason: format!("not valid JSON at {}:{}: {e}", e.line(), e.column()),
            }),
        }
    }
}

/// `https://host/a/b` → (`https://host`, `/a/b`).
fn split_origin(uri: &str) -> Option<(&str, &str)> {
    let after = uri.find("://")? + 3;
    let slash = uri[after..].find('/').map_or(uri.len(), |i| after + i);
    Some((&uri[..slash], &uri[slash..]))
}

impl jsonschema::Retrieve for ManagerFiles {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.read(uri.as_str())
            .map(|(_, _, value)| value)
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_round_trip() {
        let p = Path::new("/m/schema dir/a%b.json");
        let uri = file_uri(p);
        assert_eq!(uri, "file:///m/schema%20dir/a%25b.json");
        assert_eq!(file_path(&format!("{uri}#/$defs/x")).unwrap(), p);
        assert_eq!(file_path("https://example.com/s.json"), None);
        assert_eq!(file_path("file:///a%2"), Some(PathBuf::from("/a%2")));
    }
}

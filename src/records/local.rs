//! Records in a folder: each one a file, created through a hard link of a
//! finished temporary file, which fails if the name exists: never
//! overwritten, never half-written, never through a symlink.

use std::path::{Path, PathBuf};

use super::RecordsError;

#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    pub fn new(root: PathBuf) -> Folder {
        Folder { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(what: &'static str, key: &str, e: impl std::fmt::Display) -> RecordsError {
        RecordsError::Io {
            what,
            key: key.to_string(),
            reason: e.to_string(),
        }
    }

    pub fn create(&self, key: &str, bytes: &[u8]) -> Result<(), RecordsError> {
        let rel = Path::new(key);
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = crate::util::fs::ensure_dir(&self.root, parent)
            .map_err(|e| Self::io("creating the folder of", key, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".record-")
            .tempfile_in(&dir)
            .map_err(|e| Self::io("writing", key, e))?;
        std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Self::io("writing", key, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Self::io("writing", key, e))?;
        let dest = dir.join(rel.file_name().unwrap_or_default());
        match std::fs::hard_link(tmp.path(), &dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(RecordsError::Exists {
                key: key.to_string(),
            }),
            Err(e) => Err(Self::io("writing", key, e)),
        }
    }

    /// Every key under `prefix`; as in a bucket, a prefix may end inside
    /// a name (`relay/pending/00000281` lists every folder whose name
    /// starts so), and one that does not end in `/` is such a prefix even
    /// when it names a folder (`deployments/acme` lists `acme-eu/` too).
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, RecordsError> {
        let mut keys = Vec::new();
        let start = self.root.join(prefix.trim_end_matches('/'));
        let partial = !prefix.is_empty() && !prefix.ends_with('/');
        let listed = match (partial, start.parent(), start.file_name()) {
            (true, Some(parent), Some(part)) => {
                let part = part.to_string_lossy().to_string();
                walk(&self.root, parent, &part, &mut keys)
            }
            _ => walk(&self.root, &start, "", &mut keys),
        };
        listed.map_err(|e| Self::io("listing", prefix, e))?;
        Ok(keys)
    }

    /// Removes the record file of `key` (gone already is done).
    pub fn delete(&self, key: &str) -> Result<(), RecordsError> {
        match std::fs::remove_file(self.root.join(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::io("deleting", key, e)),
        }
    }

    pub fn read(&self, key: &str) -> Result<Vec<u8>, RecordsError> {
        crate::util::fs::read_under(&self.root, Path::new(key), super::MAX_RECORD as u64)
            .map_err(|e| Self::io("reading", key, e.reason))
    }
}

/// Record files under the entries of `dir` whose names start with `part`
/// (every entry when it is empty), not following links, as keys. A file
/// whose name starts with `.` is left out unless `part` names it.
fn walk(root: &Path, dir: &Path, part: &str, keys: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(part) {
            continue;
        }
        let (ty, path) = (entry.file_type()?, entry.path());
        if ty.is_dir() {
            walk(root, &path, "", keys)?;
        } else if ty.is_file() && (!part.is_empty() || !name.starts_with('.')) {
            if let Ok(rel) = path.strip_prefix(root) {
                keys.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_created_once_and_never_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let f = Folder::new(d.path().join("records"));
        f.create("audit/2026/11/22/a.json", b"one").unwrap();
        let again = f.create("audit/2026/11/22/a.json", b"two").unwrap_err();
        assert!(matches!(again, RecordsError::Exists { .. }), "{again}");
        assert_eq!(f.read("audit/2026/11/22/a.json").unwrap(), b"one");
        f.create("audit/2026/11/23/b.json", b"b").unwrap();
        let mut keys = f.list("audit/").unwrap();
        keys.sort();
        assert_eq!(keys, ["audit/2026/11/22/a.json", "audit/2026/11/23/b.json"]);
        assert!(f.list("deployments/").unwrap().is_empty());
    }
}

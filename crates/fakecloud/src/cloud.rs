//! The cloud: one JSON file, `{ "objects": { "<type>/<id>": { ... } } }`.
//!
//! Reads take no lock: every write replaces the file with `rename(2)`, so a
//! reader sees either the old or the new file, never half of one. Writes
//! are read-modify-write transactions serialised across processes by an
//! exclusive `flock(2)` on `<file>.lock` (the lock file is left in place:
//! removing it would race with the next writer). Other top-level keys of the
//! file are kept as they are.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One object's attributes, by name.
pub type Attributes = BTreeMap<String, Value>;
/// Every object of the cloud, by `<type>/<id>`.
pub type Objects = BTreeMap<String, Attributes>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct CloudFile {
    #[serde(default)]
    objects: Objects,
    /// Anything else a test put in the file, written back unchanged.
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// The key of an object in the cloud file.
pub fn key(type_name: &str, id: &str) -> String {
    format!("{type_name}/{id}")
}

/// A cloud file (which need not exist yet: a missing file is an empty cloud).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    path: PathBuf,
}

impl Cloud {
    pub fn new(path: PathBuf) -> Self {
        Cloud { path }
    }

    /// The objects as the file holds them now.
    pub fn objects(&self) -> Result<Objects> {
        Ok(self.load()?.objects)
    }

    /// Runs `change` on the objects under the lock and writes the result
    /// atomically; an error from `change` writes nothing.
    pub fn update<T>(&self, change: impl FnOnce(&mut Objects) -> Result<T>) -> Result<T> {
        let lock = self.lock()?;
        let mut file = self.load()?;
        let out = change(&mut file.objects)?;
        self.store(&file)?;
        drop(lock);
        Ok(out)
    }

    fn load(&self) -> Result<CloudFile> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(CloudFile::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", self.path.display()));
            }
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(CloudFile::default());
        }
        serde_json::from_slice(&text).with_context(|| {
            format!(
                "{} is not a fakecloud file ({{\"objects\": {{\"<type>/<id>\": {{...}}}}}})",
                self.path.display()
            )
        })
    }

    fn lock(&self) -> Result<File> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening the lock file {}", lock_path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        Ok(file)
    }

    fn store(&self, file: &CloudFile) -> Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cloud".into());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{base}.{}.{n}.tmp", std::process::id()));
        let mut text = serde_json::to_vec_pretty(file).context("encoding the cloud file")?;
        text.push(b'\n');
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(&text))
            .with_context(|| format!("writing {}", tmp.display()));
        if let Err(e) = written.and_then(|()| {
            std::fs::rename(&tmp, &self.path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), self.path.display()))
        }) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "fakecloud-unit-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_missing_or_empty_file_is_an_empty_cloud() {
        let dir = temp_dir("empty");
        let cloud = Cloud::new(dir.join("cloud.json"));
        assert!(cloud.objects().unwrap().is_empty());
        std::fs::write(dir.join("cloud.json"), " \n").unwrap();
        assert!(cloud.objects().unwrap().is_empty());
    }

    #[test]
    fn updates_keep_other_keys_and_leave_no_temp_files() {
        let dir = temp_dir("keep");
        let path = dir.join("cloud.json");
        std::fs::write(&path, r#"{"note": "hand-written", "objects": {}}"#).unwrap();
        let cloud = Cloud::new(path.clone());
        cloud
            .update(|o| {
                o.insert(key("t", "a"), [("name".to_string(), json!("a"))].into());
                Ok(())
            })
            .unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["note"], "hand-written");
        assert_eq!(v["objects"]["t/a"]["name"], "a");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["cloud.json", "cloud.json.lock"]);
    }

    #[test]
    fn a_failed_change_writes_nothing() {
        let dir = temp_dir("fail");
        let cloud = Cloud::new(dir.join("cloud.json"));
        let r: Result<()> = cloud.update(|o| {
            o.insert("t/x".into(), Attributes::new());
            anyhow::bail!("no")
        });
        assert!(r.is_err());
        assert!(!dir.join("cloud.json").exists());
    }

    #[test]
    fn invalid_json_is_an_error_naming_the_file() {
        let dir = temp_dir("invalid");
        let path = dir.join("cloud.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = format!("{:#}", Cloud::new(path).objects().unwrap_err());
        assert!(err.contains("cloud.json is not a fakecloud file"), "{err}");
    }

    #[test]
    fn concurrent_writers_lose_no_update() {
        let dir = temp_dir("race");
        let path = dir.join("cloud.json");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let cloud = Cloud::new(path.clone());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        cloud
                            .update(|o| {
                                o.insert(key("t", &format!("{t}-{i}")), Attributes::new());
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(Cloud::new(path).objects().unwrap().len(), 200);
    }
}

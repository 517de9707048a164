//! A data dir prepared once for a fleet run.
//!
//! Every pair's `init` does the same work but one thing: it links the same
//! providers from the cache (and hashes every one of them against the lock
//! file again: about 1 s for a 800 MB provider), installs the same modules
//! and records the backend. Only the backend's per-pair setting differs
//! (the local state file's `path`, the s3 `key`), and fleetform passes it
//! as partial configuration (`-backend-config`), which Terraform and
//! OpenTofu keep in the data dir's backend record but leave out of the
//! record's hash of the configuration block.
//!
//! So one real `init` per run makes a template data dir; each pair's data
//! dir is a copy of it (links to the providers, the modules) with the
//! backend record's one setting changed. The template is checked once by a
//! Terraform command that needs an initialised backend before any pair uses
//! it; a record in a shape this code does not know is not used at all, and
//! every pair then runs its own `init`.

use std::path::{Path, PathBuf};

use crate::util::fs::FsError;

/// The name of the backend record inside a data dir.
pub const BACKEND_RECORD: &str = "terraform.tfstate";

/// A template data dir and its backend record.
#[derive(Debug)]
pub struct Template {
    /// The template's data dir (kept alive by its owner).
    dir: PathBuf,
    /// The backend record, as Terraform wrote it.
    record: serde_json::Value,
    /// The per-pair backend setting (`path` or `key`).
    field: &'static str,
}

impl Template {
    /// Reads the template from an initialised data dir; `None` when its
    /// backend record is not the known shape (format version 3, the
    /// expected backend type, the per-pair setting present).
    pub fn capture(data_dir: &Path, backend_type: &str, field: &'static str) -> Option<Template> {
        let text = crate::util::fs::read_input_text(data_dir.join(BACKEND_RECORD)).ok()?;
        let record: serde_json::Value = serde_json::from_str(&text).ok()?;
        let known = record.get("version").and_then(|v| v.as_u64()) == Some(3)
            && record.pointer("/backend/type").and_then(|v| v.as_str()) == Some(backend_type)
            && record
                .pointer(&format!("/backend/config/{field}"))
                .is_some_and(|v| v.is_string())
            && record.pointer("/backend/hash").is_some();
        known.then(|| Template {
            dir: data_dir.to_path_buf(),
            record,
            field,
        })
    }

    /// Makes `data_dir` (which must not exist yet) a copy of the template
    /// whose backend record names `value`.
    pub fn materialise(&self, data_dir: &Path, value: &str) -> Result<(), FsError> {
        copy_links(&self.dir, data_dir)?;
        let mut record = self.record.clone();
        if let Some(config) = record.pointer_mut("/backend/config") {
            config[self.field] = serde_json::Value::String(value.to_string());
        }
        let path = data_dir.join(BACKEND_RECORD);
        let text = serde_json::to_string_pretty(&record).expect("a JSON value serialises");
        std::fs::write(&path, text).map_err(|e| FsError::new("writing", &path, e))
    }
}

/// Copies a data dir: folders and files, and links as links to the same
/// place (a relative link is made absolute, as the copy lives elsewhere).
/// The backend record is left out.
fn copy_links(from: &Path, to: &Path) -> Result<(), FsError> {
    std::fs::create_dir_all(to).map_err(|e| FsError::new("creating", to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| FsError::new("reading", from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FsError::new("reading", from, e))?;
        let src = entry.path();
        let dest = to.join(entry.file_name());
        let ty = entry
            .file_type()
            .map_err(|e| FsError::new("reading", &src, e))?;
        if ty.is_symlink() {
            let target = std::fs::read_link(&src).map_err(|e| FsError::new("reading", &src, e))?;
            let target = if target.is_absolute() {
                target
            } else {
                from.join(target)
            };
            link(&target, &dest)?;
        } else if ty.is_dir() {
            copy_links(&src, &dest)?;
        } else if ty.is_file() && entry.file_name() != BACKEND_RECORD {
            std::fs::copy(&src, &dest).map_err(|e| FsError::new("copying", &src, e))?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn link(target: &Path, dest: &Path) -> Result<(), FsError> {
    std::os::unix::fs::symlink(target, dest).map_err(|e| FsError::new("linking", dest, e))
}

#[cfg(not(unix))]
fn link(target: &Path, dest: &Path) -> Result<(), FsError> {
    if target.is_dir() {
        std::os::windows::fs::symlink_dir(target, dest)
    } else {
        std::os::windows::fs::symlink_file(target, dest)
    }
    .map_err(|e| FsError::new("linking", dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(field: &str) -> String {
        format!(
            r#"{{"version":3,"terraform_version":"1.11.4","backend":{{"type":"local","config":{{"{field}":"/x/placeholder","workspace_dir":null}},"hash":666019178}}}}"#
        )
    }

    #[test]
    fn a_copy_names_its_own_backend_setting_and_keeps_the_hash() {
        let d = tempfile::tempdir().unwrap();
        let tpl = d.path().join("tpl");
        std::fs::create_dir_all(tpl.join("modules")).unwrap();
        std::fs::write(tpl.join("modules/modules.json"), "{}").unwrap();
        std::fs::write(tpl.join(BACKEND_RECORD), record("path")).unwrap();
        let cache = d.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        link(&cache, &tpl.join("providers")).unwrap();
        std::os::unix::fs::symlink("modules", tpl.join("rel")).unwrap();

        let t = Template::capture(&tpl, "local", "path").unwrap();
        let pair = d.path().join("pair/.terraform");
        t.materialise(&pair, "/state/a.tfstate").unwrap();
        let got: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(pair.join(BACKEND_RECORD)).unwrap())
                .unwrap();
        assert_eq!(got["backend"]["config"]["path"], "/state/a.tfstate");
        assert_eq!(
            got["backend"]["config"]["workspace_dir"],
            serde_json::Value::Null
        );
        assert_eq!(got["backend"]["hash"], 666019178);
        assert_eq!(std::fs::read_link(pair.join("providers")).unwrap(), cache);
        assert_eq!(
            std::fs::read_link(pair.join("rel")).unwrap(),
            tpl.join("modules")
        );
        assert_eq!(
            std::fs::read_to_string(pair.join("modules/modules.json")).unwrap(),
            "{}"
        );
        // The template itself is unchanged.
        assert!(std::fs::read_to_string(tpl.join(BACKEND_RECORD))
            .unwrap()
            .contains("placeholder"));
    }

    #[test]
    fn an_unknown_record_is_not_used() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(BACKEND_RECORD), record("path")).unwrap();
        assert!(Template::capture(d.path(), "s3", "key").is_none());
        assert!(Template::capture(d.path(), "local", "key").is_none());
        std::fs::write(
            d.path().join(BACKEND_RECORD),
            record("path").replace("\"version\":3", "\"version\":4"),
        )
        .unwrap();
        assert!(Template::capture(d.path(), "local", "path").is_none());
        std::fs::write(d.path().join(BACKEND_RECORD), "not json").unwrap();
        assert!(Template::capture(d.path(), "local", "path").is_none());
        std::fs::remove_file(d.path().join(BACKEND_RECORD)).unwrap();
        assert!(Template::capture(d.path(), "local", "path").is_none());
    }
}

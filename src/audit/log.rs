//! Writing the audit log: one command's [`Log`] (the file and, in a
//! manager repo, the records store), and the record that must be kept
//! before a change is made ([`Log::keep`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Entry, DEFAULT_LOG};

/// Where one command's audit records go: the log file and, in a manager
/// repo, its records store too (one object per event, see
/// [`crate::records`]). Made once where the command starts and passed
/// down; two logs side by side share nothing.
#[derive(Debug, Clone)]
pub struct Log {
    path: PathBuf,
    store: Option<crate::records::Store>,
}

impl Log {
    /// Records appended to the file at `path`, and kept in `store` too.
    pub fn new(path: PathBuf, store: Option<crate::records::Store>) -> Log {
        Log { path, store }
    }

    /// The log at [`log_path`], and `store`.
    pub fn from_env(store: Option<crate::records::Store>) -> Log {
        Log::new(log_path(), store)
    }

    /// The records store events also go to, if any.
    pub fn store(&self) -> Option<&crate::records::Store> {
        self.store.as_ref()
    }

    /// Appends a record to the log, and writes it to the records store; a
    /// failure to write either is reported, not fatal.
    pub fn record(&self, out: &crate::output::Output, entry: Entry) {
        for e in self.write(&entry) {
            out.error(&e.to_string());
        }
    }

    /// [`Log::record`] for a record that must be kept before anything is
    /// changed (a command's intent, written first): the first failure.
    pub fn keep(&self, entry: Entry) -> Result<(), KeepError> {
        self.write(&entry).into_iter().next().map_or(Ok(()), Err)
    }

    fn write(&self, entry: &Entry) -> Vec<KeepError> {
        let mut failed = Vec::new();
        if let Err(e) = append(&self.path, entry) {
            failed.push(KeepError::Log {
                path: self.path.display().to_string(),
                why: e.to_string(),
            });
        }
        if let Some(store) = &self.store {
            let bytes = serde_json::to_vec(entry).expect("an entry serialises");
            if let Err(e) = store.create(&crate::records::audit_key(), &bytes) {
                failed.push(KeepError::Store {
                    store: store.describe(),
                    why: e.to_string(),
                });
            }
        }
        failed
    }
}

/// Where the log goes: `FLEETFORM_AUDIT_LOG`, else [`DEFAULT_LOG`].
pub fn log_path() -> PathBuf {
    std::env::var_os("FLEETFORM_AUDIT_LOG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LOG))
}

/// Appends one record. Failing to audit is reported, never ignored
/// silently, but does not undo the action it records.
pub fn append(path: &Path, entry: &Entry) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(&line)
}

/// Why an audit record was not kept.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    #[error("cannot write the audit log {path}: {why}")]
    Log { path: String, why: String },
    #[error("cannot keep the audit record in {store}: {why}")]
    Store { store: String, why: String },
}

//! Reading a customer's files from a local checkout, and where each file
//! of an environment lives in a customer repo.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{display_path, Manager};
use crate::data::Diagnostic;
use fleetform_yaml::{self as yaml, Limits, Location};

use super::CustomerSource;

impl CustomerSource {
    /// Reads a customer's files from a local checkout: only regular files
    /// inside it, reached without symlinks, each at most the YAML size
    /// limit (see [`crate::util::fs::read_under`]).
    pub fn from_dir(manager: &Manager, dir: &Path, envs: &[String]) -> Result<Self, Diagnostic> {
        let files = &manager.config.customer;
        let limit = Limits::default().max_bytes as u64;
        let rel = Path::new(&files.variables);
        let shown = display_path(&dir.join(rel));
        let mut under = crate::util::fs::Under::new(dir);
        let bytes = under
            .read(rel, limit)
            .map_err(|e| read_diagnostic(&shown, "cannot read the customer's variables file", e))?;
        let mut overrides = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for env in envs {
            for (kind, rel, into) in [
                ("override", override_path(manager, env), &mut overrides),
                ("secrets", secrets_path(manager, env), &mut secrets),
            ] {
                let shown = display_path(&dir.join(&rel));
                match under.read(Path::new(&rel), limit) {
                    Ok(b) => {
                        into.insert(env.clone(), (shown, b));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(read_diagnostic(
                            &shown,
                            &format!("cannot read {kind} file"),
                            e,
                        ))
                    }
                }
            }
        }
        Ok(CustomerSource {
            variables: (shown, bytes),
            overrides,
            secrets,
        })
    }
}

pub(super) fn read_diagnostic(shown: &Path, what: &str, e: crate::util::fs::FsError) -> Diagnostic {
    Diagnostic {
        location: Location {
            file: shown.to_path_buf(),
            pos: yaml::Pos { line: 1, col: 1 },
        },
        pointer: None,
        message: if e.path == shown {
            format!("{what}: {}", e.reason)
        } else {
            format!("{what}: {}: {}", e.path.display(), e.reason)
        },
    }
}

/// Path of the override file for `env`, relative to the customer repo.
pub fn override_path(manager: &Manager, env: &str) -> String {
    manager
        .config
        .customer
        .overrides
        .replace("{environment}", env)
}

/// Path of the secrets file for `env`, relative to the customer repo.
pub fn secrets_path(manager: &Manager, env: &str) -> String {
    manager
        .config
        .customer
        .secrets
        .replace("{environment}", env)
}

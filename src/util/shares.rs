//! The relay's share of an App (`doctor --register-app … --relay-secrets
//! FILE`): a JSON object of the variables the relay reads the App from
//! (its id, its private key, the webhook secret), written owner-only for
//! the relay's own secret store. `relay serve --credentials FILE` and
//! `customers add --app-credentials FILE` read it in place of those
//! variables; a variable set in the environment is used only where no
//! file names it.
//!
//! A file may name only those variables, each a string; two files naming
//! one variable with different values are refused. Values are wiped on
//! drop and never shown (`Debug` lists the names alone).

use std::collections::BTreeMap;
use std::path::Path;

use zeroize::Zeroizing;

/// The variables a share may hold.
pub const SHARED: [&str; 6] = [
    "FLEETFORM_MANAGER_APP_ID",
    "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
    "FLEETFORM_CUSTOMER_APP_ID",
    "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
    "FLEETFORM_WEBHOOK_SECRET",
    "FLEETFORM_WEBHOOK_SECRET_PREVIOUS",
];

/// Why a share could not be read: the file and what is wrong, never a value.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{file}: {why}")]
    Read { file: String, why: String },
    #[error("{file}: not a JSON object of variables ({why}); it is the file `fleetform doctor --register-app … --relay-secrets FILE` writes")]
    NotJson { file: String, why: String },
    #[error("{file}: `{name}` is not a variable a share holds (it holds {})", SHARED.join(", "))]
    Unknown { file: String, name: String },
    #[error("{file}: `{name}` is not a string")]
    NotString { file: String, name: String },
    #[error("{file}: `{name}` differs from its value in {other}: give each App's share once")]
    Conflict {
        file: String,
        name: String,
        other: String,
    },
}

/// The variables of every share read, by name, with the file each came from.
#[derive(Default)]
pub struct Shares {
    values: BTreeMap<String, (Zeroizing<String>, String)>,
}

impl std::fmt::Debug for Shares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Shares {
    /// Every file of `paths`, in order.
    pub fn read(paths: &[std::path::PathBuf]) -> Result<Shares, ShareError> {
        let mut out = Shares::default();
        for p in paths {
            out.add(p)?;
        }
        Ok(out)
    }

    fn add(&mut self, path: &Path) -> Result<(), ShareError> {
        let file = path.display().to_string();
        let text =
            Zeroizing::new(
                super::fs::read_input_text(path).map_err(|e| ShareError::Read {
                    file: file.clone(),
                    why: e.to_string(),
                })?,
            );
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| ShareError::NotJson {
                file: file.clone(),
                // serde_json's message names the line and column, never
                // the value.
                why: format!("line {} column {}", e.line(), e.column()),
            })?;
        for (name, value) in object {
            if !SHARED.contains(&name.as_str()) {
                return Err(ShareError::Unknown { file, name });
            }
            let serde_json::Value::String(value) = value else {
                return Err(ShareError::NotString { file, name });
            };
            let value = Zeroizing::new(value);
            match self.values.get(&name) {
                Some((had, other)) if *had != value => {
                    return Err(ShareError::Conflict {
                        file,
                        name,
                        other: other.clone(),
                    })
                }
                Some(_) => {}
                None => {
                    self.values.insert(name, (value, file.clone()));
                }
            }
        }
        Ok(())
    }

    /// Whether a share names `var`.
    pub fn holds(&self, var: &str) -> bool {
        self.values.contains_key(var)
    }

    /// `var` from a share, else from the environment (empty: unset).
    pub fn get(&self, var: &str) -> Option<String> {
        match self.values.get(var) {
            Some((v, _)) => Some(v.to_string()),
            None => std::env::var(var).ok(),
        }
        .filter(|v| !v.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn shares_merge_and_refuse_what_no_share_holds_without_showing_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let a = file(
            dir.path(),
            "a.json",
            r#"{"FLEETFORM_CUSTOMER_APP_ID": "5", "FLEETFORM_WEBHOOK_SECRET": "s3cr3t-s3cr3t-s3cr3t"}"#,
        );
        let b = file(dir.path(), "b.json", r#"{"FLEETFORM_MANAGER_APP_ID": "6"}"#);
        let s = Shares::read(&[a.clone(), b]).unwrap();
        assert_eq!(s.get("FLEETFORM_CUSTOMER_APP_ID").as_deref(), Some("5"));
        assert_eq!(s.get("FLEETFORM_MANAGER_APP_ID").as_deref(), Some("6"));
        assert!(!format!("{s:?}").contains("s3cr3t"), "{s:?}");

        let other = file(
            dir.path(),
            "c.json",
            r#"{"FLEETFORM_WEBHOOK_SECRET": "another-another-another"}"#,
        );
        let e = Shares::read(&[a.clone(), other]).unwrap_err().to_string();
        assert!(e.contains("differs from its value in"), "{e}");
        assert!(!e.contains("another") && !e.contains("s3cr3t"), "{e}");

        let unknown = file(dir.path(), "d.json", r#"{"PATH": "/tmp"}"#);
        let e = Shares::read(&[unknown]).unwrap_err().to_string();
        assert!(e.contains("`PATH` is not a variable a share holds"), "{e}");
        let not_json = file(dir.path(), "e.json", "FLEETFORM_CUSTOMER_APP_ID=5 hunter2");
        let e = Shares::read(&[not_json]).unwrap_err().to_string();
        assert!(
            e.contains("not a JSON object") && !e.contains("hunter2"),
            "{e}"
        );
        let number = file(dir.path(), "f.json", r#"{"FLEETFORM_CUSTOMER_APP_ID": 5}"#);
        let e = Shares::read(&[number]).unwrap_err().to_string();
        assert!(e.contains("is not a string"), "{e}");
    }
}

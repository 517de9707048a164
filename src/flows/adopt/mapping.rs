//! The mapping file of one pair, in the manager repo:
//! `adopt/<customer>/[<product>/]<environment>.yml`, with one key,
//! `imports:`, mapping each resource address of the manager's module to
//! the id of the object that already exists.
//!
//! ```yaml
//! imports:
//!   fakecloud_network.main: net-acme-staging
//!   "fakecloud_instance.web[0]": i-acme-staging-web-0
//! ```

use std::path::{Path, PathBuf};

use fleetform_yaml::{escape_token, Limits};
use serde_json::Value;

use super::AdoptError;
use crate::config::{Manager, Unit};
use crate::terraform::Import;

/// A pair's mapping, read and checked.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// As shown in messages (relative to the manager repo).
    pub shown: PathBuf,
    pub imports: Vec<Import>,
    /// `file:line:col` of each import's address.
    pub at: Vec<String>,
}

/// The mapping file of `unit`, relative to the manager repo.
pub fn mapping_path(unit: &Unit) -> PathBuf {
    let mut p = PathBuf::from("adopt").join(unit.rel_dir());
    p.set_extension("yml");
    p
}

impl Mapping {
    /// Reads the mapping of `unit`; `None` when the file does not exist.
    pub fn read(manager: &Manager, unit: &Unit) -> Result<Option<Mapping>, AdoptError> {
        let shown = mapping_path(unit);
        let path = manager.path(&shown);
        if !path.is_file() {
            return Ok(None);
        }
        Self::load(&path, &shown).map(Some)
    }

    /// Reads the mapping at `path` (`shown` in messages).
    pub fn load(path: &Path, shown: &Path) -> Result<Mapping, AdoptError> {
        let doc = fleetform_yaml::load_file(path, shown, &Limits::default()).map_err(|e| {
            AdoptError::Mapping {
                at: e.location.to_string(),
                message: e.message,
            }
        })?;
        let at = |pointer: &str| doc.locate(pointer).to_string();
        let Some(top) = doc.value.as_object() else {
            return Err(AdoptError::Mapping {
                at: at(""),
                message: "a mapping file is a map with one key, `imports:`".into(),
            });
        };
        if let Some(k) = top.keys().find(|k| *k != "imports") {
            return Err(AdoptError::Mapping {
                at: doc.key_pos_shown(&format!("/{}", escape_token(k))),
                message: format!(
                    "unknown key `{k}`; a mapping file has one key, `imports:` (address: id)"
                ),
            });
        }
        let Some(map) = top.get("imports").and_then(Value::as_object) else {
            return Err(AdoptError::Mapping {
                at: at("/imports"),
                message: "`imports:` maps resource addresses to the ids of the objects that exist, e.g. `fakecloud_network.main: net-main`".into(),
            });
        };
        let mut imports = Vec::new();
        let mut places = Vec::new();
        for (address, id) in map {
            let pointer = format!("/imports/{}", escape_token(address));
            crate::terraform::imports::check_address(address).map_err(|m| AdoptError::Mapping {
                at: doc.key_pos_shown(&pointer),
                message: format!("{m}; quote an indexed address (\"a.b[0]\")"),
            })?;
            let id = match id {
                Value::String(s) if s.chars().any(char::is_control) => {
                    return Err(AdoptError::Mapping {
                        at: at(&pointer),
                        message: format!(
                            "the id of `{address}` holds a control character; an object's id as its provider imports it has none (copy it again from the provider's listing)"
                        ),
                    })
                }
                Value::String(s) if !s.trim().is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(AdoptError::Mapping {
                        at: at(&pointer),
                        message: format!(
                            "the id of `{address}` is the existing object's id as its provider imports it (a non-empty string)"
                        ),
                    })
                }
            };
            imports.push(Import {
                to: address.clone(),
                id,
            });
            places.push(doc.key_pos_shown(&pointer));
        }
        if imports.is_empty() {
            return Err(AdoptError::Mapping {
                at: at("/imports"),
                message: "`imports:` is empty: name at least one address and its id".into(),
            });
        }
        Ok(Mapping {
            shown: shown.to_path_buf(),
            imports,
            at: places,
        })
    }
}

impl Mapping {
    /// The mapping's error for a plan Terraform refused because an
    /// import's address is not in the module, if that is why.
    pub fn missing_target(&self, e: &crate::error::Error) -> Option<AdoptError> {
        use crate::error::Error;
        use crate::terraform::TerraformError;
        let Error::Terraform(TerraformError::Failed { output, .. }) = e else {
            return None;
        };
        if !output.contains("Configuration for import target does not exist") {
            return None;
        }
        let (i, import) = self
            .imports
            .iter()
            .enumerate()
            .find(|(_, i)| output.contains(&format!("to = {}\n", i.to)))?;
        Some(AdoptError::Mapping {
            at: self.at[i].clone(),
            message: format!(
                "`{}` is not a resource of the manager's module (Terraform: no configuration for this import target); map an address the module has, or take this line out",
                import.to
            ),
        })
    }
}

/// `file:line:col` of a key.
trait KeyPos {
    fn key_pos_shown(&self, pointer: &str) -> String;
}

impl KeyPos for fleetform_yaml::Document {
    fn key_pos_shown(&self, pointer: &str) -> String {
        format!("{}:{}", self.file.display(), self.key_pos(pointer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Mapping, AdoptError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yml");
        std::fs::write(&path, text).unwrap();
        Mapping::load(&path, Path::new("adopt/acme/staging.yml"))
    }

    #[test]
    fn reads_addresses_and_ids() {
        let m = load("imports:\n  a_b.c: id-1\n  \"a_b.d[0]\": 42\n").unwrap();
        assert_eq!(m.imports.len(), 2);
        assert_eq!(m.imports[1].to, "a_b.d[0]");
        assert_eq!(m.imports[1].id, "42");
    }

    #[test]
    fn errors_say_where() {
        let e = load("imports:\n  a_b.c: id-1\n  \"x}\": id-2\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("adopt/acme/staging.yml:3:3: `x}`"),
            "{e}"
        );
        let e = load("imports:\n  a_b.c: ''\n").unwrap_err();
        assert!(
            e.to_string().starts_with("adopt/acme/staging.yml:2:10:"),
            "{e}"
        );
        let e = load("import:\n  a_b.c: x\n").unwrap_err();
        assert!(e.to_string().contains("unknown key `import`"), "{e}");
    }
}

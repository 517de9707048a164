//! The variables a root module declares, read from its `.tf` files with
//! an HCL parser: whether each is `sensitive` (a secret may reach only a
//! sensitive variable) or `ephemeral`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a `variable` block says about its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Declared {
    pub sensitive: bool,
    pub ephemeral: bool,
}

/// Every `variable` block of the root module in `dir`, by name, as
/// Terraform reads it ("Override Files"): the `.tf` and `.tf.json` files,
/// then the override files (`override.tf`, `*_override.tf` and their
/// `.tf.json` forms) in lexical order, each attribute an override block
/// sets replacing the one declared (an override's `sensitive = false`
/// makes the variable plain). A file that does not parse is an error
/// naming it.
pub fn declared(dir: &Path) -> Result<BTreeMap<String, Declared>, String> {
    let mut out = BTreeMap::new();
    let (base, overrides) = module_files(dir)?;
    for path in &base {
        for (name, flags) in variable_blocks(path)? {
            out.insert(name, flags.apply(Declared::default()));
        }
    }
    for path in &overrides {
        for (name, flags) in variable_blocks(path)? {
            if let Some(d) = out.get_mut(&name) {
                *d = flags.apply(*d);
            }
        }
    }
    Ok(out)
}

/// Of `names` (secrets), those Terraform keeps in a saved plan and the
/// state: bound for a variable of the root module in `dir` that is not
/// `ephemeral` (or not declared at all).
pub fn stored<'a>(
    dir: &Path,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, String> {
    Ok(not_ephemeral(&declared(dir)?, names))
}

/// Of `names`, those `declared` gives no `ephemeral` variable.
pub fn not_ephemeral<'a>(
    declared: &BTreeMap<String, Declared>,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| declared.get(*n).is_none_or(|d| !d.ephemeral))
        .map(str::to_string)
        .collect()
}

/// What one `variable` block sets (`None`: not set there).
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    sensitive: Option<bool>,
    ephemeral: Option<bool>,
}

impl Flags {
    fn apply(self, d: Declared) -> Declared {
        Declared {
            sensitive: self.sensitive.unwrap_or(d.sensitive),
            ephemeral: self.ephemeral.unwrap_or(d.ephemeral),
        }
    }
}

/// The `variable` blocks of one file (native or JSON syntax).
fn variable_blocks(path: &Path) -> Result<Vec<(String, Flags)>, String> {
    if path.to_string_lossy().ends_with(".tf.json") {
        return json_variable_blocks(path);
    }
    let body = parse(path)?;
    Ok(body
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .filter_map(|block| {
            let name = block.labels().first()?.as_str().to_string();
            let flag = |key: &str| {
                block
                    .body()
                    .attributes()
                    .find(|a| a.key() == key)
                    .map(|a| as_bool(a.expr()))
            };
            Some((
                name,
                Flags {
                    sensitive: flag("sensitive"),
                    ephemeral: flag("ephemeral"),
                },
            ))
        })
        .collect())
}

/// A flag's value as Terraform converts it: `true`, or the string
/// `"true"`; anything else is not true.
fn as_bool(e: &hcl::Expression) -> bool {
    match e {
        hcl::Expression::Bool(b) => *b,
        hcl::Expression::String(s) => s == "true",
        _ => false,
    }
}

/// The `variable` blocks of a `.tf.json` file: `{"variable": {"name":
/// {...}}}`, the object or a list of such objects ("JSON Configuration
/// Syntax").
fn json_variable_blocks(path: &Path) -> Result<Vec<(String, Flags)>, String> {
    use serde_json::Value;
    let text = crate::util::fs::read_setting_file(path, 4 << 20)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let groups: Vec<&Value> = match doc.get("variable") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    let flag = |v: &Value, key: &str| {
        v.get(key)
            .map(|f| f.as_bool() == Some(true) || f.as_str() == Some("true"))
    };
    Ok(groups
        .into_iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.iter())
        .map(|(name, v)| {
            (
                name.clone(),
                Flags {
                    sensitive: flag(v, "sensitive"),
                    ephemeral: flag(v, "ephemeral"),
                },
            )
        })
        .collect())
}

/// The root module's files directly in `dir`, as Terraform loads them:
/// the configuration files, then the override files, each list sorted.
fn module_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.ends_with(".tf") || n.ends_with(".tf.json")
        })
        .collect();
    files.sort();
    Ok(files.into_iter().partition(|p| !is_override(p)))
}

/// `override.tf`, `*_override.tf` and their `.tf.json` forms.
fn is_override(path: &Path) -> bool {
    let n = path.file_name().unwrap_or_default().to_string_lossy();
    let stem = n
        .strip_suffix(".tf.json")
        .or_else(|| n.strip_suffix(".tf"))
        .unwrap_or(&n);
    stem == "override" || stem.ends_with("_override")
}

/// The `.tf` files directly in `dir` (a root module), sorted.
pub(super) fn tf_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// One `.tf` file parsed (at most 4 MiB); an error names it.
pub(super) fn parse(path: &Path) -> Result<hcl::Body, String> {
    let text = crate::util::fs::read_setting_file(path, 4 << 20)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    hcl::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_and_plain_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.tf"),
            "variable \"db_password\" {\n  type = string\n  sensitive = true\n}\nvariable \"region\" {}\nresource \"x\" \"y\" {}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.md"), "variable \"nope\" {").unwrap();
        let got = declared(dir.path()).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got["db_password"].sensitive);
        assert!(!got["region"].sensitive);
    }

    /// Terraform's "Override Files": an override file's attribute replaces
    /// the declared one, in lexical order; a `.tf.json` file is read too.
    #[test]
    fn override_files_and_json_files_count_as_terraform_merges_them() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "main.tf",
            "variable \"db_password\" {\n  sensitive = true\n}\nvariable \"api_key\" {\n  sensitive = true\n  ephemeral = true\n}\n",
        );
        write(
            "vars.tf.json",
            r#"{"variable": {"token": {"type": "string", "sensitive": true}}}"#,
        );
        write(
            "a_override.tf",
            "variable \"db_password\" {\n  sensitive = false\n}\n",
        );
        write(
            "override.tf.json",
            r#"{"variable": [{"token": {"sensitive": "false"}}, {"api_key": {"default": null}}]}"#,
        );
        let got = declared(dir.path()).unwrap();
        assert!(!got["db_password"].sensitive, "made plain by a_override.tf");
        assert!(!got["token"].sensitive, "made plain by override.tf.json");
        assert!(
            got["api_key"].sensitive && got["api_key"].ephemeral,
            "an override that does not say keeps it"
        );
        assert_eq!(got.len(), 3);
    }
}

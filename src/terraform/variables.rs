//! The variables a root module declares, read from its `.tf` files with
//! an HCL parser: whether each is `sensitive` (a secret may reach only a
//! sensitive variable) or `ephemeral`.

use std::collections::BTreeMap;
use std::path::Path;

/// What a `variable` block says about its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Declared {
    pub sensitive: bool,
    pub ephemeral: bool,
}

/// Every `variable` block of the `.tf` files directly in `dir` (a root
/// module), by name. A file that does not parse is an error naming it.
pub fn declared(dir: &Path) -> Result<BTreeMap<String, Declared>, String> {
    let mut out = BTreeMap::new();
    for path in tf_files(dir)? {
        let body = parse(&path)?;
        for block in body.blocks().filter(|b| b.identifier() == "variable") {
            let Some(name) = block.labels().first() else {
                continue;
            };
            let flag = |key: &str| {
                block
                    .body()
                    .attributes()
                    .any(|a| a.key() == key && matches!(a.expr(), hcl::Expression::Bool(true)))
            };
            out.insert(
                name.as_str().to_string(),
                Declared {
                    sensitive: flag("sensitive"),
                    ephemeral: flag("ephemeral"),
                },
            );
        }
    }
    Ok(out)
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
}

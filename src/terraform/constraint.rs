//! A root module's `required_version` (Terraform's "Version Constraints"
//! page: comma-separated `=`, `!=`, `>`, `>=`, `<`, `<=` and `~>` over
//! versions of one to three parts; `~>` lets only the rightmost part given
//! grow), read from its `.tf` files and checked against the engine version
//! fleetform.yml pins, before a job installs that version and Terraform
//! refuses it at `init` ("Unsupported Terraform Core version").

use std::path::{Path, PathBuf};

use semver::Version;

/// One `required_version` of a root module: its file and the constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    pub file: PathBuf,
    pub constraint: String,
}

/// Every `terraform { required_version = "..." }` of the `.tf` files
/// directly in `dir`. A file that does not parse is an error naming it.
pub fn required_versions(dir: &Path) -> Result<Vec<Required>, String> {
    let mut out = Vec::new();
    for path in super::variables::tf_files(dir)? {
        let body = super::variables::parse(&path)?;
        for block in body.blocks().filter(|b| b.identifier() == "terraform") {
            for a in block
                .body()
                .attributes()
                .filter(|a| a.key() == "required_version")
            {
                if let hcl::Expression::String(c) = a.expr() {
                    out.push(Required {
                        file: path.clone(),
                        constraint: c.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Whether `version` (`1.11.4`, `1.12.0-rc1`) meets `constraint`; `Err`
/// says which part of the constraint is not Terraform's syntax.
pub fn satisfies(version: &str, constraint: &str) -> Result<bool, String> {
    let v = Version::parse(version).map_err(|e| format!("`{version}`: {e}"))?;
    for part in constraint
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if !one(&v, part)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn one(v: &Version, part: &str) -> Result<bool, String> {
    let ops = ["~>", ">=", "<=", "!=", ">", "<", "="];
    let (op, rest) = ops
        .iter()
        .find_map(|op| part.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("=", part));
    let (want, given) =
        padded(rest.trim()).ok_or_else(|| format!("`{part}` is not a version constraint"))?;
    let core = Version::new(v.major, v.minor, v.patch);
    Ok(match op {
        "=" => *v == want,
        "!=" => *v != want,
        ">" => *v > want,
        ">=" => *v >= want,
        "<" => *v < want,
        "<=" => *v <= want,
        _ => {
            // `~> 1.2` is >= 1.2.0, < 2.0.0; `~> 1.2.3` is >= 1.2.3, < 1.3.0.
            let upper = match given {
                1 | 2 => Version::new(want.major + 1, 0, 0),
                _ => Version::new(want.major, want.minor + 1, 0),
            };
            *v >= want && core < upper
        }
    })
}

/// `1`, `1.2` or `1.2.3` (with a pre-release) as a version, and how many
/// parts were given.
fn padded(text: &str) -> Option<(Version, usize)> {
    let (core, pre) = match text.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (text, None),
    };
    let given = core.split('.').count();
    if given == 0
        || given > 3
        || core
            .split('.')
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut parts = core.split('.').map(|p| p.to_string()).collect::<Vec<_>>();
    parts.resize(3, "0".into());
    let full = match pre {
        Some(p) => format!("{}-{p}", parts.join(".")),
        None => parts.join("."),
    };
    Version::parse(&full).ok().map(|v| (v, given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraforms_operators() {
        let yes = |v: &str, c: &str| assert!(satisfies(v, c).unwrap(), "{v} {c}");
        let no = |v: &str, c: &str| assert!(!satisfies(v, c).unwrap(), "{v} {c}");
        yes("1.11.4", ">= 1.5.0");
        no("1.4.9", ">= 1.5.0");
        yes("1.11.4", "~> 1.5");
        no("2.0.0", "~> 1.5");
        yes("1.5.9", "~> 1.5.2");
        no("1.6.0", "~> 1.5.2");
        yes("1.11.4", ">= 1.5, < 1.12");
        no("1.12.0", ">= 1.5, < 1.12");
        yes("1.11.4", "1.11.4");
        no("1.11.4", "!= 1.11.4");
        no("1.12.0-rc1", ">= 1.12.0");
        assert!(satisfies("1.11.4", ">= one").is_err());
    }

    #[test]
    fn read_from_the_terraform_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("versions.tf"),
            "terraform {\n  required_version = \">= 1.5.0\"\n}\n",
        )
        .unwrap();
        let found = required_versions(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].constraint, ">= 1.5.0");
    }
}

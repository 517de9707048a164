//! Terraform `import` blocks for an adoption plan: written into a pair's
//! working copy (never into the manager's root module), one block per
//! resource address and the id of the object that already exists.

use super::error::TerraformError;
use super::workspace::{hcl_str, Workspace};

/// The file an adoption plan's import blocks go to, in the working copy.
pub const IMPORTS_FILE: &str = "_fleetform_adopt_imports.tf";

/// One object to import: the resource address it goes to and its id in
/// the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub to: String,
    pub id: String,
}

/// Why `address` cannot be an import block's `to`, if it cannot: it is a
/// managed resource address (`TYPE.NAME`, an index `[0]` or `["key"]`,
/// under `module.NAME` calls), nothing else. The address is written into
/// HCL as an expression, so nothing that could end it is let through.
pub fn check_address(address: &str) -> Result<(), String> {
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = address;
    while !rest.is_empty() {
        let (name, after) = split_name(rest).ok_or_else(|| {
            format!("`{address}` is not a resource address (TYPE.NAME[INDEX], under module.NAME)")
        })?;
        let after = skip_index(after).ok_or_else(|| {
            format!(
                "`{address}`: an index is a number or a \"string\" of letters, digits and `-_.:/@`"
            )
        })?;
        parts.push(name);
        rest = match after.strip_prefix('.') {
            Some(r) if !r.is_empty() => r,
            Some(_) => return Err(format!("`{address}` ends with `.`")),
            None if after.is_empty() => "",
            None => return Err(format!("`{address}` is not a resource address")),
        };
    }
    // Pairs: `module NAME`... then `TYPE NAME`.
    let ok = parts.len() >= 2
        && parts.len().is_multiple_of(2)
        && parts[..parts.len() - 2].chunks(2).all(|c| c[0] == "module")
        && parts[parts.len() - 2] != "data"
        && parts[parts.len() - 2] != "module";
    match ok {
        true => Ok(()),
        false => Err(format!(
            "`{address}` is not a managed resource's address (TYPE.NAME, optionally under module.NAME)"
        )),
    }
}

/// A name at the start of `s` and what follows it.
fn split_name(s: &str) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(s.len());
    let name = &s[..end];
    let first = name.chars().next()?;
    (first.is_ascii_alphabetic() || first == '_').then_some((name, &s[end..]))
}

/// `s` after an optional `[0]` or `["key"]`; `None` for a bad index.
fn skip_index(s: &str) -> Option<&str> {
    let Some(inner) = s.strip_prefix('[') else {
        return Some(s);
    };
    let end = inner.find(']')?;
    let key = &inner[..end];
    let good = match key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
        Some(k) => k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c)),
        None => !key.is_empty() && key.chars().all(|c| c.is_ascii_digit()),
    };
    good.then_some(&inner[end + 1..])
}

/// The import blocks of `imports`, as HCL.
pub fn render(imports: &[Import]) -> String {
    let mut text = String::from("# Written by fleetform for an adoption plan; do not edit.\n");
    for i in imports {
        text.push_str(&format!(
            "import {{\n  to = {}\n  id = {}\n}}\n",
            i.to,
            hcl_str(&i.id)
        ));
    }
    text
}

impl Workspace {
    /// Writes the import blocks of `imports` into the working copy (none:
    /// nothing written). Each address is checked again here.
    pub fn write_imports(&self, imports: &[Import]) -> Result<(), TerraformError> {
        if imports.is_empty() {
            return Ok(());
        }
        for i in imports {
            check_address(&i.to).map_err(|m| {
                TerraformError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, m))
            })?;
        }
        let path = self.path().join(IMPORTS_FILE);
        crate::util::fs::write_atomic(&path, render(imports).as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_addresses_only() {
        for good in [
            "fakecloud_network.main",
            "fakecloud_instance.web[0]",
            "module.net.aws_vpc.this",
            "module.a[\"eu-1\"].x_y.z[\"k/v\"]",
        ] {
            assert_eq!(check_address(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "main",
            "a.b.",
            "data.x.y",
            "module.m",
            "a.b[\"x\\\"]\"]",
            "a.b[1 ]",
            "a.b}\nresource",
            "a.b[\"${x}\"]",
            "-a.b",
        ] {
            assert!(check_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_are_written_as_terraform_reads_them_back() {
        // What Terraform 1.11 reads back from each literal was checked
        // with `terraform output` (a `$` or `%` before anything but `{`
        // is itself; `$${` is `${`).
        for (id, literal) in [
            ("net$1-50%off", r#""net$1-50%off""#),
            ("a${b}%{c}", r#""a$${b}%%{c}""#),
            ("x$${y}", r#""x$$${y}""#),
            ("end$", r#""end$""#),
            ("bell\u{7}esc\u{1b}", r#""bell\u0007esc\u001B""#),
            ("q\"b\\", r#""q\"b\\""#),
        ] {
            assert_eq!(hcl_str(id), literal, "{id:?}");
        }
    }

    #[test]
    fn ids_are_string_literals() {
        let text = render(&[Import {
            to: "a.b[0]".into(),
            id: "x\"${y}".into(),
        }]);
        assert!(
            text.contains("  to = a.b[0]\n  id = \"x\\\"$${y}\"\n"),
            "{text}"
        );
    }
}

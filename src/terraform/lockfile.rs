//! The working copy's dependency lock file after `init`.
//!
//! Terraform (and OpenTofu) check every provider package against the lock
//! file's checksums in *every* command that starts providers, not only in
//! `init`: a `plan` and a `show -json` each hash the whole package again
//! (a 160 MB provider: about 0.14 s of CPU per command; the AWS provider's
//! 830 MB: several times that). In a working copy, the `init` fleetform
//! runs first has already checked the packages against the manager's lock
//! file (the pair's own `init`, or the run's one installing `init` whose
//! cache every pair links to). After it, the working copy's lock file keeps
//! each provider's version and drops its checksums, so the commands that
//! follow do not hash the same bytes again.
//!
//! What stays checked: every `init` starts from the manager's lock file (a
//! working copy is a fresh copy of the module, and `init` runs once in it),
//! so a package that does not match the manager's checksums is refused
//! before any plan or apply. A saved plan records the lock file it was made
//! with, and its summary whether the checksums were dropped; the apply's
//! own `init` checks its packages against the manager's checksums and then
//! does the same, so Terraform's comparison of the two lock files holds and
//! still refuses a plan made with other provider versions.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use super::error::TerraformError;

/// The lock file's name in a module.
pub const LOCK_FILE: &str = ".terraform.lock.hcl";

/// `text` without the `hashes = [...]` attributes of its provider blocks;
/// `None` when there are none, or when the file is not in the shape
/// Terraform writes (then it is left as it is: checking again is only
/// slower).
pub fn without_checksums(text: &str) -> Option<String> {
    static HASHES: OnceLock<Regex> = OnceLock::new();
    let re = HASHES.get_or_init(|| {
        Regex::new(r#"(?m)^[ \t]*hashes[ \t]*=[ \t]*\[(?:[ \t\r\n]*"[^"\\\r\n]*"[ \t]*,?)*[ \t\r\n]*\][ \t]*\r?\n?"#)
            .expect("a valid pattern")
    });
    let mentions = text.matches("hashes").count();
    let found = re.find_iter(text).count();
    // Every mention of `hashes` must be one whole attribute this pattern
    // recognises; anything else (a comment, an odd layout) leaves the file
    // untouched.
    if found == 0 || found != mentions {
        return None;
    }
    let stripped = re.replace_all(text, "").into_owned();
    let versions = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with("version"))
            .count()
    };
    (versions(&stripped) == versions(text)).then_some(stripped)
}

/// Drops the checksums from the lock file in `dir` after an `init` there
/// checked the packages against them. Returns whether it did.
pub fn drop_checksums_after_init(dir: &Path) -> Result<bool, TerraformError> {
    let path = dir.join(LOCK_FILE);
    let Ok(text) = crate::util::fs::read_input_text(&path) else {
        return Ok(false);
    };
    let Some(stripped) = without_checksums(&text) else {
        return Ok(false);
    };
    crate::util::fs::write_atomic(&path, stripped.as_bytes()).map_err(TerraformError::Fs)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITTEN: &str = r#"# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/fleetform/fakecloud" {
  version     = "0.1.0"
  constraints = ">= 0.1.0"
  hashes = [
    "h1:kP9rcLBEuCHnBU4RBPyuNeu8Ci+x9RsIiR5O3dsgsyw=",
    "zh:0ca7366fd32a312debf6d29a6d3fdd1b7aeda7a10bb30b0ad9f43b2b7b91a86e",
  ]
}

provider "registry.terraform.io/hashicorp/random" {
  version = "3.6.0"
  hashes  = ["h1:abc="]
}
"#;

    #[test]
    fn versions_and_constraints_stay_checksums_go() {
        let got = without_checksums(WRITTEN).unwrap();
        assert!(!got.contains("hashes"), "{got}");
        assert!(!got.contains("h1:"), "{got}");
        assert!(got.contains(r#"version     = "0.1.0""#));
        assert!(got.contains(r#"constraints = ">= 0.1.0""#));
        assert!(got.contains(r#"version = "3.6.0""#));
        assert_eq!(got.matches("provider \"").count(), 2);
        assert_eq!(got.matches('{').count(), got.matches('}').count());
    }

    #[test]
    fn nothing_to_drop_or_an_unknown_shape_is_left_alone() {
        let none = "provider \"registry.terraform.io/a/b\" {\n  version = \"1.0.0\"\n}\n";
        assert_eq!(without_checksums(none), None);
        // A comment that mentions hashes: not the shape Terraform writes.
        let commented = WRITTEN.replace("# Manual", "# hashes are kept; Manual");
        assert_eq!(without_checksums(&commented), None);
        // An attribute the pattern does not take whole.
        let odd = WRITTEN.replace("\"h1:abc=\"]", "\"h1:abc=\", local.x]");
        assert_eq!(without_checksums(&odd), None);
    }
}

//! The impact preview a reviewer of the manager's pull request reads
//! (issue #32): files named as in the repository at a commit, never at a
//! runner's scratch folder; the comment's shape pinned by snapshots.

use crate::common;

use common::{stderr, stdout, Fixture};
use serde_json::Value;

/// The example fleet in a git repository, committed.
fn repo() -> Fixture {
    let fx = Fixture::new();
    fx.git(&["init", "-q"]);
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "-m", "base"]);
    fx
}

fn head_sha(fx: &Fixture) -> String {
    let out = std::process::Command::new("git")
        .current_dir(fx.root())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A key the change removes is traced to the base's file as the
/// repository has it, at the base's commit.
#[test]
fn a_removed_key_is_traced_to_the_base_file_at_its_commit() {
    let fx = repo();
    let base = fx.read("manager/values/base.yml");
    fx.write(
        "manager/values/base.yml",
        &base.replace("  managed_by: fleetform\n", ""),
    );
    let out = fx
        .fleetform()
        .args(["impact", "--json", "--base", "HEAD"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let i: Value = serde_json::from_slice(&out.stdout).unwrap();
    let removed: Vec<&Value> = i["changed"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["values"].as_array().unwrap())
        .filter(|v| v["key"] == "/tags/managed_by")
        .collect();
    assert!(!removed.is_empty(), "{i:#}");
    let sha = head_sha(&fx);
    for v in removed {
        assert_eq!(
            v["file"].as_str(),
            Some(format!("values/base.yml:12:15 at {}", &sha[..12]).as_str()),
            "{v}"
        );
    }
    assert!(!stdout(&out).contains("/tmp"), "{}", stdout(&out));
}

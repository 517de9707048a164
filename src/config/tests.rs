//! The manager's settings as loaded: the tests of `config`'s own checks.

use super::*;

/// Every manager-side path key is a [`RepoPath`]: a new key declared as
/// a plain `PathBuf` would skip the containment check. The only plain
/// paths here are where the manager was loaded from (`root`, `file`)
/// and a registry entry's local checkout (`path`, read as given).
#[test]
fn no_manager_path_key_bypasses_repo_path() {
    let source = include_str!("mod.rs");
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let plain: Vec<&str> = code
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .filter(|l| l.contains(": PathBuf,") || l.contains(": Option<PathBuf>,"))
        .filter(|l| {
            let name = l.trim_start_matches("pub ").split(':').next();
            !matches!(name, Some("root" | "file" | "path"))
        })
        .collect();
    assert!(
        plain.is_empty(),
        "declare manager-side path keys as RepoPath: {plain:?}"
    );
}

fn load(text: &str) -> Result<ManagerConfig, String> {
    let doc = yaml::load_str(text, Path::new("fleetform.yml"), &Limits::default())
        .map_err(|e| e.to_string())?;
    from_doc(&doc).map_err(|e| e.to_string())
}

/// Each path key refuses `..` and absolute paths at the key's position;
/// paths inside are read as before.
#[test]
fn every_path_key_stays_inside_the_manager_repo() {
    let ok = "version: 1\nschema: s.json\nregistry: c.yml\nvalues: {base: v/b.yml}\n\
              environments:\n  - name: staging\n    values: v/s.yml\n\
              terraform:\n  working_dir: ./tf\n  backend:\n    kind: local\n    state_dir: st\n\
              sync:\n  template_dir: t\n";
    let c = load(ok).unwrap();
    assert_eq!(c.terraform.working_dir.as_deref(), Some(Path::new("./tf")));
    for (from, to, at) in [
        ("schema: s.json", "schema: ../s.json", "2:1: /schema"),
        ("registry: c.yml", "registry: /c.yml", "3:1: /registry"),
        ("base: v/b.yml", "base: v/../../b.yml", "4:10: /values/base"),
        (
            "values: v/s.yml",
            "values: /v/s.yml",
            "7:5: /environments/0/values",
        ),
        (
            "working_dir: ./tf",
            "working_dir: ..",
            "9:3: /terraform/working_dir",
        ),
        (
            "state_dir: st",
            "state_dir: /st",
            "12:5: /terraform/backend/state_dir",
        ),
        (
            "template_dir: t",
            "template_dir: ../t",
            "14:3: /sync/template_dir",
        ),
    ] {
        let e = load(&ok.replace(from, to)).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "fleetform.yml:{at}: must be a relative path inside the manager repo"
            )),
            "{to}: {e}"
        );
    }
}

/// Multi-byte text of a date's length is no date (and no panic).
#[test]
fn dates_never_panic() {
    assert!(is_date("2026-11-01"));
    for s in [
        "éé-11-01",
        "2026-é-01",
        "ééééé",
        "2026-11-0é",
        "",
        "2026-13-01",
    ] {
        assert!(!is_date(s), "{s}");
    }
}

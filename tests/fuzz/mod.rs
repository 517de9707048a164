//! The fuzz targets compile with the library and hold on their seeds.
//!
//! `fuzz/` is its own workspace (cargo-fuzz, a nightly toolchain), so the
//! main build never saw it and its targets once went on importing a module
//! the library had removed. Their bodies live in `fuzz/src/` and are
//! compiled here, by path, with the test build: a body that no longer
//! compiles fails this build, and each one runs over its committed seeds
//! (`fuzz/seeds/<target>/`), so an invariant a seed breaks fails a test.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code, unreachable_pub)]
mod targets;

/// A target's body: one input, its invariants asserted.
type Body = fn(&[u8]);

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Every target of `fuzz/Cargo.toml` is run here, and every one run here
/// is a target there: a new target cannot skip its seeds.
#[test]
fn every_fuzz_target_runs_over_its_seeds() {
    let runs: [(&str, Body); 5] = [
        ("audit", targets::audit::run),
        ("dispatch", targets::dispatch::run),
        ("layers", targets::layers::run),
        ("template", targets::template::run),
        ("yaml_validate", targets::yaml_validate::run),
    ];
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .unwrap();
    let declared: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| !n.starts_with("fleetform"))
        .collect();
    let mut names: Vec<&str> = runs.iter().map(|(n, _)| *n).collect();
    let mut declared_sorted = declared.clone();
    declared_sorted.sort();
    names.sort();
    assert_eq!(names, declared_sorted, "fuzz/Cargo.toml's [[bin]] targets");
    for (name, run) in runs {
        for (path, bytes) in seeds(name) {
            let ran = std::panic::catch_unwind(|| run(&bytes));
            assert!(
                ran.is_ok(),
                "fuzz target {name} fails on its seed {}",
                path.display()
            );
        }
    }
}

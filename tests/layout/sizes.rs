//! The size limits `tests/layout.rs` keeps beside the layers: no file over
//! 700 lines in src/, crates/ and tests/ (or its docs say why it is one
//! unit), no function past a few named steps, and every test file a module
//! of the integration binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::layout::{rust_files, without_tests};

/// Rust files of the shipped code and of `crates/`, relative to the repo.
fn all_sources() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    for e in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = e.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut paths);
        }
    }
    with_text(&root, paths)
}

/// `(path relative to root, text)` of each of `paths`.
fn with_text(root: &Path, paths: Vec<PathBuf>) -> Vec<(String, String)> {
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Files over 700 lines whose docs say why they are one unit (a
/// `//! One unit:` line) may be longer; none is over 700 otherwise.
const FILE_LIMIT: usize = 700;

/// Files still over the limit without a reason; the list only shrinks.
const LONG_STILL: &[&str] = &[];

fn says_why_one_unit(text: &str) -> bool {
    text.lines()
        .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
        .any(|l| {
            l.strip_prefix("//! One unit:")
                .is_some_and(|why| why.trim().len() > 20)
        })
}

/// No file of `sources` over [`FILE_LIMIT`] lines unless its docs say why
/// it is one unit or `still` (named `list`) names it; and `still` names
/// only files still over it.
fn within_the_limit(sources: &[(String, String)], still: &[&str], list: &str) {
    let long: BTreeSet<String> = sources
        .iter()
        .filter(|(_, text)| text.lines().count() > FILE_LIMIT && !says_why_one_unit(text))
        .map(|(f, text)| format!("{f} ({} lines)", text.lines().count()))
        .collect();
    let over: BTreeSet<String> = long
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let allowed: BTreeSet<String> = still.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = long
        .iter()
        .filter(|l| !allowed.contains(l.split(' ').next().unwrap()))
        .collect();
    assert!(
        new.is_empty(),
        "over {FILE_LIMIT} lines: split them, or say in their docs (`//! One unit: ...`) why they are one unit:\n{}",
        new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
    let fixed: Vec<&String> = allowed.difference(&over).collect();
    assert!(
        fixed.is_empty(),
        "no longer over the limit: take these off {list}: {fixed:?}"
    );
}

/// The tests keep the same limit as the code.
#[test]
fn no_test_file_grows_past_the_limit() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    rust_files(&root.join("tests"), &mut paths);
    let sources = with_text(&root, paths);
    assert!(sources.iter().any(|(f, _)| f == "tests/layout.rs"));
    // No test file is over the limit any more, so none is let off.
    within_the_limit(&sources, &[], "no list");
}

#[test]
fn no_file_grows_past_the_limit() {
    let sources = all_sources();
    assert!(sources
        .iter()
        .any(|(f, _)| f.starts_with("crates/fleetform-yaml/")));
    within_the_limit(&sources, LONG_STILL, "LONG_STILL");
    // The escape needs a reason, not just the words.
    assert!(says_why_one_unit(
        "//! Docs.\n//! One unit: the grammar's states share one table.\n"
    ));
    assert!(!says_why_one_unit("//! One unit:\nfn f() {}\n"));
    assert!(!says_why_one_unit(
        "fn f() {}\n// One unit: a comment, not the docs, and long enough\n"
    ));
}

/// Lines of each `fn` body (outside unit tests), by a brace count that
/// skips strings, chars and comments well enough for this code base.
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize)> {
    let fn_re =
        regex::Regex::new(r"^\s*(?:pub(?:\([a-z]+\))? )?(?:async )?fn ([a-z_0-9]+)").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(c) = fn_re.captures(lines[i]) else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - lines[i].trim_start().len();
        let mut j = i;
        while j < lines.len() && !lines[j].trim_end().ends_with('{') {
            if lines[j].trim_end().ends_with(';') {
                break;
            }
            j += 1;
        }
        if lines.get(j).is_some_and(|l| l.trim_end().ends_with(';')) {
            // A declaration without a body (a trait method).
            i = j + 1;
            continue;
        }
        let mut k = j + 1;
        while k < lines.len() {
            let l = lines[k];
            if l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}') {
                break;
            }
            k += 1;
        }
        let n = k.saturating_sub(i) + 1;
        if n > limit {
            out.push((c[1].to_string(), n));
        }
        i += 1;
    }
    out
}

/// Functions still over the limit, by `file: fn name`; the list only shrinks.
const LONG_FNS_STILL: &[&str] = &[];

#[test]
fn no_function_grows_past_a_few_named_steps() {
    let mut long = Vec::new();
    for (file, text) in all_sources() {
        for (name, n) in long_functions(&without_tests(&text), 90) {
            long.push(format!("{file}: fn {name} is {n} lines"));
        }
    }
    // The scan is real: a long function is found.
    let sample = format!("fn long() {{\n{}}}\n", "    step();\n".repeat(100));
    assert_eq!(long_functions(&sample, 90).len(), 1);
    // A trait method without a body is not measured to the next brace.
    let declared = format!(
        "trait T {{\n    fn f(\n        &self,\n    ) -> u8;\n{}}}\n",
        "    // note\n".repeat(100)
    );
    assert!(long_functions(&declared, 90).is_empty());
    for f in LONG_FNS_STILL {
        assert!(
            long.iter().any(|l| l.starts_with(f)),
            "{f}is no longer long: take it off LONG_FNS_STILL"
        );
    }
    long.retain(|l| !LONG_FNS_STILL.iter().any(|f| l.starts_with(f)));
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
}

/// The files the `mod name;` lines of `file` (whose text is `text`)
/// declare: beside a `mod.rs` or the root (`integration.rs`), in a folder
/// named for any other file, or where a `#[path = "..."]` above it says.
fn declared_by(file: &Path, text: &str) -> Vec<PathBuf> {
    let dir = file.parent().unwrap();
    let stem = file.file_stem().unwrap().to_string_lossy();
    let home = if stem == "mod" || stem == "integration" {
        dir.to_path_buf()
    } else {
        dir.join(stem.as_ref())
    };
    let decl = regex::Regex::new(r"^(?:pub(?:\(crate\))? )?mod ([a-z_0-9]+);$").unwrap();
    let path_attr = regex::Regex::new(r#"^#\[path = "([^"]+)"\]$"#).unwrap();
    let mut out = Vec::new();
    let mut path = None;
    for line in text.lines().map(str::trim) {
        if let Some(c) = path_attr.captures(line) {
            path = Some(c[1].to_string());
            continue;
        }
        if let Some(c) = decl.captures(line) {
            match path.take() {
                Some(p) => out.push(dir.join(p)),
                None => {
                    out.push(home.join(format!("{}.rs", &c[1])));
                    out.push(home.join(&c[1]).join("mod.rs"));
                }
            }
        }
        path = None;
    }
    out
}

/// The integration tests are one binary (`autotests = false`): a file
/// under `tests/` that no module declares would never be compiled, let
/// alone run. `tests/integration.rs` declares the folders (and the few
/// files on their own), each folder's `mod.rs` its files.
#[test]
fn every_test_file_is_a_module_of_the_integration_binary() {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut paths = Vec::new();
    rust_files(&tests, &mut paths);
    let declared: BTreeSet<PathBuf> = paths
        .iter()
        .flat_map(|p| declared_by(p, &std::fs::read_to_string(p).unwrap()))
        .collect();
    // The scan is real: files in folders, at the top and by `#[path]`.
    for f in [
        "relay/once.rs",
        "layout/sizes.rs",
        "notify.rs",
        "support/world.rs",
    ] {
        assert!(declared.contains(&tests.join(f)), "{f}");
    }
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| {
            **p != tests.join("integration.rs")
                && !p.starts_with(tests.join("fixtures"))
                && !declared.contains(*p)
        })
        .map(|p| p.strip_prefix(&tests).unwrap().display().to_string())
        .collect();
    assert!(paths.len() > 150, "{} files under tests/", paths.len());
    assert!(
        missing.is_empty(),
        "tests/{{{}}} are declared by no module: add `mod <name>;` to tests/integration.rs or to the folder's mod.rs",
        missing.join(",")
    );
}

/// Tests are grouped in folders by subject: no file at the top of
/// `tests/` is named for a folder there (`relay_once.rs` beside
/// `relay/`); it goes in the folder (`relay/once.rs`).
#[test]
fn test_files_live_in_their_subject_folder() {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut folders = BTreeSet::new();
    let mut files = BTreeSet::new();
    for e in std::fs::read_dir(&tests).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            folders.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            files.insert(stem.to_string());
        }
    }
    assert!(folders.contains("relay") && files.contains("integration"));
    let astray: Vec<&String> = files
        .iter()
        .filter(|f| folders.iter().any(|d| f.starts_with(&format!("{d}_"))))
        .collect();
    assert!(
        astray.is_empty(),
        "move these into their subject's folder (tests/<subject>/<name>.rs): {astray:?}"
    );
}

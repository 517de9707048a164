//! The book under docs/ (issue #54): every page is in SUMMARY.md and every
//! page SUMMARY.md names exists; every relative link of the book, the
//! README and SECURITY.md leads to a file that exists and, with an
//! `#anchor`, to a heading of that file (as mdBook makes anchors); the
//! README stays a front door; and the actions table pins what `init` pins.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn src() -> PathBuf {
    root().join("docs/src")
}

fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            pages(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// The text outside fenced code blocks (links and headings there are
/// not links and headings).
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| t.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(f), Some(m)) if f == m => fence = None,
            (None, None) => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// mdBook's anchor of a heading: lowercased, alphanumerics, `-` and `_`
/// kept, spaces made `-`, everything else dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    prose(&text)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// Every relative link in `file`: (target file, anchor), inline code
/// spans left out.
fn links(file: &Path) -> Vec<(PathBuf, Option<String>)> {
    let text = prose(&std::fs::read_to_string(file).unwrap());
    let code = regex::Regex::new(r"`[^`]*`").unwrap();
    let text = code.replace_all(&text, "");
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    // The book links the repository's own files (outside docs/src, which
    // mdBook does not publish) by their address on GitHub: checked here.
    const REPO: &str = "https://github.com/fleetform/fleetform/";
    link.captures_iter(&text)
        .map(|c| c[1].to_string())
        .filter_map(|t| match t.strip_prefix(REPO) {
            Some(rest) => {
                let path = rest
                    .strip_prefix("blob/main/")
                    .or_else(|| rest.strip_prefix("tree/main/"))
                    .unwrap_or_else(|| panic!("{}: {t}: not a file on main", file.display()));
                Some((root().join(path.split('#').next().unwrap()), None))
            }
            None if t.contains("://") || t.starts_with("mailto:") => None,
            None => Some((PathBuf::new(), Some(t))),
        })
        .map(|(repo_file, t)| {
            let Some(t) = t else {
                return (repo_file, None);
            };
            let (path, frag) = match t.split_once('#') {
                Some((p, f)) => (p.to_string(), Some(f.to_string())),
                None => (t, None),
            };
            let target = if path.is_empty() {
                file.to_path_buf()
            } else {
                file.parent().unwrap().join(path)
            };
            (target, frag)
        })
        .collect()
}

#[test]
fn every_page_is_in_the_summary_and_every_link_leads_somewhere() {
    let mut all = Vec::new();
    pages(&src(), &mut all);
    let summary = src().join("SUMMARY.md");
    let listed: BTreeSet<PathBuf> = links(&summary).into_iter().map(|(p, _)| p).collect();
    for p in &all {
        if p != &summary {
            assert!(listed.contains(p), "{} is not in SUMMARY.md", p.display());
        }
    }
    assert!(listed.len() >= 30, "{listed:?}");
    let mut files = all.clone();
    files.push(root().join("README.md"));
    files.push(root().join("SECURITY.md"));
    let mut checked = 0;
    for file in &files {
        for (target, frag) in links(file) {
            assert!(
                target.exists(),
                "{}: the link to {} leads nowhere",
                file.display(),
                target.display()
            );
            if let Some(frag) = frag {
                assert!(
                    anchors(&target).contains(&frag),
                    "{}: {}#{frag}: no such heading",
                    file.display(),
                    target.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} links");
}

/// The check finds what it is for: a missing page and a missing anchor.
#[test]
fn the_link_check_catches_a_broken_link() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("a.md");
    std::fs::write(tmp.path().join("b.md"), "# B\n\n## The part\n").unwrap();
    std::fs::write(
        &page,
        "[ok](b.md#the-part) [gone](c.md) [bad](b.md#nothing) `[code](x.md)`\n```\n[fenced](y.md)\n```\n",
    )
    .unwrap();
    let found = links(&page);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].0.exists() && anchors(&found[0].0).contains("the-part"));
    assert!(!found[1].0.exists());
    assert!(!anchors(&found[2].0).contains("nothing"));
    assert_eq!(
        anchor("Checking the setup: `doctor`"),
        "checking-the-setup-doctor"
    );
}

/// The README is the front door (issue #54): short, and the five things
/// a newcomer looks for are each one link away.
#[test]
fn the_readme_is_a_front_door() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; the rest goes in the book"
    );
    for (what, page) in [
        ("set-up of a manager", "docs/src/provider/quick-start.md"),
        ("onboarding a customer", "docs/src/provider/onboarding.md"),
        ("the relay", "docs/src/provider/relay.md"),
        ("a rollout", "docs/src/operations/rollout.md"),
        ("the security model", "docs/src/security/index.md"),
    ] {
        assert!(
            readme.contains(&format!("]({page})")),
            "the README does not link {what} ({page})"
        );
    }
    for command in [
        "cargo run -- -C examples/manager plan --all",
        "bash tests/check.sh",
    ] {
        assert!(readme.contains(command), "{command}");
    }
}

/// The actions table pins each action as `init` does: this release's
/// action ref `v<version>-action`, never a `@v1` that does not exist.
#[test]
fn the_actions_table_pins_what_init_pins() {
    let page = std::fs::read_to_string(src().join("provider/github-actions.md")).unwrap();
    let rows: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("| `<org>/fleetform"))
        .collect();
    assert_eq!(rows.len(), 9, "{rows:?}");
    for row in &rows {
        assert!(row.contains("@v<version>-action`"), "{row}");
    }
    // And `init` pins that ref: v<this version>-action.
    let tmp = tempfile::tempdir().unwrap();
    crate::common::run_bin(&["init", "--dir", "m"])
        .current_dir(tmp.path())
        .ok();
    let deploy =
        std::fs::read_to_string(tmp.path().join("m/.github/workflows/manager-deploy.yml")).unwrap();
    let pinned = format!("@v{}-action", env!("CARGO_PKG_VERSION"));
    assert!(deploy.contains(&pinned), "init does not pin {pinned}");
}

/// The book is built where the tests run and where it is published, with
/// the mdBook docs/mdbook-version pins: tests/check.sh fails on a missing
/// or other mdbook and on any warning, .ci/run installs that version, and
/// .github/workflows/book.yml builds and publishes with it.
#[test]
fn the_book_is_built_by_check_ci_and_the_publishing_workflow() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap();
    let version = read("docs/mdbook-version");
    assert!(
        regex::Regex::new(r"^\d+\.\d+\.\d+\n$")
            .unwrap()
            .is_match(&version),
        "{version:?}"
    );
    let check = read("tests/check.sh");
    for needed in ["mdbook build docs", "need mdbook", "WARN|ERROR"] {
        assert!(check.contains(needed), "tests/check.sh: {needed}");
    }
    let ci = read(".ci/run");
    assert!(ci.contains("cargo install mdbook --locked --version \"$mdbook_version\""));
    let workflow = read(".github/workflows/book.yml");
    for needed in [
        "cargo install mdbook --locked --version \"$version\"",
        "version=\"$(cat docs/mdbook-version)\"",
        "mdbook build docs",
        "actions/deploy-pages@",
        "path: docs/book",
    ] {
        assert!(workflow.contains(needed), "book.yml: {needed}");
    }
}

/// bench/results.md (issue #54, point 5): tables, each with one line of
/// method before it; no lab notebook (run dates, commit ids, load
/// averages, how a number moved: that is for commit messages). The
/// machine's tool versions are the one table without a method line (a
/// version string may carry a date), and so are the goal tables.
#[test]
fn bench_results_are_tables_with_one_line_of_method() {
    let text = std::fs::read_to_string(root().join("bench/results.md")).unwrap();
    let date = regex::Regex::new(r"\b20\d\d-\d\d-\d\d\b").unwrap();
    let commit = regex::Regex::new(r"\b[0-9a-f]{7,40}\b").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cases = lines.iter().position(|l| l.starts_with("## 1. ")).unwrap();
    let mut tables = 0;
    for (i, line) in lines.iter().enumerate() {
        let in_tools = lines[..i]
            .iter()
            .rev()
            .find(|l| l.starts_with("## "))
            .is_some_and(|h| *h == "## Machine");
        if !in_tools {
            assert!(!date.is_match(line), "line {}: a date: {line}", i + 1);
            assert!(
                !commit.is_match(line)
                    || !line
                        .chars()
                        .any(|c| c.is_ascii_alphabetic() && c.is_ascii_hexdigit()),
                "line {}: a commit id: {line}",
                i + 1
            );
        }
        assert!(
            !line.to_lowercase().contains("load average"),
            "line {}: {line}",
            i + 1
        );
        if i < cases || line.is_empty() || line.starts_with('#') || line.starts_with("<!--") {
            continue;
        }
        if line.starts_with('|') {
            let starts = i == 0 || !lines[i - 1].starts_with('|');
            if starts && !line.starts_with("| goal | result | met |") {
                assert!(
                    i >= 2 && lines[i - 1].is_empty() && lines[i - 2].starts_with("Method: "),
                    "line {}: a table without its line of method: {line}",
                    i + 1
                );
                tables += 1;
            }
            continue;
        }
        assert!(
            line.starts_with("Method: "),
            "line {}: prose beside the tables (say it in one line of method, or in a commit message): {line}",
            i + 1
        );
        assert!(
            lines.get(i + 1).is_some_and(|l| l.is_empty())
                && lines.get(i + 2).is_some_and(|l| l.starts_with('|')),
            "line {}: a line of method with no table under it",
            i + 1
        );
    }
    assert!(tables >= 15, "{tables} tables");
}

//! Customer-facing prose lives in one place (`src/report/customer/`):
//! commit statuses and pull request comments on the customer's repo are
//! written only by `flows::github_loop::status` and `flows::github_loop::comment`, which take a
//! `CustomerText` (a type only `report::customer` can build); deployments
//! take one by type in `github::NewDeployment`. This checks that no other
//! file of the GitHub loop calls GitHub's status or comment writes itself,
//! so a call site cannot word its own text.

use std::path::{Path, PathBuf};

/// GitHub writes whose text a customer may read.
const WRITES: &[&str] = &[
    ".set_status(",
    ".create_comment(",
    ".update_comment(",
    ".upsert_sticky_comment(",
    "CommitStatus {",
];

/// The files allowed to call them: the two customer-repo writers (they
/// take `CustomerText`), and the commands that write on the manager's own
/// repo (impact's PR comment and status, drift's issues and its cause
/// issues), not a customer's.
const WRITERS: &[&str] = &[
    "flows/github_loop/status.rs",
    "flows/github_loop/comment.rs",
    "commands/impact.rs",
    "flows/drift/issues.rs",
    "flows/drift/cause_issues.rs",
];

/// The folders of the GitHub loop and the commands.
const CHECKED: &[&str] = &["flows", "commands"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code outside the unit tests, without comment lines.
fn code(text: &str) -> String {
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(file, write)` for each write outside [`WRITERS`].
fn offending(files: &[(String, String)]) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for (rel, text) in files {
        if WRITERS.contains(&rel.as_str()) {
            continue;
        }
        let text = code(text);
        for w in WRITES {
            if text.contains(w) {
                found.push((rel.clone(), *w));
            }
        }
    }
    found
}

fn sources() -> Vec<(String, String)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    for dir in CHECKED {
        rust_files(&src.join(dir), &mut paths);
    }
    paths
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

#[test]
fn only_the_customer_repo_writers_write_statuses_and_comments() {
    let files = sources();
    assert!(
        files
            .iter()
            .any(|(rel, _)| rel == "flows/github_loop/status.rs")
            && files
                .iter()
                .any(|(rel, _)| rel == "flows/github_loop/trigger.rs"),
        "the checked folders moved: {:?}",
        files.iter().map(|(r, _)| r).collect::<Vec<_>>()
    );
    let found = offending(&files);
    assert!(
        found.is_empty(),
        "these files write a status or a comment on GitHub themselves; word the text in \
         src/report/customer/ and write it through flows::github_loop::status or flows::github_loop::comment: {found:?}"
    );
    // The writers are still the ones that write.
    for (rel, write) in [
        ("flows/github_loop/status.rs", ".set_status("),
        ("flows/github_loop/comment.rs", ".upsert_sticky_comment("),
    ] {
        let text = &files.iter().find(|(r, _)| r == rel).unwrap().1;
        assert!(code(text).contains(write), "{rel} no longer has {write}");
        assert!(
            code(text).contains("CustomerText"),
            "{rel} takes no CustomerText"
        );
    }
}

#[test]
fn a_call_site_wording_its_own_status_is_caught() {
    let own = |body: &str| vec![("flows/github_loop/plan.rs".to_string(), body.to_string())];
    let status = "let st = CommitStatus {\n    description: format!(\"{env}: done\"),\n};\ngh.set_status(repo, sha, &st).await?;";
    assert_eq!(
        offending(&own(status)),
        vec![
            ("flows/github_loop/plan.rs".to_string(), ".set_status("),
            ("flows/github_loop/plan.rs".to_string(), "CommitStatus {")
        ]
    );
    let reply = "gh.create_comment(repo, pr, &format!(\"refused: {why}\")).await?;";
    assert_eq!(offending(&own(reply)).len(), 1);
    // The same call in a writer, in a comment line or in unit tests is not
    // a call site.
    let writer = vec![(
        "flows/github_loop/comment.rs".to_string(),
        reply.to_string(),
    )];
    assert!(offending(&writer).is_empty());
    let aside = format!("// {reply}\n#[cfg(test)]\nmod tests {{ fn t() {{ {reply} }} }}");
    assert!(offending(&own(&aside)).is_empty());
}

/// GitHub's deployment writes: only `flows/github_loop/deployments.rs` makes them
/// (an apply's, a day-2 operation's, a rollout's and the ones owed), so
/// every deployment a customer sees is written, and worded, one way.
const DEPLOYMENT_WRITES: &[&str] = &[
    ".create_deployment(",
    ".set_deployment_status(",
    ".set_late_deployment_status(",
    ".apply_started(",
    ".apply_ended(",
    "NewDeployment {",
];

#[test]
fn only_one_module_writes_github_deployments() {
    let files = sources();
    let writer = "flows/github_loop/deployments.rs";
    let text = &files
        .iter()
        .find(|(r, _)| r == writer)
        .unwrap_or_else(|| panic!("no src/{writer}"))
        .1;
    for w in DEPLOYMENT_WRITES {
        assert!(code(text).contains(w), "{writer} no longer has {w}");
    }
    let found: Vec<(&String, &&str)> = files
        .iter()
        .filter(|(rel, _)| rel != writer)
        .flat_map(|(rel, text)| {
            let text = code(text);
            DEPLOYMENT_WRITES
                .iter()
                .filter(move |w| text.contains(**w))
                .map(move |w| (rel, w))
        })
        .collect();
    assert!(
        found.is_empty(),
        "GitHub deployments written outside {writer}: {found:?}"
    );
}

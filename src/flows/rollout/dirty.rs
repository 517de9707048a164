//! `rollout start` from a manager folder with uncommitted changes: a
//! rollout records `HEAD`'s commit and a tick by hand works with the
//! checkout as it is, so changes that commit lacks would roll out under a
//! commit that does not contain them. Refused, unless `--allow-dirty`,
//! which the audit log records (`result: started-dirty`).

use std::path::Path;

use crate::context::Context;
use crate::error::{Error, Result};

/// What in the manager's folder differs from `HEAD`: changed, staged and
/// untracked files, as `git status` names them (relative to the repo's
/// root); ignored files, fleetform's own `.fleetform/`, lock files
/// (`customers.yml.lock`, Terraform's) and Terraform's `.terraform/`
/// folders aside.
pub(super) fn uncommitted(manager_dir: &Path) -> Result<Vec<String>> {
    let text = crate::util::git::run(
        manager_dir,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            ".",
            ":(exclude).fleetform",
            ":(exclude,glob)**/*.lock",
            ":(exclude,glob)**/.terraform/**",
        ],
    )
    .map_err(|e| {
        Error::usage(format!(
            "reading the manager's git status (a rollout starts from a commit): {e}"
        ))
    })?;
    let mut files = Vec::new();
    let mut entries = text.split('\0').filter(|e| e.len() > 3);
    while let Some(entry) = entries.next() {
        files.push(entry[3..].to_string());
        // A rename or copy is followed by the name it had.
        if matches!(entry.as_bytes()[0], b'R' | b'C') {
            entries.next();
        }
    }
    Ok(files)
}

/// At most five file names, then how many more.
pub(super) fn shown_files(files: &[String]) -> String {
    let mut s = files
        .iter()
        .take(5)
        .map(|f| crate::util::text::shown(f))
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > 5 {
        s.push_str(&format!(" and {} more", files.len() - 5));
    }
    s
}

/// The refusal of a start from a folder with uncommitted `files`.
pub(super) fn refusal(files: &[String], manager_sha: &str) -> Error {
    Error::refused(format!(
        "the manager's folder has uncommitted changes ({}); a rollout records the commit {}, which does not contain them, and would roll them out under it. Commit them (or stash them) and start again, or pass --allow-dirty to roll out the folder as it is, recorded as such in the audit log",
        shown_files(files),
        crate::dispatch::short_sha(manager_sha)
    ))
}

/// The warning and audit line of a start with `--allow-dirty`.
pub(super) fn record(cx: &Context, id: &str, files: &[String], manager_sha: &str) {
    let said = format!(
        "{id}: started with --allow-dirty from a folder with uncommitted changes ({}) that commit {} does not contain",
        shown_files(files),
        crate::dispatch::short_sha(manager_sha)
    );
    cx.out.note(&format!("warning: {said}"));
    cx.record(crate::audit::Entry::now("rollout", "started-dirty").detail(said));
}

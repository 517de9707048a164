//! The customer's pull request: the sticky plan comment per environment,
//! the invalid-variables comment, and the note an apply adds.

use std::path::Path;

use crate::data::Diagnostic;
use crate::dispatch::short_sha;
use crate::error::Result;
use crate::github::GitHub;
use crate::output::Output;
use crate::report::markdown::{md_code, md_escape};

use super::session::gh_err;

/// Markdown for values that failed validation.
pub(super) fn invalid_comment(
    marker: &str,
    env: &str,
    slug: &str,
    sha: &str,
    problems: &[Diagnostic],
) -> String {
    let mut s = format!(
        "{marker}\n### fleetform plan: `{slug}` / `{env}`\n\n**Invalid variables** at `{}`: nothing was planned. Fix these and push again:\n\n",
        short_sha(sha)
    );
    for p in problems {
        s.push_str(&format!(
            "- {}{}: {}\n",
            md_code(&p.location.to_string()),
            p.pointer
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| format!(" {}", md_code(p)))
                .unwrap_or_default(),
            md_escape(&p.message)
        ));
    }
    s
}

/// Writes the sticky comment. A PR that does not exist (or cannot take
/// comments) is reported and skipped: the commit status still tells.
pub(super) async fn sticky(
    gh: &GitHub,
    repo: &str,
    pr: u64,
    marker: &str,
    body: &str,
    out: &Output,
) -> Result<Option<u64>> {
    match gh.upsert_sticky_comment(repo, pr, marker, body).await {
        Ok(id) => Ok(id),
        Err(e) if matches!(e.status(), Some(403 | 404 | 410 | 422)) => {
            out.note(&format!("warning: no comment on {repo}#{pr}: {e}"));
            Ok(None)
        }
        Err(e) => Err(gh_err(e)),
    }
}

/// Adds "Applied" to the plan's comment, when the plan had one and its
/// text travelled in the bundle.
pub(super) async fn mark_applied(
    gh: &GitHub,
    repo: &str,
    comment_id: Option<u64>,
    plan_dir: &Path,
    env: &str,
    run_url: Option<&str>,
) -> Result<()> {
    if let (Some(id), Ok(comment)) = (
        comment_id,
        std::fs::read_to_string(plan_dir.join("comment.md")),
    ) {
        let body = format!(
            "{comment}\n---\n**Applied** to `{env}`{}.\n",
            run_url
                .map(|u| format!(" in [this run]({u})"))
                .unwrap_or_default()
        );
        gh.update_comment(repo, id, &body).await.map_err(gh_err)?;
    }
    Ok(())
}

/// The sticky comment of a product that cannot plan yet: a product it
/// needs must be applied here first.
pub(super) fn waiting_comment(marker: &str, label: &str, sha: &str, reason: &str) -> String {
    format!(
        "{marker}\n### fleetform plan: {}\n\n**Not planned yet** at `{}`: {}. It plans on the next push after that apply.\n",
        md_code(label),
        short_sha(sha),
        md_escape(reason)
    )
}

//! The customer's pull request: the sticky plan comment per environment,
//! the invalid-variables comment, the note an apply adds and the replies.
//! Each body is a [`CustomerText`], worded in `report::customer`; this is
//! the one file in `flows` that writes comments.

use std::path::Path;

use crate::error::Result;
use crate::github::GitHub;
use crate::output::Output;
use crate::report::customer::{comment, Comment, CustomerText};

use super::session::gh_err;

/// Writes the sticky comment, and says when GitHub wrote it. A PR that does not exist (or cannot take
/// comments) is reported and skipped: the commit status still tells.
pub(super) async fn sticky(
    gh: &GitHub,
    repo: &str,
    pr: u64,
    marker: &str,
    body: &CustomerText,
    out: &Output,
) -> Result<Option<crate::github::Written>> {
    match gh.upsert_sticky(repo, pr, marker, body.as_str()).await {
        Ok(written) => Ok(written),
        Err(e) if matches!(e.status(), Some(403 | 404 | 410 | 422)) => {
            out.note(&format!("warning: no comment on {repo}#{pr}: {e}"));
            Ok(None)
        }
        Err(e) => Err(gh_err(e)),
    }
}

/// fleetform's one answer on an issue from the change form
/// ([`crate::report::customer::REQUEST_MARKER`]), written or updated.
pub(crate) async fn request_answer(
    gh: &GitHub,
    repo: &str,
    issue: u64,
    body: &CustomerText,
) -> Result<()> {
    gh.upsert_sticky_comment(
        repo,
        issue,
        crate::report::customer::REQUEST_MARKER,
        body.as_str(),
    )
    .await
    .map(|_| ())
    .map_err(gh_err)
}

/// A new comment on `repo`'s issue or pull request `number`.
pub(crate) async fn reply(
    gh: &GitHub,
    repo: &str,
    number: u64,
    body: &CustomerText,
) -> std::result::Result<Option<u64>, crate::github::GitHubError> {
    gh.create_comment(repo, number, body.as_str()).await
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
    if let (Some(id), Ok(plan_comment)) = (
        comment_id,
        crate::util::fs::read_input_text(plan_dir.join("comment.md")),
    ) {
        let body = comment(&Comment::Applied {
            plan_comment: &plan_comment,
            place: env,
            run_url,
        });
        gh.update_comment(repo, id, body.as_str())
            .await
            .map_err(gh_err)?;
    }
    Ok(())
}

//! The customer side of a comment command (`/fleetform plan|apply` on a
//! pull request, see `comment_command`): which comment, and the pull
//! request's head read from GitHub. An `issue_comment` run is a run of the
//! default branch's workflow, so neither its sha nor its ref is the pull
//! request's.

use serde_json::Value;

use crate::error::Result;
use crate::github::GitHub;
use crate::output::Output;
use crate::report::customer::{trigger_line, Idle, Trigger};

use super::comment_command::parse;
use super::session::gh_err;

/// A comment command as the trigger sends it: the pull request, the
/// comment and the dispatch's `event_type`.
pub(super) struct CommentSubject {
    pub pr: u64,
    pub id: u64,
    pub event_type: &'static str,
}

/// The comment command of an `issue_comment` event, or why there is none:
/// only a new comment (`created`) on a pull request whose whole text is a
/// command. Its sha and ref are read from GitHub next ([`pull_head`]).
pub(super) fn subject(event: &Value) -> std::result::Result<CommentSubject, String> {
    let action = event.get("action").and_then(Value::as_str).unwrap_or("");
    if action != "created" {
        return Err(trigger_line(&Trigger::Idle(Idle::CommentNotNew { action })));
    }
    if !event
        .pointer("/issue/pull_request")
        .is_some_and(Value::is_object)
    {
        return Err(trigger_line(&Trigger::Idle(Idle::CommentOnIssue)));
    }
    let body = event.pointer("/comment/body").and_then(Value::as_str);
    let Some(command) = body.and_then(parse) else {
        return Err(trigger_line(&Trigger::Idle(Idle::NotACommand)));
    };
    let number = |p: &str| event.pointer(p).and_then(Value::as_u64).filter(|n| *n > 0);
    let (Some(pr), Some(id)) = (number("/issue/number"), number("/comment/id")) else {
        return Err("the event names no pull request number or comment id".into());
    };
    Ok(CommentSubject {
        pr,
        id,
        event_type: command.event_type(),
    })
}

/// The pull request's head sha and branch ref (1 request); `None`, noted,
/// when there is nothing to run (it is closed or gone).
pub(super) async fn pull_head(
    gh: &GitHub,
    repo: &str,
    pr: u64,
    out: &Output,
) -> Result<Option<(String, String)>> {
    let note = match gh.pull_head(repo, pr).await.map_err(gh_err)? {
        Some(h) if h.open => return Ok(Some((h.head_sha, format!("refs/heads/{}", h.head_ref)))),
        Some(_) => trigger_line(&Trigger::Idle(Idle::PullRequestClosed { pr })),
        None => trigger_line(&Trigger::Idle(Idle::NoPullRequest { repo, pr })),
    };
    out.note(&note);
    Ok(None)
}

//! The customer side of a comment command (`/fleetform plan|apply` on a
//! pull request, see `comment_command`): which comment, and the pull
//! request's head read from GitHub. An `issue_comment` run is a run of the
//! default branch's workflow, so neither its sha nor its ref is the pull
//! request's.

use serde_json::Value;

use crate::error::Result;
use crate::github::GitHub;

use super::comment_command::parse;
use super::session::gh_err;
use super::trigger::Subject;

/// The comment command of an `issue_comment` event, or why there is none:
/// only a new comment (`created`) on a pull request whose whole text is a
/// command. Its sha and ref are read from GitHub next ([`pull_head`]).
pub(super) fn subject(repo: String, event: &Value) -> std::result::Result<Subject, String> {
    let action = event.get("action").and_then(Value::as_str).unwrap_or("");
    if action != "created" {
        return Err(format!(
            "comment {action}: only a new comment runs a command; nothing to do"
        ));
    }
    if !event
        .pointer("/issue/pull_request")
        .is_some_and(Value::is_object)
    {
        return Err("a comment on an issue, not on a pull request: nothing to do".into());
    }
    let body = event.pointer("/comment/body").and_then(Value::as_str);
    let Some(command) = body.and_then(parse) else {
        return Err("the comment is not a fleetform command: nothing to do".into());
    };
    let number = |p: &str| event.pointer(p).and_then(Value::as_u64).filter(|n| *n > 0);
    let (Some(pr), Some(id)) = (number("/issue/number"), number("/comment/id")) else {
        return Err("the event names no pull request number or comment id".into());
    };
    Ok(Subject {
        repo,
        sha: String::new(),
        git_ref: String::new(),
        pr: Some(pr),
        event: "issue_comment".into(),
        event_type: command.event_type(),
        comment: Some(id),
    })
}

/// The pull request's head sha and branch ref (1 request), or why there
/// is nothing to run (it is closed or gone).
pub(super) async fn pull_head(
    gh: &GitHub,
    subject: &Subject,
) -> Result<std::result::Result<(String, String), String>> {
    let pr = subject.pr.unwrap_or_default();
    Ok(
        match gh.pull_head(&subject.repo, pr).await.map_err(gh_err)? {
            Some(h) if h.open => Ok((h.head_sha, format!("refs/heads/{}", h.head_ref))),
            Some(_) => Err(format!("#{pr} is closed: nothing to do")),
            None => Err(format!("{} has no pull request #{pr}", subject.repo)),
        },
    )
}

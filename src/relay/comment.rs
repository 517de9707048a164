//! Comment commands through the relay (`/fleetform plan|apply` on a
//! customer's pull request). GitHub runs an `issue_comment` workflow on the
//! default branch, so the run's OIDC token names the default branch's
//! commit, not the pull request's. The token still proves which repository
//! asks; what to run is read from GitHub with the relay's own installation
//! token for that repository: the comment (it must be one of that
//! repository, on a pull request of that repository, and its text a
//! command), then the pull request's head, which is dispatched with the
//! comment's id. Nothing of the comment is taken from the request but its
//! id. The manager then reads the comment again and checks its author's
//! permission (`deploy::comment_command`), as for the token trigger.
//!
//! The App's `issue_comment` webhook takes the same path (`webhook`): a
//! new comment on a pull request whose text is a command.

use super::{Answer, Relay, Subject};
use crate::dispatch::command::parse;

impl Relay {
    /// The subject of a comment command of `repo` (GitHub's id `repo_id`,
    /// from the verified token or the signed webhook delivery): the head of
    /// the pull request comment `comment` is on, which must be `pr` when
    /// named (2 requests, the comment and the pull request, and the
    /// installation token when not cached).
    pub(super) async fn comment_subject(
        &self,
        (repo, repo_id): (&str, u64),
        comment: Option<u64>,
        pr: Option<u64>,
        subject: &mut Subject,
    ) -> Result<(), Answer> {
        let Some(id) = comment.filter(|id| *id > 0) else {
            return Err(Answer::refuse(
                400,
                "no_comment",
                "an `issue_comment` run names its comment (`comment`: the comment's id); update the trigger action",
            ));
        };
        let gh = self.customer_client(repo).await?;
        // Read through `repo`: a comment of any other repository is not
        // found there. The token reads pull requests' comments (Pull
        // requests: read): one on a plain issue may be forbidden to it
        // rather than found.
        let unknown = || {
            Answer::refuse(
                404,
                "no_comment",
                format!("{repo} has no comment {id} on a pull request (a comment command names a comment of the repository its run is in)"),
            )
        };
        let facts = match gh.issue_comment(repo, id).await {
            Ok(Some(facts)) => facts,
            Ok(None) => return Err(unknown()),
            Err(e) if e.status() == Some(403) => return Err(unknown()),
            Err(e) => return Err(Answer::github(&e)),
        };
        let n = facts.issue;
        if pr.is_some_and(|pr| pr != n) {
            return Err(Answer::refuse(
                400,
                "wrong_pr",
                format!("comment {id} is on #{n} of {repo}, not on the pull request named"),
            ));
        }
        let Some(command) = parse(&facts.body) else {
            return Err(Answer::refuse(
                400,
                "not_a_command",
                format!("comment {id} of {repo} is not a fleetform command (`/fleetform plan` or `/fleetform apply`, optionally `-e <environment>`, alone on one line)"),
            ));
        };
        let head = gh
            .pull_head(repo, n)
            .await
            .map_err(|e| Answer::github(&e))?
            .ok_or_else(|| {
                Answer::refuse(
                    400,
                    "not_a_pull_request",
                    format!("#{n} of {repo} is not a pull request: comment commands run on pull requests only"),
                )
            })?;
        if !head.open {
            return Err(Answer::refuse(
                409,
                "closed_pr",
                format!("pull request #{n} of {repo} is closed: nothing to run"),
            ));
        }
        if head.head_repo_id.is_some_and(|rid| rid != repo_id) {
            return Err(Answer::refuse(403, "fork", format!("pull request #{n} comes from another repository; only branches of {repo} are planned")));
        }
        subject.sha = head.head_sha;
        subject.git_ref = format!("refs/heads/{}", head.head_ref);
        subject.pr = Some(n);
        subject.event = "issue_comment".into();
        subject.comment = Some(id);
        subject.apply = command.apply;
        // The payload names the comment instead (GitHub's 10 keys).
        subject.run_url = None;
        Ok(())
    }
}

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
//! permission (`flows::github_loop::comment_command`), as for the token trigger.
//!
//! The App's `issue_comment` webhook takes the same path (`webhook`): a
//! new comment on a pull request whose text is a command.

use super::{Answer, Relay, Subject};
use crate::dispatch::command::parse;
use crate::report::customer::Refusal;

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
            return Err(Answer::refused(Refusal::CommentNotNamed));
        };
        let gh = self.customer_client(repo, Some(repo_id)).await?;
        // Read through `repo`: a comment of any other repository is not
        // found there. The token reads pull requests' comments (Pull
        // requests: read): one on a plain issue may be forbidden to it
        // rather than found.
        let unknown = || Answer::refused(Refusal::NoComment { repo, id });
        let facts = match gh.issue_comment(repo, id).await {
            Ok(Some(facts)) => facts,
            Ok(None) => return Err(unknown()),
            Err(e) if e.status() == Some(403) => return Err(unknown()),
            Err(e) => return Err(Answer::github(&e)),
        };
        let n = facts.issue;
        if pr.is_some_and(|pr| pr != n) {
            return Err(Answer::refused(Refusal::CommentElsewhere {
                repo,
                id,
                on: n,
            }));
        }
        let Some(command) = parse(&facts.body) else {
            return Err(Answer::refused(Refusal::NotACommand { repo, id }));
        };
        let head = gh
            .pull_head(repo, n)
            .await
            .map_err(|e| Answer::github(&e))?
            .ok_or_else(|| Answer::refused(Refusal::NotAPullRequest { repo, number: n }))?;
        if !head.open {
            return Err(Answer::refused(Refusal::ClosedPullRequest { repo, pr: n }));
        }
        super::subject::head_is_own(&head, repo, repo_id)?;
        // Who wrote it may make the manager run: read before anything is
        // dispatched, so that on a public repository a stranger's command
        // starts nothing (the manager checks it again).
        let permission = gh
            .permission_of(repo, &facts.author)
            .await
            .map_err(|e| Answer::github(&e))?;
        if !matches!(permission.as_str(), "write" | "admin") {
            return Err(Answer::refused(Refusal::NotAWriter {
                repo,
                login: &facts.author,
                permission: &permission,
            }));
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

//! What a verified caller asked for: the commit, ref and pull request the
//! manager plans, taken from the OIDC token's claims and checked against
//! GitHub, never from the request body alone.

use serde::Deserialize;
use serde_json::Value;

use super::oidc::Claims;
use super::{Answer, Relay};
use crate::config::Customer;
use crate::dispatch::is_sha;
use crate::report::customer::Refusal;

/// The largest `/dispatch` body read.
pub const MAX_DISPATCH_BODY: usize = 64 * 1024;

/// The body of `POST /dispatch`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DispatchRequest {
    /// The GitHub Actions OIDC token of the customer's trigger run.
    pub token: String,
    /// The pull request the run is about: accepted only if its head (or
    /// GitHub's merge commit of it) is the token's `sha`.
    #[serde(default)]
    pub pr: Option<u64>,
    /// The customer's variables files present at the commit (names only;
    /// the manager fetches only the files it reads).
    #[serde(default)]
    pub files: Option<Vec<String>>,
    /// For an `issue_comment` run: the id of the comment that asked for it
    /// (`/fleetform plan|apply`), read back from GitHub by the relay.
    #[serde(default)]
    pub comment: Option<u64>,
}

impl std::fmt::Debug for DispatchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchRequest")
            .field("token", &"***")
            .field("pr", &self.pr)
            .field("files", &self.files)
            .field("comment", &self.comment)
            .finish()
    }
}

impl DispatchRequest {
    /// The request, from a JSON object only (serde would also read an
    /// array as the struct's fields in order).
    pub fn parse(body: &[u8]) -> Result<DispatchRequest, Answer> {
        let not_an_object = || {
            Answer::refuse(
                400,
                "bad_request",
                "the body must be a JSON object {\"token\": <OIDC token>, \"pr\": <number>?, \"files\": [..]?, \"comment\": <id>?}",
            )
        };
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(not_an_object());
        }
        serde_json::from_slice(body).map_err(|e| {
            // serde's message may quote the value it choked on: only its
            // position is shown.
            Answer::refuse(
                400,
                "bad_request",
                format!(
                    "the body must be JSON {{\"token\": <OIDC token>, \"pr\": <number>?, \"files\": [..]?, \"comment\": <id>?}} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })
    }
}

/// What is dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The customer repo as GitHub names it now (a rename changes it; the
    /// manager finds the customer by `repo_id`).
    pub repo: String,
    pub sha: String,
    pub git_ref: String,
    pub pr: Option<u64>,
    /// `pull_request`, `push` or `workflow_dispatch`.
    pub event: String,
    /// A plan that leads to an apply (default branch).
    pub apply: bool,
    pub run_url: Option<String>,
    pub dispatch_id: String,
    pub files: Vec<String>,
    /// A comment command's comment (`event: issue_comment`).
    pub comment: Option<u64>,
}

/// The pull request number of `refs/pull/<n>/merge` (or `/head`).
fn pr_of_ref(git_ref: &str) -> Option<u64> {
    let rest = git_ref.strip_prefix("refs/pull/")?;
    let (n, tail) = rest.split_once('/')?;
    matches!(tail, "merge" | "head")
        .then(|| n.parse().ok())
        .flatten()
}

/// A dispatch id from the token: unique per run attempt and token.
fn dispatch_id(claims: &Claims) -> String {
    let jti: String = claims
        .jti
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(24)
        .collect();
    let id = format!(
        "r{}-{}-{}",
        claims.run_id.unwrap_or(0),
        claims.run_attempt.unwrap_or(1),
        if jti.is_empty() {
            &claims.sha[..12.min(claims.sha.len())]
        } else {
            &jti
        }
    );
    id.chars().take(64).collect()
}

impl Relay {
    /// The subject of a verified `/dispatch`: the token's commit, on its
    /// ref; for a pull request, that pull request's head, which must be
    /// (or merge) the token's commit.
    pub(super) async fn subject_of(
        &self,
        customer: &Customer,
        claims: &Claims,
        req: &DispatchRequest,
    ) -> Result<Subject, Answer> {
        if !is_sha(&claims.sha) {
            return Err(Answer::refuse(
                401,
                "bad_token",
                "the token's `sha` is not a commit",
            ));
        }
        let _ = customer;
        let repo = claims.repository.clone();
        let ref_pr = pr_of_ref(&claims.git_ref);
        if let (Some(a), Some(b)) = (ref_pr, req.pr) {
            if a != b {
                return Err(Answer::refused(Refusal::WrongPullRequest {
                    run: a,
                    named: b,
                }));
            }
        }
        let pr = req.pr.or(ref_pr);
        if req.comment.is_some() && claims.event_name != "issue_comment" {
            return Err(Answer::refused(Refusal::NotACommentRun));
        }
        let files = self.requested_files(req.files.as_deref())?;
        let mut subject = Subject {
            repo: repo.clone(),
            sha: claims.sha.clone(),
            git_ref: claims.git_ref.clone(),
            pr,
            event: claims.event_name.clone(),
            apply: false,
            run_url: claims.run_id.map(|id| {
                format!(
                    "{}/{}/actions/runs/{id}",
                    self.settings.relay.server_url.trim_end_matches('/'),
                    claims.repository
                )
            }),
            dispatch_id: dispatch_id(claims),
            files,
            comment: None,
        };
        match (claims.event_name.as_str(), pr) {
            ("pull_request" | "pull_request_target", Some(n)) => {
                self.pull_subject(&repo, n, claims, &mut subject).await?;
            }
            // A manual run for a pull request (the customer's form workflow
            // starts the trigger so: a pull request its GITHUB_TOKEN opens
            // starts no run by itself) is that pull request's, checked as
            // one: its head must be the token's commit.
            ("workflow_dispatch", Some(n)) => {
                self.pull_subject(&repo, n, claims, &mut subject).await?;
            }
            // A push names its pull request through its own commit, which
            // the manager reads: a pull request the caller names is not
            // taken (a merge commit is never its pull request's head, so
            // checking it as one refused every merge's apply).
            ("push" | "workflow_dispatch", _) => Relay::branch_subject(claims, &mut subject)?,
            ("issue_comment", _) => {
                let repo = (claims.repository.as_str(), claims.repository_id);
                self.comment_subject(repo, req.comment, req.pr, &mut subject)
                    .await?;
            }
            (other, _) => return Err(Answer::refused(Refusal::UnsupportedEvent { event: other })),
        }
        Ok(subject)
    }

    /// A pull request's head, checked against the token.
    async fn pull_subject(
        &self,
        repo: &str,
        n: u64,
        claims: &Claims,
        subject: &mut Subject,
    ) -> Result<(), Answer> {
        let gh = self
            .customer_client(repo, Some(claims.repository_id))
            .await?;
        let head = gh
            .pull_head(repo, n)
            .await
            .map_err(|e| Answer::github(&e))?
            .ok_or_else(|| Answer::refused(Refusal::NoPullRequest { repo, pr: n }))?;
        head_is_own(&head, repo, claims.repository_id)?;
        let matches = head.head_sha == claims.sha
            || (pr_of_ref(&claims.git_ref) == Some(n)
                && head.merge_commit_sha.as_deref() == Some(claims.sha.as_str()));
        if !matches || !head.open {
            return Err(Answer::refused(Refusal::StaleHead { pr: n }));
        }
        subject.sha = head.head_sha;
        subject.git_ref = format!("refs/heads/{}", head.head_ref);
        subject.pr = Some(n);
        subject.event = "pull_request".into();
        Ok(())
    }

    /// A push (or manual run) on a branch: sent for an apply, and the
    /// manager decides. The OIDC token proves the repository (by id), the
    /// commit and the branch; whether that branch is the default one, and
    /// which pull request the commit merged, the manager's `authorise`
    /// reads from GitHub with the customer App's token it holds anyway
    /// (`flows::github_loop::relayed_push`). So a burst of pushes costs the
    /// relay no token mint and no read per customer: batch writes only.
    fn branch_subject(claims: &Claims, subject: &mut Subject) -> Result<(), Answer> {
        if claims.git_ref.strip_prefix("refs/heads/").is_none() {
            return Err(Answer::refused(Refusal::NotABranch));
        }
        subject.apply = true;
        subject.pr = None;
        Ok(())
    }
}

impl Relay {
    /// The files a dispatch lists: those named, each one fleetform reads
    /// (once each, in the manager's order), or the variables file alone.
    fn requested_files(&self, named: Option<&[String]>) -> Result<Vec<String>, Answer> {
        let read = self.read_files();
        let Some(named) = named else {
            return Ok(vec![self
                .settings
                .manager
                .config
                .customer
                .variables
                .clone()]);
        };
        if let Some(bad) = named.iter().find(|f| !read.contains(f)) {
            let shown = crate::util::text::shown(bad);
            return Err(Answer::refused(Refusal::NotAReadFile { file: &shown }));
        }
        Ok(read.into_iter().filter(|f| named.contains(f)).collect())
    }
}

/// The pull request's head is a branch of the repository `repo_id` itself:
/// a fork's is another repository, and a head whose repository is gone
/// (`head.repo: null`) cannot be told apart from one.
pub(super) fn head_is_own(
    head: &crate::github::PullHead,
    repo: &str,
    repo_id: u64,
) -> Result<(), Answer> {
    match head.head_repo_id {
        Some(id) if id == repo_id => Ok(()),
        Some(_) => Err(Answer::refused(Refusal::Fork {
            repo,
            pr: head.number,
        })),
        None => Err(Answer::refused(Refusal::HeadRepoGone {
            repo,
            pr: head.number,
        })),
    }
}

/// `Value` helper for the webhook: a string at `pointer`.
pub(super) fn text<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_refs() {
        assert_eq!(pr_of_ref("refs/pull/12/merge"), Some(12));
        assert_eq!(pr_of_ref("refs/pull/12/head"), Some(12));
        assert_eq!(pr_of_ref("refs/pull/x/merge"), None);
        assert_eq!(pr_of_ref("refs/heads/main"), None);
    }
}

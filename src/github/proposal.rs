//! Files proposed to a repository as one pull request from a branch of
//! its own: what the change form's `request` and the onboarding pull
//! request (`customers add --open-pr`) both send.

use super::client::GitHub;
use super::error::GitHubError;

/// Files to propose on `branch`, and the pull request's words.
pub struct Proposal<'a> {
    pub branch: &'a str,
    /// Each file's path and content.
    pub files: Vec<(&'a str, &'a [u8])>,
    /// The commit message of a file's write.
    pub message: &'a dyn Fn(&str) -> String,
    pub title: &'a str,
    pub body: &'a str,
}

/// The pull request a proposal is in.
pub struct Proposed {
    pub number: u64,
    pub url: String,
    /// Opened by this proposal (else it was open already).
    pub opened: bool,
}

impl GitHub {
    /// `p.branch` (made from the default branch's head when it is not
    /// there), each file written where the branch's copy differs, and the
    /// branch's open pull request, opened when there is none. Costs 2 (the
    /// repository and its default branch's head) + 1 (the branch looked
    /// up, + 1 to make it) + per file 1 (its copy on the branch, + 1 to
    /// write it) + 1 (the open pull requests, + 1 to open one).
    pub async fn propose(&self, repo: &str, p: &Proposal<'_>) -> Result<Proposed, GitHubError> {
        let (default_branch, head) = self.default_branch_head(repo).await?;
        if self.branch_sha(repo, p.branch).await?.is_none() {
            self.create_branch(repo, p.branch, &head).await?;
        }
        for (path, content) in &p.files {
            let on_branch = self.get_file_with_sha(repo, path, Some(p.branch)).await?;
            if on_branch.as_ref().map(|(b, _)| b.as_slice()) == Some(*content) {
                continue;
            }
            self.put_file(
                repo,
                path,
                p.branch,
                content,
                &(p.message)(path),
                on_branch.as_ref().map(|(_, sha)| sha.as_str()),
            )
            .await?;
        }
        if let Some((number, url)) = self
            .open_pulls_from(repo, p.branch)
            .await?
            .into_iter()
            .next()
        {
            return Ok(Proposed {
                number,
                url,
                opened: false,
            });
        }
        let (number, url) = self
            .create_pull(repo, p.title, p.branch, &default_branch, p.body)
            .await?;
        Ok(Proposed {
            number,
            url,
            opened: true,
        })
    }
}

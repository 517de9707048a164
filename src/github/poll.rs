//! Conditional reads for `fleetform poll`: the default branch's head and
//! the open pull requests, each with `If-None-Match`, so an unchanged repo
//! costs a 304 (which GitHub does not count against the primary limit).

use serde_json::Value;

use super::answers::{check_sha, checked_branch, checked_sha};
use super::client::GitHub;
use super::error::GitHubError;
use super::paths::repo_path;

/// An open pull request as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPull {
    pub number: u64,
    pub head_sha: String,
    pub head_ref: String,
    pub head_repo_id: Option<u64>,
    /// When GitHub last changed the pull request (`updated_at`, Unix
    /// seconds): for a new head, when it moved, unless the pull request
    /// was edited since.
    pub updated_at: Option<u64>,
}

impl GitHub {
    /// The default branch's head commit and the first line of its message,
    /// with the new ETag; `None` when unchanged since `etag`.
    pub async fn default_head_if_changed(
        &self,
        repo: &str,
        etag: Option<&str>,
    ) -> Result<Option<(String, String, Option<String>)>, GitHubError> {
        let p = format!("{}/commits/HEAD", repo_path(repo));
        let Some(r) = self.get_if_changed(&p, etag).await? else {
            return Ok(None);
        };
        let sha = checked_sha(&r.body, "/sha", &p, "sha")?;
        let title = r
            .body
            .pointer("/commit/message")
            .and_then(Value::as_str)
            .and_then(|m| m.lines().next())
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        Ok(Some((sha, title, r.etag)))
    }

    /// The open pull requests (the first 100), with the new ETag; `None`
    /// when unchanged since `etag`. Heads with a bad sha or branch name are
    /// left out.
    pub async fn open_pulls_if_changed(
        &self,
        repo: &str,
        etag: Option<&str>,
    ) -> Result<Option<(Vec<OpenPull>, Option<String>)>, GitHubError> {
        let p = format!("{}/pulls?state=open&per_page=100", repo_path(repo));
        let Some(r) = self.get_if_changed(&p, etag).await? else {
            return Ok(None);
        };
        let pulls = r
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pr| {
                let number = pr.get("number").and_then(Value::as_u64)?;
                let head_sha = pr.pointer("/head/sha").and_then(Value::as_str)?;
                check_sha(head_sha).ok()?;
                let head_ref = checked_branch(pr, "/head/ref", &p, "head.ref").ok()?;
                Some(OpenPull {
                    number,
                    head_sha: head_sha.to_string(),
                    head_ref,
                    head_repo_id: pr.pointer("/head/repo/id").and_then(Value::as_u64),
                    updated_at: pr
                        .get("updated_at")
                        .and_then(Value::as_str)
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .and_then(|t| u64::try_from(t.as_second()).ok()),
                })
            })
            .collect();
        Ok(Some((pulls, r.etag)))
    }
}

//! The repository and its git refs: default branch (and whether the repo
//! is archived), branch heads, new branches. Shas and branch names in
//! answers are checked.

use serde_json::Value;

use super::answers::{checked_branch, checked_sha};
use super::client::{GitHub, Method};
use super::error::GitHubError;
use super::paths::{file_path, repo_path};

impl GitHub {
    /// The repo's default branch (checked) and whether it is archived.
    pub async fn repo_info(&self, repo: &str) -> Result<(String, bool), GitHubError> {
        let p = repo_path(repo);
        let r = self.send(Method::Get, &p, None).await?;
        let branch = checked_branch(&r.body, "/default_branch", &p, "default_branch")?;
        let archived = r
            .body
            .get("archived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok((branch, archived))
    }

    /// The default branch and its head commit, both checked.
    pub async fn default_branch_head(&self, repo: &str) -> Result<(String, String), GitHubError> {
        let p = repo_path(repo);
        let r = self.send(Method::Get, &p, None).await?;
        let branch = checked_branch(&r.body, "/default_branch", &p, "default_branch")?;
        let p = format!("{}/git/ref/heads/{}", repo_path(repo), file_path(&branch));
        let r = self.send(Method::Get, &p, None).await?;
        let sha = checked_sha(&r.body, "/object/sha", &p, "object.sha")?;
        Ok((branch, sha))
    }

    /// The commit a branch points at (checked), `None` when it does not
    /// exist.
    pub async fn branch_sha(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        let p = format!("{}/git/ref/heads/{}", repo_path(repo), file_path(branch));
        match self.send(Method::Get, &p, None).await {
            Ok(r) => checked_sha(&r.body, "/object/sha", &p, "object.sha").map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_branch(
        &self,
        repo: &str,
        branch: &str,
        sha: &str,
    ) -> Result<(), GitHubError> {
        self.send(
            Method::Post,
            &format!("{}/git/refs", repo_path(repo)),
            Some(&serde_json::json!({ "ref": format!("refs/heads/{branch}"), "sha": sha })),
        )
        .await
        .map(|_| ())
    }
}

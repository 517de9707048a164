//! Commit statuses: set one (checking once whether an unanswered POST
//! landed before sending it again) and read the combined status.

use serde::Serialize;
use serde_json::Value;

use super::client::{truncate_chars, GitHub, Method};
use super::error::GitHubError;
use super::paths::{repo_path, seg};

/// A commit status to set.
#[derive(Debug, Clone, Serialize)]
pub struct CommitStatus {
    pub state: &'static str,
    pub context: String,
    pub description: String,
    pub target_url: Option<String>,
}

impl GitHub {
    /// `POST /repos/{repo}/statuses/{sha}`.
    pub async fn set_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitHubError> {
        let mut body = serde_json::json!({
            "state": status.state,
            "context": status.context,
            "description": truncate_chars(&status.description, 140),
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = Value::String(url.clone());
        }
        let path = format!("{}/statuses/{}", repo_path(repo), seg(sha));
        match self.send(Method::Post, &path, Some(&body)).await {
            Err(GitHubError::Unanswered { .. }) => {
                // Did it land? Then once is enough.
                let combined = self.combined_status(repo, sha).await?;
                let landed = combined
                    .get("statuses")
                    .and_then(Value::as_array)
                    .is_some_and(|all| {
                        all.iter().any(|s| {
                            s.get("context") == body.get("context")
                                && s.get("state") == body.get("state")
                                && s.get("description") == body.get("description")
                        })
                    });
                if landed {
                    return Ok(());
                }
                self.send(Method::Post, &path, Some(&body))
                    .await
                    .map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    /// `GET /repos/{repo}/commits/{sha}/status` (combined).
    pub async fn combined_status(&self, repo: &str, sha: &str) -> Result<Value, GitHubError> {
        let r = self
            .send(
                Method::Get,
                &format!("{}/commits/{}/status", repo_path(repo), seg(sha)),
                None,
            )
            .await?;
        Ok(r.body)
    }
}

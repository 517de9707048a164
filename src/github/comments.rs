//! Issue and pull request comments, and the sticky comment fleetform
//! keeps up to date on a pull request.

use serde_json::Value;

use super::client::{GitHub, Method};
use super::error::GitHubError;
use super::paths::repo_path;

#[derive(Debug, Clone)]
pub struct IssueComment {
    pub id: u64,
    pub body: String,
}

/// A comment as an approval reads it: who, what, when, edited or not.
fn note_of(c: &Value) -> Option<crate::policy::approval::PrNote> {
    let created = c.get("created_at").and_then(Value::as_str)?;
    Some(crate::policy::approval::PrNote {
        login: c
            .pointer("/user/login")
            .and_then(Value::as_str)?
            .to_string(),
        body: c
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        at: created.to_string(),
        edited: c.get("updated_at").and_then(Value::as_str) != Some(created),
        bot: c.pointer("/user/type").and_then(Value::as_str) != Some("User"),
        review_state: None,
    })
}

impl GitHub {
    /// Every comment on a pull request as approval notes (every page).
    pub async fn comment_notes(
        &self,
        repo: &str,
        issue: u64,
    ) -> Result<Vec<crate::policy::approval::PrNote>, GitHubError> {
        let mut out = Vec::new();
        let first = format!("{}/issues/{issue}/comments?per_page=100", repo_path(repo));
        self.paginate(first, |c| out.extend(note_of(&c))).await?;
        Ok(out)
    }

    /// Every comment on an issue or PR, following pagination (an error
    /// when the list cannot be read completely).
    pub async fn list_comments(
        &self,
        repo: &str,
        issue: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let mut out = Vec::new();
        let first = format!("{}/issues/{issue}/comments?per_page=100", repo_path(repo));
        self.paginate(first, |c| {
            if let (Some(id), Some(body)) = (
                c.get("id").and_then(Value::as_u64),
                c.get("body").and_then(Value::as_str),
            ) {
                out.push(IssueComment {
                    id,
                    body: body.to_string(),
                });
            }
        })
        .await?;
        Ok(out)
    }

    pub async fn create_comment(
        &self,
        repo: &str,
        issue: u64,
        body: &str,
    ) -> Result<Option<u64>, GitHubError> {
        Ok(self.post_comment(repo, issue, body).await?.map(|w| w.id))
    }

    /// A new comment, with the time GitHub gave it.
    async fn post_comment(
        &self,
        repo: &str,
        issue: u64,
        body: &str,
    ) -> Result<Option<Written>, GitHubError> {
        let r = self
            .send(
                Method::Create,
                &format!("{}/issues/{issue}/comments", repo_path(repo)),
                Some(&serde_json::json!({ "body": body })),
            )
            .await?;
        Ok(Written::from_body(&r.body))
    }

    /// Raw PATCH (octocrab's `update_comment` sends POST).
    pub async fn update_comment(&self, repo: &str, id: u64, body: &str) -> Result<(), GitHubError> {
        self.patch_comment(repo, id, body).await.map(|_| ())
    }

    /// The comment's new body, with the time GitHub gave the edit.
    async fn patch_comment(&self, repo: &str, id: u64, body: &str) -> Result<Written, GitHubError> {
        let r = self
            .send(
                Method::Patch,
                &format!("{}/issues/comments/{id}", repo_path(repo)),
                Some(&serde_json::json!({ "body": body })),
            )
            .await?;
        Ok(Written {
            id,
            at: Written::from_body(&r.body).and_then(|w| w.at),
        })
    }

    pub async fn delete_comment(&self, repo: &str, id: u64) -> Result<(), GitHubError> {
        match self
            .send(
                Method::Delete,
                &format!("{}/issues/comments/{id}", repo_path(repo)),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The sticky comment: find ours by `marker`, update it, or create it.
    /// Duplicates (left by runs that raced between listing and creating)
    /// are deleted, keeping the oldest, the next time the comment is
    /// written. The workflows' `concurrency` group per customer ×
    /// environment keeps runs for one comment from racing at all. Cost: 2
    /// requests (list, then create or update), plus 1 per extra page of
    /// comments and 1 per duplicate removed.
    pub async fn upsert_sticky_comment(
        &self,
        repo: &str,
        issue: u64,
        marker: &str,
        body: &str,
    ) -> Result<Option<u64>, GitHubError> {
        Ok(self
            .upsert_sticky(repo, issue, marker, body)
            .await?
            .map(|w| w.id))
    }

    /// [`Self::upsert_sticky_comment`], with the time GitHub gave the
    /// comment's text (its `updated_at`).
    pub async fn upsert_sticky(
        &self,
        repo: &str,
        issue: u64,
        marker: &str,
        body: &str,
    ) -> Result<Option<Written>, GitHubError> {
        let existing: Vec<u64> = self
            .list_comments(repo, issue)
            .await?
            .into_iter()
            .filter(|c| c.body.starts_with(marker))
            .map(|c| c.id)
            .collect();
        if let Some(first) = existing.iter().min().copied() {
            let written = self.patch_comment(repo, first, body).await?;
            for dup in existing.iter().filter(|id| **id != first) {
                self.delete_comment(repo, *dup).await?;
            }
            return Ok(Some(written));
        }
        match self.post_comment(repo, issue, body).await {
            Err(GitHubError::Unanswered { .. }) => {
                // The comment may exist now: look before posting again.
                let now: Option<u64> = self
                    .list_comments(repo, issue)
                    .await?
                    .into_iter()
                    .filter(|c| c.body.starts_with(marker))
                    .map(|c| c.id)
                    .min();
                match now {
                    Some(id) => Ok(Some(self.patch_comment(repo, id, body).await?)),
                    // It may still land: posting again could leave two.
                    // The next run finds it (or posts it) and updates it.
                    None => {
                        tracing::warn!(repo, issue, "the comment may not have been posted; the next run will post or update it");
                        Ok(None)
                    }
                }
            }
            other => other,
        }
    }
}

/// A comment written: its id, and when GitHub says its text was written
/// (`updated_at`, else `created_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub id: u64,
    pub at: Option<String>,
}

impl Written {
    fn from_body(b: &Value) -> Option<Written> {
        let id = b.get("id").and_then(Value::as_u64)?;
        let at = ["updated_at", "created_at"]
            .iter()
            .find_map(|k| b.get(*k).and_then(Value::as_str))
            .map(str::to_string);
        Some(Written { id, at })
    }
}

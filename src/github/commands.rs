//! What a comment command (`/fleetform plan|apply` on a customer's pull
//! request) needs from GitHub: the comment as GitHub has it, its author's
//! permission on the repository, and a reaction to it.

use serde_json::Value;

use super::answers::required_str;
use super::client::{truncate_chars, GitHub, Method};
use super::error::{bad_value, GitHubError};
use super::paths::{repo_path, seg};

/// A pull request or issue comment, as GitHub answers for it.
#[derive(Debug, Clone)]
pub struct CommentFacts {
    pub author: String,
    /// At most 4 KB of it (a command is one short line).
    pub body: String,
    /// The issue or pull request it is on (from its `issue_url`).
    pub issue: u64,
    /// Edited since it was written (`updated_at` differs from `created_at`).
    pub edited: bool,
}

impl GitHub {
    /// The comment `id` of `repo` (1 request); `None` when there is none.
    pub async fn issue_comment(
        &self,
        repo: &str,
        id: u64,
    ) -> Result<Option<CommentFacts>, GitHubError> {
        // Raw: octocrab's Comment requires `user`, which GitHub's OpenAPI description allows to be null.
        let p = format!("{}/issues/comments/{id}", repo_path(repo));
        let r = match self.send(Method::Get, &p, None).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let author = required_str(&r.body, "/user/login", &p, "user.login")?;
        if !is_login(author) {
            return Err(bad_value("GET", &p, "user.login", "is not a GitHub login"));
        }
        let issue = required_str(&r.body, "/issue_url", &p, "issue_url")?
            .rsplit_once("/issues/")
            .and_then(|(_, n)| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| bad_value("GET", &p, "issue_url", "names no issue number"))?;
        let stamp = |k: &str| r.body.get(k).and_then(Value::as_str);
        Ok(Some(CommentFacts {
            author: author.to_string(),
            body: truncate_chars(
                r.body.get("body").and_then(Value::as_str).unwrap_or(""),
                4096,
            ),
            issue,
            edited: stamp("updated_at") != stamp("created_at"),
        }))
    }

    /// `login`'s permission on `repo` (1 request): `admin`, `write`, `read`
    /// or `none` (GitHub folds `maintain` into `write` and `triage` into
    /// `read`); `none` for an account GitHub does not know there.
    pub async fn permission_of(&self, repo: &str, login: &str) -> Result<String, GitHubError> {
        // Raw: octocrab's RepoPermission requires `user`, which GitHub's OpenAPI description allows to be null.
        let p = format!(
            "{}/collaborators/{}/permission",
            repo_path(repo),
            seg(login)
        );
        match self.send(Method::Get, &p, None).await {
            Ok(r) => Ok(required_str(&r.body, "/permission", &p, "permission")?.to_string()),
            Err(e) if e.status() == Some(404) => Ok("none".into()),
            Err(e) => Err(e),
        }
    }

    /// Reacts to comment `id` with `content` (`eyes`, `rocket`, `-1`, …;
    /// 1 request).
    pub async fn react_to_comment(
        &self,
        repo: &str,
        id: u64,
        content: &str,
    ) -> Result<(), GitHubError> {
        let p = format!("{}/issues/comments/{id}/reactions", repo_path(repo));
        self.send(
            Method::Post,
            &p,
            Some(&serde_json::json!({ "content": content })),
        )
        .await
        .map(|_| ())
    }
}

fn is_login(s: &str) -> bool {
    let name = s.strip_suffix("[bot]").unwrap_or(s);
    !name.is_empty()
        && name.len() <= 39
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

//! The repository and its git refs: default branch (and whether the repo
//! is archived or private), branch heads, new branches. Shas and branch
//! names in answers are checked.

use octocrab::models::repos::Object;
use octocrab::params::repos::Reference;
use serde_json::Value;

use super::answers::{check_sha, checked_branch};
use super::client::{GitHub, Method, Response};
use super::error::{bad_value, GitHubError};
use super::paths::{file_path, owner_and_name, repo_path};

/// What the relay and `customers add` need of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFacts {
    /// GitHub's numeric id: kept across renames, new for a repo created
    /// again under an old name.
    pub id: u64,
    /// `owner/name` as GitHub spells it now.
    pub full_name: String,
    pub default_branch: String,
    pub archived: bool,
}

/// A repository's default branch and flags (`GET /repos/{owner}/{repo}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub default_branch: String,
    pub archived: bool,
    /// `None` when the answer has no `private` flag.
    pub private: Option<bool>,
    /// `None` when the answer shows none (the token is no admin).
    pub secret_scanning: Option<crate::doctor::facts::SecretScanning>,
}

/// `owner/name` of the characters GitHub allows in them.
fn is_full_name(s: &str) -> bool {
    let ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    matches!(s.split_once('/'), Some((o, n)) if ok(o) && ok(n))
}

impl GitHub {
    /// The repository's id, current name and default branch; `None` when
    /// it does not exist (or the token cannot see it).
    pub async fn repo_facts(&self, repo: &str) -> Result<Option<RepoFacts>, GitHubError> {
        let p = repo_path(repo);
        let r = match self.send(Method::Get, &p, None).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let default_branch = checked_branch(&r.body, "/default_branch", &p, "default_branch")?;
        let id = r
            .body
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| *id > 0)
            .ok_or_else(|| GitHubError::BadValue {
                method: "GET",
                path: p.clone(),
                field: "id",
                problem: "is not a positive number".into(),
            })?;
        let full_name = r
            .body
            .get("full_name")
            .and_then(Value::as_str)
            .filter(|n| is_full_name(n))
            .ok_or_else(|| GitHubError::BadValue {
                method: "GET",
                path: p.clone(),
                field: "full_name",
                problem: "is not owner/name".into(),
            })?
            .to_string();
        let archived = r
            .body
            .get("archived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Some(RepoFacts {
            id,
            full_name,
            default_branch,
            archived,
        }))
    }

    /// The repo's default branch (checked), whether it is archived and
    /// whether it is private.
    pub async fn repo_info(&self, repo: &str) -> Result<RepoInfo, GitHubError> {
        let p = repo_path(repo);
        let r = self.send(Method::Get, &p, None).await?;
        let default_branch = checked_branch(&r.body, "/default_branch", &p, "default_branch")?;
        let flag = |k: &str| r.body.get(k).and_then(Value::as_bool);
        Ok(RepoInfo {
            default_branch,
            archived: flag("archived").unwrap_or(false),
            private: flag("private"),
            secret_scanning: crate::doctor::facts::SecretScanning::from_repo(&r.body),
        })
    }

    /// Whether `reference` names something in `repo` an Actions `uses:`
    /// can run: a commit (a 40-hex SHA, `GET .../commits/{sha}`), else a
    /// tag, else a branch (`GET .../git/ref/tags/{ref}`, then
    /// `.../git/ref/heads/{ref}`); 1 to 2 requests. A repository GitHub
    /// does not show (404) resolves nothing.
    pub async fn ref_resolves(&self, repo: &str, reference: &str) -> Result<bool, GitHubError> {
        let found = |r: Result<Response, GitHubError>| match r {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.status(), Some(404 | 422)) => Ok(false),
            Err(e) => Err(e),
        };
        let is_sha = reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit());
        if is_sha {
            let p = format!("{}/commits/{reference}", repo_path(repo));
            return found(self.send(Method::Get, &p, None).await);
        }
        for kind in ["tags", "heads"] {
            let p = format!(
                "{}/git/ref/{kind}/{}",
                repo_path(repo),
                file_path(reference)
            );
            if found(self.send(Method::Get, &p, None).await)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The default branch and its head commit, both checked.
    pub async fn default_branch_head(&self, repo: &str) -> Result<(String, String), GitHubError> {
        let p = repo_path(repo);
        let r = self.send(Method::Get, &p, None).await?;
        let branch = checked_branch(&r.body, "/default_branch", &p, "default_branch")?;
        let sha = self.branch_head(repo, &branch).await?;
        Ok((branch, sha))
    }

    /// The commit a branch points at (checked), `None` when it does not
    /// exist.
    pub async fn branch_sha(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        match self.branch_head(repo, branch).await {
            Ok(sha) => Ok(Some(sha)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The commit a branch points at, checked (`GET
    /// /repos/{owner}/{repo}/git/ref/heads/{branch}`, 1 request): octocrab's
    /// typed `get_ref`, given the segments encoded so that its path is
    /// the one [`repo_path`] and [`file_path`] make; its model is GitHub's
    /// git reference, every field of which GitHub always sends.
    async fn branch_head(&self, repo: &str, branch: &str) -> Result<String, GitHubError> {
        let p = format!("{}/git/ref/heads/{}", repo_path(repo), file_path(branch));
        let (owner, name) = owner_and_name(repo);
        let reference = Reference::Branch(file_path(branch));
        let answer = self
            .typed(Method::Get, &p, |crab| async move {
                crab.git(owner, name).get_ref(&reference).await
            })
            .await?;
        let sha = match answer.object {
            Object::Commit { sha, .. }
            | Object::Tag { sha, .. }
            | Object::Tree { sha, .. }
            | Object::Blob { sha, .. } => sha,
            _ => return Err(bad_value("GET", &p, "object.type", "is not a git object")),
        };
        check_sha(&sha).map_err(|why| bad_value("GET", &p, "object.sha", why))?;
        Ok(sha)
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

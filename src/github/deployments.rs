//! Deployments on a customer's repo (the Deployments API): what the
//! manager applied there, so customers watch applies, their own and a
//! provider's rollouts, in their repo's "Deployments".

use serde_json::{json, Value};

use super::client::{truncate_chars, GitHub, Method};
use super::error::GitHubError;
use super::paths::{repo_path, seg};
use crate::report::customer::{deployment, CustomerText, Deployment};

/// A deployment to record.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    /// The customer commit applied.
    pub sha: String,
    /// The environment's name.
    pub environment: String,
    /// Worded in [`crate::report::customer`], like every deployment text.
    pub description: CustomerText,
    pub production: bool,
    /// Names the deployment among the repo's (its `payload`), so a later
    /// run finds it ([`GitHub::find_deployment`]) instead of making it
    /// twice.
    pub marker: Option<String>,
}

/// How an apply's deployment started ([`GitHub::apply_started`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Made on GitHub (its id).
    Made(u64),
    /// Not made now, but a later run can: GitHub's limits, a wait, no
    /// answer, GitHub's own trouble or a credential to fix.
    Later,
    /// Not made, and never will be (a dry run, a repo or commit GitHub
    /// does not have); noted.
    Not,
}

impl Started {
    pub fn made(self) -> Option<u64> {
        match self {
            Started::Made(id) => Some(id),
            _ => None,
        }
    }
}

/// Whether a deployment write that failed with `e` can go through in a
/// later run: all but GitHub's 422 (a commit the repo does not have, a
/// field it refuses). A 404 may be a repo the token was not granted
/// (GitHub answers 404, not 403, for a private repo a token cannot see),
/// and a limit, a wait, no answer, GitHub's own trouble or an answer
/// fleetform cannot use may all pass; the caller decides how long to try.
pub fn may_go_later(e: &GitHubError) -> bool {
    match e {
        GitHubError::Page { source, .. } => may_go_later(source),
        _ => e.status() != Some(422),
    }
}

impl GitHub {
    /// `POST /repos/{repo}/deployments`: the deployment's id (`None` in a
    /// dry run). The commit's status checks are bypassed
    /// (`required_contexts: []`): the apply is checked already, and its own
    /// pending status would block it.
    pub async fn create_deployment(
        &self,
        repo: &str,
        d: &NewDeployment,
    ) -> Result<Option<u64>, GitHubError> {
        let body = json!({
            "ref": d.sha,
            "task": "deploy",
            "auto_merge": false,
            "required_contexts": [],
            "environment": d.environment,
            "description": truncate_chars(d.description.as_str(), 140),
            "production_environment": d.production,
        });
        let mut body = body;
        if let Some(marker) = &d.marker {
            body["payload"] = json!({ "fleetform": marker });
        }
        let path = format!("{}/deployments", repo_path(repo));
        let answer = self.send(Method::Create, &path, Some(&body)).await?;
        if self.dry_run {
            return Ok(None);
        }
        match answer.body.get("id").and_then(Value::as_u64) {
            Some(id) => Ok(Some(id)),
            None => Err(GitHubError::BadValue {
                method: "POST",
                path,
                field: "id",
                problem: "is not a number".into(),
            }),
        }
    }

    /// `POST /repos/{repo}/deployments/{id}/statuses`: `in_progress`,
    /// `success` or `failure`, linked to the run. GitHub then marks the
    /// environment's earlier successful deployments `inactive`
    /// (`auto_inactive`, outside production).
    pub async fn set_deployment_status(
        &self,
        repo: &str,
        id: u64,
        state: &'static str,
        description: &CustomerText,
        log_url: Option<&str>,
    ) -> Result<(), GitHubError> {
        self.post_deployment_status(repo, id, state, description, log_url, true)
            .await
            .map(drop)
    }

    /// [`GitHub::set_deployment_status`] of a deployment shown late:
    /// `auto_inactive: false`, so the environment's deployments made
    /// meanwhile stay as they are.
    pub async fn set_late_deployment_status(
        &self,
        repo: &str,
        id: u64,
        state: &'static str,
        description: &CustomerText,
        log_url: Option<&str>,
    ) -> Result<(), GitHubError> {
        self.post_deployment_status(repo, id, state, description, log_url, false)
            .await
            .map(drop)
    }

    async fn post_deployment_status(
        &self,
        repo: &str,
        id: u64,
        state: &'static str,
        description: &CustomerText,
        log_url: Option<&str>,
        auto_inactive: bool,
    ) -> Result<Option<String>, GitHubError> {
        let mut body = json!({
            "state": state,
            "description": truncate_chars(description.as_str(), 140),
        });
        if let Some(url) = log_url {
            body["log_url"] = Value::String(url.to_string());
        }
        if !auto_inactive {
            body["auto_inactive"] = Value::Bool(false);
        }
        let path = format!("{}/deployments/{id}/statuses", repo_path(repo));
        let answer = self.send(Method::Post, &path, Some(&body)).await?;
        // When GitHub wrote it: an apply's end, as `report sla` measures.
        Ok(answer
            .body
            .get("created_at")
            .and_then(Value::as_str)
            .map(str::to_string))
    }
}

impl GitHub {
    /// The deployment of `sha` in `environment` on `repo` whose payload
    /// carries `marker`, if GitHub has one (pages read until it is found).
    pub async fn find_deployment(
        &self,
        repo: &str,
        sha: &str,
        environment: &str,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        let first = format!(
            "{}/deployments?sha={}&environment={}&task=deploy&per_page=100",
            repo_path(repo),
            seg(sha),
            seg(environment)
        );
        let mut found = None;
        self.paginate_until(first, None, |d| {
            let marked = d.pointer("/payload/fleetform").and_then(Value::as_str) == Some(marker);
            found = d.get("id").and_then(Value::as_u64).filter(|_| marked);
            found.is_some()
        })
        .await?;
        Ok(found)
    }

    /// Whether `repo` has a deployment in `environment` made after `after`
    /// (Unix seconds), other than the one whose payload carries `marker`,
    /// among the environment's ten newest (GitHub lists newest first).
    pub async fn made_since(
        &self,
        repo: &str,
        environment: &str,
        after: u64,
        marker: &str,
    ) -> Result<bool, GitHubError> {
        let path = format!(
            "{}/deployments?environment={}&per_page=10",
            repo_path(repo),
            seg(environment)
        );
        let answer = self.send(Method::Get, &path, None).await?;
        let list = answer
            .body
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(list.iter().any(|d| {
            let ours = d.pointer("/payload/fleetform").and_then(Value::as_str) == Some(marker);
            let made = d.get("created_at").and_then(Value::as_str);
            let made = made.and_then(|t| t.parse::<jiff::Timestamp>().ok());
            !ours && made.is_some_and(|t| t.as_second() > after as i64)
        }))
    }

    /// Whether deployment `id` has a final status (`success`, `failure`,
    /// `error` or `inactive`) already.
    pub async fn has_final_status(&self, repo: &str, id: u64) -> Result<bool, GitHubError> {
        let first = format!("{}/deployments/{id}/statuses?per_page=100", repo_path(repo));
        let mut ended = false;
        self.paginate(first, |s| {
            let state = s.get("state").and_then(Value::as_str).unwrap_or_default();
            ended |= matches!(state, "success" | "failure" | "error" | "inactive");
        })
        .await?;
        Ok(ended)
    }
}

/// Where a note about a deployment that could not be written goes (the
/// caller's output): a deployment never stops the apply it shows.
pub type Note<'a> = &'a (dyn Fn(String) + Sync);

impl GitHub {
    /// An apply starts: its deployment on the customer's repo, marked
    /// `in_progress` and linked to the run. `None` when it could not be
    /// created (noted) or in a dry run. The one way every apply (a
    /// dispatched one, a rollout's) is shown as a deployment.
    pub async fn apply_started(
        &self,
        repo: &str,
        d: &NewDeployment,
        run_url: Option<&str>,
        note: Note<'_>,
    ) -> Started {
        self.apply_started_at(repo, d, run_url, note).await.0
    }

    /// [`GitHub::apply_started`], and when GitHub wrote the `in_progress`
    /// status (its `created_at`): when the apply began, by GitHub's clock.
    pub async fn apply_started_at(
        &self,
        repo: &str,
        d: &NewDeployment,
        run_url: Option<&str>,
        note: Note<'_>,
    ) -> (Started, Option<String>) {
        let id = match self.create_deployment(repo, d).await {
            Ok(Some(id)) => id,
            Ok(None) => return (Started::Not, None),
            Err(e) => {
                note(format!("no deployment recorded on {repo}: {e}"));
                return match may_go_later(&e) {
                    true => (Started::Later, None),
                    false => (Started::Not, None),
                };
            }
        };
        let description = deployment(&Deployment::Applying);
        let started = self
            .post_deployment_status(repo, id, "in_progress", &description, run_url, true)
            .await;
        match started {
            Ok(at) => (Started::Made(id), at),
            Err(e) => {
                note(format!("deployment {id}: {e}"));
                (Started::Made(id), None)
            }
        }
    }

    /// The apply ended: its deployment `success` or `failure`, with why.
    /// `false` when that status was not written but a later run can
    /// write it ([`may_go_later`]).
    pub async fn apply_ended(
        &self,
        repo: &str,
        id: u64,
        ok: bool,
        description: &CustomerText,
        run_url: Option<&str>,
        note: Note<'_>,
    ) -> bool {
        self.apply_ended_at(repo, id, ok, description, run_url, note)
            .await
            .0
    }

    /// [`GitHub::apply_ended`], with when GitHub wrote the final status
    /// (its `created_at`).
    pub async fn apply_ended_at(
        &self,
        repo: &str,
        id: u64,
        ok: bool,
        description: &CustomerText,
        run_url: Option<&str>,
        note: Note<'_>,
    ) -> (bool, Option<String>) {
        let state = if ok { "success" } else { "failure" };
        let set = self.post_deployment_status(repo, id, state, description, run_url, true);
        match set.await {
            Ok(at) => (true, at),
            Err(e) => {
                note(format!("deployment {id}: {e}"));
                (!may_go_later(&e), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> GitHubError {
        GitHubError::Status {
            method: "POST",
            path: "/repos/o/r/deployments".into(),
            status,
            message: String::new(),
        }
    }

    #[test]
    fn what_a_later_run_can_send_and_what_it_never_can() {
        let deferred = GitHubError::Deferred {
            method: "POST",
            path: "/x".into(),
            limit: "content writes per hour",
            wait: std::time::Duration::from_secs(3000),
        };
        assert!(may_go_later(&deferred));
        for later in [401, 403, 404, 409, 410, 429, 500, 502, 503] {
            assert!(may_go_later(&status(later)), "{later}");
        }
        assert!(!may_go_later(&status(422)));
        let page = GitHubError::Page {
            page: 2,
            source: Box::new(status(502)),
        };
        assert!(may_go_later(&page));
    }
}

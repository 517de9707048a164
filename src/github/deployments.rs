//! Deployments on a customer's repo (the Deployments API): what the
//! manager applied there, so customers watch applies, their own and a
//! provider's rollouts, in their repo's "Deployments".

use serde_json::{json, Value};

use super::client::{truncate_chars, GitHub, Method};
use super::error::GitHubError;
use super::paths::repo_path;
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
        let path = format!("{}/deployments", repo_path(repo));
        let answer = self.send(Method::Post, &path, Some(&body)).await?;
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
    /// `success` or `failure`, linked to the run.
    pub async fn set_deployment_status(
        &self,
        repo: &str,
        id: u64,
        state: &'static str,
        description: &CustomerText,
        log_url: Option<&str>,
    ) -> Result<(), GitHubError> {
        let mut body = json!({
            "state": state,
            "description": truncate_chars(description.as_str(), 140),
        });
        if let Some(url) = log_url {
            body["log_url"] = Value::String(url.to_string());
        }
        let path = format!("{}/deployments/{id}/statuses", repo_path(repo));
        self.send(Method::Post, &path, Some(&body)).await.map(drop)
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
    ) -> Option<u64> {
        let id = match self.create_deployment(repo, d).await {
            Ok(id) => id?,
            Err(e) => {
                note(format!("no deployment recorded on {repo}: {e}"));
                return None;
            }
        };
        let started = self
            .set_deployment_status(
                repo,
                id,
                "in_progress",
                &deployment(&Deployment::Applying),
                run_url,
            )
            .await;
        if let Err(e) = started {
            note(format!("deployment {id}: {e}"));
        }
        Some(id)
    }

    /// The apply ended: its deployment `success` or `failure`, with why.
    pub async fn apply_ended(
        &self,
        repo: &str,
        id: u64,
        ok: bool,
        description: &CustomerText,
        run_url: Option<&str>,
        note: Note<'_>,
    ) {
        let state = if ok { "success" } else { "failure" };
        let set = self.set_deployment_status(repo, id, state, description, run_url);
        if let Err(e) = set.await {
            note(format!("deployment {id}: {e}"));
        }
    }
}

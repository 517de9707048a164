//! GitHub Actions: the deployment reviews of a workflow run (who approved
//! an environment), never assumed from an incomplete answer.

use serde_json::Value;

use super::answers::required_str;
use super::client::{GitHub, Method};
use super::error::{bad_value, GitHubError};
use super::paths::repo_path;

impl GitHub {
    /// The deployment reviews of a workflow run, oldest first
    /// (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals`, 1
    /// request; the token needs `actions: read`). An answer that is not a
    /// list, or an entry without a state or a reviewer, is an error: an
    /// approval is never assumed.
    pub async fn run_reviews(
        &self,
        repo: &str,
        run_id: u64,
    ) -> Result<Vec<crate::policy::approval::RunReview>, GitHubError> {
        let p = format!("{}/actions/runs/{run_id}/approvals", repo_path(repo));
        let r = self.send(Method::Get, &p, None).await?;
        let items = r
            .body
            .as_array()
            .ok_or_else(|| bad_value("GET", &p, "reviews", "is not a list"))?;
        items
            .iter()
            .map(|item| {
                let state = required_str(item, "/state", &p, "state")?.to_string();
                let login = required_str(item, "/user/login", &p, "user.login")?.to_string();
                let environments = item
                    .get("environments")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad_value("GET", &p, "environments", "is not a list"))?
                    .iter()
                    .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect();
                let comment = item
                    .get("comment")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                Ok(crate::policy::approval::RunReview {
                    state,
                    login,
                    environments,
                    comment,
                })
            })
            .collect()
    }
}

/// Who started a workflow run and what it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    /// The workflow file, `.github/workflows/x.yml`.
    pub path: String,
    /// Who started the run.
    pub actor: String,
    /// Who started its latest attempt (a re-run), else the actor.
    pub triggering_actor: String,
    pub head_branch: Option<String>,
    /// The event that started it (`workflow_dispatch`, `push`, ...).
    pub event: Option<String>,
    /// When the run was created (RFC 3339): a re-run keeps it.
    pub created_at: Option<String>,
}

impl GitHub {
    /// One workflow run (`GET /repos/{owner}/{repo}/actions/runs/{run_id}`,
    /// 1 request; `actions: read`). An answer without its actor or path is
    /// an error: who started a run is never assumed.
    pub async fn workflow_run(&self, repo: &str, run_id: u64) -> Result<WorkflowRun, GitHubError> {
        let p = format!("{}/actions/runs/{run_id}", repo_path(repo));
        let r = self.send(Method::Get, &p, None).await?;
        let b = &r.body;
        let actor = required_str(b, "/actor/login", &p, "actor.login")?.to_string();
        let triggering_actor = b
            .pointer("/triggering_actor/login")
            .and_then(Value::as_str)
            .unwrap_or(&actor)
            .to_string();
        let id = b
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| *id == run_id)
            .ok_or_else(|| bad_value("GET", &p, "id", "is not the run asked for"))?;
        Ok(WorkflowRun {
            id,
            path: required_str(b, "/path", &p, "path")?.to_string(),
            actor,
            triggering_actor,
            head_branch: b
                .get("head_branch")
                .and_then(Value::as_str)
                .map(str::to_string),
            event: b.get("event").and_then(Value::as_str).map(str::to_string),
            created_at: b
                .get("created_at")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

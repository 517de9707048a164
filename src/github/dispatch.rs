//! `repository_dispatch`: the event that starts the manager's workflow
//! (the payload's contract is `crate::dispatch`).

use serde_json::Value;

use super::client::{GitHub, Method};
use super::error::GitHubError;
use super::paths::repo_path;

impl GitHub {
    /// `POST /repos/{repo}/dispatches`.
    pub async fn dispatch(
        &self,
        repo: &str,
        event_type: &str,
        client_payload: &Value,
    ) -> Result<(), GitHubError> {
        let body =
            serde_json::json!({ "event_type": event_type, "client_payload": client_payload });
        self.send(
            Method::Post,
            &format!("{}/dispatches", repo_path(repo)),
            Some(&body),
        )
        .await
        .map(|_| ())
    }
}

impl GitHub {
    /// `POST /repos/{repo}/actions/workflows/{workflow}/dispatches`: runs
    /// the workflow file `workflow` (its name under `.github/workflows/`)
    /// on `git_ref` with `inputs`. A job's `GITHUB_TOKEN` may start one
    /// (Actions: write); events a job makes with it start no other run
    /// except this and `repository_dispatch` (FACTS, GitHub).
    pub async fn dispatch_workflow(
        &self,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: &Value,
    ) -> Result<(), GitHubError> {
        let body = serde_json::json!({ "ref": git_ref, "inputs": inputs });
        self.send(
            Method::Post,
            &format!(
                "{}/actions/workflows/{}/dispatches",
                repo_path(repo),
                super::paths::seg(workflow)
            ),
            Some(&body),
        )
        .await
        .map(|_| ())
    }
}

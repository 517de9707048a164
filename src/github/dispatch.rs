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

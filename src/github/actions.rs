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
                Ok(crate::policy::approval::RunReview {
                    state,
                    login,
                    environments,
                })
            })
            .collect()
    }
}

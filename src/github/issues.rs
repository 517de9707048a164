//! Issues: open ones by label (pull requests left out), create, update.

use serde_json::Value;

use super::client::{GitHub, Method};
use super::error::GitHubError;
use super::paths::{repo_path, seg};

#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub body: String,
}

impl GitHub {
    /// Open issues with `label`, following pagination.
    pub async fn list_open_issues(
        &self,
        repo: &str,
        label: &str,
    ) -> Result<Vec<Issue>, GitHubError> {
        let mut out = Vec::new();
        let first = format!(
            "{}/issues?state=open&labels={}&per_page=100",
            repo_path(repo),
            seg(label)
        );
        self.paginate(first, |i| {
            if i.get("pull_request").is_some() {
                return;
            }
            if let Some(number) = i.get("number").and_then(Value::as_u64) {
                out.push(Issue {
                    number,
                    body: i
                        .get("body")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        })
        .await?;
        Ok(out)
    }

    pub async fn create_issue(
        &self,
        repo: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<Option<u64>, GitHubError> {
        let r = self
            .send(
                Method::Create,
                &format!("{}/issues", repo_path(repo)),
                Some(&serde_json::json!({ "title": title, "body": body, "labels": labels })),
            )
            .await?;
        Ok(r.body.get("number").and_then(Value::as_u64))
    }

    /// PATCH an issue: body and/or state.
    pub async fn update_issue(
        &self,
        repo: &str,
        number: u64,
        (title, body): (Option<&str>, Option<&str>),
        state: Option<&str>,
    ) -> Result<(), GitHubError> {
        let mut patch = serde_json::Map::new();
        if let Some(t) = title {
            patch.insert("title".into(), Value::String(t.into()));
        }
        if let Some(b) = body {
            patch.insert("body".into(), Value::String(b.into()));
        }
        if let Some(s) = state {
            patch.insert("state".into(), Value::String(s.into()));
        }
        self.send(
            Method::Patch,
            &format!("{}/issues/{number}", repo_path(repo)),
            Some(&Value::Object(patch)),
        )
        .await
        .map(|_| ())
    }
}

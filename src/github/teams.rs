//! Teams: whether a user is an active member of an organisation's team
//! (the approvers of `approvals:` named by team).

use serde_json::Value;

use super::client::{GitHub, Method};
use super::error::GitHubError;
use super::paths::seg;

impl GitHub {
    /// Whether `login` is an active member of `org/team` (`GET
    /// /orgs/{org}/teams/{team_slug}/memberships/{username}`): a pending
    /// invitation is not membership, and 404 means not a member (or a team
    /// the token cannot see).
    pub async fn is_team_member(
        &self,
        org: &str,
        team: &str,
        login: &str,
    ) -> Result<bool, GitHubError> {
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            seg(org),
            seg(team),
            seg(login)
        );
        match self.send(Method::Get, &path, None).await {
            Ok(r) => Ok(r.body.get("state").and_then(Value::as_str) == Some("active")),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

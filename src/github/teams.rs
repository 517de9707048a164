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

impl GitHub {
    /// The id of `org/team` when the team has access to `repo`, as an
    /// environment's required reviewer needs ("Managing environments for
    /// deployment": reviewers must have at least read access): `GET
    /// /orgs/{org}/teams/{team_slug}` (its id) and `GET
    /// /orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}` (204 or 200
    /// when it has access). `None` for a team the token cannot see or
    /// without access.
    pub async fn team_reviewer(
        &self,
        org: &str,
        team: &str,
        repo: &str,
    ) -> Result<Option<u64>, GitHubError> {
        let team_path = format!("/orgs/{}/teams/{}", seg(org), seg(team));
        let id = match self.send(Method::Get, &team_path, None).await {
            Ok(r) => r
                .body
                .get("id")
                .and_then(Value::as_u64)
                .filter(|id| *id > 0),
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(id) = id else {
            return Ok(None);
        };
        let (owner, name) = super::paths::owner_and_name(repo);
        let access = format!("{team_path}/repos/{owner}/{name}");
        match self.send(Method::Get, &access, None).await {
            Ok(_) => Ok(Some(id)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

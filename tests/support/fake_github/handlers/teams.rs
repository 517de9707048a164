//! The fake GitHub's team memberships (`src/github/teams.rs`).

use serde_json::json;

use super::super::state::State;
use super::{Answer, Ctx};

/// `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`: 404 unless
/// the user is a member (or invited: `pending`).
pub(crate) fn team_membership(state: &mut State, ctx: &Ctx) -> Answer {
    let (org, team, login) = (
        &ctx.params["org"],
        &ctx.params["team_slug"],
        &ctx.params["username"],
    );
    let key = format!("{org}/{team}").to_ascii_lowercase();
    let Some((_, member_state)) = state
        .teams
        .get(&key)
        .and_then(|m| m.iter().find(|(l, _)| l.eq_ignore_ascii_case(login)))
        .cloned()
    else {
        return Answer::not_found();
    };
    let api = state.api_url.clone();
    Answer::json(
        200,
        json!({
            "url": format!("{api}/orgs/{org}/teams/{team}/memberships/{login}"),
            "role": "member",
            "state": member_state,
        }),
    )
}

/// A team as GitHub renders one (the OpenAPI `team` schema), by its
/// `org/team` key: what an environment's Team reviewer shows.
pub(crate) fn team_json(state: &State, key: &str) -> serde_json::Value {
    let (org, team) = key.split_once('/').unwrap_or((key, key));
    let id = state.team_ids.get(key).copied().unwrap_or(0);
    let api = state.api_url.clone();
    json!({
        "id": id,
        "node_id": format!("T_{id}"),
        "url": format!("{api}/orgs/{org}/teams/{team}"),
        "html_url": format!("https://github.com/orgs/{org}/teams/{team}"),
        "name": team,
        "slug": team,
        "description": null,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": format!("{api}/organizations/1/team/{id}/members{{/member}}"),
        "repositories_url": format!("{api}/organizations/1/team/{id}/repos"),
        "parent": null,
        "type": "organization",
        "organization_id": 1,
    })
}

/// `GET /orgs/{org}/teams/{team_slug}` ("Get a team by name"): the team
/// a test made ([`FakeGitHub::add_team`]), else 404.
pub(crate) fn team(state: &mut State, ctx: &Ctx) -> Answer {
    let (org, team) = (&ctx.params["org"], &ctx.params["team_slug"]);
    let key = format!("{org}/{team}").to_ascii_lowercase();
    if !state.team_ids.contains_key(&key) {
        return Answer::not_found();
    }
    let api = state.api_url.clone();
    let mut full = team_json(state, &key);
    let extra = json!({
        "members_count": state.teams.get(&key).map_or(0, Vec::len),
        "repos_count": state.team_repos.get(&key).map_or(0, Vec::len),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "organization": {
            "login": org, "id": 1, "node_id": "O_1",
            "url": format!("{api}/orgs/{org}"),
            "repos_url": format!("{api}/orgs/{org}/repos"),
            "events_url": format!("{api}/orgs/{org}/events"),
            "hooks_url": format!("{api}/orgs/{org}/hooks"),
            "issues_url": format!("{api}/orgs/{org}/issues"),
            "members_url": format!("{api}/orgs/{org}/members{{/member}}"),
            "public_members_url": format!("{api}/orgs/{org}/public_members{{/member}}"),
            "avatar_url": "https://avatars.githubusercontent.com/u/1",
            "description": null,
            "html_url": format!("https://github.com/{org}"),
            "has_organization_projects": true,
            "has_repository_projects": true,
            "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
            "type": "Organization",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "archived_at": null
        }
    });
    if let (Some(o), Some(e)) = (full.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    Answer::json(200, full)
}

/// `GET /orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}` ("Check team
/// permissions for a repository"): 204 when the team has access, 404
/// otherwise (the page: "204 ... if the team has access", "404 Not Found
/// if team does not have permission for the repository").
pub(crate) fn team_repo(state: &mut State, ctx: &Ctx) -> Answer {
    let key = format!("{}/{}", ctx.params["org"], ctx.params["team_slug"]).to_ascii_lowercase();
    let repo = format!("{}/{}", ctx.params["owner"], ctx.params["repo"]);
    let has = state
        .team_repos
        .get(&key)
        .is_some_and(|r| r.iter().any(|x| x.eq_ignore_ascii_case(&repo)));
    if has {
        Answer::no_content()
    } else {
        Answer::not_found()
    }
}

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

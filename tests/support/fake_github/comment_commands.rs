//! What comment commands read and write: one issue comment, a user's
//! permission level on a repository (from the seeded collaborators, see
//! `access`: `maintain` answers `write` and `triage` `read`, as GitHub
//! does; anyone else `none`), and reactions to comments (kept, in order,
//! for [`FakeGitHub::reactions`]).

use serde_json::json;

use super::handlers::{Answer, Ctx};
use super::render;
use super::state::State;
use super::util::{node_id, now_rfc3339};
use super::FakeGitHub;

impl FakeGitHub {
    /// The reactions to comment `id` of `repo` as `(login, content)`,
    /// oldest first.
    pub fn reactions(&self, repo: &str, id: u64) -> Vec<(String, String)> {
        let st = self.state();
        st.repo(repo)
            .map(|r| {
                r.reactions
                    .iter()
                    .filter(|(c, _, _)| *c == id)
                    .map(|(_, login, content)| (login.clone(), content.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The three operations, or `None` for any other.
pub(crate) fn handle(state: &mut State, repo_name: &str, ctx: &Ctx) -> Option<Answer> {
    let id: u64 = ctx.param("comment_id").parse().unwrap_or(0);
    Some(match ctx.op {
        "issues/get-comment" => {
            let repo = state.repo(repo_name)?;
            match repo.comments.iter().find(|c| c.id == id) {
                Some(c) => Answer::json(200, render::comment(state, repo, c)),
                None => Answer::not_found(),
            }
        }
        "repos/get-collaborator-permission-level" => permission(state, repo_name, ctx),
        "reactions/create-for-issue-comment" => react(state, repo_name, id, ctx),
        _ => return None,
    })
}

fn permission(state: &State, repo_name: &str, ctx: &Ctx) -> Answer {
    let Some(repo) = state.repo(repo_name) else {
        return Answer::not_found();
    };
    let login = ctx.param("username");
    let role = repo
        .settings
        .access
        .collaborators
        .iter()
        .find(|c| c.login.eq_ignore_ascii_case(login))
        .map_or("none", |c| c.role.as_str());
    let permission = match role {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    };
    let mut user = render::user(state, login);
    user["role_name"] = json!(role);
    Answer::json(
        200,
        json!({ "permission": permission, "role_name": role, "user": user }),
    )
}

fn react(state: &mut State, repo_name: &str, id: u64, ctx: &Ctx) -> Answer {
    let content = ctx
        .body
        .as_ref()
        .and_then(|b| b.get("content"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let login = state.bot_login.clone();
    let reaction_id = state.next_id();
    let Some(repo) = state.repo_mut(repo_name) else {
        return Answer::not_found();
    };
    if !repo.comments.iter().any(|c| c.id == id) {
        return Answer::not_found();
    }
    let seen = repo
        .reactions
        .iter()
        .any(|(c, l, x)| *c == id && *l == login && *x == content);
    if !seen {
        repo.reactions.push((id, login.clone(), content.clone()));
    }
    let answer = json!({
        "id": reaction_id,
        "node_id": node_id("Reaction", reaction_id),
        "user": render::user(state, &login),
        "content": content,
        "created_at": now_rfc3339(),
    });
    // GitHub answers 200 for a reaction the user already made.
    Answer::json(if seen { 200 } else { 201 }, answer)
}

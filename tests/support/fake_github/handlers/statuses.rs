//! The fake GitHub's commit statuses, the combined status and check runs
//! (`src/github/statuses.rs`).

use serde_json::Value;

use super::super::render;
use super::super::state::{Repo, State};
use super::super::util::{is_full_sha, now_rfc3339};
use super::super::Status;
use super::{paginate, Answer, Ctx};

pub(crate) fn create_status(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let given = ctx.param("sha");
    let repo = state.seeded(repo_name).clone();
    let resolved = given
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| state.resolve(&repo, given))
        .flatten();
    let Some(sha) = resolved else {
        return Answer::error(422, &format!("No commit found for SHA: {given}"));
    };
    let description = ctx.str_field("description").map(str::to_string);
    if description
        .as_deref()
        .is_some_and(|d| d.chars().count() > 140)
    {
        return Answer::invalid(
            "Status",
            "description",
            "custom",
            Some("description is too long (maximum is 140 characters)"),
        );
    }
    let creator = state.bot_login.clone();
    state.user_id(&creator);
    let status = Status {
        id: state.next_id(),
        sha,
        state: ctx.str_field("state").unwrap_or_default().to_string(),
        context: ctx.str_field("context").unwrap_or("default").to_string(),
        description,
        target_url: ctx.str_field("target_url").map(str::to_string),
        creator,
        created_at: now_rfc3339(),
    };
    let body = render::status(state, &repo, &status, true);
    state.seeded(repo_name).statuses.push(status);
    Answer::json(201, body)
}

pub(crate) fn combined_status(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let reference = ctx.param("ref");
    match state.resolve(repo, reference) {
        Some(sha) => Answer::json(200, render::combined_status(state, repo, &sha)),
        None => Answer::error(404, &format!("No commit found for SHA: {reference}")),
    }
}

pub(crate) fn list_statuses(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let reference = ctx.param("ref");
    let Some(sha) = state.resolve(repo, reference) else {
        return Answer::error(404, &format!("No commit found for SHA: {reference}"));
    };
    let items = repo
        .statuses
        .iter()
        .rev()
        .filter(|s| s.sha == sha)
        .map(|s| render::status(state, repo, s, true))
        .collect();
    paginate(state, ctx, items, state.page_size)
}

pub(crate) fn create_check_run(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let body = ctx.body.cloned().unwrap_or(Value::Null);
    let head_sha = body["head_sha"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !is_full_sha(&head_sha) || !state.commits.contains_key(&head_sha) {
        return Answer::invalid(
            "CheckRun",
            "head_sha",
            "invalid",
            Some("No commit found for SHA"),
        );
    }
    let completed = body["status"] == "completed" || body.get("completed_at").is_some();
    if completed && body.get("conclusion").is_none() {
        return Answer::invalid("CheckRun", "conclusion", "missing_field", None);
    }
    let id = state.next_id();
    let now = now_rfc3339();
    let repo = state.seeded(repo_name).clone();
    let run = render::check_run(state, &repo, id, &body, &now);
    state.seeded(repo_name).check_runs.push(body);
    Answer::json(201, run)
}

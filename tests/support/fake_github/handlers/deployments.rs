//! The fake GitHub's deployments and their statuses
//! (`src/github/deployments.rs`).

use serde_json::{json, Value};

use super::super::render;
use super::super::state::{Repo, State};
use super::super::util::now_rfc3339;
use super::super::Deployment;
use super::{paginate, Answer, Ctx};

/// POST /repos/{o}/{r}/deployments: the ref must resolve; unless
/// `required_contexts` is `[]`, every status context on the commit must be
/// `success` (else 409, as GitHub answers).
pub(crate) fn create_deployment(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let repo = state.seeded(repo_name).clone();
    let given = ctx.str_field("ref").unwrap_or_default().to_string();
    let Some(sha) = state.resolve(&repo, &given) else {
        return Answer::error(422, &format!("No ref found for: {given}"));
    };
    let bypass = ctx
        .field("required_contexts")
        .and_then(Value::as_array)
        .is_some_and(|a| a.is_empty());
    let latest = render::latest_statuses(&repo, &sha);
    if !bypass && latest.iter().any(|s| s.state != "success") {
        return Answer::error(409, "Conflict: Commit status checks failed for the ref.");
    }
    let creator = state.bot_login.clone();
    state.user_id(&creator);
    let environment_name = ctx.str_field("environment").unwrap_or("production");
    let d = Deployment {
        id: state.next_id(),
        sha,
        git_ref: given,
        environment: environment_name.to_string(),
        description: ctx.str_field("description").map(str::to_string),
        creator,
        created_at: now_rfc3339(),
        payload: ctx.field("payload").cloned().unwrap_or_else(|| json!({})),
        production: ctx
            .field("production_environment")
            .and_then(Value::as_bool)
            .unwrap_or(environment_name == "production"),
        statuses: Vec::new(),
    };
    let body = render::deployment(state, &repo, &d);
    state.seeded(repo_name).deployments.push(d);
    Answer::json(201, body)
}

/// GET /repos/{o}/{r}/deployments: newest first, filtered by `sha`,
/// `ref`, `task` and `environment` as GitHub does, paginated.
pub(crate) fn list_deployments(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let wanted = |name: &str, value: &str| ctx.query(name).is_none_or(|q| q == value);
    let items = repo
        .deployments
        .iter()
        .rev()
        .filter(|d| wanted("sha", &d.sha) && wanted("ref", &d.git_ref))
        .filter(|d| wanted("task", "deploy") && wanted("environment", &d.environment))
        .map(|d| render::deployment(state, repo, d))
        .collect();
    paginate(state, ctx, items, 30)
}

/// GET /repos/{o}/{r}/deployments/{id}/statuses: newest first, paginated.
pub(crate) fn list_deployment_statuses(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let id = ctx.number("deployment_id");
    let Some(d) = repo.deployments.iter().find(|d| d.id == id) else {
        return Answer::not_found();
    };
    let creator = state.bot_login.clone();
    let items = d
        .statuses
        .iter()
        .enumerate()
        .rev()
        .map(|(i, entry)| {
            render::deployment_status(state, repo, d, id * 1000 + i as u64, entry, &creator)
        })
        .collect();
    paginate(state, ctx, items, 30)
}

/// POST /repos/{o}/{r}/deployments/{id}/statuses.
pub(crate) fn create_deployment_status(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let id = ctx.number("deployment_id");
    let status_id = state.next_id();
    let creator = state.bot_login.clone();
    state.user_id(&creator);
    let repo = state.seeded(repo_name).clone();
    let Some(d) = repo.deployments.iter().find(|d| d.id == id) else {
        return Answer::not_found();
    };
    let entry = (
        ctx.str_field("state").unwrap_or_default().to_string(),
        ctx.str_field("description").map(str::to_string),
        ctx.str_field("log_url").map(str::to_string),
    );
    let body = render::deployment_status(state, &repo, d, status_id, &entry, &creator);
    let (environment, production) = (d.environment.clone(), d.production);
    let deployments = &mut state.seeded(repo_name).deployments;
    if let Some(d) = deployments.iter_mut().find(|d| d.id == id) {
        d.statuses.push(entry);
    }
    let auto = ctx.field("auto_inactive").and_then(Value::as_bool) != Some(false);
    if auto && ctx.str_field("state") == Some("success") && !production {
        auto_inactive(deployments, id, &environment);
    }
    Answer::json(201, body)
}

/// GitHub's `auto_inactive` (default true): a status created on a
/// deployment "adds a new `inactive` status to all prior non-transient,
/// non-production environment deployments with the same repository and
/// `environment` name", only to those that had a `success` state.
fn auto_inactive(deployments: &mut [Deployment], id: u64, environment: &str) {
    if environment == "production" {
        return;
    }
    for d in deployments
        .iter_mut()
        .filter(|d| d.id < id && d.environment == environment)
    {
        let last = d.statuses.last().map(|s| s.0.as_str());
        if last == Some("success") {
            d.statuses.push(("inactive".into(), None, None));
        }
    }
}

//! What each operation does to the state, and what it answers.
//!
//! Requests reaching these handlers have been routed and validated against
//! the OpenAPI description already; the handlers add GitHub's semantics
//! (404 for missing objects, 409/422 for conflicts, archived repositories).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::render;
use super::state::{Repo, State};
use super::util::percent_encode_query;

// Handlers by topic live in `handlers_repo` and `handlers_issues`.
pub(crate) use super::handlers_issues::{add_comment, add_review};
use super::handlers_issues::{
    create_comment, create_issue, create_pull, list_comments, list_issues, list_pull_files,
    list_pulls, list_reviews, pulls_of_commit, update_comment, update_issue, update_pull,
};

use super::handlers_repo::{
    combined_status, create_check_run, create_deployment, create_deployment_status, create_ref,
    create_status, dispatch, get_content, list_statuses, merge_upstream, put_content, put_secret,
    update_ref,
};

/// Everything a handler needs to know about the request.
pub(crate) struct Ctx<'a> {
    pub op: &'a str,
    pub method: &'a str,
    /// Raw request path with the API prefix removed (used for `Link`).
    pub path: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
    /// The `Accept` header, if any.
    pub accept: Option<&'a str>,
}

impl Ctx<'_> {
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub(crate) fn number(&self, name: &str) -> u64 {
        self.param(name).parse().unwrap_or(0)
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn field(&self, name: &str) -> Option<&Value> {
        self.body.and_then(|b| b.get(name)).filter(|v| !v.is_null())
    }

    pub(crate) fn str_field(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(Value::as_str)
    }

    fn repo_name(&self) -> String {
        format!("{}/{}", self.param("owner"), self.param("repo"))
    }
}

/// A handler's answer. `extra` is a problem the fake found that is not a
/// schema mismatch but still a client error worth a violation.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
    pub violation: Option<String>,
    /// A non-JSON body with its content type (raw file contents).
    pub raw: Option<(String, Vec<u8>)>,
}

impl Answer {
    pub(crate) fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body: Some(body),
            headers: Vec::new(),
            violation: None,
            raw: None,
        }
    }

    pub(crate) fn no_content() -> Answer {
        Answer {
            status: 204,
            body: None,
            headers: Vec::new(),
            violation: None,
            raw: None,
        }
    }

    pub(crate) fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, render::error(message, status))
    }

    pub(crate) fn not_found() -> Answer {
        Answer::error(404, "Not Found")
    }

    pub(crate) fn invalid(
        resource: &str,
        field: &str,
        code: &str,
        message: Option<&str>,
    ) -> Answer {
        Answer::json(
            422,
            render::validation_failed(resource, field, code, message),
        )
    }

    pub(crate) fn header(mut self, name: &str, value: String) -> Answer {
        self.headers.push((name.to_string(), value));
        self
    }
}

/// Operations not under `/repos/{owner}/{repo}`.
fn handle_outside_repos(state: &mut State, ctx: &Ctx) -> Option<Answer> {
    match ctx.op {
        "teams/get-membership-for-user-in-org" => Some(team_membership(state, ctx)),
        "orgs/get" => Some(super::access::org(state, ctx)),
        "apps/create-installation-access-token" => Some(super::apps::create_token(state, ctx)),
        "apps/get-authenticated" => Some(super::apps::authenticated_app(state)),
        "apps/list-webhook-deliveries" => Some(super::hooks::list(state, ctx)),
        "apps/redeliver-webhook-delivery" => Some(super::hooks::redeliver(state, ctx)),
        "apps/get-by-slug" => {
            let authenticated = !state.current_anonymous;
            Some(super::apps::app_by_slug(state, ctx, authenticated))
        }
        "apps/get-repo-installation" => {
            let repo = ctx.repo_name();
            Some(super::apps::repo_installation(state, ctx, &repo))
        }
        _ => None,
    }
}

/// `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`: 404 unless
/// the user is a member (or invited: `pending`).
fn team_membership(state: &mut State, ctx: &Ctx) -> Answer {
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

/// Serve one validated request.
pub(crate) fn handle(state: &mut State, ctx: &Ctx) -> Answer {
    if let Some(answer) = handle_outside_repos(state, ctx) {
        return answer;
    }
    let repo_name = ctx.repo_name();
    if let Some(answer) = super::settings::moved(state, &repo_name) {
        return answer;
    }
    if let Some(answer) = super::comment_commands::handle(state, &repo_name, ctx) {
        return answer;
    }
    let Some(repo) = state.repo(&repo_name) else {
        return Answer::not_found();
    };
    if let Some(answer) = super::settings::handle(state, repo, ctx) {
        return answer;
    }
    if let Some(answer) = super::access::handle(state, repo, ctx) {
        return answer;
    }
    if ctx.method != "GET" && repo.archived {
        return Answer::error(403, "Repository was archived so is read-only.");
    }
    let repo_name = repo.full_name();
    match ctx.op {
        "repos/get" => Answer::json(200, render::repository(state, repo)),
        "repos/get-branch" => get_branch(state, repo, ctx),
        "git/get-ref" => get_ref(state, repo, ctx),
        "git/create-ref" => create_ref(state, &repo_name, ctx),
        "git/update-ref" => update_ref(state, &repo_name, ctx),
        "repos/get-content" => get_content(state, repo, ctx),
        "repos/create-or-update-file-contents" => put_content(state, &repo_name, ctx),
        "repos/create-dispatch-event" => dispatch(state, &repo_name, ctx),
        "repos/create-commit-status" => create_status(state, &repo_name, ctx),
        "repos/get-combined-status-for-ref" => combined_status(state, repo, ctx),
        "repos/create-deployment" => create_deployment(state, &repo_name, ctx),
        "repos/create-deployment-status" => create_deployment_status(state, &repo_name, ctx),
        "repos/list-deployments" => super::handlers_repo::list_deployments(state, repo, ctx),
        "repos/list-deployment-statuses" => {
            super::handlers_repo::list_deployment_statuses(state, repo, ctx)
        }
        "repos/list-commit-statuses-for-ref" => list_statuses(state, repo, ctx),
        "issues/list-comments" => list_comments(state, repo, ctx),
        "issues/create-comment" => create_comment(state, &repo_name, ctx),
        "issues/update-comment" => update_comment(state, &repo_name, ctx),
        "issues/delete-comment" => {
            let id = ctx.number("comment_id");
            let repo = state.seeded(&repo_name);
            let before = repo.comments.len();
            repo.comments.retain(|c| c.id != id);
            if repo.comments.len() == before {
                Answer::not_found()
            } else {
                Answer::no_content()
            }
        }
        "issues/create" => create_issue(state, &repo_name, ctx),
        "issues/update" => update_issue(state, &repo_name, ctx),
        "issues/list-for-repo" => list_issues(state, repo, ctx),
        "issues/get" => match repo.issues.get(&ctx.number("issue_number")) {
            Some(rec) => Answer::json(200, render::issue(state, repo, rec)),
            None => Answer::not_found(),
        },
        "pulls/get" => match repo.issues.get(&ctx.number("pull_number")) {
            Some(rec) if rec.pull.is_some() => {
                Answer::json(200, render::pull(state, repo, rec, true))
            }
            _ => Answer::not_found(),
        },
        "pulls/list" => list_pulls(state, repo, ctx),
        "pulls/list-files" => list_pull_files(state, repo, ctx),
        "repos/get-commit" => {
            let reference = ctx.param("ref");
            let reference = if reference == "HEAD" {
                repo.default_branch.as_str()
            } else {
                reference
            };
            let sha = repo
                .branch(reference)
                .cloned()
                .unwrap_or_else(|| reference.to_string());
            match state.commits.get(&sha) {
                Some(c) => Answer::json(200, render::commit(state, repo, c)),
                None => Answer::error(422, &format!("No commit found for SHA: {reference}")),
            }
        }
        "pulls/create" => create_pull(state, &repo_name, ctx),
        "pulls/update" => update_pull(state, &repo_name, ctx),
        "pulls/list-reviews" => list_reviews(state, repo, ctx),
        "repos/list-pull-requests-associated-with-commit" => pulls_of_commit(state, repo, ctx),
        "checks/create" => create_check_run(state, &repo_name, ctx),
        "repos/merge-upstream" => merge_upstream(state, &repo_name, ctx),
        "actions/get-repo-public-key" => Answer::json(
            200,
            json!({ "key_id": repo.public_key.0, "key": repo.public_key.1 }),
        ),
        "actions/create-or-update-repo-secret" => put_secret(state, &repo_name, ctx),
        "actions/get-reviews-for-run" => Answer::json(
            200,
            super::render_actions::run_reviews(state, repo, ctx.number("run_id")),
        ),
        "actions/get-workflow-run" => {
            let id = ctx.number("run_id");
            match repo.workflow_runs.get(&id) {
                Some(run) => Answer::json(
                    200,
                    super::render_actions::workflow_run(state, repo, id, run),
                ),
                None => Answer::not_found(),
            }
        }
        other => Answer::error(501, &format!("fake GitHub does not implement {other}")),
    }
}

/// One page of `items` per `per_page`/`page`, with GitHub's `Link` header.
pub(crate) fn paginate(state: &State, ctx: &Ctx, items: Vec<Value>, default_size: usize) -> Answer {
    paginate_within(state, ctx, items, default_size, state.max_page_size)
}

/// [`paginate`] for an endpoint whose pages hold at most `max_size`
/// (GitHub's `variables-per-page`: 30).
pub(crate) fn paginate_within(
    state: &State,
    ctx: &Ctx,
    items: Vec<Value>,
    default_size: usize,
    max_size: usize,
) -> Answer {
    let per_page = ctx
        .query("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default_size)
        .clamp(1, max_size.min(state.max_page_size).max(1));
    let page = ctx
        .query("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut answer = Answer::json(200, Value::Array(slice));
    if last > 1 {
        let url = |n: usize| {
            let mut query: Vec<String> = ctx
                .query
                .iter()
                .filter(|(name, _)| name != "page")
                .map(|(name, value)| format!("{name}={}", percent_encode_query(value)))
                .collect();
            query.push(format!("page={n}"));
            format!("<{}{}?{}>", state.api_url, ctx.path, query.join("&"))
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", url((page - 1).min(last))));
        }
        if page < last {
            links.push(format!("{}; rel=\"next\"", url(page + 1)));
            links.push(format!("{}; rel=\"last\"", url(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", url(1)));
        }
        answer = answer.header("link", links.join(", "));
    }
    answer
}

fn get_branch(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let name = ctx.param("branch");
    match repo.branch(name).and_then(|sha| state.commits.get(sha)) {
        Some(c) => Answer::json(200, render::branch(state, repo, name, c)),
        None => Answer::error(404, "Branch not found"),
    }
}

fn get_ref(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let full = format!("refs/{}", ctx.param("ref"));
    match repo.refs.get(&full) {
        Some(sha) => Answer::json(200, render::git_ref(state, repo, &full, sha)),
        None => Answer::not_found(),
    }
}

//! What each operation does to the state, and what it answers: the
//! operations are routed here by their OpenAPI id, each family in its own
//! file as in `src/github/` (`issues`, `pulls`, `comments`, `contents`,
//! `git`, `statuses`, `deployments`, `dispatch`, `actions`, `teams`; the
//! Apps, hooks, access and settings beside this folder).
//!
//! Requests reaching these handlers have been routed and validated against
//! the OpenAPI description already; the handlers add GitHub's semantics
//! (404 for missing objects, 409/422 for conflicts, archived repositories).

pub(crate) mod actions;
mod comments;
mod contents;
mod deployments;
mod dispatch;
mod git;
mod issues;
mod pulls;
mod statuses;
mod teams;
pub(crate) use teams::team_json;

use std::collections::BTreeMap;

use serde_json::Value;

use super::render;
use super::state::State;
use super::util::percent_encode_query;

pub(crate) use comments::add_comment;
pub(crate) use pulls::add_review;

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
        "teams/get-membership-for-user-in-org" => Some(teams::team_membership(state, ctx)),
        "teams/get-by-name" => Some(teams::team(state, ctx)),
        "teams/check-permissions-for-repo-in-org" => Some(teams::team_repo(state, ctx)),
        "orgs/get" => Some(super::access::org(state, ctx)),
        "apps/create-installation-access-token" => Some(super::apps::create_token(state, ctx)),
        "apps/get-authenticated" => Some(super::apps::authenticated_app(state)),
        "apps/list-webhook-deliveries" => Some(super::hooks::list(state, ctx)),
        "apps/redeliver-webhook-delivery" => Some(super::hooks::redeliver(state, ctx)),
        "apps/create-from-manifest" => {
            let code = ctx.param("code").to_string();
            Some(super::manifest_web::convert(state, &code))
        }
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
    if let Some(answer) = super::settings::write(state, &repo_name, ctx) {
        return answer;
    }
    if let Some(answer) = super::settings_write::write(state, &repo_name, ctx) {
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
        "repos/get-branch" => git::get_branch(state, repo, ctx),
        "git/get-ref" => git::get_ref(state, repo, ctx),
        "git/create-ref" => git::create_ref(state, &repo_name, ctx),
        "git/update-ref" => git::update_ref(state, &repo_name, ctx),
        "repos/get-content" => contents::get_content(state, repo, ctx),
        "repos/create-or-update-file-contents" => contents::put_content(state, &repo_name, ctx),
        "repos/create-dispatch-event" => dispatch::dispatch(state, &repo_name, ctx),
        "actions/create-workflow-dispatch" => dispatch::workflow_dispatch(state, &repo_name, ctx),
        "repos/create-commit-status" => statuses::create_status(state, &repo_name, ctx),
        "repos/get-combined-status-for-ref" => statuses::combined_status(state, repo, ctx),
        "repos/create-deployment" => deployments::create_deployment(state, &repo_name, ctx),
        "repos/create-deployment-status" => {
            deployments::create_deployment_status(state, &repo_name, ctx)
        }
        "repos/list-deployments" => deployments::list_deployments(state, repo, ctx),
        "repos/list-deployment-statuses" => deployments::list_deployment_statuses(state, repo, ctx),
        "repos/list-commit-statuses-for-ref" => statuses::list_statuses(state, repo, ctx),
        "issues/list-comments" => comments::list_comments(state, repo, ctx),
        "issues/create-comment" => comments::create_comment(state, &repo_name, ctx),
        "issues/update-comment" => comments::update_comment(state, &repo_name, ctx),
        "issues/delete-comment" => comments::delete_comment(state, &repo_name, ctx),
        "issues/create" => issues::create_issue(state, &repo_name, ctx),
        "issues/update" => issues::update_issue(state, &repo_name, ctx),
        "issues/list-for-repo" => issues::list_issues(state, repo, ctx),
        "issues/get" => issues::get_issue(state, repo, ctx),
        "pulls/get" => pulls::get_pull(state, repo, ctx),
        "pulls/list" => pulls::list_pulls(state, repo, ctx),
        "pulls/list-files" => pulls::list_pull_files(state, repo, ctx),
        "repos/get-commit" => git::get_commit(state, repo, ctx),
        "pulls/create" => pulls::create_pull(state, &repo_name, ctx),
        "pulls/update" => pulls::update_pull(state, &repo_name, ctx),
        "pulls/list-reviews" => pulls::list_reviews(state, repo, ctx),
        "repos/list-pull-requests-associated-with-commit" => {
            pulls::pulls_of_commit(state, repo, ctx)
        }
        "checks/create" => statuses::create_check_run(state, &repo_name, ctx),
        "repos/merge-upstream" => git::merge_upstream(state, &repo_name, ctx),
        "actions/get-repo-public-key" => actions::public_key(repo),
        "actions/create-or-update-repo-secret" => actions::put_secret(state, &repo_name, ctx),
        "actions/get-reviews-for-run" => actions::run_reviews(state, repo, ctx),
        "actions/get-workflow-run" => actions::workflow_run(state, repo, ctx),
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

/// GitHub's size limit for issue, pull request and comment bodies.
const MAX_BODY_CHARS: usize = 65_536;

/// The optional `body` field, or GitHub's 422 for `resource` when it is
/// over the limit (GitHub capitalises the field for comments).
fn body_field(ctx: &Ctx, resource: &str) -> Result<Option<String>, Box<Answer>> {
    let body = ctx.str_field("body").map(str::to_string);
    if body
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_BODY_CHARS)
    {
        let field = if resource == "IssueComment" {
            "Body"
        } else {
            "body"
        };
        return Err(Box::new(Answer::invalid(
            resource,
            "body",
            "custom",
            Some(&format!(
                "{field} is too long (maximum is {MAX_BODY_CHARS} characters)"
            )),
        )));
    }
    Ok(body)
}

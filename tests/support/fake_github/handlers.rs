//! What each operation does to the state, and what it answers.
//!
//! Requests reaching these handlers have been routed and validated against
//! the OpenAPI description already; the handlers add GitHub's semantics
//! (404 for missing objects, 409/422 for conflicts, archived repositories).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::render;
use super::state::{IssueRec, PullRec, Repo, SecretRec, State};
use super::util::{b64_decode, is_full_sha, now_rfc3339, parse_rfc3339, percent_encode_query};
use super::{Comment, Deployment, Review, Status};

/// GitHub's size limit for issue, pull request and comment bodies.
const MAX_BODY_CHARS: usize = 65_536;

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

    fn number(&self, name: &str) -> u64 {
        self.param(name).parse().unwrap_or(0)
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn field(&self, name: &str) -> Option<&Value> {
        self.body.and_then(|b| b.get(name)).filter(|v| !v.is_null())
    }

    fn str_field(&self, name: &str) -> Option<&str> {
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

    fn no_content() -> Answer {
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

    fn invalid(resource: &str, field: &str, code: &str, message: Option<&str>) -> Answer {
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
        "actions/get-reviews-for-run" => {
            Answer::json(200, render::run_reviews(state, repo, ctx.number("run_id")))
        }
        other => Answer::error(501, &format!("fake GitHub does not implement {other}")),
    }
}

/// One page of `items` per `per_page`/`page`, with GitHub's `Link` header.
pub(crate) fn paginate(state: &State, ctx: &Ctx, items: Vec<Value>, default_size: usize) -> Answer {
    let per_page = ctx
        .query("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default_size)
        .clamp(1, state.max_page_size.max(1));
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

fn create_ref(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let full = ctx.str_field("ref").unwrap_or_default().to_string();
    let sha = ctx
        .str_field("sha")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !full.starts_with("refs/") || full.matches('/').count() < 2 {
        return Answer::error(
            422,
            "Reference name must start with 'refs/' and have at least two slashes.",
        );
    }
    if !is_full_sha(&sha) || !state.commits.contains_key(&sha) {
        return Answer::error(422, "Object does not exist");
    }
    let repo = state.seeded(repo_name);
    if repo.refs.contains_key(&full) {
        return Answer::error(422, "Reference already exists");
    }
    repo.refs.insert(full.clone(), sha.clone());
    let repo = state.seeded(repo_name).clone();
    let body = render::git_ref(state, &repo, &full, &sha);
    let location = body["url"].as_str().unwrap_or_default().to_string();
    Answer::json(201, body).header("location", location)
}

fn update_ref(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let full = format!("refs/{}", ctx.param("ref"));
    let sha = ctx
        .str_field("sha")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let force = ctx.field("force").and_then(Value::as_bool).unwrap_or(false);
    let Some(old) = state.seeded(repo_name).refs.get(&full).cloned() else {
        return Answer::error(422, "Reference does not exist");
    };
    if !is_full_sha(&sha) || !state.commits.contains_key(&sha) {
        return Answer::error(422, "Object does not exist");
    }
    if !force && !state.is_ancestor(&old, &sha) {
        return Answer::error(422, "Update is not a fast forward");
    }
    let repo = state.seeded(repo_name);
    repo.refs.insert(full.clone(), sha.clone());
    repo.pushed_at = now_rfc3339();
    let repo = repo.clone();
    Answer::json(200, render::git_ref(state, &repo, &full, &sha))
}

fn get_content(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let reference = ctx
        .query("ref")
        .filter(|r| !r.is_empty())
        .unwrap_or(&repo.default_branch);
    let Some(sha) = state.resolve(repo, reference) else {
        return Answer::error(404, &format!("No commit found for the ref {reference}"));
    };
    let files = &state.commits[&sha].files;
    let path = ctx.param("path").trim_matches('/');
    if let Some(bytes) = files.get(path) {
        // `application/vnd.github.raw` (or `.raw+json`) asks for the bytes.
        if ctx.accept.is_some_and(|a| a.contains("vnd.github.raw")) {
            let mut answer = Answer::no_content();
            answer.status = 200;
            answer.raw = Some((
                "application/vnd.github.raw; charset=utf-8".into(),
                bytes.clone(),
            ));
            return answer;
        }
        return Answer::json(
            200,
            render::content_file(state, repo, path, bytes, reference, true),
        );
    }
    // A directory: list its direct children.
    let prefix = format!("{path}/");
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for (file, bytes) in files.range(prefix.clone()..) {
        let Some(rest) = file.strip_prefix(&prefix) else {
            break;
        };
        match rest.split_once('/') {
            None => {
                let entry = render::content_file(state, repo, file, bytes, reference, false);
                entries.insert(file.clone(), entry);
            }
            Some((dir, _)) => {
                let dir_path = format!("{prefix}{dir}");
                let tree = super::util::object_id(&[sha.as_bytes(), dir_path.as_bytes()]);
                let entry = render::content_dir_entry(state, repo, &dir_path, reference, &tree);
                entries.entry(dir_path).or_insert(entry);
            }
        }
    }
    if entries.is_empty() {
        return Answer::not_found();
    }
    Answer::json(200, Value::Array(entries.into_values().collect()))
}

fn put_content(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let path = ctx.param("path").trim_matches('/').to_string();
    let branch = match ctx.str_field("branch") {
        Some(b) => b.to_string(),
        None => state.seeded(repo_name).default_branch.clone(),
    };
    let Some(head) = state.seeded(repo_name).branch(&branch).cloned() else {
        return Answer::error(404, &format!("Branch {branch} not found"));
    };
    let Some(content) = b64_decode(ctx.str_field("content").unwrap_or_default()) else {
        return Answer::error(422, "content is not valid Base64");
    };
    let files = &state.commits[&head].files;
    if files.keys().any(|f| f.starts_with(&format!("{path}/"))) {
        return Answer::error(422, &format!("{path} is a directory"));
    }
    let existing = files.get(&path).map(|b| super::util::blob_sha(b));
    match (&existing, ctx.str_field("sha")) {
        (Some(_), None) => {
            return Answer::error(422, "Invalid request.\n\n\"sha\" wasn't supplied.");
        }
        (Some(current), Some(given)) if current != given => {
            return Answer::error(409, &format!("{path} does not match {given}"));
        }
        _ => {}
    }
    let message = ctx.str_field("message").unwrap_or_default().to_string();
    let sha = state.create_commit(
        Some(&head),
        &[(path.clone(), Some(content.clone()))],
        &message,
    );
    let repo = state.seeded(repo_name);
    repo.refs
        .insert(format!("refs/heads/{branch}"), sha.clone());
    repo.pushed_at = now_rfc3339();
    let repo = repo.clone();
    let commit = &state.commits[&sha];
    let body = json!({
        "content": render::content_file(state, &repo, &path, &content, &branch, false),
        "commit": render::git_commit(state, &repo, commit),
    });
    Answer::json(if existing.is_some() { 200 } else { 201 }, body)
}

fn dispatch(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let body = ctx.body.cloned().unwrap_or(Value::Null);
    let payload_size = body
        .get("client_payload")
        .map_or(0, |p| p.to_string().len());
    if payload_size >= 64 * 1024 {
        let mut answer = Answer::error(422, "client_payload is too large (maximum is 64 KB)");
        answer.violation = Some(format!(
            "dispatch client_payload is {payload_size} bytes; GitHub allows less than 64 KB"
        ));
        return answer;
    }
    // What GitHub puts in the event's `sender`: the account the token acts as.
    let login = state.current_sender.clone();
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    let mut body = body;
    if let Some(o) = body.as_object_mut() {
        o.insert("sender".into(), json!({ "login": login, "type": kind }));
    }
    state.seeded(repo_name).dispatches.push(body);
    Answer::no_content()
}

fn create_status(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

/// POST /repos/{o}/{r}/deployments: the ref must resolve; unless
/// `required_contexts` is `[]`, every status context on the commit must be
/// `success` (else 409, as GitHub answers).
fn create_deployment(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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
    let d = Deployment {
        id: state.next_id(),
        sha,
        git_ref: given,
        environment: ctx
            .str_field("environment")
            .unwrap_or("production")
            .to_string(),
        description: ctx.str_field("description").map(str::to_string),
        creator,
        created_at: now_rfc3339(),
        statuses: Vec::new(),
    };
    let body = render::deployment(state, &repo, &d);
    state.seeded(repo_name).deployments.push(d);
    Answer::json(201, body)
}

/// POST /repos/{o}/{r}/deployments/{id}/statuses.
fn create_deployment_status(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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
    if let Some(d) = state
        .seeded(repo_name)
        .deployments
        .iter_mut()
        .find(|d| d.id == id)
    {
        d.statuses.push(entry);
    }
    Answer::json(201, body)
}

fn combined_status(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let reference = ctx.param("ref");
    match state.resolve(repo, reference) {
        Some(sha) => Answer::json(200, render::combined_status(state, repo, &sha)),
        None => Answer::error(404, &format!("No commit found for SHA: {reference}")),
    }
}

fn list_statuses(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

fn list_comments(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let number = ctx.number("issue_number");
    if !repo.issues.contains_key(&number) {
        return Answer::not_found();
    }
    let since = ctx.query("since").and_then(parse_rfc3339);
    let items = repo
        .comments
        .iter()
        .filter(|c| c.issue_number == number)
        .filter(|c| since.is_none_or(|s| parse_rfc3339(&c.updated_at).unwrap_or(0) >= s))
        .map(|c| render::comment(state, repo, c))
        .collect();
    paginate(state, ctx, items, state.comment_page_size)
}

fn create_comment(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let number = ctx.number("issue_number");
    if !state.seeded(repo_name).issues.contains_key(&number) {
        return Answer::not_found();
    }
    let body = match body_field(ctx, "IssueComment") {
        Ok(body) => body.unwrap_or_default(),
        Err(answer) => return *answer,
    };
    let user = state.bot_login.clone();
    let id = add_comment(state, repo_name, number, &user, &body);
    let repo = state.seeded(repo_name).clone();
    let comment = repo
        .comments
        .iter()
        .find(|c| c.id == id)
        .expect("just added");
    let value = render::comment(state, &repo, comment);
    let location = value["url"].as_str().unwrap_or_default().to_string();
    Answer::json(201, value).header("location", location)
}

/// Append a comment to an issue; returns its id.
pub(crate) fn add_comment(
    state: &mut State,
    repo_name: &str,
    number: u64,
    user: &str,
    body: &str,
) -> u64 {
    let id = state.next_id();
    state.user_id(user);
    let now = now_rfc3339();
    let repo = state.seeded(repo_name);
    repo.comments.push(Comment {
        id,
        issue_number: number,
        body: body.to_string(),
        user: user.to_string(),
        created_at: now.clone(),
        updated_at: now.clone(),
    });
    if let Some(issue) = repo.issues.get_mut(&number) {
        issue.updated_at = now;
    }
    id
}

fn update_comment(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let id = ctx.number("comment_id");
    let body = match body_field(ctx, "IssueComment") {
        Ok(body) => body.unwrap_or_default(),
        Err(answer) => return *answer,
    };
    let repo = state.seeded(repo_name);
    let Some(comment) = repo.comments.iter_mut().find(|c| c.id == id) else {
        return Answer::not_found();
    };
    comment.body = body;
    comment.updated_at = now_rfc3339();
    let comment = comment.clone();
    let repo = repo.clone();
    Answer::json(200, render::comment(state, &repo, &comment))
}

/// Label names from an `issues/create` or `issues/update` body: strings or
/// objects with a `name`.
fn label_names(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for item in value.as_array().into_iter().flatten() {
        let name = match item {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if let Some(name) = name.filter(|n| !names.contains(n)) {
            names.push(name);
        }
    }
    names
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn title_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn create_issue(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let Some(title) = title_text(ctx.field("title")).filter(|t| !t.trim().is_empty()) else {
        return Answer::invalid("Issue", "title", "missing_field", None);
    };
    let body = match body_field(ctx, "Issue") {
        Ok(body) => body,
        Err(answer) => return *answer,
    };
    let user = state.bot_login.clone();
    let number = state.new_issue(repo_name, &title, body, &user, None);
    let labels = ctx.field("labels").map(label_names).unwrap_or_default();
    for label in &labels {
        state.label_id(repo_name, label);
    }
    let mut assignees = string_list(ctx.field("assignees"));
    if let Some(a) = ctx.str_field("assignee") {
        assignees.insert(0, a.to_string());
    }
    for a in &assignees {
        state.user_id(a);
    }
    let repo = state.seeded(repo_name);
    let rec = repo.issues.get_mut(&number).expect("just created");
    rec.labels = labels;
    rec.assignees = assignees;
    let repo = repo.clone();
    let value = render::issue(state, &repo, &repo.issues[&number]);
    let location = value["url"].as_str().unwrap_or_default().to_string();
    Answer::json(201, value).header("location", location)
}

/// Apply `state`/`state_reason` changes (closing sets `closed_at`).
fn set_issue_state(rec: &mut IssueRec, new_state: Option<&str>, reason: Option<&str>) {
    let now = now_rfc3339();
    match new_state {
        Some("closed") if rec.state != "closed" => {
            rec.state = "closed".into();
            rec.closed_at = Some(now);
            rec.state_reason = Some(reason.unwrap_or("completed").to_string());
        }
        Some("open") if rec.state != "open" => {
            rec.state = "open".into();
            rec.closed_at = None;
            rec.state_reason = Some("reopened".into());
        }
        _ => {
            if let Some(r) = reason {
                rec.state_reason = Some(r.to_string());
            }
        }
    }
}

fn update_issue(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let number = ctx.number("issue_number");
    if !state.seeded(repo_name).issues.contains_key(&number) {
        return Answer::not_found();
    }
    let body = match body_field(ctx, "Issue") {
        Ok(body) => body,
        Err(answer) => return *answer,
    };
    let labels = ctx.field("labels").map(label_names);
    for label in labels.iter().flatten() {
        state.label_id(repo_name, label);
    }
    let assignees = ctx.field("assignees").map(|a| string_list(Some(a)));
    for a in assignees.iter().flatten() {
        state.user_id(a);
    }
    let repo = state.seeded(repo_name);
    let rec = repo.issues.get_mut(&number).expect("checked above");
    if let Some(title) = title_text(ctx.field("title")) {
        rec.title = title;
    }
    if ctx.body.is_some_and(|b| b.get("body").is_some()) {
        rec.body = body;
    }
    if let Some(labels) = labels {
        rec.labels = labels;
    }
    if let Some(assignees) = assignees {
        rec.assignees = assignees;
    }
    set_issue_state(rec, ctx.str_field("state"), ctx.str_field("state_reason"));
    rec.updated_at = now_rfc3339();
    let repo = repo.clone();
    Answer::json(200, render::issue(state, &repo, &repo.issues[&number]))
}

/// Sort issue-like records per `sort`/`direction` (GitHub defaults:
/// `created`, descending).
fn sort_issues(recs: &mut [&IssueRec], repo: &Repo, ctx: &Ctx) {
    let key = ctx.query("sort").unwrap_or("created");
    recs.sort_by(|a, b| {
        let order = match key {
            "updated" => a.updated_at.cmp(&b.updated_at),
            "comments" => {
                let count = |n: u64| repo.comments.iter().filter(|c| c.issue_number == n).count();
                count(a.number).cmp(&count(b.number))
            }
            _ => a.created_at.cmp(&b.created_at),
        };
        order.then(a.number.cmp(&b.number))
    });
    if ctx.query("direction").unwrap_or("desc") == "desc" {
        recs.reverse();
    }
}

fn list_issues(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let wanted_state = ctx.query("state").unwrap_or("open");
    let labels: Vec<&str> = ctx
        .query("labels")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let since = ctx.query("since").and_then(parse_rfc3339);
    let mut recs: Vec<&IssueRec> = repo
        .issues
        .values()
        .filter(|i| wanted_state == "all" || i.state == wanted_state)
        .filter(|i| labels.iter().all(|l| i.labels.iter().any(|have| have == l)))
        .filter(|i| {
            ctx.query("creator")
                .is_none_or(|c| i.user.eq_ignore_ascii_case(c))
        })
        .filter(|i| match ctx.query("assignee") {
            None => true,
            Some("*") => !i.assignees.is_empty(),
            Some("none") => i.assignees.is_empty(),
            Some(login) => i.assignees.iter().any(|a| a.eq_ignore_ascii_case(login)),
        })
        .filter(|i| since.is_none_or(|s| parse_rfc3339(&i.updated_at).unwrap_or(0) >= s))
        .collect();
    sort_issues(&mut recs, repo, ctx);
    let items = recs.iter().map(|r| render::issue(state, repo, r)).collect();
    paginate(state, ctx, items, state.page_size)
}

fn list_pulls(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let wanted_state = ctx.query("state").unwrap_or("open");
    // Like GitHub, `head` filters only in the `owner:branch` form; a bare
    // branch name is ignored.
    let head = ctx.query("head").and_then(|h| h.split_once(':'));
    let mut recs: Vec<&IssueRec> = repo
        .issues
        .values()
        .filter(|i| i.pull.is_some())
        .filter(|i| wanted_state == "all" || i.state == wanted_state)
        .filter(|i| {
            let pull = i.pull.as_ref().expect("filtered");
            let head_ok = head.is_none_or(|(owner, branch)| {
                let head_owner = pull.head_repo.split('/').next().unwrap_or_default();
                head_owner.eq_ignore_ascii_case(owner) && pull.head_ref == branch
            });
            head_ok && ctx.query("base").is_none_or(|b| pull.base_ref == b)
        })
        .collect();
    sort_issues(&mut recs, repo, ctx);
    let items = recs
        .iter()
        .map(|r| render::pull(state, repo, r, false))
        .collect();
    paginate(state, ctx, items, state.page_size)
}

/// The pull requests a commit belongs to: merged as it, or its head.
fn pulls_of_commit(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let sha = ctx.param("commit_sha");
    let recs: Vec<&IssueRec> = repo
        .issues
        .values()
        .filter(|i| {
            i.pull
                .as_ref()
                .is_some_and(|p| p.merge_commit_sha.as_deref() == Some(sha) || p.head_sha == sha)
        })
        .collect();
    let items = recs
        .iter()
        .map(|r| render::pull(state, repo, r, false))
        .collect();
    paginate(state, ctx, items, state.page_size)
}

/// Split a `head` of `pulls/create` into (head repository, branch).
fn head_repo(
    state: &State,
    repo: &Repo,
    head: &str,
    head_repo: Option<&str>,
) -> Option<(String, String)> {
    let (owner, branch) = match head.split_once(':') {
        Some((owner, branch)) => (owner, branch),
        None => (repo.owner.as_str(), head),
    };
    if owner.eq_ignore_ascii_case(&repo.owner) {
        return Some((repo.full_name(), branch.to_string()));
    }
    if let Some(name) = head_repo {
        return state
            .repo(&format!("{owner}/{name}"))
            .map(|r| (r.full_name(), branch.to_string()));
    }
    state
        .repos
        .values()
        .find(|r| {
            r.owner.eq_ignore_ascii_case(owner)
                && r.upstream
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&repo.full_name()))
        })
        .map(|r| (r.full_name(), branch.to_string()))
}

fn create_pull(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let repo = state.seeded(repo_name).clone();
    let base = ctx.str_field("base").unwrap_or_default().to_string();
    let head = ctx.str_field("head").unwrap_or_default().to_string();
    if ctx.field("issue").is_some() {
        return Answer::error(
            422,
            "fake GitHub does not support converting issues to pull requests",
        );
    }
    let Some(title) = ctx.str_field("title").map(str::to_string) else {
        return Answer::invalid("PullRequest", "title", "missing_field", None);
    };
    let body = match body_field(ctx, "PullRequest") {
        Ok(body) => body,
        Err(answer) => return *answer,
    };
    let Some(base_sha) = repo.branch(&base).cloned() else {
        return Answer::invalid("PullRequest", "base", "invalid", None);
    };
    let Some((head_repo_name, head_ref)) =
        head_repo(state, &repo, &head, ctx.str_field("head_repo"))
    else {
        return Answer::invalid("PullRequest", "head", "invalid", None);
    };
    let Some(head_sha) = state
        .repo(&head_repo_name)
        .and_then(|r| r.branch(&head_ref))
        .cloned()
    else {
        return Answer::invalid("PullRequest", "head", "invalid", None);
    };
    let duplicate = repo.issues.values().any(|i| {
        i.state == "open"
            && i.pull.as_ref().is_some_and(|p| {
                p.head_repo.eq_ignore_ascii_case(&head_repo_name)
                    && p.head_ref == head_ref
                    && p.base_ref == base
            })
    });
    let head_label = format!(
        "{}:{head_ref}",
        head_repo_name.split('/').next().unwrap_or_default()
    );
    if duplicate {
        let message = format!("A pull request already exists for {head_label}.");
        return Answer::invalid("PullRequest", "", "custom", Some(&message));
    }
    if state.is_ancestor(&head_sha, &base_sha) {
        let message = format!("No commits between {base} and {head}");
        return Answer::invalid("PullRequest", "", "custom", Some(&message));
    }
    let pull = PullRec {
        id: state.next_id(),
        head_repo: head_repo_name,
        head_ref,
        head_sha,
        base_ref: base,
        draft: ctx.field("draft").and_then(Value::as_bool).unwrap_or(false),
        merged_at: None,
        merge_commit_sha: None,
        maintainer_can_modify: ctx
            .field("maintainer_can_modify")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        reviews: Vec::new(),
    };
    let user = state.bot_login.clone();
    let number = state.new_issue(repo_name, &title, body, &user, Some(pull));
    let repo = state.seeded(repo_name).clone();
    let value = render::pull(state, &repo, &repo.issues[&number], true);
    let location = value["url"].as_str().unwrap_or_default().to_string();
    Answer::json(201, value).header("location", location)
}

fn update_pull(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let number = ctx.number("pull_number");
    let repo = state.seeded(repo_name).clone();
    let Some(rec) = repo.issues.get(&number).filter(|r| r.pull.is_some()) else {
        return Answer::not_found();
    };
    let body = match body_field(ctx, "PullRequest") {
        Ok(body) => body,
        Err(answer) => return *answer,
    };
    if let Some(base) = ctx.str_field("base") {
        if repo.branch(base).is_none() {
            return Answer::invalid("PullRequest", "base", "invalid", None);
        }
    }
    if ctx.str_field("state") == Some("open")
        && rec.pull.as_ref().is_some_and(|p| p.merged_at.is_some())
    {
        return Answer::error(422, "Cannot reopen a merged pull request");
    }
    let head_sha = render::pull_head_sha(state, rec);
    let repo = state.seeded(repo_name);
    let rec = repo.issues.get_mut(&number).expect("checked above");
    let pull = rec.pull.as_mut().expect("checked above");
    pull.head_sha = head_sha;
    if let Some(base) = ctx.str_field("base") {
        pull.base_ref = base.to_string();
    }
    if let Some(flag) = ctx.field("maintainer_can_modify").and_then(Value::as_bool) {
        pull.maintainer_can_modify = flag;
    }
    if let Some(title) = ctx.str_field("title") {
        rec.title = title.to_string();
    }
    if ctx.body.is_some_and(|b| b.get("body").is_some()) {
        rec.body = body;
    }
    set_issue_state(rec, ctx.str_field("state"), None);
    rec.state_reason = None;
    rec.updated_at = now_rfc3339();
    let repo = repo.clone();
    Answer::json(200, render::pull(state, &repo, &repo.issues[&number], true))
}

fn list_reviews(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let number = ctx.number("pull_number");
    let Some(pull) = repo.issues.get(&number).and_then(|r| r.pull.as_ref()) else {
        return Answer::not_found();
    };
    let items = pull
        .reviews
        .iter()
        .map(|r| render::review(state, repo, number, r))
        .collect();
    paginate(state, ctx, items, state.page_size)
}

/// Record a review on a pull request; returns its id.
pub(crate) fn add_review(
    state: &mut State,
    repo_name: &str,
    number: u64,
    user: &str,
    review_state: &str,
    body: &str,
) -> u64 {
    let id = state.next_id();
    state.user_id(user);
    let repo = state.seeded(repo_name).clone();
    let rec = repo
        .issues
        .get(&number)
        .filter(|r| r.pull.is_some())
        .unwrap_or_else(|| panic!("fake GitHub: {repo_name}#{number} is not a pull request"));
    let commit_id = render::pull_head_sha(state, rec);
    let review = Review {
        id,
        user: user.to_string(),
        state: review_state.to_string(),
        body: body.to_string(),
        commit_id,
        submitted_at: now_rfc3339(),
    };
    let pull = state
        .seeded(repo_name)
        .issues
        .get_mut(&number)
        .and_then(|r| r.pull.as_mut())
        .expect("checked above");
    pull.reviews.push(review);
    id
}

fn create_check_run(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

fn merge_upstream(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let branch = ctx.str_field("branch").unwrap_or_default().to_string();
    let repo = state.seeded(repo_name).clone();
    let Some(upstream) = repo
        .upstream
        .as_deref()
        .and_then(|u| state.repo(u))
        .cloned()
    else {
        return Answer::error(422, &format!("{repo_name} is not a fork"));
    };
    let base_branch = format!("{}:{branch}", upstream.owner);
    let Some(theirs) = upstream.branch(&branch).cloned() else {
        return Answer::error(422, &format!("Branch {branch} not found in upstream"));
    };
    let Some(ours) = repo.branch(&branch).cloned() else {
        return Answer::error(422, &format!("Branch {branch} not found"));
    };
    let answer = |message: String, merge_type: &str| {
        Answer::json(
            200,
            json!({ "message": message, "merge_type": merge_type, "base_branch": base_branch }),
        )
    };
    if state.is_ancestor(&theirs, &ours) {
        return answer(
            format!("This branch is not behind the upstream {base_branch}."),
            "none",
        );
    }
    let (new_head, merge_type) = if state.is_ancestor(&ours, &theirs) {
        (theirs, "fast-forward")
    } else {
        match state.merge_files(&ours, &theirs) {
            Ok(files) => {
                let message = format!("Merge branch '{branch}' of {}", upstream.full_name());
                (
                    state.insert_commit(vec![ours, theirs], files, &message),
                    "merge",
                )
            }
            Err(_) => return Answer::error(409, "There are merge conflicts"),
        }
    };
    let repo = state.seeded(repo_name);
    repo.refs.insert(format!("refs/heads/{branch}"), new_head);
    repo.pushed_at = now_rfc3339();
    let message = match merge_type {
        "fast-forward" => {
            format!("Successfully fetched and fast-forwarded from upstream {base_branch}.")
        }
        _ => format!("Successfully fetched and merged from upstream {base_branch}."),
    };
    answer(message, merge_type)
}

fn put_secret(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let name = ctx.param("secret_name").to_string();
    let valid_name = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.to_ascii_uppercase().starts_with("GITHUB_");
    if !valid_name {
        return Answer::invalid("Secret", "name", "invalid", Some("Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number or GITHUB_"));
    }
    let key_id = ctx.str_field("key_id").unwrap_or_default().to_string();
    let value = ctx
        .str_field("encrypted_value")
        .unwrap_or_default()
        .to_string();
    let repo = state.seeded(repo_name);
    if key_id != repo.public_key.0 {
        return Answer::invalid(
            "Secret",
            "key_id",
            "invalid",
            Some("key_id does not match the repository public key"),
        );
    }
    // A libsodium sealed box is 48 bytes longer than the plain text.
    if b64_decode(&value).is_none_or(|bytes| bytes.len() < 48) {
        return Answer::invalid(
            "Secret",
            "encrypted_value",
            "invalid",
            Some("encrypted_value is not a sealed box"),
        );
    }
    let now = now_rfc3339();
    match repo.secrets.get_mut(&name) {
        Some(existing) => {
            existing.encrypted_value = value;
            existing.key_id = key_id;
            existing.updated_at = now;
            Answer::no_content()
        }
        None => {
            repo.secrets.insert(
                name,
                SecretRec {
                    encrypted_value: value,
                    key_id,
                    created_at: now.clone(),
                    updated_at: now,
                },
            );
            Answer::json(201, json!({}))
        }
    }
}

/// `pulls/list-files`: the files that differ between the base branch and
/// the head (`diff-entry`), paginated.
fn list_pull_files(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let Some(rec) = repo.issues.get(&ctx.number("pull_number")) else {
        return Answer::not_found();
    };
    let Some(pull) = rec.pull.as_ref() else {
        return Answer::not_found();
    };
    let empty = BTreeMap::new();
    let files_of = |sha: &str| state.commits.get(sha).map(|c| &c.files).unwrap_or(&empty);
    let head_sha = render::pull_head_sha(state, rec);
    let base_sha = repo.branch(&pull.base_ref).cloned().unwrap_or_default();
    let (base, head) = (files_of(&base_sha), files_of(&head_sha));
    let api = render::repo_api(state, repo);
    let mut items = Vec::new();
    let paths: std::collections::BTreeSet<&String> = base.keys().chain(head.keys()).collect();
    for path in paths {
        let (old, new) = (base.get(path), head.get(path));
        if old == new {
            continue;
        }
        let status = match (old, new) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "modified",
        };
        let lines = |b: Option<&Vec<u8>>| b.map_or(0, |b| b.split(|c| *c == b'\n').count());
        items.push(json!({
            "sha": super::util::blob_sha(new.or(old).map(Vec::as_slice).unwrap_or_default()),
            "filename": path,
            "status": status,
            "additions": lines(new),
            "deletions": lines(old),
            "changes": lines(new) + lines(old),
            "blob_url": format!("{}/blob/{head_sha}/{path}", state.web_url),
            "raw_url": format!("{}/raw/{head_sha}/{path}", state.web_url),
            "contents_url": format!("{api}/contents/{path}?ref={head_sha}"),
        }));
    }
    paginate(state, ctx, items, 30)
}

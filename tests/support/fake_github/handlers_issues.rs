//! The fake GitHub's handlers for issues, pull requests, their comments,
//! reviews and files (routed by `handlers::handle`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::render;
use super::state::{IssueRec, PullRec, Repo, State};
use super::util::{now_rfc3339, parse_rfc3339};
use super::{Comment, Review};

use super::handlers::{paginate, Answer, Ctx};

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

pub(crate) fn list_comments(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

pub(crate) fn create_comment(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn update_comment(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn create_issue(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn update_issue(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn list_issues(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

pub(crate) fn list_pulls(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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
pub(crate) fn pulls_of_commit(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

pub(crate) fn create_pull(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn update_pull(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn list_reviews(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

/// `pulls/list-files`: the files that differ between the base branch and
/// the head (`diff-entry`), paginated.
pub(crate) fn list_pull_files(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

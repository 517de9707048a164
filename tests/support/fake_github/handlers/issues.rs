//! The fake GitHub's issues (`src/github/issues.rs`).

use serde_json::Value;

use super::super::render;
use super::super::state::{IssueRec, Repo, State};
use super::super::util::{now_rfc3339, parse_rfc3339};
use super::{body_field, paginate, Answer, Ctx};

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
pub(super) fn set_issue_state(rec: &mut IssueRec, new_state: Option<&str>, reason: Option<&str>) {
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
pub(super) fn sort_issues(recs: &mut [&IssueRec], repo: &Repo, ctx: &Ctx) {
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

pub(crate) fn get_issue(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    match repo.issues.get(&ctx.number("issue_number")) {
        Some(rec) => Answer::json(200, render::issue(state, repo, rec)),
        None => Answer::not_found(),
    }
}

//! The fake GitHub's pull requests, their reviews and files
//! (`src/github/pulls.rs`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::render;
use super::super::state::{IssueRec, PullRec, Repo, State};
use super::super::util::now_rfc3339;
use super::super::Review;
use super::issues::set_issue_state;
use super::issues::sort_issues;
use super::{body_field, paginate, Answer, Ctx};

pub(crate) fn get_pull(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    match repo.issues.get(&ctx.number("pull_number")) {
        Some(rec) if rec.pull.is_some() => Answer::json(200, render::pull(state, repo, rec, true)),
        _ => Answer::not_found(),
    }
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
            "sha": super::super::util::blob_sha(new.or(old).map(Vec::as_slice).unwrap_or_default()),
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

//! The fake GitHub's issue and pull request comments
//! (`src/github/comments.rs`).

use super::super::render;
use super::super::state::{Repo, State};
use super::super::util::{now_rfc3339, parse_rfc3339};
use super::super::Comment;
use super::{body_field, paginate, Answer, Ctx};

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

/// `DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}`.
pub(crate) fn delete_comment(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let id = ctx.number("comment_id");
    let repo = state.seeded(repo_name);
    let before = repo.comments.len();
    repo.comments.retain(|c| c.id != id);
    if repo.comments.len() == before {
        Answer::not_found()
    } else {
        Answer::no_content()
    }
}

//! The fake GitHub's git data of a repository: branches, refs, commits
//! and merge-upstream (`src/github/git.rs`).

use serde_json::{json, Value};

use super::super::render;
use super::super::state::{Repo, State};
use super::super::util::{is_full_sha, now_rfc3339};
use super::{Answer, Ctx};

pub(crate) fn get_branch(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let name = ctx.param("branch");
    match repo.branch(name).and_then(|sha| state.commits.get(sha)) {
        Some(c) => Answer::json(200, render::branch(state, repo, name, c)),
        None => Answer::error(404, "Branch not found"),
    }
}

pub(crate) fn get_ref(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let full = format!("refs/{}", ctx.param("ref"));
    match repo.refs.get(&full) {
        Some(sha) => Answer::json(200, render::git_ref(state, repo, &full, sha)),
        None => Answer::not_found(),
    }
}

pub(crate) fn create_ref(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn update_ref(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

/// `GET /repos/{owner}/{repo}/commits/{ref}` (`HEAD` is the default branch).
pub(crate) fn get_commit(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

pub(crate) fn merge_upstream(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

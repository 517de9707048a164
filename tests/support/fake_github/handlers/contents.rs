//! The fake GitHub's contents: a file read and written
//! (`src/github/contents.rs`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::render;
use super::super::state::{Repo, State};
use super::super::util::{b64_decode, now_rfc3339};
use super::{Answer, Ctx};

pub(crate) fn get_content(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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
                let tree = super::super::util::object_id(&[sha.as_bytes(), dir_path.as_bytes()]);
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

pub(crate) fn put_content(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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
    let existing = files.get(&path).map(|b| super::super::util::blob_sha(b));
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

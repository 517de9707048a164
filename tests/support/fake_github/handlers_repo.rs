//! The fake GitHub's handlers for a repository's refs, contents,
//! dispatches, statuses, deployments, check runs, merge-upstream and Actions
//! secrets (routed by `handlers::handle`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::render;
use super::state::{Repo, SecretRec, State};
use super::util::{b64_decode, is_full_sha, now_rfc3339};
use super::{Deployment, Status};

use super::handlers::{paginate, Answer, Ctx};

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

pub(crate) fn dispatch(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn create_status(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn combined_status(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let reference = ctx.param("ref");
    match state.resolve(repo, reference) {
        Some(sha) => Answer::json(200, render::combined_status(state, repo, &sha)),
        None => Answer::error(404, &format!("No commit found for SHA: {reference}")),
    }
}

pub(crate) fn list_statuses(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
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

pub(crate) fn create_check_run(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

pub(crate) fn put_secret(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
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

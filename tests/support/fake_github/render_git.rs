//! The fake GitHub's answers for contents, refs, commits and branches, in
//! GitHub's JSON shapes (re-exported by `render`).

use serde_json::{json, Value};

use super::state::{Commit, Repo, State};
use super::util::{b64_wrapped, blob_sha, node_id, percent_encode_query};

use super::render::{repo_api, repo_html};

fn content_links(
    state: &State,
    repo: &Repo,
    path: &str,
    reference: &str,
    kind: &str,
    sha: &str,
) -> Value {
    let api = repo_api(state, repo);
    let git_kind = if kind == "dir" { "trees" } else { "blobs" };
    json!({
        "self": format!("{api}/contents/{path}?ref={}", percent_encode_query(reference)),
        "git": format!("{api}/git/{git_kind}/{sha}"),
        "html": format!("{}/{}/{}/{path}", repo_html(state, repo), if kind == "dir" { "tree" } else { "blob" }, reference),
    })
}

/// A `content-file` object; with `with_content` false, the shape used in
/// directory listings and `file-commit` responses.
pub(crate) fn content_file(
    state: &State,
    repo: &Repo,
    path: &str,
    bytes: &[u8],
    reference: &str,
    with_content: bool,
) -> Value {
    let sha = blob_sha(bytes);
    let links = content_links(state, repo, path, reference, "file", &sha);
    let mut value = json!({
        "type": "file",
        "size": bytes.len(),
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": sha,
        "url": links["self"],
        "git_url": links["git"],
        "html_url": links["html"],
        "download_url": format!("{}/raw/{}/{}/{reference}/{path}", state.web_url, repo.owner, repo.name),
        "_links": links,
    });
    if with_content {
        value["content"] = json!(b64_wrapped(bytes));
        value["encoding"] = json!("base64");
    }
    value
}

pub(crate) fn content_dir_entry(
    state: &State,
    repo: &Repo,
    path: &str,
    reference: &str,
    tree_sha: &str,
) -> Value {
    let links = content_links(state, repo, path, reference, "dir", tree_sha);
    json!({
        "type": "dir",
        "size": 0,
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": tree_sha,
        "url": links["self"],
        "git_url": links["git"],
        "html_url": links["html"],
        "download_url": null,
        "_links": links,
    })
}

pub(crate) fn git_ref(state: &State, repo: &Repo, full_ref: &str, sha: &str) -> Value {
    let api = repo_api(state, repo);
    json!({
        "ref": full_ref,
        "node_id": node_id("Ref", format!("{}:{full_ref}", repo.id)),
        "url": format!("{api}/git/{full_ref}"),
        "object": { "type": "commit", "sha": sha, "url": format!("{api}/git/commits/{sha}") },
    })
}

fn git_person(state: &State, date: &str) -> Value {
    json!({
        "name": state.bot_login,
        "email": format!("{}@users.noreply.github.com", state.bot_login),
        "date": date,
    })
}

fn verification() -> Value {
    json!({ "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null })
}

/// `commit` schema (as in `repos/get-branch`).
pub(crate) fn commit(state: &State, repo: &Repo, c: &Commit) -> Value {
    let api = repo_api(state, repo);
    let html = repo_html(state, repo);
    json!({
        "url": format!("{api}/commits/{}", c.sha),
        "sha": c.sha,
        "node_id": node_id("Commit", &c.sha),
        "html_url": format!("{html}/commit/{}", c.sha),
        "comments_url": format!("{api}/commits/{}/comments", c.sha),
        "commit": {
            "url": format!("{api}/git/commits/{}", c.sha),
            "author": git_person(state, &c.date),
            "committer": git_person(state, &c.date),
            "message": c.message,
            "comment_count": 0,
            "tree": { "sha": c.tree_sha, "url": format!("{api}/git/trees/{}", c.tree_sha) },
            "verification": verification(),
        },
        "author": null,
        "committer": null,
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{api}/commits/{p}"),
            "html_url": format!("{html}/commit/{p}"),
        })).collect::<Vec<_>>(),
    })
}

/// The `commit` half of a `file-commit` response (a Git commit object).
pub(crate) fn git_commit(state: &State, repo: &Repo, c: &Commit) -> Value {
    let api = repo_api(state, repo);
    let html = repo_html(state, repo);
    json!({
        "sha": c.sha,
        "node_id": node_id("Commit", &c.sha),
        "url": format!("{api}/git/commits/{}", c.sha),
        "html_url": format!("{html}/commit/{}", c.sha),
        "author": git_person(state, &c.date),
        "committer": git_person(state, &c.date),
        "message": c.message,
        "tree": { "sha": c.tree_sha, "url": format!("{api}/git/trees/{}", c.tree_sha) },
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{api}/git/commits/{p}"),
            "html_url": format!("{html}/commit/{p}"),
        })).collect::<Vec<_>>(),
        "verification": verification(),
    })
}

pub(crate) fn branch(state: &State, repo: &Repo, name: &str, c: &Commit) -> Value {
    let api = repo_api(state, repo);
    json!({
        "name": name,
        "commit": commit(state, repo, c),
        "_links": {
            "self": format!("{api}/branches/{name}"),
            "html": format!("{}/tree/{name}", repo_html(state, repo)),
        },
        "protected": false,
        "protection": {
            "enabled": false,
            "required_status_checks": {
                "enforcement_level": "off",
                "contexts": [],
                "checks": [],
            },
        },
        "protection_url": format!("{api}/branches/{name}/protection"),
    })
}

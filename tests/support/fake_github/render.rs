//! JSON representations of the fake's objects, shaped like GitHub's responses
//! (every field the OpenAPI description marks required, and what octocrab's
//! models need).

use serde_json::{json, Value};

use super::state::{IssueRec, Repo, State};
use super::util::{node_id, percent_encode_query};
use super::{Comment, Review, Status};

// The git and contents answers live in `render_git`; callers keep `render::`.
pub(crate) use super::render_git::{
    branch, commit, content_dir_entry, content_file, git_commit, git_ref,
};

const DOCS: &str = "https://docs.github.com/rest";

/// GitHub's error body.
pub(crate) fn error(message: &str, status: u16) -> Value {
    json!({ "message": message, "documentation_url": DOCS, "status": status.to_string() })
}

/// GitHub's "Validation Failed" body with one error entry.
pub(crate) fn validation_failed(
    resource: &str,
    field: &str,
    code: &str,
    message: Option<&str>,
) -> Value {
    let mut entry = json!({ "resource": resource, "field": field, "code": code });
    if let Some(m) = message {
        entry["message"] = json!(m);
    }
    json!({
        "message": "Validation Failed",
        "errors": [entry],
        "documentation_url": DOCS,
        "status": "422",
    })
}

pub(crate) fn user(state: &State, login: &str) -> Value {
    let id = state.users.get(login).copied().unwrap_or(1);
    let api = &state.api_url;
    let escaped = percent_encode_query(login);
    let url = format!("{api}/users/{escaped}");
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    let html_url = match login.strip_suffix("[bot]") {
        Some(app) => format!("{}/apps/{app}", state.web_url),
        None => format!("{}/{escaped}", state.web_url),
    };
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(kind, id),
        "avatar_url": format!("{}/avatars/u/{id}?v=4", state.web_url),
        "gravatar_id": "",
        "url": url,
        "html_url": html_url,
        "followers_url": format!("{url}/followers"),
        "following_url": format!("{url}/following{{/other_user}}"),
        "gists_url": format!("{url}/gists{{/gist_id}}"),
        "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{url}/subscriptions"),
        "organizations_url": format!("{url}/orgs"),
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events{{/privacy}}"),
        "received_events_url": format!("{url}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

pub(crate) fn repo_api(state: &State, repo: &Repo) -> String {
    format!("{}/repos/{}/{}", state.api_url, repo.owner, repo.name)
}

pub(crate) fn repo_html(state: &State, repo: &Repo) -> String {
    format!("{}/{}/{}", state.web_url, repo.owner, repo.name)
}

/// A repository, satisfying the `full-repository`, `repository` and
/// `minimal-repository` schemas at once.
pub(crate) fn repository(state: &State, repo: &Repo) -> Value {
    let api = repo_api(state, repo);
    let html = repo_html(state, repo);
    let open_issues = repo.issues.values().filter(|i| i.state == "open").count();
    let host = state.web_url.trim_start_matches("http://");
    let full_name = repo.full_name();
    let mut value = json!({
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": full_name,
        "owner": user(state, &repo.owner),
        "private": repo.private,
        "html_url": html,
        "description": null,
        "fork": repo.upstream.is_some(),
        "url": api,
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "contributors_url": format!("{api}/contributors"),
        "deployments_url": format!("{api}/deployments"),
        "downloads_url": format!("{api}/downloads"),
        "events_url": format!("{api}/events"),
        "forks_url": format!("{api}/forks"),
    });
    let urls = json!({
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "git_url": format!("git://{host}/{full_name}.git"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "languages_url": format!("{api}/languages"),
        "merges_url": format!("{api}/merges"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "ssh_url": format!("git@{host}:{full_name}.git"),
        "stargazers_url": format!("{api}/stargazers"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
        "tags_url": format!("{api}/tags"),
        "teams_url": format!("{api}/teams"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
    });
    // Split up: one `json!` this large exceeds the macro recursion limit.
    let rest = json!({
        "clone_url": format!("{html}.git"),
        "mirror_url": null,
        "hooks_url": format!("{api}/hooks"),
        "svn_url": html,
        "homepage": null,
        "language": "HCL",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 1,
        "default_branch": repo.default_branch,
        "open_issues_count": open_issues,
        "open_issues": open_issues,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": repo.archived,
        "disabled": false,
        "visibility": if repo.private { "private" } else { "public" },
        "pushed_at": repo.pushed_at,
        "created_at": repo.created_at,
        "updated_at": repo.pushed_at,
        "permissions": {
            "admin": !state.not_admin.contains(&super::state::repo_key(&repo.full_name())),
            "maintain": true, "push": true, "triage": true, "pull": true
        },
        "allow_rebase_merge": true,
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "allow_update_branch": false,
        "allow_forking": true,
        "web_commit_signoff_required": false,
        "license": null,
        "network_count": 0,
        "subscribers_count": 0,
    });
    if let (Some(v), Some(u), Some(r)) = (value.as_object_mut(), urls.as_object(), rest.as_object())
    {
        v.extend(u.clone());
        v.extend(r.clone());
        let scanning = repo.settings.secret_scanning;
        if let Some(sa) =
            super::settings_write::security_and_analysis(state, &repo.full_name(), scanning)
        {
            v.insert("security_and_analysis".into(), sa);
        }
    }
    if let Some(parent) = repo.upstream.as_deref().and_then(|u| state.repo(u)) {
        let mut parent_json = repository(state, parent);
        if let Some(obj) = parent_json.as_object_mut() {
            obj.remove("parent");
            obj.remove("source");
        }
        value["parent"] = parent_json.clone();
        value["source"] = parent_json;
    }
    value
}

pub(crate) fn label(state: &State, repo: &Repo, name: &str) -> Value {
    let id = repo.labels.get(name).copied().unwrap_or(0);
    json!({
        "id": id,
        "node_id": node_id("Label", id),
        "url": format!("{}/labels/{}", repo_api(state, repo), percent_encode_query(name)),
        "name": name,
        "description": "",
        "color": "ededed",
        "default": false,
    })
}

pub(crate) fn comment_count(repo: &Repo, number: u64) -> usize {
    repo.comments
        .iter()
        .filter(|c| c.issue_number == number)
        .count()
}

/// `issue` schema; pull requests carry a `pull_request` object, as on GitHub.
pub(crate) fn issue(state: &State, repo: &Repo, rec: &IssueRec) -> Value {
    let api = repo_api(state, repo);
    let url = format!("{api}/issues/{}", rec.number);
    let html = format!("{}/issues/{}", repo_html(state, repo), rec.number);
    let assignees: Vec<Value> = rec.assignees.iter().map(|a| user(state, a)).collect();
    let mut value = json!({
        "id": rec.id,
        "node_id": node_id("Issue", rec.id),
        "url": url,
        "repository_url": api,
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "timeline_url": format!("{url}/timeline"),
        "html_url": html,
        "number": rec.number,
        "state": rec.state,
        "state_reason": rec.state_reason,
        "title": rec.title,
        "body": rec.body,
        "user": user(state, &rec.user),
        "labels": rec.labels.iter().map(|l| label(state, repo, l)).collect::<Vec<_>>(),
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees,
        "milestone": null,
        "locked": rec.locked,
        "active_lock_reason": null,
        "comments": comment_count(repo, rec.number),
        "closed_at": rec.closed_at,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "closed_by": null,
        "author_association": author_association(repo, &rec.user),
    });
    if let Some(pull) = &rec.pull {
        let html = format!("{}/pull/{}", repo_html(state, repo), rec.number);
        value["pull_request"] = json!({
            "url": format!("{api}/pulls/{}", rec.number),
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "merged_at": pull.merged_at,
        });
        value["draft"] = json!(pull.draft);
    }
    value
}

fn author_association(repo: &Repo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&repo.owner) {
        "OWNER"
    } else {
        "COLLABORATOR"
    }
}

/// Current head SHA of a pull request: its branch head, or the last known.
pub(crate) fn pull_head_sha(state: &State, rec: &IssueRec) -> String {
    let pull = rec.pull.as_ref().expect("a pull request");
    if pull.merged_at.is_some() || rec.state == "closed" {
        return pull.head_sha.clone();
    }
    state
        .repo(&pull.head_repo)
        .and_then(|r| r.branch(&pull.head_ref))
        .cloned()
        .unwrap_or_else(|| pull.head_sha.clone())
}

fn pull_side(state: &State, repo: &Repo, branch: &str, sha: String) -> Value {
    json!({
        "label": format!("{}:{branch}", repo.owner),
        "ref": branch,
        "sha": sha,
        "user": user(state, &repo.owner),
        "repo": repository(state, repo),
    })
}

/// The head of a pull request whose head repository was deleted: GitHub
/// answers `repo: null` (github/rest-api-description#161, #1811; the
/// description still marks it required, see `spec::GITHUB_NULLS`).
fn gone_side(state: &State, full_name: &str, branch: &str, sha: String) -> Value {
    let owner = full_name.split('/').next().unwrap_or_default();
    json!({
        "label": format!("{owner}:{branch}"),
        "ref": branch,
        "sha": sha,
        "user": user(state, owner),
        "repo": null,
    })
}

/// `pull-request` schema (`full` adds the counters of `pulls/get`), or
/// `pull-request-simple` as in lists.
pub(crate) fn pull(state: &State, repo: &Repo, rec: &IssueRec, full: bool) -> Value {
    let pull = rec.pull.as_ref().expect("a pull request");
    let api = repo_api(state, repo);
    let url = format!("{api}/pulls/{}", rec.number);
    let issue_url = format!("{api}/issues/{}", rec.number);
    let html = format!("{}/pull/{}", repo_html(state, repo), rec.number);
    let head_sha = pull_head_sha(state, rec);
    let head = match state.repo(&pull.head_repo) {
        Some(h) => pull_side(state, h, &pull.head_ref, head_sha.clone()),
        None => gone_side(state, &pull.head_repo, &pull.head_ref, head_sha.clone()),
    };
    let base_sha = repo.branch(&pull.base_ref).cloned().unwrap_or_default();
    let assignees: Vec<Value> = rec.assignees.iter().map(|a| user(state, a)).collect();
    let link = |href: String| json!({ "href": href });
    let links = json!({
        "self": link(url.clone()),
        "html": link(html.clone()),
        "issue": link(issue_url.clone()),
        "comments": link(format!("{issue_url}/comments")),
        "review_comments": link(format!("{url}/comments")),
        "review_comment": link(format!("{api}/pulls/comments{{/number}}")),
        "commits": link(format!("{url}/commits")),
        "statuses": link(format!("{api}/statuses/{head_sha}")),
    });
    let mut value = json!({
        "url": url,
        "id": pull.id,
        "node_id": node_id("PullRequest", pull.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_url,
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue_url}/comments"),
        "statuses_url": format!("{api}/statuses/{head_sha}"),
        "number": rec.number,
        "state": rec.state,
        "locked": rec.locked,
        "title": rec.title,
        "user": user(state, &rec.user),
        "body": rec.body,
        "labels": rec.labels.iter().map(|l| label(state, repo, l)).collect::<Vec<_>>(),
        "milestone": null,
        "active_lock_reason": null,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "closed_at": rec.closed_at,
        "merged_at": pull.merged_at,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees,
        "requested_reviewers": [],
        "requested_teams": [],
        "head": head,
        "base": pull_side(state, repo, &pull.base_ref, base_sha),
        "_links": links,
        "author_association": author_association(repo, &rec.user),
        "auto_merge": null,
        "draft": pull.draft,
    });
    if full {
        let merged = pull.merged_at.is_some();
        let (files, additions, deletions) = diff_stats(state, repo, rec);
        let extra = json!({
            "merged": merged,
            "mergeable": if merged { Value::Null } else { json!(true) },
            "rebaseable": if merged { Value::Null } else { json!(true) },
            "mergeable_state": if merged { "unknown" } else if pull.draft { "draft" } else { "clean" },
            "merged_by": if merged { user(state, &state.bot_login) } else { Value::Null },
            "comments": comment_count(repo, rec.number),
            "review_comments": 0,
            "maintainer_can_modify": pull.maintainer_can_modify,
            "commits": commits_between(state, repo, rec),
            "additions": additions,
            "deletions": deletions,
            "changed_files": files,
        });
        if let (Some(v), Some(e)) = (value.as_object_mut(), extra.as_object()) {
            v.extend(e.clone());
        }
    }
    value
}

fn commits_between(state: &State, repo: &Repo, rec: &IssueRec) -> usize {
    let pull = rec.pull.as_ref().expect("a pull request");
    let base = repo.branch(&pull.base_ref).cloned().unwrap_or_default();
    let mut count = 0;
    let mut sha = pull_head_sha(state, rec);
    while !state.is_ancestor(&sha, &base) && count < 10_000 {
        count += 1;
        match state.commits.get(&sha).and_then(|c| c.parents.first()) {
            Some(parent) => sha = parent.clone(),
            None => break,
        }
    }
    count
}

/// (changed files, added lines, deleted lines) between base and head.
fn diff_stats(state: &State, repo: &Repo, rec: &IssueRec) -> (usize, usize, usize) {
    let pull = rec.pull.as_ref().expect("a pull request");
    let empty = Default::default();
    let files_of = |sha: &str| state.commits.get(sha).map(|c| &c.files).unwrap_or(&empty);
    let base_sha = repo.branch(&pull.base_ref).cloned().unwrap_or_default();
    let (base, head) = (files_of(&base_sha), files_of(&pull_head_sha(state, rec)));
    let lines = |b: Option<&Vec<u8>>| b.map_or(0, |b| b.split(|c| *c == b'\n').count());
    let (mut changed, mut added, mut deleted) = (0, 0, 0);
    for path in base
        .keys()
        .chain(head.keys().filter(|p| !base.contains_key(*p)))
    {
        let (old, new) = (base.get(path), head.get(path));
        if old != new {
            changed += 1;
            added += lines(new);
            deleted += lines(old);
        }
    }
    (changed, added, deleted)
}

pub(crate) fn comment(state: &State, repo: &Repo, c: &Comment) -> Value {
    let api = repo_api(state, repo);
    let kind = match repo.issues.get(&c.issue_number) {
        Some(rec) if rec.pull.is_some() => "pull",
        _ => "issues",
    };
    json!({
        "id": c.id,
        "node_id": node_id("IssueComment", c.id),
        "url": format!("{api}/issues/comments/{}", c.id),
        "html_url": format!("{}/{kind}/{}#issuecomment-{}", repo_html(state, repo), c.issue_number, c.id),
        "body": c.body,
        "user": user(state, &c.user),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "issue_url": format!("{api}/issues/{}", c.issue_number),
        "author_association": author_association(repo, &c.user),
        "performed_via_github_app": null,
        "reactions": {
            "url": format!("{api}/issues/comments/{}/reactions", c.id),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "confused": 0,
            "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0,
        },
    })
}

/// `status` schema (`full`), or `simple-commit-status` as in combined status.
pub(crate) fn status(state: &State, repo: &Repo, s: &Status, full: bool) -> Value {
    let mut value = json!({
        "url": format!("{}/statuses/{}", repo_api(state, repo), s.sha),
        "avatar_url": format!("{}/avatars/u/{}?v=4", state.web_url, state.users.get(&s.creator).copied().unwrap_or(1)),
        "id": s.id,
        "node_id": node_id("StatusContext", s.id),
        "state": s.state,
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": s.created_at,
        "updated_at": s.created_at,
    });
    if full {
        value["creator"] = user(state, &s.creator);
    } else {
        value["required"] = json!(false);
    }
    value
}

/// A deployment as GitHub answers it.
pub(crate) fn deployment(state: &State, repo: &Repo, d: &super::Deployment) -> Value {
    let url = format!("{}/deployments/{}", repo_api(state, repo), d.id);
    json!({
        "url": url,
        "id": d.id,
        "node_id": node_id("Deployment", d.id),
        "sha": d.sha,
        "ref": d.git_ref,
        "task": "deploy",
        "payload": d.payload,
        "original_environment": d.environment,
        "environment": d.environment,
        "description": d.description,
        "creator": user(state, &d.creator),
        "created_at": d.created_at,
        "updated_at": d.created_at,
        "statuses_url": format!("{url}/statuses"),
        "repository_url": repo_api(state, repo),
        "transient_environment": false,
        "production_environment": d.production,
    })
}

/// A deployment status as GitHub answers it.
pub(crate) fn deployment_status(
    state: &State,
    repo: &Repo,
    d: &super::Deployment,
    id: u64,
    entry: &(String, Option<String>, Option<String>),
    creator: &str,
) -> Value {
    let url = format!("{}/deployments/{}", repo_api(state, repo), d.id);
    json!({
        "url": format!("{url}/statuses/{id}"),
        "id": id,
        "node_id": node_id("DeploymentStatus", id),
        "state": entry.0,
        "creator": user(state, creator),
        "description": entry.1.clone().unwrap_or_default(),
        "environment": d.environment,
        "target_url": entry.2.clone().unwrap_or_default(),
        "log_url": entry.2.clone().unwrap_or_default(),
        "created_at": super::util::now_rfc3339(),
        "updated_at": super::util::now_rfc3339(),
        "deployment_url": url,
        "repository_url": repo_api(state, repo),
    })
}

/// Latest status per context, most recent first.
pub(crate) fn latest_statuses<'a>(repo: &'a Repo, sha: &str) -> Vec<&'a Status> {
    let mut latest: Vec<&Status> = Vec::new();
    for s in repo.statuses.iter().rev().filter(|s| s.sha == sha) {
        if !latest.iter().any(|l| l.context == s.context) {
            latest.push(s);
        }
    }
    latest
}

/// GitHub's combined state: `failure` if any latest status is `error` or
/// `failure`, else `pending` if any is pending or there are none, else `success`.
pub(crate) fn combine(states: &[&str]) -> &'static str {
    if states.iter().any(|s| *s == "error" || *s == "failure") {
        "failure"
    } else if states.is_empty() || states.contains(&"pending") {
        "pending"
    } else {
        "success"
    }
}

pub(crate) fn combined_status(state: &State, repo: &Repo, sha: &str) -> Value {
    let latest = latest_statuses(repo, sha);
    let states: Vec<&str> = latest.iter().map(|s| s.state.as_str()).collect();
    let api = repo_api(state, repo);
    json!({
        "state": combine(&states),
        "statuses": latest.iter().map(|s| status(state, repo, s, false)).collect::<Vec<_>>(),
        "sha": sha,
        "total_count": latest.len(),
        "repository": repository(state, repo),
        "commit_url": format!("{api}/commits/{sha}"),
        "url": format!("{api}/commits/{sha}/status"),
    })
}

pub(crate) fn review(state: &State, repo: &Repo, number: u64, r: &Review) -> Value {
    let api = repo_api(state, repo);
    let html = format!(
        "{}/pull/{number}#pullrequestreview-{}",
        repo_html(state, repo),
        r.id
    );
    json!({
        "id": r.id,
        "node_id": node_id("PullRequestReview", r.id),
        "user": user(state, &r.user),
        "body": r.body,
        "state": r.state,
        "html_url": html,
        "pull_request_url": format!("{api}/pulls/{number}"),
        "_links": {
            "html": { "href": html },
            "pull_request": { "href": format!("{api}/pulls/{number}") },
        },
        "submitted_at": r.submitted_at,
        "commit_id": r.commit_id,
        "author_association": author_association(repo, &r.user),
    })
}

/// `check-run` schema for a run created from `body` (a `checks/create` request).
pub(crate) fn check_run(state: &State, repo: &Repo, id: u64, body: &Value, now: &str) -> Value {
    let api = repo_api(state, repo);
    let conclusion = body.get("conclusion").cloned().unwrap_or(Value::Null);
    let status = if !conclusion.is_null() {
        json!("completed")
    } else {
        body.get("status").cloned().unwrap_or(json!("queued"))
    };
    let started_at = body.get("started_at").cloned().unwrap_or(json!(now));
    let completed_at = match body.get("completed_at") {
        Some(v) => v.clone(),
        None if status == "completed" => json!(now),
        None => Value::Null,
    };
    let output = body.get("output");
    let text = |key: &str| {
        output
            .and_then(|o| o.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let annotations = output
        .and_then(|o| o.get("annotations"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    json!({
        "id": id,
        "head_sha": body["head_sha"],
        "node_id": node_id("CheckRun", id),
        "external_id": body.get("external_id").cloned().unwrap_or(json!("")),
        "url": format!("{api}/check-runs/{id}"),
        "html_url": format!("{}/runs/{id}", repo_html(state, repo)),
        "details_url": body.get("details_url").cloned().unwrap_or(Value::Null),
        "status": status,
        "conclusion": conclusion,
        "started_at": started_at,
        "completed_at": completed_at,
        "output": {
            "title": text("title"),
            "summary": text("summary"),
            "text": text("text"),
            "annotations_count": annotations,
            "annotations_url": format!("{api}/check-runs/{id}/annotations"),
        },
        "name": body["name"],
        "check_suite": { "id": id + 1 },
        "app": null,
        "pull_requests": [],
    })
}

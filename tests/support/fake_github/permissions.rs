//! The App permission each endpoint needs, and the check every request made
//! with an installation token passes, as github.com makes it: "An
//! installation access token ... has the permissions you specified" and a
//! request outside them is answered `403 Resource not accessible by
//! integration` ("Generating an installation access token for a GitHub
//! App"; "Permissions required for GitHub Apps",
//! <https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps>).
//!
//! The table is `tests/fixtures/github/app-permissions.json`: for each
//! operation the fake serves, every (permission, access) the npm package
//! `@octokit/app-permissions` 2.1.0 (MIT) lists it under; any one of them
//! suffices (issue comments are under both Issues and Pull requests). Where
//! that map lacks an endpoint, [`FROM_DOCS`] gives it from the endpoint's
//! own page, with its URL. Every installation token has `metadata: read`
//! (the permissions page: "Metadata ... is granted to every App").
//! Write access includes read.

use std::sync::LazyLock;

use serde_json::Value;

/// Any one of these `(permission, access)` pairs lets a token call an
/// endpoint.
type Alternatives = &'static [(&'static str, &'static str)];

/// Alternatives GitHub's pages name beside the map's for an endpoint the
/// map knows (where the docs say more, the docs win):
/// `(endpoint, more alternatives, the page)`.
const DOCS_ADD: &[(&str, Alternatives, &str)] = &[
    // The map has only the retired "Single file" permission; "Permissions
    // required for GitHub Apps" lists these under "Contents" (write).
    (
        "PUT /repos/{owner}/{repo}/contents/{path}",
        &[("contents", "write")],
        "https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps#repository-permissions-for-contents",
    ),
    (
        "DELETE /repos/{owner}/{repo}/contents/{path}",
        &[("contents", "write")],
        "https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps#repository-permissions-for-contents",
    ),
];

/// A write of a file under `.github/workflows/` also needs Workflows
/// (write): the OpenAPI description of "Create or update file contents"
/// ("The `workflow` scope is also required in order to modify files in the
/// `.github/workflows` directory") and "Permissions required for GitHub
/// Apps", "Workflows". `Err` says what the token lacks.
pub(crate) fn check_path(granted: &Value, method: &str, path: &str) -> Result<(), String> {
    let write = matches!(method.to_ascii_uppercase().as_str(), "PUT" | "DELETE");
    let Some(rest) = path.split("/contents/").nth(1) else {
        return Ok(());
    };
    let file = percent_decoded(rest);
    if !write || !path.starts_with("/repos/") || !file.starts_with(".github/workflows/") {
        return Ok(());
    }
    if rank(granted["workflows"].as_str().unwrap_or("")) >= rank("write") {
        return Ok(());
    }
    Err(format!(
        "an installation token with permissions {granted} wrote {file}, a workflow file, which needs workflows: write; GitHub answers 403 Resource not accessible by integration"
    ))
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(endpoint, its alternatives, the page that says it)` for the endpoints
/// `@octokit/app-permissions` does not map.
const FROM_DOCS: &[(&str, Alternatives, &str)] = &[
    (
        "GET /orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}",
        &[("members", "read")],
        "https://docs.github.com/en/rest/teams/teams#check-team-permissions-for-a-repository",
    ),
    (
        "GET /orgs/{org}/teams/{team_slug}/memberships/{username}",
        &[("members", "read")],
        "https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user",
    ),
    (
        "GET /repos/{owner}/{repo}/actions/permissions/workflow",
        &[("administration", "read")],
        "https://docs.github.com/en/rest/actions/permissions#get-default-workflow-permissions-for-a-repository",
    ),
    (
        "GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals",
        &[("actions", "read")],
        "https://docs.github.com/en/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run",
    ),
    (
        "GET /repos/{owner}/{repo}/actions/variables",
        &[("actions_variables", "read")],
        "https://docs.github.com/en/rest/actions/variables#list-repository-variables",
    ),
    (
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
        &[("metadata", "read")],
        "https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user",
    ),
    (
        "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls",
        &[("pull_requests", "read")],
        "https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit",
    ),
    (
        "GET /repos/{owner}/{repo}/commits/{ref}",
        &[("contents", "read")],
        "https://docs.github.com/en/rest/commits/commits#get-a-commit",
    ),
    (
        "GET /repos/{owner}/{repo}/environments",
        &[("actions", "read")],
        "https://docs.github.com/en/rest/deployments/environments#list-environments",
    ),
    (
        "GET /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies",
        &[("actions", "read")],
        "https://docs.github.com/en/rest/deployments/branch-policies#list-deployment-branch-policies",
    ),
    (
        "PUT /repos/{owner}/{repo}/environments/{environment_name}",
        &[("administration", "write")],
        "https://docs.github.com/en/rest/deployments/environments#create-or-update-an-environment",
    ),
    (
        "POST /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies",
        &[("administration", "write")],
        "https://docs.github.com/en/rest/deployments/branch-policies#create-a-deployment-branch-policy",
    ),
    (
        "GET /repos/{owner}/{repo}/environments/{environment_name}/secrets",
        &[("environments", "read")],
        "https://docs.github.com/en/rest/actions/secrets#list-environment-secrets",
    ),
    (
        "GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key",
        &[("environments", "read")],
        "https://docs.github.com/en/rest/actions/secrets#get-an-environment-public-key",
    ),
    (
        "PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
        &[("environments", "write")],
        "https://docs.github.com/en/rest/actions/secrets#create-or-update-an-environment-secret",
    ),
    (
        "GET /repos/{owner}/{repo}/environments/{environment_name}/variables",
        &[("environments", "read")],
        "https://docs.github.com/en/rest/actions/variables#list-environment-variables",
    ),
    (
        "POST /repos/{owner}/{repo}/merge-upstream",
        &[("contents", "write")],
        "https://docs.github.com/en/rest/branches/branches#sync-a-fork-branch-with-the-upstream-repository",
    ),
    (
        "POST /repos/{owner}/{repo}/rulesets",
        &[("administration", "write")],
        "https://docs.github.com/en/rest/repos/rules#create-a-repository-ruleset",
    ),
    (
        "PUT /repos/{owner}/{repo}/actions/permissions/workflow",
        &[("administration", "write")],
        "https://docs.github.com/en/rest/actions/permissions#set-default-workflow-permissions-for-a-repository",
    ),
    (
        "POST /repos/{owner}/{repo}/actions/variables",
        &[("actions_variables", "write")],
        "https://docs.github.com/en/rest/actions/variables#create-a-repository-variable",
    ),
    (
        "PATCH /repos/{owner}/{repo}/actions/variables/{name}",
        &[("actions_variables", "write")],
        "https://docs.github.com/en/rest/actions/variables#update-a-repository-variable",
    ),
    (
        "GET /repos/{owner}/{repo}/rulesets",
        &[("metadata", "read")],
        "https://docs.github.com/en/rest/repos/rules#get-all-repository-rulesets",
    ),
    (
        "GET /repos/{owner}/{repo}/rulesets/{ruleset_id}",
        &[("metadata", "read")],
        "https://docs.github.com/en/rest/repos/rules#get-a-repository-ruleset",
    ),
];

/// App endpoints an installation token never calls (they take the App's
/// JWT, which `request::jwt_may_call` checks: "You must use a JWT",
/// <https://docs.github.com/en/rest/apps/apps>) and the App's own page,
/// which answers any token and, for a public App, no token at all
/// (<https://docs.github.com/en/rest/apps/apps#get-an-app>): no
/// installation permission applies.
const NO_INSTALLATION_PERMISSION: &[&str] = &[
    "GET /app",
    "GET /repos/{owner}/{repo}/installation",
    "GET /app/hook/deliveries",
    "POST /app/hook/deliveries/{delivery_id}/attempts",
    "POST /app/installations/{installation_id}/access_tokens",
    "GET /apps/{app_slug}",
    // The manifest flow's code is the credential ("Create a GitHub App
    // from a manifest": no authentication).
    "POST /app-manifests/{code}/conversions",
];

static TABLE: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../fixtures/github/app-permissions.json"))
        .expect("tests/fixtures/github/app-permissions.json is JSON")
});

/// What `METHOD template` needs: `Ok(None)` for no installation permission,
/// `Ok(Some(alternatives))`, or `Err` when neither the map nor
/// [`FROM_DOCS`] knows the endpoint (a new call without its permission).
pub(crate) fn needs(method: &str, template: &str) -> Result<Option<Vec<(String, String)>>, String> {
    let key = format!("{} {template}", method.to_ascii_uppercase());
    if NO_INSTALLATION_PERMISSION.contains(&key.as_str()) {
        return Ok(None);
    }
    let mut mapped: Vec<(String, String)> = TABLE["endpoints"][&key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
        .collect();
    if !mapped.is_empty() {
        for (_, more, _) in DOCS_ADD.iter().filter(|(e, _, _)| *e == key) {
            mapped.extend(more.iter().map(|(p, a)| (p.to_string(), a.to_string())));
        }
    }
    if !mapped.is_empty() {
        return Ok(Some(mapped));
    }
    FROM_DOCS
        .iter()
        .find(|(e, _, _)| *e == key)
        .map(|(_, alts, _)| {
            Some(
                alts.iter()
                    .map(|(p, a)| (p.to_string(), a.to_string()))
                    .collect(),
            )
        })
        .ok_or_else(|| {
            format!(
                "fake GitHub bug: no App permission is known for {key}: add it to FROM_DOCS in tests/support/fake_github/permissions.rs from the endpoint's page"
            )
        })
}

fn rank(access: &str) -> u8 {
    match access {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    }
}

/// Whether a token with `granted` (an installation token's `permissions`)
/// may call `METHOD template`; `Err` says what it lacks.
pub(crate) fn check(granted: &Value, method: &str, template: &str) -> Result<(), String> {
    let Some(alternatives) = needs(method, template)? else {
        return Ok(());
    };
    let has = |perm: &str, access: &str| {
        let level = match (perm, granted[perm].as_str()) {
            ("metadata", None) => rank("read"),
            (_, Some(v)) => rank(v),
            (_, None) => 0,
        };
        level >= rank(access)
    };
    if alternatives.iter().any(|(p, a)| has(p, a)) {
        return Ok(());
    }
    let wanted: Vec<String> = alternatives
        .iter()
        .map(|(p, a)| format!("{p}: {a}"))
        .collect();
    Err(format!(
        "an installation token with permissions {granted} was used for {} {template}, which needs {} (tests/fixtures/github/app-permissions.json); GitHub answers 403 Resource not accessible by integration",
        method.to_ascii_uppercase(),
        wanted.join(" or ")
    ))
}

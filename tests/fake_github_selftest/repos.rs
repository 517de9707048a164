//! The fake GitHub's repository-level endpoints: dispatches, archived
//! repositories, check runs, forks, secrets, and the settings and access
//! the doctor reads (helpers in `fake_github_selftest`).

use crate::support;

use base64::Engine as _;
use serde_json::json;
use support::fake_github::FakeGitHub;

use crate::fake_github_selftest::server::{
    call, dispatch_x, get, seeded, violation_messages, REPO,
};

// ----- dispatch, archive, checks, upstream, secrets -----

#[test]
fn dispatches_are_recorded() {
    let (gh, _) = seeded();
    let body = json!({ "event_type": "fleetform-plan", "client_payload": { "repo": "acme/app", "sha": "abc" } });
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/dispatches",
        Some(body.clone()),
    );
    assert_eq!(resp.status, 204);
    assert_eq!(resp.body, "");
    // Recorded with the account the token acts as, as GitHub's event's
    // `sender` (an App's installation token: `<slug>[bot]`).
    let mut recorded = body.clone();
    recorded["sender"] = json!({ "login": gh.bot_login(), "type": "User" });
    assert_eq!(gh.dispatches(REPO), [recorded]);
    // A payload of 64 KB or more is refused, and a violation.
    let big = json!({ "event_type": "x", "client_payload": { "blob": "x".repeat(70_000) } });
    assert_eq!(
        call(&gh, "POST", "/repos/acme/app/dispatches", Some(big)).status,
        422
    );
    let messages = violation_messages(&gh);
    assert!(
        messages.len() == 1 && messages[0].contains("64 KB"),
        "{messages:#?}"
    );
    assert_eq!(gh.dispatches(REPO).len(), 1);
}

#[test]
fn archived_repositories_are_read_only() {
    let (gh, sha) = seeded();
    gh.set_archived(REPO, true);
    assert_eq!(get(&gh, "/repos/acme/app").json()["archived"], true);
    assert_eq!(get(&gh, "/repos/acme/app/contents/README.md").status, 200);
    let resp = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/statuses/{sha}"),
        Some(json!({ "state": "success" })),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.json()["message"],
        "Repository was archived so is read-only."
    );
    let dispatch = || dispatch_x(&gh);
    assert_eq!(dispatch(), 403);
    assert!(gh.statuses(REPO, &sha).is_empty());
    gh.set_archived(REPO, false);
    assert_eq!(dispatch(), 204);
    gh.assert_clean();
}

#[test]
fn check_runs_are_recorded() {
    let (gh, sha) = seeded();
    let body = json!({ "name": "fleetform plan", "head_sha": sha, "status": "completed", "conclusion": "success", "output": { "title": "Plan", "summary": "+1 ~0 -0" } });
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/check-runs",
        Some(body.clone()),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let run = resp.json();
    assert_eq!(
        (run["status"].as_str(), run["conclusion"].as_str()),
        (Some("completed"), Some("success"))
    );
    assert_eq!(gh.check_runs(REPO), [body]);
    let incomplete = json!({ "name": "x", "head_sha": sha, "status": "completed" });
    assert_eq!(
        call(&gh, "POST", "/repos/acme/app/check-runs", Some(incomplete)).status,
        422
    );
    gh.assert_clean();
}

#[test]
fn forks_merge_upstream() {
    let gh = FakeGitHub::start();
    gh.add_repo("provider/template");
    gh.commit("provider/template", "main", &[("main.tf", "v1")]);
    gh.add_fork("acme/infra", "provider/template");
    assert_eq!(
        get(&gh, "/repos/acme/infra").json()["parent"]["full_name"],
        "provider/template"
    );
    let sync = || {
        call(
            &gh,
            "POST",
            "/repos/acme/infra/merge-upstream",
            Some(json!({ "branch": "main" })),
        )
    };

    let resp = sync();
    assert_eq!(
        (resp.status, resp.json()["merge_type"].as_str()),
        (200, Some("none"))
    );
    let upstream = gh.commit("provider/template", "main", &[("main.tf", "v2")]);
    assert_eq!(sync().json()["merge_type"], "fast-forward");
    assert_eq!(
        gh.branch_head("acme/infra", "main").as_deref(),
        Some(upstream.as_str())
    );
    gh.commit("acme/infra", "main", &[("local.tf", "mine")]);
    gh.commit("provider/template", "main", &[("main.tf", "v3")]);
    assert_eq!(sync().json()["merge_type"], "merge");
    assert_eq!(
        gh.file_at("acme/infra", "main", "main.tf").as_deref(),
        Some("v3")
    );
    assert_eq!(
        gh.file_at("acme/infra", "main", "local.tf").as_deref(),
        Some("mine")
    );
    gh.commit("acme/infra", "main", &[("main.tf", "patched")]);
    gh.commit("provider/template", "main", &[("main.tf", "v4")]);
    assert_eq!(sync().status, 409);
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/provider/template/merge-upstream",
            Some(json!({ "branch": "main" }))
        )
        .status,
        422
    );
    gh.assert_clean();
}

#[test]
fn actions_secrets() {
    let (gh, _) = seeded();
    let key = get(&gh, "/repos/acme/app/actions/secrets/public-key").json();
    let key_id = key["key_id"].as_str().unwrap().to_string();
    assert_eq!(
        (key_id.clone(), key["key"].as_str().unwrap().to_string()),
        gh.public_key(REPO)
    );
    let sealed = base64::engine::general_purpose::STANDARD.encode([7u8; 60]);
    let put = |name: &str, key_id: &str, value: &str| {
        call(
            &gh,
            "PUT",
            &format!("/repos/acme/app/actions/secrets/{name}"),
            Some(json!({ "encrypted_value": value, "key_id": key_id })),
        )
    };
    assert_eq!(put("TF_TOKEN", &key_id, &sealed).status, 201);
    assert_eq!(put("TF_TOKEN", &key_id, &sealed).status, 204);
    assert_eq!(put("TF_TOKEN", "123", &sealed).status, 422);
    assert_eq!(put("GITHUB_X", &key_id, &sealed).status, 422);
    let plain = base64::engine::general_purpose::STANDARD.encode("secret");
    assert_eq!(
        put("OTHER", &key_id, &plain).status,
        422,
        "not a sealed box"
    );
    let secrets = gh.secrets(REPO);
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        (
            secrets[0].name.as_str(),
            secrets[0].encrypted_value.as_str()
        ),
        ("TF_TOKEN", sealed.as_str())
    );
    gh.set_public_key(REPO, "42", "a2V5");
    assert_eq!(
        get(&gh, "/repos/acme/app/actions/secrets/public-key").json()["key_id"],
        "42"
    );
    // The schema's base64 pattern.
    assert_eq!(put("X", "42", "not base64!").status, 422);
    assert_eq!(violation_messages(&gh).len(), 1);
}

#[test]
fn repository_settings_for_the_doctor() {
    use support::fake_github::{BranchPolicy, Environment, Ruleset};
    let (gh, _) = seeded();
    gh.set_environment(
        REPO,
        "production-apply",
        Environment {
            reviewers: vec!["alice".into()],
            prevent_self_review: true,
            branch_policy: BranchPolicy::Custom(vec![("main".into(), "branch".into())]),
            secrets: ["FLEETFORM_ARTIFACT_KEY".to_string()].into(),
            variables: Default::default(),
            sealed: Default::default(),
        },
    );
    gh.set_environment(REPO, "drift", Environment::default());
    gh.add_repo_secret(REPO, "SOURCE_REPOS_PAT");
    gh.add_ruleset(
        REPO,
        Ruleset {
            name: "lock".into(),
            target: "branch".into(),
            enforcement: "active".into(),
            include: vec!["~ALL".into()],
            rules: vec!["creation".into(), "update".into(), "deletion".into()],
        },
    );
    gh.set_workflow_permissions(REPO, "write", true);
    gh.set_token_expiration(Some("2026-12-01 10:00:00 UTC"));

    let envs = get(&gh, "/repos/acme/app/environments");
    assert_eq!(
        envs.header("github-authentication-token-expiration"),
        Some("2026-12-01 10:00:00 UTC")
    );
    let envs = envs.json();
    assert_eq!(envs["total_count"], 2);
    let prod = &envs["environments"][1];
    assert_eq!(prod["name"], "production-apply");
    assert_eq!(prod["protection_rules"][0]["type"], "required_reviewers");
    assert_eq!(
        prod["deployment_branch_policy"]["custom_branch_policies"],
        true
    );
    assert!(envs["environments"][0]["deployment_branch_policy"].is_null());
    let policies = get(
        &gh,
        "/repos/acme/app/environments/production-apply/deployment-branch-policies",
    )
    .json();
    assert_eq!(policies["branch_policies"][0]["name"], "main");
    let secrets = get(&gh, "/repos/acme/app/environments/production-apply/secrets").json();
    assert_eq!(secrets["secrets"][0]["name"], "FLEETFORM_ARTIFACT_KEY");
    assert!(secrets["secrets"][0].get("value").is_none());
    assert_eq!(
        get(&gh, "/repos/acme/app/environments/nope/secrets").status,
        404
    );
    let repo_secrets = get(&gh, "/repos/acme/app/actions/secrets").json();
    assert_eq!(repo_secrets["secrets"][0]["name"], "SOURCE_REPOS_PAT");
    let list = get(&gh, "/repos/acme/app/rulesets").json();
    assert!(list[0].get("rules").is_none(), "the list leaves rules out");
    let id = list[0]["id"].as_u64().unwrap();
    let one = get(&gh, &format!("/repos/acme/app/rulesets/{id}")).json();
    assert_eq!(one["conditions"]["ref_name"]["include"][0], "~ALL");
    assert_eq!(one["rules"][2]["type"], "deletion");
    let perms = get(&gh, "/repos/acme/app/actions/permissions/workflow").json();
    assert_eq!(perms["default_workflow_permissions"], "write");
    assert_eq!(perms["can_approve_pull_request_reviews"], true);

    gh.rename_repo(REPO, "acme/app2");
    let moved = get(&gh, "/repos/acme/app");
    assert_eq!(moved.status, 301);
    assert_eq!(
        get(&gh, "/repos/acme/app2").json()["full_name"],
        "acme/app2"
    );
    gh.assert_clean();
}

/// Collaborators by affiliation and permission, organisations (base
/// permission `none` unless set; a user answers 404) and Pages sites, each
/// answer valid against its response schema (`assert_clean`).
#[test]
fn who_reaches_a_repository_for_the_doctor() {
    let (gh, _) = seeded();
    let logins = |path: &str| -> Vec<String> {
        let v = get(&gh, path).json();
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{}:{}", c["login"].as_str().unwrap(), c["role_name"]))
            .collect()
    };
    assert!(logins("/repos/acme/app/collaborators").is_empty());
    gh.add_collaborator(REPO, "outsider", "outside");
    gh.add_collaborator_as(REPO, "member", "direct", "read");
    gh.add_collaborator_as(REPO, "owner", "team", "admin");
    let all = logins("/repos/acme/app/collaborators?affiliation=all");
    assert_eq!(
        all,
        [
            r#"outsider:"write""#,
            r#"member:"read""#,
            r#"owner:"admin""#
        ]
    );
    assert_eq!(
        logins("/repos/acme/app/collaborators?affiliation=outside"),
        [r#"outsider:"write""#]
    );
    assert_eq!(
        logins("/repos/acme/app/collaborators?affiliation=direct").len(),
        2
    );
    assert_eq!(
        logins("/repos/acme/app/collaborators?permission=push").len(),
        2
    );
    let one = get(
        &gh,
        "/repos/acme/app/collaborators?affiliation=all&per_page=1",
    );
    assert!(one.header("link").unwrap().contains("rel=\"next\""));
    let admin = &get(&gh, "/repos/acme/app/collaborators?permission=admin").json()[0];
    assert_eq!(admin["permissions"]["maintain"], true);

    let org = get(&gh, "/orgs/acme").json();
    assert_eq!(org["type"], "Organization");
    assert_eq!(org["default_repository_permission"], "none");
    gh.set_org_base_permission("acme", "write");
    assert_eq!(
        get(&gh, "/orgs/ACME").json()["default_repository_permission"],
        "write"
    );
    assert_eq!(get(&gh, "/orgs/nobody").status, 404);
    gh.set_user_account("acme");
    assert_eq!(get(&gh, "/orgs/acme").status, 404);

    assert_eq!(get(&gh, "/repos/acme/app/pages").status, 404);
    gh.set_pages(REPO, true);
    let site = get(&gh, "/repos/acme/app/pages").json();
    assert_eq!(site["public"], true);
    gh.set_pages(REPO, false);
    assert_eq!(get(&gh, "/repos/acme/app/pages").json()["public"], false);
    gh.assert_clean();
}

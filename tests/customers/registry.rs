//! Daily operations: the registry commands, the matrix, drift.

use crate::common;

use common::{assert_ok as ok, require_terraform, stderr, stdout, Fixture};
use serde_json::Value;

#[test]
fn customers_add_keeps_comments_and_order() {
    let fx = Fixture::new();
    let before = fx.read("manager/customers.yml");
    common::run(&fx, &common::ADD_HOOLI).ok();
    let after = fx.read("manager/customers.yml");
    assert!(
        after.starts_with(before.trim_end()),
        "existing text untouched:\n{after}"
    );
    insta::assert_snapshot!("registry_after_add", &after[before.trim_end().len()..]);
    // Valid and visible.
    let out = common::run(&fx, &["customers", "list", "--json"]).ok();
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let hooli = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == "hooli")
        .unwrap();
    assert_eq!(hooli["status"], "active");
    assert_eq!(hooli["environments"], serde_json::json!(["staging"]));
    assert_eq!(hooli["added"], "2026-11-21");
    let out = common::Run::from(fx.fleetform())
        .args(["customers", "list"])
        .output();
    insta::assert_snapshot!("customers_list", stdout(&out));
    let audit = fx.read("manager/.fleetform/audit.jsonl");
    assert!(audit.contains("\"action\":\"registry\"") && audit.contains("\"customer\":\"hooli\""));
}

#[test]
fn customers_add_refuses_duplicates_and_bad_input() {
    let fx = Fixture::new();
    let before = fx.read("manager/customers.yml");
    for (args, expect) in [
        (
            vec!["acme", "--repo", "acme/other", "--contact", "a@b.example"],
            "already exists",
        ),
        (
            vec![
                "newco",
                "--repo",
                "acme-corp/acme-infra",
                "--contact",
                "a@b.example",
            ],
            "already belongs to `acme`",
        ),
        (
            vec!["Bad_Slug", "--repo", "x/y", "--contact", "a@b.example"],
            "the slug must be 1–63",
        ),
        (
            vec!["../../etc", "--repo", "x/y", "--contact", "a@b.example"],
            "the slug must be 1–63",
        ),
        (
            vec!["newco", "--repo", "not a repo", "--contact", "a@b.example"],
            "--repo: `not a repo` is not a GitHub `owner/name`",
        ),
        (
            vec!["newco", "--repo", "x/y", "--contact", "nobody"],
            "--contact: `nobody` is not an e-mail address",
        ),
        (
            vec![
                "newco",
                "--repo",
                "x/y",
                "--contact",
                "a@b.example",
                "--env",
                "qa",
            ],
            "unknown environment `qa`",
        ),
    ] {
        let out = common::Run::from(fx.fleetform())
            .args(["customers", "add"])
            .args(&args)
            .output();
        common::assert_fails_for(format_args!("{args:?}"), &out);
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
        assert_eq!(
            fx.read("manager/customers.yml"),
            before,
            "nothing written for {args:?}"
        );
    }
    // Tokens are never taken on the command line.
    let out = common::run(
        &fx,
        &[
            "customers",
            "add",
            "newco",
            "--repo",
            "x/y",
            "--contact",
            "a@b.example",
            "--token",
            "ghp_x",
        ],
    )
    .code(2);
    assert!(stderr(&out).contains("unexpected argument '--token'"));
}

/// With a token, `customers add` fills `repo_id` from GitHub, in the one
/// request the book's "Request budgets" table states; with `--repo-id`
/// it asks nothing.
#[test]
fn customers_add_looks_the_repo_id_up_in_one_request() {
    let fx = Fixture::new();
    let gh = crate::support::fake_github::FakeGitHub::start();
    gh.add_repo("newco/infra");
    let add = |slug: &str, repo: &str, extra: &[&str]| {
        let out = common::Run::from(fx.fleetform())
            .env("GITHUB_API_URL", gh.api_url())
            .env("FLEETFORM_TOKEN", gh.token())
            .args(["customers", "add", slug, "--repo", repo])
            .args(["--contact", "ops@newco.example"])
            .args(extra)
            .output();
        ok(&out);
    };
    let row = "`customers add`";
    let budgets = crate::support::readme_budgets::Budgets::from_book();
    add("newco", "newco/infra", &[]);
    assert_eq!(gh.request_count(), budgets.lead(row));
    let registry = fx.read("manager/customers.yml");
    assert!(
        registry.contains(&format!("repo_id: {}", gh.repo_id("newco/infra"))),
        "{registry}"
    );
    gh.reset_counters();
    add("newcotwo", "newco/other", &["--repo-id", "77"]);
    assert_eq!(
        gh.request_count(),
        budgets.n(row, " with `--repo-id`"),
        "nothing to look up"
    );
    gh.assert_clean();
}

#[test]
fn customers_revoke_marks_and_keeps() {
    let fx = Fixture::new();
    common::run(
        &fx,
        &[
            "customers",
            "revoke",
            "globex",
            "--reason",
            "moved to another provider",
            "--date",
            "2026-11-20",
        ],
    )
    .ok();
    let text = fx.read("manager/customers.yml");
    assert!(
        text.contains("# Customer registry. Edit with"),
        "comments kept"
    );
    let out = common::run(&fx, &["customers", "show", "globex", "--json"]).ok();
    let c: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(c["status"], "revoked");
    assert_eq!(c["revoked"]["date"], "2026-11-20");
    assert_eq!(c["revoked"]["reason"], "moved to another provider");
    assert_eq!(c["repo"], "globex/globex-app", "never deleted");
    // A revoked customer is skipped by the fleet plan.
    common::run(&fx, &["render", "--customer", "globex", "--env", "staging"]).ok();
    // Revoking twice is harmless.
    let out = common::run(&fx, &["customers", "revoke", "globex", "--reason", "again"]).ok();
    assert!(stdout(&out).contains("already revoked"));
}

/// 2026-11-20T00:00:00Z, for the token expiry flags.
const NOW_2026_11_20: &str = "1795132800";

/// Records tokens for the example customers: acme's expired, globex's
/// expires in 10 days, initech's (revoked) expired but is not flagged.
fn with_tokens(fx: &Fixture) {
    let text = fx
        .read("manager/customers.yml")
        .replace(
            "    added: 2026-01-15\n",
            "    added: 2026-01-15\n    token: {name: fleetform-dispatch, expires: 2026-11-01}\n",
        )
        .replace(
            "    added: 2026-03-02\n",
            "    added: 2026-03-02\n    token:\n      name: globex manager token\n      expires: 2026-11-30\n",
        )
        .replace(
            "    added: 2025-11-20\n",
            "    added: 2025-11-20\n    token: {name: old, expires: 2026-10-01}\n",
        );
    fx.write("manager/customers.yml", &text);
}

#[test]
fn customers_list_flags_tokens_that_expire_soon_or_did() {
    let fx = Fixture::new();
    with_tokens(&fx);
    common::Run::from(fx.fleetform())
        .env("FLEETFORM_NOW", NOW_2026_11_20)
        .args(common::ADD_HOOLI)
        .args([
            "--token-name",
            "fleetform: \"hooli\"",
            "--token-expires",
            "2027-03-01",
        ])
        .ok();
    assert!(
        fx.read("manager/customers.yml").ends_with(
            "    added: 2026-11-21\n    token:\n      name: \"fleetform: \\\"hooli\\\"\"\n      expires: 2027-03-01\n"
        ),
        "{}",
        fx.read("manager/customers.yml")
    );
    let list = |args: &[&str]| {
        common::Run::from(fx.fleetform())
            .env("FLEETFORM_NOW", NOW_2026_11_20)
            .args(["customers", "list"])
            .args(args)
            .ok()
    };
    let out = list(&[]);
    insta::assert_snapshot!("customers_list_tokens", stdout(&out));
    assert!(
        stderr(&out).contains("the tokens of acme, globex expire within 30 days or have expired"),
        "{}",
        stderr(&out)
    );
    let json: Value = serde_json::from_str(&list(&["--json"]).stdout).unwrap();
    assert_eq!(json[0]["token"]["name"], "fleetform-dispatch");
    assert_eq!(
        json[0]["token_state"],
        serde_json::json!({"state": "expired", "days": 19})
    );
    assert_eq!(
        json[1]["token_state"],
        serde_json::json!({"state": "expiring", "days": 10})
    );
    assert_eq!(
        json[3]["token_state"],
        serde_json::json!({"state": "valid", "days": 101})
    );
    let out = common::Run::from(fx.fleetform())
        .env("FLEETFORM_NOW", NOW_2026_11_20)
        .args(["customers", "show", "globex"])
        .ok();
    assert!(
        stdout(&out)
            .contains("token         globex manager token 2026-11-30 (expires in 10 days)\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn token_records_are_checked_at_their_line() {
    for (entry, at, expect) in [
        (
            "{name: \"\", expires: 2027-01-01}",
            ":12:19:",
            "1-40 characters",
        ),
        (
            "{name: x, expires: 2027-02-30}",
            ":12:31:",
            "`expires` must be the token's expiry date",
        ),
        (
            "{name: github_pat_11AAAA, expires: 2027-01-01}",
            ":12:19:",
            "looks like the token itself",
        ),
        (
            "{name: x, expires: 2027-01-01, value: y}",
            "",
            "unknown field `value`",
        ),
    ] {
        let fx = Fixture::new();
        let text = fx.read("manager/customers.yml").replacen(
            "    added: 2026-01-15\n",
            &format!("    added: 2026-01-15\n    token: {entry}\n"),
            1,
        );
        fx.write("manager/customers.yml", &text);
        let out = common::Run::from(fx.fleetform())
            .args(["customers", "list"])
            .output();
        common::assert_fails_for(format_args!("{entry}"), &out);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("customers.yml{at}")) && err.contains(expect),
            "{entry}: {err}"
        );
    }
    let fx = Fixture::new();
    let before = fx.read("manager/customers.yml");
    for (args, expect) in [
        (vec!["--token-name", "x"], "--token-expires"),
        (
            vec!["--token-name", "x", "--token-expires", "soon"],
            "--token-expires must be",
        ),
        (
            vec![
                "--token-name",
                "ghp_abcdefabcdefabcdefabcdefabcdefabcdef",
                "--token-expires",
                "2027-01-01",
            ],
            "token",
        ),
    ] {
        let out = common::Run::from(fx.fleetform())
            .args([
                "customers",
                "add",
                "newco",
                "--path",
                "../customers/acme",
                "--contact",
                "a@b.example",
            ])
            .args(&args)
            .output();
        common::assert_fails_for(format_args!("{args:?}"), &out);
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
        assert_eq!(
            fx.read("manager/customers.yml"),
            before,
            "nothing written for {args:?}"
        );
    }
}

#[test]
fn customers_revoke_says_what_to_delete_where() {
    let fx = Fixture::new();
    with_tokens(&fx);
    let out = common::run(
        &fx,
        &[
            "customers",
            "revoke",
            "acme",
            "--reason",
            "left",
            "--date",
            "2026-11-20",
        ],
    )
    .ok();
    insta::assert_snapshot!("customers_revoke_steps", stdout(&out));
    // Another customer under the same owner keeps the manager's token.
    fx.append(
        "manager/customers.yml",
        "\n  - slug: globex-two\n    repo: globex/second\n    contact: ops@globex.example\n    environments: [staging]\n    added: 2026-11-01\n",
    );
    let out = common::run(
        &fx,
        &[
            "customers",
            "revoke",
            "globex",
            "--reason",
            "left",
            "--date",
            "2026-11-20",
        ],
    )
    .ok();
    let text = stdout(&out);
    assert!(
        text.contains("The fine-grained token `globex manager token` (expires 2026-11-30)"),
        "{text}"
    );
    assert!(
        text.contains("1 other active customer is under `globex`: take globex/globex-app out of the installation's repositories"),
        "{text}"
    );
    // Asked again, it says it again.
    let out = common::run(&fx, &["customers", "revoke", "globex", "--reason", "again"]).ok();
    assert!(stdout(&out).contains("already revoked") && stdout(&out).contains("MANAGER_REPO_PAT"));
}

#[test]
fn customers_instructions_are_ready_to_send() {
    let fx = Fixture::new();
    let out = common::run(
        &fx,
        &[
            "customers",
            "instructions",
            "acme",
            "--manager-repo",
            "provider/manager",
            "--action-ref",
            "v1.4.2",
        ],
    )
    .ok();
    let text = stdout(&out);
    for expected in [
        "`MANAGER_REPO_PAT`",
        "| variable | `MANAGER_REPO_OWNER` | `provider` |",
        "| variable | `MANAGER_REPO_NAME` | `manager` |",
        "`schema/variables.schema.json` in `provider/manager`",
        "infra/variables.yml",
        "/actions/trigger@v1.4.2",
        "production: after the provider's approval",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    assert!(!text.contains("/actions/trigger@v1\n"), "pinned");
    // The token path's workflow, installed as customer-trigger.yml, does
    // not tell its reader to use customer-trigger.yml instead (#52).
    assert!(text.contains("customer-trigger.yml"), "{text}");
    assert!(!text.contains("LEGACY"), "{text}");
    assert!(!text.contains("Use\n# customer-trigger.yml"), "{text}");
    // The text, the comment above the pin and the pin say the same thing.
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!(
            "the action is pinned to\nthe ref `v1.4.2` (fleetform {version})"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "# Pinned to the release ref v1.4.2 (fleetform {version})."
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("/actions/trigger@v1.4.2 # v{version}")),
        "{text}"
    );
    assert!(!text.contains("Pin this to the commit SHA"), "{text}");
    // A commit SHA is named as a commit.
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let out = common::run(
        &fx,
        &[
            "customers",
            "instructions",
            "acme",
            "--manager-repo",
            "provider/manager",
            "--action-ref",
            sha,
        ],
    )
    .ok();
    let text = stdout(&out);
    assert!(
        text.contains(&format!("# Pinned to commit {sha} (fleetform {version}).")),
        "{text}"
    );
    assert!(
        text.contains(&format!("commit `{sha}` (fleetform {version})")),
        "{text}"
    );
    // The provider's own template wins.
    fx.write(
        "manager/templates/instructions.md.j2",
        "Hi {{ customer.slug }}, use {{ action_ref }} with {{ manager_repo }}.\n",
    );
    let out = common::run(
        &fx,
        &["customers", "instructions", "acme", "--manager-repo", "p/m"],
    )
    .ok();
    assert_eq!(
        stdout(&out).trim(),
        format!(
            "Hi acme, use v{}-action with p/m.",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn matrix_of_a_thousand_customers_fits_in_256_jobs() {
    let fx = Fixture::new();
    let mut reg = String::from("customers:\n");
    for i in 0..1000 {
        reg.push_str(&format!(
            "  - slug: c{i:04}\n    repo: org/c{i:04}\n    contact: ops@c{i:04}.example\n    environments: [staging, production]\n    added: 2026-01-01\n"
        ));
    }
    fx.write("manager/customers.yml", &reg);
    let out = common::run(&fx, &["matrix"]).ok();
    let m: Value = serde_json::from_str(&out.stdout).unwrap();
    let jobs = m["include"].as_array().unwrap();
    assert!(jobs.len() <= 256, "{} jobs", jobs.len());
    let mut pairs = std::collections::BTreeSet::new();
    for j in jobs {
        for p in j["shard"].as_array().unwrap() {
            assert!(pairs.insert(p.as_str().unwrap().to_string()), "{p} twice");
        }
    }
    assert_eq!(pairs.len(), 2000);
    for i in 0..1000 {
        for e in ["staging", "production"] {
            assert!(pairs.contains(&format!("c{i:04}/{e}")));
        }
    }
    // Deterministic.
    let again = common::Run::from(fx.fleetform()).args(["matrix"]).output();
    assert_eq!(again.stdout.as_bytes(), out.stdout.as_bytes());
    // Tunable, and small fleets get a job per pair.
    let out = common::Run::from(fx.fleetform())
        .args(["matrix", "--max-jobs", "10", "--env", "staging"])
        .output();
    let m: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(m["include"].as_array().unwrap().len(), 10);
    let out = common::Run::from(fx.fleetform())
        .args(["matrix", "--customer", "c0001,c0002"])
        .output();
    let m: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(
        m["include"][0],
        serde_json::json!({"id": "c0001-staging", "shard": ["c0001/staging"]})
    );
    assert_eq!(m["include"].as_array().unwrap().len(), 4);
}

#[test]
fn matrix_of_customers_changed_between_refs() {
    let fx = Fixture::new();
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
            .args(args)
            .current_dir(fx.root())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .unwrap();
        common::assert_ok_for(format_args!("git {args:?}"), &o);
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);
    fx.append("customers/globex/infra/variables.yml", "  team: web\n");
    git(&["commit", "-qam", "globex change"]);
    let out = common::run(&fx, &["matrix", "--changed-from", "HEAD~1"]).ok();
    let m: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = m["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["globex-staging", "globex-production"]);
    // A manager-wide change affects every active customer.
    fx.append("manager/values/base.yml", "# tweak\n");
    git(&["commit", "-qam", "manager change"]);
    let out = common::Run::from(fx.fleetform())
        .args(["matrix", "--changed-from", "HEAD~1"])
        .output();
    let m: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(
        m["include"].as_array().unwrap().len(),
        4,
        "acme and globex, both environments"
    );
}

#[test]
fn drift_after_apply_and_after_a_change() {
    require_terraform();
    let fx = Fixture::new();
    let drift = |fx: &Fixture| {
        common::Run::from(fx.fleetform())
            .args(["drift", "--customer", "acme", "--json"])
            .output()
    };
    for env in ["staging", "production"] {
        common::run(&fx, &["plan", "--customer", "acme", "--env", env]).ok();
        common::run(&fx, &["apply", "--customer", "acme", "--env", env]).ok();
    }
    let out = drift(&fx);
    ok(&out);
    let r: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(
        (r["checked"].as_u64(), r["clean"].as_u64()),
        (Some(2), Some(2))
    );

    let v = fx
        .read("customers/acme/infra/variables.yml")
        .replace("max_instances: 2", "max_instances: 5");
    fx.write("customers/acme/infra/variables.yml", &v);
    // An edit of the customer's file not applied yet is not drift (issue
    // #52): exit 0, reported under its own key.
    let out = drift(&fx);
    ok(&out);
    let r: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(r["drifted"].as_array().unwrap().len(), 0);
    assert_eq!(r["unapplied"].as_array().unwrap().len(), 1);
    assert_eq!(r["unapplied"][0]["environment"], "staging");
    assert_eq!(r["unapplied"][0]["summary"]["update"], 1);
    let md = fx.read("manager/.fleetform/drift/drift-report.md");
    // An edit of the customer's file is not drift in the cloud: the
    // report says so apart (issue #52).
    assert!(
        md.contains("**0 drifted** · 1 with edits not applied yet")
            && md.contains(
                "| `acme` | `staging` | `+0 ~1 -0` | edits not applied yet (no drift) | - |"
            ),
        "{md}"
    );

    // One broken customer: an error, not a clean report, and the others still run.
    fx.register_invalid_customer();
    let out = common::run(&fx, &["drift", "--json", "--jobs", "2"]).code(1);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["errors"].as_array().unwrap().len(), 1);
    assert_eq!(r["errors"][0]["customer"], "broken-co");
    assert!(r["checked"].as_u64().unwrap() >= 5);
    // A shard from the matrix.
    let out = common::Run::from(fx.fleetform())
        .args([
            "drift",
            "--json",
            "--shard",
            r#"["acme/production","globex/staging"]"#,
        ])
        .output();
    // acme's production is as applied; globex's staging was never applied,
    // which is no drift.
    common::assert_code(&out, 0);
    let r: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(r["checked"], 2);
    assert_eq!(r["clean"], 1);
    assert_eq!(r["never_applied"][0]["customer"], "globex");
}

//! `fleetform doctor` against the fake GitHub: a manager repo configured
//! as SECURITY.md asks passes (exit 0); each *must* that is missing fails
//! with exit 5 and a row naming it; a token close to its expiry warns (exit
//! 0), an expired one fails; `--json` and the step summary carry the same
//! checklist, and no secret value appears anywhere.

use crate::common;
use crate::support;

use serde_json::Value;
use support::fake_github::{BranchPolicy, Environment, FakeGitHub, Ruleset};
use support::readme_budgets::Budgets;

/// The book's "Request budgets" row for doctor.
pub(crate) const DOCTOR: &str = "`doctor`";

pub(crate) const MANAGER: &str = "provider/manager";
pub(crate) const CUSTOMERS: [&str; 2] = ["acme-corp/acme-infra", "globex/globex-app"];
/// fleetform's own repository, where its actions come from.
pub(crate) const FLEETFORM: &str = "fleetform/fleetform";
pub(crate) const CREDENTIALS: [&str; 3] = [
    "FLEETFORM_DISPATCH_SECRET",
    "FLEETFORM_ARTIFACT_KEY",
    "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
];
/// `2026-12-01 10:00:00 UTC` in Unix seconds.
const EXPIRY: i64 = 1_796_119_200;
const DAY: i64 = 86_400;

pub(crate) fn env(reviewers: &[&str], secrets: &[&str]) -> Environment {
    Environment {
        reviewers: reviewers.iter().map(|s| s.to_string()).collect(),
        prevent_self_review: true,
        branch_policy: BranchPolicy::Custom(vec![("main".into(), "branch".into())]),
        secrets: secrets.iter().map(|s| s.to_string()).collect(),
        variables: Default::default(),
        sealed: Default::default(),
    }
}

fn lock(target: &str) -> Ruleset {
    Ruleset {
        name: format!("lock {target}"),
        target: target.into(),
        enforcement: "active".into(),
        include: vec!["~ALL".into()],
        rules: vec!["creation".into(), "update".into(), "deletion".into()],
    }
}

/// A manager repo set up as SECURITY.md asks, and the example customers'
/// repos.
pub(crate) fn configured() -> FakeGitHub {
    let gh = without_rulesets();
    gh.add_ruleset(MANAGER, lock("branch"));
    gh.add_ruleset(MANAGER, lock("tag"));
    gh
}

/// [`configured`] without rulesets.
pub(crate) fn without_rulesets() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER);
    for c in CUSTOMERS {
        gh.add_repo(c);
    }
    let on = crate::support::fake_github::SecretScanning {
        scanning: true,
        push_protection: true,
    };
    for repo in CUSTOMERS.iter().chain([&MANAGER]) {
        gh.set_secret_scanning(repo, on);
    }
    // fleetform's own repository, with the refs the templates and `init`
    // pin its actions to.
    gh.add_repo(FLEETFORM);
    for tag in ["v1", &format!("v{}-action", env!("CARGO_PKG_VERSION"))] {
        gh.add_tag(FLEETFORM, tag, "main");
    }
    gh.set_environment(
        MANAGER,
        "fleetform-authorise",
        env(
            &[],
            &[
                "FLEETFORM_DISPATCH_SECRET",
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            ],
        ),
    );
    for e in ["staging", "production"] {
        gh.set_environment(MANAGER, &format!("{e}-plan"), env(&[], &CREDENTIALS));
    }
    gh.set_environment(MANAGER, "staging-apply", env(&[], &CREDENTIALS));
    gh.set_environment(MANAGER, "production-apply", env(&["alice"], &CREDENTIALS));
    gh
}

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub(crate) fn doctor(
    gh: &FakeGitHub,
    fx: &common::Fixture,
    extra: &[(&str, String)],
    args: &[&str],
) -> Run {
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_TOKEN", gh.token())
        .env("FLEETFORM_RETRY_ATTEMPTS", "1")
        .env("FLEETFORM_NOW", (EXPIRY - 100 * DAY).to_string())
        .args(["doctor", "--repo", MANAGER])
        .args(args)
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .output();
    let run = Run {
        code: out.code.unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    };
    // Under Actions the tokens are registered as masks (which the runner
    // hides); nothing else shows them or any secret.
    let shown: String = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    for secret in [common::DISPATCH_SECRET, common::ARTIFACT_KEY, gh.token()] {
        assert!(!shown.contains(secret), "a secret value was printed");
    }
    run
}

/// The row of `what` in the text table: (level, result, found).
pub(crate) fn row<'a>(stdout: &'a str, what: &str) -> (&'a str, &'a str, &'a str) {
    let line = stdout
        .lines()
        .find(|l| l.split("  ").map(str::trim).any(|c| c == what))
        .unwrap_or_else(|| panic!("no row {what}:\n{stdout}"));
    let cells: Vec<&str> = line
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    (cells[0], cells[1], cells.get(3).copied().unwrap_or(""))
}

#[test]
fn a_manager_configured_as_security_md_asks_passes() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("FAIL"), "{}", r.stdout);
    // Staging applies automatically: no reviewers asked, a warning only.
    assert_eq!(row(&r.stdout, "reviewers staging-apply").1, "WARN");
    assert_eq!(
        row(&r.stdout, "reviewers production-apply"),
        ("must", "pass", "required reviewers")
    );
    // The system's CA bundle (its path and size) is the machine's.
    insta::with_settings!({filters => vec![(r"; trusting .*", "; trusting [this machine's CAs]")]}, {
        insta::assert_snapshot!("doctor_configured", r.stdout);
    });
    // The book's "Request budgets": 9 on the manager, 5 environments'
    // secrets, 5 custom branch policies, 2 rulesets, 2 customers: the
    // total the row states for the example manager.
    let b = Budgets::from_book();
    let counted = b.lead(DOCTOR)
        + 5 * b.n(DOCTOR, " per fleetform environment that exists")
        + 5 * b.n(DOCTOR, " per environment with custom branch policies")
        + 2 * b.n(DOCTOR, " per ruleset")
        + 2 * b.n(DOCTOR, " per active customer with a repo");
    assert_eq!(counted, b.n(DOCTOR, " for the example manager"));
    assert_eq!(gh.request_count(), counted);
    gh.assert_clean();
}

#[test]
fn fleetform_approvals_stand_in_for_environment_reviewers() {
    let gh = configured();
    gh.set_environment(MANAGER, "production-apply", env(&[], &CREDENTIALS));
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "reviewers production-apply");
    assert_eq!((level, result), ("must", "FAIL"));
    assert!(found.contains("no required reviewers and no `approvals.production`"));
    assert!(r.stderr.contains("1 must check failed"), "{}", r.stderr);

    fx.append(
        "manager/fleetform.yml",
        "\napprovals:\n  production:\n    users: [alice, bob]\n",
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (_, result, found) = row(&r.stdout, "reviewers production-apply");
    assert_eq!(result, "pass");
    assert!(found.starts_with("fleetform approvals"), "{found}");
}

#[test]
fn each_missing_must_fails_with_a_row_naming_it() {
    type Breakage = Box<dyn Fn(&FakeGitHub)>;
    let cases: Vec<(&str, Breakage, &str)> = vec![
        (
            "repository secrets",
            Box::new(|gh| gh.add_repo_secret(MANAGER, "SOURCE_REPOS_PAT")),
            "SOURCE_REPOS_PAT readable by every workflow",
        ),
        // Every credential of fleetform's one list, not three of them: an
        // App's key, a customer's secrets identity, the teams token.
        (
            "repository secrets",
            Box::new(|gh| {
                for name in [
                    "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                    "FLEETFORM_SECRETS_KEY_ACME",
                    "FLEETFORM_TEAMS_TOKEN",
                    "FLEETFORM_DOCTOR_TOKEN",
                ] {
                    gh.add_repo_secret(MANAGER, name);
                }
            }),
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY, FLEETFORM_DOCTOR_TOKEN, FLEETFORM_SECRETS_KEY_ACME, FLEETFORM_TEAMS_TOKEN readable by every workflow",
        ),
        (
            "workflow permissions",
            Box::new(|gh| gh.set_workflow_permissions(MANAGER, "write", false)),
            "GITHUB_TOKEN gets `write` by default",
        ),
        (
            "secrets production-plan",
            Box::new(|gh| {
                gh.set_environment(MANAGER, "production-plan", env(&[], &["FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"]));
            }),
            "missing FLEETFORM_DISPATCH_SECRET, FLEETFORM_ARTIFACT_KEY",
        ),
        (
            "branch policy production-apply",
            Box::new(|gh| {
                let mut e = env(&["alice"], &CREDENTIALS);
                e.branch_policy = BranchPolicy::Any;
                gh.set_environment(MANAGER, "production-apply", e);
            }),
            "every branch may deploy",
        ),
        (
            "customer acme",
            Box::new(|gh| gh.set_archived("acme-corp/acme-infra", true)),
            "acme-corp/acme-infra is archived",
        ),
        (
            "customer globex",
            Box::new(|gh| gh.remove_repo("globex/globex-app")),
            "globex/globex-app: not found",
        ),
        (
            "customer acme",
            Box::new(|gh| gh.rename_repo("acme-corp/acme-infra", "acme-corp/infra")),
            "GitHub answers 301",
        ),
    ];
    for (what, break_it, says) in cases {
        let gh = configured();
        break_it(&gh);
        let fx = common::Fixture::new();
        let r = doctor(&gh, &fx, &[], &[]);
        assert_eq!(r.code, 5, "{what}:\n{}", r.stdout);
        let (level, result, found) = row(&r.stdout, what);
        assert_eq!((level, result), ("must", "FAIL"), "{what}:\n{}", r.stdout);
        assert!(found.contains(says), "{what}: {found}");
        assert!(r.stdout.contains("How to fix:"), "{}", r.stdout);
        gh.assert_clean();
    }
}

#[test]
fn only_active_rulesets_on_every_branch_and_tag_count() {
    let gh = without_rulesets();
    gh.add_ruleset(
        MANAGER,
        Ruleset {
            enforcement: "evaluate".into(),
            ..lock("branch")
        },
    );
    gh.add_ruleset(
        MANAGER,
        Ruleset {
            include: vec!["~DEFAULT_BRANCH".into()],
            ..lock("branch")
        },
    );
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5);
    let (level, result, found) = row(&r.stdout, "rulesets (branches)");
    assert_eq!((level, result), ("must", "FAIL"));
    assert!(
        found.contains("restricts creation, update, deletion (1 ruleset not active)"),
        "{found}"
    );
    assert_eq!(row(&r.stdout, "rulesets (tags)").1, "FAIL");
    gh.assert_clean();
}

#[test]
fn a_rename_says_to_update_the_registry() {
    let gh = configured();
    gh.rename_repo("globex/globex-app", "globex/app");
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5);
    assert!(
        r.stdout
            .contains("customer globex: update `repo:` of `globex` in customers.yml"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_missing_environment_fails() {
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER);
    for c in CUSTOMERS {
        gh.add_repo(c);
    }
    let on = crate::support::fake_github::SecretScanning {
        scanning: true,
        push_protection: true,
    };
    for repo in CUSTOMERS.iter().chain([&MANAGER]) {
        gh.set_secret_scanning(repo, on);
    }
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5);
    for e in [
        "fleetform-authorise",
        "staging-plan",
        "staging-apply",
        "production-plan",
        "production-apply",
    ] {
        assert_eq!(
            row(&r.stdout, &format!("environment {e}")),
            ("must", "FAIL", "missing")
        );
    }
    // Without a drift environment nothing is said about one.
    assert!(!r.stdout.contains("environment drift"));
}

/// A manager whose workflows plan pull requests in `impact-plan`
/// (`workflows/manager-pr.yml` copied in) must have required reviewers on
/// it: nothing is said without such a workflow; it fails while the
/// environment is missing or has no reviewers, passes with them, and
/// could not check when GitHub refuses the environments.
#[test]
fn impact_plan_needs_required_reviewers_where_a_workflow_plans_in_it() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("reviewers impact-plan"), "{}", r.stdout);

    let template =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/manager-pr.yml");
    fx.write(
        "manager/.github/workflows/manager-pr.yml",
        &std::fs::read_to_string(template).unwrap(),
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "reviewers impact-plan");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    assert!(found.contains("environment missing"), "{found}");

    gh.set_environment(MANAGER, "impact-plan", env(&[], &[]));
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (_, result, found) = row(&r.stdout, "reviewers impact-plan");
    assert_eq!(result, "FAIL", "{}", r.stdout);
    assert!(found.starts_with("no required reviewers"), "{found}");
    assert!(
        found.contains(".github/workflows/manager-pr.yml"),
        "{found}"
    );

    gh.set_environment(MANAGER, "impact-plan", env(&["alice"], &[]));
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "reviewers impact-plan").1, "pass");

    gh.inject_matching(
        "GET",
        "/environments",
        support::fake_github::Fault::status(403),
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "reviewers impact-plan");
    assert_eq!((level, result), ("must", "could not check"), "{}", r.stdout);
    assert!(found.starts_with("could not check"), "{found}");
}

#[test]
fn the_token_warns_a_month_before_it_expires_and_fails_once_expired() {
    let gh = configured();
    gh.set_token_expiration(Some("2026-12-01 10:00:00 UTC"));
    let fx = common::Fixture::new();
    let soon = [("FLEETFORM_NOW", (EXPIRY - 10 * DAY).to_string())];
    let r = doctor(&gh, &fx, &soon, &[]);
    assert_eq!(r.code, 0, "warnings alone pass:\n{}", r.stdout);
    let (_, result, found) = row(&r.stdout, "expiry of the token");
    assert_eq!(result, "WARN");
    assert!(found.contains("in 10 days"), "{found}");

    let past = [("FLEETFORM_NOW", (EXPIRY + 60).to_string())];
    let r = doctor(&gh, &fx, &past, &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    assert_eq!(row(&r.stdout, "expiry of the token").1, "FAIL");
}

#[test]
fn json_and_the_step_summary_carry_the_checklist() {
    let gh = configured();
    gh.add_repo_secret(MANAGER, "FLEETFORM_ARTIFACT_KEY");
    let fx = common::Fixture::new();
    let summary = fx.path("summary.md");
    let r = doctor(
        &gh,
        &fx,
        &[
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
            ("GITHUB_ACTIONS", "true".into()),
        ],
        &["--json"],
    );
    assert_eq!(r.code, 5);
    let json_text: String = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::"))
        .collect::<Vec<_>>()
        .join("\n");
    let v: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(v["repo"], MANAGER);
    assert_eq!(v["must_failed"], 1);
    assert!(v["requests"].as_u64().unwrap() > 5);
    let failed: Vec<&Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["level"], "must");
    assert_eq!(failed[0]["what"], "repository secrets");
    for key in ["level", "result", "what", "found", "fix"] {
        assert!(failed[0].get(key).is_some(), "{key}");
    }
    // Under Actions the error is an annotation too (on stderr: stdout
    // holds the results).
    assert!(
        r.stderr.contains("::error::1 must check failed"),
        "{}",
        r.stderr
    );

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("## fleetform doctor: provider/manager"),
        "{md}"
    );
    assert!(
        md.contains("\n- ❌ fail (must) **repository secrets**: "),
        "{md}"
    );
    assert!(md.contains("; what to change, and where: "), "{md}");
    for secret in [common::DISPATCH_SECRET, common::ARTIFACT_KEY, gh.token()] {
        assert!(!md.contains(secret));
    }
}

#[test]
fn the_manager_token_reads_the_settings_and_the_other_the_customers() {
    let mut gh = configured();
    gh.set_token("ghp_managertoken0000000000000000000000000");
    gh.add_scoped_token("ghp_customers000000000000000000000000000", &CUSTOMERS);
    let fx = common::Fixture::new();
    let r = doctor(
        &gh,
        &fx,
        &[
            ("FLEETFORM_MANAGER_TOKEN", gh.token().to_string()),
            (
                "FLEETFORM_TOKEN",
                "ghp_customers000000000000000000000000000".into(),
            ),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "expiry of the manager token").1, "pass");
    assert_eq!(row(&r.stdout, "expiry of the customer token").1, "pass");
    for req in gh.requests() {
        let customer = CUSTOMERS
            .iter()
            .any(|c| req.path.starts_with(&format!("/repos/{c}")));
        assert_eq!(
            req.token() == Some("ghp_customers000000000000000000000000000"),
            customer,
            "{}",
            req.path
        );
    }
    gh.assert_clean();
}

#[test]
fn the_repo_defaults_to_github_repository_and_a_token_is_required() {
    let gh = configured();
    let fx = common::Fixture::new();
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_TOKEN", gh.token())
        .env("GITHUB_REPOSITORY", MANAGER)
        .arg("doctor")
        .output();
    common::assert_ok(&out);
    assert!(String::from_utf8_lossy(out.stdout.as_bytes()).contains("provider/manager: 38 checks"));

    let usage = |envs: &[(&str, &str)], args: &[&str]| {
        let out = common::Run::from(fx.fleetform())
            .env("GITHUB_API_URL", gh.api_url())
            .arg("doctor")
            .args(args)
            .envs(envs.iter().copied())
            .output();
        common::assert_code_for(format_args!("{envs:?} {args:?}"), &out, 2);
        out.stderr
    };
    assert!(usage(&[("GITHUB_TOKEN", gh.token())], &[]).contains("--repo owner/name"));
    assert!(usage(&[("GITHUB_TOKEN", gh.token())], &["--repo", "nope"]).contains("not owner/name"));
    assert!(usage(&[], &["--repo", MANAGER]).contains("no token"));
}

/// With a GitHub App configured, the App's installation on every active
/// customer's repo is a must: a repo it is not installed on fails.
#[test]
fn the_app_must_be_installed_on_every_customer_repo() {
    let gh = configured();
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app/test-app.pem"),
    )
    .unwrap();
    gh.register_app(77, &pem);
    gh.set_app_slug(77, "acme-provider-customer");
    gh.set_app_settings(
        77,
        customer_grant(),
        &["push", "pull_request", "issue_comment"],
        true,
    );
    gh.install_app(77, "acme-corp", &["acme-corp/acme-infra"]);
    let fx = common::Fixture::new();
    let app = [
        ("FLEETFORM_CUSTOMER_APP_ID", "77".to_string()),
        ("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", pem.clone()),
    ];
    let r = doctor(&gh, &fx, &app, &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        row(&r.stdout, "customer App on customer acme").1,
        "pass",
        "{}",
        r.stdout
    );
    assert_eq!(
        row(&r.stdout, "customer App on customer globex").1,
        "FAIL",
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("PRIVATE KEY") && !r.stderr.contains("PRIVATE KEY"));

    // globex grants the App every repository of its account: it works,
    // and doctor warns (#81 point 1: the installation's repository
    // selection).
    gh.install_app_on_every_repository(77, "globex", &["globex/globex-app"]);
    let r = doctor(&gh, &fx, &app, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (level, result, found) = row(&r.stdout, "customer App on customer globex");
    assert_eq!((level, result), ("should", "WARN"), "{}", r.stdout);
    assert!(
        found.starts_with("installed on every repository of globex"),
        "{found}"
    );
}

/// What the customer App may hold, exactly (`apps/customer-app.json`).
pub(crate) fn customer_grant() -> serde_json::Value {
    serde_json::json!({"contents": "read", "issues": "read", "metadata": "read", "pull_requests": "write", "statuses": "write", "deployments": "write"})
}

/// Adds `repo_id:` under each example customer's `repo:` in customers.yml:
/// the id GitHub gives that repo, or `ids`' for it.
pub(crate) fn register_repo_ids(fx: &common::Fixture, gh: &FakeGitHub, ids: &[(&str, u64)]) {
    let mut out = String::new();
    for line in fx.read("manager/customers.yml").lines() {
        out.push_str(line);
        out.push('\n');
        let Some(repo) = line.trim().strip_prefix("repo: ") else {
            continue;
        };
        if CUSTOMERS.contains(&repo) {
            let id = ids
                .iter()
                .find(|(r, _)| *r == repo)
                .map_or_else(|| gh.repo_id(repo), |(_, id)| *id);
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push_str(&format!("{indent}repo_id: {id}\n"));
        }
    }
    fx.write("manager/customers.yml", &out);
}

/// The schema lint runs in `doctor` too (issue #35): a typo in the
/// manager's schema is a located warning and a *should* row, exit 0;
/// `--strict` makes it a located error and a failed *must*, exit 5.
#[test]
fn the_schema_lint_warns_and_fails_with_strict() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let schema = fx.read("manager/schema/variables.schema.json");
    let typo = schema.replacen(
        "\"additionalProperties\": false",
        "\"additionalproperties\": false",
        1,
    );
    assert_ne!(typo, schema);
    fx.write("manager/schema/variables.schema.json", &typo);

    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        row(&r.stdout, "schema lint"),
        ("should", "WARN", "1 finding (said above, located)")
    );
    assert!(
        r.stderr.contains("warning: schema/variables.schema.json:")
            && r.stderr.contains("unknown keyword `additionalproperties` is ignored: did you mean `additionalProperties`?"),
        "{}",
        r.stderr
    );

    let r = doctor(&gh, &fx, &[], &["--strict"]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "schema lint").0, "must");
    assert_eq!(row(&r.stdout, "schema lint").1, "FAIL");
    assert!(
        r.stderr.contains("error: schema/variables.schema.json:")
            && r.stderr.contains("1 must check failed"),
        "{}",
        r.stderr
    );
}

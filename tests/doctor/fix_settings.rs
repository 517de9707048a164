//! The repository settings `doctor --fix` sets (#83 point 1): rulesets
//! locking every branch and every tag, `GITHUB_TOKEN`'s default
//! permissions and secret scanning with push protection, each through
//! GitHub's own endpoint (checked against the OpenAPI description and
//! the permission map) and only where doctor's row fails; a private
//! repository's secret scanning is left to the provider, and every
//! customer repo is reported in one row.

use crate::common;
use crate::doctor::fix::writes;
use crate::doctor::manager::{doctor, register_repo_ids, row, without_rulesets};
use crate::support::fake_github::SecretScanning;
use crate::support::readme_budgets::Budgets;
use crate::world::MANAGER;

const FIX: &str = "`doctor --fix`";

const ROWS: [&str; 5] = [
    "rulesets (branches)",
    "rulesets (tags)",
    "workflow permissions",
    "workflow approvals",
    "secret scanning",
];

#[test]
fn fix_sets_rulesets_workflow_permissions_and_secret_scanning_once() {
    let gh = without_rulesets();
    gh.set_private(MANAGER, false);
    gh.set_workflow_permissions(MANAGER, "write", true);
    gh.set_secret_scanning(MANAGER, SecretScanning::default());
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);

    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(row(&r.stdout, "secret scanning").2, "off", "{}", r.stdout);
    for what in ROWS {
        assert_ne!(row(&r.stdout, what).1, "pass", "{what}\n{}", r.stdout);
    }

    let r = doctor(&gh, &fx, &[], &["--fix"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "create ruleset `fleetform: lock every branch`: active on every branch, restricting creation, update and deletion; the repository's admins may bypass it  [doctor: rulesets (branches)]",
        "create ruleset `fleetform: lock every tag`: active on every tag, restricting creation, update and deletion; the repository's admins may bypass it  [doctor: rulesets (tags)]",
        "set the workflow permissions: GITHUB_TOKEN reads by default, and GitHub Actions may not approve pull requests  [doctor: workflow permissions, workflow approvals]",
        "turn on secret scanning and push protection  [doctor: secret scanning]",
        "4 changes planned, nothing changed",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));

    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        writes(&gh).len(),
        4 * Budgets::from_book().n(FIX, " write per repository setting"),
        "{:?}",
        writes(&gh)
    );
    let rulesets = gh.rulesets(MANAGER);
    assert_eq!(rulesets.len(), 2);
    for r in &rulesets {
        assert_eq!(
            (r.enforcement.as_str(), &r.include[..]),
            ("active", &["~ALL".to_string()][..])
        );
        assert_eq!(r.rules, ["creation", "update", "deletion"]);
    }
    assert_eq!(
        gh.workflow_permissions(MANAGER),
        ("read".to_string(), false)
    );
    assert_eq!(
        gh.secret_scanning(MANAGER),
        SecretScanning {
            scanning: true,
            push_protection: true
        }
    );
    let audit = fx.read("manager/.fleetform/audit.jsonl");
    // The run's intent first, then each change.
    let kept = |result: &str| {
        audit
            .lines()
            .filter(|l| {
                l.contains("\"doctor-fix\"") && l.contains(&format!("\"result\":\"{result}\""))
            })
            .count()
    };
    assert_eq!((kept("started"), kept("applied")), (1, 4), "{audit}");

    let r = doctor(&gh, &fx, &[], &[]);
    for what in ROWS {
        assert_eq!(row(&r.stdout, what).1, "pass", "{what}\n{}", r.stdout);
    }
    let before = writes(&gh).len();
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);
    assert_eq!(writes(&gh).len(), before);
    gh.assert_clean();
}

/// On a private repository GitHub offers secret scanning with GitHub
/// Secret Protection only: left to the provider, said why. The customer
/// repos are one row, naming those with it off.
#[test]
fn a_private_repos_secret_scanning_is_left_and_customers_are_one_row() {
    let gh = without_rulesets();
    gh.set_private(MANAGER, true);
    gh.set_secret_scanning(MANAGER, SecretScanning::default());
    gh.set_secret_scanning(
        crate::doctor::manager::CUSTOMERS[1],
        SecretScanning::default(),
    );
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "left for you: secret scanning on a private repository needs GitHub Secret Protection"
        ),
        "{}",
        r.stdout
    );
    assert!(
        !writes(&gh).iter().any(|w| w.starts_with("PATCH")),
        "{:?}",
        writes(&gh)
    );
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, verdict, found) = row(&r.stdout, "secret scanning (customer repos)");
    assert_eq!(verdict, "WARN", "{}", r.stdout);
    assert!(
        found.starts_with("off, or without push protection, on "),
        "{found}"
    );
}

/// The repository variables fleetform.yml gives the values of, where
/// the deploy workflow reads them: the engine version (a value other
/// than `terraform.version` makes the jobs install another Terraform)
/// and the records' region; the records role's ARN is left.
#[test]
fn fix_sets_the_variables_fleetform_yml_pins_and_leaves_the_role() {
    let gh = crate::doctor::manager::configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/manager-deploy.yml"),
    )
    .unwrap();
    fx.write("manager/.github/workflows/deploy.yml", &template);
    // The records in a bucket (moto's), which keeps what --fix records.
    let moto = crate::moto::Moto::start();
    assert!(crate::moto::curl(&moto.url("/provider-records"), "PUT").is_some());
    let yml = fx.read("manager/fleetform.yml").replace(
        "records:\n  kind: local\n  dir: .fleetform/records\n",
        &format!(
            "records:\n  kind: s3\n  bucket: provider-records\n  region: eu-west-1\n  prefix: fleetform/records\n  endpoint: {}\n  use_path_style: true\n",
            moto.url("").trim_end_matches('/')
        ),
    );
    let aws = [
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
    ];
    let yml = yml.replace(
        "  engine: terraform\n",
        "  engine: terraform\n  version: \"1.11.4\"\n",
    );
    fx.write("manager/fleetform.yml", &yml);
    gh.add_repo_variable(MANAGER, "FLEETFORM_TERRAFORM_VERSION");
    gh.set_variable(MANAGER, None, "FLEETFORM_TERRAFORM_VERSION", "1.10.0");

    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "engine version");
    assert_eq!(result, "WARN", "{}\n{}", r.stdout, r.stderr);
    assert!(found.contains("holds `1.10.0`"), "{found}");

    let sent = gh.requests().len();
    let r = doctor(&gh, &fx, &aws, &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The run's intent and its two changes, kept in the bucket.
    let kept = moto.keys_in("provider-records");
    assert_eq!(
        kept.iter()
            .filter(|k| k.starts_with("fleetform/records/audit/"))
            .count(),
        3,
        "{kept:?}"
    );
    let listed = gh.requests()[sent..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/actions/variables"))
        .count();
    assert_eq!(
        listed,
        Budgets::from_book().n(FIX, " per 30 repository variables")
    );
    for want in [
        "done: set the repository variable FLEETFORM_TERRAFORM_VERSION to `1.11.4` (fleetform.yml's terraform.version; it holds `1.10.0` now)  [doctor: engine version]",
        "done: set the repository variable FLEETFORM_RECORDS_REGION to `eu-west-1` (fleetform.yml's records.region; it is not set now)  [doctor: records variables]",
        "left for you: the repository variable FLEETFORM_RECORDS_WRITE_ROLE",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    assert_eq!(
        writes(&gh),
        [
            "PATCH /repos/provider/manager/actions/variables/FLEETFORM_TERRAFORM_VERSION",
            "POST /repos/provider/manager/actions/variables",
        ]
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(row(&r.stdout, "engine version").1, "pass", "{}", r.stdout);
    let (_, _, found) = row(&r.stdout, "records variables");
    assert_eq!(
        found,
        "missing FLEETFORM_RECORDS_WRITE_ROLE: .github/workflows/deploy.yml's jobs cannot assume the records role"
    );
    gh.add_repo_variable(MANAGER, "FLEETFORM_RECORDS_WRITE_ROLE");
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "records variables").1,
        "pass",
        "{}",
        r.stdout
    );
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);

    // Named in fleetform.yml, the roles are set too, and held to it.
    let writer = "arn:aws:iam::123456789012:role/fleetform-records";
    let reader = "arn:aws:iam::123456789012:role/fleetform-records-read";
    fx.write(
        "manager/fleetform.yml",
        &fx.read("manager/fleetform.yml").replace(
            "  prefix: fleetform/records\n  endpoint: ",
            &format!(
                "  prefix: fleetform/records\n  write_role: {writer}\n  read_role: {reader}\n  endpoint: "
            ),
        ),
    );
    let r = doctor(&gh, &fx, &aws, &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        format!("done: set the repository variable FLEETFORM_RECORDS_WRITE_ROLE to `{writer}` (fleetform.yml's records.write_role"),
        format!("done: set the repository variable FLEETFORM_RECORDS_READ_ROLE to `{reader}` (fleetform.yml's records.read_role"),
    ] {
        assert!(r.stdout.contains(&want), "{want}:\n{}", r.stdout);
    }
    gh.set_variable(
        MANAGER,
        None,
        "FLEETFORM_RECORDS_WRITE_ROLE",
        "arn:aws:iam::1:role/other",
    );
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "records variables");
    assert_eq!(result, "FAIL", "{}", r.stdout);
    assert!(
        found.contains("but fleetform.yml's records.write_role is"),
        "{found}"
    );
    gh.assert_clean();
}

/// Required reviewers who may approve their own runs: "prevent
/// self-review" is ticked, the reviewers sent back as they were.
#[test]
fn fix_prevents_self_review_keeping_the_reviewers() {
    let gh = crate::doctor::manager::configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    // Open to every branch too: restricted, then reviewed, each write
    // sending back what the other sets (GitHub's page does not say what
    // a field left out of "Create or update an environment" becomes).
    let mut e = gh.environment(MANAGER, "production-apply").unwrap();
    e.prevent_self_review = false;
    e.branch_policy = crate::support::fake_github::BranchPolicy::Any;
    gh.set_environment(MANAGER, "production-apply", e);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(row(&r.stdout, "self-review production-apply").1, "WARN");

    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("done: restrict environment production-apply"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("done: tick \"Prevent self-review\" on environment production-apply, its required reviewers kept  [doctor: self-review production-apply]"),
        "{}",
        r.stdout
    );
    let e = gh.environment(MANAGER, "production-apply").unwrap();
    assert!(e.prevent_self_review);
    assert_eq!(e.reviewers, ["alice"]);
    assert_eq!(
        e.branch_policy,
        crate::support::fake_github::BranchPolicy::Custom(vec![("main".into(), "branch".into())])
    );
    let puts: Vec<serde_json::Value> = gh
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/environments/production-apply"))
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    for body in &puts {
        assert_eq!(
            body["reviewers"].as_array().map(Vec::len),
            Some(1),
            "{body}"
        );
        assert_eq!(
            body["deployment_branch_policy"]["custom_branch_policies"], true,
            "{body}"
        );
    }
    let r = doctor(&gh, &fx, &[], &[]);
    assert!(
        !r.stdout.contains("self-review production-apply"),
        "{}",
        r.stdout
    );
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);
    gh.assert_clean();
}

/// Where doctor wants required reviewers and finds none (here
/// `impact-plan`, which a workflow plans pull requests in), the users of
/// `approvals:` who have access to the repository become its reviewers,
/// with "prevent self-review"; on a private repository of a plan without
/// them GitHub refuses, and fix says so and goes on.
#[test]
fn fix_names_the_approvers_as_reviewers_where_doctor_wants_some() {
    let gh = crate::doctor::manager::configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    fx.write(
        "manager/.github/workflows/pr.yml",
        "on: pull_request\npermissions: {}\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    environment: impact-plan\n    steps:\n      - run: echo\n",
    );
    fx.append(
        "manager/fleetform.yml",
        "\napprovals:\n  production:\n    users: [alice, nobody-here]\n",
    );
    gh.add_collaborator(MANAGER, "alice", "direct");
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "done: create environment impact-plan, deployable from the default branch `main` only  [doctor: reviewers impact-plan]",
        "done: set required reviewers alice (who `approvals:` names in fleetform.yml) with \"Prevent self-review\" on environment impact-plan  [doctor: reviewers impact-plan]",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    let e = gh.environment(MANAGER, "impact-plan").unwrap();
    assert_eq!(e.reviewers, ["alice"]);
    assert!(e.prevent_self_review);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "reviewers impact-plan").1,
        "pass",
        "{}",
        r.stdout
    );
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);

    // A private repository of an organisation on Team: GitHub refuses.
    let gh = crate::doctor::manager::configured();
    gh.set_private(MANAGER, true);
    gh.set_account_plan("provider", "team", true);
    gh.add_collaborator(MANAGER, "alice", "direct");
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("not set: set required reviewers alice")
            && r.stderr.contains("need GitHub Enterprise"),
        "{}",
        r.stderr
    );
    assert!(gh
        .environment(MANAGER, "impact-plan")
        .unwrap()
        .reviewers
        .is_empty());
}

/// The teams of `approvals:` with access to the repository become
/// reviewers too (GitHub's reviewers are users or teams with access);
/// a team without access is left out, and a second run changes nothing.
#[test]
fn fix_names_the_approving_teams_with_access_as_reviewers() {
    let gh = crate::doctor::manager::configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    fx.write(
        "manager/.github/workflows/pr.yml",
        "on: pull_request\npermissions: {}\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    environment: impact-plan\n    steps:\n      - run: echo\n",
    );
    fx.append(
        "manager/fleetform.yml",
        "\napprovals:\n  production:\n    teams: [provider/ops, provider/outsiders]\n",
    );
    gh.add_team("provider", "ops", 4711, &[MANAGER]);
    gh.add_team("provider", "outsiders", 4712, &[]);
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let want = "done: set required reviewers provider/ops (who `approvals:` names in fleetform.yml) with \"Prevent self-review\" on environment impact-plan  [doctor: reviewers impact-plan]";
    assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    let e = gh.environment(MANAGER, "impact-plan").unwrap();
    assert_eq!(e.reviewers, ["team:provider/ops"]);
    assert!(e.prevent_self_review);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "reviewers impact-plan").1,
        "pass",
        "{}",
        r.stdout
    );
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);
    gh.assert_clean();
}

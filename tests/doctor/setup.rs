//! `fleetform doctor` on whether the set-up can be made at all, against
//! the fake GitHub: a private manager repo on GitHub Free (the plan shown
//! to an owner, or GitHub refusing the rulesets for the plan) fails; and a
//! checkout with the deploy workflow needs records in a bucket, written
//! with their own credential when the jobs hold a customer's role.

use crate::common;
use crate::doctor::manager::{configured, doctor, register_repo_ids, row, MANAGER};

const UPGRADE: &str = "Upgrade to GitHub Pro or make this repository public";

/// The plan row of a run against `gh`, and its exit code.
fn plan_row(gh: &crate::support::fake_github::FakeGitHub) -> (i32, String, String) {
    let fx = common::Fixture::new();
    register_repo_ids(&fx, gh, &[]);
    let r = doctor(gh, &fx, &[], &[]);
    let (level, result, found) = row(&r.stdout, "GitHub plan");
    assert_eq!(level, "must", "{}", r.stdout);
    (r.code, result.to_string(), found.to_string())
}

/// A private manager repo of an organisation on GitHub Free cannot hold
/// environments, their secrets, branch policies or rulesets: a must that
/// fails, whether GitHub shows the plan or only refuses the feature.
#[test]
fn a_private_manager_on_github_free_fails() {
    let gh = configured();
    gh.set_private(MANAGER, true);
    gh.set_account_plan("provider", "free", true);
    let (code, result, found) = plan_row(&gh);
    assert_eq!((code, result.as_str()), (5, "FAIL"), "{found}");
    assert!(found.contains("GitHub Free"), "{found}");

    // The plan hidden from this token: GitHub's refusal of the rulesets.
    gh.set_account_plan("provider", "free", false);
    let (code, result, found) = plan_row(&gh);
    assert_eq!((code, result.as_str()), (5, "FAIL"), "{found}");
    assert!(found.contains(UPGRADE), "{found}");
    gh.assert_clean();
}

/// The same repository is fine on a paid plan, and a public one on any.
#[test]
fn a_paid_plan_or_a_public_repo_passes() {
    let gh = configured();
    gh.set_private(MANAGER, true);
    gh.set_account_plan("provider", "team", true);
    let (code, result, found) = plan_row(&gh);
    assert_eq!((code, result.as_str()), (0, "pass"), "{found}");
    assert!(found.contains("`team`"), "{found}");

    let gh = configured();
    gh.set_account_plan("provider", "free", true);
    let (code, result, found) = plan_row(&gh);
    assert_eq!((code, result.as_str()), (0, "pass"), "{found}");
    assert!(found.contains("public repository"), "{found}");
    gh.assert_clean();
}

/// The deploy workflow in the checkout with records in a folder of the
/// runner fails; a bucket passes, once the records role's repository
/// variables are set; with `identity:` a deploy workflow that gives
/// fleetform no records credential of its own fails.
#[test]
fn the_deploy_workflow_needs_records_of_its_own() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    // No deploy workflow in the checkout: no records row.
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(!r.stdout.contains("records"), "{}", r.stdout);

    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/manager-deploy.yml"),
    )
    .unwrap();
    fx.write("manager/.github/workflows/deploy.yml", &template);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "records");
    assert_eq!((level, result), ("must", "FAIL"), "{found}");
    assert!(found.contains(".github/workflows/deploy.yml"), "{found}");
    assert!(found.contains("vanish with the runner"), "{found}");
    // Issue #54: the failure says how to fix it.
    let fixes = r.stdout.split("\nHow to fix:\n").nth(1).unwrap_or_default();
    assert!(
        fixes
            .lines()
            .any(|l| l.starts_with("  must records: set `records: {kind: s3")),
        "no \"How to fix\" line for records:\n{}",
        r.stdout
    );

    let yml = fx.read("manager/fleetform.yml").replace(
        "records:\n  kind: local\n  dir: .fleetform/records\n",
        "records:\n  kind: s3\n  bucket: provider-records\n  region: eu-west-1\n  prefix: fleetform/records\n",
    );
    assert!(yml.contains("provider-records"));
    fx.write("manager/fleetform.yml", &yml);
    // The records role's repository variables are missing: its jobs could
    // not assume the role.
    gh.add_repo_variable("provider/manager", "FLEETFORM_RECORDS_REGION");
    gh.set_variable(
        "provider/manager",
        None,
        "FLEETFORM_RECORDS_REGION",
        "eu-west-1",
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "records").1, "pass", "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "records variables");
    assert_eq!((level, result), ("must", "FAIL"), "{found}");
    assert!(
        found.starts_with("missing FLEETFORM_RECORDS_WRITE_ROLE:"),
        "{found}"
    );
    gh.add_repo_variable("provider/manager", "FLEETFORM_RECORDS_WRITE_ROLE");
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "records variables").1, "pass");
    // A region other than the bucket's: the jobs would look for the role
    // and the bucket elsewhere.
    gh.set_variable(
        "provider/manager",
        None,
        "FLEETFORM_RECORDS_REGION",
        "us-east-1",
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (_, result, found) = row(&r.stdout, "records variables");
    assert_eq!(
        (result, found),
        (
            "FAIL",
            "FLEETFORM_RECORDS_REGION holds `us-east-1`, but fleetform.yml's records.region is `eu-west-1`"
        )
    );
    gh.set_variable(
        "provider/manager",
        None,
        "FLEETFORM_RECORDS_REGION",
        "eu-west-1",
    );

    // With identity: the template passes; a copy without the records'
    // own credential fails.
    fx.append(
        "manager/fleetform.yml",
        "identity:\n  aws:\n    plan_role: \"arn:aws:iam::{account}:role/{customer}-plan\"\n    apply_role: \"arn:aws:iam::{account}:role/{customer}-apply\"\n    region: eu-west-1\n",
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "records").1,
        "pass",
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let without: String = template
        .lines()
        .filter(|l| !l.contains("FLEETFORM_RECORDS_AWS_"))
        .map(|l| format!("{l}\n"))
        .collect();
    fx.write("manager/.github/workflows/deploy.yml", &without);
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "records");
    assert_eq!(result, "FAIL", "{}", r.stdout);
    assert!(found.contains("customer's role"), "{found}");
    gh.assert_clean();
}

/// Behind a relay that batches (`relay.batch`, 32 by default) the
/// manager must have `.github/workflows/manager-batch.yml` running the
/// batches: without it, or under another name the relay does not look
/// for, doctor fails; `relay.batch: 1` needs none.
#[test]
fn a_batching_relay_needs_the_batch_workflow() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    fx.append(
        "manager/fleetform.yml",
        &format!("\nrelay:\n  app_slug: provider-manager\n  manager_repo: {MANAGER}\n"),
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (level, result, found) = row(&r.stdout, "batch dispatches");
    assert_eq!((level, result), ("must", "FAIL"), "{found}");
    assert!(found.contains("`relay.batch: 32` (the default)"), "{found}");

    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/manager-batch.yml"),
    )
    .unwrap();
    fx.write("manager/.github/workflows/batches.yml", &template);
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "batch dispatches");
    assert_eq!(result, "FAIL", "{}", r.stdout);
    assert!(found.contains("under another name"), "{found}");

    std::fs::remove_file(fx.path("manager/.github/workflows/batches.yml")).unwrap();
    fx.write("manager/.github/workflows/manager-batch.yml", &template);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(row(&r.stdout, "batch dispatches").1, "pass", "{}", r.stdout);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    std::fs::remove_file(fx.path("manager/.github/workflows/manager-batch.yml")).unwrap();
    fx.append("manager/fleetform.yml", "  batch: 1\n");
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "batch dispatches");
    assert_eq!(result, "pass", "{}", r.stdout);
    assert!(found.contains("every event alone"), "{found}");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    gh.assert_clean();
}

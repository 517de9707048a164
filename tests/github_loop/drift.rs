//! Drift issues opened, updated and closed through the GitHub loop, and
//! an apply's dry run.

use crate::common;
use crate::world;

use common::{stderr, stdout};
use serde_json::json;

use world::{ok, World, ACME, MANAGER};

/// The manager's scheduled drift of acme/staging with issues, not run yet.
fn acme_drift_step(w: &mut World) -> (assert_cmd::Command, world::StepFiles) {
    let (mut cmd, files) = w.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
    cmd.args([
        "drift",
        "--customer",
        "acme",
        "--env",
        "staging",
        "--issues",
        "--manager-repo",
        MANAGER,
    ]);
    (cmd, files)
}

/// Drift with sticky issues in the manager repo: opened on drift, updated
/// (not duplicated) while it lasts, closed with a comment when it is gone.
#[test]
fn drift_issues_open_update_and_close() {
    let mut w = World::new();
    let run = |w: &mut World| {
        let (cmd, files) = acme_drift_step(w);
        (common::Run::from(cmd).output(), files)
    };
    // Nothing applied yet: never applied, which is no drift.
    let (out, files) = run(&mut w);
    ok(&out);
    assert_eq!(files.outputs()["drifted"], "0");
    assert!(w.gh.issues(MANAGER).is_empty());
    // Applied, then the customer's values change: drift.
    let apply = |w: &mut World| {
        common::apply_locally(&w.fx, "acme", "staging");
    };
    apply(&mut w);
    let v =
        w.fx.read("customers/acme/infra/variables.yml")
            .replace("max_instances: 2", "max_instances: 5");
    w.fx.write("customers/acme/infra/variables.yml", &v);
    // Not drift in the cloud but edits not applied yet (issue #52): exit
    // 0, counted apart, and the customer's issue kept all the same.
    let (out, files) = run(&mut w);
    ok(&out);
    assert_eq!(files.outputs()["drifted"], "0");
    assert_eq!(files.outputs()["unapplied"], "1");
    let issues = w.gh.issues(MANAGER);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].title, "Not applied yet: acme");
    assert_eq!(issues[0].labels, ["fleetform-drift"]);
    let before = w.gh.requests().len();
    let (out, _) = run(&mut w);
    ok(&out);
    assert_eq!(w.gh.issues(MANAGER).len(), 1, "updated, not duplicated");
    // The same drift, found by another run: the issue is not rewritten
    // only to name the newer run.
    let writes: Vec<_> = w.gh.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // The drift changes (the instance type drifts too, a second resource):
    // the issue is updated in place, one write, its body showing it.
    let number = w.gh.issues(MANAGER)[0].number;
    let body_before = w.gh.issues(MANAGER)[0].body.clone().unwrap_or_default();
    assert!(body_before.contains("1 to change"), "{body_before}");
    let v = w.fx.read("customers/acme/infra/variables.yml").replacen(
        "instance_type: t3.micro",
        "instance_type: t3.large",
        1,
    );
    w.fx.write("customers/acme/infra/variables.yml", &v);
    let before = w.gh.requests().len();
    let (out, _) = run(&mut w);
    ok(&out);
    let writes: Vec<_> = w.gh.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        writes,
        [format!("PATCH /repos/{MANAGER}/issues/{number}")],
        "updated, not duplicated"
    );
    let issues = w.gh.issues(MANAGER);
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.clone().unwrap_or_default();
    assert!(body.contains("Plan: 0 to add, 2 to change"), "{body}");
    assert_eq!(issues[0].state, "open");

    // Apply the change locally, then drift is gone and the issue closes.
    apply(&mut w);
    w.gh.reset_counters();
    let (out, files) = run(&mut w);
    ok(&out);
    assert_eq!(files.outputs()["drifted"], "0");
    let issues = w.gh.issues(MANAGER);
    assert_eq!(issues[0].state, "closed");
    let comments = w.gh.comments(MANAGER, issues[0].number);
    assert!(comments.last().unwrap().body.contains("The drift is gone"));
    assert!(
        w.gh.request_count() <= 4,
        "list + its comments + note + close: {}",
        w.gh.request_count()
    );
    w.gh.assert_clean();
}

/// `apply --dry-run` makes every check and applies nothing.
#[test]
fn apply_dry_run_checks_and_applies_nothing() {
    let mut w = World::new();
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (_, files) = w.merge_and_plan(pr);
    let digest = files.outputs()["plan_sha256"].clone();
    w.gh.reset_counters();
    let d = w.last_dispatch();
    let (cmd, _) = w.apply_step(&d, "staging", &digest);
    let out = common::Run::from(cmd).arg("--dry-run").output();
    ok(&out);
    assert!(
        stdout(&out).contains("dry run: every check passed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.gh.write_count(), 0);
    assert!(!w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .exists());
}

/// Drift issues go to the manager repo with the job's own token
/// (`FLEETFORM_ISSUES_TOKEN`); the customer repos are read with
/// `FLEETFORM_TOKEN`, a fine-grained token that cannot reach the manager
/// repo (one owner per token).
#[test]
fn drift_issues_use_the_issues_token() {
    let mut w = World::new();
    let customers_only = "github_pat_customers_only_0123456789";
    let manager_only = "ghs_manager_job_token_0123456789";
    w.gh.add_scoped_token(customers_only, &[ACME, "globex/globex-app"]);
    w.gh.add_scoped_token(manager_only, &[MANAGER]);
    // Drift: acme's staging applied, then its values changed (a pair never
    // applied is no drift).
    common::apply_locally(&w.fx, "acme", "staging");
    let v =
        w.fx.read("customers/acme/infra/variables.yml")
            .replace("max_instances: 2", "max_instances: 5");
    w.fx.write("customers/acme/infra/variables.yml", &v);
    let out = common::Run::from(acme_drift_step(&mut w).0)
        .env("FLEETFORM_TOKEN", customers_only)
        .env("FLEETFORM_ISSUES_TOKEN", manager_only)
        .output();
    ok(&out);
    assert_eq!(
        w.gh.issues(MANAGER).len(),
        1,
        "opened with the issues token"
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.lines()
            .filter(|l| l.contains(manager_only))
            .all(|l| l.starts_with("::add-mask::")),
        "the token is only registered as a mask: {all}"
    );
    w.gh.assert_clean();
}

/// A scheduled `drift --env staging --issues` of `customers` (none: the
/// fleet) with `writes_per_hour` of GitHub's write budget.
fn drift_issues(w: &mut World, customers: &[&str], writes_per_hour: &str) -> common::Ran {
    let (cmd, _) = w.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
    common::Run::from(cmd)
        .env("FLEETFORM_GITHUB_WRITES_PER_HOUR", writes_per_hour)
        .args(["drift", "--env", "staging"])
        .args(customers)
        .args(["--issues", "--manager-repo", MANAGER])
        .output()
}

/// acme's staging applied, then its values changed: the variables file
/// and its applied text.
fn acme_staging_drifts(w: &World) -> (&'static str, String) {
    common::apply_locally(&w.fx, "acme", "staging");
    let file = "customers/acme/infra/variables.yml";
    let v = w.fx.read(file);
    w.fx.write(file, &v.replace("max_instances: 2", "max_instances: 5"));
    (file, v)
}

/// A close is a note and a state change: when the state change does not
/// fit the hour's writes, the next run closes the issue without writing
/// the note again.
#[test]
fn a_deferred_close_does_not_write_its_note_twice() {
    let mut w = World::new();
    let run = |w: &mut World, writes_per_hour: &str| {
        drift_issues(w, &["--customer", "acme"], writes_per_hour)
    };
    let (file, v) = acme_staging_drifts(&w);
    assert_eq!(
        run(&mut w, "500").code,
        Some(0),
        "edits not applied: no drift"
    );
    w.fx.write(file, &v);
    common::apply_locally(&w.fx, "acme", "staging");

    run(&mut w, "1");
    let issue = &w.gh.issues(MANAGER)[0];
    assert_eq!(issue.state, "open", "the state change did not fit");
    run(&mut w, "500");
    let issue = &w.gh.issues(MANAGER)[0];
    assert_eq!(issue.state, "closed");
    let notes = w.gh.comments(MANAGER, issue.number);
    let gone = notes
        .iter()
        .filter(|c| c.body.contains("The drift is gone"));
    assert_eq!(gone.count(), 1, "{notes:?}");
    w.gh.assert_clean();
}

/// A drift run over the whole fleet closes the issue of a customer the
/// registry no longer has active (revoked, offboarded): nothing would
/// check it again. A run over some customers leaves it.
#[test]
fn the_drift_issue_of_a_revoked_customer_is_closed_by_a_run_over_the_fleet() {
    let mut w = World::new();
    let run = |w: &mut World, customers: &[&str]| drift_issues(w, customers, "500");
    acme_staging_drifts(&w);
    assert_eq!(run(&mut w, &["--customer", "acme"]).code, Some(0));
    assert_eq!(w.gh.issues(MANAGER)[0].state, "open");

    let revoked = w.fx.read("manager/customers.yml").replacen(
        "    status: active\n    added: 2026-01-15\n",
        "    status: revoked\n    added: 2026-01-15\n    revoked:\n      date: 2026-11-01\n      reason: contract ended\n",
        1,
    );
    assert!(revoked.contains("status: revoked\n    added: 2026-01-15"));
    w.fx.write("manager/customers.yml", &revoked);
    run(&mut w, &["--customer", "globex"]);
    assert_eq!(
        w.gh.issues(MANAGER)[0].state,
        "open",
        "not a run over the fleet"
    );
    run(&mut w, &[]);
    let issue = &w.gh.issues(MANAGER)[0];
    assert_eq!(issue.state, "closed");
    let notes = w.gh.comments(MANAGER, issue.number);
    assert!(
        notes
            .last()
            .unwrap()
            .body
            .contains("no longer an active customer"),
        "{notes:?}"
    );
    w.gh.assert_clean();
}

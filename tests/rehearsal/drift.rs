//! Drift and its repair, as the drift workflow's header tells a provider
//! to set it up: the manager's root module on the test cloud with its
//! state in a bucket (S3 on moto), both customers applied; then, outside
//! Terraform, acme's staging bucket loses its versioning. The scheduled
//! run of `manager-drift.yml` shards the fleet, plans every pair with the
//! customer App's token for each repository, merges the shards' reports
//! into one drift issue per drifted customer in the manager repo, plans
//! the repair (`drift.repair: {staging: repair}`) in `staging-plan` and
//! applies it in `staging-apply` after a reviewer who is not the
//! schedule's actor; the next run finds no drift and closes the issue.
//! Every job runs with only what its environment holds, every request
//! meets the strict fake.

use serde_json::json;

use super::on_cloud::OnCloud;
use crate::fakecloud;
use crate::support::actions_runner::{Event, WorkflowRun};
use crate::world::MANAGER;

/// The book's repair policy for staging (README, "Repairs by policy"),
/// and the operators team whose members control repairs and rollouts.
const POLICY: &str = "
drift:
  repair:
    staging: repair
rollout:
  operators: provider/operators
";

/// The drift workflow's run on its schedule; its actor is the user
/// GitHub ties the schedule to.
fn scheduled() -> Event {
    Event {
        name: "schedule".into(),
        payload: json!({"schedule": "17 6 * * 1-5"}),
        git_ref: "refs/heads/main".into(),
        actor: "provider-admin".into(),
        inputs: json!(null),
    }
}

fn bucket_versioning(c: &OnCloud, name: &str) -> Option<bool> {
    c.object(name).and_then(|v| v["versioning"].as_bool())
}

fn drift_run(c: &mut OnCloud) -> WorkflowRun {
    c.runner
        .run(&c.w.gh, "workflows/manager-drift.yml", &scheduled())
}

#[test]
fn drift_is_reported_and_repaired_through_the_drift_workflow() {
    let mut c = OnCloud::applied(POLICY);
    // Outside Terraform: acme's staging bucket loses its versioning.
    fakecloud::versioning_off(&c.w.fx.path("cloud.json"), "acme-staging");
    assert_eq!(bucket_versioning(&c, "acme-staging-logs"), Some(false));

    c.runner.approve("staging-apply", "provider-lead");
    let run = drift_run(&mut c);
    run.assert_succeeded(&["matrix", "drift", "repair-plan", "repair-apply"]);
    // The issues job writes the issues, then fails the run on drift (the
    // drift action's `fail-on-drift`, default true): GitHub tells the
    // schedule's user.
    let issues_job = run.job("issues");
    assert_eq!(issues_job.result, "failure");
    assert!(
        issues_job
            .log
            .contains("drift in 1 of 4 customer × environment pairs"),
        "{}",
        issues_job.log
    );
    assert!(
        run.job("repair-apply")
            .log
            .contains("acme/staging  applied"),
        "{}",
        run.job("repair-apply").log
    );
    let issues = c.w.gh.issues(MANAGER);
    assert!(
        issues.iter().any(|i| i.title.contains("acme")),
        "a drift issue for acme: {issues:?}"
    );
    assert!(
        !issues.iter().any(|i| i.title.contains("globex")),
        "{issues:?}"
    );
    assert_eq!(bucket_versioning(&c, "acme-staging-logs"), Some(true));
    // The repair is a deployment of acme's, written with the customer App.
    let deployments = c.w.gh.deployments(crate::world::ACME);
    assert!(
        deployments.iter().any(|d| d.environment == "staging"),
        "{deployments:?}"
    );

    // The next morning: no drift, the issue is closed, nothing to repair.
    let next = drift_run(&mut c);
    next.assert_succeeded(&["matrix", "drift", "issues"]);
    for job in ["repair-plan", "repair-apply"] {
        assert_eq!(next.job(job).result, "skipped", "{job}");
    }
    let issues = c.w.gh.issues(MANAGER);
    assert!(
        issues
            .iter()
            .filter(|i| i.title.contains("acme"))
            .all(|i| i.state == "closed"),
        "{issues:?}"
    );
    c.w.gh.assert_clean();
}

//! The customer's commit statuses tell the truth: an apply dispatch's plan
//! is `pending` ("planned, waiting for apply") until the apply reports, and
//! the combined status is the worst of all environments whoever writes it
//! last.

use crate::support;
use crate::world;

use support::fake_github::Fault;

use world::{ok, World, ACME, MANAGER};

const CONTEXT: &str = "infra/terraform-deploy";

#[test]
fn an_apply_dispatchs_plan_is_pending_until_the_apply() {
    let mut w = World::new();
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let sha = w.gh.merge_pr(ACME, pr);
    let (out, _) = w.trigger_push(ACME, &sha, "Merge pull request #1\n\nMore instances");
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-apply");

    let (out, files) = w.plan_latest("staging");
    ok(&out);
    assert_eq!(files.outputs()["has_changes"], "true");
    let staging = staging_status(&w, &sha);
    assert_eq!(
        staging.state, "pending",
        "nothing is applied yet: {staging:?}"
    );
    assert!(
        staging
            .description
            .as_deref()
            .unwrap()
            .ends_with("planned, waiting for apply"),
        "{staging:?}"
    );
    let combined = w.gh.status_of(ACME, &sha, CONTEXT).unwrap();
    assert_eq!(combined.state, "pending", "{combined:?}");

    let digest = files.outputs()["plan_sha256"].clone();
    let (out, _) = w.apply_latest("staging", &digest);
    ok(&out);
    let staging = staging_status(&w, &sha);
    assert_eq!(staging.state, "success", "{staging:?}");
    w.gh.assert_clean();
}

/// The staging status of acme's commit `sha`.
fn staging_status(w: &World, sha: &str) -> support::fake_github::Status {
    w.gh.status_of(ACME, sha, &format!("{CONTEXT}/staging"))
        .unwrap()
}

#[test]
fn a_pull_requests_plan_is_its_own_result() {
    let mut w = World::new();
    let sha = w.pr_planned_in_staging();
    let staging = staging_status(&w, &sha);
    assert_eq!(staging.state, "success", "{staging:?}");
    w.gh.assert_clean();
}

/// Two environment jobs interleave: production's job reads the combined
/// status before staging's own `success` is visible (staging's job wrote
/// it and its combined `success` meanwhile), then writes its combined
/// status last. The last writer must still leave the worst state of all
/// environments as GitHub holds them: `success`, not the `pending` of its
/// stale read.
#[test]
fn the_last_combined_write_holds_the_worst_of_every_environment() {
    let mut w = World::new();
    let sha = w.pr_planned_in_staging();
    let staging = staging_status(&w, &sha);
    assert_eq!(staging.state, "success");
    // Production's first read of the combined status is the view from
    // before staging's write.
    let stale = serde_json::json!({
        "state": "pending",
        "sha": sha,
        "total_count": 1,
        "statuses": [{
            "context": format!("{CONTEXT}/staging"),
            "state": "pending",
            "description": "queued in manager",
        }],
    });
    w.gh.inject_matching(
        "GET",
        &format!("/commits/{sha}/status"),
        Fault::Status {
            code: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: stale.to_string(),
        },
    );
    let (out, _) = w.plan_latest("production");
    ok(&out);
    assert_eq!(w.gh.pending_faults(), 0, "the stale read was served");
    let production =
        w.gh.status_of(ACME, &sha, &format!("{CONTEXT}/production"))
            .unwrap();
    assert_eq!(production.state, "success");
    let combined = w.gh.status_of(ACME, &sha, CONTEXT).unwrap();
    assert_eq!(combined.state, "success", "{combined:?}");
    w.gh.assert_clean();
}

//! The customer's commit statuses tell the truth: an apply dispatch's plan
//! is `pending` ("planned, waiting for apply") until the apply reports, and
//! the combined status is the worst of all environments whoever writes it
//! last.

use crate::world;

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
    let staging =
        w.gh.status_of(ACME, &sha, &format!("{CONTEXT}/staging"))
            .unwrap();
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
    let staging =
        w.gh.status_of(ACME, &sha, &format!("{CONTEXT}/staging"))
            .unwrap();
    assert_eq!(staging.state, "success", "{staging:?}");
    w.gh.assert_clean();
}

#[test]
fn a_pull_requests_plan_is_its_own_result() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let staging =
        w.gh.status_of(ACME, &sha, &format!("{CONTEXT}/staging"))
            .unwrap();
    assert_eq!(staging.state, "success", "{staging:?}");
    w.gh.assert_clean();
}

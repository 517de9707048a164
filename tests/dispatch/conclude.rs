//! `fleetform conclude` on every dispatch: a plan job that GitHub
//! cancelled (a newer push of the same pull request replaced it while it
//! waited in its concurrency group) or skipped marks the customer's commit
//! `error` with the reason, so the commit never stays `pending`.

use crate::world;

use serde_json::{json, Value};
use world::{ok, World, ACME, MANAGER};

use crate::github_loop::approvals::CONCLUDE;
use crate::support::readme_budgets::Budgets;

#[test]
fn a_replaced_plan_of_a_pull_request_is_concluded_error() {
    let mut w = World::new();
    let sha = w.pr_planned_in_staging();
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-plan");
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let conclude = |w: &mut World, needs: &Value| {
        let (cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        crate::common::Run::from(cmd)
            .env("FLEETFORM_NEEDS", needs.to_string())
            .arg("conclude")
            .output()
    };
    let staging_before =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap();
    let needs = json!({
        "authorise": {"result": "success", "outputs": {}},
        "plan-staging": {"result": "success", "outputs": {"has_changes": "true", "gates_pass": "true"}},
        "apply-staging": {"result": "skipped", "outputs": {}},
        "plan-production": {"result": "cancelled", "outputs": {}},
        "apply-production": {"result": "skipped", "outputs": {}},
    });
    w.gh.reset_counters();
    let out = conclude(&mut w, &needs);
    ok(&out);
    let b = Budgets::from_book();
    assert_eq!(
        w.gh.request_count(),
        b.n(CONCLUDE, " for a pull request's dispatch")
            + b.n(CONCLUDE, " (its status, the statuses read back"),
        "one plan that did not report:\n{}",
        w.gh.request_lines()
    );
    let prod =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap();
    assert_eq!(prod.state, "error", "{prod:?}");
    assert!(
        prod.description
            .as_deref()
            .unwrap()
            .starts_with("production: not planned: the plan job was cancelled"),
        "{prod:?}"
    );
    // Staging planned and reported: left as it said (a plan dispatch has
    // no apply that was due).
    let staging =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(staging.state, staging_before.state);
    let combined =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy")
            .unwrap();
    assert_eq!(combined.state, "error", "{combined:?}");

    // A plan whose job failed but which reported its own failure is left
    // as it said.
    w.gh.add_status(ACME, &sha, "failure", "infra/terraform-deploy/production");
    let needs = json!({
        "plan-staging": {"result": "success", "outputs": {}},
        "plan-production": {"result": "failure", "outputs": {}},
    });
    w.gh.reset_counters();
    let out = conclude(&mut w, &needs);
    ok(&out);
    assert_eq!(
        w.gh.request_count(),
        b.n(CONCLUDE, " for a pull request's dispatch") + b.n(CONCLUDE, " for a failed job"),
        "a failed plan that reported: its status read only:\n{}",
        w.gh.request_lines()
    );
    assert_eq!(
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap()
            .state,
        "failure"
    );
    w.gh.assert_clean();
}

//! Approvals in the GitHub loop: a revocation during the wait, production
//! applies after another person's approval, and applies that did not run
//! being concluded.

use crate::common;
use crate::world;

use common::stderr;
use serde_json::{json, Value};

use world::{ok, World, ACME, MANAGER};

use crate::support::readme_budgets::Budgets;

/// The book's "Request budgets" row for conclude.
pub(crate) const CONCLUDE: &str = "`conclude`";

/// A customer revoked on the manager's default branch while its apply
/// waited for approval is not applied: the registry is read again as it is
/// now, not from the checkout the dispatch ran on.
#[test]
fn a_revocation_during_the_approval_wait_stops_the_apply() {
    let mut w = World::new();
    let sha = w.change_acme("main", 4);
    let (out, _) = w.trigger_push(ACME, &sha, "more instances");
    ok(&out);
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let revoked = w.fx.read("manager/customers.yml").replacen(
        "    status: active\n    added: 2026-01-15\n",
        "    status: revoked\n    added: 2026-01-15\n    revoked:\n      date: 2026-11-01\n      reason: contract ended\n",
        1,
    );
    assert!(revoked.contains("status: revoked\n    added: 2026-01-15"));
    w.gh.commit(MANAGER, "main", &[("customers.yml", &revoked)]);
    let (out, _) = w.apply_latest("staging", &digest);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("`acme` was revoked on provider/manager's default branch"),
        "{}",
        stderr(&out)
    );
    assert!(!w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .exists());
    let own =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(own.state, "failure");
}

/// `auto_apply: false` is enforced through the API: production applies only
/// when someone other than the dispatcher approved this run's deployment to
/// `production-apply`, and that approver is the apply's audit actor.
#[test]
fn production_applies_only_after_another_person_approved_the_run() {
    let mut w = World::new();
    let log = w.scratch.path().join("audit.jsonl");
    let sha = w.change_acme("main", 4);
    let (out, _) = w.trigger_push(ACME, &sha, "more instances");
    ok(&out);
    let (out, files) = w.plan_latest("production");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let state =
        w.fx.manager()
            .join(".fleetform/state/acme/production/terraform.tfstate");
    let apply = |w: &mut World| {
        let (cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        common::Run::from(cmd)
            .env("GITHUB_ACTOR", "relay-bot")
            .env("FLEETFORM_AUDIT_LOG", &log)
            .args([
                "apply",
                "--dispatch",
                "--env",
                "production",
                "--plan-dir",
                ".fleetform/out/acme/production",
                "--plan-sha256",
                &digest,
            ])
            .output()
    };

    // No reviewers on the environment: nobody approved the run.
    let out = apply(&mut w);
    common::assert_code(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("no one approved the deployment to `production-apply`"),
        "{err}"
    );
    assert!(err.contains("required reviewers"), "{err}");
    assert!(!state.exists());
    let own =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap();
    assert_eq!(own.state, "failure");
    assert!(
        own.description
            .as_deref()
            .unwrap()
            .contains("apply refused"),
        "{own:?}"
    );

    // Self-review: the dispatcher approved its own run; an approval of
    // another environment does not count either.
    w.approve_next_run("production", "relay-bot");
    w.gh.review_run(
        MANAGER,
        w.run_id + 1,
        "staging-apply",
        "ops-carol",
        "approved",
    );
    let out = apply(&mut w);
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("self-review"), "{}", stderr(&out));
    assert!(!state.exists());

    // A reviewer who is not the dispatcher approved: the apply runs, and the
    // audit names the approver as the actor, the dispatcher as who started it.
    w.approve_next_run("production", "ops-carol");
    w.gh.reset_counters();
    let out = apply(&mut w);
    ok(&out);
    // 10 of the 11 (no PR, so no comment to update) + 1 for the approvals.
    assert_eq!(
        w.gh.request_count(),
        11,
        "apply budget with an approval check"
    );
    assert!(state.is_file());
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let applied = lines
        .iter()
        .find(|l| l["action"] == "apply" && l["result"] == "ok")
        .expect("an apply record");
    assert_eq!(applied["actor"], "ops-carol", "{applied}");
    assert_eq!(applied["triggering_actor"], "relay-bot", "{applied}");
    let refusals = lines.iter().filter(|l| l["action"] == "refusal").count();
    assert_eq!(refusals, 2, "{lines:?}");
    w.gh.assert_clean();
}

/// The deploy workflow's last job: an apply that was due but never reported
/// (cancelled while pending, skipped after an earlier environment, failed
/// before fleetform ran) marks the customer's commit `error`; one that
/// reported its own result is left as it said.
#[test]
fn conclude_marks_applies_that_did_not_run() {
    let mut w = World::new();
    let sha = w.change_acme("main", 4);
    let (out, _) = w.trigger_push(ACME, &sha, "more instances");
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let (out, _) = w.plan_latest("production");
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let due =
        json!({"result": "success", "outputs": {"has_changes": "true", "gates_pass": "true"}});
    let conclude = |w: &mut World, needs: &Value, event: &Value| {
        let (cmd, _) = w.step(MANAGER, "repository_dispatch", event, &"e".repeat(40));
        common::Run::from(cmd)
            .env("FLEETFORM_NEEDS", needs.to_string())
            .arg("conclude")
            .output()
    };

    // Staging applied and reported; production was cancelled while pending.
    w.gh.add_status(ACME, &sha, "success", "infra/terraform-deploy/staging");
    let needs = json!({
        "authorise": {"result": "success", "outputs": {}},
        "plan-staging": due,
        "apply-staging": {"result": "success", "outputs": {}},
        "plan-production": due,
        "apply-production": {"result": "cancelled", "outputs": {}},
    });
    w.gh.reset_counters();
    let out = conclude(&mut w, &needs, &event);
    ok(&out);
    let b = Budgets::from_book();
    let not_reported = b.n(CONCLUDE, " (its status, the statuses read back");
    assert_eq!(
        w.gh.request_count(),
        not_reported,
        "conclude budget: one apply that did not run"
    );
    let prod =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap();
    assert_eq!(prod.state, "error");
    assert!(
        prod.description
            .as_deref()
            .unwrap()
            .starts_with("production: not applied: the apply job was cancelled"),
        "{prod:?}"
    );
    assert_eq!(
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap()
            .state,
        "success"
    );
    let combined =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy")
            .unwrap();
    assert_eq!(combined.state, "error", "{combined:?}");

    // The staging apply reported its own failure: left as it said;
    // production, skipped because of it, is an error naming staging.
    w.gh.add_status(ACME, &sha, "failure", "infra/terraform-deploy/staging");
    let needs = json!({
        "plan-staging": due,
        "apply-staging": {"result": "failure", "outputs": {}},
        "plan-production": due,
        "apply-production": {"result": "skipped", "outputs": {}},
    });
    w.gh.reset_counters();
    let out = conclude(&mut w, &needs, &event);
    ok(&out);
    assert_eq!(
        w.gh.request_count(),
        b.n(CONCLUDE, " for a failed job") + not_reported,
        "conclude budget: a failed apply that reported, one skipped"
    );
    assert_eq!(
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap()
            .state,
        "failure"
    );
    let prod =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap();
    assert_eq!(
        prod.description.as_deref(),
        Some("production: not applied: skipped because `staging` did not apply")
    );

    // A forged dispatch writes nothing.
    let before = w.gh.statuses(ACME, &sha).len();
    let mut forged = event.clone();
    forged["client_payload"]["pr"] = json!(99);
    let out = conclude(&mut w, &needs, &forged);
    common::assert_code(&out, 3);
    assert_eq!(w.gh.statuses(ACME, &sha).len(), before);
    // Needs that are not the JSON of `needs`: a usage error.
    let (cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = common::Run::from(cmd)
        .env("FLEETFORM_NEEDS", "[1,2]")
        .arg("conclude")
        .output();
    common::assert_code(&out, 2);
    w.gh.assert_clean();
}

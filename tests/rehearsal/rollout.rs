//! A manager change rolled out in two waves, as the rollout workflow's
//! header tells a provider to set it up: the fleet on the test cloud
//! (`on_cloud`), `rollout:` with a canary wave (acme) and the rest, a
//! change of production's defaults (staging applies unreviewed in the
//! example manager, production after a reviewer). The merge of the
//! change into the manager's main branch runs the workflow's
//! `start` (the impact since the push's `before`, from the checkout's
//! history); each scheduled tick then plans the next stage in
//! `production-plan` and applies exactly those plans in `production-apply`
//! after
//! a reviewer who neither pushed the change nor started the run (one who
//! pushed it is refused; "Re-run failed jobs" after another approves
//! applies the same plans); a tick with nothing due plans nothing. Every request meets the strict fake.

use serde_json::json;

use super::on_cloud::OnCloud;
use crate::support::actions_runner::{Event, WorkflowRun};
use crate::world::MANAGER;

const ROLLOUT: &str = "
rollout:
  bake: 0s
  operators: provider/operators
  waves:
    - name: canary
      customers: [acme]
    - name: rest
";

const WORKFLOW: &str = "workflows/manager-rollout.yml";

/// The tier tag of `customer`'s production network in the test cloud.
fn tier(c: &OnCloud, customer: &str) -> String {
    c.object(&format!("{customer}-production"))
        .expect("a network")["tags"]["tier"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A scheduled tick, its apply approved by `reviewer`.
fn tick(c: &mut OnCloud, reviewer: &str) -> WorkflowRun {
    c.runner.approve("production-apply", reviewer);
    c.runner.run(
        &c.w.gh,
        WORKFLOW,
        &Event {
            name: "schedule".into(),
            payload: json!({"schedule": "13,43 * * * *"}),
            git_ref: "refs/heads/main".into(),
            actor: "provider-admin".into(),
            inputs: json!(null),
        },
    )
}

#[test]
fn a_manager_change_reaches_the_fleet_in_two_waves_through_the_rollout_workflow() {
    let mut c = OnCloud::applied(ROLLOUT);
    assert_eq!(tier(&c, "acme"), "production");

    // The change is merged: production's tier tag.
    let before = c.w.gh.branch_head(MANAGER, "main").unwrap();
    let values = c.w.fx.read("manager/values/production.yml");
    let after = c.w.gh.commit(
        MANAGER,
        "main",
        &[(
            "values/production.yml",
            &values.replace("tier: production", "tier: production-2"),
        )],
    );
    let push = Event {
        name: "push".into(),
        payload: json!({
            "ref": "refs/heads/main", "before": before, "after": after,
            "repository": {"default_branch": "main"},
            "head_commit": {"id": after, "message": "production: tier 2"},
            "pusher": {"name": "provider-dev"},
        }),
        git_ref: "refs/heads/main".into(),
        actor: "provider-dev".into(),
        inputs: json!(null),
    };
    let started = c.runner.run(&c.w.gh, WORKFLOW, &push);
    started.assert_succeeded(&["start"]);

    // The canary wave: acme alone. Its reviewer pushed the change: the
    // tick refuses; the lead approves, the failed tick alone runs again
    // with the plans its run made.
    let first = tick(&mut c, "provider-dev");
    first.assert_succeeded(&["next", "plan"]);
    let refused = first.job("tick");
    assert_eq!(refused.result, "failure");
    assert!(refused.log.contains("provider-dev"), "{}", refused.log);
    assert_eq!(tier(&c, "acme"), "production");
    c.runner.approve("production-apply", "provider-lead");
    let again = c.runner.rerun_failed(&c.w.gh, &first);
    again.assert_succeeded(&["tick"]);
    assert_eq!(tier(&c, "acme"), "production-2");
    assert_eq!(tier(&c, "globex"), "production");

    // The rest: globex.
    let second = tick(&mut c, "provider-lead");
    second.assert_succeeded(&["next", "plan", "tick", "deployments"]);
    assert_eq!(tier(&c, "globex"), "production-2");

    // Nothing is due: no plan, no apply.
    let third = tick(&mut c, "provider-lead");
    third.assert_succeeded(&["next"]);
    for job in ["plan", "tick"] {
        assert_eq!(third.job(job).result, "skipped", "{job}");
    }
    c.w.gh.assert_clean();
}

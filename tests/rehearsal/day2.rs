//! Day-2 work on the fleet, as the ops and offboard workflows' headers tell
//! a provider to set them up (the fleet on the test cloud, `on_cloud`):
//!
//! - `manager-ops.yml`: an operator replaces one of acme's staging
//!   instances; the preview seals the targeted plan in `staging-plan`,
//!   the apply runs it in `staging-apply` after a reviewer other than
//!   the operator;
//! - `manager-offboard.yml`: globex, revoked in the registry, is
//!   offboarded: the preview plans and seals the destroy of every
//!   environment in `fleetform-offboard-plan`, the destroy runs it in
//!   `fleetform-offboard` after a reviewer, each state archived in the
//!   records first.
//!
//! Both refuse unless the run's actor is an operator (`rollout.operators`).

use serde_json::json;

use super::on_cloud::OnCloud;
use crate::support::actions_runner::Event;

const OPERATORS: &str = "
rollout:
  operators: provider/operators
";

/// A run of a workflow by hand, by the operator `provider-admin`.
fn dispatched(inputs: serde_json::Value) -> Event {
    Event {
        name: "workflow_dispatch".into(),
        payload: json!({ "inputs": inputs.clone() }),
        git_ref: "refs/heads/main".into(),
        actor: "provider-admin".into(),
        inputs,
    }
}

/// The ids of the test cloud's objects named `prefix`…, sorted.
fn ids_named(c: &OnCloud, prefix: &str) -> Vec<String> {
    let mut ids: Vec<String> = crate::fakecloud::objects(&c.w.fx.path("cloud.json"))
        .iter()
        .filter(|(_, v)| v["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .map(|(k, _)| k.clone())
        .collect();
    ids.sort();
    ids
}

#[test]
fn an_operator_replaces_an_instance_through_the_ops_workflow() {
    let mut c = OnCloud::applied(OPERATORS);
    // A mark on the instance outside what Terraform knows: a replaced
    // instance is a new object, without it.
    let key = "fakecloud_instance/i-acme-staging-web-0";
    crate::fakecloud::edit_objects(&c.w.fx.path("cloud.json"), |o| {
        o[key]["stuck"] = json!(true);
    });
    c.runner.approve("staging-apply", "provider-lead");
    let run = c.runner.run(
        &c.w.gh,
        "workflows/manager-ops.yml",
        &dispatched(json!({
            "operation": "replace", "customer": "acme", "environment": "staging",
            "product": "", "operands": "fakecloud_instance.web[0]",
            "reason": "a stuck instance", "confirms": "", "digest": "",
        })),
    );
    run.assert_succeeded(&["preview", "apply"]);
    let objects = crate::fakecloud::objects(&c.w.fx.path("cloud.json"));
    assert!(
        objects[key]["stuck"].is_null(),
        "not replaced: {}",
        objects[key]
    );
    assert!(
        run.job("apply").log.contains("applied acme/staging"),
        "{}",
        run.job("apply").log
    );
    c.w.gh.assert_clean();
}

#[test]
fn a_revoked_customer_is_offboarded_through_the_offboard_workflow() {
    let mut c = OnCloud::applied(OPERATORS);
    assert!(!ids_named(&c, "globex-").is_empty());
    // The provider revokes globex and merges the registry change.
    crate::common::Run::from(c.w.fx.fleetform())
        .args([
            "customers",
            "revoke",
            "globex",
            "--reason",
            "contract ended",
        ])
        .ok();
    let registry = c.w.fx.read("manager/customers.yml");
    c.w.gh.commit(
        crate::world::MANAGER,
        "main",
        &[("customers.yml", registry.as_str())],
    );
    c.runner.approve("fleetform-offboard", "provider-lead");
    let run = c.runner.run(
        &c.w.gh,
        "workflows/manager-offboard.yml",
        &dispatched(
            json!({"customer": "globex", "reason": "contract ended", "confirms": "", "digest": ""}),
        ),
    );
    run.assert_succeeded(&["preview", "destroy"]);
    assert_eq!(ids_named(&c, "globex-"), Vec::<String>::new());
    assert!(!ids_named(&c, "acme-").is_empty(), "acme is untouched");
    // Each state was archived in the records before its destroy.
    let archived: Vec<String> = c
        .moto
        .keys_in(super::on_cloud::BUCKET)
        .into_iter()
        .filter(|k| k.starts_with("fleetform/records/offboarded/globex/_/"))
        .filter(|k| k.ends_with("-state-before-destroy.json"))
        .collect();
    assert_eq!(archived.len(), 2, "{archived:?}");
    c.w.gh.assert_clean();
}

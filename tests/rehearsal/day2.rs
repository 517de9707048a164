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
//! - `manager-ops.yml` again: acme's staging objects, which no state
//!   knows, are adopted from the mapping file the provider commits: the
//!   adoption plan (imports only) sealed, then applied after a reviewer.
//!
//! Each refuses unless the run's actor is an operator (`rollout.operators`).

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
        .filter(|k| k.ends_with("-state-before-destroy.json.age"))
        .collect();
    assert_eq!(archived.len(), 2, "{archived:?}");
    // Encrypted to the provider's records recipient: its identity opens
    // each, a state holding globex's objects.
    for key in &archived {
        let (kept, state) = age_decrypt(&c.records_identity, &c.moto, key);
        assert!(
            !String::from_utf8_lossy(&kept).contains("\"serial\""),
            "kept in the clear: {key}"
        );
        assert!(state.contains("globex-"), "{key}: {state}");
    }
    c.w.gh.assert_clean();
}

/// The kept state at `key` of the bucket as kept, and opened with
/// `identity` by the `age` tool.
fn age_decrypt(identity: &str, moto: &crate::moto::Moto, key: &str) -> (Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let id = dir.path().join("id");
    std::fs::write(&id, format!("{identity}\n")).unwrap();
    let enc = dir.path().join("state.age");
    let url = moto.url(&format!("/{}/{key}", super::on_cloud::BUCKET));
    let got = std::process::Command::new("curl")
        .args([
            "-s",
            "-f",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            "test:test",
            "-o",
        ])
        .arg(&enc)
        .arg(&url)
        .status()
        .unwrap();
    assert!(got.success(), "{url}");
    let out = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&id)
        .arg(&enc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(&enc).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// acme's staging objects, mapped to the root module's addresses (the
/// mapping file `adopt/acme/staging.yml` a provider writes or `adopt
/// discover` lists).
fn acme_staging_mapping(c: &OnCloud) -> String {
    let mut lines = String::from("# Objects made before fleetform.\nimports:\n");
    for (_, o) in crate::fakecloud::objects(&c.w.fx.path("cloud.json")) {
        let name = o["name"].as_str().unwrap_or_default();
        let address = match name {
            "acme-staging" => "fakecloud_network.main".to_string(),
            "acme-staging-logs" => "fakecloud_bucket.logs".to_string(),
            _ => match name.strip_prefix("acme-staging-web-") {
                Some(n) => format!("\"fakecloud_instance.web[{n}]\""),
                None => continue,
            },
        };
        lines.push_str(&format!("  {address}: {}\n", o["id"].as_str().unwrap()));
    }
    lines
}

#[test]
fn objects_made_outside_are_adopted_through_the_ops_workflow() {
    let mut c = OnCloud::applied(OPERATORS);
    // acme's staging objects exist, but no state knows them (an earlier
    // Terraform's, whose state fleetform never had).
    let state = "acme/staging/terraform.tfstate";
    let bucket = super::on_cloud::BUCKET;
    assert!(c.moto.keys_in(bucket).iter().any(|k| k == state));
    assert!(crate::moto::curl(&c.moto.url(&format!("/{bucket}/{state}")), "DELETE").is_some());
    let objects = crate::fakecloud::objects(&c.w.fx.path("cloud.json"));
    let mapping = acme_staging_mapping(&c);
    c.w.gh.commit(
        crate::world::MANAGER,
        "main",
        &[("adopt/acme/staging.yml", mapping.as_str())],
    );
    c.runner.approve("staging-apply", "provider-lead");
    let run = c.runner.run(
        &c.w.gh,
        "workflows/manager-ops.yml",
        &dispatched(json!({
            "operation": "adopt", "customer": "acme", "environment": "staging",
            "product": "", "operands": "", "reason": "adopting acme's staging",
            "confirms": "", "digest": "",
        })),
    );
    run.assert_succeeded(&["preview", "apply"]);
    // The state knows every object again; the cloud is as it was.
    assert!(c.moto.keys_in(bucket).iter().any(|k| k == state));
    assert_eq!(
        crate::fakecloud::objects(&c.w.fx.path("cloud.json")),
        objects
    );
    c.w.gh.assert_clean();
}

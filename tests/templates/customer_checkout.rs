//! The ops and offboarding workflows read the customer's values from a
//! checkout of its repo made with a token of the customer App for that
//! repository alone, `contents: read` (#81 point 3): their steps up to
//! that checkout, taken as shipped, run as GitHub runs them with the
//! environment's key alone, against the strict fake.

use serde_json::json;

use crate::support::actions_runner::{Event, Runner};
use crate::templates::deploy_run::deploy_runner;
use crate::world::{World, MANAGER};

/// A workflow of the shipped `template`'s `job` cut after the customer's
/// checkout, with one more step that shows the customer's values are
/// there; written to `dir`, its path.
fn up_to_the_customer_checkout(template: &str, job: &str, dir: &std::path::Path) -> String {
    let text = crate::common::workflow::text(template);
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let steps = doc["jobs"][job]["steps"].as_sequence().unwrap().clone();
    let cut = steps
        .iter()
        .position(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@"))
                && s["with"]["path"].as_str() == Some(".fleetform/customer")
        })
        .expect("a checkout of the customer's repo");
    // The records role's step reads OIDC: not what this test is about.
    let mut kept: Vec<yaml_serde::Value> = steps[..=cut]
        .iter()
        .filter(|s| {
            !s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
        })
        .cloned()
        .collect();
    kept.push(
        yaml_serde::from_str(
            "name: the customer's values\nshell: bash\nrun: test -s .fleetform/customer/infra/variables.yml\n",
        )
        .unwrap(),
    );
    doc["jobs"][job]["steps"] = yaml_serde::Value::Sequence(kept);
    let jobs = doc["jobs"].as_mapping().unwrap().clone();
    for (name, _) in jobs.iter() {
        if name.as_str() != Some(job) {
            doc["jobs"].as_mapping_mut().unwrap().remove(name);
        }
    }
    if let Some(needs) = doc["jobs"][job].as_mapping_mut() {
        needs.remove("needs");
        needs.remove("if");
    }
    let path = dir.join(template.rsplit('/').next().unwrap());
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    path.display().to_string()
}

fn dispatched(inputs: serde_json::Value) -> Event {
    Event {
        name: "workflow_dispatch".into(),
        payload: json!({ "inputs": inputs.clone() }),
        git_ref: "refs/heads/main".into(),
        actor: "provider-lead".into(),
        inputs,
    }
}

#[test]
fn ops_and_offboarding_read_the_customer_with_a_token_for_its_repository_alone() {
    let w = World::new();
    let mut runner: Runner = deploy_runner(&w);
    // The offboarding's plan environment; ops plans in `<env>-plan`,
    // which the deploy workflow's set-up made.
    let offboard = "fleetform-offboard-plan";
    w.gh.set_environment(MANAGER, offboard, Default::default());
    runner.secret(
        &w.gh,
        Some(offboard),
        "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        &crate::relay::serve::pem(),
    );
    let scratch = tempfile::tempdir().unwrap();
    let before = w.gh.minted_tokens().len();
    for (template, job, inputs) in [
        (
            "workflows/manager-ops.yml",
            "preview",
            json!({"operation": "import", "customer": "acme", "environment": "staging", "product": "", "operands": "a b", "reason": "test", "confirms": "", "digest": ""}),
        ),
        (
            "workflows/manager-offboard.yml",
            "preview",
            json!({"customer": "acme", "reason": "left", "confirms": "", "digest": ""}),
        ),
    ] {
        let workflow = up_to_the_customer_checkout(template, job, scratch.path());
        let run = runner.run(&w.gh, &workflow, &dispatched(inputs));
        run.assert_succeeded(&[job]);
    }
    // The customer App's (the others are the jobs' GITHUB_TOKENs).
    let minted: Vec<_> = w.gh.minted_tokens()[before..]
        .iter()
        .filter(|m| m.app_id == crate::relay::serve::CUSTOMER_APP_ID)
        .cloned()
        .collect();
    assert_eq!(minted.len(), 2, "{minted:?}");
    for m in &minted {
        assert_eq!(m.repos, vec![crate::world::ACME.to_lowercase()]);
        assert_eq!(m.permissions, json!({"contents": "read"}));
    }
    w.gh.assert_clean();
}

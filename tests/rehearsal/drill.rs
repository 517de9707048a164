//! Recovery drills as the drill workflow's header tells a provider to set
//! them up (issue #87 point 4): the fleet on the test cloud with its
//! states in a bucket that keeps versions, the `drill` environment with
//! the customer App's key, the drill role and the records role. The
//! scheduled run of `manager-drill.yml` proves every pair's newest version
//! restores (a plan against a scratch copy that changes nothing); once
//! acme's staging state has been tampered with, the next run fails and
//! names that pair, and the others still pass. Nothing of the scratch
//! copies stays in the bucket.

use serde_json::{json, Value};

use super::on_cloud::{OnCloud, BUCKET};
use crate::relay::serve::pem;
use crate::support::actions_runner::Event;
use crate::support::fake_github::Environment;
use crate::world::MANAGER;

const WORKFLOW: &str = "workflows/manager-drill.yml";

/// The drill's run on its schedule.
fn scheduled() -> Event {
    Event {
        name: "schedule".into(),
        payload: json!({"schedule": "41 3 * * *"}),
        git_ref: "refs/heads/main".into(),
        actor: "provider-admin".into(),
        inputs: json!(null),
    }
}

/// The `drill` environment and the variables the header lists.
fn set_up(c: &mut OnCloud) {
    let gh = &c.w.gh;
    gh.set_environment(MANAGER, "drill", Environment::default());
    c.runner.secret(
        gh,
        Some("drill"),
        "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        &pem(),
    );
    c.runner.secret(
        gh,
        Some("drill"),
        "FLEETFORM_ARTIFACT_KEY",
        crate::common::ARTIFACT_KEY,
    );
    for (name, value) in [
        (
            "FLEETFORM_DRILL_ROLE",
            "arn:aws:iam::123456789012:role/fleetform-drill",
        ),
        ("FLEETFORM_DRILL_REGION", "us-east-1"),
    ] {
        gh.add_repo_variable(MANAGER, name);
        gh.set_variable(MANAGER, None, name, value);
    }
}

/// The line of `pair` in the drill's table.
fn line<'a>(log: &'a str, pair: &str) -> &'a str {
    log.lines()
        .find(|l| l.contains(pair) && (l.contains("proven") || l.contains("FAILED")))
        .unwrap_or_else(|| panic!("no line for {pair}: {log}"))
}

#[test]
fn the_drill_workflow_proves_every_pair_and_names_a_tampered_one() {
    let mut c = OnCloud::applied_with_versions("");
    set_up(&mut c);
    let run = c.runner.run(&c.w.gh, WORKFLOW, &scheduled());
    run.assert_succeeded(&["drill"]);
    let log = &run.job("drill").log;
    for pair in [
        "acme/staging",
        "acme/production",
        "globex/staging",
        "globex/production",
    ] {
        assert!(line(log, pair).contains("proven restorable"), "{log}");
    }
    // acme's staging state loses its bucket in a hand edit.
    let key = "acme/staging/terraform.tfstate";
    let text = c.moto.object_in(BUCKET, key).unwrap();
    let mut state: Value = serde_json::from_str(&text).unwrap();
    state["resources"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["type"] != "fakecloud_bucket");
    assert!(crate::moto::curl_put_body(
        &c.moto.url(&format!("/{BUCKET}/{key}")),
        &state.to_string()
    ));
    let next = c.runner.run(&c.w.gh, WORKFLOW, &scheduled());
    let job = next.job("drill");
    assert_eq!(job.result, "failure", "{}", job.log);
    assert!(
        line(&job.log, "acme/staging").contains("FAILED"),
        "{}",
        job.log
    );
    assert!(
        job.log.contains("1 of 4 pairs not proven restorable"),
        "{}",
        job.log
    );
    for pair in ["acme/production", "globex/staging", "globex/production"] {
        assert!(
            line(&job.log, pair).contains("proven restorable"),
            "{}",
            job.log
        );
    }
    let versions = crate::moto::curl(&c.moto.url(&format!("/{BUCKET}?versions")), "GET").unwrap();
    assert!(!versions.contains("fleetform-drill/"), "{versions}");
    c.w.gh.assert_clean();
}

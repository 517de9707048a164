//! A provider with no relay service: `manager-poll.yml` on its schedule,
//! set up as its header says (the environment `poll` with both Apps'
//! keys and ids and the artifact key; `relay:` in fleetform.yml). Its
//! first run dispatches each customer's default-branch head once; a later
//! run finds acme's new pull request (what earlier runs saw kept in the
//! Actions cache, sealed) and dispatches its head alone, which the deploy
//! workflow plans and answers on the pull request.

use serde_json::json;

use crate::relay::serve::{manager_pem, pem, RelayWorld, CUSTOMER_APP_ID, MANAGER_APP_ID};
use crate::support::actions_runner::{Event, Runner};
use crate::support::fake_github::Environment;
use crate::templates::deploy_run::deploy_runner;
use crate::world::{ACME, MANAGER};

fn scheduled() -> Event {
    Event {
        name: "schedule".into(),
        payload: json!({"schedule": "2-59/5 * * * *"}),
        git_ref: "refs/heads/main".into(),
        actor: "provider-admin".into(),
        inputs: json!(null),
    }
}

/// The `poll` environment as the workflow's header lists it.
fn poll_environment(rw: &RelayWorld, runner: &mut Runner) {
    let gh = &rw.w.gh;
    gh.set_environment(MANAGER, "poll", Environment::default());
    for (name, value) in [
        ("FLEETFORM_MANAGER_APP_ID", MANAGER_APP_ID.to_string()),
        ("FLEETFORM_CUSTOMER_APP_ID", CUSTOMER_APP_ID.to_string()),
    ] {
        gh.set_variable(MANAGER, Some("poll"), name, &value);
    }
    runner.secret(
        gh,
        Some("poll"),
        "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
        &manager_pem(),
    );
    runner.secret(
        gh,
        Some("poll"),
        "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        &pem(),
    );
    runner.secret(
        gh,
        Some("poll"),
        "FLEETFORM_ARTIFACT_KEY",
        crate::common::ARTIFACT_KEY,
    );
}

#[test]
fn poll_dispatches_what_changed_through_its_workflow() {
    let rw = RelayWorld::new();
    let w = &rw.w;
    let mut manager = deploy_runner(w);
    poll_environment(&rw, &mut manager);
    let poll = "workflows/manager-poll.yml";

    // The first poll: each customer's default branch, once.
    let before = w.gh.dispatches(MANAGER).len();
    manager
        .run(&w.gh, poll, &scheduled())
        .assert_succeeded(&["poll"]);
    let first: Vec<_> = w.gh.dispatches(MANAGER)[before..].to_vec();
    assert_eq!(first.len(), 2, "{first:#?}");

    // acme opens a pull request; the next poll dispatches its head alone.
    let head = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let before = w.gh.dispatches(MANAGER).len();
    manager
        .run(&w.gh, poll, &scheduled())
        .assert_succeeded(&["poll"]);
    let second: Vec<_> = w.gh.dispatches(MANAGER)[before..].to_vec();
    assert_eq!(second.len(), 1, "{second:#?}");
    let d = &second[0];
    assert_eq!(d["client_payload"]["sha"], head);
    assert_eq!(d["client_payload"]["pr"], pr);

    let planned = manager.run(&w.gh, "workflows/manager-deploy.yml", &Event::dispatch(d));
    planned.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    assert!(w
        .gh
        .comments(ACME, pr)
        .iter()
        .any(|c| c.body.contains("customer=acme environment=staging")));
    w.gh.assert_clean();
}

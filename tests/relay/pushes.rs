//! A push the relay sends is made whole by the manager (#84 point 10): the
//! relay reads nothing on the customer's repo for a push, and the manager's
//! `authorise` and plan jobs read whether its branch is the default one
//! and which pull request its commit merged.

use serde_json::{json, Value};

use crate::common::{self, stderr};
use crate::relay::serve::{dispatch, RelayWorld};
use crate::world::{ACME, MANAGER};

/// The relay's last dispatch as the manager's job receives it.
fn received(rw: &RelayWorld) -> Value {
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": d["sender"] })
}

/// `fleetform <args>` on the relay's last dispatch, as a manager job: its
/// step outputs.
fn job(rw: &mut RelayWorld, args: &[&str]) -> std::collections::BTreeMap<String, String> {
    let event = received(rw);
    let (mut cmd, files) =
        rw.w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .env_remove("FLEETFORM_DISPATCH_SECRET")
        .args(args)
        .output()
        .unwrap();
    common::assert_code(&out, 0);
    let _ = stderr(&out);
    files.outputs()
}

#[test]
fn a_relayed_push_applies_only_on_the_default_branch_and_reports_on_its_pull_request() {
    let mut rw = RelayWorld::new();
    let relay = rw.start(4);
    let sha = rw.w.change_acme("feature", 3);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "More instances");
    let merged = rw.w.gh.merge_pr(ACME, pr);

    // The merge: sent for an apply, naming no pull request.
    rw.w.gh.reset_counters();
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": rw.push_token(ACME, "main", &merged) }),
    );
    assert_eq!(status, 202, "{answer}");
    let sent = received(&rw);
    assert_eq!(sent["action"], "fleetform-apply");
    assert_eq!(sent["client_payload"]["pr"], Value::Null);
    let read_on_customer =
        rw.w.gh
            .requests()
            .iter()
            .filter(|r| r.path.starts_with(&format!("/repos/{ACME}")))
            .count();
    assert_eq!(read_on_customer, 0, "{}", rw.w.gh.request_lines());

    // The manager reads the rest: an apply, of pull request `pr`.
    let authorised = job(&mut rw, &["authorise"]);
    assert_eq!(
        authorised["event_type"], "fleetform-apply",
        "{authorised:?}"
    );
    assert_eq!(authorised["plan_key"], format!("pr-{pr}"));
    job(&mut rw, &["plan", "--dispatch", "--env", "staging"]);
    let comments = rw.w.gh.comments(ACME, pr);
    assert!(
        comments.iter().any(|c| c.body.contains(&merged[..7])),
        "no comment on #{pr} for the merge {merged}: {:?}",
        comments.iter().map(|c| &c.body).collect::<Vec<_>>()
    );
    let _ = sha;

    // A push on another branch (a trigger that runs on every branch): the
    // relay cannot tell, the manager plans it only.
    let other = rw.w.change_acme("release", 4);
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": rw.push_token(ACME, "release", &other) }),
    );
    assert_eq!(status, 202, "{answer}");
    let authorised = job(&mut rw, &["authorise"]);
    assert_eq!(authorised["event_type"], "fleetform-plan", "{authorised:?}");
    assert_eq!(authorised["plan_key"], "refs/heads/release");
}

//! A rollout's GitHub deployments that do not fit GitHub's write budget
//! (`FLEETFORM_GITHUB_WRITES_PER_HOUR`, made small) are owed: recorded in
//! the rollout's events and sent by a later run (`rollout deployments`, or
//! a tick run by hand), with their final status and when the apply was,
//! each exactly once, also after a run that made one and died before
//! recording it.

use crate::bench::github::MANAGER_REPO;
use crate::bench::rollout::{repo, rollout_job, world};
use crate::common::{self, Fixture, Ran};
use crate::support::fake_github::FakeGitHub;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The world of five customers, started and ticked once with room for
/// seven writes: pairs 1 and 2 get their deployment and both statuses,
/// pair 3 its deployment only, pairs 4 and 5 nothing.
fn ticked(gh: &FakeGitHub) -> (Fixture, PathBuf, Ran) {
    gh.add_repo(MANAGER_REPO);
    let fx = world(5, gh);
    let stand_in = crate::support::stand_in_terraform::install(&fx.path("stand-in"));
    common::run(&fx, &["rollout", "start", "--base", "HEAD~1"]).ok();
    let tick = on_github(&fx, gh, "7")
        .args(["rollout", "tick", "--terraform"])
        .arg(&stand_in)
        .ok();
    (fx, stand_in, tick)
}

fn on_github(fx: &Fixture, gh: &FakeGitHub, writes_per_hour: &str) -> common::Run {
    rollout_job(fx, gh).env("FLEETFORM_GITHUB_WRITES_PER_HOUR", writes_per_hour)
}

fn send(fx: &Fixture, gh: &FakeGitHub, writes_per_hour: &str) -> Value {
    let ran = on_github(fx, gh, writes_per_hour)
        .args(["rollout", "deployments", "--json"])
        .ok();
    serde_json::from_str(&ran.stdout).expect("rollout deployments --json")
}

/// Each customer's deployments: (payload, description, statuses' states).
fn shown(gh: &FakeGitHub, i: usize) -> Vec<(Value, Option<String>, Vec<String>)> {
    gh.deployments(&repo(i))
        .into_iter()
        .map(|d| {
            let states = d.statuses.iter().map(|s| s.0.clone()).collect();
            (d.payload, d.description, states)
        })
        .collect()
}

/// The marker in the payload of customer `c`'s owed deployment (the
/// tick's), from its `deployment-owed` event in the records store.
fn owed_marker(fx: &Fixture, c: &str) -> String {
    let (id, n) = owed_event(fx, c);
    let path = fx.path(&format!(
        "manager/.fleetform/records/rollouts/{id}/{n:06}.json"
    ));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let marker = event["deployment"]["marker"].as_str().unwrap().to_string();
    assert!(
        marker.starts_with(&format!("{id}/{c}/staging/")),
        "{marker}"
    );
    marker
}

/// The rollout's id and the number of the `deployment-owed` event of
/// customer `c`, from the records store.
fn owed_event(fx: &Fixture, c: &str) -> (String, usize) {
    let root = fx.path("manager/.fleetform/records/rollouts");
    let id = single_entry(&root);
    let dir = root.join(&id);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if event["event"] == "deployment-owed" && event["unit"]["customer"] == c {
            let n = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
            return (id, n);
        }
    }
    panic!("no deployment-owed event of {c} in {}", dir.display());
}

fn single_entry(dir: &Path) -> String {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

#[test]
fn deployments_that_do_not_fit_are_owed_then_sent_once_with_their_final_status() {
    let gh = FakeGitHub::start();
    let (fx, _, tick) = ticked(&gh);
    tick.stdout_has("finished");
    for i in [1, 2] {
        let d = shown(&gh, i);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].2, ["in_progress", "success"], "{d:?}");
    }
    let third = shown(&gh, 3);
    assert_eq!(third.len(), 1, "{third:?}");
    assert!(third[0].2.is_empty(), "{third:?}");
    assert!(shown(&gh, 4).is_empty() && shown(&gh, 5).is_empty());

    // Three writes: pair 3's final status (1), pair 4's deployment and
    // status (2); pair 5's would not fit. The requests are the README's.
    let budgets = crate::support::readme_budgets::Budgets::from_book();
    let row = "`rollout deployments`";
    let (not_made, made) = (budgets.lead(row), budgets.n(row, " per one made already"));
    let before = gh.requests().len();
    let first = send(&fx, &gh, "3");
    // Pair 5's environment and marker were read before its deployment
    // did not fit.
    assert_eq!(gh.requests().len() - before, made + not_made + 2);
    assert_eq!(first["sent"], 2, "{first}");
    assert_eq!(first["owed"], 1, "{first}");
    assert_eq!(first["deferred"], true, "{first}");
    let third = shown(&gh, 3);
    assert_eq!(third.len(), 1, "{third:?}");
    assert_eq!(third[0].2, ["success"], "{third:?}");
    let fourth = shown(&gh, 4);
    assert_eq!(fourth.len(), 1, "{fourth:?}");
    assert_eq!(fourth[0].2, ["success"], "{fourth:?}");
    let described = fourth[0].1.as_deref().unwrap_or_default();
    assert!(described.contains("applied 20"), "{described}");
    let marker = owed_marker(&fx, "c0004");
    assert_eq!(fourth[0].0, json!({ "fleetform": marker }));
    let status = &gh.deployments(&repo(4))[0].statuses[0];
    let said = status.1.as_deref().unwrap_or_default();
    assert!(
        said.starts_with("apply of 20") && said.contains("shown late"),
        "{said}"
    );
    assert!(shown(&gh, 5).is_empty());

    let second = send(&fx, &gh, "3");
    assert_eq!(
        (second["sent"].clone(), second["owed"].clone()),
        (json!(1), json!(0))
    );
    let third_run = send(&fx, &gh, "3");
    assert_eq!(third_run["sent"], 0, "{third_run}");
    for i in 1..=5 {
        let d = shown(&gh, i);
        assert_eq!(d.len(), 1, "customer {i}: {d:?}");
        assert_eq!(d[0].2.last().map(String::as_str), Some("success"), "{d:?}");
        assert_eq!(d[0].2.iter().filter(|s| *s == "success").count(), 1);
    }
}

#[test]
fn a_deployment_made_by_a_run_that_died_before_recording_it_is_not_made_again() {
    let gh = FakeGitHub::start();
    let (fx, _, _) = ticked(&gh);
    // GitHub made pair 4's deployment without answering the tick (or a
    // run made it and died): its marker is there.
    let sha = gh.branch_head(&repo(4), "main").unwrap();
    let marker = json!({ "fleetform": owed_marker(&fx, "c0004") });
    gh.add_deployment(&repo(4), &sha, "staging", marker);

    let sent = send(&fx, &gh, "100");
    assert_eq!(
        (sent["sent"].clone(), sent["owed"].clone()),
        (json!(3), json!(0))
    );
    let fourth = shown(&gh, 4);
    assert_eq!(fourth.len(), 1, "{fourth:?}");
    assert_eq!(fourth[0].2, ["success"], "{fourth:?}");
}

#[test]
fn a_tick_run_by_hand_sends_what_earlier_ticks_owe_and_without_a_token_says_what_is_owed() {
    let gh = FakeGitHub::start();
    let (fx, stand_in, _) = ticked(&gh);
    common::run(&fx, &["rollout", "status"])
        .ok()
        .stdout_has("3 deployments owed on the customers' repos");
    let no_token = common::run(&fx, &["rollout", "deployments"]).code(2);
    no_token.stderr_has("3 deployments are owed");
    no_token.stderr_has("FLEETFORM_TOKEN");

    let again = on_github(&fx, &gh, "100")
        .args(["rollout", "tick", "--terraform"])
        .arg(&stand_in)
        .ok();
    again.stdout_has("owed deployments: 3 deployments sent, none owed");
    for i in 1..=5 {
        assert_eq!(shown(&gh, i).len(), 1, "customer {i}");
    }
    let status = common::run(&fx, &["rollout", "status", "--json"]).ok();
    assert!(
        status.stdout.contains("\"deployments_owed\": 0"),
        "{}",
        status.stdout
    );
    let audit = fx.read("manager/.fleetform/audit.jsonl");
    assert!(audit.contains("deployment-owed") && audit.contains("deployments-sent"));
}

/// Pair 4 applied again after the tick (a dispatched apply): as its
/// newer deployment record says (`record`), or only as GitHub shows it (a
/// deployment made before the apply's record is written).
fn applied_again(fx: &Fixture, gh: &FakeGitHub, record: bool) -> u64 {
    let sha = gh.branch_head(&repo(4), "main").unwrap();
    let made = (!record).then_some("2099-01-01T00:00:00Z");
    let newer = gh.add_deployment_with(&repo(4), &sha, "staging", json!({}), &["success"], made);
    if record {
        let dir = "manager/.fleetform/records/deployments/c0004/_/staging";
        let text = fx.read(&format!("{dir}/20260101T000000.000Z-000000000000.json"));
        let text = text.replace("2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z");
        fx.write(
            &format!("{dir}/20990101T000000.000Z-000000000000.json"),
            &text,
        );
    }
    newer
}

#[test]
fn a_late_deployment_of_a_pair_applied_again_since_never_shows_as_current() {
    for record in [true, false] {
        let gh = FakeGitHub::start();
        let (fx, _, _) = ticked(&gh);
        let newer = applied_again(&fx, &gh, record);
        let sent = send(&fx, &gh, "100");
        assert_eq!(sent["sent"], 3, "{sent}");
        let fourth = gh.deployments(&repo(4));
        let (newest, late): (Vec<_>, Vec<_>) = fourth.iter().partition(|d| d.id == newer);
        assert_eq!(
            newest[0].statuses.last().unwrap().0,
            "success",
            "{fourth:?}"
        );
        assert_eq!(late.len(), 1, "{fourth:?}");
        assert_eq!(late[0].statuses.len(), 1, "{fourth:?}");
        let (state, said, _) = &late[0].statuses[0];
        assert_eq!(state, "inactive", "record: {record}");
        let said = said.as_deref().unwrap_or_default();
        assert!(said.contains("applied again since"), "{said}");
        // Not applied since: success.
        assert_eq!(shown(&gh, 5)[0].2, ["success"]);
    }
}

#[test]
fn an_owed_deployment_on_a_repo_github_answers_404_for_is_tried_for_30_days_then_dropped() {
    let gh = FakeGitHub::start();
    let (fx, _, _) = ticked(&gh);
    // Gone, or (as GitHub answers alike) never granted to the token.
    gh.remove_repo(&repo(5));
    let sent = send(&fx, &gh, "100");
    let counts = ["sent", "owed", "not_sent"].map(|k| sent[k].clone());
    assert_eq!(counts, [json!(2), json!(1), json!(1)], "{sent}");
    assert_eq!(sent["dropped"], json!([]), "{sent}");
    let month_on = (jiff::Timestamp::now().as_second() + 31 * 86_400).to_string();
    let ran = on_github(&fx, &gh, "100")
        .env("FLEETFORM_NOW", &month_on)
        .args(["rollout", "deployments", "--json"])
        .ok();
    let later: Value = serde_json::from_str(&ran.stdout).unwrap();
    let dropped = later["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{later}");
    assert_eq!(dropped[0]["pair"], "c0005/staging", "{later}");
    let why = dropped[0]["reason"].as_str().unwrap();
    assert!(why.contains("30 days") && why.contains("404"), "{why}");
    assert_eq!(later["owed"], 0, "{later}");
}

#[test]
fn an_owed_deployment_refused_for_the_token_stays_owed_for_a_later_run() {
    let gh = FakeGitHub::start();
    let (fx, _, _) = ticked(&gh);
    let repos: Vec<String> = (1..=4).map(repo).collect();
    gh.add_scoped_token(
        "ghp_first4",
        &repos.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let ran = on_github(&fx, &gh, "100")
        .env("FLEETFORM_TOKEN", "ghp_first4")
        .args(["rollout", "deployments", "--json"])
        .ok();
    let first: Value = serde_json::from_str(&ran.stdout).unwrap();
    let counts = ["sent", "owed", "not_sent", "deferred"].map(|k| first[k].clone());
    assert_eq!(
        counts,
        [json!(2), json!(1), json!(1), json!(false)],
        "{first}"
    );
    ran.stderr_has("c0005/staging: deployment still owed");
    assert!(
        !gh.take_violations().is_empty(),
        "the fake refused c0005's request"
    );
    let second = send(&fx, &gh, "100");
    assert_eq!(
        (second["sent"].clone(), second["owed"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(shown(&gh, 5).len(), 1);
}

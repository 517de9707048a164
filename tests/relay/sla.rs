//! A plan the relay sent is measured against `sla:` from when the
//! customer's job asked, by GitHub's clock: its OIDC token's `iat`, which
//! the relay verified and carried in the event's batch entry (`asked_at`),
//! not from when GitHub made the manager's run (#86 point 4). The token
//! here was issued two hours ago and the promise is one hour: the plan is
//! a breach although the manager planned it at once, and nothing more is
//! read for its start. Nobody else can set that start: a single dispatch
//! with `asked_at` is refused, and so is a batch from anyone but the
//! relay's App.

use serde_json::json;

use crate::common::{self, stderr};
use crate::relay::batch::manager_job;
use crate::relay::serve::{dispatch, RelayWorld, SLUG};
use crate::support::readme_budgets::Budgets;
use crate::world::{ok, ACME, MANAGER};

const PLAN: &str = "`plan --dispatch`, per environment";

/// The relay world with a one-hour staging plan promise and the batch
/// workflow in the manager's checkout (its presence turns batches on), and
/// its relay.
fn timed_world() -> (RelayWorld, crate::relay::serve::RelayProc) {
    let rw = RelayWorld::new();
    rw.w.fx.append(
        "manager/fleetform.yml",
        "\nsla:\n  staging:\n    plan_within: 1h\n",
    );
    rw.w.fx.write(
        "manager/.github/workflows/manager-batch.yml",
        "# the manager's batch workflow (its presence turns batches on)\n",
    );
    let relay = rw.start(4);
    (rw, relay)
}

#[test]
fn a_relayed_plan_is_measured_from_the_customers_token() {
    let (mut rw, relay) = timed_world();
    let head = rw.w.change_acme("feature", 7);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "seven");
    let mut claims = rw.issuer.claims(
        ACME,
        rw.w.gh.repo_id(ACME),
        "pull_request",
        &format!("refs/pull/{pr}/merge"),
        &head,
    );
    // The customer's job asked two hours ago (its token still valid).
    let asked = common::unix_now() - 2 * 3600;
    claims["iat"] = json!(asked);
    claims["nbf"] = json!(asked);
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": rw.issuer.mint(&claims), "pr": pr }),
    );
    assert_eq!(status, 202, "{answer}");

    // Alone, and still a batch: the only dispatch with room for the time.
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 1);
    let d = &sent[0];
    assert_eq!(d["event_type"], "fleetform-batch", "{d}");
    let entries = d["client_payload"]["batch"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{d}");
    assert_eq!(entries[0]["asked_at"], asked, "{d}");
    assert_eq!(entries[0]["payload"]["sha"], head.as_str());
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": d["sender"] });
    assert_eq!(d["sender"]["login"], format!("{SLUG}[bot]"));

    // The plan reads no run for its start: the book's plan budget without
    // the `sla:` request.
    rw.w.gh.reset_counters();
    let out = manager_job(
        &mut rw,
        &event,
        Some("0"),
        &["plan", "--dispatch", "--env", "staging"],
    );
    ok(&out);
    let book = Budgets::from_book();
    assert_eq!(
        rw.w.gh.request_count(),
        book.lead(PLAN) + book.n(PLAN, " for a pull request's plan"),
        "{}",
        rw.w.gh.request_lines()
    );
    let plan =
        rw.w.audit_lines()
            .into_iter()
            .find(|l| l["action"] == "plan")
            .expect("the plan's audit event");
    assert_eq!(
        plan["times"]["event"],
        fleetform::audit::rfc3339(asked).as_str(),
        "{plan}"
    );
    assert_eq!(plan["times"]["event_from"], "token", "{plan}");
    assert!(plan["times"]["comment"].is_string(), "{plan}");

    // The report: one plan, a breach of two hours, from the token.
    let report = common::Run::from(rw.w.fx.fleetform())
        .args(["report", "sla", "--json"])
        .output();
    ok(&report);
    let r = report.json();
    let breaches = r["breaches"].as_array().unwrap();
    assert_eq!(breaches.len(), 1, "{r}");
    assert_eq!(breaches[0]["start"], "token", "{r}");
    assert!(breaches[0]["secs"].as_u64().unwrap() >= 2 * 3600, "{r}");
    let md = common::Run::from(rw.w.fx.fleetform())
        .args(["report", "sla"])
        .output();
    ok(&md);
    assert!(
        md.stdout.contains("from the customer's token\\)"),
        "{}",
        md.stdout
    );

    // No one else sets the start. A single dispatch with the time: the
    // relay's payload already holds GitHub's 10 top-level keys (and a
    // payload's fields are closed, `dispatch::batch`'s unit tests).
    let mut single = event.clone();
    single["action"] = json!("fleetform-plan");
    single["client_payload"] = entries[0]["payload"].clone();
    single["client_payload"]["asked_at"] = json!(common::unix_now());
    let out = manager_job(
        &mut rw,
        &single,
        None,
        &["plan", "--dispatch", "--env", "staging"],
    );
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("11 top-level keys, more than 10"),
        "{}",
        stderr(&out)
    );
    // The same batch from anyone but the relay's App.
    let mut forged = event.clone();
    forged["sender"] = json!({ "login": "customer-dev", "type": "User" });
    let out = manager_job(
        &mut rw,
        &forged,
        Some("0"),
        &["plan", "--dispatch", "--env", "staging"],
    );
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("only the relay (as the manager App) sends"),
        "{}",
        stderr(&out)
    );
    // An entry whose time is ahead of GitHub's clock: the whole batch.
    let mut ahead = event.clone();
    ahead["client_payload"]["batch"][0]["asked_at"] = json!(common::unix_now() + 3600);
    let out = manager_job(
        &mut rw,
        &ahead,
        Some("0"),
        &["plan", "--dispatch", "--env", "staging"],
    );
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("batch entry 0: `asked_at`"),
        "{}",
        stderr(&out)
    );
    rw.w.gh.assert_clean();
}

/// Through the relay's webhook the start is the event's own time in
/// GitHub's signed delivery: a pull request's `updated_at` (ISO 8601), a
/// push's `repository.pushed_at` (Unix seconds, as GitHub's push payload
/// has it; "Webhook events and payloads"). Two hours ago with a one-hour
/// promise: a breach, reported as from GitHub's time of the event.
#[test]
fn a_plan_from_a_webhook_is_measured_from_githubs_time_of_the_event() {
    let (mut rw, relay) = timed_world();
    let head = rw.w.change_acme("feature", 7);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "seven");
    let id = rw.w.gh.repo_id(ACME);
    let asked = common::unix_now() - 2 * 3600;
    let delivery = json!({
        "action": "synchronize", "number": pr,
        "pull_request": {
            "number": pr, "updated_at": fleetform::audit::rfc3339(asked),
            "head": { "sha": head, "ref": "feature", "repo": { "id": id } },
        },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    });
    let (status, answer) = crate::relay::webhooks::signed_delivery(
        &relay,
        "pull_request",
        "d-sla-1",
        &delivery,
        crate::relay::serve::WEBHOOK_SECRET,
    );
    assert_eq!(status, 202, "{answer}");
    crate::relay::redeliver::wait_until("the webhook's dispatch", 60, || {
        !rw.w.gh.dispatches(MANAGER).is_empty()
    });
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 1);
    let d = &sent[0];
    assert_eq!(d["event_type"], "fleetform-batch", "{d}");
    assert_eq!(d["client_payload"]["batch"][0]["asked_at"], asked, "{d}");
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": d["sender"] });
    let out = manager_job(
        &mut rw,
        &event,
        Some("0"),
        &["plan", "--dispatch", "--env", "staging"],
    );
    ok(&out);
    let plan =
        rw.w.audit_lines()
            .into_iter()
            .find(|l| l["action"] == "plan")
            .expect("the plan's audit event");
    assert_eq!(
        plan["times"]["event"],
        fleetform::audit::rfc3339(asked).as_str(),
        "{plan}"
    );
    assert_eq!(plan["times"]["event_from"], "event", "{plan}");
    let md = common::Run::from(rw.w.fx.fleetform())
        .args(["report", "sla"])
        .output();
    ok(&md);
    assert!(
        md.stdout.contains("from GitHub's time of the event"),
        "{}",
        md.stdout
    );

    // A push to the default branch: `repository.pushed_at` in seconds.
    let main = rw.w.change_acme("main", 8);
    let pushed = common::unix_now() - 600;
    let push = json!({
        "ref": "refs/heads/main", "after": main,
        "commits": [{ "modified": ["infra/variables.yml"], "added": [], "removed": [] }],
        "head_commit": { "message": "Raise max (#12)" },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main", "pushed_at": pushed },
    });
    let (status, answer) = crate::relay::webhooks::signed_delivery(
        &relay,
        "push",
        "d-sla-2",
        &push,
        crate::relay::serve::WEBHOOK_SECRET,
    );
    assert_eq!(status, 202, "{answer}");
    crate::relay::redeliver::wait_until("the push's dispatch", 60, || {
        rw.w.gh.dispatches(MANAGER).len() == 2
    });
    let sent = rw.w.gh.dispatches(MANAGER);
    let d = sent.last().unwrap();
    assert_eq!(d["client_payload"]["batch"][0]["asked_at"], pushed, "{d}");
    assert_eq!(
        d["client_payload"]["batch"][0]["event_type"], "fleetform-apply",
        "{d}"
    );

    // `poll` of a pull request: its `updated_at` as GitHub lists it (the
    // fake moves it when the head branch gets a commit, as GitHub does),
    // so the wait for the next poll counts.
    let state = rw.w.scratch.path().join("poll-state.json");
    crate::relay::webhooks::poll(&rw, &state);
    let before = rw.w.gh.dispatches(MANAGER).len();
    let moved = rw.w.change_acme("feature", 9);
    let pushed = common::unix_now();
    let polled = crate::relay::webhooks::poll(&rw, &state);
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), before + 1, "{polled}");
    let entry = &sent[before]["client_payload"]["batch"][0];
    assert_eq!(entry["payload"]["sha"], moved.as_str(), "{entry}");
    let at = entry["asked_at"].as_u64().expect("the pull request's time");
    assert!(
        at.abs_diff(pushed) <= 5,
        "asked_at {at}, pushed {pushed}: {entry}"
    );
    rw.w.gh.assert_clean();
}

//! The relay's webhooks and polling: signed deliveries dispatch pushes and
//! pull requests once, a pull request's head must be the token's commit, and
//! polling dispatches what changed once with conditional requests (the
//! relay world of `relay`).

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use crate::common::stdout;
use crate::world::{ok, ACME, MANAGER};

use crate::relay::serve::{dispatch, http, RelayProc, RelayWorld, GLOBEX, SLUG, WEBHOOK_SECRET};
use crate::support::readme_budgets::Budgets;

/// The book's "Request budgets" rows of webhooks and polling.
const WEBHOOK: &str = "`relay serve`, `POST /webhook`";
const POLL: &str = "`poll`, per active customer";
/// The files fleetform reads in the example's customer repos (F in the
/// book's table): the variables file and one override per environment
/// (probed, found or not).
const READ_FILES: usize = 3;

/// A webhook delivery to the relay, signed with `secret`.
pub(crate) fn signed_delivery(
    relay: &RelayProc,
    event: &str,
    id: &str,
    body: &Value,
    secret: &str,
) -> (u16, Value) {
    let bytes = body.to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(bytes.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    http(
        &relay.url,
        "POST",
        "/webhook",
        &[
            ("x-github-event", event),
            ("x-github-delivery", id),
            ("x-hub-signature-256", &sig),
        ],
        bytes.as_bytes(),
    )
}

#[test]
fn webhooks_dispatch_pushes_and_pull_requests_once() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("feature", 7);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "seven");
    let id = rw.w.gh.repo_id(ACME);
    let pr_event = json!({
        "action": "synchronize", "number": pr,
        "pull_request": { "number": pr, "head": { "sha": sha, "ref": "feature", "repo": { "id": id } } },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    });
    // A bad signature, then the real delivery, then its replay.
    let (status, _) = signed_delivery(
        &relay,
        "pull_request",
        "d-1",
        &pr_event,
        "not-the-secret-000000",
    );
    assert_eq!(status, 401);
    let (status, answer) =
        signed_delivery(&relay, "pull_request", "d-1", &pr_event, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-plan");
    assert_eq!(answer["dispatched"]["pr"], pr);
    let (status, answer) =
        signed_delivery(&relay, "pull_request", "d-1", &pr_event, WEBHOOK_SECRET);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);

    // A push to main that touches the variables: an apply dispatch.
    let main = rw.w.change_acme("main", 8);
    let push = json!({
        "ref": "refs/heads/main", "after": main,
        "commits": [{ "modified": ["infra/variables.yml"], "added": [], "removed": [] }],
        "head_commit": { "message": "Raise max (#12)" },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    });
    rw.w.gh.reset_counters();
    let (status, answer) = signed_delivery(&relay, "push", "d-2", &push, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    // The book's "Request budgets": the files fleetform reads, probed at
    // the commit, and the dispatch.
    let b = Budgets::from_book();
    assert_eq!(
        rw.w.gh.request_count(),
        READ_FILES + b.n(WEBHOOK, " (the dispatch)"),
        "{}",
        rw.w.gh.request_lines()
    );
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-apply");
    assert_eq!(answer["dispatched"]["pr"], 12);
    // A push touching nothing fleetform reads, and a repo without the App's
    // registration: nothing dispatched.
    let mut other = push.clone();
    other["commits"][0]["modified"] = json!(["README.md"]);
    rw.w.gh.reset_counters();
    let (status, answer) = signed_delivery(&relay, "push", "d-3", &other, WEBHOOK_SECRET);
    assert_eq!(
        rw.w.gh.request_count(),
        b.n(WEBHOOK, " (a pull request's: 1)"),
        "{}",
        rw.w.gh.request_lines()
    );
    assert_eq!(
        (status, answer["ignored"].is_string()),
        (200, true),
        "{answer}"
    );
    let mut unknown = push.clone();
    unknown["repository"]["id"] = json!(999_999);
    unknown["repository"]["full_name"] = json!("stranger/repo");
    let (status, _) = signed_delivery(&relay, "push", "d-4", &unknown, WEBHOOK_SECRET);
    assert_eq!(status, 403);
    // A registered repo the App is no longer installed on: refused, named.
    rw.w.gh.uninstall_from(GLOBEX);
    let globex = rw.w.gh.commit(
        GLOBEX,
        "main",
        &[("infra/variables.yml", "project_name: g\n")],
    );
    let mut uninstalled = push.clone();
    uninstalled["after"] = json!(globex);
    uninstalled["repository"] =
        json!({ "id": rw.w.gh.repo_id(GLOBEX), "full_name": GLOBEX, "default_branch": "main" });
    let (status, answer) = signed_delivery(&relay, "push", "d-5", &uninstalled, WEBHOOK_SECRET);
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("not_installed")),
        "{answer}"
    );
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 2);
    rw.w.gh.assert_clean();
}

#[test]
fn pull_request_heads_must_be_the_tokens_commit() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let old = rw.w.change_acme("feature", 9);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "nine");
    let new = rw.w.change_acme("feature", 10);
    let id = rw.w.gh.repo_id(ACME);
    // A pull_request run's token: the merge commit, on refs/pull/N/merge.
    let merge = "ab".repeat(20);
    rw.w.gh.set_merge_commit(ACME, pr, &merge);
    let stale = rw.issuer.mint(&rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        &format!("refs/pull/{pr}/merge"),
        &old,
    ));
    let (status, answer) = dispatch(&relay, &json!({ "token": stale }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("stale_pr_head")),
        "{answer}"
    );
    let current = rw.issuer.mint(&rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        &format!("refs/pull/{pr}/merge"),
        &merge,
    ));
    let (status, answer) = dispatch(&relay, &json!({ "token": current, "pr": pr + 1 }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("wrong_pr")),
        "{answer}"
    );
    let (status, answer) = dispatch(&relay, &json!({ "token": current }));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["sha"], new);
    assert_eq!(answer["dispatched"]["ref"], "refs/heads/feature");
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-plan");
}

pub(crate) fn poll(rw: &RelayWorld, state: &std::path::Path) -> Value {
    let out =
        rw.w.fx
            .fleetform()
            .env("GITHUB_API_URL", rw.w.gh.api_url())
            .envs(crate::relay::serve::app_env())
            .args(["poll", "--json", "--state"])
            .arg(state)
            .output()
            .unwrap();
    ok(&out);
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// `fleetform poll` from a schedule: the first run dispatches each new
/// customer's default branch once (no fleetform status on its head yet),
/// unchanged repos cost 304s, changes are dispatched once, as the App.
#[test]
fn poll_dispatches_what_changed_once_with_conditional_requests() {
    let rw = RelayWorld::new();
    rw.w.gh
        .etags_across_tokens(crate::relay::poll_state::POLL_ETAGS);
    let state = rw.w.scratch.path().join("poll-state.json");
    let first = poll(&rw, &state);
    assert_eq!(first["first_seen"], json!(["acme", "globex"]), "{first}");
    let heads: Vec<(Value, Value)> = first["dispatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["event_type"].clone(), d["sha"].clone()))
        .collect();
    let main_of = |repo| json!(rw.w.gh.branch_head(repo, "main").unwrap());
    assert_eq!(
        heads,
        vec![
            (json!("fleetform-apply"), main_of(ACME)),
            (json!("fleetform-apply"), main_of(GLOBEX)),
        ],
        "{first}"
    );
    let initial = rw.w.gh.dispatches(MANAGER).len();
    assert_eq!(initial, 2);

    let before = rw.w.gh.not_modified_count();
    rw.w.gh.reset_counters();
    let quiet = poll(&rw, &state);
    // The book's "Request budgets": per customer 2 conditional reads,
    // and the customer App's token for its repository (a run is a new
    // process: no token kept from the last).
    let b = Budgets::from_book();
    let per_customer = b.lead(POLL)
        + b.n(POLL, " per repository for its installation")
        + b.n(POLL, " for a token for that repository alone");
    assert_eq!(rw.w.gh.request_count(), 2 * per_customer);
    assert!(
        quiet["dispatched"].as_array().unwrap().is_empty(),
        "{quiet}"
    );
    assert_eq!(quiet["not_modified"], 4, "{quiet}");
    assert_eq!(rw.w.gh.not_modified_count() - before, 4);

    // A README commit on main changes no file fleetform reads.
    rw.w.gh.commit(ACME, "main", &[("README.md", "hello\n")]);
    let readme = poll(&rw, &state);
    assert!(
        readme["dispatched"].as_array().unwrap().is_empty(),
        "{readme}"
    );

    let main = rw.w.change_acme("main", 13);
    let feature = rw.w.change_acme("feature", 14);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "fourteen");
    let changed = poll(&rw, &state);
    let d = changed["dispatched"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{changed}");
    assert_eq!(
        (d[0]["event_type"].as_str(), d[0]["sha"].as_str()),
        (Some("fleetform-apply"), Some(main.as_str()))
    );
    assert_eq!(
        (d[1]["event_type"].as_str(), d[1]["pr"].as_u64()),
        (Some("fleetform-plan"), Some(pr))
    );
    assert_eq!(d[1]["sha"], feature);
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), initial + 2);
    assert!(sent
        .iter()
        .all(|s| s["sender"]["login"] == format!("{SLUG}[bot]")));

    let again = poll(&rw, &state);
    assert!(
        again["dispatched"].as_array().unwrap().is_empty(),
        "{again}"
    );
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), initial + 2);
    rw.w.gh.assert_clean();
}

/// With `secrets:` in fleetform.yml a push that changes only a secrets
/// file (a rotation, which `refuse_stale_secrets` demands) is a change to
/// plan: the relay reads the manager's one list of customer files, the
/// secrets files included, and dispatches it; the dispatch lists the
/// secrets file, which the manager accepts from the same list.
#[test]
fn a_push_that_changes_only_a_secrets_file_is_dispatched() {
    let rw = RelayWorld::new();
    rw.w.fx.append("manager/fleetform.yml", "\nsecrets: {}\n");
    let relay = rw.start(4);
    let id = rw.w.gh.repo_id(ACME);
    let main = rw.w.gh.commit(
        ACME,
        "main",
        &[(
            "infra/secrets.staging.yml",
            "recipient: age1x\nsecrets: {}\n",
        )],
    );
    let push = json!({
        "ref": "refs/heads/main", "after": main,
        "commits": [{ "modified": ["infra/secrets.staging.yml"], "added": [], "removed": [] }],
        "head_commit": { "message": "Rotate the database password (#14)" },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    });
    let (status, answer) = signed_delivery(&relay, "push", "d-s1", &push, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-apply");
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let files = d["client_payload"]["files"].as_array().unwrap().clone();
    assert!(
        files.contains(&json!("infra/secrets.staging.yml")),
        "{files:?}"
    );
    // The manager's authorise accepts the dispatch's files.
    let mut w = rw.w;
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": d["sender"] });
    let (cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = crate::common::Run::from(cmd)
        .env("FLEETFORM_TOKEN", w.gh.token())
        .arg("authorise")
        .output();
    crate::common::assert_ok(&out);
    w.gh.assert_clean();
}

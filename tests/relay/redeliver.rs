//! The relay has GitHub redeliver the customer App's failed webhook
//! deliveries (`src/relay/redeliver.rs`): the fake GitHub really sends
//! the App's deliveries to the URL set for it, lists every attempt and
//! sends a redelivery again, signed, with the same guid, recording what
//! the relay answered (the relay world of `relay`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::relay::serve::{RelayProc, RelayWorld, CUSTOMER_APP_ID, WEBHOOK_SECRET};
use crate::support::fake_github::Limits;
use crate::support::readme_budgets::Budgets;
use crate::world::{ACME, MANAGER};

/// The README's row for a sweep's requests.
const SWEEP: &str = "`relay serve`, a redelivery sweep";

/// A loopback port nothing listens on (now).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn hook_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/webhook")
}

/// A push of `sha` to acme's main that changes the variables.
fn push(rw: &RelayWorld, sha: &str) -> Value {
    json!({
        "ref": "refs/heads/main", "after": sha,
        "commits": [{ "modified": ["infra/variables.yml"], "added": [], "removed": [] }],
        "head_commit": { "message": "Raise max" },
        "repository": { "id": rw.w.gh.repo_id(ACME), "full_name": ACME, "default_branch": "main" },
    })
}

/// The relay on `port` sweeping every `every` seconds, with `env`.
fn relay_on(rw: &RelayWorld, port: u16, every: &str, env: &[(&str, &str)]) -> RelayProc {
    let listen = format!("127.0.0.1:{port}");
    rw.start_on(&listen, (8, 10), &["--redeliver-every", every], env)
}

pub fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < end, "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many sweeps have listed the deliveries so far.
fn sweeps(rw: &RelayWorld) -> usize {
    let ops = rw.w.gh.requests();
    ops.iter()
        .filter(|r| r.operation.as_deref() == Some("apps/list-webhook-deliveries"))
        .count()
}

/// Whether `relay` has nothing queued, nothing in hand, no request in
/// flight and no webhook body held (a delivery answered 202 and still
/// handled holds its body): its `/healthz`.
pub(crate) fn idle(relay: &RelayProc) -> bool {
    let (status, v) = crate::relay::serve::http(&relay.url, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200, "{v}");
    ["queued", "handling", "in_flight", "webhook_kib"]
        .iter()
        .all(|k| v[*k].as_u64() == Some(0))
}

/// Waits until `relay` says it is idle ([`idle`]): whatever it was given
/// is done, so a count of dispatches read now is final — what "nothing
/// doubled" is checked after, instead of a fixed sleep.
pub(crate) fn wait_idle(relay: &RelayProc) {
    wait_until("the relay idle", 60, || idle(relay));
}

/// Waits for `n` more sweeps than `before`.
fn wait_sweeps(rw: &RelayWorld, before: usize, n: usize) {
    wait_until(&format!("{n} sweeps"), 30, || sweeps(rw) >= before + n);
}

fn log(relay: &RelayProc) -> String {
    std::fs::read_to_string(&relay.stderr_log).unwrap_or_default()
}

#[test]
fn a_delivery_missed_while_the_relay_was_down_is_redelivered_at_start_and_dispatched_once() {
    let rw = RelayWorld::new();
    let gh = &rw.w.gh;
    let port = free_port();
    gh.set_app_webhook(CUSTOMER_APP_ID, &hook_url(port), WEBHOOK_SECRET);
    let sha = rw.w.change_acme("main", 4);
    let missed = gh.deliver(CUSTOMER_APP_ID, "push", &push(&rw, &sha));
    assert_eq!(missed.status_code, 0, "nothing listens yet");
    // An event the relay does not act on, missed as well.
    let issue =
        json!({ "action": "opened", "repository": { "id": gh.repo_id(ACME), "full_name": ACME } });
    let other = gh.deliver(CUSTOMER_APP_ID, "issues", &issue);
    // The default schedule: the sweep at start is the only one here.
    let relay = relay_on(&rw, port, "300", &[]);
    wait_until("the dispatch", 20, || gh.dispatches(MANAGER).len() == 1);
    wait_until("the redelivery's attempt", 10, || {
        gh.hook_attempts(&missed.guid).len() == 2
    });
    // Whatever the relay was given is done (nothing queued, in hand or
    // in flight), not a second later by the clock: nothing doubled.
    wait_idle(&relay);
    assert_eq!(sweeps(&rw), 1);
    let attempts = gh.hook_attempts(&missed.guid);
    let codes: Vec<(bool, u16)> = attempts
        .iter()
        .map(|a| (a.redelivery, a.status_code))
        .collect();
    assert_eq!(codes, vec![(false, 0), (true, 202)], "{attempts:?}");
    assert_eq!(gh.dispatches(MANAGER).len(), 1);
    // The customer's trigger for the same push, which retried while the
    // relay was down: answered with what the redelivery dispatched.
    for _ in 0..2 {
        let token = rw.push_token(ACME, "main", &sha);
        let (status, again) = crate::relay::serve::dispatch(&relay, &json!({ "token": token }));
        assert_eq!(status, 200, "{again}");
        assert!(again["duplicate"].is_string(), "{again}");
    }
    wait_idle(&relay);
    assert_eq!(gh.dispatches(MANAGER).len(), 1, "an event doubled");
    assert_eq!(
        gh.hook_attempts(&other.guid).len(),
        1,
        "not an event the relay acts on"
    );
    // The README's budget: one read per sweep (one page), one write per
    // failed delivery redelivered.
    let readme = Budgets::from_book();
    let lists = rw.w.gh.requests();
    let lists = lists
        .iter()
        .filter(|r| r.operation.as_deref() == Some("apps/list-webhook-deliveries"));
    let pages: Vec<&str> = lists.map(|r| r.query.as_str()).collect();
    assert_eq!(readme.lead(SWEEP), 1);
    assert!(
        pages.iter().all(|q| *q == "per_page=100"),
        "one page of 100 per sweep: {pages:?}"
    );
    assert_eq!(
        gh.redelivery_requests(),
        readme.n(SWEEP, " per failed delivery redelivered")
    );
    let said = log(&relay);
    assert!(
        said.contains(&format!(
            "redeliver: asked GitHub to redeliver push delivery {}",
            missed.guid
        )),
        "{said}"
    );
    gh.assert_clean();
}

#[test]
fn deliveries_answered_or_refused_are_never_redelivered() {
    let rw = RelayWorld::new();
    let gh = &rw.w.gh;
    let port = free_port();
    gh.set_app_webhook(CUSTOMER_APP_ID, &hook_url(port), WEBHOOK_SECRET);
    let first = relay_on(&rw, port, "0", &[]);
    // Answered at once.
    let answered = gh.deliver(
        CUSTOMER_APP_ID,
        "push",
        &push(&rw, &rw.w.change_acme("main", 5)),
    );
    assert_eq!(answered.status_code, 202);
    // Missed (the App's URL pointed nowhere), then redelivered by hand.
    gh.set_app_webhook(CUSTOMER_APP_ID, &hook_url(free_port()), WEBHOOK_SECRET);
    let missed = gh.deliver(
        CUSTOMER_APP_ID,
        "push",
        &push(&rw, &rw.w.change_acme("main", 6)),
    );
    assert_eq!(missed.status_code, 0);
    gh.set_app_webhook(CUSTOMER_APP_ID, &hook_url(port), WEBHOOK_SECRET);
    assert_eq!(gh.redeliver_by_hand(missed.id).status_code, 202);
    // Signed with another secret: the relay refuses it.
    gh.set_app_webhook(
        CUSTOMER_APP_ID,
        &hook_url(port),
        "not-the-relays-secret-0000",
    );
    let refused = gh.deliver(
        CUSTOMER_APP_ID,
        "push",
        &push(&rw, &rw.w.change_acme("main", 7)),
    );
    assert_eq!(refused.status_code, 401);
    gh.set_app_webhook(CUSTOMER_APP_ID, &hook_url(port), WEBHOOK_SECRET);
    assert_eq!(gh.dispatches(MANAGER).len(), 2);
    assert_eq!(sweeps(&rw), 0, "--redeliver-every 0: no sweep");
    drop(first);
    // A restarted relay (it remembers nothing) sweeps every second.
    let _relay = relay_on(&rw, port, "1", &[]);
    wait_sweeps(&rw, 0, 3);
    assert_eq!(gh.redelivery_requests(), 0);
    assert_eq!(gh.hook_attempts(&refused.guid).len(), 1);
    assert_eq!(gh.dispatches(MANAGER).len(), 2);
    gh.assert_clean();
}

#[test]
fn a_delivery_that_keeps_failing_is_redelivered_at_most_three_times() {
    let rw = RelayWorld::new();
    let gh = &rw.w.gh;
    // The App's URL points where nothing ever answers.
    gh.set_app_webhook(CUSTOMER_APP_ID, &hook_url(free_port()), WEBHOOK_SECRET);
    let failing = gh.deliver(
        CUSTOMER_APP_ID,
        "push",
        &push(&rw, &rw.w.change_acme("main", 8)),
    );
    let cap = Budgets::from_book().n(SWEEP, " per delivery");
    let relay = rw.start_args(8, 10, &["--redeliver-every", "1"]);
    wait_until("the redeliveries", 20, || gh.redelivery_requests() == cap);
    let before = sweeps(&rw);
    wait_sweeps(&rw, before, 3);
    assert_eq!(gh.redelivery_requests(), cap);
    let attempts = gh.hook_attempts(&failing.guid);
    assert_eq!(attempts.len(), cap + 1, "{attempts:?}");
    assert!(attempts.iter().all(|a| a.status_code == 0), "{attempts:?}");
    let said = log(&relay);
    assert!(
        said.contains(&format!(
            "delivery {} failed after {cap} redeliveries",
            failing.guid
        )),
        "{said}"
    );
    // After a restart the list itself still holds the cap.
    drop(relay);
    let _relay = rw.start_args(8, 10, &["--redeliver-every", "1"]);
    let before = sweeps(&rw);
    wait_sweeps(&rw, before, 3);
    assert_eq!(gh.redelivery_requests(), cap);
    assert_eq!(gh.dispatches(MANAGER).len(), 0);
    gh.assert_clean();
}

#[test]
fn sweeps_stay_within_githubs_write_limits() {
    let rw = RelayWorld::new();
    let gh = &rw.w.gh;
    // GitHub's secondary limits, enforced; the relay schedules against
    // GitHub's numbers too (the relay tests' raise undone).
    gh.enforce_limits(Limits {
        writes_per_minute: 80,
        writes_per_hour: 500,
        points_per_minute: 900,
    });
    gh.set_app_webhook(CUSTOMER_APP_ID, &hook_url(free_port()), WEBHOOK_SECRET);
    let sha = rw.w.change_acme("main", 9);
    // 30 deliveries that keep failing, each worth 3 redeliveries: 90
    // writes wanted within seconds, more than the minute's 80.
    for _ in 0..30 {
        gh.deliver(CUSTOMER_APP_ID, "push", &push(&rw, &sha));
    }
    // The relay at GitHub's default limits, as every relay test.
    let relay = rw.start_args(8, 10, &["--redeliver-every", "1"]);
    wait_until("80 redeliveries", 30, || gh.redelivery_requests() >= 80);
    // The next one waits for the minute to pass: two sweeps since then
    // held theirs back, saying so, and nothing else was sent.
    wait_until("two redeliveries held back", 30, || {
        log(&relay).matches("not sent").count() >= 2
    });
    assert_eq!(gh.redelivery_requests(), 80, "{}", log(&relay));
    assert_eq!(gh.limit_answers(), 0);
    assert!(gh.busiest_write_minute() <= 80);
    gh.assert_clean();
}

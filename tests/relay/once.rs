//! Exactly once per event: the App's webhook and the customer's trigger
//! for the same push, a re-run of the trigger, two relay instances and a
//! restart dispatch one event once (the relay world of `relay`; moto's S3
//! for the shared records store).

use serde_json::{json, Value};

use crate::moto::{curl_signed_put, Moto};
use crate::relay::serve::{dispatch, RelayProc, RelayWorld, WEBHOOK_SECRET};
use crate::relay::webhooks::signed_delivery;
use crate::world::{ACME, MANAGER};

/// The App's delivery of a push of `sha` to acme's main that changes the
/// variables.
fn push_delivery(rw: &RelayWorld, sha: &str) -> Value {
    json!({
        "ref": "refs/heads/main", "after": sha,
        "commits": [{ "modified": ["infra/variables.yml"], "added": [], "removed": [] }],
        "head_commit": { "message": "Raise max" },
        "repository": { "id": rw.w.gh.repo_id(ACME), "full_name": ACME, "default_branch": "main" },
    })
}

fn trigger(rw: &RelayWorld, relay: &RelayProc, sha: &str) -> (u16, Value) {
    dispatch(relay, &json!({ "token": rw.push_token(ACME, "main", sha) }))
}

#[test]
fn the_webhook_and_the_trigger_dispatch_an_event_once() {
    let rw = RelayWorld::new();
    let relay = rw.start(8);
    let sha = rw.w.change_acme("main", 4);
    let (status, first) = signed_delivery(
        &relay,
        "push",
        "d-1",
        &push_delivery(&rw, &sha),
        WEBHOOK_SECRET,
    );
    assert_eq!(status, 202, "{first}");
    // The customer's trigger for the same push, then a re-run of it (a new
    // token): answered with what was dispatched, nothing sent again.
    for _ in 0..2 {
        let (status, again) = trigger(&rw, &relay, &sha);
        assert_eq!(status, 200, "{again}");
        assert!(again["duplicate"].is_string(), "{again}");
        assert_eq!(again["dispatched"], first["dispatched"]);
    }
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);

    // A pull request: the trigger's run first, then the App's delivery.
    let head = rw.w.change_acme("feature", 5);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "five");
    let id = rw.w.gh.repo_id(ACME);
    let claims = rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        &format!("refs/pull/{pr}/merge"),
        &head,
    );
    let (status, planned) = dispatch(
        &relay,
        &json!({ "token": rw.issuer.mint(&claims), "pr": pr }),
    );
    assert_eq!(status, 202, "{planned}");
    let delivery = json!({
        "action": "synchronize", "number": pr,
        "pull_request": { "number": pr, "head": { "sha": head, "ref": "feature", "repo": { "id": id } } },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    });
    let (status, again) = signed_delivery(&relay, "pull_request", "d-2", &delivery, WEBHOOK_SECRET);
    assert_eq!(status, 200, "{again}");
    assert!(again["duplicate"].is_string(), "{again}");
    // Another commit is another event.
    let next = rw.w.change_acme("main", 6);
    assert_eq!(trigger(&rw, &relay, &next).0, 202);
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 3);
    rw.w.gh.assert_clean();
}

/// Two instances sharing the records bucket, asked for one push at the
/// same time (the webhook on one, the trigger on the other), and a
/// restarted instance: one dispatch; the claims are create-only objects.
#[test]
fn two_instances_and_a_restart_share_the_claims_in_the_records_bucket() {
    let moto = Moto::start();
    assert!(curl_signed_put(&moto.url("/relay-records")));
    let rw = RelayWorld::new();
    let cfg = rw.w.fx.read("manager/fleetform.yml");
    let local = "records:\n  kind: local\n  dir: .fleetform/records\n";
    assert!(cfg.contains(local), "{cfg}");
    rw.w.fx.write(
        "manager/fleetform.yml",
        &cfg.replace(
            local,
            &format!(
                "records:\n  kind: s3\n  bucket: relay-records\n  region: us-east-1\n  endpoint: {}\n  use_path_style: true\n",
                moto.url("")
            ),
        ),
    );
    let aws = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let a = rw.start_env(8, 10, &[], &aws);
    let b = rw.start_env(8, 10, &[], &aws);
    let sha = rw.w.change_acme("main", 7);
    let token = rw.push_token(ACME, "main", &sha);
    let (a_url, delivery) = (a.url.clone(), push_delivery(&rw, &sha));
    let from_a = std::thread::spawn(move || {
        crate::relay::serve::http(
            &a_url,
            "POST",
            "/dispatch",
            &[],
            json!({ "token": token }).to_string().as_bytes(),
        )
    });
    let from_b = signed_delivery(&b, "push", "d-9", &delivery, WEBHOOK_SECRET);
    let from_a = from_a.join().unwrap();
    let statuses = [from_a.0, from_b.0];
    assert!(statuses.contains(&202), "{from_a:?} {from_b:?}");
    assert_eq!(
        rw.w.gh.dispatches(MANAGER).len(),
        1,
        "{from_a:?} {from_b:?}"
    );
    drop(a);
    // A new process remembers nothing in memory: the bucket answers.
    let a = rw.start_env(8, 10, &[], &aws);
    let (status, again) = trigger(&rw, &a, &sha);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["dispatched"]["sha"].as_str(), Some(sha.as_str()));
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
    let keys = moto.keys_in("relay-records");
    let id = rw.w.gh.repo_id(ACME);
    assert!(
        keys.contains(&format!(
            "fleetform/records/relay/events/{id}/{sha}/apply/claim-0"
        )) && keys.contains(&format!(
            "fleetform/records/relay/events/{id}/{sha}/apply/done"
        )),
        "{keys:?}"
    );
}

/// GitHub fails a delivery it has no answer for within 10 s: the relay
/// answers (202, accepted) without waiting on GitHub — here GitHub holds
/// every request until the test lets it go, and has answered none when
/// the relay's answer comes — and the delivery is dispatched after, once,
/// though GitHub redelivers it and the customer's trigger asks for it twice.
/// No wall-clock bound: a relay that waited on any answer of GitHub's
/// would have none to give before the held requests are let go (the
/// test's read gives up long before GitHub's 600 s hold ends).
#[test]
fn a_slow_delivery_is_answered_at_once_and_dispatched_after() {
    let rw = RelayWorld::new();
    let relay = rw.start(8);
    let sha = rw.w.change_acme("main", 5);
    rw.w.gh
        .enforce_concurrency(100, std::time::Duration::from_secs(600), 1);
    // What GitHub has answered the relay for events (its redelivery
    // sweep's listings aside, which run on their own).
    let answered = || {
        rw.w.gh
            .requests()
            .iter()
            .filter(|r| {
                !r.operation
                    .as_deref()
                    .is_some_and(|o| o.contains("webhook-deliver"))
            })
            .count()
    };
    let answered_before = answered();
    let (status, answer) = signed_delivery(
        &relay,
        "push",
        "slow-1",
        &push_delivery(&rw, &sha),
        WEBHOOK_SECRET,
    );
    assert_eq!(status, 202, "{answer}");
    assert!(answer["accepted"].is_string(), "{answer}");
    assert_eq!(
        answered(),
        answered_before,
        "GitHub answered the relay before the relay answered the delivery"
    );
    // Answered while the work still waits on GitHub: a request is held,
    // nothing is dispatched yet.
    let start = std::time::Instant::now();
    while rw.w.gh.concurrency().2 == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no request reached GitHub after the answer"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    rw.w.gh.release_held();
    let start = std::time::Instant::now();
    while rw.w.gh.dispatches(MANAGER).is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "never dispatched"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (status, again) = signed_delivery(
        &relay,
        "push",
        "slow-1",
        &push_delivery(&rw, &sha),
        WEBHOOK_SECRET,
    );
    assert_eq!(status, 200, "{again}");
    // The customer's trigger for the same push, run twice (a re-run, a new
    // token): the relay's claim answers, nothing is sent again.
    for _ in 0..2 {
        let (status, again) = trigger(&rw, &relay, &sha);
        assert_eq!(status, 200, "{again}");
        assert!(again["duplicate"].is_string(), "{again}");
    }
    crate::relay::redeliver::wait_idle(&relay);
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1, "an event doubled");
}

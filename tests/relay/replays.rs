//! Replays refused by what is signed, not by what a sender may change: a
//! webhook delivery sent again under a new `X-GitHub-Delivery` id (the id
//! is not signed) is not handled again; an OIDC token is used once, by its
//! `jti` (a token without one is refused), and its use is remembered in
//! the relay's records bucket, so another instance or the same one after a
//! restart refuses it too (the relay world of `relay`, moto's S3 of
//! `relay_durable`).

use serde_json::{json, Value};

use crate::relay::durable::{with_bucket, AWS};
use crate::relay::redeliver::wait_idle;
use crate::relay::serve::{dispatch, RelayProc, RelayWorld, WEBHOOK_SECRET};
use crate::relay::webhooks::signed_delivery;
use crate::world::{ACME, MANAGER};

/// A push of `sha` to acme's main touching its variables.
fn push_event(rw: &RelayWorld, sha: &str) -> Value {
    let id = rw.w.gh.repo_id(ACME);
    json!({
        "ref": "refs/heads/main", "after": sha,
        "commits": [{ "modified": ["infra/variables.yml"], "added": [], "removed": [] }],
        "head_commit": { "message": "Raise max" },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    })
}

fn ignored_as_handled(answer: &(u16, Value)) {
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(
        answer.1["ignored"], "delivery already handled",
        "{}",
        answer.1
    );
}

/// The same signed body under a new delivery id (and another event
/// header, which is not signed either) is answered as handled before and
/// asks GitHub nothing; GitHub's own redelivery (the same id) too.
#[test]
fn a_delivery_replayed_under_a_new_id_is_not_handled_again() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 31);
    let push = push_event(&rw, &sha);
    let (status, answer) = signed_delivery(&relay, "push", "d-1", &push, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    let asked = rw.w.gh.request_count();
    ignored_as_handled(&signed_delivery(
        &relay,
        "push",
        "d-1",
        &push,
        WEBHOOK_SECRET,
    ));
    ignored_as_handled(&signed_delivery(
        &relay,
        "push",
        "d-replayed",
        &push,
        WEBHOOK_SECRET,
    ));
    ignored_as_handled(&signed_delivery(
        &relay,
        "pull_request",
        "d-replayed-2",
        &push,
        WEBHOOK_SECRET,
    ));
    // Whatever the replays set going has ended (the relay idle), not a
    // moment later by the clock: nothing asked, nothing doubled.
    wait_idle(&relay);
    assert_eq!(rw.w.gh.request_count(), asked, "a replay asked GitHub");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
    // Another body is another delivery.
    let other = rw.w.change_acme("main", 32);
    let (status, answer) = signed_delivery(
        &relay,
        "push",
        "d-2",
        &push_event(&rw, &other),
        WEBHOOK_SECRET,
    );
    assert_eq!(status, 202, "{answer}");
    wait_idle(&relay);
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 2);
}

/// A token GitHub would never mint (no `jti`) is refused before anything
/// is dispatched, naming the claim.
#[test]
fn a_token_without_jti_is_refused() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 33);
    let mut claims = rw
        .issuer
        .claims(ACME, rw.w.gh.repo_id(ACME), "push", "refs/heads/main", &sha);
    claims.as_object_mut().unwrap().remove("jti");
    let token = rw.issuer.mint(&claims);
    for _ in 0..2 {
        let (status, answer) = dispatch(&relay, &json!({ "token": token }));
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("bad_token")),
            "{answer}"
        );
        assert!(
            answer["message"].as_str().unwrap().contains("`jti`"),
            "{answer}"
        );
    }
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
}

fn token_used(relay: &RelayProc, token: &str) {
    let (status, answer) = dispatch(relay, &json!({ "token": token }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("token_used")),
        "{answer}"
    );
}

/// With the records bucket, a token used at instance A is refused at
/// instance B and at A started again (not merely answered "dispatched
/// already" by the event's claim), and a delivery A handled is not
/// handled by B under a new id; the marks are digests, never the token.
#[test]
fn used_tokens_and_deliveries_are_remembered_across_instances_and_restarts() {
    let (moto, rw) = with_bucket();
    let mut a = rw.start_env(8, 10, &[], &AWS);
    let b = rw.start_env(8, 10, &[], &AWS);
    let sha = rw.w.change_acme("main", 34);
    let token = rw.push_token(ACME, "main", &sha);
    let (status, answer) = dispatch(&a, &json!({ "token": token }));
    assert_eq!(status, 202, "{answer}");
    token_used(&b, &token);
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let a2 = rw.start_env(8, 10, &[], &AWS);
    token_used(&a2, &token);
    // A new token for the same push: the event was dispatched already.
    let (status, answer) = dispatch(&a2, &json!({ "token": rw.push_token(ACME, "main", &sha) }));
    assert_eq!(status, 200, "{answer}");
    assert!(answer["duplicate"].is_string(), "{answer}");

    let other = rw.w.change_acme("main", 35);
    let push = push_event(&rw, &other);
    let (status, answer) = signed_delivery(&a2, "push", "d-a", &push, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    ignored_as_handled(&signed_delivery(&b, "push", "d-b", &push, WEBHOOK_SECRET));
    wait_idle(&a2);
    wait_idle(&b);
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 2);
    let keys = moto.keys_in("relay-records");
    let seen: Vec<&String> = keys.iter().filter(|k| k.contains("/relay/seen/")).collect();
    for kind in ["token", "body", "delivery"] {
        assert!(
            seen.iter()
                .any(|k| k.contains(&format!("/relay/seen/{kind}/")) && k.ends_with("/use-0")),
            "{seen:?}"
        );
    }
    // Each mark is named by a digest (64 hex), never by what it marks.
    for k in &seen {
        let digest = k
            .split("/relay/seen/")
            .nth(1)
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap();
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{k}"
        );
    }
}

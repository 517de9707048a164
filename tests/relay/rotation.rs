//! Secrets rotated without a gap: while `FLEETFORM_WEBHOOK_SECRET_PREVIOUS`
//! is set the relay accepts deliveries signed with either webhook secret
//! (GitHub signs with one; deliveries signed before its App got the new one
//! still arrive), and says so when it starts; a third secret is refused.

use serde_json::json;

use crate::relay::serve::{RelayWorld, WEBHOOK_SECRET};
use crate::relay::webhooks::signed_delivery;
use crate::world::{ACME, MANAGER};

const NEW_SECRET: &str = "relay-webhook-secret-rotated-9876543210";

#[test]
fn both_webhook_secrets_are_accepted_while_the_previous_one_is_set() {
    let rw = RelayWorld::new();
    let env = [
        ("FLEETFORM_WEBHOOK_SECRET", NEW_SECRET),
        ("FLEETFORM_WEBHOOK_SECRET_PREVIOUS", WEBHOOK_SECRET),
    ];
    let relay = rw.start_env(8, 10, &[], &env);
    let plain = rw.start(8);
    let id = rw.w.gh.repo_id(ACME);
    let push = |sha: &str| {
        json!({
            "ref": "refs/heads/main", "after": sha,
            "commits": [{ "modified": ["infra/variables.yml"], "added": [], "removed": [] }],
            "head_commit": { "message": "Raise max" },
            "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
        })
    };
    let (old, new) = (rw.w.change_acme("main", 41), rw.w.change_acme("main", 42));
    for (sha, secret, delivery) in [(&old, WEBHOOK_SECRET, "r-1"), (&new, NEW_SECRET, "r-2")] {
        let (status, answer) = signed_delivery(&relay, "push", delivery, &push(sha), secret);
        assert_eq!(status, 202, "{secret}: {answer}");
    }
    let third = rw.w.change_acme("main", 43);
    let (status, answer) = signed_delivery(
        &relay,
        "push",
        "r-3",
        &push(&third),
        "another-secret-000000000000",
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("bad_signature")),
        "{answer}"
    );
    // Without the previous secret the new one alone is the relay's.
    let (status, _) = signed_delivery(&plain, "push", "r-4", &push(&third), NEW_SECRET);
    assert_eq!(status, 401);
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 2);
    let log = std::fs::read_to_string(&relay.stderr_log).unwrap();
    assert!(
        log.contains("FLEETFORM_WEBHOOK_SECRET_PREVIOUS is set"),
        "{log}"
    );
    assert!(
        !log.contains(WEBHOOK_SECRET) && !log.contains(NEW_SECRET),
        "{log}"
    );
}

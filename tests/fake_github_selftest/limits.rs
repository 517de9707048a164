//! The fake GitHub is no kinder than GitHub: its documented secondary
//! limits hold from the start, limit answers come with and without
//! `retry-after`, ETags are weak and tied to the token, and a request
//! body's field the schema does not list is refused (helpers in
//! `fake_github_selftest`).

use crate::support;

use serde_json::json;
use support::fake_github::Limits;

use crate::fake_github_selftest::server::{
    call, get, request_bytes, seeded, send_raw, violation_messages, REPO,
};

/// A status on `sha`: one content-creating request.
fn status(gh: &support::fake_github::FakeGitHub, sha: &str) -> u16 {
    let body = json!({ "state": "success", "context": "selftest" });
    call(
        gh,
        "POST",
        &format!("/repos/{REPO}/statuses/{sha}"),
        Some(body),
    )
    .status
}

/// GitHub's 80 content-creating requests a minute hold without a test
/// asking: the 81st is answered 403 with `retry-after`; asked to, the
/// fake answers without it (both are GitHub's documented answers).
#[test]
fn githubs_write_limit_holds_from_the_start() {
    let (gh, sha) = seeded();
    for i in 0..80 {
        assert_eq!(status(&gh, &sha), 201, "write {i}");
    }
    let one_over = || {
        let body = json!({ "state": "success", "context": "selftest" });
        call(
            &gh,
            "POST",
            &format!("/repos/{REPO}/statuses/{sha}"),
            Some(body),
        )
    };
    let over = one_over();
    assert_eq!((over.status, over.header("retry-after")), (403, Some("60")));
    assert!(over.json()["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));
    gh.limit_answers_without_retry_after();
    let over = one_over();
    assert_eq!((over.status, over.header("retry-after")), (403, None));
    assert_eq!(gh.limit_answers(), 2);
    // A test that needs more says why; then nothing is refused.
    gh.lift_limits("this self-test shows the lift");
    assert_eq!(status(&gh, &sha), 201);
    // And one that needs less sets its own.
    gh.enforce_limits(Limits {
        writes_per_minute: 1,
        ..Limits::GITHUB
    });
    assert_eq!(status(&gh, &sha), 201);
    assert_eq!(status(&gh, &sha), 403);
    gh.assert_clean();
}

/// ETags are weak (`W/"…"`, as GitHub mostly sends them) and change with
/// the token: a new token's request with the old ETag gets the body again.
#[test]
fn etags_are_weak_and_change_with_the_token() {
    let (mut gh, _) = seeded();
    let first = get(&gh, "/repos/acme/app");
    let etag = first.header("etag").unwrap().to_string();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let conditional = |gh: &support::fake_github::FakeGitHub, etag: &str| {
        let prefix = gh
            .api_url()
            .trim_start_matches(&format!("http://{}", gh.addr()))
            .to_string();
        let auth = format!("Bearer {}", gh.token());
        let bytes = request_bytes(
            "GET",
            &format!("{prefix}/repos/acme/app"),
            Some(&auth),
            None,
        );
        let text = String::from_utf8(bytes).unwrap().replacen(
            "connection: close\r\n",
            &format!("if-none-match: {etag}\r\nconnection: close\r\n"),
            1,
        );
        send_raw(gh.addr(), text.as_bytes()).unwrap()
    };
    assert_eq!(conditional(&gh, &etag).status, 304);
    gh.set_token("ghs_AnHourLaterTokenabcdefABCDEF0123456789");
    let again = conditional(&gh, &etag);
    assert_eq!(again.status, 200, "the old token's ETag is not this one's");
    let renewed = again.header("etag").unwrap().to_string();
    assert!(renewed.starts_with("W/\""), "{renewed}");
    assert_ne!(renewed, etag);
    assert_eq!(conditional(&gh, &renewed).status, 304);
    gh.assert_clean();
}

/// A field the schema does not list (a misspelt optional one) is refused
/// 422 and is a violation, though GitHub's schema does not say
/// `additionalProperties: false`; the listed fields pass.
#[test]
fn a_body_field_the_schema_does_not_list_is_refused() {
    let (gh, sha) = seeded();
    let path = format!("/repos/{REPO}/statuses/{sha}");
    let listed = json!({ "state": "success", "context": "c", "description": "d" });
    assert_eq!(call(&gh, "POST", &path, Some(listed)).status, 201);
    gh.assert_clean();
    let misspelt = json!({ "state": "success", "contxt": "c" });
    assert_eq!(call(&gh, "POST", &path, Some(misspelt)).status, 422);
    // Any operation's listed fields: a misspelt `body`.
    let pr = json!({ "title": "t", "head": "main", "base": "main", "draft": false, "maintainer_can_modify": true, "bodyy": "x" });
    assert_eq!(
        call(&gh, "POST", &format!("/repos/{REPO}/pulls"), Some(pr)).status,
        422
    );
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].contains("contxt"), "{}", messages[0]);
    assert!(messages[1].contains("bodyy"), "{}", messages[1]);
    assert_eq!(gh.statuses(REPO, &sha).len(), 1);
}

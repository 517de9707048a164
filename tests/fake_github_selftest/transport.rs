//! The fake GitHub's transport: the concurrency limit, injected faults,
//! keep-alive and chunked bodies, an enterprise prefix, and octocrab's
//! typed API against it (helpers in `fake_github_selftest`).

use crate::support;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::fake_github::{FakeGitHub, Fault};

use crate::fake_github_selftest::server::{
    connect, dispatch_x, get, read_response, request_bytes, seeded, send_raw, violation_messages,
    REPO, VERSION,
};

// ----- faults -----

/// With concurrency enforced (1 request in flight per token here; GitHub
/// allows 100), a request arriving while its token's one is held is
/// answered as a secondary limit: 403 with `retry-after`.
#[test]
fn a_request_over_the_concurrency_limit_is_refused() {
    let (gh, _) = seeded();
    gh.enforce_concurrency(1, Duration::from_secs(600), 7);
    std::thread::scope(|s| {
        let held = s.spawn(|| get(&gh, "/repos/acme/app"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while gh.concurrency().2 == 0 {
            assert!(Instant::now() < deadline, "the first request never arrived");
            std::thread::sleep(Duration::from_millis(10));
        }
        let over = get(&gh, "/repos/acme/app");
        assert_eq!((over.status, over.header("retry-after")), (403, Some("7")));
        assert!(over.json()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit"));
        gh.release_held();
        assert_eq!(held.join().unwrap().status, 200);
    });
    assert_eq!(gh.concurrency(), (1, 1, 0));
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);
}

#[test]
fn faults_are_consumed_in_order_and_logged() {
    let (gh, _) = seeded();
    gh.inject(Fault::status(502).times(2));
    gh.inject(
        Fault::status(403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "1700000000")
            .body(r#"{"message":"API rate limit exceeded"}"#),
    );
    gh.inject(Fault::secondary_rate_limit(1));
    gh.inject(Fault::too_many_requests(2));
    assert_eq!(gh.pending_faults(), 5);
    assert_eq!(get(&gh, "/repos/acme/app").status, 502);
    assert_eq!(get(&gh, "/repos/acme/app").status, 502);
    let limited = get(&gh, "/repos/acme/app");
    assert_eq!(
        (limited.status, limited.header("x-ratelimit-remaining")),
        (403, Some("0"))
    );
    assert_eq!(limited.json()["message"], "API rate limit exceeded");
    let secondary = get(&gh, "/repos/acme/app");
    assert_eq!(
        (secondary.status, secondary.header("retry-after")),
        (403, Some("1"))
    );
    assert!(secondary.json()["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));
    let many = get(&gh, "/repos/acme/app");
    assert_eq!((many.status, many.header("retry-after")), (429, Some("2")));
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);

    let log = gh.requests();
    assert_eq!(log.len(), 6);
    let faults: Vec<Option<&str>> = log.iter().map(|r| r.fault.as_deref()).collect();
    assert_eq!(
        faults,
        [
            Some("status 502"),
            Some("status 502"),
            Some("status 403"),
            Some("status 403"),
            Some("status 429"),
            None
        ]
    );
    assert_eq!(gh.request_count(), 6);
    assert_eq!(gh.write_count(), 0);
    gh.reset_counters();
    assert_eq!(gh.request_count(), 0);

    let exhausted = Fault::rate_limit_exhausted(1_700_000_000);
    gh.inject(exhausted);
    let resp = get(&gh, "/repos/acme/app");
    assert_eq!(
        (resp.status, resp.header("x-ratelimit-reset")),
        (403, Some("1700000000"))
    );
    gh.assert_clean();
}

#[test]
fn faults_can_target_requests() {
    let (gh, _) = seeded();
    gh.inject(Fault::server_error().on("POST", "/dispatches").times(2));
    gh.inject_matching("GET", "/contents/", Fault::bad_gateway());
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);
    assert_eq!(get(&gh, "/repos/acme/app/contents/README.md").status, 502);
    assert_eq!(get(&gh, "/repos/acme/app/contents/README.md").status, 200);
    let dispatch = || dispatch_x(&gh);
    assert_eq!([dispatch(), dispatch(), dispatch()], [500, 500, 204]);
    assert_eq!(
        gh.dispatches(REPO).len(),
        1,
        "faulted requests change nothing"
    );
    assert_eq!(gh.write_count(), 3);
    assert_eq!(gh.pending_faults(), 0);
    gh.inject(Fault::Reset);
    gh.clear_faults();
    assert_eq!(gh.pending_faults(), 0);
    gh.assert_clean();
}

#[test]
fn connection_reset_delay_and_malformed_json() {
    let (gh, _) = seeded();
    gh.inject(Fault::Reset);
    let auth = format!("Bearer {}", gh.token());
    let err = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", Some(&auth), None),
    )
    .expect_err("no response");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
        ),
        "{err:?}"
    );

    gh.inject(Fault::Delay(Duration::from_millis(300)));
    let start = Instant::now();
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    gh.inject(Fault::MalformedJson);
    let resp = get(&gh, "/repos/acme/app");
    assert_eq!(resp.status, 200);
    assert!(serde_json::from_str::<Value>(&resp.body).is_err());

    let log = gh.requests();
    let summary: Vec<(u16, Option<&str>)> =
        log.iter().map(|r| (r.status, r.fault.as_deref())).collect();
    assert_eq!(
        summary,
        [
            (0, Some("reset")),
            (200, Some("delay 300ms")),
            (200, Some("malformed-json"))
        ]
    );
    gh.assert_clean();
}

// ----- HTTP details -----

#[test]
fn keep_alive_and_chunked_bodies() {
    let (gh, _) = seeded();
    let auth = format!("Bearer {}", gh.token());
    let mut stream = connect(gh.addr());
    for _ in 0..3 {
        let req =
            format!("GET /repos/acme/app HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\naccept: application/vnd.github+json\r\n{VERSION}\r\n\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        assert_eq!(read_response(&mut stream).unwrap().status, 200);
    }
    let body = r#"{"event_type":"chunked","client_payload":{"a":1}}"#;
    let (one, two) = body.split_at(10);
    let req = format!(
        "POST /repos/acme/app/dispatches HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\naccept: application/vnd.github+json\r\n{VERSION}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x};ext=1\r\n{one}\r\n{:x}\r\n{two}\r\n0\r\n\r\n",
        one.len(),
        two.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 204);
    assert_eq!(gh.dispatches(REPO)[0]["event_type"], "chunked");
    assert_eq!(gh.request_count(), 4);

    // Garbage gets a 400 and a closed connection, not a hang.
    let resp = send_raw(gh.addr(), b"NONSENSE\r\n\r\n").unwrap();
    assert_eq!(resp.status, 400);
    gh.assert_clean();
}

#[test]
fn enterprise_prefix() {
    let gh = FakeGitHub::start_with_prefix("/api/v3");
    gh.add_repo(REPO);
    assert_eq!(gh.api_url(), format!("http://{}/api/v3", gh.addr()));
    let resp = get(&gh, "/repos/acme/app");
    assert_eq!(resp.status, 200);
    assert!(resp.json()["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/repos/", gh.api_url())));
    assert_eq!(gh.requests()[0].path, "/repos/acme/app");

    // Pagination links keep the prefix.
    let n = gh.open_issue(REPO, "i", "b");
    for i in 0..3 {
        gh.add_comment(REPO, n, "octocat", &format!("c{i}"));
    }
    let page = get(
        &gh,
        &format!("/repos/acme/app/issues/{n}/comments?per_page=2"),
    );
    assert!(page.header("link").unwrap().contains(&format!(
        "<{}/repos/acme/app/issues/{n}/comments?per_page=2&page=2>",
        gh.api_url()
    )));

    // Outside the prefix: a violation.
    let auth = format!("Bearer {}", gh.token());
    let resp = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", Some(&auth), None),
    )
    .unwrap();
    assert_eq!(resp.status, 404);
    let messages = violation_messages(&gh);
    assert!(
        messages.len() == 1 && messages[0].contains("outside the API prefix"),
        "{messages:#?}"
    );
}

// ----- octocrab, as fleetform uses it -----

fn octocrab_for(gh: &FakeGitHub) -> octocrab::Octocrab {
    // octocrab sends `X-GitHub-Api-Version` itself; `Accept` is added.
    octocrab::Octocrab::builder()
        .base_uri(gh.api_url())
        .unwrap()
        .add_header(http::header::ACCEPT, "application/vnd.github+json".into())
        .personal_token(gh.token().to_string())
        .build()
        .unwrap()
}

fn octocrab_round_trip(gh: &FakeGitHub) {
    use octocrab::models::StatusState;
    use octocrab::params::repos::Reference;

    gh.add_repo(REPO);
    let main = gh.commit(
        REPO,
        "main",
        &[("infra/variables.yml", "max_instances: 2\n")],
    );
    gh.commit(
        REPO,
        "feature",
        &[("infra/variables.yml", "max_instances: 3\n")],
    );
    let pr = gh.open_pr(REPO, "feature", "main", "Bump");
    gh.add_label(REPO, pr, "fleetform");
    gh.set_comment_page_size(2);
    for i in 0..3 {
        gh.add_comment(REPO, pr, "octocat", &format!("earlier {i}"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // octocrab spawns its service on the current runtime.
        let crab = octocrab_for(gh);
        let repos = crab.repos("acme", "app");
        let repo = repos.get().await.unwrap();
        assert_eq!(repo.full_name.as_deref(), Some("acme/app"));
        assert_eq!(repo.default_branch.as_deref(), Some("main"));

        let pull = crab.pulls("acme", "app").get(pr).await.unwrap();
        assert_eq!(pull.head.ref_field, "feature");
        assert_eq!(pull.base.sha, main);
        assert_eq!(pull.labels.unwrap()[0].name, "fleetform");
        let issue = crab.issues("acme", "app").get(pr).await.unwrap();
        assert!(issue.pull_request.is_some());

        let page = crab
            .issues("acme", "app")
            .list_comments(pr)
            .send()
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert!(page.next.is_some());
        let all = crab.all_pages(page).await.unwrap();
        assert_eq!(all.len(), 3);
        let created = crab
            .issues("acme", "app")
            .create_comment(pr, "plan: +1 ~0 -0")
            .await
            .unwrap();
        assert_eq!(created.user.login, "fleetform-bot");
        let updated = crab
            .issues("acme", "app")
            .update_comment(created.id, "plan: +2 ~0 -0")
            .await
            .unwrap();
        assert_eq!(updated.body.as_deref(), Some("plan: +2 ~0 -0"));

        let status = repos
            .create_status(main.clone(), StatusState::Success)
            .context("fleetform/staging".to_string())
            .description("staging: no changes".to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(status.context.as_deref(), Some("fleetform/staging"));
        let combined = repos
            .combined_status_for_ref(&Reference::Branch("main".to_string()))
            .await
            .unwrap();
        assert_eq!(combined.state, StatusState::Success);
        assert_eq!(combined.total_count, 1);

        let mut content = repos
            .get_content()
            .path("infra/variables.yml")
            .r#ref("feature")
            .send()
            .await
            .unwrap();
        let file = content.take_items().remove(0);
        assert_eq!(
            file.decoded_content().as_deref(),
            Some("max_instances: 3\n")
        );
        let updated = repos
            .update_file(
                "infra/variables.yml",
                "bump",
                "max_instances: 4\n",
                file.sha,
            )
            .branch("feature")
            .send()
            .await
            .unwrap();
        assert_eq!(updated.content.path, "infra/variables.yml");

        let reference = repos
            .get_ref(&Reference::Branch("feature".to_string()))
            .await
            .unwrap();
        assert_eq!(reference.ref_field, "refs/heads/feature");

        let open = crab
            .pulls("acme", "app")
            .list()
            .state(octocrab::params::State::Open)
            .head("acme:feature")
            .send()
            .await
            .unwrap();
        assert_eq!(open.items.len(), 1);
        let issue = crab
            .issues("acme", "app")
            .create("Drift")
            .body("details")
            .labels(vec!["drift".to_string()])
            .send()
            .await
            .unwrap();
        assert_eq!(issue.number, pr + 1);
        let key = repos.public_key().await.unwrap();
        assert_eq!(key.key_id, gh.public_key(REPO).0);

        let missing = crab.repos("acme", "missing").get().await.unwrap_err();
        assert!(format!("{missing:?}").contains("Not Found"), "{missing:?}");
    });
    assert_eq!(
        gh.file_at(REPO, "feature", "infra/variables.yml")
            .as_deref(),
        Some("max_instances: 4\n")
    );
    assert_eq!(gh.comments(REPO, pr).last().unwrap().body, "plan: +2 ~0 -0");
    gh.assert_clean();
}

#[test]
fn octocrab_typed_api_round_trip() {
    octocrab_round_trip(&FakeGitHub::start());
}

#[test]
fn octocrab_typed_api_round_trip_with_enterprise_prefix() {
    octocrab_round_trip(&FakeGitHub::start_with_prefix("/api/v3"));
}

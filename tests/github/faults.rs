//! Fault injection: `fleetform plan --dispatch` against a fake GitHub that
//! fails on purpose (5xx bursts, rate limits, resets, slow and malformed
//! answers, long comment lists). Each case: bounded retries, the right final
//! result, never a duplicate comment or status, a clear error when giving up.

use crate::common;
use crate::support;

use std::time::{Duration, Instant};

use common::{assert_ok as ok, require_terraform, signed, stderr, Fixture};
use serde_json::json;
use support::fake_github::{FakeGitHub, Fault, RequestRecord};

const ACME: &str = "acme-corp/acme-infra";
const MARKER: &str = "<!-- fleetform:plan customer=acme environment=staging -->";

/// The examples, a fake GitHub with acme's repo, a feature commit and a PR.
struct World {
    fx: Fixture,
    gh: FakeGitHub,
    scratch: tempfile::TempDir,
    sha: String,
    pr: u64,
}

impl World {
    fn new() -> World {
        require_terraform();
        let fx = Fixture::new();
        let gh = FakeGitHub::start();
        gh.add_repo(ACME);
        let vars = fx
            .read("customers/acme/infra/variables.yml")
            .replace("max_instances: 2", "max_instances: 3");
        let sha = gh.commit(ACME, "feature", &[("infra/variables.yml", &vars)]);
        let pr = gh.open_pr(ACME, "feature", "main", "more instances");
        World {
            fx,
            gh,
            scratch: tempfile::tempdir().unwrap(),
            sha,
            pr,
        }
    }

    /// `fleetform plan --dispatch --env staging` for the PR's commit, in a
    /// dispatch signed with acme's key.
    fn plan(&self, env: &[(&str, &str)]) -> (common::Ran, Duration) {
        let event = self.scratch.path().join("event.json");
        std::fs::write(
            &event,
            serde_json::to_vec(&signed(
                &json!({"action": "fleetform-plan", "client_payload": {
                    "v": 1, "customer_repo": ACME, "sha": self.sha, "ref": "refs/heads/feature",
                    "pr": self.pr, "event": "pull_request", "trigger_run_url": null,
                    "dispatch_id": "d-1", "files": ["infra/variables.yml"]
                }}),
            ))
            .unwrap(),
        )
        .unwrap();
        let cmd = common::Run::from(self.fx.fleetform())
            .env("GITHUB_EVENT_NAME", "repository_dispatch")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("FLEETFORM_TOKEN", self.gh.token())
            .env("FLEETFORM_RETRY_BASE_MS", "20")
            .args(["plan", "--dispatch", "--env", "staging"])
            .timeout(Duration::from_secs(120))
            .envs(env.iter().copied());
        let started = Instant::now();
        let out = cmd.output();
        (out, started.elapsed())
    }

    fn ours(&self) -> Vec<support::fake_github::Comment> {
        self.gh
            .comments(ACME, self.pr)
            .into_iter()
            .filter(|c| c.body.contains(MARKER))
            .collect()
    }

    fn statuses(&self) -> Vec<support::fake_github::Status> {
        self.gh.statuses(ACME, &self.sha)
    }

    /// One comment and one `success` status: the normal outcome.
    fn assert_one_comment_one_success(&self) {
        let ours = self.ours();
        assert_eq!(ours.len(), 1, "exactly one plan comment: {ours:?}");
        assert!(ours[0].body.contains("fleetform plan"));
        let st = self.statuses();
        let own: Vec<_> = st
            .iter()
            .filter(|s| s.context == "infra/terraform-deploy/staging")
            .collect();
        assert_eq!(own.len(), 1, "exactly one status for staging: {st:?}");
        assert_eq!(own[0].state, "success");
        assert_eq!(own[0].description.as_deref(), Some("staging: +3 ~0 -0"));
        assert_eq!(st.len(), 2, "and one combined status: {st:?}");
    }

    fn faulted(&self) -> Vec<RequestRecord> {
        self.gh
            .requests()
            .into_iter()
            .filter(|r| r.fault.is_some())
            .collect()
    }
}

/// A plan with no faults: 8 requests (the pull request's head for the
/// fork check, file, comment list, comment, the environment's status, the
/// statuses read back, the combined status, the statuses read again).
#[test]
fn baseline_request_budget() {
    let w = World::new();
    let (out, _) = w.plan(&[]);
    ok(&out);
    w.assert_one_comment_one_success();
    assert_eq!(w.gh.request_count(), 8);
    w.gh.assert_clean();
}

#[test]
fn bursts_of_500_and_502_are_retried() {
    let w = World::new();
    w.gh.inject(Fault::status(500).times(2).on("GET", "/contents/"));
    w.gh.inject(Fault::bad_gateway().times(3).on("POST", "/statuses/"));
    w.gh.inject(Fault::status(503).times(1).on("GET", "/comments"));
    let (out, _) = w.plan(&[]);
    ok(&out);
    w.assert_one_comment_one_success();
    assert_eq!(w.faulted().len(), 6);
    assert_eq!(w.gh.request_count(), 8 + 6, "each fault costs one retry");
    assert_eq!(w.gh.pending_faults(), 0);
    w.gh.assert_clean();
}

#[test]
fn secondary_rate_limit_waits_for_retry_after() {
    let w = World::new();
    w.gh.inject(Fault::secondary_rate_limit(2).on("POST", "/comments"));
    let (out, elapsed) = w.plan(&[]);
    ok(&out);
    w.assert_one_comment_one_success();
    assert!(elapsed >= Duration::from_secs(2), "waited {elapsed:?}");
    assert_eq!(w.gh.request_count(), 9);
    w.gh.assert_clean();
}

#[test]
fn too_many_requests_is_retried() {
    let w = World::new();
    w.gh.inject(Fault::too_many_requests(1).times(2).on("GET", "/contents/"));
    let (out, elapsed) = w.plan(&[]);
    ok(&out);
    w.assert_one_comment_one_success();
    assert!(elapsed >= Duration::from_secs(2), "waited {elapsed:?}");
    assert_eq!(w.gh.request_count(), 10);
    w.gh.assert_clean();
}

#[test]
fn a_retry_after_beyond_the_wait_budget_gives_up_at_once() {
    let w = World::new();
    w.gh.inject(Fault::secondary_rate_limit(3600).on("GET", "/contents/"));
    // A run that waited out the hour is killed at the plan's timeout and
    // has no exit code; one that gave up asked once and no more.
    let (out, _) = w.plan(&[]);
    common::assert_code(&out, 1);
    let requests = w.gh.requests();
    let refused = requests
        .iter()
        .find(|r| r.fault.is_some())
        .expect("the rate limit was answered");
    let asked = requests
        .iter()
        .filter(|r| r.method == refused.method && r.path == refused.path)
        .count();
    assert_eq!(
        asked, 1,
        "{} {} was asked again",
        refused.method, refused.path
    );
    let e = stderr(&out);
    assert!(e.contains("not sent: GitHub's limit answer"), "{e}");
    assert!(w.ours().is_empty() && w.statuses().is_empty());
}

#[test]
fn connection_resets_are_retried() {
    let w = World::new();
    w.gh.inject(Fault::Reset.times(2).on("GET", "/contents/"));
    w.gh.inject(Fault::Reset.on("GET", "/comments"));
    let (out, _) = w.plan(&[]);
    ok(&out);
    w.assert_one_comment_one_success();
    assert_eq!(w.gh.request_count(), 8 + 3);
    w.gh.assert_clean();
}

/// `FLEETFORM_LOG` as the README documents it: `target=level` directives or
/// a bare level; a value that does not parse falls back to the default
/// (warnings only), as an unset one does.
#[test]
fn fleetform_log_takes_directives_or_a_level_and_falls_back_when_unparsable() {
    let w = World::new();
    for (value, debug_shown) in [
        ("fleetform=debug", true),
        ("debug", true),
        ("fleetform=warn", false),
        ("fleetform=loud", false),
        ("", false),
    ] {
        let (out, _) = w.plan(&[("FLEETFORM_LOG", value)]);
        ok(&out);
        assert_eq!(
            stderr(&out).contains("attempt=1"),
            debug_shown,
            "FLEETFORM_LOG={value:?}: {}",
            stderr(&out)
        );
    }
}

/// Waits until the fake has answered (and recorded) the request a
/// `Fault::Delay` held: a condition with a generous deadline, not a sleep
/// as long as the delay, so a loaded machine cannot make the check early.
fn wait_for_delayed(gh: &FakeGitHub, method: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let landed = gh.requests().iter().any(|r| {
            r.method == method
                && r.path.contains(path)
                && r.fault.as_deref().is_some_and(|f| f.starts_with("delay"))
        });
        if landed {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the delayed {method} {path} never landed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn slow_reads_past_the_client_timeout_are_retried() {
    let w = World::new();
    w.gh.inject(Fault::Delay(Duration::from_secs(4)).on("GET", "/contents/"));
    // No wall-clock bound: the log's second attempt and the count of reads
    // below say the read timed out and was retried.
    let (out, _) = w.plan(&[
        ("FLEETFORM_HTTP_TIMEOUT_SECS", "1"),
        ("FLEETFORM_LOG", "fleetform=debug"),
    ]);
    ok(&out);
    w.assert_one_comment_one_success();
    assert!(
        stderr(&out).contains("attempt=2"),
        "the read timed out and was retried: {}",
        stderr(&out)
    );
    // The fake records the slow request once its delay is over.
    wait_for_delayed(&w.gh, "GET", "/contents/");
    let gets =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.path.contains("/contents/"))
            .count();
    assert!(gets >= 2, "the slow read was retried: {gets}");
    w.gh.assert_clean();
}

/// A write that is slow past the timeout may still land on GitHub's side.
/// Retrying it blindly would post the comment twice.
#[test]
fn slow_writes_past_the_client_timeout_never_duplicate_the_comment() {
    let w = World::new();
    w.gh.inject(Fault::Delay(Duration::from_secs(3)).on("POST", "/comments"));
    let (out, _) = w.plan(&[("FLEETFORM_HTTP_TIMEOUT_SECS", "1")]);
    // The delayed request landed before looking.
    wait_for_delayed(&w.gh, "POST", "/comments");
    let ours = w.ours();
    assert!(
        ours.len() <= 1,
        "the comment was posted {} times (exit {:?}): {}",
        ours.len(),
        out.status.code(),
        stderr(&out)
    );
    // The next run cleans up whatever happened and leaves exactly one.
    let (out, _) = w.plan(&[]);
    ok(&out);
    assert_eq!(w.ours().len(), 1);
}

#[test]
fn malformed_json_is_retried_for_reads() {
    let w = World::new();
    w.gh.inject(Fault::MalformedJson.on("GET", "/comments"));
    w.gh.inject(Fault::MalformedJson.on("GET", "/contents/"));
    let (out, _) = w.plan(&[]);
    ok(&out);
    w.assert_one_comment_one_success();
    assert_eq!(w.gh.request_count(), 10);
    w.gh.assert_clean();
}

#[test]
fn malformed_json_after_a_write_is_a_clear_error_not_a_second_write() {
    let w = World::new();
    w.gh.inject(Fault::MalformedJson.on("POST", "/statuses/"));
    let (out, _) = w.plan(&[]);
    common::assert_code(&out, 1);
    let e = stderr(&out);
    assert!(e.contains("JSON") || e.contains("json"), "{e}");
    assert_eq!(w.ours().len(), 1);
    let posts =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.contains("/statuses/"))
            .count();
    assert_eq!(posts, 1, "a write is not repeated");
}

#[test]
fn giving_up_is_bounded_and_clear() {
    let w = World::new();
    w.gh.inject(Fault::status(502).times(100).on("POST", "/statuses/"));
    // Bounded is counted, not timed: five attempts, then no more.
    let (out, _) = w.plan(&[]);
    common::assert_code(&out, 1);
    let e = stderr(&out);
    assert!(e.contains("gave up after 5 attempts"), "{e}");
    assert!(e.contains("HTTP 502"), "{e}");
    let posts =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.contains("/statuses/"))
            .count();
    assert_eq!(posts, 5, "at most 5 attempts");
    assert_eq!(w.ours().len(), 1, "the comment is not duplicated");
    assert!(w.statuses().is_empty());
    w.gh.clear_faults();
    // The next run finishes the job without duplicating anything.
    let (out, _) = w.plan(&[]);
    ok(&out);
    w.assert_one_comment_one_success();
}

/// The comment list spans several pages; ours is on the last one and is
/// updated in place, once per run, with one request per page.
#[test]
fn the_comment_list_spans_several_pages() {
    let w = World::new();
    w.gh.set_max_page_size(2);
    for i in 0..6 {
        w.gh.add_comment(ACME, w.pr, "someone", &format!("chatter {i}"));
    }
    let (out, _) = w.plan(&[]);
    ok(&out);
    let first = w.ours();
    assert_eq!(first.len(), 1);
    // 6 comments, 2 per page: 3 pages.
    let lists = |w: &World| {
        w.gh.requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/comments"))
            .count()
    };
    assert_eq!(lists(&w), 3);
    for i in 6..9 {
        w.gh.add_comment(ACME, w.pr, "someone", &format!("chatter {i}"));
    }
    w.gh.reset_counters();
    // A page fails once on the way.
    w.gh.inject(Fault::status(500).on("GET", "/comments"));
    let (out, _) = w.plan(&[]);
    ok(&out);
    let ours = w.ours();
    assert_eq!(ours.len(), 1, "found across pages, not duplicated");
    assert_eq!(ours[0].id, first[0].id, "updated in place");
    assert_eq!(w.gh.comments(ACME, w.pr).len(), 10);
    // 10 comments: 5 pages, + 1 retried.
    assert_eq!(lists(&w), 6);
    let st = w.statuses();
    assert_eq!(
        st.len(),
        4,
        "per run, one status for staging and the combined one"
    );
    w.gh.assert_clean();
}

/// A create answered 5xx (a gateway timeout: GitHub may have made it) is
/// not sent again blindly: a comment is asked once, and the run says so.
#[test]
fn a_create_answered_502_is_not_sent_again() {
    let w = World::new();
    w.gh.inject(Fault::bad_gateway().times(1).on("POST", "/comments"));
    let (out, _) = w.plan(&[]);
    let e = stderr(&out);
    assert!(e.contains("the comment may not have been posted"), "{e}");
    let posts =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/comments"))
            .count();
    assert_eq!(posts, 1, "the comment is asked once");
    assert_eq!(w.gh.pending_faults(), 0);
}

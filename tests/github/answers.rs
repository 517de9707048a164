//! What fleetform does with GitHub's answers and with the API root it is
//! given: next-page links are followed only under the API root, a list that
//! cannot be read completely fails the run (never a silent exit 0 without
//! the comment), contents that are not base64 are named as such, shas and
//! branch names are checked before use, every request carries the headers
//! GitHub documents, and a bad `GITHUB_API_URL`, token or numeric setting
//! is a usage error (exit 2), never a panic.

use crate::common;
use crate::support;
use crate::world;

use serde_json::{json, Value};

use common::{stderr, stdout};
use support::fake_github::Fault;
use world::{acme_vars_with, ok, World, ACME};

const MARKER: &str = "<!-- fleetform:plan customer=acme environment=staging -->";

/// A feature commit on acme with an open PR, and the dispatch for it.
fn pr_dispatch(w: &World) -> (String, u64, Value) {
    let vars = acme_vars_with(&w.fx, "max_instances: 2", "max_instances: 3");
    let sha =
        w.gh.commit(ACME, "feature", &[("infra/variables.yml", &vars)]);
    let pr = w.gh.open_pr(ACME, "feature", "main", "more instances");
    let dispatch = json!({
        "event_type": "fleetform-plan",
        "client_payload": {
            "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/feature",
            "pr": pr, "event": "pull_request", "trigger_run_url": null,
            "dispatch_id": "d-1", "files": ["infra/variables.yml"]
        }
    });
    (sha, pr, common::signed(&dispatch))
}

fn ours(w: &World, pr: u64) -> usize {
    w.gh.comments(ACME, pr)
        .iter()
        .filter(|c| c.body.starts_with(MARKER))
        .count()
}

fn assert_failed(out: &impl common::Streams, needles: &[&str]) {
    let err = stderr(out);
    common::assert_code(out, 1);
    for n in needles {
        assert!(err.contains(n), "`{n}` not in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A first page of comments whose `Link: rel="next"` points at another
/// host. It was requested on the API host (its path and query grafted onto
/// the API root); GitHub's 404 for that path read as "no such PR", and the
/// plan exited 0 without its comment. Now the link is refused by name, it
/// is never requested, and the plan fails.
#[test]
fn a_foreign_next_link_fails_the_plan_and_is_never_requested() {
    let mut w = World::new();
    let (sha, pr, dispatch) = pr_dispatch(&w);
    w.gh.inject(
        Fault::status(200)
            .header(
                "link",
                r#"<http://evil.example:8080/steal?page=2>; rel="next""#,
            )
            .body("[]")
            .on("GET", "/comments"),
    );
    let (out, _) = w.plan_event(&dispatch, "staging");
    assert_failed(
        &out,
        &[
            "the next-page link `http://evil.example:8080/steal?page=2` points to another origin than the API root",
            "nothing was decided from it",
        ],
    );
    assert_eq!(ours(&w, pr), 0);
    assert!(
        !w.gh.requests().iter().any(|r| r.path.contains("steal")),
        "the foreign link was requested: {:#?}",
        w.gh.requests()
    );
    assert!(w
        .gh
        .statuses(ACME, &sha)
        .iter()
        .all(|s| s.state != "success"));
    w.gh.assert_clean();
}

/// Same origin, another path prefix (GitHub Enterprise Server's `/api/v3`):
/// outside the API root, refused too.
#[test]
fn a_next_link_outside_the_api_prefix_is_refused() {
    let mut w = World::with_github(support::fake_github::FakeGitHub::start_with_prefix(
        "/api/v3",
    ));
    let (_, pr, dispatch) = pr_dispatch(&w);
    let host = w.gh.api_url().replace("/api/v3", "");
    w.gh.inject(
        Fault::status(200)
            .header(
                "link",
                &format!(r#"<{host}/repos/{ACME}/issues/{pr}/comments?page=2>; rel="next""#),
            )
            .body("[]")
            .on("GET", "/comments"),
    );
    let (out, _) = w.plan_event(&dispatch, "staging");
    assert_failed(&out, &["points outside the API root's path"]);
    assert_eq!(ours(&w, pr), 0);
    w.gh.assert_clean();
}

#[test]
fn an_unparsable_next_link_fails_the_plan() {
    let mut w = World::new();
    let (_, pr, dispatch) = pr_dispatch(&w);
    w.gh.inject(
        Fault::status(200)
            .header("link", "https://no-angle-brackets/x; rel=\"next\"")
            .body("[]")
            .on("GET", "/comments"),
    );
    let (out, _) = w.plan_event(&dispatch, "staging");
    assert_failed(&out, &["is not a valid Link header"]);
    assert_eq!(ours(&w, pr), 0);
    w.gh.assert_clean();
}

/// A later page that answers 404 does not mean "the PR does not exist"
/// (the first page said it does): the list is incomplete and the plan
/// fails instead of exiting 0 without a comment.
#[test]
fn a_failed_later_page_is_not_taken_for_a_missing_pr() {
    let mut w = World::new();
    let (_, pr, dispatch) = pr_dispatch(&w);
    let api = w.gh.api_url();
    w.gh.inject(
        Fault::status(200)
            .header(
                "link",
                &format!(r#"<{api}/repos/{ACME}/issues/99999/comments?page=2>; rel="next""#),
            )
            .body("[]")
            .on("GET", "/comments"),
    );
    let (out, _) = w.plan_event(&dispatch, "staging");
    assert_failed(
        &out,
        &["GitHub answered 404", "page 2 of a list", "incomplete list"],
    );
    assert_eq!(ours(&w, pr), 0);
    w.gh.assert_clean();
}

/// More pages than fleetform reads: an error, not a sticky comment that is
/// missed on page 51 and posted a second time.
#[test]
fn a_list_longer_than_the_page_limit_is_an_error_not_a_duplicate() {
    let mut w = World::new();
    let (_, pr, dispatch) = pr_dispatch(&w);
    w.gh.set_max_page_size(1);
    for i in 0..50 {
        w.gh.add_comment(ACME, pr, "someone", &format!("chatter {i}"));
    }
    w.gh.add_comment(ACME, pr, "fleetform-bot", &format!("{MARKER}\nold plan"));
    let (out, _) = w.plan_event(&dispatch, "staging");
    assert_failed(&out, &["more than 50 pages"]);
    assert_eq!(ours(&w, pr), 1, "no second sticky comment");
    w.gh.assert_clean();
}

/// Contents whose `content` is not base64: named as a base64 problem of
/// that file (it used to be reported as "not valid JSON").
#[test]
fn contents_that_are_not_base64_are_named() {
    let mut w = World::new();
    let (_, _, dispatch) = pr_dispatch(&w);
    let body = json!({
        "type": "file", "encoding": "base64", "name": "variables.yml",
        "path": "infra/variables.yml", "sha": "a".repeat(40),
        "content": "this is {not} base64!"
    });
    w.gh.inject(
        Fault::status(200)
            .body(&body.to_string())
            .on("GET", "/contents/infra/variables.yml"),
    );
    let (out, _) = w.plan_event(&dispatch, "staging");
    let err = stderr(&out);
    assert_failed(&out, &["`infra/variables.yml` is not valid base64"]);
    assert!(!err.contains("JSON"), "{err}");
    w.gh.assert_clean();
}

/// Every request carries exactly one `Accept: application/vnd.github+json`
/// and one `X-GitHub-Api-Version: 2022-11-28` (the fake records a violation
/// for a request without them as well).
#[test]
fn every_request_carries_the_documented_headers() {
    let mut w = World::new();
    let (_, pr, dispatch) = pr_dispatch(&w);
    w.gh.set_max_page_size(2);
    for i in 0..3 {
        w.gh.add_comment(ACME, pr, "someone", &format!("chatter {i}"));
    }
    let (out, _) = w.plan_event(&dispatch, "staging");
    ok(&out);
    assert_eq!(ours(&w, pr), 1);
    let requests = w.gh.requests();
    assert!(requests.len() >= 5, "{requests:#?}");
    for r in &requests {
        let values = |name: &str| -> Vec<&str> {
            r.headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(
            values("accept"),
            ["application/vnd.github+json"],
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(
            values("x-github-api-version"),
            ["2022-11-28"],
            "{} {}",
            r.method,
            r.path
        );
    }
    w.gh.assert_clean();
}

// ----- shas and branch names from the API (through `fleetform sync`) -----

fn sync(w: &World) -> crate::common::Ran {
    common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_TOKEN", w.gh.token())
        .env("FLEETFORM_RETRY_BASE_MS", "20")
        .args([
            "sync",
            "--manager-repo",
            world::MANAGER,
            "--customer",
            "acme",
        ])
        .output()
}

/// A default branch name git would refuse is an error naming the endpoint
/// and the field; the name itself is never shown (it used to be used as
/// is and repeated in the report).
#[test]
fn a_bad_default_branch_name_is_refused_without_showing_it() {
    let w = World::new();
    let repo = json!({
        "id": 1, "name": "acme-infra", "full_name": ACME, "archived": false,
        "default_branch": "main\n## @everyone see https://evil.example"
    });
    w.gh.inject(
        Fault::status(200)
            .body(&repo.to_string())
            .on("GET", "/repos/acme-corp/acme-infra"),
    );
    let out = sync(&w);
    common::assert_code(&out, 1);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains(
            "GET /repos/acme-corp/acme-infra: GitHub answered an unusable `default_branch`"
        ),
        "{text}"
    );
    assert!(
        !text.contains("@everyone") && !text.contains("evil"),
        "{text}"
    );
    assert!(w.gh.pulls(ACME).is_empty());
    w.gh.assert_clean();
}

/// A commit sha that is not 40 hex digits is refused before it is used to
/// create a branch.
#[test]
fn a_bad_commit_sha_is_refused_before_use() {
    let w = World::new();
    let reference = json!({
        "ref": "refs/heads/main", "node_id": "x", "url": "http://x",
        "object": { "type": "commit", "url": "http://x", "sha": "../../../etc/passwd" }
    });
    w.gh.inject(
        Fault::status(200)
            .body(&reference.to_string())
            .on("GET", "/git/ref/heads/main"),
    );
    let out = sync(&w);
    common::assert_code(&out, 1);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("GitHub answered an unusable `object.sha`: it is not a commit sha"),
        "{text}"
    );
    assert!(!text.contains("passwd"), "{text}");
    assert!(
        !w.gh.requests().iter().any(|r| r.method == "POST"),
        "nothing was created"
    );
    w.gh.assert_clean();
}

/// A blob sha that is not 40 hex digits is refused too.
#[test]
fn a_bad_blob_sha_is_refused() {
    let w = World::new();
    let body = json!({
        "type": "file", "encoding": "base64", "name": "README.md", "path": "infra/README.md",
        "sha": "abc", "content": "aGVsbG8="
    });
    w.gh.inject(
        Fault::status(200)
            .body(&body.to_string())
            .on("GET", "/contents/"),
    );
    let out = sync(&w);
    common::assert_code(&out, 1);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("GitHub answered an unusable `sha`: it is not a commit sha (40 lowercase hex digits; got 3 characters)"),
        "{text}"
    );
    w.gh.assert_clean();
}

// ----- the API root, the token and numeric settings -----

/// Exit 2 with a message that says what is wrong, shows no secret (but in
/// the runner's own `::add-mask::`, which hides it) and has no panic; no
/// request is made.
fn assert_usage(out: &impl common::Streams, needles: &[&str], secret: Option<&str>) {
    let err: String = stderr(out)
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    common::assert_code(out, 2);
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in:\n{err}");
    }
    if let Some(s) = secret {
        assert!(!err.contains(s), "{err}");
    }
}

#[test]
fn a_bad_api_root_is_a_usage_error_for_every_command() {
    let mut w = World::new();
    let (sha, pr, dispatch) = pr_dispatch(&w);
    let cases: &[(&str, &str)] = &[
        ("h:99999", "has no http:// or https:// scheme"),
        ("localhost:8080", "has no http:// or https:// scheme"),
        ("http://", "is not a valid URL"),
        ("://x", "has an empty scheme"),
        ("ftp://h", "has the scheme `ftp`, not http or https"),
        ("http://h:99999", "has an invalid port (1 to 65535)"),
        ("https://octo:s3cret@api.github.com", "contains credentials"),
        ("https://api.github.com/?x=1", "has a query"),
        (" https://api.github.com", "contains whitespace"),
        ("https://api.github.com\n", "contains whitespace"),
        ("https://api.git\thub.com", "contains whitespace"),
    ];
    for (bad, problem) in cases {
        // The customer's trigger.
        let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
        let out = common::Run::from(cmd).env("GITHUB_API_URL", bad).output();
        assert_usage(
            &out,
            &[problem, "a valid value looks like https://api.github.com"],
            Some("s3cret"),
        );
        // The manager's plan.
        let (cmd, _) = w.dispatch_step(&dispatch);
        let out = common::Run::from(cmd)
            .env("GITHUB_API_URL", bad)
            .args(["plan", "--dispatch", "--env", "staging"])
            .output();
        assert_usage(&out, &[problem], Some("s3cret"));
    }
    // `sync` too.
    let out = common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", "ftp://h")
        .env("FLEETFORM_TOKEN", w.gh.token())
        .args(["sync", "--manager-repo", world::MANAGER])
        .output();
    assert_usage(&out, &["not http or https"], None);
    assert_eq!(w.gh.request_count(), 0, "nothing was sent anywhere");
}

#[test]
fn a_token_that_cannot_be_sent_is_a_usage_error_not_a_panic() {
    let mut w = World::new();
    let (sha, pr, _) = pr_dispatch(&w);
    for bad in ["ghp_abc\ndef", "ghp_abc\u{1}def", "ghp abc"] {
        let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
        let out = common::Run::from(cmd).env("FLEETFORM_TOKEN", bad).output();
        assert_usage(
            &out,
            &["FLEETFORM_TOKEN contains spaces, line breaks"],
            Some("ghp_abc"),
        );
    }
    assert_eq!(w.gh.request_count(), 0);
}

#[test]
fn numeric_settings_out_of_range_are_usage_errors() {
    let mut w = World::new();
    let (sha, pr, _) = pr_dispatch(&w);
    for (var, value, expected) in [
        (
            "FLEETFORM_HTTP_TIMEOUT_SECS",
            "18446744073709551615",
            "from 1 to 600",
        ),
        ("FLEETFORM_HTTP_TIMEOUT_SECS", "0", "from 1 to 600"),
        ("FLEETFORM_HTTP_TIMEOUT_SECS", "ten", "from 1 to 600"),
        ("FLEETFORM_RETRY_BASE_MS", "-1", "from 0 to 60000"),
        ("FLEETFORM_RETRY_MAX_WAIT_SECS", "1e9", "from 0 to 3600"),
        ("FLEETFORM_RETRY_ATTEMPTS", "0", "from 1 to 10"),
    ] {
        let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
        let out = common::Run::from(cmd).env(var, value).output();
        assert_usage(&out, &[&format!("{var}=`{value}` is not"), expected], None);
    }
    assert_eq!(w.gh.request_count(), 0);
}

/// A `Retry-After` far beyond the wait budget, after a wait of a second
/// already spent, is not waited: the request is not sent again (a later
/// run may); adding the two used to overflow and panic.
#[test]
fn a_huge_retry_after_gives_up_cleanly() {
    let mut w = World::new();
    let (_, _, dispatch) = pr_dispatch(&w);
    w.gh.inject(Fault::too_many_requests(1).on("GET", "/contents/"));
    w.gh.inject(Fault::too_many_requests(u64::MAX).on("GET", "/contents/"));
    let (out, _) = w.plan_event(&dispatch, "staging");
    assert_failed(
        &out,
        &["not sent: GitHub's limit answer would need a wait of"],
    );
    w.gh.assert_clean();
}

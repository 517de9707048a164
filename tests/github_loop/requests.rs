//! The GitHub loop's requests: retries on server errors and rate limits,
//! an enterprise API root, dry runs that write nothing, a token that never
//! leaks, duplicate comments removed and the request count reported.

use crate::common;
use crate::support;
use crate::world;

use common::{dispatch_key, stderr, stdout, DISPATCH_SECRET};
use serde_json::{json, Value};
use support::fake_github::{FakeGitHub, Fault};

use world::{ok, World, ACME, MANAGER};

#[test]
fn server_errors_and_rate_limits_are_retried() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    w.gh.inject(Fault::status(502).times(2));
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    assert_eq!(w.gh.dispatches(MANAGER).len(), 1);

    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    w.gh.inject(
        Fault::status(403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &reset.to_string())
            .body(r#"{"message":"API rate limit exceeded"}"#),
    );
    w.gh.inject(Fault::status(429).header("retry-after", "1"));
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    assert_eq!(w.gh.comments(ACME, pr).len(), 1);
    let own =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(own.state, "success");

    // Giving up is bounded and clear.
    w.gh.inject(Fault::status(500).times(20));
    let (out, _) = w.plan_latest("staging");
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("gave up after 5 attempts"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn enterprise_server_api_root_with_a_path_prefix() {
    let mut w = World::with_github(FakeGitHub::start_with_prefix("/api/v3"));
    assert!(w.gh.api_url().ends_with("/api/v3"));
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    assert_eq!(w.gh.comments(ACME, pr).len(), 1);
    w.gh.assert_clean();
}

#[test]
fn dry_run_sends_no_writes() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    w.gh.reset_counters();
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = common::Run::from(cmd)
        .args(["plan", "--dispatch", "--env", "staging", "--dry-run"])
        .output();
    ok(&out);
    assert_eq!(w.gh.write_count(), 0);
    assert!(
        stderr(&out).contains(&format!(
            "dry run: would send POST /repos/{ACME}/statuses/{sha}"
        )),
        "{}",
        stderr(&out)
    );
}

/// Every command with a recognisable token, the manager's dispatch secret
/// and acme's dispatch key: none of them shows up anywhere (output, summary,
/// step outputs, comments, the audit log) but in the runner's own
/// `::add-mask::` command, which the runner swallows.
#[test]
fn the_token_never_leaks() {
    let mut w = World::new();
    let token = "ghp_SeCrEtToKeN0123456789abcdefABCDEF0123";
    w.gh.set_token(token);
    let key = dispatch_key("acme", 1);
    let key_hex = key.rsplit('.').next().unwrap().to_string();
    let secrets = [
        token.to_string(),
        DISPATCH_SECRET.to_string(),
        key.clone(),
        key_hex,
    ];
    let mut texts = Vec::new();
    // A pull request's plan, which comments on it.
    let pr_sha = w.change_acme("feature", 4);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (out, f) = w.trigger_pr(ACME, pr, "feature", &pr_sha);
    ok(&out);
    texts.push((
        stdout(&out),
        stderr(&out),
        f.summary(),
        std::fs::read_to_string(&f.output).unwrap(),
    ));
    let (out, f) = w.plan_latest("staging");
    ok(&out);
    texts.push((
        stdout(&out),
        stderr(&out),
        f.summary(),
        std::fs::read_to_string(&f.output).unwrap(),
    ));
    assert!(!w.gh.comments(ACME, pr).is_empty(), "the plan commented");
    let sha = w.change_acme("main", 3);
    let (out, f) = w.trigger_push(ACME, &sha, "Merge pull request #1 from x/y");
    ok(&out);
    texts.push((
        stdout(&out),
        stderr(&out),
        f.summary(),
        std::fs::read_to_string(&f.output).unwrap(),
    ));
    let (out, f) = w.plan_latest("staging");
    ok(&out);
    let digest = f.outputs()["plan_sha256"].clone();
    texts.push((
        stdout(&out),
        stderr(&out),
        f.summary(),
        std::fs::read_to_string(&f.output).unwrap(),
    ));
    let (out, f) = w.apply_latest("staging", &digest);
    ok(&out);
    texts.push((
        stdout(&out),
        stderr(&out),
        f.summary(),
        std::fs::read_to_string(&f.output).unwrap(),
    ));
    // Failing paths too: a retry that gives up, a refusal.
    w.gh.inject(Fault::status(500).times(20));
    let (out, f) = w.plan_latest("staging");
    texts.push((
        stdout(&out),
        stderr(&out),
        f.summary(),
        std::fs::read_to_string(&f.output).unwrap(),
    ));
    // A dispatch refused for its signature (acme's payload, globex's key).
    let mut d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    common::sign_dispatch_with(&mut d, &dispatch_key("globex", 1), common::unix_now());
    let (out, f) = w.plan_event(&d, "staging");
    common::assert_code(&out, 3);
    texts.push((
        stdout(&out),
        stderr(&out),
        f.summary(),
        std::fs::read_to_string(&f.output).unwrap(),
    ));
    let out = common::Run::from(w.fx.fleetform())
        .env("FLEETFORM_TOKEN", token)
        .arg("-vv")
        .args(["plan", "--dispatch"])
        .output();
    texts.push((stdout(&out), stderr(&out), String::new(), String::new()));
    for (o, e, s, outputs) in &texts {
        let unmasked = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with("::add-mask::"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (o, e) = (unmasked(o), unmasked(e));
        for (what, t) in [
            ("stdout", &o),
            ("stderr", &e),
            ("summary", s),
            ("outputs", outputs),
        ] {
            for secret in &secrets {
                assert!(!t.contains(secret.as_str()), "a secret in {what}:\n{t}");
            }
        }
    }
    let audit = w.fx.read("manager/.fleetform/audit.jsonl");
    assert!(audit.lines().count() >= 3, "{audit}");
    // The runs wrote comments (at least the pull request's plan); none
    // holds a secret.
    let comments = w.gh.all_comments();
    assert!(!comments.is_empty(), "the runs wrote no comment to check");
    for secret in &secrets {
        for (repo, c) in &comments {
            assert!(!c.body.contains(secret.as_str()), "{repo}: {}", c.body);
        }
        assert!(
            !audit.contains(secret.as_str()),
            "a secret in the audit log"
        );
    }
    let dispatches = w.gh.dispatches(MANAGER);
    assert!(!dispatches.is_empty());
    for d in dispatches {
        let sent = d.to_string();
        assert!(!sent.contains(DISPATCH_SECRET) && !sent.contains(&key));
    }
    // The secrets were there to leak: the token went to GitHub, and only
    // in its authorization header.
    let requests = w.gh.requests();
    assert!(requests.iter().any(|r| r
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v.contains(token))));
    for r in &requests {
        assert!(!r.body.contains(token) && !r.path.contains(token));
    }
}

/// Two runs that raced between listing and creating leave two comments;
/// the next write keeps the oldest and removes the other.
#[test]
fn duplicate_comments_from_racing_runs_are_removed() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let marker = "<!-- fleetform:plan customer=acme environment=staging -->";
    let first =
        w.gh.add_comment(ACME, pr, "fleetform-bot", &format!("{marker}\nrun A"));
    w.gh.add_comment(ACME, pr, "fleetform-bot", &format!("{marker}\nrun B"));
    w.gh.add_comment(ACME, pr, "someone", "an unrelated review comment");
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let comments = w.gh.comments(ACME, pr);
    let ours: Vec<_> = comments
        .iter()
        .filter(|c| c.body.contains(marker))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].id, first);
    assert!(ours[0].body.contains("fleetform plan"));
    assert_eq!(comments.len(), 2, "the unrelated comment stays");
    w.gh.assert_clean();
}

/// `--verbose` reports the request count; long comment lists are paged.
#[test]
fn request_count_is_reported_and_comment_pages_are_followed() {
    let mut w = World::new();
    w.gh.set_max_page_size(2);
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    for i in 0..5 {
        w.gh.add_comment(ACME, pr, "someone", &format!("chatter {i}"));
    }
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let ours =
        w.gh.comments(ACME, pr)
            .into_iter()
            .filter(|c| c.body.contains("fleetform:plan"))
            .count();
    assert_eq!(ours, 1, "found across pages, updated, not duplicated");
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (cmd, files) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = common::Run::from(cmd)
        .args(["-v", "plan", "--dispatch", "--env", "staging", "--json"])
        .output();
    ok(&out);
    assert!(
        stderr(&out).contains("GitHub API request"),
        "{}",
        stderr(&out)
    );
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|_| {
        // Under Actions, workflow commands share stdout: take the JSON object.
        let s = stdout(&out);
        let start = s.find("\n{").map(|i| i + 1).unwrap_or(0);
        serde_json::from_str(&s[start..]).unwrap()
    });
    let n = json["requests"].as_u64().unwrap();
    assert_eq!(files.outputs()["requests"], n.to_string());
    assert!(
        (8..=10).contains(&n),
        "the pull request's head + 4 pages of comments + file + update + status, statuses read, combined status: {n}"
    );
}

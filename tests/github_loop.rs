//! The GitHub loop end to end through the built binary, against a stateful
//! fake GitHub that checks every request against GitHub's OpenAPI
//! description: trigger → dispatch → plan → comment + status → gated apply.

use crate::common;
use crate::support;
use crate::world;

use std::path::Path;

use common::{dispatch_key, signed, stderr, stdout, DISPATCH_SECRET};
use serde_json::{json, Value};
use support::fake_github::{FakeGitHub, Fault};

use world::{acme_vars_with, ok, World, ACME, MANAGER};

/// PR push → trigger → dispatch → plan → sticky comment + success status;
/// a second push updates the same comment; budgets hold.
#[test]
fn pull_request_loop_with_sticky_comment() {
    let mut w = World::new();
    let sha1 = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");

    w.gh.reset_counters();
    let (out, files) = w.trigger_pr(ACME, pr, "feature", &sha1);
    ok(&out);
    assert!(
        w.gh.request_count() <= 3,
        "trigger budget: {} requests",
        w.gh.request_count()
    );
    let dispatches = w.gh.dispatches(MANAGER);
    assert_eq!(dispatches.len(), 1);
    let d = &dispatches[0];
    assert_eq!(d["event_type"], "fleetform-plan");
    let p = &d["client_payload"];
    assert_eq!(
        (
            p["customer_repo"].as_str(),
            p["sha"].as_str(),
            p["pr"].as_u64()
        ),
        (Some(ACME), Some(sha1.as_str()), Some(pr))
    );
    assert_eq!(p["event"], "pull_request");
    assert_eq!(
        p["trigger_run_url"],
        format!("https://github.com/{ACME}/actions/runs/{}", w.run_id)
    );
    assert!(p.as_object().unwrap().len() <= 10);
    let st = w.gh.statuses(ACME, &sha1);
    assert_eq!(st.last().unwrap().state, "pending");
    assert_eq!(
        st.last().unwrap().description.as_deref(),
        Some("queued in manager")
    );
    assert_eq!(st.last().unwrap().context, "infra/terraform-deploy");
    assert_eq!(files.outputs()["dispatched"], "true");

    // The manager plans staging from that dispatch.
    w.gh.reset_counters();
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    // acme has an override file for production, not staging: one file here.
    assert!(
        w.gh.request_count() <= 7,
        "plan budget: {} requests",
        w.gh.request_count()
    );
    let outputs = files.outputs();
    assert_eq!(outputs["has_changes"], "true");
    assert_eq!(outputs["customer"], "acme");
    assert_eq!(outputs["environment"], "staging");
    assert_eq!(outputs["create"], "3");
    let digest = outputs["plan_sha256"].clone();
    assert_eq!(digest.len(), 64);
    let comments = w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 1);
    assert!(comments[0]
        .body
        .contains("<!-- fleetform:plan customer=acme environment=staging -->"));
    assert!(
        comments[0].body.contains(&format!("sha256:{digest}")),
        "the approver can match the digest"
    );
    // Each environment has its own status; the combined one is the worst
    // of them, and production has not reported yet.
    let last =
        w.gh.status_of(ACME, &sha1, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(
        (last.state.as_str(), last.description.as_deref()),
        ("success", Some("staging: +3 ~0 -0"))
    );
    let combined =
        w.gh.status_of(ACME, &sha1, "infra/terraform-deploy")
            .unwrap();
    assert_eq!(
        (combined.state.as_str(), combined.description.as_deref()),
        ("pending", Some("production: no result yet"))
    );
    assert_eq!(
        last.target_url.as_deref(),
        Some(format!("https://github.com/{MANAGER}/actions/runs/{}", w.run_id).as_str())
    );
    let summary = files.summary();
    assert!(
        summary.contains("fleetform plan: `acme` / `staging`")
            && summary.contains(&format!("sha256:{digest}"))
            && !summary.contains("terraform_data"),
        "counts and digest only: {summary}"
    );
    assert!(
        w.fx.manager()
            .join(".fleetform/out/acme/staging/bundle.sealed")
            .is_file(),
        "sealed artifact ready to upload"
    );

    // Production: the override file is fetched too (+1).
    w.gh.reset_counters();
    let (out, _) = w.plan_latest("production");
    ok(&out);
    assert!(
        w.gh.request_count() <= 8,
        "plan budget with one override file: {}",
        w.gh.request_count()
    );
    assert_eq!(
        w.gh.comments(ACME, pr).len(),
        2,
        "one comment per environment"
    );
    // Both environments reported: the combined status is their worst.
    let combined =
        w.gh.status_of(ACME, &sha1, "infra/terraform-deploy")
            .unwrap();
    assert_eq!(combined.state, "success", "{combined:?}");

    // A second push to the PR updates the same comment in place.
    let first_id =
        w.gh.comments(ACME, pr)
            .iter()
            .find(|c| c.body.contains("environment=staging"))
            .unwrap()
            .id;
    let sha2 = w.change_acme("feature", 4);
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha2);
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let comments = w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 2, "no duplicate comment");
    let staging = comments
        .iter()
        .find(|c| c.body.contains("environment=staging"))
        .unwrap();
    assert_eq!(staging.id, first_id);
    assert!(
        staging.body.contains(&sha2[..12]),
        "updated for the new commit"
    );
    w.gh.assert_clean();
}

/// Merge → apply of staging; tampered production plan refused; stale apply
/// refused after a newer push.
#[test]
fn merge_applies_and_unsafe_applies_are_refused() {
    let mut w = World::new();
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    assert_eq!(pr, 1);
    let sha = w.gh.merge_pr(ACME, pr);
    let (out, _) = w.trigger_push(
        ACME,
        &sha,
        "Merge pull request #1 from acme-corp/feature\n\nMore instances",
    );
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-apply");
    assert_eq!(d["client_payload"]["pr"], 1);

    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    w.gh.reset_counters();
    let (out, files) = w.apply_latest("staging", &digest);
    ok(&out);
    assert!(
        w.gh.request_count() <= 11,
        "apply budget: {} requests",
        w.gh.request_count()
    );
    assert_eq!(files.outputs()["applied"], "true");
    // The customer sees the apply as a deployment of the merged commit.
    let deployments = w.gh.deployments(ACME);
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    let d = &deployments[0];
    assert_eq!(
        (d.sha.as_str(), d.environment.as_str()),
        (sha.as_str(), "staging")
    );
    assert!(
        d.description
            .as_deref()
            .unwrap_or("")
            .contains("from manager"),
        "{d:?}"
    );
    let states: Vec<&str> = d.statuses.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(states, ["in_progress", "success"]);
    assert!(d.statuses[1]
        .2
        .as_deref()
        .unwrap_or("")
        .contains("/actions/runs/"));
    let last =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(
        (last.state.as_str(), last.description.as_deref()),
        ("success", Some("staging: applied +3 ~0 -0"))
    );
    assert!(w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .is_file());
    let comment =
        w.gh.comments(ACME, 1)
            .into_iter()
            .find(|c| c.body.contains("environment=staging"))
            .unwrap();
    assert!(
        comment.body.contains("**Applied** to `staging`"),
        "{}",
        comment.body
    );

    // Production: the sealed plan artifact is tampered with after planning.
    let (out, files) = w.plan_latest("production");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let bundle =
        w.fx.manager()
            .join(".fleetform/out/acme/production/bundle.sealed");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&bundle, bytes).unwrap();
    w.approve_next_run("production", "ops-carol");
    let (out, _) = w.apply_latest("production", &digest);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("cannot be opened") && stderr(&out).contains("was changed"),
        "{}",
        stderr(&out)
    );
    let last = w.gh.statuses(ACME, &sha).last().cloned().unwrap();
    assert_eq!(last.state, "failure");
    assert!(!w
        .fx
        .manager()
        .join(".fleetform/state/acme/production/terraform.tfstate")
        .exists());

    // Stale: plan staging again, then a newer push changes the variables
    // before the apply.
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let vars = acme_vars_with(&w.fx, "max_instances: 2", "max_instances: 7");
    let newer = w.gh.commit(ACME, "main", &[("infra/variables.yml", &vars)]);
    let (out, _) = w.apply_latest("staging", &digest);
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("stale plan"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`infra/variables.yml` changed"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(&newer[..12]));
    w.gh.assert_clean();
}

/// A newer commit that changes nothing fleetform reads (a README merged
/// during the approval wait) does not make the plan stale: the trigger
/// only fires on `infra/**`, so refusing would leave the change unapplied
/// forever.
#[test]
fn a_newer_commit_outside_the_variables_does_not_block_the_apply() {
    let mut w = World::new();
    let sha = w.change_acme("main", 4);
    let event = json!({
        "ref": "refs/heads/main", "after": sha,
        "repository": { "default_branch": "main" },
        "head_commit": { "message": "more instances" }
    });
    let (mut cmd, _) = w.step(ACME, "push", &event, &sha);
    let checkout = w.checkout(ACME, &sha);
    ok(&cmd
        .current_dir(checkout)
        .env("FLEETFORM_MANAGER_REPO", world::MANAGER)
        .arg("trigger")
        .output()
        .unwrap());
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    w.gh.commit(ACME, "main", &[("README.md", "docs only")]);
    let (out, _) = w.apply_latest("staging", &digest);
    ok(&out);
    assert!(
        stderr(&out).contains("without changing the files fleetform reads"),
        "{}",
        stderr(&out)
    );
    assert!(w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .is_file());
    let own =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(own.state, "success");
    w.gh.assert_clean();
}

#[test]
fn unknown_and_revoked_repos_are_refused() {
    let mut w = World::new();
    let sha = w.gh.branch_head("initech/tps-reports", "main").unwrap();
    let dispatch = |repo: &str| {
        json!({ "event_type": "fleetform-plan", "client_payload": {
            "v": 1, "customer_repo": repo, "sha": sha, "ref": "refs/heads/x", "pr": null,
            "event": "push", "trigger_run_url": null, "dispatch_id": "d1", "files": ["infra/variables.yml"]
        }})
    };
    let (out, _) = w.plan_event(&dispatch("evil/unknown"), "staging");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("`evil/unknown` is not a registered customer"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        w.gh.write_count(),
        0,
        "nothing is written for an unknown repo"
    );

    // Unsigned, it is refused like any unsigned dispatch: nothing written.
    let (out, _) = w.plan_event(&dispatch("initech/tps-reports"), "staging");
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("not signed"), "{}", stderr(&out));
    assert_eq!(w.gh.write_count(), 0);
    // Signed with its (last) key, its commit is told it was revoked.
    let (out, _) = w.plan_event(&signed(&dispatch("initech/tps-reports")), "staging");
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("was revoked"), "{}", stderr(&out));
    let st = w.gh.statuses("initech/tps-reports", &sha);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].state, "failure");
    assert!(
        !w.fx.manager().join(".fleetform/out").exists(),
        "no terraform ran"
    );
    w.gh.assert_clean();
}

#[test]
fn hostile_payloads_are_refused() {
    let mut w = World::new();
    for (field, value) in [
        ("sha", json!("not-a-sha")),
        ("pr", json!("12; rm -rf /")),
        ("files", json!(["../../fleetform.yml"])),
        ("customer_repo", json!("acme-corp/../../x")),
    ] {
        let mut p = json!({
            "v": 1, "customer_repo": ACME, "sha": "2".repeat(40), "ref": "refs/heads/x", "pr": 3,
            "event": "pull_request", "trigger_run_url": null, "dispatch_id": "d1", "files": ["infra/variables.yml"]
        });
        p[field] = value;
        let (out, _) = w.plan_event(
            &json!({"event_type": "fleetform-plan", "client_payload": p}),
            "staging",
        );
        common::assert_code_for(format_args!("{field}"), &out, 3);
        assert!(
            stderr(&out).contains("dispatch payload rejected"),
            "{field}: {}",
            stderr(&out)
        );
    }
    // A file that is not a variables file of this manager (signed by acme).
    let p = json!({
        "v": 1, "customer_repo": ACME, "sha": "2".repeat(40), "ref": "refs/heads/x", "pr": 3,
        "event": "pull_request", "trigger_run_url": null, "dispatch_id": "d1",
        "files": ["infra/variables.yml", "infra/secrets.yml"]
    });
    let (out, _) = w.plan_event(
        &signed(&json!({"event_type": "fleetform-plan", "client_payload": p})),
        "staging",
    );
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("not a variables file of this manager"));
    assert_eq!(w.gh.request_count(), 0, "nothing was fetched");
}

#[test]
fn invalid_variables_fail_with_lines_and_no_terraform() {
    let mut w = World::new();
    let broken = w.fx.read("invalid/broken-co/infra/variables.yml");
    // The trigger refuses to dispatch ...
    let sha =
        w.gh.commit(ACME, "bad", &[("infra/variables.yml", &broken)]);
    let pr = w.gh.open_pr(ACME, "bad", "main", "oops");
    let (out, _) = w.trigger_pr(ACME, pr, "bad", &sha);
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("::error file=infra/variables.yml,line=8,col=20::"),
        "{}",
        stderr(&out)
    );
    assert!(w.gh.dispatches(MANAGER).is_empty());
    assert_eq!(w.gh.statuses(ACME, &sha).last().unwrap().state, "failure");

    // ... and the manager, sent a (signed) dispatch anyway, re-validates.
    let d = signed(&json!({ "event_type": "fleetform-plan", "client_payload": {
        "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/bad", "pr": pr,
        "event": "pull_request", "trigger_run_url": null, "dispatch_id": "d2", "files": ["infra/variables.yml"]
    }}));
    let (out, _) = w.plan_event(&d, "staging");
    common::assert_code(&out, 1);
    let c = w.gh.comments(ACME, pr);
    assert_eq!(c.len(), 1);
    assert!(c[0].body.contains("**Invalid variables**"));
    assert!(
        c[0].body
            .contains("`infra/variables.yml:8:20` `/environments/staging/min_instances`"),
        "{}",
        c[0].body
    );
    assert!(c[0].body.contains("`infra/variables.yml:13:23`"));
    let last = w.gh.statuses(ACME, &sha).last().cloned().unwrap();
    assert_eq!(last.state, "failure");
    assert_eq!(
        last.description.as_deref(),
        Some("staging: invalid variables: 4 problems")
    );
    assert!(
        !w.fx.manager().join(".fleetform/out/acme").exists(),
        "no terraform ran"
    );
    w.gh.assert_clean();
}

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
    let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .args(["plan", "--dispatch", "--env", "staging", "--dry-run"])
        .output()
        .unwrap();
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
    let sha = w.change_acme("main", 3);
    let mut texts = Vec::new();
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
    let out =
        w.fx.fleetform()
            .env("FLEETFORM_TOKEN", token)
            .arg("-vv")
            .args(["plan", "--dispatch"])
            .output()
            .unwrap();
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
    for secret in &secrets {
        for c in w.gh.comments(ACME, 1) {
            assert!(!c.body.contains(secret.as_str()));
        }
        assert!(
            !audit.contains(secret.as_str()),
            "a secret in the audit log"
        );
    }
    for d in w.gh.dispatches(MANAGER) {
        let sent = d.to_string();
        assert!(!sent.contains(DISPATCH_SECRET) && !sent.contains(&key));
    }
    assert!(Path::new(&w.fx.manager()).exists());
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
    let (mut cmd, files) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .args(["-v", "plan", "--dispatch", "--env", "staging", "--json"])
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stderr(&out).contains("GitHub API request"),
        "{}",
        stderr(&out)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        // Under Actions, workflow commands share stdout: take the JSON object.
        let s = stdout(&out);
        let start = s.find("\n{").map(|i| i + 1).unwrap_or(0);
        serde_json::from_str(&s[start..]).unwrap()
    });
    let n = json["requests"].as_u64().unwrap();
    assert_eq!(files.outputs()["requests"], n.to_string());
    assert!(
        (7..=9).contains(&n),
        "4 pages of comments + file + update + status, statuses read, combined status: {n}"
    );
}

/// `trigger --wait`: the manager's answer ends the wait.
#[test]
fn trigger_waits_for_the_manager() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (mut cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    cmd.env("FLEETFORM_POLL_BASE_MS", "100")
        .args(["--wait", "60s"]);
    let run = std::thread::spawn(move || cmd.output().unwrap());
    // The manager answers a moment later.
    let started = std::time::Instant::now();
    while w.gh.dispatches(MANAGER).is_empty()
        && started.elapsed() < std::time::Duration::from_secs(30)
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    w.gh.add_status(ACME, &sha, "success", "infra/terraform-deploy");
    let out = run.join().unwrap();
    ok(&out);
    assert!(
        stdout(&out).contains("the manager answered"),
        "{}",
        stdout(&out)
    );
    w.gh.assert_clean();
}

/// `trigger --wait`: a manager that never answers fails the customer's job
/// and marks the commit.
#[test]
fn trigger_wait_times_out_when_the_manager_never_answers() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (mut cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    w.gh.reset_counters();
    let out = cmd
        .env("FLEETFORM_POLL_BASE_MS", "200")
        .args(["--wait", "2s"])
        .output()
        .unwrap();
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("the manager never answered within 2s"),
        "{}",
        stderr(&out)
    );
    let last = w.gh.statuses(ACME, &sha).last().cloned().unwrap();
    assert_eq!(last.state, "error");
    // 3 for the trigger, a handful of polls (200 ms doubling within 2 s), 1 to mark.
    assert!(
        w.gh.request_count() <= 3 + 5 + 1,
        "poll budget: {}",
        w.gh.request_count()
    );
    w.gh.assert_clean();
}

/// A full trigger → plan → apply run leaves one audit line per step, and
/// the report lists the apply with its digest and actor.
#[test]
fn audit_lines_for_a_full_run() {
    let mut w = World::new();
    let log = w.scratch.path().join("audit.jsonl");
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let sha = w.gh.merge_pr(ACME, pr);
    let event = json!({
        "ref": "refs/heads/main", "after": sha,
        "repository": { "default_branch": "main" },
        "head_commit": { "message": format!("Merge pull request #{pr} from acme-corp/feature") }
    });
    let checkout = w.checkout(ACME, &sha);
    let (mut cmd, _) = w.step(ACME, "push", &event, &sha);
    let out = cmd
        .current_dir(checkout)
        .env("FLEETFORM_MANAGER_REPO", MANAGER)
        .env("FLEETFORM_AUDIT_LOG", &log)
        .env("GITHUB_ACTOR", "dev-alice")
        .arg("trigger")
        .output()
        .unwrap();
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (mut cmd, files) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .env("FLEETFORM_AUDIT_LOG", &log)
        .env("GITHUB_ACTOR", "ops-bot")
        .args(["plan", "--dispatch", "--env", "staging"])
        .output()
        .unwrap();
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .env("FLEETFORM_AUDIT_LOG", &log)
        .env("GITHUB_ACTOR", "ops-carol")
        .env("GITHUB_TRIGGERING_ACTOR", "ops-bot")
        .args([
            "apply",
            "--dispatch",
            "--env",
            "staging",
            "--plan-dir",
            ".fleetform/out/acme/staging",
            "--plan-sha256",
            &digest,
        ])
        .output()
        .unwrap();
    ok(&out);
    // A refused apply (wrong digest) is audited too.
    let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .env("FLEETFORM_AUDIT_LOG", &log)
        .args([
            "apply",
            "--dispatch",
            "--env",
            "staging",
            "--plan-dir",
            ".fleetform/out/acme/staging",
            "--plan-sha256",
            &"0".repeat(64),
        ])
        .output()
        .unwrap();
    common::assert_code(&out, 3);

    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "plan", "apply", "refusal"]);
    for l in &lines {
        assert_eq!(l["sha"], sha.as_str(), "{l}");
        assert!(l["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(l["dispatch_id"], d["client_payload"]["dispatch_id"]);
    }
    assert_eq!(lines[0]["actor"], "dev-alice");
    assert_eq!(lines[1]["plan_sha256"], digest.as_str());
    assert_eq!(lines[1]["environment"], "staging");
    assert_eq!(
        (lines[2]["actor"].as_str(), lines[2]["result"].as_str()),
        (Some("ops-carol"), Some("ok"))
    );
    assert_eq!(lines[2]["plan_sha256"], digest.as_str());
    assert_eq!(lines[2]["triggering_actor"], "ops-bot");
    assert!(lines[2]["run_url"]
        .as_str()
        .unwrap()
        .starts_with("https://github.com/provider/manager/actions/runs/"));

    let out =
        w.fx.fleetform()
            .args(["audit", "report", "--since", "2000-01-01", "--log"])
            .arg(&log)
            .arg("--json")
            .output()
            .unwrap();
    ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["applies_per_customer"]["acme"], 1);
    assert_eq!(report["applies"][0]["actor"], "ops-carol");
    assert_eq!(report["refusals"].as_array().unwrap().len(), 1);
    let out =
        w.fx.fleetform()
            .args(["audit", "report", "--log"])
            .arg(&log)
            .output()
            .unwrap();
    ok(&out);
    assert!(stdout(&out).contains("## Approved applies (who approved what)"));
    assert!(stdout(&out).contains("ops-carol (run by ops-bot)"));
    let out =
        w.fx.fleetform()
            .args([
                "audit",
                "report",
                "--since",
                "2999-01-01",
                "--json",
                "--log",
            ])
            .arg(&log)
            .output()
            .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 0);
}

/// Drift with sticky issues in the manager repo: opened on drift, updated
/// (not duplicated) while it lasts, closed with a comment when it is gone.
#[test]
fn drift_issues_open_update_and_close() {
    let mut w = World::new();
    let run = |w: &mut World| {
        let (mut cmd, files) = w.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
        let out = cmd
            .args([
                "drift",
                "--customer",
                "acme",
                "--env",
                "staging",
                "--issues",
                "--manager-repo",
                MANAGER,
            ])
            .output()
            .unwrap();
        (out, files)
    };
    // Nothing applied yet: never applied, which is no drift.
    let (out, files) = run(&mut w);
    ok(&out);
    assert_eq!(files.outputs()["drifted"], "0");
    assert!(w.gh.issues(MANAGER).is_empty());
    // Applied, then the customer's values change: drift.
    let apply = |w: &mut World| {
        common::apply_locally(&w.fx, "acme", "staging");
    };
    apply(&mut w);
    let v =
        w.fx.read("customers/acme/infra/variables.yml")
            .replace("max_instances: 2", "max_instances: 5");
    w.fx.write("customers/acme/infra/variables.yml", &v);
    let (out, files) = run(&mut w);
    common::assert_code(&out, 4);
    assert_eq!(files.outputs()["drifted"], "1");
    let issues = w.gh.issues(MANAGER);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].title, "Drift: acme");
    assert_eq!(issues[0].labels, ["fleetform-drift"]);
    let (out, _) = run(&mut w);
    common::assert_code(&out, 4);
    assert_eq!(w.gh.issues(MANAGER).len(), 1, "updated, not duplicated");

    // Apply the change locally, then drift is gone and the issue closes.
    apply(&mut w);
    w.gh.reset_counters();
    let (out, files) = run(&mut w);
    ok(&out);
    assert_eq!(files.outputs()["drifted"], "0");
    let issues = w.gh.issues(MANAGER);
    assert_eq!(issues[0].state, "closed");
    let comments = w.gh.comments(MANAGER, issues[0].number);
    assert!(comments.last().unwrap().body.contains("The drift is gone"));
    assert!(
        w.gh.request_count() <= 3,
        "list + comment + close: {}",
        w.gh.request_count()
    );
    w.gh.assert_clean();
}

/// `apply --dry-run` makes every check and applies nothing.
#[test]
fn apply_dry_run_checks_and_applies_nothing() {
    let mut w = World::new();
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let sha = w.gh.merge_pr(ACME, pr);
    ok(&w
        .trigger_push(
            ACME,
            &sha,
            &format!("Merge pull request #{pr} from acme-corp/feature"),
        )
        .0);
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    w.gh.reset_counters();
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .args([
            "apply",
            "--dispatch",
            "--dry-run",
            "--env",
            "staging",
            "--plan-dir",
            ".fleetform/out/acme/staging",
            "--plan-sha256",
            &digest,
        ])
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stdout(&out).contains("dry run: every check passed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.gh.write_count(), 0);
    assert!(!w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .exists());
}

/// Drift issues go to the manager repo with the job's own token
/// (`FLEETFORM_ISSUES_TOKEN`); the customer repos are read with
/// `FLEETFORM_TOKEN`, a fine-grained token that cannot reach the manager
/// repo (one owner per token).
#[test]
fn drift_issues_use_the_issues_token() {
    let mut w = World::new();
    let customers_only = "github_pat_customers_only_0123456789";
    let manager_only = "ghs_manager_job_token_0123456789";
    w.gh.add_scoped_token(customers_only, &[ACME, "globex/globex-app"]);
    w.gh.add_scoped_token(manager_only, &[MANAGER]);
    // Drift: acme's staging applied, then its values changed (a pair never
    // applied is no drift).
    common::apply_locally(&w.fx, "acme", "staging");
    let v =
        w.fx.read("customers/acme/infra/variables.yml")
            .replace("max_instances: 2", "max_instances: 5");
    w.fx.write("customers/acme/infra/variables.yml", &v);
    let (mut cmd, _) = w.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
    let out = cmd
        .env("FLEETFORM_TOKEN", customers_only)
        .env("FLEETFORM_ISSUES_TOKEN", manager_only)
        .args([
            "drift",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--issues",
            "--manager-repo",
            MANAGER,
        ])
        .output()
        .unwrap();
    common::assert_code(&out, 4);
    assert_eq!(
        w.gh.issues(MANAGER).len(),
        1,
        "opened with the issues token"
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.lines()
            .filter(|l| l.contains(manager_only))
            .all(|l| l.starts_with("::add-mask::")),
        "the token is only registered as a mask: {all}"
    );
    w.gh.assert_clean();
}

/// A customer revoked on the manager's default branch while its apply
/// waited for approval is not applied: the registry is read again as it is
/// now, not from the checkout the dispatch ran on.
#[test]
fn a_revocation_during_the_approval_wait_stops_the_apply() {
    let mut w = World::new();
    let sha = w.change_acme("main", 4);
    let (out, _) = w.trigger_push(ACME, &sha, "more instances");
    ok(&out);
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let revoked = w.fx.read("manager/customers.yml").replacen(
        "    status: active\n    added: 2026-01-15\n",
        "    status: revoked\n    added: 2026-01-15\n    revoked:\n      date: 2026-11-01\n      reason: contract ended\n",
        1,
    );
    assert!(revoked.contains("status: revoked\n    added: 2026-01-15"));
    w.gh.commit(MANAGER, "main", &[("customers.yml", &revoked)]);
    let (out, _) = w.apply_latest("staging", &digest);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("`acme` was revoked on provider/manager's default branch"),
        "{}",
        stderr(&out)
    );
    assert!(!w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .exists());
    let own =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(own.state, "failure");
}

/// `auto_apply: false` is enforced through the API: production applies only
/// when someone other than the dispatcher approved this run's deployment to
/// `production-apply`, and that approver is the apply's audit actor.
#[test]
fn production_applies_only_after_another_person_approved_the_run() {
    let mut w = World::new();
    let log = w.scratch.path().join("audit.jsonl");
    let sha = w.change_acme("main", 4);
    let (out, _) = w.trigger_push(ACME, &sha, "more instances");
    ok(&out);
    let (out, files) = w.plan_latest("production");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let state =
        w.fx.manager()
            .join(".fleetform/state/acme/production/terraform.tfstate");
    let apply = |w: &mut World| {
        let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        cmd.env("GITHUB_ACTOR", "relay-bot")
            .env("FLEETFORM_AUDIT_LOG", &log)
            .args([
                "apply",
                "--dispatch",
                "--env",
                "production",
                "--plan-dir",
                ".fleetform/out/acme/production",
                "--plan-sha256",
                &digest,
            ])
            .output()
            .unwrap()
    };

    // No reviewers on the environment: nobody approved the run.
    let out = apply(&mut w);
    common::assert_code(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("no one approved the deployment to `production-apply`"),
        "{err}"
    );
    assert!(err.contains("required reviewers"), "{err}");
    assert!(!state.exists());
    let own =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap();
    assert_eq!(own.state, "failure");
    assert!(
        own.description
            .as_deref()
            .unwrap()
            .contains("apply refused"),
        "{own:?}"
    );

    // Self-review: the dispatcher approved its own run; an approval of
    // another environment does not count either.
    w.approve_next_run("production", "relay-bot");
    w.gh.review_run(
        MANAGER,
        w.run_id + 1,
        "staging-apply",
        "ops-carol",
        "approved",
    );
    let out = apply(&mut w);
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("self-review"), "{}", stderr(&out));
    assert!(!state.exists());

    // A reviewer who is not the dispatcher approved: the apply runs, and the
    // audit names the approver as the actor, the dispatcher as who started it.
    w.approve_next_run("production", "ops-carol");
    w.gh.reset_counters();
    let out = apply(&mut w);
    ok(&out);
    // 10 of the 11 (no PR, so no comment to update) + 1 for the approvals.
    assert_eq!(
        w.gh.request_count(),
        11,
        "apply budget with an approval check"
    );
    assert!(state.is_file());
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let applied = lines
        .iter()
        .find(|l| l["action"] == "apply" && l["result"] == "ok")
        .expect("an apply record");
    assert_eq!(applied["actor"], "ops-carol", "{applied}");
    assert_eq!(applied["triggering_actor"], "relay-bot", "{applied}");
    let refusals = lines.iter().filter(|l| l["action"] == "refusal").count();
    assert_eq!(refusals, 2, "{lines:?}");
    w.gh.assert_clean();
}

/// The deploy workflow's last job: an apply that was due but never reported
/// (cancelled while pending, skipped after an earlier environment, failed
/// before fleetform ran) marks the customer's commit `error`; one that
/// reported its own result is left as it said.
#[test]
fn conclude_marks_applies_that_did_not_run() {
    let mut w = World::new();
    let sha = w.change_acme("main", 4);
    let (out, _) = w.trigger_push(ACME, &sha, "more instances");
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let (out, _) = w.plan_latest("production");
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let due =
        json!({"result": "success", "outputs": {"has_changes": "true", "gates_pass": "true"}});
    let conclude = |w: &mut World, needs: &Value, event: &Value| {
        let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", event, &"e".repeat(40));
        cmd.env("FLEETFORM_NEEDS", needs.to_string())
            .arg("conclude")
            .output()
            .unwrap()
    };

    // Staging applied and reported; production was cancelled while pending.
    w.gh.add_status(ACME, &sha, "success", "infra/terraform-deploy/staging");
    let needs = json!({
        "authorise": {"result": "success", "outputs": {}},
        "plan-staging": due,
        "apply-staging": {"result": "success", "outputs": {}},
        "plan-production": due,
        "apply-production": {"result": "cancelled", "outputs": {}},
    });
    w.gh.reset_counters();
    let out = conclude(&mut w, &needs, &event);
    ok(&out);
    assert_eq!(
        w.gh.request_count(),
        4,
        "conclude budget: one apply that did not run"
    );
    let prod =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap();
    assert_eq!(prod.state, "error");
    assert!(
        prod.description
            .as_deref()
            .unwrap()
            .starts_with("production: not applied: the apply job was cancelled"),
        "{prod:?}"
    );
    assert_eq!(
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap()
            .state,
        "success"
    );
    let combined =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy")
            .unwrap();
    assert_eq!(combined.state, "error", "{combined:?}");

    // The staging apply reported its own failure: left as it said;
    // production, skipped because of it, is an error naming staging.
    w.gh.add_status(ACME, &sha, "failure", "infra/terraform-deploy/staging");
    let needs = json!({
        "plan-staging": due,
        "apply-staging": {"result": "failure", "outputs": {}},
        "plan-production": due,
        "apply-production": {"result": "skipped", "outputs": {}},
    });
    let out = conclude(&mut w, &needs, &event);
    ok(&out);
    assert_eq!(
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .unwrap()
            .state,
        "failure"
    );
    let prod =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/production")
            .unwrap();
    assert_eq!(
        prod.description.as_deref(),
        Some("production: not applied: skipped because `staging` did not apply")
    );

    // A forged dispatch writes nothing.
    let before = w.gh.statuses(ACME, &sha).len();
    let mut forged = event.clone();
    forged["client_payload"]["pr"] = json!(99);
    let out = conclude(&mut w, &needs, &forged);
    common::assert_code(&out, 3);
    assert_eq!(w.gh.statuses(ACME, &sha).len(), before);
    // Needs that are not the JSON of `needs`: a usage error.
    let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .env("FLEETFORM_NEEDS", "[1,2]")
        .arg("conclude")
        .output()
        .unwrap();
    common::assert_code(&out, 2);
    w.gh.assert_clean();
}

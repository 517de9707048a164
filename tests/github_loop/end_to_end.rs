//! The GitHub loop end to end through the built binary, against a stateful
//! fake GitHub that checks every request against GitHub's OpenAPI
//! description: trigger → dispatch → plan → comment + status → gated apply.

use crate::common;
use crate::world;

use common::{signed, stderr};
use serde_json::json;

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
    // acme has an override file for production, not staging: one file
    // here; and the pull request's head (the fork check).
    assert!(
        w.gh.request_count() <= 8,
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
        w.gh.request_count() <= 9,
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
    let checkout = w.checkout(ACME, &sha);
    let event = world::push_event(&sha, "more instances");
    let (cmd, _) = w.trigger_step(ACME, "push", &event, &sha, checkout);
    ok(&common::Run::from(cmd).output());
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
    // A file that is not a variables file of this manager (signed by acme),
    // on a pull request of acme's own branch.
    w.gh.create_branch(ACME, "x", "main");
    let pr = w.gh.open_pr(ACME, "x", "main", "a change");
    w.gh.reset_counters();
    let p = json!({
        "v": 1, "customer_repo": ACME, "sha": "2".repeat(40), "ref": "refs/heads/x", "pr": pr,
        "event": "pull_request", "trigger_run_url": null, "dispatch_id": "d1",
        "files": ["infra/variables.yml", "infra/secrets.yml"]
    });
    let (out, _) = w.plan_event(
        &signed(&json!({"event_type": "fleetform-plan", "client_payload": p})),
        "staging",
    );
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("not a variables file of this manager"));
    assert_eq!(
        w.gh.request_count(),
        0,
        "nothing was fetched: the payload alone is refused before the fork check"
    );
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

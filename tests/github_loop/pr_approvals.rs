//! Apply approvals on the customer's pull request (`approvals:` in
//! fleetform.yml): they hold without GitHub Enterprise (no environment
//! reviewers, no deployment reviews of the run) and only for this plan.
//!
//! Production is `auto_apply: false`. Without `approvals:` its apply needs
//! an approved deployment review of the run; with them, fleetform needs
//! enough listed users or active team members to comment
//! `/fleetform approve <digest prefix>` (or say it in an approving review)
//! on the pull request after the plan, unedited, with this plan's digest,
//! and not the author. Everything else is counted out, and the approvers
//! are in the audit line.

use crate::common;
use crate::world;

use serde_json::{json, Value};

use common::stderr;
use world::{ok, World, ACME};

const APPROVALS: &str = r#"
approvals:
  production:
    required: 2
    users: [alice]
    teams: [provider/platform]
"#;

fn apply_dispatch(sha: &str, pr: u64) -> Value {
    common::signed(&json!({
        "event_type": "fleetform-apply",
        "client_payload": {
            "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/main",
            "pr": pr, "event": "push", "trigger_run_url": null,
            "dispatch_id": "d-approve", "files": ["infra/variables.yml"]
        }
    }))
}

/// A pull request from `feature`, merged: main has its change.
fn merged_pr(w: &World) -> (String, u64) {
    w.change_acme("feature", 9);
    let pr = w.gh.open_pr(ACME, "feature", "main", "more instances");
    (w.change_acme("main", 9), pr)
}

fn last_audit(w: &World, action: &str) -> Value {
    std::fs::read_to_string(w.fx.path("manager/.fleetform/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} in the audit"))
}

#[test]
fn only_fresh_approvals_of_this_plan_by_listed_approvers_count() {
    let mut w = World::new();
    w.fx.append("manager/fleetform.yml", APPROVALS);
    for (login, state) in [
        ("frank", "active"),
        ("carol", "active"),
        ("erin", "active"),
        ("dave", "pending"),
    ] {
        w.gh.add_team_member("provider", "platform", login, state);
    }
    let (sha, pr) = merged_pr(&w);
    let d = apply_dispatch(&sha, pr);

    let (plan, files) = w.plan_event(&d, "production");
    ok(&plan);
    let digest = files.outputs()["plan_sha256"].clone();
    let prefix = &digest[..12];
    let comment = w.gh.comments(ACME, pr).last().unwrap().body.clone();
    assert!(
        comment.contains(&format!("`/fleetform approve {prefix}`"))
            && comment.contains(
                "2 approvals by `alice`, a member of `provider/platform`, not the author"
            ),
        "the plan comment says who approves and how:\n{comment}"
    );

    // Nobody approved: refused, saying what to do (no deployment review is
    // asked for: approvals replace it).
    let (apply, _) = w.apply_latest_of(&d, "production", &digest);
    common::assert_code(&apply, 3);
    let err = stderr(&apply);
    assert!(err.contains("waiting for approval: 0 of 2"), "{err}");
    assert!(
        err.contains(&format!("/fleetform approve {prefix}")),
        "{err}"
    );

    // Every approval that must not count, and one that does.
    let good = format!("/fleetform approve {prefix}");
    w.gh.add_comment(ACME, pr, "alice", &format!("looks right\n{good}"));
    w.gh.add_comment(ACME, pr, "bob", &good); // not an approver
    w.gh.add_comment(ACME, pr, "carol", "/fleetform approve 000000000000"); // another plan
    w.gh.add_comment(ACME, pr, "dave", &good); // invitation pending
    w.gh.add_comment(ACME, pr, "octocat", &good); // the author
    w.gh.add_comment(ACME, pr, "platform-bot[bot]", &good); // a bot
    w.gh.add_comment(
        ACME,
        pr,
        "carol",
        &format!("/fleetform approve {}", &prefix[..11]),
    ); // too short
    let erin =
        w.gh.add_comment(ACME, pr, "erin", "/fleetform approve 111111111111");
    w.gh.edit_comment(ACME, erin, &good); // changed later by someone with write access
    w.gh.add_review_with_body(ACME, pr, "carol", "CHANGES_REQUESTED", &good);
    let (apply, _) = w.apply_latest_of(&d, "production", &digest);
    common::assert_code(&apply, 3);
    let err = stderr(&apply);
    assert!(
        err.contains("waiting for approval: 1 of 2 approvals of this plan (so far: alice)"),
        "{err}"
    );
    assert!(
        !std::path::Path::new(
            &w.fx
                .path("manager/.fleetform/state/acme/production/terraform.tfstate")
        )
        .exists(),
        "nothing applied"
    );

    // A team member's approving review that quotes the command: applied.
    w.gh.add_review_with_body(ACME, pr, "frank", "APPROVED", &format!("ship it\n\n{good}"));
    w.gh.reset_counters();
    let (apply, _) = w.apply_latest_of(&d, "production", &digest);
    ok(&apply);
    // README, "Request budgets": the apply's 11, + 3 for `approvals:`,
    // + 1 per team membership asked (frank, bob and dave approved this
    // plan without being listed by name; the others' approvals were of
    // another plan, too short, by the author or a bot, or edited).
    let table = crate::support::readme_budgets::Budgets::from_book();
    let apply_row = "`apply --dispatch`";
    assert_eq!(
        w.gh.request_count(),
        table.lead(apply_row)
            + table.n(apply_row, " (the pull request, its reviews, its comments")
            + 3 * table.n(apply_row, " per team membership asked")
    );
    let audit = last_audit(&w, "apply");
    assert_eq!(audit["result"], "ok");
    // Oldest approval first; these two may share a second.
    let mut approvers: Vec<String> = serde_json::from_value(audit["approvers"].clone()).unwrap();
    approvers.sort();
    assert_eq!(approvers, ["alice", "frank"]);
    assert_eq!(audit["plan_sha256"], digest.as_str());
}

/// A new plan needs new approvals: those of the earlier plan name its
/// digest, not this one's.
#[test]
fn approvals_of_an_earlier_plan_do_not_carry_over() {
    let mut w = World::new();
    w.fx.append(
        "manager/fleetform.yml",
        &APPROVALS.replace("required: 2", "required: 1"),
    );
    let (sha, pr) = merged_pr(&w);
    let d = apply_dispatch(&sha, pr);
    let (plan, files) = w.plan_event(&d, "production");
    ok(&plan);
    let first = files.outputs()["plan_sha256"].clone();
    w.gh.add_comment(
        ACME,
        pr,
        "alice",
        &format!("/fleetform approve {}", &first[..16]),
    );

    let (plan, files) = w.plan_event(&d, "production");
    ok(&plan);
    let second = files.outputs()["plan_sha256"].clone();
    assert_ne!(first, second, "every plan has its own digest");
    let (apply, _) = w.apply_latest_of(&d, "production", &second);
    common::assert_code(&apply, 3);
    assert!(stderr(&apply).contains("0 of 1"), "{}", stderr(&apply));

    w.gh.add_comment(
        ACME,
        pr,
        "ALICE",
        &format!("/fleetform approve sha256:{}", &second[..20]),
    );
    let (apply, _) = w.apply_latest_of(&d, "production", &second);
    ok(&apply);
    assert_eq!(last_audit(&w, "apply")["approvers"], json!(["ALICE"]));
}

/// A push without a pull request cannot be approved: refused.
#[test]
fn a_commit_without_a_pull_request_cannot_be_approved() {
    let mut w = World::new();
    w.fx.append("manager/fleetform.yml", APPROVALS);
    let sha = w.change_acme("main", 9);
    let mut d = apply_dispatch(&sha, 1);
    d["client_payload"]["pr"] = Value::Null;
    let d = common::signed(&d);
    let (plan, files) = w.plan_event(&d, "production");
    ok(&plan);
    let digest = files.outputs()["plan_sha256"].clone();
    let (apply, _) = w.apply_latest_of(&d, "production", &digest);
    common::assert_code(&apply, 3);
    assert!(
        stderr(&apply).contains("no pull request is known"),
        "{}",
        stderr(&apply)
    );
}

#[test]
fn approvals_are_checked_where_they_are_written() {
    let fx = common::Fixture::new();
    for (bad, says) in [
        (
            "approvals:\n  qa:\n    users: [alice]\n",
            "`qa` is not an environment",
        ),
        (
            "approvals:\n  production:\n    required: 0\n    users: [alice]\n",
            "at least 1",
        ),
        (
            "approvals:\n  production:\n    required: 2\n    users: [alice]\n",
            "2 approvals required but only 1 user named",
        ),
        (
            "approvals:\n  production:\n    users: [\"al ice\"]\n",
            "not a GitHub login",
        ),
        (
            "approvals:\n  production:\n    teams: [platform]\n",
            "not `org/team-slug`",
        ),
        ("approvals:\n  production: {}\n", "name the approvers"),
    ] {
        let cfg = fx.read("manager/fleetform.yml");
        fx.append("manager/fleetform.yml", &format!("\n{bad}"));
        let out = common::Run::from(fx.fleetform())
            .args(["customers", "list"])
            .output();
        common::assert_fails_for(format_args!("{bad}"), &out);
        let err = stderr(&out);
        assert!(
            err.contains("fleetform.yml:") && err.contains(says),
            "{bad}: {err}"
        );
        fx.write("manager/fleetform.yml", &cfg);
    }
}

/// Approvals by team need the provider's token that reads its teams
/// (FLEETFORM_TEAMS_TOKEN): without it the apply says so and applies
/// nothing, instead of asking the customer's token, which GitHub answers
/// 403 (the customer App holds no organisation permission).
#[test]
fn approvals_by_team_without_the_teams_token_are_refused_saying_what_to_set() {
    let mut w = World::new();
    w.fx.append("manager/fleetform.yml", APPROVALS);
    w.gh.add_team_member("provider", "platform", "carol", "active");
    let (sha, pr) = merged_pr(&w);
    let d = apply_dispatch(&sha, pr);
    let (plan, files) = w.plan_event(&d, "production");
    ok(&plan);
    let digest = files.outputs()["plan_sha256"].clone();
    crate::world::approve_on_pr(&w.gh, pr, "carol", &digest);
    w.approve_next_run("production", "alice");
    let (cmd, _) = w.apply_step(&d, "production", &digest);
    let apply = common::Run::from(cmd)
        .env_remove("FLEETFORM_TEAMS_TOKEN")
        .output();
    common::assert_code(&apply, 3);
    let err = stderr(&apply);
    assert!(
        err.contains("this job has no FLEETFORM_TEAMS_TOKEN")
            && err.contains("the customer's token cannot read the provider's teams"),
        "{err}"
    );
    assert!(
        !w.gh.requests().iter().any(|r| r.path.contains("/teams/")),
        "no team was read with the customer's token"
    );
}

//! Comment commands (`/fleetform plan|apply` on a customer's pull
//! request) through the built binary against the fake GitHub: the
//! customer's trigger on `issue_comment`, then the manager's plan, which
//! reads the comment and its author's permission from GitHub.

use crate::common::{self, stderr, stdout};
use crate::world::{ok, StepFiles, World, ACME, MANAGER};

use serde_json::json;

use crate::support::readme_budgets::Budgets;

/// The book's "Request budgets" rows a comment command goes through.
const TRIGGER: &str = "`trigger`";
const PLAN: &str = "`plan --dispatch`, per environment";

/// The customer's trigger step on an `issue_comment` event (`action`) for
/// comment `id` on issue or pull request `number`, in a checkout of
/// `checkout_sha` (the workflow checks out the pull request's head).
pub(crate) fn trigger_comment(
    w: &mut World,
    number: u64,
    on_pull: bool,
    (id, body, action): (u64, &str, &str),
    checkout_sha: &str,
) -> (crate::common::Ran, StepFiles) {
    let mut issue = json!({ "number": number });
    if on_pull {
        issue["pull_request"] =
            json!({ "url": format!("https://api.github.com/repos/{ACME}/pulls/{number}") });
    }
    let event = json!({
        "action": action,
        "issue": issue,
        "comment": { "id": id, "body": body, "user": { "login": "someone" } },
        "repository": { "default_branch": "main" }
    });
    let main = w.gh.branch_head(ACME, "main").unwrap();
    let checkout = w.checkout(ACME, checkout_sha);
    let (cmd, files) = w.trigger_step(ACME, "issue_comment", &event, &main, checkout);
    (common::Run::from(cmd).output(), files)
}

/// A pull request raising acme's instances to 3, and `login` with `role`
/// on acme's repo commenting `body` on it: (pr, head sha, comment id).
fn commented(w: &World, login: &str, role: &str, body: &str) -> (u64, String, u64) {
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    w.gh.add_collaborator_as(ACME, login, "direct", role);
    let id = w.gh.add_comment(ACME, pr, login, body);
    (pr, sha, id)
}

#[test]
fn a_writers_plan_command_plans_the_pull_requests_head() {
    let mut w = World::new();
    let (pr, sha, id) = commented(&w, "writer", "maintain", "/fleetform plan\n");
    w.gh.reset_counters();
    let (out, _) = trigger_comment(&mut w, pr, true, (id, "/fleetform plan\n", "created"), &sha);
    ok(&out);
    // The book's "Request budgets": the pull request's head read first.
    let b = Budgets::from_book();
    assert_eq!(
        w.gh.request_count(),
        b.lead(TRIGGER) + b.n(TRIGGER, " for a comment command")
    );
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-plan");
    let p = &d["client_payload"];
    // Not the run's sha (the default branch's): the head GitHub names.
    assert_eq!(p["sha"].as_str(), Some(sha.as_str()));
    assert_eq!(
        (p["pr"].as_u64(), p["comment"].as_u64()),
        (Some(pr), Some(id))
    );
    assert_eq!(p["event"], "issue_comment");
    assert!(p.as_object().unwrap().len() <= 10, "{p}");

    w.gh.reset_counters();
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    assert_eq!(
        w.gh.request_count(),
        b.lead(PLAN)
            + b.n(PLAN, " for a pull request's plan")
            + b.n(PLAN, " for a comment command's plan")
    );
    assert!(
        stderr(&out).contains("comment command of @writer (write) on #"),
        "{}",
        stderr(&out)
    );
    let outputs = files.outputs();
    assert_eq!(
        (outputs["has_changes"].as_str(), outputs["create"].as_str()),
        ("true", "3")
    );
    let comments = w.gh.comments(ACME, pr);
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("environment=staging") && c.body.contains(&sha[..12])),
        "the plan of the head is on the pull request: {comments:?}"
    );
    assert_eq!(
        w.gh.reactions(ACME, id),
        vec![(w.gh.bot_login(), "eyes".to_string())]
    );
    w.gh.assert_clean();
}

#[test]
fn a_readers_command_is_refused_with_a_reply() {
    let mut w = World::new();
    let (pr, sha, id) = commented(&w, "reader", "triage", "/fleetform plan");
    let (out, _) = trigger_comment(&mut w, pr, true, (id, "/fleetform plan", "created"), &sha);
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains(
            "@reader has `read` permission on acme-corp/acme-infra; comment commands need `write`"
        ),
        "{}",
        stderr(&out)
    );
    let comments = w.gh.comments(ACME, pr);
    let reply = comments.last().unwrap();
    assert_eq!(reply.user, w.gh.bot_login());
    assert!(
        reply.body.contains("did not run the command") && reply.body.contains("need `write`"),
        "{}",
        reply.body
    );
    assert!(w.gh.reactions(ACME, id).is_empty());
    assert!(
        !w.fx.manager().join(".fleetform/out").exists(),
        "no terraform ran"
    );
    w.gh.assert_clean();
}

#[test]
fn comments_on_issues_edits_and_other_text_are_ignored() {
    let mut w = World::new();
    let main = w.gh.branch_head(ACME, "main").unwrap();
    let issue = w.gh.open_issue(ACME, "Question", "How do I plan?");
    let id = w.gh.add_comment(ACME, issue, "writer", "/fleetform plan");
    let (out, files) = trigger_comment(
        &mut w,
        issue,
        false,
        (id, "/fleetform plan", "created"),
        &main,
    );
    ok(&out);
    assert!(
        stderr(&out).contains("not on a pull request"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(files.outputs().get("dispatched"), None);
    let (pr, sha, id) = commented(&w, "writer", "write", "/fleetform plan");
    for (body, action, why) in [
        ("/fleetform plan", "edited", "only a new comment"),
        (
            "/fleetform plan && curl evil",
            "created",
            "not a fleetform command",
        ),
        ("LGTM", "created", "not a fleetform command"),
    ] {
        let (out, _) = trigger_comment(&mut w, pr, true, (id, body, action), &sha);
        ok(&out);
        assert!(
            stderr(&out).contains(why),
            "{body} {action}: {}",
            stderr(&out)
        );
    }
    assert!(
        w.gh.dispatches(MANAGER).is_empty(),
        "nothing was dispatched"
    );
    w.gh.assert_clean();
}

#[test]
fn an_apply_command_without_auto_apply_is_refused_with_the_reason() {
    let mut w = World::new();
    let (pr, sha, id) = commented(&w, "writer", "write", "/fleetform apply");
    let (out, _) = trigger_comment(&mut w, pr, true, (id, "/fleetform apply", "created"), &sha);
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-apply");
    let (out, _) = w.plan_latest("staging");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("`production` not `auto_apply`"),
        "{}",
        stderr(&out)
    );
    let reply = w.gh.comments(ACME, pr).last().cloned().unwrap();
    assert!(
        reply.body.contains(
            "`production` not `auto_apply`: it applies only after the pull request is merged"
        ),
        "{}",
        reply.body
    );
    // And which environment a comment may apply (issue #52).
    assert!(
        reply
            .body
            .contains("a comment may apply only `/fleetform apply -e staging`"),
        "{}",
        reply.body
    );
    // Naming the environment that is not auto_apply does not help.
    let id =
        w.gh.add_comment(ACME, pr, "writer", "/fleetform apply -e production");
    let (out, _) = trigger_comment(
        &mut w,
        pr,
        true,
        (id, "/fleetform apply -e production", "created"),
        &sha,
    );
    ok(&out);
    let (out, _) = w.plan_latest("production");
    common::assert_code(&out, 3);
    assert!(
        !w.fx.manager().join(".fleetform/out").exists(),
        "no terraform ran"
    );
    w.gh.assert_clean();
}

/// The manager's own fork check, whatever sent the dispatch: a writer's
/// command on a pull request from a fork, and on one whose fork was
/// deleted since (`head.repo: null`), is refused with a reply; nothing is
/// planned.
#[test]
fn a_command_on_a_forks_pull_request_is_refused_by_the_manager() {
    let mut w = World::new();
    let fork = "mallory/acme-fork";
    w.gh.add_fork(fork, ACME);
    let vars = crate::world::acme_vars_with(&w.fx, "max_instances: 2", "max_instances: 3");
    let sha = w.gh.commit(fork, "evil", &[("infra/variables.yml", &vars)]);
    let pr = w.gh.open_pr_from(ACME, fork, "evil", "main", "A change");
    w.gh.add_collaborator_as(ACME, "writer", "direct", "write");
    for gone in [false, true] {
        if gone {
            w.gh.remove_repo(fork);
        }
        let id = w.gh.add_comment(ACME, pr, "writer", "/fleetform plan");
        let (out, _) = trigger_comment(&mut w, pr, true, (id, "/fleetform plan", "created"), &sha);
        ok(&out);
        let (out, _) = w.plan_latest("staging");
        common::assert_code(&out, 3);
        let expected = if gone {
            "head repository no longer exists"
        } else {
            "comes from another repository (a fork)"
        };
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        let reply = w.gh.comments(ACME, pr).last().cloned().unwrap();
        assert!(
            reply.body.contains("did not run the command"),
            "{}",
            reply.body
        );
    }
    w.gh.assert_clean();
}

/// Issue #48 point 4: the fork check is the manager's own on every path,
/// not only for comment commands: a signed pull request dispatch (the
/// token path; the relay's would be the same) naming a pull request from a
/// fork, or from a fork deleted since, is refused before anything is read
/// from the customer's repo or planned.
#[test]
fn a_pull_request_dispatch_from_a_fork_is_refused_by_the_manager() {
    let mut w = World::new();
    let fork = "mallory/acme-fork";
    w.gh.add_fork(fork, ACME);
    let vars = crate::world::acme_vars_with(&w.fx, "max_instances: 2", "max_instances: 3");
    let sha = w.gh.commit(fork, "evil", &[("infra/variables.yml", &vars)]);
    let pr = w.gh.open_pr_from(ACME, fork, "evil", "main", "A change");
    for gone in [false, true] {
        if gone {
            w.gh.remove_repo(fork);
        }
        let p = serde_json::json!({
            "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/evil", "pr": pr,
            "event": "pull_request", "trigger_run_url": null, "dispatch_id": format!("d-{gone}"),
            "files": ["infra/variables.yml"]
        });
        w.gh.reset_counters();
        let (out, _) = w.plan_event(
            &crate::common::signed(
                &serde_json::json!({"event_type": "fleetform-plan", "client_payload": p}),
            ),
            "staging",
        );
        common::assert_code(&out, 3);
        let expected = if gone {
            "head repository no longer exists"
        } else {
            "comes from another repository (a fork)"
        };
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert_eq!(w.gh.request_count(), 1, "only the pull request was read");
        assert!(
            !w.fx.manager().join(".fleetform/out").exists(),
            "nothing was planned"
        );
    }
    w.gh.assert_clean();
}

//! Comment commands (`/fleetform plan|apply` on a customer's pull request)
//! through the dispatch relay: the customer's trigger on `issue_comment`
//! sends its run's OIDC token (which names the default branch's commit)
//! and the comment's id; the relay reads the comment and the pull
//! request's head from GitHub itself, and dispatches that head.

use serde_json::{json, Value};

use crate::common::{self, stderr, stdout};
use crate::relay::serve::{http, RelayProc, RelayWorld, WEBHOOK_SECRET};
use crate::relay::webhooks::signed_delivery;
use crate::support::oidc::REQUEST_TOKEN;
use crate::world::{ok, ACME, MANAGER};

const GLOBEX: &str = "globex/globex-app";

/// The token of an `issue_comment` run of `repo`: the default branch's
/// ref and commit, as GitHub gives it.
fn comment_claims(rw: &RelayWorld, repo: &str) -> Value {
    let main = rw.w.gh.branch_head(repo, "main").unwrap();
    let id = rw.w.gh.repo_id(repo);
    rw.issuer
        .claims(repo, id, "issue_comment", "refs/heads/main", &main)
}

fn post(relay: &RelayProc, body: &Value) -> (u16, Value) {
    http(
        &relay.url,
        "POST",
        "/dispatch",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// The customer's trigger behind the relay on a new comment `id` whose
/// text in the event is `body`, on pull request `pr`, in a checkout of
/// `head` (the workflow checks out refs/pull/<pr>/head).
fn trigger_comment(
    rw: &mut RelayWorld,
    relay: &RelayProc,
    (pr, id, body): (u64, u64, &str),
    head: &str,
) -> std::process::Output {
    rw.issuer.set_runner_claims(comment_claims(rw, ACME));
    let event = json!({
        "action": "created",
        "issue": { "number": pr, "pull_request": { "url": format!("https://api.github.com/repos/{ACME}/pulls/{pr}") } },
        "comment": { "id": id, "body": body, "user": { "login": "someone" } },
        "repository": { "default_branch": "main" }
    });
    let main = rw.w.gh.branch_head(ACME, "main").unwrap();
    let checkout = rw.w.checkout(ACME, head);
    let (mut cmd, _files) = rw.w.step(ACME, "issue_comment", &event, &main);
    cmd.current_dir(checkout)
        .env_remove("FLEETFORM_TOKEN")
        .env_remove("FLEETFORM_DISPATCH_KEY")
        .env("FLEETFORM_RELAY_URL", &relay.url)
        .env("FLEETFORM_RELAY_AUDIENCE", RelayWorld::audience())
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", rw.issuer.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .arg("trigger")
        .output()
        .unwrap()
}

/// A pull request raising acme's instances to 3 and a comment `body` on it
/// by `login` with `role`: (pr, head, comment id).
pub(crate) fn commented(
    rw: &RelayWorld,
    login: &str,
    role: &str,
    body: &str,
) -> (u64, String, u64) {
    let head = rw.w.change_acme("feature", 3);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "More instances");
    rw.w.gh.add_collaborator_as(ACME, login, "direct", role);
    let id = rw.w.gh.add_comment(ACME, pr, login, body);
    (pr, head, id)
}

/// The manager's plan of the last dispatch, as the relay's App sent it.
fn plan_last(rw: &mut RelayWorld, env: &str) -> std::process::Output {
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": d["sender"] });
    let (mut cmd, _f) =
        rw.w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    cmd.env_remove("FLEETFORM_DISPATCH_SECRET")
        .args(["plan", "--dispatch", "--env", env])
        .output()
        .unwrap()
}

#[test]
fn a_writers_plan_command_through_the_relay_plans_the_pull_requests_head() {
    let mut rw = RelayWorld::new();
    let relay = rw.start(4);
    let (pr, head, id) = commented(&rw, "writer", "maintain", "/fleetform plan");
    let main = rw.w.gh.branch_head(ACME, "main").unwrap();
    assert_ne!(head, main);
    let out = trigger_comment(&mut rw, &relay, (pr, id, "/fleetform plan"), &head);
    ok(&out);
    assert!(
        stdout(&out).contains("dispatched fleetform-plan for acme"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-plan");
    assert_eq!(d["sender"]["login"], "fleetform-relay[bot]");
    let p = &d["client_payload"];
    // The pull request's head, not the run's (the default branch's) commit.
    assert_eq!(p["sha"].as_str(), Some(head.as_str()));
    assert_eq!(p["ref"], "refs/heads/feature");
    assert_eq!(
        (p["pr"].as_u64(), p["comment"].as_u64()),
        (Some(pr), Some(id))
    );
    assert_eq!(p["event"], "issue_comment");
    assert!(p.as_object().unwrap().len() <= 10, "{p}");

    // The manager's check runs unchanged: the comment read back, its
    // author's permission through the API.
    let out = plan_last(&mut rw, "staging");
    ok(&out);
    assert!(
        stderr(&out).contains("comment command of @writer (write) on #"),
        "{}",
        stderr(&out)
    );
    let comments = rw.w.gh.comments(ACME, pr);
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("environment=staging") && c.body.contains(&head[..12])),
        "the plan of the head is on the pull request: {comments:?}"
    );
    // The relay read the customer repo with a read-only token.
    let customer_tokens: Vec<_> =
        rw.w.gh
            .minted_tokens()
            .into_iter()
            .filter(|m| m.repos == [ACME.to_ascii_lowercase()])
            .collect();
    assert!(!customer_tokens.is_empty());
    for m in &customer_tokens {
        assert_eq!(
            m.permissions,
            json!({ "contents": "read", "pull_requests": "read" })
        );
    }
}

#[test]
fn a_comment_on_a_plain_issue_or_of_another_repository_is_refused() {
    let rw = RelayWorld::new();
    let relay = rw.start(4);
    let issue = rw.w.gh.open_issue(ACME, "Question", "How do I plan?");
    let on_issue =
        rw.w.gh
            .add_comment(ACME, issue, "writer", "/fleetform plan");
    let token = rw.issuer.mint(&comment_claims(&rw, ACME));
    let (status, answer) = post(
        &relay,
        &json!({ "token": token, "pr": issue, "comment": on_issue }),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("not_a_pull_request")),
        "{answer}"
    );

    // A command on globex's pull request, named by acme's run: GitHub has
    // no such comment in acme's repository.
    rw.w.gh
        .commit(GLOBEX, "feature", &[("README.md", "globex\n")]);
    let gpr = rw.w.gh.open_pr(GLOBEX, "feature", "main", "globex change");
    let foreign =
        rw.w.gh
            .add_comment(GLOBEX, gpr, "writer", "/fleetform plan");
    let token = rw.issuer.mint(&comment_claims(&rw, ACME));
    let (status, answer) = post(
        &relay,
        &json!({ "token": token, "pr": gpr, "comment": foreign }),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("no_comment")),
        "{answer}"
    );

    // Without a comment id an issue_comment run is not dispatched; a push
    // run may not name one.
    let token = rw.issuer.mint(&comment_claims(&rw, ACME));
    let (status, answer) = post(&relay, &json!({ "token": token, "pr": gpr }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("no_comment"))
    );
    let main = rw.w.gh.branch_head(ACME, "main").unwrap();
    let token = rw.push_token(ACME, "main", &main);
    let (status, answer) = post(&relay, &json!({ "token": token, "comment": on_issue }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("not_a_comment_run"))
    );
    assert!(rw.w.gh.dispatches(MANAGER).is_empty(), "nothing dispatched");
}

#[test]
fn the_dispatch_follows_the_comment_as_github_has_it() {
    let mut rw = RelayWorld::new();
    let relay = rw.start(4);
    // The event the trigger reads says plan; GitHub's comment says apply.
    let (pr, head, id) = commented(&rw, "writer", "write", "/fleetform apply -e staging");
    let out = trigger_comment(&mut rw, &relay, (pr, id, "/fleetform plan"), &head);
    ok(&out);
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-apply");
    assert_eq!(d["client_payload"]["comment"].as_u64(), Some(id));
    assert_eq!(d["client_payload"]["sha"].as_str(), Some(head.as_str()));

    // GitHub's comment is no command at all: nothing is dispatched.
    let chatter = rw.w.gh.add_comment(ACME, pr, "writer", "LGTM, thanks");
    let out = trigger_comment(&mut rw, &relay, (pr, chatter, "/fleetform plan"), &head);
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("is not a fleetform command"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
}

#[test]
fn the_apps_comment_webhook_dispatches_the_command_as_github_has_it() {
    let rw = RelayWorld::new();
    let relay = rw.start(4);
    let (pr, head, id) = commented(&rw, "writer", "write", "/fleetform apply -e staging");
    let repo_id = rw.w.gh.repo_id(ACME);
    let event = |comment: u64, body: &str, on_pull: bool| {
        let mut issue = json!({ "number": pr });
        if on_pull {
            issue["pull_request"] = json!({ "url": "https://api.github.com/x" });
        }
        json!({
            "action": "created", "issue": issue,
            "comment": { "id": comment, "body": body },
            "repository": { "id": repo_id, "full_name": ACME, "default_branch": "main" },
        })
    };
    // The delivery's text only decides whether to look: what is
    // dispatched is the comment as GitHub has it (an apply here).
    let (status, answer) = signed_delivery(
        &relay,
        "issue_comment",
        "c-1",
        &event(id, "/fleetform plan", true),
        WEBHOOK_SECRET,
    );
    assert_eq!(status, 202, "{answer}");
    let d = &answer["dispatched"];
    assert_eq!(
        (
            d["event_type"].as_str(),
            d["sha"].as_str(),
            d["comment"].as_u64()
        ),
        (Some("fleetform-apply"), Some(head.as_str()), Some(id))
    );
    // Chatter and comments on issues are not acted on.
    for (n, body, on_pull) in [(2, "LGTM", true), (3, "/fleetform plan", false)] {
        let (status, answer) = signed_delivery(
            &relay,
            "issue_comment",
            &format!("c-{n}"),
            &event(id, body, on_pull),
            WEBHOOK_SECRET,
        );
        assert_eq!(status, 200, "{answer}");
        assert!(answer["ignored"].is_string(), "{answer}");
    }
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
}

/// On a public repository anyone may comment: a command of someone
/// without write access is refused by the relay before anything is
/// dispatched (the manager would refuse it too, after a run).
#[test]
fn a_readers_command_dispatches_nothing() {
    let rw = RelayWorld::new();
    let relay = rw.start(4);
    let (pr, _head, id) = commented(&rw, "passer-by", "read", "/fleetform plan");
    let token = rw.issuer.mint(&comment_claims(&rw, ACME));
    let (status, answer) = post(&relay, &json!({ "token": token, "pr": pr, "comment": id }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("not_a_writer")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("@passer-by has `read`"),
        "{answer}"
    );
    // The same through the App's webhook.
    let repo_id = rw.w.gh.repo_id(ACME);
    let delivery = json!({
        "action": "created",
        "issue": { "number": pr, "pull_request": { "url": "https://api.github.com/x" } },
        "comment": { "id": id, "body": "/fleetform plan" },
        "repository": { "id": repo_id, "full_name": ACME, "default_branch": "main" },
    });
    let (status, answer) =
        signed_delivery(&relay, "issue_comment", "r-1", &delivery, WEBHOOK_SECRET);
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("not_a_writer")),
        "{answer}"
    );
    assert!(rw.w.gh.dispatches(MANAGER).is_empty(), "nothing dispatched");
}

/// A pull request from a fork, and one whose head repository was deleted
/// since (GitHub then answers `head.repo: null`): a writer's command on
/// either is refused, never dispatched.
#[test]
fn a_command_on_a_pull_request_whose_head_repository_is_gone_is_refused() {
    let rw = RelayWorld::new();
    let relay = rw.start(4);
    let fork = "mallory/acme-fork";
    rw.w.gh.add_fork(fork, ACME);
    rw.w.gh.commit(
        fork,
        "evil",
        &[("infra/variables.yml", "project_name: evil\n")],
    );
    let pr = rw.w.gh.open_pr_from(ACME, fork, "evil", "main", "A change");
    rw.w.gh
        .add_collaborator_as(ACME, "writer", "direct", "write");
    let command = |rw: &RelayWorld| {
        let id = rw.w.gh.add_comment(ACME, pr, "writer", "/fleetform plan");
        let token = rw.issuer.mint(&comment_claims(rw, ACME));
        post(&relay, &json!({ "token": token, "pr": pr, "comment": id }))
    };
    let (status, answer) = command(&rw);
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("fork")),
        "{answer}"
    );
    rw.w.gh.remove_repo(fork);
    let (status, answer) = command(&rw);
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("fork")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("head repository no longer exists"),
        "{answer}"
    );
    assert!(rw.w.gh.dispatches(MANAGER).is_empty(), "nothing dispatched");
    rw.w.gh.assert_clean();
}

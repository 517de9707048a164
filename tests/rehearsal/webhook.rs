//! A comment command through the customer App's webhook: a writer of
//! acme's repository comments `/fleetform plan` on its pull request;
//! GitHub delivers the App's `issue_comment` webhook to `fleetform relay
//! serve` (signed with the App's webhook secret), which dispatches the
//! comment as GitHub has it; the deploy workflow authorises the comment,
//! plans the pull request's head and answers there.

use serde_json::json;

use crate::relay::comments::commented;
use crate::relay::serve::{RelayWorld, WEBHOOK_SECRET};
use crate::relay::webhooks::signed_delivery;
use crate::support::actions_runner::Event;
use crate::templates::deploy_run::deploy_runner;
use crate::world::ACME;

#[test]
fn a_comment_command_is_planned_through_the_apps_webhook() {
    let rw = RelayWorld::new();
    let w = &rw.w;
    let relay = rw.start(4);
    let mut manager = deploy_runner(w);
    let (pr, head, id) = commented(&rw, "acme-dev", "write", "/fleetform plan");
    let repo_id = w.gh.repo_id(ACME);
    let delivery = json!({
        "action": "created",
        "issue": {"number": pr, "pull_request": {"url": "https://api.github.com/x"}},
        "comment": {"id": id, "body": "/fleetform plan"},
        "repository": {"id": repo_id, "full_name": ACME, "default_branch": "main"},
    });
    let (status, answer) =
        signed_delivery(&relay, "issue_comment", "d-1", &delivery, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    let d = w.last_dispatch();
    assert_eq!(d["client_payload"]["sha"], head);
    let run = manager.run(&w.gh, "workflows/manager-deploy.yml", &Event::dispatch(&d));
    run.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    assert!(
        w.gh.comments(ACME, pr)
            .iter()
            .any(|c| c.body.contains("customer=acme environment=staging")),
        "{:?}",
        w.gh.comments(ACME, pr)
    );
    w.gh.assert_clean();
}

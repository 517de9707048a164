//! `workflows/manager-batch.yml` run as GitHub runs it: its `entries` job,
//! then `manager-deploy.yml` called once per entry (a matrix of
//! reusable-workflow calls, in the same run), each entry's jobs in their
//! own environments with their own secrets, against the strict fake. Two
//! customers' pull requests in one batch are each planned and answered on
//! their own pull request (#80: the runner runs reusable workflow calls).

use serde_json::json;

use crate::relay::serve::{RelayWorld, GLOBEX, SLUG};
use crate::support::actions_runner::Event;
use crate::templates::deploy_run::deploy_runner;
use crate::world::{customer_files, ACME};

/// A pull request's plan entry of `repo`, as the relay batches it.
fn plan_entry(rw: &RelayWorld, repo: &str, dir: &str, pr: u64, sha: &str) -> serde_json::Value {
    let files: Vec<String> = customer_files(&rw.w.fx, dir)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    json!({
        "event_type": "fleetform-plan",
        "payload": {
            "v": 1, "customer_repo": repo, "sha": sha, "ref": "refs/heads/feature",
            "pr": pr, "event": "pull_request", "dispatch_id": format!("batch-{dir}"),
            "files": files, "repo_id": rw.w.gh.repo_id(repo)
        }
    })
}

#[test]
fn a_batch_plans_each_entry_through_the_called_deploy_workflow() {
    let rw = RelayWorld::new();
    let w = &rw.w;
    let mut runner = deploy_runner(w);
    let acme_sha = w.change_acme("feature", 11);
    let acme_pr = w.gh.open_pr(ACME, "feature", "main", "eleven");
    let globex_vars = w.fx.read("customers/globex/infra/variables.yml");
    let globex_sha =
        w.gh.commit(GLOBEX, "feature", &[("infra/variables.yml", &globex_vars)]);
    let globex_pr = w.gh.open_pr(GLOBEX, "feature", "main", "same");
    let sender = format!("{SLUG}[bot]");
    let event = Event {
        name: "repository_dispatch".into(),
        payload: json!({
            "action": "fleetform-batch",
            "client_payload": { "v": 1, "batch": [
                plan_entry(&rw, ACME, "acme", acme_pr, &acme_sha),
                plan_entry(&rw, GLOBEX, "globex", globex_pr, &globex_sha),
            ]},
            "sender": { "login": sender, "type": "Bot" }
        }),
        git_ref: "refs/heads/main".into(),
        actor: sender.clone(),
        inputs: serde_json::Value::Null,
    };
    let run = runner.run(&w.gh, "workflows/manager-batch.yml", &event);
    run.assert_succeeded(&[
        "entries",
        "deploy (0) / authorise",
        "deploy (0) / plan-staging",
        "deploy (1) / authorise",
        "deploy (1) / plan-staging",
        "deploy",
    ]);
    // Each entry answered its own customer, and only its own.
    for (repo, pr) in [(ACME, acme_pr), (GLOBEX, globex_pr)] {
        let comments = w.gh.comments(repo, pr);
        assert!(!comments.is_empty(), "{repo}: no comment");
    }
    // A called job's token is no wider than the caller's: the deploy
    // workflow's jobs ask nothing the batch's `deploy` job does not grant.
    let authorise = &run.job("deploy (0) / authorise").log;
    assert!(authorise.contains("GITHUB_TOKEN"), "{authorise}");
    w.gh.assert_clean();
}

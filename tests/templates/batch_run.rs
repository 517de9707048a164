//! `workflows/manager-batch.yml` run as GitHub runs it: its `entries` job,
//! then `manager-deploy.yml` called once per entry (a matrix of
//! reusable-workflow calls, in the same run), each entry's jobs in their
//! own environments with their own secrets, against the strict fake. Two
//! customers' pull requests in one batch are each planned and answered on
//! their own pull request (#80: the runner runs reusable workflow calls).

use serde_json::json;

use crate::relay::batch::{apply_entry, plan_entry};
use crate::relay::serve::{RelayWorld, GLOBEX, SLUG};
use crate::support::actions_runner::Event;
use crate::templates::deploy_run::deploy_runner;
use crate::world::ACME;

/// The relay's `fleetform-batch` dispatch of `entries`, sent by its
/// manager App, on the default branch.
fn batch_event(entries: Vec<serde_json::Value>) -> Event {
    let sender = format!("{SLUG}[bot]");
    Event {
        name: "repository_dispatch".into(),
        payload: json!({
            "action": "fleetform-batch",
            "client_payload": { "v": 1, "batch": entries },
            "sender": { "login": sender, "type": "Bot" }
        }),
        git_ref: "refs/heads/main".into(),
        actor: sender,
        inputs: serde_json::Value::Null,
    }
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
    let event = batch_event(vec![
        plan_entry(&rw, ACME, "acme", acme_pr, &acme_sha),
        plan_entry(&rw, GLOBEX, "globex", globex_pr, &globex_sha),
    ]);
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

/// Two customers' pushes in one batch: staging applies both; production's
/// one approval releases both apply jobs, and each applies only when the
/// reviewer's comment names its plan's digest (#81 point 8): named for
/// acme alone ("Re-run failed jobs" after the reviewer read the digests
/// in the plan jobs' summaries), acme applies and globex stays refused.
#[test]
fn in_a_batch_production_applies_only_the_plans_the_approval_names() {
    let rw = RelayWorld::new();
    let w = &rw.w;
    let mut runner = deploy_runner(w);
    let acme_sha = w.change_acme("main", 5);
    let globex_vars = w.fx.read("customers/globex/infra/variables.yml");
    let globex_sha =
        w.gh.commit(GLOBEX, "main", &[("infra/variables.yml", &globex_vars)]);
    let event = batch_event(vec![
        apply_entry(&rw, ACME, "acme", &acme_sha),
        apply_entry(&rw, GLOBEX, "globex", &globex_sha),
    ]);
    // The reviewer approves production without naming a plan.
    runner.approve("production-apply", "provider-lead");
    let first = runner.run(&w.gh, "workflows/manager-batch.yml", &event);
    first.assert_succeeded(&[
        "deploy (0) / apply-staging",
        "deploy (1) / apply-staging",
        "deploy (0) / plan-production",
        "deploy (1) / plan-production",
    ]);
    for n in 0..2 {
        let apply = first.job(&format!("deploy ({n}) / apply-production"));
        assert_eq!(apply.result, "failure", "{}", apply.log);
        assert!(apply.log.contains("without naming"), "{}", apply.log);
    }
    let acme_plan = &first.job("deploy (0) / plan-production").outputs["plan_sha256"];
    runner.approve_saying(
        "production-apply",
        "provider-lead",
        &format!("/fleetform approve {}", &acme_plan[..12]),
    );
    let again = runner.rerun_failed(&w.gh, &first);
    again.assert_succeeded(&["deploy (0) / apply-production"]);
    let globex = again.job("deploy (1) / apply-production");
    assert_eq!(globex.result, "failure", "{}", globex.log);
    assert!(
        globex.log.contains("without naming globex's plan"),
        "{}",
        globex.log
    );
    let acme =
        w.gh.status_of(ACME, &acme_sha, "infra/terraform-deploy/production")
            .expect("acme's production status");
    assert_eq!(acme.state, "success", "{acme:?}");
    w.gh.assert_clean();
}

/// The runner refuses a concurrency group that reads a context GitHub
/// does not give one (a secret here): GitHub refuses such a workflow.
#[test]
#[should_panic(expected = "which GitHub does not give a concurrency group")]
fn a_concurrency_group_reading_a_secret_is_refused() {
    let w = crate::world::World::new();
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("bad.yml");
    std::fs::write(
        &path,
        "name: bad\non: workflow_dispatch\npermissions: {}\nconcurrency:\n  group: g-${{ secrets.X }}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
    )
    .unwrap();
    let mut runner = crate::support::actions_runner::Runner::new(crate::world::MANAGER);
    let event = Event {
        name: "workflow_dispatch".into(),
        payload: json!({}),
        git_ref: "refs/heads/main".into(),
        actor: "provider-lead".into(),
        inputs: json!({}),
    };
    runner.run(&w.gh, &path.display().to_string(), &event);
}

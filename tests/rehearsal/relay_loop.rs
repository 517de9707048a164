//! A customer's change from its pull request to production through the
//! relay: the customer's trigger workflow (the one `init --customer`
//! writes, with only FLEETFORM_RELAY_URL set as the customer's
//! instructions say) proves its run with its OIDC token to `fleetform relay
//! serve`, which dispatches as the manager App; the manager's deploy
//! workflow, set up for the customer App as its header says, plans (comment
//! and status on the pull request) and, after the merge and a second
//! person, applies.

use serde_json::json;

use crate::relay::serve::RelayWorld;
use crate::support::actions_runner::{Event, Runner};
use crate::templates::deploy_run::deploy_runner;
use crate::world::{pr_event, push_event, ACME, MANAGER};

/// acme's runner for its trigger workflow, its repository set up as the
/// provider's instructions say (`fleetform customers instructions acme`:
/// each row `| variable | NAME | VALUE |` of its table), nothing secret.
pub(crate) fn customer_runner(rw: &RelayWorld, relay_url: &str) -> Runner {
    customer_runner_of(rw, relay_url, "acme", ACME)
}

/// [`customer_runner`] for `slug`, whose repository is `repo`.
pub(crate) fn customer_runner_of(
    rw: &RelayWorld,
    relay_url: &str,
    slug: &str,
    repo: &str,
) -> Runner {
    let gh = &rw.w.gh;
    let out = crate::common::Run::from(rw.w.fx.fleetform())
        .args(["customers", "instructions", slug, "--relay-url", relay_url])
        .ok();
    let mut set = Vec::new();
    for line in out.stdout.lines() {
        let cells: Vec<&str> = line
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        if let ["", "variable", name, value, ""] = cells.as_slice() {
            gh.add_repo_variable(repo, name);
            gh.set_variable(repo, None, name, value);
            set.push(name.to_string());
        }
    }
    assert!(
        !set.is_empty(),
        "the instructions name no variable:\n{}",
        out.stdout
    );
    let mut r = Runner::new(repo);
    r.machine_env("FLEETFORM_RETRY_BASE_MS", "50");
    r
}

/// The customer's trigger workflow as `init --customer` writes it.
pub(crate) const TRIGGER: &str = "workflows/customer-trigger.yml";

/// The customer opened pull request `pr` from `branch` at `sha`: its
/// trigger workflow runs (OIDC from the fake issuer) and must succeed;
/// the dispatch the relay sent.
pub(crate) fn opened(
    rw: &RelayWorld,
    customer: &mut Runner,
    pr: u64,
    branch: &str,
    sha: &str,
) -> serde_json::Value {
    opened_with(rw, customer, TRIGGER, pr, branch, sha)
}

/// [`opened`] with the trigger workflow at `trigger`.
pub(crate) fn opened_with(
    rw: &RelayWorld,
    customer: &mut Runner,
    trigger: &str,
    pr: u64,
    branch: &str,
    sha: &str,
) -> serde_json::Value {
    let mut event = Event {
        name: "pull_request".into(),
        payload: pr_event(pr, branch, sha),
        git_ref: format!("refs/pull/{pr}/merge"),
        actor: "acme-dev".into(),
        inputs: json!(null),
    };
    event.payload["action"] = json!("opened");
    customer
        .run_with_oidc(&rw.w.gh, &rw.issuer, trigger, &event)
        .assert_succeeded(&["trigger"]);
    rw.w.last_dispatch()
}

/// The manager's two workflows a dispatch from the relay starts (this
/// checkout's): manager-deploy.yml for a plan or apply, manager-batch.yml
/// for a batch, also a batch of one (a lone event the relay timed).
pub(crate) fn dispatch_workflows() -> Vec<String> {
    [
        "workflows/manager-deploy.yml",
        "workflows/manager-batch.yml",
    ]
    .map(String::from)
    .to_vec()
}

/// The deploy workflow's jobs of an apply of both environments.
pub(crate) const APPLIED: [&str; 6] = [
    "authorise",
    "plan-staging",
    "apply-staging",
    "plan-production",
    "apply-production",
    "conclude",
];

/// Pull request `pr` of `repo` (from its `branch`) merged: the customer's
/// trigger at `trigger` runs for the push, the relay dispatches the
/// apply, and the deploy workflow at `deploy` applies both environments,
/// production after the provider's lead approves. The merge commit and
/// the dispatch.
pub(crate) fn merged_and_applied(
    rw: &RelayWorld,
    (customer, manager): (&mut Runner, &mut Runner),
    (trigger, deploy): (&str, &[String]),
    (repo, pr, branch): (&str, u64, &str),
) -> (String, serde_json::Value) {
    let w = &rw.w;
    let merged = w.gh.merge_pr(repo, pr);
    let owner = repo.split('/').next().unwrap();
    let push = Event {
        name: "push".into(),
        payload: push_event(
            &merged,
            &format!("Merge pull request #{pr} from {owner}/{branch}"),
        ),
        git_ref: "refs/heads/main".into(),
        actor: format!("{owner}-dev"),
        inputs: json!(null),
    };
    customer
        .run_with_oidc(&w.gh, &rw.issuer, trigger, &push)
        .assert_succeeded(&["trigger"]);
    let d = w.last_dispatch();
    assert_eq!(crate::relay::scale::lone_event(&d).0, "fleetform-apply");
    manager.approve("production-apply", "provider-lead");
    manager
        .run_started(&w.gh, deploy, &Event::dispatch(&d))
        .assert_entry_succeeded(0, &APPLIED);
    (merged, d)
}

#[test]
fn a_pull_request_is_planned_and_its_merge_applied_through_the_relay() {
    let rw = RelayWorld::new();
    let w = &rw.w;
    let relay = rw.start(4);
    let mut customer = customer_runner(&rw, &relay.url);
    let mut manager = deploy_runner(w);
    let deploy = "workflows/manager-deploy.yml";

    // The customer opens a pull request.
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let d = opened(&rw, &mut customer, pr, "feature", &sha);
    assert_eq!(d["event_type"], "fleetform-plan");
    let planned = manager.run(&w.gh, deploy, &Event::dispatch(&d));
    planned.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    assert!(w
        .gh
        .comments(ACME, pr)
        .iter()
        .any(|c| c.body.contains("customer=acme environment=production")));

    // Merged: the push is applied, production after a reviewer. The relay
    // names no pull request for a push (it reads nothing on the customer's
    // repo); the manager names the merged one from the merge commit, and
    // reports there (a trigger that named it itself was refused: a merge
    // commit is never its pull request's head).
    let (merged, d) = merged_and_applied(
        &rw,
        (&mut customer, &mut manager),
        (TRIGGER, &dispatch_workflows()),
        (ACME, pr, "feature"),
    );
    assert_eq!(d["client_payload"]["pr"], serde_json::Value::Null);
    assert!(
        w.gh.comments(ACME, pr)
            .iter()
            .any(|c| c.body.contains(&merged[..7])),
        "the merge's plan is not reported on #{pr}"
    );
    let production =
        w.gh.status_of(ACME, &merged, "infra/terraform-deploy/production")
            .expect("a production status");
    assert_eq!(production.state, "success");
    w.gh.assert_clean();
}

/// A customer who sets only the relay's address (what `init --customer`
/// used to list) is told what is missing before anything is sent: no
/// relay accepts a token for the trigger's old default audience.
#[test]
fn a_trigger_without_the_relays_audience_says_what_to_set_before_sending() {
    let rw = RelayWorld::new();
    let relay = rw.start(2);
    let mut w = rw.w;
    let sha = w.change_acme("feature", 11);
    let pr = w.gh.open_pr(ACME, "feature", "main", "eleven");
    let (cmd, _files) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    let out = crate::common::Run::from(cmd)
        .env_remove("FLEETFORM_TOKEN")
        .env_remove("FLEETFORM_DISPATCH_KEY")
        .env_remove("FLEETFORM_MANAGER_REPO")
        .env("FLEETFORM_RELAY_URL", &relay.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", rw.issuer.request_url())
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            crate::support::oidc::REQUEST_TOKEN,
        )
        .code(2);
    out.stderr_has("no --relay-audience")
        .stderr_has("FLEETFORM_RELAY_AUDIENCE");
    assert_eq!(rw.issuer.token_requests(), 0, "nothing was asked or sent");
    assert!(w.gh.dispatches(MANAGER).is_empty());
}

/// "Re-run all jobs" of a relayed plan run is refused once the run is more
/// than an hour old: a relayed dispatch carries no signing time, and a
/// re-run plans (and, on a push, applies) with the manager code of that
/// run's commit. Within the hour a re-run plans as before.
#[test]
fn a_rerun_of_a_relayed_run_older_than_an_hour_plans_nothing() {
    let rw = RelayWorld::new();
    let w = &rw.w;
    let relay = rw.start(4);
    let mut customer = customer_runner(&rw, &relay.url);
    let mut manager = deploy_runner(w);
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let d = opened(&rw, &mut customer, pr, "feature", &sha);
    let deploy = "workflows/manager-deploy.yml";
    let first = manager.run(&w.gh, deploy, &Event::dispatch(&d));
    first.assert_succeeded(&["authorise", "plan-staging"]);

    // Within the hour: a re-run reads the run's age and plans.
    let again = manager.rerun(&w.gh, &first);
    again.assert_succeeded(&["authorise", "plan-staging"]);

    // Days later.
    manager.age(&first, 3 * 24 * 3600);
    let late = manager.rerun(&w.gh, &again);
    let authorise = late.job("authorise");
    assert_eq!(authorise.result, "failure");
    assert!(
        authorise
            .log
            .contains("a relayed dispatch is planned within an hour of its run"),
        "{}",
        authorise.log
    );
    assert_eq!(late.job("plan-staging").result, "skipped");
    w.gh.assert_clean();
}

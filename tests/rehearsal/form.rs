//! A customer changes its settings through the provider's form, as GitHub
//! runs it: its repository starts from `fleetform init --customer
//! --manager` (the issue form, its description and `customer-form.yml`
//! beside the variables file), an issue is opened from the form with the
//! body GitHub writes for one, the form workflow runs with its own
//! `GITHUB_TOKEN` only (no provider credential), opens the pull request
//! and starts the trigger workflow for it (a pull request a job's token
//! opens starts no run), the relay dispatches, and the manager's deploy
//! workflow answers on that pull request with its plan.

use super::onboarding::init_manager_world;
use super::relay_loop::customer_runner_of;
use crate::form::{issue_body, issue_event, written};
use crate::relay::serve::{RelayWorld, CUSTOMER_APP_ID};
use crate::support::actions_runner::{workflows_in, Event, Runner};
use crate::templates::deploy_run::deploy_runner;

const HOOLI: &str = "hooli/hooli-infra";

/// The customer's repository as `init --customer --manager` writes it,
/// committed, registered by the provider; its runner, and the folder
/// (kept alive) the workflows are read from.
fn hooli(rw: &RelayWorld, relay_url: &str) -> (Runner, tempfile::TempDir) {
    let w = &rw.w;
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("hooli");
    crate::common::Run::from(crate::common::fleetform_bin())
        .args(["init", "--customer", "--dir"])
        .arg(&repo_dir)
        .arg("--manager")
        .arg(w.fx.manager())
        .ok();
    let files = written(&repo_dir);
    for want in [
        ".github/ISSUE_TEMPLATE/infra-change.yml",
        ".github/fleetform/infra-change.json",
        ".github/workflows/customer-form.yml",
        "infra/README.md",
    ] {
        assert!(files.iter().any(|(p, _)| p == want), "init wrote no {want}");
    }
    w.gh.add_repo(HOOLI);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    w.gh.commit(HOOLI, "main", &refs);
    w.gh.install_app(CUSTOMER_APP_ID, "hooli", &[HOOLI]);
    crate::common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_TOKEN", w.gh.token())
        .args([
            "customers",
            "add",
            "hooli",
            "--repo",
            HOOLI,
            "--contact",
            "ops@hooli.test",
        ])
        .ok();
    let runner = customer_runner_of(rw, relay_url, "hooli", HOOLI);
    (runner, dir)
}

#[test]
fn an_issue_from_the_form_becomes_a_planned_pull_request() {
    let rw = init_manager_world();
    let w = &rw.w;
    let relay = rw.start(4);
    let (mut customer, dir) = hooli(&rw, &relay.url);
    let repo_dir = dir.path().join("hooli");
    let workflow = |p: &str| repo_dir.join(p).display().to_string();
    let mut manager = deploy_runner(w);
    let deploy = workflows_in(&w.fx.path("manager/.github/workflows"));
    // The setting the form workflow's header asks for.
    w.gh.set_workflow_permissions(HOOLI, "read", true);

    // An issue from the form, as GitHub writes its body.
    let form =
        std::fs::read_to_string(repo_dir.join(".github/ISSUE_TEMPLATE/infra-change.yml")).unwrap();
    let body = issue_body(
        &form,
        &[
            ("instance_count", "3"),
            ("environments.production.instance_count", "4"),
            ("tags", "```yaml\nteam: web\n```"),
        ],
    );
    let n = w.gh.open_issue(HOOLI, "infra: more instances", &body);
    w.gh.add_label(HOOLI, n, "infra-change");
    customer
        .run(
            &w.gh,
            &workflow(".github/workflows/customer-form.yml"),
            &issue_event(&w.gh, HOOLI, n, "opened"),
        )
        .assert_succeeded(&["request"]);

    // The pull request: the file changed, its comments kept, valid.
    let pull =
        w.gh.pulls(HOOLI)
            .into_iter()
            .find(|p| p.head == format!("fleetform/issue-{n}"))
            .expect("a pull request from the issue");
    let before = w.gh.file_at(HOOLI, "main", "infra/variables.yml").unwrap();
    let after =
        w.gh.file_at(HOOLI, &pull.head_sha, "infra/variables.yml")
            .unwrap();
    let comments_of = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(comments_of(&before), comments_of(&after), "{after}");
    assert!(after.contains("instance_count: 3"), "{after}");
    assert!(after.contains("team: web"), "{after}");
    assert!(
        pull.body
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("Closes #{n}")),
        "{pull:?}"
    );
    let answer = w.gh.comments(HOOLI, n);
    assert!(
        answer
            .iter()
            .any(|c| c.body.contains(&format!("pull request #{}", pull.number))),
        "{answer:?}"
    );

    // The trigger it started plans the pull request through the relay.
    let started = w.gh.workflow_dispatches(HOOLI);
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(
        started[0]["inputs"]["pull-request"],
        pull.number.to_string()
    );
    customer
        .run_with_oidc(
            &w.gh,
            &rw.issuer,
            &workflow(".github/workflows/customer-trigger.yml"),
            &Event::workflow_dispatch(&started[0]),
        )
        .assert_succeeded(&["trigger"]);
    let d = w.last_dispatch();
    assert_eq!(
        crate::relay::scale::lone_event(&d).0,
        "fleetform-plan",
        "{d}"
    );
    let planned = manager.run_started(&w.gh, &deploy, &Event::dispatch(&d));
    planned.assert_entry_succeeded(
        0,
        &["authorise", "plan-staging", "plan-production", "conclude"],
    );
    let comments = w.gh.comments(HOOLI, pull.number);
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("customer=hooli environment=staging")),
        "no plan comment on the pull request: {comments:?}"
    );
    w.gh.assert_clean();
}

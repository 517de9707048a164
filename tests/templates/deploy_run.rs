//! `workflows/manager-deploy.yml` run as GitHub runs it
//! (`support::actions_runner`), in a manager repository set up as the
//! template's header says ("Set in this repo"), against the strict fake
//! GitHub: each job gets only its environment's secrets and a
//! `GITHUB_TOKEN` with its `permissions:`, and every request is checked
//! against the permission its endpoint needs.

use crate::common::{ARTIFACT_KEY, DISPATCH_SECRET};
use crate::relay::serve::{pem, CUSTOMER_APP_ID};
use crate::support::actions_runner::{Event, Runner};
use crate::support::fake_github::Environment;
use crate::world::{World, ACME, MANAGER};

/// The deploy workflow's environments, as its header lists them.
pub const DEPLOY_ENVIRONMENTS: [&str; 5] = [
    "fleetform-authorise",
    "staging-plan",
    "staging-apply",
    "production-plan",
    "production-apply",
];

/// The manager repository of `w` on the fake as the provider pushes it
/// (every file of the example manager, on main), its environments and
/// secrets as the deploy template's header says, and a runner for it.
pub fn deploy_runner(w: &World) -> Runner {
    let gh = &w.gh;
    let mut files: Vec<(String, String)> = Vec::new();
    let root = w.fx.manager();
    for e in walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
    {
        let rel = e
            .path()
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if e.file_type().is_file() && !rel.starts_with(".fleetform") {
            files.push((rel, std::fs::read_to_string(e.path()).unwrap()));
        }
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    gh.commit(MANAGER, "main", &refs);
    // The customer App, registered from the manifest `init` writes (a
    // relay's world has registered it already) and installed by acme.
    if !gh.has_app(CUSTOMER_APP_ID) {
        let manifest = fleetform::report::app_manifests::manifest(
            &fleetform::util::apps::CUSTOMER,
            Some("provider"),
        );
        gh.register_app_from_manifest(CUSTOMER_APP_ID, &pem(), &manifest)
            .unwrap();
        gh.install_app(CUSTOMER_APP_ID, "acme-corp", &[ACME]);
    }
    gh.add_repo_variable(MANAGER, "FLEETFORM_CUSTOMER_APP_ID");
    gh.set_variable(
        MANAGER,
        None,
        "FLEETFORM_CUSTOMER_APP_ID",
        &CUSTOMER_APP_ID.to_string(),
    );
    let mut r = Runner::new(MANAGER);
    r.machine_env(
        "TF_CLI_CONFIG_FILE",
        &w.fx.path("terraformrc").display().to_string(),
    )
    .machine_env("FLEETFORM_RETRY_BASE_MS", "50");
    for env in DEPLOY_ENVIRONMENTS {
        let reviewers = match env {
            "production-apply" => vec!["provider-lead".to_string()],
            _ => Vec::new(),
        };
        gh.set_environment(
            MANAGER,
            env,
            Environment {
                reviewers,
                ..Default::default()
            },
        );
        r.secret(gh, Some(env), "FLEETFORM_DISPATCH_SECRET", DISPATCH_SECRET);
        r.secret(gh, Some(env), "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", &pem());
        if env != "fleetform-authorise" {
            r.secret(gh, Some(env), "FLEETFORM_ARTIFACT_KEY", ARTIFACT_KEY);
        }
    }
    gh.add_repo_variable(MANAGER, "FLEETFORM_RECORDS_WRITE_ROLE");
    gh.set_variable(
        MANAGER,
        None,
        "FLEETFORM_RECORDS_WRITE_ROLE",
        "arn:aws:iam::123456789012:role/fleetform-records",
    );
    gh.add_repo_variable(MANAGER, "FLEETFORM_TERRAFORM_VERSION");
    gh.set_variable(
        MANAGER,
        None,
        "FLEETFORM_TERRAFORM_VERSION",
        &crate::support::actions_runner::installed_terraform().0,
    );
    gh.add_repo_variable(MANAGER, "FLEETFORM_RECORDS_REGION");
    gh.set_variable(MANAGER, None, "FLEETFORM_RECORDS_REGION", "eu-west-1");
    r
}

/// A customer's pull request, triggered and dispatched, runs through the
/// deploy workflow: authorised, planned in both environments with the
/// comment and statuses on the pull request, nothing applied, concluded;
/// and not one request the strict fake refused.
#[test]
fn a_pull_request_is_planned_by_the_deploy_workflow_as_github_runs_it() {
    let mut w = World::new();
    let mut runner = deploy_runner(&w);
    runner.secret(
        &w.gh,
        Some("staging-plan"),
        "FLEETFORM_SECRETS_KEY_GLOBEX",
        "AGE-SECRET-KEY-1GLOBEXSTANDIN",
    );
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    crate::common::assert_ok(&w.trigger_pr(ACME, pr, "feature", &sha).0);
    let d = w.last_dispatch();
    let run = runner.run(&w.gh, "workflows/manager-deploy.yml", &Event::dispatch(&d));
    run.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    assert_eq!(run.job("apply-staging").result, "skipped");
    // GitHub hands a job the secrets it names, and no step of a plan job
    // reads a secret by a computed name: the runner of acme's plan never
    // receives another customer's identity kept in its environment (#82
    // point 2; before, `secrets[...]` sent it every secret there).
    assert!(
        run.job("authorise").log.contains(
            r#"secrets ["FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", "FLEETFORM_DISPATCH_SECRET"]"#
        ),
        "{}",
        run.job("authorise").log
    );
    let plan = &run.job("plan-staging").log;
    assert!(
        !plan.contains("FLEETFORM_SECRETS_KEY_GLOBEX")
            && !plan.contains("every secret of its environment"),
        "{plan}"
    );
    // No `secrets:` here: no key job runs.
    assert_eq!(run.job("key-staging").result, "skipped");
    assert_eq!(run.job("apply-production").result, "skipped");
    let comments = w.gh.comments(ACME, pr);
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("customer=acme environment=staging")),
        "the staging plan's comment: {comments:?}"
    );
    let staging =
        w.gh.status_of(ACME, &sha, "infra/terraform-deploy/staging")
            .expect("a staging status");
    assert_eq!(staging.state, "success");
    w.gh.assert_clean();
}

/// The provider's own secrets (`secrets.recipients` and
/// `secrets/<env>.yml` in the manager, the identity in the plan
/// environment's FLEETFORM_PROVIDER_SECRETS_KEY, as the book says) reach
/// the plan through the template: a plan job that is not handed the key
/// fails every plan of the environment (#81 point 5).
#[test]
fn the_providers_secrets_key_reaches_the_plan_of_its_environment() {
    use crate::secrets::cloud::{encrypt, keygen, secrets_file};
    let mut w = World::new();
    let (provider, provider_key) = keygen();
    w.fx.append(
        "manager/fleetform.yml",
        &format!("\nsecrets:\n  recipients: {{staging: {provider}}}\n"),
    );
    w.fx.write(
        "manager/secrets/staging.yml",
        &secrets_file(&provider, &encrypt(&provider, "shared-Pa55word-0a9d")),
    );
    let schema_path = "manager/schema/variables.schema.json";
    let mut schema: serde_json::Value = serde_json::from_str(&w.fx.read(schema_path)).unwrap();
    schema["properties"]["db_password"] =
        serde_json::json!({"type": "string", "writeOnly": true, "minLength": 12});
    w.fx.write(schema_path, &serde_json::to_string_pretty(&schema).unwrap());
    w.fx.append(
        "manager/terraform/main.tf",
        "\nvariable \"db_password\" {\n  type      = string\n  default   = null\n  sensitive = true\n}\n",
    );
    let mut runner = deploy_runner(&w);
    runner.secret(
        &w.gh,
        Some("staging-plan"),
        "FLEETFORM_PROVIDER_SECRETS_KEY",
        &provider_key,
    );
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    crate::common::assert_ok(&w.trigger_pr(ACME, pr, "feature", &sha).0);
    let d = w.last_dispatch();
    let run = runner.run(&w.gh, "workflows/manager-deploy.yml", &Event::dispatch(&d));
    if run.job("plan-staging").result != "success" {
        eprintln!(
            "{:#?}",
            w.gh.comments(ACME, pr)
                .iter()
                .map(|c| &c.body)
                .collect::<Vec<_>>()
        );
    }
    run.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    assert!(
        !run.job("plan-staging").log.contains("shared-Pa55word-0a9d"),
        "the secret's value in the job's log"
    );
    w.gh.assert_clean();
}

/// The merged pull request's push runs the deploy workflow to the end:
/// staging planned and applied, production planned, then applied once a
/// reviewer of `production-apply` approved the run (the apply checks the
/// approval through the API with the job's GITHUB_TOKEN); each apply job
/// installs the version its plan job reports, downloads the sealed plan
/// its plan job uploaded, and nothing the strict fake refuses is sent.
#[test]
fn a_merged_change_is_applied_through_the_deploy_workflow_after_a_reviewer() {
    let mut w = World::new();
    let mut runner = deploy_runner(&w);
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let merged = w.gh.merge_pr(ACME, pr);
    let message = format!("Merge pull request #{pr} from acme-corp/feature");
    crate::common::assert_ok(&w.trigger_push(ACME, &merged, &message).0);
    let _ = sha;
    let d = w.last_dispatch();
    assert_eq!(d["event_type"], "fleetform-apply");
    let event = Event::dispatch(&d);

    // Nobody approves production: staging applies, production waits and
    // fails as GitHub fails a job whose reviewers never came.
    let run = runner.run(&w.gh, "workflows/manager-deploy.yml", &event);
    run.assert_succeeded(&[
        "authorise",
        "plan-staging",
        "apply-staging",
        "plan-production",
    ]);
    assert_eq!(run.job("apply-production").result, "failure");
    assert!(run
        .job("apply-production")
        .log
        .contains("none approved within 30 days"));
    assert_eq!(
        run.job("plan-staging").outputs["terraform_version"],
        crate::support::actions_runner::installed_terraform().0
    );

    // The same push again (a new dispatch), approved by the reviewer.
    crate::common::assert_ok(&w.trigger_push(ACME, &merged, &message).0);
    let d = w.last_dispatch();
    let event = Event::dispatch(&d);
    runner.approve("production-apply", "provider-lead");
    let run = runner.run(&w.gh, "workflows/manager-deploy.yml", &event);
    run.assert_succeeded(&[
        "authorise",
        "plan-staging",
        "plan-production",
        "apply-production",
        "conclude",
    ]);
    let production =
        w.gh.status_of(ACME, &merged, "infra/terraform-deploy/production")
            .expect("a production status");
    assert_eq!(production.state, "success", "{production:?}");
    w.gh.assert_clean();
}

/// With the customer App (registered from the manifest `init` writes,
/// installed by acme on its repository) and `approvals:` by a team for
/// production, the whole loop runs through the template: the apply reads
/// the pull request's approvals with the App's token and the team's
/// members with FLEETFORM_TEAMS_TOKEN. The customer App holds no
/// organisation permission: reading team membership with its token was
/// answered 403 on github.com (#81 point 2).
#[test]
fn team_approvals_are_read_with_the_teams_token_not_the_customer_apps() {
    let mut w = World::new();
    w.fx.append(
        "manager/fleetform.yml",
        "\napprovals:\n  production:\n    required: 1\n    teams: [provider/platform]\n",
    );
    w.gh.add_team_member("provider", "platform", "carol", "active");
    let mut runner = deploy_runner(&w);
    // The provider's token that reads its organisation's teams.
    let teams_token = w.gh.token().to_string();
    runner.secret(
        &w.gh,
        Some("production-apply"),
        "FLEETFORM_TEAMS_TOKEN",
        &teams_token,
    );
    let workflow = "workflows/manager-deploy.yml";

    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let merged = w.gh.merge_pr(ACME, pr);
    let message = format!("Merge pull request #{pr} from acme-corp/feature");
    crate::common::assert_ok(&w.trigger_push(ACME, &merged, &message).0);
    let d = w.last_dispatch();
    let event = Event::dispatch(&d);
    runner.approve("production-apply", "provider-lead");
    let run = runner.run(&w.gh, workflow, &event);
    // No approval on the pull request yet: the apply waits for one.
    run.assert_succeeded(&[
        "authorise",
        "plan-staging",
        "apply-staging",
        "plan-production",
    ]);
    let waiting = run.job("apply-production");
    assert_eq!(waiting.result, "failure");
    assert!(
        waiting.log.contains("waiting for approval: 0 of 1"),
        "{}",
        waiting.log
    );

    // A member of the team approves this plan on the pull request; the
    // apply job alone runs again ("Re-run failed jobs").
    let digest = run.job("plan-production").outputs["plan_sha256"].clone();
    crate::world::approve_on_pr(&w.gh, pr, "carol", &digest);
    runner.approve("production-apply", "provider-lead");
    let again = runner.rerun_failed(&w.gh, &run);
    again.assert_succeeded(&["apply-production", "conclude"]);
    assert!(again
        .job("apply-production")
        .log
        .contains("approved on the pull request by carol"));
    w.gh.assert_clean();
}

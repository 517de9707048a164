//! Drift and its repair, as the drift workflow's header tells a provider
//! to set it up: the manager's root module on the test cloud with its
//! state in a bucket (S3 on moto), both customers applied; then, outside
//! Terraform, acme's staging bucket loses its versioning. The scheduled
//! run of `manager-drift.yml` shards the fleet, plans every pair with the
//! customer App's token for each repository, merges the shards' reports
//! into one drift issue per drifted customer in the manager repo, plans
//! the repair (`drift.repair: {staging: repair}`) in `staging-plan` and
//! applies it in `staging-apply` after a reviewer who is not the
//! schedule's actor; the next run finds no drift and closes the issue.
//! Every job runs with only what its environment holds, every request
//! meets the strict fake.

use serde_json::json;

use crate::fakecloud;
use crate::moto::{self, Moto};
use crate::relay::serve::{pem, CUSTOMER_APP_ID};
use crate::support::actions_runner::{Event, Runner, WorkflowRun};
use crate::support::fake_github::Environment;
use crate::templates::deploy_run::deploy_runner;
use crate::world::{World, MANAGER};

const BUCKET: &str = "provider-state";

/// The book's repair policy for staging (README, "Repairs by policy"),
/// and the operators team whose members control repairs and rollouts.
const POLICY: &str = "
drift:
  repair:
    staging: repair
rollout:
  operators: provider/operators
";

/// The drift workflow's run on its schedule; its actor is the user
/// GitHub ties the schedule to.
fn scheduled() -> Event {
    Event {
        name: "schedule".into(),
        payload: json!({"schedule": "17 6 * * 1-5"}),
        git_ref: "refs/heads/main".into(),
        actor: "provider-admin".into(),
        inputs: json!(null),
    }
}

/// The world's manager on the test cloud with its state in `moto`'s
/// bucket, both customers applied in both environments from a
/// workstation; the runner for the manager's workflows, its machine
/// holding the backend's and the cloud's credentials (a self-hosted
/// runner's instance role).
fn applied_on_the_test_cloud(w: &World, moto: &Moto) -> Runner {
    assert!(moto::curl(&moto.url(&format!("/{BUCKET}")), "PUT").is_some());
    let cloud = fakecloud::install(&w.fx.path("fakecloud"));
    let cloud_file = w.fx.path("cloud.json");
    w.fx.write(
        "manager/terraform/main.tf",
        include_str!("../../examples/fakecloud/main.tf"),
    );
    let local = "  backend:\n    kind: local\n    state_dir: .fleetform/state\n";
    let config = w.fx.read("manager/fleetform.yml");
    assert!(config.contains(local), "{config}");
    w.fx.write(
        "manager/fleetform.yml",
        &format!(
            "{}{POLICY}",
            config.replace(
                local,
                &format!(
                    "  backend:\n    kind: s3\n    bucket: {BUCKET}\n    region: us-east-1\n    endpoint: {}\n    use_path_style: true\n    use_lockfile: true\n",
                    moto.url("").trim_end_matches('/')
                ),
            )
        ),
    );
    let machine = [
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("FAKECLOUD_FILE", cloud_file.display().to_string()),
        ("TF_CLI_CONFIG_FILE", cloud.cli_config.display().to_string()),
    ];
    for customer in ["acme", "globex"] {
        for env in ["staging", "production"] {
            for verb in ["plan", "apply"] {
                crate::common::Run::from(w.fx.fleetform())
                    .envs(machine.iter().map(|(k, v)| (*k, v.as_str())))
                    .args([verb, "--customer", customer, "--env", env])
                    .ok();
            }
        }
    }
    // The registry the provider commits names each customer's repository
    // (a local checkout's `path:` is a workstation's).
    let registry: String =
        w.fx.read("manager/customers.yml")
            .lines()
            .filter(|l| !l.trim_start().starts_with("path: "))
            .map(|l| format!("{l}\n"))
            .collect();
    w.fx.write("manager/customers.yml", &registry);
    let mut runner = deploy_runner(w);
    for (k, v) in &machine {
        runner.machine_env(k, v);
    }
    w.gh.install_app(CUSTOMER_APP_ID, "globex", &["globex/globex-app"]);
    // The drift environment, as the workflow's header lists it; repairs
    // in staging need a reviewer (its `staging-apply`).
    w.gh.set_environment(MANAGER, "drift", Environment::default());
    runner.secret(
        &w.gh,
        Some("drift"),
        "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        &pem(),
    );
    runner.secret(
        &w.gh,
        Some("drift"),
        "FLEETFORM_ARTIFACT_KEY",
        crate::common::ARTIFACT_KEY,
    );
    w.gh.set_environment(
        MANAGER,
        "staging-apply",
        Environment {
            reviewers: vec!["provider-lead".into()],
            ..Default::default()
        },
    );
    for env in ["staging-plan", "staging-apply"] {
        runner.secret(
            &w.gh,
            Some(env),
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            &pem(),
        );
        runner.secret(
            &w.gh,
            Some(env),
            "FLEETFORM_ARTIFACT_KEY",
            crate::common::ARTIFACT_KEY,
        );
        // The provider's token that reads its organisation's teams.
        runner.secret(&w.gh, Some(env), "FLEETFORM_TEAMS_TOKEN", w.gh.token());
    }
    // The schedule's user is an operator.
    w.gh.add_team_member("provider", "operators", "provider-admin", "active");
    runner
}

fn bucket_versioning(w: &World, name: &str) -> Option<bool> {
    fakecloud::objects(&w.fx.path("cloud.json"))
        .values()
        .find(|v| v["name"] == name)
        .and_then(|v| v["versioning"].as_bool())
}

fn drift_run(runner: &mut Runner, w: &World) -> WorkflowRun {
    runner.run(&w.gh, "workflows/manager-drift.yml", &scheduled())
}

#[test]
fn drift_is_reported_and_repaired_through_the_drift_workflow() {
    let w = World::new();
    let moto = Moto::start();
    let mut runner = applied_on_the_test_cloud(&w, &moto);
    // Outside Terraform: acme's staging bucket loses its versioning.
    fakecloud::versioning_off(&w.fx.path("cloud.json"), "acme-staging");
    assert_eq!(bucket_versioning(&w, "acme-staging-logs"), Some(false));

    runner.approve("staging-apply", "provider-lead");
    let run = drift_run(&mut runner, &w);
    run.assert_succeeded(&["matrix", "drift", "repair-plan", "repair-apply"]);
    // The issues job writes the issues, then fails the run on drift (the
    // drift action's `fail-on-drift`, default true): GitHub tells the
    // schedule's user.
    let issues_job = run.job("issues");
    assert_eq!(issues_job.result, "failure");
    assert!(
        issues_job
            .log
            .contains("drift in 1 of 4 customer × environment pairs"),
        "{}",
        issues_job.log
    );
    assert!(
        run.job("repair-apply")
            .log
            .contains("acme/staging  applied"),
        "{}",
        run.job("repair-apply").log
    );
    let issues = w.gh.issues(MANAGER);
    assert!(
        issues.iter().any(|i| i.title.contains("acme")),
        "a drift issue for acme: {issues:?}"
    );
    assert!(
        !issues.iter().any(|i| i.title.contains("globex")),
        "{issues:?}"
    );
    assert_eq!(bucket_versioning(&w, "acme-staging-logs"), Some(true));
    // The repair is a deployment of acme's, written with the customer App.
    let deployments = w.gh.deployments(crate::world::ACME);
    assert!(
        deployments.iter().any(|d| d.environment == "staging"),
        "{deployments:?}"
    );

    // The next morning: no drift, the issue is closed, nothing to repair.
    let next = drift_run(&mut runner, &w);
    next.assert_succeeded(&["matrix", "drift", "issues"]);
    for job in ["repair-plan", "repair-apply"] {
        assert_eq!(next.job(job).result, "skipped", "{job}");
    }
    let issues = w.gh.issues(MANAGER);
    assert!(
        issues
            .iter()
            .filter(|i| i.title.contains("acme"))
            .all(|i| i.state == "closed"),
        "{issues:?}"
    );
    w.gh.assert_clean();
}

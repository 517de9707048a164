//! The fleet the later stretches start from: the world's manager on the
//! test cloud (its root module `examples/fakecloud`), the Terraform state
//! and the records in a bucket on moto (the book: records that outlive a
//! runner), acme and globex applied in staging and production from a
//! workstation, the registry the provider commits (each customer by its
//! repository), the customer App installed by both, and the manager's
//! environments as the workflows' headers list them. The runner's machine
//! holds the backend's and the cloud's credentials (a self-hosted
//! runner's instance role); the records are written with the records
//! role each job assumes.

use crate::fakecloud;
use crate::moto::{self, Moto};
use crate::relay::serve::{pem, CUSTOMER_APP_ID};
use crate::support::actions_runner::Runner;
use crate::support::fake_github::Environment;
use crate::templates::deploy_run::deploy_runner;
use crate::world::{World, MANAGER};

pub(crate) const BUCKET: &str = "provider-state";

/// Everything a stretch needs, kept alive together.
pub(crate) struct OnCloud {
    pub w: World,
    pub runner: Runner,
    pub moto: Moto,
    /// The identity of `records.recipient`, which opens the kept states.
    pub records_identity: String,
    /// What the runner machine (and a workstation) sets for every run: the
    /// backend's and the cloud's credentials, the cloud file, Terraform's
    /// CLI configuration.
    pub machine: Vec<(&'static str, String)>,
}

impl OnCloud {
    /// The fleet applied, with `config` appended to fleetform.yml first.
    pub(crate) fn applied(config: &str) -> OnCloud {
        Self::applied_in(config, false)
    }

    /// The same, in a bucket that keeps versions (the book's set-up: the
    /// states can be recovered and drilled).
    pub(crate) fn applied_with_versions(config: &str) -> OnCloud {
        Self::applied_in(config, true)
    }

    fn applied_in(config: &str, versions: bool) -> OnCloud {
        let w = World::new();
        let moto = Moto::start();
        assert!(moto::curl(&moto.url(&format!("/{BUCKET}")), "PUT").is_some());
        if versions {
            crate::local::recovery::versioning_on(&moto, BUCKET);
        }
        let endpoint = moto.url("");
        let endpoint = endpoint.trim_end_matches('/');
        let cloud = fakecloud::install(&w.fx.path("fakecloud"));
        w.fx.write(
            "manager/terraform/main.tf",
            include_str!("../../examples/fakecloud/main.tf"),
        );
        let (recipient, records_identity) = crate::secrets::cloud::keygen();
        in_the_bucket(&w, endpoint, config, &recipient);
        let machine = [
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            (
                "FAKECLOUD_FILE",
                w.fx.path("cloud.json").display().to_string(),
            ),
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
        // The registry the provider commits names each customer's
        // repository (a local checkout's `path:` is a workstation's).
        let registry: String =
            w.fx.read("manager/customers.yml")
                .lines()
                .filter(|l| !l.trim_start().starts_with("path: "))
                .map(|l| format!("{l}\n"))
                .collect();
        w.fx.write("manager/customers.yml", &registry);
        let mut runner = deploy_runner(&w);
        for (k, v) in &machine {
            runner.machine_env(k, v);
        }
        w.gh.install_app(CUSTOMER_APP_ID, "globex", &["globex/globex-app"]);
        environments(&w, &mut runner);
        OnCloud {
            w,
            runner,
            moto,
            records_identity,
            machine: machine.to_vec(),
        }
    }

    /// The test cloud's object named `name`.
    pub(crate) fn object(&self, name: &str) -> Option<serde_json::Value> {
        fakecloud::objects(&self.w.fx.path("cloud.json"))
            .values()
            .find(|v| v["name"] == name)
            .cloned()
    }
}

/// fleetform.yml with the state and the records in the bucket at
/// `endpoint` (the states an offboarding keeps encrypted to `recipient`),
/// and `config` appended.
fn in_the_bucket(w: &World, endpoint: &str, config: &str, recipient: &str) {
    let local = "  backend:\n    kind: local\n    state_dir: .fleetform/state\n";
    let text = w.fx.read("manager/fleetform.yml");
    assert!(text.contains(local), "{text}");
    w.fx.write(
        "manager/fleetform.yml",
        &format!(
            "{}{config}",
            text.replace(
                local,
                &format!(
                    "  backend:\n    kind: s3\n    bucket: {BUCKET}\n    region: us-east-1\n    endpoint: {endpoint}\n    use_path_style: true\n    use_lockfile: true\n",
                ),
            )
        ),
    );
    w.fx.records_in_s3(
        BUCKET,
        endpoint,
        &format!("  prefix: fleetform/records\n  recipient: {recipient}\n"),
    );
}

/// The environments and secrets the drift, rollout, ops and offboard
/// workflows' headers add to the deploy workflow's (whose plan and apply
/// environments hold the customer App's key and the artifact key):
/// `drift`, `fleetform-rollout`, `fleetform-offboard-plan` and
/// `fleetform-offboard` (a reviewer); the teams token (operators,
/// `approvals:`) wherever a job reads teams; the apply environments'
/// reviewers (repairs, rollouts and operations ask for one): the
/// provider's lead and a developer who also pushes manager changes;
/// production's own artifact key. The schedule's user is an operator.
fn environments(w: &World, runner: &mut Runner) {
    for env in ["staging-apply", "production-apply"] {
        w.gh.set_reviewers(MANAGER, env, &["provider-lead", "provider-dev"]);
    }
    for env in [
        "drift",
        "fleetform-rollout",
        "fleetform-offboard-plan",
        "fleetform-offboard",
    ] {
        w.gh.set_environment(MANAGER, env, Environment::default());
    }
    w.gh.set_reviewers(MANAGER, "fleetform-offboard", &["provider-lead"]);
    let artifact = crate::common::ARTIFACT_KEY;
    let teams = w.gh.token().to_string();
    let app = pem();
    let (key, teams, app) = (
        ("FLEETFORM_ARTIFACT_KEY", artifact),
        ("FLEETFORM_TEAMS_TOKEN", teams.as_str()),
        ("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", app.as_str()),
    );
    for (env, secrets) in [
        ("drift", [key, app].as_slice()),
        ("fleetform-rollout", &[teams, app]),
        ("fleetform-offboard-plan", &[key, teams, app]),
        ("fleetform-offboard", &[key, teams]),
        ("staging-plan", &[teams]),
        ("production-plan", &[teams]),
        ("staging-apply", &[teams]),
        ("production-apply", &[teams]),
    ] {
        for (name, value) in secrets {
            runner.secret(&w.gh, Some(env), name, value);
        }
    }
    // One artifact key per environment, as the book advises: production's
    // plans are sealed with a key no staging job holds.
    let production = "production-artifact-key-9f3c1a7e5b2d4c6f8a0e1b3d5f7a9c2e";
    for env in ["production-plan", "production-apply"] {
        runner.secret(&w.gh, Some(env), "FLEETFORM_ARTIFACT_KEY", production);
    }
    w.gh.add_team_member("provider", "operators", "provider-admin", "active");
}

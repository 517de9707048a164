//! The provider's set-up from an empty organisation, as the book and
//! `fleetform init`'s printed steps tell it: `init` writes the manager
//! repo (pushed as it is, its workflows under `.github/workflows/`), the
//! Apps are registered from the manifests it wrote, the environments,
//! their branch policies, reviewers, secrets and variables are made as the
//! printed settings list them, the rulesets and the default token
//! permissions as "What you must configure" asks; then the doctor
//! workflow `init` wrote runs with only the doctor environment's secrets
//! and passes (no *must* failing).

use std::path::Path;

use crate::relay::serve::{manager_pem, pem};
use crate::support::actions_runner::{Event, Runner};
use crate::support::fake_github::{BranchPolicy, Environment, FakeGitHub, Ruleset};
use crate::world::MANAGER;

/// The environments `init`'s printed settings list (1.), for the default
/// environments staging and production.
const ENVIRONMENTS: [&str; 10] = [
    "fleetform-authorise",
    "staging-plan",
    "staging-apply",
    "production-plan",
    "production-apply",
    "drift",
    "doctor",
    "impact-plan",
    "dashboard",
    "drill",
];

/// The secrets of each environment, as the printed settings list them (3.),
/// the customer App's key where a job reads customer repos.
fn secrets_of(env: &str) -> &'static [&'static str] {
    match env {
        "fleetform-authorise" => &[
            "FLEETFORM_DISPATCH_SECRET",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        ],
        "staging-plan" | "staging-apply" | "production-plan" | "production-apply" => &[
            "FLEETFORM_DISPATCH_SECRET",
            "FLEETFORM_ARTIFACT_KEY",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        ],
        "drift" | "drill" => &[
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            "FLEETFORM_ARTIFACT_KEY",
        ],
        "doctor" => &[
            "FLEETFORM_DOCTOR_TOKEN",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        ],
        _ => &[],
    }
}

/// Every file of `dir`, relative, as text.
pub(crate) fn files_of(dir: &Path) -> Vec<(String, String)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A manager made by `init`, set up on the fake as the book says; its
/// folder and the runner for its workflows.
pub fn provider_set_up(gh: &FakeGitHub, root: &Path) -> Runner {
    crate::common::Run::from(crate::common::fleetform_bin())
        .current_dir(root)
        .args(["init", "--dir", "manager", "--provider", "provider"])
        .ok();
    let dir = root.join("manager");
    // "What you must configure", 14: the records in a bucket.
    let config = std::fs::read_to_string(dir.join("fleetform.yml")).unwrap();
    let records = "records:\n  kind: local\n  dir: .fleetform/records\n";
    assert!(config.contains(records), "init's records:\n{config}");
    std::fs::write(
        dir.join("fleetform.yml"),
        config.replace(
            records,
            &format!(
                "records:\n  kind: s3\n  bucket: provider-fleetform\n  region: eu-west-1\n  prefix: fleetform/records\n  recipient: {}\n",
                crate::secrets::cloud::keygen().0
            ),
        ),
    )
    .unwrap();
    gh.add_repo(MANAGER);
    let files = files_of(&dir);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    gh.commit(MANAGER, "main", &refs);

    // The Apps, from the manifests init wrote.
    for (id, name, key) in [(5101, "customer", pem()), (5102, "manager", manager_pem())] {
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("apps/{name}-app.json"))).unwrap(),
        )
        .unwrap();
        gh.register_app_from_manifest(id, &key, &manifest)
            .unwrap_or_else(|why| panic!("GitHub refuses apps/{name}-app.json: {why}"));
    }
    gh.set_app_slug(5101, "provider-fleetform-customer");
    gh.set_app_slug(5102, "provider-fleetform-manager");
    gh.install_app(5102, "provider", &[MANAGER]);

    let mut runner = Runner::new(MANAGER);
    runner.machine_env("FLEETFORM_RETRY_BASE_MS", "50");
    for env in ENVIRONMENTS {
        gh.set_environment(
            MANAGER,
            env,
            Environment {
                reviewers: match env {
                    "production-apply" | "impact-plan" => vec!["provider-lead".into()],
                    _ => Vec::new(),
                },
                prevent_self_review: env == "production-apply" || env == "impact-plan",
                branch_policy: BranchPolicy::Custom(vec![("main".into(), "branch".into())]),
                ..Default::default()
            },
        );
        for secret in secrets_of(env) {
            let value = match *secret {
                "FLEETFORM_DOCTOR_TOKEN" => gh.token().to_string(),
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY" => pem(),
                _ => format!(
                    "{}-{}",
                    secret.to_lowercase(),
                    "0123456789abcdef0123456789abcdef"
                ),
            };
            runner.secret(gh, Some(env), secret, &value);
        }
    }
    for (name, value) in [
        ("FLEETFORM_CUSTOMER_APP_ID", "5101"),
        (
            "FLEETFORM_RECORDS_WRITE_ROLE",
            "arn:aws:iam::123456789012:role/fleetform-records",
        ),
        ("FLEETFORM_RECORDS_REGION", "eu-west-1"),
        (
            "FLEETFORM_DRILL_ROLE",
            "arn:aws:iam::123456789012:role/fleetform-drill",
        ),
        ("FLEETFORM_DRILL_REGION", "eu-west-1"),
        (
            "FLEETFORM_RECORDS_READ_ROLE",
            "arn:aws:iam::123456789012:role/fleetform-records-read",
        ),
        (
            "FLEETFORM_TERRAFORM_VERSION",
            crate::support::actions_runner::installed_terraform()
                .0
                .as_str(),
        ),
    ] {
        gh.add_repo_variable(MANAGER, name);
        gh.set_variable(MANAGER, None, name, value);
    }
    // 4.: rulesets on every branch and tag; GITHUB_TOKEN read-only.
    for target in ["branch", "tag"] {
        gh.add_ruleset(
            MANAGER,
            Ruleset {
                name: format!("lock every {target}"),
                target: target.into(),
                enforcement: "active".into(),
                include: vec!["~ALL".into()],
                rules: vec!["creation".into(), "update".into(), "deletion".into()],
            },
        );
    }
    gh.set_workflow_permissions(MANAGER, "read", false);
    // The release the workflows pin exists on GitHub (the book's
    // "Getting a release to pin"): fleetform's repository with its
    // action ref.
    gh.add_repo("fleetform/fleetform");
    gh.add_tag(
        "fleetform/fleetform",
        &format!("v{}-action", env!("CARGO_PKG_VERSION")),
        "main",
    );
    runner
}

#[test]
fn a_manager_set_up_as_the_book_says_passes_its_doctor_workflow() {
    let gh = FakeGitHub::start();
    let root = tempfile::tempdir().unwrap();
    let mut runner = provider_set_up(&gh, root.path());
    let run = runner.run(
        &gh,
        &root
            .path()
            .join("manager/.github/workflows/manager-doctor.yml")
            .display()
            .to_string(),
        &Event {
            name: "workflow_dispatch".into(),
            payload: serde_json::json!({}),
            git_ref: "refs/heads/main".into(),
            actor: "provider-lead".into(),
            inputs: serde_json::json!({}),
        },
    );
    run.assert_succeeded(&["doctor"]);
    let log = &run.job("doctor").log;
    // The checklist ran: the rows of what this stretch set up pass.
    for row in [
        "environment production-apply",
        "branch policy staging-plan",
        "rulesets (branches)",
        "records",
        "records recipient",
        "engine version",
    ] {
        assert!(
            log.lines().any(|l| l.contains("pass") && l.contains(row)),
            "no passing row `{row}`:\n{log}"
        );
    }
    gh.assert_clean();
}

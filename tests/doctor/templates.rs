//! `fleetform doctor` knows every environment fleetform's workflow
//! templates run jobs in (against the fake GitHub): a template installed in
//! the manager's `.github/workflows/` makes its environments expected, and
//! each that exists is checked for its deployment branch policy, its
//! reviewers where its jobs change infrastructure, and the secrets and
//! variables its jobs read.

use std::collections::BTreeSet;

use yaml_serde::Value as Y;

use crate::common;
use crate::doctor::manager::{configured, doctor, row, DOCTOR};
use crate::support::fake_github::{BranchPolicy, Environment, FakeGitHub};
use crate::support::readme_budgets::Budgets;

const MANAGER: &str = "provider/manager";

/// Every template of fleetform's `workflows/`, copied into the manager's
/// `.github/workflows/`.
fn install_templates(fx: &common::Fixture) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        fx.write(
            &format!("manager/.github/workflows/{name}"),
            &std::fs::read_to_string(&p).unwrap(),
        );
    }
}

/// The environment names of every job of every template: literal ones as
/// they are, `${{ … }}-plan` and `-apply` for each environment of the
/// example manager.
fn template_environments() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let doc: Y = yaml_serde::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        for (_, job) in doc["jobs"].as_mapping().unwrap() {
            let env = &job["environment"];
            let Some(name) = env.as_str().or_else(|| env["name"].as_str()) else {
                continue;
            };
            // A key job's environment is each customer's own
            // (`<env>-secrets-<slug>`): doctor's rows per customer's key.
            if name.contains("key_environments") {
                continue;
            }
            match name.rsplit_once("}}") {
                Some((_, suffix)) => {
                    for e in ["staging", "production"] {
                        out.insert(format!("{e}{suffix}"));
                    }
                }
                None => {
                    out.insert(name.to_string());
                }
            }
        }
    }
    out
}

fn env(branch_policy: BranchPolicy, secrets: &[&str], variables: &[&str]) -> Environment {
    Environment {
        branch_policy,
        secrets: secrets.iter().map(|s| s.to_string()).collect(),
        variables: variables.iter().map(|s| s.to_string()).collect(),
        ..Environment::default()
    }
}

fn main_only() -> BranchPolicy {
    BranchPolicy::Custom(vec![("main".into(), "branch".into())])
}

/// With every template installed and none of their environments made,
/// doctor has a row for each environment a template runs jobs in, and
/// fails the run on the missing ones: all but GitHub's own `github-pages`
/// (made by Settings → Pages), `impact-plan` (its reviewers' row) and
/// `fleetform-inbox` (an inbox repo's, not the manager's).
#[test]
fn doctor_knows_every_environment_a_template_defines() {
    let gh = configured();
    let fx = common::Fixture::new();
    install_templates(&fx);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let envs = template_environments();
    for must in ["poll", "fleetform-rollout", "fleetform-offboard", "doctor"] {
        assert!(envs.contains(must), "{must}: {envs:?}");
    }
    for name in &envs {
        match name.as_str() {
            "github-pages" | "fleetform-inbox" => continue,
            // The drill proves a bucket's versions: no row with the local
            // backend (below with an s3 one).
            "drill" => {
                let line = format!("environment {name} ");
                assert!(!r.stdout.contains(&line), "{}", r.stdout);
                continue;
            }
            "impact-plan" => {
                assert_eq!(row(&r.stdout, "reviewers impact-plan").1, "FAIL");
                continue;
            }
            _ => {}
        }
        let (_, result, found) = row(&r.stdout, &format!("environment {name}"));
        match result {
            "pass" => assert_eq!(found, "exists", "{name}"),
            _ => assert!(
                found.starts_with("missing (.github/workflows/manager-"),
                "{name}: {result} {found}"
            ),
        }
    }
    assert_eq!(row(&r.stdout, "environment poll").1, "FAIL");
    assert_eq!(row(&r.stdout, "environment dashboard").1, "WARN");
    let yml = fx.read("manager/fleetform.yml").replace(
        "  backend:\n    kind: local\n    state_dir: .fleetform/state\n",
        "  backend:\n    kind: s3\n    bucket: provider-states\n    region: eu-west-1\n",
    );
    assert!(yml.contains("kind: s3"), "{yml}");
    fx.write("manager/fleetform.yml", &yml);
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "environment drill");
    assert_eq!(result, "FAIL", "{}", r.stdout);
    assert_eq!(
        found,
        "missing (.github/workflows/manager-drill.yml runs jobs in it)"
    );
}

/// The environments that exist are checked: `poll` holds the Apps' keys
/// (every branch may deploy there: a failed *must*; a key missing), the
/// rollout's holds its tokens and, with the records in a bucket, the
/// records role's variables (a repository variable counts), the
/// offboarding's destroy wants reviewers; the request count is the
/// README's.
#[test]
fn a_template_environment_is_checked_for_branches_secrets_and_variables() {
    let gh = configured();
    let fx = common::Fixture::new();
    install_templates(&fx);
    let yml = fx.read("manager/fleetform.yml").replace(
        "records:\n  kind: local\n  dir: .fleetform/records\n",
        "records:\n  kind: s3\n  bucket: provider-records\n  region: eu-west-1\n  prefix: fleetform/records\n",
    );
    fx.write("manager/fleetform.yml", &yml);
    gh.set_environment(
        MANAGER,
        "poll",
        env(
            BranchPolicy::Any,
            &[
                "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
                "FLEETFORM_ARTIFACT_KEY",
            ],
            &["FLEETFORM_MANAGER_APP_ID", "FLEETFORM_CUSTOMER_APP_ID"],
        ),
    );
    gh.set_environment(
        MANAGER,
        "fleetform-rollout",
        env(
            main_only(),
            &[
                "FLEETFORM_TEAMS_TOKEN",
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            ],
            &["FLEETFORM_RECORDS_WRITE_ROLE"],
        ),
    );
    gh.add_repo_variable(MANAGER, "FLEETFORM_RECORDS_REGION");
    gh.add_repo_variable(MANAGER, "FLEETFORM_CUSTOMER_APP_ID");
    gh.set_environment(
        MANAGER,
        "fleetform-offboard",
        env(
            BranchPolicy::ProtectedBranches,
            &[
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_TEAMS_TOKEN",
            ],
            &[],
        ),
    );
    gh.reset_counters();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (level, result, found) = row(&r.stdout, "branch policy poll");
    assert_eq!((level, result), ("must", "FAIL"));
    assert_eq!(
        found,
        "every branch may deploy (it holds both GitHub Apps' private keys)"
    );
    assert_eq!(
        row(&r.stdout, "secrets poll"),
        ("must", "FAIL", "missing FLEETFORM_CUSTOMER_APP_PRIVATE_KEY")
    );
    assert_eq!(row(&r.stdout, "variables poll").1, "pass");
    assert_eq!(row(&r.stdout, "branch policy fleetform-rollout").1, "pass");
    assert_eq!(row(&r.stdout, "secrets fleetform-rollout").1, "pass");
    assert_eq!(
        row(&r.stdout, "variables fleetform-rollout"),
        (
            "must",
            "pass",
            "FLEETFORM_CUSTOMER_APP_ID, FLEETFORM_RECORDS_WRITE_ROLE, FLEETFORM_RECORDS_REGION"
        )
    );
    let (level, result, found) = row(&r.stdout, "reviewers fleetform-offboard");
    assert_eq!((level, result), ("should", "WARN"), "{found}");
    assert!(found.starts_with("no required reviewers"), "{found}");
    // Without FLEETFORM_RECORDS_WRITE_ROLE anywhere: missing.
    assert_eq!(
        row(&r.stdout, "variables fleetform-offboard"),
        ("must", "FAIL", "missing FLEETFORM_RECORDS_WRITE_ROLE")
    );
    // The book's "Request budgets": the example manager's, +1 the
    // rollout environment's custom branch policies, +3 environments'
    // secrets, +3 environments' variables, +1 the repository's and +1
    // the tag the templates pin fleetform's actions to.
    let paths: Vec<String> = gh.requests().iter().map(|r| r.path.clone()).collect();
    let b = Budgets::from_book();
    let budget = b.n(DOCTOR, " for the example manager")
        + b.n(DOCTOR, " per environment with custom branch policies")
        + 6 * b.n(DOCTOR, " per template environment that exists")
        + b.n(DOCTOR, " (the repository's variables)")
        + b.n(DOCTOR, " per ref the workflows pin fleetform's actions to");
    assert_eq!(gh.request_count(), budget, "{paths:#?}");
    gh.assert_clean();
}

/// GitHub fails the variables read (a 500 every attempt): the row says it
/// could not check, and a *must* that could not be checked fails the run.
#[test]
fn a_variables_read_that_fails_is_no_pass() {
    let gh: FakeGitHub = configured();
    let fx = common::Fixture::new();
    install_templates(&fx);
    gh.set_environment(
        MANAGER,
        "poll",
        env(
            main_only(),
            &[
                "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_ARTIFACT_KEY",
            ],
            &["FLEETFORM_MANAGER_APP_ID", "FLEETFORM_CUSTOMER_APP_ID"],
        ),
    );
    gh.inject(
        crate::support::fake_github::Fault::server_error()
            .times(1)
            .on("GET", "/environments/poll/variables"),
    );
    let r = doctor(&gh, &fx, &[], &[]);
    let (level, result, found) = row(&r.stdout, "variables poll");
    assert_eq!((level, result), ("must", "could not check"), "{found}");
    assert!(found.starts_with("could not check"), "{found}");
    assert_eq!(row(&r.stdout, "secrets poll").1, "pass");
    assert_eq!(gh.pending_faults(), 0);
    assert_eq!(r.code, 5);
}

/// Doctor asks each template environment for exactly the secrets the
/// shipped template's jobs in it read: none it never reads (a provider
/// would store a credential for nothing), none missing (a job would fail
/// on github.com with what doctor passed). Secrets read only with a
/// setting (the secrets identities, `secrets:`; the dispatch-secret
/// rotation's previous one) are the optional ones.
#[test]
fn each_template_environment_asks_exactly_the_secrets_its_jobs_read() {
    const OPTIONAL: [&str; 3] = [
        "FLEETFORM_FLEET_SECRETS_KEY",
        "FLEETFORM_PROVIDER_SECRETS_KEY",
        "FLEETFORM_DISPATCH_SECRET_PREVIOUS",
    ];
    for x in fleetform::doctor::TEMPLATE_ENVIRONMENTS {
        let text = crate::common::workflow::text(&format!("workflows/{}", x.template));
        let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
        let mut read = std::collections::BTreeSet::new();
        for job in doc["jobs"].as_mapping().unwrap().values() {
            let env = job["environment"]
                .as_str()
                .or_else(|| job["environment"]["name"].as_str())
                .unwrap_or_default();
            if env != x.name {
                continue;
            }
            let body = yaml_serde::to_string(job).unwrap();
            for part in body.split("secrets.").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !OPTIONAL.contains(&name.as_str()) {
                    read.insert(name);
                }
            }
        }
        let asked: std::collections::BTreeSet<String> =
            x.secrets.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            asked, read,
            "environment {} of {}: doctor asks {asked:?}, the jobs read {read:?}",
            x.name, x.template
        );
    }
}

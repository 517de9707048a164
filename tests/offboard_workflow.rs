//! `workflows/manager-offboard.yml` (issue #37): read with
//! `github-actions-models`, it runs by hand only, previews in
//! `fleetform-offboard-plan` and destroys in `fleetform-offboard` after the
//! preview, with the inputs reaching the shell through env: alone; the
//! destroy script, run with a fake `fleetform`, applies with the digest
//! its own plan printed, never evaluates an input and stops when no digest
//! was printed. `init` writes it (tests/init.rs lints what init writes
//! with zizmor and actionlint).

use std::collections::BTreeMap;

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{EnvValue, Permissions};
use github_actions_models::workflow::job::{DeploymentEnvironment, NormalJob, Step};
use github_actions_models::workflow::{Job, Workflow};

const PATH: &str = "workflows/manager-offboard.yml";

fn workflow() -> Workflow {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
    yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn job<'w>(w: &'w Workflow, name: &str) -> &'w NormalJob {
    match w.jobs.get(name) {
        Some(Job::NormalJob(j)) => j,
        other => panic!("{name}: {other:?}"),
    }
}

/// The step named `name`: its env and script.
fn step(j: &NormalJob, name: &str) -> (BTreeMap<String, String>, String) {
    j.steps
        .iter()
        .find_map(|s| match s {
            Step::Run(r) if r.shared.name.as_deref() == Some(name) => {
                let LoE::Literal(env) = &r.shared.env else {
                    panic!("env is an expression")
                };
                let env = env
                    .iter()
                    .map(|(k, v): (&String, &EnvValue)| (k.clone(), v.to_string()))
                    .collect();
                Some((env, r.run.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("the step {name}"))
}

#[test]
fn it_runs_by_hand_previews_then_destroys_after_approval() {
    let w = workflow();
    assert!(w.on.events.workflow_dispatch.is_present());
    assert_eq!(w.on.events.count(), 1, "workflow_dispatch only");
    assert!(matches!(&w.permissions, Permissions::Explicit(p) if p.is_empty()));
    for (name, env) in [
        ("preview", "fleetform-offboard-plan"),
        ("destroy", "fleetform-offboard"),
    ] {
        let j = job(&w, name);
        assert!(
            matches!(&j.environment, Some(DeploymentEnvironment::Name(n)) if n == env),
            "{name}: {:?}",
            j.environment
        );
        for s in &j.steps {
            if let Step::Run(r) = s {
                assert!(
                    !r.run.contains("${{"),
                    "an expression in a run: line: {}",
                    r.run
                );
            }
        }
        let (env, _) = step(j, name);
        for (k, v) in [
            ("CUSTOMER", "${{ inputs.customer }}"),
            ("REASON", "${{ inputs.reason }}"),
            ("FLEETFORM_CUSTOMER_DIR", ".fleetform/customer"),
            (
                "FLEETFORM_TEAMS_TOKEN",
                "${{ secrets.FLEETFORM_TEAMS_TOKEN }}",
            ),
        ] {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{name}: {k}");
        }
    }
    assert_eq!(job(&w, "destroy").needs, ["preview"]);
}

/// Runs the destroy script with a `fleetform` that records its calls and
/// prints `plan_says` when called without `--approve`.
fn run_destroy(plan_says: &str) -> (i32, String) {
    let w = workflow();
    let (_, script) = step(job(&w, "destroy"), "destroy");
    crate::common::run_step_script(&script, &[("CUSTOMER", "acme")], Some(plan_says))
}

#[test]
fn the_destroy_applies_the_digest_its_plan_printed_and_nothing_else() {
    let digest = "ab".repeat(32);
    let (code, calls) = run_destroy(&format!(
        "Offboarding `acme`: ...\nOffboarding digest: {digest}\nTo destroy all of it: ...\n"
    ));
    assert_eq!(code, 0, "{calls}");
    assert_eq!(
        calls,
        format!(
            "customers\noffboard\nacme\n--reason\nwhy; $(touch pwned)\n\ncustomers\noffboard\nacme\n--reason\nwhy; $(touch pwned)\n--approve\n{digest}\n\n"
        )
    );
    // No digest (or a line that only looks like one): nothing applied.
    for said in ["nothing planned\n", "Offboarding digest: abc; rm -rf /\n"] {
        let (code, calls) = run_destroy(said);
        assert_eq!(code, 1, "{said}");
        assert!(!calls.contains("--approve"), "{calls}");
    }
}

/// Under GitHub Actions `customers offboard` (what the workflow runs) is
/// refused to anyone but an active member of the operators team, before
/// anything is planned.
#[test]
fn on_github_actions_only_operators_offboard() {
    use crate::support::fake_github::FakeGitHub;
    let w = crate::support::rollout_world::World::with(1, "staging");
    let gh = FakeGitHub::start();
    gh.add_team_member("prov", "ops", "ops-dana", "active");
    let cfg = w.fx.read("manager/fleetform.yml");
    w.fx.write(
        "manager/fleetform.yml",
        &cfg.replace("rollout:\n", "rollout:\n  operators: prov/ops\n"),
    );
    let run = |actor: &str| {
        w.fleetform()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", actor)
            .env("GITHUB_REPOSITORY", "provider/manager")
            .env("GITHUB_API_URL", gh.api_url())
            .env("FLEETFORM_TOKEN", gh.token())
            .env("FLEETFORM_TEAMS_TOKEN", gh.token())
            .args(["customers", "offboard", "c01", "--reason", "contract ended"])
            .output()
            .unwrap()
    };
    let out = run("mallory");
    let said = crate::common::stderr(&out);
    crate::common::assert_code(&out, 3);
    assert!(
        said.contains("not an active member of `prov/ops`"),
        "{said}"
    );
    // An operator gets past the check to the customer's own refusal (c01
    // is active, not revoked).
    let out = run("ops-dana");
    let said = crate::common::stderr(&out);
    crate::common::assert_code(&out, 2);
    assert!(!said.contains("not an active member"), "{said}");
}

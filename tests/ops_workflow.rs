//! `workflows/manager-ops.yml` (issue #37 point 1): read with
//! `github-actions-models`, it runs by hand only, in `<env>-apply`, with
//! the inputs reaching the shell through env: alone; its script, run with
//! a recording `fleetform`, passes the operands as separate arguments and
//! never evaluates them.

use std::collections::BTreeMap;

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{EnvValue, Permissions};
use github_actions_models::workflow::job::{DeploymentEnvironment, NormalJob, Step};
use github_actions_models::workflow::{Job, Workflow};

const PATH: &str = "workflows/manager-ops.yml";

fn text() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
    std::fs::read_to_string(path).unwrap()
}

fn job(w: &Workflow) -> &NormalJob {
    match w.jobs.get("operate") {
        Some(Job::NormalJob(j)) => j,
        other => panic!("{other:?}"),
    }
}

/// The operation step's env and script.
fn operation_step(j: &NormalJob) -> (BTreeMap<String, String>, String) {
    j.steps
        .iter()
        .find_map(|s| match s {
            Step::Run(r) if r.shared.name.as_deref() == Some("${{ inputs.operation }}") => {
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
        .expect("the operation step")
}

#[test]
fn it_runs_by_hand_in_the_apply_environment_with_inputs_through_env() {
    let w: Workflow = yaml_serde::from_str(&text()).unwrap();
    let events = &w.on.events;
    assert!(events.workflow_dispatch.is_present());
    assert_eq!(events.count(), 1, "workflow_dispatch only");
    assert!(matches!(&w.permissions, Permissions::Explicit(p) if p.is_empty()));
    let j = job(&w);
    let env_name = match &j.environment {
        Some(DeploymentEnvironment::Name(n)) => n.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(env_name, "${{ inputs.environment }}-apply");
    for s in &j.steps {
        if let Step::Run(r) = s {
            assert!(
                !r.run.contains("${{"),
                "an expression in a run: line: {}",
                r.run
            );
        }
    }
    let (env, _) = operation_step(j);
    for (k, v) in [
        ("OPERATION", "${{ inputs.operation }}"),
        ("CUSTOMER", "${{ inputs.customer }}"),
        ("ENVIRONMENT", "${{ inputs.environment }}"),
        ("OPERANDS", "${{ inputs.operands }}"),
        ("REASON", "${{ inputs.reason }}"),
        (
            "FLEETFORM_TEAMS_TOKEN",
            "${{ secrets.FLEETFORM_TEAMS_TOKEN }}",
        ),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
}

/// Runs the operation step's script with `fleetform` recording its
/// arguments, one per line, a blank line after each call.
fn run_script(operation: &str, operands: &str) -> (i32, String) {
    let w: Workflow = yaml_serde::from_str(&text()).unwrap();
    let (_, script) = operation_step(job(&w));
    let env = [
        ("OPERATION", operation),
        ("CUSTOMER", "acme"),
        ("ENVIRONMENT", "staging"),
        ("OPERANDS", operands),
    ];
    crate::common::run_step_script(&script, &env, None)
}

#[test]
fn the_script_passes_operands_as_arguments_and_never_evaluates_them() {
    let (code, calls) = run_script("mv", "module.a.x $(touch pwned)");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "state\nmv\nmodule.a.x\n$(touch\npwned)\n--customer\nacme\n--env\nstaging\n--reason\nwhy; $(touch pwned)\n--github\n\n"
    );
    let (code, calls) = run_script("replace", "a.b c.d");
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "plan\n--customer\nacme\n--env\nstaging\n--replace\na.b\n--replace\nc.d\n--reason\nwhy; $(touch pwned)\n\napply\n--customer\nacme\n--env\nstaging\n--github\n\n"
    );
    let (code, calls) = run_script("destroy", "x");
    assert_eq!((code, calls.as_str()), (2, ""));
}

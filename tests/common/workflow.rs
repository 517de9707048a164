//! The manager workflows under `workflows/`, read with
//! `github-actions-models` as GitHub reads them: jobs, their run steps'
//! env and scripts, environments and permissions.

use std::collections::BTreeMap;

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{EnvValue, Permission, Permissions};
use github_actions_models::workflow::job::{DeploymentEnvironment, NormalJob, Step};
use github_actions_models::workflow::{Job, Workflow};

/// The text of `path` (relative to the crate root).
pub fn text(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The workflow at `path`, parsed.
pub fn read(path: &str) -> Workflow {
    yaml_serde::from_str(&text(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The job `name` (a normal job, not a reusable workflow call).
pub fn job<'w>(w: &'w Workflow, name: &str) -> &'w NormalJob {
    match w.jobs.get(name) {
        Some(Job::NormalJob(j)) => j,
        other => panic!("{name}: {other:?}"),
    }
}

/// A literal `env:` map, its values as written.
pub fn env_map(env: &LoE<github_actions_models::common::Env>) -> BTreeMap<String, String> {
    match env {
        LoE::Literal(env) => env
            .iter()
            .map(|(k, v): (&String, &EnvValue)| (k.clone(), v.to_string()))
            .collect(),
        LoE::Expr(e) => panic!("env is an expression: {}", e.as_raw()),
    }
}

/// The run step named `name`: its env and script.
pub fn run_step(j: &NormalJob, name: &str) -> (BTreeMap<String, String>, String) {
    j.steps
        .iter()
        .find_map(|s| match s {
            Step::Run(r) if r.shared.name.as_deref() == Some(name) => {
                Some((env_map(&r.shared.env), r.run.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("the step {name}"))
}

/// The job's deployment environment, by name.
pub fn environment(j: &NormalJob) -> String {
    match &j.environment {
        Some(DeploymentEnvironment::Name(n)) => n.clone(),
        other => panic!("{other:?}"),
    }
}

/// The job's permission for `scope` (`Some("Read")`, `Some("Write")`).
pub fn permission(j: &NormalJob, scope: &str) -> Option<String> {
    match &j.permissions {
        Permissions::Explicit(p) => p.get(scope).map(|p: &Permission| format!("{p:?}")),
        other => panic!("{other:?}"),
    }
}

/// No `${{ }}` in any run step of the job: every input reaches the shell
/// through `env:`.
pub fn assert_no_expression_in_run(j: &NormalJob) {
    for s in &j.steps {
        if let Step::Run(r) = s {
            assert!(
                !r.run.contains("${{"),
                "an expression in a run: line: {}",
                r.run
            );
        }
    }
}

/// Whether the job has a step that uses `action` (by prefix).
pub fn uses(j: &NormalJob, action: &str) -> bool {
    j.steps.iter().any(|s| match s {
        Step::Uses(u) => format!("{:?}", u.uses).contains(action),
        _ => false,
    })
}

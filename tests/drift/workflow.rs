//! `workflows/manager-drift.yml`'s repair jobs (issue #56 point 2), read
//! with `github-actions-models`: per environment the merged report lists,
//! `repair-plan` seals the repair plans in `<env>-plan` and `repair-apply`
//! applies them in `<env>-apply` after the plan jobs; on Team/Pro a
//! `repair-confirm` run of another operator applies a named run's list by
//! its digest, and nothing else of the drift run. Every job that plans or
//! applies assumes the records role (`id-token: write`); inputs reach the
//! shell through env: alone, and the scripts, run with a recording
//! `fleetform`, pass them as separate arguments and never evaluate them.

use github_actions_models::workflow::Workflow;

use crate::common::workflow::{
    assert_no_expression_in_run, environment, job, permission, run_step, uses,
};

const PATH: &str = "workflows/manager-drift.yml";

fn workflow() -> Workflow {
    crate::common::workflow::read(PATH)
}

fn if_of(w: &Workflow, name: &str) -> String {
    format!("{:?}", job(w, name).r#if)
}

#[test]
fn repairs_are_planned_in_the_plan_environment_and_applied_in_the_apply_environment() {
    let w = workflow();
    let (plan, apply, confirm) = (
        job(&w, "repair-plan"),
        job(&w, "repair-apply"),
        job(&w, "repair-confirm"),
    );
    assert_eq!(environment(plan), "${{ matrix.environment }}-plan");
    assert_eq!(environment(apply), "${{ matrix.environment }}-apply");
    assert_eq!(environment(confirm), "${{ inputs.environment }}-apply");
    let needs = format!("{:?}", apply.needs);
    assert!(
        needs.contains("repair-plan") && needs.contains("issues"),
        "{needs}"
    );
    assert!(format!("{:?}", plan.needs).contains("issues"));
    // The matrices come from the merged report's lists.
    let matrix = |j: &github_actions_models::workflow::job::NormalJob| format!("{:?}", j.strategy);
    assert!(
        matrix(plan).contains("needs.issues.outputs.repair-plan-environments"),
        "{}",
        matrix(plan)
    );
    assert!(
        matrix(apply).contains("needs.issues.outputs.repair-apply-environments"),
        "{}",
        matrix(apply)
    );
    for j in [plan, apply, confirm] {
        assert_eq!(permission(j, "id-token").as_deref(), Some("Write"));
        assert_eq!(permission(j, "contents").as_deref(), Some("Read"));
        assert!(uses(j, "configure-aws-credentials"), "the records role");
        assert_no_expression_in_run(j);
    }
    assert_eq!(
        permission(plan, "actions"),
        None,
        "the plan reads no reviews"
    );
    assert_eq!(permission(apply, "actions").as_deref(), Some("Read"));
    assert_eq!(permission(confirm, "actions").as_deref(), Some("Read"));
    // A confirming run does only that; a drift run never confirms.
    assert!(
        if_of(&w, "matrix").contains("!inputs.confirm-repairs"),
        "{}",
        if_of(&w, "matrix")
    );
    assert!(if_of(&w, "repair-confirm").contains("inputs.confirm-repairs != ''"));
    // What each apply step is handed.
    let (env, _) = run_step(confirm, "apply repairs");
    for (k, v) in [
        ("CONFIRMS", "${{ inputs.confirm-repairs }}"),
        ("LIST_SHA256", "${{ inputs.list-sha256 }}"),
        ("FLEETFORM_MANAGER_TOKEN", "${{ github.token }}"),
        (
            "FLEETFORM_TEAMS_TOKEN",
            "${{ secrets.FLEETFORM_TEAMS_TOKEN }}",
        ),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    let (env, _) = run_step(apply, "apply repairs");
    assert_eq!(env.get("CONFIRMS").map(String::as_str), Some(""));
    let (env, _) = run_step(plan, "repair plans");
    assert_eq!(env.get("FLEETFORM_TOKEN"), None);
    assert_eq!(
        env.get("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY")
            .map(String::as_str),
        Some("${{ secrets.FLEETFORM_CUSTOMER_APP_PRIVATE_KEY }}"),
        "customer files from their repos, a token of the customer App for each"
    );
    assert_eq!(
        env.get("ENVIRONMENT").map(String::as_str),
        Some("${{ matrix.environment }}")
    );
}

#[test]
fn the_issues_job_hands_the_repair_jobs_their_environments_and_the_report() {
    let text = crate::common::workflow::text(PATH);
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let outputs = &doc["jobs"]["issues"]["outputs"];
    for k in ["repair-plan-environments", "repair-apply-environments"] {
        let from = k.replace('-', "_");
        assert_eq!(
            outputs[k].as_str(),
            Some(format!("${{{{ steps.issues.outputs.{from} }}}}").as_str()),
            "{k}"
        );
    }
    let action: yaml_serde::Value =
        yaml_serde::from_str(&crate::common::workflow::text("actions/drift/action.yml")).unwrap();
    for k in ["repair_plan_environments", "repair_apply_environments"] {
        assert_eq!(
            action["outputs"][k]["value"].as_str(),
            Some(format!("${{{{ steps.run.outputs.{k} }}}}").as_str()),
            "{k}"
        );
    }
    let uploads: Vec<_> = doc["jobs"]["issues"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|s| s["with"]["name"].as_str() == Some("fleetform-drift-report"))
        .collect();
    assert_eq!(uploads.len(), 1, "the merged report is handed on");
}

/// The repair-plan step's script with a recording `fleetform`: it plans
/// its environment, the environment passed as one argument; the summary
/// is fleetform's own (`drift::repair` reads it).
#[test]
fn the_plan_step_plans_its_environment() {
    let w = workflow();
    let (_, script) = run_step(job(&w, "repair-plan"), "repair plans");
    let dir = tempfile::tempdir().unwrap();
    let env = [("ENVIRONMENT", "staging $(touch pwned)")];
    let (code, calls) = crate::common::run_step_script_in(dir.path(), &script, &env, None);
    assert_eq!(code, 0);
    assert_eq!(
        calls,
        "repair\n--from\n.fleetform/drift-merged\n--env\nstaging $(touch pwned)\n--out\n.fleetform/repairs\n\n"
    );
    assert!(!dir.path().join("pwned").exists());
}

/// The apply steps' script: this run's list, or (confirming) the named
/// run's with its digest.
#[test]
fn the_apply_step_applies_this_runs_list_or_the_confirmed_one() {
    let w = workflow();
    for name in ["repair-apply", "repair-confirm"] {
        let (_, script) = run_step(job(&w, name), "apply repairs");
        let (code, calls) =
            crate::common::run_step_script(&script, &[("CONFIRMS", ""), ("LIST_SHA256", "")], None);
        assert_eq!(code, 0, "{name}");
        assert_eq!(
            calls, "repair\n--apply\n.fleetform/repairs\n--github\n\n",
            "{name}"
        );
        let (code, calls) = crate::common::run_step_script(
            &script,
            &[("CONFIRMS", "4242"), ("LIST_SHA256", "$(touch pwned)")],
            None,
        );
        assert_eq!(code, 0, "{name}");
        assert_eq!(
            calls,
            "repair\n--apply\n.fleetform/repairs\n--confirms\n4242\n--list-sha256\n$(touch pwned)\n--github\n\n",
            "{name}"
        );
    }
}

//! `workflows/manager-rollout.yml` as GitHub runs it: the template is read
//! with `github-actions-models` (GitHub's workflow schema), its
//! concurrency group evaluated per event, its job graph run for given job
//! outcomes (`support::workflow_sim`), and its artifacts, permissions and
//! tokens checked against what the rollout commands need.

use std::collections::BTreeMap;

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{EnvValue, If, Permission, Permissions, Uses};
use github_actions_models::workflow::job::{NormalJob, SharedStepFields, Step};
use github_actions_models::workflow::{Concurrency, Job, Workflow};

use crate::support::workflow_sim::{done, eval, failed, simulate_workflow};

const PATH: &str = "workflows/manager-rollout.yml";

fn text() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
    std::fs::read_to_string(path).unwrap()
}

fn workflow() -> Workflow {
    yaml_serde::from_str(&text()).unwrap_or_else(|e| panic!("{PATH}: {e}"))
}

fn job<'a>(w: &'a Workflow, name: &str) -> &'a NormalJob {
    match w.jobs.get(name) {
        Some(Job::NormalJob(j)) => j,
        other => panic!("{name}: {other:?}"),
    }
}

fn shared(step: &Step) -> &SharedStepFields {
    match step {
        Step::Uses(u) => &u.shared,
        Step::Run(r) => &r.shared,
        other => panic!("{other:?}"),
    }
}

fn name(step: &Step) -> Option<&str> {
    shared(step).name.as_deref()
}

fn env_map(env: &LoE<github_actions_models::common::Env>) -> BTreeMap<String, String> {
    match env {
        LoE::Literal(env) => env
            .iter()
            .map(|(k, v): (&String, &EnvValue)| (k.clone(), v.to_string()))
            .collect(),
        LoE::Expr(e) => panic!("{}", e.as_raw()),
    }
}

fn with_of(step: &Step) -> BTreeMap<String, String> {
    match step {
        Step::Uses(u) => env_map(&u.with),
        _ => BTreeMap::new(),
    }
}

fn uses(step: &Step) -> String {
    match step {
        Step::Uses(u) => match &u.uses {
            Uses::Repository(r) => r.to_string(),
            other => format!("{other:?}"),
        },
        _ => String::new(),
    }
}

fn run_of(j: &NormalJob, step: &str) -> String {
    j.steps
        .iter()
        .find_map(|s| match s {
            Step::Run(r) if r.shared.name.as_deref() == Some(step) => Some(r.run.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no step {step}"))
}

fn named<'a>(j: &'a NormalJob, step: &str) -> &'a Step {
    j.steps
        .iter()
        .find(|s| name(s) == Some(step))
        .unwrap_or_else(|| panic!("no step {step}"))
}

fn step_using<'a>(j: &'a NormalJob, action: &str) -> &'a Step {
    j.steps
        .iter()
        .find(|s| uses(s).starts_with(action))
        .unwrap_or_else(|| panic!("no step uses {action}"))
}

fn if_text(i: &Option<If>) -> String {
    match i {
        Some(If::Expr(e)) => e.clone(),
        Some(If::Bool(b)) => b.to_string(),
        None => String::new(),
    }
}

/// The run's concurrency group for `github.*`/`inputs.*` values.
fn group(w: &Workflow, given: &[(&str, &str)]) -> String {
    let Some(Concurrency::Rich {
        group,
        cancel_in_progress,
    }) = &w.concurrency
    else {
        panic!("a workflow-level group with cancel-in-progress");
    };
    assert!(
        matches!(cancel_in_progress, LoE::Literal(false)),
        "{cancel_in_progress:?}"
    );
    let values: BTreeMap<String, String> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    eval(group, &values).text()
}

/// GitHub keeps one running and one pending run per group and cancels the
/// older pending one: a push's start, a control action and the tick path
/// must never share one, a control action never waits at all, and no job
/// joins another group.
#[test]
fn starts_control_actions_and_ticks_never_wait_behind_each_other() {
    let w = workflow();
    let push = group(&w, &[("github.event_name", "push"), ("github.run_id", "1")]);
    let schedule = group(
        &w,
        &[("github.event_name", "schedule"), ("github.run_id", "2")],
    );
    let dispatch = |action: &str, run: &str| {
        group(
            &w,
            &[
                ("github.event_name", "workflow_dispatch"),
                ("inputs.action", action),
                ("github.run_id", run),
            ],
        )
    };
    assert_eq!(push, "fleetform-rollout-start");
    assert_eq!(schedule, "fleetform-rollout-tick");
    assert_eq!(
        dispatch("tick", "3"),
        schedule,
        "a dispatched tick is a tick"
    );
    for action in ["halt", "resume", "rollback", "supersede"] {
        let (a, b) = (dispatch(action, "4"), dispatch(action, "5"));
        assert_ne!(a, b, "{action}: a group of its own per run");
        assert!(a.starts_with("fleetform-rollout-control-"), "{a}");
        assert!(a != push && a != schedule, "{a}");
    }
    for (name, j) in &w.jobs {
        let Job::NormalJob(j) = j else { continue };
        assert!(j.concurrency.is_none(), "{name}: no job-level group");
    }
}

/// A push only starts (or queues) a rollout; the schedule and a
/// dispatched tick run the tick path; a control dispatch runs only its
/// action; a stage that is not ready asks nobody for an approval.
#[test]
fn each_event_runs_its_own_jobs() {
    let ready = |r: &'static str| {
        move |job: &str| match job {
            "next" => done(&[
                ("ready", r),
                ("environment", "staging"),
                ("id", "r1"),
                (
                    "matrix",
                    r#"{"include":[{"id":"1","shard":["acme/staging"]}]}"#,
                ),
            ]),
            _ => done(&[]),
        }
    };
    let run = |given: &[(&str, &str)], r: &'static str| simulate_workflow(PATH, given, &ready(r));
    let results = |m: &BTreeMap<String, &'static str>| -> Vec<&'static str> {
        ["start", "control", "next", "plan", "tick"]
            .iter()
            .map(|j| m[*j])
            .collect()
    };
    let push = run(&[("github.event_name", "push")], "true");
    assert_eq!(
        results(&push),
        ["success", "skipped", "skipped", "skipped", "skipped"]
    );
    let schedule = run(&[("github.event_name", "schedule")], "true");
    assert_eq!(
        results(&schedule),
        ["skipped", "skipped", "success", "success", "success"]
    );
    let baking = run(&[("github.event_name", "schedule")], "false");
    assert_eq!(
        results(&baking),
        ["skipped", "skipped", "success", "skipped", "skipped"]
    );
    let tick = run(
        &[
            ("github.event_name", "workflow_dispatch"),
            ("inputs.action", "tick"),
        ],
        "true",
    );
    assert_eq!(
        results(&tick),
        ["skipped", "skipped", "success", "success", "success"]
    );
    for action in ["halt", "resume", "rollback", "supersede"] {
        let r = run(
            &[
                ("github.event_name", "workflow_dispatch"),
                ("inputs.action", action),
            ],
            "true",
        );
        assert_eq!(
            results(&r),
            ["skipped", "success", "skipped", "skipped", "skipped"],
            "{action}"
        );
    }
    // A plan shard that failed: the tick still settles the stage.
    let plan_failed = simulate_workflow(
        PATH,
        &[("github.event_name", "schedule")],
        &|job: &str| match job {
            "plan" => failed(),
            other => ready("true")(other),
        },
    );
    assert_eq!(plan_failed["tick"], "success");
    let text = text();
    for action in ["halt", "resume", "rollback", "supersede"] {
        assert!(
            text.contains(&format!("{action})")),
            "the control step runs {action}"
        );
    }
    assert!(text.contains("supersede) fleetform rollout start --supersede ;;"));
}

/// The plans reach their tick under one name, from the rollout, stage and
/// shard, never the run attempt: "Re-run failed jobs" of a tick finds the
/// plans its run made (a re-run plan shard replaces its artifact), and a
/// shard uploads what it planned even when a pair failed.
#[test]
fn a_re_run_tick_applies_the_plans_its_run_made() {
    let w = workflow();
    let (next, plan, tick) = (job(&w, "next"), job(&w, "plan"), job(&w, "tick"));
    let artifact = next.outputs.get("artifact").map(|v| v.to_string()).unwrap();
    assert!(artifact.contains("steps.status.outputs.id"), "{artifact}");
    assert!(
        artifact.contains("steps.status.outputs.stage"),
        "{artifact}"
    );
    let upload = step_using(plan, "actions/upload-artifact@");
    let download = step_using(tick, "actions/download-artifact@");
    let (up, down) = (with_of(upload), with_of(download));
    assert_eq!(
        up["name"],
        "${{ needs.next.outputs.artifact }}-${{ matrix.id }}"
    );
    assert_eq!(
        down["name"], up["name"],
        "the tick downloads its shard's plans"
    );
    // Only the write log's cache key carries the attempt (a cache key is
    // immutable: each attempt saves its own); no artifact name does.
    let text = text();
    let attempts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("run_attempt"))
        .map(str::trim)
        .collect();
    assert!(
        attempts
            .iter()
            .all(|l| l.starts_with("key: fleetform-rollout-deployments-")),
        "no artifact name carries the attempt: {attempts:?}"
    );
    assert_eq!(up["overwrite"], "true");
    assert_eq!(up["path"], "rollout-plans/**/bundle.sealed");
    assert_eq!(up["retention-days"], "35");
    assert_eq!(
        if_text(&shared(upload).r#if),
        "${{ !cancelled() }}",
        "also after a failed pair"
    );
    assert_eq!(down["path"], "rollout-plans");
    assert_eq!(
        run_of(tick, "rollout tick"),
        "fleetform rollout tick --id \"$ROLLOUT_ID\" --one-stage --shard \"$SHARD\" --plans-from rollout-plans"
    );
    assert_eq!(
        run_of(plan, "rollout plan"),
        "fleetform rollout plan --id \"$ROLLOUT_ID\" --shard \"$SHARD\" --out rollout-plans"
    );
}

/// What each job may do and is given: the tick in the stage's apply
/// environment, reading the run's reviews and the change's pull request;
/// plan and tick reading the registry on the default branch and the
/// manager at the rollout's commit (the whole history); the control job
/// reading the operators team.
#[test]
fn each_job_gets_what_its_checks_need() {
    let w = workflow();
    assert!(
        matches!(w.permissions, Permissions::Explicit(ref p) if p.is_empty()),
        "permissions: {{}}"
    );
    let perms = |j: &NormalJob| -> BTreeMap<String, String> {
        match &j.permissions {
            Permissions::Explicit(p) => p
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Permission::Read => "read",
                        Permission::Write => "write",
                        Permission::None => "none",
                    };
                    (k.clone(), v.to_string())
                })
                .collect(),
            other => panic!("{other:?}"),
        }
    };
    let (control, plan, tick) = (job(&w, "control"), job(&w, "plan"), job(&w, "tick"));
    let env_name = |j: &NormalJob| format!("{:?}", j.environment);
    assert!(env_name(tick).contains("${{ needs.next.outputs.environment }}-apply"));
    assert!(env_name(plan).contains("${{ needs.next.outputs.environment }}-plan"));
    assert_eq!(
        perms(tick),
        BTreeMap::from([
            ("actions".to_string(), "read".to_string()),
            ("contents".to_string(), "read".to_string()),
            ("id-token".to_string(), "write".to_string()),
            ("pull-requests".to_string(), "read".to_string()),
        ])
    );
    // The token is for the records role alone
    // (`oidc_trust::records_are_written_with_their_own_role`).
    assert_eq!(
        perms(plan),
        BTreeMap::from([
            ("contents".to_string(), "read".to_string()),
            ("id-token".to_string(), "write".to_string()),
        ])
    );
    for (name, j, step) in [
        ("plan", plan, "rollout plan"),
        ("tick", tick, "rollout tick"),
    ] {
        let checkout = step_using(j, "actions/checkout@");
        assert_eq!(
            with_of(checkout)["fetch-depth"],
            "0",
            "{name}: the rollout's commit"
        );
        let env = env_map(&shared(named(j, step)).env);
        assert_eq!(
            env["FLEETFORM_MANAGER_TOKEN"], "${{ github.token }}",
            "{name}"
        );
    }
    let env = env_map(&shared(named(tick, "rollout tick")).env);
    assert_eq!(
        env["FLEETFORM_TEAMS_TOKEN"],
        "${{ secrets.FLEETFORM_TEAMS_TOKEN }}"
    );
    let s = control
        .steps
        .iter()
        .find(|s| matches!(s, Step::Run(_)))
        .unwrap();
    assert_eq!(
        env_map(&shared(s).env)["FLEETFORM_TEAMS_TOKEN"],
        "${{ secrets.FLEETFORM_TEAMS_TOKEN }}"
    );
    let start = job(&w, "start");
    assert_eq!(
        with_of(step_using(start, "actions/checkout@"))["fetch-depth"],
        "0"
    );
    assert!(text().contains("fleetform rollout status --summary"));
}

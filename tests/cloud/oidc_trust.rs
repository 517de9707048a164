//! The OIDC subject each manager job presents, and the trust policies
//! The book documents (docs/src/security/configure.md, "The OIDC subject of each manager job"): the
//! manager templates are read with `github-actions-models`, each job that
//! asks for a token and assumes a role gives its subject (GitHub's rule:
//! the environment, else `pull_request` on a pull request, else the ref)
//! and the roles it assumes; each documented policy must admit exactly
//! the subjects of the jobs that assume its role, with `StringEquals` and
//! no wildcard. Also: the records role's credential reaches fleetform
//! alone, never the job's environment.

use std::collections::{BTreeMap, BTreeSet};

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{Env, Permission, Permissions, Uses};
use github_actions_models::workflow::job::{DeploymentEnvironment, NormalJob, Step};
use github_actions_models::workflow::{Job, Workflow};
use serde_json::Value;

const MANAGER: &str = "OWNER/MANAGER";
/// The environments of the deploy template's plan and apply jobs.
const ENVIRONMENTS: [&str; 2] = ["staging", "production"];

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every manager template, by file name.
fn templates() -> Vec<(String, Workflow)> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("workflows"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("manager-") && n.ends_with(".yml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(root().join("workflows").join(&n)).unwrap();
            let w: Workflow = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, w)
        })
        .collect()
}

fn env_map(env: &LoE<Env>) -> BTreeMap<String, String> {
    match env {
        LoE::Literal(env) => env
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        LoE::Expr(e) => panic!("{}", e.as_raw()),
    }
}

fn uses(step: &Step) -> Option<(String, BTreeMap<String, String>)> {
    match step {
        Step::Uses(u) => match &u.uses {
            Uses::Repository(r) => Some((r.to_string(), env_map(&u.with))),
            _ => None,
        },
        _ => None,
    }
}

fn step_id(step: &Step) -> Option<&str> {
    match step {
        Step::Uses(u) => u.shared.id.as_deref(),
        Step::Run(r) => r.shared.id.as_deref(),
        _ => None,
    }
}

fn step_env(step: &Step) -> BTreeMap<String, String> {
    match step {
        Step::Uses(u) => env_map(&u.shared.env),
        Step::Run(r) => env_map(&r.shared.env),
        _ => BTreeMap::new(),
    }
}

/// The steps that assume a role: `(step id, role-to-assume)`.
fn assumed(job: &NormalJob) -> Vec<(Option<&str>, String)> {
    job.steps
        .iter()
        .filter_map(|st| {
            let (action, with) = uses(st)?;
            action
                .starts_with("aws-actions/configure-aws-credentials@")
                .then(|| (step_id(st), with["role-to-assume"].clone()))
        })
        .collect()
}

/// A step that runs fleetform: one of its actions, or a `run:` that
/// calls the binary the setup action installed.
fn runs_fleetform(step: &Step) -> bool {
    if let Some((action, _)) = uses(step) {
        return action.starts_with("fleetform/fleetform/actions/");
    }
    match step {
        Step::Run(r) => r
            .run
            .lines()
            .any(|l| l.trim_start().starts_with("fleetform ") || l.contains(") fleetform ")),
        _ => false,
    }
}

fn asks_for_a_token(job: &NormalJob) -> bool {
    matches!(&job.permissions, Permissions::Explicit(p)
        if p.get("id-token") == Some(&Permission::Write))
}

/// The subject GitHub puts into the job's token.
fn subject(w: &Workflow, job: &NormalJob) -> String {
    match &job.environment {
        Some(DeploymentEnvironment::Name(n)) => format!("repo:{MANAGER}:environment:{n}"),
        Some(DeploymentEnvironment::NameURL { name, .. }) => {
            format!("repo:{MANAGER}:environment:{name}")
        }
        None if w.on.events.pull_request.is_present() => format!("repo:{MANAGER}:pull_request"),
        None => format!("repo:{MANAGER}:ref:refs/heads/main"),
    }
}

/// Which role a `role-to-assume` names, and for which environment
/// (`None`: the pair's, any environment).
fn role(expr: &str) -> (&'static str, Option<String>) {
    let env = || {
        ENVIRONMENTS
            .iter()
            .find(|e| expr.contains(&format!("['{e}']")))
            .map(|e| e.to_string())
    };
    match expr {
        "${{ vars.FLEETFORM_RECORDS_WRITE_ROLE }}" => ("FleetformRecordsWrite", None),
        "${{ vars.FLEETFORM_RECORDS_READ_ROLE }}" => ("FleetformRecordsRead", None),
        "${{ vars.FLEETFORM_DRILL_ROLE }}" => ("FleetformDrill", None),
        "${{ vars.FLEETFORM_DOCTOR_ROLE }}" => ("FleetformDoctor", None),
        "${{ matrix.identity.role_arn }}" => ("FleetformPlanRole", None),
        e if e.ends_with(".plan.role_arn }}") => ("FleetformPlanRole", Some(env().unwrap())),
        e if e.ends_with(".apply.role_arn }}") => ("FleetformApplyRole", Some(env().unwrap())),
        other => panic!("a role the trust policies do not cover: {other}"),
    }
}

/// Role → the subjects of the jobs that assume it, per environment.
fn derived() -> BTreeMap<&'static str, BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<&str, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (name, w) in templates() {
        for (job_name, job) in &w.jobs {
            let Job::NormalJob(job) = job else { continue };
            let roles = assumed(job);
            if roles.is_empty() {
                continue;
            }
            assert!(
                asks_for_a_token(job),
                "{name}: {job_name} assumes without a token"
            );
            let sub = subject(&w, job);
            for (_, expr) in roles {
                let (role, env) = role(&expr);
                let envs: Vec<String> = match env {
                    Some(e) => vec![e],
                    None => ENVIRONMENTS.iter().map(|e| e.to_string()).collect(),
                };
                for e in envs {
                    // The rollout's stage jobs take the stage's environment
                    // from the `next` job, the ops jobs from their input,
                    // the drift workflow's repair jobs from their matrix:
                    // one of the environments.
                    let sub = sub
                        .replace("${{ needs.next.outputs.environment }}", &e)
                        .replace("${{ inputs.environment }}", &e)
                        .replace("${{ matrix.environment }}", &e);
                    out.entry(role)
                        .or_default()
                        .entry(e)
                        .or_default()
                        .insert(sub);
                }
            }
        }
    }
    out
}

/// The book's trust policies (docs/src/security/configure.md), by `Sid`, from the JSON blocks of the
/// section.
fn documented() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(root().join("docs/src/security/configure.md")).unwrap();
    let start = text
        .find("## The OIDC subject of each manager job")
        .expect("the section");
    let section = &text[start..];
    let section = &section[..section[3..].find("\n# ").map_or(section.len(), |i| i + 3)];
    let mut out = BTreeMap::new();
    for block in section.split("```json\n").skip(1) {
        let json = &block[..block.find("```").unwrap()];
        let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let statements = v["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{v}");
        let st = statements[0].clone();
        out.insert(st["Sid"].as_str().unwrap().to_string(), st);
    }
    out
}

/// The subjects a documented statement admits for one environment, after
/// checking it admits nothing by pattern.
fn admitted(st: &Value, env: &str) -> BTreeSet<String> {
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(st["Action"], "sts:AssumeRoleWithWebIdentity");
    assert!(st["Principal"]["Federated"]
        .as_str()
        .unwrap()
        .ends_with(":oidc-provider/token.actions.githubusercontent.com"));
    let cond = st["Condition"].as_object().unwrap();
    assert_eq!(
        cond.keys().collect::<Vec<_>>(),
        ["StringEquals"],
        "exact matches only: {st}"
    );
    let eq = &cond["StringEquals"];
    assert_eq!(eq.as_object().unwrap().len(), 2, "{st}");
    assert_eq!(
        eq["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    eq["token.actions.githubusercontent.com:sub"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let s = s.as_str().unwrap();
            assert!(!s.contains('*') && !s.contains('?'), "a pattern: {s}");
            s.replace("<env>", env)
        })
        .collect()
}

/// Each documented policy admits every subject of the jobs that assume
/// its role and nothing else: per environment for a customer's roles,
/// over every environment for the records roles.
#[test]
fn the_documented_trust_policies_admit_exactly_the_jobs_subjects() {
    let derived = derived();
    let documented = documented();
    assert_eq!(
        documented.keys().map(String::as_str).collect::<Vec<_>>(),
        derived.keys().copied().collect::<Vec<_>>(),
        "one documented policy per role the templates assume"
    );
    for (role, per_env) in &derived {
        let st = &documented[*role];
        let records = role.starts_with("FleetformRecords");
        if records {
            let want: BTreeSet<String> = per_env.values().flatten().cloned().collect();
            let got: BTreeSet<String> = ENVIRONMENTS.iter().flat_map(|e| admitted(st, e)).collect();
            assert_eq!(got, want, "{role}");
        } else {
            for (env, want) in per_env {
                assert_eq!(&admitted(st, env), want, "{role} of {env}");
            }
        }
    }
    // What the issue found: drift's subject is admitted by the plan
    // roles, and by nothing that applies.
    let drift = format!("repo:{MANAGER}:environment:drift");
    assert!(derived["FleetformPlanRole"]["production"].contains(&drift));
    assert!(!derived["FleetformApplyRole"]["production"].contains(&drift));
    assert!(admitted(&documented["FleetformPlanRole"], "production").contains(&drift));
    assert!(!admitted(&documented["FleetformApplyRole"], "production").contains(&drift));
}

/// Every job of the deploy workflow, and every job that assumes a
/// customer's role, first assumes the records role in a step whose
/// credential never enters the job's environment, and hands it to the
/// fleetform step alone.
#[test]
fn records_are_written_with_their_own_role() {
    let mut jobs = Vec::new();
    for (name, w) in templates() {
        for (job_name, job) in &w.jobs {
            let Job::NormalJob(job) = job else { continue };
            let roles = assumed(job);
            let customer = roles
                .iter()
                .any(|(_, r)| matches!(role(r).0, "FleetformPlanRole" | "FleetformApplyRole"));
            let runs_fleetform_there = job.steps.iter().any(runs_fleetform);
            // Every job of the deploy and rollout workflows writes records
            // (refusals, plans, applies, conclusions, a rollout's events);
            // elsewhere, those that hold a customer's role.
            let writes = matches!(name.as_str(), "manager-deploy.yml" | "manager-rollout.yml");
            // `impact` (the pull request's plans) keeps no record
            // (src/lib.rs) and reads an S3 store with the plan role.
            let previews = name == "manager-pr.yml";
            // A key job only seals a customer's key for its run's jobs: it
            // writes no record (a refusal fails the job, which the
            // conclusion reports), so its environment, one per customer,
            // needs no place in the records role's trust.
            let key_job = job_name.starts_with("key-");
            if !(runs_fleetform_there && (customer || writes) && !previews) || key_job {
                continue;
            }
            jobs.push(format!("{name}:{job_name}"));
            let records = job
                .steps
                .iter()
                .position(|st| step_id(st) == Some("records"))
                .unwrap_or_else(|| panic!("{name}: {job_name}: no records step"));
            let (_, with) = uses(&job.steps[records]).unwrap();
            assert_eq!(
                with["role-to-assume"],
                "${{ vars.FLEETFORM_RECORDS_WRITE_ROLE }}"
            );
            assert_eq!(with["output-credentials"], "true", "{name}: {job_name}");
            assert_eq!(
                with["output-env-credentials"], "false",
                "{name}: {job_name}"
            );
            let customer_step = job.steps.iter().position(|st| {
                uses(st).is_some_and(|(a, w)| {
                    a.starts_with("aws-actions/configure-aws-credentials@")
                        && w["role-to-assume"] != "${{ vars.FLEETFORM_RECORDS_WRITE_ROLE }}"
                })
            });
            assert_eq!(customer_step.is_some(), customer, "{name}: {job_name}");
            if let Some(c) = customer_step {
                assert!(records < c, "{name}: {job_name}");
            }
            let mut given = 0;
            for st in &job.steps {
                let env = step_env(st);
                let own: Vec<_> = env
                    .iter()
                    .filter(|(k, _)| k.starts_with("FLEETFORM_RECORDS_AWS_"))
                    .collect();
                if own.is_empty() {
                    continue;
                }
                given += 1;
                assert!(runs_fleetform(st), "{name}: {job_name}: {env:?}");
                for (k, v) in own {
                    let out = k
                        .trim_start_matches("FLEETFORM_RECORDS_")
                        .to_ascii_lowercase()
                        .replace('_', "-");
                    assert_eq!(v, &format!("${{{{ steps.records.outputs.{out} }}}}"), "{k}");
                }
            }
            // Drift's first shard also compacts the records after its drift
            // step (`records compact`): a second fleetform step.
            let steps = if (name.as_str(), job_name.as_str()) == ("manager-drift.yml", "drift") {
                2
            } else {
                1
            };
            assert_eq!(
                given, steps,
                "{name}: {job_name}: the fleetform steps alone"
            );
        }
    }
    assert_eq!(
        jobs,
        [
            "manager-deploy.yml:authorise",
            "manager-deploy.yml:plan-staging",
            "manager-deploy.yml:plan-production",
            "manager-deploy.yml:apply-staging",
            "manager-deploy.yml:apply-production",
            "manager-deploy.yml:conclude",
            "manager-drift.yml:drift",
            "manager-rollout.yml:start",
            "manager-rollout.yml:control",
            "manager-rollout.yml:next",
            "manager-rollout.yml:plan",
            "manager-rollout.yml:tick",
            "manager-rollout.yml:deployments",
        ]
    );
}

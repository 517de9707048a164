//! A run of one workflow: its jobs in `needs` order, each decided by its
//! `if:`, expanded by its matrix, given its environment's secrets and
//! variables after the environment's rules (branch policy, reviewers),
//! and a `GITHUB_TOKEN` with its `permissions:`. Each rule cites its page
//! of "Workflow syntax for GitHub Actions"
//! (<https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax>)
//! or the page named beside it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{BasePermission, Env, If, Permission, Permissions};
use github_actions_models::workflow::job::{DeploymentEnvironment, NormalJob, Strategy};
use github_actions_models::workflow::{Job, Workflow};
use serde_json::{json, Map, Value};

use super::expr::{self, Scope, Status};
use super::steps::JobCx;
use super::{Event, Runner};
use crate::support::fake_github::{BranchPolicy, FakeGitHub};

/// What became of one job.
#[derive(Debug, Clone)]
pub struct JobRun {
    /// `success`, `failure`, `cancelled` or `skipped` (`needs.<job>.result`).
    pub result: String,
    pub outputs: BTreeMap<String, String>,
    /// What its steps printed, and the runner's own lines (`runner: ...`).
    pub log: String,
    /// Its deployment environment, if any.
    pub environment: Option<String>,
}

/// A finished attempt of a workflow run.
#[derive(Debug, Clone)]
pub struct WorkflowRun {
    pub path: String,
    pub event: Event,
    pub run_id: u64,
    pub attempt: u64,
    /// `GITHUB_SHA`.
    pub sha: String,
    /// The jobs in the order they ran (or were skipped).
    pub jobs: Vec<(String, JobRun)>,
}

impl WorkflowRun {
    /// The job `id`; panics with the run's jobs when there is none.
    pub fn job(&self, id: &str) -> &JobRun {
        self.jobs
            .iter()
            .find(|(j, _)| j == id)
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no job {id} in this run: {:?}", self.results()))
    }

    /// Each job's result, in order.
    pub fn results(&self) -> Vec<(String, String)> {
        self.jobs
            .iter()
            .map(|(j, r)| (j.clone(), r.result.clone()))
            .collect()
    }

    /// Every job named succeeded; the failing job's log otherwise.
    #[track_caller]
    pub fn assert_succeeded(&self, ids: &[&str]) {
        for id in ids {
            let job = self.job(id);
            assert!(
                job.result == "success",
                "job {id} of {} ended `{}` (all: {:?}); its log:\n{}",
                self.path,
                job.result,
                self.results(),
                job.log
            );
        }
    }
}

/// Runs attempt `attempt` of run `run_id` of the workflow at `path`; with
/// `kept`, the attempt "Re-run failed jobs" makes: each job that neither
/// failed (or was cancelled) nor needs one that runs again keeps its
/// result and outputs ("Re-running workflows and jobs": "re-run all failed
/// jobs ... and any dependent jobs").
pub(super) fn run_workflow(
    r: &mut Runner,
    gh: &FakeGitHub,
    path: &str,
    event: &Event,
    run_id: u64,
    attempt: u64,
    kept: Option<&WorkflowRun>,
) -> WorkflowRun {
    let text = crate::common::workflow::text(path);
    let wf: Workflow = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let sha = match event.payload["after"].as_str() {
        Some(after) if event.name == "push" => after.to_string(),
        _ => gh
            .branch_head(&r.repo, "main")
            .unwrap_or_else(|| panic!("{} has no main branch", r.repo)),
    };
    let run_dir = r.dir().join(format!("run-{run_id}-{attempt}"));
    std::fs::create_dir_all(&run_dir).unwrap();
    let event_path = run_dir.join("event.json");
    std::fs::write(&event_path, serde_json::to_vec(&event.payload).unwrap()).unwrap();
    let mut run = WorkflowRun {
        path: path.into(),
        event: event.clone(),
        run_id,
        attempt,
        sha,
        jobs: Vec::new(),
    };
    let approvals = std::mem::take(&mut r.approvals);
    let mut approved: Vec<String> = Vec::new();
    let mut ran_again: Vec<String> = Vec::new();
    loop {
        let next = wf.jobs.iter().find(|(id, job)| {
            !run.jobs.iter().any(|(j, _)| j == *id)
                && needs_of(job)
                    .iter()
                    .all(|n| run.jobs.iter().any(|(j, _)| j == n))
        });
        let Some((id, job)) = next else { break };
        let Job::NormalJob(job) = job else {
            panic!(
                "{path}: job {id} calls a reusable workflow, which this runner does not run yet"
            );
        };
        if let Some(before) = kept.and_then(|k| keeps(k, &ran_again, id, job)) {
            run.jobs.push((id.clone(), before));
            continue;
        }
        ran_again.push(id.clone());
        let ran = {
            let mut cx = RunCx {
                r,
                gh,
                wf: &wf,
                run: &run,
                event_path: &event_path,
                approvals: &approvals,
                approved: &mut approved,
            };
            cx.job(id, job)
        };
        run.jobs.push((id.clone(), ran));
    }
    assert_eq!(
        run.jobs.len(),
        wf.jobs.len(),
        "{path}: a job needs one that does not exist"
    );
    run
}

/// The earlier attempt's result of `id`, when "Re-run failed jobs" keeps
/// it: it did not fail and none of its needs runs again.
fn keeps(before: &WorkflowRun, ran_again: &[String], id: &str, job: &NormalJob) -> Option<JobRun> {
    let prior = before.jobs.iter().find(|(j, _)| j == id)?.1.clone();
    let failed = matches!(prior.result.as_str(), "failure" | "cancelled");
    let need_again = job.needs.iter().any(|n| ran_again.contains(n));
    (!failed && !need_again).then_some(prior)
}

fn needs_of(job: &Job) -> Vec<String> {
    match job {
        Job::NormalJob(j) => j.needs.clone(),
        Job::ReusableWorkflowCallJob(j) => j.needs.clone(),
    }
}

struct RunCx<'a> {
    r: &'a mut Runner,
    gh: &'a FakeGitHub,
    wf: &'a Workflow,
    run: &'a WorkflowRun,
    event_path: &'a PathBuf,
    approvals: &'a BTreeMap<String, String>,
    /// Environments approved in this run: "one approval releases every
    /// job of that run waiting on it" (FACTS; "Reviewing deployments").
    approved: &'a mut Vec<String>,
}

impl RunCx<'_> {
    fn job(&mut self, id: &str, job: &NormalJob) -> JobRun {
        let needs = self.needs(job);
        let all_succeeded = job.needs.iter().all(|n| {
            self.run
                .jobs
                .iter()
                .any(|(j, r)| j == n && r.result == "success")
        });
        let base = self.contexts(id, &needs, None, &BTreeMap::new());
        let status = Status {
            all_succeeded,
            cancelled: false,
        };
        let runs = match &job.r#if {
            None => all_succeeded,
            Some(If::Bool(b)) => all_succeeded && *b,
            Some(If::Expr(e)) => expr::condition(
                e,
                &Scope {
                    contexts: &base,
                    status,
                },
            )
            .unwrap_or_else(|err| panic!("{}: job {id}'s if: {err}", self.run.path)),
        };
        if !runs {
            return JobRun {
                result: "skipped".into(),
                outputs: BTreeMap::new(),
                log: String::new(),
                environment: None,
            };
        }
        let combos = matrix(job.strategy.as_ref(), &base);
        let mut merged: Option<JobRun> = None;
        for combo in combos {
            let one = self.instance(id, job, &needs, combo);
            merged = Some(match merged {
                None => one,
                Some(mut m) => {
                    if one.result != "success" {
                        m.result = one.result.clone();
                    }
                    m.outputs.extend(one.outputs);
                    m.log.push_str(&one.log);
                    m
                }
            });
        }
        merged.expect("a matrix with no combination is refused above")
    }

    /// One job (one combination of its matrix).
    fn instance(&mut self, id: &str, job: &NormalJob, needs: &Value, combo: Value) -> JobRun {
        let mut log = String::new();
        let pre = self.contexts(id, needs, Some(&combo), &BTreeMap::new());
        let environment = job.environment.as_ref().map(|e| {
            let name = match e {
                DeploymentEnvironment::Name(n) => n,
                DeploymentEnvironment::NameURL { name, .. } => name,
            };
            interpolate(name, &pre)
        });
        let fail = |log: String, why: String| JobRun {
            result: "failure".into(),
            outputs: BTreeMap::new(),
            log: format!("{log}runner: {why}\n"),
            environment: None,
        };
        if let Some(env) = &environment {
            if let Err(why) = self.deploy_to(env) {
                return fail(log, why);
            }
        }
        let secrets = self.r.secrets_for(self.gh, environment.as_deref());
        let (permissions, oidc) = token_permissions(job, self.wf, self.gh, &self.r.repo);
        let token = self.gh.mint_actions_token(&self.r.repo, &permissions);
        log.push_str(&format!(
            "runner: job {id}: environment {environment:?}, GITHUB_TOKEN {permissions:?}{}, secrets {:?}\n",
            if oidc { " + id-token" } else { "" },
            secrets.keys().collect::<Vec<_>>()
        ));
        let mut secrets_ctx = secrets.clone();
        secrets_ctx.insert("GITHUB_TOKEN".into(), token.clone());
        let vars = self.gh.variables_for(&self.r.repo, environment.as_deref());
        let mut contexts = self.contexts(id, needs, Some(&combo), &vars);
        contexts["secrets"] = json!(secrets_ctx);
        contexts["github"]["token"] = json!(token);
        let env = self.env_of(job, &contexts);
        let mut cx = JobCx::new(
            self.r,
            self.gh,
            &self.run.path,
            self.run.run_id,
            self.run.attempt,
            id,
            contexts,
            self.event_path,
            oidc,
            secrets.values().cloned().collect(),
        );
        cx.set_job_env(env);
        let ok = cx.run_job_steps(&job.steps);
        let outputs = cx.job_outputs(&job.outputs);
        log.push_str(&cx.log);
        JobRun {
            result: if ok { "success" } else { "failure" }.into(),
            outputs,
            log,
            environment,
        }
    }

    /// The environment's deployment protection rules, in GitHub's order:
    /// the branch policy, then the required reviewers ("Managing
    /// environments for deployment", "Deployment protection rules").
    fn deploy_to(&mut self, env: &str) -> Result<(), String> {
        let Some(rules) = self.gh.environment(&self.r.repo, env) else {
            // "Referencing an environment that does not exist will create
            // an environment with the referenced name."
            return Ok(());
        };
        let branch = self.run.event.git_ref.trim_start_matches("refs/heads/");
        let allowed = match &rules.branch_policy {
            BranchPolicy::Any | BranchPolicy::ProtectedBranches => true,
            BranchPolicy::Custom(patterns) => patterns
                .iter()
                .any(|(p, kind)| kind == "branch" && glob_match(p, branch)),
        };
        if !allowed {
            return Err(format!(
                "Branch \"{branch}\" is not allowed to deploy to {env} due to environment protection rules."
            ));
        }
        if rules.reviewers.is_empty() || self.approved.iter().any(|e| e == env) {
            return Ok(());
        }
        let Some(login) = self.approvals.get(env) else {
            return Err(format!(
                "waited for a reviewer of {env} ({:?}); none approved within 30 days, so the job failed (\"Reviewing deployments\")",
                rules.reviewers
            ));
        };
        assert!(
            rules.reviewers.contains(login),
            "{login} approves {env} but is not one of its reviewers {:?}",
            rules.reviewers
        );
        if rules.prevent_self_review && *login == self.run.event.actor {
            return Err(format!(
                "{login} started this run and may not approve {env} (prevent self-review)"
            ));
        }
        self.gh
            .review_run(&self.r.repo, self.run.run_id, env, login, "approved");
        self.approved.push(env.to_string());
        Ok(())
    }

    /// `needs.<job>.result` and `.outputs` of the job's needs.
    fn needs(&self, job: &NormalJob) -> Value {
        let mut out = Map::new();
        for n in &job.needs {
            let (_, r) = self.run.jobs.iter().find(|(j, _)| j == n).unwrap();
            out.insert(
                n.clone(),
                json!({ "result": r.result, "outputs": r.outputs }),
            );
        }
        Value::Object(out)
    }

    /// The contexts of job `id` ("Contexts"): `github`, `needs`,
    /// `inputs`, `vars`, `matrix`, `runner`, `job`, `strategy`, an empty
    /// `steps` and `env` (filled as the job runs).
    fn contexts(
        &self,
        id: &str,
        needs: &Value,
        matrix: Option<&Value>,
        vars: &BTreeMap<String, String>,
    ) -> Value {
        let e = &self.run.event;
        let repo = &self.r.repo;
        json!({
            "github": {
                "repository": repo,
                "repository_id": self.gh.repo_id(repo).to_string(),
                "repository_owner": repo.split('/').next().unwrap(),
                "event_name": e.name,
                "event": e.payload,
                "sha": self.run.sha,
                "ref": e.git_ref,
                "ref_name": e.git_ref.rsplit('/').next().unwrap(),
                "run_id": self.run.run_id.to_string(),
                "run_attempt": self.run.attempt.to_string(),
                "run_number": "1",
                "actor": e.actor,
                "triggering_actor": e.actor,
                "job": id,
                "workflow": self.wf.name.clone().unwrap_or_else(|| self.run.path.clone()),
                "server_url": "https://github.com",
                "api_url": self.gh.api_url(),
            },
            "needs": needs,
            "inputs": if e.inputs.is_null() { json!({}) } else { e.inputs.clone() },
            "vars": vars,
            "matrix": matrix.cloned().unwrap_or(json!({})),
            "runner": { "os": "Linux", "arch": "X64", "name": "fleetform-test-runner", "environment": "self-hosted" },
            "job": { "status": "success" },
            "strategy": { "fail-fast": true, "job-index": 0, "job-total": 1 },
            "steps": {},
            "env": {},
            "secrets": {},
        })
    }

    /// The workflow's `env:` then the job's, each interpolated
    /// (a job's wins).
    fn env_of(&self, job: &NormalJob, contexts: &Value) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for env in [&self.wf.env, &job.env] {
            for (k, v) in env_values(env, contexts) {
                out.insert(k, v);
            }
        }
        out
    }
}

/// An `env:` map's values, interpolated in `contexts`.
pub(super) fn env_values(env: &LoE<Env>, contexts: &Value) -> Vec<(String, String)> {
    match env {
        LoE::Literal(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), interpolate(&v.to_string(), contexts)))
            .collect(),
        LoE::Expr(e) => {
            let v = expr::eval(
                e.as_bare(),
                &Scope {
                    contexts,
                    status: Status::OK,
                },
            )
            .unwrap();
            let v: Value = v.try_into().unwrap_or(Value::Null);
            v.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or(&v.to_string()).into()))
                        .collect()
                })
                .unwrap_or_default()
        }
    }
}

/// `text` with its `${{ }}` replaced; a bad expression fails the test.
pub(super) fn interpolate(text: &str, contexts: &Value) -> String {
    expr::interpolate(
        text,
        &Scope {
            contexts,
            status: Status::OK,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The `GITHUB_TOKEN`'s permissions (App permission names) and whether
/// the job may ask for an OIDC token (`id-token: write`): the job's
/// `permissions:`, else the workflow's, else the repository's default
/// ("Controlling permissions for GITHUB_TOKEN": restricted = `contents`
/// and `packages` read; permissive = write to all but `id-token`).
fn token_permissions(
    job: &NormalJob,
    wf: &Workflow,
    gh: &FakeGitHub,
    repo: &str,
) -> (BTreeMap<String, String>, bool) {
    const SCOPES: [&str; 13] = [
        "actions",
        "attestations",
        "checks",
        "contents",
        "deployments",
        "discussions",
        "issues",
        "packages",
        "pages",
        "pull-requests",
        "repository-projects",
        "security-events",
        "statuses",
    ];
    let all = |access: &str| -> Vec<(String, String)> {
        SCOPES
            .iter()
            .map(|s| (s.to_string(), access.to_string()))
            .collect()
    };
    let chosen = match (&job.permissions, &wf.permissions) {
        (Permissions::Base(BasePermission::Default), other) => other,
        (own, _) => own,
    };
    let (pairs, oidc): (Vec<(String, String)>, bool) = match chosen {
        Permissions::Explicit(map) => {
            let oidc = matches!(map.get("id-token"), Some(Permission::Write));
            let pairs = map
                .iter()
                .filter(|(k, _)| *k != "id-token")
                .filter_map(|(k, p)| match p {
                    Permission::Read => Some((k.clone(), "read".to_string())),
                    Permission::Write => Some((k.clone(), "write".to_string())),
                    Permission::None => None,
                })
                .collect();
            (pairs, oidc)
        }
        Permissions::Base(BasePermission::ReadAll) => (all("read"), false),
        Permissions::Base(BasePermission::WriteAll) => (all("write"), true),
        Permissions::Base(BasePermission::Default) => {
            match gh.default_workflow_permissions(repo).as_str() {
                "write" => (all("write"), false),
                _ => (
                    vec![
                        ("contents".into(), "read".into()),
                        ("packages".into(), "read".into()),
                    ],
                    false,
                ),
            }
        }
    };
    let pairs = pairs
        .into_iter()
        .map(|(k, v)| (k.replace('-', "_"), v))
        .collect();
    (pairs, oidc)
}

/// The combinations of a job's matrix ("Using a matrix for your jobs"):
/// the product of its dimensions, less `exclude`, then each `include`
/// extending the combinations it matches or added as its own; one empty
/// combination without a matrix.
fn matrix(strategy: Option<&Strategy>, contexts: &Value) -> Vec<Value> {
    let Some(m) = strategy.and_then(|s| s.matrix.as_ref()) else {
        return vec![json!({})];
    };
    let eval_json = |raw: &str| -> Value {
        let v = expr::eval(
            raw,
            &Scope {
                contexts,
                status: Status::OK,
            },
        )
        .unwrap_or_else(|e| panic!("matrix: {e}"));
        v.try_into().unwrap_or(Value::Null)
    };
    let to_json = |v: &yaml_serde::Value| serde_json::to_value(v).unwrap();
    let m: Value = match m {
        LoE::Expr(e) => eval_json(e.as_bare()),
        LoE::Literal(lit) => {
            let mut obj = Map::new();
            if let LoE::Literal(dims) = &lit.dimensions {
                for (k, v) in dims {
                    let vals = match v {
                        LoE::Literal(vs) => Value::Array(vs.iter().map(to_json).collect()),
                        LoE::Expr(e) => eval_json(e.as_bare()),
                    };
                    obj.insert(k.clone(), vals);
                }
            }
            for (key, part) in [("include", &lit.include), ("exclude", &lit.exclude)] {
                let v = match part {
                    LoE::Literal(items) => Value::Array(
                        items
                            .iter()
                            .map(|i| {
                                Value::Object(
                                    i.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
                                )
                            })
                            .collect(),
                    ),
                    LoE::Expr(e) => eval_json(e.as_bare()),
                };
                obj.insert(key.into(), v);
            }
            Value::Object(obj)
        }
    };
    let obj = m.as_object().cloned().unwrap_or_default();
    let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
    let mut dims: Vec<String> = Vec::new();
    for (k, v) in &obj {
        if k == "include" || k == "exclude" {
            continue;
        }
        dims.push(k.clone());
        let vals = v.as_array().cloned().unwrap_or_default();
        combos = combos
            .iter()
            .flat_map(|c| {
                vals.iter().map(move |x| {
                    let mut c = c.clone();
                    c.insert(k.clone(), x.clone());
                    c
                })
            })
            .collect();
    }
    let matches = |c: &Map<String, Value>, e: &Map<String, Value>, only_dims: bool| {
        e.iter()
            .filter(|(k, _)| !only_dims || dims.contains(k))
            .all(|(k, v)| c.get(k) == Some(v))
    };
    if let Some(ex) = obj.get("exclude").and_then(Value::as_array) {
        combos.retain(|c| {
            !ex.iter()
                .filter_map(Value::as_object)
                .any(|e| matches(c, e, false))
        });
    }
    if dims.is_empty() {
        combos.clear();
    }
    if let Some(inc) = obj.get("include").and_then(Value::as_array) {
        for e in inc.iter().filter_map(Value::as_object) {
            let mut hit = false;
            for c in combos.iter_mut().filter(|c| !c.is_empty()) {
                if matches(c, e, true) {
                    c.extend(e.clone());
                    hit = true;
                }
            }
            if !hit {
                combos.push(e.clone());
            }
        }
    }
    assert!(
        !combos.is_empty() && combos.len() <= 256,
        "a matrix makes 1 to 256 jobs (\"Usage limits\"), not {}",
        combos.len()
    );
    combos.into_iter().map(Value::Object).collect()
}

/// A deployment branch policy's name pattern (`fnmatch` with `*` not
/// matching `/`, `**` matching anything; "Deployment branches and tags").
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
                (0..=n.len()).any(|i| go(&p[2..], &n[i..]))
            }
            (Some(b'*'), _) => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != b'/')
                .any(|i| go(&p[1..], &n[i..])),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

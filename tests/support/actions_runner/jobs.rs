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
use github_actions_models::common::{Env, If};
use github_actions_models::workflow::job::{DeploymentEnvironment, NormalJob};
use github_actions_models::workflow::{Job, Workflow};
use serde_json::{json, Map, Value};

use super::expr::{self, Scope, Status};
pub(super) use super::job_rules::WORKFLOW_CONCURRENCY;
use super::job_rules::{
    capped, concurrency_group, glob_match, matrix, secrets_received, token_permissions,
    JOB_CONCURRENCY,
};
use super::steps::JobCx;
use super::{Event, Runner};
use crate::support::fake_github::{BranchPolicy, FakeGitHub};
use crate::support::oidc::FakeIssuer;

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
    which: Attempt<'_>,
) -> WorkflowRun {
    let Attempt {
        run_id,
        attempt,
        kept,
        issuer,
    } = which;
    let text = crate::common::workflow::text(path);
    let wf: Workflow = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let raw: yaml_serde::Value =
        yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    if let Err(why) = super::triggers::starts(&raw, &event.name, &event.payload) {
        panic!(
            "GitHub does not run {path} for this {} event: {why}",
            event.name
        );
    }
    // GITHUB_SHA: a push's commit; for a pull request GitHub's test merge
    // commit, which the fake does not make: its head here (the relay
    // accepts either); the default branch's head for the other events
    // ("Events that trigger workflows").
    let pull = event.payload["pull_request"]["number"]
        .as_u64()
        .filter(|_| event.name == "pull_request")
        .and_then(|n| gh.pull(&r.repo, n));
    // A workflow_dispatch runs on the head of the branch it names ("Events
    // that trigger workflows", workflow_dispatch: `GITHUB_SHA` "Last commit
    // on the `GITHUB_REF` branch or tag").
    let dispatched = event
        .git_ref
        .strip_prefix("refs/heads/")
        .filter(|_| event.name == "workflow_dispatch")
        .map(|b| {
            gh.branch_head(&r.repo, b)
                .unwrap_or_else(|| panic!("{} has no branch {b}", r.repo))
        });
    let sha = match (event.payload["after"].as_str(), pull) {
        _ if dispatched.is_some() => dispatched.unwrap_or_default(),
        (Some(after), _) if event.name == "push" => after.to_string(),
        (_, Some(p)) => p.head_sha,
        _ => gh
            .branch_head(&r.repo, "main")
            .unwrap_or_else(|| panic!("{} has no main branch", r.repo)),
    };
    // The run as GitHub lists it: created once, its attempts counted
    // (a re-run keeps the run's `created_at`).
    let created_at = r
        .created
        .entry(run_id)
        .or_insert_with(crate::support::fake_github::now_rfc3339)
        .clone();
    let file = path.rsplit('/').next().unwrap_or(path);
    // GitHub's `head_branch`: a pull request's head branch, else the
    // branch of the run's ref.
    let head_branch = match event.payload["pull_request"]["head"]["ref"].as_str() {
        Some(head) if event.name == "pull_request" => head.to_string(),
        _ => event.git_ref.trim_start_matches("refs/heads/").to_string(),
    };
    gh.record_run(
        &r.repo,
        run_id,
        &format!(".github/workflows/{file}"),
        (&event.name, &head_branch),
        &event.actor,
        &sha,
        &created_at,
        attempt,
    );
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
    let workflow_contexts = json!({
        "github": { "event_name": event.name, "event": event.payload, "ref": event.git_ref, "repository": r.repo, "run_id": run_id.to_string() },
        "inputs": if event.inputs.is_null() { json!({}) } else { event.inputs.clone() },
        "vars": gh.variables_for(&r.repo, None),
    });
    concurrency_group(
        wf.concurrency.as_ref(),
        &workflow_contexts,
        WORKFLOW_CONCURRENCY,
    );
    let approvals = std::mem::take(&mut r.approvals);
    let mut shared = Shared {
        event_path: &event_path,
        approvals: &approvals,
        approved: Vec::new(),
        issuer,
        kept,
    };
    let top = Call {
        prefix: String::new(),
        inputs: None,
        cap: None,
    };
    run_jobs(r, gh, (&wf, &raw), &mut run, &top, &mut shared);
    run
}

/// What every job of a run shares, a called workflow's too.
pub(super) struct Shared<'a> {
    pub event_path: &'a PathBuf,
    pub approvals: &'a BTreeMap<String, (String, String)>,
    /// Environments approved in this run: "one approval releases every
    /// job of that run waiting on it" (FACTS; "Reviewing deployments").
    pub approved: Vec<String>,
    pub issuer: Option<&'a FakeIssuer>,
    /// The earlier attempt ("Re-run failed jobs"), for the caller's jobs.
    pub kept: Option<&'a WorkflowRun>,
}

/// Where a workflow's jobs run: the run's own (no prefix), or a called
/// workflow's ("Reuse workflows"), its jobs named `<caller> (<n>) / <job>`,
/// with the caller's `with:` as `inputs` and its token's permissions as
/// the most any job of it gets.
pub(super) struct Call {
    pub prefix: String,
    pub inputs: Option<Value>,
    pub cap: Option<(BTreeMap<String, String>, bool)>,
}

/// The jobs of `wf` in `needs` order, each recorded in `run`.
pub(super) fn run_jobs(
    r: &mut Runner,
    gh: &FakeGitHub,
    (wf, raw): (&Workflow, &yaml_serde::Value),
    run: &mut WorkflowRun,
    call: &Call,
    shared: &mut Shared<'_>,
) {
    let mut ran_again: Vec<String> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    loop {
        let next = wf
            .jobs
            .iter()
            .find(|(id, job)| !done.contains(id) && needs_of(job).iter().all(|n| done.contains(n)));
        let Some((id, job)) = next else { break };
        done.push(id.clone());
        let Job::NormalJob(job) = job else {
            super::calls::reusable(r, gh, (wf, raw), run, (id, call), shared);
            continue;
        };
        let name = format!("{}{id}", call.prefix);
        let needs: Vec<String> = job
            .needs
            .iter()
            .map(|n| format!("{}{n}", call.prefix))
            .collect();
        if let Some(before) = shared
            .kept
            .and_then(|k| keeps(k, &ran_again, &name, &needs))
        {
            run.jobs.push((name, before));
            continue;
        }
        ran_again.push(name);
        let ran = {
            let mut cx = RunCx {
                r,
                gh,
                wf,
                run,
                shared,
                raw,
                call,
            };
            cx.job(id, job)
        };
        run.jobs.push((format!("{}{id}", call.prefix), ran));
    }
    assert_eq!(
        done.len(),
        wf.jobs.len(),
        "{}: a job needs one that does not exist",
        run.path
    );
}

/// The earlier attempt's result of `id`, when "Re-run failed jobs" keeps
/// it: it did not fail and none of its needs runs again.
fn keeps(
    before: &WorkflowRun,
    ran_again: &[String],
    name: &str,
    needs: &[String],
) -> Option<JobRun> {
    let prior = before.jobs.iter().find(|(j, _)| j == name)?.1.clone();
    let failed = matches!(prior.result.as_str(), "failure" | "cancelled");
    let need_again = needs.iter().any(|n| ran_again.contains(n));
    (!failed && !need_again).then_some(prior)
}

/// Which attempt of which run, what an earlier attempt keeps ("Re-run
/// failed jobs") and where OIDC tokens come from.
pub(super) struct Attempt<'a> {
    pub run_id: u64,
    pub attempt: u64,
    pub kept: Option<&'a WorkflowRun>,
    pub issuer: Option<&'a FakeIssuer>,
}

fn needs_of(job: &Job) -> Vec<String> {
    match job {
        Job::NormalJob(j) => j.needs.clone(),
        Job::ReusableWorkflowCallJob(j) => j.needs.clone(),
    }
}

pub(super) struct RunCx<'a, 'b> {
    pub r: &'a mut Runner,
    pub gh: &'a FakeGitHub,
    pub wf: &'a Workflow,
    pub run: &'a WorkflowRun,
    pub shared: &'a mut Shared<'b>,
    /// The workflow as written (which secrets each job references).
    pub raw: &'a yaml_serde::Value,
    pub call: &'a Call,
}

impl RunCx<'_, '_> {
    fn job(&mut self, id: &str, job: &NormalJob) -> JobRun {
        let needs = self.needs(&job.needs);
        let all_succeeded = self.needs_succeeded(&job.needs);
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
        if let Some(group) = concurrency_group(job.concurrency.as_ref(), &pre, JOB_CONCURRENCY) {
            log.push_str(&format!("runner: job {id}: concurrency group {group}\n"));
        }
        let held = self.r.secrets_for(self.gh, environment.as_deref());
        let received = secrets_received(&self.raw["jobs"][id]);
        let secrets: BTreeMap<String, String> = held
            .into_iter()
            .filter(|(k, _)| received.as_ref().is_none_or(|names| names.contains(k)))
            .collect();
        let (permissions, oidc) =
            token_permissions(&job.permissions, self.wf, self.gh, &self.r.repo);
        // A called workflow's jobs get at most the caller's ("Reuse
        // workflows": permissions can only be downgraded).
        let (permissions, oidc) = match &self.call.cap {
            None => (permissions, oidc),
            Some((most, caller_oidc)) => (capped(permissions, most), oidc && *caller_oidc),
        };
        let token = self.gh.mint_actions_token(&self.r.repo, &permissions);
        // "About security hardening with OpenID Connect": the job asks
        // ACTIONS_ID_TOKEN_REQUEST_URL with ACTIONS_ID_TOKEN_REQUEST_TOKEN
        // for a token of its claims.
        let oidc = match (oidc, self.shared.issuer) {
            (false, _) => None,
            (true, Some(issuer)) => {
                issuer.set_runner_claims(self.oidc_claims(issuer, id, environment.as_deref()));
                Some((
                    issuer.request_url(),
                    crate::support::oidc::REQUEST_TOKEN.to_string(),
                ))
            }
            (true, None) => Some((
                format!("{}/_no_oidc_issuer/token", self.gh.api_url()),
                "no-issuer".to_string(),
            )),
        };
        log.push_str(&format!(
            "runner: job {id}: environment {environment:?}, GITHUB_TOKEN {permissions:?}{}, secrets {:?}{}\n",
            if oidc.is_some() { " + id-token" } else { "" },
            secrets.keys().collect::<Vec<_>>(),
            if received.is_none() {
                " (every secret of its environment: a secret read by a computed index)"
            } else {
                ""
            }
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
            self.shared.event_path,
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
        if rules.reviewers.is_empty() || self.shared.approved.iter().any(|e| e == env) {
            return Ok(());
        }
        let Some((login, comment)) = self.shared.approvals.get(env) else {
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
        self.gh.review_run_saying(
            &self.r.repo,
            (self.run.run_id, env),
            login,
            "approved",
            comment,
        );
        self.shared.approved.push(env.to_string());
        Ok(())
    }

    /// The claims of job `id`'s OIDC token ("OpenID Connect reference":
    /// `sub` names the environment when the job has one, else the pull
    /// request or the ref; `job_workflow_ref` is the workflow's path in the
    /// repository at the run's ref).
    fn oidc_claims(&self, issuer: &FakeIssuer, id: &str, env: Option<&str>) -> Value {
        let e = &self.run.event;
        let repo = &self.r.repo;
        let mut claims = issuer.claims(
            repo,
            self.gh.repo_id(repo),
            &e.name,
            &e.git_ref,
            &self.run.sha,
        );
        let file = self.run.path.rsplit('/').next().unwrap_or(&self.run.path);
        claims["sub"] = json!(match (env, e.name.as_str()) {
            (Some(env), _) => format!("repo:{repo}:environment:{env}"),
            (None, "pull_request") => format!("repo:{repo}:pull_request"),
            (None, _) => format!("repo:{repo}:ref:{}", e.git_ref),
        });
        claims["job_workflow_ref"] =
            json!(format!("{repo}/.github/workflows/{file}@{}", e.git_ref));
        claims["workflow_ref"] = claims["job_workflow_ref"].clone();
        claims["run_id"] = json!(self.run.run_id.to_string());
        claims["run_attempt"] = json!(self.run.attempt.to_string());
        claims["actor"] = json!(e.actor);
        claims["job"] = json!(id);
        if let Some(env) = env {
            claims["environment"] = json!(env);
        }
        claims
    }

    /// Whether every one of `needs` (this workflow's jobs) succeeded.
    pub(super) fn needs_succeeded(&self, needs: &[String]) -> bool {
        needs.iter().all(|n| {
            let id = format!("{}{n}", self.call.prefix);
            self.run
                .jobs
                .iter()
                .any(|(j, r)| *j == id && r.result == "success")
        })
    }

    /// `needs.<job>.result` and `.outputs` of the job's needs.
    pub(super) fn needs(&self, needs: &[String]) -> Value {
        let mut out = Map::new();
        for n in needs {
            let id = format!("{}{n}", self.call.prefix);
            let (_, r) = self.run.jobs.iter().find(|(j, _)| *j == id).unwrap();
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
    pub(super) fn contexts(
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
            "inputs": match (&self.call.inputs, e.inputs.is_null()) {
                (Some(given), _) => given.clone(),
                (None, true) => json!({}),
                (None, false) => e.inputs.clone(),
            },
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

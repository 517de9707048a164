//! A job that calls a reusable workflow ("Reuse workflows",
//! <https://docs.github.com/en/actions/how-tos/reuse-automations/reuse-workflows>):
//! `uses: ./.github/workflows/<file>` of the same repository at the
//! caller's commit, once per combination of the caller's matrix, with its
//! `with:` as the called workflow's `inputs` (their `workflow_call`
//! defaults filled in, a `number` input as a number). The called jobs are
//! jobs of the same run (one run id: their environments' approvals are the
//! run's), named `<caller> (<n>) / <job>`, each with a `GITHUB_TOKEN` no
//! wider than the caller's ("the permissions can only be downgraded"),
//! and each reading its own environment's secrets (no `secrets:` is
//! passed). The caller's result is `failure` when a called job failed.

use std::collections::BTreeMap;

use github_actions_models::common::If;
use github_actions_models::workflow::job::Strategy;
use github_actions_models::workflow::{Job, Workflow};
use serde_json::{json, Value};

use super::expr::{self, Scope, Status};
use super::job_rules::{concurrency_group, WORKFLOW_CONCURRENCY};
use super::job_rules::{matrix, token_permissions};
use super::jobs::{env_values, run_jobs, Call, JobRun, RunCx, Shared, WorkflowRun};
use super::Runner;
use crate::support::fake_github::FakeGitHub;

/// Runs caller job `id` of `wf` (a `ReusableWorkflowCallJob`).
pub(super) fn reusable(
    r: &mut Runner,
    gh: &FakeGitHub,
    (wf, raw): (&Workflow, &yaml_serde::Value),
    run: &mut WorkflowRun,
    (id, call): (&String, &Call),
    shared: &mut Shared<'_>,
) {
    let Job::ReusableWorkflowCallJob(job) = &wf.jobs[id] else {
        unreachable!("a reusable workflow call")
    };
    let raw_job = &raw["jobs"][id.as_str()];
    let (per_combo, runs) = {
        let cx = RunCx {
            r,
            gh,
            wf,
            run,
            shared,
            raw,
            call,
        };
        let needs = cx.needs(&job.needs);
        let all_succeeded = cx.needs_succeeded(&job.needs);
        let base = cx.contexts(id, &needs, None, &BTreeMap::new());
        let scope = Scope {
            contexts: &base,
            status: Status {
                all_succeeded,
                cancelled: false,
            },
        };
        let runs = match &job.r#if {
            None => all_succeeded,
            Some(If::Bool(b)) => all_succeeded && *b,
            Some(If::Expr(e)) => expr::condition(e, &scope)
                .unwrap_or_else(|err| panic!("{}: job {id}'s if: {err}", run.path)),
        };
        // github-actions-models has no `strategy` for a call: read as
        // written.
        let strategy: Option<Strategy> = raw_job
            .get("strategy")
            .map(|v| yaml_serde::from_value(v.clone()).expect("a job strategy"));
        // Each combination's contexts, for its `with:`.
        let vars = cx.gh.variables_for(&cx.r.repo, None);
        let per_combo: Vec<Value> = matrix(strategy.as_ref(), &base)
            .into_iter()
            .map(|combo| cx.contexts(id, &needs, Some(&combo), &vars))
            .collect();
        (per_combo, runs)
    };
    let name = format!("{}{id}", call.prefix);
    if !runs {
        run.jobs.push((name, finished("skipped")));
        return;
    }
    let path = called_path(&run.path, raw_job["uses"].as_str().expect("uses"));
    let text = crate::common::workflow::text(&path);
    let called: Workflow = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let called_raw: yaml_serde::Value =
        yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (most, oidc) = token_permissions(&job.permissions, wf, gh, &r.repo);
    let cap = match &call.cap {
        None => (most, oidc),
        Some((outer, outer_oidc)) => (
            most.into_iter()
                .filter(|(k, _)| outer.contains_key(k))
                .collect(),
            oidc && *outer_oidc,
        ),
    };
    let mut result = "success";
    for (n, contexts) in per_combo.into_iter().enumerate() {
        let inner = Call {
            prefix: format!("{name} ({n}) / "),
            inputs: Some(inputs(&called_raw, &env_values(&job.with, &contexts))),
            cap: Some(cap.clone()),
        };
        // The called workflow's own `concurrency`, over its inputs.
        let mut called_contexts = contexts.clone();
        called_contexts["inputs"] = inner.inputs.clone().unwrap_or_default();
        concurrency_group(
            called.concurrency.as_ref(),
            &called_contexts,
            WORKFLOW_CONCURRENCY,
        );
        run_jobs(r, gh, (&called, &called_raw), run, &inner, shared);
        let failed = run
            .jobs
            .iter()
            .any(|(j, ran)| j.starts_with(&inner.prefix) && ran.result == "failure");
        if failed {
            result = "failure";
        }
    }
    run.jobs.push((name, finished(result)));
}

/// `./.github/workflows/<file>` of the caller's repository: beside the
/// caller's file here.
fn called_path(caller: &str, uses: &str) -> String {
    let file = uses
        .strip_prefix("./.github/workflows/")
        .unwrap_or_else(|| {
            panic!("{caller}: only a workflow of the same repository is run: {uses}")
        });
    match caller.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{file}"),
        None => file.to_string(),
    }
}

/// The called workflow's `inputs`: `given` typed as its `workflow_call`
/// declares them, with their defaults.
fn inputs(called_raw: &yaml_serde::Value, given: &[(String, String)]) -> Value {
    let declared = &called_raw["on"]["workflow_call"]["inputs"];
    let mut out = serde_json::Map::new();
    if let Some(map) = declared.as_mapping() {
        for (k, spec) in map {
            let (Some(k), Some(default)) = (k.as_str(), spec.get("default")) else {
                continue;
            };
            let v: Value = yaml_serde::from_value(default.clone()).unwrap_or(Value::Null);
            out.insert(k.to_string(), v);
        }
    }
    for (k, v) in given {
        let number = declared[k.as_str()]["type"].as_str() == Some("number");
        let value = match (number, v.parse::<f64>()) {
            (true, Ok(n)) => json!(n as i64),
            _ => json!(v),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

fn finished(result: &str) -> JobRun {
    JobRun {
        result: result.into(),
        outputs: BTreeMap::new(),
        log: String::new(),
        environment: None,
    }
}

/// A run's jobs per entry, when a caller ran a workflow once per matrix
/// entry.
impl WorkflowRun {
    /// The id of job `id` working on entry `i` of the event: `id` in a
    /// run of the workflow that defines it, `<caller> (<i>) / <id>` when a
    /// caller ran that workflow once per matrix entry (manager-batch.yml
    /// for a `fleetform-batch` dispatch).
    pub fn entry_job_id(&self, i: usize, id: &str) -> String {
        let called = format!(" ({i}) / {id}");
        self.jobs
            .iter()
            .map(|(j, _)| j)
            .find(|j| j.ends_with(&called))
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// [`WorkflowRun::assert_succeeded`] for the jobs of entry `i`; in a
    /// run that called a workflow per entry, also the caller's own jobs
    /// (a batch's check).
    #[track_caller]
    pub fn assert_entry_succeeded(&self, i: usize, ids: &[&str]) {
        let mut all: Vec<String> = ids.iter().map(|id| self.entry_job_id(i, id)).collect();
        let called = self.jobs.iter().any(|(j, _)| j.contains(") / "));
        all.extend(
            self.jobs
                .iter()
                .map(|(j, _)| j.clone())
                .filter(|j| called && !j.contains(") / ")),
        );
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.assert_succeeded(&all);
    }
}

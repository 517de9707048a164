//! The shipped workflows and composite actions run as GitHub runs them
//! (issue "A GitHub as strict as github.com"): the files parsed with
//! zizmor's `github-actions-models`, their expressions with its
//! `github-actions-expressions` and evaluated over the runner's contexts
//! (`expr`), against the strict fake GitHub.
//!
//! - `jobs`: a run of a workflow: its jobs in `needs` order with `if:`,
//!   matrices and outputs; `environment:` (a job receives only its
//!   repository's and that environment's secrets and variables, and waits
//!   for the environment's reviewers); `permissions:` (the job's
//!   `GITHUB_TOKEN`, minted by the fake with exactly those).
//! - `steps`: `run:` steps in bash with `GITHUB_ENV`, `GITHUB_OUTPUT`,
//!   `GITHUB_PATH` and `GITHUB_STEP_SUMMARY`, and composite actions step by
//!   step, as the runner does.
//! - `triggers`: whether the event starts the workflow at all (its `on:`
//!   and activity types); the runner refuses to run one it would not.
//! - `stand_ins`: the third-party actions the templates use
//!   (`actions/checkout` from the fake's repositories,
//!   `hashicorp/setup-terraform` with only the versions this machine has,
//!   `aws-actions/configure-aws-credentials` over the job's OIDC token,
//!   upload/download-artifact with their names).
//!
//! fleetform's own actions (`fleetform/fleetform/...@ref`) are this
//! checkout's `actions/`, unpacked as the runner unpacks a remote action
//! (`_actions/<owner>/<repo>/<ref>/`); their installer (`action/install.sh`)
//! runs for real and finds the built binary in the runner's tool cache,
//! verified against a checksum committed in that copy, as a self-hosted
//! runner with a warm cache does.
//!
//! What the runner does not model, and so no test here may claim: job
//! concurrency groups (jobs run one at a time, in order), timeouts,
//! services and containers, masking in logs, and an `on:`'s branch and
//! path filters.
#![allow(dead_code)]

mod calls;
pub mod expr;
mod job_rules;
mod jobs;
mod stand_in_cache;
mod stand_ins;
mod steps;
mod triggers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::fake_github::FakeGitHub;
use crate::support::oidc::FakeIssuer;

pub use jobs::WorkflowRun;

/// The latest Terraform release (`hashicorp/setup-terraform` without
/// `terraform_version` installs it): 1.17.1 on 2026-10-28 (FACTS,
/// "Terraform and OpenTofu").
pub const LATEST_TERRAFORM: &str = "1.17.1";

/// One self-hosted runner of one repository, with the secret values of its
/// environments. Settings (environments, their reviewers and branch
/// policies, which secrets and variables exist) live in the fake GitHub,
/// as on github.com; the runner holds only the secrets' values.
pub struct Runner {
    /// The repository whose workflows run here, `owner/name`.
    pub repo: String,
    root: tempfile::TempDir,
    /// Secret values by (environment or `""` for the repository's, name).
    secret_values: BTreeMap<(String, String), String>,
    /// Terraform versions this runner can install, and their executable.
    terraform: BTreeMap<String, PathBuf>,
    /// What the runner machine sets for every job (its Terraform CLI
    /// configuration, the tests' retry pace).
    machine_env: BTreeMap<String, String>,
    /// Who approves a deployment to an environment when a job of the next
    /// run waits for its reviewers (environment → login).
    /// Who approves each environment in the next run, and the comment of
    /// their review.
    approvals: BTreeMap<String, (String, String)>,
    /// Artifacts uploaded, by (run id, name).
    artifacts: BTreeMap<(u64, String), stand_ins::Artifact>,
    /// The repository's caches, oldest first.
    caches: Vec<stand_in_cache::Cache>,
    /// When each run was created (RFC 3339), as the fake lists it.
    created: BTreeMap<u64, String>,
    next_run: u64,
}

/// An event that starts a run.
#[derive(Debug, Clone)]
pub struct Event {
    /// `repository_dispatch`, `push`, `workflow_dispatch`, ...
    pub name: String,
    /// The webhook payload (`github.event`).
    pub payload: Value,
    /// `github.ref`, e.g. `refs/heads/main`.
    pub git_ref: String,
    /// `github.actor`.
    pub actor: String,
    /// `inputs` (workflow_dispatch, workflow_call).
    pub inputs: Value,
}

impl Event {
    /// The `repository_dispatch` event of a dispatch the fake recorded
    /// (its body with the `sender` GitHub adds: the account whose token
    /// sent it, also the run's actor), on the default branch.
    pub fn dispatch(recorded: &Value) -> Event {
        let sender = recorded["sender"].clone();
        Event {
            name: "repository_dispatch".into(),
            payload: serde_json::json!({
                "action": recorded["event_type"],
                "client_payload": recorded["client_payload"],
                "sender": sender,
            }),
            git_ref: "refs/heads/main".into(),
            actor: sender["login"].as_str().unwrap_or_default().to_string(),
            inputs: Value::Null,
        }
    }
}

impl Event {
    /// The `workflow_dispatch` event of a dispatch the fake recorded
    /// (`FakeGitHub::workflow_dispatches`): its ref, its inputs (also in
    /// the payload, as GitHub sends them) and its sender as the actor.
    pub fn workflow_dispatch(recorded: &Value) -> Event {
        let branch = recorded["ref"].as_str().unwrap_or_default();
        let git_ref = if branch.starts_with("refs/") {
            branch.to_string()
        } else {
            format!("refs/heads/{branch}")
        };
        let sender = recorded["sender"].clone();
        Event {
            name: "workflow_dispatch".into(),
            payload: serde_json::json!({
                "inputs": recorded["inputs"],
                "ref": git_ref,
                "sender": sender,
                "workflow": recorded["workflow"],
            }),
            git_ref,
            actor: sender["login"].as_str().unwrap_or_default().to_string(),
            inputs: recorded["inputs"].clone(),
        }
    }
}

impl Runner {
    /// A runner for `repo` with the Terraform this machine has (its
    /// version read from `terraform version -json`).
    pub fn new(repo: &str) -> Runner {
        let root = tempfile::tempdir().unwrap();
        let mut terraform = BTreeMap::new();
        let (version, path) = installed_terraform();
        terraform.insert(version, path);
        Runner {
            repo: repo.into(),
            root,
            secret_values: BTreeMap::new(),
            terraform,
            machine_env: BTreeMap::new(),
            approvals: BTreeMap::new(),
            artifacts: BTreeMap::new(),
            caches: Vec::new(),
            created: BTreeMap::new(),
            next_run: 7000,
        }
    }

    /// A setting of the runner machine every job's steps see (e.g. its
    /// `TF_CLI_CONFIG_FILE`, the provider mirror a self-hosted runner
    /// holds).
    pub fn machine_env(&mut self, name: &str, value: &str) -> &mut Runner {
        self.machine_env.insert(name.into(), value.into());
        self
    }

    /// The secret `name` with `value`: the repository's (`env` `None`) or
    /// the environment's, registered in the fake as GitHub lists it.
    pub fn secret(&mut self, gh: &FakeGitHub, env: Option<&str>, name: &str, value: &str) {
        match env {
            None => gh.add_repo_secret(&self.repo, name),
            Some(e) => gh.add_environment_secret(&self.repo, e, name),
        }
        self.secret_values.insert(
            (env.unwrap_or_default().to_string(), name.into()),
            value.into(),
        );
    }

    /// What GitHub does with a secret stored through its API (`doctor
    /// --fix`, `--register-app`, `customers add --store-keys-in`): opens
    /// the sealed box with the repository's key pair, whose public half
    /// (`secret_key`'s) the fake hands out, and gives the value to the
    /// jobs of its environment. Every environment's sealed secrets of this
    /// repository are opened; a box that does not open fails the test.
    pub fn sealed_secrets(&mut self, gh: &FakeGitHub, secret_key: &crypto_box::SecretKey) {
        use base64::Engine as _;
        for env in gh.environment_names(&self.repo) {
            for (name, (_, sealed)) in gh.sealed_environment_secrets(&self.repo, &env) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&sealed)
                    .expect("a sealed secret is base64");
                let value = secret_key.unseal(&bytes).unwrap_or_else(|_| {
                    panic!("{name} in {env} is not sealed to the repository's key")
                });
                self.secret_values.insert(
                    (env.clone(), name),
                    String::from_utf8(value).expect("a secret is text"),
                );
            }
        }
    }

    /// `login` approves the deployments of the next run's jobs to `env`
    /// when they wait for the environment's reviewers.
    pub fn approve(&mut self, env: &str, login: &str) {
        self.approve_saying(env, login, "");
    }

    /// [`Runner::approve`] with the review's comment (GitHub's review
    /// dialog has one; the run's approvals list it).
    pub fn approve_saying(&mut self, env: &str, login: &str, comment: &str) {
        self.approvals
            .insert(env.into(), (login.into(), comment.into()));
    }

    /// The secrets a job in environment `env` receives: the repository's
    /// and that environment's (an environment secret wins), those the
    /// fake lists with a value here.
    fn secrets_for(&self, gh: &FakeGitHub, env: Option<&str>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for name in gh.repo_secret_names(&self.repo) {
            if let Some(v) = self.secret_values.get(&(String::new(), name.clone())) {
                out.insert(name, v.clone());
            }
        }
        if let Some(e) = env.and_then(|e| gh.environment(&self.repo, e).map(|c| (e, c))) {
            for name in &e.1.secrets {
                if let Some(v) = self.secret_values.get(&(e.0.to_string(), name.clone())) {
                    out.insert(name.clone(), v.clone());
                }
            }
        }
        out
    }

    /// Runs the workflow at `path` (relative to this checkout, e.g.
    /// `workflows/manager-deploy.yml`) for `event`, at the head of the
    /// repository's default branch, as attempt 1 of a new run.
    pub fn run(&mut self, gh: &FakeGitHub, path: &str, event: &Event) -> WorkflowRun {
        self.new_run(gh, path, event, None)
    }

    /// Runs the one workflow of `workflows` (paths as [`Runner::run`]
    /// takes them; [`workflows_in`] lists a repository's) that GitHub
    /// starts for `event`: a `fleetform-batch` dispatch runs
    /// manager-batch.yml, a plan or apply dispatch manager-deploy.yml.
    /// Fails the test when none or several would start.
    pub fn run_started(
        &mut self,
        gh: &FakeGitHub,
        workflows: &[String],
        event: &Event,
    ) -> WorkflowRun {
        let started: Vec<&String> = workflows
            .iter()
            .filter(|path| {
                let text = crate::common::workflow::text(path);
                yaml_serde::from_str::<yaml_serde::Value>(&text)
                    .is_ok_and(|raw| triggers::starts(&raw, &event.name, &event.payload).is_ok())
            })
            .collect();
        let [path] = started.as_slice() else {
            panic!(
                "{} of {workflows:?} start for this {} event: {started:?}",
                started.len(),
                event.name
            );
        };
        let path = path.to_string();
        self.run(gh, &path, event)
    }

    /// [`Runner::run`], the jobs with `id-token: write` getting their OIDC
    /// token from `issuer` with GitHub's claims for them.
    pub fn run_with_oidc(
        &mut self,
        gh: &FakeGitHub,
        issuer: &FakeIssuer,
        path: &str,
        event: &Event,
    ) -> WorkflowRun {
        self.new_run(gh, path, event, Some(issuer))
    }

    /// "Re-run failed jobs" of `run`: its failed jobs and those that need
    /// them run again as the next attempt, the others keep their results,
    /// outputs and artifacts.
    pub fn rerun_failed(&mut self, gh: &FakeGitHub, run: &WorkflowRun) -> WorkflowRun {
        self.next_attempt(gh, run, Some(run))
    }

    /// "Re-run all jobs" of `run`: the same event and commit, the next
    /// attempt (FACTS: a re-run keeps `GITHUB_SHA` and the event;
    /// `run_attempt` grows).
    pub fn rerun(&mut self, gh: &FakeGitHub, run: &WorkflowRun) -> WorkflowRun {
        self.next_attempt(gh, run, None)
    }

    fn new_run(
        &mut self,
        gh: &FakeGitHub,
        path: &str,
        event: &Event,
        issuer: Option<&FakeIssuer>,
    ) -> WorkflowRun {
        self.next_run += 1;
        let run_id = self.next_run;
        let first = jobs::Attempt {
            run_id,
            attempt: 1,
            kept: None,
            issuer,
        };
        jobs::run_workflow(self, gh, path, event, first)
    }

    fn next_attempt(
        &mut self,
        gh: &FakeGitHub,
        run: &WorkflowRun,
        kept: Option<&WorkflowRun>,
    ) -> WorkflowRun {
        let next = jobs::Attempt {
            run_id: run.run_id,
            attempt: run.attempt + 1,
            kept,
            issuer: None,
        };
        jobs::run_workflow(self, gh, &run.path, &run.event, next)
    }

    /// `run` was created `secs` ago: its next attempt (a re-run) is one of
    /// an old run, as a re-run days later is on github.com.
    pub fn age(&mut self, run: &WorkflowRun, secs: u64) {
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        self.created
            .insert(run.run_id, crate::support::fake_github::rfc3339_at(then));
    }

    fn dir(&self) -> &Path {
        self.root.path()
    }

    /// The runner machine's disk: every job's workspace and temp folder,
    /// and the artifacts uploaded (a test searches it for what must never
    /// be written).
    pub fn disk(&self) -> &Path {
        self.dir()
    }
}

/// The workflows of a repository's `.github/workflows` folder `dir`, as
/// [`Runner::run_started`] takes them.
pub fn workflows_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yml"))
        .map(|p| p.display().to_string())
        .collect();
    out.sort();
    out
}

/// The Terraform on this machine's PATH: its version and executable.
pub fn installed_terraform() -> (String, PathBuf) {
    static FOUND: OnceLock<(String, PathBuf)> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let out = std::process::Command::new("terraform")
                .args(["version", "-json"])
                .output()
                .expect("terraform is on PATH (bash tests/check.sh checks it)");
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let version = v["terraform_version"].as_str().unwrap().to_string();
            let which = std::process::Command::new("bash")
                .args(["-c", "command -v terraform"])
                .output()
                .unwrap();
            let path = PathBuf::from(String::from_utf8(which.stdout).unwrap().trim());
            (version, path)
        })
        .clone()
}

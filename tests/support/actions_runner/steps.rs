//! A job's steps as the runner runs them: `run:` in bash with the runner's
//! variables and file commands, `uses:` of a composite action step by
//! step, and of a third-party action through its stand-in. Each rule cites
//! its page: "Workflow syntax" (`jobs.<id>.steps`), "Metadata syntax for
//! GitHub Actions" (composite actions), "Workflow commands for GitHub
//! Actions" (file commands) and "Variables" (the default variables).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use github_actions_models::action::{self, Action, Runs, StepBody};
use github_actions_models::common::expr::{BoE, LoE};
use github_actions_models::common::{Env, If, Uses};
use github_actions_models::workflow::job::Step;
use serde_json::{json, Value};

use super::expr::{self, Scope, Status};
use super::jobs::{env_values, interpolate};
use super::{stand_ins, Runner};
use crate::support::fake_github::FakeGitHub;

/// What a step does, from a workflow's step or a composite action's.
pub(super) enum Body<'a> {
    Run {
        script: &'a str,
        shell: Option<String>,
        working_directory: Option<&'a str>,
    },
    Uses {
        uses: &'a Uses,
        with: &'a LoE<Env>,
    },
}

/// One step, whichever file it comes from.
pub(super) struct StepDef<'a> {
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub r#if: Option<&'a If>,
    pub env: &'a LoE<Env>,
    pub continue_on_error: &'a BoE,
    pub body: Body<'a>,
}

fn of_workflow(s: &Step) -> StepDef<'_> {
    match s {
        Step::Run(r) => StepDef {
            id: r.shared.id.as_deref(),
            name: r.shared.name.as_deref(),
            r#if: r.shared.r#if.as_ref(),
            env: &r.shared.env,
            continue_on_error: &r.shared.continue_on_error,
            body: Body::Run {
                script: &r.run,
                shell: r.shell.as_ref().map(shell_name),
                working_directory: r.working_directory.as_deref(),
            },
        },
        Step::Uses(u) => StepDef {
            id: u.shared.id.as_deref(),
            name: u.shared.name.as_deref(),
            r#if: u.shared.r#if.as_ref(),
            env: &u.shared.env,
            continue_on_error: &u.shared.continue_on_error,
            body: Body::Uses {
                uses: &u.uses,
                with: &u.with,
            },
        },
        other => panic!("a step kind this runner does not run: {other:?}"),
    }
}

fn of_action(s: &action::Step) -> StepDef<'_> {
    StepDef {
        id: s.id.as_deref(),
        name: s.name.as_deref(),
        r#if: s.r#if.as_ref(),
        env: &s.env,
        continue_on_error: &s.continue_on_error,
        body: match &s.body {
            StepBody::Run {
                run,
                shell,
                working_directory,
            } => Body::Run {
                script: run,
                shell: Some(shell_name(shell)),
                working_directory: working_directory.as_deref(),
            },
            StepBody::Uses { uses, with } => Body::Uses { uses, with },
        },
    }
}

fn shell_name(s: &LoE<String>) -> String {
    match s {
        LoE::Literal(s) => s.clone(),
        LoE::Expr(e) => panic!("a shell from an expression: {}", e.as_raw()),
    }
}

/// One running job: its contexts, its environment and its files.
pub(super) struct JobCx<'a> {
    pub runner: &'a mut Runner,
    pub gh: &'a FakeGitHub,
    pub contexts: Value,
    pub workspace: PathBuf,
    /// The job's folder: `RUNNER_TEMP`, the file commands' files.
    pub dir: PathBuf,
    /// The default variables and the machine's settings.
    base_env: BTreeMap<String, String>,
    /// The workflow's and job's `env:` and what `GITHUB_ENV` added.
    job_env: BTreeMap<String, String>,
    /// What `GITHUB_PATH` added, newest first.
    path: Vec<String>,
    pub log: String,
    /// The values of the job's secrets: an output holding one is not set.
    secret_values: Vec<String>,
    /// Values a step masked with `::add-mask::`.
    masks: Vec<String>,
    steps_run: usize,
    pub run_id: u64,
    pub attempt: u64,
}

impl<'a> JobCx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        runner: &'a mut Runner,
        gh: &'a FakeGitHub,
        workflow: &str,
        run_id: u64,
        attempt: u64,
        job: &str,
        mut contexts: Value,
        event_path: &Path,
        oidc: Option<(String, String)>,
        secret_values: Vec<String>,
    ) -> JobCx<'a> {
        let dir = runner
            .dir()
            .join(format!("run-{run_id}-{attempt}"))
            .join(job)
            .join(format!("{:03}", next_instance()));
        let workspace = dir.join("work");
        for d in ["work", "temp", "home", "files"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let g = &contexts["github"];
        let s = |k: &str| g[k].as_str().unwrap_or_default().to_string();
        let mut base: BTreeMap<String, String> = runner.machine_env.clone();
        for (k, v) in [
            ("CI", "true".to_string()),
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_REPOSITORY", s("repository")),
            ("GITHUB_REPOSITORY_ID", s("repository_id")),
            ("GITHUB_REPOSITORY_OWNER", s("repository_owner")),
            ("GITHUB_EVENT_NAME", s("event_name")),
            ("GITHUB_EVENT_PATH", event_path.display().to_string()),
            ("GITHUB_SHA", s("sha")),
            ("GITHUB_REF", s("ref")),
            ("GITHUB_REF_NAME", s("ref_name")),
            ("GITHUB_RUN_ID", s("run_id")),
            ("GITHUB_RUN_ATTEMPT", s("run_attempt")),
            ("GITHUB_RUN_NUMBER", s("run_number")),
            ("GITHUB_ACTOR", s("actor")),
            ("GITHUB_TRIGGERING_ACTOR", s("actor")),
            ("GITHUB_JOB", job.into()),
            ("GITHUB_WORKFLOW", s("workflow")),
            (
                "GITHUB_WORKFLOW_REF",
                format!("{}/{workflow}@{}", s("repository"), s("ref")),
            ),
            ("GITHUB_SERVER_URL", s("server_url")),
            ("GITHUB_API_URL", s("api_url")),
            ("GITHUB_WORKSPACE", workspace.display().to_string()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
            ("RUNNER_NAME", "fleetform-test-runner".into()),
            ("RUNNER_TEMP", dir.join("temp").display().to_string()),
            (
                "RUNNER_TOOL_CACHE",
                stand_ins::tool_cache().display().to_string(),
            ),
            ("HOME", dir.join("home").display().to_string()),
        ] {
            base.insert(k.to_string(), v);
        }
        if let Some(tmp) = std::env::var_os("TMPDIR") {
            base.insert("TMPDIR".into(), tmp.to_string_lossy().into_owned());
        }
        if let Some((url, token)) = oidc {
            // "About security hardening with OpenID Connect": a job with
            // `id-token: write` gets these two.
            base.insert("ACTIONS_ID_TOKEN_REQUEST_URL".into(), url);
            base.insert("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), token);
        }
        contexts["github"]["workspace"] = json!(workspace.display().to_string());
        contexts["runner"]["temp"] = json!(dir.join("temp").display().to_string());
        contexts["runner"]["tool_cache"] = json!(stand_ins::tool_cache().display().to_string());
        JobCx {
            runner,
            gh,
            contexts,
            workspace,
            dir,
            base_env: base,
            job_env: BTreeMap::new(),
            path: Vec::new(),
            log: String::new(),
            secret_values,
            masks: Vec::new(),
            steps_run: 0,
            run_id,
            attempt,
        }
    }

    pub fn set_job_env(&mut self, env: BTreeMap<String, String>) {
        self.contexts["env"] = json!(env);
        self.job_env = env;
    }

    /// Whether the job may ask for an OIDC token.
    pub fn has_oidc(&self) -> bool {
        self.base_env.contains_key("ACTIONS_ID_TOKEN_REQUEST_URL")
    }

    /// Runs the job's steps; whether the job succeeded.
    pub fn run_job_steps(&mut self, steps: &[Step]) -> bool {
        let defs: Vec<StepDef> = steps.iter().map(of_workflow).collect();
        let mut scope = self.contexts.clone();
        let ok = self.run_steps(&defs, &mut scope, None, &BTreeMap::new());
        self.contexts["steps"] = scope["steps"].clone();
        ok
    }

    /// The job's `outputs:`, interpolated after its steps; an output that
    /// holds a secret's value is not set ("Passing information between
    /// jobs": "Outputs containing secrets are redacted on the runner and
    /// not sent to GitHub Actions").
    pub fn job_outputs(&mut self, outputs: &Env) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in outputs {
            let value = interpolate(&v.to_string(), &self.contexts);
            if self
                .secret_values
                .iter()
                .any(|s| !s.is_empty() && value.contains(s.as_str()))
            {
                self.log.push_str(&format!(
                    "runner: Skip output '{k}' since it may contain secret.\n"
                ));
                continue;
            }
            out.insert(k.clone(), value);
        }
        out
    }

    /// Runs `defs` in `scope` (a job's contexts, or a composite action's);
    /// `action_path` is the composite action's folder. Whether every step
    /// succeeded (or continued on error).
    pub(super) fn run_steps(
        &mut self,
        defs: &[StepDef],
        scope: &mut Value,
        action_path: Option<&Path>,
        outer_env: &BTreeMap<String, String>,
    ) -> bool {
        let mut all_ok = true;
        for def in defs {
            let status = Status {
                all_succeeded: all_ok,
                cancelled: false,
            };
            let runs = match def.r#if {
                None => all_ok,
                Some(If::Bool(b)) => all_ok && *b,
                Some(If::Expr(e)) => expr::condition(
                    e,
                    &Scope {
                        contexts: scope,
                        status,
                    },
                )
                .unwrap_or_else(|err| panic!("step {:?}'s if: {err}", def.name.or(def.id))),
            };
            let label =
                def.name
                    .or(def.id)
                    .map(str::to_string)
                    .unwrap_or_else(|| match &def.body {
                        Body::Uses { uses, .. } => uses.raw().to_string(),
                        Body::Run { script, .. } => script.lines().next().unwrap_or("").to_string(),
                    });
            if !runs {
                self.record(def.id, scope, "skipped", "skipped", BTreeMap::new());
                continue;
            }
            let mut env = outer_env.clone();
            env.extend(env_values(def.env, scope));
            let (ok, outputs) = match &def.body {
                Body::Run {
                    script,
                    shell,
                    working_directory,
                } => {
                    // In a workflow no `shell:` is `bash -e {0}`; a
                    // composite step must name one.
                    assert!(
                        shell.is_some() || action_path.is_none(),
                        "a composite run step needs `shell:`"
                    );
                    self.run_script(
                        &label,
                        script,
                        shell.as_deref(),
                        *working_directory,
                        &env,
                        action_path,
                    )
                }
                Body::Uses { uses, with } => {
                    let with: BTreeMap<String, String> =
                        env_values(with, scope).into_iter().collect();
                    self.uses(&label, uses, with, &env, scope)
                }
            };
            let continue_on_error = match def.continue_on_error {
                LoE::Literal(b) => *b,
                LoE::Expr(e) => interpolate(e.as_curly(), scope) == "true",
            };
            let outcome = if ok { "success" } else { "failure" };
            let conclusion = if ok || continue_on_error {
                "success"
            } else {
                "failure"
            };
            self.record(def.id, scope, outcome, conclusion, outputs);
            if conclusion == "failure" {
                self.log
                    .push_str(&format!("runner: step `{label}` failed\n"));
                all_ok = false;
            }
        }
        all_ok
    }

    fn record(
        &mut self,
        id: Option<&str>,
        scope: &mut Value,
        outcome: &str,
        conclusion: &str,
        outputs: BTreeMap<String, String>,
    ) {
        if let Some(id) = id {
            scope["steps"][id] = json!({
                "outputs": outputs,
                "outcome": outcome,
                "conclusion": conclusion,
            });
        }
    }

    /// A `run:` step: the script in a file, run by its shell with the
    /// job's variables, then its file commands read.
    fn run_script(
        &mut self,
        label: &str,
        script: &str,
        shell: Option<&str>,
        working_directory: Option<&str>,
        step_env: &BTreeMap<String, String>,
        action_path: Option<&Path>,
    ) -> (bool, BTreeMap<String, String>) {
        self.steps_run += 1;
        let n = self.steps_run;
        let files = self.dir.join("files");
        let script_path = files.join(format!("step-{n}.sh"));
        std::fs::write(&script_path, script).unwrap();
        let file = |what: &str| {
            let p = files.join(format!("{what}-{n}"));
            std::fs::write(&p, "").unwrap();
            p
        };
        let (output, env_file, path_file, summary) =
            (file("output"), file("env"), file("path"), file("summary"));
        // "Default shell": `bash -e {0}` without `shell:` (a workflow's
        // step); `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
        let mut cmd = Command::new("bash");
        match shell {
            None => cmd.arg("-e"),
            Some("bash") => cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]),
            Some(other) => panic!("shell {other} is not run by this runner"),
        };
        cmd.arg(&script_path);
        cmd.env_clear();
        let mut env = self.base_env.clone();
        env.extend(self.job_env.clone());
        env.extend(step_env.clone());
        env.insert("GITHUB_OUTPUT".into(), output.display().to_string());
        env.insert("GITHUB_ENV".into(), env_file.display().to_string());
        env.insert("GITHUB_PATH".into(), path_file.display().to_string());
        env.insert("GITHUB_STEP_SUMMARY".into(), summary.display().to_string());
        if let Some(p) = action_path {
            env.insert("GITHUB_ACTION_PATH".into(), p.display().to_string());
        }
        let mut path = self.path.clone();
        path.push("/usr/bin:/bin".into());
        env.insert("PATH".into(), path.join(":"));
        cmd.envs(&env);
        let wd = match working_directory {
            Some(w) => self.workspace.join(w),
            None => self.workspace.clone(),
        };
        cmd.current_dir(wd);
        let out = cmd.output().unwrap();
        self.log.push_str(&format!("runner: step `{label}`\n"));
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream).into_owned();
            self.shown(&text);
        }
        for (k, v) in file_commands(&env_file) {
            self.job_env.insert(k, v);
        }
        self.contexts["env"] = json!(self.job_env);
        for line in std::fs::read_to_string(&path_file).unwrap().lines().rev() {
            if !line.trim().is_empty() {
                self.path.insert(0, line.trim().to_string());
            }
        }
        (
            out.status.success(),
            file_commands(&output).into_iter().collect(),
        )
    }

    /// A `uses:` step: a composite action (fleetform's own, or a local
    /// one), else a third-party action's stand-in.
    fn uses(
        &mut self,
        label: &str,
        uses: &Uses,
        with: BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
        scope: &Value,
    ) -> (bool, BTreeMap<String, String>) {
        match uses {
            Uses::Local(l) => {
                let dir = self.workspace.join(l.raw().trim_start_matches("./"));
                self.composite(label, &dir, with, env, scope)
            }
            Uses::Repository(u) if u.owner() == "fleetform" && u.repo() == "fleetform" => {
                let dir = stand_ins::fleetform_action(u.git_ref(), u.subpath());
                self.composite(label, &dir, with, env, scope)
            }
            Uses::Repository(u) => {
                let name = match u.subpath() {
                    Some(sub) => format!("{}/{}/{sub}", u.owner(), u.repo()),
                    None => format!("{}/{}", u.owner(), u.repo()),
                };
                self.log
                    .push_str(&format!("runner: step `{label}` ({name}, a stand-in)\n"));
                let mut env_all = self.job_env.clone();
                env_all.extend(env.clone());
                let result = stand_ins::run(self, &name, &with, &env_all);
                match result {
                    Ok(outputs) => (true, outputs),
                    Err(why) => {
                        self.log.push_str(&format!("::error::{why}\n"));
                        (false, BTreeMap::new())
                    }
                }
            }
            Uses::Docker(d) => panic!("docker actions are not run here: {}", d.raw()),
        }
    }

    /// A composite action: its inputs from `with` and their defaults, its
    /// steps in its own `steps` context with `GITHUB_ACTION_PATH`, its
    /// outputs from its steps'; the `env:` of the step that uses it
    /// reaches every step of it.
    fn composite(
        &mut self,
        label: &str,
        dir: &Path,
        with: BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
        scope: &Value,
    ) -> (bool, BTreeMap<String, String>) {
        let file = ["action.yml", "action.yaml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|f| f.is_file())
            .unwrap_or_else(|| panic!("{label}: no action.yml in {}", dir.display()));
        let text = std::fs::read_to_string(&file).unwrap();
        let action: Action =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let Runs::Composite(composite) = &action.runs else {
            panic!("{}: not a composite action", file.display());
        };
        let mut inner = json!({
            "github": scope["github"].clone(),
            "env": scope["env"].clone(),
            "runner": scope["runner"].clone(),
            "job": scope["job"].clone(),
            "matrix": scope["matrix"].clone(),
            "strategy": scope["strategy"].clone(),
            "steps": {},
            "inputs": {},
        });
        inner["github"]["action_path"] = json!(dir.display().to_string());
        for k in with.keys() {
            if !action.inputs.contains_key(k) {
                self.log.push_str(&format!(
                    "::warning::Unexpected input(s) '{k}', valid inputs are {:?}\n",
                    action.inputs.keys().collect::<Vec<_>>()
                ));
            }
        }
        let mut inputs = serde_json::Map::new();
        for (name, input) in &action.inputs {
            let value = match with.get(name) {
                Some(v) => v.clone(),
                None => interpolate(input.default.as_deref().unwrap_or(""), &inner),
            };
            if input.required == Some(true) && value.is_empty() && !with.contains_key(name) {
                self.log.push_str(&format!(
                    "::warning::Input required and not supplied: {name}\n"
                ));
            }
            inputs.insert(name.clone(), json!(value));
        }
        inner["inputs"] = Value::Object(inputs);
        let defs: Vec<StepDef> = composite.steps.iter().map(of_action).collect();
        self.log.push_str(&format!(
            "runner: step `{label}` (composite {})\n",
            dir.display()
        ));
        let ok = self.run_steps(&defs, &mut inner, Some(dir), env);
        let outputs = action
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    interpolate(o.value.as_deref().unwrap_or(""), &inner),
                )
            })
            .collect();
        (ok, outputs)
    }

    /// A step's output as the job's log shows it ("Workflow commands":
    /// `::add-mask::VALUE` hides VALUE from then on and is itself not
    /// shown; the job's secrets are masked from the start).
    fn shown(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(value) = line.trim_start().strip_prefix("::add-mask::") {
                if !value.trim().is_empty() {
                    self.masks.push(value.trim().to_string());
                }
                continue;
            }
            let mut line = line.to_string();
            for m in self.masks.iter().chain(&self.secret_values) {
                if !m.is_empty() {
                    line = line.replace(m.as_str(), "***");
                }
            }
            self.log.push_str(&line);
            self.log.push('\n');
        }
    }

    /// The job's environment as a step's process sees it (for stand-ins
    /// that run a command).
    pub fn process_env(&self, step_env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = self.base_env.clone();
        env.extend(self.job_env.clone());
        env.extend(step_env.clone());
        let mut path = self.path.clone();
        path.push("/usr/bin:/bin".into());
        env.insert("PATH".into(), path.join(":"));
        env
    }

    /// A stand-in adds a folder to `PATH` for the later steps.
    pub fn add_path(&mut self, dir: &Path) {
        self.path.insert(0, dir.display().to_string());
    }

    /// A stand-in masks `value` from then on (`core.setSecret`).
    pub fn mask(&mut self, value: &str) {
        if !value.is_empty() {
            self.masks.push(value.to_string());
        }
    }

    /// A stand-in sets a variable for the later steps (`GITHUB_ENV`).
    pub fn export(&mut self, name: &str, value: &str) {
        self.job_env.insert(name.into(), value.into());
        self.contexts["env"] = json!(self.job_env);
    }
}

/// `NAME=value` and `NAME<<DELIMITER` ... `DELIMITER` lines of a file
/// command ("Workflow commands": "Multiline strings").
fn file_commands(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value: Vec<&str> = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_string(), value.to_string()));
        }
    }
    out
}

/// A number for each job instance this process runs (their folders).
fn next_instance() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

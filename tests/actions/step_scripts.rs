//! Each composite action's fleetform step run the way the runner runs it:
//! its `run:` script with bash (`--noprofile --norc -eo pipefail`), its
//! `env:` mapping with `${{ inputs.x }}` replaced by the given input or its
//! default, in a runner-like environment, against the fake GitHub, with the
//! real fleetform binary. The setup step is modelled: its `path` output is
//! the built binary, whose folder is also on PATH.

use crate::common;
use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{dispatch_key, parse_outputs, require_terraform, Fixture, DISPATCH_SECRET};
use github_actions_models::action::{Action, Runs, StepBody};
use github_actions_models::common::expr::LoE;
use github_actions_models::common::EnvValue;
use serde_json::{json, Value};
use support::fake_github::FakeGitHub;

pub(crate) const MANAGER: &str = "provider/manager";

/// The manager's artifact secret (`FLEETFORM_ARTIFACT_KEY`) in these jobs.
const ARTIFACT_KEY: &str = "fleetform-test-artifact-key-0123456789abcdef";

const ACME: &str = "acme-corp/acme-infra";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Not spawned here: the action's step scripts find it on PATH and run it.
fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("fleetform")
}

/// What one action step got and left behind.
pub(crate) struct StepResult {
    out: Output,
    pub(crate) outputs: BTreeMap<String, String>,
    summary: String,
}

impl StepResult {
    pub(crate) fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub(crate) fn ok(&self) -> &Self {
        assert_eq!(
            self.code(),
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// A GitHub Actions job: the workspace and the run's context.
pub(crate) struct Job {
    workspace: PathBuf,
    scratch: tempfile::TempDir,
    env: BTreeMap<String, String>,
    /// `github.*` values for expressions in input defaults.
    github: BTreeMap<&'static str, String>,
    /// The setup step's `path` output.
    pub(crate) setup_path: String,
}

impl Job {
    pub(crate) fn new(
        workspace: &Path,
        repository: &str,
        event_name: &str,
        event: &Value,
        sha: &str,
        gh: &FakeGitHub,
        run_id: u64,
    ) -> Job {
        let scratch = tempfile::tempdir().unwrap();
        let event_path = scratch.path().join("event.json");
        std::fs::write(&event_path, serde_json::to_vec(event).unwrap()).unwrap();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_API_URL", gh.api_url()),
            ("GITHUB_SERVER_URL", "https://github.com".into()),
            ("GITHUB_REPOSITORY", repository.into()),
            ("GITHUB_EVENT_NAME", event_name.into()),
            ("GITHUB_EVENT_PATH", event_path.display().to_string()),
            ("GITHUB_SHA", sha.into()),
            ("GITHUB_RUN_ID", run_id.to_string()),
            ("GITHUB_WORKSPACE", workspace.display().to_string()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
            ("FLEETFORM_RETRY_BASE_MS", "50".into()),
        ] {
            env.insert(k.to_string(), v);
        }
        Job {
            workspace: workspace.to_path_buf(),
            scratch,
            env,
            github: BTreeMap::from([
                ("github.repository", repository.to_string()),
                // The job's GITHUB_TOKEN (the trigger's status-token default).
                ("github.token", gh.token().to_string()),
            ]),
            setup_path: binary().display().to_string(),
        }
    }

    /// The job's workspace: where its steps run.
    pub(crate) fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// Runs the fleetform step of `actions/<name>` with `inputs`.
    pub(crate) fn run(
        &self,
        name: &str,
        inputs: &[(&str, &str)],
        extra_env: &[(&str, &str)],
    ) -> StepResult {
        let rel = format!("actions/{name}/action.yml");
        let text = std::fs::read_to_string(repo().join(&rel)).unwrap();
        let action: Action = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let Runs::Composite(c) = &action.runs else {
            panic!("{rel}: not composite")
        };
        let given: BTreeMap<&str, &str> = inputs.iter().copied().collect();
        for k in given.keys() {
            assert!(action.inputs.contains_key(*k), "{rel} has no input `{k}`");
        }
        // The runner's view of the inputs: given, else the default.
        let mut values = BTreeMap::new();
        for (input, spec) in &action.inputs {
            let v = match given.get(input.as_str()) {
                Some(v) => v.to_string(),
                None => {
                    assert!(
                        spec.required != Some(true),
                        "{rel}: required input `{input}` not given"
                    );
                    let d = spec.default.clone().unwrap_or_default();
                    match expression(&d) {
                        Some(e) => self
                            .github
                            .get(e)
                            .unwrap_or_else(|| panic!("{rel}: default {d}"))
                            .clone(),
                        None => d,
                    }
                }
            };
            values.insert(input.clone(), v);
        }
        let step = c
            .steps
            .iter()
            .find(|s| s.id.as_deref() == Some("run"))
            .expect("a run step");
        let StepBody::Run { run, .. } = &step.body else {
            panic!("{rel}: run step")
        };
        let LoE::Literal(env) = &step.env else {
            panic!("{rel}: env")
        };

        let dir = tempfile::tempdir_in(self.scratch.path()).unwrap();
        let script = dir.path().join("step.sh");
        std::fs::write(&script, run).unwrap();
        let output = dir.path().join("output");
        let summary = dir.path().join("summary");
        std::fs::write(&output, "").unwrap();
        std::fs::write(&summary, "").unwrap();
        let runner_temp = dir.path().join("temp");
        std::fs::create_dir_all(&runner_temp).unwrap();

        let bin_dir = binary().parent().unwrap().to_path_buf();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script);
        cmd.current_dir(&self.workspace);
        crate::common::scrub(&mut cmd, &["HOME", "TMPDIR"]);
        cmd.env("PATH", path);
        cmd.envs(&self.env)
            .env("GITHUB_ACTION_PATH", repo().join("actions").join(name))
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("RUNNER_TEMP", &runner_temp);
        for (k, v) in env {
            let raw = match v {
                EnvValue::String(s) => s.clone(),
                other => other.to_string(),
            };
            let value = match expression(&raw) {
                Some(e) if e.starts_with("inputs.") => values[&e["inputs.".len()..]].clone(),
                Some("steps.setup.outputs.path") => self.setup_path.clone(),
                Some(e) => panic!("{rel}: {k}: the harness does not evaluate `{e}`"),
                None => raw,
            };
            cmd.env(k, value);
        }
        cmd.envs(extra_env.iter().copied());
        let out = cmd.output().unwrap();
        StepResult {
            out,
            outputs: parse_outputs(&std::fs::read_to_string(&output).unwrap()),
            summary: std::fs::read_to_string(&summary).unwrap(),
        }
    }
}

fn expression(value: &str) -> Option<&str> {
    Some(value.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim())
}

/// Outputs an action declares for a value the binary does not write yet
/// (another change adds it): (action, output).
const PENDING_OUTPUTS: &[(&str, &str)] = &[];

/// Every output the action declares was written by its step.
pub(crate) fn assert_all_outputs(name: &str, r: &StepResult) {
    let rel = format!("actions/{name}/action.yml");
    let action: Action =
        yaml_serde::from_str(&std::fs::read_to_string(repo().join(&rel)).unwrap()).unwrap();
    for out in action.outputs.keys() {
        if PENDING_OUTPUTS.contains(&(name, out.as_str())) && !r.outputs.contains_key(out) {
            eprintln!("note: {rel}: output `{out}` is not written by fleetform yet");
            continue;
        }
        assert!(
            r.outputs.contains_key(out),
            "{rel}: output `{out}` was not set; got {:?}",
            r.outputs
        );
    }
}

/// The fake GitHub with the manager and customer repos of `examples/`.
struct World {
    fx: Fixture,
    gh: FakeGitHub,
    run_id: u64,
}

impl World {
    pub(crate) fn new() -> World {
        require_terraform();
        let fx = Fixture::new();
        let gh = FakeGitHub::start();
        gh.add_repo(MANAGER);
        gh.commit(
            MANAGER,
            "main",
            &[
                (
                    "schema/variables.schema.json",
                    &fx.read("manager/schema/variables.schema.json"),
                ),
                ("customers.yml", &fx.read("manager/customers.yml")),
            ],
        );
        for (repo, dir) in [
            (ACME, "acme"),
            ("globex/globex-app", "globex"),
            ("initech/tps-reports", "initech"),
        ] {
            gh.add_repo(repo);
            let base = fx.path(&format!("customers/{dir}/infra"));
            let mut files = Vec::new();
            for e in std::fs::read_dir(&base).unwrap() {
                let e = e.unwrap();
                files.push((
                    format!("infra/{}", e.file_name().to_string_lossy()),
                    std::fs::read_to_string(e.path()).unwrap(),
                ));
            }
            let refs: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            gh.commit(repo, "main", &refs);
        }
        World {
            fx,
            gh,
            run_id: 5000,
        }
    }

    fn next_run(&mut self) -> u64 {
        self.run_id += 1;
        self.run_id
    }

    /// The customer's checkout at `sha`: the job's workspace.
    fn checkout(&self, sha: &str) -> PathBuf {
        let dir = self.fx.path(&format!("checkout-{}", &sha[..12]));
        for p in [
            "infra/variables.yml",
            "infra/variables.production.yml",
            "infra/variables.staging.yml",
        ] {
            if let Some(c) = self.gh.file_at(ACME, sha, p) {
                self.fx.write(&format!("checkout-{}/{p}", &sha[..12]), &c);
            }
        }
        dir
    }

    fn acme_vars_with(&self, from: &str, to: &str) -> String {
        let v = self.fx.read("customers/acme/infra/variables.yml");
        assert!(v.contains(from));
        v.replace(from, to)
    }

    /// The manager's job for the latest dispatch; the workspace is the folder
    /// holding the manager checkout at `manager/`.
    fn manager_job(&mut self) -> Job {
        let d = self
            .gh
            .dispatches(MANAGER)
            .last()
            .cloned()
            .expect("a dispatch was sent");
        let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
        let run = self.next_run();
        Job::new(
            self.fx.root(),
            MANAGER,
            "repository_dispatch",
            &event,
            &"e".repeat(40),
            &self.gh,
            run,
        )
    }
}

#[test]
fn trigger_action_validates_dispatches_and_marks_pending() {
    let mut w = World::new();
    let sha = w.gh.commit(
        ACME,
        "feature",
        &[(
            "infra/variables.yml",
            &w.acme_vars_with("max_instances: 2", "max_instances: 3"),
        )],
    );
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let event = json!({
        "number": pr,
        "pull_request": { "number": pr, "head": { "sha": sha, "ref": "feature" } },
        "repository": { "default_branch": "main" }
    });
    let run = w.next_run();
    let job = Job::new(
        &w.checkout(&sha),
        ACME,
        "pull_request",
        &event,
        &"f".repeat(40),
        &w.gh,
        run,
    );
    let token = w.gh.token().to_string();
    let key = dispatch_key("acme", 1);

    let r = job.run(
        "trigger",
        &[
            ("token", &token),
            ("dispatch-key", &key),
            ("manager-repo", MANAGER),
        ],
        &[],
    );
    r.ok();
    assert_all_outputs("trigger", &r);
    let dispatches = w.gh.dispatches(MANAGER);
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0]["event_type"], "fleetform-plan");
    assert_eq!(dispatches[0]["client_payload"]["sha"], sha.as_str());
    assert_eq!(r.outputs["dispatched"], "true");
    assert_eq!(r.outputs["event_type"], "fleetform-plan");
    assert_eq!(
        r.outputs["dispatch_id"],
        dispatches[0]["client_payload"]["dispatch_id"]
            .as_str()
            .unwrap()
    );
    let st = w.gh.statuses(ACME, &sha);
    assert_eq!(st.last().unwrap().state, "pending");
    assert_eq!(st.last().unwrap().context, "infra/terraform-deploy");

    // Inputs reach the binary: a dry run sends nothing, another context.
    let r = job.run(
        "trigger",
        &[
            ("token", &token),
            ("dispatch-key", &key),
            ("manager-repo", MANAGER),
            ("dry-run", "true"),
            ("json", "true"),
        ],
        &[],
    );
    r.ok();
    assert_eq!(r.outputs["dispatched"], "false");
    // stdout is the JSON alone: workflow commands (the token's
    // ::add-mask::) go to stderr.
    let report: Value = serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("json input: {e}\n{}", r.stdout()));
    assert_eq!(report["dispatched"], false);
    assert_eq!(
        w.gh.dispatches(MANAGER).len(),
        1,
        "nothing sent on a dry run"
    );

    // `wait` reaches the binary: a value that is no duration is a usage error.
    let r = job.run(
        "trigger",
        &[
            ("token", &token),
            ("dispatch-key", &key),
            ("manager-repo", MANAGER),
            ("wait", "soon"),
        ],
        &[],
    );
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("soon"), "{}", r.stderr());
    // Without the token input nothing can run (the job's own token is not used).
    let r = job.run(
        "trigger",
        &[
            ("token", ""),
            ("dispatch-key", &key),
            ("manager-repo", MANAGER),
        ],
        &[],
    );
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("no token"), "{}", r.stderr());
    // Nor without the dispatch key: the manager would refuse it unsigned.
    let r = job.run(
        "trigger",
        &[
            ("token", &token),
            ("dispatch-key", ""),
            ("manager-repo", MANAGER),
        ],
        &[],
    );
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(
        r.stderr().contains("FLEETFORM_DISPATCH_KEY is not set"),
        "{}",
        r.stderr()
    );
    assert_eq!(w.gh.dispatches(MANAGER).len(), 1);
    // `status-token` reaches the binary: a token GitHub refuses fails the status.
    let r = job.run(
        "trigger",
        &[
            ("token", &token),
            ("status-token", "ghs_notthejobtoken"),
            ("dispatch-key", &key),
            ("manager-repo", MANAGER),
        ],
        &[],
    );
    assert_eq!(r.code(), Some(1), "{}", r.stderr());
    let refused = w.gh.take_violations();
    assert!(
        refused.iter().all(|v| v.path.contains("/statuses/")) && !refused.is_empty(),
        "{refused:?}"
    );
    w.gh.assert_clean();
}

#[test]
fn plan_and_apply_actions_hand_over_the_plan_digest() {
    let mut w = World::new();
    w.gh.commit(
        ACME,
        "feature",
        &[(
            "infra/variables.yml",
            &w.acme_vars_with("max_instances: 2", "max_instances: 3"),
        )],
    );
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let merged = w.gh.merge_pr(ACME, pr);

    // The customer's push to main asks for an apply.
    let event = json!({
        "ref": "refs/heads/main", "after": merged,
        "repository": { "default_branch": "main" },
        "head_commit": { "message": format!("Merge pull request #{pr} from acme-corp/feature\n\nMore instances") }
    });
    let run = w.next_run();
    let job = Job::new(
        &w.checkout(&merged),
        ACME,
        "push",
        &event,
        &merged,
        &w.gh,
        run,
    );
    let token = w.gh.token().to_string();
    let key = dispatch_key("acme", 1);
    let r = job.run(
        "trigger",
        &[
            ("token", &token),
            ("dispatch-key", &key),
            ("manager-repo", MANAGER),
        ],
        &[],
    );
    r.ok();
    assert_eq!(r.outputs["event_type"], "fleetform-apply");

    // The first job: authorise, which sends nothing for an active customer.
    let job = w.manager_job();
    w.gh.reset_counters();
    let r = job.run(
        "authorise",
        &[
            ("token", &token),
            ("dispatch-secret", DISPATCH_SECRET),
            ("manager-dir", "manager"),
        ],
        &[],
    );
    r.ok();
    assert_all_outputs("authorise", &r);
    assert_eq!(r.outputs["customer"], "acme");
    assert_eq!(r.outputs["customer_repo"], ACME);
    assert_eq!(r.outputs["event_type"], "fleetform-apply");
    assert_eq!(r.outputs["environments"], r#"["staging","production"]"#);
    assert_eq!(w.gh.request_count(), 0, "{:?}", w.gh.requests());
    // Without the secret: refused, no outputs.
    let r = job.run(
        "authorise",
        &[
            ("token", &token),
            ("dispatch-secret", ""),
            ("manager-dir", "manager"),
        ],
        &[],
    );
    assert_eq!(r.code(), Some(3), "{}", r.stderr());
    assert!(r.outputs.is_empty(), "{:?}", r.outputs);

    // The plan job.
    let job = w.manager_job();
    let r = job.run(
        "plan",
        &[
            ("token", &token),
            ("dispatch-secret", DISPATCH_SECRET),
            ("artifact-key", ARTIFACT_KEY),
            ("environment", "staging"),
            ("manager-dir", "manager"),
        ],
        &[],
    );
    r.ok();
    assert_all_outputs("plan", &r);
    let o = &r.outputs;
    assert_eq!(
        (
            o["customer"].as_str(),
            o["customer_repo"].as_str(),
            o["sha"].as_str()
        ),
        ("acme", ACME, merged.as_str())
    );
    assert_eq!(
        (
            o["event_type"].as_str(),
            o["environment"].as_str(),
            o["has_changes"].as_str()
        ),
        ("fleetform-apply", "staging", "true")
    );
    assert_eq!(o["create"], "3");
    let digest = o["plan_sha256"].clone();
    assert_eq!(digest.len(), 64);
    let plan_dir = w.fx.manager().join(&o["plan_dir"]);
    assert!(
        plan_dir.join("tfplan").is_file(),
        "plan_dir is relative to manager-dir: {}",
        plan_dir.display()
    );
    assert!(
        plan_dir.join("bundle.sealed").is_file(),
        "the sealed bundle to upload: {}",
        plan_dir.display()
    );
    assert!(
        r.summary.contains(&format!("sha256:{digest}")) && !r.summary.contains("terraform_data"),
        "counts and digest, no plan text: {}",
        r.summary
    );
    let comments = w.gh.comments(ACME, pr);
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains(&format!("sha256:{digest}"))),
        "the PR shows the digest"
    );

    // The apply job, with a digest that is not the plan's: refused.
    let state =
        w.fx.manager()
            .join(".fleetform/state/acme/staging/terraform.tfstate");
    let job = w.manager_job();
    let wrong = "0".repeat(64);
    let plan_dir_input = o["plan_dir"].clone();
    let r = job.run(
        "apply",
        &[
            ("token", &token),
            ("dispatch-secret", DISPATCH_SECRET),
            ("artifact-key", ARTIFACT_KEY),
            ("environment", "staging"),
            ("manager-dir", "manager"),
            ("plan-dir", &plan_dir_input),
            ("plan-sha256", &wrong),
        ],
        &[],
    );
    assert_eq!(r.code(), Some(3), "{}", r.stderr());
    assert!(!state.exists(), "nothing applied");
    assert!(
        r.stdout()
            .contains("::error title=fleetform apply refused::Nothing was applied")
            && r.stdout().contains("Re-run all jobs"),
        "the step says what to do: {}",
        r.stdout()
    );

    // With the plan job's digest: applied.
    let r = job.run(
        "apply",
        &[
            ("token", &token),
            ("dispatch-secret", DISPATCH_SECRET),
            ("artifact-key", ARTIFACT_KEY),
            ("environment", "staging"),
            ("manager-dir", "manager"),
            ("plan-dir", &plan_dir_input),
            ("plan-sha256", &digest),
        ],
        &[],
    );
    r.ok();
    assert_all_outputs("apply", &r);
    assert_eq!(r.outputs["applied"], "true");
    assert_eq!(r.outputs["plan_sha256"], digest);
    assert!(state.is_file());
    let staging =
        w.gh.status_of(ACME, &merged, "infra/terraform-deploy/staging")
            .unwrap();
    assert_eq!(staging.state, "success");
    w.gh.assert_clean();
}

//! Static checks of the GitHub Actions this repo ships: the setup action
//! (`action.yml`), the composite actions under `actions/`, and the workflows
//! (`.github/workflows/`, and the templates in `workflows/`).
//!
//! Every input must be documented and reach fleetform as a `FLEETFORM_*`
//! variable the binary reads (checked against the clap definitions), every
//! output must be one the command writes, and no `${{ }}` expression may
//! appear inside a `run:` script.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use fleetform::commands::Cli;
use github_actions_models::action::{Action, Runs, Step, StepBody};
use github_actions_models::common::expr::LoE;
use github_actions_models::common::EnvValue;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The composite actions and the fleetform subcommand each runs.
const COMMAND_ACTIONS: &[&str] = &[
    "trigger",
    "authorise",
    "plan",
    "apply",
    "conclude",
    "handoff",
    "drift",
    "validate",
    "request",
];

/// Variables a run script reads itself (never passed on as flags).
const SCRIPT_ONLY: &[(&str, &str)] = &[
    ("FLEETFORM_BIN", "the executable the setup step installed"),
    (
        "FLEETFORM_FILES",
        "validate: the files, split into arguments",
    ),
    (
        "FLEETFORM_FAIL_ON_DRIFT",
        "drift: whether exit code 4 fails the step",
    ),
];

/// Read by `action/install.sh`, only in the setup steps.
const SETUP_ENV: &[&str] = &[
    "FLEETFORM_SETUP_VERSION",
    "FLEETFORM_SETUP_DOWNLOAD_URL",
    "FLEETFORM_SETUP_BUILD_FROM_SOURCE",
];

/// Read by the binary outside clap, never as flags: the token
/// (`Token::from_env`), the trigger's status token
/// (`commands::trigger`), the dispatch key and secret (`dispatch::auth`)
/// the artifact secret (`seal`), a handed-over secrets key and the
/// handoff identity that opens it (`flows::github_loop::handoff`).
const TOKEN_ENV: &[&str] = &[
    "FLEETFORM_TOKEN",
    "GITHUB_TOKEN",
    "FLEETFORM_STATUS_TOKEN",
    "FLEETFORM_TEAMS_TOKEN",
    "FLEETFORM_ISSUES_TOKEN",
    "FLEETFORM_DISPATCH_KEY",
    "FLEETFORM_DISPATCH_SECRET",
    "FLEETFORM_DISPATCH_SECRET_PREVIOUS",
    "FLEETFORM_ARTIFACT_KEY",
    "FLEETFORM_SECRETS_KEY",
    "FLEETFORM_PROVIDER_SECRETS_KEY",
    "FLEETFORM_HANDED_SECRETS_KEY",
    "FLEETFORM_HANDOFF_KEY",
    "FLEETFORM_MANAGER_TOKEN",
    "FLEETFORM_CUSTOMER_APP_ID",
    "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
];

/// Variables an action passes that the binary does not read yet (another
/// change adds them): (action, variable, what must read it).
const PENDING_ENV: &[(&str, &str, &str)] = &[];

/// Outputs an action declares that the binary does not write yet:
/// (action, output, what must write it).
const PENDING_OUTPUTS: &[(&str, &str, &str)] = &[];

/// The environment the lead announced for `fleetform drift`, used only while
/// the subcommand is not in `src/commands/` yet.
const ANNOUNCED_DRIFT_ENV: &[&str] = &[
    "FLEETFORM_MANAGER_DIR",
    "FLEETFORM_CUSTOMER",
    "FLEETFORM_ENVIRONMENT",
    "FLEETFORM_SHARD",
    "FLEETFORM_JOBS",
    "FLEETFORM_OUT_DIR",
    "FLEETFORM_JSON",
    "FLEETFORM_ISSUES",
    "FLEETFORM_MANAGER_REPO",
    "FLEETFORM_TERRAFORM",
];

fn load_action(rel: &str) -> Action {
    yaml_serde::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: not a valid action: {e}"))
}

fn composite_steps<'a>(rel: &str, action: &'a Action) -> &'a [Step] {
    match &action.runs {
        Runs::Composite(c) => {
            assert_eq!(c.using, "composite", "{rel}");
            &c.steps
        }
        other => panic!("{rel}: expected a composite action, got {other:?}"),
    }
}

/// `${{ body }}` → `body`, for a value that is exactly one expression.
fn expression(value: &str) -> Option<&str> {
    let v = value.trim();
    let body = v.strip_prefix("${{")?.strip_suffix("}}")?;
    (!body.contains("${{")).then(|| body.trim())
}

fn env_of(rel: &str, step: &Step) -> BTreeMap<String, String> {
    match &step.env {
        LoE::Literal(env) => env
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    EnvValue::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        LoE::Expr(e) => panic!("{rel}: step env must be a mapping, not {}", e.as_raw()),
    }
}

fn run_of<'a>(rel: &str, step: &'a Step) -> &'a str {
    match &step.body {
        StepBody::Run { run, shell, .. } => {
            assert!(
                matches!(shell, LoE::Literal(s) if s == "bash"),
                "{rel}: step {:?} must run with shell: bash",
                step.id
            );
            run
        }
        StepBody::Uses { .. } => panic!("{rel}: step {:?} must be a run step", step.id),
    }
}

pub(crate) fn step<'a>(rel: &str, steps: &'a [Step], id: &str) -> &'a Step {
    steps
        .iter()
        .find(|s| s.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("{rel}: no step with id `{id}`"))
}

/// The variables and defaults the binary reads for `sub`: its own flags and
/// the global ones. `None` when the subcommand does not exist.
fn clap_env(sub: &str) -> Option<BTreeMap<String, Option<String>>> {
    let cmd = Cli::command();
    let mut out = BTreeMap::new();
    let mut add = |args: &mut dyn Iterator<Item = &clap::Arg>| {
        for a in args {
            if let Some(env) = a.get_env() {
                let default = a
                    .get_default_values()
                    .first()
                    .map(|v| v.to_string_lossy().into_owned());
                out.insert(env.to_string_lossy().into_owned(), default);
            }
        }
    };
    add(&mut cmd.get_arguments());
    let sc = cmd.find_subcommand(sub)?;
    add(&mut sc.get_arguments());
    Some(out)
}

/// Every `("name", ...)` written as a step output somewhere in `src/`.
fn outputs_written_by_the_binary() -> BTreeSet<String> {
    fn walk(dir: &Path, found: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, found);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                // `("name", value)` as rustfmt may lay it out over lines.
                for (i, _) in text.match_indices('(') {
                    let rest = text[i + 1..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let Some(end) = rest.find('"') else { continue };
                    let name = &rest[..end];
                    let valid = !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                    if valid && rest[end + 1..].trim_start().starts_with(',') {
                        found.insert(name.to_string());
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(&repo().join("src"), &mut found);
    found
}

#[test]
fn every_action_is_present_and_parses() {
    let mut found: Vec<String> = std::fs::read_dir(repo().join("actions"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("action.yml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = COMMAND_ACTIONS.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want, "actions/<name>/action.yml");
    for rel in all_actions() {
        let a = load_action(&rel);
        assert!(
            a.name.as_deref().is_some_and(|n| !n.is_empty()),
            "{rel}: name"
        );
        assert!(
            a.description.as_deref().is_some_and(|d| d.len() > 20),
            "{rel}: description"
        );
        composite_steps(&rel, &a);
    }
}

fn all_actions() -> Vec<String> {
    let mut v = vec!["action.yml".to_string()];
    v.extend(
        COMMAND_ACTIONS
            .iter()
            .map(|n| format!("actions/{n}/action.yml")),
    );
    v
}

#[test]
fn no_expression_inside_any_run_script() {
    for rel in all_actions() {
        let a = load_action(&rel);
        for s in composite_steps(&rel, &a) {
            let run = run_of(&rel, s);
            assert!(
                !run.contains("${{"),
                "{rel}: step {:?}: `${{{{` inside run:, pass it through env:\n{run}",
                s.id
            );
        }
    }
    // The same for the workflows, where zizmor checks it too.
    for rel in all_workflows() {
        let doc: yaml_serde::Value = yaml_serde::from_str(&read(&rel)).unwrap();
        for (job, steps) in workflow_steps(&doc) {
            for s in steps {
                if let Some(run) = s.get("run").and_then(|r| r.as_str()) {
                    assert!(
                        !run.contains("${{"),
                        "{rel}: job {job}: `${{{{` inside run:\n{run}"
                    );
                }
            }
        }
    }
}

#[test]
fn setup_action_is_branded_and_calls_its_script() {
    let raw: yaml_serde::Value = yaml_serde::from_str(&read("action.yml")).unwrap();
    let branding = raw.get("branding").expect("action.yml: branding");
    assert!(
        branding.get("icon").and_then(|v| v.as_str()).is_some(),
        "branding.icon"
    );
    assert!(
        branding.get("color").and_then(|v| v.as_str()).is_some(),
        "branding.color"
    );

    let a = load_action("action.yml");
    let steps = composite_steps("action.yml", &a);
    let install = step("action.yml", steps, "install");
    assert_eq!(
        run_of("action.yml", install).trim(),
        r#"bash "$GITHUB_ACTION_PATH/action/install.sh""#
    );
    assert!(repo().join("action/install.sh").is_file());
    let env = env_of("action.yml", install);
    assert_eq!(
        env.get("FLEETFORM_SETUP_VERSION").map(String::as_str),
        Some("${{ inputs.version }}")
    );
    assert_eq!(
        env.get("FLEETFORM_SETUP_DOWNLOAD_URL").map(String::as_str),
        Some("${{ inputs.download-url }}")
    );
    assert_eq!(
        env.get("FLEETFORM_SETUP_BUILD_FROM_SOURCE")
            .map(String::as_str),
        Some("${{ inputs.build-from-source }}")
    );
    let inputs: BTreeSet<&str> = a.inputs.keys().map(String::as_str).collect();
    assert_eq!(
        inputs,
        BTreeSet::from(["version", "download-url", "build-from-source"])
    );
    let script = read("action/install.sh");
    for (name, out) in &a.outputs {
        assert_eq!(
            out.value.as_deref(),
            Some(format!("${{{{ steps.install.outputs.{name} }}}}").as_str())
        );
        assert!(
            script.contains(&format!("echo \"{name}=")),
            "install.sh must write the `{name}` output"
        );
        assert!(
            out.description.as_deref().is_some_and(|d| !d.is_empty()),
            "action.yml: output {name}: description"
        );
    }
    assert_eq!(
        a.outputs
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["path", "version"])
    );
    for v in SETUP_ENV {
        assert!(script.contains(v), "install.sh must read {v}");
    }
}

#[test]
fn inputs_are_documented_and_reach_fleetform() {
    let mut pending = Vec::new();
    let mut pending_notes: Vec<String> = Vec::new();
    for name in COMMAND_ACTIONS {
        let rel = format!("actions/{name}/action.yml");
        let a = load_action(&rel);
        let steps = composite_steps(&rel, &a);
        assert_eq!(steps.len(), 2, "{rel}: a setup step and one fleetform step");

        // 1. The setup step: the shared installer, found from the action's folder.
        let setup = step(&rel, steps, "setup");
        assert_eq!(
            run_of(&rel, setup).trim(),
            r#"bash "$GITHUB_ACTION_PATH/../../action/install.sh""#,
            "{rel}"
        );
        assert!(repo()
            .join("actions")
            .join(name)
            .join("../../action/install.sh")
            .is_file());
        let setup_env = env_of(&rel, setup);
        assert_eq!(
            setup_env
                .keys()
                .map(String::as_str)
                .collect::<BTreeSet<_>>(),
            SETUP_ENV.iter().copied().collect::<BTreeSet<_>>(),
            "{rel}: the setup step"
        );

        // 2. The run step: one fleetform command.
        let run_step = step(&rel, steps, "run");
        let script = run_of(&rel, run_step);
        let execs: Vec<&str> = script
            .lines()
            .filter(|l| l.contains("\"${FLEETFORM_BIN:-fleetform}\""))
            .collect();
        assert_eq!(
            execs.len(),
            1,
            "{rel}: exactly one fleetform command:\n{script}"
        );
        assert!(
            execs[0].contains(&format!("\"${{FLEETFORM_BIN:-fleetform}}\" {name}")),
            "{rel}: runs `fleetform {name}`: {}",
            execs[0]
        );
        let env = env_of(&rel, run_step);
        assert_eq!(
            env.get("FLEETFORM_BIN").map(String::as_str),
            Some("${{ steps.setup.outputs.path }}"),
            "{rel}: the run step uses the binary the setup step installed"
        );

        let binary_env = match clap_env(name) {
            Some(e) => e,
            None if *name == "drift" => {
                pending.push(format!("`fleetform {name}` is not in src/commands/ yet: {rel} was checked against the announced variables"));
                ANNOUNCED_DRIFT_ENV
                    .iter()
                    .map(|v| (v.to_string(), None))
                    .collect()
            }
            None => panic!("{rel}: `fleetform {name}` does not exist"),
        };

        // Every input: documented, mapped to exactly one FLEETFORM_* variable.
        let mut mapped: BTreeMap<&str, Vec<(String, &str)>> = BTreeMap::new();
        for (step_env, which) in [(&setup_env, "setup"), (&env, "run")] {
            for (var, value) in step_env {
                assert!(
                    var.starts_with("FLEETFORM_"),
                    "{rel}: {var}: only FLEETFORM_* variables"
                );
                if let Some(expr) = expression(value) {
                    if let Some(input) = expr.strip_prefix("inputs.") {
                        assert!(
                            a.inputs.contains_key(input),
                            "{rel}: {var} reads unknown input `{input}`"
                        );
                        mapped.entry(input).or_default().push((var.clone(), which));
                    } else {
                        assert_eq!(
                            expr, "steps.setup.outputs.path",
                            "{rel}: {var}: unexpected expression {value}"
                        );
                    }
                } else {
                    assert!(
                        !value.contains("${{"),
                        "{rel}: {var}: an expression must be the whole value: {value}"
                    );
                }
            }
        }
        for (input, spec) in &a.inputs {
            assert!(
                spec.description
                    .as_deref()
                    .is_some_and(|d| d.trim().len() > 5),
                "{rel}: input `{input}` needs a description"
            );
            let required = spec
                .required
                .unwrap_or_else(|| panic!("{rel}: input `{input}`: say `required:`"));
            if !required {
                assert!(
                    spec.default.is_some(),
                    "{rel}: optional input `{input}` needs a default (\"\" for none)"
                );
            }
            let vars = mapped
                .get(input.as_str())
                .unwrap_or_else(|| panic!("{rel}: input `{input}` is not passed to any step"));
            assert_eq!(
                vars.len(),
                1,
                "{rel}: input `{input}` is mapped more than once: {vars:?}"
            );
            let (var, which) = &vars[0];
            match *which {
                "setup" => assert!(SETUP_ENV.contains(&var.as_str())),
                _ => {
                    let script_only = SCRIPT_ONLY.iter().any(|(v, _)| v == var);
                    let pending = PENDING_ENV.iter().find(|(a, v, _)| a == name && v == var);
                    if let Some((_, _, who)) = pending {
                        pending_notes.push(format!("{rel}: {var} is not read yet ({who})"));
                    }
                    assert!(
                        binary_env.contains_key(var) || TOKEN_ENV.contains(&var.as_str()) || script_only || pending.is_some(),
                        "{rel}: input `{input}` → {var}, which `fleetform {name}` does not read (it reads {:?})",
                        binary_env.keys().collect::<Vec<_>>()
                    );
                    if script_only {
                        assert!(
                            script.contains(&format!("${var}"))
                                || script.contains(&format!("${{{var}")),
                            "{rel}: {var} is for the script, which must read it"
                        );
                    }
                    // A documented default must be fleetform's own.
                    if let (Some(Some(clap_default)), Some(default)) =
                        (binary_env.get(var), spec.default.as_deref())
                    {
                        assert!(
                            default.is_empty() || default == clap_default,
                            "{rel}: input `{input}` defaults to `{default}`, fleetform's default for {var} is `{clap_default}`"
                        );
                    }
                }
            }
            if input == "token" {
                assert_eq!(
                    var, "FLEETFORM_TOKEN",
                    "{rel}: the token input is FLEETFORM_TOKEN"
                );
                // Required, unless a GitHub App can stand in for it, the
                // relay (the run's OIDC token) replaces it, the action
                // also merges reports (drift's from-reports reads no
                // customer repo), or it acts in its own repository with
                // the job's GITHUB_TOKEN by default (request's).
                assert!(
                    spec.required == Some(true)
                        || spec.default.as_deref() == Some("${{ github.token }}")
                        || (a.inputs.contains_key("app-id")
                            && a.inputs.contains_key("app-private-key"))
                        || a.inputs.contains_key("relay-url")
                        || a.inputs.contains_key("from-reports"),
                    "{rel}: token is required"
                );
            }
            for (secret_input, secret_var) in [
                ("dispatch-key", "FLEETFORM_DISPATCH_KEY"),
                ("dispatch-secret", "FLEETFORM_DISPATCH_SECRET"),
                ("artifact-key", "FLEETFORM_ARTIFACT_KEY"),
            ] {
                if input == secret_input || var == secret_var {
                    assert_eq!(
                        (input.as_str(), var.as_str()),
                        (secret_input, secret_var),
                        "{rel}"
                    );
                    assert!(
                        spec.required == Some(true)
                            || (input == "dispatch-key" && a.inputs.contains_key("relay-url")),
                        "{rel}: {input} is required"
                    );
                }
            }
        }
        // Fixed variables of the run step (not from inputs) are read by the binary.
        for (var, value) in &env {
            if expression(value).is_none() {
                assert!(
                    binary_env.contains_key(var),
                    "{rel}: {var}={value}: fleetform {name} does not read it"
                );
            }
        }
        if matches!(*name, "plan" | "apply") {
            assert_eq!(
                env.get("FLEETFORM_DISPATCH").map(String::as_str),
                Some("true"),
                "{rel}: runs with --dispatch"
            );
        }
        // Who signs and who checks: the trigger holds the customer's key,
        // the manager's jobs that act on a dispatch (authorise, plan, apply,
        // conclude) the manager's secret, nobody else either.
        assert_eq!(
            env.contains_key("FLEETFORM_DISPATCH_KEY"),
            *name == "trigger",
            "{rel}: FLEETFORM_DISPATCH_KEY"
        );
        assert_eq!(
            env.contains_key("FLEETFORM_DISPATCH_SECRET"),
            matches!(*name, "plan" | "apply" | "authorise" | "conclude"),
            "{rel}: FLEETFORM_DISPATCH_SECRET"
        );
        // Plans are sealed for their artifact and opened by the apply: the
        // artifact secret goes to those two steps only, as a required
        // input. A key job hands a customer's identity over to the handoff
        // recipient, which only the plan and apply open: the key job holds
        // no shared secret.
        assert_eq!(
            env.get("FLEETFORM_ARTIFACT_KEY").map(String::as_str),
            matches!(*name, "plan" | "apply").then_some("${{ inputs.artifact-key }}"),
            "{rel}: FLEETFORM_ARTIFACT_KEY"
        );
        if matches!(*name, "plan" | "apply") {
            assert_eq!(a.inputs["artifact-key"].required, Some(true), "{rel}");
        }
        assert_eq!(
            env.get("FLEETFORM_HANDOFF_KEY").map(String::as_str),
            matches!(*name, "plan" | "apply").then_some("${{ inputs.handoff-key }}"),
            "{rel}: FLEETFORM_HANDOFF_KEY"
        );
        // Empty inputs are unset so clap applies its defaults.
        assert!(
            script.contains("compgen -e") && script.contains("unset \"$name\""),
            "{rel}: unset empty inputs"
        );
    }
    for p in pending.into_iter().chain(pending_notes) {
        eprintln!("note: {p}");
    }
}

#[test]
fn outputs_are_set_by_their_step() {
    let written = outputs_written_by_the_binary();
    // Each action's outputs, separated by spaces.
    let expected: &[(&str, &str)] = &[
        ("trigger", "dispatched event_type dispatch_id"),
        (
            "plan",
            "customer customer_repo sha event_type requests environment has_changes plan_sha256 \
             create update delete replace plan_dir gates_pass identity terraform_version",
        ),
        (
            "authorise",
            "customer customer_repo event_type environments identity plan_key key_environments duplicate",
        ),
        ("apply", "applied plan_sha256 identity requests"),
        (
            "drift",
            "drifted errors report unapplied repair_plan_environments repair_apply_environments",
        ),
        ("validate", ""),
    ];
    for (name, outputs) in expected {
        let rel = format!("actions/{name}/action.yml");
        let a = load_action(&rel);
        let declared: BTreeSet<&str> = a.outputs.keys().map(String::as_str).collect();
        assert_eq!(
            declared,
            outputs.split_whitespace().collect::<BTreeSet<_>>(),
            "{rel}: outputs"
        );
        for (out, spec) in &a.outputs {
            assert!(
                spec.description
                    .as_deref()
                    .is_some_and(|d| !d.trim().is_empty()),
                "{rel}: output `{out}`: description"
            );
            assert_eq!(
                spec.value.as_deref(),
                Some(format!("${{{{ steps.run.outputs.{out} }}}}").as_str()),
                "{rel}: output `{out}` comes from the run step's $GITHUB_OUTPUT"
            );
            if written.contains(out) {
                continue;
            }
            if let Some((_, _, who)) = PENDING_OUTPUTS
                .iter()
                .find(|(a, o, _)| a == name && o == out)
            {
                eprintln!("note: {rel}: output `{out}` is not written yet ({who})");
                continue;
            }
            if *name == "drift" && clap_env("drift").is_none() {
                eprintln!("note: {rel}: output `{out}` not written in src/ yet (fleetform drift is pending)");
                continue;
            }
            panic!("{rel}: output `{out}` is never written by fleetform (no `(\"{out}\", ...)` in src/)");
        }
    }
}

// --- workflows -------------------------------------------------------------

pub(crate) fn all_workflows() -> Vec<String> {
    let mut v = Vec::new();
    for dir in [".github/workflows", "workflows"] {
        let mut files: Vec<String> = std::fs::read_dir(repo().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".yml"))
            .map(|f| format!("{dir}/{f}"))
            .collect();
        files.sort();
        v.extend(files);
    }
    v
}

pub(crate) fn workflow_steps(doc: &yaml_serde::Value) -> Vec<(String, Vec<&yaml_serde::Value>)> {
    let mut out = Vec::new();
    if let Some(jobs) = doc.get("jobs").and_then(|j| j.as_mapping()) {
        for (name, job) in jobs {
            let steps = job
                .get("steps")
                .and_then(|s| s.as_sequence())
                .map(|s| s.iter().collect())
                .unwrap_or_default();
            out.push((name.as_str().unwrap_or("?").to_string(), steps));
        }
    }
    out
}

//! Runs the policy tools of a plan's gates (`tools:`, see
//! [`crate::config::policy_tools`]) on its plan JSON: each in an environment of
//! PATH, HOME and the locale only, with its own timeout (killed at it),
//! its output read from files (so a tool that never closes its output
//! cannot hang the run) and capped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::policy_tools::{Tool, ToolKind};
use crate::policy::tool_reports::parse;
use crate::policy::tools::ToolOutcome;
use crate::terraform::Workspace;
use crate::util::fs::write_atomic;
use anyhow::Context as _;

use crate::error::Error;

/// The most of a tool's output read.
const MAX_OUTPUT: u64 = 64 * 1024 * 1024;
/// What Infracost reads from the environment besides what every tool
/// gets: its pricing service's key, endpoint and currency.
const INFRACOST_ENV: [&str; 3] = [
    "INFRACOST_API_KEY",
    "INFRACOST_PRICING_API_ENDPOINT",
    "INFRACOST_CURRENCY",
];
/// How often a running tool is looked at.
const POLL: Duration = Duration::from_millis(50);

/// Runs every tool on `plan_json` in `root`, the manager repo (so `run:`
/// paths, conftest's `policy:` and paths in `args` are relative to
/// fleetform.yml); `work` is a scratch folder for their output. One
/// outcome per tool, in order.
/// `baseline`: the Infracost JSON the pair's last apply kept, which
/// Infracost diffs the plan against.
pub fn run_all(
    tools: &[Tool],
    plan_json: &Path,
    work: &Path,
    root: &Path,
    baseline: Option<&Path>,
) -> Vec<ToolOutcome> {
    // Absolute, so that the paths hold in the tool's working directory.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (plan_json, root) = (absolute(plan_json), absolute(root));
    let baseline = baseline.map(absolute);
    tools
        .iter()
        .map(|t| run(t, (&plan_json, baseline.as_deref()), work, &root))
        .collect()
}

pub use crate::records::INFRACOST_FILE;

/// The arguments fleetform gives a tool, before the tool's own `args`:
/// Infracost's `diff` against `baseline` when there is one, else its
/// `breakdown`.
fn arguments(
    tool: &Tool,
    (plan_json, baseline): (&Path, Option<&Path>),
    root: &Path,
) -> Vec<String> {
    let plan = plan_json.display().to_string();
    let mut args: Vec<String> = match tool.kind {
        ToolKind::Checkov => ["-f", &plan, "--framework", "terraform_plan", "-o", "json"]
            .map(String::from)
            .to_vec(),
        ToolKind::Conftest => ["test", "--no-color", "--output", "json", &plan]
            .map(String::from)
            .to_vec(),
        ToolKind::Infracost => match baseline {
            Some(b) => [
                "diff",
                "--path",
                &plan,
                "--compare-to",
                &b.display().to_string(),
                "--format",
                "json",
            ]
            .map(String::from)
            .to_vec(),
            None => ["breakdown", "--path", &plan, "--format", "json"]
                .map(String::from)
                .to_vec(),
        },
    };
    if let Some(p) = &tool.policy {
        args.push("-p".into());
        args.push(root.join(p).display().to_string());
    }
    args.extend(tool.args.iter().cloned());
    args
}

/// The program: a path (anything with a separator) is taken relative to
/// the manager repo, a bare name is looked up on PATH.
fn program(tool: &Tool, root: &Path) -> PathBuf {
    let p = tool.program();
    if p.contains('/') || p.contains(std::path::MAIN_SEPARATOR) {
        root.join(p)
    } else {
        PathBuf::from(p)
    }
}

/// Runs one tool to its outcome; Infracost's JSON, when it made an
/// estimate, is left in `work` as [`INFRACOST_FILE`].
pub fn run(
    tool: &Tool,
    (plan_json, baseline): (&Path, Option<&Path>),
    work: &Path,
    root: &Path,
) -> ToolOutcome {
    let program = program(tool, root);
    let failed = |what: &str, e: std::io::Error| ToolOutcome::Failed {
        reason: format!("{what}: {e}"),
    };
    let (out, err) = match (tempfile::tempfile_in(work), tempfile::tempfile_in(work)) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return failed("creating its output files", e),
    };
    let (Ok(out_w), Ok(err_w)) = (out.try_clone(), err.try_clone()) else {
        return ToolOutcome::Failed {
            reason: "could not share its output files".into(),
        };
    };
    let mut cmd = Command::new(&program);
    cmd.args(arguments(tool, (plan_json, baseline), root))
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w);
    crate::util::process::tool_env(&mut cmd);
    if tool.kind == ToolKind::Infracost {
        // Its pricing service's key and settings, to it alone.
        for k in INFRACOST_ENV {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return ToolOutcome::Missing {
                program: program.display().to_string(),
            }
        }
        Err(e) => return failed(&format!("starting {}", program.display()), e),
    };
    let secs = tool.timeout_secs();
    let kept = match tool.kind {
        ToolKind::Infracost => out.try_clone().ok(),
        _ => None,
    };
    let outcome = match wait(child, Duration::from_secs(secs)) {
        Err(e) => failed("waiting for it", e),
        Ok(None) => ToolOutcome::TimedOut { secs },
        Ok(Some(code)) => read_report(tool, code, out, err),
    };
    match outcome {
        ToolOutcome::Costed(mut e) => {
            e.basis = Some(match baseline {
                Some(_) => crate::data::cost::CostBasis::LastApplied,
                None => crate::data::cost::CostBasis::PriorState,
            });
            // Kept for the next plan's diff; an estimate is shown without.
            if let Some(text) = kept.and_then(|f| read_capped(f).ok()) {
                let _ = write_atomic(&work.join(INFRACOST_FILE), text.as_bytes());
            }
            ToolOutcome::Costed(e)
        }
        other => other,
    }
}

/// Its exit code, or none when it was killed at the timeout.
pub(crate) fn wait(mut child: Child, limit: Duration) -> std::io::Result<Option<i32>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status.code().unwrap_or(-1)));
        }
        if Instant::now() >= deadline {
            kill(&mut child);
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// Kills a tool at its timeout. Processes it started itself may outlive
/// it; their output goes to files nothing waits for, so they hold up
/// nothing.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

pub(crate) fn read_capped(mut f: std::fs::File) -> std::io::Result<String> {
    use std::io::{Read as _, Seek as _};
    f.rewind()?;
    let mut bytes = Vec::new();
    f.take(MAX_OUTPUT).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The report on stdout, read by the tool's kind. Both tools exit 1 when
/// checks fail, so a report with findings counts whatever the exit code;
/// a report that does not read, or a failing exit without findings, is a
/// failed run, with the end of stderr saying why.
fn read_report(tool: &Tool, code: i32, out: std::fs::File, err: std::fs::File) -> ToolOutcome {
    let stdout = read_capped(out).unwrap_or_default();
    let why = match parse(tool.kind, &stdout) {
        Ok(ToolOutcome::Ran { failed: 0, .. }) if code != 0 => {
            format!("exited with {code} but reported no findings")
        }
        Ok(outcome) => return outcome,
        Err(why) => format!("exited with {code} and no report that reads: {why}"),
    };
    let stderr = read_capped(err).unwrap_or_default();
    let chars: Vec<char> = stderr.trim().chars().collect();
    let tail: String = chars[chars.len().saturating_sub(300)..].iter().collect();
    ToolOutcome::Failed {
        reason: format!("{why}; stderr: {tail}"),
    }
}

/// The pair's secret values in `ws` (what the tools never see).
pub(super) fn secret_values(ws: &crate::terraform::Workspace) -> Vec<&str> {
    ws.secret_env
        .iter()
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .collect()
}

/// What stands for a secret's value in what the policy tools read and say.
pub const SECRET_MARKER: &str = "(secret)";

/// Every string of `v` with each of `secrets` replaced by
/// [`SECRET_MARKER`].
pub(super) fn scrub(v: &mut serde_json::Value, secrets: &[&str]) {
    if secrets.is_empty() {
        return;
    }
    match v {
        serde_json::Value::String(s) => {
            for secret in secrets {
                if s.contains(secret) {
                    *s = s.replace(secret, SECRET_MARKER);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, secrets)),
        serde_json::Value::Object(m) => m.values_mut().for_each(|x| scrub(x, secrets)),
        _ => {}
    }
}

/// Moves Infracost's JSON from the working copy into the plan folder when
/// it made the plan's estimate (secrets as markers, as in everything the
/// tools say), else leaves no stale one from an earlier plan there.
fn keep_infracost_json(
    work: &Path,
    out_dir: &Path,
    costed: bool,
    secrets: &[&str],
) -> Result<(), Error> {
    let kept = out_dir.join(INFRACOST_FILE);
    let made = crate::util::fs::read_input(work.join(INFRACOST_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter(|_| costed);
    match made {
        Some(mut v) => {
            scrub(&mut v, secrets);
            let bytes = serde_json::to_vec(&v).context("serialising Infracost's JSON")?;
            write_atomic(&kept, &bytes)?;
        }
        None => match std::fs::remove_file(&kept) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(anyhow::anyhow!("removing {}: {e}", kept.display()).into())
            }
            _ => {}
        },
    }
    Ok(())
}

/// The policy tools' gate results, and the cost estimate one made.
pub(super) type ToolResults = (
    Vec<crate::data::verdict::GateResult>,
    Option<crate::data::cost::CostEstimate>,
);

impl super::Engine<'_> {
    /// The policy tools' gates of `env` on this plan, and the cost estimate
    /// one of them made: its JSON is written
    /// into the working copy (removed with it), each tool runs on it, and
    /// a plan without changes has nothing for them to judge.
    pub(super) fn run_tools(
        &self,
        env: &str,
        ws: &Workspace,
        json: &serde_json::Value,
        (baseline, out_dir): (Option<&Path>, &Path),
    ) -> Result<ToolResults, Error> {
        use crate::policy::tools::{gate_result, ToolOutcome};
        let tools = self.manager.config.policies.tools_for(env);
        if tools.is_empty() {
            return Ok((Vec::new(), None));
        }
        // The tools never see a secret, and nothing they say carries one
        // (#82 point 4): each secret's value is a marker in their JSON and
        // in their findings and messages.
        let secrets = secret_values(ws);
        let outcomes = if json.is_null() {
            vec![ToolOutcome::NoChanges; tools.len()]
        } else {
            let path = ws.path().join("plan.json");
            let mut shown = json.clone();
            scrub(&mut shown, &secrets);
            let bytes = serde_json::to_vec(&shown).context("serialising the plan JSON")?;
            write_atomic(&path, &bytes)?;
            run_all(&tools, &path, ws.path(), &self.manager.root, baseline)
        };
        let cost = outcomes.iter().find_map(|o| match o {
            ToolOutcome::Costed(e) => Some(e.clone()),
            _ => None,
        });
        keep_infracost_json(ws.path(), out_dir, cost.is_some(), &secrets)?;
        let results = tools
            .iter()
            .zip(&outcomes)
            .map(|(t, o)| {
                let result = gate_result(t, o);
                let mut v = serde_json::to_value(&result).expect("serialisable");
                scrub(&mut v, &secrets);
                serde_json::from_value(v).unwrap_or(result)
            })
            .collect();
        Ok((results, cost))
    }
}

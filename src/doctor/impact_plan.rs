//! The `impact-plan` environment: where `workflows/manager-pr.yml` plans a
//! pull request's code against every affected customer's state. Nothing
//! but its required reviewers stands between a pushed branch and that
//! state (a branch policy cannot: the pull request's own branch is what
//! GitHub checks), so a manager whose workflows run jobs in it must have
//! them (SECURITY.md).

use std::path::Path;

use super::facts::{EnvironmentFacts, Fetched};
use super::{Check, Level};

/// The environment `impact --plan` jobs run in.
pub const IMPACT_PLAN: &str = "impact-plan";

/// The first file of the manager's `.github/workflows/` with a job in
/// `impact-plan`, as a path relative to the manager repo.
pub fn impact_plan_workflow(manager_dir: &Path) -> Option<String> {
    workflow_running_in(manager_dir, IMPACT_PLAN)
}

/// The first file of the manager's `.github/workflows/` with a job in the
/// environment `env` (`environment: env`, or `name: env` under it).
pub fn workflow_running_in(manager_dir: &Path, env: &str) -> Option<String> {
    let runs_in = |l: &str| {
        let l = l.split(" #").next().unwrap_or(l);
        let l = l.trim().trim_start_matches("- ");
        let value = l
            .strip_prefix("environment:")
            .or_else(|| l.strip_prefix("name:"))?;
        Some(value.trim().trim_matches(['"', '\'']) == env)
    };
    let found = first_workflow(manager_dir, |text| {
        text.lines().any(|l| runs_in(l) == Some(true))
    });
    found.map(|(path, _)| path)
}

/// The first file of the manager's `.github/workflows/` (in name order; a
/// regular file of at most 1 MiB, never through a symlink) whose text
/// `wanted` accepts: its path relative to the manager repo, and its text.
pub fn first_workflow(
    manager_dir: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Option<(String, String)> {
    workflows(manager_dir)
        .into_iter()
        .find(|(_, text)| wanted(text))
}

/// Every workflow file of the manager checkout's `.github/workflows/`
/// (`.yml` or `.yaml`, a regular file of at most 1 MiB), in name order:
/// (`.github/workflows/<name>`, its text).
pub fn workflows(manager_dir: &Path) -> Vec<(String, String)> {
    let dir = manager_dir.join(".github/workflows");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut names: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|p| {
            let meta = std::fs::symlink_metadata(&p).ok()?;
            if !meta.is_file() || meta.len() > 1 << 20 {
                return None;
            }
            let text = crate::util::fs::read_input_text(&p).ok()?;
            let path = format!(
                ".github/workflows/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            );
            Some((path, text))
        })
        .collect()
}

/// The *must* row on `impact-plan`'s required reviewers, when `workflow`
/// (see [`impact_plan_workflow`]) runs jobs in it.
pub fn impact_plan_check(
    workflow: Option<&str>,
    environments: &Fetched<Vec<EnvironmentFacts>>,
) -> Option<Check> {
    let workflow = workflow?;
    let what = format!("reviewers {IMPACT_PLAN}");
    let fix = format!(
        "Settings → Environments → {IMPACT_PLAN} → Required reviewers: the provider's team, with \"Prevent self-review\""
    );
    Some(match environments {
        Err(e) => Check::unknown(
            Level::Must,
            what,
            e,
            "give the doctor's token read access to the manager repo's environments",
        ),
        Ok(envs) => match envs.iter().find(|e| e.name == IMPACT_PLAN) {
            Some(e) if e.required_reviewers => Check::pass(
                Level::Must,
                what,
                format!("required reviewers ({workflow} plans pull requests in it)"),
            ),
            Some(_) => Check::not_met(
                Level::Must,
                what,
                format!("no required reviewers: {workflow} plans a pull request's code in it, reading customers' state, before anyone reviewed it"),
                fix,
            ),
            None => Check::not_met(
                Level::Must,
                what,
                format!("environment missing ({workflow} runs jobs in it)"),
                format!("create it with required reviewers: {fix}"),
            ),
        },
    })
}

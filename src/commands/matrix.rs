//! `fleetform matrix`: a GitHub Actions matrix (JSON for `fromJSON`) of
//! active customers × environments. Deterministic order (registry order,
//! then the manager's environment order). Never more than `--max-jobs`
//! (GitHub allows 256): beyond that, customers are packed into shards, each
//! job carrying a list, every pair exactly once and a customer's
//! environments always in the same shard.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ci::RunContext;
use crate::cli::MatrixArgs;
use crate::config::{clean_path, Customer, Manager, Registry};
use crate::error::{Error, Result};
use crate::fleet::{check_environments, environments_for, select};
use crate::output::Output;

/// GitHub's limit on jobs per matrix.
pub const GITHUB_MAX_JOBS: usize = 256;

#[derive(Debug, Serialize)]
pub struct Job {
    /// A stable, readable job id.
    pub id: String,
    /// `customer:environment` pairs for this job (what `drift --shard` takes).
    pub shard: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Matrix {
    pub include: Vec<Job>,
}

pub fn build(pairs_by_customer: &[(String, Vec<String>)], max_jobs: usize) -> Matrix {
    let total: usize = pairs_by_customer.iter().map(|(_, e)| e.len()).sum();
    let nonempty: Vec<&(String, Vec<String>)> = pairs_by_customer
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .collect();
    if total <= max_jobs {
        let include = nonempty
            .iter()
            .flat_map(|(c, envs)| {
                envs.iter().map(move |e| Job {
                    id: format!("{c}-{e}"),
                    shard: vec![format!("{c}:{e}")],
                })
            })
            .collect();
        return Matrix { include };
    }
    // Contiguous chunks of whole customers: ceil(C / max) customers each,
    // which makes at most `max_jobs` shards.
    let per = nonempty.len().div_ceil(max_jobs);
    let shards = nonempty.len().div_ceil(per);
    let include = nonempty
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| Job {
            id: format!(
                "shard-{:0w$}-of-{shards}",
                i + 1,
                w = shards.to_string().len()
            ),
            shard: chunk
                .iter()
                .flat_map(|(c, envs)| envs.iter().map(move |e| format!("{c}:{e}")))
                .collect(),
        })
        .collect();
    Matrix { include }
}

/// Checked flags.
struct Settings {
    customers: Option<Vec<String>>,
    environments: Option<Vec<String>>,
    /// `--changed-from` and `--changed-to` (default `HEAD`), both checked
    /// revisions.
    changed: Option<(String, String)>,
    max_jobs: usize,
}

fn resolve(args: &MatrixArgs) -> Result<Settings> {
    if args.max_jobs == 0 || args.max_jobs > GITHUB_MAX_JOBS {
        return Err(Error::Usage(format!(
            "--max-jobs must be 1-{GITHUB_MAX_JOBS}"
        )));
    }
    let changed = match (&args.changed_from, &args.changed_to) {
        (None, Some(_)) => return Err(Error::Usage("--changed-to needs --changed-from".into())),
        (None, None) => None,
        (Some(from), to) => {
            let to = to.clone().unwrap_or_else(|| "HEAD".into());
            check_revision("--changed-from", from)?;
            check_revision("--changed-to", &to)?;
            Some((from.clone(), to))
        }
    };
    Ok(Settings {
        customers: (!args.customers.is_empty()).then(|| args.customers.clone()),
        environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
        changed,
        max_jobs: args.max_jobs,
    })
}

/// Refuses a revision git could read as anything but one: an option
/// (`--output=FILE`), a range, a pathspec or a reflog expression. Allowed:
/// a ref name as `git check-ref-format` allows it (branch, tag,
/// `origin/main`; a 4-40 hex commit is one too), ASCII only, optionally
/// followed by `~N`/`^N` steps (`HEAD~1`, `v1.2^2`).
fn check_revision(flag: &str, rev: &str) -> Result<()> {
    match revision_problem(rev) {
        None => Ok(()),
        Some(why) => {
            let shown: String = rev.chars().take(80).flat_map(char::escape_debug).collect();
            Err(Error::Usage(format!(
                "{flag} `{shown}` is not a git revision: {why}; give a branch, tag or commit, optionally with ~N (e.g. origin/main~1)"
            )))
        }
    }
}

fn revision_problem(rev: &str) -> Option<&'static str> {
    if rev.is_empty() || rev.len() > 255 {
        return Some("it must be 1-255 characters");
    }
    if rev.starts_with('-') {
        return Some("it starts with `-`, which git reads as an option");
    }
    if rev.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains whitespace or control characters");
    }
    if !rev.is_ascii() {
        return Some("it contains non-ASCII characters");
    }
    let split = rev.find(['~', '^']).unwrap_or(rev.len());
    let (name, steps) = rev.split_at(split);
    if !steps
        .split(['~', '^'])
        .skip(1)
        .all(|n| n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some("only ~N and ^N steps may follow the name");
    }
    ref_name_problem(name)
}

/// `git check-ref-format --allow-onelevel`'s rules.
fn ref_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name == "@" {
        return Some("it names no ref");
    }
    if name.contains("..") {
        return Some("`..` is not allowed in a ref name");
    }
    if name.contains("@{") {
        return Some("`@{` is not allowed in a ref name");
    }
    if name.contains([':', '?', '*', '[', '\\']) {
        return Some("`:`, `?`, `*`, `[` and `\\` are not allowed in a ref name");
    }
    if name.ends_with('.')
        || name
            .split('/')
            .any(|c| c.is_empty() || c.starts_with('.') || c.ends_with(".lock"))
    {
        return Some("a ref name has no empty parts, no part starting with `.` or ending with `.lock`, and does not end with `.`");
    }
    None
}

/// Runs git with `args` in the current directory; its output on success.
fn git(args: &[&str]) -> Result<String> {
    let mut cmd = std::process::Command::new("git");
    // git never sees fleetform's or the runner's credentials.
    crate::util::process::scrub_env(&mut cmd, &[], |_| false);
    let o = cmd.args(args).output().map_err(|e| {
        Error::Usage(format!(
            "cannot run git: {e}; install git or drop --changed-from"
        ))
    })?;
    if !o.status.success() {
        return Err(Error::Usage(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Files changed between two checked revisions, as absolute paths. The
/// revisions come after `--end-of-options` (git 2.24 or later), so none is
/// ever read as an option; `--no-ext-diff` and `--no-textconv` keep git's
/// configuration and environment from running a program; `-z` names every
/// path exactly (no quoting).
fn changed_files(from: &str, to: &str) -> Result<Vec<PathBuf>> {
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    let range = format!("{from}..{to}");
    let names = git(&[
        "diff",
        "--name-only",
        "-z",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        "--end-of-options",
        &range,
        "--",
    ])?;
    Ok(names
        .split('\0')
        .filter(|l| !l.is_empty())
        .map(|l| top.join(l))
        .collect())
}

/// Customers whose files changed between two git revisions. A change to
/// the manager's own files (anything under the manager repo that is not a
/// customer's folder) affects every customer.
fn changed_customers<'r>(
    manager: &Manager,
    registry: &'r Registry,
    from: &str,
    to: &str,
) -> Result<Vec<&'r Customer>> {
    let files = changed_files(from, to)?;
    let abs = |p: &Path| clean_path(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    let dirs: Vec<(usize, PathBuf)> = registry
        .customers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| registry.customer_dir(c).map(|d| (i, abs(&d))))
        .collect();
    let root = abs(&manager.root);
    let mut hit = vec![false; registry.customers.len()];
    let mut everyone = false;
    for f in &files {
        let mut owned = false;
        for (i, d) in &dirs {
            if f.starts_with(d) {
                hit[*i] = true;
                owned = true;
            }
        }
        if !owned && f.starts_with(&root) {
            everyone = true;
        }
    }
    Ok(registry
        .customers
        .iter()
        .enumerate()
        .filter(|(i, _)| everyone || hit[*i])
        .map(|(_, c)| c)
        .collect())
}

pub fn run(args: &MatrixArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let settings = resolve(args)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let envs = settings.environments.as_deref();
    check_environments(&manager, envs)?;
    let mut selected = select(&registry, settings.customers.as_deref())?;
    if let Some((from, to)) = &settings.changed {
        let changed = changed_customers(&manager, &registry, from, to)?;
        selected.retain(|c| changed.iter().any(|x| x.slug == c.slug));
    }
    let pairs: Vec<(String, Vec<String>)> = selected
        .into_iter()
        .filter(|c| c.is_active())
        .map(|c| (c.slug.clone(), environments_for(&manager, c, envs)))
        .collect();
    let matrix = build(&pairs, settings.max_jobs);
    let json = serde_json::to_string(&matrix)
        .map_err(|e| Error::Failed(format!("serialising the matrix: {e}")))?;
    let ctx = RunContext::from_env();
    ctx.set_outputs(&[
        ("matrix", json.clone()),
        ("jobs", matrix.include.len().to_string()),
    ])
    .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    out.result(&json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_fleets_get_one_job_per_pair() {
        let m = build(
            &[
                ("a".into(), vec!["s".into(), "p".into()]),
                ("b".into(), vec!["s".into()]),
            ],
            256,
        );
        let ids: Vec<&str> = m.include.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["a-s", "a-p", "b-s"]);
    }

    #[test]
    fn big_fleets_are_packed_into_at_most_max_jobs() {
        let pairs: Vec<(String, Vec<String>)> = (0..1000)
            .map(|i| {
                (
                    format!("c{i:04}"),
                    vec!["staging".into(), "production".into()],
                )
            })
            .collect();
        let m = build(&pairs, 256);
        assert!(m.include.len() <= 256);
        let all: Vec<&String> = m.include.iter().flat_map(|j| &j.shard).collect();
        assert_eq!(all.len(), 2000);
        let unique: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(unique.len(), 2000, "every pair exactly once");
    }

    #[test]
    fn revisions_that_git_could_read_otherwise_are_refused() {
        for ok in [
            "HEAD",
            "HEAD~1",
            "HEAD^",
            "HEAD~2^2",
            "origin/main",
            "origin/main~1",
            "v1.2.3",
            "refs/heads/feature/x-y_z",
            "0a1b",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert_eq!(revision_problem(ok), None, "{ok}");
        }
        for bad in [
            "--output=/tmp/x",
            "-p",
            "",
            "main..evil",
            "a b",
            "a\tb",
            "a\nb",
            "main\u{202e}",
            "HEAD@{1}",
            "HEAD:fleetform.yml",
            "HEAD~x",
            "HEAD~1..",
            "ma*n",
            "a//b",
            "/main",
            "main/",
            ".hidden",
            "a/.b",
            "main.lock",
            "main.",
            "@",
            "a\\b",
            "é",
        ] {
            assert!(revision_problem(bad).is_some(), "{bad:?}");
        }
        assert!(revision_problem(&"a".repeat(256)).is_some());
    }
}

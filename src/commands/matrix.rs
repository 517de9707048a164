//! `fleetform matrix`: a GitHub Actions matrix (JSON for `fromJSON`) of
//! active customers × environments. Deterministic order (registry order,
//! then the manager's environment order). Never more than `--max-jobs`
//! (GitHub allows 256): beyond that, customers are packed into shards, each
//! job carrying a list, every pair exactly once and a customer's
//! environments always in the same shard.

use clap::Args;
use std::path::{Path, PathBuf};

use crate::ci::RunContext;

use crate::config::Activity;
use crate::config::{clean_path, Customer, Manager, Registry};
use crate::error::{Error, Result, Say};
use crate::fleet::{check_environments, environments_for, select};
use crate::output::Output;

use crate::fleet::matrix::{build, Matrix, GITHUB_MAX_JOBS};

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Only these customers (comma-separated slugs).
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Only these environments (comma-separated).
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT", value_delimiter = ',')]
    pub environments: Vec<String>,
    /// Only customers whose files changed since this git ref.
    #[arg(long, env = "FLEETFORM_CHANGED_FROM")]
    pub changed_from: Option<String>,
    /// End of the change range (default HEAD).
    #[arg(long, env = "FLEETFORM_CHANGED_TO")]
    pub changed_to: Option<String>,
    /// Most jobs in the matrix; customers are packed into shards beyond it.
    #[arg(long, env = "FLEETFORM_MAX_JOBS", default_value_t = 256)]
    pub max_jobs: usize,
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
        return Err(Error::usage(format!(
            "--max-jobs must be 1-{GITHUB_MAX_JOBS}"
        )));
    }
    let changed = match (&args.changed_from, &args.changed_to) {
        (None, Some(_)) => return Err(Error::usage("--changed-to needs --changed-from")),
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

/// A checked revision, or the usage error naming the flag.
fn check_revision(flag: &str, rev: &str) -> Result<()> {
    crate::util::git::check_revision(flag, rev).map_err(Error::usage)
}

/// Files changed between two checked revisions, as absolute paths.
fn changed_files(from: &str, to: &str) -> Result<Vec<PathBuf>> {
    crate::util::git::changed_files(Path::new("."), from, to).map_err(|e| {
        Error::Usage(Say::new(format!("{e}")).help("install git or drop --changed-from"))
    })
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
        .filter(|c| c.takes_part(Activity::Plan))
        .map(|c| {
            let units = environments_for(&manager, c, envs);
            let units = units.iter().map(|e| format!("{}/{e}", c.slug)).collect();
            (c.slug.clone(), units)
        })
        .collect();
    let mut matrix = build(&pairs, settings.max_jobs);
    attach_identities(&mut matrix, &manager, &registry, out);
    let json = serde_json::to_string(&matrix)
        .map_err(|e| Error::failed(format!("serialising the matrix: {e}")))?;
    let ctx = RunContext::from_env();
    ctx.set_outputs(&[
        ("matrix", json.clone()),
        ("jobs", matrix.include.len().to_string()),
    ])
    .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    out.json_text(&json);
    Ok(())
}

/// Each one-pair job's plan role. A customer whose identity does not
/// resolve gets none, with a warning naming why: its job fails on its own.
fn attach_identities(matrix: &mut Matrix, manager: &Manager, registry: &Registry, out: &Output) {
    if !manager.has_identity() {
        return;
    }
    for job in &mut matrix.include {
        let [pair] = job.shard.as_slice() else {
            continue;
        };
        let Ok(unit) = crate::config::Unit::parse(pair) else {
            continue;
        };
        let Some(customer) = registry.get(&unit.customer) else {
            continue;
        };
        let stage = crate::config::IdentityStage::Plan;
        match manager.cloud_identity(customer, &unit.environment, stage) {
            Ok(identity) => job.identity = identity,
            Err(e) => out.error(&format!("{pair}: no cloud identity: {e}")),
        }
    }
}

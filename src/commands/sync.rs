//! `fleetform sync`: the flags checked into [`crate::flows::sync::Settings`],
//! then the template's propagation ([`crate::flows::sync`]: what it writes,
//! its API budget, how writes carry over to the next run).

use clap::Args;
use std::path::Path;

use crate::config::is_repo;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::sync::{Credential, Settings};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The manager repo, owner/name (rendered into the template).
    #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
    pub manager_repo: String,
    /// Only these customers (default: every active customer with a repo).
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Update this many customers first and stop if any of them fails.
    #[arg(long, env = "FLEETFORM_CANARY")]
    pub canary: Option<usize>,
    /// Print the diff per customer; write nothing.
    #[arg(long, env = "FLEETFORM_DRY_RUN")]
    pub dry_run: bool,
    /// Ref the template pins the fleetform actions to (default: this release's tag).
    #[arg(long, env = "FLEETFORM_ACTION_REF")]
    pub action_ref: Option<String>,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub budget: super::WriteBudgetArgs,
    #[command(flatten)]
    pub cache: super::EtagCacheArgs,
}

pub fn run(args: &SyncArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    crate::flows::sync::run(&settings, manager_dir, cx)
}

fn resolve(args: &SyncArgs) -> Result<Settings> {
    if !is_repo(&args.manager_repo) {
        return Err(Error::usage(format!(
            "--manager-repo `{}` is not owner/name",
            args.manager_repo
        )));
    }
    // The sync App first (a token per repository, minted by sync), else
    // one token for every customer repo.
    let credential = Credential::from_env().map_err(Error::usage)?;
    Ok(Settings {
        manager_repo: args.manager_repo.clone(),
        customers: (!args.customers.is_empty()).then(|| args.customers.clone()),
        action_ref: args
            .action_ref
            .clone()
            .unwrap_or_else(crate::version::action_ref),
        dry_run: args.dry_run,
        json: args.json,
        canary: args.canary.unwrap_or(0),
        credential,
        write_log: args.budget.write_log.clone(),
        deadline: super::deadline(&args.budget),
        etags: super::etag_cache(&args.cache, "sync")?,
    })
}

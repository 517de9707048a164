//! `fleetform sync`: the flags checked into [`crate::flows::sync::Settings`],
//! then the template's propagation ([`crate::flows::sync`]: what it writes,
//! its API budget, how writes carry over to the next run).

use std::path::Path;

use crate::cli::SyncArgs;
use crate::config::is_repo;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::sync::Settings;
use crate::github::Token;

pub fn run(args: &SyncArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    crate::flows::sync::run(&settings, manager_dir, cx)
}

fn resolve(args: &SyncArgs) -> Result<Settings> {
    if !is_repo(&args.manager_repo) {
        return Err(Error::Usage(format!(
            "--manager-repo `{}` is not owner/name",
            args.manager_repo
        )));
    }
    let token = Token::from_env().ok_or_else(|| {
        Error::Usage("no token: set FLEETFORM_TOKEN (SOURCE_REPOS_PAT) or GITHUB_TOKEN".into())
    })?;
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
        token,
        write_log: args.budget.write_log.clone(),
        deadline: super::deadline(&args.budget),
        etags: super::etag_cache(&args.cache, "sync")?,
    })
}
